"""Numerically stable NumPy building blocks used by compiled closed forms."""
from __future__ import annotations

import numpy as np


def softmax(a: np.ndarray) -> np.ndarray:
    """softmax along the last axis, with the row maximum subtracted first."""
    shifted = a - np.max(a, axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=-1, keepdims=True)


def log_softmax(a: np.ndarray) -> np.ndarray:
    """log softmax along the last axis, as a - logsumexp(a)."""
    m = np.max(a, axis=-1, keepdims=True)
    shifted = a - m
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def rowsum(a) -> np.ndarray:
    """Sum over the class (last) axis, kept as a length-1 axis for broadcasting."""
    return np.sum(np.asarray(a), axis=-1, keepdims=True)


def sigmoid(a: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-a)) without overflow: exp is only taken of non-positive numbers."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))
