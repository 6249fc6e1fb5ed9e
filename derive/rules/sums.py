"""Rules on finite sums: split at j = k, join back, contract Kronecker deltas; squares of sums and sums of
nonnegative terms (bounds)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import sympy as sp

from ..assumptions import in_range
from ..expr import SumExcept, known_different, write_out
from ..model import Assumption, Relation, Rule, Step, Typeset
from .base import rewrite_step, single_limit
from .registry import rule

if TYPE_CHECKING:  # pragma: no cover
    from . import Context


def _row_total(node, total: sp.Sum) -> bool:
    """True when ``node`` is ``total`` (sum_j y_ij) at another row: sum_l y_hl over the same range."""
    if not isinstance(node, sp.Sum) or len(node.limits) != 1 or not isinstance(node.function, sp.Indexed):
        return False
    (index, *bounds), = node.limits
    entry, pattern = node.function, total.function
    return (entry.base == pattern.base and len(entry.indices) == len(pattern.indices)
            and tuple(bounds) == tuple(total.limits[0][1:]) and entry.indices[-1] == index
            and index not in entry.indices[:-1])


def is_total(node: sp.Basic, total: sp.Sum) -> bool:
    """True when ``node`` is the sum ``total`` (a stated fact's sum_j y_j) over another index name, or at
    another row (sum_l y_hl for sum_j y_ij = 1)."""
    if not isinstance(node, sp.Sum):
        return False
    if node.as_dummy() == total.as_dummy():
        return True
    return isinstance(total.function, sp.Indexed) and len(total.function.indices) > 1 and _row_total(node, total)


def split_off_totals(node: sp.Basic, facts: tuple) -> Optional[sp.Expr]:
    """sum_j (c y_j + b + a_j) -> c sum_j y_j + sum_j b + sum_j a_j, for a stated total sum_j y_j among
    ``facts``: only the terms whose sum is known (a stated total, or a constant's K b) leave the sum, and
    the rest stays one sum; None when no term's sum is a stated total (nothing would then simplify)."""
    if not isinstance(node, sp.Sum) or not isinstance(node.function, sp.Add):
        return None
    indices = [limit[0] for limit in node.limits]
    totals = [f.rewrite[0] for f in facts if f.rewrite is not None and isinstance(f.rewrite[0], sp.Sum)]
    known, constant, rest = [], [], []
    for term in node.function.args:
        if not term.has(*indices):
            constant.append(sp.Sum(term, *node.limits))
            continue
        coeff, varying = term.as_independent(*indices, as_Add=False)
        piece = sp.Sum(varying, *node.limits)
        if any(is_total(piece, t) for t in totals):
            known.append(coeff * piece)
        else:
            rest.append(term)
    if not known:
        return None
    return sp.Add(*known, *constant, *([sp.Sum(sp.Add(*rest), *node.limits)] if rest else []))


@rule(Rule.SPLIT_SUM)
def split_sum(expr: sp.Expr, ctx: "Context", at: sp.Symbol) -> Optional[Step]:
    """sum_j f(j) -> f(at) + sum_{j != at} f(j), for sums whose summand mentions ``at``."""

    def fn(node, frame, used):
        limit = single_limit(node)
        if limit is None or not node.function.has(at) or limit[0] == at:
            return None
        index, lower, upper = limit
        used.append(in_range(at, lower, upper))
        return node.function.xreplace({index: at}) + SumExcept(node.function, limit, at)

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
    return Step(step.expr, step.rule, Typeset(f"split off the term ${index} = {at}$ from the sum"), step.assumptions)


@rule(Rule.JOIN_SUM)
def join_sum(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
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


def _coefficient(f: sp.Expr, delta: sp.KroneckerDelta) -> Optional[sp.Expr]:
    """g when ``f`` is g times ``delta`` with every term of f carrying the delta once (a (b delta + c delta),
    brackets left as they are), else None."""

    def linear(e) -> bool:
        if e == delta:
            return True
        if isinstance(e, sp.Add):
            return all(linear(a) for a in e.args)
        if isinstance(e, sp.Mul):
            carrying = [a for a in e.args if a.has(delta)]
            return len(carrying) == 1 and linear(carrying[0])
        return False

    if not linear(f):
        return None
    return f.xreplace({delta: sp.Integer(1)})


def _picked(f: sp.Expr, delta: sp.KroneckerDelta) -> Optional[tuple]:
    """(g, r) with f = g delta + r, neither g nor r carrying the delta, read through brackets without
    multiplying them out (a (delta - b) c -> (a c, -a b c)); None where the delta is not linear in f."""
    if not f.has(delta):
        return sp.Integer(0), f
    if f == delta:
        return sp.Integer(1), sp.Integer(0)
    if isinstance(f, sp.Add):
        parts = [_picked(a, delta) for a in f.args]
        if any(p is None for p in parts):
            return None
        return sp.Add(*[p[0] for p in parts]), sp.Add(*[p[1] for p in parts])  # type: ignore[index]
    if isinstance(f, sp.Mul):
        carrying = [a for a in f.args if a.has(delta)]
        if len(carrying) != 1:
            return None
        inner = _picked(carrying[0], delta)
        if inner is None:
            return None
        others = sp.Mul(*[a for a in f.args if a is not carrying[0]])
        return others * inner[0], others * inner[1]
    return None


@rule(Rule.DELTA, simplify=2)
def kronecker_delta(expr: sp.Expr, ctx: "Context", towards: Optional[sp.Symbol] = None) -> Optional[Step]:
    """sum_l f(l) delta_lk -> f(k) and sum_l f(l) (delta_lk - b_l) -> f(k) - sum_l f(l) b_l for k in range;  delta_jk -> 0 for j != k;  delta_jk f(k) -> delta_jk f(j) (f(t) with towards=t)."""
    setting = ctx.setting
    actions: set = set()
    substituted: list = []

    def fn(node, frame, used):
        new = _delta(node, frame, used)
        if new is None:
            return None
        if new[1] == "substitute":  # reported only if the delta survives (not contracted later)
            substituted.extend(new[0].atoms(sp.KroneckerDelta))
        else:
            actions.add(new[1])
        return new[0]

    def _delta(node, frame, used):
        if isinstance(node, sp.KroneckerDelta):
            a, b = node.args
            if known_different(frame, a, b):
                if frozenset((a, b)) in ctx.facts:  # cited where it is the chain's condition; a sum over
                    used.append(ctx.condition(a, b))  # j != k or a case says it itself
                return sp.Integer(0), "vanish"
            return None
        if isinstance(node, sp.Mul):
            new = _substitute_in_product(node, towards)
            return None if new is None else (new, "substitute")
        if isinstance(node, sp.Add):
            new = _contract_written_out(node, setting, used)
            return None if new is None else (new, "contract")
        if not isinstance(node, sp.Sum):
            return None
        for n, (index, lower, upper) in enumerate(node.limits):
            others = node.limits[:n] + node.limits[n + 1:]
            if any(b.has(index) for lim in others for b in lim[1:]):
                continue
            for delta in sorted(node.function.atoms(sp.KroneckerDelta), key=sp.default_sort_key):
                if index not in delta.args:
                    continue
                other = delta.args[1] if delta.args[0] == index else delta.args[0]
                if other.has(index):
                    continue
                rest = _coefficient(node.function, delta)
                if rest is None:  # sum_l f(l) (delta_lk - b_l): the delta picks its term, the rest stays one sum
                    pair = _picked(node.function, delta)
                    if pair is None or pair[0] == 0:
                        continue
                    used.append(in_range(other, lower, upper))
                    body = pair[0].xreplace({index: other})
                    picked = sp.Sum(body, *others) if others else body
                    rest = pair[1]
                    ratio = sp.cancel(rest / pair[0])
                    if not ratio.has(*(lim[0] for lim in node.limits)):  # sum_l f(l) (delta_lk - b) -> f(k) - b sum_l f(l)
                        return picked + ratio * sp.Sum(pair[0], *node.limits), "contract"
                    if rest.could_extract_minus_sign():  # f(k) - sum_l f(l) b_l, not f(k) + sum_l (-f(l) b_l)
                        return picked - sp.Sum(-rest, *node.limits), "contract"
                    return picked + sp.Sum(rest, *node.limits), "contract"
                used.append(in_range(other, lower, upper))
                body = rest.xreplace({index: other})
                return (sp.Sum(body, *others) if others else body), "contract"
        return None

    step = rewrite_step(expr, ctx, fn, Rule.DELTA, "")
    if step is None:
        return None
    if any(step.expr.has(delta) for delta in substituted):
        actions.add("substitute")
    words = {"contract": "the Kronecker delta picks one term of the sum",
             "vanish": "the Kronecker delta vanishes for different indices",
             "substitute": "where the Kronecker delta is nonzero its two indices are equal"}
    why = "; ".join(words[a] for a in ("contract", "vanish", "substitute") if a in actions)
    return Step(step.expr, step.rule, why, step.assumptions)


def _substitute_in_product(node: sp.Mul, towards: Optional[sp.Symbol] = None):
    """delta_ab f(b) -> delta_ab f(a): in a product with delta_ab, b may be replaced by a (by ``towards``, when it
    is one of the two: delta_kt f(k) -> delta_kt f(t))."""
    for delta in node.args:
        if not isinstance(delta, sp.KroneckerDelta):
            continue
        a, b = delta.args
        if not (isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol)):
            continue
        if towards == b:
            a, b = b, a
        rest = [f for f in node.args if f is not delta]
        if any(f.has(b) for f in rest):
            return delta * sp.Mul(*rest).xreplace({b: a})
    return None


def _contract_written_out(node: sp.Add, setting, used):
    """f(1) delta_1k + ... + f(K) delta_Kk -> f(k), for a written-out sum over all of 1..K."""
    K = setting.K
    if not K.is_Integer:
        return None
    groups: dict = {}
    for term in node.args:
        for delta in sorted(term.atoms(sp.KroneckerDelta), key=sp.default_sort_key):
            n, other = sorted(delta.args, key=lambda a: not a.is_Integer)
            if n.is_Integer and isinstance(other, sp.Symbol) and term.as_independent(delta)[1] == delta:
                groups.setdefault(other, {}).setdefault(int(n), []).append(term)
    for k, by_n in groups.items():
        if set(by_n) != set(range(1, int(K) + 1)) or any(len(v) != 1 for v in by_n.values()):
            continue
        general = None
        for n, (term,) in by_n.items():
            body = term.xreplace({sp.KroneckerDelta(n, k): sp.Integer(1)})
            candidate = body.replace(lambda e: isinstance(e, sp.Indexed) and sp.Integer(n) in e.indices,
                                     lambda e: e.base[tuple(k if i == n else i for i in e.indices)])
            if general is None:
                general = candidate
            elif sp.expand(candidate - general) != 0:
                general = None
                break
        if general is None:
            continue
        used.append(in_range(k, sp.Integer(1), K))
        kept = [t for t in node.args if all(t not in v for v in by_n.values())]
        return sp.Add(general, *kept)
    return None


@rule(Rule.WRITE_OUT)
def write_out_sum(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """sum_{c=1}^{3} f(c) -> f(1) + f(2) + f(3), for a sum with numeric bounds."""

    def fn(node, frame, used):
        return write_out(node, evaluate=False) if isinstance(node, sp.Sum) else None

    return rewrite_step(expr, ctx, fn, Rule.WRITE_OUT, "write the sum out term by term")


@rule(Rule.CASES)
def cases(expr: sp.Expr, ctx: "Context", first: sp.Symbol, second: sp.Symbol) -> Optional[Step]:
    """X -> delta_ab X + (1 - delta_ab) X: treat a = b and a != b separately."""
    if not (expr.has(first) and expr.has(second)) or expr.has(sp.KroneckerDelta(first, second)):
        return None
    delta = sp.KroneckerDelta(first, second)
    new = sp.Add(delta * expr, (1 - delta) * expr, evaluate=False)
    return Step(new, Rule.CASES,
                Typeset(f"treat the cases ${first} = {second}$ and ${first} \\neq {second}$ separately"))


@rule(Rule.SUM_CONSTANT, simplify=4)
def sum_constant(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """sum_{j=1}^{K} c -> K c and sum_{j != k} c -> (K - 1) c, for a summand c that does not mention j."""

    def fn(node, frame, used):
        if isinstance(node, SumExcept):
            if node.function.has(node.index):
                return None
            return (node.upper - node.lower) * node.function
        if not isinstance(node, sp.Sum):
            return None
        for n, (index, lower, upper) in enumerate(node.limits):
            others = node.limits[:n] + node.limits[n + 1:]
            if node.function.has(index) or any(b.has(index) for lim in others for b in lim[1:]):
                continue
            body = (upper - lower + 1) * node.function
            return sp.Sum(body, *others) if others else body
        return None

    return rewrite_step(expr, ctx, fn, Rule.SUM_CONSTANT,
                        "a sum of a term that does not depend on its index is the number of terms times the term")


# ------------------------------------------------------------------ bounds: squares of sums, nonnegative sums

def _single_sums(expr: sp.Basic) -> list:
    return [f for f in sp.Mul.make_args(expr) if isinstance(f, sp.Sum) and len(f.limits) == 1]


@rule(Rule.MERGE_POWERS)
def square_sums(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """(sum_k a_k) (sum_m a_m) -> (sum_k a_k)^2: two sums that differ only in the name of their index are one."""

    def merged(node):
        if not isinstance(node, sp.Mul):
            return None
        sums = _single_sums(node)
        for n, first in enumerate(sums):
            for second in sums[n + 1:]:
                if first.as_dummy() == second.as_dummy():
                    rest = [f for f in node.args if f is not first and f is not second]
                    return sp.Mul(*rest, first ** 2)
        return None

    new = expr.replace(lambda n: merged(n) is not None, merged)
    if new == expr:
        return None
    return Step(new, Rule.MERGE_POWERS, "the two sums differ only in the name of their index: write their "
                                        "product as a square")


def _weight_and_value(summand: sp.Expr, index: sp.Symbol) -> Optional[tuple]:
    """(w, x) for a summand w x^2 whose square x depends on the index, else None."""
    squares = [f for f in sp.Mul.make_args(summand) if isinstance(f, sp.Pow) and f.exp == 2 and f.base.has(index)]
    if len(squares) != 1:
        return None
    x = squares[0].base
    return sp.Mul(*[f for f in sp.Mul.make_args(summand) if f is not squares[0]]), x


def _fresh(expr: sp.Expr, ctx: "Context", prefer: sp.Symbol) -> Optional[sp.Symbol]:
    used = expr.free_symbols | {i for s in expr.atoms(sp.Sum) for i, *_ in s.limits}
    for i in (prefer, *(i for i, _ in ctx.setting.ranges)):
        if i not in used:
            return i
    return None


@rule(Rule.SQUARE)
def complete_square(expr: sp.Expr, ctx: "Context", fact: Assumption) -> Optional[Step]:
    """sum_k w_k x_k^2 - (sum_k w_k x_k)^2 -> sum_k w_k (x_k - sum_j w_j x_j)^2, for weights with sum_j w_j = 1."""
    if fact.rewrite is None or not isinstance(fact.rewrite[0], sp.Sum) or fact.rewrite[1] != 1:
        return None
    total = fact.rewrite[0]
    (j, low, high), = total.limits

    def completed(node):
        if not isinstance(node, sp.Add):
            return None
        for a in node.args:
            if not (isinstance(a, sp.Sum) and len(a.limits) == 1):
                continue
            (k, lo, hi), = a.limits
            found = _weight_and_value(a.function, k)
            if found is None or (lo, hi) != (low, high) or total.function.xreplace({j: k}) != found[0]:
                continue
            w, x = found
            mean = sp.Sum(w * x, (k, lo, hi))
            for b in node.args:
                square = -b
                if isinstance(square, sp.Pow) and square.exp == 2 and isinstance(square.base, sp.Sum) and \
                        square.base.as_dummy() == mean.as_dummy():
                    m = _fresh(node, ctx, j)
                    if m is None:
                        return None
                    inner = sp.Sum((w * x).xreplace({k: m}), (m, lo, hi))
                    rest = [t for t in node.args if t is not a and t is not b]
                    return sp.Add(*rest, sp.Sum(w * (x - inner) ** 2, (k, lo, hi)))
        return None

    new = expr.replace(lambda n: completed(n) is not None, completed)
    if new == expr:
        return None
    return Step(new, Rule.SQUARE, "complete the square (the weighted variance identity)",
                assumptions=(fact,))


def _nonnegative(factor: sp.Expr, ctx: "Context") -> bool:
    """True for a factor that is at least 0 wherever the setting's quantities are defined: an even power of a
    real expression, a positive number, or an entry of a defined quantity that is a ratio of exponentials (a
    softmax output) or a sigmoid."""
    if factor.is_number:
        return bool(factor.is_nonnegative)
    if isinstance(factor, sp.Pow) and factor.exp.is_Integer and factor.exp.is_even:
        return True
    if isinstance(factor, sp.Indexed):
        d = ctx.setting.definition_of(factor.base)
        return d is not None and d.layer is not None and d.layer.probability  # a softmax or sigmoid output
    return False


@rule(Rule.NONNEGATIVE)
def nonnegative_sum(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """sum_k a_k b_k^2 >= 0: a sum whose terms are products of nonnegative factors (squares, softmax outputs) -> 0."""
    if not (isinstance(expr, sp.Sum) and len(expr.limits) == 1):
        return None
    summand = expr.function
    if not all(_nonnegative(f, ctx) for f in sp.Mul.make_args(summand)):
        return None
    return Step(sp.Integer(0), Rule.NONNEGATIVE, "nonnegative terms", formula=sp.GreaterThan(summand, 0, evaluate=False), relation=Relation.GE)
