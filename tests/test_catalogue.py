"""Every catalogue entry: verified, rendered in every format, compiled and checked against finite differences."""
import os
import shutil
import subprocess

import numpy as np
import pytest

import derive
from derive.entries import catalogue, entry
from numeric_helpers import fd, softmax

NAMES = [e.name for e in catalogue()]


@pytest.fixture(scope="module")
def built():
    return {name: entry(name)() for name in NAMES}


def test_catalogue_lists_every_reference():
    assert NAMES[:6] == ["softmax_ce", "softmax_jacobian", "softmax_se", "softmax_regression", "softmax_ce_labels",
                         "mlp_backprop"]
    assert [e.reference for e in catalogue()][:6] == ["seed 001", "seed 003", "seed 003", "seed 000", "seed 002",
                                                      "seed 004"]
    assert NAMES[6:] == ["softmax_vjp", "softmax_ce_temperature", "label_smoothing", "softmax_ce_weighted",
                         "sigmoid_bce", "focal_loss", "log_softmax_nll", "softmax_se_planned", "softmax_ce_hessian"]
    assert all(e.reference for e in catalogue())
    for e in catalogue():
        assert e.description and "\n" not in e.description
        assert getattr(derive, e.name) is e.build


def test_unknown_name_is_named():
    with pytest.raises(derive.ArgumentError) as err:
        entry("softmax")
    assert err.value.argument == "name" and "softmax_ce" in str(err.value)


@pytest.mark.parametrize("name", NAMES)
def test_every_step_verifies(built, name):
    d = built[name]
    report = d.verify() if d.setting.K.is_Integer else d.verify(Ks=(2, 3, 4))
    assert report.ok, str(report)
    assert len(report.checks) >= 5


@pytest.mark.parametrize("name", NAMES)
def test_every_step_is_made_by_a_rule(built, name):
    for d in built[name].walk():
        for step in d.steps:
            assert isinstance(step.rule, derive.Rule)
            assert step.justification


@pytest.mark.parametrize("name", NAMES)
def test_renders_in_every_format(built, name):
    d = built[name]
    for out in (d.to_text(), d.to_latex(), d.to_markdown(), d.to_json()):
        assert out.isascii() and len(out) > 200


@pytest.mark.skipif(shutil.which("pdflatex") is None and not os.environ.get("CI"),
                    reason="pdflatex not installed (CI installs it; there this test never skips)")
@pytest.mark.parametrize("name", NAMES)
def test_latex_compiles(built, name, tmp_path):
    (tmp_path / "d.tex").write_text(built[name].to_latex(standalone=True))
    run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", "d.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = (tmp_path / "d.log").read_text(errors="replace")
    assert run.returncode == 0, log[-2000:]
    assert "Undefined control sequence" not in log and "Missing character" not in log


def test_shared_lemmas_are_one_recipe(built):
    """The softmax partials cited by softmax_ce, the Jacobian, the squared error and BP1 are the same derivation."""
    def lemma(d, name):
        return [x for x in d.walk() if x.name == name]
    for name in ("softmax_ce", "softmax_jacobian", "softmax_se", "mlp_backprop"):
        same = lemma(built[name], "softmax_partial_same")
        other = lemma(built[name], "softmax_partial_other")
        assert len(same) == 1 and len(other) == 1, name
        assert [s.rule for s in same[0].steps] == [s.rule for s in lemma(built["softmax_ce"], "softmax_partial_same")[0].steps]
    # within one document a lemma appears once even when several chains cite it
    mlp = built["mlp_backprop"]
    assert len([x for x in mlp.walk() if x.name == "softmax_partial_same"]) == 1


# -- compiled functions against independent finite differences -------------------

def test_compiled_jacobian():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(3, 4))
    J = derive.softmax_jacobian().compile()(z=Z)
    assert J.shape == (3, 4, 4)
    for n in range(3):
        rows = [fd(lambda z: softmax(z)[i], Z[n]) for i in range(4)]  # row i: d o_i / d z
        assert np.allclose(J[n], np.stack(rows), atol=1e-7)


def test_compiled_squared_error():
    rng = np.random.default_rng(1)
    Z, T = rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    G = derive.softmax_se().compile()(z=Z, t=T)
    for n in range(3):
        assert np.allclose(G[n], fd(lambda z: 0.5 * ((softmax(z) - T[n]) ** 2).sum(), Z[n]), atol=1e-7)


