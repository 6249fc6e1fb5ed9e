"""The NumPy table of array operations: the default of every program, with in-place and BLAS fast paths."""
from __future__ import annotations

import numpy as np

from .. import numeric
from .ops import Ops, Tensor


class NumpyOps(Ops):
    """The NumPy table: in-place arithmetic, BLAS matrix products for contractions, and NumPy's fast
    stable kernels (derive.numeric)."""

    name = "numpy"
    xp = np
    moveaxis = staticmethod(np.moveaxis)
    rowmax = staticmethod(numeric.rowmax)
    rowsum = staticmethod(numeric.rowsum)
    softmax = staticmethod(numeric.softmax)
    log_softmax = staticmethod(numeric.log_softmax)
    sigmoid = staticmethod(numeric.sigmoid)
    _unary = {"exp": np.exp, "log": np.log, "abs": np.abs, "sqrt": np.sqrt, "tanh": np.tanh}

    def scalar(self, value):
        return value

    def align(self, t: Tensor, axes: tuple):
        """t's array with its axes in the order ``axes`` (length 1 where it does not vary)."""
        a = t.array
        if not t.axes:
            return np.reshape(np.asarray(a), (1,) * len(axes))
        order = [t.axes.index(x) for x in axes if x in t.axes]
        if order != list(range(len(order))):
            a = np.transpose(a, order)
        if len(t.axes) != len(axes):
            a = np.reshape(a, tuple(t.array.shape[t.axes.index(x)] if x in t.axes else 1 for x in axes))
        return a

    def broadcast(self, a, shape):
        return a if a.shape == shape else np.broadcast_to(a, shape)

    def map(self, op: str, args: list) -> Tensor:
        axes = tuple(dict.fromkeys(x for t in args for x in t.axes))
        vals = [self.align(t, axes) if t.axes else t.array for t in args]
        if op == "add":
            out = vals[0] + vals[1]
            for v in vals[2:]:
                out = np.add(out, v, out=out) if _writable(out, v) else out + v
        elif op == "mul":
            out = vals[0] * vals[1]
            for v in vals[2:]:
                out = np.multiply(out, v, out=out) if _writable(out, v) else out * v
        elif op == "pow":
            base, exponent = vals
            out = base * base if isinstance(exponent, int) and exponent == 2 else \
                1 / base if isinstance(exponent, int) and exponent == -1 else np.power(base, exponent)
        else:
            out = self._unary[op](vals[0])
        return Tensor(np.asarray(out), axes)

    def combine(self, plus: list, minus: list, scratch=()) -> Tensor:
        """The sum of ``plus`` less the sum of ``minus``, into one new array where the shapes allow
        (or into the first term's own array, when it is a scratch intermediate)."""
        if len(plus) == 1 and not minus:
            return plus[0]
        args = plus + minus
        axes = tuple(dict.fromkeys(x for t in args for x in t.axes))
        vals = [self.align(t, axes) if t.axes else t.array for t in args]
        first = 1
        if id(plus[0].array) in scratch and all(_writable(vals[0], v) for v in vals[1:]):
            out, first = vals[0], 0
        else:
            out = np.asarray(vals[0] + vals[1] if len(plus) > 1 else vals[0] - vals[1])
        for n, v in enumerate(vals[first + 1:], start=first + 1):
            ufunc = np.add if n < len(plus) else np.subtract
            out = ufunc(out, v, out=out) if _writable(out, v) else np.asarray(ufunc(out, v))
        return Tensor(out, axes)

    def contract(self, factors: list, indices: tuple) -> Tensor:
        scalars = [t.array for t in factors if not t.axes]
        arrays = [t for t in factors if t.axes]
        coefficient = 1
        for s in scalars:
            coefficient = coefficient * s
        keep = tuple(x for x in dict.fromkeys(a for t in arrays for a in t.axes) if x not in indices)
        if not arrays:
            return Tensor(np.asarray(coefficient), ())
        if len(arrays) == 1:
            t = arrays[0]
            summed = tuple(t.axes.index(i) for i in indices if i in t.axes)
            out = np.sum(t.array, axis=summed) if summed else t.array
            result = Tensor(np.asarray(out), tuple(a for a in t.axes if a not in indices))
        elif len(arrays) == 2 and not (set(arrays[0].axes) & set(arrays[1].axes)) - set(indices):
            result = _tensordot(arrays[0], arrays[1], indices)
        else:
            letters = {a: chr(97 + n) for n, a in enumerate(dict.fromkeys(a for t in arrays for a in t.axes))}
            spec = ",".join("".join(letters[a] for a in t.axes) for t in arrays) + "->" + \
                "".join(letters[a] for a in keep)
            out = np.einsum(spec, *[t.array for t in arrays], optimize=True)
            result = Tensor(np.asarray(out), keep)
        if scalars:
            result = Tensor(result.array * coefficient, result.axes)
        return result

    def eye(self, n: int):
        return np.eye(n)

    def indicator(self, label: Tensor, axis, n: int) -> Tensor:
        return Tensor(np.equal.outer(label.array, np.arange(1, n + 1)).astype(float), label.axes + (axis,))

    def subtract_indicator(self, t: Tensor, label: Tensor, axis, n: int, fresh: bool = False) -> Tensor:
        """t - delta(axis, label), by indexing: in t's own memory when it is ``fresh`` (an intermediate
        nobody reads again) and already spans the label's axes and ``axis``, else in a fresh copy."""
        axes = tuple(dict.fromkeys(t.axes + label.axes + (axis,)))
        shape: list = [None] * len(axes)
        for a, s in zip(label.axes, label.array.shape):
            shape[axes.index(a)] = s
        shape[axes.index(axis)] = n
        for a, s in zip(t.axes, np.shape(t.array)):
            shape[axes.index(a)] = s
        if fresh and set(t.axes) == set(axes) and isinstance(t.array, np.ndarray) and t.array.flags.writeable:
            out = self.align(t, axes)  # a view: writes go to t's memory
        else:
            out = np.array(np.broadcast_to(self.align(t, axes) if t.axes else t.array, tuple(shape)),
                           dtype=np.result_type(t.array, float) if not t.axes else t.array.dtype)
        lab = self.align(label, tuple(a for a in axes if a != axis))
        index = [np.arange(s).reshape([-1 if m == n_ else 1 for m in range(len(axes) - 1)])
                 for n_, s in enumerate(lab.shape)]
        index.insert(axes.index(axis), lab.astype(np.intp) - 1)
        out[tuple(np.broadcast_arrays(*index))] -= 1
        return Tensor(out, axes)

    def first_not_positive(self, a):
        if a.size == 0 or a.min() > 0:
            return None
        return tuple(int(i) for i in np.argwhere(~(a > 0))[0])

    def log(self, a):
        return np.log(a)

    def host(self, value):
        return value

    def from_checked(self, value, checked, dtype):
        return np.asarray(checked).astype(dtype, copy=False)

    def permute(self, a, order):
        return np.transpose(a, order)

    def cast(self, mask):
        return mask.astype(float)

    def patch_rows(self, values: np.ndarray, need: np.ndarray, fn, *arrays) -> np.ndarray:
        """``values`` (a length-1 last axis) with the rows where ``need`` holds replaced by
        ``fn(*those rows of arrays, ops=self)``: only they are computed (a traced library, which
        cannot branch on values, computes every row and selects)."""
        rows = need[..., 0]
        if not rows.any():
            return values
        values = values.copy()
        values[rows] = fn(*(a[rows] for a in arrays), ops=self)
        return values


