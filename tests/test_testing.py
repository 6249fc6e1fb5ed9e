"""derive.testing: correct gradient code passes; each classic slip fails and is named."""
import os
import subprocess
import sys

import numpy as np
import pytest

import derive
import derive.testing as dt
from derive.testing.backprop import _backprop
from derive.testing.network import _Network
from derive.testing.tolerance import _close, _large


def softmax(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def with_bias(x):
    return np.hstack([np.ones((x.shape[0], 1), dtype=x.dtype), x])


# -- correct implementations --------------------------------------------------------------

def ce(z, y):
    return softmax(z) - y


def ce_temperature(z, y, T):
    return (softmax(z / T) - y) / T


def jacobian(z):
    o = softmax(z)
    return o[:, :, None] * np.eye(z.shape[-1], dtype=z.dtype) - o[:, :, None] * o[:, None, :]


def labels(w, x, label):
    p = softmax(x @ w.T)
    p[np.arange(len(label)), label] -= 1
    return p.T @ x


def regression(theta, x, y):
    x1 = with_bias(x)
    return (softmax(x1 @ theta.T) - y).T @ x1


# -- broken ones -----------------------------------------------------------------------------

def ce_unstable(z, y):
    e = np.exp(z)  # no max-subtraction
    return e / e.sum(-1, keepdims=True) - y


def ce_batch_mean(z, y):
    return (softmax(z) - y) / z.shape[0]


def labels_mean(w, x, label):
    return labels(w, x, label) / x.shape[0]


def regression_mean(theta, x, y):
    return regression(theta, x, y) / x.shape[0]


def ce_skips_class_0(z, y):
    g, o = np.zeros_like(z), softmax(z)
    for k in range(1, z.shape[1]):  # 1-based loop
        g[:, k] = o[:, k] - y[:, k]
    return g


def labels_one_based(w, x, label):
    p = softmax(x @ w.T)
    p[np.arange(len(label)), label - 1] -= 1
    return p.T @ x


def regression_transposed(theta, x, y):
    x1 = with_bias(x)
    return x1.T @ (softmax(x1 @ theta.T) - y)


def jacobian_swapped(z):
    return np.transpose(jacobian(z), (1, 0, 2))


def temperature_forgotten(z, y, T):
    return softmax(z / T) - y


# -- passing --------------------------------------------------------------------------------

@pytest.mark.parametrize("fn, name, fixed", [
    (ce, "softmax_ce", {}),
    (ce, "log_softmax_nll", {}),
    (ce_temperature, "softmax_ce_temperature", {}),
    (ce_temperature, "softmax_ce_temperature", {"T": 2.0}),
    (jacobian, "softmax_jacobian", {}),
    (labels, "softmax_ce_labels", {}),
    (regression, "softmax_regression", {}),
])
def test_a_correct_numpy_implementation_passes(fn, name, fixed):
    report = dt.assert_gradient(fn, name, **fixed)
    assert report.ok and report.failure is None and report.cause is None and bool(report)
    assert f"matches the closed form in all {len(report.cases)} cases" in str(report)
    assert len(report.cases) >= 40


def test_the_battery_covers_dtypes_sizes_extreme_and_equal_logits_and_both_kinds_of_targets():
    cases = dt.check_gradient(ce, "softmax_ce").cases
    assert {c.dtype for c in cases} == {"float32", "float64"}
    assert {c.inputs["z"].dtype for c in cases} == {np.dtype("float32"), np.dtype("float64")}
    assert len({c.dims["K"] for c in cases}) >= 3 and len({c.dims["N"] for c in cases}) >= 3
    assert max(c.scale for c in cases) == 1e4 and min(c.scale for c in cases if c.scale > 0) <= 1e-3
    assert any(np.all(c.inputs["z"] == c.inputs["z"][:, :1]) for c in cases)  # equal logits
    ys = [c.inputs["y"] for c in cases]
    assert any(np.all((y == 0) | (y == 1)) for y in ys) and any(np.any((y > 0) & (y < 1)) for y in ys)
    for y in ys:  # softmax_ce assumes sum_j y_j = 1: every target row honours it
        np.testing.assert_allclose(y.sum(-1), 1, rtol=1e-6)
    label_cases = dt.check_gradient(labels, "softmax_ce_labels").cases
    assert all(c.inputs["label"].dtype == np.int64 for c in label_cases)


def test_a_derivation_object_and_a_pinned_scalar():
    report = dt.check_gradient(ce_temperature, derive.softmax_ce_temperature(), T=0.7)
    assert report.ok
    assert {c.inputs["T"] for c in report.cases} == {0.7}
    generated = dt.check_gradient(ce_temperature, "softmax_ce_temperature")
    assert len({c.inputs["T"] for c in generated.cases}) == 2


def test_the_float32_tolerance_is_the_lower_precision_one():
    def float32_inside(z, y):  # computes in float32 whatever it is given
        return ce(z.astype(np.float32), y.astype(np.float32))
    report = dt.check_gradient(float32_inside, "softmax_ce")
    assert report.ok
    assert any("lower precision" in n for n in report.notes)


# -- failing, with the right cause ----------------------------------------------------------------

def failing(fn, name, **fixed):
    report = dt.check_gradient(fn, name, **fixed)
    assert not report.ok and not report
    with pytest.raises(AssertionError) as err:
        dt.assert_gradient(fn, name, **fixed)
    assert str(err.value) == str(report)
    return report


def test_missing_max_subtraction():
    report = failing(ce_unstable, "softmax_ce")
    assert "missing max-subtraction" in report.cause
    assert all(_large(f.case) for f in report.failures)  # only where exp overflows
    f = report.failure
    assert f.kind == "non-finite" and np.isnan(f.got) and np.isfinite(f.want)
    text = str(report)
    assert "got nan, expected" in text and f"z[{f.index[0]}] = " in text and f.case.describe() in text


@pytest.mark.parametrize("fn, name, size", [
    (ce_batch_mean, "softmax_ce", "N"), (labels_mean, "softmax_ce_labels", "m"),
    (regression_mean, "softmax_regression", "m"),
])
def test_mean_for_sum(fn, name, size):
    report = failing(fn, name)
    n = report.failure.case.dims[size]
    assert n > 1 and f"divided by {size} = {n}" in report.cause and "sum against mean" in report.cause
    f = report.failure
    assert f.got == pytest.approx(f.want / n)


def test_off_by_one_class_in_a_loop():
    report = failing(ce_skips_class_0, "softmax_ce")
    assert "wrong only in class 0" in report.cause and "off-by-one class" in report.cause
    assert report.failure.index[1] == 0 and report.failure.got == 0


def test_off_by_one_labels():
    report = failing(labels_one_based, "softmax_ce_labels")
    assert "one class off" in report.cause and "label - 1" in report.cause


def test_transposed_regression_gradient():
    report = failing(regression_transposed, "softmax_regression")
    assert report.cause.startswith("transposed") and "X.T @ (H - Y)" in report.cause
    square = [f for f in report.failures if f.kind == "mismatch"]  # K = n + 1: same shape, transposed values
    assert square and all(f.case.dims["n"] + 1 == f.case.dims["K"] for f in square)
    assert any(f.kind == "shape" for f in report.failures)


def test_jacobian_with_example_and_class_axes_swapped():
    report = failing(jacobian_swapped, "softmax_jacobian")
    assert report.cause.startswith("transposed") and "(1, 0, 2)" in report.cause


def test_a_forgotten_scalar_factor_is_named():
    report = failing(temperature_forgotten, "softmax_ce_temperature")
    assert "T times the expected gradient" in report.cause and "missing division by T" in report.cause


def test_an_exception_in_fn_is_reported_not_raised():
    def broken(z, y):
        raise RuntimeError("boom")
    report = failing(broken, "softmax_ce")
    assert "RuntimeError: boom" in report.cause and report.failure.kind == "raised"


def test_bad_arguments_are_named():
    with pytest.raises(derive.ArgumentError) as err:
        dt.check_gradient(ce, "softmax_ce", T=2.0)
    assert err.value.argument == "T"
    with pytest.raises(derive.ArgumentError) as err:
        dt.check_gradient(ce, "softmax_ce", framework="tensorflow")
    assert err.value.argument == "framework"
    with pytest.raises(derive.ArgumentError) as err:
        dt.check_gradient(ce, "softmax")
    assert err.value.argument == "name"
    with pytest.raises(derive.ArgumentTypeError):
        dt.check_gradient("ce", "softmax_ce")
    shared = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", wrt="w", define=["z[j] = sum(w[j, d]*x[d], d)"],
                             assume=["sum(y[j], j) = 1"])
    with pytest.raises(derive.ArgumentError) as err:  # gradients with respect to a shared layer: not yet
        dt.check_gradient(ce, shared)
    assert err.value.argument == "derivation" and "'layer' interface" in str(err.value)


