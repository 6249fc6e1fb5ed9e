"""The catalogue's planned variants: each verifies, compiles, and agrees with an independent NumPy gradient."""
import mpmath
from dataclasses import replace
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
    hvp = d.parts[0]
    v = RNG.normal(size=(N, K))
    H = d.compile()(z=Z)  # the Hessian does not depend on y: it takes only z
    got = hvp.compile()(z=Z, v=v)
    np.testing.assert_allclose(got, np.einsum("nkm,nm->nk", H, v), atol=1e-14)
    assert len(d.results) == 3  # H, H v, and v^T H v >= 0


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


# -- the focal loss at extreme logits, against an independent high-precision gradient --------------
#
# (1 - o_k)^(gamma - 1) log o_k is inf * 0 = NaN where o_k rounds to 1 and gamma < 1 unless the compiler
# takes 1 - o_k and the powers of it through logs (derive.tensor.Program). The reference differentiates
# the loss itself by forward-mode automatic differentiation in mpmath at 80 digits (dual numbers),
# with log o_j and log(1 - o_j) taken from log-sum-exps of the logits so that they stay exact where
# 1 - o_j = exp(-1e4): it shares nothing with the derivation or the compiled program.

class Dual:
    """a + b eps with eps^2 = 0, over mpmath numbers: b carries the derivative along one logit."""

    __slots__ = ("a", "b")

    def __init__(self, a, b=0):
        self.a, self.b = mpmath.mpf(a), mpmath.mpf(b)

    @staticmethod
    def of(x):
        return x if isinstance(x, Dual) else Dual(x)

    def __add__(self, other):
        other = Dual.of(other)
        return Dual(self.a + other.a, self.b + other.b)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.a, -self.b)

    def __sub__(self, other):
        return self + -Dual.of(other)

    def __rsub__(self, other):
        return Dual.of(other) - self

    def __mul__(self, other):
        other = Dual.of(other)
        return Dual(self.a * other.a, self.a * other.b + self.b * other.a)

    __rmul__ = __mul__

    def exp(self):
        e = mpmath.exp(self.a)
        return Dual(e, e * self.b)

    def log(self):
        return Dual(mpmath.log(self.a), self.b / self.a)


def _lse(xs):
    m = max(x.a for x in xs)
    return sum(((x - m).exp() for x in xs), Dual(0)).log() + m


def _focal_exact(z, y, gamma):
    """-sum_j y_j (1 - o_j)^gamma log o_j, with log o_j = z_j - lse(z), log(1 - o_j) = lse(z_-j) - lse(z)."""
    total, whole = Dual(0), _lse(z)
    for j in range(len(z)):
        log_rest = _lse([z[i] for i in range(len(z)) if i != j]) - whole
        total = total - y[j] * (gamma * log_rest).exp() * (z[j] - whole)
    return total


def _power_exact(z, y, gamma):
    """-sum_j y_j o_j^gamma."""
    whole = _lse(z)
    return sum((-y[j] * (gamma * (z[j] - whole)).exp() for j in range(len(z))), Dual(0))


def _sigmoid_focal_exact(z, y, gamma):
    """-sum_j y_j (1 - s_j)^gamma log s_j, s_j = sigmoid(z_j): log s = -log(1 + exp(-z)) exactly in mpmath."""
    total = Dual(0)
    for j in range(len(z)):
        log_s = -(1 + (-z[j]).exp()).log()
        log_not_s = -(1 + z[j].exp()).log()
        total = total - y[j] * (gamma * log_not_s).exp() * log_s
    return total


def exact_gradient(loss, Z, Y, gamma, dps=80):
    """d loss(z_row, y_row, gamma) / dz for every row, by forward-mode AD at ``dps`` digits, as float64."""
    Z, Y = np.asarray(Z, np.float64), np.asarray(Y, np.float64)
    out = np.zeros(Z.shape)
    with mpmath.workdps(dps):
        for n in range(Z.shape[0]):
            ys = [mpmath.mpf(float(v)) for v in Y[n]]
            for k in range(Z.shape[1]):
                zs = [Dual(float(v), int(i == k)) for i, v in enumerate(Z[n])]
                out[n, k] = float(loss(zs, ys, mpmath.mpf(gamma)).b)
    return out


