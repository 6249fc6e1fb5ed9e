"""derive.gradient and derive.hessian: a user's own cost, planned, verified, compiled."""
import dataclasses

import numpy as np
import pytest
import sympy as sp

import derive
from derive.errors import DerivationError
from numeric_helpers import softmax

CE = "-sum(y[j]*log(softmax(z)[j]), j)"
ONE = ["sum(y[j], j) = 1"]
RNG = np.random.default_rng(3)
N, K = 3, 4
Z = RNG.normal(size=(N, K)) * 2
Y = RNG.dirichlet(np.ones(K), size=N)
U = RNG.uniform(0.1, 0.9, size=(N, K))
P = RNG.uniform(0.5, 2.0, size=(N, K))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def fd_rows(loss, Z, args):
    h, out = 1e-6, np.zeros_like(Z)
    for n in range(Z.shape[0]):
        row = {k: (v[n] if isinstance(v, np.ndarray) else v) for k, v in args.items()}
        for k in range(Z.shape[1]):
            e = np.zeros(Z.shape[1])
            e[k] = h
            out[n, k] = (loss(Z[n] + e, **row) - loss(Z[n] - e, **row)) / (2 * h)
    return out


# -- the examples, as written -----------------------------------------------------------

def test_the_cross_entropy_example():
    d = derive.gradient(CE, wrt="z", assume=ONE)
    o, y, k = sp.IndexedBase("o"), sp.IndexedBase("y"), sp.Symbol("k", integer=True, positive=True)
    assert d.result == o[k] - y[k]
    assert d.verify(Ks=(2, 3)).ok
    g = d.compile()
    np.testing.assert_allclose(g(z=Z, y=Y), softmax(Z) - Y, atol=1e-15)
    assert "o_k - y_k" in d.to_text() and d.to_latex() and d.to_markdown() and d.to_json() and d.to_html()


def test_a_scalar_parameter_is_a_keyword_argument():
    g = derive.gradient("-sum(((1-eps)*y[j] + eps/K)*log(softmax(z)[j]), j)", assume=ONE).compile()
    assert g.inputs == ("z", "y", "eps")
    np.testing.assert_allclose(g(z=Z, y=Y, eps=0.1), softmax(Z) - 0.9 * Y - 0.1 / K, atol=1e-15)


def test_the_hessian_example():
    h = derive.hessian(CE, wrt="z", assume=ONE)
    o = sp.IndexedBase("o")
    k, m = (sp.Symbol(n, integer=True, positive=True) for n in "km")
    index_form = h.steps[-2].expr
    assert sp.expand(index_form - o[k] * (sp.KroneckerDelta(k, m) - o[m])) == 0
    assert str(h.result) == "[DiagMatrix(o) - o*o.T]_(k, m)"
    assert h.verify(Ks=(2, 3)).ok
    H = h.compile()(z=Z)
    assert H.shape == (N, K, K)
    o_ = softmax(Z)
    np.testing.assert_allclose(H, np.einsum("nk,km->nkm", o_, np.eye(K)) - np.einsum("nk,nm->nkm", o_, o_),
                               atol=1e-15)


def test_a_cost_built_with_sympy():
    z, y, T = sp.IndexedBase("z"), sp.IndexedBase("y"), sp.Symbol("T")
    i, j, Ks = sp.symbols("i j K")
    cost = -sp.Sum(y[j] * sp.log(derive.softmax(z[i] / T, over=i)[j]), (j, 1, Ks))
    d = derive.gradient(cost, wrt="z", assume=ONE)
    assert d.complete and d.verify(Ks=(2,)).ok
    np.testing.assert_allclose(d.compile()(z=Z, y=Y, T=2.0), (softmax(Z / 2) - Y) / 2, atol=1e-15)


def test_a_linear_layer_through_define():
    d = derive.gradient(CE, wrt="w", define=["z[j] = sum(w[j, d]*x[d], d)"], assume=ONE)
    assert d.verify(Ks=(2, 3)).ok
    assert [x.name for x in d.walk()][-1] == "gradient" and len(d.lemmas) == 2
    Wm, X = RNG.normal(size=(K, 3)), RNG.normal(size=(5, 3))
    labels = RNG.integers(0, K, size=5)
    Yh = np.eye(K)[labels]
    got = d.compile()(w=Wm, x=X, y=Yh)
    # the same as reference 002's integer-label entry, which sums over the examples too
    np.testing.assert_allclose(got, derive.softmax_ce_labels().compile()(w=Wm, x=X, label=labels), atol=1e-14)


# -- costs that no recipe names --------------------------------------------------------------------

