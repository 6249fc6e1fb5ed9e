"""The planner: the same results as the catalogue's recipes, and the behaviour it promises."""
import dataclasses

import numpy as np
import pytest
import sympy as sp

import derive
from derive.planned import plan
from derive.planner import Planner
from numeric_helpers import softmax

CE = "-sum(y[j]*log(softmax(z)[j]), j)"
ONE = ["sum(y[j], j) = 1"]
k, j, m = (sp.Symbol(n, integer=True, positive=True) for n in "kjm")


# -- the planner's result for each catalogue cost equals the recipe's --------------------------------

def test_cross_entropy_matches_reference_001():
    assert derive.gradient(CE, assume=ONE).result == derive.softmax_ce().result
    assert derive.gradient(CE).result == derive.softmax_ce(normalized_targets=False).result


def test_softmax_partial_matches_reference_003_jacobian():
    lemma = derive.gradient(CE, assume=ONE).lemmas[0]
    jac = derive.softmax_jacobian()
    i_, j_ = (jac.setting.symbols[n] for n in "ij")
    index_form = jac.steps[-2].expr  # before the matrix form
    assert sp.expand(lemma.result.xreplace({j: i_, k: j_}) - index_form) == 0


def test_squared_error_matches_reference_003():
    planned, recipe = derive.softmax_se_planned(), derive.softmax_se()
    # the same symbols in both (o, t, k; sums over j): equal once the sums are written out, at K = 3
    K = planned.setting.K
    assert sp.expand((planned.result - recipe.result).subs(K, 3).doit()) == 0
    Z = np.random.default_rng(0).normal(size=(3, 4))
    T = np.random.default_rng(1).uniform(size=(3, 4))
    np.testing.assert_allclose(planned.compile()(z=Z, t=T), recipe.compile()(z=Z, t=T), atol=1e-15)


def test_linear_layer_matches_references_000_and_002():
    rng = np.random.default_rng(2)
    d = derive.gradient(CE, wrt="w", define=["z[j] = sum(w[j, d]*x[d], d)"], assume=ONE)
    assert str(d.steps[-2].expr) == "(o[k] - y[k])*x[f]"  # f, not e, beside e^{z} (issue 17.5)
    assert str(d.result.matrix) == "(o - y)*x.T"  # then its matrix form, (o - y) x^T
    theta, X = rng.normal(size=(3, 5)), rng.normal(size=(6, 4))
    Y = np.eye(3)[rng.integers(0, 3, size=6)]
    X1 = np.hstack([np.ones((6, 1)), X])  # reference 000 keeps the bias in column 0 with x_0 = 1
    np.testing.assert_allclose(d.compile()(w=theta, x=X1, y=Y),
                               derive.softmax_regression().compile()(theta=theta, x=X, y=Y), atol=1e-13)


def test_output_layer_matches_bp1_of_reference_004():
    bp1 = derive.mlp_backprop().parts[0]
    planned = derive.gradient(CE, assume=ONE)
    a, y = (bp1.setting.symbols[n] for n in "ay")
    kk = bp1.free_indices[0]
    assert bp1.steps[-2].expr == a[kk] - y[kk]
    assert planned.result == sp.IndexedBase("o")[k] - sp.IndexedBase("y")[k]


def test_log_softmax_route_matches_the_softmax_route():
    assert derive.gradient("-sum(y[j]*log_softmax(z)[j], j)", assume=ONE).result == derive.softmax_ce().result


# -- what the planner promises -------------------------------------------------------------------------

def test_every_step_is_one_named_rule_and_verifies():
    d = derive.gradient("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)", assume=ONE)
    for x in d.walk():
        for step in x.steps:
            assert isinstance(step.rule, derive.Rule) and step.justification
    assert d.verify(Ks=(2, 3)).ok


def test_a_lemma_is_derived_once_and_cited_wherever_it_is_needed():
    d = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j) + sum(softmax(z)[j]**2, j)")
    cited = [lem.name for s in d.steps for lem in s.lemmas]
    assert cited == ["partial_o_by_z"] and len(d.lemmas) == 1


