"""Closed forms to vectorised, numerically stable NumPy functions via lambdify.

The closed form of a derivation over symbolic K, such as o_k - y_k, is
vectorised along the class axis: an indexed quantity at the free index k
becomes a whole array (rows are examples, the last axis is the class), a sum
over j becomes a sum over that axis, a softmax output becomes a stable
softmax of its argument (row maximum subtracted) and log o_k a log-softmax.
The generated code therefore has the same size for every K.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp

from . import numeric
from .errors import ArgumentError, ArgumentTypeError
from .expr import SumExcept
from .model import Derivation


class _rowsum(sp.Function):
    """Sum over the class axis (printed as a call to numeric.rowsum)."""


@dataclass(frozen=True)
class Plan:
    """What a compiled function computes: inputs, softmax outputs, the vectorised expression."""

    arrays: tuple        # names of class-indexed inputs, e.g. ("z", "y")
    scalars: tuple       # names of scalar inputs, e.g. ("T",)
    outputs: tuple       # (name, argument expression) of each softmax output
    expr: sp.Expr        # in symbols named after arrays, scalars, outputs, and log_<output>


def plan(d: Derivation) -> Plan:
    """Vectorise the result of ``d`` along its free class index."""
    setting = d.setting
    free = _free_index(d)
    softmaxes = {x.symbol: x for x in setting.definitions if x.softmax_of is not None}
    array_syms: dict = {}

    def vec(e: sp.Expr, index: sp.Symbol) -> sp.Expr:
        def swap(node):
            if isinstance(node, sp.log) and isinstance(node.args[0], sp.Indexed) and node.args[0].base in softmaxes:
                return array_sym(f"log_{node.args[0].base}")
            if isinstance(node, sp.Indexed):
                if node.indices != (index,):
                    raise ArgumentError("derivation", f"cannot vectorise {node}: only the class index {index} is supported")
                name = str(node.base)
                if node.base not in softmaxes:
                    arrays.setdefault(name, None)
                return array_sym(name)
            if isinstance(node, sp.Sum):
                (j, lo, hi), = node.limits
                return _rowsum(vec(node.function.xreplace({j: index}), index))
            if isinstance(node, SumExcept):
                whole = _rowsum(vec(node.function.xreplace({node.index: index}), index))
                return whole - vec(node.function.xreplace({node.index: node.excluded}), index)
            return None
        new = swap(e)
        if new is not None:
            return new
        if not e.args:
            return e
        return e.func(*[vec(a, index) for a in e.args])

    def array_sym(name: str) -> sp.Symbol:
        return array_syms.setdefault(name, sp.Symbol(name))

    arrays: dict = {}
    body = vec(d.result, free)
    outputs = []
    for symbol, definition in softmaxes.items():
        if str(symbol) in array_syms or f"log_{symbol}" in array_syms:
            arg = vec(definition.softmax_of.xreplace({definition.indices[0]: free}), free)
            outputs.append((str(symbol), arg))
    for variable in setting.variables:
        arrays.setdefault(str(variable), None)
    used = {str(s) for s in body.free_symbols} | {str(s) for _, a in outputs for s in a.free_symbols}
    variables = [str(v) for v in setting.variables]
    array_names = tuple(variables + [n for n in arrays if n in used and n not in variables])
    scalars = tuple(sorted(n for n in used if n not in array_syms and n not in arrays))
    return Plan(array_names, scalars, tuple(outputs), body)


def _free_index(d: Derivation) -> sp.Symbol:
    lhs = d.lhs
    variable = lhs.variables[0] if isinstance(lhs, sp.Derivative) else None
    if not isinstance(variable, sp.Indexed) or len(variable.indices) != 1:
        raise ArgumentError("derivation", f"{d.name} has no single class index to vectorise over")
    return variable.indices[0]


class CompiledGradient:
    """A vectorised NumPy gradient: call with keyword arrays of shape (N, K) or (K,)."""

    def __init__(self, d: Derivation) -> None:
        self.name = d.name
        self.plan = plan(d)
        self.K = int(d.setting.K) if d.setting.K.is_Integer else None
        p = self.plan
        outputs = [sp.Symbol(n) for n, _ in p.outputs] + [sp.Symbol(f"log_{n}") for n, _ in p.outputs]
        self._args = [sp.Symbol(n) for n in p.arrays] + [sp.Symbol(n) for n in p.scalars] + outputs
        modules = [{"_rowsum": numeric.rowsum}, "numpy"]
        self._body: Callable = sp.lambdify(self._args, p.expr, modules=modules, docstring_limit=0)
        self._outputs = [(n, sp.lambdify([sp.Symbol(a) for a in p.arrays] + [sp.Symbol(s) for s in p.scalars],
                                         arg, modules=modules, docstring_limit=0)) for n, arg in p.outputs]

    @property
    def inputs(self) -> tuple:
        """Keyword arguments the function takes."""
        return self.plan.arrays + self.plan.scalars

    @property
    def source(self) -> str:
        """The generated NumPy code (the same size for every K)."""
        parts = [inspect.getsource(self._body)] + [inspect.getsource(f) for _, f in self._outputs]
        return "\n".join(parts)

    def __repr__(self) -> str:
        shape = f"(N, {self.K})" if self.K else "(N, K)"
        args = ", ".join(f"{n}={shape}" for n in self.plan.arrays) + "".join(f", {s}=scalar" for s in self.plan.scalars)
        return f"<compiled {self.name}: f({args}) -> {shape}>"

    def __call__(self, **kwargs) -> np.ndarray:
        arrays, scalars = self._check(kwargs)
        values = [arrays[n] for n in self.plan.arrays] + [scalars[s] for s in self.plan.scalars]
        softmax, logs = [], []
        for _, f in self._outputs:
            arg = np.asarray(f(*values))
            softmax.append(numeric.softmax(arg))
            logs.append(numeric.log_softmax(arg))
        out = np.asarray(self._body(*values, *softmax, *logs))
        shape = arrays[self.plan.arrays[0]].shape
        dtype = np.result_type(*[a.dtype for a in arrays.values()])
        return np.broadcast_to(out, shape).astype(dtype, copy=False)

    def _check(self, kwargs: dict) -> tuple:
        expected = self.inputs
        for name in kwargs:
            if name not in expected:
                raise ArgumentError(name, f"unknown argument; {self.name} takes {', '.join(expected)}")
        for name in expected:
            if name not in kwargs:
                raise ArgumentError(name, f"missing argument; {self.name} takes {', '.join(expected)}")
        arrays = {n: check_array(n, kwargs[n]) for n in self.plan.arrays}
        first = self.plan.arrays[0]
        shape = arrays[first].shape
        if shape[-1] < 2:
            raise ArgumentError(first, f"needs at least 2 classes on the last axis, got shape {shape}")
        if self.K is not None and shape[-1] != self.K:
            raise ArgumentError(first, f"the last axis must have K = {self.K} classes, got shape {shape}")
        for n, a in arrays.items():
            if a.shape != shape:
                raise ArgumentError(n, f"shape {a.shape} does not match {first}'s shape {shape}")
        scalars = {s: check_scalar(s, kwargs[s]) for s in self.plan.scalars}
        return arrays, scalars


def check_array(name: str, value, ndims: tuple = (1, 2)) -> np.ndarray:
    """A finite real float array of an allowed rank, or an error naming ``name``."""
    if isinstance(value, (str, bytes)):
        raise ArgumentTypeError(name, f"must be a numeric array, got {type(value).__name__}")
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ArgumentTypeError(name, f"cannot be read as an array: {exc}") from None
    if a.dtype.kind in "iu":
        a = a.astype(np.float64)
    elif a.dtype.kind != "f":
        raise ArgumentTypeError(name, f"must hold real numbers (float32 or float64), got dtype {a.dtype}")
    elif a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    if a.ndim not in ndims:
        allowed = " or ".join({1: "(K,)", 2: "(N, K)", 3: "(N, K, K)"}.get(n, f"{n}-d") for n in ndims)
        raise ArgumentError(name, f"must have shape {allowed}, got shape {a.shape}")
    if a.size and not np.all(np.isfinite(a)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ArgumentError(name, f"contains NaN or infinity (first at index {bad})")
    return a


def check_scalar(name: str, value) -> float:
    """A finite real number, or an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(name, f"must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ArgumentError(name, f"must be finite, got {value}")
    return float(value)


def compile_derivation(d: Derivation) -> CompiledGradient:
    """The compiled closed form of ``d``."""
    return CompiledGradient(d)
