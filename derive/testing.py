"""Check a user's gradient code against a derivation's compiled closed form.

    derive.testing.assert_gradient(my_grad, "softmax_ce")        # raises AssertionError with a diagnosis
    report = derive.testing.check_gradient(my_grad, "softmax_ce")
    assert report.ok, report

``fn`` takes the keyword arguments of the derivation's compiled function
(``fn(z=Z, y=Y)``, ``fn(theta=..., x=..., y=...)``, ``fn(w=..., x=..., label=...)``)
and returns an array of the same shape. It is called on a battery of
generated inputs (several K and batch sizes, float32 and float64, logits from
|z| ~ 1e-3 to |z| = 1e4, equal logits, one-hot and soft targets, integer
labels) and compared with the compiled closed form entry by entry:

    |got - expected| <= atol * max(1, max|expected|) + rtol * |expected|

with the defaults of ``torch.testing.assert_close`` for comparing two
computations of the same quantity (float64: rtol 1e-7, atol 1e-7; float32:
rtol 1.3e-6, atol 1e-5). The absolute part is scaled by the largest expected
entry because the dataset gradients sum over examples and grow with |x|.
(JAX's check_grads and PyTorch's gradcheck compare against finite differences
and so need looser numbers, 2e-3/1e-5 and rtol 1e-3/atol 1e-5; the closed form
has no truncation error, so the tighter pair applies here.) When ``fn``
returns a lower precision than it was given (JAX without jax_enable_x64 turns
float64 into float32), the lower precision's tolerance is used and the report
says so.

NumPy functions are called with NumPy arrays; PyTorch and JAX functions with
tensors or jax arrays when ``framework`` says so, or, with framework="auto",
when the function rejects NumPy input and torch or jax is already imported.
Importing this module imports neither.
"""
from __future__ import annotations

import itertools
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from .errors import ArgumentError, ArgumentTypeError
from .model import Derivation

__all__ = ["assert_gradient", "check_gradient", "GradientReport", "CaseFailure", "Case", "GradientMismatch",
           "TOLERANCES"]

# (rtol, atol) per dtype: torch.testing.assert_close's defaults for float32 and float64.
TOLERANCES = {"float64": (1e-7, 1e-7), "float32": (1.3e-6, 1e-5)}
# Inputs are rounded to their dtype: a score s carries an error up to eps * |s| (1e-3 at |s| = 1e4 in float32),
# which any backward-stable implementation may pass on (|d o_k / d s| summed over s is at most 1/2).
CONDITIONING = 8.0  # allowance CONDITIONING * eps * max|s| * gain, with room for a scalar such as 1/T
FRAMEWORKS = ("auto", "numpy", "torch", "jax")
SCALAR_VALUES = (0.5, 2.0)  # positive, as the verifier samples scalars; never 1, which would hide a missing factor


class GradientMismatch(AssertionError):
    """assert_gradient's failure; ``report`` holds the GradientReport."""

    def __init__(self, report: "GradientReport") -> None:
        self.report = report
        super().__init__(str(report))


@dataclass
class Case:
    """One generated input: ``inputs`` are the keyword arguments (NumPy) given to fn and the closed form."""

    number: int
    dtype: str
    label: str
    inputs: dict
    dims: dict
    scale: float  # the largest |score| (logit) the softmax sees
    gain: float = 1.0  # how far an error in a softmax output carries into the result (sum_i |x_i| for a dataset)

    def describe(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        return f"#{self.number}: {self.dtype}, {dims}, {self.label}"


@dataclass
class CaseFailure:
    """A case where fn disagrees with the closed form. ``index`` is the worst entry (None for a shape
    mismatch or an exception); ``got`` and ``expected`` its two values."""

    case: Case
    kind: str  # 'mismatch', 'non-finite', 'shape', 'raised'
    expected: np.ndarray
    actual: Optional[np.ndarray] = None
    index: Optional[tuple] = None
    got: float = float("nan")
    want: float = float("nan")
    allowed: float = 0.0
    error: str = ""
    tolerance: tuple = ()

    @property
    def inputs(self) -> dict:
        """The inputs that broke fn, to reproduce it: fn(**failure.inputs)."""
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.case.inputs.items()}

    def summary(self, layout: "_Layout") -> str:
        lines = [f"case {self.case.describe()}"]
        if self.kind == "raised":
            lines.append(f"  fn raised {self.error}")
        elif self.kind == "shape":
            lines.append(f"  fn returned shape {self.actual.shape}, expected {self.expected.shape}")
        else:
            idx = list(self.index)
            lines.append(f"  worst entry {idx}: got {self.got:.10g}, expected {self.want:.10g} "
                         f"(|difference| {abs(self.got - self.want):.3g}, allowed {self.allowed:.3g})")
        lines.extend("  " + x for x in layout.show(self.case, self.index))
        return "\n".join(lines)


