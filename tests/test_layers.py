"""The one registry of output layers (derive/layers.py, issue 14.2): every layer answers every question,
its lemma holds, the costs over it derive, verify, compile on every backend and match central
differences, and no module outside the registry names a layer to decide what to do."""
import ast
import dataclasses
import importlib.util
import pathlib
import types

import numpy as np
import pytest
import sympy as sp

import derive
from derive import layers as L
from derive.backends.numpy_ops import NUMPY
from derive.expr import Sigmoid
from derive.parse import parse_expression
from derive.setting import Definition

NAMES = list(L.LAYERS)
BACKENDS = ["numpy"] + [b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None]
K = 4


# -- the registry ---------------------------------------------------------------------------------

def test_the_registry_is_read_only_and_names_each_layer_once():
    assert isinstance(L.LAYERS, types.MappingProxyType) and isinstance(L.GRAMMAR, types.MappingProxyType)
    with pytest.raises(TypeError):
        L.LAYERS["relu"] = L.TANH  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        L.TANH.normalised = True  # type: ignore[misc]
    assert set(NAMES) >= {"softmax", "log_softmax", "sigmoid", "tanh", "softplus", "log_sigmoid"}
    grammar = [g for layer in L.LAYERS.values() for g in layer.grammar]
    assert len(grammar) == len(set(grammar)) and set(grammar) == set(L.GRAMMAR)
    assert repr(L.SOFTPLUS) == "<layer softplus>"


def test_an_unknown_layer_is_refused_naming_the_layers():
    with pytest.raises(ValueError, match="no layer 'relu'; the layers are softmax, log_softmax"):
        Definition("relu", sp.IndexedBase("r"), (sp.Symbol("j"),), sp.Integer(0), kernel="relu")


@pytest.mark.parametrize("name", NAMES)
def test_every_layer_answers_every_question(name):
    layer = L.LAYERS[name]
    j, l = sp.symbols("j l", integer=True, positive=True)
    z = sp.IndexedBase("z")
    assert layer.name == name and layer.grammar and layer.text
    for flag in ("vector", "normalised", "class_axis", "logarithmic", "probability", "kernel", "output"):
        assert isinstance(getattr(layer, flag), bool), flag
    assert layer.fold in ("normaliser", "logistic", "application", "")
    assert layer.through == "" or layer.through in L.LAYERS
    assert not layer.normalised or layer.class_axis  # sum_j o_j = 1 is over a class axis
    assert not layer.output or layer.kernel          # the planner folds back only what it compiles stably
    # the grammar builds it, and a cost over it parses
    node = layer.call(z[j] * 2) if not layer.vector else layer.call(z[j], j, l)
    assert isinstance(node, sp.Expr)
    text = f"sum(y[j]*{layer.grammar[0]}(z)[j], j)" if layer.vector else f"sum(y[j]*{layer.grammar[0]}(z[j]), j)"
    assert parse_expression(text).expr.has(node.func)
    # its definition and lemma are SymPy
    defined = layer.define(z[j], z[l], l, sp.Integer(K))
    assert isinstance(defined, sp.Expr) and defined.has(z[j])
    assert isinstance(layer.lemma(sp.IndexedBase("o"), j, l), sp.Expr)
    # its stable numerics: finite for logits far beyond exp's range, on the ops table
    a = np.array([[-800.0, -30.0, 0.0, 30.0, 800.0]])
    value = layer.stable(a, NUMPY)
    assert value.shape == a.shape and np.all(np.isfinite(value)), value
    # and derive check either reads it or says it has no reading, and reads the words it is named by
    assert layer.read is None or callable(layer.read)
    assert all(L.WORDS[w] is layer for w in layer.words)


# -- the layers' mathematics ------------------------------------------------------------------------

def _written_out(e):
    return e.replace(lambda n: isinstance(n, Sigmoid), lambda n: 1 / (1 + sp.exp(-n.args[0])))


def _entries(layer, z):
    """Entry j = 1..K of the layer of z as SymPy (concrete K)."""
    l = sp.Symbol("l", integer=True, positive=True)
    return [_written_out(layer.define(z[j], z[l], l, sp.Integer(K))).doit() for j in range(1, K + 1)]


