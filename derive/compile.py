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
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy as sp

from .errors import ArgumentError, ArgumentTypeError
from .expr import Entry
from .model import Derivation
from .numeric import FORMS, all_finite, rowsum
from .tensor import BATCH, DefinitionProgram, bounded, NotPositive, Overflow, Program, Tensor, first_not_finite


def index_form(d: Derivation) -> sp.Expr:
    """The closed form in index notation (the step before a matrix restatement)."""
    for step in reversed(d.steps):
        if not isinstance(step.expr, Entry):
            return step.expr
    raise ArgumentError("derivation", f"{d.name} has no closed form to compile")


def _needed(setting, expr: sp.Expr) -> list:
    """The definitions an expression needs evaluated, each after those it uses."""
    order: list = []

    def visit(e):
        for x in setting.definitions:
            if x.abstract or _given(x) or x in order or not x.occurs_in(e):
                continue
            visit(x.argument if x.kernel else x.expr)
            if x not in order:
                order.append(x)

    visit(expr)
    return order


class Evaluator:
    """An expression and the definitions it needs, each compiled once; called with the input arrays."""

    def __init__(self, setting, expr: sp.Expr, free: tuple, keep: tuple = (), reduce: tuple = ()) -> None:
        labels = frozenset(name for name, kind in setting.domains if kind == "label")
        self.definitions = [DefinitionProgram(x, labels, keep) for x in _needed(setting, expr)]
        # softmax and sigmoid outputs: the program reads 1 - p and the logs it needs as arrays of their own
        kernels = {p.name: p.definition.kernel for p in self.definitions
                   if p.definition.kernel in ("softmax", "sigmoid")}
        self.program = Program(expr, tuple(free) + tuple(k for k in keep if k not in reduce), labels, reduce, kernels)
        # which arrays of each definition are read (o, or log o), so that no unused one is computed
        self.wanted = frozenset().union(self.program.needs, *(p.program.needs for p in self.definitions))
        # arrays the definitions produce that only the closed form reads: it may overwrite them
        self.scratch = frozenset(n for p in self.definitions if p.definition.kernel
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


def _given(definition) -> bool:
    """A quantity defined as a derivative of a cost (g_j := dL/do_j): the caller provides it as an array."""
    return isinstance(definition.expr, sp.Derivative)


def _inputs(setting, expr: sp.Expr) -> tuple:
    """(indexed input bases, scalar symbols) the expression and the definitions it needs read."""
    defined = {x.symbol for x in setting.definitions if not _given(x)}
    exprs = [expr] + [x.argument if x.kernel else x.expr for x in _needed(setting, expr)]
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


def _refuse_conditions(d: Derivation) -> None:
    pairs = [p for a in d.conditions for p in a.different]
    if pairs:
        a, b = pairs[0]
        raise ArgumentError("derivation", f"{d.name} holds only for {a} != {b}; compile a derivation that cites it")


def _normalised(d: Derivation) -> dict:
    """Base name -> 'simplex' or 'one_hot', for targets an assumption of the derivation constrains."""
    out: dict = {}
    for x in d.walk():
        for a in x.assumptions:
            out.update({name: kind for name, kind in a.domains if kind in ("simplex", "one_hot")})
    return out


class CompiledGradient:
    """A vectorised gradient of one example per row: g(z=Z, y=Y, ...) with Z of shape (N, K) or (K,)."""

    def __init__(self, d: Derivation) -> None:
        _refuse_conditions(d)
        self.name = d.name
        self.free = d.free_indices
        self.K = int(d.setting.K) if d.setting.K.is_Integer else None
        expr = index_form(d)
        self.arrays, self.scalars = _inputs(d.setting, expr)
        self.targets = _normalised(d)
        self._evaluate = Evaluator(d.setting, expr, self.free)
        self.classes = self._evaluate.class_count(d.setting.K)
        # o - y from a softmax and checked targets cannot overflow: its result needs no finiteness pass
        small = {p.name for p in self._evaluate.definitions if p.definition.kernel in ("softmax", "sigmoid")}
        self._bounded = bounded(self._evaluate.program.root, small | set(self.targets))

    @property
    def inputs(self) -> tuple:
        """The keyword arguments, arrays first."""
        return self.arrays + self.scalars

    @property
    def source(self) -> str:
        """The generated NumPy code of the closed form (the same for every K)."""
        return self._evaluate.program.source

    def __repr__(self) -> str:
        k = str(self.K) if self.K else "K"
        out = "(N" + "".join(f", {k}" for _ in self.free) + ("," if not self.free else "") + ")"
        args = ", ".join(f"{n}=(N, {k})" for n in self.arrays) + "".join(f", {s}=scalar" for s in self.scalars)
        return f"<compiled {self.name}: f({args}) -> {out}>"

    def __call__(self, **kwargs) -> np.ndarray:
        check_names(self.name, kwargs, self.inputs)
        arrays = {n: check_array(n, kwargs[n], finite=n not in self.targets) for n in self.arrays}
        first = self.arrays[0]
        shape = arrays[first].shape
        if shape[-1] < 2:
            raise ArgumentError(first, f"needs at least 2 classes on the last axis, got shape {shape}")
        if self.K is not None and shape[-1] != self.K:
            raise ArgumentError(first, f"the last axis must have K = {self.K} classes, got shape {shape}")
        for n, a in arrays.items():
            if a.shape != shape:
                raise ArgumentError(n, f"shape {a.shape} does not match {first}'s shape {shape}")
            if n in self.targets:
                check_targets(n, a, self.targets[n], " (derive it with normalized_targets=False for other targets)")
        dtype = np.result_type(*arrays.values())
        tensors: dict = {n: _per_example(a) for n, a in arrays.items()}
        tensors.update({s: check_scalar(s, kwargs[s]) for s in self.scalars})
        if self.classes is not None:  # K in the closed form (eps/K) is the length of the class axis
            tensors[self.classes] = shape[-1]
        with np.errstate(**_QUIET):
            try:  # every free index runs over the classes, also one only a Kronecker delta carries
                out = self._evaluate(tensors, known=dict.fromkeys(self.free, shape[-1]))
            except Overflow as error:
                raise _overflow(error, ", ".join(error.inputs), BATCH) from None
            except NotPositive as error:
                raise ArgumentError(error.name, f"must be positive: the closed form takes its logarithm "
                                                f"(first entry <= 0 at index {_row_first(error.index)})") from None
            except ValueError as error:  # an index the per-example layout cannot size or place
                raise ArgumentError(", ".join(self.inputs), f"cannot be laid out per example (N, K) for "
                                                            f"{self.name}: {error}") from None
            result = np.ascontiguousarray(np.moveaxis(out.array, out.axes.index(BATCH), 0) if BATCH in out.axes
                                          else out.array, dtype=dtype)
            return result if self._bounded else _finite(", ".join(self.inputs), result)


def _row_first(index: tuple) -> tuple:
    """An index in a per-example tensor (class axis first, rows last) as the user's (row, class)."""
    return tuple(reversed(index)) if len(index) == 2 else index


def _per_example(a, moveaxis=np.moveaxis) -> Tensor:
    """(N, K) -> a tensor over (class, batch); (K,) -> over (class,). ``moveaxis`` is the array library's."""
    if a.ndim == 1:
        return Tensor(a, (sp.Dummy("class"),))
    return Tensor(moveaxis(a, 0, -1), (sp.Dummy("class"), BATCH))


def _matrix(a) -> Tensor:
    """An array as a tensor over fresh axes (the program names them)."""
    return Tensor(a, tuple(sp.Dummy() for _ in range(a.ndim)))


class RegressionGradient:
    """dJ/dTheta for softmax regression: f(theta=(K, n+1), x=(m, n), y=(m, K)) -> (K, n+1).

    The keyword of the parameters is their name in lower case (theta for Theta).
    """

    def __init__(self, d: Derivation) -> None:
        self.name = d.name
        self.K = int(d.setting.K) if d.setting.K.is_Integer else None
        self.bases = tuple(str(d.setting.symbols[r]) for r in ("Theta", "x", "y"))
        self.names = (self.bases[0].lower(),) + self.bases[1:]
        self.example = d.setting.symbols["i"]
        self._evaluate = Evaluator(d.setting, index_form(d), d.free_indices)

    inputs = property(lambda self: self.names)
    source = property(lambda self: self._evaluate.program.source)

    def __repr__(self) -> str:
        t, x, y = self.names
        return f"<compiled {self.name}: f({t}=(K, n+1), {x}=(m, n), {y}=(m, K)) -> (K, n+1)>"

    def __call__(self, **kwargs) -> np.ndarray:
        check_names(self.name, kwargs, self.names)
        t, x, y = self.names
        theta = check_array(t, kwargs[t], (2,))
        X = check_array(x, kwargs[x], (2,))
        Y = check_array(y, kwargs[y], (2,))
        K = check_classes(t, theta, self.K)
        if theta.shape[1] != X.shape[1] + 1:
            raise ArgumentError(t, f"must have n + 1 = {X.shape[1] + 1} columns (bias first) for {x} of shape "
                                   f"{X.shape}, got shape {theta.shape}")
        if Y.shape != (X.shape[0], K):
            raise ArgumentError(y, f"must have shape (m, K) = {(X.shape[0], K)}, got {Y.shape}")
        check_targets(y, Y, "simplex", "")
        X1 = np.concatenate([np.ones((X.shape[0], 1), dtype=X.dtype), X], axis=1)  # x_0 = 1, the bias input
        Tn, Xn, Yn = self.bases
        with np.errstate(**_QUIET):
            try:
                out = self._evaluate({Tn: _matrix(theta), Xn: _matrix(X1), Yn: _matrix(Y)})
            except Overflow as error:
                named = dict(zip(self.bases, self.names))
                raise _overflow(error, ", ".join(named[n] for n in error.inputs), self.example) from None
            return _finite(x, np.ascontiguousarray(out.array, dtype=np.result_type(theta, X, Y)))


class LabelGradient:
    """The gradient of sum_i L_i with integer labels: f(w=(K, n), x=(m, n), label=(m,)) -> (K, n)."""

    def __init__(self, d: Derivation) -> None:
        self.name = d.name
        self.K = int(d.setting.K) if d.setting.K.is_Integer else None
        s = d.setting.symbols
        self.example = s["i"]
        self.bases = (str(s["w"]), str(s["x"]), str(s["y"]))
        self.names = self.bases[:2] + ("label",)
        free = tuple(a for a in d.free_indices if a != self.example)
        # the gradient of sum_i L_i: the sum over the examples is part of the contraction
        self._evaluate = Evaluator(d.setting, index_form(d), free, keep=(self.example,), reduce=(self.example,))

    inputs = property(lambda self: self.names)
    source = property(lambda self: self._evaluate.program.source)

    def __repr__(self) -> str:
        w, x, label = self.names
        return f"<compiled {self.name}: f({w}=(K, n), {x}=(m, n), {label}=(m,) in 0..K-1) -> (K, n)>"

    def __call__(self, **kwargs) -> np.ndarray:
        check_names(self.name, kwargs, self.names)
        wn, xn, ln = self.names
        W = check_array(wn, kwargs[wn], (2,))
        X = check_array(xn, kwargs[xn], (2,))
        labels = check_labels(ln, kwargs[ln], W.shape[0])
        check_classes(wn, W, self.K)
        if W.shape[1] != X.shape[1]:
            raise ArgumentError(xn, f"must have {W.shape[1]} columns like {wn}, got shape {X.shape}")
        if labels.shape != (X.shape[0],):
            raise ArgumentError(ln, f"must have shape (m,) = ({X.shape[0]},), got {labels.shape}")
        Wb, Xb, Lb = self.bases
        with np.errstate(**_QUIET):
            try:
                out = self._evaluate({Wb: _matrix(W), Xb: _matrix(X), Lb: _matrix(labels + 1)})  # classes from 1
            except Overflow as error:
                named = dict(zip(self.bases, self.names))
                raise _overflow(error, ", ".join(named[n] for n in error.inputs), self.example) from None
            return _finite(xn, np.ascontiguousarray(out.array, dtype=np.result_type(W, X)))


class Backprop:
    """Backpropagation built from BP1-BP4: f(weights=[W2..WL], biases=[b2..bL], x=X, y=Y) -> (grads_W, grads_b).

    The forward pass evaluates the derivation's definitions (weighted input,
    sigmoid, softmax); the backward pass evaluates BP1, then BP2 layer by
    layer, and BP3 and BP4 give the gradients of the mean cost over the rows.
    """

    def __init__(self, d: Derivation) -> None:
        self.name = d.name
        parts = {p.name: p for p in d.parts}
        self.roles = {n: parts[n].setting.symbols for n in ("bp1", "bp2", "bp4")}
        out, hidden, params = (parts[n].setting for n in ("bp1", "bp2", "bp4"))
        self.softmax = DefinitionProgram(out.definition_of(self.roles["bp1"]["a"]))
        self.sigmoid = DefinitionProgram(hidden.definition_of(self.roles["bp2"]["a"]))
        self.affine = DefinitionProgram(params.definition_of(self.roles["bp4"]["z"]))
        self.programs = {n: Program(index_form(parts[n]), parts[n].free_indices) for n in ("bp1", "bp2")}
        # BP3 and BP4 are summed over the examples (the mean cost) inside the contraction
        self.programs.update({n: Program(index_form(parts[n]), parts[n].free_indices, reduce=(BATCH,))
                              for n in ("bp3", "bp4")})
        self.inputs = ("weights", "biases", "x", "y")
        self._names = tuple({k: str(v) for k, v in self.roles[n].items()} for n in ("bp1", "bp2", "bp4"))

    @property
    def source(self) -> str:
        """The generated NumPy code of BP1-BP4."""
        return "\n".join(p.source for p in self.programs.values())

    def __repr__(self) -> str:
        return (f"<compiled {self.name}: f(weights=[W2..WL], biases=[b2..bL], x=(N, n1), y=(N, nL)) "
                f"-> (grads_W, grads_b)>")

    def __call__(self, **kwargs):
        check_names(self.name, kwargs, self.inputs)
        weights, biases = _layers(kwargs["weights"], kwargs["biases"])
        X = check_array("x", kwargs["x"], (2,))
        Y = check_array("y", kwargs["y"], (2,))
        if X.shape[1] != weights[0].shape[1]:
            raise ArgumentError("x", f"must have {weights[0].shape[1]} columns (the first layer's width), "
                                     f"got shape {X.shape}")
        if Y.shape != (X.shape[0], weights[-1].shape[0]):
            raise ArgumentError("y", f"must have shape {(X.shape[0], weights[-1].shape[0])}, got {Y.shape}")
        check_targets("y", Y, "one_hot", "")
        if X.shape[0] == 0:
            raise ArgumentError("x", "has no rows: the gradient of the mean cost over N = 0 examples is undefined")
        with np.errstate(**_QUIET):
            grads_W, grads_b = self._gradients(weights, biases, X, Y)
            dtype = np.result_type(X, Y, *weights)
            return ([_finite("weights, x", g.astype(dtype, copy=False)) for g in grads_W],
                    [_finite("weights, x", g.astype(dtype, copy=False)) for g in grads_b])

    def _gradients(self, weights, biases, X, Y) -> tuple:
        r1, r2, r4 = self._names
        activations = [_batch(X)]
        for n, (W, b) in enumerate(zip(weights, biases)):
            try:
                z = self.affine({r4["W"]: _matrix(W), r4["a_prev"]: activations[-1], r4["b"]: _matrix(b)})[r4["z"]]
            except Overflow as error:  # the previous layer's activations lie in [0, 1]: only x can be large
                args = f"weights[{n}], x, biases[{n}]" if n == 0 else f"weights[{n}], biases[{n}]"
                raise _overflow(error, args, BATCH, "unit", f"the weighted inputs of layer {n + 2}") from None
            last = n == len(weights) - 1
            a = self.softmax({r1["z"]: z}, {r1["a"]})[r1["a"]] if last else self.sigmoid({r2["z"]: z})[r2["a"]]
            activations.append(a)
        delta = self.programs["bp1"]({r1["a"]: activations[-1], r1["y"]: _batch(Y)})
        grads_W, grads_b = [None] * len(weights), [None] * len(weights)
        for n in range(len(weights) - 1, -1, -1):
            grads_b[n] = self.programs["bp3"]({r4["delta"]: delta}).array / X.shape[0]
            grads_W[n] = self.programs["bp4"]({r4["delta"]: delta, r4["a_prev"]: activations[n]}).array / X.shape[0]
            if n > 0:
                delta = self.programs["bp2"]({r2["delta_next"]: delta, r2["W_next"]: _matrix(weights[n]),
                                              r2["a"]: activations[n]})
        return grads_W, grads_b


_QUIET = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}  # each inf or NaN is checked for instead