def _extreme_logits(rng, K=5):
    """Rows: one logit 1e4 above the rest, one 1e4 below, equal logits, random small logits, a gap of 40
    (1 - o rounds to 0 in float64 without underflowing), and mixed extremes."""
    small = rng.normal(size=K)
    rows = [small + 1e4 * np.eye(K)[0], small - 1e4 * np.eye(K)[2], np.zeros(K), small,
            small + 40 * np.eye(K)[1], np.array([1e4, -1e4, 0.0, 5e3, -5e3])[:K]]
    return np.array(rows)


def _targets(rng, rows, K=5):
    """Soft targets for each row, then one-hot ones (at the top logit in the first row, away from it in others)."""
    soft = rng.dirichlet(np.ones(K), size=rows)
    onehot = np.eye(K)[[n % K for n in range(rows)]]
    return np.concatenate([soft, onehot])


# the largest error is a few ulps of the row's scale: the closed form adds terms of either sign
TOLERANCE = {np.float64: 1e-14, np.float32: 3e-6}


def _assert_close_to_exact(got, exact, dtype):
    assert got.dtype == dtype and np.all(np.isfinite(got))
    scale = np.maximum(1, np.abs(exact).max(axis=-1, keepdims=True))
    err = np.abs(got.astype(np.float64) - exact) / scale
    assert err.max() <= TOLERANCE[dtype], f"worst error {err.max():.3g} relative to the row's scale"


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gamma", [0.25, 0.5, 2.0])
def test_focal_loss_is_finite_and_exact_at_extreme_logits(built, gamma, dtype):
    rng = np.random.default_rng(11)
    logits = _extreme_logits(rng)
    Z = np.tile(logits, (2, 1)).astype(dtype)
    Y = _targets(rng, len(logits)).astype(dtype)
    got = built["focal_loss"].compile()(z=Z, y=Y, gamma=gamma)
    _assert_close_to_exact(got, exact_gradient(_focal_exact, Z, Y, gamma), dtype)


def test_focal_loss_reads_one_minus_o_through_logs(built):
    """The program reads log(1 - o) (a log-sum-exp of the other logits), never 1 - o of a rounded o."""
    source = built["focal_loss"].compile().source
    assert "(1 - o[" not in source and "log_one_minus_o[" in source and "log_neg_log_o[" in source


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("gamma", [0.25, 2.0])
def test_focal_loss_torch_backend_is_stable_too(built, gamma):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    Z = _extreme_logits(rng)
    Y = rng.dirichlet(np.ones(Z.shape[1]), size=len(Z))
    got = built["focal_loss"].compile(backend="torch")(z=torch.tensor(Z), y=torch.tensor(Y), gamma=gamma).numpy()
    _assert_close_to_exact(got, exact_gradient(_focal_exact, Z, Y, gamma), np.float64)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cost, exact", [
    ("-sum(y[j]*softmax(z)[j]**gamma, j)", _power_exact),            # o_k (o_k^(gamma - 1) y_k + ...)
    ("-sum(y[j]*(1 - sigmoid(z[j]))**gamma*log(sigmoid(z[j])), j)", _sigmoid_focal_exact),
])
def test_powers_of_outputs_in_any_planned_cost_are_stable(cost, exact, dtype):
    """Not a focal-loss special case: a power of o (split from the o_k that cancels it by a bracket)
    and a sigmoid's 1 - s compile through logs as well."""
    rng = np.random.default_rng(13)
    Z = _extreme_logits(rng).astype(dtype)
    Y = rng.dirichlet(np.ones(Z.shape[1]), size=len(Z)).astype(dtype)
    got = derive.gradient(cost, "z").compile()(z=Z, y=Y, gamma=0.5)
    _assert_close_to_exact(got, exact_gradient(exact, Z, Y, 0.5), dtype)


def test_hessian_states_its_general_form_before_the_targets_sum_to_one(built):
    """Bishop's (sum_j y_j)(diag(o) - o o^T): the general second derivative, then sum_j y_j = 1 is used."""
    d = built["softmax_ce_hessian"]
    rules = [s.rule.value for s in d.steps]
    assert rules[-2:] == ["assumption", "matrix_form"]
    general = d.steps[-3].expr
    total = next(s for s in general.atoms(sp.Sum) if str(s.function.base) == "y")  # sum_j y_j
    assert not d.steps[-2].expr.has(total) and d.steps[-2].expr.has(sp.KroneckerDelta)
    assert [a.key for a in d.steps[-2].assumptions] == ["y_sums_to_one"]
    gradient = d.steps[0].lemmas[0]
    assert gradient.result.has(total)  # the lemma is the general gradient, o_k sum_j y_j - y_k


