"""The checks of one chain: each step (``previous = new`` at every case), and the result against a central
finite difference of the cost. A chain's checks are cached by content (a lemma cited by several entries is
checked once per process). The steps share their cases (``Cases``: K, assignments and points drawn once per
set of sampling domains from a generator seeded by (seed, chain, domains), and each side evaluated once per
point); the result's draws come from (seed, chain, "result"); so a report depends on the seed only."""
from __future__ import annotations

from typing import Optional
import random

import mpmath
import sympy as sp

from ..model import Relation
from . import cases, prove, sampling
from .cache import CACHE
from .instantiate import chain_exprs, relevant, with_labels
from .report import Check
from .sides import DIGITS, labels, side

TOLERANCE = mpmath.mpf("1e-20")  # relative to the sum of |terms| the two sides do not share
RETRY_DIGITS = 60  # a case failing at DIGITS is evaluated again at this precision before it counts
NOISE = mpmath.mpf("1e-10")  # ... and counts only if its difference did not shrink by this factor there
FD_TOLERANCE = mpmath.mpf("1e-14")
FD_STEP = mpmath.mpf("1e-10")  # truncation ~ h^2 f'''/6 ~ 1e-20, rounding ~ 1e-30/h = 1e-20


def rng_for(seed: int, d, where: str) -> random.Random:
    """The random source of one check: depends on the seed, the chain and the step only."""
    return random.Random(f"{seed}|{d.name}|{where}")


class Cases:
    """The cases of one chain, shared by its steps: for each set of sampling domains (steps citing the same
    assumptions draw the same way), the values of K, the assignments of the free indices (labels included)
    and the random points, drawn once; and the values of each side at each point, computed once. The right
    side of step n is the left side of step n + 1 (the same cached ``Side``), so along a chain each side is
    evaluated once per point instead of twice. Every step is still evaluated at every case of its own
    domains: sharing changes which random values a step meets, not how many cases it is checked at."""

    def __init__(self, d, indices: list, exprs: list, Ks: tuple, points: int, index_samples: int, seed: int,
                 constants: tuple) -> None:
        self.d, self.indices, self.exprs, self.Ks, self.points = d, indices, exprs, Ks, points
        self.index_samples, self.seed, self.constants = index_samples, seed, constants
        self.groups: dict = {}  # domains -> [(K, assign, [Sample, ...]), ...]
        self.memo: dict = {}  # (Side, Sample, digits) -> the terms' values (or None)

    def of(self, domains: dict, budget, points: Optional[int] = None) -> list:
        """[(K, assign, samples)] for ``domains``, ``points`` samples a case (the chain's own by default):
        drawn from a generator of (seed, chain, domains, points) only."""
        points = points or self.points
        key = (tuple(sorted(domains.items())), points)
        found = self.groups.get(key)
        if found is None:
            d = self.d
            rng = rng_for(self.seed, d, "cases " + repr(key[0]) + ("" if points == self.points else f" {points}"))
            found = []
            for K in self.Ks:
                for assign in cases.assignments(d, self.indices, K, self.index_samples, rng,
                                                wide=K > cases.SMALL_KS[-1], constants=self.constants):
                    budget.tick()
                    assign = with_labels(d, self.exprs, assign, K, rng)
                    found.append((K, assign, [sampling.Sample(domains, K, random.Random(rng.getrandbits(64)), assign,
                                                              labels(assign)) for _ in range(points)]))
            self.groups[key] = found
        return found

    def values(self, side, sample, integers: dict, digits: int):
        key = (side, sample, digits)
        if key not in self.memo:
            self.memo[key] = side.values(sample, integers, digits)
        return self.memo[key]


def chain_key(d, Ks, points, index_samples, seed):
    exprs = [d.lhs] + [s.expr for s in d.steps]
    used = tuple(dict.fromkeys(x for e in exprs for x in relevant(d.setting, e)))
    s = d.setting
    # a bound's relation and its reason (formula) decide its check as much as its expression does
    steps = tuple((st.expr, st.rule, st.assumptions, st.relation,
                   st.formula if st.relation is not Relation.EQ else None) for st in d.steps)
    return (d.name, d.lhs, d.free_indices, steps,
            d.conditions, used, s.K, s.sizes, s.ranges, s.domains, Ks, points, index_samples, seed)


