"""Closed forms to vectorised, numerically stable NumPy functions.

Every compiled function evaluates the derivation's own closed form (its index
form, before any matrix restatement) with ``derive.tensor.Program``: a tree
built once, the same size for every K, whose sums over products are
contractions (matrix products, einsum), never broadcast products.
Definitions are evaluated stably: a softmax with the row maximum subtracted
(and log o_k as a log-softmax), a sigmoid without overflow; where the closed
form reads 1 - o_k, log(1 - o_k) or log(-log o_k) of a softmax or sigmoid
output, those are computed from the logits without cancellation (1 - o_k as
the sum of the other outputs, log(1 - o_k) as a log-sum-exp of the other
logits), and a product holding a power of o_k or 1 - o_k with an exponent
other than 0, 1, 2, ... ((1 - o_k)^(gamma - 1) log o_k of the focal loss) is
taken as one exp of a sum of logs, finite wherever its true value is. Inputs are checked at this boundary with errors that name them,
including the targets a derivation assumes normalised. Finite inputs can still
give scores beyond the float range (w.x with entries near 1e200): every score
a softmax or sigmoid reads and every result is checked finite (unless it is
provably small, as o - y is), and an inf or NaN is an ArgumentError naming the arguments it came from, never a silent NaN.

The interface a recipe declares says how inputs are laid out: 'per_example'
(rows are examples, the last axis the class), 'dataset' (softmax regression),
'labels' (integer labels) and 'network' (backpropagation). The adapters only
lay out inputs; the mathematics is the derivation's.

The package: ``evaluator`` (the closed form and the definitions it needs, as
derive.tensor programs), ``boundary`` (what every interface shares: inputs
checked once, laid out into tensors with an ops table), ``interfaces`` (one
class per interface), ``backend`` (an interface run with another library's
ops table, derive.backends). A backend is only an ops table.
"""
from __future__ import annotations

from ..errors import ArgumentError, ArgumentTypeError
from ..model import Derivation
from .boundary import Compiled
from .evaluator import Evaluator, index_form
from .interfaces import Argument, ArrayGradient, Backprop, LabelGradient, RegressionGradient

__all__ = ["INTERFACES", "Argument", "ArrayGradient", "Backprop", "Compiled", "Evaluator", "LabelGradient",
           "RegressionGradient", "compile_derivation", "index_form"]

INTERFACES = {"per_example": ArrayGradient, "dataset": RegressionGradient, "labels": LabelGradient,
              "network": Backprop, "layer": ArrayGradient}


def compile_derivation(d: Derivation, backend: str = "numpy"):
    """The compiled closed form of ``d``, laid out as its interface says; ``backend`` 'jax' or 'torch'
    runs the same program with that library's arrays (see derive.backends; imported only then)."""
    if not isinstance(backend, str):
        raise ArgumentTypeError("backend", f"must be a string ('numpy', 'jax' or 'torch'), got {type(backend).__name__}")
    if backend != "numpy":
        from ..backends import ops_for
        ops_for(backend)  # a missing library is an error before anything is compiled
    if not isinstance(d, Derivation):
        raise ArgumentTypeError("derivation", f"must be a Derivation, got {type(d).__name__}")
    for x in d.walk():
        if x.incomplete:
            raise ArgumentError("derivation", f"{d.name} is incomplete ({x.incomplete}): there is no closed form "
                                              "to compile")
    compiled = INTERFACES[d.interface](d)
    if backend == "numpy":
        return compiled
    from .backend import compile_backend
    return compile_backend(compiled, d.interface, backend)
