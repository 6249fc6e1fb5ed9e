"""When fn's output counts as equal to the closed form: the per-dtype tolerances, the allowance for
input rounding, and the entry-by-entry comparison (and when a case's scores overflow exp)."""
from __future__ import annotations

from types import MappingProxyType

import numpy as np

from .case import Case

# (rtol, atol) per dtype: torch.testing.assert_close's defaults for float32 and float64.
TOLERANCES = MappingProxyType({"float64": (1e-7, 1e-7), "float32": (1.3e-6, 1e-5)})  # (rtol, atol), read-only
# Inputs are rounded to their dtype: a score s carries an error up to eps * |s| (1e-3 at |s| = 1e4 in float32),
# which any backward-stable implementation may pass on (|d o_k / d s| summed over s is at most 1/2).
CONDITIONING = 8.0  # allowance CONDITIONING * eps * max|s| * gain, with room for a scalar such as 1/T


def _tolerance(case_dtype: str, out_dtype) -> tuple:
    """(name, rtol, atol): the less precise of the input's and the output's dtype."""
    name = "float32" if case_dtype == "float32" or np.dtype(out_dtype).itemsize < 8 else "float64"
    return (name,) + TOLERANCES[name]


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
