"""compile(): vectorised, stable, checked against an independent numeric gradient."""
import re

import numpy as np
import pytest
import sympy as sp

import derive
from numeric_helpers import fd


def ce_loss(Z, Y):
    """Cross-entropy per row, written independently of derive (stable log-softmax)."""
    m = Z.max(-1, keepdims=True)
    logp = Z - m - np.log(np.exp(Z - m).sum(-1, keepdims=True))
    return -(Y * logp).sum(-1)


def fd_grad(Z, Y):
    """Row by row: each row's loss depends on that row only."""
    return np.stack([fd(lambda z: ce_loss(z[None], Y[n][None])[0], Z[n]) for n in range(len(Z))])


@pytest.fixture(scope="module")
def g():
    return derive.softmax_ce().compile()


def test_matches_finite_differences(g):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(6, 5)) * 3
    Y = np.eye(5)[rng.integers(0, 5, size=6)]
    assert np.allclose(g(z=Z, y=Y), fd_grad(Z, Y), atol=1e-7)


def test_targets_the_derivation_assumes_normalised_are_checked(g):
    with pytest.raises(derive.ArgumentError) as err:
        g(z=np.zeros((2, 3)), y=np.full((2, 3), 0.5))
    assert err.value.argument == "y" and "normalized_targets=False" in str(err.value)


def test_a_lemma_with_conditions_is_not_compiled():
    lemma = derive.softmax_ce().lemmas[1]
    with pytest.raises(derive.ArgumentError) as err:
        lemma.compile()
    assert err.value.argument == "derivation" and "j != k" in str(err.value)


def test_a_sum_over_a_broadcast_axis_counts_every_term():
    """sum_j y_k (no j inside) is K y_k, and sum_{j != k} y_j is the row total minus y_k."""
    import sympy as sp
    from derive.expr import SumExcept
    from derive.tensor import BATCH, Program, Tensor
    y = sp.IndexedBase("y")
    j, k = sp.symbols("j k", integer=True, positive=True)
    Y = np.array([[1.0, 2.0, 3.0]])
    tensors = {"y": Tensor(Y.T, (sp.Dummy(), BATCH))}
    out = Program(sp.Sum(y[k], (j, 1, 3)) + sp.Sum(y[j], (j, 1, 3)), (k,))(tensors)
    assert np.allclose(out.array.ravel(), [9, 12, 15])
    out = Program(SumExcept(y[j], (j, 1, 3), k), (k,))(tensors)
    assert np.allclose(out.array.ravel(), [5, 4, 3])


def test_soft_targets_and_unnormalised_option():
    rng = np.random.default_rng(1)
    Z, Y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))
    G = derive.softmax_ce(normalized_targets=False).compile()(z=Z, y=Y)
    assert np.allclose(G, fd_grad(Z, Y), atol=1e-7)


def test_single_example_shape(g):
    out = g(z=[1.0, 2.0, 3.0], y=[0, 0, 1])
    assert out.shape == (3,)
    assert np.isclose(out.sum(), 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stable_for_extreme_logits(g, dtype):
    Z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1, -1e4]], dtype=dtype)
    Y = np.eye(3, dtype=dtype)
    out = g(z=Z, y=Y)
    assert out.dtype == dtype
    assert np.all(np.isfinite(out))
    e = np.exp(-1.0)
    assert np.allclose(out[0], [0, 0, 0], atol=1e-6)  # confident and right
    assert np.allclose(out[1], [1 / 3, -2 / 3, 1 / 3], atol=1e-6)
    assert np.allclose(out[2], [1 / (1 + e), e / (1 + e), -1], atol=1e-6)  # confident and wrong


def _code(g):
    return re.sub(r"Dummy_\d+", "v", g.source)


def test_code_size_does_not_grow_with_K():
    small = derive.softmax_ce(K=3).compile()
    large = derive.softmax_ce(K=50).compile()
    assert _code(small) == _code(large) == _code(derive.softmax_ce().compile())
    assert _code(small).count("\n") <= 3


def test_concrete_K_checks_the_class_axis():
    g3 = derive.softmax_ce(K=3).compile()
    with pytest.raises(derive.ArgumentError) as err:
        g3(z=np.zeros((2, 4)), y=np.zeros((2, 4)))
    assert err.value.argument == "z" and "K = 3" in str(err.value)


def test_repr_and_inputs(g):
    assert g.inputs == ("z", "y")
    assert repr(g) == "<compiled softmax_ce: f(z=(N, K), y=(N, K)) -> (N, K)>"


@pytest.mark.parametrize("make", [derive.softmax_ce, derive.softmax_regression, derive.softmax_ce_labels,
                                  derive.mlp_backprop])