def check_chain(d, Ks, points, index_samples, seed, progress, budget, done: list) -> list:
    """The checks of ``d``'s steps and result; each finished check is appended to ``done`` as well (what a
    time-out reports as checked)."""
    key = chain_key(d, Ks, points, index_samples, seed)
    cached = CACHE.chains.get(key)
    if cached is not None:
        if progress is not None:
            for number in range(1, len(d.steps) + 1):
                progress(f"{d.name}: step {number} of {len(d.steps)}")
            progress(f"{d.name}: result")
        done.extend(cached)
        return list(cached)
    checks = []
    indices = cases.free_indices(d)
    needs = sampling.needs(chain_exprs(d))
    shared = Cases(d, indices, [d.lhs] + [s.expr for s in d.steps] + [d.result], Ks, points, index_samples, seed,
                   cases.index_constants([d.lhs] + [s.expr for s in d.steps]))
    previous = d.lhs
    for number, step in enumerate(d.steps, start=1):
        if progress is not None:
            progress(f"{d.name}: step {number} of {len(d.steps)}")
        c = check_step(d, number, previous, step, needs, shared, budget)
        checks.append(c)
        done.append(c)
        previous = step.expr
    if progress is not None:
        progress(f"{d.name}: result")
    c = check_result(d, Ks, points, index_samples, seed, budget, shared)
    checks.append(c)
    done.append(c)
    CACHE.chains.remember(key, tuple(checks))
    return checks


def counterexample(K, assign, sample, a, b) -> dict:
    return {"K": int(K),
            "indices": {str(i): int(v) for i, v in sorted(assign.items(), key=lambda kv: str(kv[0]))},
            "values": sample.shown(), "lhs": float(a), "rhs": float(b)}


def show(assign: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(assign.items(), key=lambda kv: str(kv[0]))) or "no free index"


def _conditions(d) -> str:
    return ", ".join(sp.sstr(a.statement) for a in d.conditions) or "none"


def _unshared(left, right) -> tuple:
    """Positions of the terms of each side that the other side does not have (a multiset difference): a
    term both sides share is the same number on both, so it is left out of the difference and its scale."""
    pool: dict = {}
    for t in right.terms:
        pool[t] = pool.get(t, 0) + 1
    keep_left = []
    for n, t in enumerate(left.terms):
        if pool.get(t, 0):
            pool[t] -= 1
        else:
            keep_left.append(n)
    shared: dict = {}
    for n in range(len(left.terms)):
        if n not in keep_left:
            shared[left.terms[n]] = shared.get(left.terms[n], 0) + 1
    keep_right = []
    for n, t in enumerate(right.terms):
        if shared.get(t, 0):
            shared[t] -= 1
        else:
            keep_right.append(n)
    return tuple(keep_left), tuple(keep_right)


def compare(lv: tuple, rv: tuple, keep: tuple, digits: int):
    """(lhs, rhs, relative error) of one case: the error of the unshared terms against their scale."""
    with mpmath.workdps(digits):
        a = mpmath.fsum(lv[n] for n in keep[0])
        b = mpmath.fsum(rv[n] for n in keep[1])
        scale = mpmath.fsum(abs(lv[n]) for n in keep[0]) + mpmath.fsum(abs(rv[n]) for n in keep[1])
        err = abs(a - b)
        rel = err / scale if scale else mpmath.mpf(0) if err == 0 else mpmath.inf
        return a, b, rel


def shortfall(lv: tuple, rv: tuple, keep: tuple, digits: int, relation: Relation):
    """(lhs, rhs, relative shortfall) of one case of a bound lhs >= rhs (or <=): by how much, against the scale
    of the unshared terms, the bound fails (0 where it holds)."""
    with mpmath.workdps(digits):
        a = mpmath.fsum(lv[n] for n in keep[0])
        b = mpmath.fsum(rv[n] for n in keep[1])
        scale = mpmath.fsum(abs(lv[n]) for n in keep[0]) + mpmath.fsum(abs(rv[n]) for n in keep[1])
        gap = a - b if relation is Relation.GE else b - a
        short = max(-gap, mpmath.mpf(0))
        rel = short / scale if scale else mpmath.mpf(0) if short == 0 else mpmath.inf
        return a, b, rel


