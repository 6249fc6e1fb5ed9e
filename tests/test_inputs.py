"""One set of input checks for every backend (issue 18.2): the table of bad and valid inputs in
tests/data/bad_inputs.py, run against numpy, torch and jax, with the same messages on all three; the
tolerance of normalised targets per float type; the compiled interface as help() shows it."""
import inspect
import os
import pydoc
import sys

import numpy as np
import pytest

import derive
from derive import inputs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
import bad_inputs as table  # noqa: E402

EXPECTED = {"refused": "clear", "accepted": "accepted"}


def backend_library(name):
    if name == "numpy":
        return None
    try:
        return table.library(name)
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{name} not installed (CI installs it; there this test never skips)")


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("case", table.CASES, ids=lambda c: c.id)
def test_every_backend_refuses_each_bad_input_naming_it_and_accepts_each_valid_one(case, backend):
    backend_library(backend)
    what, detail = table.outcome(case, backend)
    assert what == EXPECTED[case.expect], f"{case.id} on {backend}: {what}: {detail!r}"


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("case", table.CASES, ids=lambda c: c.id)
def test_the_libraries_own_arrays_go_through_the_same_checks(case, backend):
    backend_library(backend)
    what, detail = table.outcome(case, backend, native=True)
    assert what == EXPECTED[case.expect], f"{case.id} on {backend} arrays: {what}: {detail!r}"


REFUSED = [c for c in table.CASES if c.expect == "refused"]


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.id)
def test_a_refusal_says_the_same_on_every_backend(case):
    _, expected = table.call(case, "numpy")
    for backend in ("torch", "jax"):
        backend_library(backend)
        for native in (False, True):
            _, error = table.call(case, backend, native)
            assert type(error) is type(expected) and str(error) == str(expected), (backend, native)


def test_the_table_covers_what_the_audit_found():
    kinds = {c.kind for c in REFUSED}
    assert {"complex", "bool", "object", "string", "masked", "float32_rows_off_2e-4"} <= kinds
    assert len(REFUSED) >= 200 and len(table.CASES) - len(REFUSED) >= 100
    assert {c.entry for c in table.CASES} == set(table.GOOD)


def test_the_table_fails_when_a_check_is_taken_away(monkeypatch):
    """The table is trusted only because it fails without the checks it guards."""
    import derive.compile.interfaces as compile_module  # where the interfaces call check_array
    case = next(c for c in REFUSED if c.entry == "softmax_ce" and c.argument == "z" and c.kind == "complex")
    assert table.outcome(case, "numpy")[0] == "clear"
    table._COMPILED.clear()
    monkeypatch.setattr(compile_module, "check_array",
                        lambda name, value, *a, **k: np.asarray(value))  # no dtype, shape or finiteness check
    try:
        assert table.outcome(case, "numpy")[0] in ("silent", "unclear")
        masked = next(c for c in REFUSED if c.id == "softmax_ce-z-masked")
        assert table.outcome(masked, "numpy")[0] == "silent"
    finally:
        table._COMPILED.clear()
    monkeypatch.setitem(inputs.TARGET_TOLERANCE, "float32", 1e-3)
    off = next(c for c in REFUSED if c.id == "softmax_ce-y-float32_rows_off_2e-4")
    assert table.outcome(off, "numpy")[0] == "silent"


# -- the tolerance of targets assumed normalised, per float type ---------------------------------------

def test_float32_rows_off_by_2e_4_are_refused_and_the_message_states_the_tolerance():
    g = derive.softmax_ce().compile()
    y = np.full((2, 4), 0.25, np.float32)
    y[:, 0] += 2e-4
    with pytest.raises(derive.ArgumentError) as err:
        g(z=np.zeros((2, 4), np.float32), y=y)
    assert err.value.argument == "y"
    assert "within 4e-05 for float32 targets over 4 classes" in str(err.value)


def test_the_tolerance_is_stated_per_float_type_and_scales_with_the_classes():
    assert inputs.tolerance("float32", 4) == pytest.approx(4e-5)
    assert inputs.tolerance("float64", 10) == pytest.approx(1e-5)
    assert inputs.tolerance(np.float16, 2) == pytest.approx(4e-3)
    assert inputs.tolerance("bfloat16", 1) == pytest.approx(1.6e-2)
    assert [inputs.precision(v) for v in (np.zeros(2, np.float16), [0.5, 0.5], np.zeros(2, int), 1.0)] == [
        "float16", "float64", "float64", "float64"]


