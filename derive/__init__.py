"""derive: step-by-step, verified gradients of softmax output layers."""
from __future__ import annotations

from .errors import ArgumentError, ArgumentTypeError, DeriveError
from .model import Assumption, Derivation, Rule, Step
from .catalogue import catalogue, entry
from .recipes.jacobian import softmax_jacobian, softmax_se
from .recipes.labels import softmax_ce_labels
from .recipes.mlp import mlp_backprop
from .recipes.regression import softmax_regression
from .recipes.softmax_ce import softmax_ce

__all__ = [
    "ArgumentError", "ArgumentTypeError", "Assumption", "DeriveError", "Derivation", "Rule", "Step",
    "catalogue", "entry", "mlp_backprop", "softmax_ce", "softmax_ce_labels", "softmax_jacobian", "softmax_regression", "softmax_se",
]
__version__ = "0.1.0"