def test_no_step_returns_to_an_earlier_expression():
    for cost in (CE, "-sum(((1-eps)*y[j] + eps/K)*log(softmax(z)[j]), j)", "-sum(y[j]*log(softmax(z/T)[j]), j)",
                 "0.5*sum((sigmoid(z[j]) - y[j])**2, j)"):
        d = derive.gradient(cost, assume=ONE if "softmax" in cost else [])
        for x in d.walk():
            chain = [x.lhs] + [s.expr for s in x.steps]
            assert len(chain) == len(set(chain)), (cost, x.name)


def test_a_corrupted_planned_step_is_named_by_verify():
    d = derive.gradient("-sum(y[j]*log(softmax(z/T)[j]), j)", assume=ONE)
    n = [s.rule.value for s in d.steps].index("kronecker_delta")
    wrong = dataclasses.replace(d.steps[n], expr=d.steps[n].expr * 2)
    report = d.with_step(n, wrong).verify(Ks=(2, 3), lemmas=False)
    assert not report.ok and (n + 1) in [c.step for c in report.failures]


def test_the_step_budget_makes_an_incomplete_chain_with_its_reason():
    p, _ = plan(CE, assume=ONE)
    d = Planner(p.setting, p.facts, max_steps=4).derive(p.lhs, name="gradient", title="Gradient")
    # the softmax partial needs more than 4 steps itself: the chain stops at it and says why
    assert "do_j/dz_k" in d.incomplete and "stopped after 4 steps" in d.incomplete
    assert not d.complete


def test_a_derivative_of_a_quantity_without_a_definition_or_rule_is_reported():
    p, planner = plan(CE, assume=ONE)
    f = sp.Function("f")
    d = planner.derive(sp.Derivative(f(p.variable[k]), p.variable[k]), name="x", title="x")
    assert "no rule applies to" in d.incomplete


def test_the_softmax_identity_is_used_and_cited():
    d = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j) + beta*sum(softmax(z)[j]*log(softmax(z)[j]), j)",
                        assume=ONE)
    keys = [a.key for s in d.steps for a in s.assumptions]
    assert "o_outputs_sum_to_one" in keys
    assert not d.result.has(sp.Sum(sp.IndexedBase("o")[j], (j, 1, sp.Symbol("K", integer=True, positive=True))))


# -- networks inside the cost (issue 14 item 3) and tanh ---------------------------------------------

def _entries(d, *names):
    return tuple(sp.IndexedBase(n) for n in names)


def test_tanh_output_is_named_with_its_derivative_lemma():
    d = derive.gradient("0.5*sum((tanh(z[j]) - y[j])**2, j)")
    t, y = _entries(d, "t", "y")
    assert d.setting.definition_of(t).expr.func is sp.tanh
    lemma = next(x for x in d.lemmas if x.name == "partial_t_by_z")
    assert lemma.result == sp.KroneckerDelta(j, k) * (1 - t[j] ** 2)
    assert lemma.steps[-1].rule.value == "fold_definition"
    # the closed form is the textbook's, not multiplied out after the Kronecker delta
    assert d.result == (1 - t[k] ** 2) * (t[k] - y[k])
    assert d.verify(Ks=(2, 3), points=1).ok


def test_a_tanh_written_out_is_the_tanh_layer():
    """(e^z - e^-z)/(e^z + e^-z) is named t by a hyperbolic step and a fold, and derives as tanh(z) does."""
    d = derive.gradient("0.5*sum(((exp(z[j]) - exp(-z[j]))/(exp(z[j]) + exp(-z[j])) - y[j])**2, j)")
    t, y = _entries(d, "t", "y")
    assert [s.rule.value for s in d.steps[:3]] == ["definition", "hyperbolic", "fold_definition"]
    assert d.result == (1 - t[k] ** 2) * (t[k] - y[k])


