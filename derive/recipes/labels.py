"""Reference 002: integer class labels, L_i = -log p_{y_i}, scores f = W x_i."""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from .. import definitions as defs
from .. import rules
from ..engine import run_recipe
from ..layers import SOFTMAX
from ..planner import Planner
from ..model import Derivation
from ..notation import check_K, role_names
from ..setting import Definition, Display, Setting

ROLES = {"weights": "w", "inputs": "x", "scores": "f", "outputs": "p", "labels": "y", "cost": "L",
         "example": "i", "index": "k", "sum_index": "j", "feature": "d", "feature_sum": "c", "inner_index": "l",
         "features": "n", "examples": "m", "classes": "K"}


def softmax_ce_labels(K: Optional[int] = None, *, notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive dL_i/dw_kd = (p_ik - 1[k = y_i]) x_id for L_i = -log p_{i,y_i} and f_ij = sum_d w_jd x_id.

    By the chain rule through the scores f_ik of example i: dL_i/df_ik = p_ik - 1[k = y_i]
    (through the log and the softmax partial) and df_ik/dw_kd = x_id.
    K is None (symbolic) or at most 50, where ``verify`` takes about 25 s.
    """
    K_value = check_K(K, maximum=50, why="at which softmax_ce_labels is verified within about a minute")
    n = role_names(ROLES, notation)
    K = defs.classes(n["classes"], K_value)
    nf, m = (sp.Symbol(n[r], integer=True, positive=True) for r in ("features", "examples"))
    i = defs.index(n["example"])
    k, j, l, d, e = (defs.index(n[r]) for r in ("index", "sum_index", "inner_index", "feature", "feature_sum"))
    w, x, f, p, y = (sp.IndexedBase(n[r]) for r in ("weights", "inputs", "scores", "outputs", "labels"))
    L = sp.Symbol(f"{n['cost']}_{n['example']}")
    scores = Definition("scores", f, (i, j), sp.Sum(w[j, e] * x[i, e], (e, 1, nf)), text="linear scores")
    soft = Definition("softmax", p, (i, j), sp.exp(f[i, j]) / sp.Sum(sp.exp(f[i, l]), (l, 1, K)),
                      kernel=SOFTMAX.name, argument=f[i, j], text="softmax")
    loss = Definition("log_loss", L, (), -sp.log(p[i, y[i]]), text="cross-entropy with an integer label")
    setting = Setting(
        K=K, variables=(w,), definitions=(loss, soft, scores),
        ranges=((i, (sp.Integer(1), m)), (k, (sp.Integer(1), K)), (j, (sp.Integer(1), K)), (l, (sp.Integer(1), K)), (d, (sp.Integer(1), nf)),
                (e, (sp.Integer(1), nf))),
        domains=((n["labels"], "label"), (n["inputs"], "real"), (n["weights"], "real")),
        sizes=(nf, m),
        display=((n["inputs"], Display(n["inputs"], n["inputs"], "sub")),),
        symbols={"w": w, "x": x, "f": f, "p": p, "y": y, "L": L, "i": i, "k": k, "j": j, "d": d},
    )
    # the lemmas take no route of their own: the planner derives them (the reference's route is the chain below)
    planner = Planner(setting)
    planner.lemma(sp.Derivative(p[i, j], f[i, k]), name="softmax_partial",
                  title="Softmax partial in Kronecker-delta form",
                  description="The derivative of one softmax output with respect to one score, by the quotient rule")
    loss_partial = planner.lemma(sp.Derivative(L, f[i, k]), name="label_loss_partial",
                                 title="Derivative of the loss with respect to a score",
                                 description="The derivative of the loss with respect to one score, through the "
                                             "logarithm")
    score_partial = planner.lemma(sp.Derivative(f[i, j], w[k, d]), name="score_partial",
                                  title="Derivative of a score with respect to a weight",
                                  description="The scores are linear in the weights")
    recipe = [
        (rules.multivariate_chain_rule, {"through": f, "indices": (j,), "fixed": (i,)}),
        (rules.lemma, {"lemmas": (score_partial,)}),
        rules.cancel,
        rules.kronecker_delta,
        (rules.lemma, {"lemmas": (loss_partial,)}),
        rules.cancel,
    ]
    return run_recipe(setting, sp.Derivative(L, w[k, d]), recipe,
                      name="softmax_ce_labels", title="Gradient of softmax cross-entropy with integer labels",
                      description="The gradient of the loss of one example with an integer class label "
                                  "with respect to the weights of a linear softmax classifier", interface="labels")
