"""Calling fn in its framework: NumPy, PyTorch or JAX inputs in, NumPy out; never imports a framework
fn does not already use."""
from __future__ import annotations

import sys
import threading
import warnings
from typing import Any, Callable, Optional

import numpy as np

FRAMEWORKS = ("auto", "numpy", "torch", "jax")


class _Caller:
    """Calls fn with NumPy, torch or jax inputs and returns NumPy; with 'auto' the first framework that works."""

    def __init__(self, fn: Callable, framework: str, convert: Optional[Callable] = None) -> None:
        self.fn = fn
        self.framework = None if framework == "auto" else framework
        self.convert = convert or _to_numpy  # fn's output -> NumPy (an array, or the layout's structure)
        self.limit: Optional[float] = None  # seconds one call may take; None: no bound

    def __call__(self, inputs: dict):
        if self.framework is not None:
            return self.convert(self._call(self.framework, inputs))
        errors = []
        for name in ("numpy", "torch", "jax"):
            if name != "numpy" and name not in sys.modules:
                continue  # never import a framework fn does not already use
            try:
                out = self._call(name, inputs)
            except _Misbehaved:  # a hang or a write into the inputs is fn's, whatever the framework
                raise
            except Exception as exc:  # try the next framework; report them all if none works
                errors.append(f"{type(exc).__name__}: {exc}" + (f" (with {name} inputs)" if name != "numpy" else ""))
                continue
            self.framework = name
            return self.convert(out)
        raise _Raised("; ".join(errors))

    def _call(self, framework: str, inputs: dict):
        if framework == "torch":
            import torch
            to: Callable = torch.from_numpy  # shares memory with the copy, so a write into it shows there
        elif framework == "jax":
            import jax.numpy as jnp
            to = jnp.asarray
        else:
            to = _same
        copies = {k: _map_arrays(np.copy, v) for k, v in inputs.items()}  # fn may write into its arguments
        args = {k: _map_arrays(to, v) for k, v in copies.items()}

        def call():
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # overflow in a naive softmax is what we report
                return self.fn(**args)

        out = _bounded(call, self.limit)
        written = [k for k in inputs if not _equal(inputs[k], copies[k])]
        if written:
            raise _Mutated(f"fn wrote into its input{'s' if len(written) > 1 else ''} {', '.join(written)} "
                           f"(with {framework} inputs)", written)
        return out


class _Misbehaved(Exception):
    """fn did something a gradient function must not: ``kind`` is 'timeout' or 'mutated'."""

    kind = ""
    names: tuple = ()  # the inputs fn wrote into


class _TimedOut(_Misbehaved):
    kind = "timeout"


class _Mutated(_Misbehaved):
    kind = "mutated"

    def __init__(self, text: str, names: list) -> None:
        super().__init__(text)
        self.names = tuple(names)


def _bounded(call: Callable[[], Any], limit: Optional[float]):
    """call(), in a thread of its own when ``limit`` is set; _TimedOut when it has not returned by then.

    A Python thread cannot be stopped: the call that timed out goes on in a daemon thread, which ends
    with the process; check_gradient calls fn no more after it.
    """
    if limit is None:
        return call()
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name="derive.testing: fn", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise _TimedOut(f"fn did not return within {limit:.3g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _same(a):
    return a


def _equal(before, after) -> bool:
    """Whether an input (an array, or a list of arrays) is unchanged by the call."""
    if isinstance(before, np.ndarray):
        return before.shape == after.shape and bool(np.array_equal(before, after, equal_nan=before.dtype.kind == "f"))
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(_equal(b, a) for b, a in zip(before, after))
    return True


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