def test_importing_derive_imports_no_framework():
    code = "import sys, derive, derive.testing; print('torch' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# -- PyTorch --------------------------------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("torch is not installed")
    torch.set_num_threads(1)  # tiny tensors: threads only contend
    return torch


def test_a_pytorch_autograd_implementation_passes():
    torch = _torch()

    def torch_ce(z, y):
        z = z.detach().clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(z, y, reduction="sum").backward()
        return z.grad

    def torch_labels(w, x, label):
        w = w.detach().clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(x @ w.T, label, reduction="sum").backward()
        return w.grad

    report = dt.assert_gradient(torch_ce, "softmax_ce")
    assert report.framework == "torch"
    assert dt.assert_gradient(torch_labels, "softmax_ce_labels", framework="torch").ok


def test_a_pytorch_mean_reduction_fails_as_mean_for_sum():
    torch = _torch()

    def torch_mean(w, x, label):  # cross_entropy's default reduction is the mean
        w = w.detach().clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(x @ w.T, label).backward()
        return w.grad

    report = dt.check_gradient(torch_mean, "softmax_ce_labels")
    assert not report.ok and "sum against mean" in report.cause


# -- backpropagation through an MLP (mlp_backprop) ------------------------------------------------
# fn(weights=[W2..WL], biases=[b2..bL], x=(N, n1), y=(N, nL)) -> (grads_W, grads_b), the gradients of the
# batch-mean cost; W^l has shape (n_l, n_(l-1)), z^l = a^(l-1) @ W^l.T + b^l, sigmoid hidden layers, softmax output.

