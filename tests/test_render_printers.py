"""Exact strings for the expression printers."""
import pytest
import sympy as sp

from derive.expr import Held, SumExcept
from derive.render.printers import latex, text

K = sp.Symbol("K", integer=True, positive=True)
j, k, l = sp.symbols("j k l", integer=True, positive=True)
z, o, y = sp.IndexedBase("z"), sp.IndexedBase("o"), sp.IndexedBase("y")
S = sp.Sum(sp.exp(z[l]), (l, 1, K))

CASES = [
    (o[k], "o_{k}", "o_k"),
    (sp.Derivative(sp.Symbol("E"), z[k]), r"\frac{\partial E}{\partial z_{k}}", "dE/dz_k"),
    (sp.Derivative(sp.log(o[j]), z[k]), r"\frac{\partial}{\partial z_{k}} \log o_{j}", "d/dz_k(log(o_j))"),
    (-y[k] / o[k] * sp.Derivative(o[k], z[k]),
     r"- \frac{y_{k}}{o_{k}} \frac{\partial o_{k}}{\partial z_{k}}", "-(y_k/o_k)*do_k/dz_k"),
    (SumExcept(y[j], (j, 1, K), k), r"\sum_{j \neq k} y_{j}", "sum_{j!=k} y_j"),
    (SumExcept(-o[k] * y[j], (j, 1, K), k), r"\sum_{j \neq k} \left(- o_{k} y_{j}\right)", "sum_{j!=k} (-o_k*y_j)"),
    (sp.Sum(y[j] * sp.log(o[j]), (j, 1, K)), r"\sum_{j=1}^{K} y_{j} \log o_{j}", "sum_{j=1..K} (y_j*log(o_j))"),
    (o[k] * (1 - o[k]), r"o_{k} \left(1 - o_{k}\right)", "o_k*(1 - o_k)"),
    (y[k] / o[k] * Held(o[k] * (1 - o[k])), r"\frac{y_{k}}{o_{k}} \left(o_{k} \left(1 - o_{k}\right)\right)",
     "(y_k/o_k)*[o_k*(1 - o_k)]"),
    (sp.exp(z[j]) / S**2, r"\frac{e^{z_{j}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}}",
     "exp(z_j)/(sum_{l=1..K} exp(z_l))**2"),
    (sp.KroneckerDelta(j, k), r"\delta_{jk}", "delta_jk"),
    (o[k] - y[k], "o_{k} - y_{k}", "o_k - y_k"),
    (sp.Ne(j, k, evaluate=False), r"j \neq k", "j != k"),
    (sp.And(sp.Le(1, k, evaluate=False), sp.Le(k, K, evaluate=False), evaluate=False), r"1 \le k \le K", "1 <= k <= K"),
    (sp.Eq(sp.Sum(y[j], (j, 1, K)), 1, evaluate=False), r"\sum_{j=1}^{K} y_{j} = 1", "sum_{j=1..K} y_j = 1"),
    (sp.IndexedBase("Theta")[k, j], r"\Theta_{kj}", "Theta_kj"),
]


@pytest.mark.parametrize("expr, tex, plain", CASES, ids=[c[2] for c in CASES])
def test_latex(expr, tex, plain):
    assert latex(expr) == tex


@pytest.mark.parametrize("expr, tex, plain", CASES, ids=[c[2] for c in CASES])
def test_text(expr, tex, plain):
    assert text(expr) == plain
