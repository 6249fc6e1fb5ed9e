"""Optional array libraries for compiled closed forms: the same tensor program run with JAX or PyTorch.

``compile(backend="jax")`` and ``compile(backend="torch")`` evaluate the derivation's own program
(derive.tensor) with that library's arrays, so the backends differ only in the table of array
operations (``ops``) the interpreter calls. The libraries are imported here, lazily, only when a
backend is asked for: ``import derive`` never imports them.

A backend function takes the library's arrays, NumPy arrays, lists and numbers, and returns the
library's arrays; the JAX one is traced once per input shape with ``jax.jit``. Its inputs go through
the NumPy backend's checks, once, with the same messages (derive.inputs): each input is read on the
host (``ops.host``), checked and laid out by the compiled NumPy object (``checked``), and then given to
the library in the checked dtype (a library array keeps its device). A traced JAX value (inside the
caller's own jax.jit) has only its dtype and shape checked. Scores beyond the float range are checked
by the NumPy backend only: a traced function cannot raise on values.
"""
from __future__ import annotations

import importlib

import numpy as np

from ..errors import ArgumentError, DeriveError
from ..inputs import precision

BACKENDS = {"numpy": None, "jax": ("jax", "derive[jax]", "pip install jax jaxlib"),
            "torch": ("torch", "derive[torch]", "pip install torch==2.13.0")}
_SUPPORTED = ("per_example", "dataset", "labels", "layer")


def ops_for(backend: str):
    """The operations table of ``backend`` ('jax' or 'torch'), importing the library now."""
    if backend not in BACKENDS:
        raise ArgumentError("backend", f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    spec = BACKENDS[backend]
    assert spec is not None, "NumPy runs without an ops table: compile() never asks for one"
    library, extra, command = spec
    try:
        importlib.import_module(library)
    except ImportError:
        raise ArgumentError("backend", f"{backend!r} needs the {library} library, which is not installed: "
                                       f"pip install '{extra}' (or {command})") from None
    module = importlib.import_module(f".{backend}_ops", __name__)
    return module.OPS


def compile_backend(compiled, interface: str, backend: str) -> BackendGradient:
    """The compiled closed form ``compiled`` (a NumPy-backend object) run with ``backend``'s arrays."""
    ops = ops_for(backend)
    if interface not in _SUPPORTED:
        raise ArgumentError("backend", f"{compiled.name} (interface {interface!r}) compiles to NumPy only; "
                                       f"the {backend} backend covers the interfaces {', '.join(_SUPPORTED)}")
    return BackendGradient(compiled, interface, ops)


class BackendGradient:
    """A compiled gradient evaluated with another array library: same keywords, same checks, same result layout."""

    def __init__(self, compiled, interface: str, ops) -> None:
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

    def __call__(self, **kwargs):
        ops = self.ops
        labels = self.compiled.inputs[-1] if self.interface == "labels" else None
        call = self.compiled.checked({n: ops.host(v) for n, v in kwargs.items()},
                                     {n: precision(v) for n, v in kwargs.items()})
        names = tuple(call["arrays"])
        # one float type for every array, as NumPy's type promotion gives (float32 with float64 is float64)
        dtype = np.result_type(*(call["arrays"][n].dtype for n in names if n != labels))
        arrays = tuple(ops.from_checked(kwargs[n], call["arrays"][n], "int64" if n == labels else dtype) for n in names)
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