def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(weights, biases, x):
    acts = [x]
    for n, (W, b) in enumerate(zip(weights, biases)):
        z = acts[-1] @ W.T + b
        acts.append(softmax(z) if n == len(weights) - 1 else sigmoid(z))
    return acts


def backprop(weights, biases, x, y, slip=None):
    """Hand-written backpropagation; ``slip`` switches on one classic mistake."""
    acts = forward(weights, biases, x)
    delta = acts[-1] - y  # BP1
    if slip != "sum":
        delta = delta / x.shape[0]  # the cost is the mean over the batch
    grads_W, grads_b = [], []
    for n in range(len(weights) - 1, -1, -1):
        grads_W.insert(0, acts[n].T @ delta if slip == "transposed" else delta.T @ acts[n])  # BP4
        grads_b.insert(0, np.zeros(delta.shape[1], delta.dtype) if slip == "zero bias" else delta.sum(axis=0))  # BP3
        if n:
            back = delta @ weights[n]
            delta = back if slip == "no sigma'" else back * acts[n] * (1 - acts[n])  # BP2
    if slip == "no bias":
        return grads_W
    return grads_W, grads_b


def backprop_another_route(weights, biases, x, y):
    """Also right, computed differently: sigmoid(z) = (1 + tanh(z/2))/2, sigma'(z) from z, the mean taken last."""
    zs, acts = [], [x]
    for n, (W, b) in enumerate(zip(weights, biases)):
        zs.append(np.einsum("nj,kj->nk", acts[-1], W) + b)
        acts.append(softmax(zs[-1]) if n == len(weights) - 1 else (1 + np.tanh(zs[-1] / 2)) / 2)
    delta, grads_W, grads_b = acts[-1] - y, [], []
    for n in range(len(weights) - 1, -1, -1):
        grads_W.insert(0, np.einsum("nk,nj->kj", delta, acts[n]) / x.shape[0])
        grads_b.insert(0, delta.mean(axis=0))
        if n:
            s = (1 + np.tanh(zs[n - 1] / 2)) / 2
            delta = np.einsum("nk,kj->nj", delta, weights[n]) * s * (1 - s)
    return grads_W, grads_b


