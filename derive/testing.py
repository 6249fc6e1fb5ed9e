"""Check a user's gradient code against a derivation's compiled closed form.

    derive.testing.assert_gradient(my_grad, "softmax_ce")        # raises AssertionError with a diagnosis
    report = derive.testing.check_gradient(my_grad, "softmax_ce")
    assert report.ok, report

``fn`` takes the keyword arguments of the derivation's compiled function
(``fn(z=Z, y=Y)``, ``fn(theta=..., x=..., y=...)``, ``fn(w=..., x=..., label=...)``)
and returns an array of the same shape; for mlp_backprop,
``fn(weights=[W2..WL], biases=[b2..bL], x=X, y=Y)`` returns the pair
``(grads_W, grads_b)`` of per-layer lists, each output compared on its own. It
is called on a battery of generated inputs (several K and batch sizes, or layer
sizes and batches of one and more; float32 and float64, logits or weighted
inputs from |z| ~ 1e-3 to |z| = 1e4, saturating sigmoids, equal logits,
one-hot and soft targets, integer labels) and compared with the compiled closed
form entry by entry:

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
from typing import Any, Callable, Optional, Union

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
    kind: str  # 'mismatch', 'non-finite', 'shape', 'raised', 'structure'
    expected: np.ndarray
    actual: Optional[np.ndarray] = None
    index: Optional[tuple] = None
    got: float = float("nan")
    want: float = float("nan")
    allowed: float = 0.0
    error: str = ""
    tolerance: tuple = ()
    output: str = ""  # which output, for a derivation with several (mlp_backprop's "grads_W[1]"); "" for one array
    outputs: dict = field(default_factory=dict, repr=False)  # output name -> (actual, expected, status)
    returned: Any = field(default=None, repr=False)  # what fn returned, when it is not the expected structure

    @property
    def inputs(self) -> dict:
        """The inputs that broke fn, to reproduce it: fn(**failure.inputs)."""
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.case.inputs.items()}

    def summary(self, layout: "_Layout") -> str:
        lines = [f"case {self.case.describe()}"]
        what = layout.output_text(self.output) if self.output else ""
        if self.kind == "raised":
            lines.append(f"  fn raised {self.error}")
        elif self.kind == "structure":
            lines.append(f"  fn returned {self.error}")
        elif self.kind == "shape":
            named = f"{self.output} ({what}) with " if self.output else ""
            lines.append(f"  fn returned {named}shape {self.actual.shape}, expected {self.expected.shape}")
        else:
            idx = list(self.index)
            lines.append(f"  worst entry {self.output}{idx}{' (' + what + ')' if what else ''}: got {self.got:.10g}, "
                         f"expected {self.want:.10g} (|difference| {abs(self.got - self.want):.3g}, "
                         f"allowed {self.allowed:.3g})")
        if self.outputs:
            lines.append("  " + layout.outputs_text(self.outputs))
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
                out.append("likely cause: not recognised (not " + (self.layout.unrecognised if self.layout else
                           _Layout.unrecognised) + "); compare the values below")
            out.append("first failing " + self.failure.summary(self.layout))
            out.append("reproduce: fn(**report.failure.inputs) (GradientMismatch.report is the report)")
        out += [f"note: {n}" for n in self.notes]
        out.append("tolerance: |got - expected| <= atol * max(1, max|expected|) + rtol * |expected| "
                   "+ 8 eps max|score| (input rounding); "
                   + "; ".join(f"{k} rtol {r:g}, atol {a:g}" for k, (r, a) in TOLERANCES.items())
                   + " (torch.testing.assert_close defaults)")
        return "\n".join(out)


# -- the entry points ----------------------------------------------------------------

def check_gradient(fn: Callable, derivation: Union[Derivation, str], *, framework: str = "auto", seed: int = 0,
                   **fixed: Any) -> GradientReport:
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
    caller = _Caller(fn, framework, layout.convert)
    failures, notes = [], []
    skipped = []
    for case in cases:
        try:
            expected = compiled(**case.inputs)
        except ArgumentError as error:  # the closed form itself overflows there (a pinned input, or a singularity)
            skipped.append((case, error))
            continue
        failure = layout.compare(caller, case, expected, notes)
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


def assert_gradient(fn: Callable, derivation: Union[Derivation, str], *, framework: str = "auto", seed: int = 0,
                    **fixed: Any) -> GradientReport:
    """check_gradient, raising GradientMismatch (an AssertionError) with the report's text when fn disagrees."""
    report = check_gradient(fn, derivation, framework=framework, seed=seed, **fixed)
    if not report.ok:
        raise GradientMismatch(report)
    return report


