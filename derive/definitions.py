"""The functions of a softmax output layer as SymPy definitions.

Each builder returns a Definition over symbolic or concrete K; recipes and
users combine them into a Setting.
"""
from __future__ import annotations

from typing import Optional

import sympy as sp

from .layers import SIGMOID, SOFTMAX
from .setting import Definition


def index(name: str, from_zero: bool = False) -> sp.Symbol:
    """An index symbol: a positive integer, or a nonnegative one when it counts from 0."""
    if from_zero:
        return sp.Symbol(name, integer=True, nonnegative=True)
    return sp.Symbol(name, integer=True, positive=True)


def classes(name: str, K: Optional[sp.Expr]) -> sp.Expr:
    """The number of classes: a positive integer symbol, or the concrete K."""
    return sp.Symbol(name, integer=True, positive=True) if K is None else sp.Integer(K)


def softmax(out: sp.IndexedBase, argument, j: sp.Symbol, l: sp.Symbol, K: sp.Expr,
            name: str = "softmax") -> Definition:
    """out_j := exp(g(j)) / sum_l exp(g(l)), with ``argument(i)`` giving g(i)."""
    g_j = sp.sympify(argument(j))
    g_l = sp.sympify(argument(l))
    return Definition(name, out, (j,), SOFTMAX.define(g_j, g_l, l, K), kernel=SOFTMAX.name, argument=g_j,
                      text="softmax")


def cross_entropy(cost: sp.Symbol, out: sp.IndexedBase, target: sp.IndexedBase, j: sp.Symbol,
                  K: sp.Expr, weights: Optional[sp.IndexedBase] = None) -> Definition:
    """cost := -sum_j [w_j] target_j log out_j."""
    term = target[j] * sp.log(out[j])
    if weights is not None:
        term = weights[j] * term
    return Definition("cross_entropy", cost, (), -sp.Sum(term, (j, 1, K)),
                      text="weighted cross-entropy" if weights is not None else "cross-entropy")


def squared_error(cost: sp.Symbol, out: sp.IndexedBase, target: sp.IndexedBase, j: sp.Symbol,
                  K: sp.Expr) -> Definition:
    """cost := 1/2 sum_j (out_j - target_j)^2."""
    return Definition("squared_error", cost, (), sp.Rational(1, 2) * sp.Sum((out[j] - target[j]) ** 2, (j, 1, K)),
                      text="squared error")


def sigmoid(out: sp.IndexedBase, var: sp.IndexedBase, j: sp.Symbol) -> Definition:
    """out_j := 1 / (1 + exp(-var_j))."""
    return Definition("sigmoid", out, (j,), SIGMOID.define(var[j]), kernel=SIGMOID.name, argument=var[j],
                      text="sigmoid")


def affine(out: sp.IndexedBase, W: sp.IndexedBase, a: sp.IndexedBase, b: sp.IndexedBase,
           j: sp.Symbol, m: sp.Symbol, size: sp.Expr) -> Definition:
    """out_j := sum_m W_jm a_m + b_j."""
    return Definition("affine", out, (j,), sp.Sum(W[j, m] * a[m], (m, 1, size)) + b[j], text="weighted input")


def any_cost(cost: sp.Symbol, var: sp.IndexedBase, m: sp.Symbol, size: sp.Expr,
             text: str = "any differentiable cost") -> Definition:
    """cost := any differentiable function of var (checked with a test function that couples all var_m)."""
    test = sp.Sum(sp.log(1 + sp.exp(var[m])), (m, 1, size)) + sp.Sum(var[m], (m, 1, size)) ** 2 / 3
    return Definition("cost", cost, (), test, text=text, abstract=True)


def derivative_of(out: sp.IndexedBase, cost: sp.Symbol, var: sp.IndexedBase, j: sp.Symbol,
                  name: str = "error") -> Definition:
    """out_j := d cost / d var_j (the error of a layer)."""
    return Definition(name, out, (j,), sp.Derivative(cost, var[j]), text="error")
