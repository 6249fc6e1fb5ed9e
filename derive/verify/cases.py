"""Which K and which values of the free indices a check is evaluated at.

A claim for symbolic K is checked at K = 2..5 and at one K drawn from ``WIDE`` (6..24) by the seed, raised
to the largest index constant the chain mentions (a term in delta_{k,30} is looked at at K >= 31). At
K <= ``EXHAUSTIVE_K`` every assignment of the free indices that honours the conditions is checked (up to
``EXHAUSTIVE_MAX``); above, ``index_samples`` of them (the first and random ones) at K = 4, 5, and at the
drawn K the ends of every index's range (1, K - 1, K), one random value, and every index constant the chain
mentions with its neighbours (delta_{k,6} gives 5, 6, 7), combined over the indices up to ``WIDE_MAX``.
"""
from __future__ import annotations

import itertools
import random

import sympy as sp

from ..expr import bound_indices

SMALL_KS = (2, 3, 4, 5)
WIDE = (6, 24)  # the range the extra K of a symbolic-K claim is drawn from
WIDEST = 64  # ... raised up to this to reach an index constant of the chain
EXHAUSTIVE_K = 3  # every assignment of the free indices at K <= this ...
EXHAUSTIVE_MAX = 100  # ... when there are at most this many (else this many, drawn at random)
WIDE_MAX = 24  # assignments at the drawn K, at most


def drawn_K(seed: int, constants: tuple = ()) -> int:
    """The wide K of a run: drawn from WIDE by the seed, at least one above the largest index constant."""
    K = random.Random(f"{seed}|K").randint(*WIDE)
    top = max((c for c in constants if c <= WIDEST - 1), default=0)
    return max(K, top + 1)


def free_indices(d) -> list:
    """The lhs's free indices, and any index a step uses outside every sum (the example i of L_i)."""
    ranged = {i for i, _ in d.setting.ranges}
    chain = [d.lhs] + [s.expr for s in d.steps]
    found = {s for e in chain for idx in e.atoms(sp.Indexed) for s in idx.free_symbols if s in ranged}
    bound = set().union(*(bound_indices(e) for e in chain))
    return sorted(set(d.free_indices) | (found - bound), key=str)


def index_constants(exprs) -> tuple:
    """The integers (and their neighbours) compared with an index somewhere in ``exprs``: in an index
    position, a Kronecker delta, a relation, a Piecewise's condition, a Max or a Min."""
    out: set = set()

    def collect(e):
        for n in sp.preorder_traversal(e):
            if n.is_Integer:
                v = abs(int(n))
                if v > 1:
                    out.update((v - 1, v, v + 1))

    for e in exprs:
        for n in sp.preorder_traversal(e):
            if isinstance(n, sp.Indexed):
                for i in n.indices:
                    collect(i)
            elif isinstance(n, (sp.KroneckerDelta, sp.core.relational.Relational, sp.Max, sp.Min)):
                collect(n)
            elif isinstance(n, sp.Piecewise):
                for _, cond in n.args:
                    collect(cond)
    return tuple(sorted(out))


def sizes(d, K: int) -> dict:
    """K, and every other size symbol at a small value of its own (2, 3, 4, ...)."""
    out = {} if d.setting.K.is_Integer else {d.setting.K: sp.Integer(K)}
    out.update(other_sizes(d))
    return out


def other_sizes(d) -> dict:
    """Every size symbol but K at a small value of its own (2, 3, 4, ...)."""
    return {size: sp.Integer(2 + n) for n, size in enumerate(d.setting.sizes)}


def assignments(d, indices: list, K: int, limit: int, rng, wide: bool = False, constants: tuple = ()) -> list:
    """Values of the free indices honouring the derivation's conditions (j != k for a lemma).

    Every assignment at K <= EXHAUSTIVE_K or when there are at most ``limit``; at the wide K the ends,
    a random value and the index constants of every range (see the module); otherwise the first and
    ``limit - 1`` drawn at random. A step's own 'different' assumptions are not used here: they hold
    inside a sum over j != k or a factor 1 - delta_ij, and the step must hold for i = j too.
    """
    pairs = [p for a in d.conditions for p in a.different]
    subs = sizes(d, K)
    ranges = []
    for i in indices:
        lo, hi = d.setting.range_of(i)
        ranges.append((int(sp.sympify(lo).subs(subs)), int(sp.sympify(hi).subs(subs))))

    def honours(assign):
        return all(assign.get(a, a) != assign.get(b, b) for a, b in pairs)

    if wide:
        choices = []
        for lo, hi in ranges:
            values = {lo, hi, hi - 1, rng.randint(lo, hi)} | {c for c in constants if lo <= c <= hi}
            choices.append(sorted(v for v in values if lo <= v <= hi))
        ok = [a for a in (dict(zip(indices, vs)) for vs in itertools.product(*choices)) if honours(a)]
        if len(ok) <= WIDE_MAX:
            return ok
        ends = [a for a in ok if all(v in (lo, hi) for v, (lo, hi) in zip(a.values(), ranges))]
        rest = [a for a in ok if a not in ends]
        return (ends + rng.sample(rest, max(0, WIDE_MAX - len(ends))))[:max(WIDE_MAX, len(ends))]
    ok = [a for a in (dict(zip(indices, vs)) for vs in itertools.product(*(range(lo, hi + 1) for lo, hi in ranges)))
          if honours(a)]
    if len(ok) <= limit or (K <= EXHAUSTIVE_K and len(ok) <= EXHAUSTIVE_MAX):
        return ok
    limit = max(limit, EXHAUSTIVE_MAX) if K <= EXHAUSTIVE_K else limit
    return [ok[0]] + rng.sample(ok[1:], limit - 1)


def default_Ks(d, seed: int, constants: tuple = ()) -> tuple:
    """2..5 and the drawn K for symbolic K; the derivation's own K otherwise."""
    K = d.setting.K
    if K.is_Integer:
        return (int(K),)
    return SMALL_KS + (drawn_K(seed, constants),)


def is_wide(K: int, Ks: tuple, d) -> bool:
    """True for the drawn K of a symbolic-K run (the one above 5)."""
    return not d.setting.K.is_Integer and K > SMALL_KS[-1] and K == Ks[-1]


