"""compile(backend="jax" | "torch"): the same program with another array library, checked against the
NumPy backend and against that library's own autodiff of the cost written in it."""
import importlib
import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

import derive


def library(name):
    """The library, or a skip when it is not installed (never in CI, which installs both)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{name} not installed (CI installs it; there this test never skips)")


@pytest.fixture(params=["torch", "jax"])
def lib(request):
    name = request.param
    module = library(name)
    if name == "jax":
        module.config.update("jax_enable_x64", True)  # compare in float64
    return name


def to_numpy(a):
    return a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)


def autodiff(name: str, cost, *arrays, argnum: int = 0):
    """d cost(*arrays) / d arrays[argnum], by the library's own reverse mode."""
    if name == "torch":
        import torch
        ts = [torch.tensor(a) for a in arrays]
        ts[argnum].requires_grad_(True)
        cost(torch, ts).backward()
        return ts[argnum].grad.numpy()
    import jax
    import jax.numpy as jnp
    return np.asarray(jax.grad(lambda x: cost(jnp, arrays[:argnum] + (x,) + arrays[argnum + 1:]))(
        jnp.asarray(arrays[argnum])))


def log_softmax(xp, a):
    m = a.max(-1, keepdims=True) if xp.__name__ == "jax.numpy" else a.max(-1, keepdim=True).values
    s = a - m
    return s - xp.log(xp.exp(s).sum(-1, keepdims=True) if xp.__name__ == "jax.numpy" else
                      xp.exp(s).sum(-1, keepdim=True))


rng = np.random.default_rng(0)
N, K, n = 6, 4, 3
Z = rng.normal(size=(N, K)) * 2
Y = np.eye(K)[rng.integers(0, K, N)]
T = rng.uniform(size=(N, K))
X = rng.normal(size=(N, n))
LABELS = rng.integers(0, K, N)


def softmax(xp, a):
    return xp.exp(log_softmax(xp, a))


PER_EXAMPLE = {  # entry: (keyword arrays, the cost summed over rows, written in the library)
    "softmax_ce": ({"z": Z, "y": Y}, lambda xp, a: -(a[1] * log_softmax(xp, a[0])).sum()),
    "softmax_se": ({"z": Z, "t": T}, lambda xp, a: 0.5 * ((softmax(xp, a[0]) - a[1]) ** 2).sum()),
    "label_smoothing": ({"z": Z, "y": Y, "eps": 0.1},
                        lambda xp, a: -(((1 - 0.1) * a[1] + 0.1 / K) * log_softmax(xp, a[0])).sum()),
}


@pytest.mark.parametrize("entry", sorted(PER_EXAMPLE))
def test_per_example_entries_match_numpy_and_autodiff(lib, entry):
    kwargs, cost = PER_EXAMPLE[entry]
    d = getattr(derive, entry)()
    expected = d.compile()(**kwargs)
    out = to_numpy(d.compile(backend=lib)(**kwargs))
    assert out.shape == expected.shape
    assert np.allclose(out, expected, atol=1e-12)
    arrays = tuple(v for v in kwargs.values() if isinstance(v, np.ndarray))
    assert np.allclose(out, autodiff(lib, cost, *arrays), atol=1e-10)


def test_softmax_regression_matches_numpy_and_autodiff(lib):
    theta = rng.normal(size=(3, n + 1))
    Y3 = np.eye(3)[rng.integers(0, 3, N)]
    d = derive.softmax_regression()
    out = to_numpy(d.compile(backend=lib)(theta=theta, x=X, y=Y3))
    assert np.allclose(out, d.compile()(theta=theta, x=X, y=Y3), atol=1e-12)

    def cost(xp, a):
        theta, X, Y = a
        ones = xp.ones((X.shape[0], 1), dtype=X.dtype)
        X1 = xp.concatenate([ones, X], 1) if xp.__name__ == "jax.numpy" else xp.cat([ones, X], 1)
        return -(Y * log_softmax(xp, X1 @ theta.T)).sum()
    assert np.allclose(out, autodiff(lib, cost, theta, X, Y3), atol=1e-10)


def test_softmax_ce_labels_matches_numpy_and_autodiff(lib):
    W = rng.normal(size=(K, n))
    d = derive.softmax_ce_labels()
    out = to_numpy(d.compile(backend=lib)(w=W, x=X, label=LABELS))
    assert np.allclose(out, d.compile()(w=W, x=X, label=LABELS), atol=1e-12)

    def cost(xp, a):
        W, X = a
        return -(log_softmax(xp, X @ W.T) * xp.asarray(np.eye(K)[LABELS])).sum()
    assert np.allclose(out, autodiff(lib, cost, W, X), atol=1e-10)


def test_float32_stays_float32(lib):
    g = derive.softmax_ce().compile(backend=lib)
    out = g(z=Z.astype(np.float32), y=Y.astype(np.float32))
    assert "float32" in str(out.dtype)


def test_a_missing_library_names_the_backend_and_the_install_command(monkeypatch):
    for name in ("torch", "jax"):
        monkeypatch.setitem(sys.modules, name, None)  # import torch now raises ImportError
        with pytest.raises(derive.ArgumentError) as err:
            derive.softmax_ce().compile(backend=name)
        assert err.value.argument == "backend" and "pip install" in str(err.value)


def test_an_unknown_backend_is_named():
    with pytest.raises(derive.ArgumentError) as err:
        derive.softmax_ce().compile(backend="cupy")
    assert err.value.argument == "backend" and "numpy, jax, torch" in str(err.value)


def test_import_derive_never_imports_a_backend_library():
    code = ("import sys, derive; derive.softmax_ce().compile()(z=[[1.0, 2.0]], y=[[0.0, 1.0]]); "
            "print(sorted(m for m in ('torch', 'jax', 'jaxlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
import costs_from_sources as C  # noqa: E402
import bad_inputs  # noqa: E402

_PLANNED: dict = {}


@pytest.mark.parametrize("rec", C.COSTS, ids=[r.id for r in C.COSTS])
def test_every_cost_from_sources_compiles_to_each_backend_as_to_numpy(lib, rec):
    """Issue 14: every planned cost compiles with PyTorch and JAX too (biases, second weight matrices, indices
    only in a Kronecker delta), with NumPy's interface and NumPy's result."""
    if rec.id not in _PLANNED:
        _PLANNED[rec.id] = derive.gradient(rec.cost, wrt=rec.wrt, assume=list(rec.assume),
                                           define=list(rec.define), timeout=20)
    d = _PLANNED[rec.id]
    g = d.compile()
    batch, _ = C.sample(rec, np.random.default_rng(2), 3)
    kwargs = {k: batch[k] for k in g.inputs}
    h = d.compile(backend=lib)
    assert h.inputs == g.inputs and str(inspect.signature(h)) == str(inspect.signature(g))
    np.testing.assert_allclose(bad_inputs.to_numpy(h(**kwargs)), g(**kwargs), rtol=1e-9, atol=1e-12)