def _derivation(derivation: Union[Derivation, str]) -> Derivation:
    if isinstance(derivation, Derivation):
        return derivation
    if isinstance(derivation, str):
        from .catalogue import entry
        return entry(derivation)()
    raise ArgumentTypeError("derivation", f"must be a Derivation or a catalogue name, got {type(derivation).__name__}")


# -- calling fn in its framework ------------------------------------------------------

class _Caller:
    """Calls fn with NumPy, torch or jax inputs and returns NumPy; with 'auto' the first framework that works."""

    def __init__(self, fn: Callable, framework: str, convert: Optional[Callable] = None) -> None:
        self.fn = fn
        self.framework = None if framework == "auto" else framework
        self.convert = convert or _to_numpy  # fn's output -> NumPy (an array, or the layout's structure)

    def __call__(self, inputs: dict):
        if self.framework is not None:
            return self.convert(self._call(self.framework, inputs))
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
            return self.convert(out)
        raise _Raised("; ".join(errors))

    def _call(self, framework: str, inputs: dict):
        if framework == "torch":
            import torch
            to = torch.from_numpy
        elif framework == "jax":
            import jax.numpy as jnp
            to = jnp.asarray
        else:
            to = np.copy  # fn may write into its arguments
        args = {k: _map_arrays(to, v) for k, v in inputs.items()}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a naive softmax is what we report
            return self.fn(**args)


def _map_arrays(to: Callable, value):
    """``to`` applied to each array in ``value`` (an array, or a list of arrays such as mlp_backprop's weights)."""
    if isinstance(value, np.ndarray):
        return to(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_arrays(to, v) for v in value)
    return value


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
                      f"sum(exp(s - max(s))) over each row's scores s (or use a log-sum-exp){layout.overflow_hint}")
    elif nonfinite:
        causes.append(f"non-finite output (inf or nan) even at moderate |{layout.score}|, first in "
                      f"{nonfinite[0].case.describe()}: a division by zero or a log of zero")
    wrong = [f for f in failures if f.kind in ("mismatch", "shape", "structure")]
    if wrong and all(_large(f.case) for f in wrong) and not nonfinite:
        causes.append(f"wrong only at large |{layout.score}| (at least {min(f.case.scale for f in wrong):.3g}): a "
                      f"loss of precision, e.g. log(softmax(s)) where log-softmax s - logsumexp(s) is needed")
    ordinary = [f for f in wrong if not _large(f.case)]
    if ordinary:
        for check in layout.checks():
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
    kinds = {"per_example": _PerExample, "dataset": _Dataset, "labels": _Labels, "network": _Network}
    if d.interface not in kinds:
        raise ArgumentError("derivation", f"derive.testing checks per-example, dataset, labels and network "
                                          f"derivations; {d.name} has the {d.interface!r} interface")
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
    overflow_hint = ""
    unrecognised = "a constant factor, a transpose, a one-class slip or an overflow"  # the slips checked for

    @staticmethod
    def convert(out) -> np.ndarray:
        return _to_numpy(out)

    def compare(self, caller: _Caller, case: Case, expected, notes: list) -> Optional[CaseFailure]:
        return _compare(caller, case, expected, notes)

    def checks(self) -> tuple:
        """The likely-cause checks tried, in order, on the failures not explained by large logits."""
        return (_transposed, _factor, _shifted, _one_class)

    def output_text(self, output: str) -> str:
        return ""

    def outputs_text(self, outputs: dict) -> str:
        return ""

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


# -- backpropagation through an MLP ------------------------------------------------------------

class _Structure(Exception):
    """fn's output is not the structure the closed form returns (the message says what it is)."""

    def __init__(self, out) -> None:
        self.out = out
        super().__init__(_describe_output(out))


def _array_like(v) -> bool:
    return isinstance(v, np.ndarray) or (hasattr(v, "shape") and hasattr(v, "dtype"))