@pytest.mark.parametrize("K", [3, None])
def test_compiled_regression(K):
    rng = np.random.default_rng(2)
    Th, X, Y = rng.normal(size=(3, 4)), rng.normal(size=(6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
    X1 = np.hstack([np.ones((6, 1)), X])
    J = lambda th: -(Y * np.log(softmax(X1 @ th.T))).sum()  # noqa: E731
    g = derive.softmax_regression(K=K).compile()
    assert np.allclose(g(theta=Th, x=X, y=Y), fd(J, Th), atol=1e-6)


def test_compiled_labels():
    rng = np.random.default_rng(3)
    W, X, L = rng.normal(size=(4, 3)), rng.normal(size=(6, 3)), rng.integers(0, 4, 6)
    total = lambda w: -np.log(softmax(X @ w.T)[np.arange(6), L]).sum()  # noqa: E731
    assert np.allclose(derive.softmax_ce_labels().compile()(w=W, x=X, label=L), fd(total, W), atol=1e-6)


def mlp_cost(Ws, bs, X, Y):
    a = X
    for n, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b
        a = softmax(z) if n == len(Ws) - 1 else 1 / (1 + np.exp(-z))
    return -(Y * np.log(a)).sum(1).mean()


def test_compiled_backprop_on_a_network_with_two_hidden_layers():
    rng = np.random.default_rng(4)
    sizes = [3, 5, 4, 3]
    Ws = [rng.normal(size=(sizes[i + 1], sizes[i])) for i in range(3)]
    bs = [rng.normal(size=(sizes[i + 1],)) for i in range(3)]
    X, Y = rng.normal(size=(7, 3)), np.eye(3)[rng.integers(0, 3, 7)]
    gW, gb = derive.mlp_backprop().compile()(weights=Ws, biases=bs, x=X, y=Y)
    for n in range(3):
        assert gW[n].shape == Ws[n].shape and gb[n].shape == bs[n].shape
        assert np.allclose(gW[n], fd(lambda W: mlp_cost(Ws[:n] + [W] + Ws[n + 1:], bs, X, Y), Ws[n]), atol=1e-6)
        assert np.allclose(gb[n], fd(lambda b: mlp_cost(Ws, bs[:n] + [b] + bs[n + 1:], X, Y), bs[n]), atol=1e-6)


# -- stability at |z| = 1e4 --------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_compiled_entry_is_stable_for_extreme_logits(dtype):
    big = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=dtype)
    Y = np.eye(3, dtype=dtype)[[0, 2]]
    outs = [derive.softmax_ce().compile()(z=big, y=Y), derive.softmax_se().compile()(z=big, t=Y),
            derive.softmax_jacobian().compile()(z=big)]
    Th = np.array([[1e4, 0.0], [0.0, 1e4], [-1e4, 0.0]], dtype=dtype)
    outs.append(derive.softmax_regression().compile()(theta=Th, x=np.array([[1.0], [-1.0]], dtype=dtype), y=Y))
    outs.append(derive.softmax_ce_labels().compile()(w=Th, x=np.array([[1.0, 1.0]], dtype=dtype),
                                                     label=np.array([2])))
    W = [np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype), np.array([[1e4, 0], [0, 1e4], [-1e4, 0]], dtype=dtype)]
    b = [np.zeros(2, dtype=dtype), np.zeros(3, dtype=dtype)]
    gW, gb = derive.mlp_backprop().compile()(weights=W, biases=b, x=np.array([[1.0, -1.0]], dtype=dtype),
                                             y=np.eye(3, dtype=dtype)[[1]])
    outs += gW + gb
    for out in outs:
        assert out.dtype == dtype
        assert np.all(np.isfinite(out))


# -- errors at the boundary ----------------------------------------------------------

