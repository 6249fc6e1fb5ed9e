"""Issue 14 (the per-example hidden layer): a gradient wrt a weight matrix of one example ends in its
matrix form, at any depth the index form has, e.g. dE/dW1 = ((W2^T (o - y)) o h o (1 - h)) x^T.

Each matrix form is evaluated with NumPy (sympy.lambdify of the matrix expression itself, not derive's
compiler, which runs the index form) and compared with a formula written here from the textbook.
"""
import dataclasses

import numpy as np
import pytest
import sympy as sp

import derive

CE = "-sum(y[j]*log(softmax(z)[j]), j)"
SIMPLEX = ["sum(y[j], j) = 1"]
ACT = {"sigmoid": (lambda u: 1 / (1 + np.exp(-u)), lambda h: h * (1 - h), "-h + 1, h"),
       "tanh": (np.tanh, lambda h: 1 - h * h, "-HadamardPower(h, 2) + 1")}


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _evaluate(d, arrays):
    """The matrix form of d's result, evaluated by NumPy at the given arrays (vectors as columns)."""
    m = d.result.matrix
    dims = {}
    for s in m.atoms(sp.MatrixSymbol):
        a = np.asarray(arrays[str(s)])
        a = a[:, None] if a.ndim == 1 else a
        for size, n in zip(s.shape, a.shape):
            if isinstance(size, sp.Symbol):
                dims[size] = n
    m = m.xreplace(dims).replace(sp.HadamardPower, lambda b, e: sp.HadamardProduct(*[b] * int(e)))  # for NumPy
    mats = sorted(m.atoms(sp.MatrixSymbol), key=str)
    f = sp.lambdify(mats, m, "numpy")
    return np.asarray(f(*[(lambda a: a[:, None] if a.ndim == 1 else a)(np.asarray(arrays[str(s)])) for s in mats]))


def _two_layer(rng, act):
    f, _, _ = ACT[act]
    W1, W2, x = rng.normal(size=(5, 3)), rng.normal(size=(4, 5)), rng.normal(size=3)
    y = np.eye(4)[rng.integers(4)]
    h = f(W1 @ x)
    return dict(w1=W1, w2=W2, x=x, y=y, h=h, o=_softmax(W2 @ h))


@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_the_first_layer_weights_of_one_example_have_the_outer_product_form(act):
    f, df, local = ACT[act]
    d = derive.gradient(CE, wrt="w1", assume=SIMPLEX,
                        define=[f"h[a] = {act}(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"])
    step = d.steps[-1]
    assert step.rule.value == "matrix_form" and d.steps[-2].rule.value != "matrix_form"
    assert str(step.expr.matrix) == f"(HadamardProduct(w2.T*(o - y), {local}))*x.T"
    v = _two_layer(np.random.default_rng(1), act)
    book = np.outer((v["w2"].T @ (v["o"] - v["y"])) * df(v["h"]), v["x"])
    np.testing.assert_allclose(_evaluate(d, v), book, atol=1e-12)
    # the compiled gradient (the index form) agrees with the same formula
    np.testing.assert_allclose(d.compile()(w1=v["w1"], w2=v["w2"], x=v["x"], y=v["y"]), book, atol=1e-12)


def test_the_second_layer_weights_of_one_example_are_the_error_times_the_hidden_row():
    d = derive.gradient(CE, wrt="w2", assume=SIMPLEX,
                        define=["h[a] = sigmoid(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"])
    assert str(d.result.matrix) == "(o - y)*h.T"
    v = _two_layer(np.random.default_rng(2), "sigmoid")
    np.testing.assert_allclose(_evaluate(d, v), np.outer(v["o"] - v["y"], v["h"]), atol=1e-12)


def test_three_layers_deep_the_error_is_carried_back_through_each_transpose():
    """delta1 = (W2^T ((W3^T (o - y)) o h o (1 - h))) o (1 - g o g), dE/dW1 = delta1 x^T."""
    d = derive.gradient(CE, wrt="w1", assume=SIMPLEX, define=[
        "g[c] = tanh(sum(w1[c, d]*x[d], d))", "h[a] = sigmoid(sum(w2[a, c]*g[c], c))",
        "z[j] = sum(w3[j, a]*h[a], a)"])
    assert d.steps[-1].rule.value == "matrix_form"
    rng = np.random.default_rng(3)
    W1, W2, W3, x = rng.normal(size=(4, 3)), rng.normal(size=(5, 4)), rng.normal(size=(3, 5)), rng.normal(size=3)
    y = np.eye(3)[1]
    g = np.tanh(W1 @ x)
    h = 1 / (1 + np.exp(-W2 @ g))
    o = _softmax(W3 @ h)
    delta2 = (W3.T @ (o - y)) * h * (1 - h)
    book = np.outer((W2.T @ delta2) * (1 - g * g), x)
    got = _evaluate(d, dict(w1=W1, w2=W2, w3=W3, x=x, y=y, g=g, h=h, o=o))
    np.testing.assert_allclose(got, book, atol=1e-12)


def test_a_slip_in_the_per_example_matrix_form_fails_verify():
    d = derive.gradient(CE, wrt="w1", assume=SIMPLEX,
                        define=["h[a] = sigmoid(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"])
    assert d.verify(Ks=(2,), points=1).ok
    step = d.steps[-1]
    wrong = dataclasses.replace(step, expr=step.expr.func(step.expr.matrix.xreplace(
        {m: -m for m in step.expr.matrix.free_symbols if str(m) == "y"}), *step.expr.args[1:]))
    report = d.with_step(len(d.steps) - 1, wrong).verify(Ks=(2,), points=1)
    assert not report.ok and "matrix_form" in str(report)
