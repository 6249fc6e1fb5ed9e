"""Building blocks for writing a cost directly in SymPy, the same objects the text parser makes.

    import sympy as sp, derive
    z, y, T = sp.IndexedBase("z"), sp.IndexedBase("y"), sp.Symbol("T")
    i, j, K = sp.symbols("i j K", integer=True, positive=True)
    cost = -sp.Sum(y[j] * sp.log(derive.softmax(z[i] / T, over=i)[j]), (j, 1, K))
    derive.gradient(cost, wrt="z")
"""
from __future__ import annotations

import sympy as sp

from .errors import ArgumentTypeError
from .expr import LogSoftmax, Sigmoid, Softmax
from .notation import check_symbols


def _expression(argument: str, value) -> sp.Expr:
    """A SymPy expression (or a number) whose names are identifiers; text is refused, never sympified."""
    if isinstance(value, bool) or not isinstance(value, (sp.Basic, int, float)):
        raise ArgumentTypeError(argument, f"must be a SymPy expression such as z[i] (text is not evaluated: "
                                          f"write text costs as derive.gradient(\"...\")), got {type(value).__name__}")
    return check_symbols(argument, sp.sympify(value))


class VectorFunction:
    """softmax or log_softmax of a vector given entrywise; index it to get one entry: ``softmax(z[i], over=i)[j]``."""

    def __init__(self, kind: type, entry: sp.Expr, over: sp.Symbol) -> None:
        if not isinstance(over, sp.Symbol):
            raise ArgumentTypeError("over", f"must be the index symbol the entry is written in, got {over!r}")
        entry = _expression("entry", entry)
        check_symbols("over", over)
        if not entry.has(over):
            raise ArgumentTypeError("entry", f"{entry} does not mention its index {over}")
        self.kind, self.entry, self.over = kind, entry, over

    def __getitem__(self, at) -> sp.Expr:
        slot = sp.Dummy("slot", integer=True, positive=True)
        return self.kind(self.entry.xreplace({self.over: slot}), slot, _expression("index", at))

    def __repr__(self) -> str:
        return f"{self.kind.__name__.lower()}({self.entry}, over={self.over})"


def softmax(entry: sp.Expr, over: sp.Symbol) -> VectorFunction:
    """The softmax of the vector whose entry ``over`` is ``entry``; ``softmax(z[i] / T, over=i)[j]`` is entry j."""
    return VectorFunction(Softmax, entry, over)


def log_softmax(entry: sp.Expr, over: sp.Symbol) -> VectorFunction:
    """The log-softmax of the vector whose entry ``over`` is ``entry``, indexed like softmax."""
    return VectorFunction(LogSoftmax, entry, over)


def sigmoid(x: sp.Expr) -> sp.Expr:
    """The logistic sigmoid 1 / (1 + exp(-x)) of one entry, e.g. sigmoid(z[j])."""
    return Sigmoid(_expression("x", x))