def _overflow(error: Overflow, args: str, example, unit: str = "class", what: str = "the scores") -> ArgumentError:
    """The error for a score beyond the float range, naming the arguments ``args`` it is computed from."""
    at = sorted(zip(error.axes, error.index), key=lambda p: p[0] != example)  # the example first
    where = ", ".join(f"example {i}" if axis == example else f"{unit} {i}" for axis, i in at)
    return ArgumentError(args, f"{what} overflow {error.dtype} at {where} (a term or their sum is beyond "
                               f"+-{np.finfo(error.dtype).max:.2g}); scale the inputs")


def _finite(args: str, result: np.ndarray) -> np.ndarray:
    """``result``, or an ArgumentError naming ``args`` when an entry overflowed to inf or NaN."""
    bad = first_not_finite(result)
    if bad is not None:
        limit = f"{np.finfo(result.dtype).max:.2g}"
        raise ArgumentError(args, f"the gradient computed from them overflows {result.dtype} (it or an intermediate "
                                  f"is beyond +-{limit}, first at index {bad}); scale the inputs")
    return result


def _batch(a: np.ndarray) -> Tensor:
    return Tensor(np.moveaxis(a, 0, -1), (sp.Dummy("unit"), BATCH))


def _layers(weights, biases) -> tuple:
    if not isinstance(weights, (list, tuple)) or not weights:
        raise ArgumentTypeError("weights", "must be a non-empty list of matrices [W2, ..., WL]")
    if not isinstance(biases, (list, tuple)) or len(biases) != len(weights):
        raise ArgumentError("biases", f"must be a list of {len(weights)} vectors [b2, ..., bL], one per weight matrix")
    Ws = [check_array(f"weights[{n}]", W, (2,)) for n, W in enumerate(weights)]
    bs = [check_array(f"biases[{n}]", b, (1,)) for n, b in enumerate(biases)]
    for n in range(len(Ws)):
        if bs[n].shape != (Ws[n].shape[0],):
            raise ArgumentError(f"biases[{n}]", f"must have shape ({Ws[n].shape[0]},) to match weights[{n}] "
                                                f"of shape {Ws[n].shape}, got {bs[n].shape}")
        if n and Ws[n].shape[1] != Ws[n - 1].shape[0]:
            raise ArgumentError(f"weights[{n}]", f"must have {Ws[n - 1].shape[0]} columns (the previous layer's "
                                                 f"width), got shape {Ws[n].shape}")
    if Ws[-1].shape[0] < 2:
        raise ArgumentError(f"weights[{len(Ws) - 1}]", "the softmax output layer needs at least 2 units")
    return Ws, bs


