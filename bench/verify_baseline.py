"""The verify() of before issue 9, kept verbatim (imports made absolute) as the peer of bench_verify.py.

Check every step of a derivation, its lemmas, and its result.

A step claims ``previous = new`` under the derivation's conditions and the
step's own assumptions. For symbolic K the claim is instantiated at K = 2..5
(concrete K: at that K), with concrete values for the free indices that honour
the conditions (j != k ...). Both sides have every definition substituted and
every sum and derivative evaluated; then the difference is

* proved zero symbolically when a cheap SymPy normalisation manages it, and
* evaluated at random points in high precision in any case, with values drawn
  to honour the assumptions (y on the simplex when sum_j y_j = 1 is used, and
  otherwise unnormalised, so a step that silently needs it fails).

The result is also compared with a central finite difference of the cost
(independent of every step), at the same precision.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import sympy as sp

from derive.errors import ArgumentError, ArgumentTypeError
from derive.expr import Entry, bound_indices, write_out
from derive.model import Derivation

DIGITS = 40
TOLERANCE = sp.Float("1e-25", DIGITS)
FD_TOLERANCE = sp.Float("1e-14", DIGITS)
FD_STEP = sp.Float("1e-12", DIGITS)


@dataclass(frozen=True)
class Check:
    """One checked claim: a step (``step`` is its 1-based number) or the result (``step`` None)."""

    derivation: str
    step: Optional[int]
    rule: str
    ok: bool
    method: str
    cases: int
    max_error: float
    message: str = ""

    @property
    def label(self) -> str:
        if self.step is not None:
            where = f"step {self.step} ({self.rule})"
        else:
            where = "result (finite differences)" if self.rule == "finite differences" else self.rule
        return f"{self.derivation}: {where}"

    def __str__(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        detail = f"{self.method}, {self.cases} cases, max error {self.max_error:.1e}"
        return f"[{status}] {self.label}: {detail}" + (f" -- {self.message}" if self.message else "")


@dataclass(frozen=True)
class Report:
    """The checks of one derivation and its lemmas; ``ok`` when all passed."""

    name: str
    checks: tuple = field(default=())

    @property
    def ok(self) -> bool:
        """True when there was something to check and every check passed: an empty report is not ok."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple:
        return tuple(c for c in self.checks if not c.ok)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"verify {self.name}: {'all ' + str(len(self.checks)) + ' checks passed' if self.ok else str(len(self.failures)) + ' of ' + str(len(self.checks)) + ' checks FAILED'}"
        return "\n".join([head, *(f"  {c}" for c in self.checks)])

    def __repr__(self) -> str:
        return f"Report({self.name!r}, ok={self.ok}, checks={len(self.checks)}, failures={len(self.failures)})"


def verify(derivation: Derivation, *, Ks: Optional[Sequence[int]] = None, points: int = 2,
           index_samples: int = 2, seed: int = 0, lemmas: bool = True,
           progress: Optional[Callable[[str], None]] = None) -> Report:
    """Check every step (and every lemma's steps) and the result of ``derivation``.

    ``progress``, when given, is called with a short message such as
    "softmax_ce: step 3 of 9" before each check.
    """
    if not isinstance(derivation, Derivation):
        raise ArgumentTypeError("derivation", f"must be a Derivation, got {type(derivation).__name__}")
    Ks = _check_Ks(derivation, Ks)
    if not isinstance(points, int) or isinstance(points, bool) or points < 1:
        raise ArgumentError("points", f"must be a positive integer, got {points!r}")
    if not isinstance(index_samples, int) or isinstance(index_samples, bool) or index_samples < 1:
        raise ArgumentError("index_samples", f"must be a positive integer, got {index_samples!r}")
    if progress is not None and not callable(progress):
        raise ArgumentTypeError("progress", f"must be callable or None, got {type(progress).__name__}")
    rng = random.Random(seed)
    checks: list = []
    for d in derivation.walk() if lemmas else (derivation,):
        if d.incomplete:
            checks.append(Check(d.name, None, "incomplete", False, "not a closed form", 0, float("inf"),
                                f"the derivation is incomplete: {d.incomplete}"))
        if not d.steps and d.parts:  # made of parts only: each part is checked on its own
            continue
        if not d.steps:
            checks.append(Check(d.name, None, "no steps", False, "nothing to check", 0, float("inf"),
                                "the derivation has no steps: nothing was proved"))
            continue
        checks.extend(_check_steps(d, Ks, points, index_samples, rng, progress))
        if progress is not None:
            progress(f"{d.name}: result")
        checks.append(_check_result(d, Ks, points, index_samples, rng))
    return Report(derivation.name, tuple(checks))


