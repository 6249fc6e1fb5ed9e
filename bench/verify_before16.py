"""The verify() of before issue 16 (derive/verify.py at 1d7bc8d), kept verbatim with absolute imports as the
peer of bench_verify.py: K = 2..5 only, tolerance relative to the larger side.

Check every step of a derivation, its lemmas, and its result.

A step claims ``previous = new`` under the derivation's conditions and the
step's own assumptions. For symbolic K the claim is instantiated at K = 2..5
(concrete K: at that K), with concrete values for the free indices that honour
the conditions (j != k ...): every assignment for K <= 3 (and wherever there
are at most ``index_samples`` of them), ``index_samples`` random ones above.
Both sides have every definition substituted and every sum and derivative
evaluated; then the difference is

* proved zero symbolically when a cheap SymPy normalisation manages it, and
* evaluated at random points in 30-digit mpmath arithmetic (the instantiated
  sides compiled once by ``lambdify``) in any case, with values drawn to
  honour the assumptions (y on the simplex when sum_j y_j = 1 is used, and
  otherwise unnormalised, so a step that silently needs it fails) and to keep
  every expression of the chain defined (a variable under a log or a root is
  drawn positive, in (0, 1) under log(1 - y)).

The result is also compared with a central finite difference of the cost
(independent of every step), at the same precision.

Instantiations (per definitions used, expression, K, indices) and whole
chains (a lemma cited by several entries) are cached for the process; the
random draws of a check depend only on the seed, the chain's name and the
step, never on what the cache held, so a report is deterministic for a seed.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.matexpr import MatrixElement

from derive.errors import ArgumentError, ArgumentTypeError
from derive.expr import Entry, SumExcept, bound_indices, write_out
from derive.model import Derivation

DIGITS = 30  # working precision (significant digits) of every numeric check
TOLERANCE = mpmath.mpf("1e-20")  # relative: 10 digits of headroom for rounding and cancellation
FD_TOLERANCE = mpmath.mpf("1e-14")
FD_STEP = mpmath.mpf("1e-10")  # truncation ~ h^2 f'''/6 ~ 1e-20, rounding ~ 1e-30/h = 1e-20
EXHAUSTIVE_K = 3  # every assignment of the free indices at K <= this ...
EXHAUSTIVE_MAX = 100  # ... when there are at most this many (else this many, drawn at random)
SYMBOLIC_OPS = 80  # try the symbolic proof only below this many operations


@dataclass(frozen=True)
class Check:
    """One checked claim: a step (``step`` is its 1-based number) or the result (``step`` None).

    ``counterexample``, for a failed check that could be evaluated, is the
    first failing case: {"K": int, "indices": {name: value}, "values":
    {symbol or entry as text: float}, "lhs": float, "rhs": float} (for the
    result, lhs is the finite difference and rhs the closed form).
    """

    derivation: str
    step: Optional[int]
    rule: str
    ok: bool
    method: str
    cases: int
    max_error: float
    message: str = ""
    counterexample: Optional[dict] = None

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

    ``index_samples`` is the number of assignments of the free indices per K
    above K = 3 (every assignment is checked at K <= 3). ``progress``, when
    given, is called with a short message such as "softmax_ce: step 3 of 9"
    before each check.
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
        checks.extend(_check_chain(d, Ks, points, index_samples, seed, progress))
    return Report(derivation.name, tuple(checks))


def clear_cache() -> None:
    """Forget every cached instantiation and chain (for benchmarks and memory)."""
    _INSTANCES.clear()
    _GENERIC.clear()
    _VALIDATED.clear()
    _PROVED.clear()
    _CHAINS.clear()
    _RELEVANT.clear()


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


# -- caches ---------------------------------------------------------------------

_INSTANCES: dict = {}  # (definitions used, sizes, expr, K, assignment, keep) -> _Instance
_CHAINS: dict = {}  # content of a chain and the options -> its checks
_RELEVANT: dict = {}  # (setting, expr) -> the definitions the expression reaches
_MAX_ENTRIES = 20000


def _remember(cache: dict, key, value):
    if len(cache) >= _MAX_ENTRIES:
        cache.clear()
    cache[key] = value
    return value


def _relevant(setting, expr: sp.Expr) -> tuple:
    """The definitions ``expr`` reaches, directly or through other definitions (the cache key's part)."""
    key = (setting, expr)
    found = _RELEVANT.get(key)
    if found is not None:
        return found
    todo, out = [expr], []
    while todo:
        e = todo.pop()
        for x in setting.definitions:
            if x not in out and x.occurs_in(e):
                out.append(x)
                todo.append(x.expr)
                if x.argument is not None:
                    todo.append(x.argument)
    order = {x: n for n, x in enumerate(setting.definitions)}
    return _remember(_RELEVANT, key, tuple(sorted(out, key=order.__getitem__)))


def _chain_key(d: Derivation, Ks, points, index_samples, seed):
    exprs = [d.lhs] + [s.expr for s in d.steps]
    used = tuple(dict.fromkeys(x for e in exprs for x in _relevant(d.setting, e)))
    s = d.setting
    return (d.name, d.lhs, d.free_indices, tuple((st.expr, st.rule, st.assumptions) for st in d.steps),
            d.conditions, used, s.K, s.sizes, s.ranges, s.domains, Ks, points, index_samples, seed)


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

    Every assignment at K <= EXHAUSTIVE_K or when there are at most ``limit``;
    otherwise the first and ``limit - 1`` drawn at random.

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
    if len(ok) <= limit or (K <= EXHAUSTIVE_K and len(ok) <= EXHAUSTIVE_MAX):
        return ok
    limit = max(limit, EXHAUSTIVE_MAX) if K <= EXHAUSTIVE_K else limit
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
        if not e.has(sp.Sum, SumExcept):
            return e
        done: dict = {}

        def ready(n):
            if not isinstance(n, (sp.Sum, SumExcept)):
                return False
            done[n] = write_out(n)
            return done[n] is not None
        new = e.replace(ready, done.__getitem__)
        if new == e:
            return e
        e = new
    return e


class _Unsupported(Exception):
    """The expression has a node the small compiler below does not know (lambdify takes over)."""


_FUNCTIONS = {sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.tanh: "tanh",
              sp.sinh: "sinh", sp.cosh: "cosh", sp.Abs: "fabs", sp.atan: "atan"}


def _compile(expr: sp.Expr, atoms: tuple):
    """``expr`` as a Python function of its atoms' values in mpmath arithmetic (much cheaper to build than
    lambdify: a direct walk of the tree, one string, one compile)."""
    where = {a: n for n, a in enumerate(atoms)}
    consts: list = []
    seen: dict = {}

    def const(value) -> str:
        consts.append(value)
        return f"c[{len(consts) - 1}]"

    def walk(e) -> str:
        got = seen.get(e)
        if got is not None:
            return got
        if e in where:
            out = f"a[{where[e]}]"
        elif e.is_Integer:
            out = f"mpf({int(e)})"
        elif e.is_Rational:
            out = f"(mpf({int(e.p)})/{int(e.q)})"
        elif e.is_Float:
            out = const(mpmath.mpf(e._mpf_))
        elif e is sp.pi:
            out = "pi"
        elif e is sp.E:
            out = "e"
        elif isinstance(e, sp.Add):
            out = "(" + " + ".join(walk(t) for t in e.args) + ")"
        elif isinstance(e, sp.Mul):
            out = "(" + " * ".join(walk(t) for t in e.args) + ")"
        elif isinstance(e, sp.Pow):
            b, x = e.args
            if x.is_Integer:
                out = f"({walk(b)}**{int(x)})" if x > 0 else f"(mpf(1)/{walk(b)}**{-int(x)})"
            elif x == sp.S.Half:
                out = f"sqrt({walk(b)})"
            else:
                out = f"power({walk(b)}, {walk(x)})"
        elif isinstance(e, MatrixElement) and isinstance(e.parent, sp.MatrixBase):  # [M]_(k-1, 0), k still free
            rows = ", ".join("[" + ", ".join(walk(x) for x in row) + "]" for row in e.parent.tolist())
            out = f"_entry([{rows}], {walk(e.i)}, {walk(e.j)})"
        elif isinstance(e, sp.KroneckerDelta):
            out = f"(mpf(1) if {walk(e.args[0])} == {walk(e.args[1])} else mpf(0))"
        elif isinstance(e, sp.Function) and e.func in _FUNCTIONS and len(e.args) == 1:
            out = f"{_FUNCTIONS[e.func]}({walk(e.args[0])})"
        else:
            raise _Unsupported(type(e).__name__)
        seen[e] = out
        return out

    source = f"def f(*a):\n    return {walk(expr)}\n"
    scope = {"_entry": _entry, "mpf": mpmath.mpf, "sqrt": mpmath.sqrt, "power": mpmath.power, "pi": mpmath.pi, "e": mpmath.e,
             "c": consts, **{name: getattr(mpmath, name) for name in _FUNCTIONS.values()}}
    exec(compile(source, "<verify>", "exec"), scope)  # noqa: S102 - source built from a SymPy tree above
    return scope["f"]


def _entry(rows: list, i, j):
    """rows[i][j] for the matrix element of an explicit matrix; out of range raises (reported, not raised)."""
    i, j = int(i), int(j)
    if not (0 <= i < len(rows) and 0 <= j < len(rows[i])):
        raise IndexError("matrix index out of range")
    return rows[i][j]


class _Instance:
    """An instantiated side: the expression, its atoms, and the expression compiled for mpmath."""

    __slots__ = ("expr", "atoms", "fn")

    def __init__(self, expr: sp.Expr):
        self.expr = expr
        indexed = expr.atoms(sp.Indexed)
        labels = {a.base.label for a in indexed}
        atoms = sorted(indexed | {s for s in expr.free_symbols
                                  if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy) and s not in labels},
                       key=sp.default_sort_key)
        self.atoms = tuple(atoms)
        self.fn = None
        if expr.has(sp.Derivative, sp.Sum) or expr.atoms(AppliedUndef):
            return
        try:
            self.fn = _compile(expr, self.atoms)
        except (_Unsupported, RecursionError, SyntaxError, MemoryError):
            try:
                names = [sp.Dummy() for _ in atoms]
                self.fn = sp.lambdify(names, expr.xreplace(dict(zip(atoms, names))), modules="mpmath")
            except Exception:  # pragma: no cover - fall back to evalf
                self.fn = None

    def value(self, values: dict):
        """The value at ``values`` (atom -> mpf) as an mpf, or None when it is not a finite real number."""
        try:
            args = [values[a] for a in self.atoms]
        except KeyError:
            return None
        v = None
        if self.fn is not None:
            try:
                with mpmath.workdps(DIGITS):
                    v = self.fn(*args)
            except Exception:  # noqa: BLE001 - evalf decides
                v = None
        if v is None or not isinstance(v, (mpmath.mpf, mpmath.mpc, int, float)):
            return self._evalf(values)
        if isinstance(v, mpmath.mpc):
            if v.imag != 0:
                return None
            v = v.real
        with mpmath.workdps(DIGITS):
            v = mpmath.mpf(v)
        return v if mpmath.isfinite(v) else None

    def _evalf(self, values: dict):
        try:
            v = self.expr.xreplace({a: sp.Float(values[a], DIGITS) for a in self.atoms}).evalf(DIGITS)
        except Exception:  # noqa: BLE001 - reported as 'could not evaluate'
            return None
        if v.has(sp.Derivative) or v.has(sp.Sum) or not v.is_number or v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return None
        try:
            with mpmath.workdps(DIGITS):
                return mpmath.mpf(sp.Float(v, DIGITS)._to_mpmath(mpmath.mp.prec))
        except (TypeError, ValueError, AttributeError):
            return None


