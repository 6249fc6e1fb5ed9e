"""derive.tensor: sums over products are contractions (no broadcast product), labels are indexing,
and the NumPy building blocks are stable and exact."""
import tracemalloc

import numpy as np
import pytest
import sympy as sp

from derive import numeric
from derive.tensor import BATCH, Program, Tensor

i, j, k, d = sp.symbols("i j k d", integer=True, positive=True)
h, y, x, p = (sp.IndexedBase(n) for n in "hyxp")
label = sp.IndexedBase("label")


def matrix(a):
    return Tensor(a, tuple(sp.Dummy() for _ in range(a.ndim)))


def peak_bytes(f):
    tracemalloc.start()
    out = f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, peak


def test_a_sum_over_a_product_is_a_contraction_not_a_broadcast():
    """sum_i (h_ik - y_ik) x_ij at K = 10, n = 100, m = 20000: a broadcast product would be 160 MB."""
    rng = np.random.default_rng(0)
    m, K, n = 20000, 10, 100
    H, Y, X = rng.uniform(size=(m, K)), rng.uniform(size=(m, K)), rng.normal(size=(m, n))
    program = Program(sp.Sum((h[i, k] - y[i, k]) * x[i, j], (i, 1, m)), (k, j))
    tensors = {"h": matrix(H), "y": matrix(Y), "x": matrix(X)}
    out, peak = peak_bytes(lambda: program(tensors))
    assert np.allclose(out.array, (H - Y).T @ X)
    assert peak <= 2 * X.nbytes  # one (m, K) difference and the (K, n) result; never (K, n, m)


def test_examples_reduced_by_the_program_are_contracted_too():
    """a_k delta_j summed over the batch (BP4) is one matrix product."""
    rng = np.random.default_rng(1)
    a, e = sp.IndexedBase("a"), sp.IndexedBase("e")
    A, E = rng.normal(size=(300, 5000)), rng.normal(size=(200, 5000))
    program = Program(a[k] * e[j], (j, k), reduce=(BATCH,))
    out, peak = peak_bytes(lambda: program({"a": Tensor(A, (sp.Dummy(), BATCH)), "e": Tensor(E, (sp.Dummy(), BATCH))}))
    assert np.allclose(out.array, E @ A.T)
    assert peak <= 2 * out.array.nbytes + 1024


def test_a_delta_against_a_label_is_indexing():
    rng = np.random.default_rng(2)
    P = rng.uniform(size=(7, 4))
    L = rng.integers(1, 5, size=7)
    program = Program(p[i, k] - sp.KroneckerDelta(k, label[i]), (i, k), labels=frozenset({"label"}))
    out = program({"p": matrix(P), "label": matrix(L)})
    assert np.allclose(out.array, P - np.eye(4)[L - 1])
    assert np.array_equal(P, rng.__class__(np.random.PCG64(2)).uniform(size=(7, 4)))  # the input is untouched


def test_a_contraction_with_a_label_delta_inside():
    rng = np.random.default_rng(3)
    P, X, L = rng.uniform(size=(6, 3)), rng.normal(size=(6, 2)), rng.integers(1, 4, size=6)
    expr = sp.Sum((p[i, k] - sp.KroneckerDelta(k, label[i])) * x[i, d], (i, 1, 6))
    out = Program(expr, (k, d), labels=frozenset({"label"}))({"p": matrix(P), "x": matrix(X), "label": matrix(L)})
    assert np.allclose(out.array, (P - np.eye(3)[L - 1]).T @ X)


def test_source_prints_the_contraction_and_does_not_depend_on_sizes():
    program = Program(sp.Sum((h[i, k] - y[i, k]) * x[i, j], (i, 1, sp.Symbol("m"))), (k, j))
    assert "einsum(sum over i" in program.source and program.source.count("\n") <= 3


@pytest.mark.parametrize("K", [2, 10, 32, 33, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_row_reductions_and_softmax_match_the_plain_formulas(K, dtype):
    a = (np.random.default_rng(K).normal(size=(50, K)) * 30).astype(dtype)
    assert np.array_equal(numeric.rowmax(a)[:, 0], a.max(axis=1))
    assert np.allclose(numeric.rowsum(a)[:, 0], a.astype(np.float64).sum(axis=1), rtol=0,
                       atol=1e-6 * np.abs(a).astype(np.float64).sum(axis=1).max())
    s = numeric.softmax(a)
    e = np.exp(a.astype(np.float64) - a.max(axis=1, keepdims=True))
    assert s.dtype == dtype and np.allclose(s, e / e.sum(axis=1, keepdims=True), atol=1e-6)
    assert np.allclose(numeric.log_softmax(a), np.log(e / e.sum(axis=1, keepdims=True)), atol=1e-4)


@pytest.mark.parametrize("dtype, ulps", [(np.float64, 4), (np.float32, 4)])
def test_sigmoid_is_accurate_in_relative_terms_everywhere(dtype, ulps):
    import mpmath
    a = np.concatenate([np.linspace(-700, 700, 2001), np.linspace(-40, 40, 2001)]).astype(dtype)
    with np.errstate(all="raise"):  # no warning escapes
        s = numeric.sigmoid(a)
    exact = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(float(v))))) for v in a])
    ok = exact > np.finfo(dtype).tiny
    assert s.dtype == dtype and np.isfinite(s).all() and np.all(s[~ok] < 2 * np.finfo(dtype).tiny)
    assert np.max(np.abs(s[ok] - exact[ok]) / exact[ok]) <= ulps * np.finfo(dtype).eps


def test_all_finite_falls_back_when_the_sum_overflows():
    assert numeric.all_finite(np.array([1e308, 1e308]))      # the sum is inf, every entry finite
    assert not numeric.all_finite(np.array([1.0, np.nan]))
    assert not numeric.all_finite(np.array([np.inf, -np.inf]))
    assert numeric.all_finite(np.zeros((0, 3)))


def test_only_provably_small_results_skip_the_finiteness_pass():
    """o - y (softmax output, checked targets) cannot overflow; anything with a free scalar or a
    target the derivation does not constrain may, and is checked."""
    import derive
    assert derive.softmax_ce().compile()._bounded
    assert not derive.softmax_ce(normalized_targets=False).compile()._bounded
    assert not derive.softmax_se().compile()._bounded        # targets t are any real numbers
    assert not derive.label_smoothing().compile()._bounded   # eps is any number
