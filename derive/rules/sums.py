"""Rules on finite sums: split at j = k, join back, contract Kronecker deltas."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import sympy as sp

from ..assumptions import in_range
from ..expr import SumExcept, known_different, write_out
from ..model import Rule, Step, Typeset
from .base import rewrite_step, single_limit
from .registry import rule

if TYPE_CHECKING:  # pragma: no cover
    from . import Context


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


@rule(Rule.DELTA, simplify=2)
def kronecker_delta(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """sum_l f(l) delta_lk -> f(k) for k in range;  delta_jk -> 0 for j != k;  delta_jk f(k) -> delta_jk f(j)."""
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
            new = _substitute_in_product(node)
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
            for delta in node.function.atoms(sp.KroneckerDelta):
                if index not in delta.args:
                    continue
                other = delta.args[1] if delta.args[0] == index else delta.args[0]
                if other.has(index):
                    continue
                rest = _coefficient(node.function, delta)
                if rest is None:  # sum_l f(l) delta_lk: every term of the summand carries the delta once
                    continue
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


def _substitute_in_product(node: sp.Mul):
    """delta_ab f(b) -> delta_ab f(a): in a product with delta_ab, b may be replaced by a."""
    for delta in node.args:
        if not isinstance(delta, sp.KroneckerDelta):
            continue
        a, b = delta.args
        if not (isinstance(a, sp.Symbol) and isinstance(b, sp.Symbol)):
            continue
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
        for delta in term.atoms(sp.KroneckerDelta):
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