COSTS = [  # (text, assume, arguments besides z, an independent NumPy cost of one row)
    ("-sum(y[j]*log(softmax(z)[j]), j)", [], dict(y=U), lambda z, y: -(y * np.log(softmax(z))).sum()),
    ("sum((softmax(z)[j] - y[j])**2, j)", [], dict(y=U), lambda z, y: ((softmax(z) - y) ** 2).sum()),
    ("0.5*sum((sigmoid(z[j]) - y[j])**2, j)", [], dict(y=U), lambda z, y: 0.5 * ((sigmoid(z) - y) ** 2).sum()),
    ("-sum(y[j]*log(sigmoid(z[j]/T)), j)", [], dict(y=U, T=1.5), lambda z, y, T: -(y * np.log(sigmoid(z / T))).sum()),
    ("-sum(y[j]*log(softmax(z)[j]), j) + beta*sum(softmax(z)[j]*log(softmax(z)[j]), j)", ONE, dict(y=Y, beta=0.3),
     lambda z, y, beta: -(y * np.log(softmax(z))).sum() + beta * (softmax(z) * np.log(softmax(z))).sum()),
    ("sum(y[j]*log(y[j]) - y[j]*log(softmax(z)[j]), j)", ONE, dict(y=Y),
     lambda z, y: (y * np.log(y) - y * np.log(softmax(z))).sum()),
    ("-log(sum(y[j]*softmax(z)[j], j))", [], dict(y=U), lambda z, y: -np.log((y * softmax(z)).sum())),
    ("sum(sqrt(softmax(z)[j]*y[j]), j)", [], dict(y=U), lambda z, y: np.sqrt(softmax(z) * y).sum()),
    ("-sum(y[j]*log(softmax(a*z + b)[j]), j)", ONE, dict(y=Y, a=0.7, b=P),
     lambda z, y, a, b: -(y * np.log(softmax(a * z + b))).sum()),
    ("-sum(y[j]*log(softmax(z)[j] + eps), j)", [], dict(y=U, eps=0.01),
     lambda z, y, eps: -(y * np.log(softmax(z) + eps)).sum()),
    ("-sum(y[j]*log(softmax(z + tau*log(p))[j]), j)", ONE, dict(y=Y, p=P, tau=0.5),
     lambda z, y, p, tau: -(y * np.log(softmax(z + tau * np.log(p)))).sum()),
    ("-sum(y[j]*log_softmax(z/T)[j], j)", ONE, dict(y=Y, T=2.0), lambda z, y, T: -(y * np.log(softmax(z / T))).sum()),
    ("-sum(y[j]*exp(softmax(z)[j]), j)", [], dict(y=U), lambda z, y: -(y * np.exp(softmax(z))).sum()),
    ("sum(softmax(z)[j]**3*y[j], j)", [], dict(y=U), lambda z, y: (softmax(z) ** 3 * y).sum()),
    # a sigmoid and a softmax of the same logits: each partial is its own lemma, neither fold touches the other
    ("-sum(y[j]*log(sigmoid(z[j]))*softmax(z)[j], j)", [], dict(y=U),
     lambda z, y: -(y * np.log(sigmoid(z)) * softmax(z)).sum()),
    # the logits outside the output layer too: exp(-z_j) is a factor, not an unfolded softmax
    ("-sum(y[j]*exp(-z[j])*log(softmax(z)[j]), j)", [], dict(y=U),
     lambda z, y: -(y * np.exp(-z) * np.log(softmax(z))).sum()),
    ("sum(z[j]*softmax(z)[j], j)", [], {}, lambda z: (z * softmax(z)).sum()),
    ("sum(softmax(z)[j]*softmax(2*z)[j], j)", [], {}, lambda z: (softmax(z) * softmax(2 * z)).sum()),
]


@pytest.mark.parametrize("cost, assume, args, loss", COSTS, ids=[c[0] for c in COSTS])
def test_a_cost_no_recipe_names_reaches_a_short_closed_form(cost, assume, args, loss):
    d = derive.gradient(cost, assume=assume)
    assert d.complete, d.incomplete
    assert not d.result.has(sp.Derivative) and not d.result.has(sp.exp(sp.IndexedBase("z")[sp.Symbol("k")]))
    assert sp.count_ops(d.result) <= 60
    report = d.verify(Ks=(2, 3))
    assert report.ok, str(report)
    np.testing.assert_allclose(d.compile()(z=Z, **args), fd_rows(loss, Z, args), atol=3e-7, rtol=1e-6)


# -- costs as framework code computes them (no softmax(...) or sigmoid(...) spelled) ---------------

def _logsumexp(z):
    m = z.max()
    return m + np.log(np.exp(z - m).sum())


