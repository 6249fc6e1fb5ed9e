"""What every compiled interface shares: the boundary where its inputs are checked once, for every
backend, and the layout that turns checked arrays into the tensors a program reads.

An interface (derive.compile.interfaces) says three things: ``checked(kwargs, given)``, its inputs
checked and laid out as a ``call`` (``{'arrays': name -> checked NumPy array, ...}``), the same for
every backend; ``run(call, arrays, ops)``, the result from the checked inputs given in the evaluating
library's arrays, laid out into tensors with that library's ops table; and which of its inputs are
integer ``labels``. ``Compiled.__call__`` is the NumPy backend; derive.compile.backend runs the same
``checked`` and ``run`` with another library's ops table. No backend lays out inputs of its own.
"""
from __future__ import annotations

from typing import Literal, Optional, TypedDict

import numpy as np
import sympy as sp

from ..backends.numpy_ops import NUMPY
from ..errors import ArgumentError
from ..tensor import BATCH, Overflow, Tensor, first_not_finite

class _Quiet(TypedDict):
    over: Literal["ignore"]
    invalid: Literal["ignore"]
    divide: Literal["ignore"]


QUIET: _Quiet = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}  # each inf or NaN is checked for instead


def html_display(compiled) -> str:
    """Jupyter's display of a compiled function (every interface and backend): its signature, its
    arguments' shapes and the generated code (derive.render.jupyter)."""
    from ..render.jupyter import compiled_html
    return compiled_html(compiled)


class Compiled:
    """A compiled closed form: checked inputs (``checked``), evaluated by ``run`` with an ops table;
    called with NumPy arrays, it is the NumPy backend."""

    name: str = ""
    labels: tuple = ()     # inputs holding integer labels: int64 in every backend
    backends: bool = True  # whether ``run`` takes another library's ops table (derive.compile.backend)
    layout_errors: tuple = ()
    @property
    def inputs(self) -> tuple:
        """The keyword names the interface takes."""
        raise NotImplementedError  # errors of a layout the checks missed, reported naming the inputs

    def checked(self, kwargs: dict, given: Optional[dict] = None) -> dict:
        """The inputs checked and laid out (the same for every backend): {'arrays': name -> checked array,
        ...}; ``given``: the float type each input was passed in, when ``kwargs`` hold copies read on the host."""
        raise NotImplementedError

    def run(self, call: dict, arrays: dict, ops=None):
        """The result from the checked inputs ``call`` and those arrays in the evaluating library."""
        raise NotImplementedError

    def overflow(self, error: Overflow) -> ArgumentError:
        """The error for a score beyond the float range, naming the keywords it came from."""
        raise NotImplementedError

    def finished(self, out, arrays: dict) -> np.ndarray:
        """The NumPy result: contiguous, in the inputs' float type, checked finite."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        """Jupyter's display: the signature, the arguments' shapes and the generated code (derive.render.jupyter)."""
        return html_display(self)

    def __call__(self, **kwargs) -> np.ndarray:
        call = self.checked(kwargs)
        with np.errstate(**QUIET):
            try:
                out = self.run(call, call["arrays"])
            except Overflow as error:
                raise self.overflow(error) from None
            except self.layout_errors as error:  # still named, never raw
                raise ArgumentError(", ".join(self.inputs), f"cannot be evaluated with these shapes for "
                                                            f"{self.name}: {error}") from None
            return self.finished(out, call["arrays"])


def overflow_error(error: Overflow, args: str, example, unit: str = "class",
                   what: str = "the scores") -> ArgumentError:
    """The error for a score beyond the float range, naming the arguments ``args`` it is computed from."""
    at = sorted(zip(error.axes, error.index), key=lambda p: p[0] != example)  # the example first
    where = ", ".join(f"example {i}" if axis == example else f"{unit} {i}" for axis, i in at)
    return ArgumentError(args, f"{what} overflow {error.dtype} at {where} (a term or their sum is beyond "
                               f"+-{np.finfo(error.dtype).max:.2g}); scale the inputs")


def finite(args: str, result: np.ndarray) -> np.ndarray:
    """``result``, or an ArgumentError naming ``args`` when an entry overflowed to inf or NaN."""
    bad = first_not_finite(result)
    if bad is not None:
        limit = f"{np.finfo(result.dtype).max:.2g}"
        raise ArgumentError(args, f"the gradient computed from them overflows {result.dtype} (it or an intermediate "
                                  f"is beyond +-{limit}, first at index {bad}); scale the inputs")
    return result


# -- the layout: checked arrays as the tensors a program reads (every backend's arrays) ---------------

def matrix(a) -> Tensor:
    """An array as a tensor over fresh axes (the program names them)."""
    return Tensor(a, tuple(sp.Dummy() for _ in range(a.ndim)))


def rows(a, ops=None) -> Tensor:
    """An (N, ...) array of one row per example as a tensor over (its axes..., batch)."""
    return Tensor((ops or NUMPY).moveaxis(a, 0, -1), tuple(sp.Dummy() for _ in range(a.ndim - 1)) + (BATCH,))