@pytest.mark.parametrize("name", NAMES)
def test_each_layers_lemma_is_its_derivative(name):
    """d out_j / d z_k from the layer's own lemma equals SymPy's derivative of its definition at random z."""
    layer = L.LAYERS[name]
    z, o = sp.IndexedBase("z"), sp.IndexedBase("o")
    values = _entries(layer, z)
    outputs = _entries(L.LAYERS[layer.through or name], z)  # the output the lemma is written with
    rng = np.random.default_rng(0)
    for _ in range(3):
        point = {z[i]: sp.Float(rng.normal() * 2, 30) for i in range(1, K + 1)}
        for j in range(1, K + 1):
            for k in range(1, K + 1):
                want = sp.diff(values[j - 1], z[k]).xreplace(point).evalf(30)
                lemma = layer.lemma(o, sp.Integer(j), sp.Integer(k))
                got = lemma.xreplace({o[i]: outputs[i - 1] for i in range(1, K + 1)}).xreplace(point).evalf(30)
                assert abs(complex(got - want)) < 1e-20, (name, j, k, got, want)


@pytest.mark.parametrize("name", NAMES)
def test_each_layers_stable_numerics_match_its_definition(name):
    """layer.stable on moderate logits equals the definition evaluated in high precision (rows: class axis)."""
    layer = L.LAYERS[name]
    z = sp.IndexedBase("z")
    values = _entries(layer, z)
    a = np.random.default_rng(1).normal(size=(3, K)) * 3
    got = layer.stable(a, NUMPY)
    for r in range(a.shape[0]):
        want = [float(v.xreplace({z[i]: a[r, i - 1] for i in range(1, K + 1)})) for v in values]
        np.testing.assert_allclose(got[r], want, rtol=1e-12, atol=1e-14)


# -- costs over each layer: derive, verify, compile on every backend, central differences ------------

def _softplus(x):
    return np.logaddexp(0.0, x)


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


# cost text, NumPy cost of one example's z (K,) and y (K,)
COSTS = {
    "softmax": ("-sum(y[j]*log(softmax(z)[j]), j)", lambda z, y: -(y * np.log(_softmax(z))).sum()),
    "log_softmax": ("-sum(y[j]*log_softmax(z)[j], j)", lambda z, y: -(y * np.log(_softmax(z))).sum()),
    "sigmoid": ("sum((sigmoid(z[j]) - y[j])**2, j)", lambda z, y: ((1 / (1 + np.exp(-z)) - y) ** 2).sum()),
    "tanh": ("sum((tanh(z[j]) - y[j])**2, j)", lambda z, y: ((np.tanh(z) - y) ** 2).sum()),
    "softplus": ("sum(softplus(z[j]) - y[j]*z[j], j)", lambda z, y: (_softplus(z) - y * z).sum()),
    "log_sigmoid": ("-sum(y[j]*log_sigmoid(z[j]) + (1 - y[j])*log_sigmoid(-z[j]), j)",
                    lambda z, y: (y * _softplus(-z) + (1 - y) * _softplus(z)).sum()),
}


def _central(cost, z, y, h=1e-6):
    g = np.zeros_like(z)
    for n in range(z.size):
        e = np.zeros_like(z)
        e[n] = h
        g[n] = (cost(z + e, y) - cost(z - e, y)) / (2 * h)
    return g


@pytest.fixture(scope="module")
def derived():
    return {}


