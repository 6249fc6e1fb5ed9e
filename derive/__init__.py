"""derive: step-by-step, verified gradients of softmax output layers."""
from __future__ import annotations

from .errors import ArgumentError, ArgumentTypeError, DeriveError
from .model import Assumption, Derivation, Rule, Step
from .recipes.softmax_ce import softmax_ce

__all__ = [
    "ArgumentError", "ArgumentTypeError", "Assumption", "DeriveError", "Derivation", "Rule", "Step",
    "softmax_ce",
]
__version__ = "0.1.0"
