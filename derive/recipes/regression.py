"""Reference 000: softmax regression over a dataset, dJ/dTheta_kj = sum_i (h_k(x^(i)) - y_k^(i)) x_j^(i)."""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from .. import definitions as defs
from .. import rules
from ..assumptions import bias_input, normalized
from ..engine import run_recipe
from ..layers import SOFTMAX
from ..planner import Planner
from ..model import Derivation
from ..notation import check_K, role_names
from ..setting import Definition, Display, Setting

ROLES = {"parameters": "Theta", "inputs": "x", "targets": "y", "hypothesis": "h", "cost": "J",
         "example": "i", "index": "k", "feature": "j", "sum_index": "c", "inner_index": "l",
         "feature_sum": "p", "examples": "m", "features": "n", "classes": "K"}


def regression_recipe(J, h, lemma, facts) -> list:
    """Through the log (a class sum with numeric bounds written out), the hypothesis partial, cancel,
    the delta picks y_k, the targets sum to one."""
    return [
        (rules.definition, {"of": J}),
        rules.linearity,
        rules.write_out_sum,
        rules.chain_rule,
        (rules.lemma, {"lemmas": (lemma,)}),
        rules.cancel,
        rules.expand,
        rules.linearity,
        rules.kronecker_delta,
        rules.combine_sums,
        rules.collect,
        *[(rules.assumption, {"fact": f}) for f in facts],
        rules.factor,
    ]


def softmax_regression(K: Optional[int] = 3, *, notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive dJ/dTheta_kj = sum_i (h_k(x^(i)) - y_k^(i)) x_j^(i) for softmax regression.

    h_k(x) = softmax over k of Theta_k . x with x_0 = 1 (the bias), and
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
    Theta, x, y, h = (sp.IndexedBase(n[r]) for r in ("parameters", "inputs", "targets", "hypothesis"))
    J = sp.Symbol(n["cost"])

    def score(example, cls):
        return sp.Sum(Theta[cls, p] * x[example, p], (p, 0, nf))

    hyp = Definition("softmax", h, (i, c), sp.exp(score(i, c)) / sp.Sum(sp.exp(score(i, l)), (l, 1, K)),
                     kernel=SOFTMAX.name, argument=score(i, c), text="softmax hypothesis")
    cost = Definition("cross_entropy", J, (), -sp.Sum(sp.Sum(y[i, c] * sp.log(h[i, c]), (c, 1, K)), (i, 1, m)),
                      text="cross-entropy over the dataset")
    setting = Setting(
        K=K, variables=(Theta,), definitions=(cost, hyp),
        ranges=((i, (sp.Integer(1), m)), (k, (sp.Integer(1), K)), (c, (sp.Integer(1), K)), (l, (sp.Integer(1), K)),
                (j, (sp.Integer(0), nf)), (p, (sp.Integer(0), nf))),
        domains=((n["inputs"], "bias"), (n["targets"], "unit"), (n["parameters"], "real")),
        sizes=(m, nf),
        display=((n["inputs"], Display(n["inputs"], n["inputs"], "example")),
                 (n["targets"], Display(n["targets"], n["targets"], "example")),
                 (n["hypothesis"], Display(n["hypothesis"], n["hypothesis"], "function", n["inputs"]))),
        symbols={"Theta": Theta, "x": x, "y": y, "h": h, "J": J, "i": i, "k": k, "j": j, "c": c, "m": m, "n": nf},
    )
    lemma = Planner(setting).derive(sp.Derivative(h[i, c], Theta[k, j]), name="hypothesis_partial",
                                    title="Derivative of a softmax hypothesis",
                                    description="The derivative of one hypothesis with respect to one parameter, "
                                                "by the quotient rule")
    facts = (normalized(y, c, K, prefix=(i,)),)
    return run_recipe(setting, sp.Derivative(J, Theta[k, j]),
                      regression_recipe(J, h, lemma, facts),
                      name="softmax_regression", title="Gradient of softmax regression",
                      description="The gradient of the cross-entropy of a softmax regression over a dataset "
                                  "with respect to its parameters",
                      conditions=(bias_input(x, i),), interface="dataset")
