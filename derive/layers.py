"""The output layers: one frozen ``Layer`` per layer, registered once in ``LAYERS``, asked by every stage.

What a layer is lives here and nowhere else: the names the grammar reads (``softmax(v)[j]``,
``sigmoid(x)``, ...), the SymPy node the parser builds and the definition a cost's layer is written as,
whether sum_j o_j = 1 holds on its class axis, how the planner finds it written out and folds it back,
its derivative lemma (an identity that tests/test_layers.py proves), its stable numerics as functions
of the one ops table (derive.backends.ops: NumPy, JAX and PyTorch alike), and how ``derive check``
recognises it in a document's own definition. ``Definition.kernel`` holds a layer's name;
``Definition.layer`` is the layer. Stages ask the layer a question (``layer.normalised``,
``layer.unfolded(expr, d)``, ``layer.arrays(...)``) and never compare its name.

Adding a layer is one ``Layer(...)`` in ``LAYERS`` below (and its tests). ``softplus`` and
``log_sigmoid`` are spellings built on the sigmoid layer (softplus(x) = -log sigmoid(-x),
log_sigmoid(x) = log sigmoid(x)): the planner derives them through the sigmoid's own lemma and the
compiled closed form reads the sigmoid's stable logarithms.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional

import sympy as sp

from . import numeric
from .backends.ops import Tensor
from .errors import ArgumentError
from .expr import LogSoftmax, Sigmoid, Softmax


@dataclass(frozen=True, eq=False)
class Layer:
    """One output layer and everything a stage asks of it.

    - ``name``: the layer's name (``Definition.kernel``); ``grammar``: the names a cost may call it by.
    - ``vector``: called as ``name(v)[j]`` on a vector (a softmax), else entry by entry, ``name(x)``.
    - ``call(*args)``: the SymPy node the parser builds from the call's arguments.
    - ``define(g_j, g_l, l, K)``: the defining expression of entry j, with g the argument (g_l and its sum
      index l and size K only for a layer over a class axis).
    - ``normalised``: sum_j o_j = 1 holds over the last index (the class axis).
    - ``class_axis``: its value at j depends on every entry of the class axis (a normaliser sums it out).
    - ``logarithmic``: its value is the log of a normalised output (printed as log o).
    - ``probability``: its values lie in (0, 1); the compiled form reads 1 - p and logs from the argument.
    - ``kernel``: compiled from its argument by ``arrays`` (the stable numerics); stages keep its entries as
      named quantities. False for an activation F(g) differentiated through SymPy and folded back by
      application (tanh).
    - ``output``: the planner names it where the cost writes it out and folds it back (``unfolded``).
    - ``fold``: the pattern it is recognised and folded back by: 'normaliser' (exp(g_j)/sum_l exp(g_l)),
      'logistic' (1/(1 + exp(-g))), 'application' (F(g)) or '' (none of its own).
    - ``lemma(o, j, k)``: d out_j/d g_k written with ``o`` (an IndexedBase) the layer's output, or for a
      layer built ``through`` another, that layer's output: the identity tests/test_layers.py proves for
      ``define`` and checks the planner's own lemma against.
    - ``stable(a, ops)``: the layer's values from its argument's array, over the last axis, without
      overflow or cancellation, for any ops table.
    - ``read(expr, indices)``: the argument g when a document's definition ``expr`` is this layer over
      ``indices`` (derive check), else None.
    - ``words``: the words a document names it by, \\text{softmax}(z_j), which derive check reads as
      ``define`` of the argument (of one entry, for a layer over a vector).
    - ``sample``: the domain verify draws its outputs from where a step has them as free variables (a
      lemma dE/dh_j): 'unit', (0, 1), a part of its range on which what a cost builds of a probability or
      a tanh (log h, log(1 - h^2)) is defined; '' to draw them as any real.
    - ``through``: the layer it is built on (softplus on the sigmoid, log-softmax on the softmax), whose
      output its lemma is written with; '' for a layer of its own.
    """

    name: str
    grammar: tuple
    call: Callable[..., sp.Expr]
    define: Callable[..., sp.Expr]
    lemma: Callable[..., sp.Expr]
    stable: Callable[[Any, Any], Any]
    vector: bool = False
    normalised: bool = False
    class_axis: bool = False
    logarithmic: bool = False
    probability: bool = False
    kernel: bool = False
    output: bool = False
    fold: str = ""
    read: Optional[Callable[[sp.Expr, tuple], Optional[sp.Expr]]] = None
    through: str = ""
    text: str = ""
    words: tuple = ()
    sample: str = ""

    def __repr__(self) -> str:
        return f"<layer {self.name}>"

    def unfolded(self, expr: sp.Expr, d) -> Optional[sp.Expr]:
        """What is left of output ``d`` of this layer written out in ``expr``: a normaliser sum_l exp(g(l)),
        or a logistic exp(-g(j)) for any index; None when there is none. (exp(-z_j) alone is no softmax.)"""
        if self.fold == "normaliser":
            normaliser = sp.fraction(d.expr)[1]
            l = normaliser.limits[0][0]
            return next((s for s in expr.atoms(sp.Sum) if len(s.limits) == 1
                         and s.function == normaliser.function.xreplace({l: s.limits[0][0]})), None)
        if self.fold == "logistic":
            wilds = {i: sp.Wild(f"w_{i}") for i in d.indices}
            pattern = sp.exp(-d.argument.xreplace(wilds))
            return next((e for e in expr.atoms(sp.exp) if e.match(pattern) is not None), None)
        return None

    def normaliser(self, d) -> Optional[sp.Expr]:
        """The sum over the class axis in definition ``d`` (sum_l exp(g_l)), or None for an entrywise layer."""
        if not self.class_axis:
            return None
        if self.logarithmic:  # g_j - log sum_l exp(g_l): the log of the normaliser, not any log inside g
            return sp.exp(d.argument - d.expr)
        return sp.fraction(d.expr)[1]

    def arrays(self, value: Tensor, name: str, want, axis, ops) -> dict:
        """The arrays this layer's definition ``name`` provides from its argument's ``value``: the output
        (and its log where asked), and for a probability 1 - p, log(1 - p) and log(-log p) when ``want``
        (None: the output and its log) names them. ``axis`` is the class axis of a normalised layer."""
        a, axes = value.array, value.axes
        if self.class_axis:
            n = axes.index(axis)
            a = ops.moveaxis(a, n, -1)
        forms = [f for f in numeric.FORMS if want is not None and f"{f}_{name}" in want
                 and (self.probability and (f != "log" or not self.class_axis))]
        key = {"p": name, **{f: f"{f}_{name}" for f in numeric.FORMS}}
        if self.logarithmic:
            key["log"] = name
        arrays: dict = {}
        if self.probability and forms:
            forms += ["p"] * (name in want) + ["log"] * (self.class_axis and f"log_{name}" in want)
            arrays = _parts(self, a, forms, ops)
        else:
            if self.logarithmic or (self.class_axis and (want is None or f"log_{name}" in want)):
                arrays["log"] = ops.log_softmax(a)
            if not self.logarithmic and (want is None or name in want or not self.class_axis):
                arrays["p"] = self.stable(a, ops)
        if self.class_axis:
            arrays = {f: ops.moveaxis(x, -1, n) for f, x in arrays.items()}
        return {key[f]: Tensor(x, axes) for f, x in arrays.items()}


def _parts(layer: Layer, a, forms, ops) -> dict:
    return ops.softmax_parts(a, forms) if layer.class_axis else ops.sigmoid_parts(a, forms)


# -- the layers' mathematics -----------------------------------------------------------------------

def _softmax_define(g_j, g_l, l, K):
    return sp.exp(g_j) / sp.Sum(sp.exp(g_l), (l, 1, K))


def _log_softmax_define(g_j, g_l, l, K):
    return g_j - sp.log(sp.Sum(sp.exp(g_l), (l, 1, K)))


def _logistic(g, *_):
    return 1 / (1 + sp.exp(-g))


def _tanh(g, *_):
    return sp.tanh(g)


def _softplus(g, *_):
    return -sp.log(Sigmoid(-g))  # log(1 + exp(g)): the sigmoid layer's, as -log sigmoid(-g)


def _log_sigmoid(g, *_):
    return sp.log(Sigmoid(g))


def _softmax_lemma(o, j, k):
    """d o_j/d g_k = o_j (delta_jk - o_k)."""
    return o[j] * (sp.KroneckerDelta(j, k) - o[k])


def _log_softmax_lemma(o, j, k):
    """d log o_j/d g_k = delta_jk - o_k, with o the softmax."""
    return sp.KroneckerDelta(j, k) - o[k]


def _sigmoid_lemma(s, j, k):
    """d s_j/d g_k = s_j (1 - s_j) delta_jk."""
    return s[j] * (1 - s[j]) * sp.KroneckerDelta(j, k)


def _tanh_lemma(h, j, k):
    """d h_j/d g_k = (1 - h_j^2) delta_jk."""
    return (1 - h[j] ** 2) * sp.KroneckerDelta(j, k)


def _softplus_lemma(s, j, k):
    """d softplus(g_j)/d g_k = sigmoid(g_j) delta_jk, with s the sigmoid of g."""
    return s[j] * sp.KroneckerDelta(j, k)


def _log_sigmoid_lemma(s, j, k):
    """d log sigmoid(g_j)/d g_k = (1 - sigmoid(g_j)) delta_jk = sigmoid(-g_j) delta_jk, with s the sigmoid of g."""
    return (1 - s[j]) * sp.KroneckerDelta(j, k)


# -- stable numerics, over any ops table -----------------------------------------------------------

def _stable_softmax(a, ops):
    return ops.softmax(a)


def _stable_log_softmax(a, ops):
    return ops.log_softmax(a)


def _stable_sigmoid(a, ops):
    return ops.sigmoid(a)


def _stable_tanh(a, ops):
    return ops.xp.tanh(a)


def _stable_softplus(a, ops):
    return numeric.softplus(a, ops)  # max(a, 0) + log1p(exp(-|a|))


def _stable_log_sigmoid(a, ops):
    return -numeric.softplus(-a, ops)


# -- how derive check reads a document's definition --------------------------------------------------

def _read_softmax(expr: sp.Expr, indices: tuple) -> Optional[sp.Expr]:
    """g for e^{g(j)} / sum_l e^{g(l)} over the last index j (h_c(x^(i)): the softmax is over the last)."""
    num, den = sp.fraction(expr)
    if isinstance(num, sp.exp) and isinstance(den, sp.Sum) and len(den.limits) == 1 \
            and isinstance(den.function, sp.exp) and indices[-1:]:
        l, g, j = den.limits[0][0], num.args[0], indices[-1]
        if g.has(j) and den.function.args[0] == g.xreplace({j: l}):
            return g
    return None


def _read_sigmoid(expr: sp.Expr, indices: tuple) -> Optional[sp.Expr]:
    """g for 1 / (1 + e^{-g(j)}) of the one index j."""
    if len(indices) != 1:
        return None
    num, den = sp.fraction(expr)
    if num == 1 and isinstance(den, sp.Add) and len(den.args) == 2 and 1 in den.args:
        e = next(a for a in den.args if a != 1)
        if isinstance(e, sp.exp) and e.args[0].could_extract_minus_sign() and e.args[0].has(indices[0]):
            return -e.args[0]
    return None


def _read_tanh(expr: sp.Expr, indices: tuple) -> Optional[sp.Expr]:
    """g for tanh(g(j)) of the one index j."""
    if len(indices) == 1 and isinstance(expr, sp.tanh) and expr.args[0].has(indices[0]):
        return expr.args[0]
    return None


_ALL = (
    Layer("softmax", ("softmax",), Softmax, _softmax_define, _softmax_lemma, _stable_softmax, vector=True,
          normalised=True, class_axis=True, probability=True, kernel=True, output=True, fold="normaliser",
          read=_read_softmax, text="softmax", words=("softmax",), sample="unit"),
    Layer("log_softmax", ("log_softmax",), LogSoftmax, _log_softmax_define, _log_softmax_lemma,
          _stable_log_softmax, vector=True, class_axis=True, logarithmic=True, kernel=True, through="softmax",
          text="log-softmax"),
    Layer("sigmoid", ("sigmoid",), Sigmoid, _logistic, _sigmoid_lemma, _stable_sigmoid, probability=True,
          kernel=True, output=True, fold="logistic", read=_read_sigmoid, text="sigmoid",
          words=("sigmoid",), sample="unit"),
    Layer("tanh", ("tanh",), sp.tanh, _tanh, _tanh_lemma, _stable_tanh, fold="application", read=_read_tanh,
          text="tanh", words=("tanh",), sample="unit"),
    Layer("softplus", ("softplus",), _softplus, _softplus, _softplus_lemma, _stable_softplus, through="sigmoid",
          text="softplus", words=("softplus",)),
    Layer("log_sigmoid", ("log_sigmoid",), _log_sigmoid, _log_sigmoid, _log_sigmoid_lemma, _stable_log_sigmoid,
          through="sigmoid", text="log-sigmoid", words=("logsigmoid",)),
)

#: Every layer by name: read-only, built once.
LAYERS: Mapping[str, Layer] = MappingProxyType({layer.name: layer for layer in _ALL})
#: Every layer by each name the grammar reads.
GRAMMAR: Mapping[str, Layer] = MappingProxyType({g: layer for layer in _ALL for g in layer.grammar})
#: Every layer by each word a document names it by (derive check).
WORDS: Mapping[str, Layer] = MappingProxyType({w: layer for layer in _ALL for w in layer.words})

SOFTMAX, LOG_SOFTMAX, SIGMOID, TANH, SOFTPLUS, LOG_SIGMOID = _ALL


def written_out(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sigmoid node written as 1/(1 + exp(-x)) (what derive check reads a document in)."""
    return expr.replace(lambda n: isinstance(n, Sigmoid), lambda n: _logistic(n.args[0]))


def layer(name: str) -> Layer:
    """The layer called ``name``, or an ArgumentError (a ValueError) naming the layers there are."""
    if not isinstance(name, str) or name not in LAYERS:
        raise ArgumentError("kernel", f"no layer {name!r}; the layers are {', '.join(LAYERS)}")
    return LAYERS[name]


def grammar_names(vector: bool) -> tuple:
    """The names the grammar calls layers by: those of ``name(v)[j]`` layers, or of entrywise ones."""
    return tuple(g for g, layer in GRAMMAR.items() if layer.vector == vector)


def read(expr: sp.Expr, indices: tuple) -> Optional[tuple]:
    """(layer, argument) for the first layer that reads ``expr`` over ``indices`` as its own, else None."""
    for candidate in _ALL:
        if candidate.read is not None:
            g = candidate.read(expr, indices)
            if g is not None:
                return candidate, g
    return None
