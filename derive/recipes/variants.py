"""Variants of the softmax and sigmoid output layer, each a cost the planner derives on its own.

None of these is a recipe: each entry is a cost, the assumptions it states and
how it is presented. The planner chooses every step.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import sympy as sp

from ..planned import gradient, plan, second_derivative
from ..model import Derivation
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
                    description="The gradient of the cross-entropy of softmax(z/T) with respect to the logits z; "
                                "the temperature T scales the gradient by 1/T")


def label_smoothing(K: Optional[int] = None) -> Derivation:
    """Label-smoothed cross-entropy: dE/dz_k = o_k - (1 - eps) y_k - eps/K."""
    return gradient("-sum(((1 - eps)*y[j] + eps/K)*log(softmax(z)[j]), j)", assume=NORMALIZED, K=_K(K),
                    name="label_smoothing", title="Cross-entropy with label smoothing",
                    description="The gradient of the cross-entropy against targets mixed with the uniform "
                                "distribution, (1 - eps) y + eps/K")


def softmax_ce_weighted(K: Optional[int] = None) -> Derivation:
    """Class-weighted cross-entropy: dE/dz_k = o_k sum_j w_j y_j - w_k y_k."""
    return gradient("-sum(w[j]*y[j]*log(softmax(z)[j]), j)", K=_K(K),
                    name="softmax_ce_weighted", title="Class-weighted cross-entropy",
                    description="The gradient of the cross-entropy with a weight w_j per class")


def sigmoid_bce(K: Optional[int] = None) -> Derivation:
    """Binary cross-entropy on independent sigmoid outputs (multi-label): dE/dz_k = s_k - y_k."""
    return gradient("-sum(y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(1 - sigmoid(z[j])), j)", K=_K(K),
                    name="sigmoid_bce", title="Sigmoid outputs with binary cross-entropy",
                    description="The gradient of the summed binary cross-entropy of K independent sigmoid "
                                "outputs (multi-label classification)")


def focal_loss(K: Optional[int] = None) -> Derivation:
    """The focal loss -sum_j y_j (1 - o_j)^gamma log o_j on softmax outputs."""
    return gradient("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)", assume=NORMALIZED, K=_K(K),
                    name="focal_loss", title="Focal loss",
                    description="The gradient of the focal loss, which down-weights well-classified examples "
                                "by (1 - o_j)^gamma")


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
                                "the square and the softmax partial, the way the planner takes it")


def softmax_ce_hessian(K: Optional[int] = None) -> Derivation:
    """The Hessian of cross-entropy on softmax, o_k (delta_km - o_m) = [diag(o) - o o^T]_km, and H v."""
    p, planner = plan(CE, assume=NORMALIZED, K=_K(K))
    h = second_derivative(p, planner, "z", name="softmax_ce_hessian",
                          title="Hessian of softmax with cross-entropy",
                          description="The second derivatives of the cross-entropy with respect to the logits: "
                                      "diag(o) - o o^T, symmetric and positive semidefinite, independent of y")
    k, m = p.index[0], p.second[0]
    v = sp.IndexedBase("v")
    gradient_lemma = h.steps[0].lemmas[0]
    lhs = sp.Sum(sp.Derivative(p.cost, p.variable[k], p.variable[m]) * v[m], (m, 1, p.setting.K))
    hvp = planner.derive(lhs, cite=(gradient_lemma,), name="hessian_vector_product",
                         title="The Hessian-vector product",
                         description="H v for a vector v, without forming H: o_k (v_k - sum_m o_m v_m)")
    return replace(h, parts=(hvp,))