def backprop_sum(weights, biases, x, y):
    return backprop(weights, biases, x, y, slip="sum")


def backprop_transposed(weights, biases, x, y):
    return backprop(weights, biases, x, y, slip="transposed")


def backprop_without_sigmoid_derivative(weights, biases, x, y):
    return backprop(weights, biases, x, y, slip="no sigma'")


def backprop_without_bias(weights, biases, x, y):
    return backprop(weights, biases, x, y, slip="no bias")


def backprop_zero_bias(weights, biases, x, y):
    return backprop(weights, biases, x, y, slip="zero bias")


@pytest.mark.parametrize("fn", [backprop, backprop_another_route])
def test_a_correct_numpy_backprop_passes(fn):
    report = dt.assert_gradient(fn, "mlp_backprop")
    assert report.ok and report.failure is None and report.cause is None and report.framework == "numpy"
    assert len(report.cases) >= 40 and not report.notes  # no case skipped
    text = str(report)
    assert f"matches the closed form in all {len(report.cases)} cases" in text
    assert "layer sizes [3, 4, 2], [5, 3, 3, 4]" in text and "saturating sigmoids" in text
    assert dt.assert_gradient(backprop, derive.entry("mlp_backprop")()).ok  # a Derivation object


def test_the_network_battery_covers_sizes_batches_dtypes_and_saturating_sigmoids():
    cases = dt.check_gradient(backprop, "mlp_backprop").cases
    assert {str(c.dims["sizes"]) for c in cases} >= {"[3, 4, 2]", "[5, 3, 3, 4]"}
    assert 1 in {c.dims["N"] for c in cases} and max(c.dims["N"] for c in cases) > 1
    for c in cases:  # every array in the case has its dtype, the weights and biases included
        arrays = c.inputs["weights"] + c.inputs["biases"] + [c.inputs["x"], c.inputs["y"]]
        assert {a.dtype for a in arrays} == {np.dtype(c.dtype)}
        np.testing.assert_array_equal(c.inputs["y"].sum(axis=1), 1)  # one-hot, as the derivation assumes
        assert set(np.unique(c.inputs["y"])) <= {0, 1}
    assert {c.dtype for c in cases} == {"float32", "float64"}
    assert min(c.scale for c in cases) <= 1e-3 and max(c.scale for c in cases) == pytest.approx(1e4)
    zs = [_Network.scores(c.inputs) for c in cases]
    assert any(max(np.abs(z).max() for z in s[:-1]) >= 30 and np.abs(s[-1]).max() <= 3 + 1e-9 for s in zs)  # saturated
    assert any(np.all(s[-1] == s[-1][:, :1]) for s in zs)  # equal output scores in each row
    square = [c for c in cases if any(w.shape[0] == w.shape[1] for w in c.inputs["weights"])]
    assert square  # so that a transposed weight gradient keeps its shape somewhere


def test_the_diagnosis_reference_agrees_with_the_closed_form():
    """The plain NumPy backpropagation the diagnoses vary is itself the closed form, case by case."""
    compiled = derive.mlp_backprop().compile()
    for case in dt.check_gradient(backprop, "mlp_backprop").cases:
        want = _Network.parts(compiled(**case.inputs))
        for (name, E), (_, R) in zip(want, _Network.parts(_backprop(case.inputs))):
            assert _close(E, R.astype(E.dtype), case), (case.describe(), name)


def test_a_backprop_computing_in_float32_is_held_to_the_float32_tolerance():
    def float32_inside(weights, biases, x, y):
        f = np.float32
        return backprop([W.astype(f) for W in weights], [b.astype(f) for b in biases], x.astype(f), y.astype(f))
    report = dt.assert_gradient(float32_inside, "mlp_backprop")
    assert any("lower precision" in n for n in report.notes)


