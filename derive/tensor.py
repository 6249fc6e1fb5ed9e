"""Index expressions evaluated over named axes (the compiler's engine).

An array is a NumPy (or JAX, PyTorch) array together with the index symbols
its axes stand for (``Tensor``). An index expression such as
sum_i (h_ik - y_ik) x_ij is turned into a ``Program``, a small tree of nodes
built once:

- an indexed occurrence is a *view*: an input array with its axes renamed;
- arithmetic is *elementwise* over the union of its operands' axes only (each
  operand keeps just the axes it varies along, so o_k - y_k is (K, N), never
  more);
- a sum over a product of factors is a *contraction*: each factor is evaluated
  over its own axes and the product and sum happen in one ``einsum`` (BLAS
  matrix products where the index structure allows, with an optimised path),
  so sum_i (h_ik - y_ik) x_ij is a (K, m) @ (m, n) product and no
  (K, n, m) array is ever built; a sum over an index no factor has counts
  its range;
- a Kronecker delta between two axes is an identity, against a label array an
  indicator; a difference ``a - delta(k, label_i)`` is computed by indexing
  (subtract 1 at the labelled entries of a fresh copy of a), not a one-hot;
- for a softmax or sigmoid output p (``kernels``), 1 - p, log(1 - p) and
  log(-log p) are views of arrays computed from the logits without
  cancellation, and a product holding a power of p or 1 - p whose exponent is
  not 0, 1, 2, ... is sign * exp(sum of its factors' logs), a factor of known
  sign outside a bracket that holds such a power being multiplied into the
  terms that hold it first, so that (1 - p)^(gamma - 1) log p is never inf * 0.

The tree is evaluated by an interpreter parameterised by the array library
(``ops``, the one ops interface of derive.backends.ops: NumPy, JAX, PyTorch),
so every backend runs the same program. Its size does not depend on K; ``Program.source`` prints
it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np
import sympy as sp

from . import numeric
from .backends.numpy_ops import NUMPY
from .backends.ops import Tensor
from .expr import Decimal, SumExcept

BATCH = sp.Dummy("batch")  # the implicit axis of examples of per-example derivations (immutable)


@dataclass(frozen=True)
class View:
    """An occurrence base[indices] in an expression: which array, and which axis each of its axes becomes.
    ``form`` names an array derived from it: 'log' (log p), and for a softmax or sigmoid output p
    'one_minus' (1 - p), 'log_one_minus' (log(1 - p)) and 'log_neg_log' (log(-log p)), each computed
    from the logits without cancellation (derive.numeric.softmax_parts)."""

    base: str
    indices: tuple
    form: str = ""

    @property
    def log(self) -> bool:
        return self.form == "log"

    @property
    def name(self) -> str:
        return f"{self.form}_{self.base}" if self.form else self.base


@dataclass(frozen=True)
class Delta:
    """A Kronecker delta between two axes, or between an axis and a label array (an indicator)."""

    axis: sp.Symbol
    other: Any             # an axis symbol, or an Indexed label
    label: str = ""


@dataclass(frozen=True)
class Map:
    """Elementwise ``op`` ('add', 'mul', 'pow', 'exp', 'log', ...) of the operand nodes."""

    op: str
    args: tuple


@dataclass(frozen=True)
class Contract:
    """sum over ``indices`` of the product of ``factors`` (nodes), times ``coefficient``."""

    factors: tuple
    indices: tuple
    coefficient: float = 1  # an int or a float (_number)


@dataclass(frozen=True)
class Const:
    value: object


@dataclass(frozen=True)
class Scalar:
    name: str


class Overflow(ArithmeticError):
    """A definition evaluated to inf or NaN from finite inputs (a score beyond the float range),
    raised before a softmax or sigmoid would turn it into NaN. ``inputs`` names the arrays and
    scalars it was computed from; ``axes`` and ``index`` locate its first such entry."""

    def __init__(self, symbol: str, inputs: tuple, axes: tuple, index: tuple, dtype) -> None:
        self.symbol, self.inputs, self.axes, self.index, self.dtype = symbol, inputs, axes, index, np.dtype(dtype)
        super().__init__(f"{symbol} is not finite at {index} (computed from {', '.join(inputs)})")


class NotPositive(ArithmeticError):
    """An input array whose logarithm the closed form takes has an entry <= 0 (at ``index``)."""

    def __init__(self, name: str, index: tuple) -> None:
        self.name, self.index = name, index
        super().__init__(f"{name} must be positive: the closed form takes its logarithm (entry {index})")


def first_not_finite(a: np.ndarray):
    """The index of the first inf or NaN entry of ``a``, or None when every entry is finite."""
    if numeric.all_finite(a):
        return None
    return tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])


_FUNCTIONS = {sp.exp: "exp", sp.log: "log", sp.Abs: "abs", sp.sqrt: "sqrt", sp.tanh: "tanh"}


class Program:
    """An index expression compiled to a tree of views, elementwise maps and contractions.

    ``reduce`` lists axes summed out of the whole expression (the examples of a gradient summed over
    a data set); they are contracted with the expression's factors, never materialised."""

    def __init__(self, expr: sp.Expr, free: tuple, labels: frozenset = frozenset(), reduce: tuple = (),
                 kernels: Optional[Mapping[str, str]] = None) -> None:
        self.free = tuple(free)
        self.reduce = tuple(reduce)
        self._labels = labels
        # arrays that are softmax or sigmoid outputs p (name -> kernel): 1 - p, log(1 - p) and log(-log p)
        # of them are read as arrays of their own, and products of their powers are taken through logs
        self._kernels = dict(kernels or {})
        self.views: list = []
        self.uses: dict = {}
        self.deltas: list = []
        self.scalars: tuple = ()
        self.expr = expr
        scalars: list = []
        # built once: every view counts its uses, and an array used once may be overwritten in place
        self.root = self._contract(expr, self.reduce, scalars) if self.reduce else self._node(expr, scalars)
        self.scalars = tuple(sorted(dict.fromkeys(scalars), key=str))
        self.inputs = tuple(dict.fromkeys([v.base for v in self.views] + [str(x) for x in self.scalars]))
        self.needs = frozenset(v.name for v in self.views)

    # -- building ------------------------------------------------------------
    def _view(self, node: sp.Indexed, form: str = "") -> View:
        v = View(str(node.base), tuple(node.indices), form)
        self.uses[v.name] = self.uses.get(v.name, 0) + 1
        if v not in self.views:
            self.views.append(v)
        return v

    def _node(self, e: sp.Expr, scalars: list):
        if isinstance(e, sp.log) and isinstance(e.args[0], sp.Indexed):
            return self._view(e.args[0], "log")
        complement = self._complement(e)
        if complement is not None:  # 1 - p (or p - 1): the sum of the other outputs
            p, sign = complement
            return self._view(p, "one_minus") if sign == 1 else Map("mul", (Const(-1), self._view(p, "one_minus")))
        inside = self._complement(e.args[0], signs=(1,)) if isinstance(e, sp.log) else None
        if inside is not None:
            return self._view(inside[0], "log_one_minus")
        if isinstance(e, sp.Pow) and self._risky(e):
            return _product(self._factors((e,), scalars))
        if isinstance(e, sp.Indexed):
            if str(e.base) in self._labels:
                raise ValueError(f"a label ({e}) can only appear inside a Kronecker delta")
            return self._view(e)
        if isinstance(e, sp.KroneckerDelta):
            a, b = e.args
            if isinstance(b, sp.Indexed) or isinstance(a, sp.Indexed):
                axis, label = (a, b) if isinstance(b, sp.Indexed) else (b, a)
                d = Delta(axis, label, str(label.base))
            else:
                d = Delta(a, b)
            self.deltas.append(d)
            return d
        if isinstance(e, sp.Sum):
            return self._contract(e.function, tuple(i for i, _, _ in e.limits), scalars)
        if isinstance(e, SumExcept):
            whole = self._contract(e.function, (e.index,), scalars)
            return Map("add", (whole, Map("mul", (Const(-1), self._node(e.function.xreplace({e.index: e.excluded}),
                                                                         scalars)))))
        if isinstance(e, Decimal):
            return Const(float(e.value))
        if e.is_number and not e.is_Number and not e.has(sp.Sum, SumExcept):  # log(2), sqrt(2): one constant
            return Const(float(e))
        if e.is_Number:
            return Const(int(e) if e.is_Integer else float(e))
        if isinstance(e, sp.Symbol):
            scalars.append(e)
            return Scalar(str(e))
        if isinstance(e, sp.Add):
            return Map("add", tuple(self._node(a, scalars) for a in e.args))
        if isinstance(e, sp.Mul):
            spread = self._distribute(e)
            if spread is not None:
                return self._node(spread, scalars)
            if any(self._risky(a) for a in e.args):
                coefficient, factors = e.as_coeff_mul()
                return _product(self._factors(factors, scalars, _number(coefficient)))
            return Map("mul", tuple(self._node(a, scalars) for a in e.args))
        if isinstance(e, sp.Pow):
            return Map("pow", (self._node(e.base, scalars), self._node(e.exp, scalars)))
        if type(e) in _FUNCTIONS:
            return Map(_FUNCTIONS[type(e)], (self._node(e.args[0], scalars),))
        raise ValueError(f"cannot compile {e} ({type(e).__name__})")

    def _contract(self, body: sp.Expr, indices: tuple, scalars: list):
        """sum over ``indices`` of ``body``: a sum of sums for a sum, one contraction of a product's factors."""
        if isinstance(body, sp.Add):
            return Map("add", tuple(self._contract(a, indices, scalars) for a in body.args))
        coefficient, factors = (body.as_coeff_mul() if isinstance(body, sp.Mul) else (sp.Integer(1), (body,)))
        coefficient = _number(coefficient)
        if any(self._risky(f) for f in factors):
            nodes = self._factors(factors, scalars, coefficient)
            if isinstance(nodes[0], Const):
                coefficient, nodes = nodes[0].value, nodes[1:]
            else:
                coefficient = 1
            return Contract(tuple(nodes), tuple(indices), coefficient)
        return Contract(tuple(self._node(f, scalars) for f in factors), tuple(indices), coefficient)

    # -- powers of probabilities, through logs --------------------------------
    # A factor (1 - o_k)^(gamma - 1) is inf where 1 - o_k underflows (or rounds) to 0 and gamma < 1,
    # although its product with log o_k (which is then 0) tends to a finite limit: evaluated factor by
    # factor the product is inf * 0 = NaN. A product that holds a power of a probability p (a softmax
    # or sigmoid output) or of 1 - p, with an exponent other than 0, 1, 2, ... is therefore evaluated as
    # sign * exp(sum of the logs of its factors of known sign): log p, log(1 - p), log(-log p) for the
    # factor log p (whose sign is -), the argument of exp(x), and the exponent times the log for a
    # power. These logs are finite for every finite input (derive.numeric.softmax_parts), so the
    # product is finite wherever its true value is, and 0 only where it underflows. Other factors (the
    # targets, scalars) multiply the result.
    def _complement(self, e: sp.Expr, signs: tuple = (1, -1)):
        """(p, 1) when ``e`` is 1 - p for a softmax or sigmoid output p (an Indexed), (p, -1) when it is
        p - 1; else None."""
        if not (isinstance(e, sp.Add) and len(e.args) == 2):
            return None
        for sign in signs:
            one = sp.Integer(sign)
            if one in e.args:
                p = -sign * (e.args[0] if e.args[1] == one else e.args[1])
                if isinstance(p, sp.Indexed) and str(p.base) in self._kernels:
                    return p, sign
        return None

    def _sign(self, f: sp.Expr):
        """The sign of a factor whose log this program can take without cancellation, else None."""
        if isinstance(f, sp.Indexed) and str(f.base) in self._kernels:
            return 1
        complement = self._complement(f)
        if complement is not None:
            return complement[1]
        if isinstance(f, sp.exp):
            return 1
        if isinstance(f, sp.log) and isinstance(f.args[0], sp.Indexed) and str(f.args[0].base) in self._kernels:
            return -1  # log p < 0
        if isinstance(f, sp.Pow):
            sign = self._sign(f.base)
            if sign == 1:
                return 1
            if sign == -1 and f.exp.is_Integer:
                return (-1) ** int(f.exp)
        return None

    def _risky(self, f: sp.Expr) -> bool:
        """A power of a probability (or of 1 - p) that may be inf or NaN alone: an exponent other than
        0, 1, 2, ... (symbolic, negative or fractional)."""
        return isinstance(f, sp.Pow) and self._sign(f.base) is not None and self._sign(f) is not None \
            and not (f.exp.is_Integer and f.exp >= 0)

    def _holds_risk(self, e: sp.Expr) -> bool:
        """A risky power in ``e``, as a factor of one of its terms (not inside a sum or a function)."""
        if isinstance(e, (sp.Add, sp.Mul)):
            return any(self._holds_risk(a) for a in e.args)
        return self._risky(e)

    def _distribute(self, e: sp.Mul):
        """A product f * (a + b + ...) whose bracket holds a risky power, with the factors f of known sign
        multiplied into each term that holds one, or None. o_k (c o_k^(gamma - 1) + ...) is inf * 0 where
        o_k underflows and gamma < 1; o_k c o_k^(gamma - 1) is one power, c o_k^gamma, and finite."""
        brackets = [a for a in e.args if isinstance(a, sp.Add) and self._holds_risk(a)]
        outer = [a for a in e.args if self._sign(a) is not None]
        if not brackets or not outer:
            return None
        bracket = brackets[0]
        rest = [a for a in e.args if a is not bracket and all(a is not f for f in outer)]
        risky = [sp.Mul(*outer, t) for t in bracket.args if self._holds_risk(t)]
        safe = [t for t in bracket.args if not self._holds_risk(t)]  # keep their common factor (fewer products)
        return sp.Mul(*rest, sp.Add(*risky, sp.Mul(*outer, sp.Add(*safe))))

    def _log_of(self, f: sp.Expr, scalars: list):
        """The node of log|f| for a factor whose ``_sign`` is known."""
        if isinstance(f, sp.Indexed):
            return self._view(f, "log")
        complement = self._complement(f)
        if complement is not None:
            return self._view(complement[0], "log_one_minus")
        if isinstance(f, sp.exp):
            return self._node(f.args[0], scalars)
        if isinstance(f, sp.log):
            return self._view(f.args[0], "log_neg_log")
        return Map("mul", (self._node(f.exp, scalars), self._log_of(f.base, scalars)))

    def _factors(self, factors, scalars: list, coefficient=1) -> list:
        """The nodes of a product: [coefficient] + the factors of unknown sign + exp(sum of the logs of the
        others), the signs of those folded into the coefficient."""
        logs, rest = [], []
        for f in factors:
            sign = self._sign(f)
            if sign is None:
                rest.append(self._node(f, scalars))
            else:
                coefficient *= sign
                logs.append(self._log_of(f, scalars))
        merged = Map("exp", (logs[0] if len(logs) == 1 else Map("add", tuple(logs)),))
        return ([Const(coefficient)] if coefficient != 1 else []) + rest + [merged]

    # -- printing ------------------------------------------------------------
    @property
    def source(self) -> str:
        """The program, printed: views base[indices], elementwise arithmetic, and each contraction as
        einsum(sum over its indices: its factors). Its size does not depend on K."""
        args = ", ".join(dict.fromkeys([v.name for v in self.views] + [str(s) for s in self.scalars]))
        return f"def program({args}):\n    return {_print(self.root)}\n"

    # -- running -------------------------------------------------------------
    def __call__(self, tensors: Mapping[str, Tensor], ops=None, scratch=frozenset(), known=None) -> Tensor:
        """Evaluate with the named arrays (``known``: index -> size, for an index no array carries, as one
        that occurs only in a Kronecker delta). The result's axes: the free indices, then any axes the
        inputs carry beyond their indices (the batch of examples, an example index), in that order.
        Arrays named in ``scratch`` are intermediates the caller will not read again: one the program
        reads once may be overwritten by the result (o - y computed in o's memory)."""
        ops = ops or NUMPY
        sizes: dict = dict(known or {})
        bound = {v: self._bind(tensors, v, sizes, ops) for v in self.views}
        for d in self.deltas:
            if d.label:
                t = tensors[d.label]
                names = tuple(d.other.indices) + tuple(t.axes[len(d.other.indices):])
                for name, size in zip(names, t.array.shape):
                    _note(sizes, name, size)
        run = _Run(bound, tensors, sizes, ops)
        run.scratch = {id(bound[v].array) for v in self.views if v.name in scratch and self.uses[v.name] == 1}
        out = run.eval(self.root)
        extra: list = []
        trailing = [t.axes[len(v.indices):] for v, t in bound.items()]
        trailing += [tensors[d.label].axes[len(d.other.indices):] for d in self.deltas if d.label]
        for names in trailing:
            extra.extend(a for a in names if a not in self.free and a not in self.reduce and a not in extra)
        axes = tuple(self.free) + tuple(extra)
        for a in out.axes:
            if a not in axes:
                raise ValueError("an index of the expression is neither free nor summed")
        for a in axes:
            if a not in sizes:
                raise ValueError(f"the size of axis {a} is not known from any array")
        array = ops.align(out, axes)
        return Tensor(ops.broadcast(array, tuple(sizes[a] for a in axes)), axes)

    def _bind(self, tensors, v: View, sizes: dict, ops) -> Tensor:
        if v.name not in tensors and v.log and v.base in tensors:  # log of an input array: it must be positive
            given = tensors[v.base]
            bad = ops.first_not_positive(given.array)
            if bad is not None:
                raise NotPositive(v.base, bad)
            t = Tensor(ops.log(given.array), given.axes)
        elif v.name in tensors:
            t = tensors[v.name]
        else:
            raise KeyError(f"no array for {v.name}")
        names = tuple(v.indices) + tuple(t.axes[len(v.indices):])
        if len(set(names)) != len(names):
            raise ValueError(f"repeated index in {names}")
        for name, size in zip(names, t.array.shape):
            _note(sizes, name, size)
        return Tensor(t.array, names)