class _Bound:
    """A generic instance (free indices still symbols) at one assignment: concrete atoms, the same ``value``."""

    __slots__ = ("generic", "expr", "atoms", "_args")

    def __init__(self, generic: _Instance, assign: dict):
        indices = {i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)}
        labels = {i: sp.Integer(v) for i, v in assign.items() if isinstance(i, sp.Indexed)}
        self.generic = generic
        self.expr = generic.expr  # valid for every assignment (used by the symbolic proof)
        args, atoms = [], []
        for a in generic.atoms:
            if isinstance(a, sp.Indexed):
                a = a.xreplace(indices).xreplace(labels)  # the example i first, then its label y_i
            elif a in indices:
                a = indices[a]
            if a.is_Integer:
                args.append(("index", mpmath.mpf(int(a))))
            elif a in labels:
                args.append(("index", mpmath.mpf(int(labels[a]))))
            else:
                concrete = a
                args.append(("atom", concrete))
                atoms.append(concrete)
        self._args = args
        self.atoms = tuple(dict.fromkeys(atoms))

    def value(self, values: dict):
        try:
            args = [v if kind == "index" else values[v] for kind, v in self._args]
        except KeyError:
            return None
        try:
            with mpmath.workdps(DIGITS):
                v = mpmath.mpf(self.generic.fn(*args))
        except Exception:  # noqa: BLE001 - any failure to evaluate is reported as such, never raised
            return None
        return v if mpmath.isfinite(v) else None


