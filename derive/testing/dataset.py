"""The dataset layouts: softmax regression's g(theta, x, y) and integer labels' g(w, x, label), summed over
the examples, and their batteries."""
from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from .case import Case
from .layout import _Layout
from .report import CaseFailure
from .slips import _factor_common


class _Dataset(_Layout):
    """Softmax regression: g(theta=(K, n+1), x=(m, n), y=(m, K)) -> (K, n+1), summed over the m examples."""

    examples = "m"
    score = "theta . x"

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.names = tuple(compiled.inputs)
        self.transpose_hint = ("the parameter gradient has its class axis last, e.g. X.T @ (H - Y) where "
                               "(H - Y).T @ X is expected")

    def logit_inputs(self) -> tuple:
        return (self.names[0],)

    def _dims(self, fixed) -> list:
        t, x, y = self.names
        dims = [(1, 1, 2), (5, 2, 3), (8, 4, 5)]
        if self.K is not None:
            dims = [(m, n, self.K) for m, n, _ in dims]
        for k, v in fixed.items():
            if v.ndim != 2:
                raise ArgumentError(k, f"a pinned array must be 2-d, got shape {v.shape}")
            if k == t:
                dims = [(m, v.shape[1] - 1, v.shape[0]) for m, _, _ in dims]
            elif k == x:
                dims = [(v.shape[0], v.shape[1], K) for _, _, K in dims]
            elif k == y:
                dims = [(v.shape[0], n, v.shape[1]) for _, n, _ in dims]
        return [dict(m=m, n=n, K=K) for m, n, K in dict.fromkeys(dims)]

    def _params(self, rng, K, cols, logits, scale, X1) -> np.ndarray:
        if logits == "equal":
            W = np.repeat(rng.normal(size=(1, cols)), K, axis=0)
        else:
            W = rng.normal(size=(K, cols))
        s = np.max(np.abs(X1 @ W.T))
        target = 3.0 if logits == "equal" else scale
        return W * (target / s if s > 0 else 1.0)

    def make(self, rng, dims, logits, scale, targets, dtype) -> tuple:
        t, x, y = self.names
        m, n, K = dims["m"], dims["n"], dims["K"]
        X = rng.normal(size=(m, n))
        X1 = np.concatenate([np.ones((m, 1)), X], axis=1)
        theta = self._params(rng, K, n + 1, logits, scale, X1)
        Y = np.eye(K)[rng.integers(0, K, size=m)] if targets == "one-hot" else rng.dirichlet(np.ones(K), size=m)
        inputs = {t: theta.astype(dtype), x: X.astype(dtype), y: Y.astype(dtype)}
        return inputs, self.top_score(inputs)

    def gain(self, inputs) -> float:
        x = np.asarray(inputs[self.names[1]], np.float64)
        return float(max(x.shape[0], np.max(np.sum(np.abs(x), axis=0), initial=0.0)))

    def top_score(self, inputs) -> float:
        t, x, _ = self.names
        X1 = np.concatenate([np.ones((inputs[x].shape[0], 1)), inputs[x]], axis=1)
        return float(np.max(np.abs(X1 @ np.asarray(inputs[t], dtype=np.float64).T)))

    def class_axes(self, ndim: int) -> tuple:
        return (0,)

    def shift(self, inputs, by: int) -> dict:
        y = self.names[2]
        return {**inputs, y: np.roll(inputs[y], -by, axis=-1)}

    def shift_text(self, by: int) -> str:
        return (f"the targets are read one class off: class k uses {self.names[2]}[:, k {'+' if by > 0 else '-'} 1] "
                f"(an index slip, e.g. 1-based class indices)")

    def factor_text(self, name: str, case: Case, c: float) -> str:
        m = case.dims["m"]
        if name == "1/N":
            return (f"the output is the expected gradient divided by m = {m}, the number of examples, in every "
                    f"failing case: a mean over the examples where the derivation sums them: sum against mean")
        if name == "N":
            return (f"the output is the expected gradient times m = {m}, the number of examples: sum against mean")
        return _factor_common(name, c, case)

    def shape_text(self, f: CaseFailure) -> str:
        return f"(K, n+1) = {f.expected.shape}"

    def show(self, case: Case, index) -> list:
        return [f"{k}: shape {v.shape}, " + (f"entries {np.array2string(v.ravel()[:6], precision=4)}"
                                            + ("..." if v.size > 6 else ""))
                for k, v in case.inputs.items()]


class _Labels(_Dataset):
    """Integer labels: g(w=(K, n), x=(m, n), label=(m,)) -> (K, n), summed over the m examples."""

    score = "w . x"

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.transpose_hint = ("the weight gradient has its class axis last, e.g. X.T @ (P - Y) where "
                               "(P - Y).T @ X is expected")

    def target_kinds(self) -> tuple:
        return ("",)

    def _dims(self, fixed) -> list:
        w, x, label = self.names
        dims = [(1, 2, 2), (5, 3, 4), (6, 3, 3), (8, 5, 10)]
        if self.K is not None:
            dims = [(m, n, self.K) for m, n, _ in dims]
        for k, v in fixed.items():
            if k == w:
                dims = [(m, v.shape[1], v.shape[0]) for m, _, _ in dims]
            elif k == x:
                dims = [(v.shape[0], v.shape[1], K) for _, _, K in dims]
            elif k == label:
                dims = [(v.shape[0], n, K) for _, n, K in dims]
        return [dict(m=m, n=n, K=K) for m, n, K in dict.fromkeys(dims)]

    def make(self, rng, dims, logits, scale, targets, dtype) -> tuple:
        w, x, label = self.names
        m, n, K = dims["m"], dims["n"], dims["K"]
        X = rng.normal(size=(m, n))
        W = self._params(rng, K, n, logits, scale, X)
        labels = rng.integers(0, K, size=m)
        labels[0] = K - 1  # the edge classes are where index slips show
        if m > 1:
            labels[1] = 0
        inputs = {w: W.astype(dtype), x: X.astype(dtype), label: labels.astype(np.int64)}
        return inputs, self.top_score(inputs)

    def top_score(self, inputs) -> float:
        w, x, _ = self.names
        return float(np.max(np.abs(np.asarray(inputs[x], np.float64) @ np.asarray(inputs[w], np.float64).T)))

    def shift(self, inputs, by: int) -> dict:
        w, _, label = self.names
        K = inputs[w].shape[0]
        return {**inputs, label: (inputs[label] + by) % K}

    def shift_text(self, by: int) -> str:
        how = "label + 1" if by > 0 else "label - 1 (the labels taken as 1-based)"
        return (f"the labels are read one class off: the one-hot 1 goes to class {how} instead of class label "
                f"(an index slip, off by one class)")

    def shape_text(self, f: CaseFailure) -> str:
        return f"(K, n) = {f.expected.shape}"