def test_each_interface_compiles_to_the_declared_type(make):
    """Derivation.compile() is typed derive.CompiledGradient (mypy checks each class against it through
    compile.INTERFACES); each interface's object has what the protocol promises."""
    g = make().compile()
    assert isinstance(g, derive.CompiledGradient)
    assert g.name == make.__name__ and g.inputs and all(isinstance(n, str) for n in g.inputs)
    assert g.source.startswith("def program(")


@pytest.mark.parametrize("kwargs, argument, words", [
    ({"z": np.zeros((2, 3))}, "y", "missing argument"),
    ({"z": np.zeros((2, 3)), "y": np.zeros((2, 3)), "t": 1}, "t", "unknown argument"),
    ({"z": np.zeros((2, 3)), "y": np.zeros((3, 3))}, "y", "does not match"),
    ({"z": np.zeros((2, 3, 4)), "y": np.zeros((2, 3, 4))}, "z", "must have shape"),
    ({"z": np.zeros((2, 1)), "y": np.zeros((2, 1))}, "z", "at least 2 classes"),
    ({"z": np.array([[1.0, np.nan]]), "y": np.zeros((1, 2))}, "z", "NaN"),
    ({"z": np.zeros((1, 2)), "y": np.array([[np.inf, 0]])}, "y", "NaN or infinity"),
    ({"z": np.zeros((1, 2), dtype=complex), "y": np.zeros((1, 2))}, "z", "real numbers"),
    ({"z": "abc", "y": np.zeros((1, 2))}, "z", "numeric array"),
    ({"z": np.array([[True, False]]), "y": np.zeros((1, 2))}, "z", "real numbers"),
])
def test_bad_inputs_are_named(g, kwargs, argument, words):
    with pytest.raises(derive.ArgumentError) as err:
        g(**kwargs)
    assert err.value.argument == argument
    assert words in str(err.value)


# -- scores beyond the float range, and zero examples (never a silent NaN) ----------

def _temperature():
    """o = softmax(z / T) with cross-entropy: a per-example entry with a scalar (as in test_generic_costs)."""
    import sympy as sp
    from derive import definitions as defs
    from derive.assumptions import normalized
    from derive.recipes.softmax import output_gradient
    from derive.setting import Setting
    K = defs.classes("K", None)
    k, j, l = (defs.index(n) for n in "kjl")
    z, o, y = (sp.IndexedBase(n) for n in "zoy")
    T = sp.Symbol("T", positive=True)
    s = Setting(K=K, variables=(z,), definitions=(defs.cross_entropy(sp.Symbol("E"), o, y, j, K),
                                                  defs.softmax(o, lambda i: z[i] / T, j, l, K)),
                ranges=tuple((i, (1, K)) for i in (k, j, l)), domains=(("y", "unit"), ("T", "positive")))
    return output_gradient(s, sp.Symbol("E"), o, z, j, k, name="temperature", title="temperature",
                           facts=(normalized(y, j, K),)).compile()


def _regression(**kw):
    return derive.softmax_regression().compile()(**kw)


def _labels(**kw):
    return derive.softmax_ce_labels().compile()(**kw)


def _mlp(**kw):
    return derive.mlp_backprop().compile()(**kw)