def _describe_output(out) -> str:
    if _array_like(out):
        return f"an array of shape {tuple(out.shape)}"
    if isinstance(out, (list, tuple)):
        inner = ", ".join("an array of shape " + str(tuple(v.shape)) if _array_like(v)
                          else (f"a {type(v).__name__} of {len(v)}" if isinstance(v, (list, tuple))
                                else type(v).__name__) for v in out[:4])
        return f"a {type(out).__name__} of {len(out)} ({inner}{', ...' if len(out) > 4 else ''})"
    return f"a {type(out).__name__}"


class _Network(_Layout):
    """Backpropagation: g(weights=[W2..WL], biases=[b2..bL], x=(N, n1), y=(N, nL)) -> (grads_W, grads_b),
    the gradients of the mean cost over the N rows; W^l has shape (n_l, n_(l-1)) and z^l = W^l a^(l-1) + b^l."""

    examples = "N"
    score = "z"
    overflow_hint = (" (or, in a hidden layer, a sigmoid written as exp(z) / (1 + exp(z)); 1 / (1 + exp(-z)) "
                     "is safe)")
    unrecognised = ("a single slip: a constant factor such as N, a transposed weight gradient, a missing or extra "
                    "sigma', a missing or unaveraged bias gradient, a wrong output structure or an overflow; "
                    "two slips at once are not told apart")
    # (layer sizes [n1, ..., nL], N): one and two hidden layers, a square weight matrix (3 x 3) so that a
    # transposed weight gradient keeps its shape, and a batch of one
    DIMS = (((3, 4, 2), 1), ((3, 4, 2), 6), ((5, 3, 3, 4), 4), ((4, 3, 3), 3))
    # (name, hidden |z|, output |z|): the weighted inputs z^l = W^l a^(l-1) + b^l of every layer are scaled to these
    LEVELS = (("small", 1e-3, 1e-3), ("moderate", 3.0, 3.0), ("saturating", 30.0, 3.0), ("large", 100.0, 100.0),
              ("extreme", 1e4, 1e4), ("equal", 3.0, None))

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.names = tuple(compiled.inputs)  # ('weights', 'biases', 'x', 'y')
        self.transpose_hint = ("the weight gradient laid out (n_(l-1), n_l), e.g. a_prev.T @ delta where "
                               "delta.T @ a_prev is expected: W^l has a row per unit of layer l (z = a_prev @ W.T + b)")

    # -- fn's output ---------------------------------------------------------------------------

    @staticmethod
    def convert(out):
        """fn's output as (grads_W, grads_b), two lists of NumPy arrays, or _Structure saying what it is."""
        if not isinstance(out, (list, tuple)) or len(out) != 2 or not all(isinstance(v, (list, tuple)) for v in out):
            raise _Structure(out)
        return tuple([_to_numpy(v) for v in part] for part in out)

    @staticmethod
    def parts(out) -> list:
        gW, gb = out
        return [(f"grads_W[{n}]", g) for n, g in enumerate(gW)] + [(f"grads_b[{n}]", g) for n, g in enumerate(gb)]

    def output_text(self, output: str) -> str:
        n = int(output[output.index("[") + 1:-1])
        if output.startswith("grads_W"):
            return f"dC/dW^{n + 2}, the weights into layer {n + 2}"
        return f"dC/db^{n + 2}, the biases of layer {n + 2}"

    def outputs_text(self, outputs: dict) -> str:
        wrong = [k for k, (_, _, s) in outputs.items() if s != "ok"]
        right = [k for k, (_, _, s) in outputs.items() if s == "ok"]
        return f"wrong: {', '.join(wrong)}" + (f"; right: {', '.join(right)}" if right else "; right: none")

    def _structure_text(self, got: str, case: Case) -> str:
        L = len(case.dims["sizes"]) - 1
        return (f"{got}, where a pair (grads_W, grads_b) of two lists of {L} arrays each (one per layer) is "
                f"expected")

    def compare(self, caller: _Caller, case: Case, expected, notes: list) -> Optional[CaseFailure]:
        want = self.parts(expected)
        first = want[0][1]
        try:
            got = caller(case.inputs)
        except _Structure as exc:
            return CaseFailure(case, "structure", first, error=self._structure_text(str(exc), case), returned=exc.out)
        except _Raised as exc:
            return CaseFailure(case, "raised", first, error=str(exc))
        except Exception as exc:
            return CaseFailure(case, "raised", first, error=f"{type(exc).__name__}: {exc}")
        gW, gb = got
        if len(gW) != len(expected[0]) or len(gb) != len(expected[1]):
            text = f"a pair of lists of {len(gW)} and {len(gb)} arrays"
            return CaseFailure(case, "structure", first, error=self._structure_text(text, case), returned=got)
        outputs, failures = {}, []  # failures: (CaseFailure, how far past its bound)
        for (name, E), (_, A) in zip(want, self.parts(got)):
            status = "ok"
            if A.shape != E.shape:
                status = "shape"
                failures.append((CaseFailure(case, "shape", E, A, output=name), np.inf))
            else:
                tname, rtol, atol = _tolerance(case.dtype, A.dtype)
                if tname != case.dtype and not any("lower precision" in n for n in notes):
                    notes.append(f"fn returned {A.dtype} for {case.dtype} inputs (JAX without jax_enable_x64?): "
                                 f"compared with the {tname} tolerance, the lower precision")
                bad, ratio, bound = _violations(A, E, rtol, atol, _allowance(case, tname))
                if bad.any():
                    status = "non-finite" if not np.all(np.isfinite(A)) else "mismatch"
                    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
                    failures.append((CaseFailure(case, status, E, A, worst, float(A[worst]), float(E[worst]),
                                                 float(bound[worst]), tolerance=(tname, rtol, atol), output=name),
                                     float(ratio[worst])))
            outputs[name] = (A, E, status)
        if not failures:
            return None
        # the one shown: a wrong shape first, then inf or nan, then the largest violation
        order = {"shape": 0, "non-finite": 1, "mismatch": 2}
        shown = min(failures, key=lambda fr: (order[fr[0].kind], -fr[1]))[0]
        shown.outputs = outputs
        return shown

    # -- the battery ---------------------------------------------------------------------------

    def battery(self, rng, fixed: dict) -> list:
        fixed = {k: self._pinned(k, v) for k, v in fixed.items()}
        dims = self._dims(fixed)
        levels = self.LEVELS
        if "weights" in fixed:
            levels = (("pinned", None, None),)  # the weighted inputs follow from the given weights
        elif "biases" in fixed:
            levels = tuple(v for v in levels if v[2] is not None)  # equal output scores need equal biases
        cases, n = [], 0
        for dtype in ("float64", "float32"):
            for sizes, N in dims:
                for level, hidden, output in levels:
                    inputs = self.make(rng, sizes, N, hidden, output, fixed)
                    inputs = {k: _map_arrays(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a, v)
                              for k, v in inputs.items()}
                    scores = self.scores(inputs)
                    top = max(float(np.max(np.abs(z))) for z in scores)
                    n += 1
                    cases.append(Case(n, dtype, self.label(level, scores), inputs, dict(sizes=list(sizes), N=N),
                                      top, self.gain(inputs)))
        if fixed:  # pinned inputs that do not fit together: an error naming them, not a battery of skipped cases
            self.compiled(**cases[0].inputs)
        return cases

    def _pinned(self, name: str, value):
        if type(value).__module__.split(".")[0] in ("torch", "jax", "jaxlib"):
            value = _to_numpy(value)
        if name in ("weights", "biases"):
            if not isinstance(value, (list, tuple)) or not value:
                raise ArgumentTypeError(name, f"a pinned {name} must be a non-empty list of arrays, one per layer")
            value = [_to_numpy(v) for v in value]
            ndim = 2 if name == "weights" else 1
            for i, v in enumerate(value):
                if v.ndim != ndim:
                    raise ArgumentError(f"{name}[{i}]", f"must be {ndim}-d, got shape {v.shape}")
            return value
        value = _to_numpy(value)
        if value.ndim != 2:
            raise ArgumentError(name, f"a pinned {name} must have shape (N, n), got {value.shape}")
        return value

    @staticmethod
    def _fits(fixed: dict) -> None:
        """Pinned inputs must fit together; an error names the first that does not."""
        W, b, x, y = (fixed.get(k) for k in ("weights", "biases", "x", "y"))
        widths = [w.shape[0] for w in W] if W is not None else ([v.shape[0] for v in b] if b is not None else None)
        if W is not None:
            for n in range(1, len(W)):
                if W[n].shape[1] != W[n - 1].shape[0]:
                    raise ArgumentError(f"weights[{n}]", f"must have {W[n - 1].shape[0]} columns (the previous "
                                                         f"layer's width), got shape {W[n].shape}")
            if b is not None and [v.shape[0] for v in b] != widths:
                raise ArgumentError("biases", f"must be {len(W)} vectors of lengths {widths} to match the weights, "
                                              f"got shapes {[v.shape for v in b]}")
        if x is not None and W is not None and x.shape[1] != W[0].shape[1]:
            raise ArgumentError("x", f"must have {W[0].shape[1]} columns (the first layer's width), got {x.shape}")
        if y is not None:
            if widths is not None and y.shape[1] != widths[-1]:
                raise ArgumentError("y", f"must have {widths[-1]} columns (the output layer's width), got {y.shape}")
            if x is not None and y.shape[0] != x.shape[0]:
                raise ArgumentError("y", f"must have a row per row of x ({x.shape[0]}), got {y.shape}")

    def _dims(self, fixed: dict) -> list:
        self._fits(fixed)
        dims = [(list(s), N) for s, N in self.DIMS]
        if "weights" in fixed:
            W = fixed["weights"]
            dims = [([W[0].shape[1]] + [w.shape[0] for w in W], N) for _, N in dims]
        elif "biases" in fixed:
            b = fixed["biases"]
            dims = [([s[0]] + [v.shape[0] for v in b], N) for s, N in dims]
        if "x" in fixed:
            dims = [([fixed["x"].shape[1]] + s[1:], fixed["x"].shape[0]) for s, _ in dims]
        if "y" in fixed:
            dims = [(s[:-1] + [fixed["y"].shape[1]], fixed["y"].shape[0]) for s, _ in dims]
        out = []
        for s, N in dims:
            if (tuple(s), N) not in [(tuple(a), b) for a, b in out]:
                out.append((s, N))
        return [(tuple(s), N) for s, N in out]

    def make(self, rng, sizes, N, hidden, output, fixed) -> dict:
        """Inputs with each layer's weighted inputs scaled to |z| up to ``hidden`` (``output`` at the softmax;
        None: equal scores in each row), computed forwards in float64."""
        x = fixed["x"].astype(np.float64) if "x" in fixed else rng.normal(size=(N, sizes[0]))
        weights, biases = [], []
        a = x
        L = len(sizes) - 1
        for n in range(L):
            last = n == L - 1
            target = output if last else hidden
            W = rng.normal(size=(sizes[n + 1], sizes[n]))
            b = rng.normal(size=sizes[n + 1])
            if last and target is None:  # every unit of the softmax gets the same score
                W, b = np.repeat(W[:1], sizes[n + 1], axis=0), np.full(sizes[n + 1], b[0])
                target = 3.0
            if "weights" in fixed:
                W = fixed["weights"][n].astype(np.float64)
            if "biases" in fixed:
                b = fixed["biases"][n].astype(np.float64)
            z = a @ W.T + b
            if target is not None and "weights" not in fixed:
                s = float(np.max(np.abs(z)))
                scale = target / s if s > 0 else 1.0
                W = W * scale
                if "biases" not in fixed:
                    b = b * scale
                z = a @ W.T + b
            weights.append(W)
            biases.append(b)
            a = _stable_softmax(z) if last else _sigmoid(z)
        labels = rng.integers(0, sizes[-1], size=N)
        labels[0] = sizes[-1] - 1  # the edge classes
        if N > 1:
            labels[1] = 0
        y = np.asarray(fixed["y"], np.float64) if "y" in fixed else np.eye(sizes[-1])[labels]
        return {"weights": weights, "biases": biases, "x": x, "y": y}

    @staticmethod
    def scores(inputs) -> list:
        """Each layer's weighted inputs z^l, in float64."""
        out, a = [], np.asarray(inputs["x"], np.float64)
        W = inputs["weights"]
        for n, (w, b) in enumerate(zip(W, inputs["biases"])):
            z = a @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
            out.append(z)
            a = _stable_softmax(z) if n == len(W) - 1 else _sigmoid(z)
        return out

    def gain(self, inputs) -> float:
        return 1.0

    @staticmethod
    def label(level: str, scores: list) -> str:
        hidden = max((float(np.max(np.abs(z))) for z in scores[:-1]), default=0.0)
        output = float(np.max(np.abs(scores[-1])))
        text = {"small": "small", "moderate": "moderate", "saturating": "saturating sigmoids,",
                "large": "large", "extreme": "extreme", "equal": "equal output scores in each row,",
                "pinned": "the given"}[level]
        if len(scores) == 1:
            return f"{text} |z| up to {output:.3g} (no hidden layer)"
        return f"{text} |z| up to {hidden:.3g} in the hidden layers, {output:.3g} at the output"

    def coverage(self, cases) -> str:
        sizes = list(dict.fromkeys(str(c.dims["sizes"]) for c in cases))
        Ns = sorted({c.dims["N"] for c in cases})
        dtypes = sorted({c.dtype for c in cases})
        return (f"{' and '.join(dtypes)}, layer sizes {', '.join(sizes)}, N in {Ns}, |z| from "
                f"{min(c.scale for c in cases if c.scale > 0):.2g} to {max(c.scale for c in cases):.2g}, "
                f"saturating sigmoids, equal output scores, one-hot targets")

    def show(self, case: Case, index) -> list:
        x, y = case.inputs["x"], case.inputs["y"]
        scores = self.scores(case.inputs)
        zs = ", ".join(f"layer {n + 2} {float(np.max(np.abs(z))):.3g}" for n, z in enumerate(scores))
        return [f"layer sizes {case.dims['sizes']}: weights shapes {[tuple(w.shape) for w in case.inputs['weights']]}, "
                f"x {x.shape}, y {y.shape} (one-hot, classes {np.argmax(y, axis=1).tolist()[:12]})",
                f"max |z| per layer: {zs}"]

    # -- the likely cause ----------------------------------------------------------------------

    def checks(self) -> tuple:
        return (_net_structure, _net_reversed, _net_transposed, _net_factor, _net_bias, _net_sigmoid_prime)

    def factors(self, case: Case) -> list:
        N = case.dims["N"]
        return [("N", float(N)), ("1/N", 1.0 / N), ("-1", -1.0)] if N > 1 else [("-1", -1.0)]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def _stable_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _backprop(inputs: dict, *, skip_prime: frozenset = frozenset(), prime_of_a: bool = False,
              output_prime: bool = False) -> tuple:
    """A plain NumPy backpropagation in float64, with one slip switched on, to name what a wrong fn did:
    ``skip_prime`` the hidden layers (numbered 2..L-1) whose sigma'(z^l) factor is left out of BP2,
    ``prime_of_a`` sigma'(a^l) for sigma'(z^l), ``output_prime`` an extra a^L (1 - a^L) in BP1."""
    Ws = [np.asarray(w, np.float64) for w in inputs["weights"]]
    bs = [np.asarray(b, np.float64) for b in inputs["biases"]]
    x, y = np.asarray(inputs["x"], np.float64), np.asarray(inputs["y"], np.float64)
    acts = [x]
    for n, (W, b) in enumerate(zip(Ws, bs)):
        z = acts[-1] @ W.T + b
        acts.append(_stable_softmax(z) if n == len(Ws) - 1 else _sigmoid(z))
    delta = acts[-1] - y
    if output_prime:
        delta = delta * acts[-1] * (1 - acts[-1])
    N = x.shape[0]
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for n in range(len(Ws) - 1, -1, -1):
        gW[n] = delta.T @ acts[n] / N
        gb[n] = delta.sum(axis=0) / N
        if n:
            a = acts[n]  # the activations of layer n + 1
            prime = _sigmoid(a) * (1 - _sigmoid(a)) if prime_of_a else a * (1 - a)
            delta = delta @ Ws[n] * (1.0 if n + 1 in skip_prime else prime)
    return gW, gb


