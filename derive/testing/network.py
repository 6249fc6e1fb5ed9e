"""The network layout for mlp_backprop: fn's (grads_W, grads_b) output compared layer by layer, and the
battery of layer sizes, batches and weighted-input levels."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import ArgumentError, ArgumentTypeError
from ..numeric import sigmoid, softmax
from .case import Case
from .frameworks import _array_like, _Caller, _map_arrays, _Misbehaved, _Raised, _to_numpy
from .layout import _Layout
from .network_slips import _net_bias, _net_factor, _net_reversed, _net_sigmoid_prime, _net_structure, _net_transposed
from .report import CaseFailure
from .tolerance import _allowance, _tolerance, _violations


class _Structure(Exception):
    """fn's output is not the structure the closed form returns (the message says what it is)."""

    def __init__(self, out) -> None:
        self.out = out
        super().__init__(_describe_output(out))


def _describe_output(out) -> str:
    if _array_like(out):
        return f"an array of shape {tuple(out.shape)}"
    if isinstance(out, (list, tuple)):
        inner = ", ".join("an array of shape " + str(tuple(v.shape)) if _array_like(v)
                          else (f"a {type(v).__name__} of {len(v)}" if isinstance(v, (list, tuple))
                                else type(v).__name__) for v in out[:4])
        return f"a {type(out).__name__} of {len(out)} ({inner}{', ...' if len(out) > 4 else ''})"
    return f"a {type(out).__name__}"