def check_step(d, number, previous, step, needs, shared: Cases, budget) -> Check:
    relation = getattr(step, "relation", Relation.EQ)
    if relation is not Relation.EQ:
        return check_bound(d, number, previous, step, needs, shared, budget)
    assumptions = tuple(d.conditions) + tuple(step.assumptions)
    domains = sampling.domains(d, assumptions, needs)
    indices, Ks = shared.indices, shared.Ks
    worst, count, symbolic, message, example, at = 0.0, 0, True, "", None, []
    rewrites = tuple(a.rewrite for a in step.assumptions if a.rewrite is not None)
    in_K = not d.setting.K.is_Integer and prove.zero_in_K(d.setting, previous, step.expr, rewrites)
    for K, assign, samples in shared.of(domains, budget):
        budget.tick()
        try:
            left, lints = side(d, previous, K, assign, tick=budget.tick)
            right, rints = side(d, step.expr, K, assign, tick=budget.tick)
        except Exception as err:  # a malformed side (an index out of range of a matrix): named, not raised
            message = message or f"could not instantiate at K={K}, {show(assign)}: {err}"
            worst, symbolic = float("inf"), False
            continue
        if symbolic and not message and not in_K:
            symbolic = prove.zero(left.expr, right.expr)
        keep = _unshared(left, right)
        for sample in samples:
            lv, rv = shared.values(left, sample, lints, DIGITS), shared.values(right, sample, rints, DIGITS)
            if lv is None or rv is None:
                message = message or f"could not evaluate at K={K}, {show(assign)}"
                worst = float("inf")
                continue
            count += 1
            if K not in at:
                at.append(K)
            a, b, rel = compare(lv, rv, keep, DIGITS)
            if rel > TOLERANCE:  # rounding or a real difference: decide at twice the precision
                lv2 = shared.values(left, sample, lints, RETRY_DIGITS)
                rv2 = shared.values(right, sample, rints, RETRY_DIGITS)
                if lv2 is not None and rv2 is not None:
                    before = abs(a - b)
                    a, b, rel = compare(lv2, rv2, keep, RETRY_DIGITS)
                    with mpmath.workdps(RETRY_DIGITS):
                        if abs(a - b) <= NOISE * before:  # it shrank with the precision: rounding, not a term
                            rel = min(rel, TOLERANCE)
            if rel > TOLERANCE and not message:
                message = (f"sides differ at K={K}, {show(assign)}: "
                           f"{mpmath.nstr(a, 8)} != {mpmath.nstr(b, 8)}")
                example = counterexample(K, assign, sample, a, b)
            worst = max(worst, float(rel))
    if count == 0 and not message:
        message = _nothing_checked(d, indices, Ks)
        worst = float("inf")
    ok = not message
    method = ("symbolic in K + numeric" if in_K else "symbolic + numeric" if symbolic else "numeric") if ok \
        else "numeric"
    return Check(d.name, number, step.rule.value, ok, method, count, worst, message, example, tuple(at))


BOUND_POINTS = 24  # random points a case for a bound step (an equality takes the chain's own, 2 by default)


