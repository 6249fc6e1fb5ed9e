"""The per-example layout: g(z=(N, K), y=(N, K), ..., scalars), one example per row, and its battery."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import ArgumentError
from .case import Case
from .layout import _Layout
from .slips import _factor_common


class _PerExample(_Layout):
    """g(z=(N, K), y=(N, K), ..., scalars) -> (N, K) or (N, K, K): one example per row."""

    examples = "N"

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.arrays = tuple(compiled.arrays)
        self.names = tuple(compiled.inputs)
        self.logits = self.arrays[0]
        self.score = self.logits
        self.targets = tuple(a for a in self.arrays[1:] if self.domains.get(a) in ("simplex", "one_hot", "unit"))
        self.transpose_hint = "the class and example axes are swapped (e.g. a (K, N) layout with examples as columns)"

    def scalars(self) -> tuple:
        return tuple(self.compiled.scalars)

    def logit_inputs(self) -> tuple:
        return (self.logits,)

    def target_names(self) -> tuple:
        return self.targets

    def target_kinds(self) -> tuple:
        if not self.targets:
            return ("",)
        if all(self.domains.get(t) == "one_hot" for t in self.targets):
            return ("one-hot",)
        return ("one-hot", "soft")

    def _dims(self, fixed) -> list:
        dims = [(1, 2), (4, 3), (3, 3), (6, 10)]
        for k, v in fixed.items():
            if isinstance(v, np.ndarray) and k in self.arrays:
                if v.ndim != 2:
                    raise ArgumentError(k, f"a pinned array must have shape (N, K), got {v.shape}")
                dims = [v.shape]
        if self.K is not None:
            dims = [(n, self.K) for n, _ in dims]
        return [dict(N=n, K=k) for n, k in dict.fromkeys(dims)]

    def make(self, rng, dims, logits, scale, targets, dtype) -> tuple:
        N, K = dims["N"], dims["K"]
        inputs = {}
        if logits == "equal":
            z = np.repeat(np.array([0.0, 1e4, -1e4, 2.5, -7.0, 30.0])[np.arange(N) % 6, None], K, axis=1)
        else:
            z = rng.normal(size=(N, K))
            z = z / np.max(np.abs(z), axis=1, keepdims=True) * scale
            if logits == "extreme" and K >= 3:
                z[0, :3] = [1e4, -1e4, 0.0]
        inputs[self.logits] = z.astype(dtype)
        for a in self.arrays[1:]:
            kind = self.domains.get(a, "real")
            if a in self.targets and (targets == "one-hot" or kind == "one_hot"):
                v = np.eye(K)[rng.integers(0, K, size=N)]
            elif kind == "simplex":
                v = rng.dirichlet(np.ones(K), size=N)
            elif kind in ("unit", "positive"):
                v = rng.uniform(0.05, 1.0, size=(N, K))
            else:
                v = rng.normal(size=(N, K))
            inputs[a] = v.astype(dtype)
        return inputs, float(np.max(np.abs(z)))

    def top_score(self, inputs) -> float:
        return float(np.max(np.abs(inputs[self.logits])))

    def class_axes(self, ndim: int) -> tuple:
        return tuple(range(1, ndim))

    def shift(self, inputs, by: int) -> Optional[dict]:
        if not self.targets:
            return None
        out = dict(inputs)
        for t in self.targets:
            out[t] = np.roll(inputs[t], -by, axis=-1)
        return out

    def shift_text(self, by: int) -> str:
        t = self.targets[0]
        return (f"the targets are read one class off: class k uses {t}[k {'+' if by > 0 else '-'} 1] "
                f"(an index slip, e.g. 1-based class indices)")

    def factor_text(self, name: str, case: Case, c: float) -> str:
        N = case.dims["N"]
        texts = {
            "1/N": f"the output is the expected gradient divided by N = {N}, the number of rows, in every failing "
                   f"case: a mean over the batch where the derivation gives each row's gradient (the gradient of "
                   f"the sum over rows): sum against mean",
            "N": f"the output is the expected gradient times N = {N}, the number of rows: a sum over the batch "
                 f"where each row's own gradient is expected: sum against mean",
        }
        return texts.get(name) or _factor_common(name, c, case)

    def show(self, case: Case, index) -> list:
        if index is None:
            return [f"{k}: shape {v.shape}" if isinstance(v, np.ndarray) else f"{k} = {v}"
                    for k, v in case.inputs.items()]
        row = index[0]
        out = []
        for k, v in case.inputs.items():
            if isinstance(v, np.ndarray):
                out.append(f"{k}[{row}] = {np.array2string(v[row], precision=5, max_line_width=10**6)}")
        return out
