"""The catalogue's planned variants: each verifies, compiles, and agrees with an independent NumPy gradient."""
import numpy as np
import pytest
import sympy as sp

import derive
from numeric_helpers import softmax

RNG = np.random.default_rng(7)
N, K = 4, 5


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def fd_rows(loss, Z, **rows):
    """Central differences of loss(z_row, **row_args) for every row and class (float64, h = 1e-6)."""
    h, out = 1e-6, np.zeros_like(Z)
    for n in range(Z.shape[0]):
        args = {k: (v[n] if isinstance(v, np.ndarray) and v.ndim == 2 else v) for k, v in rows.items()}
        for k in range(Z.shape[1]):
            e = np.zeros(Z.shape[1])
            e[k] = h
            out[n, k] = (loss(Z[n] + e, **args) - loss(Z[n] - e, **args)) / (2 * h)
    return out


Z = RNG.normal(size=(N, K)) * 2
Y = RNG.dirichlet(np.ones(K), size=N)          # on the simplex
U = RNG.uniform(0.05, 0.95, size=(N, K))       # multi-label targets
W = RNG.uniform(0.5, 2.0, size=(N, K))         # class weights

CASES = {
    "softmax_ce_temperature": (dict(y=Y, T=1.7), lambda z, y, T: -(y * np.log(softmax(z / T))).sum()),
    "label_smoothing": (dict(y=Y, eps=0.1), lambda z, y, eps: -(((1 - eps) * y + eps / K) * np.log(softmax(z))).sum()),
    "softmax_ce_weighted": (dict(y=Y, w=W), lambda z, y, w: -(w * y * np.log(softmax(z))).sum()),
    "sigmoid_bce": (dict(y=U), lambda z, y: -(y * np.log(sigmoid(z)) + (1 - y) * np.log(1 - sigmoid(z))).sum()),
    "focal_loss": (dict(y=Y, gamma=2.0), lambda z, y, gamma: -(y * (1 - softmax(z)) ** gamma * np.log(softmax(z))).sum()),
    "log_softmax_nll": (dict(y=Y), lambda z, y: -(y * np.log(softmax(z))).sum()),
    "softmax_se_planned": (dict(t=U), lambda z, t: 0.5 * ((softmax(z) - t) ** 2).sum()),
}


@pytest.fixture(scope="module")
def built():
    return {e.name: e() for e in derive.catalogue()[6:]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_variant_agrees_with_finite_differences(built, name):
    args, loss = CASES[name]
    g = built[name].compile()
    assert set(g.inputs) == {"z", *args}
    got = g(z=Z, **args)
    assert got.shape == (N, K)
    np.testing.assert_allclose(got, fd_rows(loss, Z, **args), atol=2e-7, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_variant_is_stable_for_extreme_logits(built, name):
    args, _ = CASES[name]
    big = np.tile(np.array([[1e4, -1e4, 0.0, 5e3, -5e3]]), (N, 1))
    out = built[name].compile()(z=big, **args)
    assert np.all(np.isfinite(out))


def test_the_closed_forms_are_the_textbook_ones(built):
    def closed(name):
        d = built[name]
        s = d.setting.symbols
        return d, s
    d, s = closed("softmax_ce_temperature")
    o, k = s["o"], d.free_indices[0]
    y, T = sp.IndexedBase("y"), sp.Symbol("T", real=True)
    assert sp.simplify(d.result - (o[k] - y[k]) / T) == 0
    d, s = closed("label_smoothing")
    eps, K_ = sp.Symbol("eps", real=True), d.setting.K
    assert sp.expand(d.result - (o[k] - (1 - eps) * y[k] - eps / K_)) == 0
    d, s = closed("sigmoid_bce")
    assert d.result == s["s"][k] - y[k]
    d = built["log_softmax_nll"]
    assert d.result == derive.softmax_ce().result  # the log-sum-exp route agrees with the softmax route
    assert "softmax_partial" not in [x.name for x in d.walk()]  # it went through log-sum-exp, not the partials


def test_every_variant_is_planned_and_cites_what_it_uses(built):
    for name in CASES:
        d = built[name]
        assert d.complete and d.steps[0].rule.value == "definition"
        assert all(step.rule in derive.Rule for step in d.steps)


def test_hessian_is_symmetric_positive_semidefinite_and_matches_the_gradient(built):
    d = built["softmax_ce_hessian"]
    H = d.compile()(z=Z)  # the Hessian does not depend on y: it takes only z
    assert H.shape == (N, K, K)
    np.testing.assert_allclose(H, np.swapaxes(H, 1, 2), atol=1e-15)
    assert np.linalg.eigvalsh(H).min() > -1e-12
    grad = derive.softmax_ce().compile()
    h = 1e-6
    for m in range(K):
        e = np.zeros(K)
        e[m] = h
        column = (grad(z=Z + e, y=Y) - grad(z=Z - e, y=Y)) / (2 * h)
        np.testing.assert_allclose(H[:, :, m], column, atol=1e-8)
    assert str(d.result) == "[DiagMatrix(o) - o*o.T]_(k, m)"


def test_hessian_vector_product_part(built):
    d = built["softmax_ce_hessian"]
    (hvp,) = d.parts
    v = RNG.normal(size=(N, K))
    H = d.compile()(z=Z)  # the Hessian does not depend on y: it takes only z
    got = hvp.compile()(z=Z, v=v)
    np.testing.assert_allclose(got, np.einsum("nkm,nm->nk", H, v), atol=1e-14)
    assert len(d.results) == 2


def test_vjp_is_the_jacobian_transpose_times_g(built):
    d = built["softmax_vjp"]
    g = RNG.normal(size=(N, K))
    got = d.compile()(z=Z, g=g)
    o = softmax(Z)
    J = np.einsum("nk,km->nkm", o, np.eye(K)) - np.einsum("nk,nm->nkm", o, o)
    np.testing.assert_allclose(got, np.einsum("nmk,nm->nk", J, g), atol=1e-15)
    assert "g" in d.compile().inputs and d.steps[-1].rule.value == "matrix_form"


@pytest.mark.parametrize("name", [e.name for e in derive.catalogue()[6:]])
def test_variant_verifies(built, name):
    report = built[name].verify(Ks=(2, 3))
    assert report.ok, str(report)
