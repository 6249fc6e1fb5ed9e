"""Input checks at the boundary of every compiled function, for every backend (NumPy, PyTorch, JAX).

A compiled function checks its inputs once, here, whatever library will evaluate it: a PyTorch tensor or
a JAX array is read on the host as a NumPy array (``host``) and goes through the same checks with the same
messages as a NumPy array. Each error is an ``ArgumentError`` (or ``ArgumentTypeError``) naming the
argument. What is refused:

- a string, bytes, a dict or another object that is not an array of numbers; a ragged list;
- a bool, complex, object or string dtype (integers are read as float64; float16 as float64);
- a NumPy masked array (its mask would be ignored: pass ``a.filled(value)`` or drop the masked rows);
- a shape other than the argument's (``Argument.shape``), NaN or infinity;
- targets the derivation assumes normalised whose rows are not within ``tolerance(precision, K)`` of the
  simplex (``TARGET_TOLERANCE``, per class, by the float type the targets were given in: 1e-6 in float64,
  1e-5 in float32, 2e-3 in float16, 1.6e-2 in bfloat16);
- an argument the closed form takes the logarithm of with an entry <= 0;
- a scalar parameter that is not one finite real number, a size that is not a positive integer.

A traced JAX value (inside the caller's jax.jit or jax.grad) has no values to read: its dtype and shape
are checked, its values are not (``Unseen``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import DTypeLike

from .errors import ArgumentError, ArgumentTypeError
from .numeric import all_finite, rowsum
from .tensor import first_not_finite

# How far a row of targets assumed normalised may be from the simplex, per class, by the float type the
# targets were given in. A row normalised in that type is off by a few units of its last place in all
# (measured: float32 softmax rows at most 3.6e-7 off for K = 2..10000, float16 Dirichlet rows 3.7e-4),
# at worst K of them (a sum added up one class at a time). The tolerance is about 80 of those units per
# class in float32 (1.2e-7 each), 2 in float16 (9.8e-4) and bfloat16 (7.8e-3), so no normalised row is
# refused; float64 allows 1e-6 per class, because float64 targets are often float32 ones converted (rows
# 3e-7 off, which a float64-sized tolerance would refuse). A mistake is far larger: a row of 0.3333 three
# times is 1e-4 off, rows of counts or logits are off by 1 or more; a float32 row 2e-4 off is refused up to
# K = 19 classes.
TARGET_TOLERANCE = {"float64": 1e-6, "float32": 1e-5, "float16": 2e-3, "bfloat16": 1.6e-2}


def precision(value) -> str:
    """The float type ``value``'s entries were given in, as a key of TARGET_TOLERANCE: the name of its dtype
    for a NumPy, PyTorch or JAX float array (float16 and bfloat16 included, though they are computed in
    float64), float64 for anything else (integers, lists, Python numbers)."""
    dtype = getattr(value, "dtype", None)
    name = getattr(dtype, "name", None) or str(dtype).rsplit(".", 1)[-1]  # torch.float16 has no .name
    return name if name in TARGET_TOLERANCE else "float64"


def tolerance(given: str, classes: int) -> float:
    """The largest |row sum - 1| accepted for targets assumed normalised (and the most negative entry), for
    targets given in the float type ``given`` (a TARGET_TOLERANCE key, or a NumPy dtype)."""
    key = given if given in TARGET_TOLERANCE else precision(np.empty(0, dtype=given))
    return TARGET_TOLERANCE[key] * max(1, classes)


@dataclass(frozen=True)
class Unseen:
    """An array whose values cannot be read (a traced JAX value): its shape and dtype are checked only."""

    shape: tuple
    dtype: DTypeLike

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def check_names(name: str, kwargs: dict, expected: Sequence[str]) -> None:
    """Every expected keyword present and no other."""
    for key in kwargs:
        if key not in expected:
            raise ArgumentError(key, f"unknown argument; {name} takes {', '.join(expected)}")
    for key in expected:
        if key not in kwargs:
            raise ArgumentError(key, f"missing argument; {name} takes {', '.join(expected)}")


def _shapes(ndims: tuple) -> str:
    return " or ".join({1: "(K,)", 2: "(N, K)"}.get(n, f"{n}-d") for n in ndims) if ndims != (2,) else "2-d"


def _read(name: str, value, expected: str, instead: str) -> np.ndarray:
    """``value`` as a NumPy array, or an error naming ``name``: a string, a mapping, a set or None is not one
    (``expected`` says what is), a masked array's mask would be ignored (pass ``instead``), a ragged list
    cannot be read."""
    if isinstance(value, (str, bytes, dict, set)) or value is None:
        raise ArgumentTypeError(name, f"{expected}, got {type(value).__name__}")
    if isinstance(value, np.ma.MaskedArray):
        raise ArgumentTypeError(name, f"is a masked array, whose mask the compiled function would ignore: pass {instead}")
    try:
        return np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ArgumentTypeError(name, f"cannot be read as an array: {exc}") from None


def check_array(name: str, value, ndims: tuple = (1, 2), finite: bool = True, shape: str = ""):
    """A finite real float array of an allowed rank, or an error naming ``name`` (``finite=False``: the
    caller checks finiteness itself, as check_targets does with the row sums it computes anyway).
    ``shape`` describes the allowed shapes in the error ((N, K) by default)."""
    a: np.ndarray | Unseen
    if isinstance(value, Unseen):
        a = value
        if np.dtype(a.dtype).kind not in "iuf":
            raise ArgumentTypeError(name, f"must hold real numbers (float32 or float64), got dtype {a.dtype}")
    else:
        a = _read(name, value, "must be a numeric array", "the filled array (a.filled(value)) or only the rows to use")
        if a.dtype.kind in "iu":
            a = a.astype(np.float64)
        elif a.dtype.kind != "f":
            raise ArgumentTypeError(name, f"must hold real numbers (float32 or float64), got dtype {a.dtype}")
        elif a.dtype not in (np.float32, np.float64):
            a = a.astype(np.float64)
    if a.ndim not in ndims:
        raise ArgumentError(name, f"must have shape {shape or _shapes(ndims)}, got shape {tuple(a.shape)}")
    if finite and not isinstance(a, Unseen) and a.size and not all_finite(a):  # one sum in the common case
        not_finite(name, a)
    return a


def not_finite(name: str, a: np.ndarray) -> None:
    raise ArgumentError(name, f"contains NaN or infinity (first at index {first_not_finite(a)})")


def float_dtype(value) -> np.dtype:
    """The dtype a checked array has (float32 stays float32; integers and float16 become float64)."""
    return np.dtype(value.dtype) if np.dtype(value.dtype) in (np.float32, np.float64) else np.dtype(np.float64)


def check_classes(name: str, a, K) -> int:
    """The number of rows of a parameter matrix (one per class): at least 2, and K when K is fixed."""
    if K is not None and a.shape[0] != K:
        raise ArgumentError(name, f"must have K = {K} rows (one per class), got shape {tuple(a.shape)}")
    if a.shape[0] < 2:
        raise ArgumentError(name, f"needs at least 2 rows (classes), got shape {tuple(a.shape)}")
    return a.shape[0]


def check_targets(name: str, a, kind: str, hint: str, given: str = "") -> None:
    """Rows on the probability simplex (or one-hot), as the derivation assumes, within ``tolerance`` for
    the float type ``given`` the caller passed them in (``precision`` of the raw value; default a's)."""
    if isinstance(a, Unseen) or not a.size:
        return
    given = given or precision(a)
    tol = tolerance(given, a.shape[-1])
    sums = rowsum(a)
    if not np.isfinite(sums).all():  # a row sum is finite only when each of its entries is
        not_finite(name, a)
    if a.min() < -tol or np.abs(sums - 1).max() > tol:
        raise ArgumentError(name, f"each row must be non-negative and sum to 1 (within {tol:.2g} for "
                                  f"{given} targets over {a.shape[-1]} classes): the derivation assumes it{hint}")
    if kind == "one_hot" and not np.all((a == 0) | (a == 1)):
        raise ArgumentError(name, "each row must be one-hot (zeros and a single one): the derivation assumes it")


def check_positive(name: str, a) -> None:
    """Every entry > 0: the closed form takes the logarithm of ``name``."""
    if isinstance(a, Unseen) or not a.size:
        return
    bad = np.argwhere(~(a > 0))
    if len(bad):
        raise ArgumentError(name, f"must be positive: the closed form takes its logarithm (first entry <= 0 at "
                                  f"index {tuple(int(i) for i in bad[0])})")


def check_labels(name: str, value, K: int):
    """Integer class labels in 0..K-1, or an error naming ``name``."""
    if isinstance(value, Unseen):
        if np.dtype(value.dtype).kind not in "iu":
            raise ArgumentTypeError(name, f"must hold integer class labels, got dtype {value.dtype}")
        if value.ndim != 1:
            raise ArgumentError(name, f"must have shape (m,), got shape {value.shape}")
        return value
    a = _read(name, value, "must hold integer class labels", "only the labels to use")
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):  # [] is float
            a = a.astype(np.int64)
        else:
            raise ArgumentTypeError(name, f"must hold integer class labels, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ArgumentError(name, f"must have shape (m,), got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= K):
        raise ArgumentError(name, f"labels must lie in 0..{K - 1}, got values from {a.min()} to {a.max()}")
    return a.astype(np.int64)


def check_scalar(name: str, value, hint: str = "") -> float | Unseen:
    """A finite real number (a Python or NumPy number, or an array of one element), or an error naming ``name``."""
    if isinstance(value, (np.ndarray, Unseen)) and value.ndim == 0 and np.dtype(value.dtype).kind in "iuf":
        value = value if isinstance(value, Unseen) else value[()]
    if isinstance(value, Unseen):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        got = f"an array of shape {np.shape(value)}" if hasattr(value, "shape") else type(value).__name__
        raise ArgumentTypeError(name, f"must be a real number, got {got}{hint}")
    if not np.isfinite(value):
        raise ArgumentError(name, f"must be finite, got {value}")
    return float(value)


def check_size(name: str, value, least: int = 1) -> int:
    """A size no array carries, given as a keyword: an integer >= ``least``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(name, f"must be an integer (the length of an axis no array carries), got "
                                      f"{type(value).__name__}")
    if value < least:
        raise ArgumentError(name, f"must be at least {least}, got {value}")
    return int(value)
