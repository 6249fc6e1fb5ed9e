"""verify() keeps its power: each corruption a reviewer would make is caught, and the broken step is named.

Each case corrupts one step of a catalogue entry (or one lemma, or one part)
and checks that the first failure verify() reports is exactly that step, with
a structured counterexample.
"""
import dataclasses

import pytest
import sympy as sp

import derive
from derive import rules
from derive.expr import Entry, SumExcept
from derive.rules import Context


def _replace(d, number, expr=None, **changes):
    step = d.steps[number - 1]
    if expr is not None:
        changes["expr"] = expr
    return d.with_step(number - 1, dataclasses.replace(step, **changes))


def _part(d, name):
    return [p for p in d.walk() if p.name == name][0]


def sign_flip():
    d = derive.softmax_ce()
    return _replace(d, 8, -d.steps[7].expr), "softmax_ce", 8


def dropped_factor():
    lemma = derive.softmax_ce().lemmas[0]  # do_k/dz_k = o_k (1 - o_k)
    o, k = lemma.setting.symbols["o"], lemma.setting.symbols["k"]
    n = len(lemma.steps)
    return _replace(lemma, n, (1 - o[k])), "softmax_partial_same", n


def o_j_for_o_k():
    lemma = derive.softmax_ce().lemmas[1]  # do_j/dz_k = -o_j o_k
    o, j, k = (lemma.setting.symbols[s] for s in "ojk")
    n = len(lemma.steps)
    return _replace(lemma, n, lemma.steps[-1].expr.xreplace({o[k]: o[j]})), "softmax_partial_other", n


def wrong_at_one_index_pair():
    d = derive.softmax_regression()  # K = 3
    x, k, j, i, m = (d.setting.symbols[s] for s in ("x", "k", "j", "i", "m"))
    last = d.steps[-1].expr
    wrong = last + sp.KroneckerDelta(k, 3) * sp.KroneckerDelta(j, 2) * sp.Sum(x[i, j], (i, 1, m))
    return _replace(d, len(d.steps), wrong), "softmax_regression", len(d.steps)


def missing_transpose():
    d = derive.mlp_backprop()
    bp4 = _part(d, "bp4")  # dC/dw_jk = [delta^l (a^(l-1))^T]_jk
    entry = bp4.steps[-1].expr
    assert isinstance(entry, Entry)
    wrong = Entry(sp.Transpose(entry.args[0]), *entry.args[1:])  # [(delta a^T)^T]_jk = a_j delta_k
    return _replace(bp4, len(bp4.steps), wrong), "bp4", len(bp4.steps)


def uncited_assumption():
    d = derive.softmax_ce()
    n = len(d.steps)  # o_k sum_j y_j - y_k = o_k - y_k needs sum_j y_j = 1
    return _replace(d, n, assumptions=()), "softmax_ce", n


def join_with_the_wrong_term():
    d = derive.softmax_ce()  # step 9: (y_k + sum_{j != k} y_j) o_k - y_k; step 10 joins it
    o, y, j, k = (d.setting.symbols[s] for s in "oyjk")
    K = d.setting.K
    wrong = o[k] * sp.Sum(y[j], (j, 1, K)) + o[k] * y[k] - y[k]  # the sum joined, the split-off term kept
    return _replace(d, 10, wrong), "softmax_ce", 10


def label_smoothing_wrong_constant():
    d = derive.label_smoothing()  # ... - eps/K: a reviewer's slip to eps/(K + 1)
    last = d.steps[-1].expr
    eps, K = [s for s in last.free_symbols if s.name == "eps"][0], d.setting.K
    return _replace(d, len(d.steps), last + eps / K - eps / (K + 1)), "label_smoothing", len(d.steps)


def bp1_sign_flip():
    bp1 = _part(derive.mlp_backprop(), "bp1")
    n = len(bp1.steps) - 1  # the assumption step a^L_k sum_j y_j - y_k -> a^L_k - y_k
    return _replace(bp1, n, -bp1.steps[n - 1].expr), "bp1", n


# -- issue 16: what fooled the verifier of K = 2..5, small indices and a tolerance relative to the larger side --

def _last(d, extra=None, times=None):
    n = len(d.steps)
    e = d.steps[-1].expr
    e = e * times if times is not None else e
    return _replace(d, n, e + (extra if extra is not None else 0)), d.name, n


