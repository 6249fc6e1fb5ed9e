"""The interfaces a compiled closed form is called through, each laying out its inputs once for every
backend (derive.compile.boundary): 'per_example' and 'layer' (``ArrayGradient``: arguments shaped by
their axes), 'dataset' (``RegressionGradient``), 'labels' (``LabelGradient``) and 'network'
(``Backprop``, NumPy only). The adapters only lay out inputs; the mathematics is the derivation's."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Optional

import numpy as np
import sympy as sp

from ..backends.numpy_ops import NUMPY
from ..errors import ArgumentError, ArgumentTypeError
from ..inputs import (check_array, check_classes, check_labels, check_names, check_positive, check_scalar,
                      check_size, check_targets, precision)
from ..model import Derivation
from ..tensor import BATCH, DefinitionProgram, Overflow, Program, Tensor, bounded
from .boundary import QUIET, Compiled, finite, matrix, overflow_error, rows
from .evaluator import Evaluator, index_form, needed_definitions, read_inputs


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


@dataclass(frozen=True)
class Argument:
    """One array argument of a compiled function: its keyword, the size each of its axes has (K, n, or a
    number), and whether it holds one row per example (a leading axis N) or is shared by every example."""

    name: str
    axes: tuple
    per_example: bool

    def shape(self) -> str:
        """The shape as the signature states it: (N, K), (K, n), (K,)."""
        dims = (["N"] if self.per_example else []) + [str(a) for a in self.axes]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    def ranks(self) -> tuple:
        """The ranks it may be passed with: a per-example argument also as one example, without N."""
        return (len(self.axes), len(self.axes) + 1) if self.per_example else (len(self.axes),)

    def described(self) -> str:
        one = "(" + ", ".join(str(a) for a in self.axes) + ("," if len(self.axes) == 1 else "") + ")"
        return f"{self.shape()} or {one} for one example" if self.per_example else self.shape()


def _limits(exprs) -> dict:
    """Index -> its (lower, upper) bounds, from the sums of the expressions."""
    out: dict = {}
    for e in exprs:
        for s in e.atoms(sp.Sum):
            for i, lo, hi in s.limits:
                out.setdefault(i, (lo, hi))
    return out


def _size(setting, limits: dict, i) -> sp.Expr:
    """The length of the axis index ``i`` runs along: K, n, or a number."""
    lo, hi = limits.get(i) or setting.range_of(i)
    return sp.simplify(hi - lo + 1)


def _occurrences(exprs, name: str) -> list:
    return [a for e in exprs for a in sorted(e.atoms(sp.Indexed), key=str) if str(a.base) == name]


def _is_bias(setting, name: str, matrices: set) -> bool:
    """A vector a layer adds to its weighted sum (b in z_j := sum_d w_jd x_d + b_j, or z_ij of a batch): read
    only at the layer's own (last) indices, in a definition that also reads a shared matrix. It is a parameter, shared by every example."""
    for x in setting.definitions:
        if x.is_kernel or not x.indices:
            continue
        uses = _occurrences([x.expr], name)
        reads_matrix = any(str(a.base) in matrices for a in x.expr.atoms(sp.Indexed))
        own = lambda a: tuple(a.indices) == tuple(x.indices)[len(x.indices) - len(a.indices):]  # noqa: E731
        if uses and reads_matrix and all(own(a) for a in uses):  # b_j of z_ij = ... + b_j too: a batch's layer
            return True
    return False


