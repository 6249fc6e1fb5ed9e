"""Which instantiation of a side a case uses, cached: one form for every K, one per K, or one per case.

``side(d, expr, K, assign, keep)`` returns a ``Side`` and the integers to bind at evaluation. The routes,
tried in order:

1. *generic in K* (symbolic K only): K and the free indices stay symbols, sums stay loops; one form per
   expression serves every K, the drawn one included;
2. *generic per K*: K concrete (sums written out), the free indices symbols; one form per (expression, K);
3. *direct*: everything concrete, one form per case.

A generic form is used only after it agreed with the direct route at the first case it met (at the
working precision, two random points, term sums compared): a route that went wrong is discarded, it
never decides a check on its own.
"""
from __future__ import annotations

import random

import mpmath
import sympy as sp

from ..expr import SumExcept
from . import cases, sampling
from .cache import CACHE
from .evaluate import Side
from .instantiate import instantiate, relevant

DIGITS = 30


def _indices(assign: dict) -> tuple:
    return tuple(sorted((i for i in assign if not isinstance(i, sp.Indexed)), key=lambda i: i.name))


def _ints(d, K: int, assign: dict) -> dict:
    out = {i: int(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)}
    if not d.setting.K.is_Integer:
        out[d.setting.K] = int(K)
    return out


def side(d, expr: sp.Expr, K: int, assign: dict, keep: frozenset = frozenset(), tick=None):
    """(Side, integers) for ``expr`` at K and ``assign``; see the module for the routes."""
    indices = _indices(assign)
    used = relevant(d.setting, expr)
    other = tuple(cases.other_sizes(d).items())
    if not d.setting.K.is_Integer:
        key = ("K", used, other, expr, indices, keep)
        found = _generic(key, d, expr, dict(other), K, assign, keep, frozenset(indices) | {d.setting.K}, tick)
        if found is not None:
            return found, _ints(d, K, assign)
    sizes = cases.sizes(d, K)
    key = ("per K", used, tuple(sizes.items()), expr, indices, keep)
    found = _generic(key, d, expr, sizes, K, assign, keep, frozenset(indices), tick, generic_sums=False)
    if found is not None:
        return found, _ints(d, K, assign)
    return direct(d, expr, K, assign, keep, tick), {}


def direct(d, expr: sp.Expr, K: int, assign: dict, keep: frozenset = frozenset(), tick=None) -> Side:
    """``expr`` at concrete sizes and indices, definitions substituted, everything evaluated (cached)."""
    sizes = cases.sizes(d, K)
    key = ("direct", relevant(d.setting, expr), tuple(sizes.items()), expr, K,
           tuple(sorted(assign.items(), key=lambda kv: sp.default_sort_key(kv[0]))), keep)
    found = CACHE.sides.get(key)
    if found is None:
        found = CACHE.sides.remember(key, Side(instantiate(d, expr, sizes, assign, keep, tick=tick)))
    return found


def _generic(key, d, expr, sizes, K, assign, keep, integers, tick, generic_sums: bool = True):
    if key not in CACHE.generic:
        found = None
        try:
            e = instantiate(d, expr, sizes, {}, keep, generic=generic_sums, tick=tick)
            if not e.has(sp.Derivative, SumExcept) and (generic_sums or not e.has(sp.Sum)):
                found = Side(e, integers)
                if found.program is None or not agrees(d, found, _ints(d, K, assign),
                                                       direct(d, expr, K, assign, keep, tick), K, assign):
                    found = None
        except Exception:  # the generic routes are optimisations only
            found = None
        CACHE.generic.remember(key, found)
    return CACHE.generic[key]


def agrees(d, generic: Side, ints: dict, plain: Side, K: int, assign: dict) -> bool:
    """True when the generic form and the direct one give the same values at two random points."""
    rng = random.Random(0)
    domains = sampling.domains(d, (), sampling.needs([plain.expr]))
    for _ in range(2):
        sample = sampling.Sample(domains, K, rng, assign, labels(assign))
        a, b = generic.values(sample, ints, DIGITS), plain.values(sample, {}, DIGITS)
        if a is None or b is None:
            return a is None and b is None
        with mpmath.workdps(DIGITS):
            sa, sb = mpmath.fsum(a), mpmath.fsum(b)
            scale = mpmath.fsum(abs(t) for t in a) + mpmath.fsum(abs(t) for t in b)
            if abs(sa - sb) > mpmath.mpf("1e-20") * scale:
                return False
    return True


def labels(assign: dict) -> dict:
    """The labels an assignment fixes (y_1 = 2), as a sample's preset values."""
    return {(a.base, tuple(int(i) for i in a.indices)): int(v) for a, v in assign.items()
            if isinstance(a, sp.Indexed) and all(i.is_Integer for i in a.indices)}