@dataclass
class GradientReport:
    """The outcome of check_gradient: ``ok``, the failing cases, the likely cause, and str() for people."""

    derivation: str
    function: str
    framework: str
    cases: list
    failures: list
    causes: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    layout: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failure(self) -> Optional[CaseFailure]:
        """The failing case the report shows: the first one not explained by large logits alone, else the first."""
        if not self.failures:
            return None
        ordinary = [f for f in self.failures if not _large(f.case)]
        return (ordinary or self.failures)[0]

    @property
    def cause(self) -> Optional[str]:
        """The most likely cause, or None when none could be told."""
        return self.causes[0] if self.causes else None

    def __str__(self) -> str:
        head = f"{self.function} against {self.derivation} ({self.framework})"
        covered = self.layout.coverage(self.cases) if self.layout else ""
        if self.ok:
            out = [f"{head}: matches the closed form in all {len(self.cases)} cases ({covered})"]
        else:
            out = [f"{head}: does not match the closed form in {len(self.failures)} of {len(self.cases)} cases"]
            if self.causes:
                out += [f"likely cause: {c}" for c in self.causes]
            else:
                out.append("likely cause: not recognised (not a constant factor, a transpose, a one-class slip "
                           "or an overflow); compare the values below")
            out.append("first failing " + self.failure.summary(self.layout))
            out.append("reproduce: fn(**report.failure.inputs) (GradientMismatch.report is the report)")
        out += [f"note: {n}" for n in self.notes]
        out.append("tolerance: |got - expected| <= atol * max(1, max|expected|) + rtol * |expected| "
                   "+ 8 eps max|score| (input rounding); "
                   + "; ".join(f"{k} rtol {r:g}, atol {a:g}" for k, (r, a) in TOLERANCES.items())
                   + " (torch.testing.assert_close defaults)")
        return "\n".join(out)


# -- the entry points ----------------------------------------------------------------

def check_gradient(fn: Callable, derivation, *, framework: str = "auto", seed: int = 0, **fixed) -> GradientReport:
    """Compare ``fn`` with the closed form of ``derivation`` (a Derivation or a catalogue name) on a battery
    of generated inputs; ``fixed`` pins inputs (T=2.0). Returns a GradientReport; never raises on a mismatch."""
    if not callable(fn):
        raise ArgumentTypeError("fn", f"must be a function, got {type(fn).__name__}")
    if framework not in FRAMEWORKS:
        raise ArgumentError("framework", f"must be one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    d = _derivation(derivation)
    compiled = d.compile()
    layout = _layout(d, compiled)
    for key in fixed:
        if key not in layout.names:
            raise ArgumentError(key, f"unknown input; {d.name} takes {', '.join(layout.names)}")
    cases = layout.battery(np.random.default_rng(seed), fixed)
    caller = _Caller(fn, framework)
    failures, notes = [], []
    skipped = []
    for case in cases:
        try:
            expected = compiled(**case.inputs)
        except ArgumentError as error:  # the closed form itself overflows there (a pinned input, or a singularity)
            skipped.append((case, error))
            continue
        failure = _compare(caller, case, expected, notes)
        if failure is not None:
            failures.append(failure)
    if skipped:
        notes.append(f"{len(skipped)} of {len(cases)} cases skipped: the closed form cannot be evaluated there, "
                     f"first {skipped[0][0].describe()}: {skipped[0][1]}")
        cases = [c for c in cases if all(c is not s for s, _ in skipped)]
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    report = GradientReport(d.name, name, caller.framework or framework, cases, failures, notes=notes, layout=layout)
    report.causes = _diagnose(report, compiled, caller, layout)
    return report


def assert_gradient(fn: Callable, derivation, *, framework: str = "auto", seed: int = 0, **fixed) -> GradientReport:
    """check_gradient, raising GradientMismatch (an AssertionError) with the report's text when fn disagrees."""
    report = check_gradient(fn, derivation, framework=framework, seed=seed, **fixed)
    if not report.ok:
        raise GradientMismatch(report)
    return report


def _derivation(derivation) -> Derivation:
    if isinstance(derivation, Derivation):
        return derivation
    if isinstance(derivation, str):
        from .catalogue import entry
        return entry(derivation)()
    raise ArgumentTypeError("derivation", f"must be a Derivation or a catalogue name, got {type(derivation).__name__}")


# -- calling fn in its framework ------------------------------------------------------

class _Caller:
    """Calls fn with NumPy, torch or jax inputs and returns NumPy; with 'auto' the first framework that works."""

    def __init__(self, fn: Callable, framework: str) -> None:
        self.fn = fn
        self.framework = None if framework == "auto" else framework

    def __call__(self, inputs: dict) -> np.ndarray:
        if self.framework is not None:
            return self._call(self.framework, inputs)
        errors = []
        for name in ("numpy", "torch", "jax"):
            if name != "numpy" and name not in sys.modules:
                continue  # never import a framework fn does not already use
            try:
                out = self._call(name, inputs)
            except Exception as exc:  # try the next framework; report them all if none works
                errors.append(f"{type(exc).__name__}: {exc}" + (f" (with {name} inputs)" if name != "numpy" else ""))
                continue
            self.framework = name
            return out
        raise _Raised("; ".join(errors))

    def _call(self, framework: str, inputs: dict) -> np.ndarray:
        args = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}  # fn may write
        if framework == "torch":
            import torch
            args = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
        elif framework == "jax":
            import jax.numpy as jnp
            args = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a naive softmax is what we report
            out = self.fn(**args)
        return _to_numpy(out)