def _ce_symbols(d):
    return (d.setting.symbols[s] for s in "oyk")


def vanishes_for_K_up_to_5():
    d = derive.softmax_ce()
    o, y, k = _ce_symbols(d)
    K = d.setting.K
    return _last(d, extra=(K - 2) * (K - 3) * (K - 4) * (K - 5) * o[k])  # off by 24 o_k at K = 6


def wrong_by_ten_percent_above_K_5():
    d = derive.softmax_ce()
    K = d.setting.K
    return _last(d, times=1 + sp.Max(0, K - 5) / (10 * (K - 5) + sp.KroneckerDelta(K, 5)))  # 10% for K > 5


def wrong_at_class_6():
    d = derive.softmax_ce()
    o, y, k = _ce_symbols(d)
    return _last(d, extra=sp.KroneckerDelta(k, 6) * o[k])


def wrong_at_class_K():
    d = derive.softmax_ce()  # our own: wrong at the last class only (k = K, at every K)
    o, y, k = _ce_symbols(d)
    return _last(d, extra=sp.KroneckerDelta(k, d.setting.K) * y[k])


def wrong_at_class_K_minus_1_of_a_pair():
    lemma = derive.softmax_ce().lemmas[1]  # our own: do_j/dz_k wrong at j = K - 1 only
    o, j, k = (lemma.setting.symbols[s] for s in "ojk")
    return _last(lemma, extra=sp.KroneckerDelta(j, lemma.setting.K - 1) * o[j] * o[k])


def wrong_only_above_K_12():
    d = derive.softmax_ce()  # our own: a Piecewise in K, wrong for large K only
    o, y, k = _ce_symbols(d)
    K = d.setting.K
    return _last(d, extra=sp.Piecewise((o[k], K > 12), (0, True)))


def wrong_next_to_a_huge_term():
    d = derive.gradient("10**30*sum(z[j], j) - sum(y[j]*log(softmax(z)[j]), j)", assume=["sum(y[j], j) = 1"])
    y = _atom(d, "y")
    k = _atom(d, "k")
    return _last(d, extra=y[k])  # O(1) wrong next to the correct 10^30


def wrong_next_to_a_huge_term_at_concrete_K():
    # our own: the same at a concrete K = 3, the huge term a product of inputs
    d = derive.gradient("10**30*sum(z[j]**2, j)/2 - sum(y[j]*log(softmax(z)[j]), j)", assume=["sum(y[j], j) = 1"],
                        K=3)
    o, y, k = _atom(d, "o"), _atom(d, "y"), _atom(d, "k")
    return _last(d, extra=o[k] * y[k] / 3)


def _atom(d, name):
    exprs = [d.lhs] + [s.expr for s in d.steps]
    found = {str(a.base): a.base for e in exprs for a in e.atoms(sp.Indexed)}
    found.update({str(s): s for e in exprs for s in e.free_symbols if str(s) not in found})
    return found[name]


MUTATIONS = [sign_flip, dropped_factor, o_j_for_o_k, wrong_at_one_index_pair, missing_transpose,
             uncited_assumption, join_with_the_wrong_term, label_smoothing_wrong_constant, bp1_sign_flip,
             vanishes_for_K_up_to_5, wrong_by_ten_percent_above_K_5, wrong_at_class_6, wrong_at_class_K,
             wrong_at_class_K_minus_1_of_a_pair, wrong_only_above_K_12, wrong_next_to_a_huge_term,
             wrong_next_to_a_huge_term_at_concrete_K]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.__name__ for m in MUTATIONS])
def test_verify_names_the_broken_step(mutation):
    broken, chain, number = mutation()
    report = broken.verify(lemmas=False)
    assert not report.ok
    first = report.failures[0]
    assert (first.derivation, first.step) == (chain, number), str(report)
    assert f"[FAIL] {chain}: step {number} ({broken.steps[number - 1].rule.value})" in str(report)
    example = first.counterexample
    if example is None:  # a side that cannot even be instantiated (an index out of a matrix's range)
        assert "could not" in first.message
        return
    assert set(example) == {"K", "indices", "values", "lhs", "rhs"}
    assert abs(example["lhs"] - example["rhs"]) > 1e-12
    assert all(isinstance(v, float) for v in example["values"].values())