def test_a_sigmoid_of_a_negated_argument_is_one_minus_the_sigmoid():
    """log sigmoid(-z_j) (word2vec's negative samples) is log(1 - s_j) of the one layer s, recognised in a step,
    not a second layer u := sigmoid(-z_j) that leaves the result in u and s."""
    d = derive.gradient("-sum(y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(sigmoid(-z[j])), j)")
    s, y = _entries(d, "s", "y")
    assert [x.kernel for x in d.setting.definitions].count("sigmoid") == 1
    assert d.steps[1].justification == "recognise 1/(1 + exp(g)), the sigmoid of -g, as one minus the sigmoid"
    assert d.result == s[k] - y[k]
    assert d.verify(Ks=(2, 3), points=1).ok


def test_tanh_of_a_scalar_is_differentiated_as_it_is():
    d = derive.gradient("tanh(T)*sum(y[j]*z[j], j)", wrt="T")
    assert d.complete and d.result.has(sp.tanh)


def _two_layer(activation, wrt, bias=""):
    define = [f"h[a] = {activation}(sum(w1[a, d]*x[d], d){bias})", "z[j] = sum(w2[j, a]*h[a], a)"]
    return derive.gradient(CE, wrt=wrt, define=define, assume=ONE)


def test_a_hidden_layer_has_a_width_of_its_own():
    d = _two_layer("sigmoid", "w1")
    ranges = dict(d.setting.ranges)
    a, dd = (sp.Symbol(n, integer=True, positive=True) for n in "ad")
    K = d.setting.K
    assert len({ranges[a][1], ranges[dd][1], K}) == 3  # hidden width, input width and classes all differ
    h = d.setting.definition_of(sp.IndexedBase("h"))
    assert h.kernel == "sigmoid" and h.indices == (a,)


@pytest.mark.parametrize("activation, derivative", [("sigmoid", lambda h: h * (1 - h)),
                                                    ("tanh", lambda h: 1 - h ** 2)])
def test_gradient_wrt_the_first_weights_goes_through_the_hidden_layer(activation, derivative):
    d = _two_layer(activation, "w1")
    h, o, y, w2, x = _entries(d, "h", "o", "y", "w2", "x")
    e, f = d.free_indices
    assert d.steps[0].rule.value == "multivariate_chain_rule"
    assert d.steps[0].expr.has(sp.Derivative(sp.Symbol("E"), h[sp.Symbol("a", integer=True, positive=True)]))
    names = {x.name for x in d.lemmas}
    assert {"partial_e_by_h", "partial_h_by_w1"} <= names
    K = d.setting.K
    textbook = derivative(h[e]) * x[f] * sp.Sum(w2[j, e] * (o[j] - y[j]), (j, 1, K))
    index = d.steps[-2].expr  # before the matrix form (tests/test_matrix_forms.py)
    assert sp.expand(index - textbook) == 0
    assert sp.count_ops(index) <= sp.count_ops(textbook)
    assert d.verify(Ks=(2, 3), points=1).ok


def test_gradient_wrt_the_second_weights_and_a_bias():
    d = _two_layer("tanh", "w2")
    h, o, y = _entries(d, "h", "o", "y")
    e = d.free_indices[1]
    assert d.steps[-2].expr == (o[k] - y[k]) * h[e] and str(d.result.matrix) == "(o - y)*h.T"
    b = derive.gradient(CE, wrt="b", define=["z[j] = sum(w[j, d]*x[d], d) + b[j]"], assume=ONE)
    assert b.result == sp.IndexedBase("o")[k] - sp.IndexedBase("y")[k]
    c = _two_layer("sigmoid", "c", bias=" + c[a]")
    assert c.complete and c.verify(Ks=(2,), points=1).ok


def test_attention_scores_wrt_the_query():
    d = derive.gradient("-sum(y[j]*log(softmax(a)[j]), j)", wrt="q", define=["a[j] = sum(k[j, d]*q[d], d)"],
                        assume=ONE)
    o, y, kk = _entries(d, "o", "y", "k")
    e = d.free_indices[0]
    assert d.result == sp.Sum((o[j] - y[j]) * kk[j, e], (j, 1, d.setting.K))
    assert d.verify(Ks=(2, 3), points=1).ok