# -- input checks at the boundary ------------------------------------------------

def check_names(name: str, kwargs: dict, expected: Sequence[str]) -> None:
    """Every expected keyword present and no other."""
    for key in kwargs:
        if key not in expected:
            raise ArgumentError(key, f"unknown argument; {name} takes {', '.join(expected)}")
    for key in expected:
        if key not in kwargs:
            raise ArgumentError(key, f"missing argument; {name} takes {', '.join(expected)}")


def check_array(name: str, value, ndims: tuple = (1, 2), finite: bool = True) -> np.ndarray:
    """A finite real float array of an allowed rank, or an error naming ``name`` (``finite=False``: the
    caller checks finiteness itself, as check_targets does with the row sums it computes anyway)."""
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
        allowed = " or ".join({1: "(K,)", 2: "(N, K)"}.get(n, f"{n}-d") for n in ndims)
        if ndims == (2,):
            allowed = "2-d"
        raise ArgumentError(name, f"must have shape {allowed}, got shape {a.shape}")
    if finite and a.size and not all_finite(a):  # one sum in the common case
        _not_finite(name, a)
    return a


def _not_finite(name: str, a: np.ndarray) -> None:
    raise ArgumentError(name, f"contains NaN or infinity (first at index {first_not_finite(a)})")


def check_classes(name: str, a: np.ndarray, K) -> int:
    """The number of rows of a parameter matrix (one per class): at least 2, and K when K is fixed."""
    if K is not None and a.shape[0] != K:
        raise ArgumentError(name, f"must have K = {K} rows (one per class), got shape {a.shape}")
    if a.shape[0] < 2:
        raise ArgumentError(name, f"needs at least 2 rows (classes), got shape {a.shape}")
    return a.shape[0]