_VALIDATED: set = set()  # generic routes already compared with the direct one (at some K)
_GENERIC: dict = {}  # (definitions used, sizes, expr, K, free indices, keep) -> _Instance, or None when unusable


def _instance(d: Derivation, expr: sp.Expr, K: int, assign: dict, keep: frozenset = frozenset()):
    """``expr`` instantiated at K and ``assign``: through one generic instance per (expression, K), with the
    free indices left as symbols and bound at evaluation, where that works; else directly (per assignment).

    A generic instance is used only after it agreed with the direct instantiation at the first assignment
    it met (30 digits, random values): a route that went wrong falls back, it never decides a check.
    """
    sizes = _sizes(d, K)
    indices = tuple(sorted((i for i in assign if not isinstance(i, sp.Indexed)), key=str))
    key = (_relevant(d.setting, expr), tuple(sizes.items()), expr, K, indices, keep)
    if key not in _GENERIC:
        generic = None
        try:
            e = _instantiate_expr(d, expr, sizes, {}, keep)
            if not e.has(sp.Derivative, sp.Sum, SumExcept):
                generic = _Instance(e)
                once = (key[0], key[2], key[4], key[5])
                first = once not in _VALIDATED  # checked against the direct route at its first K
                if generic.fn is None or (first and not _agrees(d, _Bound(generic, assign),
                                                                _instantiate(d, expr, K, assign, keep), K)):
                    generic = None
                _VALIDATED.add(once)
        except Exception:  # the generic route is an optimisation only
            generic = None
        _remember(_GENERIC, key, generic)
    generic = _GENERIC[key]
    if generic is None:
        return _instantiate(d, expr, K, assign, keep)
    return _Bound(generic, assign)