def test_backprop_summed_over_the_batch_fails_as_sum_against_mean():
    report = failing(backprop_sum, "mlp_backprop")
    f = report.failure
    N = f.case.dims["N"]
    assert N > 1 and f"times N = {N}" in report.cause and "sum against mean" in report.cause
    assert all(c.dims["N"] > 1 for c in (g.case for g in report.failures))  # a batch of one is right either way
    assert f.output and f.got == pytest.approx(N * f.want)
    text = str(report)
    assert f"worst entry {f.output}[" in text and f.case.describe() in text and "right: none" in text


def test_a_transposed_weight_gradient_is_named():
    report = failing(backprop_transposed, "mlp_backprop")
    assert report.cause.startswith("transposed weight gradient") and "a_prev.T @ delta" in report.cause
    assert "the bias gradients match" in report.cause
    assert any(f.kind == "shape" for f in report.failures)
    square = [k for f in report.failures for k, (A, E, status) in f.outputs.items() if status == "mismatch"]
    assert square and all(k.startswith("grads_W") for k in square)  # the 3 x 3 weights: transposed values
    text = str(report)
    assert "fn returned grads_W[0] (dC/dW^2, the weights into layer 2) with shape" in text
    assert "right: grads_b[0], grads_b[1]" in text


def test_a_missing_sigmoid_derivative_is_named():
    report = failing(backprop_without_sigmoid_derivative, "mlp_backprop")
    assert "off by the sigmoid derivative factor" in report.cause and "missing sigma'(z)" in report.cause
    assert "in every hidden layer" in report.cause
    f = report.failure  # the output layer's gradients are right (BP1 has no sigma'), the layers below are not
    last = len(f.case.dims["sizes"]) - 2
    assert f.outputs[f"grads_W[{last}]"][2] == f.outputs[f"grads_b[{last}]"][2] == "ok"
    assert f.output in ("grads_W[0]", "grads_b[0]") and f.outputs["grads_W[0]"][2] == "mismatch"

    def last_hidden_only(weights, biases, x, y):  # forgets a^l (1 - a^l) in the first step of BP2 only
        acts, L = forward(weights, biases, x), len(weights)
        delta, grads_W, grads_b = (acts[-1] - y) / x.shape[0], [], []
        for n in range(L - 1, -1, -1):
            grads_W.insert(0, delta.T @ acts[n])
            grads_b.insert(0, delta.sum(axis=0))
            if n:
                delta = delta @ weights[n] * (1 if n == L - 1 else acts[n] * (1 - acts[n]))
        return grads_W, grads_b
    report = failing(last_hidden_only, "mlp_backprop")
    assert "sigmoid derivative" in report.cause and "in the last hidden layer only" in report.cause


def test_layers_in_reverse_order_are_named():
    def appended_backwards(weights, biases, x, y):
        grads_W, grads_b = backprop(weights, biases, x, y)
        return grads_W[::-1], grads_b[::-1]
    report = failing(appended_backwards, "mlp_backprop")
    assert report.cause.startswith("the layers are in reverse order")


@pytest.mark.parametrize("fn, cause", [
    (backprop_without_bias, "the bias gradients are missing: fn returned only the 2 weight gradients"),
    (backprop_zero_bias, "the bias gradients are zero where they should not be, the weight gradients match"),
])
def test_a_dropped_bias_gradient_is_named(fn, cause):
    report = failing(fn, "mlp_backprop")
    assert report.cause.startswith(cause) and "BP3" in report.cause
    if fn is backprop_without_bias:
        assert report.failure.kind == "structure" and len(report.failures) == len(report.cases)
        assert "a pair (grads_W, grads_b) of two lists" in str(report)
    else:
        assert {f.output[:7] for f in report.failures} == {"grads_b"}