WRITTEN_OUT = [
    # (cost as frameworks write it, assume, the recognition it needs, numpy cost of one row, closed form)
    ("log(sum(exp(z[j]), j)) - sum(y[j]*z[j], j)", ONE, "fold the definition of the softmax",
     lambda z, y: _logsumexp(z) - y @ z, lambda Z, Y: softmax(Z) - Y),
    ("-sum(y[j]*log(exp(z[j])/sum(exp(z[l]), l)), j)", ONE, "recognise the softmax",
     lambda z, y: -(y * (z - _logsumexp(z))).sum(), lambda Z, Y: softmax(Z) - Y),
    ("sum(log(1 + exp(z[j])) - y[j]*z[j], j)", (), "recognise a softplus",
     lambda z, y: (np.logaddexp(0, z) - y * z).sum(), lambda Z, Y: sigmoid(Z) - Y),
    ("-sum(y[j]*log(1/(1 + exp(-z[j]))) + (1 - y[j])*log(1 - 1/(1 + exp(-z[j]))), j)", (),
     "recognise the sigmoid", lambda z, y: (np.logaddexp(0, -z) * y + np.logaddexp(0, z) * (1 - y)).sum(),
     lambda Z, Y: sigmoid(Z) - Y),
    ("sum(log(1 + exp(-y[j]*z[j])), j)", (), "recognise the sigmoid",
     lambda z, y: np.logaddexp(0, -y * z).sum(), lambda Z, Y: -Y * sigmoid(-Y * Z)),
    ("sum(y[j]*exp(z[j])/(1 + exp(z[j])), j)", (), "recognise the sigmoid",
     lambda z, y: (y * sigmoid(z)).sum(), lambda Z, Y: Y * sigmoid(Z) * (1 - sigmoid(Z))),
]


@pytest.mark.parametrize("cost, assume, named, loss, closed", WRITTEN_OUT, ids=[c[0] for c in WRITTEN_OUT])
def test_a_layer_written_out_is_recognised_in_a_named_step(cost, assume, named, loss, closed):
    d = derive.gradient(cost, assume=assume)
    assert d.complete, d.incomplete
    assert any(s.justification.startswith(named) for s in d.steps), [s.justification for s in d.steps]
    assert sp.count_ops(d.result) <= 6, d.result   # the textbook's o_k - y_k, not the exponentials
    assert d.verify(Ks=(2, 3)).ok
    g = d.compile()
    np.testing.assert_allclose(g(z=Z, y=Y), closed(Z, Y), atol=1e-12)
    np.testing.assert_allclose(g(z=Z, y=Y), fd_rows(loss, Z, dict(y=Y)), atol=1e-6)


def test_a_cost_of_plain_sympy_exponentials_is_recognised():
    z, y = sp.IndexedBase("z"), sp.IndexedBase("y")
    j, l = sp.symbols("j l")
    K_ = sp.Symbol("K")
    d = derive.gradient(sp.log(sp.Sum(sp.exp(z[l]), (l, 1, K_))) - sp.Sum(y[j] * z[j], (j, 1, K_)), assume=ONE)
    o, k = sp.IndexedBase("o"), sp.Symbol("k", integer=True, positive=True)
    assert d.result == o[k] - y[k] and d.verify(Ks=(2, 3)).ok


def test_a_cost_with_no_layer_is_derived():
    d = derive.gradient("sum(y[j]*z[j]**2, j) + sum(z[j], j)**2")
    assert d.complete and d.verify(Ks=(2, 3)).ok
    g = d.compile()
    np.testing.assert_allclose(g(z=Z, y=Y), 2 * Y * Z + 2 * Z.sum(-1, keepdims=True), atol=1e-12)


# -- scalar parameters: a name used as a scalar is differentiated as one number -----------------------

def _log_softmax(S):
    S = S - S.max(-1, keepdims=True)
    return S - np.log(np.exp(S).sum(-1, keepdims=True))


SCALARS = [
    # (cost, wrt, value, numpy cost of all rows for the value)
    ("-sum(y[j]*log(softmax(z/T)[j]), j)", "T", 2.0, lambda T: -(Y * _log_softmax(Z / T)).sum(-1)),
    ("-sum(((1-eps)*y[j] + eps/K)*log(softmax(z)[j]), j)", "eps", 0.1,
     lambda e: -(((1 - e) * Y + e / K) * _log_softmax(Z)).sum(-1)),
    ("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)", "gamma", 2.0,
     lambda g: -(Y * (1 - softmax(Z)) ** g * _log_softmax(Z)).sum(-1)),
    ("sum(log(1 + exp(-m*y[j]*z[j])), j)", "m", 0.7, lambda m: np.logaddexp(0, -m * Y * Z).sum(-1)),
]