BIG = 1e200  # finite, but w.x = 1e400 is not
ONE_HOT = np.eye(3)[[0, 2]]
HUGE_X = np.full((3, 1), 1.5e308)  # scores 0, but the sum over 3 examples of -(2/3) x is -3e308


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("call, argument, words", [
    (lambda: _regression(theta=np.full((3, 3), BIG), x=np.full((2, 2), BIG), y=ONE_HOT),
     "theta, x", "scores overflow float64 at example 0, class 0"),
    (lambda: _regression(theta=np.array([[0, 0.0], [0, BIG], [0, 0]]), x=np.array([[1.0], [-BIG]]), y=ONE_HOT),
     "theta, x", "at example 1, class 1"),
    (lambda: _regression(theta=np.zeros((3, 2)), x=HUGE_X, y=np.eye(3)[[0, 0, 0]]), "x", "gradient"),
    (lambda: _labels(w=np.full((3, 2), BIG), x=np.full((2, 2), BIG), label=[0, 2]),
     "w, x", "scores overflow float64 at example 0, class 0"),
    (lambda: _labels(w=np.full((3, 2), 1e20, dtype=np.float32), x=np.full((2, 2), 1e20, dtype=np.float32),
                     label=[0, 2]), "w, x", "scores overflow float32"),
    (lambda: _labels(w=np.zeros((3, 1)), x=HUGE_X, label=[0, 0, 0]), "x", "gradient"),
    (lambda: _mlp(weights=[np.full((2, 2), BIG)], biases=[np.zeros(2)], x=np.full((1, 2), BIG), y=np.eye(2)[[0]]),
     "weights[0], x, biases[0]", "weighted inputs of layer 2 overflow"),
    (lambda: _mlp(weights=[np.ones((3, 2)), np.full((2, 3), 1e308)], biases=[np.zeros(3), np.zeros(2)],
                  x=np.full((1, 2), 50.0), y=np.eye(2)[[0]]),
     "weights[1], biases[1]", "weighted inputs of layer 3 overflow float64 at example 0, unit 0"),
    (lambda: _mlp(weights=[np.ones((1, 2)), np.array([[-1e308], [1e308]])], biases=[np.zeros(1), np.zeros(2)],
                  x=np.zeros((1, 2)), y=np.eye(2)[[0]]), "weights, x", "gradient"),  # BP2: W^T delta = 2e308
    (lambda: derive.softmax_se().compile()(z=np.array([[0.0, 12.0]]), t=np.array([[-1.7e308, 1.7e308]])),
     "z, t", "gradient"),
    (lambda: _mlp(weights=[np.ones((2, 2))], biases=[np.zeros(2)], x=np.zeros((0, 2)), y=np.zeros((0, 2))),
     "x", "N = 0 examples is undefined"),
])
def test_overflow_and_empty_means_are_named_errors(call, argument, words):
    with pytest.raises(derive.ArgumentError) as err:
        call()
    assert err.value.argument == argument
    assert words in str(err.value) and "NaN" not in str(err.value)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_tiny_scalar_that_overflows_the_scores_is_named():
    g = _temperature()
    z, y = np.array([[1.0, 2.0]]), np.eye(2)[[0]]
    with pytest.raises(derive.ArgumentError) as err:
        g(z=z, y=y, T=1e-310)  # z / T = 1e310
    assert err.value.argument == "z, T" and "scores overflow float64 at example 0, class 0" in str(err.value)
    assert np.allclose(g(z=z, y=y, T=1e-300), [[-1e300, 1e300]])  # large but representable: computed


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_sums_over_zero_examples_are_zero():
    """The regression and label gradients are sums over examples: over none, they are 0."""
    assert np.array_equal(_regression(theta=np.ones((3, 3)), x=np.zeros((0, 2)), y=np.zeros((0, 3))),
                          np.zeros((3, 3)))
    for label in ([], np.zeros(0, dtype=int)):
        assert np.array_equal(_labels(w=np.ones((3, 2)), x=np.zeros((0, 2)), label=label), np.zeros((3, 2)))
    assert derive.softmax_ce().compile()(z=np.zeros((0, 3)), y=np.zeros((0, 3))).shape == (0, 3)


# -- 1 - p and the logs of softmax and sigmoid outputs, from the logits (derive.numeric) ---------------

def _exact_softmax_parts(row):
    """p, log p, 1 - p, log(1 - p), log(-log p) of softmax(row) in mpmath (50 digits), 1 - p_k as the sum of
    the other outputs."""
    import mpmath
    with mpmath.workdps(50):
        z = [mpmath.mpf(float(v)) for v in row]
        out = []
        for k in range(len(z)):
            odds = mpmath.fsum(mpmath.exp(z[i] - z[k]) for i in range(len(z)) if i != k)  # (1 - p) / p
            neg_log_p = mpmath.log1p(odds)  # exact where p rounds to 1 at 50 digits
            log_c = mpmath.log(odds) - neg_log_p
            out.append({"p": mpmath.exp(-neg_log_p), "log": -neg_log_p, "one_minus": mpmath.exp(log_c),
                        "log_one_minus": log_c, "log_neg_log": mpmath.log(neg_log_p)})
        return out


def _exact_sigmoid_parts(a):
    import mpmath
    with mpmath.workdps(50):
        a = mpmath.mpf(float(a))
        log_p, log_c = -mpmath.log1p(mpmath.exp(-a)), -mpmath.log1p(mpmath.exp(a))
        return {"p": mpmath.exp(log_p), "log": log_p, "one_minus": mpmath.exp(log_c), "log_one_minus": log_c,
                "log_neg_log": mpmath.log(-log_p)}


def _part_error(form, got, exact, dtype) -> float:
    """Relative error of p and 1 - p (where they are normal numbers); absolute error of a log, relative to
    max(1, |log|) (a log's absolute error is its argument's relative error)."""
    import mpmath
    if form in ("p", "one_minus"):
        tiny = mpmath.mpf(float(np.finfo(dtype).tiny))
        return float(abs(mpmath.mpf(float(got)) - exact) / max(abs(exact), tiny))
    return float(abs(mpmath.mpf(float(got)) - exact) / max(1, abs(exact)))


