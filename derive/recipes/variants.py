"""Variants of the softmax and sigmoid output layer, each a cost the planner derives on its own.

None of these is a recipe: each entry is a cost, the assumptions it states and
how it is presented. The planner chooses every step.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import sympy as sp

from .. import rules
from ..assumptions import one_hot_at, softmax_total
from ..engine import Chain
from ..planned import gradient, plan, second_derivative
from ..model import Derivation, Typeset
from ..setting import Definition
from ..notation import check_K

CE = "-sum(y[j]*log(softmax(z)[j]), j)"
NORMALIZED = ("sum(y[j], j) = 1",)


def _K(K):
    value = check_K(K, maximum=50, why="the catalogue verifies at")
    return None if value is None else int(value)


def softmax_ce_temperature(K: Optional[int] = None) -> Derivation:
    """Cross-entropy on softmax(z/T): dE/dz_k = (o_k - y_k)/T, as in knowledge distillation."""
    return gradient("-sum(y[j]*log(softmax(z/T)[j]), j)", assume=NORMALIZED, K=_K(K),
                    name="softmax_ce_temperature", title="Cross-entropy with a temperature",
                    description=Typeset("The gradient of the cross-entropy of $\\operatorname{softmax}(z/T)$ with "
                                        "respect to the logits $z$; the temperature $T$ scales the gradient by $1/T$"))


def label_smoothing(K: Optional[int] = None) -> Derivation:
    """Label-smoothed cross-entropy: dE/dz_k = o_k - (1 - eps) y_k - eps/K."""
    return gradient("-sum(((1 - eps)*y[j] + eps/K)*log(softmax(z)[j]), j)", assume=NORMALIZED, K=_K(K),
                    name="label_smoothing", title="Cross-entropy with label smoothing",
                    description=Typeset("The gradient of the cross-entropy against targets mixed with the uniform "
                                        "distribution, $(1 - \\varepsilon) y + \\varepsilon/K$"))


def softmax_ce_weighted(K: Optional[int] = None) -> Derivation:
    """Class-weighted cross-entropy: dE/dz_k = o_k sum_j w_j y_j - w_k y_k."""
    return gradient("-sum(w[j]*y[j]*log(softmax(z)[j]), j)", K=_K(K),
                    name="softmax_ce_weighted", title="Class-weighted cross-entropy",
                    description=Typeset("The gradient of the cross-entropy with a weight $w_{j}$ per class"))


def sigmoid_bce(K: Optional[int] = None) -> Derivation:
    """Binary cross-entropy on independent sigmoid outputs (multi-label): dE/dz_k = s_k - y_k."""
    return gradient("-sum(y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(1 - sigmoid(z[j])), j)", K=_K(K),
                    name="sigmoid_bce", title="Sigmoid outputs with binary cross-entropy",
                    description=Typeset("The gradient of the summed binary cross-entropy of $K$ independent sigmoid "
                                        "outputs (multi-label classification)"))


def focal_loss(K: Optional[int] = None) -> Derivation:
    """The focal loss -sum_j y_j (1 - o_j)^gamma log o_j on softmax outputs, for soft targets and then for a
    one-hot target (the class t): (o_k - y_k)(1 - p_t)^(gamma - 1)(1 - p_t - gamma p_t log p_t), p_t := o_t."""
    d = gradient("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)", assume=NORMALIZED, K=_K(K),
                    name="focal_loss", title="Focal loss",
                 description=Typeset("The gradient of the focal loss, which down-weights well-classified examples "
                                     "by $(1 - o_{j})^{\\gamma}$. Lin et al. (2017) define it on sigmoid outputs, "
                                     "one per class, with a class weight $\\alpha_{t}$; this is its softmax "
                                     "generalisation, without $\\alpha_{t}$"))
    named = replace(d.setting, definitions=d.setting.definitions + (true_class(d),))  # listed with the others
    return replace(d, setting=named, parts=(_one_hot(d),))


def _one_hot(d: Derivation) -> Derivation:
    """The soft-target result specialised to a target one-hot at the class t (y_j = [j = t], p_t = o_t):
    the deltas pick the terms of the sums, and the common factors come out."""
    t = sp.Symbol("t", integer=True, positive=True)
    setting = replace(d.setting, ranges=d.setting.ranges + ((t, (sp.Integer(1), d.setting.K)),),
                      definitions=d.setting.definitions + (true_class(d),))
    y = d.setting.symbols.get("y") or sp.IndexedBase("y")
    hot = one_hot_at(y, d.setting.symbols.get("j") or sp.Symbol("j", integer=True, positive=True), t)
    chain = Chain(setting, d.lhs, (hot,), start=d.result)
    chain.run([(rules.one_hot_target, {"fact": hot}), rules.kronecker_delta, (rules.kronecker_delta, {"towards": t}),
               rules.factor, (rules.factor, {"lowest": True}), (rules.one_hot_target, {"fact": hot, "back": True}),
               (rules.fold, {"of": true_class(d).symbol})])
    if chain.steps:  # the chain starts from the result above, not from its own left-hand side
        chain.steps[0] = replace(chain.steps[0], justification="the soft-target result above, where "
                                 + chain.steps[0].justification)
    return chain.derivation("one_hot_target", Typeset("The one-hot target"),
                            Typeset("The result for a target one-hot at the true class $t$, $y_{j} = \\delta_{jt}$, "
                                    "the form usually printed, with $p_{t} = o_{t}$ the probability of the true class"))


def true_class(d: Derivation) -> Definition:
    """p_t := o_t, the probability of the true class t, the name the focal loss's one-hot form is printed in."""
    out = d.setting.symbols.get("o") or next(x.symbol for x in d.setting.definitions if x.layer is not None
                                                 and x.layer.output)
    t = sp.Symbol("t", integer=True, positive=True)
    return Definition("true_class", sp.Symbol("p_t"), (), out[t], text="probability of the true class")


