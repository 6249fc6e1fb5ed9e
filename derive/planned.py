"""derive.gradient and derive.hessian: the planner applied to a cost the user writes."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Optional, Sequence, Union

import sympy as sp

from . import rules
from .costs import Problem, problem
from .errors import ArgumentError, ArgumentTypeError
from .model import Derivation, Typeset
from .planner import Planner

Cost = Union[str, sp.Basic]
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")


def _timeout(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ArgumentTypeError("timeout", f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _label(argument: str, value, default: str, pattern: Optional[re.Pattern] = None) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise ArgumentTypeError(argument, f"must be a str, got {type(value).__name__}")
    if pattern is not None and not pattern.match(value):
        raise ArgumentError(argument, f"{value!r} must be lower-case letters, digits and underscores, starting "
                                      "with a letter (at most 40)")
    if "\n" in value or len(value) > 300:
        raise ArgumentError(argument, "must be one line of at most 300 characters")
    return value


def plan(cost: Cost, wrt: str = "z", *, assume: Sequence[str] = (), define: Sequence[str] = (),
         K: Optional[int] = None, timeout: float = 30.0) -> tuple:
    """(Problem, Planner) for ``cost``: what gradient() and hessian() derive with; arguments as for gradient()."""
    timeout = _timeout(timeout)
    p = problem(cost, wrt, assume=assume, define=define, K=K)
    return p, Planner(p.setting, p.facts, timeout=timeout)


def _describe(p: Problem, wrt: str, what: str) -> str:
    """'The gradient of the cost $E$ with respect to $w$': typeset, never the typed cost in ASCII beside it
    (issue 17.5; the Definitions state the cost, and ``Problem.text`` keeps what was typed)."""
    return Typeset(f"The {what} of the cost ${sp.latex(sp.Symbol(str(p.cost)))}$ with respect to "
                   f"${sp.latex(sp.Symbol(wrt))}$")


def gradient(cost: Cost, wrt: str = "z", *, assume: Sequence[str] = (), define: Sequence[str] = (),
             K: Optional[int] = None, timeout: float = 30.0, name: Optional[str] = None,
             title: Optional[str] = None, description: Optional[str] = None) -> Derivation:
    """Derive dE/d wrt_k for a cost over a softmax or sigmoid output layer, planning the steps.

    cost: the cost as text, e.g. "-sum(y[j]*log(softmax(z)[j]), j)" (see docs/grammar.md), or a SymPy
        expression built from derive's building blocks (derive.softmax, derive.sigmoid, sympy.Sum).
    wrt: the vector to differentiate with respect to (default z).
    assume: stated assumptions, e.g. ["sum(y[j], j) = 1"]; each is used where it applies and cited.
    define: definitions of intermediate vectors, e.g. ["z[j] = sum(w[j, d]*x[d], d)"] (a linear layer);
        the gradient with respect to w is then compiled as the gradient of the cost summed over examples.
    K: the number of classes, or None for symbolic K.
    timeout: seconds the planner may take before a DerivationError.
    name, title, description: how the derivation is called and introduced (default: gradient, a title
        and a sentence naming the cost).
    """
    name = _label("name", name, "gradient", _NAME)
    title = _label("title", title, "Gradient of the cost")
    p, planner = plan(cost, wrt, assume=assume, define=define, K=K, timeout=timeout)
    description = _label("description", description, _describe(p, wrt, "gradient"))
    d = planner.derive(p.lhs, name=name, title=title, description=description,
                       interface="layer" if len(p.index) > 1 else "per_example")
    return _batch_matrix_form(d, p)


def _batch_matrix_form(d: Derivation, p: Problem) -> Derivation:
    """A gradient wrt a weight matrix followed by its matrix form where it has one: a batch's
    sum_i (o_ik - y_ik) x_ie as [(O - Y)^T X]_ke, one example's (o_k - y_k) x_e as [(o - y) x^T]_ke, and
    through hidden layers [((W2^T (o - y)) o h o (1 - h)) x^T]_ef (compile runs the index form before it)."""
    if not d.complete or len(p.index) != 2 or isinstance(d.result, tuple):
        return d
    step = rules.matrix_form(d.result, rules.Context(p.setting), rows=p.index[0], cols=p.index[1])
    return d if step is None else replace(d, steps=d.steps + (step,))


def hessian(cost: Cost, wrt: str = "z", *, assume: Sequence[str] = (), define: Sequence[str] = (),
            K: Optional[int] = None, timeout: float = 30.0, name: Optional[str] = None,
            title: Optional[str] = None, description: Optional[str] = None) -> Derivation:
    """Derive the second derivatives d^2E / d wrt_k d wrt_m: the derivative of the gradient, which it cites.

    Parameters as for ``gradient``. The result is in index form, followed by its matrix form where the
    planner's closed form has one (diag(o) - o o^T for cross-entropy on softmax); compile() gives (N, K, K).
    """
    name = _label("name", name, "hessian", _NAME)
    title = _label("title", title, "Hessian of the cost")
    p, planner = plan(cost, wrt, assume=assume, define=define, K=K, timeout=timeout)
    description = _label("description", description, _describe(p, wrt, "second derivatives"))
    if len(p.index) != 1:
        raise ArgumentError("wrt", f"a Hessian is derived with respect to a vector; {wrt} has {len(p.index)} axes")
    return second_derivative(p, planner, wrt, name=name, title=title, description=description)


def second_derivative(p: Problem, planner: Planner, wrt: str, *, name: str, title: str,
                      description: str) -> Derivation:
    """The Hessian chain of problem ``p``, citing its gradient, with the matrix form where there is one."""
    first = planner.derive(p.lhs, name="gradient", title="Gradient of the cost",
                           description=_describe(p, wrt, "gradient"))
    lhs = sp.Derivative(p.cost, p.variable[p.index], p.variable[p.second])
    d = planner.derive(lhs, cite=(first,), name=name, title=title, description=description)
    if not d.complete:
        return d
    step = rules.matrix_form(d.result, rules.Context(p.setting), rows=p.index[0], cols=p.second[0])
    return d if step is None else replace(d, steps=d.steps + (step,))
