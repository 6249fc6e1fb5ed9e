"""The one ops interface: the table of array operations every stage that computes with arrays calls
(the tensor interpreter, derive.numeric's stable probabilities, the compiled interfaces' layout), and
``Tensor``, an array with the index symbols its axes stand for.

``Ops`` is the protocol and its implementation written once over an array namespace (``xp``); a
backend is one subclass holding what its library spells differently: ``NumpyOps`` (numpy_ops.py, with
in-place and BLAS fast paths), ``JaxOps`` and ``TorchOps``. Adding a backend is one module
``<name>_ops.py`` defining ``OPS`` and a line in ``derive.backends.BACKENDS``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from .. import numeric


@dataclass(frozen=True)
class Tensor:
    """An array whose axes stand for the given index symbols."""

    array: Any  # a NumPy array, or the evaluating library's (JAX, torch)
    axes: tuple

    def __post_init__(self) -> None:
        if np.ndim(self.array) != len(self.axes):
            raise ValueError(f"array of rank {np.ndim(self.array)} given {len(self.axes)} axes {self.axes}")

    def size(self, axis: sp.Symbol) -> int:
        return self.array.shape[self.axes.index(axis)]


class Ops:
    """The operations table: what the interpreter, numeric's stable probabilities and the interfaces'
    layout call, written over ``xp``. A subclass names its library (``name``, ``xp``) and overrides
    what the library spells differently."""

    name = ""
    xp: Any = None  # the array namespace each library's table sets (torch, jax.numpy)

    def __repr__(self) -> str:
        return f"<ops {self.name}>"

    # -- what each library spells differently ---------------------------------
    def host(self, value):
        """``value`` as the input checks read it: a library array as a NumPy array (or an Unseen, when its
        values cannot be read), anything else unchanged."""
        raise NotImplementedError

    def from_checked(self, value, checked, dtype):
        """The library's array for the input ``value`` that the checks turned into ``checked``, in the NumPy
        dtype ``dtype`` (the float type every array of the call is computed in, or int64 for labels):
        ``value`` itself when it is already the library's array (it keeps its device), else ``checked``."""
        raise NotImplementedError

    def permute(self, a, order):
        """``a`` with its axes in the order ``order``."""
        raise NotImplementedError

    def cast(self, mask):
        """A boolean array as the library's default float type."""
        raise NotImplementedError

    def concatenate(self, arrays, axis):
        return self.xp.concatenate(arrays, axis=axis)

    def ones_like(self, a):
        return self.xp.ones_like(a)

    def softmax(self, a):
        """softmax along the last axis, stable for every finite input."""
        raise NotImplementedError

    def log_softmax(self, a):
        """log softmax along the last axis, stable for every finite input."""
        raise NotImplementedError

    def sigmoid(self, a):
        """1 / (1 + exp(-a)), without overflow."""
        raise NotImplementedError

    def moveaxis(self, a, source, destination):
        return self.xp.moveaxis(a, source, destination)

    def jit(self, f):
        return f

    # -- the interpreter's operations -----------------------------------------
    def scalar(self, value):
        return value

    def align(self, t: Tensor, axes: tuple):
        a = t.array
        if not t.axes:
            return a
        order = [t.axes.index(x) for x in axes if x in t.axes]
        if order != list(range(len(order))):
            a = self.permute(a, order)
        if len(t.axes) != len(axes):
            a = self.xp.reshape(a, tuple(t.array.shape[t.axes.index(x)] if x in t.axes else 1 for x in axes))
        return a

    def broadcast(self, a, shape):
        return a if tuple(a.shape) == tuple(shape) else self.xp.broadcast_to(a, shape)

    def _aligned(self, args):
        axes = tuple(dict.fromkeys(x for t in args for x in t.axes))
        return axes, [self.align(t, axes) if t.axes else t.array for t in args]

    def map(self, op: str, args: list) -> Tensor:
        axes, vals = self._aligned(args)
        if op == "add":
            out = vals[0]
            for v in vals[1:]:
                out = out + v
        elif op == "mul":
            out = vals[0]
            for v in vals[1:]:
                out = out * v
        elif op == "pow":
            out = vals[0] ** vals[1]
        else:
            out = getattr(self.xp, op)(vals[0])
        return Tensor(out, axes)

    def combine(self, plus: list, minus: list, scratch=()) -> Tensor:
        axes, vals = self._aligned(plus + minus)
        out = vals[0]
        for n, v in enumerate(vals[1:], start=1):
            out = out + v if n < len(plus) else out - v
        return Tensor(out, axes)

    def contract(self, factors: list, indices: tuple) -> Tensor:
        coefficient = 1
        arrays = []
        for t in factors:
            if t.axes:
                arrays.append(t)
            else:
                coefficient = coefficient * t.array
        if not arrays:
            return Tensor(coefficient, ())
        names = list(dict.fromkeys(a for t in arrays for a in t.axes))
        letters = {a: chr(97 + n) for n, a in enumerate(names)}
        keep = tuple(a for a in names if a not in indices)
        spec = ",".join("".join(letters[a] for a in t.axes) for t in arrays) + "->" + "".join(letters[a] for a in keep)
        out = self.xp.einsum(spec, *[t.array for t in arrays])
        if not (isinstance(coefficient, (int, float)) and coefficient == 1):
            out = out * coefficient
        return Tensor(out, keep)

    def eye(self, n: int):
        return self.xp.eye(n)

    def indicator(self, label: Tensor, axis, n: int) -> Tensor:
        classes = self.xp.arange(1, n + 1)
        return Tensor(self.cast(label.array[..., None] == classes), label.axes + (axis,))

    def subtract_indicator(self, t: Tensor, label: Tensor, axis, n: int, fresh: bool = False) -> Tensor:
        return self.combine([t], [self.indicator(label, axis, n)])

    def first_not_positive(self, a):
        return None

    def log(self, a):
        return self.xp.log(a)

    # -- 1 - p and the logs of a softmax or sigmoid output (derive.numeric, written over this table) ---
    def rowmax(self, a):
        """The maximum over the last axis, kept as a length-1 axis."""
        raise NotImplementedError

    def rowsum(self, a):
        """The sum over the last axis, kept as a length-1 axis."""
        raise NotImplementedError

    def patch_rows(self, values, need, fn, *arrays):
        """``values`` with the rows where ``need`` holds replaced by ``fn(*arrays, ops=self)``
        (computed for every row: a traced function cannot branch on values)."""
        return self.xp.where(need, fn(*arrays, ops=self), values)

    def softmax_parts(self, a, forms) -> dict:
        """The arrays of p = softmax(a) named in ``forms`` (p, log p, 1 - p, ...: numeric.softmax_parts)."""
        return numeric.softmax_parts(a, forms, self)

    def sigmoid_parts(self, a, forms) -> dict:
        """The arrays of p = sigmoid(a) named in ``forms`` (numeric.sigmoid_parts)."""
        return numeric.sigmoid_parts(a, forms, self)