def test_every_layer_has_a_cost_here():
    assert set(COSTS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_cost_over_each_layer_derives_and_verifies(name, derived):
    d = derive.gradient(COSTS[name][0], wrt="z")
    assert d.complete, d.incomplete
    report = d.verify(Ks=(2, 3), points=1)
    assert report.ok, str(report)
    derived[name] = d


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", NAMES)
def test_a_cost_over_each_layer_compiles_and_matches_central_differences(name, backend, derived):
    d = derived.get(name) or derive.gradient(COSTS[name][0], wrt="z")
    g = d.compile(backend=backend)
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3, K)) * 2
    y = rng.dirichlet(np.ones(K), size=3)
    got = np.asarray(g(**{k: {"z": z, "y": y}[k] for k in g.inputs}), dtype=float)
    want = np.stack([_central(COSTS[name][1], z[i], y[i]) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_tanh_and_softplus_gradients_read_as_the_textbook_writes_them():
    """The closed forms in the layer's own output: 2(h_k - y_k)(1 - h_k^2), s_k - y_k, s_k - y_k."""
    tanh = derive.gradient(COSTS["tanh"][0], wrt="z")
    h = [d.symbol for d in tanh.setting.definitions if d.layer is L.TANH][0]
    k = sp.Symbol("k", integer=True, positive=True)
    y = sp.IndexedBase("y")
    assert sp.simplify(tanh.result - 2 * (h[k] - y[k]) * (1 - h[k] ** 2)) == 0
    for name in ("softplus", "log_sigmoid"):
        d = derive.gradient(COSTS[name][0], wrt="z")
        s = [x.symbol for x in d.setting.definitions if x.layer is L.SIGMOID][0]
        assert sp.simplify(d.result - (s[k] - y[k])) == 0, (name, d.result)


@pytest.mark.parametrize("cost", ["-sum(log(1 - tanh(z[j])**2 + eps), j)", "-sum(log(1 - sigmoid(z[j])**2), j)"])
def test_verify_draws_a_layers_outputs_from_its_range(cost):
    """A lemma in the layer's output h (dE/dh of log(1 - h^2)) is checked at values h takes, not at h = 1.7,
    where the log is undefined and a correct derivation would fail verify (a false alarm)."""
    d = derive.gradient(cost, wrt="z")
    out = [x for x in d.setting.definitions if x.layer is not None][0]
    assert dict(d.setting.domains)[str(out.symbol)] == out.layer.sample == "unit"
    report = d.verify(Ks=(2, 3), points=1)
    assert report.ok, str(report)


def test_a_hidden_tanh_layer_is_the_tanh_layer():
    d = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", wrt="w1",
                        define=["h[a] = tanh(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"])
    assert d.complete, d.incomplete
    assert any(x.layer is L.TANH for x in d.setting.definitions)


# -- derive check reads the layers in a document's definitions ----------------------------------------

def test_derive_check_reads_each_layer_it_has_a_reading_for():
    from derive.checking.reading import with_kernel
    j, l = sp.symbols("j l", integer=True, positive=True)
    K_ = sp.Symbol("K", integer=True, positive=True)
    z, o = sp.IndexedBase("z"), sp.IndexedBase("o")
    written = {"softmax": sp.exp(z[j]) / sp.Sum(sp.exp(z[l]), (l, 1, K_)), "sigmoid": 1 / (1 + sp.exp(-z[j])),
               "tanh": sp.tanh(2 * z[j])}
    for name, expr in written.items():
        d = with_kernel(Definition("def_o", o, (j,), expr, text="from the document"))
        assert d.layer is L.LAYERS[name] and d.argument is not None and d.argument.has(z[j]), name
    assert with_kernel(Definition("def_o", o, (j,), z[j] ** 2)).layer is None


DOCUMENT = r"""Let $h_j = \tanh(z_j)$ and $E = \frac{1}{2}\sum_j (h_j - y_j)^2$.

$$
\frac{\partial E}{\partial z_k} = (h_k - y_k)\,(1 - h_k^2)
$$

The softplus has

$$
\frac{d}{dx} \operatorname{softplus}(x) = \frac{1}{1 + e^{-x}}
$$

and a slip:

$$
\frac{d}{dx} \operatorname{softplus}(x) = \frac{1}{1 + e^{x}}
$$
"""


def test_derive_check_reads_a_tanh_and_a_softplus_by_name():
    """\\tanh(z_j) and \\operatorname{softplus}(x) are the layers' words: the two true lines hold, the slip is wrong."""
    text = str(derive.check(DOCUMENT))
    assert "3 claims, 2 hold, 1 wrong, 0 unread" in text, text
    assert "first wrong claim: line 16" in text, text


# -- no stage names a layer ------------------------------------------------------------------------

ROOT = pathlib.Path(derive.__file__).parent


def _layer_names(node) -> set:
    """The layer names a comparison's operand spells: "softmax", or ("softmax", "sigmoid")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & set(L.LAYERS)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return set().union(*(_layer_names(e) for e in node.elts)) if node.elts else set()
    return set()


def _naming(tree: ast.AST) -> list:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left] + list(node.comparators)
            names = set().union(*(_layer_names(o) for o in operands))
            kernel = any(isinstance(o, ast.Attribute) and o.attr == "kernel" for o in operands)
            if names or kernel:
                found.append((node.lineno, ast.unparse(node)))
    return found


def test_no_module_outside_the_registry_compares_a_layers_name():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if path.name == "layers.py" and path.parent == ROOT:
            continue
        for line, text in _naming(ast.parse(path.read_text())):
            offenders.append(f"{path.relative_to(ROOT.parent)}:{line}: {text}")
    assert not offenders, "ask the layer (derive.layers) instead:\n" + "\n".join(offenders)


def test_the_structure_check_sees_a_layer_named_by_a_stage():
    """The check above fails on the shapes of comparison it forbids (and passes on one it allows)."""
    assert _naming(ast.parse('d.kernel == "softmax"'))
    assert _naming(ast.parse('d.kernel in ("softmax", "sigmoid")'))
    assert _naming(ast.parse('kernel == "log_softmax"'))
    assert _naming(ast.parse('x.kernel != ""'))
    assert not _naming(ast.parse('d.layer.normalised and name == "cost"'))