# ------------------------------------------------------------------ issue 17.6: textbook closed forms

def _focal_one_hot_numpy(z, t, gamma):
    """The published one-hot form, written here on its own: (o_k - [k = t])(1 - p_t)^(gamma-1)(1 - p_t - gamma p_t log p_t)."""
    o = softmax(z)
    p = o[t]
    hot = np.eye(len(z))[t]
    return (o - hot) * (1 - p) ** (gamma - 1) * (1 - p - gamma * p * np.log(p))


def test_focal_loss_one_hot_part_ends_in_the_published_form(built):
    d = built["focal_loss"]
    part, = d.parts
    assert part.name == "one_hot_target"
    assert [s.rule.value for s in part.steps] == ["one_hot_target", "kronecker_delta", "kronecker_delta", "factor",
                                                  "factor", "one_hot_target", "fold_definition"]
    assert part.steps[0].expr == d.steps[-1].expr.xreplace(  # the soft-target result, y_j = delta_jt
        {y: sp.KroneckerDelta(y.indices[0], sp.Symbol("t", integer=True, positive=True))
         for y in d.steps[-1].expr.atoms(sp.Indexed) if y.base.name == "y"})
    o, k = d.setting.symbols["o"], d.free_indices[0]
    t = sp.Symbol("t", integer=True, positive=True)
    gamma = next(s for s in part.result.free_symbols if s.name == "gamma")
    p_t, y = sp.Symbol("p_t"), sp.IndexedBase("y")
    published = (o[k] - y[k]) * (1 - p_t) ** (gamma - 1) * (1 - p_t - gamma * p_t * sp.log(p_t))
    assert part.result == published  # the textbook's factors and names, exactly: y_k, and p_t for o_t
    named = d.setting.definition_of(p_t)  # p_t is a quantity of the document, listed with its definitions
    assert named is not None and named.expr == o[t] and "p_{t}" in d.to_latex().split("Lemma")[0]
    assert part.steps[-2].formula == sp.Eq(sp.KroneckerDelta(k, t), y[k], evaluate=False)  # delta_kt = y_k, said
    assert len(d.results) == 2 and d.results[0][1] == d.steps[-1].expr  # the soft form, then the one-hot form


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_the_one_hot_focal_form_is_the_gradient_for_a_one_hot_target(built, gamma):
    """The published form against finite differences of the focal loss at y = e_t, and the part's own result
    evaluated at the same point (K = 5)."""
    part = built["focal_loss"].parts[0]
    o_base = built["focal_loss"].setting.symbols["o"]
    z = RNG.normal(size=K)
    for t in range(K):
        y = np.eye(K)[t]
        fd = fd_rows(lambda z_, y: -(y * (1 - softmax(z_)) ** gamma * np.log(softmax(z_))).sum(), z[None], y=y[None])[0]
        np.testing.assert_allclose(_focal_one_hot_numpy(z, t, gamma), fd, atol=1e-7)
        o = softmax(z)
        values = {o_base[i + 1]: o[i] for i in range(K)}
        values.update({sp.IndexedBase("y")[i + 1]: y[i] for i in range(K)})
        for k in range(K):
            at = {s: v for s in part.result.free_symbols for v in
                  [{"k": k + 1, "t": t + 1, "gamma": gamma, "p_t": o[t]}.get(s.name)] if v is not None}
            got = float(part.result.xreplace(at).xreplace(values))
            assert abs(got - fd[k]) < 1e-7


def test_focal_loss_says_lin_et_al_use_sigmoid_outputs_with_alpha_t_in_every_format(built):
    d = built["focal_loss"]
    for shown in (d.to_text(), d.to_markdown(), d.to_latex(), d.to_html(), d._repr_html_(), d.to_json()):
        assert "Lin et al. (2017)" in shown and "sigmoid outputs" in shown
    assert r"\alpha_{t}" in d.to_latex() and "alpha_t" in d.to_text()


