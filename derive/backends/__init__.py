"""Optional array libraries for compiled closed forms: the same tensor program run with JAX or PyTorch.

``compile(backend="jax")`` and ``compile(backend="torch")`` evaluate the derivation's own program
(derive.tensor) with that library's arrays, so the backends differ only in the table of array
operations (``ops``) the interpreter calls. The libraries are imported here, lazily, only when a
backend is asked for: ``import derive`` never imports them.

A backend function takes and returns the library's arrays (NumPy arrays are converted); the JAX one
is traced once per input shape with ``jax.jit``. The boundary checks (shapes, finite inputs,
normalised targets, overflow) are the NumPy backend's: a traced function cannot raise on values, so
these functions check shapes only.
"""
from __future__ import annotations

import importlib

from ..compile import _matrix, _per_example
from ..errors import ArgumentError
from ..tensor import BATCH

BACKENDS = {"numpy": None, "jax": ("jax", "derive[jax]", "pip install jax jaxlib"),
            "torch": ("torch", "derive[torch]", "pip install torch==2.13.0")}
_SUPPORTED = ("per_example", "dataset", "labels", "layer")


def ops_for(backend: str):
    """The operations table of ``backend`` ('jax' or 'torch'), importing the library now."""
    if backend not in BACKENDS:
        raise ArgumentError("backend", f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    library, extra, command = BACKENDS[backend]
    try:
        importlib.import_module(library)
    except ImportError:
        raise ArgumentError("backend", f"{backend!r} needs the {library} library, which is not installed: "
                                       f"pip install '{extra}' (or {command})") from None
    module = importlib.import_module(f".{backend}_ops", __name__)
    return module.OPS


def compile_backend(compiled, interface: str, backend: str):
    """The compiled closed form ``compiled`` (a NumPy-backend object) run with ``backend``'s arrays."""
    ops = ops_for(backend)
    if interface not in _SUPPORTED:
        raise ArgumentError("backend", f"{compiled.name} (interface {interface!r}) compiles to NumPy only; "
                                       f"the {backend} backend covers the interfaces {', '.join(_SUPPORTED)}")
    return BackendGradient(compiled, interface, ops)


class BackendGradient:
    """A compiled gradient evaluated with another array library: same keywords, same result layout."""

    def __init__(self, compiled, interface: str, ops) -> None:
        self.compiled, self.interface, self.ops = compiled, interface, ops
        self.name = compiled.name
        self.backend = ops.name
        self._run = ops.jit(self._evaluate)

    inputs = property(lambda self: self.compiled.inputs)
    source = property(lambda self: self.compiled.source)

    def __repr__(self) -> str:
        return repr(self.compiled)[:-1] + f" [{self.backend}]>"

    def __call__(self, **kwargs):
        from ..compile import check_names
        check_names(self.name, kwargs, self.inputs)
        arrays = [self.ops.asarray(kwargs[n], label=(self.interface == "labels" and n == self.inputs[-1]))
                  for n in self.inputs]
        self._check_shapes(arrays)
        return self._run(*arrays)

    def _check_shapes(self, arrays) -> None:
        c = self.compiled
        if self.interface == "per_example":
            shapes = {n: tuple(a.shape) for n, a in zip(c.arrays, arrays)}
            first = c.arrays[0]
            for n, shape in shapes.items():
                if shape != shapes[first]:
                    raise ArgumentError(n, f"shape {shape} does not match {first}'s shape {shapes[first]}")
            if c.K is not None and shapes[first][-1] != c.K:
                raise ArgumentError(first, f"the last axis must have K = {c.K} classes, got shape {shapes[first]}")

    def _evaluate(self, *arrays):
        """The pure function of the arrays that the library traces (jax.jit) or runs."""
        c, ops = self.compiled, self.ops
        kwargs = dict(zip(self.inputs, arrays))
        if self.interface == "per_example":
            tensors = {n: _per_example(kwargs[n], ops.moveaxis) for n in c.arrays}
            tensors.update({s: kwargs[s] for s in c.scalars})
            if c.classes is not None:
                tensors[c.classes] = kwargs[c.arrays[0]].shape[-1]
            out = c._evaluate(tensors, ops, dict.fromkeys(c.free, kwargs[c.arrays[0]].shape[-1]))
            return ops.moveaxis(out.array, out.axes.index(BATCH), 0) if BATCH in out.axes else out.array
        if self.interface == "dataset":
            theta, X, Y = (kwargs[n] for n in c.names)
            X1 = ops.concatenate([ops.ones_like(X[:, :1]), X], axis=1)
            Tn, Xn, Yn = c.bases
            return c._evaluate({Tn: _matrix(theta), Xn: _matrix(X1), Yn: _matrix(Y)}, ops).array
        if self.interface == "labels":
            W, X, labels = (kwargs[n] for n in c.names)
            Wb, Xb, Lb = c.bases
            return c._evaluate({Wb: _matrix(W), Xb: _matrix(X), Lb: _matrix(labels + 1)}, ops).array
        shared = kwargs[c.variable]  # layer
        tensors = {c.variable: _matrix(shared)}
        tensors.update({n: _per_example(kwargs[n], ops.moveaxis) for n in c.arrays if n != c.variable})
        tensors.update({s: kwargs[s] for s in c.scalars})
        if c.classes is not None:
            tensors[c.classes] = shared.shape[0]
        return c._evaluate(tensors, ops).array
