"""derive.testing: correct gradient code passes; each classic slip fails and is named."""
import os
import subprocess
import sys

import numpy as np
import pytest

import derive
import derive.testing as dt


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
    assert all(dt._large(f.case) for f in report.failures)  # only where exp overflows
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
    with pytest.raises(derive.ArgumentError) as err:
        dt.check_gradient(ce, "mlp_backprop")
    assert "network" in str(err.value)


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