def _agrees(d: Derivation, bound: "_Bound", direct: _Instance, K: int) -> bool:
    rng = random.Random(0)
    atoms = sorted(set(bound.atoms) | set(direct.atoms), key=sp.default_sort_key)
    for _ in range(2):
        values = _sample(atoms, _domains(d, (), _needs([direct.expr])), K, rng)
        a, b = bound.value(values), direct.value(values)
        if a is None or b is None:
            return a is None and b is None
        with mpmath.workdps(DIGITS):
            if abs(a - b) > TOLERANCE * max(1, abs(a), abs(b)):
                return False
    return True


def _instantiate(d: Derivation, expr: sp.Expr, K: int, assign: dict, keep: frozenset = frozenset()) -> _Instance:
    """``expr`` at concrete sizes and indices, definitions substituted, everything evaluated (cached).

    A derivative with respect to a defined quantity (dL/do_j) is evaluated
    while that quantity is still a symbol, before its definition goes in.
    Definitions of the symbols in ``keep`` stay out.
    """
    sizes = _sizes(d, K)
    key = (_relevant(d.setting, expr), tuple(sizes.items()), expr, K,
           tuple(sorted(assign.items(), key=lambda kv: sp.default_sort_key(kv[0]))), keep)
    found = _INSTANCES.get(key)
    if found is None:
        found = _remember(_INSTANCES, key, _Instance(_instantiate_expr(d, expr, sizes, assign, keep)))
    return found


