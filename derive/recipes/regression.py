"""Reference 000: softmax regression over a dataset, dJ/dTheta_kj = sum_i (h_k(x^(i)) - y_k^(i)) x_j^(i)."""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from .. import definitions as defs
from .. import rules
from ..assumptions import normalized
from ..engine import run_recipe
from ..layers import SOFTMAX
from ..planner import Planner
from ..model import Derivation, Typeset
from ..notation import check_K, role_names
from ..setting import Definition, Display, Setting

ROLES = {"parameters": "Theta", "inputs": "x", "targets": "y", "hypothesis": "h", "scores": "z", "cost": "J",
         "example": "i", "index": "k", "feature": "j", "sum_index": "c", "inner_index": "l",
         "feature_sum": "p", "examples": "m", "features": "n", "classes": "K"}


def regression_recipe(J, h, lemma, facts, written_out: bool) -> list:
    """Through the log (a class sum with numeric bounds written out), the hypothesis partial, cancel,
    the delta picks y_k, the targets sum to one.

    Written out (K = 3, the reference's parts I-III), the deltas pick y_k from the terms where they stand;
    over a symbolic K the class sum is split so that the delta meets its sum, and joined again."""
    pick = [rules.kronecker_delta] if written_out else [rules.linearity, rules.kronecker_delta, rules.combine_sums]
    return [
        (rules.definition, {"of": J}),
        rules.linearity,
        rules.write_out_sum,
        rules.chain_rule,
        (rules.lemma, {"lemmas": (lemma,)}),
        rules.cancel,
        rules.expand,
        *pick,
        rules.collect,
        *[(rules.assumption, {"fact": f}) for f in facts],
        rules.factor,
    ]


def softmax_regression(K: Optional[int] = 3, *, notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive dJ/dTheta_kj = sum_i (h_k(x^(i)) - y_k^(i)) x_j^(i) for softmax regression.

    h_k(x) = softmax over k of the score z_k = Theta_k . x (x_0 = 1 is the bias input; the derivation
    holds for any x), and
    J = -sum_i sum_k y_k^(i) log h_k(x^(i)) over m examples. K defaults to 3,
    as in the reference, where the class sum is written out term by term (its
    parts I-III); K=None gives symbolic K. K is at most 30 (an 18 kB chain
    written out term by term, verified in about 90 s; the symbolic form says
    the same for every K).
    """
    K_value = check_K(K, maximum=30, why="softmax_regression writes out term by term")
    n = role_names(ROLES, notation)
    K = defs.classes(n["classes"], K_value)
    m, nf = (sp.Symbol(n[r], integer=True, positive=True) for r in ("examples", "features"))
    i, k, c, l = (defs.index(n[r]) for r in ("example", "index", "sum_index", "inner_index"))
    j, p = (defs.index(n[r], from_zero=True) for r in ("feature", "feature_sum"))
    Theta, x, y, h, z = (sp.IndexedBase(n[r]) for r in ("parameters", "inputs", "targets", "hypothesis", "scores"))
    J = sp.Symbol(n["cost"])

    # the score is named, so no sum sits inside an exponent: h_c = e^{z_c} / sum_l e^{z_l}
    scores = Definition("scores", z, (i, c), sp.Sum(Theta[c, p] * x[i, p], (p, 0, nf)), text="class scores")
    hyp = Definition("softmax", h, (i, c), sp.exp(z[i, c]) / sp.Sum(sp.exp(z[i, l]), (l, 1, K)),
                     kernel=SOFTMAX.name, argument=z[i, c], text="softmax hypothesis")
    cost = Definition("cross_entropy", J, (), -sp.Sum(sp.Sum(y[i, c] * sp.log(h[i, c]), (c, 1, K)), (i, 1, m)),
                      text="cross-entropy over the dataset")
    setting = Setting(
        K=K, variables=(Theta,), definitions=(cost, hyp, scores),
        ranges=((i, (sp.Integer(1), m)), (k, (sp.Integer(1), K)), (c, (sp.Integer(1), K)), (l, (sp.Integer(1), K)),
                (j, (sp.Integer(0), nf)), (p, (sp.Integer(0), nf))),
        domains=((n["inputs"], "real"), (n["targets"], "unit"), (n["parameters"], "real")),
        sizes=(m, nf),
        display=((n["inputs"], Display(n["inputs"], n["inputs"], "example")),
                 (n["targets"], Display(n["targets"], n["targets"], "example")),
                 (n["scores"], Display(n["scores"], n["scores"], "example")),
                 (n["hypothesis"], Display(n["hypothesis"], n["hypothesis"], "function", n["inputs"]))),
        symbols={"Theta": Theta, "x": x, "y": y, "h": h, "J": J, "i": i, "k": k, "j": j, "c": c, "m": m, "n": nf,
                 "z": z},
    )
    # the hypothesis partial through the scores of example i, as a textbook takes it: dz_l/dTheta_kj picks
    # l = k, and dh_c/dz_k is the softmax partial (the planner derives both)
    planner = Planner(setting)
    score_partial = planner.lemma(sp.Derivative(z[i, l], Theta[k, j]), name="score_partial",
                                  title="Derivative of a score with respect to a parameter",
                                  description="The scores are linear in the parameters")
    softmax_partial = planner.lemma(sp.Derivative(h[i, c], z[i, k]), name="hypothesis_by_score",
                                    title="Derivative of a softmax hypothesis with respect to a score",
                                    description="The softmax partial, by the quotient rule")
    lemma = run_recipe(setting, sp.Derivative(h[i, c], Theta[k, j]), [
        (rules.multivariate_chain_rule, {"through": z, "indices": (l,), "fixed": (i,)}),
        (rules.lemma, {"lemmas": (score_partial,)}),
        rules.cancel,
        rules.kronecker_delta,
        (rules.lemma, {"lemmas": (softmax_partial,)}),
        rules.cancel,
    ], name="hypothesis_partial", title="Derivative of a softmax hypothesis",
        description="The derivative of one hypothesis with respect to one parameter, through the scores")
    facts = (normalized(y, c, K, prefix=(i,)),)
    return run_recipe(setting, sp.Derivative(J, Theta[k, j]),
                      regression_recipe(J, h, lemma, facts, written_out=K_value is not None),
                      name="softmax_regression", title="Gradient of softmax regression",
                      description=Typeset("The gradient of the cross-entropy of a softmax regression over a "
                                          "dataset with respect to its parameters. Feature 0 is the bias input "
                                          f"${n['inputs']}_{{0}}^{{({n['example']})}} = 1$ of the dataset; the derivation "
                                          "does not use it and holds for any features"),
                      interface="dataset")