def test_bias_gradients_per_example_or_with_a_kept_axis_are_named():
    def per_example(weights, biases, x, y):
        grads_W, _ = backprop(weights, biases, x, y)
        acts, grads_b = forward(weights, biases, x), []
        delta = acts[-1] - y
        for n in range(len(weights) - 1, -1, -1):
            grads_b.insert(0, delta)  # delta^l itself, one row per example
            if n:
                delta = delta @ weights[n] * acts[n] * (1 - acts[n])
        return grads_W, grads_b
    assert "one row per example" in failing(per_example, "mlp_backprop").cause

    def column(weights, biases, x, y):
        grads_W, grads_b = backprop(weights, biases, x, y)
        return grads_W, [g[:, None] for g in grads_b]
    assert "a kept axis" in failing(column, "mlp_backprop").cause


def test_an_extra_sigmoid_derivative_at_the_softmax_output_is_named():
    def quadratic_cost_habit(weights, biases, x, y):
        acts = forward(weights, biases, x)
        delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1]) / x.shape[0]
        grads_W, grads_b = [], []
        for n in range(len(weights) - 1, -1, -1):
            grads_W.insert(0, delta.T @ acts[n])
            grads_b.insert(0, delta.sum(axis=0))
            if n:
                delta = delta @ weights[n] * acts[n] * (1 - acts[n])
        return grads_W, grads_b
    report = failing(quadratic_cost_habit, "mlp_backprop")
    assert "extra factor a^L (1 - a^L) at the softmax output" in report.cause


def test_a_naive_softmax_in_backprop_fails_only_where_exp_overflows():
    def naive(weights, biases, x, y):
        a = x
        acts = [x]
        for n, (W, b) in enumerate(zip(weights, biases)):
            z = a @ W.T + b
            a = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) if n == len(weights) - 1 else sigmoid(z)
            acts.append(a)
        delta, grads_W, grads_b = (acts[-1] - y) / x.shape[0], [], []
        for n in range(len(weights) - 1, -1, -1):
            grads_W.insert(0, delta.T @ acts[n])
            grads_b.insert(0, delta.sum(axis=0))
            if n:
                delta = delta @ weights[n] * acts[n] * (1 - acts[n])
        return grads_W, grads_b
    report = failing(naive, "mlp_backprop")
    assert "non-finite output" in report.cause and "missing max-subtraction" in report.cause
    assert all(_large(f.case) for f in report.failures) and report.failure.kind == "non-finite"
    assert "got nan" in str(report)


def test_pinned_network_inputs_and_bad_ones_are_named():
    rng = np.random.default_rng(5)
    W = [rng.normal(size=(5, 2)), rng.normal(size=(3, 5))]
    b = [rng.normal(size=5), rng.normal(size=3)]
    report = dt.assert_gradient(backprop, "mlp_backprop", weights=W, biases=b)
    assert {str(c.dims["sizes"]) for c in report.cases} == {"[2, 5, 3]"}
    np.testing.assert_array_equal(report.cases[0].inputs["weights"][1], W[1])
    x = rng.normal(size=(7, 2))
    assert {c.dims["N"] for c in dt.assert_gradient(backprop, "mlp_backprop", x=x).cases} == {7}
    for fixed, argument in [(dict(weights=3), "weights"), (dict(weights=[np.zeros(3)]), "weights[0]"),
                            (dict(weights=W, x=np.zeros((2, 4))), "x"), (dict(weights=W, biases=b[:1]), "biases"),
                            (dict(weights=[W[0], W[0]]), "weights[1]"), (dict(y=np.full((2, 3), 1 / 3)), "y"),
                            (dict(weights=W, y=np.eye(2)), "y"), (dict(z=np.zeros((2, 2))), "z")]:
        with pytest.raises(derive.ArgumentError) as err:
            dt.check_gradient(backprop, "mlp_backprop", **fixed)
        assert err.value.argument == argument, fixed
    with pytest.raises(derive.ArgumentTypeError):
        dt.check_gradient(backprop, "mlp_backprop", weights=3)