class _Raised(Exception):
    pass


def _to_numpy(out) -> np.ndarray:
    if type(out).__module__.split(".")[0] == "torch" and hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    a = np.asarray(out)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"fn returned {type(out).__name__} of dtype {a.dtype}, not an array of real numbers")
    return a


# -- comparing ---------------------------------------------------------------------------

def _tolerance(case_dtype: str, out_dtype) -> tuple:
    """(name, rtol, atol): the less precise of the input's and the output's dtype."""
    name = "float32" if case_dtype == "float32" or np.dtype(out_dtype).itemsize < 8 else "float64"
    return (name,) + TOLERANCES[name]


def _compare(caller: _Caller, case: Case, expected: np.ndarray, notes: list) -> Optional[CaseFailure]:
    try:
        actual = caller(case.inputs)
    except _Raised as exc:
        return CaseFailure(case, "raised", expected, error=str(exc))
    except Exception as exc:
        return CaseFailure(case, "raised", expected, error=f"{type(exc).__name__}: {exc}")
    if actual.shape != expected.shape:
        return CaseFailure(case, "shape", expected, actual)
    name, rtol, atol = _tolerance(case.dtype, actual.dtype)
    if name != case.dtype and not any("lower precision" in n for n in notes):
        notes.append(f"fn returned {actual.dtype} for {case.dtype} inputs (JAX without jax_enable_x64?): "
                     f"compared with the {name} tolerance, the lower precision")
    bad, ratio, bound = _violations(actual, expected, rtol, atol, _allowance(case, name))
    if not bad.any():
        return None
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    kind = "non-finite" if not np.all(np.isfinite(actual)) else "mismatch"
    return CaseFailure(case, kind, expected, actual, worst, float(actual[worst]), float(expected[worst]),
                       float(bound[worst]), tolerance=(name, rtol, atol))


def _allowance(case: Case, dtype: str) -> float:
    return CONDITIONING * float(np.finfo(dtype).eps) * case.scale * case.gain


def _violations(actual, expected, rtol, atol, allowance: float = 0.0) -> tuple:
    E = expected.astype(np.float64)
    A = actual.astype(np.float64)
    scale = max(1.0, float(np.max(np.abs(E)))) if E.size else 1.0
    bound = atol * scale + rtol * np.abs(E) + allowance
    with np.errstate(all="ignore"):
        err = np.abs(A - E)
        ratio = np.where(np.isfinite(err), err / bound, np.inf)
    return ratio > 1, ratio, bound


def _close(actual, expected, case: Case, slack: float = 4.0) -> bool:
    if actual is None or actual.shape != expected.shape or not np.all(np.isfinite(actual)):
        return False
    name, rtol, atol = _tolerance(case.dtype, actual.dtype)
    return not _violations(actual, expected, rtol * slack, atol * slack, slack * _allowance(case, name))[0].any()