def check_bound(d, number, previous, step, needs, shared: Cases, budget) -> Check:
    """A bound ``previous >= step.expr`` (or <=), checked at every case of the step's domains: it fails where
    the bound falls short by more than TOLERANCE (after a retry at RETRY_DIGITS, as for an equality). A
    reason the step states as a claim about each term (``formula`` a >= or <=, such as
    o_k (v_k - vbar)^2 >= 0 for a sum over k) is checked too, at every value of the indices the sums of
    ``previous`` bind: a bound that holds at the points drawn but for a reason that is false fails."""
    relation = step.relation
    assumptions = tuple(d.conditions) + tuple(step.assumptions)
    domains = sampling.domains(d, assumptions, needs)
    indices, Ks = shared.indices, shared.Ks
    worst, count, message, example, at = 0.0, 0, "", None, []
    claim = _term_claim(step)
    bound = _bound_indices(previous, claim)
    # an inequality has no identity to meet by chance: a false bound or reason shows only at the points where
    # it fails, so a bound is checked at more points than an equality (BOUND_POINTS a case)
    for K, assign, samples in shared.of(domains, budget, max(shared.points, BOUND_POINTS)):
        budget.tick()
        try:
            left, lints = side(d, previous, K, assign, tick=budget.tick)
            right, rints = side(d, step.expr, K, assign, tick=budget.tick)
            terms = [side(d, claim.lhs - claim.rhs, K, {**assign, **where}, tick=budget.tick) + (where,)
                     for where in _values(bound, K, assign, d)] if claim is not None else []
        except Exception as err:  # named, not raised
            message = message or f"could not instantiate at K={K}, {show(assign)}: {err}"
            worst = float("inf")
            continue
        keep = _unshared(left, right)
        for sample in samples:
            lv, rv = shared.values(left, sample, lints, DIGITS), shared.values(right, sample, rints, DIGITS)
            if lv is None or rv is None:
                message = message or f"could not evaluate at K={K}, {show(assign)}"
                worst = float("inf")
                continue
            count += 1
            if K not in at:
                at.append(K)
            a, b, rel = shortfall(lv, rv, keep, DIGITS, relation)
            if rel > TOLERANCE:
                lv2 = shared.values(left, sample, lints, RETRY_DIGITS)
                rv2 = shared.values(right, sample, rints, RETRY_DIGITS)
                if lv2 is not None and rv2 is not None:
                    a, b, rel = shortfall(lv2, rv2, keep, RETRY_DIGITS, relation)
            if rel > TOLERANCE and not message:
                message = (f"the bound {relation.text} fails at K={K}, {show(assign)}: "
                           f"{mpmath.nstr(a, 8)} {relation.text} {mpmath.nstr(b, 8)} is false")
                example = counterexample(K, assign, sample, a, b)
            worst = max(worst, float(rel))
            for term, tints, where in terms:
                tv = shared.values(term, sample, tints, DIGITS)
                if tv is None:
                    message = message or f"could not evaluate the reason at K={K}, {show(assign)}, {show(where)}"
                    worst = float("inf")
                    continue
                with mpmath.workdps(DIGITS):
                    value = mpmath.fsum(tv)
                    scale = mpmath.fsum(abs(x) for x in tv)
                    short = max(-value if claim.rel_op == ">=" else value, mpmath.mpf(0))
                    trel = short / scale if scale else mpmath.mpf(0)
                if trel > TOLERANCE and not message:
                    message = (f"the reason {sp.sstr(claim)} fails at K={K}, {show(assign)}, {show(where)}: "
                               f"{mpmath.nstr(value, 8)}")
                    example = counterexample(K, {**assign, **where}, sample, value, 0)
                worst = max(worst, float(trel))
    if count == 0 and not message:
        message = _nothing_checked(d, indices, Ks)
        worst = float("inf")
    method = f"numeric bound ({relation.text})" + (", each term's sign" if claim is not None else "")
    return Check(d.name, number, step.rule.value, not message, method, count, worst, message, example, tuple(at))


def _term_claim(step):
    """The reason of a bound stated as a claim about each term, a SymPy >= or <= (or None)."""
    formula = getattr(step, "formula", None)
    return formula if isinstance(formula, (sp.GreaterThan, sp.LessThan)) else None


def _bound_indices(expr: sp.Expr, claim) -> tuple:
    """(index, lower, upper) of each sum in ``expr`` whose index the term claim ``claim`` uses."""
    if claim is None:
        return ()
    free = claim.free_symbols
    out: dict = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Sum):
            for i, lo, hi in node.limits:
                if i in free:
                    out.setdefault(i, (i, lo, hi))
    return tuple(out.values())


def _values(bound: tuple, K: int, assign: dict, d) -> list:
    """Every assignment of the bound indices at K (a sum's limits evaluated there), added to ``assign``."""
    import itertools
    K_symbol = d.setting.K
    ranges = []
    for i, lo, hi in bound:
        subs = {K_symbol: K, **{x: v for x, v in assign.items() if not isinstance(x, sp.Indexed)}}
        ranges.append([(i, n) for n in range(int(sp.sympify(lo).subs(subs)), int(sp.sympify(hi).subs(subs)) + 1)])
    return [dict(choice) for choice in itertools.product(*ranges)]


def _nothing_checked(d, indices, Ks) -> str:
    names = ", ".join(map(str, indices)) or "none"
    return (f"0 cases evaluated: no value of the free indices ({names}) satisfies the conditions "
            f"({_conditions(d)}) at K = {', '.join(map(str, Ks))}; nothing was checked")


def _still_derivative(d) -> str:
    """Why the result is not an evaluated derivative, or ''."""
    lhs, result = d.lhs, d.result
    if result == lhs:
        return "the result restates the left-hand side: nothing was derived"
    wanted = [n for n in sp.preorder_traversal(lhs) if isinstance(n, sp.Derivative)]
    for n in sp.preorder_traversal(result):
        if isinstance(n, sp.Derivative) and any(n.expr == w.expr and n.variables == w.variables for w in wanted):
            return f"the result still contains the derivative it is meant to evaluate ({sp.sstr(n)})"
    return ""


class _Claim:
    """The result as a claim about the left-hand side (for a left-hand side built from derivatives)."""

    class rule:
        value = "evaluated left-hand side"

    def __init__(self, d) -> None:
        self.expr, self.assumptions, self.relation = d.result, tuple(d.assumptions), d.relation