def _layers(outputs) -> list:
    return sorted({int(k[k.index("[") + 1:-1]) + 2 for k, (_, _, s) in outputs.items() if s != "ok"})


def _layer_list(layers) -> str:
    layers = list(layers)
    if len(layers) == 1:
        return f"layer {layers[0]}"
    return "layers " + ", ".join(map(str, layers[:-1])) + f" and {layers[-1]}"


def _net_structure(failures, compiled, layout) -> Optional[str]:
    """A wrong container: only the weight gradients, a flat list, lists of the wrong length."""
    structure = [f for f in failures if f.kind == "structure"]
    if not structure:
        return None
    f = structure[0]
    sizes = f.case.dims["sizes"]
    L = len(sizes) - 1
    got = f.returned
    w_shapes = [(sizes[n + 1], sizes[n]) for n in range(L)]
    b_shapes = [(sizes[n + 1],) for n in range(L)]
    if isinstance(got, (list, tuple)) and len(got) == L and all(_array_like(v) for v in got):
        shapes = [tuple(v.shape) for v in got]
        if all(s in (w, w[::-1]) for s, w in zip(shapes, w_shapes)):
            return (f"the bias gradients are missing: fn returned only the {L} weight gradients (shapes {shapes}) "
                    f"where the pair (grads_W, grads_b) is expected; return grads_W, grads_b with "
                    f"grads_b[l] = the mean over the batch of delta^l (BP3)")
    if isinstance(got, (list, tuple)) and len(got) == 2 and isinstance(got[0], (list, tuple)) and (
            got[1] is None or (isinstance(got[1], (list, tuple)) and len(got[1]) < L)):
        return ("the bias gradients are missing (grads_b is None or too short): return grads_b with one vector "
                "per layer, grads_b[l] = the mean over the batch of delta^l (BP3)")
    if isinstance(got, (list, tuple)) and len(got) == 2 * L and all(_array_like(v) for v in got):
        return (f"fn returned one flat list of {2 * L} arrays; return two lists, (grads_W, grads_b), as the closed "
                f"form does (shapes {w_shapes} and {b_shapes})")
    return (f"fn's output is not the structure of the closed form: {f.error} (shapes {w_shapes} and {b_shapes})")