@pytest.mark.parametrize("K", [2, 3, 10, 100, 1000])
def test_rows_normalised_in_float32_pass_in_float32_and_converted_to_float64(K):
    """No false alarm: a float32 softmax's rows (up to 4e-7 off 1) pass, as float32 and as float64."""
    g = derive.softmax_ce().compile()
    z = np.random.default_rng(K).normal(size=(50, K)).astype(np.float32) * 3
    e = np.exp(z - z.max(1, keepdims=True))
    y = e / e.sum(1, keepdims=True)
    assert np.isfinite(g(z=z, y=y)).all() and np.isfinite(g(z=z, y=y.astype(np.float64))).all()


def test_torch_half_precision_targets_are_held_to_their_own_tolerance():
    torch = backend_library("torch")
    g = derive.softmax_ce().compile(backend="torch")
    y = torch.tensor(np.random.default_rng(0).dirichlet(np.ones(3), size=20))
    z = torch.zeros(20, 3, dtype=torch.float64)
    for dtype in (torch.float16, torch.bfloat16):  # rows a few units of their last place off 1
        assert torch.isfinite(g(z=z, y=y.to(dtype))).all()
        with pytest.raises(derive.ArgumentError, match="within .* for (b?float16) targets"):
            g(z=z, y=(y * 1.2).to(dtype))


# -- inside the caller's own jax.jit: dtypes and shapes are checked, values cannot be --------------------

def test_traced_jax_values_are_checked_for_dtype_and_shape():
    jax = backend_library("jax")
    jnp = jax.numpy
    g = derive.softmax_ce().compile(backend="jax")
    Y = table.Y
    out = jax.jit(lambda z: g(z=z, y=Y))(jnp.asarray(table.Z))
    assert np.allclose(np.asarray(out), derive.softmax_ce().compile()(z=table.Z, y=Y))
    with pytest.raises(derive.ArgumentTypeError, match="^z: must hold real numbers"):
        jax.jit(lambda z: g(z=z, y=Y))(jnp.asarray(table.Z + 1j))
    with pytest.raises(derive.ArgumentTypeError, match="^z: must hold real numbers"):
        jax.jit(lambda z: g(z=z, y=Y))(jnp.asarray(table.Z > 0))
    with pytest.raises(derive.ArgumentError, match="^z: must have shape"):
        jax.jit(lambda z: g(z=z, y=Y))(jnp.zeros((2, 3, 4)))


def test_a_torch_tensor_keeps_its_graph():
    torch = backend_library("torch")
    g = derive.softmax_ce().compile(backend="torch")
    z = torch.tensor(table.Z, requires_grad=True)
    g(z=z, y=torch.tensor(table.Y)).sum().backward()  # the softmax's own gradient flows back to z
    assert z.grad is not None and z.grad.shape == z.shape


# -- the interface, as the signature and help() state it ------------------------------------------------

BIAS = dict(wrt="b", define=["z[j] = sum(w[j, d]*x[d], d) + b[j]"], assume=["sum(y[j], j) = 1"])


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_help_shows_each_argument_with_its_shape(backend):
    backend_library(backend)
    g = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", **BIAS).compile(backend=backend)
    text = pydoc.render_doc(g, renderer=pydoc.plaintext)
    for line in ("b: (K,), shared by every example", "w: (K, n), shared by every example",
                 "x: (N, n) or (n,) for one example, one row per example",
                 "y: (N, K) or (K,) for one example, one row per example"):
        assert line in text, text
    assert "gradient(b=(K,), y=(N, K), w=(K, n), x=(N, n)) -> (K,)" in text
    signature = inspect.signature(g)
    assert {p.name: p.annotation for p in signature.parameters.values()} == {
        "b": "(K,)", "y": "(N, K)", "w": "(K, n)", "x": "(N, n)"}
    assert signature.return_annotation == "(K,)"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in signature.parameters.values())


def test_help_shows_scalars_and_sizes_no_array_carries():
    g = derive.label_smoothing().compile()
    text = pydoc.render_doc(g, renderer=pydoc.plaintext)
    assert "z: (N, K) or (K,) for one example" in text and "eps: a real number (a scalar parameter)" in text
    h = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", wrt="z", assume=["sum(y[j], j) = 1"])
    assert inspect.signature(h.compile()).return_annotation == "(N, K)"


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_library_error_the_checks_missed_is_still_a_named_error(backend, monkeypatch):
    backend_library(backend)
    g = derive.softmax_ce().compile(backend=backend)

    def broken(*args, **kwargs):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    monkeypatch.setattr(g.compiled, "run", broken)
    with pytest.raises(derive.ArgumentError, match=r"^z, y: cannot be evaluated with these shapes .*mat1"):
        g(z=table.Z, y=table.Y)