def _check_Ks(derivation: Derivation, Ks) -> tuple:
    K = derivation.setting.K
    if Ks is None:
        return (int(K),) if K.is_Integer else (2, 3, 4, 5)
    if isinstance(Ks, (str, bytes)) or not isinstance(Ks, Iterable):
        raise ArgumentTypeError("Ks", f"must be a sequence of integers >= 2, got {type(Ks).__name__}")
    Ks = tuple(Ks)
    if not Ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in Ks):
        raise ArgumentError("Ks", f"must be a non-empty sequence of integers >= 2, got {Ks!r}")
    if K.is_Integer and Ks != (int(K),):
        raise ArgumentError("Ks", f"{derivation.name} has K = {K}; it can only be checked at K = {K}")
    return Ks


# -- instances ----------------------------------------------------------------

def _free_indices(d: Derivation) -> list:
    """The lhs's free indices, and any index a step uses outside every sum (the example i of L_i)."""
    ranged = {i for i, _ in d.setting.ranges}
    chain = [d.lhs] + [s.expr for s in d.steps]
    found = {s for e in chain for idx in e.atoms(sp.Indexed) for s in idx.free_symbols if s in ranged}
    bound = set().union(*(bound_indices(e) for e in chain))
    return sorted(set(d.free_indices) | (found - bound), key=str)


def _assignments(d: Derivation, indices: list, K: int, limit: int, rng) -> list:
    """Values of the free indices honouring the derivation's conditions (j != k for a lemma).

    A step's own 'different' assumptions are not used here: they hold inside a
    sum over j != k or a factor 1 - delta_ij, and the step must be an identity
    for every value of the free indices, i = j included.
    """
    pairs = [p for a in d.conditions for p in a.different]
    subs_K = _sizes(d, K)
    ranges = []
    for i in indices:
        lo, hi = d.setting.range_of(i)
        ranges.append(range(int(sp.sympify(lo).subs(subs_K)), int(sp.sympify(hi).subs(subs_K)) + 1))
    ok = []
    for values in itertools.product(*ranges):
        assign = dict(zip(indices, values))
        if all(assign.get(a, a) != assign.get(b, b) for a, b in pairs):
            ok.append(assign)
    if len(ok) <= limit:
        return ok
    return [ok[0]] + rng.sample(ok[1:], limit - 1)


def _sizes(d: Derivation, K: int) -> dict:
    """K, and every other size symbol at a small value of its own (2, 3, 4, ...)."""
    out = {} if d.setting.K.is_Integer else {d.setting.K: sp.Integer(K)}
    for n, size in enumerate(d.setting.sizes):
        out[size] = sp.Integer(2 + n)
    return out


def _expand_sums(e: sp.Expr) -> sp.Expr:
    """Write out every sum with numeric bounds, leaving derivatives unevaluated."""
    for _ in range(20):
        new = e.replace(lambda n: write_out(n) is not None, write_out)
        if new == e:
            return e
        e = new
    return e


