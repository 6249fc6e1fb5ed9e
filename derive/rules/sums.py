"""Rules on finite sums: split at j = k, join back, contract Kronecker deltas."""
from __future__ import annotations

from typing import Optional

import sympy as sp

from ..assumptions import different, in_range
from ..expr import SumExcept, known_different
from ..model import Rule, Step
from .base import rewrite_step, single_limit


def split_sum(expr: sp.Expr, ctx, at: sp.Symbol) -> Optional[Step]:
    """sum_j f(j) -> f(at) + sum_{j != at} f(j), for sums whose summand mentions ``at``."""

    def fn(node, frame, used):
        limit = single_limit(node)
        if limit is None or not node.function.has(at):
            return None
        index, lower, upper = limit
        used.append(in_range(at, lower, upper))
        return node.function.subs(index, at) + SumExcept(node.function, limit, at)

    names: list = []

    def named(node, frame, used):
        new = fn(node, frame, used)
        if new is not None:
            names.append(node.limits[0][0])
        return new

    step = rewrite_step(expr, ctx, named, Rule.SPLIT_SUM, "")
    if step is None:
        return None
    index = names[0]
    return Step(step.expr, step.rule, f"split off the term {index} = {at} from the sum", step.assumptions)


def join_sum(expr: sp.Expr, ctx) -> Optional[Step]:
    """c f(k) + c sum_{j != k} f(j) -> c sum_j f(j)."""

    def fn(node, frame, used):
        if not isinstance(node, sp.Add):
            return None
        terms = list(node.args)
        for i, term in enumerate(terms):
            coeff, rest = term.as_independent(SumExcept, as_Add=False)
            if not isinstance(rest, SumExcept):
                continue
            missing = sp.expand(coeff * rest.term(rest.excluded))
            for m, other in enumerate(terms):
                if m != i and sp.expand(other) == missing:
                    kept = [t for n, t in enumerate(terms) if n not in (i, m)]
                    used.append(in_range(rest.excluded, rest.lower, rest.upper))
                    return sp.Add(coeff * rest.full_sum(), *kept)
        return None

    return rewrite_step(expr, ctx, fn, Rule.JOIN_SUM, "the split-off term joins the rest of the sum")


def kronecker_delta(expr: sp.Expr, ctx) -> Optional[Step]:
    """sum_l f(l) delta_lk -> f(k) for k in the sum's range;  delta_jk -> 0 for j != k."""

    def fn(node, frame, used):
        if isinstance(node, sp.KroneckerDelta):
            a, b = node.args
            if known_different(frame, a, b):
                if not (a.is_Integer and b.is_Integer):
                    used.append(different(*sorted((a, b), key=str)))
                return sp.Integer(0)
            return None
        limit = single_limit(node)
        if limit is None:
            return None
        index, lower, upper = limit
        for delta in node.function.atoms(sp.KroneckerDelta):
            if index in delta.args:
                other = delta.args[1] if delta.args[0] == index else delta.args[0]
                if index in other.free_symbols:
                    continue
                rest = node.function.subs(delta, 1)
                if delta in rest.atoms(sp.KroneckerDelta):
                    continue
                used.append(in_range(other, lower, upper))
                return rest.subs(index, other)
        return None

    return rewrite_step(expr, ctx, fn, Rule.DELTA,
                        "the Kronecker delta picks one term of a sum and vanishes for different indices")