LOGIT_ROWS = [[1e4, 0.0, 1.0, -2.0], [0.0, 0.0, 0.0, 0.0], [0.3, 0.8, 0.3, -1.3], [-1e4, 0.0, 1e4, 1e4],
              [40.0, 0.0, 0.5, 0.0], [800.0, 0.0, -3.0, 1.0], [8.0, 0.0, 0.0, 0.0], [2.0, -1e4, -1e4, -1e4],
              [5.0, 5.0, 0.0, -1.0], [3.0, 3.0, 3.0, -1e4], [1e4, 1e4, -1e4, 0.0]]  # ties at the maximum


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_parts_are_exact_where_one_minus_o_rounds_or_underflows(dtype):
    """1 - o_k is the sum of the other outputs and log(1 - o_k) a log-sum-exp of the other logits: exact to a
    few ulps where 1 - o_k rounds to 0 (a gap of 40) or underflows (800, 1e4), never -inf or NaN."""
    from derive import numeric
    from derive.backends.numpy_ops import NUMPY
    Z = np.array(LOGIT_ROWS, dtype=dtype)
    parts = NUMPY.softmax_parts(Z, ("p",) + numeric.FORMS)
    tol = 8 * np.finfo(dtype).eps
    for form, array in parts.items():
        assert array.dtype == dtype and np.all(np.isfinite(array)), form
    for n, row in enumerate(Z):
        for k, exact in enumerate(_exact_softmax_parts(row)):
            for form, value in exact.items():
                assert _part_error(form, parts[form][n, k], value, dtype) <= tol, (form, row, k)


@pytest.mark.filterwarnings("error::RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_parts_are_exact_and_finite_for_extreme_arguments(dtype):
    from derive import numeric
    from derive.backends.numpy_ops import NUMPY
    a = np.array([-1e4, -800.0, -50.0, -1.0, 0.0, 1e-3, 1.0, 50.0, 800.0, 1e4], dtype=dtype)
    parts = NUMPY.sigmoid_parts(a, ("p",) + numeric.FORMS)
    tol = 8 * np.finfo(dtype).eps
    for n, v in enumerate(a):
        for form, value in _exact_sigmoid_parts(v).items():
            assert parts[form].dtype == dtype and np.isfinite(parts[form][n]), form
            assert _part_error(form, parts[form][n], value, dtype) <= tol, (form, v)


def test_powers_of_probabilities_compile_to_one_exp_of_logs():
    """A product holding (1 - o_k)^(gamma - 1) is sign * exp(sum of logs); 1 - o_k alone is an array of its
    own; a power with an exponent 0, 1, 2, ... and the rest of the program are unchanged."""
    from derive.tensor import Program
    o, y, k = sp.IndexedBase("o"), sp.IndexedBase("y"), sp.Symbol("k")
    gamma = sp.Symbol("gamma")
    kernels = {"o": "softmax"}
    text = Program(gamma * (1 - o[k]) ** (gamma - 1) * sp.log(o[k]) * y[k], (k,), kernels=kernels).source
    assert "np.exp(" in text and "log_one_minus_o[k]" in text and "log_neg_log_o[k]" in text and "**" not in text
    assert Program((1 - o[k]) * y[k], (k,), kernels=kernels).source.count("one_minus_o[k]") == 1
    assert "np.exp" not in Program(o[k] ** 2 * (1 - o[k]), (k,), kernels=kernels).source
    assert Program((1 - o[k]) ** (gamma - 1), (k,)).source.count("(1 - o[k])") == 1  # no kernel: as written


def test_hessian_of_sigmoid_cost_with_an_index_only_in_a_delta_compiles():
    """d^2E/dz_k dz_m of sigmoid cross-entropy is s_k(1 - s_k) delta_km: m is sized by the class axis."""
    import derive
    g = derive.hessian("-sum(y[j]*log(sigmoid(z[j])) + (1-y[j])*log(1-sigmoid(z[j])), j)").compile()
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=(4, 3)), rng.uniform(size=(4, 3))

    def grad(zz):  # dE/dz of the hand-written cost, by central differences
        def cost(v):
            s = 1 / (1 + np.exp(-v))
            return -np.sum(y * np.log(s) + (1 - y) * np.log(1 - s), axis=-1)
        h = 1e-5
        return np.stack([(cost(zz + h * e) - cost(zz - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
    h = 1e-4
    numeric = np.stack([(grad(z + h * e) - grad(z - h * e)) / (2 * h) for e in np.eye(3)], axis=-1)
    H = g(z=z)
    assert H.shape == (4, 3, 3)
    assert np.allclose(H, numeric, atol=1e-5)
    assert g(z=z[0]).shape == (3, 3)
