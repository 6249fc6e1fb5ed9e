"""Calling fn in its framework: NumPy, PyTorch or JAX inputs in, NumPy out; never imports a framework
fn does not already use."""
from __future__ import annotations

import sys
import warnings
from typing import Callable, Optional

import numpy as np

FRAMEWORKS = ("auto", "numpy", "torch", "jax")


class _Caller:
    """Calls fn with NumPy, torch or jax inputs and returns NumPy; with 'auto' the first framework that works."""

    def __init__(self, fn: Callable, framework: str, convert: Optional[Callable] = None) -> None:
        self.fn = fn
        self.framework = None if framework == "auto" else framework
        self.convert = convert or _to_numpy  # fn's output -> NumPy (an array, or the layout's structure)

    def __call__(self, inputs: dict):
        if self.framework is not None:
            return self.convert(self._call(self.framework, inputs))
        errors = []
        for name in ("numpy", "torch", "jax"):
            if name != "numpy" and name not in sys.modules:
                continue  # never import a framework fn does not already use
            try:
                out = self._call(name, inputs)
            except Exception as exc:  # try the next framework; report them all if none works
                errors.append(f"{type(exc).__name__}: {exc}" + (f" (with {name} inputs)" if name != "numpy" else ""))
                continue
            self.framework = name
            return self.convert(out)
        raise _Raised("; ".join(errors))

    def _call(self, framework: str, inputs: dict):
        if framework == "torch":
            import torch
            to = torch.from_numpy
        elif framework == "jax":
            import jax.numpy as jnp
            to = jnp.asarray
        else:
            to = np.copy  # fn may write into its arguments
        args = {k: _map_arrays(to, v) for k, v in inputs.items()}
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a naive softmax is what we report
            return self.fn(**args)


def _map_arrays(to: Callable, value):
    """``to`` applied to each array in ``value`` (an array, or a list of arrays such as mlp_backprop's weights)."""
    if isinstance(value, np.ndarray):
        return to(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_arrays(to, v) for v in value)
    return value


class _Raised(Exception):
    pass


def _to_numpy(out) -> np.ndarray:
    if type(out).__module__.split(".")[0] == "torch" and hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    a = np.asarray(out)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"fn returned {type(out).__name__} of dtype {a.dtype}, not an array of real numbers")
    return a


def _array_like(v) -> bool:
    return isinstance(v, np.ndarray) or (hasattr(v, "shape") and hasattr(v, "dtype"))