def _net_reversed(failures, compiled, layout) -> Optional[str]:
    """The per-layer lists in reverse order (appended in the backward loop and never reversed)."""
    for f in failures:
        if not f.outputs:
            return None
        for prefix in ("grads_W", "grads_b"):
            pairs = [(A, E) for k, (A, E, _) in f.outputs.items() if k.startswith(prefix)]
            got, want = [A for A, _ in pairs][::-1], [E for _, E in pairs]
            if not all(A.shape == E.shape and _close(A, E, f.case) for A, E in zip(got, want)):
                return None
    return ("the layers are in reverse order: grads_W[0] and grads_b[0] hold the output layer's gradients; "
            "the closed form lists them from the first layer (W2, b2) to the output layer (WL, bL), like "
            "weights and biases: reverse the lists built in the backward pass (or insert at the front)")


def _net_transposed(failures, compiled, layout) -> Optional[str]:
    """Every wrong output is a weight gradient equal to the expected one transposed."""
    layers = set()
    for f in failures:
        if not f.outputs:
            return None
        for name, (A, E, status) in f.outputs.items():
            if status == "ok":
                continue
            if not name.startswith("grads_W") or not (A.shape == E.T.shape and _close(A, E.T, f.case)):
                return None
            layers.add(int(name[name.index("[") + 1:-1]) + 2)
    if not layers:
        return None
    which = sorted(layers)
    return (f"transposed weight gradient: grads_W for {_layer_list(which)} is the expected dC/dW^l transposed "
            f"(in shape, or in values where W^l is square), the bias gradients match; {layout.transpose_hint}")


