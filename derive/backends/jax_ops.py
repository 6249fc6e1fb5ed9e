"""The JAX table of array operations (imported only for compile(backend="jax")). Functions are traced
with jax.jit, once per input shape; float64 follows JAX's own setting (jax_enable_x64)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..inputs import Unseen
from .ops import Ops


class JaxOps(Ops):
    name = "jax"
    xp = jnp

    def host(self, value):
        if isinstance(value, jax.core.Tracer):  # inside the caller's own jit: no values to read
            return Unseen(tuple(value.shape), np.dtype(value.dtype))
        if not isinstance(value, jax.Array):
            return value
        if value.dtype == jnp.bfloat16:
            value = value.astype(jnp.float32)
        return np.asarray(value)

    def from_checked(self, value, checked, dtype):
        dtype = jax.dtypes.canonicalize_dtype(np.dtype(dtype))  # float32 (int32) unless jax_enable_x64
        if isinstance(value, jax.Array):
            return value if value.dtype == dtype else value.astype(dtype)
        return jnp.asarray(np.asarray(checked).astype(dtype))

    def permute(self, a, order):
        return jnp.transpose(a, order)

    def cast(self, mask):
        return mask.astype(jnp.result_type(float))

    def softmax(self, a):
        return jax.nn.softmax(a, axis=-1)

    def log_softmax(self, a):
        return jax.nn.log_softmax(a, axis=-1)

    def sigmoid(self, a):
        return jax.nn.sigmoid(a)

    def rowmax(self, a):
        return jnp.max(a, axis=-1, keepdims=True)

    def rowsum(self, a):
        return jnp.sum(a, axis=-1, keepdims=True)

    def jit(self, f):
        return jax.jit(f)


OPS = JaxOps()
