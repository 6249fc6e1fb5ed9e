"""The route and the result of each catalogue entry, and its rendering as exact strings."""
import pytest
import sympy as sp

import derive
from derive.render.layout import display_of
from derive.render.printers import latex


def routes(d):
    return {x.name: [s.rule.value for s in x.steps] for x in d.walk()}


def results_tex(d):
    show = display_of(d)
    return [f"{latex(l, display=show)} = {latex(r, display=show)}" for l, r in d.results]


def test_jacobian_route_and_result():
    d = derive.softmax_jacobian()
    assert routes(d)["softmax_jacobian"] == ["cases", "kronecker_delta", "lemma", "expand",
                                             "kronecker_delta", "factor", "matrix_form"]
    o, i, j = (d.setting.symbols[n] for n in "oij")
    assert d.steps[-2].expr == o[i] * (sp.KroneckerDelta(i, j) - o[j])
    assert results_tex(d) == [r"\frac{\partial o_{i}}{\partial z_{j}} = "
                              r"\left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{ij}"]
    # each case by the quotient rule
    assert {x.name for x in d.lemmas} == {"softmax_partial_same", "softmax_partial_other"}


def test_squared_error_goes_through_general_backpropagation():
    d = derive.softmax_se()
    r = routes(d)
    assert r["softmax_backprop"][0] == "multivariate_chain_rule"
    general = [x for x in d.walk() if x.name == "softmax_backprop"][0]
    o, L, z, j, k = (d.setting.symbols[n] for n in ("o", "L", "z", "j", "k"))
    K = d.setting.K
    assert general.result == o[k] * (sp.Derivative(L, o[k]) - sp.Sum(sp.Derivative(L, o[j]) * o[j], (j, 1, K)))
    assert results_tex(d) == [r"\frac{\partial L}{\partial z_{k}} = o_{k} \left(o_{k} - t_{k} - "
                              r"\sum_{j=1}^{K} o_{j} \left(o_{j} - t_{j}\right)\right)"]


def test_regression_with_three_classes_writes_out_parts_one_to_three():
    d = derive.softmax_regression()
    assert d.setting.K == 3
    r = routes(d)["softmax_regression"]
    assert r[:6] == ["definition", "linearity", "write_out_sum", "chain_rule", "lemma", "cancel"]
    assert r[-2:] == ["assumption", "factor"]
    parts = d.steps[2].expr  # the three terms of the class sum, one per hypothesis
    h = d.setting.symbols["h"]
    i = d.setting.symbols["i"]
    assert all(parts.has(h[i, c]) for c in (1, 2, 3))
    quotient = [x for x in d.walk() if x.name == "hypothesis_by_score"][0]
    assert [s.rule.value for s in quotient.steps][:2] == ["definition", "quotient_rule"]
    through = [x for x in d.walk() if x.name == "hypothesis_partial"][0]  # through the named scores z_c^(i)
    assert [s.rule.value for s in through.steps][0] == "multivariate_chain_rule"
    assert results_tex(d) == [r"\frac{\partial J}{\partial \Theta_{kj}} = \sum_{i=1}^{m} x_{j}^{(i)} "
                              r"\left(h_{k}\left(x^{(i)}\right) - y_{k}^{(i)}\right)"]
    # issue 17.5: no sum inside an exponent (the score is named), and x_0 = 1, which no step uses, is no
    # condition of the derivation (the description says what feature 0 is)
    assert not any(e.func is sp.exp and e.has(sp.Sum) for x in d.walk() for s in x.steps for e in
                   sp.preorder_traversal(s.expr))
    assert d.conditions == () and "x_0_is_one" not in [a.key for a in d.assumptions]


def test_regression_with_symbolic_K_reaches_the_same_result():
    a, b = derive.softmax_regression(K=None), derive.softmax_regression()
    assert "write_out_sum" not in routes(a)["softmax_regression"]
    assert results_tex(a) == results_tex(b)


def test_labels_render_the_indicator():
    d = derive.softmax_ce_labels()
    assert routes(d)["softmax_ce_labels"] == ["multivariate_chain_rule", "lemma", "kronecker_delta", "lemma"]
    assert results_tex(d) == [r"\frac{\partial L_{i}}{\partial w_{kd}} = x_{id} "
                              r"\left(p_{ik} - \mathbf{1}\left[k = y_{i}\right]\right)"]
    assert "1[k = y_i]" in d.to_text()


def test_mlp_has_the_four_equations_in_index_and_matrix_form():
    d = derive.mlp_backprop()
    assert [p.name for p in d.parts] == ["bp1", "bp2", "bp3", "bp4"]
    for part in d.parts:
        assert part.steps[-1].rule.value == "matrix_form"
        assert part.steps[-2].rule.value != "matrix_form"  # the index form just before it
    assert results_tex(d) == [
        r"\frac{\partial C_{x}}{\partial z^{L}_{c}} = \left[a^{L} - y\right]_{c}",
        r"\frac{\partial C}{\partial z^{l}_{j}} = \left[\left(\left(W^{l+1}\right)^{T} \delta^{l+1}\right) \circ "
        r"a^{l} \circ \left(\mathbf{1} - a^{l}\right)\right]_{j}",
        r"\frac{\partial C}{\partial b^{l}_{j}} = \left[\delta^{l}\right]_{j}",
        r"\frac{\partial C}{\partial W^{l}_{jk}} = \left[\delta^{l} \left(a^{l-1}\right)^{T}\right]_{jk}",
    ]
    sigmoid = [x for x in d.walk() if x.name == "sigmoid_derivative"][0]
    a = d.parts[1].setting.symbols["a"]
    j, m = sp.symbols("j m", integer=True, positive=True)
    assert sigmoid.result == sp.KroneckerDelta(j, m) * a[j] * (1 - a[j])
    assert "y_one_hot" in [x.key for x, _ in d.assumption_uses()]


@pytest.mark.parametrize("build, notation, expect", [
    (derive.softmax_jacobian, {"outputs": "y"}, "dy_i/dz_j"),
    (derive.softmax_se, {"outputs": "y", "targets": "t"}, "dL/dy_k"),
    (derive.softmax_regression, {"hypothesis": "g", "parameters": "W"}, "g_k(x^(i))"),
    (derive.softmax_ce_labels, {"outputs": "q"}, "q_ik - 1[k = y_i]"),
    (derive.mlp_backprop, {"activations": "h", "errors": "epsilon"}, "epsilon^l"),
])
def test_notation_can_be_chosen(build, notation, expect):
    d = build(notation=notation)
    assert expect in d.to_text()
    assert (d.verify() if d.setting.K.is_Integer else d.verify(Ks=(2,))).ok


@pytest.mark.parametrize("build", [derive.softmax_jacobian, derive.softmax_se, derive.softmax_regression,
                                   derive.softmax_ce_labels, derive.mlp_backprop])
def test_bad_notation_is_named(build):
    with pytest.raises(derive.ArgumentError) as err:
        build(notation={"nonsense": "x"})
    assert err.value.argument == "notation"
