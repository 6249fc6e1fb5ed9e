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


MUTATIONS = [sign_flip, dropped_factor, o_j_for_o_k, wrong_at_one_index_pair, missing_transpose,
             uncited_assumption, join_with_the_wrong_term, label_smoothing_wrong_constant, bp1_sign_flip]


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