def _large(case: Case) -> bool:
    """Scores at which exp overflows in the case's dtype (88.7 in float32, 709.8 in float64)."""
    return case.scale > np.log(np.finfo(case.dtype).max)


# -- the likely cause ---------------------------------------------------------------------

def _diagnose(report: GradientReport, compiled, caller: _Caller, layout: "_Layout") -> list:
    failures = report.failures
    if not failures:
        return []
    causes = []
    raised = [f for f in failures if f.kind == "raised"]
    if raised:
        where = ("every case" if len(raised) == len(report.cases)
                 else f"{len(raised)} cases, first {raised[0].case.describe()}")
        causes.append(f"fn raised an exception in {where}: {raised[0].error}")
    nonfinite = [f for f in failures if f.kind == "non-finite"]
    if nonfinite and all(_large(f.case) for f in nonfinite):
        worst = max(f.case.scale for f in nonfinite)
        causes.append(f"non-finite output (inf or nan) only at large |{layout.score}| (up to {worst:.3g}), where "
                      f"exp overflows: a missing max-subtraction; compute the softmax as exp(s - max(s)) / "
                      f"sum(exp(s - max(s))) over each row's scores s (or use a log-sum-exp)")
    elif nonfinite:
        causes.append(f"non-finite output (inf or nan) even at moderate |{layout.score}|, first in "
                      f"{nonfinite[0].case.describe()}: a division by zero or a log of zero")
    wrong = [f for f in failures if f.kind in ("mismatch", "shape")]
    if wrong and all(_large(f.case) for f in wrong) and not nonfinite:
        causes.append(f"wrong only at large |{layout.score}| (at least {min(f.case.scale for f in wrong):.3g}): a "
                      f"loss of precision, e.g. log(softmax(s)) where log-softmax s - logsumexp(s) is needed")
    ordinary = [f for f in wrong if not _large(f.case)]
    if ordinary:
        for check in (_transposed, _factor, _shifted, _one_class):
            cause = check(ordinary, compiled, layout)
            if cause:
                causes.append(cause)
                break
    return causes


def _transposed(failures, compiled, layout) -> Optional[str]:
    found = set()
    for f in failures:
        E, A = f.expected, f.actual
        if A is None or A.ndim != E.ndim or E.ndim < 2:
            return None
        hit = None
        for perm in itertools.permutations(range(E.ndim)):
            if perm != tuple(range(E.ndim)) and _close(A, np.transpose(E, perm), f.case):
                hit = perm
                break
        if hit is None:
            return None
        found.add(hit)
    if len(found) != 1:
        return None
    perm = found.pop()
    f = failures[0]
    return (f"transposed: the output is the expected array with its axes in the order {perm} (shape "
            f"{f.actual.shape} where {layout.shape_text(f)} is expected); {layout.transpose_hint}")


def _factor(failures, compiled, layout) -> Optional[str]:
    explained = []
    for f in failures:
        E, A = f.expected.astype(np.float64), f.actual
        if A is None or A.shape != E.shape or not np.all(np.isfinite(A)):
            return None
        denom = float(np.sum(E * E))
        if denom == 0:
            return None
        c = float(np.sum(A.astype(np.float64) * E)) / denom
        if not _close(A, (c * E).astype(A.dtype), f.case, slack=100.0):
            return None
        explained.append((f, c))
    readings = None
    for f, c in explained:
        options = layout.factors(f.case)
        names = {name for name, v in options if abs(c - v) <= 1e-3 * abs(v)}
        readings = names if readings is None else readings & names
    f, c = explained[0]
    if readings:
        return layout.factor_text(sorted(readings, key=layout.factor_order)[0], f.case, c)
    cs = [c for _, c in explained]
    if abs(c - 1) > 1e-3 and max(cs) - min(cs) <= 1e-3 * max(abs(x) for x in cs):
        return f"wrong by a constant factor {c:.6g} in every failing case: a scale factor is missing or extra"
    return None


def _shifted(failures, compiled, layout) -> Optional[str]:
    for shift in (1, -1):
        ok = True
        for f in failures:
            shifted = layout.shift(f.case.inputs, shift)
            if shifted is None or f.actual is None:
                return None
            try:
                E = compiled(**shifted)
            except Exception:
                ok = False
                break
            if not _close(f.actual, E, f.case):
                ok = False
                break
        if ok:
            return layout.shift_text(shift)
    return None