def _net_factor(failures, compiled, layout) -> Optional[str]:
    """Every output off by one constant: N (a sum over the batch for the mean), 1/N, -1."""
    readings, explained = None, []
    for f in failures:
        if not f.outputs or any(A.shape != E.shape or not np.all(np.isfinite(A)) for A, E, _ in f.outputs.values()):
            return None
        E = np.concatenate([e.ravel() for _, e, _ in f.outputs.values()]).astype(np.float64)
        A = np.concatenate([a.ravel() for a, _, _ in f.outputs.values()]).astype(np.float64)
        denom = float(E @ E)
        if denom == 0:
            return None
        c = float(A @ E) / denom
        if not all(_close(a, (c * e).astype(a.dtype), f.case, slack=100.0) for a, e, _ in f.outputs.values()):
            return None
        names = {name for name, v in layout.factors(f.case) if abs(c - v) <= 1e-3 * abs(v)}
        readings = names if readings is None else readings & names
        explained.append((f, c))
    f, c = explained[0]
    N = f.case.dims["N"]
    if readings == {"N"}:
        return (f"every gradient is the expected one times N = {N}, the number of rows, in every failing case: a sum "
                f"over the batch where the cost is the mean over the N examples (BP3 and BP4 average delta^l and "
                f"delta^l a^(l-1) over the rows): sum against mean; divide by N")
    if readings == {"1/N"}:
        return (f"every gradient is the expected one divided by N = {N}, the number of rows: the mean over the "
                f"batch taken twice (e.g. dividing delta^L by N and the weight gradients again): sum against mean")
    if readings == {"-1"}:
        return "every gradient is minus the expected one: the sign is flipped (e.g. y - a^L for a^L - y in BP1)"
    cs = [c for _, c in explained]
    if abs(c - 1) > 1e-3 and max(cs) - min(cs) <= 1e-3 * max(abs(x) for x in cs):
        return f"wrong by a constant factor {c:.6g} in every failing case: a scale factor is missing or extra"
    return None


