"""The closed form a derivation compiles to, and the one evaluator every interface runs: the
expression and the definitions it needs (a stable softmax, a sigmoid, a layer's weighted sum), each
compiled once into a derive.tensor program and run with an ops table (derive.backends)."""
from __future__ import annotations

import sympy as sp

from ..errors import ArgumentError
from ..expr import Entry
from ..model import Derivation
from ..numeric import FORMS
from ..tensor import DefinitionProgram, Program, Tensor


def index_form(d: Derivation) -> sp.Expr:
    """The closed form in index notation (the step before a matrix restatement)."""
    for step in reversed(d.steps):
        if not isinstance(step.expr, Entry):
            return step.expr
    raise ArgumentError("derivation", f"{d.name} has no closed form to compile")


def needed_definitions(setting, expr: sp.Expr) -> list:
    """The definitions an expression needs evaluated, each after those it uses."""
    order: list = []

    def visit(e):
        for x in setting.definitions:
            if x.abstract or given(x) or x in order or not x.occurs_in(e):
                continue
            visit(x.argument if x.is_kernel else x.expr)
            if x not in order:
                order.append(x)

    visit(expr)
    return order


class Evaluator:
    """An expression and the definitions it needs, each compiled once; called with the input arrays."""

    def __init__(self, setting, expr: sp.Expr, free: tuple, keep: tuple = (), reduce: tuple = ()) -> None:
        labels = frozenset(name for name, kind in setting.domains if kind == "label")
        self.definitions = [DefinitionProgram(x, labels, keep) for x in needed_definitions(setting, expr)]
        # softmax and sigmoid outputs: the program reads 1 - p and the logs it needs as arrays of their own
        kernels = {p.name: p.definition.kernel for p in self.definitions
                   if p.definition.is_kernel and p.definition.layer.probability}
        self.probabilities = frozenset(kernels)  # outputs in [0, 1]: what they build cannot overflow
        # a normaliser over the class axis: at least 2 classes (a softmax over one class is constant)
        self.normalised = any(p.definition.is_kernel and p.definition.layer.class_axis for p in self.definitions)
        self.program = Program(expr, tuple(free) + tuple(k for k in keep if k not in reduce), labels, reduce, kernels)
        # which arrays of each definition are read (o, or log o), so that no unused one is computed
        self.wanted = frozenset().union(self.program.needs, *(p.program.needs for p in self.definitions))
        # arrays the definitions produce that only the closed form reads: it may overwrite them
        self.scratch = frozenset(n for p in self.definitions if p.definition.is_kernel
                                 for n in (p.name,) + tuple(f"{f}_{p.name}" for f in FORMS)
                                 if not any(n in q.program.needs for q in self.definitions))

    def class_count(self, K: sp.Expr):
        """The name under which K (the length of the class axis) must be passed, when a symbolic K appears in
        the closed form or a definition it needs (label smoothing's eps/K); None otherwise."""
        programs = [self.program] + [p.program for p in self.definitions]
        return str(K) if not K.is_Integer and any(K in p.scalars for p in programs) else None

    def __call__(self, tensors: dict, ops=None, known=None) -> Tensor:
        tensors = dict(tensors)
        for definition in self.definitions:
            tensors.update(definition(tensors, self.wanted, ops))
        return self.program(tensors, ops, self.scratch, known)


def given(definition) -> bool:
    """A quantity defined as a derivative of a cost (g_j := dL/do_j): the caller provides it as an array."""
    return isinstance(definition.expr, sp.Derivative)


def read_inputs(setting, expr: sp.Expr) -> tuple:
    """(indexed input bases, scalar symbols) the expression and the definitions it needs read."""
    defined = {x.symbol for x in setting.definitions if not given(x)}
    exprs = [expr] + [x.argument if x.is_kernel else x.expr for x in needed_definitions(setting, expr)]
    bases: list = [v for v in setting.variables if isinstance(v, sp.IndexedBase)]  # a scalar wrt is a keyword
    scalars: set = set()
    not_scalar = {i for i, _ in setting.ranges} | {setting.K} | set(setting.sizes)
    for e in exprs:
        indexed = e.atoms(sp.Indexed)
        bases.extend(a.base for a in sorted(indexed, key=str) if a.base not in defined and a.base not in bases)
        labels = {a.base.label for a in indexed}
        scalars |= {x for x in e.free_symbols if isinstance(x, sp.Symbol) and x not in not_scalar
                    and x not in defined and x not in labels and not isinstance(x, sp.Dummy)}
    return tuple(str(b) for b in dict.fromkeys(bases)), tuple(sorted(str(x) for x in scalars))