def _writable(out, v) -> bool:
    return isinstance(out, np.ndarray) and out.flags.writeable and np.shape(np.broadcast(out, v)) == out.shape \
        and np.result_type(out, v) == out.dtype


def _tensordot(a: Tensor, b: Tensor, indices: tuple) -> Tensor:
    """sum over ``indices`` of a * b where every axis both share is summed: one matrix product (BLAS)."""
    def only(t: Tensor, other: Tensor) -> Tensor:  # sum out first the summed axes the other lacks
        axes = tuple(n for n, x in enumerate(t.axes) if x in indices and x not in other.axes)
        if not axes:
            return t
        return Tensor(np.sum(t.array, axis=axes), tuple(x for x in t.axes if x not in indices or x in other.axes))
    a, b = only(a, b), only(b, a)
    shared = [x for x in a.axes if x in b.axes]
    left = [x for x in a.axes if x not in shared]
    right = [x for x in b.axes if x not in shared]
    # (left, shared) @ (shared, right) as transposed views: matmul passes a transposed layout to BLAS
    # without a copy (tensordot's reshape would copy it)
    A = np.transpose(a.array, [a.axes.index(x) for x in left + shared])
    B = np.transpose(b.array, [b.axes.index(x) for x in shared + right])
    sl = [a.array.shape[a.axes.index(x)] for x in left]
    ss = [a.array.shape[a.axes.index(x)] for x in shared]
    sr = [b.array.shape[b.axes.index(x)] for x in right]
    A = A.reshape(int(np.prod(sl)), int(np.prod(ss)))
    B = B.reshape(int(np.prod(ss)), int(np.prod(sr)))
    out = np.matmul(A, B).reshape(sl + sr)
    return Tensor(out, tuple(left + right))


NUMPY = NumpyOps()


OPS = NUMPY
