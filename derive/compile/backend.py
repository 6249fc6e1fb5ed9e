"""A compiled interface run with another array library (``compile(backend="jax" | "torch")``): the
interface's own ``checked`` and ``run`` (derive.compile.boundary) with that library's ops table
(derive.backends). Nothing here lays out an input: each interface does that once, for every backend.

A backend function takes the library's arrays, NumPy arrays, lists and numbers, and returns the
library's arrays; the JAX one is traced once per input shape with ``jax.jit``. Its inputs go through
the NumPy backend's checks, once, with the same messages (derive.inputs): each input is read on the
host (``ops.host``), checked by the interface (``checked``), and then given to the library in the
checked dtype (``ops.from_checked``; a library array keeps its device). A traced JAX value (inside the
caller's own jax.jit) has only its dtype and shape checked. Scores beyond the float range are checked
by the NumPy backend only: a traced function cannot raise on values.
"""
from __future__ import annotations

import numpy as np

from ..backends import ops_for
from ..errors import ArgumentError, DeriveError
from ..inputs import precision
from .boundary import Compiled, html_display


def compile_backend(compiled: Compiled, interface: str, backend: str) -> "BackendGradient":
    """The compiled closed form ``compiled`` (a NumPy-backend object) run with ``backend``'s arrays."""
    ops = ops_for(backend)
    if not compiled.backends:
        from . import INTERFACES
        covered = ", ".join(dict.fromkeys(n for n, cls in INTERFACES.items() if cls.backends))
        raise ArgumentError("backend", f"{compiled.name} (interface {interface!r}) compiles to NumPy only; "
                                       f"the {backend} backend covers the interfaces {covered}")
    return BackendGradient(compiled, interface, ops)


class BackendGradient:
    """A compiled gradient evaluated with another array library: same keywords, same checks, same result layout."""

    def __init__(self, compiled: Compiled, interface: str, ops) -> None:
        self.compiled, self.interface, self.ops = compiled, interface, ops
        self.name = compiled.name
        self.backend = ops.name
        self._runs: dict = {}  # one traced function per layout (the number of examples, or None for one; the sizes)
        if hasattr(compiled, "__signature__"):
            self.__signature__ = compiled.__signature__
        self.__doc__ = (compiled.__doc__ or "") + f"\n\nEvaluated with {self.backend}: takes and returns its arrays."

    inputs = property(lambda self: self.compiled.inputs)
    source = property(lambda self: self.compiled.source)

    def __repr__(self) -> str:
        return repr(self.compiled)[:-1] + f" [{self.backend}]>"

    def _repr_html_(self) -> str:
        """Jupyter's display, as the NumPy function's, naming the backend."""
        return html_display(self)

    def __call__(self, **kwargs):
        ops = self.ops
        labels = self.compiled.labels
        call = self.compiled.checked({n: ops.host(v) for n, v in kwargs.items()},
                                     {n: precision(v) for n, v in kwargs.items()})
        names = tuple(call["arrays"])
        # one float type for every array, as NumPy's type promotion gives (float32 with float64 is float64)
        dtype = np.result_type(*(call["arrays"][n].dtype for n in names if n not in labels))
        arrays = tuple(ops.from_checked(kwargs[n], call["arrays"][n], "int64" if n in labels else dtype) for n in names)
        scalars = call.get("scalars", {})
        key = (call.get("N"), tuple(sorted(call.get("sizes", {}).items())))
        if key not in self._runs:
            def evaluate(arrays, scalars, _meta=dict(call, arrays=None)):  # noqa: B006 (bound once, read only)
                """The pure function of the arrays that the library traces (jax.jit) or runs."""
                return self.compiled.run(dict(_meta, scalars=scalars), dict(zip(names, arrays)), ops)
            self._runs[key] = ops.jit(evaluate)
        try:
            return self._runs[key](arrays, scalars)
        except DeriveError:
            raise
        except (ValueError, KeyError, IndexError, RuntimeError) as error:  # a layout the checks missed: named
            raise ArgumentError(", ".join(names), f"cannot be evaluated with these shapes for {self.name} "
                                                  f"({self.backend}): {error}") from None