def test_join_sum_merges_only_the_split_off_term():
    d = derive.softmax_ce()
    y, j, k = (d.setting.symbols[s] for s in "yjk")
    K = d.setting.K
    ctx = Context(d.setting)
    rest = SumExcept(y[j], (j, 1, K), k)
    assert rules.join_sum(y[k] + rest, ctx).expr == sp.Sum(y[j], (j, 1, K))
    for other in (y[1], 2 * y[k], -y[k], y[j], sp.Symbol("c")):
        step = rules.join_sum(other + rest, ctx)
        assert step is None, f"join_sum merged {other} with the sum over j != k"


def test_the_old_verifier_was_fooled_by_the_new_cases():
    """The new mutations are not caught by the K = 2..5 verifier (kept in bench/), so the battery tests issue 16."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "bench"))
    import verify_before16
    for mutation in (vanishes_for_K_up_to_5, wrong_by_ten_percent_above_K_5, wrong_at_class_6,
                     wrong_next_to_a_huge_term):
        broken, _, _ = mutation()
        assert verify_before16.verify(broken, lemmas=False).ok, mutation.__name__


# -- nothing vacuous passes ---------------------------------------------------

def _with_conditions(d, *conditions):
    return dataclasses.replace(d, conditions=tuple(d.conditions) + tuple(conditions))


def test_a_condition_no_assignment_satisfies_fails_at_the_first_step():
    from derive.assumptions import different
    d = derive.softmax_ce()
    k = d.setting.symbols["k"]
    report = _with_conditions(d, different(k, k)).verify(lemmas=False)
    assert not report.ok
    first = report.failures[0]
    assert (first.derivation, first.step, first.cases) == ("softmax_ce", 1, 0)
    assert "0 cases evaluated" in first.message and "conditions" in first.message
    assert all(c.cases == 0 and not c.ok for c in report.checks)


def test_k_outside_1_to_5_is_checked_at_the_drawn_K_not_skipped():
    from derive.assumptions import different
    d = derive.softmax_ce()
    k = d.setting.symbols["k"]
    outside = [different(k, sp.Integer(v)) for v in range(1, 6)]
    assert _with_conditions(d, *outside).verify(lemmas=False).ok  # true claims, checked at K >= 6
    broken, chain, number = wrong_at_class_6()
    report = _with_conditions(broken, *outside).verify(lemmas=False)
    assert (report.failures[0].derivation, report.failures[0].step) == (chain, number)
    # at a concrete K = 5 nothing satisfies the conditions: a failure, never a pass
    five = _with_conditions(derive.softmax_ce(K=5), *outside).verify(lemmas=False)
    assert not five.ok and five.failures[0].step == 1 and "0 cases evaluated" in five.failures[0].message


def test_an_only_step_restating_the_lhs_fails():
    d = derive.softmax_ce()
    restated = dataclasses.replace(d, steps=(dataclasses.replace(d.steps[0], expr=d.lhs),), incomplete="")
    report = restated.verify(lemmas=False)
    assert not report.ok
    assert [c.step for c in report.failures] == [None]
    assert "restates the left-hand side" in report.failures[0].message


def test_a_result_still_holding_the_derivative_fails():
    d = derive.softmax_ce()
    o, y, k = _ce_symbols(d)
    half = sp.Rational(1, 2)
    inside = dataclasses.replace(d, steps=d.steps + (dataclasses.replace(
        d.steps[-1], expr=half * (o[k] - y[k]) + half * d.lhs),))
    report = inside.verify(lemmas=False)
    assert [c.step for c in report.failures] == [None]  # the step holds; the result is no closed form
    assert "still contains the derivative it is meant to evaluate" in report.failures[0].message


def test_a_lhs_that_is_not_a_derivative_fails():
    d = derive.softmax_ce()
    o, y, k = _ce_symbols(d)
    from derive.model import Step
    step = Step(2 * o[k] - 2 * y[k], d.steps[0].rule, "multiply out")
    plain = dataclasses.replace(d, lhs=2 * (o[k] - y[k]), steps=(step,))
    report = plain.verify(lemmas=False)
    assert report.checks[0].ok  # the step itself holds
    assert [c.step for c in report.failures] == [None]
    assert "is not a derivative" in report.failures[0].message


def test_every_check_counts_the_cases_it_evaluated(ce_report):
    assert all(c.cases > 0 for c in ce_report.checks)
    assert all(not c.ok for c in derive.softmax_ce().verify().checks if c.cases == 0)