@pytest.mark.parametrize("call, argument, words", [
    (lambda: derive.softmax_regression().compile()(theta=np.zeros((3, 2)), x=np.zeros((4, 2)), y=np.zeros((4, 3))),
     "theta", "n + 1 = 3 columns"),
    (lambda: derive.softmax_regression().compile()(theta=np.zeros((4, 3)), x=np.zeros((4, 2)), y=np.zeros((4, 4))),
     "theta", "K = 3 rows"),
    (lambda: derive.softmax_regression().compile()(theta=np.zeros((3, 3)), x=np.zeros((4, 2)), y=np.zeros((5, 3))),
     "y", "(m, K)"),
    (lambda: derive.softmax_ce_labels().compile()(w=np.zeros((3, 2)), x=np.zeros((4, 2)), label=[0, 1, 2, 3]),
     "label", "0..2"),
    (lambda: derive.softmax_ce_labels().compile()(w=np.zeros((3, 2)), x=np.zeros((4, 2)), label=[0.5, 1, 2, 0]),
     "label", "integer"),
    (lambda: derive.softmax_ce_labels().compile()(w=np.zeros((3, 2)), x=np.zeros((4, 3)), label=[0, 1, 2, 0]),
     "x", "2 columns"),
    (lambda: derive.mlp_backprop().compile()(weights=[np.zeros((2, 3))], biases=[np.zeros(3)], x=np.zeros((1, 3)),
                                             y=np.zeros((1, 2))), "biases[0]", "shape (2,)"),
    (lambda: derive.mlp_backprop().compile()(weights=[np.zeros((4, 3)), np.zeros((2, 5))],
                                             biases=[np.zeros(4), np.zeros(2)], x=np.zeros((1, 3)),
                                             y=np.zeros((1, 2))), "weights[1]", "4 columns"),
    (lambda: derive.mlp_backprop().compile()(weights=[], biases=[], x=np.zeros((1, 3)), y=np.zeros((1, 2))),
     "weights", "non-empty"),
    (lambda: derive.softmax_jacobian().compile()(z=np.zeros((2, 3)), y=np.zeros((2, 3))), "y", "unknown argument"),
])
def test_compiled_inputs_are_checked(call, argument, words):
    with pytest.raises(derive.ArgumentError) as err:
        call()
    assert err.value.argument == argument
    assert words in str(err.value)


# -- what each step says it did (issue 7, item 3) ------------------------------------------------

def _with_K(name):
    """Each entry as shipped, and with K = 3 where it takes K."""
    import inspect
    e = entry(name)
    out = [e()]
    if "K" in inspect.signature(e.build).parameters:
        out.append(e(K=3))
    return out


def _denominators(expr):
    """How many factors the expression divides by, with multiplicity (x / y**2 counts 2), in every product."""
    import sympy as sp
    return sum(-p.exp for p in sp.preorder_traversal(expr)
               if isinstance(p, sp.Pow) and p.exp.is_number and p.exp.is_negative and not p.base.is_Number)


@pytest.mark.parametrize("name", NAMES)
def test_no_rendered_step_repeats_the_one_before(name):
    from derive.render.layout import display_of
    from derive.render.printers import latex, text
    for d in _with_K(name):
        show = display_of(d)
        for x in d.walk():
            for printer in (latex, text):
                shown = [printer(x.lhs, display=show)] + [printer(s.expr, display=show) for s in x.steps]
                repeats = [n for n in range(1, len(shown)) if shown[n] == shown[n - 1]]
                assert not repeats, f"{x.name}: step {repeats[0]} renders as the line before it: {shown[repeats[0]]}"


@pytest.mark.parametrize("name", NAMES)
def test_a_cancel_step_removes_a_common_factor(name):
    for d in _with_K(name):
        for x in d.walk():
            previous = x.lhs
            for n, s in enumerate(x.steps, start=1):
                if s.rule.value == "cancel":
                    assert _denominators(s.expr) < _denominators(previous), f"{x.name} step {n} cancels nothing"
                previous = s.expr


@pytest.mark.parametrize("name", NAMES)
def test_a_fold_step_only_substitutes(name):
    """A fold reads e^{z_j}/S as o_j where it stands (the textbook's e^{z_k}/S (S - e^{z_k})/S = o_k (1 - o_k));
    every other denominator stays: cancelling anything else is a step of its own."""
    import sympy as sp
    for d in _with_K(name):
        for x in d.walk():
            previous = x.lhs
            for n, s in enumerate(x.steps, start=1):
                # a reciprocal definition (sigmoid: 1 + e^-z = 1/a) rewrites that very denominator, as it should
                if s.rule.value == "fold_definition" and not sp.fraction(s.formula.lhs)[0].is_Number:
                    read = sp.fraction(s.formula.lhs)[1]
                    denominator = sp.fraction(sp.together(previous))[1] if not previous.has(sp.Derivative) else 1
                    for factor in sp.Mul.make_args(denominator):
                        base = factor.as_base_exp()[0]
                        if base.is_Number or isinstance(base, type(read)) and base.function.func == read.function.func:
                            continue  # the denominator the fold reads (at any row)
                        assert s.expr.has(base), f"{x.name} step {n} (fold) also cancelled {factor}"
                previous = s.expr