def _note(sizes: dict, name, size: int) -> None:
    if sizes.setdefault(name, size) != size:
        raise ValueError(f"axis {name} has size {size} here and {sizes[name]} elsewhere")


class _Run:
    """One evaluation of a program's tree."""

    scratch: set = set()

    def __init__(self, bound: dict, tensors, sizes: dict, ops) -> None:
        self.bound, self.tensors, self.sizes, self.ops = bound, tensors, sizes, ops

    def eval(self, node):
        ops = self.ops
        if isinstance(node, View):
            return self.bound[node]
        if isinstance(node, Const):
            return Tensor(ops.scalar(node.value), ())
        if isinstance(node, Scalar):
            return Tensor(ops.scalar(self.tensors[node.name]), ())
        if isinstance(node, Delta):
            return self.delta(node)
        if isinstance(node, Contract):
            return self.contract(node)
        if node.op == "add":
            return self.add(node.args)
        args = [self.eval(a) for a in node.args]
        return ops.map(node.op, args)

    def add(self, args) -> Tensor:
        """A sum of terms: negated terms are subtracted (no negated copy), and a term -delta(k, label)
        by indexing a fresh array."""
        ops = self.ops
        labelled = [a for a in args if _negated_label(a)]
        plus = [self.eval(a) for a in args if not _negated_label(a) and not _negated(a)]
        minus = [self.eval(a.args[1]) for a in args if not _negated_label(a) and _negated(a)]
        if not plus:
            plus = [Tensor(ops.scalar(0), ())]
        out = ops.combine(plus, minus, self.scratch)
        fresh = len(plus) + len(minus) > 1 or id(out.array) in self.scratch  # ours to overwrite
        for a in labelled:
            d = a.args[1]
            out = ops.subtract_indicator(out, self.label(d), d.axis, self.sizes[d.axis], fresh)
            fresh = True
        return out

    def label(self, d: Delta) -> Tensor:
        t = self.tensors[d.label]
        return Tensor(t.array, tuple(d.other.indices) + tuple(t.axes[len(d.other.indices):]))

    def delta(self, d: Delta) -> Tensor:
        if d.axis not in self.sizes:
            raise ValueError(f"the size of axis {d.axis} is not known from any array")
        n = self.sizes[d.axis]
        if d.label:
            return self.ops.indicator(self.label(d), d.axis, n)
        return Tensor(self.ops.eye(n), (d.axis, d.other))

    def contract(self, node: Contract) -> Tensor:
        factors = [self.eval(f) for f in node.factors]
        count = 1
        for i in node.indices:
            if not any(i in f.axes for f in factors):
                if i not in self.sizes:
                    raise ValueError(f"the range of the summed index {i} is not known from any array")
                count *= self.sizes[i]
        out = self.ops.contract(factors, node.indices)
        coefficient = node.coefficient * count
        return out if coefficient == 1 else self.ops.map("mul", [Tensor(self.ops.scalar(coefficient), ()), out])