def _instantiate(d: Derivation, expr: sp.Expr, K: int, assign: dict, keep: frozenset = frozenset()) -> sp.Expr:
    """``expr`` at concrete sizes and indices, definitions substituted, everything evaluated.

    A derivative with respect to a defined quantity (dL/do_j) is evaluated
    while that quantity is still a symbol, before its definition goes in.
    Definitions of the symbols in ``keep`` stay out.
    """
    setting = d.setting

    def fix(e):
        e = e.xreplace({i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)})
        return e.xreplace({i: sp.Integer(v) for i, v in assign.items() if isinstance(i, sp.Indexed)})

    e = fix(expr).subs(_sizes(d, K))
    e = _expand_sums(e.replace(lambda n: isinstance(n, Entry), lambda n: n.doit(deep=False)))
    for _ in range(8 * len(setting.definitions) + 8):
        variables = {v.base if isinstance(v, sp.Indexed) else v
                     for n in e.atoms(sp.Derivative) for v in n.variables}
        ready = [x for x in setting.definitions
                 if x.symbol not in variables and x.symbol not in keep and x.occurs_in(e)]
        if ready:  # one at a time: an expansion may bring in a new derivative variable
            e = _expand_sums(fix(ready[0].expand_in(e)).subs(_sizes(d, K)))
            continue
        pending = ({x.symbol for x in setting.definitions} & variables) - keep
        if not pending:
            break

        def wrt_pending(n):
            return isinstance(n, sp.Derivative) and any(
                (v.base if isinstance(v, sp.Indexed) else v) in pending for v in n.variables)
        e = e.replace(wrt_pending, lambda n: n.doit())
    return e.doit()


def _with_labels(d: Derivation, exprs: Sequence[sp.Expr], assign: dict, K: int, rng) -> dict:
    """``assign`` plus an integer class (1..K) for every label in ``exprs`` (a label picks an index)."""
    labels = {name for name, kind in d.setting.domains if kind == "label"}
    if not labels:
        return assign
    out = dict(assign)
    fixed = {i: sp.Integer(v) for i, v in assign.items()}
    for e in list(exprs) + [x.expr for x in d.setting.definitions]:
        for atom in e.xreplace(fixed).atoms(sp.Indexed):
            if str(atom.base) in labels and atom not in out:
                out[atom] = rng.randint(1, K)
    return out


def _domains(d: Derivation, assumptions: tuple) -> dict:
    domains = dict(d.setting.domains)
    for a in assumptions:
        domains.update(dict(a.domains))
    return domains


def _sample(exprs: Sequence[sp.Expr], domains: dict, K: int, rng) -> dict:
    values: dict = {}
    groups: dict = {}
    for e in exprs:
        for atom in e.atoms(sp.Indexed):
            name = str(atom.base)
            kind = domains.get(name, "real")
            if kind == "label":
                continue
            if kind in ("simplex", "one_hot"):
                groups.setdefault((atom.base, atom.indices[:-1]), set()).add(atom)
            elif kind == "bias" and atom.indices[-1] == 0:
                values[atom] = sp.Integer(1)
            elif atom not in values:
                values[atom] = _draw("real" if kind == "bias" else kind, rng)
        for sym in e.free_symbols:
            if isinstance(sym, sp.Symbol) and not isinstance(sym, sp.Dummy) and sym not in values:
                values[sym] = _draw(domains.get(str(sym), "positive"), rng)
    for (base, head), atoms in groups.items():
        kind = domains[str(base)]
        if kind == "simplex":
            raw = [sp.Float(rng.uniform(0.05, 1.0), DIGITS) for _ in range(K)]
            total = sp.Add(*raw)
            vec = [r / total for r in raw]
        else:
            hot = rng.randrange(K)
            vec = [sp.Integer(1 if i == hot else 0) for i in range(K)]
        for atom in atoms:
            values[atom] = vec[int(atom.indices[-1]) - 1]
    return values


def _draw(kind: str, rng) -> sp.Float:
    if kind == "positive":
        return sp.Float(rng.uniform(0.5, 2.0), DIGITS)
    if kind == "unit":
        return sp.Float(rng.uniform(0.05, 1.0), DIGITS)
    return sp.Float(rng.uniform(-2.0, 2.0), DIGITS)


def _number(e: sp.Expr, values: dict) -> Optional[sp.Expr]:
    v = e.xreplace(values).evalf(DIGITS)
    if v.has(sp.Derivative) or v.has(sp.Sum) or not v.is_number or v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        return None
    return v


def _symbolic_zero(diff: sp.Expr) -> bool:
    if diff == 0:
        return True
    if sp.count_ops(diff) > 300:
        return False
    try:
        return sp.cancel(sp.expand(diff)) == 0
    except (sp.PolynomialError, TypeError, ValueError, RecursionError):  # pragma: no cover
        return False


