"""The likely-cause checks for one-array gradients (per-example, dataset, labels): each takes the failing
cases and returns the slip that explains them all (a transpose, a factor, a shifted class, one class) or None."""
from __future__ import annotations

import itertools
from typing import Optional

import numpy as np

from .case import Case
from .tolerance import _allowance, _close, _tolerance, _violations


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