class _Network(_Layout):
    """Backpropagation: g(weights=[W2..WL], biases=[b2..bL], x=(N, n1), y=(N, nL)) -> (grads_W, grads_b),
    the gradients of the mean cost over the N rows; W^l has shape (n_l, n_(l-1)) and z^l = W^l a^(l-1) + b^l."""

    examples = "N"
    score = "z"
    overflow_hint = (" (or, in a hidden layer, a sigmoid written as exp(z) / (1 + exp(z)); 1 / (1 + exp(-z)) "
                     "is safe)")
    unrecognised = ("a single slip: a constant factor such as N, a transposed weight gradient, a missing or extra "
                    "sigma', a missing or unaveraged bias gradient, a wrong output structure or an overflow; "
                    "two slips at once are not told apart")
    # (layer sizes [n1, ..., nL], N): one and two hidden layers, a square weight matrix (3 x 3) so that a
    # transposed weight gradient keeps its shape, and a batch of one
    DIMS = (((3, 4, 2), 1), ((3, 4, 2), 6), ((5, 3, 3, 4), 4), ((4, 3, 3), 3))
    # (name, hidden |z|, output |z|): the weighted inputs z^l = W^l a^(l-1) + b^l of every layer are scaled to these
    LEVELS = (("small", 1e-3, 1e-3), ("moderate", 3.0, 3.0), ("saturating", 30.0, 3.0), ("large", 100.0, 100.0),
              ("extreme", 1e4, 1e4), ("equal", 3.0, None))

    def __init__(self, d, compiled) -> None:
        super().__init__(d, compiled)
        self.names = tuple(compiled.inputs)  # ('weights', 'biases', 'x', 'y')
        self.transpose_hint = ("the weight gradient laid out (n_(l-1), n_l), e.g. a_prev.T @ delta where "
                               "delta.T @ a_prev is expected: W^l has a row per unit of layer l (z = a_prev @ W.T + b)")

    # -- fn's output ---------------------------------------------------------------------------

    @staticmethod
    def convert(out):
        """fn's output as (grads_W, grads_b), two lists of NumPy arrays, or _Structure saying what it is."""
        if not isinstance(out, (list, tuple)) or len(out) != 2 or not all(isinstance(v, (list, tuple)) for v in out):
            raise _Structure(out)
        return tuple([_to_numpy(v) for v in part] for part in out)

    @staticmethod
    def parts(out) -> list:
        gW, gb = out
        return [(f"grads_W[{n}]", g) for n, g in enumerate(gW)] + [(f"grads_b[{n}]", g) for n, g in enumerate(gb)]

    def output_text(self, output: str) -> str:
        n = int(output[output.index("[") + 1:-1])
        if output.startswith("grads_W"):
            return f"dC/dW^{n + 2}, the weights into layer {n + 2}"
        return f"dC/db^{n + 2}, the biases of layer {n + 2}"

    def outputs_text(self, outputs: dict) -> str:
        wrong = [k for k, (_, _, s) in outputs.items() if s != "ok"]
        right = [k for k, (_, _, s) in outputs.items() if s == "ok"]
        return f"wrong: {', '.join(wrong)}" + (f"; right: {', '.join(right)}" if right else "; right: none")

    def _structure_text(self, got: str, case: Case) -> str:
        L = len(case.dims["sizes"]) - 1
        return (f"{got}, where a pair (grads_W, grads_b) of two lists of {L} arrays each (one per layer) is "
                f"expected")

    def compare(self, caller: _Caller, case: Case, expected, notes: list) -> Optional[CaseFailure]:
        want = self.parts(expected)
        first = want[0][1]
        try:
            got = caller(case.inputs)
        except _Misbehaved as exc:
            return CaseFailure(case, exc.kind, first, error=str(exc), written=exc.names)
        except _Structure as exc:
            return CaseFailure(case, "structure", first, error=self._structure_text(str(exc), case), returned=exc.out)
        except _Raised as exc:
            return CaseFailure(case, "raised", first, error=str(exc))
        except Exception as exc:
            return CaseFailure(case, "raised", first, error=f"{type(exc).__name__}: {exc}")
        gW, gb = got
        if len(gW) != len(expected[0]) or len(gb) != len(expected[1]):
            text = f"a pair of lists of {len(gW)} and {len(gb)} arrays"
            return CaseFailure(case, "structure", first, error=self._structure_text(text, case), returned=got)
        outputs, failures = {}, []  # failures: (CaseFailure, how far past its bound)
        for (name, E), (_, A) in zip(want, self.parts(got)):
            status = "ok"
            if A.shape != E.shape:
                status = "shape"
                failures.append((CaseFailure(case, "shape", E, A, output=name), np.inf))
            else:
                tname, rtol, atol = _tolerance(case.dtype, A.dtype)
                if tname != case.dtype and not any("lower precision" in n for n in notes):
                    notes.append(f"fn returned {A.dtype} for {case.dtype} inputs (JAX without jax_enable_x64?): "
                                 f"compared with the {tname} tolerance, the lower precision")
                bad, ratio, bound = _violations(A, E, rtol, atol, _allowance(case, tname))
                if bad.any():
                    status = "non-finite" if not np.all(np.isfinite(A)) else "mismatch"
                    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
                    failures.append((CaseFailure(case, status, E, A, worst, float(A[worst]), float(E[worst]),
                                                 float(bound[worst]), tolerance=(tname, rtol, atol), output=name),
                                     float(ratio[worst])))
            outputs[name] = (A, E, status)
        if not failures:
            return None
        # the one shown: a wrong shape first, then inf or nan, then the largest violation
        order = {"shape": 0, "non-finite": 1, "mismatch": 2}
        shown = min(failures, key=lambda fr: (order[fr[0].kind], -fr[1]))[0]
        shown.outputs = outputs
        return shown

    # -- the battery ---------------------------------------------------------------------------

    def battery(self, rng, fixed: dict) -> list:
        fixed = {k: self._pinned(k, v) for k, v in fixed.items()}
        dims = self._dims(fixed)
        levels: tuple = self.LEVELS
        if "weights" in fixed:
            levels = (("pinned", None, None),)  # the weighted inputs follow from the given weights
        elif "biases" in fixed:
            levels = tuple(v for v in levels if v[2] is not None)  # equal output scores need equal biases
        cases, n = [], 0
        for dtype in ("float64", "float32"):
            for sizes, N in dims:
                for level, hidden, output in levels:
                    inputs = self.make(rng, sizes, N, hidden, output, fixed)
                    inputs = {k: _map_arrays(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a, v)
                              for k, v in inputs.items()}
                    scores = self.scores(inputs)
                    top = max(float(np.max(np.abs(z))) for z in scores)
                    n += 1
                    cases.append(Case(n, dtype, self.label(level, scores), inputs, dict(sizes=list(sizes), N=N),
                                      top, self.gain(inputs)))
        if fixed:  # pinned inputs that do not fit together: an error naming them, not a battery of skipped cases
            self.compiled(**cases[0].inputs)
        return cases

    def _pinned(self, name: str, value):
        if type(value).__module__.split(".")[0] in ("torch", "jax", "jaxlib"):
            value = _to_numpy(value)
        if name in ("weights", "biases"):
            if not isinstance(value, (list, tuple)) or not value:
                raise ArgumentTypeError(name, f"a pinned {name} must be a non-empty list of arrays, one per layer")
            value = [_to_numpy(v) for v in value]
            ndim = 2 if name == "weights" else 1
            for i, v in enumerate(value):
                if v.ndim != ndim:
                    raise ArgumentError(f"{name}[{i}]", f"must be {ndim}-d, got shape {v.shape}")
            return value
        value = _to_numpy(value)
        if value.ndim != 2:
            raise ArgumentError(name, f"a pinned {name} must have shape (N, n), got {value.shape}")
        return value

    @staticmethod
    def _fits(fixed: dict) -> None:
        """Pinned inputs must fit together; an error names the first that does not."""
        W, b, x, y = (fixed.get(k) for k in ("weights", "biases", "x", "y"))
        widths = [w.shape[0] for w in W] if W is not None else ([v.shape[0] for v in b] if b is not None else None)
        if W is not None:
            for n in range(1, len(W)):
                if W[n].shape[1] != W[n - 1].shape[0]:
                    raise ArgumentError(f"weights[{n}]", f"must have {W[n - 1].shape[0]} columns (the previous "
                                                         f"layer's width), got shape {W[n].shape}")
            if b is not None and [v.shape[0] for v in b] != widths:
                raise ArgumentError("biases", f"must be {len(W)} vectors of lengths {widths} to match the weights, "
                                              f"got shapes {[v.shape for v in b]}")
        if x is not None and W is not None and x.shape[1] != W[0].shape[1]:
            raise ArgumentError("x", f"must have {W[0].shape[1]} columns (the first layer's width), got {x.shape}")
        if y is not None:
            if widths is not None and y.shape[1] != widths[-1]:
                raise ArgumentError("y", f"must have {widths[-1]} columns (the output layer's width), got {y.shape}")
            if x is not None and y.shape[0] != x.shape[0]:
                raise ArgumentError("y", f"must have a row per row of x ({x.shape[0]}), got {y.shape}")

    def _dims(self, fixed: dict) -> list:
        self._fits(fixed)
        dims = [(list(s), N) for s, N in self.DIMS]
        if "weights" in fixed:
            W = fixed["weights"]
            dims = [([W[0].shape[1]] + [w.shape[0] for w in W], N) for _, N in dims]
        elif "biases" in fixed:
            b = fixed["biases"]
            dims = [([s[0]] + [v.shape[0] for v in b], N) for s, N in dims]
        if "x" in fixed:
            dims = [([fixed["x"].shape[1]] + s[1:], fixed["x"].shape[0]) for s, _ in dims]
        if "y" in fixed:
            dims = [(s[:-1] + [fixed["y"].shape[1]], fixed["y"].shape[0]) for s, _ in dims]
        out: list = []
        for s, N in dims:
            if (tuple(s), N) not in [(tuple(a), b) for a, b in out]:
                out.append((s, N))
        return [(tuple(s), N) for s, N in out]

    def make(self, rng, sizes, N, hidden, output, fixed) -> dict:
        """Inputs with each layer's weighted inputs scaled to |z| up to ``hidden`` (``output`` at the softmax;
        None: equal scores in each row), computed forwards in float64."""
        x = fixed["x"].astype(np.float64) if "x" in fixed else rng.normal(size=(N, sizes[0]))
        weights, biases = [], []
        a = x
        L = len(sizes) - 1
        for n in range(L):
            last = n == L - 1
            target = output if last else hidden
            W = rng.normal(size=(sizes[n + 1], sizes[n]))
            b = rng.normal(size=sizes[n + 1])
            if last and target is None:  # every unit of the softmax gets the same score
                W, b = np.repeat(W[:1], sizes[n + 1], axis=0), np.full(sizes[n + 1], b[0])
                target = 3.0
            if "weights" in fixed:
                W = fixed["weights"][n].astype(np.float64)
            if "biases" in fixed:
                b = fixed["biases"][n].astype(np.float64)
            z = a @ W.T + b
            if target is not None and "weights" not in fixed:
                s = float(np.max(np.abs(z)))
                scale = target / s if s > 0 else 1.0
                W = W * scale
                if "biases" not in fixed:
                    b = b * scale
                z = a @ W.T + b
            weights.append(W)
            biases.append(b)
            a = softmax(z) if last else sigmoid(z)
        labels = rng.integers(0, sizes[-1], size=N)
        labels[0] = sizes[-1] - 1  # the edge classes
        if N > 1:
            labels[1] = 0
        y = np.asarray(fixed["y"], np.float64) if "y" in fixed else np.eye(sizes[-1])[labels]
        return {"weights": weights, "biases": biases, "x": x, "y": y}

    @staticmethod
    def scores(inputs) -> list:
        """Each layer's weighted inputs z^l, in float64."""
        out, a = [], np.asarray(inputs["x"], np.float64)
        W = inputs["weights"]
        for n, (w, b) in enumerate(zip(W, inputs["biases"])):
            z = a @ np.asarray(w, np.float64).T + np.asarray(b, np.float64)
            out.append(z)
            a = softmax(z) if n == len(W) - 1 else sigmoid(z)
        return out

    def gain(self, inputs) -> float:
        return 1.0

    @staticmethod
    def label(level: str, scores: list) -> str:  # type: ignore[override]  # the network's battery labels by level
        hidden = max((float(np.max(np.abs(z))) for z in scores[:-1]), default=0.0)
        output = float(np.max(np.abs(scores[-1])))
        text = {"small": "small", "moderate": "moderate", "saturating": "saturating sigmoids,",
                "large": "large", "extreme": "extreme", "equal": "equal output scores in each row,",
                "pinned": "the given"}[level]
        if len(scores) == 1:
            return f"{text} |z| up to {output:.3g} (no hidden layer)"
        return f"{text} |z| up to {hidden:.3g} in the hidden layers, {output:.3g} at the output"

    def coverage(self, cases) -> str:
        sizes = list(dict.fromkeys(str(c.dims["sizes"]) for c in cases))
        Ns = sorted({c.dims["N"] for c in cases})
        dtypes = sorted({c.dtype for c in cases})
        return (f"{' and '.join(dtypes)}, layer sizes {', '.join(sizes)}, N in {Ns}, |z| from "
                f"{min(c.scale for c in cases if c.scale > 0):.2g} to {max(c.scale for c in cases):.2g}, "
                f"saturating sigmoids, equal output scores, one-hot targets")

    def show(self, case: Case, index) -> list:
        x, y = case.inputs["x"], case.inputs["y"]
        scores = self.scores(case.inputs)
        zs = ", ".join(f"layer {n + 2} {float(np.max(np.abs(z))):.3g}" for n, z in enumerate(scores))
        return [f"layer sizes {case.dims['sizes']}: weights shapes {[tuple(w.shape) for w in case.inputs['weights']]}, "
                f"x {x.shape}, y {y.shape} (one-hot, classes {np.argmax(y, axis=1).tolist()[:12]})",
                f"max |z| per layer: {zs}"]

    # -- the likely cause ----------------------------------------------------------------------

    def checks(self) -> tuple:
        return (_net_structure, _net_reversed, _net_transposed, _net_factor, _net_bias, _net_sigmoid_prime)

    def factors(self, case: Case) -> list:
        N = case.dims["N"]
        return [("N", float(N)), ("1/N", 1.0 / N), ("-1", -1.0)] if N > 1 else [("-1", -1.0)]
