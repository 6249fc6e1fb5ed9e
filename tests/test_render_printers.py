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


# -- a textbook's notation (issue 17, items 4 and 5) -------------------------------------------------

eps, gamma, T = sp.symbols("eps gamma T", positive=True)
s, a_L = sp.IndexedBase("s"), sp.IndexedBase("a^L")

NOTATION = [
    (eps * o[k] * y[j], r"\varepsilon o_{k} y_{j}", "eps*o_k*y_j"),  # was 'eps o_{k} y_{j}', set as e p s o_k y_j
    (sp.Symbol("epsilon") / K, r"\frac{\varepsilon}{K}", "epsilon/K"),
    ((1 - o[j]) ** gamma, r"\left(1 - o_{j}\right)^{\gamma}", "(1 - o_j)**gamma"),
    (sp.Symbol("lam") * sp.Symbol("tau") + sp.Symbol("alpha") * sp.Symbol("beta") * sp.Symbol("sigma"),
     r"\alpha \beta \sigma + \lambda \tau", "alpha*beta*sigma + lam*tau"),
    (sp.Symbol("eps_2"), r"\varepsilon_{2}", "eps_2"),
    (sp.Symbol("lr") * o[k], r"\mathit{lr} o_{k}", "lr*o_k"),  # a word is one word, not l times r
    (sp.IndexedBase("y_true")[j], r"y_{\mathrm{true},j}", "y_true_j"),  # one subscript, never y_{true}_{j}
    # coefficients before what varies with an index, and (1 - eps) y_j + eps/K
    (y[j] * (1 - eps) + eps / K, r"\left(1 - \varepsilon\right) y_{j} + \frac{\varepsilon}{K}",
     "(1 - eps)*y_j + eps/K"),
    ((1 - o[j]) ** gamma * y[j] * sp.log(o[j]), r"y_{j} \left(1 - o_{j}\right)^{\gamma} \log o_{j}",
     "y_j*(1 - o_j)**gamma*log(o_j)"),
    ((1 - y[j]) * sp.log(1 - s[j]) + y[j] * sp.log(s[j]),
     r"y_{j} \log s_{j} + \left(1 - y_{j}\right) \log\left(1 - s_{j}\right)", "y_j*log(s_j) + (1 - y_j)*log(1 - s_j)"),
    # a power of a^L_k is bracketed: not {a^{L}}_{k}^{2}, which sets the 2 beside the L
    (a_L[k] ** 2, r"\left(a^{L}_{k}\right)^{2}", "a^L_k**2"),
    (a_L[k] * (1 - a_L[k]), r"a^{L}_{k} \left(1 - a^{L}_{k}\right)", "a^L_k*(1 - a^L_k)"),
    # a term that another extends comes first: the focal loss's 1 - p_t - gamma p_t log p_t
    (1 - gamma * sp.Symbol("p_t") * sp.log(sp.Symbol("p_t")) - sp.Symbol("p_t"),
     r"1 - p_{t} - \gamma p_{t} \log p_{t}", "1 - p_t - gamma*p_t*log(p_t)"),
    (sp.KroneckerDelta(j, k) * o[k] * o[j] + sp.KroneckerDelta(j, k) * o[k],
     r"\delta_{jk} o_{k} + \delta_{jk} o_{j} o_{k}", "delta_jk*o_k + delta_jk*o_j*o_k"),
    # the sigmoid taken out of its square goes first: 1/(1 + e^{-z}) e^{-z}/(1 + e^{-z})
    (Held(1 / (1 + sp.exp(-z[j]))) * Held(sp.exp(-z[j]) / (1 + sp.exp(-z[j]))),
     r"\frac{1}{1 + e^{- z_{j}}} \frac{e^{- z_{j}}}{1 + e^{- z_{j}}}", "[1/(1 + exp(-z_j))]*[exp(-z_j)/(1 + exp(-z_j))]"),
]


@pytest.mark.parametrize("expr, tex, plain", NOTATION, ids=[c[2] for c in NOTATION])
def test_textbook_notation_latex(expr, tex, plain):
    assert latex(expr) == tex


@pytest.mark.parametrize("expr, tex, plain", NOTATION, ids=[c[2] for c in NOTATION])
def test_textbook_notation_text(expr, tex, plain):
    assert text(expr) == plain


def test_greek_parameters_print_as_greek_in_every_format():
    """label_smoothing's eps and focal_loss's gamma: no format shows the letters e p s in math."""
    import re

    import derive
    ls, fl = derive.label_smoothing(), derive.focal_loss()
    for d, letter in ((ls, r"\varepsilon"), (fl, r"\gamma")):
        tex, md, page = d.to_latex(), d.to_markdown(), d.to_html()
        for out in (tex, md, page):
            assert letter in out
            maths = re.findall(r"\$\$(.*?)\$\$|\\begin\{align\*?\}(.*?)\\end\{align\*?\}|class=\"math [a-z]+\">([^<]*)<",
                               out, re.S)
            assert maths and not any(re.search(r"(?<![\\a-z])eps(?![a-z])", "".join(m)) for m in maths)
    assert "E := -sum_{j=1..K} (((1 - eps)*y_j + eps/K)*log(o_j))" in ls.to_text()  # ASCII keeps the name