def test_a_pytorch_autograd_backprop_passes_and_a_summed_one_fails():
    torch = _torch()

    def torch_backprop(weights, biases, x, y, reduction="mean"):
        Ws = [W.detach().clone().requires_grad_(True) for W in weights]
        bs = [b.detach().clone().requires_grad_(True) for b in biases]
        a = x
        for W, b in zip(Ws[:-1], bs[:-1]):
            a = torch.sigmoid(a @ W.T + b)
        torch.nn.functional.cross_entropy(a @ Ws[-1].T + bs[-1], y, reduction=reduction).backward()
        return [W.grad for W in Ws], [b.grad for b in bs]

    report = dt.assert_gradient(torch_backprop, "mlp_backprop")
    assert report.framework == "torch"

    def torch_sum(weights, biases, x, y):
        return torch_backprop(weights, biases, x, y, reduction="sum")
    report = dt.check_gradient(torch_sum, "mlp_backprop", framework="torch")
    assert not report.ok and "sum against mean" in report.cause


# -- a function that hangs or writes into its inputs (issue 18.5) -------------------------------------------------

def _stable_softmax_ce(z, y):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True) - y


def _hangs(z, y):
    import time
    while True:
        time.sleep(0.005)


def test_a_function_that_never_returns_fails_within_the_bound_and_names_the_case():
    import time
    start = time.perf_counter()
    report = dt.check_gradient(_hangs, "softmax_ce", timeout=0.3)
    assert time.perf_counter() - start < 5
    assert not report.ok and report.failure.kind == "timeout" and len(report.cases) == 1
    assert report.cause.startswith("fn did not return within 0.3 s in #1: float64")
    assert "79 of 80 cases not run" in str(report)
    with pytest.raises(dt.GradientMismatch, match="did not return within 0.3 s"):
        dt.assert_gradient(_hangs, "softmax_ce", timeout=0.3)


def test_the_default_bound_is_a_multiple_of_the_closed_forms_time(monkeypatch):
    import re
    monkeypatch.setattr(dt, "TIMEOUT_FLOOR", 0.2)  # the floor lowered: the bound is then 1000 x the closed form's time
    real = dt._timed
    monkeypatch.setattr(dt, "_timed", lambda compiled, inputs: (real(compiled, inputs)[0], 0.0004))
    report = dt.check_gradient(_hangs, "softmax_ce")
    assert report.failure.kind == "timeout"
    bound = float(re.match(r"fn did not return within ([0-9.e-]+) s", report.cause).group(1))
    assert bound == pytest.approx(0.4)  # 1000 x 0.4 ms, above the floor
    monkeypatch.setattr(dt, "_timed", lambda compiled, inputs: (real(compiled, inputs)[0], 0.00001))
    report = dt.check_gradient(_hangs, "softmax_ce")
    assert report.cause.startswith("fn did not return within 0.2 s")  # 1000 x 0.01 ms is under the floor
    assert dt.check_gradient(_stable_softmax_ce, "softmax_ce").ok  # a real function is far inside it


@pytest.mark.parametrize("bad, problem", [(0, "positive"), (-1.0, "positive"), (float("inf"), "finite"),
                                          (float("nan"), "positive"), ("5", "number of seconds"),
                                          (True, "number of seconds")])
def test_timeout_is_checked(bad, problem):
    with pytest.raises(derive.ArgumentError, match=rf"timeout.*{problem}"):
        dt.check_gradient(_stable_softmax_ce, "softmax_ce", timeout=bad)


def test_a_function_that_writes_into_its_inputs_is_reported_as_such():
    def shifts_in_place(z, y):
        z -= z.max(-1, keepdims=True)
        return _stable_softmax_ce(z, y)

    report = dt.check_gradient(shifts_in_place, "softmax_ce")
    assert not report.ok and {f.kind for f in report.failures} == {"mutated"}
    assert report.cause.startswith("fn writes into its input arrays (z)")
    assert "fn wrote into its input z (with numpy inputs)" in str(report)
    assert np.all(report.failure.inputs["z"] != 0)  # the case's own arrays were not touched


def test_a_torch_function_that_writes_into_its_inputs_is_reported_as_such():
    torch = pytest.importorskip("torch")

    def clamps_in_place(z, y):
        z.sub_(z.max(-1, keepdim=True).values)
        return torch.softmax(z, -1) - y

    report = dt.check_gradient(clamps_in_place, "softmax_ce", framework="torch")
    assert not report.ok and report.failure.kind == "mutated" and "with torch inputs" in report.failure.error
