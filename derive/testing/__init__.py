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

import math
import time
from typing import Any, Callable, Optional, Union

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..model import Derivation
from .case import Case
from .dataset import _Dataset, _Labels
from .diagnosis import _diagnose
from .frameworks import FRAMEWORKS, _Caller
from .layout import _Layout
from .network import _Network
from .per_example import _PerExample
from .report import CaseFailure, GradientMismatch, GradientReport
from .tolerance import TOLERANCES

__all__ = ["assert_gradient", "check_gradient", "GradientReport", "CaseFailure", "Case", "GradientMismatch",
           "TOLERANCES"]


TIMEOUT_FACTOR = 1000  # the default bound on one call of fn: this many times the closed form's time on the case,
TIMEOUT_FLOOR = 10.0  # and never less than this many seconds (a first call may compile, as JAX's jit does)


def _timed(compiled: Callable, inputs: dict) -> tuple:
    """The closed form's value on one case and its time, the best of three calls: a first call's one-time
    costs (imports, caches) are not the closed form's time."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        value = compiled(**inputs)
        best = min(best, time.perf_counter() - start)
    return value, best


def check_gradient(fn: Callable, derivation: Union[Derivation, str], *, framework: str = "auto", seed: int = 0,
                   timeout: Optional[float] = None, **fixed: Any) -> GradientReport:
    """Compare ``fn`` with the closed form of ``derivation`` (a Derivation or a catalogue name) on a battery
    of generated inputs; ``fixed`` pins inputs (T=2.0). Returns a GradientReport; never raises on a mismatch.

    ``timeout`` bounds each call of fn, in seconds; by default 1000 times the closed form's time on the
    same case and at least 10 s. A call that does not return in time, or that writes into its input
    arrays, fails the report; after a timeout fn is not called again.
    """
    if not callable(fn):
        raise ArgumentTypeError("fn", f"must be a function, got {type(fn).__name__}")
    if framework not in FRAMEWORKS:
        raise ArgumentError("framework", f"must be one of {', '.join(FRAMEWORKS)}, got {framework!r}")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise ArgumentTypeError("timeout", f"must be a number of seconds or None, got {type(timeout).__name__}")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ArgumentError("timeout", f"must be a positive, finite number of seconds, got {timeout!r}")
    d = _derivation(derivation)
    compiled = d.compile()
    layout = _layout(d, compiled)
    for key in fixed:
        if key not in layout.names:
            raise ArgumentError(key, f"unknown input; {d.name} takes {', '.join(layout.names)}")
    cases = layout.battery(np.random.default_rng(seed), fixed)
    caller = _Caller(fn, framework, layout.convert)
    failures: list = []
    notes: list = []
    skipped = []
    for number, case in enumerate(cases):
        try:
            expected, reference = _timed(compiled, case.inputs)
        except ArgumentError as error:  # the closed form itself overflows there (a pinned input, or a singularity)
            skipped.append((case, error))
            continue
        caller.limit = timeout if timeout is not None else max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * reference)
        failure = layout.compare(caller, case, expected, notes)
        if failure is not None:
            failures.append(failure)
            if failure.kind == "timeout":  # its call goes on in the background: fn is called no more
                rest = len(cases) - number - 1
                if rest:
                    notes.append(f"stopped after the call that timed out: {rest} of {len(cases)} cases not run")
                cases = cases[:number + 1]
                break
    if skipped:
        notes.append(f"{len(skipped)} of {len(cases)} cases skipped: the closed form cannot be evaluated there, "
                     f"first {skipped[0][0].describe()}: {skipped[0][1]}")
        cases = [c for c in cases if all(c is not s for s, _ in skipped)]
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    report = GradientReport(d.name, name, caller.framework or framework, cases, failures, notes=notes, layout=layout)
    report.causes = _diagnose(report, compiled, caller, layout)
    return report


def assert_gradient(fn: Callable, derivation: Union[Derivation, str], *, framework: str = "auto", seed: int = 0,
                    timeout: Optional[float] = None, **fixed: Any) -> GradientReport:
    """check_gradient, raising GradientMismatch (an AssertionError) with the report's text when fn disagrees
    (or hangs past ``timeout``, or writes into its inputs)."""
    report = check_gradient(fn, derivation, framework=framework, seed=seed, timeout=timeout, **fixed)
    if not report.ok:
        raise GradientMismatch(report)
    return report


def _derivation(derivation: Union[Derivation, str]) -> Derivation:
    if isinstance(derivation, Derivation):
        return derivation
    if isinstance(derivation, str):
        from ..entries import entry
        return entry(derivation)()
    raise ArgumentTypeError("derivation", f"must be a Derivation or a catalogue name, got {type(derivation).__name__}")


def _layout(d: Derivation, compiled) -> _Layout:
    kinds = {"per_example": _PerExample, "dataset": _Dataset, "labels": _Labels, "network": _Network}
    if d.interface not in kinds:
        raise ArgumentError("derivation", f"derive.testing checks per-example, dataset, labels and network "
                                          f"derivations; {d.name} has the {d.interface!r} interface")
    return kinds[d.interface](d, compiled)