def test_three_layers_chain_through_every_layer():
    d = derive.gradient("0.5*sum((z[j] - y[j])**2, j)", wrt="w1",
                        define=["h1[a] = tanh(sum(w1[a, d]*x[d], d))", "h2[c] = sigmoid(sum(w2[c, a]*h1[a], a))",
                                "z[j] = sum(w3[j, c]*h2[c], c)"])
    assert d.complete, d.incomplete
    names, todo = set(), list(d.lemmas)
    while todo:
        lemma = todo.pop()
        names.add(lemma.name)
        todo += list(lemma.lemmas)
    assert {"partial_e_by_h1", "partial_h1_by_w1", "partial_e_by_h2", "partial_h2_by_h1"} <= names
    assert d.verify(Ks=(2,), points=1).ok


def test_a_lemma_index_is_not_one_a_reached_definition_sums_over():
    # dE/dh_a with z_j = sum_a w2_ja h_a: writing z out at a fixed a would bind a number; the lemma takes b
    d = _two_layer("sigmoid", "w1")
    lemma = next(x for x in d.lemmas if x.name == "partial_e_by_h")
    (var,) = lemma.lhs.variables
    assert var.indices[0] != sp.Symbol("a", integer=True, positive=True)


LAYER_B = ["z[j] = sum(w[j, d]*x[d], d) + b[j]"]
_j, _k, _e = (sp.Symbol(n, integer=True, positive=True) for n in "jkf")  # the feature index: f, not e (issue 17.5)


@pytest.mark.parametrize("cost, wrt, expected", [
    ("sigmoid(z[j])", "b", lambda s, o, w, x: s[_j] * (1 - s[_j]) * sp.KroneckerDelta(_j, _k)),
    ("sigmoid(z[j])", "w", lambda s, o, w, x: s[_j] * (1 - s[_j]) * sp.KroneckerDelta(_j, _k) * x[_e]),
    ("sigmoid(z[j])", "x", lambda s, o, w, x: s[_j] * (1 - s[_j]) * w[_j, _e]),
    ("softmax(z)[j]", "b", lambda s, o, w, x: o[_j] * (sp.KroneckerDelta(_j, _k) - o[_k])),
])
def test_a_cost_with_a_free_index_keeps_it_through_a_layer(cost, wrt, expected):
    """The Jacobian ds_j/db_k through z_j = sum_d w_jd x_d + b_j: the j the cost E := s_j hides is neither the
    multivariate chain rule's sum index nor a lemma's (it used to be, and the result lost j: s_k (1 - s_k))."""
    d = derive.gradient(cost, wrt=wrt, define=LAYER_B)
    s, o, w, x = (sp.IndexedBase(n) for n in "sowx")
    assert sp.simplify(d.result - expected(s, o, w, x)) == 0, d.result
    first = d.steps[0].expr
    assert isinstance(first, sp.Sum) and _j not in [lim[0] for lim in first.limits]
    assert d.verify(Ks=(2, 3), points=1).ok


# -- batches: the cost names its example axis ------------------------------------------------------------

BATCH_CE = "-sum(sum(y[i, j]*log(softmax(z[i])[j]), j), i)/N"
ROWS = ["sum(y[i, j], j) = 1"]
LINEAR = ["z[i, j] = sum(w[j, d]*x[i, d], d)"]


@pytest.fixture(scope="module")
def batch_ce():
    return derive.gradient(BATCH_CE, wrt="w", define=LINEAR, assume=ROWS)


def test_a_batch_gradient_wrt_shared_weights_is_the_sum_over_the_examples(batch_ce):
    d = batch_ce
    o, y, x = _entries(d, "o", "y", "x")
    i, N = (sp.Symbol(n, integer=True, positive=True) for n in ("i", "N"))
    e = d.free_indices[1]
    index_form = d.steps[-2].expr
    assert index_form == sp.Sum((o[i, k] - y[i, k]) * x[i, e], (i, 1, N)) / N
    assert dict(d.setting.ranges)[i] == (1, N) and N in d.setting.sizes  # the bare N is the number of examples
    o_def = d.setting.definition_of(o)
    assert o_def.indices[0] == i and o_def.expr.has(sp.Sum)  # o_ia, the softmax of row i
    assert d.verify(Ks=(2, 3), points=1).ok


