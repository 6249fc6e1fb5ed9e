"""What check_gradient returns: GradientReport, its CaseFailure entries, and assert_gradient's GradientMismatch."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .case import Case
from .tolerance import TOLERANCES, _large

# the slips the one-array layouts check for, named when none of them explains a failure
UNRECOGNISED = "a constant factor, a transpose, a one-class slip or an overflow"


class GradientMismatch(AssertionError):
    """assert_gradient's failure; ``report`` holds the GradientReport."""

    def __init__(self, report: "GradientReport") -> None:
        self.report = report
        super().__init__(str(report))


@dataclass
class CaseFailure:
    """A case where fn disagrees with the closed form. ``index`` is the worst entry (None for a shape
    mismatch or an exception); ``got`` and ``expected`` its two values."""

    case: Case
    kind: str  # 'mismatch', 'non-finite', 'shape', 'raised', 'structure', 'timeout', 'mutated'
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
    written: tuple = ()  # the inputs fn wrote into (kind 'mutated')

    @property
    def inputs(self) -> dict:
        """The inputs that broke fn, to reproduce it: fn(**failure.inputs)."""
        return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.case.inputs.items()}

    def summary(self, layout: Any) -> str:
        lines = [f"case {self.case.describe()}"]
        what = layout.output_text(self.output) if self.output else ""
        if self.kind == "raised":
            lines.append(f"  fn raised {self.error}")
        elif self.kind in ("timeout", "mutated"):
            lines.append(f"  {self.error}")
        elif self.kind == "structure":
            lines.append(f"  fn returned {self.error}")
        elif self.kind == "shape":
            assert self.actual is not None  # a shape mismatch holds what fn returned
            named = f"{self.output} ({what}) with " if self.output else ""
            lines.append(f"  fn returned {named}shape {self.actual.shape}, expected {self.expected.shape}")
        else:
            assert self.index is not None  # a mismatch or non-finite value has its worst entry
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
                           UNRECOGNISED) + "); compare the values below")
            failure = self.failure
            assert failure is not None  # not ok: there are failures
            out.append("first failing " + failure.summary(self.layout))
            out.append("reproduce: fn(**report.failure.inputs) (GradientMismatch.report is the report)")
        out += [f"note: {n}" for n in self.notes]
        out.append("tolerance: |got - expected| <= atol * max(1, max|expected|) + rtol * |expected| "
                   "+ 8 eps max|score| (input rounding); "
                   + "; ".join(f"{k} rtol {r:g}, atol {a:g}" for k, (r, a) in TOLERANCES.items())
                   + " (torch.testing.assert_close defaults)")
        return "\n".join(out)
