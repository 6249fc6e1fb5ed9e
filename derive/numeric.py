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


# -- the logarithms and complements of probabilities, without cancellation ------------------------
#
# A closed form may read, besides p (a softmax or sigmoid output) and log p, the complement 1 - p,
# log(1 - p) and log(-log p): the focal loss's (1 - o_k)^(gamma - 1) log o_k is one. Computed as
# 1 - p from a rounded p they lose every digit where p is near 1 (1 - p rounds to 0 once it is below
# the float epsilon, and a power of it with a negative exponent is inf); computed here from the
# logits they are accurate in relative terms wherever they are normal numbers, and their logarithms
# are finite for every finite input (log(1 - o_k) = -1e4 where 1 - o_k = exp(-1e4) underflows).
# Written once over an operations table (``ops``, derive.backends.ops.Ops: an array namespace ``xp``
# with exp, log, log1p, abs, where and finfo, rowmax and rowsum over the last axis, and patch_rows),
# so that the NumPy, PyTorch and JAX backends compute the same arrays; ``Ops.softmax_parts`` and
# ``Ops.sigmoid_parts`` call them with their own table.

FORMS = ("log", "one_minus", "log_one_minus", "log_neg_log")  # the arrays derived from p, by name prefix


def log_softplus(x, ops):
    """log(log(1 + exp(x))), finite for every finite x: x + log(log1p(u)/u) with u = exp(x) for x <= 0
    (just x where u underflows, the true value being x - u/2 - ...), log(x + log1p(exp(-x))) above.
    Both branches are finite everywhere, so they are blended by 0/1 masks (exact, and faster than
    ``where`` with an unpredictable mask)."""
    xp = ops.xp
    size = xp.abs(x)
    low = (x - size) * 0.5    # min(x, 0), exactly
    high = (x + size) * 0.5   # max(x, 0), exactly
    u = xp.exp(low)           # in (0, 1], or 0 where it underflows
    under = u == 0
    ratio = xp.log1p(u) / (u + under) + under   # log1p(u)/u, and 1 where u underflows
    positive = x > 0
    return (low + xp.log(ratio)) * ~positive + xp.log(high + xp.log1p(xp.exp(-high))) * positive


def softmax_parts(a, forms, ops) -> dict:
    """The arrays of p = softmax(a) over the last axis named in ``forms`` ('p' and those of ``FORMS``),
    each without cancellation. With s = a - max(a) (0 exactly at the maxima), e = exp(s), and R the
    sum of e over every class but one maximum (the other maxima count 1 each), so that
    sum_j e_j = 1 + R:

        log p_k       = s_k - log1p(R)
        1 - p_k       = (1 + (R - e_k)) / (1 + R) off the maxima, R / (1 + R) at them: the sum of the
                        other outputs, never 1 minus a rounded p
        log(1 - p_k)  = log1p(R - e_k) - log1p(R) off the maxima, and at them log R - log1p(R) with
                        log R the log-sum-exp of the other classes where R is below the normal range
        log(-log p_k) = log(log1p(R) - s_k) off the maxima (a sum of two terms >= 0), and at them
                        log(log1p(R)) = log R + log(log1p(R)/R) (log R where R underflows)

    The maxima's values are per row; they are blended in by 0/1 masks, exact since both sides are
    finite (and faster than ``where``)."""
    xp = ops.xp
    forms = set(forms)
    s = a - ops.rowmax(a)
    e = xp.exp(s)
    top = s == 0
    off = ~top
    rest = ops.rowsum(e * off) + (ops.rowsum(e * top) - 1)  # R: ties (exact) + the other classes
    log_total = xp.log1p(rest)
    out = {}
    if "p" in forms:
        out["p"] = e / (1 + rest)
    if "log" in forms:
        out["log"] = s - log_total
    if {"one_minus", "log_one_minus"} & forms:
        others = (rest - e) * off         # R - e_k off the maxima (>= 0: R holds e_k), 0 at them
        if "one_minus" in forms:
            out["one_minus"] = ((1 + others) * off + rest * top) / (1 + rest)
    if {"log_one_minus", "log_neg_log"} & forms:
        tiny = xp.finfo(s.dtype).tiny
        low = rest < tiny                 # R below the normal range: one maximum, the others far below
        log_rest = ops.patch_rows(xp.log(rest + low), low, _log_sum_exp_of_others, s, top)
    if "log_one_minus" in forms:
        out["log_one_minus"] = xp.log1p(others) + log_rest * top - log_total  # log1p(others) = 0 at the top
    if "log_neg_log" in forms:
        under = rest == 0
        log_log_total = log_rest + xp.log(log_total / (rest + under) + under)  # log(log1p(R)), per row
        out["log_neg_log"] = xp.log(log_total - s + top) * off + log_log_total * top
    return out


def _log_sum_exp_of_others(s, top, ops):
    """log sum_{j not a maximum} exp(s_j) per row, finite where the sum underflows (K >= 2 and a single
    maximum: the largest other s_j, m2, is finite)."""
    xp = ops.xp
    hidden = xp.where(top, -(xp.finfo(s.dtype).max / 2), s)
    m2 = ops.rowmax(hidden)
    return m2 + xp.log(ops.rowsum(xp.exp(hidden - m2)))


def softplus(x, ops):
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    xp = ops.xp
    size = xp.abs(x)
    return (x + size) * 0.5 + xp.log1p(xp.exp(-size))


def sigmoid_parts(a, forms, ops) -> dict:
    """The arrays of p = sigmoid(a) named in ``forms`` ('p' and those of ``FORMS``), without overflow
    or cancellation: with t = exp(-|a|), p = 1/(1 + t) or t/(1 + t) and 1 - p the other one,
    log p = -softplus(-a), log(1 - p) = -softplus(a), log(-log p) = log_softplus(-a)."""
    xp = ops.xp
    out = {}
    if {"p", "one_minus"} & set(forms):
        t = xp.exp(-xp.abs(a))
        one = 1 + 0 * t
        if "p" in forms:
            out["p"] = xp.where(a >= 0, one, t) / (1 + t)
        if "one_minus" in forms:
            out["one_minus"] = xp.where(a >= 0, t, one) / (1 + t)
    if "log" in forms:
        out["log"] = -softplus(-a, ops)
    if "log_one_minus" in forms:
        out["log_one_minus"] = -softplus(a, ops)
    if "log_neg_log" in forms:
        out["log_neg_log"] = log_softplus(-a, ops)
    return out
