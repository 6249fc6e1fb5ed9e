"""softmax_ce follows reference 001's route and lands on o_k - y_k."""
import sympy as sp
import pytest

import derive
from derive.expr import SumExcept

ROUTE = ["definition", "linearity", "split_sum", "chain_rule", "lemma", "cancel", "linearity",
         "expand", "collect", "join_sum", "assumption"]


def syms(d):
    s = d.setting.symbols
    return s["o"], s["y"], s["z"], s["j"], s["k"]


def test_result_is_o_minus_y(ce):
    o, y, z, j, k = syms(ce)
    assert ce.result == o[k] - y[k]
    assert ce.lhs == sp.Derivative(sp.Symbol("E"), z[k])


def test_route_of_the_reference_post(ce):
    assert [s.rule.value for s in ce.steps] == ROUTE


def test_the_split_step_separates_j_equal_k(ce):
    o, y, z, j, k = syms(ce)
    split = ce.steps[2].expr
    assert split.has(SumExcept)
    assert split.has(sp.Derivative(sp.log(o[k]), z[k]))


def test_lemmas_are_derived_by_the_quotient_rule(ce):
    o, y, z, j, k = syms(ce)
    same, other = ce.lemmas
    assert same.lhs == sp.Derivative(o[k], z[k]) and same.result == o[k] * (1 - o[k])
    assert other.lhs == sp.Derivative(o[j], z[k]) and other.result == -o[j] * o[k]
    for lemma in (same, other):
        assert [s.rule.value for s in lemma.steps][:4] == ["definition", "quotient_rule", "linearity", "differentiate"]
    assert [a.key for a in other.conditions] == ["j_ne_k"]


def test_the_assumption_is_named_in_the_step_that_uses_it(ce):
    last = ce.steps[-1]
    assert last.rule.value == "assumption"
    assert [a.key for a in last.assumptions] == ["y_sums_to_one"]
    assert all("y_sums_to_one" not in [a.key for a in s.assumptions] for s in ce.steps[:-1])


def test_without_normalised_targets_the_sum_stays():
    d = derive.softmax_ce(normalized_targets=False)
    o, y, z, j, k = syms(d)
    assert d.result == o[k] * sp.Sum(y[j], (j, 1, d.setting.K)) - y[k]
    assert "y_sums_to_one" not in [a.key for a in d.assumptions]
    assert d.verify().ok


@pytest.mark.parametrize("d", ["ce", "ce3"])
def test_no_piecewise_guard_anywhere(d, request):
    d = request.getfixturevalue(d)
    for x in d.walk():
        for s in x.steps:
            assert not s.expr.has(sp.Piecewise)


def test_explicit_K(ce3):
    o, y, z, j, k = syms(ce3)
    assert ce3.setting.K == 3
    assert ce3.result == o[k] - y[k]
    assert ce3.steps[0].expr.has(sp.Sum(y[j] * sp.log(o[j]), (j, 1, 3)))
    assert ce3.verify().ok


def test_notation_can_be_chosen():
    d = derive.softmax_ce(notation={"outputs": "p", "targets": "t", "cost": "L", "index": "i"})
    p, t = sp.IndexedBase("p"), sp.IndexedBase("t")
    i = sp.Symbol("i", integer=True, positive=True)
    assert d.result == p[i] - t[i]
    assert d.to_text().count("dL/dz_i") >= 2


def test_building_is_fast_enough_to_be_interactive():
    # not a timing assertion (benchmarks measure speed): the derivation is small
    assert sum(len(x.steps) for x in derive.softmax_ce().walk()) < 30
