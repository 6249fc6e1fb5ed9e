"""Numerically stable NumPy building blocks used by compiled closed forms."""
from __future__ import annotations

import numpy as np


SHORT = 32  # a last axis this short is reduced column by column (NumPy's own reduction over it is slow)


def rowmax(a: np.ndarray) -> np.ndarray:
    """The maximum over the last axis, kept as a length-1 axis."""
    if a.ndim and 1 < a.shape[-1] <= SHORT and a.size:
        out = a[..., 0].copy()
        for j in range(1, a.shape[-1]):
            np.maximum(out, a[..., j], out=out)
        return out[..., None]
    return np.max(a, axis=-1, keepdims=True)


def rowsum(a) -> np.ndarray:
    """Sum over the class (last) axis, kept as a length-1 axis for broadcasting (einsum's vectorised
    loop: two to six times faster than np.sum over a last axis)."""
    a = np.asarray(a)
    if a.ndim and a.dtype.kind == "f":
        return np.einsum("...j->...", a)[..., None]
    return np.sum(a, axis=-1, keepdims=True)


def softmax(a: np.ndarray) -> np.ndarray:
    """softmax along the last axis, with the row maximum subtracted first (one new array, exp in place)."""
    out = np.subtract(a, rowmax(a))
    np.exp(out, out=out)
    out /= rowsum(out)
    return out


def log_softmax(a: np.ndarray) -> np.ndarray:
    """log softmax along the last axis, as a - logsumexp(a)."""
    shifted = np.subtract(a, rowmax(a))
    total = rowsum(np.exp(shifted))
    shifted -= np.log(total)
    return shifted


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)), in place in one new array. For a far below 0, exp(-a) overflows to inf and
    the result is exactly 0 where the true value is below the smallest normal float (the overflow is
    expected and not reported); there is no cancellation, so the result is accurate in relative
    terms wherever it is a normal number."""
    out = np.negative(a)
    with np.errstate(over="ignore", under="ignore"):
        np.exp(out, out=out)
        out += 1
        np.reciprocal(out, out=out)
    return out


def all_finite(a: np.ndarray) -> bool:
    """True when every entry is finite: one sum (no boolean array) in the common case, since a sum is
    finite only when every term is; an overflowing sum of finite terms falls back to the exact test."""
    if a.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.einsum("i->", a.reshape(-1)) if a.flags.c_contiguous and a.dtype.kind == "f" else np.sum(a)
        if np.isfinite(total):
            return True
    return bool(np.all(np.isfinite(a)))