def check_targets(name: str, a: np.ndarray, kind: str, hint: str) -> None:
    """Rows on the probability simplex (or one-hot), as the derivation assumes."""
    tol = 1e-4 if a.dtype == np.float32 else 1e-8
    if not a.size:
        return
    sums = rowsum(a)
    if not np.isfinite(sums).all():  # a row sum is finite only when each of its entries is
        _not_finite(name, a)
    if a.min() < -tol or np.abs(sums - 1).max() > tol * a.shape[-1]:
        raise ArgumentError(name, f"each row must be non-negative and sum to 1: the derivation assumes it{hint}")
    if kind == "one_hot" and not np.all((a == 0) | (a == 1)):
        raise ArgumentError(name, "each row must be one-hot (zeros and a single one): the derivation assumes it")


def check_labels(name: str, value, K: int) -> np.ndarray:
    """Integer class labels in 0..K-1, or an error naming ``name``."""
    a = np.asarray(value)
    if a.dtype.kind not in "iu":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):  # [] is float
            a = a.astype(np.int64)
        else:
            raise ArgumentTypeError(name, f"must hold integer class labels, got dtype {a.dtype}")
    if a.ndim != 1:
        raise ArgumentError(name, f"must have shape (m,), got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= K):
        raise ArgumentError(name, f"labels must lie in 0..{K - 1}, got values from {a.min()} to {a.max()}")
    return a.astype(np.int64)


def check_scalar(name: str, value) -> float:
    """A finite real number, or an error naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(name, f"must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ArgumentError(name, f"must be finite, got {value}")
    return float(value)


class LayerGradient:
    """The gradient with respect to shared weights of a layer a cost's outputs are computed from (the
    ``define`` of derive.gradient), summed over the examples: f(w=(K, n), x=(N, n), y=(N, K), ...) -> (K, n).

    Vectors (one index) hold one row per example; the variable (two or more indices) is shared.
    """

    def __init__(self, d: Derivation) -> None:
        _refuse_conditions(d)
        self.name = d.name
        self.free = d.free_indices
        expr = index_form(d)
        self.arrays, self.scalars = _inputs(d.setting, expr)
        self.variable = str(d.setting.variables[0])
        self.targets = _normalised(d)
        self._evaluate = Evaluator(d.setting, expr, self.free, reduce=(BATCH,))  # summed over the examples
        self.K = d.setting.K
        self.classes = self._evaluate.class_count(self.K)

    @property
    def inputs(self) -> tuple:
        """The keyword arguments: the shared variable first, then the per-example arrays, then scalars."""
        return self.arrays + self.scalars

    @property
    def source(self) -> str:
        return self._evaluate.program.source

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}=(N, .)" for n in self.arrays if n != self.variable)
        return f"<compiled {self.name}: f({self.variable}=matrix, {rows}" + "".join(
            f", {s}=scalar" for s in self.scalars) + ") -> the gradient of the summed cost, shaped like " + \
            f"{self.variable}>"

    def __call__(self, **kwargs) -> np.ndarray:
        check_names(self.name, kwargs, self.inputs)
        shared = check_array(self.variable, kwargs[self.variable], (2,))
        rows = {n: check_array(n, kwargs[n], (2,), finite=n not in self.targets) for n in self.arrays
                if n != self.variable}
        N = {a.shape[0] for a in rows.values()}
        if len(N) > 1:
            raise ArgumentError(", ".join(rows), f"must have one row per example each, got {sorted(N)} rows")
        for n, a in rows.items():
            if n in self.targets:
                check_targets(n, a, self.targets[n], "")
        tensors: dict = {self.variable: _matrix(shared)}
        tensors.update({n: _per_example(a) for n, a in rows.items()})
        tensors.update({s: check_scalar(s, kwargs[s]) for s in self.scalars})
        if self.classes is not None:
            tensors[self.classes] = shared.shape[0]
        dtype = np.result_type(shared, *rows.values())
        with np.errstate(**_QUIET):
            try:
                out = self._evaluate(tensors)
            except Overflow as error:
                raise _overflow(error, ", ".join(error.inputs), BATCH) from None
            except NotPositive as error:
                raise ArgumentError(error.name, "must be positive: the closed form takes its logarithm") from None
            except ValueError as error:  # axes of different lengths
                raise ArgumentError(", ".join(self.inputs), f"shapes do not fit together: {error}") from None
            total = out.array
            return _finite(", ".join(self.inputs), np.ascontiguousarray(total, dtype=dtype))


INTERFACES = {"per_example": CompiledGradient, "dataset": RegressionGradient, "labels": LabelGradient,
              "network": Backprop, "layer": LayerGradient}


def compile_derivation(d: Derivation, backend: str = "numpy"):
    """The compiled closed form of ``d``, laid out as its interface says; ``backend`` 'jax' or 'torch'
    runs the same program with that library's arrays (see derive.backends; imported only then)."""
    if not isinstance(backend, str):
        raise ArgumentTypeError("backend", f"must be a string ('numpy', 'jax' or 'torch'), got {type(backend).__name__}")
    if backend != "numpy":
        from .backends import ops_for
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
    from .backends import compile_backend
    return compile_backend(compiled, d.interface, backend)
