"""derive's closed forms against hand-written textbook forms: equal numerically, at most 1.5x the operations."""
import random

import pytest
import sympy as sp

import derive

o, y = sp.IndexedBase("o"), sp.IndexedBase("y")
j, k, K, q = sp.symbols("j k K q")

CASES = [
    ("sum(y[j]*(1 - softmax(z)[j]**q)/q, j)",
     o[k] * (sp.Sum(y[j] * o[j] ** q, (j, 1, K)) - y[k] * o[k] ** (q - 1))),
]


@pytest.mark.parametrize("cost, textbook", CASES)
def test_closed_form_is_textbook_short(cost, textbook):
    result = derive.gradient(cost, assume=["sum(y[j], j) = 1"]).steps[-1].expr
    plain = {s: sp.Symbol(s.name) for s in result.free_symbols if isinstance(s, sp.Symbol)}
    result = result.xreplace(plain)
    assert sp.count_ops(result) <= 1.5 * sp.count_ops(textbook)
    rnd = random.Random(8)
    for _ in range(3):
        n = 3
        vals = {sp.Symbol("q"): rnd.uniform(0.2, 0.9), K: n, k: 2}
        sub = {o[i]: rnd.uniform(0.1, 0.9) for i in range(1, n + 1)} | {y[i]: rnd.uniform(0, 1) for i in range(1, n + 1)}
        a = result.subs(vals).doit().subs(sub)
        b = textbook.subs(vals).doit().subs(sub)
        assert abs(float(a) - float(b)) < 1e-9