def _instantiate_expr(d: Derivation, expr: sp.Expr, sizes: dict, assign: dict, keep: frozenset) -> sp.Expr:
    setting = d.setting

    def fix(e):
        e = e.xreplace({i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)})
        return e.xreplace({i: sp.Integer(v) for i, v in assign.items() if isinstance(i, sp.Indexed)})

    e = fix(expr).xreplace(sizes)
    if e.has(Entry):
        e = e.replace(lambda n: isinstance(n, Entry), lambda n: n.doit(deep=False))
    e = _expand_sums(e)
    rounds = 8 * len(setting.definitions) + 8

    def expand(f, skip):
        """``f`` with every definition it uses expanded, one at a time (an expansion may bring in a new derivative
        variable, whose definition then stays), except those of the symbols in ``skip``."""
        for _ in range(rounds):
            x = _first_occurring(setting, f, set(skip) | _variables(f))
            if x is None:
                break
            f = _expand_sums(fix(x.expand_in(f)).xreplace(sizes))
        return f

    def evaluate(n):
        # dz^{l+1}_k/dz^l_j: z^{l+1} is a variable elsewhere in the expression, but here it is the function,
        # and its definition (through a^l) is what depends on z^l: expand it inside this derivative first
        return sp.Derivative(expand(n.expr, _variables(n) | set(keep)), *n.variable_count).doit()

    for _ in range(rounds):
        e = expand(e, keep)
        variables = _variables(e)
        pending = ({x.symbol for x in setting.definitions} & variables) - keep
        if not pending:
            break

        def wrt_pending(n):
            return isinstance(n, sp.Derivative) and any(
                (v.base if isinstance(v, sp.Indexed) else v) in pending for v in n.variables)
        e = e.replace(wrt_pending, evaluate)
    return e.doit()


def _variables(e: sp.Expr) -> set:
    """The symbols (bases of indexed ones) that derivatives in ``e`` are taken with respect to."""
    return {v.base if isinstance(v, sp.Indexed) else v for n in e.atoms(sp.Derivative) for v in n.variables}


def _first_occurring(setting, e: sp.Expr, skip: set):
    """The first definition of ``setting`` whose symbol occurs in ``e``, other than those of ``skip``, or None."""
    bases = {a.base for a in e.atoms(sp.Indexed)}
    names = e.free_symbols
    return next((x for x in setting.definitions if x.symbol not in skip
                 and ((x.symbol in bases) if x.indices else (x.symbol in names))), None)


def _with_labels(d: Derivation, exprs: Sequence[sp.Expr], assign: dict, K: int, rng) -> dict:
    """``assign`` plus an integer class (1..K) for every label in ``exprs`` (a label picks an index)."""
    labels = {name for name, kind in d.setting.domains if kind == "label"}
    if not labels:
        return assign
    out = dict(assign)
    fixed = {i: sp.Integer(v) for i, v in assign.items()}
    for e in list(exprs) + [x.expr for x in d.setting.definitions]:
        for atom in sorted(e.xreplace(fixed).atoms(sp.Indexed), key=sp.default_sort_key):
            if str(atom.base) in labels and atom not in out:
                out[atom] = rng.randint(1, K)
    return out


