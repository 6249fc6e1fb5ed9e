"""A plain NumPy forward and backward pass through a sigmoid MLP with a softmax output, in float64: the
network battery's forward pass and the reference the network diagnosis varies one slip at a time."""
from __future__ import annotations

import numpy as np

from ..numeric import sigmoid, softmax


def _backprop(inputs: dict, *, skip_prime: frozenset = frozenset(), prime_of_a: bool = False,
              output_prime: bool = False) -> tuple:
    """A plain NumPy backpropagation in float64, with one slip switched on, to name what a wrong fn did:
    ``skip_prime`` the hidden layers (numbered 2..L-1) whose sigma'(z^l) factor is left out of BP2,
    ``prime_of_a`` sigma'(a^l) for sigma'(z^l), ``output_prime`` an extra a^L (1 - a^L) in BP1."""
    Ws = [np.asarray(w, np.float64) for w in inputs["weights"]]
    bs = [np.asarray(b, np.float64) for b in inputs["biases"]]
    x, y = np.asarray(inputs["x"], np.float64), np.asarray(inputs["y"], np.float64)
    acts = [x]
    for n, (W, b) in enumerate(zip(Ws, bs)):
        z = acts[-1] @ W.T + b
        acts.append(softmax(z) if n == len(Ws) - 1 else sigmoid(z))
    delta = acts[-1] - y
    if output_prime:
        delta = delta * acts[-1] * (1 - acts[-1])
    N = x.shape[0]
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for n in range(len(Ws) - 1, -1, -1):
        gW[n] = delta.T @ acts[n] / N
        gb[n] = delta.sum(axis=0) / N
        if n:
            a = acts[n]  # the activations of layer n + 1
            prime = sigmoid(a) * (1 - sigmoid(a)) if prime_of_a else a * (1 - a)
            delta = delta @ Ws[n] * (1.0 if n + 1 in skip_prime else prime)
    return gW, gb