def _number(x: sp.Expr):
    return int(x) if x.is_Integer else float(x)


def _product(nodes: list):
    return nodes[0] if len(nodes) == 1 else Map("mul", tuple(nodes))


def _negated(node) -> bool:
    return isinstance(node, Map) and node.op == "mul" and len(node.args) == 2 and node.args[0] == Const(-1)


def _negated_label(node) -> bool:
    return _negated(node) and isinstance(node.args[1], Delta) and bool(node.args[1].label)


def bounded(node, names) -> bool:
    """True when the node's value is at most a modest multiple of 1 in size, so that it cannot overflow:
    built by sums, products and contractions from constants, deltas and views of the arrays ``names``
    (softmax or sigmoid outputs, targets checked to lie on the simplex); a scalar argument (T) or a
    log, exp or power may be large."""
    if isinstance(node, (Const, Delta)):
        return True
    if isinstance(node, View):
        return node.form in ("", "one_minus") and node.base in names
    if isinstance(node, Contract):
        return all(bounded(f, names) for f in node.factors)
    if isinstance(node, Map) and node.op in ("add", "mul"):
        return all(bounded(a, names) for a in node.args)
    return False


def _print(node) -> str:
    if isinstance(node, View):
        return f"{node.name}[{', '.join(map(str, node.indices))}]"
    if isinstance(node, Const):
        return repr(node.value)
    if isinstance(node, Scalar):
        return node.name
    if isinstance(node, Delta):
        return f"delta({node.axis}, {node.other})"
    if isinstance(node, Contract):
        body = ", ".join(_print(f) for f in node.factors)
        scale = "" if node.coefficient == 1 else f"{node.coefficient!r} * "
        return f"{scale}einsum(sum over {', '.join(map(str, node.indices))}: {body})"
    if node.op == "add":
        terms = [a for a in node.args if not _negated(a)] + [a for a in node.args if _negated(a)]
        text = " ".join(("- " + _print(a.args[1])) if _negated(a) else ("+ " + _print(a)) for a in terms)
        return "(" + text[2:] + ")" if text.startswith("+ ") else "(" + text + ")"
    symbol = {"mul": "*", "pow": "**"}.get(node.op)
    if symbol:
        return "(" + symbol.join(_print(a) for a in node.args) + ")"
    return f"np.{node.op}({_print(node.args[0])})"