_TIGHTER = ("real", "positive", "unit")  # draw kinds, each defining more expressions (log y, log(1 - y)) than the one before


def _domains(d: Derivation, assumptions: tuple, needs: Optional[dict] = None) -> dict:
    """Base or scalar name -> how to draw it: the setting's domain, narrowed to what ``needs`` asks (a
    log's argument positive), then what the cited ``assumptions`` say (y on the simplex)."""
    domains = dict(d.setting.domains)
    for name, need in (needs or {}).items():
        kind = domains.get(name, "real")
        if kind in _TIGHTER:
            domains[name] = max(kind, need, key=_TIGHTER.index)
    for a in assumptions:
        domains.update(dict(a.domains))
    return domains


def _chain_needs(d: Derivation) -> dict:
    """What the chain's expressions, and every definition they reach, need of their variables to be defined."""
    exprs = [d.lhs] + [s.expr for s in d.steps]
    for x in dict.fromkeys(x for e in list(exprs) for x in _relevant(d.setting, e)):
        exprs += [x.expr] + ([x.argument] if x.argument is not None else [])
    return _needs(exprs)


def _needs(exprs: Iterable[sp.Expr]) -> dict:
    """Base or scalar name -> 'positive' or 'unit' (0..1) for the variables under a log or a non-integer power."""
    needs: dict = {}
    for e in exprs:
        for n in sp.preorder_traversal(e):
            if isinstance(n, sp.log):
                _positive(n.args[0], needs)
            elif isinstance(n, sp.Pow) and not n.exp.is_Integer:
                _positive(n.base, needs)
    return needs


def _positive(e: sp.Expr, needs: dict) -> None:
    """Record in ``needs`` domains of ``e``'s variables on which ``e`` > 0 (sufficient, not necessary:
    y for y, 1 - y, y/(1 - y), y + eps, y**g; nothing for exp(.), z**2 or a shape it does not know)."""
    def need(atom, kind):
        name = str(atom.base if isinstance(atom, sp.Indexed) else atom)
        needs[name] = max(needs.get(name, kind), kind, key=_TIGHTER.index)

    if isinstance(e, (sp.Indexed, sp.Symbol)):
        need(e, "positive")
    elif isinstance(e, sp.Pow):
        if not (e.exp.is_Integer and e.exp.is_even):
            _positive(e.base, needs)
    elif isinstance(e, sp.Mul):
        coefficient, factors = e.as_coeff_mul()
        if coefficient > 0:
            for f in factors:
                _positive(f, needs)
    elif isinstance(e, sp.Add):
        constant, terms = e.as_coeff_add()
        negative = [t for t in terms if t.as_coeff_mul()[0] < 0]
        if len(negative) == 1 and constant > 0:  # c - a*y, positive for y in (0, 1) when a <= c
            a, rest = negative[0].as_coeff_mul()
            if len(rest) == 1 and isinstance(rest[0], (sp.Indexed, sp.Symbol)) and -a <= constant:
                need(rest[0], "unit")
        if len(negative) <= 1 and constant >= 0:
            for t in terms:
                if t not in negative:
                    _positive(t, needs)
    elif isinstance(e, (sp.Sum, SumExcept)):
        _positive(e.args[0], needs)


