"""derive: step-by-step, verified gradients of softmax output layers."""
from __future__ import annotations

from types import ModuleType

from .errors import ArgumentError, ArgumentTypeError, DeriveError
from .model import Assumption, CompiledGradient, Derivation, Relation, Rule, Step
from .blocks import log_softmax, sigmoid, softmax
from .entries import catalogue, entry
from .checking import check
from .planned import gradient, hessian
from .recipes.jacobian import softmax_jacobian, softmax_se, softmax_vjp
from .recipes.labels import softmax_ce_labels
from .recipes.mlp import mlp_backprop
from .recipes.regression import softmax_regression
from .recipes.softmax_ce import softmax_ce
from .recipes.variants import (focal_loss, label_smoothing, log_softmax_nll, sigmoid_bce, softmax_ce_hessian,
                               softmax_ce_temperature, softmax_ce_weighted, softmax_se_planned)

__all__ = [
    "ArgumentError", "ArgumentTypeError", "Assumption", "CompiledGradient", "DeriveError", "Derivation", "Relation", "Rule", "Step",
    "gradient", "hessian", "softmax", "log_softmax", "sigmoid",
    "catalogue", "entry", "check", "mlp_backprop", "softmax_ce", "softmax_ce_labels", "softmax_jacobian", "softmax_regression",
    "softmax_se", "softmax_vjp", "softmax_ce_temperature", "label_smoothing", "softmax_ce_weighted", "sigmoid_bce",
    "focal_loss", "log_softmax_nll", "softmax_se_planned", "softmax_ce_hessian",
]


def __getattr__(name: str) -> ModuleType:
    """derive.testing on first use, so that importing derive does not import NumPy."""
    if name == "testing":
        import importlib
        return importlib.import_module(".testing", __name__)
    raise AttributeError(f"module 'derive' has no attribute {name!r}")


__version__ = "0.1.0"
