"""Softmax output layers: the two softmax partials and the gradient of any cost of o.

``output_gradient`` is the one recipe every softmax cost goes through; the
named derivations (softmax_ce, ...) only choose the cost and notation.
"""
from __future__ import annotations

from typing import Iterable, Optional

import sympy as sp

from .. import rules
from ..assumptions import different
from ..engine import run_recipe
from ..model import Derivation
from ..setting import Setting


def partials_recipe(out: sp.IndexedBase) -> list:
    """definition, quotient rule, derivatives (into the sum, through the exponential), deltas, the textbook's
    factorisation exp(z_k)/S (S - exp(z_k))/S, fold (cancel and factor where a fold leaves them work)."""
    return [
        (rules.definition, {"of": out}),
        rules.quotient_rule,
        rules.linearity,
        rules.chain_rule,
        rules.linearity,
        rules.differentiate,
        rules.kronecker_delta,
        (rules.factor, {"over": out}),
        (rules.fold, {"of": out}),
        rules.cancel,
        rules.factor,
    ]


def softmax_partials(setting: Setting, out: sp.IndexedBase, var: sp.IndexedBase,
                     j: sp.Symbol, k: sp.Symbol) -> tuple:
    """The lemmas do_k/dz_k and do_j/dz_k (j != k), each derived by the quotient rule."""
    recipe = partials_recipe(out)
    same = run_recipe(setting, sp.Derivative(out[k], var[k]), recipe,
                      name="softmax_partial_same", title="Softmax partial, same index",
                      description="the softmax partial for the same index, by the quotient rule")
    other = run_recipe(setting, sp.Derivative(out[j], var[k]), recipe,
                       name="softmax_partial_other", title="Softmax partial, different indices",
                       description="the softmax partial for a different index, by the quotient rule",
                       conditions=(different(j, k),))
    return same, other


def output_gradient_recipe(cost: sp.Symbol, k: sp.Symbol, lemmas: tuple, facts: Iterable = ()) -> list:
    """The route of the reference post: through the log, split at j = k, lemmas, cancel, collect, assume."""
    return [
        (rules.definition, {"of": cost}),
        rules.linearity,
        (rules.split_sum, {"at": k}),
        rules.chain_rule,
        (rules.lemma, {"lemmas": lemmas}),
        rules.cancel,
        rules.linearity,
        rules.expand,
        rules.collect,
        rules.join_sum,
        *[(rules.assumption, {"fact": f}) for f in facts],
        rules.factor,
    ]


def output_gradient(setting: Setting, cost: sp.Symbol, out: sp.IndexedBase, var: sp.IndexedBase,
                    j: sp.Symbol, k: sp.Symbol, *, name: str, title: str, description: str = "",
                    facts: Iterable = (), lemmas: Optional[tuple] = None) -> Derivation:
    """d cost / d var_k for a cost of softmax outputs ``out`` = softmax(g(var))."""
    if lemmas is None:
        lemmas = softmax_partials(setting, out, var, j, k)
    recipe = output_gradient_recipe(cost, k, lemmas, facts)
    return run_recipe(setting, sp.Derivative(cost, var[k]), recipe,
                      name=name, title=title, description=description)