class DefinitionProgram:
    """The arrays a definition produces, compiled once: a stable softmax (and its log, when asked for),
    a stable sigmoid, or the expression itself; for a softmax or sigmoid output p also 1 - p, log(1 - p)
    and log(-log p) when the closed form reads them (numeric.softmax_parts, numeric.sigmoid_parts).
    ``keep`` lists indices it depends on without naming them (the example i of f_k = w_k . x_i)."""

    def __init__(self, definition, labels: frozenset = frozenset(), keep: tuple = ()) -> None:
        self.definition = definition
        self.name = str(definition.symbol)
        free = tuple(definition.indices) + tuple(i for i in keep if i not in definition.indices)
        layer = definition.layer if definition.is_kernel else None
        self.layer = layer  # the layer whose stable numerics make the arrays from the argument, or None
        normaliser = layer.normaliser(definition) if layer is not None else None
        self.axis = None
        if normaliser is not None:  # the class axis: the index the normaliser sums out
            self.axis = [i for i in definition.indices if not normaliser.has(i)][0]
        self.program = Program(definition.argument if layer is not None else definition.expr, free, labels)
        root = self.program.root
        # the argument is an input array itself (z_j), which the boundary already checked finite
        self._checked = isinstance(root, View) and not root.form

    def __call__(self, tensors: Mapping[str, Tensor], want=None, ops=None) -> dict:
        """The arrays of the definition (of those named in ``want``, when given); ``Overflow`` if its
        value (the argument of a kernel) is not finite."""
        ops = ops or NUMPY
        name = self.name
        out = self.program(tensors, ops)
        if not self._checked and ops is NUMPY:
            bad = first_not_finite(out.array)
            if bad is not None:
                raise Overflow(name, self.program.inputs, out.axes, bad, out.array.dtype)
        if self.layer is not None:  # softmax, its log, 1 - p, ...: from the argument, without cancellation
            return self.layer.arrays(out, name, want, self.axis, ops)
        return {name: out}