def _one_class(failures, compiled, layout) -> Optional[str]:
    found = set()
    for f in failures:
        if f.actual is None or f.actual.shape != f.expected.shape:
            return None
        name, rtol, atol = _tolerance(f.case.dtype, f.actual.dtype)
        bad = _violations(f.actual, f.expected, rtol, atol, _allowance(f.case, name))[0]
        K = f.case.dims["K"]
        classes = None
        for axis in layout.class_axes(f.expected.ndim):
            cols = set(np.nonzero(bad.any(axis=tuple(a for a in range(bad.ndim) if a != axis)))[0].tolist())
            if len(cols) == 1:
                classes = cols
                break
        if classes is None:
            return None
        c = classes.pop()
        found.add("last" if c == K - 1 else c)
    if len(found) != 1:
        return None
    c = found.pop()
    if c == "last":
        which, hint = "the last class (K - 1)", "e.g. a loop over range(K - 1) or a slice [:-1] that stops one short"
    elif c == 0:
        which, hint = "class 0, the first", "e.g. a loop over range(1, K) (1-based) that skips class 0"
    else:
        which, hint = f"class {c}", "e.g. a hard-coded class index that is one off"
    return (f"wrong only in {which}, every other class matches: an index slip (off-by-one class), {hint}")


# -- input layouts ----------------------------------------------------------------------------

def _layout(d: Derivation, compiled) -> "_Layout":
    kinds = {"per_example": _PerExample, "dataset": _Dataset, "labels": _Labels}
    if d.interface not in kinds:
        raise ArgumentError("derivation", f"derive.testing checks per-example, dataset and labels derivations; "
                                          f"{d.name} has the {d.interface!r} interface")
    return kinds[d.interface](d, compiled)


def _domains(d: Derivation, compiled) -> dict:
    """Base name -> how to draw it. y and t without a declared domain are targets in [0, 1] (the catalogue's
    notation; focal_loss declares none); any other array without one is drawn from the reals."""
    domains = {"y": "unit", "t": "unit"}
    domains.update(dict(d.setting.domains))
    for x in d.walk():
        for a in x.assumptions:
            domains.update(dict(a.domains))
    domains.update(getattr(compiled, "targets", {}) or {})
    return domains


LOGITS = (("small", 1e-3), ("moderate", 3.0), ("large", 100.0), ("extreme", 1e4), ("equal", None))


class _Layout:
    names: tuple = ()
    score = "z"
    transpose_hint = ""

    def __init__(self, d: Derivation, compiled) -> None:
        self.d = d
        self.compiled = compiled
        self.K = getattr(compiled, "K", None)
        self.domains = _domains(d, compiled)

    def scalars(self) -> tuple:
        return ()

    def gain(self, inputs) -> float:
        return 1.0

    def target_names(self) -> tuple:
        return self.names[2:3]

    def target_kinds(self) -> tuple:
        return ("one-hot", "soft")

    def battery(self, rng, fixed: dict) -> list:
        fixed = {k: self._pinned(k, v) for k, v in fixed.items()}
        cases, n = [], 0
        kinds = self.target_kinds()
        if kinds != ("",) and all(t in fixed for t in self.target_names()):
            kinds = ("given",)
        for dtype in ("float64", "float32"):
            for dims in self._dims(fixed):
                for (logits, scale), targets in itertools.product(LOGITS, kinds):
                    if any(k in fixed for k in self.logit_inputs()) and logits != "moderate":
                        continue  # the logits are pinned: one case per dims and targets
                    inputs, top = self.make(rng, dims, logits, scale, targets, np.dtype(dtype))
                    for i, s in enumerate(self.scalars()):
                        inputs[s] = SCALAR_VALUES[(n + i) % len(SCALAR_VALUES)]
                    for k, v in fixed.items():
                        inputs[k] = v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
                    if any(k in fixed for k in self.logit_inputs()):
                        top, logits = self.top_score(inputs), "pinned"
                    label = self.label(logits, top, targets) + "".join(
                        f", {s} = {inputs[s]:g}" for s in self.scalars())
                    n += 1
                    cases.append(Case(n, dtype, label, inputs, dims, top, self.gain(inputs)))
        return cases

    def _pinned(self, name: str, value):
        if name in self.scalars():
            from .compile import check_scalar
            return check_scalar(name, value)
        if type(value).__module__.split(".")[0] in ("torch", "jax", "jaxlib"):
            value = _to_numpy(value)
        return np.asarray(value)

    def label(self, logits, top, targets) -> str:
        what = {"small": "small", "moderate": "moderate", "large": "large", "extreme": "extreme",
                "equal": "equal logits in each row,", "pinned": "the given"}[logits]
        return f"{what} |{self.score}| up to {top:.3g}" + (f", {targets} targets" if targets else "")

    def factors(self, case: Case) -> list:
        m = case.dims[self.examples]
        out = [("1/N", 1.0 / m), ("N", float(m)), ("-1", -1.0), ("1/K", 1.0 / case.dims["K"]),
               ("K", float(case.dims["K"]))]
        for s in self.scalars():
            out += [(f"{s}", float(case.inputs[s])), (f"1/{s}", 1.0 / float(case.inputs[s]))]
        return out

    @staticmethod
    def factor_order(name: str) -> int:
        return {"1/N": 0, "N": 1, "-1": 2}.get(name, 3)

    def coverage(self, cases) -> str:
        Ks = sorted({c.dims["K"] for c in cases})
        Ns = sorted({c.dims[self.examples] for c in cases})
        dtypes = sorted({c.dtype for c in cases})
        return (f"{' and '.join(dtypes)}, K in {Ks}, {self.examples} in {Ns}, |{self.score}| from "
                f"{min(c.scale for c in cases if c.scale > 0):.2g} to {max(c.scale for c in cases):.2g}, "
                f"equal logits")

    def shape_text(self, f: CaseFailure) -> str:
        return str(f.expected.shape)