# -- checks -------------------------------------------------------------------

def _check_steps(d: Derivation, Ks, points, index_samples, rng, progress=None) -> list:
    checks = []
    indices = _free_indices(d)
    previous = d.lhs
    for number, step in enumerate(d.steps, start=1):
        if progress is not None:
            progress(f"{d.name}: step {number} of {len(d.steps)}")
        assumptions = tuple(d.conditions) + tuple(step.assumptions)
        domains = _domains(d, assumptions)
        worst, cases, symbolic, message = 0.0, 0, True, ""
        for K in Ks:
            for assign in _assignments(d, indices, K, index_samples, rng):
                assign = _with_labels(d, [previous, step.expr], assign, K, rng)
                left = _instantiate(d, previous, K, assign)
                right = _instantiate(d, step.expr, K, assign)
                diff = left - right
                symbolic = symbolic and _symbolic_zero(diff)
                for _ in range(points):
                    values = _sample([left, right], domains, K, rng)
                    a, b = _number(left, values), _number(right, values)
                    cases += 1
                    if a is None or b is None:
                        message = message or f"could not evaluate at K={K}, {_show(assign)}"
                        worst = float("inf")
                        continue
                    err = abs(a - b)
                    scale = max(1, abs(a), abs(b))
                    if err > TOLERANCE * scale:
                        message = message or (f"sides differ at K={K}, {_show(assign)}: "
                                              f"{sp.N(a, 8)} != {sp.N(b, 8)}")
                    worst = max(worst, float(err / scale))
        ok = not message
        method = "symbolic + numeric" if symbolic else "numeric"
        checks.append(Check(d.name, number, step.rule.value, ok, method, cases, worst, message))
        previous = step.expr
    return checks


def _check_result(d: Derivation, Ks, points, index_samples, rng) -> Check:
    lhs = d.lhs
    if not isinstance(lhs, sp.Derivative):
        return Check(d.name, None, "finite differences", True, "not a derivative", 0, 0.0)
    # a second derivative d2F/dx dy: finite differences in y of dF/dx (which SymPy evaluates on its own)
    f = lhs.expr if len(lhs.variables) == 1 else sp.Derivative(lhs.expr, *lhs.variables[:-1])
    x = lhs.variables[-1]
    # differentiating with respect to a defined quantity (dL/do_j) treats it as free
    keep = frozenset({x.base if isinstance(x, sp.Indexed) else x}) & {y.symbol for y in d.setting.definitions}
    assumptions = tuple(d.assumptions)
    domains = _domains(d, assumptions)
    indices = _free_indices(d)
    worst, cases, message = 0.0, 0, ""
    for K in Ks:
        for assign in _assignments(d, indices, K, index_samples, rng):
            assign = _with_labels(d, [f, d.result], assign, K, rng)
            cost = _instantiate(d, f, K, assign, keep)
            var = x.xreplace({i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)})
            result = _instantiate(d, d.result, K, assign, keep)
            for _ in range(points):
                values = _sample([cost, result, var], domains, K, rng)
                values.setdefault(var, _draw("real", rng))
                plus = dict(values)
                plus[var] = values[var] + FD_STEP
                minus = dict(values)
                minus[var] = values[var] - FD_STEP
                fp, fm, r = _number(cost, plus), _number(cost, minus), _number(result, values)
                cases += 1
                if fp is None or fm is None or r is None:
                    message = message or f"could not evaluate at K={K}, {_show(assign)}"
                    worst = float("inf")
                    continue
                fd = (fp - fm) / (2 * FD_STEP)
                err = abs(fd - r)
                scale = max(1, abs(r))
                if err > FD_TOLERANCE * scale:
                    message = message or (f"result {sp.N(r, 8)} but finite differences give {sp.N(fd, 8)} "
                                          f"at K={K}, {_show(assign)}")
                worst = max(worst, float(err / scale))
    return Check(d.name, None, "finite differences", not message, "finite differences", cases, worst, message)


def _show(assign: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(assign.items(), key=lambda kv: str(kv[0]))) or "no free index"