def test_the_planned_squared_error_is_the_grouped_form_of_softmax_se(built):
    """o_k ((o_k - t_k) - sum_j o_j (o_j - t_j)): the planner's result is softmax_se's, and says so."""
    planned, reference = built["softmax_se_planned"], derive.softmax_se()
    assert planned.result == reference.result
    o, t, k, j = planned.setting.symbols["o"], sp.IndexedBase("t"), planned.free_indices[0], sp.Symbol("j", integer=True, positive=True)
    K_ = planned.setting.K
    assert planned.result == o[k] * (o[k] - t[k] - sp.Sum(o[j] * (o[j] - t[j]), (j, 1, K_)))
    # the Kronecker delta picks its term out of (delta_jk - o_k) and o_j - t_j is never multiplied out, so no
    # step has to write the brackets back as output minus target (issue 17.2: no split-then-merge)
    assert [s.rule.value for s in planned.steps].count("expand") == 0
    assert "the same result as softmax_se" in planned.to_text()


def test_positive_semidefiniteness_is_shown_step_by_step(built):
    """v^T H v = sum_k o_k v_k^2 - (sum_k o_k v_k)^2 = sum_k o_k (v_k - vbar)^2 >= 0, each link verified."""
    from derive.model import Relation
    d = built["softmax_ce_hessian"]
    psd = d.parts[-1]
    assert psd.name == "semidefinite" and psd.relation is Relation.GE and psd.result == 0
    rules = [s.rule.value for s in psd.steps]
    assert rules[-3:] == ["merge_powers", "complete_square", "nonnegative"]
    assert [s.relation for s in psd.steps] == [Relation.EQ] * (len(psd.steps) - 1) + [Relation.GE]
    o, v = d.setting.symbols["o"], sp.IndexedBase("v")
    k, m = sp.Symbol("k", integer=True, positive=True), sp.Symbol("m", integer=True, positive=True)
    K_ = d.setting.K
    assert psd.steps[-3].expr == sp.Sum(o[k] * v[k] ** 2, (k, 1, K_)) - sp.Sum(o[k] * v[k], (k, 1, K_)) ** 2
    vbar = sp.Sum(o[m] * v[m], (m, 1, K_))
    assert psd.steps[-2].expr == sp.Sum(o[k] * (v[k] - vbar) ** 2, (k, 1, K_))
    assert psd.steps[-1].formula == sp.GreaterThan(o[k] * (v[k] - vbar) ** 2, 0, evaluate=False)
    assert [a.key for a in psd.steps[-2].assumptions] == ["o_outputs_sum_to_one"]
    report = psd.verify(Ks=(2, 3, 7))
    assert report.ok, str(report)
    assert "numeric bound (>=), each term's sign" in str(report)


def test_a_flipped_or_unfounded_bound_fails_verify(built):
    """Break what the bound check guards: the bound flipped to <=, a term claim that is false although the sum
    is still nonnegative, and a bound that is false outright each fail."""
    from derive.model import Relation
    psd = built["softmax_ce_hessian"].parts[-1]
    last = psd.steps[-1]
    assert psd.verify(Ks=(2, 3)).ok  # cached: the flipped chain below must not reuse these checks
    flipped = psd.with_step(len(psd.steps) - 1, replace(last, relation=Relation.LE))
    report = flipped.verify(Ks=(2, 3))
    assert not report.ok and any("the bound <= fails" in c.message for c in report.failures)
    from derive import rules
    planned = psd.steps[-6].expr  # sum_k o_k v_k (v_k - vbar): at least 0 (it is the variance), not term by term
    assert isinstance(planned, sp.Sum) and rules.nonnegative_sum(planned, rules.Context(psd.setting)) is None
    unfounded = replace(psd, steps=psd.steps[:-5] + (replace(last, formula=sp.GreaterThan(planned.function, 0,
                                                                                        evaluate=False)),))
    report = unfounded.verify(Ks=(2, 3))
    assert not report.ok and [c.step for c in report.failures] == [len(unfounded.steps)], str(report)
    assert "the reason" in report.failures[0].message
    false = psd.with_step(len(psd.steps) - 1, replace(last, expr=sp.Integer(1)))  # v^T H v >= 1: false near v = 0
    assert not false.verify(Ks=(2, 3)).ok