class _PerExample(_Layout):
    """g(z=(N, K), y=(N, K), ..., scalars) -> (N, K) or (N, K, K): one example per row."""

    examples = "N"

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.arrays = tuple(compiled.arrays)
        self.names = tuple(compiled.inputs)
        self.logits = self.arrays[0]
        self.score = self.logits
        self.targets = tuple(a for a in self.arrays[1:] if self.domains.get(a) in ("simplex", "one_hot", "unit"))
        self.transpose_hint = "the class and example axes are swapped (e.g. a (K, N) layout with examples as columns)"

    def scalars(self) -> tuple:
        return tuple(self.compiled.scalars)

    def logit_inputs(self) -> tuple:
        return (self.logits,)

    def target_names(self) -> tuple:
        return self.targets

    def target_kinds(self) -> tuple:
        if not self.targets:
            return ("",)
        if all(self.domains.get(t) == "one_hot" for t in self.targets):
            return ("one-hot",)
        return ("one-hot", "soft")

    def _dims(self, fixed) -> list:
        dims = [(1, 2), (4, 3), (3, 3), (6, 10)]
        for k, v in fixed.items():
            if isinstance(v, np.ndarray) and k in self.arrays:
                if v.ndim != 2:
                    raise ArgumentError(k, f"a pinned array must have shape (N, K), got {v.shape}")
                dims = [v.shape]
        if self.K is not None:
            dims = [(n, self.K) for n, _ in dims]
        return [dict(N=n, K=k) for n, k in dict.fromkeys(dims)]

    def make(self, rng, dims, logits, scale, targets, dtype) -> tuple:
        N, K = dims["N"], dims["K"]
        inputs = {}
        if logits == "equal":
            z = np.repeat(np.array([0.0, 1e4, -1e4, 2.5, -7.0, 30.0])[np.arange(N) % 6, None], K, axis=1)
        else:
            z = rng.normal(size=(N, K))
            z = z / np.max(np.abs(z), axis=1, keepdims=True) * scale
            if logits == "extreme" and K >= 3:
                z[0, :3] = [1e4, -1e4, 0.0]
        inputs[self.logits] = z.astype(dtype)
        for a in self.arrays[1:]:
            kind = self.domains.get(a, "real")
            if a in self.targets and (targets == "one-hot" or kind == "one_hot"):
                v = np.eye(K)[rng.integers(0, K, size=N)]
            elif kind == "simplex":
                v = rng.dirichlet(np.ones(K), size=N)
            elif kind in ("unit", "positive"):
                v = rng.uniform(0.05, 1.0, size=(N, K))
            else:
                v = rng.normal(size=(N, K))
            inputs[a] = v.astype(dtype)
        return inputs, float(np.max(np.abs(z)))

    def top_score(self, inputs) -> float:
        return float(np.max(np.abs(inputs[self.logits])))

    def class_axes(self, ndim: int) -> tuple:
        return tuple(range(1, ndim))

    def shift(self, inputs, by: int) -> Optional[dict]:
        if not self.targets:
            return None
        out = dict(inputs)
        for t in self.targets:
            out[t] = np.roll(inputs[t], -by, axis=-1)
        return out

    def shift_text(self, by: int) -> str:
        t = self.targets[0]
        return (f"the targets are read one class off: class k uses {t}[k {'+' if by > 0 else '-'} 1] "
                f"(an index slip, e.g. 1-based class indices)")

    def factor_text(self, name: str, case: Case, c: float) -> str:
        N = case.dims["N"]
        texts = {
            "1/N": f"the output is the expected gradient divided by N = {N}, the number of rows, in every failing "
                   f"case: a mean over the batch where the derivation gives each row's gradient (the gradient of "
                   f"the sum over rows): sum against mean",
            "N": f"the output is the expected gradient times N = {N}, the number of rows: a sum over the batch "
                 f"where each row's own gradient is expected: sum against mean",
        }
        return texts.get(name) or _factor_common(name, c, case)

    def show(self, case: Case, index) -> list:
        if index is None:
            return [f"{k}: shape {v.shape}" if isinstance(v, np.ndarray) else f"{k} = {v}"
                    for k, v in case.inputs.items()]
        row = index[0]
        out = []
        for k, v in case.inputs.items():
            if isinstance(v, np.ndarray):
                out.append(f"{k}[{row}] = {np.array2string(v[row], precision=5, max_line_width=10**6)}")
        return out


