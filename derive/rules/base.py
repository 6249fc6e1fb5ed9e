"""Helpers shared by the rule modules."""
from __future__ import annotations

from typing import Callable, Optional

import sympy as sp

from ..expr import Frame, transform
from ..model import Rule, Step


def rewrite_step(expr: sp.Expr, ctx, fn: Callable[[sp.Basic, Frame, list], Optional[sp.Basic]],
                 rule: Rule, justification: str, lemmas: tuple = (),
                 formula: Optional[sp.Basic] = None) -> Optional[Step]:
    """Apply ``fn`` everywhere in ``expr``; a Step if anything changed, else None.

    ``fn(node, frame, used)`` may append the Assumptions it relied on to ``used``.
    """
    used: list = []
    new = transform(expr, lambda node, frame: fn(node, frame, used), ctx.facts)
    if new == expr:
        return None
    assumptions = tuple({a.key: a for a in used}.values())
    return Step(expr=new, rule=rule, justification=justification, assumptions=assumptions, lemmas=lemmas,
                formula=formula)


def identity(lhs: sp.Basic, rhs: sp.Basic) -> sp.Eq:
    """lhs = rhs, unevaluated: the formula a rule cites."""
    return sp.Eq(lhs, rhs, evaluate=False)


U, V, X, N = sp.symbols("u v x n")


def single_derivative(node: sp.Basic):
    """(f, x) for a first-order derivative df/dx, else None."""
    if isinstance(node, sp.Derivative) and len(node.variable_count) == 1 and node.variable_count[0][1] == 1:
        return node.expr, node.variable_count[0][0]
    return None


def single_limit(node: sp.Basic):
    """(index, lower, upper) of a one-index Sum, else None."""
    if isinstance(node, sp.Sum) and len(node.limits) == 1:
        return tuple(node.limits[0])
    return None