def _net_sigmoid_prime(failures, compiled, layout) -> Optional[str]:
    """fn's outputs are those of backpropagation with the sigmoid derivative left out (in every hidden layer or
    in one), taken at a^l instead of z^l, or added at the softmax output."""
    def matches(f, **slip) -> bool:
        want = layout.parts(_backprop(f.case.inputs, **slip))
        return all(A.shape == E.shape and _close(A, E.astype(A.dtype), f.case)
                   for (A, _, _), (_, E) in zip(f.outputs.values(), want))

    if not all(f.outputs for f in failures):
        return None
    options = []  # per failing case: (the sets of hidden layers whose missing sigma' explains it, all hidden layers)
    for f in failures:
        hidden = list(range(2, len(f.case.dims["sizes"])))
        sets = [set(s) for s in dict.fromkeys([tuple(hidden)] + [(l,) for l in hidden])
                if s and matches(f, skip_prime=frozenset(s))]
        if not sets:
            break
        options.append((sets, hidden))
    else:  # the one reading that explains every case (a small |z| in float32 may not tell two apart)
        if all(set(hidden) in sets for sets, hidden in options):
            where = "in every hidden layer"
        elif all({hidden[-1]} in sets for sets, hidden in options):
            where = "in the last hidden layer only (the first step of BP2)"
        elif all({2} in sets for sets, _ in options):
            where = "in the first hidden layer (layer 2) only"
        else:
            where = "at " + _layer_list(sorted(set().union(*(sets[0] for sets, _ in options))))
        layers = sorted({l for f in failures for l in _layers(f.outputs)})
        return (f"the gradients of {_layer_list(layers)} are off by the sigmoid derivative factor: they match BP2 "
                f"without sigma'(z^l) = a^l (1 - a^l) {where}: a missing sigma'(z); BP2 is delta^l = "
                f"((W^(l+1))^T delta^(l+1)) * a^l (1 - a^l)")
    if all(len(f.case.dims["sizes"]) > 2 and matches(f, prime_of_a=True) for f in failures):
        return ("the hidden layers' gradients use sigma'(a^l) = sigma(a^l) (1 - sigma(a^l)) where sigma'(z^l) = "
                "a^l (1 - a^l) is meant: the sigmoid applied twice")
    if all(matches(f, output_prime=True) for f in failures):
        return ("an extra factor a^L (1 - a^L) at the softmax output: with the cross-entropy cost, BP1 is "
                "delta^L = a^L - y, which already includes the softmax's derivative (the sigmoid-and-squared-error "
                "form (a^L - y) * sigma'(z^L) does not apply)")
    return None