def test_the_cancel_check_catches_a_step_that_only_drops_brackets():
    """The check above fails on what issue 7 reported: a 'cancel' that only released brackets."""
    import sympy as sp
    from derive.expr import Held
    o, i, j = sp.IndexedBase("o"), *sp.symbols("i j")
    held = -(1 - sp.KroneckerDelta(i, j)) * Held(o[i] * o[j])
    assert not _denominators(-(1 - sp.KroneckerDelta(i, j)) * o[i] * o[j]) < _denominators(held)
    assert _denominators(-o[j]) < _denominators(-Held(o[i] * o[j]) / o[i])


# -- assumptions belong to where they are used (issue 7, item 2) ----------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_one_key_means_one_statement(name):
    for d in _with_K(name):
        uses = d.assumption_uses()  # raises on two statements under one key
        keys = [a.key for a, _ in uses]
        assert len(keys) == len(set(keys))


def test_a_key_with_two_statements_is_refused():
    import dataclasses
    import sympy as sp
    d = derive.softmax_ce()
    last = d.steps[-1]
    fact = dataclasses.replace(last.assumptions[0], statement=sp.Eq(sp.Symbol("q"), 2))
    broken = d.with_step(len(d.steps) - 2, dataclasses.replace(d.steps[-2], assumptions=(fact,)))
    with pytest.raises(ValueError, match="y_sums_to_one"):
        broken.assumption_uses()


def test_a_lemma_condition_is_not_listed_as_an_assumption_of_the_derivation():
    d = derive.softmax_ce()
    assert [a.key for a in d.assumptions] == ["k_in_1_to_K", "y_sums_to_one"]
    tail = d.to_text().split("\nAssumptions\n")[1]
    assert "j != k" not in tail and "used in Lemma 1, Lemma 2 and the derivation" in tail
    assert "j \\neq k" not in d.to_markdown().split("Assumptions")[-1]
    assert "j \\neq k" not in d.to_latex().split("Assumptions")[-1]
    doc = d.to_dict()
    local = {a["key"]: (a["local"], a["used_in"]) for a in doc["assumptions"]}
    # the derivation's sum over j != k says j != k itself: only Lemma 2, whose condition it is, cites it
    assert local["j_ne_k"] == (True, ["softmax_partial_other"])
    assert local["y_sums_to_one"] == (False, ["softmax_ce"])
    assert doc["lemmas"][1]["conditions"][0]["key"] == "j_ne_k" and doc["lemmas"][1]["assumptions"] == ["k_in_1_to_K"]


def test_mlp_ranges_are_scoped_to_their_parts():
    """Each index letter counts one layer (issue 17.5): c the output layer, j layer l, k layer l-1."""
    d = derive.mlp_backprop()
    tail = d.to_text().split("\nAssumptions\n")[1]
    assert "1 <= c <= n_L    (the index c lies in the range of the sum; used in Lemma 1, Lemma 2 and BP1)" in tail
    assert "1 <= k <= n_{l-1}    (the index k lies in the range of the sum; used in BP4)" in tail
    assert "n_prev" not in d.to_text() and "n_next" not in d.to_text()
    assert "n_{l-1}" in d.to_latex() and "n_{l+1}" in d.to_latex()


# -- notation a reader expects (issue 7, item 4) ---------------------------------------------------

def test_mlp_result_is_its_four_equations_and_its_repr_has_no_internal_names():
    import sympy as sp
    d = derive.mlp_backprop()
    assert len(d.result) == 4 and all(isinstance(e, sp.Eq) for e in d.result)
    assert [e.lhs for e in d.result] == [p.lhs for p in d.parts]
    assert "__" not in repr(d) and "Entry(" not in repr(d)
    assert "4 parts" in repr(d) and "[a^L - y]_(c)" in repr(d)
    assert "mean" in d.description and "C_x" in d.description.plain  # typeset: $C_{x}$


def test_mlp_refuses_a_fixed_index_name():
    with pytest.raises(derive.ArgumentError) as err:
        derive.mlp_backprop(notation={"activations": "j"})
    assert err.value.argument == "notation['activations']" and "index" in str(err.value)


def test_labels_scores_carry_the_example_index():
    d = derive.softmax_ce_labels()
    scores = [x for x in d.definitions if x.name == "scores"][0]
    i = d.setting.symbols["i"]
    assert scores.lhs.has(i) and scores.expr.has(i)
    assert "f_ij := sum_{c=1..n} (w_jc*x_ic)" in d.to_text()  # not e beside e^{f_ij} (issue 17.5)