def _sample(atoms: Sequence[sp.Basic], domains: dict, K: int, rng, assign: Optional[dict] = None) -> dict:
    """A value (mpf) for every atom, honouring its domain; drawn in a fixed order for a given seed. A target
    one-hot at a free index ('one_hot_at:j') has its 1 where ``assign`` puts j."""
    values: dict = {}
    groups: dict = {}
    for atom in atoms:
        if isinstance(atom, sp.Indexed):
            name = str(atom.base)
            kind = domains.get(name, "real")
            if kind == "label":
                continue
            if kind in ("simplex", "one_hot") or kind.startswith("one_hot_at:"):
                groups.setdefault((atom.base, atom.indices[:-1]), set()).add(atom)
            elif kind == "bias" and atom.indices[-1] == 0:
                values[atom] = mpmath.mpf(1)
            elif atom not in values:
                values[atom] = _draw("real" if kind == "bias" else kind, rng)
        elif atom not in values:
            values[atom] = _draw(domains.get(str(atom), "positive"), rng)
    for (base, head) in sorted(groups, key=sp.default_sort_key):
        atoms_here = groups[(base, head)]
        kind = domains[str(base)]
        with mpmath.workdps(DIGITS + 10):
            if kind == "simplex":
                raw = [mpmath.mpf(rng.uniform(0.05, 1.0)) for _ in range(K)]
                total = mpmath.fsum(raw)
                vec = [r / total for r in raw]
            else:
                if kind.startswith("one_hot_at:"):
                    at = kind.split(":", 1)[1]
                    hot = next(int(v) for i, v in (assign or {}).items() if str(i) == at) - 1
                else:
                    hot = rng.randrange(K)
                vec = [mpmath.mpf(1 if i == hot else 0) for i in range(K)]
        for atom in atoms_here:
            values[atom] = vec[int(atom.indices[-1]) - 1]
    return values


def _draw(kind: str, rng):
    if kind == "positive":
        return mpmath.mpf(rng.uniform(0.5, 2.0))
    if kind == "unit":
        return mpmath.mpf(rng.uniform(0.05, 1.0))
    return mpmath.mpf(rng.uniform(-2.0, 2.0))


_PROVED: dict = {}


def _symbolic_zero(left: sp.Expr, right: sp.Expr) -> bool:
    if left == right:
        return True
    diff = left - right
    if diff == 0:
        return True
    key = (left, right)
    if key in _PROVED:
        return _PROVED[key]
    # only where cheap: expand() of Kronecker deltas over symbolic indices (a generic instance) or of a
    # larger difference can take minutes
    if diff.has(sp.KroneckerDelta, MatrixElement) or sp.count_ops(diff) > SYMBOLIC_OPS:
        return _remember(_PROVED, key, False)
    try:
        proved = sp.cancel(sp.expand(diff)) == 0
    except (sp.PolynomialError, TypeError, ValueError, RecursionError):  # pragma: no cover
        proved = False
    return _remember(_PROVED, key, proved)


# -- checks -------------------------------------------------------------------

def _rng(seed: int, d: Derivation, where: str) -> random.Random:
    """The random source of one check: depends on the seed, the chain and the step only."""
    return random.Random(f"{seed}|{d.name}|{where}")


def _check_chain(d: Derivation, Ks, points, index_samples, seed, progress) -> list:
    key = _chain_key(d, Ks, points, index_samples, seed)
    cached = _CHAINS.get(key)
    if cached is not None:
        if progress is not None:
            for number in range(1, len(d.steps) + 1):
                progress(f"{d.name}: step {number} of {len(d.steps)}")
            progress(f"{d.name}: result")
        return list(cached)
    checks = _check_steps(d, Ks, points, index_samples, seed, progress)
    if progress is not None:
        progress(f"{d.name}: result")
    checks.append(_check_result(d, Ks, points, index_samples, _rng(seed, d, "result")))
    _remember(_CHAINS, key, tuple(checks))
    return checks


def _counterexample(K, assign, values, a, b) -> dict:
    return {"K": int(K),
            "indices": {str(i): int(v) for i, v in sorted(assign.items(), key=lambda kv: str(kv[0]))},
            "values": {str(atom): float(v) for atom, v in sorted(values.items(), key=lambda kv: str(kv[0]))},
            "lhs": float(a), "rhs": float(b)}