def _factor_common(name: str, c: float, case: Case) -> str:
    if name == "-1":
        return "the output is minus the expected gradient: the sign is flipped (e.g. y - o for o - y)"
    if name in ("K", "1/K"):
        return (f"wrong by a factor {c:.6g} = {name} with K = {case.dims['K']} classes: a sum over classes taken "
                f"as a mean, or the reverse")
    s = name[2:] if name.startswith("1/") else name
    what = f"an extra division by {s} (or a missing factor {s})" if name.startswith("1/") else \
        f"a missing division by {s} (or an extra factor {s})"
    return f"the output is {name} times the expected gradient ({s} = {case.inputs[s]:g}) in every failing case: {what}"


class _Dataset(_Layout):
    """Softmax regression: g(theta=(K, n+1), x=(m, n), y=(m, K)) -> (K, n+1), summed over the m examples."""

    examples = "m"
    score = "theta . x"

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.names = tuple(compiled.inputs)
        self.transpose_hint = ("the parameter gradient has its class axis last, e.g. X.T @ (H - Y) where "
                               "(H - Y).T @ X is expected")

    def logit_inputs(self) -> tuple:
        return (self.names[0],)

    def _dims(self, fixed) -> list:
        t, x, y = self.names
        dims = [(1, 1, 2), (5, 2, 3), (8, 4, 5)]
        if self.K is not None:
            dims = [(m, n, self.K) for m, n, _ in dims]
        for k, v in fixed.items():
            if v.ndim != 2:
                raise ArgumentError(k, f"a pinned array must be 2-d, got shape {v.shape}")
            if k == t:
                dims = [(m, v.shape[1] - 1, v.shape[0]) for m, _, _ in dims]
            elif k == x:
                dims = [(v.shape[0], v.shape[1], K) for _, _, K in dims]
            elif k == y:
                dims = [(v.shape[0], n, v.shape[1]) for _, n, _ in dims]
        return [dict(m=m, n=n, K=K) for m, n, K in dict.fromkeys(dims)]

    def _params(self, rng, K, cols, logits, scale, X1) -> np.ndarray:
        if logits == "equal":
            W = np.repeat(rng.normal(size=(1, cols)), K, axis=0)
        else:
            W = rng.normal(size=(K, cols))
        s = np.max(np.abs(X1 @ W.T))
        target = 3.0 if logits == "equal" else scale
        return W * (target / s if s > 0 else 1.0)

    def make(self, rng, dims, logits, scale, targets, dtype) -> tuple:
        t, x, y = self.names
        m, n, K = dims["m"], dims["n"], dims["K"]
        X = rng.normal(size=(m, n))
        X1 = np.concatenate([np.ones((m, 1)), X], axis=1)
        theta = self._params(rng, K, n + 1, logits, scale, X1)
        Y = np.eye(K)[rng.integers(0, K, size=m)] if targets == "one-hot" else rng.dirichlet(np.ones(K), size=m)
        inputs = {t: theta.astype(dtype), x: X.astype(dtype), y: Y.astype(dtype)}
        return inputs, self.top_score(inputs)

    def gain(self, inputs) -> float:
        x = np.asarray(inputs[self.names[1]], np.float64)
        return float(max(x.shape[0], np.max(np.sum(np.abs(x), axis=0), initial=0.0)))

    def top_score(self, inputs) -> float:
        t, x, _ = self.names
        X1 = np.concatenate([np.ones((inputs[x].shape[0], 1)), inputs[x]], axis=1)
        return float(np.max(np.abs(X1 @ np.asarray(inputs[t], dtype=np.float64).T)))

    def class_axes(self, ndim: int) -> tuple:
        return (0,)

    def shift(self, inputs, by: int) -> dict:
        y = self.names[2]
        return {**inputs, y: np.roll(inputs[y], -by, axis=-1)}

    def shift_text(self, by: int) -> str:
        return (f"the targets are read one class off: class k uses {self.names[2]}[:, k {'+' if by > 0 else '-'} 1] "
                f"(an index slip, e.g. 1-based class indices)")

    def factor_text(self, name: str, case: Case, c: float) -> str:
        m = case.dims["m"]
        if name == "1/N":
            return (f"the output is the expected gradient divided by m = {m}, the number of examples, in every "
                    f"failing case: a mean over the examples where the derivation sums them: sum against mean")
        if name == "N":
            return (f"the output is the expected gradient times m = {m}, the number of examples: sum against mean")
        return _factor_common(name, c, case)

    def shape_text(self, f: CaseFailure) -> str:
        return f"(K, n+1) = {f.expected.shape}"

    def show(self, case: Case, index) -> list:
        return [f"{k}: shape {v.shape}, " + (f"entries {np.array2string(v.ravel()[:6], precision=4)}"
                                            + ("..." if v.size > 6 else ""))
                for k, v in case.inputs.items()]


