"""Issue 14: a cost written with decimal constants prints them as written (LeCun's 1.7159 tanh(2x/3)), in every
renderer, while verify and compile use their exact values (derive.expr.Decimal)."""
import pickle
import re

import numpy as np
import sympy as sp

import derive
from derive.expr import Decimal, exact
from derive.parse import parse_expression
from derive.render.printers import latex, text

LECUN = "0.5*sum((1.7159*tanh(2*z[j]/3) - y[j])**2, j)"


def test_a_decimal_is_parsed_as_one_exact_constant():
    e = parse_expression("1.7159*tanh(2*z[j]/3) + 0.1*z[j] + 0.5 + 2.0").expr
    decimals = e.atoms(Decimal)
    assert {d.value for d in decimals} == {sp.Rational(17159, 10000), sp.Rational(1, 10)}
    assert {d.digits for d in decimals} == {"1.7159", "0.1"}
    assert not e.has(sp.Rational(17159, 10000))  # kept whole: not 17159/10000
    assert e.has(sp.Rational(5, 2))  # 0.5 + 2.0: a fraction no longer than its decimal (1/2) is the fraction
    assert exact(e).atoms(Decimal) == set() and exact(e).has(sp.Rational(1, 10))
    assert str(parse_expression(".25 + 1.5e-1").expr) == "2/5"  # 1/4 and 3/20: the fraction, as before


def test_a_decimal_is_a_number_with_its_exact_value():
    d = Decimal(sp.Rational(17159, 10000), "1.7159")
    assert d.is_number and d.is_positive and not d.free_symbols
    assert d == Decimal(sp.Rational(17159, 10000), "1.7159") and hash(d) == hash(pickle.loads(pickle.dumps(d)))
    assert d.evalf(30) == sp.Float("1.7159", 30)
    assert sp.diff(d * sp.Symbol("x") ** 2, sp.Symbol("x")) == 2 * d * sp.Symbol("x")
    assert str(d * d) == "1.7159**2" and latex(d ** 2) == "1.7159^{2}"


def test_lecun_tanh_prints_its_decimals_in_every_renderer():
    d = derive.gradient(LECUN)
    assert latex(d.result) == r"\frac{2 \cdot 1.7159 \left(1 - t_{k}^{2}\right) \left(1.7159 t_{k} - y_{k}\right)}{3}"
    assert text(d.result) == "2*1.7159*(1 - t_k**2)*(1.7159*t_k - y_k)/3"
    for page in (d.to_latex(), d.to_markdown(), d.to_html(), d.to_text(), d.to_json()):
        assert "1.7159" in page
        assert not re.search(r"17159|294431281|10000", page), page
    assert sp.count_ops(d.result) <= derive.gradient("sum((tanh(z[j]) - y[j])**2, j)").result.count_ops() + 6


def test_decimals_are_exact_for_verify_and_compile():
    d = derive.gradient(LECUN)
    assert d.verify(Ks=(2, 3), points=1).ok
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    t = np.tanh(2 * z / 3)
    book = 2 / 3 * 1.7159 * (1 - t ** 2) * (1.7159 * t - y)  # LeCun et al. 1998, written out here
    np.testing.assert_allclose(d.compile()(z=z, y=y), book, rtol=1e-13, atol=1e-13)


def test_a_decimal_that_multiplies_out_to_a_shorter_number_does():
    """2 * 0.1 is 1/5, 10 * 0.05 is 1/2, as a textbook writes them; 0.5 is 1/2 from the start."""
    half = derive.gradient("0.5*sum((tanh(z[j]) - y[j])**2, j)")
    assert str(half.result) == "(1 - t[k]**2)*(t[k] - y[k])"
    fifth = derive.gradient("0.1*sum((tanh(z[j]) - y[j])**2, j)")
    assert text(fifth.result) == "(1 - t_k**2)*(t_k - y_k)/5" and fifth.verify(Ks=(2,), points=1).ok
    assert str(derive.gradient("0.05*sum((tanh(z[j]) - y[j])**2, j)*10").result) == "(1 - t[k]**2)*(t[k] - y[k])"
    smoothed = derive.gradient("-sum((0.9*y[j] + 0.1/K)*log(softmax(z)[j]), j)")
    assert "0.9" in text(smoothed.result) and "0.1" in text(smoothed.result)
    assert smoothed.verify(Ks=(2,), points=1).ok


def test_a_sympy_cost_with_floats_reads_them_as_the_decimals_they_print_as():
    z, y, j = sp.IndexedBase("z"), sp.IndexedBase("y"), sp.Symbol("j")
    cost = 0.5 * sp.Sum((1.7159 * sp.tanh(2 * z[j] / 3) - y[j]) ** 2, (j, 1, sp.Symbol("K")))
    d = derive.gradient(cost)
    assert d.result == derive.gradient(LECUN).result
    assert text(d.result) == "2*1.7159*(1 - t_k**2)*(1.7159*t_k - y_k)/3"