def _check_steps(d: Derivation, Ks, points, index_samples, seed, progress=None) -> list:
    checks = []
    indices = _free_indices(d)
    needs = _chain_needs(d)
    previous = d.lhs
    for number, step in enumerate(d.steps, start=1):
        if progress is not None:
            progress(f"{d.name}: step {number} of {len(d.steps)}")
        rng = _rng(seed, d, f"step {number}")
        assumptions = tuple(d.conditions) + tuple(step.assumptions)
        domains = _domains(d, assumptions, needs)
        worst, cases, symbolic, message, example = 0.0, 0, True, "", None
        for K in Ks:
            for assign in _assignments(d, indices, K, index_samples, rng):
                assign = _with_labels(d, [previous, step.expr], assign, K, rng)
                try:
                    left = _instance(d, previous, K, assign)
                    right = _instance(d, step.expr, K, assign)
                except Exception as err:  # a malformed side (an index out of range of a matrix): named, not raised
                    message = message or f"could not instantiate at K={K}, {_show(assign)}: {err}"
                    worst, cases, symbolic = float("inf"), cases + points, False
                    continue
                if symbolic and not message:
                    symbolic = _symbolic_zero(left.expr, right.expr)
                atoms = sorted(set(left.atoms) | set(right.atoms), key=sp.default_sort_key)
                for _ in range(points):
                    values = _sample(atoms, domains, K, rng, assign)
                    a, b = left.value(values), right.value(values)
                    cases += 1
                    if a is None or b is None:
                        message = message or f"could not evaluate at K={K}, {_show(assign)}"
                        worst = float("inf")
                        continue
                    with mpmath.workdps(DIGITS):
                        err = abs(a - b)
                        scale = max(1, abs(a), abs(b))
                        rel = err / scale
                    if rel > TOLERANCE:
                        if not message:
                            message = (f"sides differ at K={K}, {_show(assign)}: "
                                       f"{mpmath.nstr(a, 8)} != {mpmath.nstr(b, 8)}")
                            example = _counterexample(K, assign, values, a, b)
                    worst = max(worst, float(rel))
        ok = not message
        method = "symbolic + numeric" if symbolic and ok else "numeric"
        checks.append(Check(d.name, number, step.rule.value, ok, method, cases, worst, message, example))
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
    domains = _domains(d, assumptions, _chain_needs(d))
    indices = _free_indices(d)
    worst, cases, message, example = 0.0, 0, "", None
    for K in Ks:
        for assign in _assignments(d, indices, K, index_samples, rng):
            assign = _with_labels(d, [f, d.result], assign, K, rng)
            var = x.xreplace({i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)})
            try:
                cost = _instance(d, f, K, assign, keep)
                result = _instance(d, d.result, K, assign, keep)
            except Exception as err:  # named, not raised
                message = message or f"could not instantiate at K={K}, {_show(assign)}: {err}"
                worst, cases = float("inf"), cases + points
                continue
            atoms = sorted(set(cost.atoms) | set(result.atoms) | {var}, key=sp.default_sort_key)
            for _ in range(points):
                values = _sample(atoms, domains, K, rng, assign)
                values.setdefault(var, _draw("real", rng))
                plus = dict(values)
                minus = dict(values)
                with mpmath.workdps(DIGITS):
                    plus[var] = values[var] + FD_STEP
                    minus[var] = values[var] - FD_STEP
                fp, fm, r = cost.value(plus), cost.value(minus), result.value(values)
                cases += 1
                if fp is None or fm is None or r is None:
                    message = message or f"could not evaluate at K={K}, {_show(assign)}"
                    worst = float("inf")
                    continue
                with mpmath.workdps(DIGITS):
                    fd = (fp - fm) / (2 * FD_STEP)
                    err = abs(fd - r)
                    rel = err / max(1, abs(r))
                if rel > FD_TOLERANCE:
                    if not message:
                        message = (f"result {mpmath.nstr(r, 8)} but finite differences give {mpmath.nstr(fd, 8)} "
                                   f"at K={K}, {_show(assign)}")
                        example = _counterexample(K, assign, values, fd, r)
                worst = max(worst, float(rel))
    return Check(d.name, None, "finite differences", not message, "finite differences", cases, worst, message,
                 example)


def _show(assign: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(assign.items(), key=lambda kv: str(kv[0]))) or "no free index"
