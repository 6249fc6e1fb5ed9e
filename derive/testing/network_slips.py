"""The likely-cause checks for mlp_backprop: a wrong output structure, reversed layers, a transposed
weight gradient, a batch factor, a missing or extra sigma', a wrong bias gradient."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .backprop import _backprop
from .frameworks import _array_like
from .tolerance import _close


def _layers(outputs) -> list:
    return sorted({int(k[k.index("[") + 1:-1]) + 2 for k, (_, _, s) in outputs.items() if s != "ok"})


def _layer_list(layers) -> str:
    layers = list(layers)
    if len(layers) == 1:
        return f"layer {layers[0]}"
    return "layers " + ", ".join(map(str, layers[:-1])) + f" and {layers[-1]}"


def _net_structure(failures, compiled, layout) -> Optional[str]:
    """A wrong container: only the weight gradients, a flat list, lists of the wrong length."""
    structure = [f for f in failures if f.kind == "structure"]
    if not structure:
        return None
    f = structure[0]
    sizes = f.case.dims["sizes"]
    L = len(sizes) - 1
    got = f.returned
    w_shapes = [(sizes[n + 1], sizes[n]) for n in range(L)]
    b_shapes = [(sizes[n + 1],) for n in range(L)]
    if isinstance(got, (list, tuple)) and len(got) == L and all(_array_like(v) for v in got):
        shapes = [tuple(v.shape) for v in got]
        if all(s in (w, w[::-1]) for s, w in zip(shapes, w_shapes)):
            return (f"the bias gradients are missing: fn returned only the {L} weight gradients (shapes {shapes}) "
                    f"where the pair (grads_W, grads_b) is expected; return grads_W, grads_b with "
                    f"grads_b[l] = the mean over the batch of delta^l (BP3)")
    if isinstance(got, (list, tuple)) and len(got) == 2 and isinstance(got[0], (list, tuple)) and (
            got[1] is None or (isinstance(got[1], (list, tuple)) and len(got[1]) < L)):
        return ("the bias gradients are missing (grads_b is None or too short): return grads_b with one vector "
                "per layer, grads_b[l] = the mean over the batch of delta^l (BP3)")
    if isinstance(got, (list, tuple)) and len(got) == 2 * L and all(_array_like(v) for v in got):
        return (f"fn returned one flat list of {2 * L} arrays; return two lists, (grads_W, grads_b), as the closed "
                f"form does (shapes {w_shapes} and {b_shapes})")
    return (f"fn's output is not the structure of the closed form: {f.error} (shapes {w_shapes} and {b_shapes})")


def _net_reversed(failures, compiled, layout) -> Optional[str]:
    """The per-layer lists in reverse order (appended in the backward loop and never reversed)."""
    for f in failures:
        if not f.outputs:
            return None
        for prefix in ("grads_W", "grads_b"):
            pairs = [(A, E) for k, (A, E, _) in f.outputs.items() if k.startswith(prefix)]
            got, want = [A for A, _ in pairs][::-1], [E for _, E in pairs]
            if not all(A.shape == E.shape and _close(A, E, f.case) for A, E in zip(got, want)):
                return None
    return ("the layers are in reverse order: grads_W[0] and grads_b[0] hold the output layer's gradients; "
            "the closed form lists them from the first layer (W2, b2) to the output layer (WL, bL), like "
            "weights and biases: reverse the lists built in the backward pass (or insert at the front)")


def _net_transposed(failures, compiled, layout) -> Optional[str]:
    """Every wrong output is a weight gradient equal to the expected one transposed."""
    layers = set()
    for f in failures:
        if not f.outputs:
            return None
        for name, (A, E, status) in f.outputs.items():
            if status == "ok":
                continue
            if not name.startswith("grads_W") or not (A.shape == E.T.shape and _close(A, E.T, f.case)):
                return None
            layers.add(int(name[name.index("[") + 1:-1]) + 2)
    if not layers:
        return None
    which = sorted(layers)
    return (f"transposed weight gradient: grads_W for {_layer_list(which)} is the expected dC/dW^l transposed "
            f"(in shape, or in values where W^l is square), the bias gradients match; {layout.transpose_hint}")


def _net_factor(failures, compiled, layout) -> Optional[str]:
    """Every output off by one constant: N (a sum over the batch for the mean), 1/N, -1."""
    readings, explained = None, []
    for f in failures:
        if not f.outputs or any(A.shape != E.shape or not np.all(np.isfinite(A)) for A, E, _ in f.outputs.values()):
            return None
        E = np.concatenate([e.ravel() for _, e, _ in f.outputs.values()]).astype(np.float64)
        A = np.concatenate([a.ravel() for a, _, _ in f.outputs.values()]).astype(np.float64)
        denom = float(E @ E)
        if denom == 0:
            return None
        c = float(A @ E) / denom
        if not all(_close(a, (c * e).astype(a.dtype), f.case, slack=100.0) for a, e, _ in f.outputs.values()):
            return None
        names = {name for name, v in layout.factors(f.case) if abs(c - v) <= 1e-3 * abs(v)}
        readings = names if readings is None else readings & names
        explained.append((f, c))
    f, c = explained[0]
    N = f.case.dims["N"]
    if readings == {"N"}:
        return (f"every gradient is the expected one times N = {N}, the number of rows, in every failing case: a sum "
                f"over the batch where the cost is the mean over the N examples (BP3 and BP4 average delta^l and "
                f"delta^l a^(l-1) over the rows): sum against mean; divide by N")
    if readings == {"1/N"}:
        return (f"every gradient is the expected one divided by N = {N}, the number of rows: the mean over the "
                f"batch taken twice (e.g. dividing delta^L by N and the weight gradients again): sum against mean")
    if readings == {"-1"}:
        return "every gradient is minus the expected one: the sign is flipped (e.g. y - a^L for a^L - y in BP1)"
    cs = [c for _, c in explained]
    if abs(c - 1) > 1e-3 and max(cs) - min(cs) <= 1e-3 * max(abs(x) for x in cs):
        return f"wrong by a constant factor {c:.6g} in every failing case: a scale factor is missing or extra"
    return None


def _net_sigmoid_prime(failures, compiled, layout) -> Optional[str]:
    """fn's outputs are those of backpropagation with the sigmoid derivative left out (in every hidden layer or
    in one), taken at a^l instead of z^l, or added at the softmax output."""
    def matches(f, **slip) -> bool:
        want = layout.parts(_backprop(f.case.inputs, **slip))
        return all(A.shape == E.shape and _close(A, E.astype(A.dtype), f.case)
                   for (A, _, _), (_, E) in zip(f.outputs.values(), want))

    if not all(f.outputs for f in failures):
        return None
    options = []  # per failing case: (the sets of hidden layers whose missing sigma' explains it, all hidden layers)
    for f in failures:
        hidden = list(range(2, len(f.case.dims["sizes"])))
        sets = [set(s) for s in dict.fromkeys([tuple(hidden)] + [(l,) for l in hidden])
                if s and matches(f, skip_prime=frozenset(s))]
        if not sets:
            break
        options.append((sets, hidden))
    else:  # the one reading that explains every case (a small |z| in float32 may not tell two apart)
        if all(set(hidden) in sets for sets, hidden in options):
            where = "in every hidden layer"
        elif all({hidden[-1]} in sets for sets, hidden in options):
            where = "in the last hidden layer only (the first step of BP2)"
        elif all({2} in sets for sets, _ in options):
            where = "in the first hidden layer (layer 2) only"
        else:
            where = "at " + _layer_list(sorted(set().union(*(sets[0] for sets, _ in options))))
        layers = sorted({l for f in failures for l in _layers(f.outputs)})
        return (f"the gradients of {_layer_list(layers)} are off by the sigmoid derivative factor: they match BP2 "
                f"without sigma'(z^l) = a^l (1 - a^l) {where}: a missing sigma'(z); BP2 is delta^l = "
                f"((W^(l+1))^T delta^(l+1)) * a^l (1 - a^l)")
    if all(len(f.case.dims["sizes"]) > 2 and matches(f, prime_of_a=True) for f in failures):
        return ("the hidden layers' gradients use sigma'(a^l) = sigma(a^l) (1 - sigma(a^l)) where sigma'(z^l) = "
                "a^l (1 - a^l) is meant: the sigmoid applied twice")
    if all(matches(f, output_prime=True) for f in failures):
        return ("an extra factor a^L (1 - a^L) at the softmax output: with the cross-entropy cost, BP1 is "
                "delta^L = a^L - y, which already includes the softmax's derivative (the sigmoid-and-squared-error "
                "form (a^L - y) * sigma'(z^L) does not apply)")
    return None


def _net_bias(failures, compiled, layout) -> Optional[str]:
    """Only bias gradients wrong: zero (never computed), per-example (not averaged), a kept axis."""
    kinds = set()
    for f in failures:
        if not f.outputs:
            return None
        N = f.case.dims["N"]
        for name, (A, E, status) in f.outputs.items():
            if status == "ok":
                continue
            if not name.startswith("grads_b"):
                return None
            if A.shape == E.shape and not np.any(A):
                kinds.add("zero")
            elif A.shape == (N,) + E.shape:
                kinds.add("rows")
            elif A.size == E.size and A.shape != E.shape:
                kinds.add("axis")
            else:
                kinds.add("other")
    if kinds == {"zero"}:
        return ("the bias gradients are zero where they should not be, the weight gradients match: the bias "
                "gradient is never computed (BP3: dC/db^l = the mean over the batch of delta^l)")
    if kinds == {"rows"}:
        return ("the bias gradients have one row per example, shape (N, n_l): delta^l itself, not averaged over "
                "the batch (BP3: dC/db^l = delta^l.mean(axis=0))")
    if kinds == {"axis"}:
        return ("the bias gradients have the right entries in the wrong shape, e.g. (n_l, 1) or (1, n_l) where "
                "(n_l,) is expected: a kept axis (keepdims=True, or a column vector); return a 1-d array")
    if kinds == {"other"}:
        return "only the bias gradients are wrong, the weight gradients match: check BP3, dC/db^l = mean of delta^l"
    return None