@pytest.mark.parametrize("cost, wrt, value, loss", SCALARS, ids=[c[1] for c in SCALARS])
def test_a_scalar_parameter_is_differentiated_as_one_number(cost, wrt, value, loss):
    d = derive.gradient(cost, wrt=wrt, assume=ONE)
    assert d.complete, d.incomplete
    assert d.free_indices == () and not any(isinstance(a, sp.Indexed) and str(a.base) == wrt
                                            for a in d.result.atoms(sp.Indexed))
    assert d.verify(Ks=(2, 3)).ok
    g = d.compile()
    assert "-> (N,)" in repr(g)
    h = 1e-6
    given = {wrt: value} if wrt in g.inputs else {}  # dE/d eps of label smoothing does not depend on eps
    np.testing.assert_allclose(g(z=Z, y=Y, **given), (loss(value + h) - loss(value - h)) / (2 * h), atol=1e-6)


def test_the_temperature_gradient_is_the_textbook_sum():
    d = derive.gradient("-sum(y[j]*log(softmax(z/T)[j]), j)", wrt="T", assume=ONE)
    o, y, z, T = sp.IndexedBase("o"), sp.IndexedBase("y"), sp.IndexedBase("z"), sp.Symbol("T", real=True)
    j = sp.Symbol("j", integer=True, positive=True)
    textbook = sp.Sum((y[j] - o[j]) * z[j], (j, 1, sp.Symbol("K", integer=True, positive=True))) / T ** 2
    K_ = sp.Symbol("K", integer=True, positive=True)
    assert sp.simplify((d.result - textbook).subs(K_, 3).doit()) == 0


def test_a_product_of_two_names_inside_softmax_keeps_wrt_the_vector():
    d = derive.gradient("-sum(y[j]*log(softmax(z*T)[j]), j)", wrt="z", assume=ONE)
    assert d.free_indices and d.verify(Ks=(2, 3)).ok


def test_the_lemmas_are_planned_once_and_cited():
    d = derive.gradient("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)", assume=ONE)
    assert [x.name for x in d.lemmas] == ["partial_o_by_z"]
    assert d.lemmas[0].result.has(sp.KroneckerDelta)
    assert {s.rule.value for s in d.steps} >= {"product_rule", "chain_rule", "lemma"}


# -- what the planner cannot do is said, not hidden ----------------------------------------------------

def test_an_incomplete_derivation_is_not_ok_and_does_not_compile():
    from derive.planned import plan
    p, planner = plan(CE, assume=ONE)
    planner.max_steps = 3
    d = planner.derive(p.lhs, name="gradient", title="Gradient")
    assert not d.complete and "stopped after 3 steps" in d.incomplete
    report = d.verify(Ks=(2,))
    assert not report.ok and any(c.rule == "incomplete" for c in report.failures)
    with pytest.raises(derive.ArgumentError, match="incomplete"):
        d.compile()


def test_a_derivation_with_no_steps_proves_nothing():
    d = dataclasses.replace(derive.softmax_ce(), steps=())
    report = d.verify(Ks=(2,))
    assert not report.ok and "nothing was proved" in str(report)


def test_the_time_is_bounded():
    with pytest.raises(DerivationError) as err:
        derive.gradient(CE, assume=ONE, timeout=1e-9)
    assert err.value.argument == "cost" and "longer than" in str(err.value)


# -- bad input, named ----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, argument, words", [
    (dict(cost=CE, wrt="q"), "wrt", "not a vector or scalar of the cost"),
    (dict(cost=CE, wrt=3), "wrt", "must be the name"),
    (dict(cost=CE, assume=["sum(y[j], j) = 2"]), "assume[0]", "only an assumption"),
    (dict(cost=CE, assume="sum(y[j], j) = 1)"), "assume[0]", ""),
    (dict(cost=CE, define=["z[j]*2 = w[j]"]), "define[0]", ""),
    (dict(cost=CE, K=1), "K", "at least 2"),
    (dict(cost=CE, timeout=-1), "timeout", "positive"),
    (dict(cost=CE, name="Not a name"), "name", "lower-case"),
    (dict(cost=12), "cost", "str or a SymPy"),
    (dict(cost="__import__('os').system('true')"), "cost", "not allowed"),
    (dict(cost="z.__class__"), "cost", "not allowed"),
    (dict(cost="x" * 100_000), "cost", ""),
    (dict(cost="(" * 1000 + "z[j]" + ")" * 1000), "cost", ""),
    (dict(cost="exp(exp(exp(exp(z[j]))))**99999"), "cost", ""),
])
def test_bad_input_is_named(kwargs, argument, words):
    with pytest.raises(derive.ArgumentError) as err:
        derive.gradient(**kwargs)
    assert err.value.argument == argument and words in str(err.value)