class ArrayGradient(Compiled):
    """The closed form as a function of arrays laid out by their axes (the 'per_example' and 'layer'
    interfaces): each argument's shape comes from the indices it is read with (w_jd: (K, n)).

    A matrix, and a bias a layer adds (b in z_j = sum_d w_jd x_d + b_j), is a parameter shared by every
    example and passed in its own shape; every other vector holds one row per example, (N, K), or one
    example, (K,). The result has one gradient per example, (N, ...), when the variable has one row per
    example, and is the gradient of the cost summed over the examples, shaped like the variable, when it is
    shared. The free indices of the cost (the j of a Jacobian do_j/dz_k) come before the variable's. A size
    that no argument carries (the length of an axis that only a Kronecker delta or a sum reads) is a
    keyword of its own. ``inputs`` lists the keywords; ``help(g)`` shows each with its shape.
    """

    layout_errors = (ValueError, KeyError)

    def __init__(self, d: Derivation) -> None:
        _refuse_conditions(d)
        self.name = d.name
        setting = d.setting
        self._examples = setting.symbols.get("examples")  # the example axis a batch cost names (N)
        expr = index_form(d)
        names, self.scalars = read_inputs(setting, expr)
        self.targets = _normalised(d)
        self.K = int(setting.K) if setting.K.is_Integer else None
        needed = needed_definitions(setting, expr)
        exprs = [expr] + [x.argument if x.is_kernel else x.expr for x in needed] + [x.expr for x in setting.definitions]
        exprs += [d.lhs] if isinstance(d.lhs, sp.Basic) else []
        limits = _limits(exprs)
        axes = {}
        for n in names:
            found = _occurrences(exprs, n)
            if not found:
                raise ArgumentError("derivation", f"{d.name}: the closed form reads {n} without an index")
            axes[n] = tuple(_size(setting, limits, i) for i in found[0].indices)
        matrices = {n for n, a in axes.items() if len(a) > 1}
        self.arguments = tuple(Argument(n, axes[n], not (n in matrices or _is_bias(setting, n, matrices)))
                               for n in names)
        self.arrays = tuple(a.name for a in self.arguments)
        variables = [str(v) for v in setting.variables if isinstance(v, sp.IndexedBase)]
        self.variable = variables[0] if variables else None
        self.shared = self.variable is not None and not self._argument(self.variable).per_example
        # the axes of the result: the cost's own free indices (a Jacobian's j), then the variable's
        indices = {i for a in expr.atoms(sp.Indexed) for i in a.indices} | {
            i for delta in expr.atoms(sp.KroneckerDelta) for i in delta.args}
        own = sorted((i for i in indices & expr.free_symbols if i not in d.free_indices and isinstance(i, sp.Symbol)),
                     key=str)
        self.free = tuple(own) + tuple(d.free_indices)
        # every index the evaluated expressions read, and the length of the axis it runs along
        read = [expr] + [x.argument if x.is_kernel else x.expr for x in needed]
        every = set(self.free) | set(_limits(read)) | {i for e in read for a in e.atoms(sp.Indexed)
                                                       for i in a.indices if isinstance(i, sp.Symbol)}
        every |= {i for e in read for delta in e.atoms(sp.KroneckerDelta) for i in delta.args
                  if isinstance(i, sp.Symbol) and i not in self.scalars}
        self._index_sizes = {i: _size(setting, limits, i) for i in every}
        self._evaluate = Evaluator(setting, expr, self.free, reduce=(BATCH,) if self.shared else ())
        programs = [self._evaluate.program] + [p.program for p in self._evaluate.definitions]
        lengths = set(self._index_sizes.values()) | {setting.K} | set(setting.sizes)
        self._size_scalars = tuple(sorted({s for p in programs for s in p.scalars if s in lengths}, key=str))
        carried = {s for a in self.arguments for s in a.axes}
        wanted = set(self._index_sizes.values()) | set(self._size_scalars)
        self.sizes = tuple(sorted(str(s) for s in wanted - carried if not s.is_Integer))
        self._softmax = self._evaluate.normalised
        self._logs = tuple(n for n in self.arrays if any(v.log and v.base == n for p in programs for v in p.views))
        self._bounded = bounded(self._evaluate.program.root, self._evaluate.probabilities | set(self.targets))
        self.__doc__ = self._doc()
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(a.name, inspect.Parameter.KEYWORD_ONLY, annotation=a.shape()) for a in self.arguments]
            + [inspect.Parameter(s, inspect.Parameter.KEYWORD_ONLY, annotation="scalar") for s in self.scalars]
            + [inspect.Parameter(s, inspect.Parameter.KEYWORD_ONLY, annotation="int") for s in self.sizes],
            return_annotation=self.result_shape())

    def _argument(self, name: str) -> Argument:
        return next(a for a in self.arguments if a.name == name)

    @property
    def inputs(self) -> tuple:
        """The keyword arguments: arrays, then scalar parameters, then sizes no array carries."""
        return self.arrays + self.scalars + self.sizes

    @property
    def source(self) -> str:
        """The generated NumPy code of the closed form (the same for every K)."""
        return self._evaluate.program.source

    def result_shape(self) -> str:
        dims = ([] if self.shared else ["N"]) + [str(self._index_sizes[i]) for i in self.free]
        return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"

    def _doc(self) -> str:
        args = ", ".join(f"{a.name}={a.shape()}" for a in self.arguments)
        args += "".join(f", {s}=scalar" for s in self.scalars) + "".join(f", {s}=int" for s in self.sizes)
        lines = [f"{self.name}({args}) -> {self.result_shape()}", ""]
        what = (f"the gradient of the cost summed over the examples, shaped like {self.variable}" if self.shared
                else "one row per example")
        if self._examples is not None and self.shared:  # a batch cost: its own sum over the N examples
            what = f"the gradient of the cost over the batch of {self._examples} examples, shaped like {self.variable}"
        lines.append(f"The compiled closed form of {self.name}: {what}.")
        lines.append("")
        examples = self._examples
        for a in self.arguments:
            role = "one row per example" if a.per_example or (a.axes and a.axes[0] == examples) \
                else "shared by every example"
            lines.append(f"{a.name}: {a.described()}, {role}"
                         + (" (targets: rows on the simplex, as the derivation assumes)" if a.name in self.targets
                            else ""))
        lines += [f"{s}: a real number (a scalar parameter)" for s in self.scalars]
        lines += [f"{s}: an integer, the length of an axis no array carries" for s in self.sizes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        args = ", ".join(f"{a.name}={a.shape()}" for a in self.arguments)
        args += "".join(f", {s}=scalar" for s in self.scalars) + "".join(f", {s}=int" for s in self.sizes)
        return f"<compiled {self.name}: f({args}) -> {self.result_shape()}>"

    # -- the boundary: every backend checks its inputs here --------------------------------
    def checked(self, kwargs: dict, given: Optional[dict] = None) -> dict:
        """The inputs checked and laid out: {'arrays': name -> checked NumPy array (or Unseen), 'scalars',
        'sizes': size symbol -> length, 'N': the number of examples or None for one example}. ``given``:
        the float type each input was passed in (``precision``), when ``kwargs`` hold copies read on the host."""
        check_names(self.name, kwargs, self.inputs)
        given = given or {n: precision(v) for n, v in kwargs.items()}
        arrays = {}
        for a in self.arguments:
            arrays[a.name] = check_array(a.name, kwargs[a.name], a.ranks(), finite=a.name not in self.targets,
                                         shape=a.described())
        rows = {a.name: arrays[a.name].shape[0] for a in self.arguments
                if a.per_example and arrays[a.name].ndim == len(a.axes) + 1}
        singles = [a.name for a in self.arguments if a.per_example and a.name not in rows]
        if rows and singles:
            raise ArgumentError(singles[0], f"has shape {tuple(arrays[singles[0]].shape)}, one example, but "
                                            f"{next(iter(rows))} has {next(iter(rows.values()))} rows: pass every "
                                            f"per-example argument with its rows ({self._argument(singles[0]).shape()})")
        if len(set(rows.values())) > 1:
            first = next(iter(rows))
            other = next(n for n, r in rows.items() if r != rows[first])
            raise ArgumentError(other, f"shape {tuple(arrays[other].shape)} does not match {first}'s shape "
                                       f"{tuple(arrays[first].shape)}: one row per example each")
        sizes: dict = {}
        seen: dict = {}
        for a in self.arguments:
            shape = tuple(arrays[a.name].shape)
            for position, size in enumerate(a.axes):
                length = shape[position + (a.name in rows)]
                if size.is_Integer:
                    if length != int(size):
                        raise ArgumentError(a.name, f"axis {position + (a.name in rows)} must have {size} entries "
                                                    f"(K = {size} classes), got shape {shape}")
                    continue
                if size in sizes and sizes[size] != length:
                    raise ArgumentError(a.name, f"shape {shape} does not match {seen[size]}'s shape "
                                                f"{tuple(arrays[seen[size]].shape)}: both have an axis of length "
                                                f"{size} ({sizes[size]} there)")
                sizes.setdefault(size, length)
                seen.setdefault(size, a.name)
        for s in self.sizes:
            sizes[s] = check_size(s, kwargs[s], 2 if s == "K" and self._softmax else 1)
        sizes = {str(k): v for k, v in sizes.items()}
        if self._softmax and sizes.get("K", 2) < 2:  # a softmax over one class is constant
            name = seen[next(k for k in seen if str(k) == "K")]
            raise ArgumentError(name, f"needs at least 2 classes on its axis K, got shape {tuple(arrays[name].shape)}")
        for n, kind in self.targets.items():
            if n in arrays:
                check_targets(n, arrays[n], kind, " (derive it with normalized_targets=False for other targets)",
                              given[n])
        for n in self._logs:
            check_positive(n, arrays[n])
        hint = {s: (f"; {s} is a scalar parameter of the cost: to give one value per class, define the vector "
                    f"that reads it (define=['g[j] = ...{s}[j]...'], see docs/grammar.md)") for s in self.scalars}
        scalars = {s: check_scalar(s, kwargs[s], hint[s]) for s in self.scalars}
        return {"arrays": arrays, "scalars": scalars, "sizes": sizes,
                "N": next(iter(rows.values())) if rows else None}

    def tensors(self, call: dict, arrays: dict, ops=None) -> tuple:
        """(tensors, known sizes) for the program: per-example arrays over (their axes..., batch), shared
        ones over their own axes; ``arrays`` are the checked arrays in the evaluating library."""
        tensors: dict = {}
        for a in self.arguments:
            x = arrays[a.name]
            if a.per_example:
                tensors[a.name] = rows(x if call["N"] is not None else x[None], ops)
            else:
                tensors[a.name] = matrix(x)
        tensors.update(call["scalars"])
        sizes = call["sizes"]
        tensors.update({str(s): sizes[str(s)] for s in self._size_scalars if str(s) in sizes})
        known = {i: sizes[str(s)] if not s.is_Integer else int(s) for i, s in self._index_sizes.items()
                 if not s.free_symbols or str(s) in sizes}
        known[BATCH] = 1 if call["N"] is None else call["N"]
        return tensors, known

    def result(self, out: Tensor, call: dict, ops=None):
        """The program's result laid out for the caller: examples first (none for one example)."""
        array = out.array
        if BATCH in out.axes:
            array = (ops or NUMPY).moveaxis(array, out.axes.index(BATCH), 0)
            if call["N"] is None:
                array = array[0]
        return array

    def run(self, call: dict, arrays: dict, ops=None):
        """The result from checked inputs (``call``) and those arrays in the evaluating library."""
        tensors, known = self.tensors(call, arrays, ops)
        return self.result(self._evaluate(tensors, ops, known), call, ops)

    def overflow(self, error: Overflow) -> ArgumentError:
        return overflow_error(error, ", ".join(error.inputs), BATCH)

    def finished(self, out, arrays: dict) -> np.ndarray:
        result = np.ascontiguousarray(out, dtype=np.result_type(*arrays.values()) if arrays else np.float64)
        return result if self._bounded else finite(", ".join(self.inputs), result)


class RegressionGradient(Compiled):
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

    def checked(self, kwargs: dict, given: Optional[dict] = None) -> dict:
        """The inputs checked (the same for every backend): {'arrays': name -> checked array}; ``given`` as
        ArrayGradient.checked's."""
        check_names(self.name, kwargs, self.names)
        given = given or {n: precision(v) for n, v in kwargs.items()}
        t, x, y = self.names
        theta = check_array(t, kwargs[t], (2,))
        X = check_array(x, kwargs[x], (2,))
        Y = check_array(y, kwargs[y], (2,))
        K = check_classes(t, theta, self.K)
        if theta.shape[1] != X.shape[1] + 1:
            raise ArgumentError(t, f"must have n + 1 = {X.shape[1] + 1} columns (bias first) for {x} of shape "
                                   f"{tuple(X.shape)}, got shape {tuple(theta.shape)}")
        if tuple(Y.shape) != (X.shape[0], K):
            raise ArgumentError(y, f"must have shape (m, K) = {(X.shape[0], K)}, got {tuple(Y.shape)}")
        check_targets(y, Y, "simplex", "", given[y])
        return {"arrays": {t: theta, x: X, y: Y}}

    def run(self, call: dict, arrays: dict, ops=None):
        """The result from checked inputs, in the evaluating library's arrays; x_0 = 1 is the bias input."""
        theta, X, Y = (arrays[n] for n in self.names)
        ops = ops or NUMPY
        # NumPy's column of ones is made from the shape (n = 0 features too); a library's from X (its device)
        ones = np.ones((X.shape[0], 1), dtype=X.dtype) if ops is NUMPY else ops.ones_like(X[:, :1])
        X1 = ops.concatenate([ones, X], axis=1)
        Tn, Xn, Yn = self.bases
        return self._evaluate({Tn: matrix(theta), Xn: matrix(X1), Yn: matrix(Y)}, ops).array

    def overflow(self, error: Overflow) -> ArgumentError:
        named = dict(zip(self.bases, self.names))
        return overflow_error(error, ", ".join(named[n] for n in error.inputs), self.example)

    def finished(self, out, arrays: dict) -> np.ndarray:
        return finite(self.names[1], np.ascontiguousarray(out, dtype=np.result_type(*arrays.values())))


class LabelGradient(Compiled):
    """The gradient of sum_i L_i with integer labels: f(w=(K, n), x=(m, n), label=(m,)) -> (K, n)."""

    labels = ("label",)

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

    def checked(self, kwargs: dict, given: Optional[dict] = None) -> dict:
        """The inputs checked (the same for every backend): {'arrays': name -> checked array}."""
        check_names(self.name, kwargs, self.names)
        wn, xn, ln = self.names
        W = check_array(wn, kwargs[wn], (2,))
        X = check_array(xn, kwargs[xn], (2,))
        labels = check_labels(ln, kwargs[ln], W.shape[0])
        check_classes(wn, W, self.K)
        if W.shape[1] != X.shape[1]:
            raise ArgumentError(xn, f"must have {W.shape[1]} columns like {wn}, got shape {tuple(X.shape)}")
        if tuple(labels.shape) != (X.shape[0],):
            raise ArgumentError(ln, f"must have shape (m,) = ({X.shape[0]},), got {tuple(labels.shape)}")
        return {"arrays": {wn: W, xn: X, ln: labels}}

    def run(self, call: dict, arrays: dict, ops=None):
        """The result from checked inputs, in the evaluating library's arrays (labels from 0)."""
        W, X, labels = (arrays[n] for n in self.names)
        Wb, Xb, Lb = self.bases
        return self._evaluate({Wb: matrix(W), Xb: matrix(X), Lb: matrix(labels + 1)}, ops).array  # classes from 1

    def overflow(self, error: Overflow) -> ArgumentError:
        named = dict(zip(self.bases, self.names))
        return overflow_error(error, ", ".join(named[n] for n in error.inputs), self.example)

    def finished(self, out, arrays: dict) -> np.ndarray:
        W, X = (arrays[n] for n in self.names[:2])
        return finite(self.names[1], np.ascontiguousarray(out, dtype=np.result_type(W, X)))


class Backprop(Compiled):
    """Backpropagation built from BP1-BP4: f(weights=[W2..WL], biases=[b2..bL], x=X, y=Y) -> (grads_W, grads_b).

    The forward pass evaluates the derivation's definitions (weighted input,
    sigmoid, softmax); the backward pass evaluates BP1, then BP2 layer by
    layer, and BP3 and BP4 give the gradients of the mean cost over the rows.
    """

    backends = False  # the layer loop runs in NumPy only

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
        self._names = tuple({k: str(v) for k, v in self.roles[n].items()} for n in ("bp1", "bp2", "bp4"))

    @property
    def inputs(self) -> tuple:
        """The keyword arguments: the layers' weights and biases, the inputs x and the targets y."""
        return ("weights", "biases", "x", "y")

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
        check_targets("y", Y, "one_hot", "", precision(kwargs["y"]))
        if X.shape[0] == 0:
            raise ArgumentError("x", "has no rows: the gradient of the mean cost over N = 0 examples is undefined")
        with np.errstate(**QUIET):
            grads_W, grads_b = self._gradients(weights, biases, X, Y)
            dtype = np.result_type(X, Y, *weights)
            return ([finite("weights, x", g.astype(dtype, copy=False)) for g in grads_W],
                    [finite("weights, x", g.astype(dtype, copy=False)) for g in grads_b])

    def _gradients(self, weights, biases, X, Y) -> tuple:
        r1, r2, r4 = self._names
        activations = [_batch(X)]
        for n, (W, b) in enumerate(zip(weights, biases)):
            try:
                z = self.affine({r4["W"]: matrix(W), r4["a_prev"]: activations[-1], r4["b"]: matrix(b)})[r4["z"]]
            except Overflow as error:  # the previous layer's activations lie in [0, 1]: only x can be large
                args = f"weights[{n}], x, biases[{n}]" if n == 0 else f"weights[{n}], biases[{n}]"
                raise overflow_error(error, args, BATCH, "unit", f"the weighted inputs of layer {n + 2}") from None
            last = n == len(weights) - 1
            a = self.softmax({r1["z"]: z}, {r1["a"]})[r1["a"]] if last else self.sigmoid({r2["z"]: z})[r2["a"]]
            activations.append(a)
        delta = self.programs["bp1"]({r1["a"]: activations[-1], r1["y"]: _batch(Y)})
        grads_W, grads_b = [None] * len(weights), [None] * len(weights)
        for n in range(len(weights) - 1, -1, -1):
            grads_b[n] = self.programs["bp3"]({r4["delta"]: delta}).array / X.shape[0]
            grads_W[n] = self.programs["bp4"]({r4["delta"]: delta, r4["a_prev"]: activations[n]}).array / X.shape[0]
            if n > 0:
                delta = self.programs["bp2"]({r2["delta_next"]: delta, r2["W_next"]: matrix(weights[n]),
                                              r2["a"]: activations[n]})
        return grads_W, grads_b


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