def log_softmax_nll(K: Optional[int] = None) -> Derivation:
    """Negative log-likelihood of log-softmax outputs: dE/dz_k = o_k - y_k, through log-sum-exp."""
    return gradient("-sum(y[j]*log_softmax(z)[j], j)", assume=NORMALIZED, K=_K(K),
                    name="log_softmax_nll", title="Log-softmax with the negative log-likelihood",
                    description="The gradient of the negative log-likelihood of log-softmax outputs, through "
                                "the derivative of log-sum-exp; it agrees with the softmax route")


def softmax_se_planned(K: Optional[int] = None) -> Derivation:
    """Squared error on softmax outputs, planned directly (not through reference 003's general formula)."""
    return gradient("sum((softmax(z)[j] - t[j])**2, j)/2", K=_K(K),
                    name="softmax_se_planned", title="Squared error on softmax outputs, planned",
                    description="The gradient of the squared error on softmax outputs by the chain rule through "
                                "the square and the softmax partial, the way the planner takes it: the same result "
                                "as softmax_se, which takes it through reference 003's general formula")


def softmax_ce_hessian(K: Optional[int] = None) -> Derivation:
    """The Hessian of cross-entropy on softmax: (sum_j y_j) o_k (delta_km - o_m) -> [diag(o) - o o^T]_km for
    targets summing to one, and H v."""
    p, planner = plan(CE, K=_K(K))  # no assumption: the general form first, as Bishop states it
    normalized, with_facts = plan(CE, assume=NORMALIZED, K=_K(K))
    h = second_derivative(p, planner, "z", name="softmax_ce_hessian",
                          title="Hessian of softmax with cross-entropy",
                          description=Typeset("The second derivatives of the cross-entropy with respect to the logits: "
                                              "$(\\sum_{j} y_{j}) (\\operatorname{diag}(o) - o o^{T})$, which is "
                                              "$\\operatorname{diag}(o) - o o^{T}$ for targets that sum to one, "
                                              "independent of $y$"))
    k, m = p.index[0], p.second[0]
    steps = h.steps[:-1] if h.steps and h.steps[-1].rule.value == "matrix_form" else h.steps
    context = rules.Context(p.setting)
    for rule, params in ((rules.assumption, {"fact": normalized.facts[0]}), (rules.matrix_form, {"rows": k, "cols": m})):
        step = rule(steps[-1].expr, context, **params) if steps else None
        if step is not None:  # (sum_j y_j) o_k (delta_km - o_m), then o_k (delta_km - o_m) = [diag(o) - o o^T]_km
            steps += (step,)
    h = replace(h, steps=steps)
    v = sp.IndexedBase("v")
    gradient_lemma = h.steps[0].lemmas[0]
    lhs = sp.Sum(sp.Derivative(p.cost, p.variable[k], p.variable[m]) * v[m], (m, 1, p.setting.K))
    hvp = with_facts.derive(lhs, cite=(gradient_lemma,), name="hessian_vector_product",
                            title="The Hessian-vector product",
                            description=Typeset("$H v$ for a vector $v$, without forming $H$: "
                                                "$o_{k} (v_{k} - \\sum_{m} o_{m} v_{m})$"))
    return replace(h, parts=(hvp, _semidefinite(with_facts, p, gradient_lemma, v)))


def _semidefinite(planner, p, gradient_lemma: Derivation, v: sp.IndexedBase) -> Derivation:
    """v^T H v, planned as H v is, then shown to be at least 0: sum_k o_k v_k^2 - (sum_k o_k v_k)^2, the
    weighted variance identity (the outputs sum to one) and a sum of nonnegative terms."""
    k, m = p.index[0], p.second[0]
    K = p.setting.K
    inner = sp.Sum(sp.Derivative(p.cost, p.variable[k], p.variable[m]) * v[m], (m, 1, K))
    planned = planner.derive(sp.Sum(v[k] * inner, (k, 1, K)), cite=(gradient_lemma,), name="semidefinite",
                             title="Positive semidefiniteness")
    out = p.setting.symbols.get("o") or next(x.symbol for x in p.setting.definitions if x.layer is not None and x.layer.normalised
                                                 and not x.layer.logarithmic)
    total = softmax_total(out, m, K)
    chain = Chain(p.setting, planned.lhs, planned.conditions, start=planned.result)
    chain.run([rules.expand, rules.linearity, rules.square_sums, (rules.complete_square, {"fact": total}),
               rules.nonnegative_sum])
    return replace(planned, steps=planned.steps + tuple(chain.steps),
                   description=Typeset("$v^{T} H v \\ge 0$ for every vector $v$: the Hessian is positive "
                                       "semidefinite, so the cross-entropy is convex in the logits"))