def test_a_batch_gradient_has_its_matrix_form_next_to_the_index_form(batch_ce):
    step = batch_ce.steps[-1]
    assert step.rule.value == "matrix_form"
    assert str(step.expr.matrix) == "1/N*(o - y).T*x"  # (O - Y)^T X / N, not O^T X - Y^T X
    # the matrix form is checked too: a sign slip in it fails verify at that step
    wrong = dataclasses.replace(step, expr=step.expr.func(step.expr.matrix.xreplace(
        {m: -m for m in step.expr.matrix.free_symbols if str(m) == "y"}), *step.expr.args[1:]))
    report = batch_ce.with_step(len(batch_ce.steps) - 1, wrong).verify(Ks=(2,), points=1)
    assert not report.ok and "matrix_form" in str(report)


def test_a_batch_gradient_compiles_to_the_matrix_product(batch_ce):
    g = batch_ce.compile()
    assert g.inputs == ("w", "x", "y")  # N is read from the arrays, not passed
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    Y = np.eye(4)[rng.integers(4, size=5)]
    O = softmax(X @ W.T)
    np.testing.assert_allclose(g(w=W, x=X, y=Y), (O - Y).T @ X / 5, atol=1e-14)


def test_a_batch_mean_is_the_sum_over_the_examples_over_N(batch_ce):
    """mean(x, i) over the example index is sum(x, i)/N: the same derivation as the cost written with /N."""
    d = derive.gradient("mean(-sum(y[i, j]*log(softmax(z[i])[j]), j), i)", wrt="w", define=LINEAR, assume=ROWS)
    N = sp.Symbol("N", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    assert N in d.setting.sizes and not d.setting.definitions[0].expr.has(sp.Sum(1, (i, 1, N)))
    assert d.steps[-2].expr == batch_ce.steps[-2].expr and str(d.steps[-1].expr.matrix) == "1/N*(o - y).T*x"
    rng = np.random.default_rng(1)
    W, X = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    Y = np.eye(4)[rng.integers(4, size=5)]
    np.testing.assert_allclose(d.compile()(w=W, x=X, y=Y), (softmax(X @ W.T) - Y).T @ X / 5, atol=1e-14)


def test_a_mean_over_the_classes_is_over_K_and_means_nest():
    one = derive.gradient("mean(log(1 + exp(-y[j]*z[j])), j)")
    assert one.result == derive.gradient("sum(log(1 + exp(-y[j]*z[j])), j)/K").result
    bce = "-(y[i, j]*log(sigmoid(z[i, j])) + (1 - y[i, j])*log(1 - sigmoid(z[i, j])))"
    both = derive.gradient(f"mean(mean({bce}, j), i)", wrt="w", define=["z[i, j] = sum(w[j, d]*x[i, d], d) + b[j]"])
    assert str(both.steps[-1].expr.matrix) == "(1/(K*N))*(s - y).T*x"


def rng_values(rng):
    while True:
        yield rng.uniform(-1, 1)


@pytest.mark.parametrize("activation, local", [("tanh", "-HadamardPower(h, 2) + 1"), ("sigmoid", "-h + 1, h")])
def test_a_batch_gradient_through_a_hidden_layer_has_its_entrywise_matrix_form(activation, local):
    """dE/dW1 = ((O - Y) W2 o h'(H))^T X: the backpropagated error times the layer's derivative entry by entry."""
    hidden = f"h[i, a] = {activation}(sum(w1[a, d]*x[i, d], d))"
    d = derive.gradient(BATCH_CE, wrt="w1", assume=ROWS, define=[hidden, "z[i, j] = sum(w2[j, a]*h[i, a], a)"])
    step = d.steps[-1]
    assert step.rule.value == "matrix_form"
    assert str(step.expr.matrix) == f"1/N*(HadamardProduct((o - y)*w2, {local})).T*x"
    # the matrix form's entries are the index form's, at sizes 2..3 and random entries (verify checks the
    # step too; over a whole two-layer batch it takes half a minute)
    sizes = {sp.Symbol(n, integer=True, positive=True): v for n, v in (("N", 3), ("K", 2), ("n", 2), ("n2", 3))}
    e, f = d.free_indices
    at = {e: 2, f: 3}
    matrix = step.expr.xreplace(sizes).xreplace(at).doit()
    index = d.steps[-2].expr.xreplace(sizes).xreplace(at).doit()
    values = {a: v for a, v in zip(sorted(index.atoms(sp.Indexed) | matrix.atoms(sp.Indexed), key=str),
                                   rng_values(np.random.default_rng(4)))}
    assert abs(float(matrix.xreplace(values)) - float(index.xreplace(values))) < 1e-12
    rng = np.random.default_rng(2)
    W1, W2, X = rng.normal(size=(3, 2)), rng.normal(size=(4, 3)), rng.normal(size=(5, 2))
    Y = np.eye(4)[rng.integers(4, size=5)]
    H = np.tanh(X @ W1.T) if activation == "tanh" else 1 / (1 + np.exp(-X @ W1.T))
    dH = 1 - H * H if activation == "tanh" else H * (1 - H)
    book = (((softmax(H @ W2.T) - Y) @ W2) * dH).T @ X / 5
    np.testing.assert_allclose(d.compile()(w1=W1, w2=W2, x=X, y=Y), book, atol=1e-12)


def test_a_batch_of_sigmoids_has_the_class_as_its_last_index_and_a_shared_bias():
    d = derive.gradient("-sum(sum(y[i, j]*log(sigmoid(z[i, j])) + (1 - y[i, j])*log(1 - sigmoid(z[i, j])), j), i)",
                        wrt="b", define=["z[i, j] = sum(w[j, d]*x[i, d], d) + b[j]"])
    s, y = _entries(d, "s", "y")
    i, N = (sp.Symbol(n, integer=True, positive=True) for n in ("i", "N"))
    assert d.result == sp.Sum(s[i, k] - y[i, k], (i, 1, N))
    assert dict(d.setting.ranges)[i] == (1, N)
    g = d.compile()
    assert str(g) == "<compiled gradient: f(b=(K,), y=(N, K), w=(K, n), x=(N, n)) -> (K,)>"


def test_a_row_of_a_matrix_inside_softmax_and_its_refusals():
    from derive.parse import parse_expression
    from derive.expr import Softmax
    parsed = parse_expression("softmax(z[i] + tau*log(p))[j]")
    node = parsed.expr
    assert isinstance(node, Softmax) and parsed.ranks == {"z": 2, "p": 1}
    assert node.at_index(k) == sp.IndexedBase("z")[sp.Symbol("i", integer=True, positive=True), k] + \
        sp.Symbol("tau", real=True) * sp.log(sp.IndexedBase("p")[k])
    with pytest.raises(derive.ArgumentError, match="a row of a matrix at an index other than j"):
        parse_expression("softmax(z[j])[j]")
    with pytest.raises(derive.ArgumentError, match="sum\\(y\\[i, j\\], j\\) = 1 for each example"):
        derive.gradient(BATCH_CE, wrt="w", define=LINEAR, assume=["sum(y[i, j], i) = 1"])


@pytest.mark.parametrize("cost, output", [
    ("sum(sum(log(1 + exp(z[i, j])) - y[i, j]*z[i, j], j), i)", "s"),        # BCE through the softplus
    ("sum(log(sum(exp(z[i, j]), j)) - sum(y[i, j]*z[i, j], j), i)", "o"),     # cross-entropy as log-sum-exp
])
def test_a_batch_written_out_as_framework_code_is_recognised_row_by_row(cost, output):
    d = derive.gradient(cost, wrt="w", define=LINEAR)
    p, y, x = _entries(d, output, "y", "x")
    i, N = (sp.Symbol(n, integer=True, positive=True) for n in ("i", "N"))
    assert d.steps[-2].expr == sp.Sum((p[i, k] - y[i, k]) * x[i, d.free_indices[1]], (i, 1, N))
    assert str(d.result.matrix) == f"({output} - y).T*x"
    assert d.verify(Ks=(2,), points=1).ok
