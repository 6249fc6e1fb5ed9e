"""The JAX table of array operations (imported only for compile(backend="jax")). Functions are traced
with jax.jit, once per input shape; float64 follows JAX's own setting (jax_enable_x64)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ._array_ops import ArrayOps


class JaxOps(ArrayOps):
    name = "jax"
    xp = jnp

    def asarray(self, value, label: bool = False):
        if isinstance(value, jax.Array):
            return value
        a = np.asarray(value)
        if label:
            return jnp.asarray(a.astype(np.int32 if not jax.config.jax_enable_x64 else np.int64))
        return jnp.asarray(a if a.dtype in (np.float32, np.float64) else a.astype(np.float64))

    def permute(self, a, order):
        return jnp.transpose(a, order)

    def cast(self, mask):
        return mask.astype(jnp.result_type(float))

    def eye(self, n: int):
        return jnp.eye(n)

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

    def concatenate(self, arrays, axis):
        return jnp.concatenate(arrays, axis=axis)

    def ones_like(self, a):
        return jnp.ones_like(a)

    def jit(self, f):
        return jax.jit(f)


OPS = JaxOps()