def check_result(d, Ks, points, index_samples, seed, budget, shared: Cases) -> Check:
    """The result against a central finite difference of the cost (a left-hand side that is one derivative),
    or against the left-hand side evaluated by SymPy (one built from derivatives, such as a sum of them)."""
    rng = rng_for(seed, d, "result")
    lhs = d.lhs
    if not lhs.has(sp.Derivative):
        return Check(d.name, None, "finite differences", False, "not a derivative", 0, float("inf"),
                     f"the left-hand side {sp.sstr(lhs)} is not a derivative: there is nothing to compare "
                     "the result with")
    why = _still_derivative(d)
    if why:
        return Check(d.name, None, "finite differences", False, "not a closed form", 0, float("inf"), why)
    if not isinstance(lhs, sp.Derivative):
        c = check_step(d, 0, lhs, _Claim(d), sampling.needs(chain_exprs(d)), shared, budget)
        return Check(d.name, None, "evaluated left-hand side", c.ok, "against the evaluated left-hand side",
                     c.cases, c.max_error, c.message, c.counterexample, c.Ks)
    # a second derivative d2F/dx dy: finite differences in y of dF/dx (which SymPy evaluates on its own)
    f = lhs.expr if len(lhs.variables) == 1 else sp.Derivative(lhs.expr, *lhs.variables[:-1])
    x = lhs.variables[-1]
    # differentiating with respect to a defined quantity (dL/do_j) treats it as free
    keep = frozenset({x.base if isinstance(x, sp.Indexed) else x}) & {y.symbol for y in d.setting.definitions}
    domains = sampling.domains(d, tuple(d.assumptions), sampling.needs(chain_exprs(d)))
    indices = cases.free_indices(d)
    constants = cases.index_constants([d.lhs] + [s.expr for s in d.steps])
    worst, count, message, example, at = 0.0, 0, "", None, []
    for K in Ks:
        for assign in cases.assignments(d, indices, K, index_samples, rng, wide=K > cases.SMALL_KS[-1],
                                        constants=constants):
            budget.tick()
            assign = with_labels(d, [f, d.result], assign, K, rng)
            var = x.xreplace({i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)})
            try:
                cost, cints = side(d, f, K, assign, keep, tick=budget.tick)
                result, rints = side(d, d.result, K, assign, keep, tick=budget.tick)
            except Exception as err:  # named, not raised
                message = message or f"could not instantiate at K={K}, {show(assign)}: {err}"
                worst = float("inf")
                continue
            if isinstance(var, sp.Indexed):
                if not all(i.is_Integer for i in var.indices):
                    message = message or f"the variable {var} has an index without a value at K={K}"
                    continue
                vkey = (var.base, tuple(int(i) for i in var.indices))
            else:
                vkey = (var, ())
            for _ in range(points):
                sample = sampling.Sample(domains, K, rng, assign, labels(assign))
                try:
                    with mpmath.workdps(DIGITS):
                        base = sample(vkey[0], *vkey[1])
                except Exception:  # noqa: BLE001 - e.g. an entry outside a one-hot group
                    base = None
                r = result.values(sample, rints, DIGITS)
                if base is None:
                    message = message or f"could not evaluate at K={K}, {show(assign)}"
                    worst = float("inf")
                    continue
                with mpmath.workdps(DIGITS):
                    fp = cost.values(sample.shifted(vkey, base + FD_STEP), cints, DIGITS)
                    fm = cost.values(sample.shifted(vkey, base - FD_STEP), cints, DIGITS)
                if fp is None or fm is None or r is None:
                    message = message or f"could not evaluate at K={K}, {show(assign)}"
                    worst = float("inf")
                    continue
                count += 1
                if K not in at:
                    at.append(K)
                with mpmath.workdps(DIGITS):
                    fd = (mpmath.fsum(fp) - mpmath.fsum(fm)) / (2 * FD_STEP)
                    rv = mpmath.fsum(r)
                    rel = abs(fd - rv) / max(1, abs(rv))
                if rel > FD_TOLERANCE and not message:
                    message = (f"result {mpmath.nstr(rv, 8)} but finite differences give {mpmath.nstr(fd, 8)} "
                               f"at K={K}, {show(assign)}")
                    example = counterexample(K, assign, sample, fd, rv)
                worst = max(worst, float(rel))
    if count == 0 and not message:
        message = _nothing_checked(d, indices, Ks)
        worst = float("inf")
    return Check(d.name, None, "finite differences", not message, "finite differences", count, worst, message,
                 example, tuple(at))