class _Labels(_Dataset):
    """Integer labels: g(w=(K, n), x=(m, n), label=(m,)) -> (K, n), summed over the m examples."""

    score = "w . x"

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.transpose_hint = ("the weight gradient has its class axis last, e.g. X.T @ (P - Y) where "
                               "(P - Y).T @ X is expected")

    def target_kinds(self) -> tuple:
        return ("",)

    def _dims(self, fixed) -> list:
        w, x, label = self.names
        dims = [(1, 2, 2), (5, 3, 4), (6, 3, 3), (8, 5, 10)]
        if self.K is not None:
            dims = [(m, n, self.K) for m, n, _ in dims]
        for k, v in fixed.items():
            if k == w:
                dims = [(m, v.shape[1], v.shape[0]) for m, _, _ in dims]
            elif k == x:
                dims = [(v.shape[0], v.shape[1], K) for _, _, K in dims]
            elif k == label:
                dims = [(v.shape[0], n, K) for _, n, K in dims]
        return [dict(m=m, n=n, K=K) for m, n, K in dict.fromkeys(dims)]

    def make(self, rng, dims, logits, scale, targets, dtype) -> tuple:
        w, x, label = self.names
        m, n, K = dims["m"], dims["n"], dims["K"]
        X = rng.normal(size=(m, n))
        W = self._params(rng, K, n, logits, scale, X)
        labels = rng.integers(0, K, size=m)
        labels[0] = K - 1  # the edge classes are where index slips show
        if m > 1:
            labels[1] = 0
        inputs = {w: W.astype(dtype), x: X.astype(dtype), label: labels.astype(np.int64)}
        return inputs, self.top_score(inputs)

    def top_score(self, inputs) -> float:
        w, x, _ = self.names
        return float(np.max(np.abs(np.asarray(inputs[x], np.float64) @ np.asarray(inputs[w], np.float64).T)))

    def shift(self, inputs, by: int) -> dict:
        w, _, label = self.names
        K = inputs[w].shape[0]
        return {**inputs, label: (inputs[label] + by) % K}

    def shift_text(self, by: int) -> str:
        how = "label + 1" if by > 0 else "label - 1 (the labels taken as 1-based)"
        return (f"the labels are read one class off: the one-hot 1 goes to class {how} instead of class label "
                f"(an index slip, off by one class)")

    def shape_text(self, f: CaseFailure) -> str:
        return f"(K, n) = {f.expected.shape}"