def _net_bias(failures, compiled, layout) -> Optional[str]:
    """Only bias gradients wrong: zero (never computed), per-example (not averaged), a kept axis."""
    kinds = set()
    for f in failures:
        if not f.outputs:
            return None
        N = f.case.dims["N"]
        for name, (A, E, status) in f.outputs.items():
            if status == "ok":
                continue
            if not name.startswith("grads_b"):
                return None
            if A.shape == E.shape and not np.any(A):
                kinds.add("zero")
            elif A.shape == (N,) + E.shape:
                kinds.add("rows")
            elif A.size == E.size and A.shape != E.shape:
                kinds.add("axis")
            else:
                kinds.add("other")
    if kinds == {"zero"}:
        return ("the bias gradients are zero where they should not be, the weight gradients match: the bias "
                "gradient is never computed (BP3: dC/db^l = the mean over the batch of delta^l)")
    if kinds == {"rows"}:
        return ("the bias gradients have one row per example, shape (N, n_l): delta^l itself, not averaged over "
                "the batch (BP3: dC/db^l = delta^l.mean(axis=0))")
    if kinds == {"axis"}:
        return ("the bias gradients have the right entries in the wrong shape, e.g. (n_l, 1) or (1, n_l) where "
                "(n_l,) is expected: a kept axis (keepdims=True, or a column vector); return a 1-d array")
    if kinds == {"other"}:
        return "only the bias gradients are wrong, the weight gradients match: check BP3, dC/db^l = mean of delta^l"
    return None
