"""Exact strings for the text, LaTeX and Markdown renderings, and the rules renderers follow."""
import re

import pytest
import sympy as sp

import derive

LEMMA2_LATEX = r"""\paragraph{Lemma 2: Softmax partial, different indices.} For $j \neq k$.
\begin{align}
\frac{\partial o_{j}}{\partial z_{k}} &= \frac{\partial}{\partial z_{k}} \left(\frac{e^{z_{j}}}{\sum_{l=1}^{K} e^{z_{l}}}\right) \tag*{\small definition of the softmax} \\
&= \frac{\left(\sum_{l=1}^{K} e^{z_{l}}\right) \frac{\partial}{\partial z_{k}} e^{z_{j}} - e^{z_{j}} \frac{\partial}{\partial z_{k}} \sum_{l=1}^{K} e^{z_{l}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \tag*{\small quotient rule: $\textstyle \frac{\partial}{\partial x} \left(\frac{u}{v}\right) = \frac{v \frac{\partial u}{\partial x} - u \frac{\partial v}{\partial x}}{v^{2}}$} \\
&= \frac{\left(\sum_{l=1}^{K} e^{z_{l}}\right) \frac{\partial}{\partial z_{k}} e^{z_{j}} - e^{z_{j}} \sum_{l=1}^{K} \frac{\partial}{\partial z_{k}} e^{z_{l}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \tag*{\small move the derivative inside the sum} \\
&= \frac{e^{z_{j}} \delta_{jk} \sum_{l=1}^{K} e^{z_{l}} - e^{z_{j}} \sum_{l=1}^{K} e^{z_{l}} \delta_{kl}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \tag*{\small elementary derivatives; distinct variables are independent} \\
&= - \frac{e^{z_{j}} e^{z_{k}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \tag*{\parbox[t]{321pt}{\raggedleft \small the Kronecker delta picks one term of the sum; the Kronecker delta vanishes for different indices; using $\textstyle 1 \le k \le K$, $\textstyle j \neq k$}} \\
&= - o_{j} o_{k} \qquad \text{\small fold the definition of the softmax back in: $\textstyle \frac{e^{z_{j}}}{\sum_{l=1}^{K} e^{z_{l}}} = o_{j}$} \label{softmax_ce:lemma-2}
\end{align}
"""

LEMMA2_MD = r"""### Lemma 2: Softmax partial, different indices

For $j \neq k$:

$$
\begin{aligned}
\frac{\partial o_{j}}{\partial z_{k}} &= \frac{\partial}{\partial z_{k}} \left(\frac{e^{z_{j}}}{\sum_{l=1}^{K} e^{z_{l}}}\right) \\
&\qquad {\small \text{definition of the softmax}} \\
&= \frac{\left(\sum_{l=1}^{K} e^{z_{l}}\right) \frac{\partial}{\partial z_{k}} e^{z_{j}} - e^{z_{j}} \frac{\partial}{\partial z_{k}} \sum_{l=1}^{K} e^{z_{l}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\
&\qquad {\small \text{quotient rule: } \frac{\partial}{\partial x} \left(\frac{u}{v}\right) = \frac{v \frac{\partial u}{\partial x} - u \frac{\partial v}{\partial x}}{v^{2}}} \\
&= \frac{\left(\sum_{l=1}^{K} e^{z_{l}}\right) \frac{\partial}{\partial z_{k}} e^{z_{j}} - e^{z_{j}} \sum_{l=1}^{K} \frac{\partial}{\partial z_{k}} e^{z_{l}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\
&\qquad {\small \text{move the derivative inside the sum}} \\
&= \frac{e^{z_{j}} \delta_{jk} \sum_{l=1}^{K} e^{z_{l}} - e^{z_{j}} \sum_{l=1}^{K} e^{z_{l}} \delta_{kl}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\
&\qquad {\small \text{elementary derivatives; distinct variables are independent}} \\
&= - \frac{e^{z_{j}} e^{z_{k}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\
&\qquad {\small \text{the Kronecker delta picks one term of the sum;}} \\
&\qquad {\small \text{the Kronecker delta vanishes for different indices; using } 1 \le k \le K \text{, } j \neq k} \\
&= - o_{j} o_{k} \\
&\qquad {\small \text{fold the definition of the softmax back in: } \frac{e^{z_{j}}}{\sum_{l=1}^{K} e^{z_{l}}} = o_{j}}
\end{aligned}
$$

"""

LEMMA1_TEXT = """Lemma 1: Softmax partial, same index
  do_k/dz_k
    = d/dz_k(exp(z_k)/sum_{l=1..K} exp(z_l))
        [definition] definition of the softmax
    = ((sum_{l=1..K} exp(z_l))*d/dz_k(exp(z_k)) - exp(z_k)*d/dz_k(sum_{l=1..K} exp(z_l)))/(sum_{l=1..K} exp(z_l))**2
        [quotient rule] quotient rule: d/dx(u/v) = (v*du/dx - u*dv/dx)/v**2
    = ((sum_{l=1..K} exp(z_l))*d/dz_k(exp(z_k)) - exp(z_k)*sum_{l=1..K} d/dz_k(exp(z_l)))/(sum_{l=1..K} exp(z_l))**2
        [linearity] move the derivative inside the sum
    = (exp(z_k)*sum_{l=1..K} exp(z_l) - exp(z_k)*sum_{l=1..K} (exp(z_l)*delta_kl))/(sum_{l=1..K} exp(z_l))**2
        [differentiate] elementary derivatives; distinct variables are independent
    = (exp(z_k)*sum_{l=1..K} exp(z_l) - exp(2*z_k))/(sum_{l=1..K} exp(z_l))**2
        [Kronecker delta] the Kronecker delta picks one term of the sum; using 1 <= k <= K
    = [exp(z_k)/sum_{l=1..K} exp(z_l)]*[(sum_{l=1..K} exp(z_l) - exp(z_k))/sum_{l=1..K} exp(z_l)]
        [factor] take out the common factor
    = o_k*(1 - o_k)
        [fold definition] fold the definition of the softmax back in: exp(z_j)/sum_{l=1..K} exp(z_l) = o_j

"""

MAIN_TAIL_TEXT = """    = o_k*(y_k + sum_{j!=k} y_j) - y_k
        [collect terms] collect the terms with a common factor
    = o_k*sum_{j=1..K} y_j - y_k
        [join the sum] the split-off term joins the rest of the sum; using 1 <= k <= K
    = o_k - y_k
        [assumption] use the assumption that the entries of y sum to one; using sum_{j=1..K} y_j = 1

Result
  dE/dz_k = o_k - y_k

Assumptions
  1 <= k <= K    (the index k lies in the range of the sum; used in Lemma 1, Lemma 2 and the derivation)
  sum_{j=1..K} y_j = 1    (the entries of y sum to one; used in the derivation)
"""

MD_RESULT = r"""### Result

$$
\frac{\partial E}{\partial z_{k}} = o_{k} - y_{k}
$$

### Assumptions

- $1 \le k \le K$: the index $k$ lies in the range of the sum (used in Lemma 1, Lemma 2 and the derivation)
- $\sum_{j=1}^{K} y_{j} = 1$: the entries of $y$ sum to one (used in the derivation)
"""


def test_text(ce):
    out = ce.to_text()
    assert out.startswith("Gradient of softmax with cross-entropy loss\n"
                          "===========================================\n")
    assert LEMMA1_TEXT in out
    assert out.endswith(MAIN_TAIL_TEXT)
    assert out.isascii()


def test_latex_fragment(ce):
    out = ce.to_latex()
    assert LEMMA2_LATEX in out
    assert out.count(r"\begin{align}") == out.count(r"\end{align}") == 5
    assert r"\documentclass" not in out
    assert out.isascii()


def test_latex_standalone(ce):
    out = ce.to_latex(standalone=True)
    assert out.startswith("\\documentclass[10pt]{article}\n")
    assert out.endswith("\\end{document}\n")


def test_jupyter(ce):
    tex = ce._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}\n\\frac{\\partial E}{\\partial z_{k}} &= ")
    assert tex.endswith("\\end{aligned}$$")
    assert ce._repr_markdown_() == ce.to_markdown()


def test_markdown(ce):
    out = ce.to_markdown()
    assert out.startswith("## Gradient of softmax with cross-entropy loss\n\n")
    assert LEMMA2_MD in out
    assert out.endswith(MD_RESULT)
    headings = [line for line in out.splitlines() if line.startswith("#")]
    assert headings == ["## Gradient of softmax with cross-entropy loss", "### Definitions",
                        "### Lemma 1: Softmax partial, same index", "### Lemma 2: Softmax partial, different indices",
                        "### Derivation", "### Result", "### Assumptions"]


def test_markdown_math_is_portable(ce):
    out = ce.to_markdown()
    assert out.isascii()
    for banned in (r"\bm", r"\label", r"\tag", r"\eqref", r"\mbox", "align*"):
        assert banned not in out
    blocks = re.findall(r"\$\$\n(.*?)\n\$\$", out, flags=re.S)
    assert len(blocks) == 5
    for block in blocks[:-1]:
        assert block.startswith(r"\begin{aligned}") and block.endswith(r"\end{aligned}")
        assert block.count(r"\left") == block.count(r"\right")


def test_heading_level(ce):
    assert ce.to_markdown(heading_level=1).startswith("# Gradient")
    with pytest.raises(derive.ArgumentError) as err:
        ce.to_markdown(heading_level=9)
    assert err.value.argument == "heading_level"


@pytest.mark.parametrize("method", ["to_text", "to_latex", "to_markdown", "to_json"])
def test_unknown_settings_are_named(ce, method):
    """The methods spell out their settings, so an unknown one is Python's own TypeError, naming it."""
    with pytest.raises(TypeError, match="colour"):
        getattr(ce, method)(colour=True)


@pytest.mark.parametrize("renderer", ["text", "latex", "markdown", "json"])
def test_unknown_settings_are_named_by_the_renderers(ce, renderer):
    import importlib
    render = getattr(importlib.import_module(f"derive.render.{renderer}"), f"render_{renderer}")
    with pytest.raises(derive.ArgumentError) as err:
        render(ce, colour=True)
    assert err.value.argument == "colour"


def test_setting_types_are_checked(ce):
    with pytest.raises(derive.ArgumentTypeError) as err:
        ce.to_latex(standalone="yes")
    assert err.value.argument == "standalone"


def test_without_justifications(ce):
    assert "[quotient rule]" not in ce.to_text(justifications=False)
    assert "quotient rule" not in ce.to_latex(justifications=False)
    assert "quotient rule" not in ce.to_markdown(justifications=False)


@pytest.mark.parametrize("name", [e.name for e in derive.catalogue()])
def test_renderers_compute_nothing(name, monkeypatch):
    """Rendering must not differentiate, simplify or substitute: it formats what the steps hold
    (matrix forms included: evaluating a MatMul to read its sign is computing)."""
    d = derive.entry(name)()

    def forbidden(*args, **kwargs):
        raise AssertionError("a renderer computed mathematics")
    for fn in ("diff", "simplify", "cancel", "expand", "factor", "together"):
        monkeypatch.setattr(sp, fn, forbidden)
    for cls in (sp.Basic, sp.Derivative, sp.MatrixExpr, sp.MatMul, sp.MatAdd):
        monkeypatch.setattr(cls, "doit", forbidden)
    monkeypatch.setattr(sp.Basic, "subs", forbidden)
    for method in ("to_text", "to_latex", "to_markdown", "to_json", "_repr_latex_", "_repr_html_"):
        assert getattr(d, method)()
    for x in d.walk():  # Jupyter's display of each step (with the lemmas it cites)
        assert all(step._repr_html_() for step in x.steps)


def test_justifications_are_plain_words(ce):
    """Plain words, or (a Typeset) words with inline mathematics, 'split off the term $j = k$ from the sum'."""
    from derive.model import Typeset
    for d in ce.walk():
        for step in d.steps:
            words = step.justification
            if isinstance(words, Typeset):
                assert words.count("$") % 2 == 0 and "=" not in "".join(t for k, t in words.pieces() if k == "text")
                words = words.plain
            assert re.fullmatch(r"[A-Za-z0-9 ,.;:()'=+-]+", words), words


def test_the_hessian_comes_before_the_hessian_vector_product_that_builds_on_it():
    from derive.render.layout import blocks
    headings = [b.heading for b in blocks(derive.softmax_ce_hessian())]
    assert headings[-3:] == ["Derivation", "The Hessian-vector product", "Positive semidefiniteness"]
    assert [b.heading for b in blocks(derive.mlp_backprop())][-1].startswith("BP4")  # made of parts only


def test_a_result_shows_its_index_form_beside_its_matrix_form():
    from derive.render.printers import latex
    vjp = derive.softmax_vjp()
    md = vjp.to_markdown().split("### Result")[1]
    index, jacobian, matrix = latex(vjp.steps[-3].expr), latex(vjp.steps[-2].expr), latex(vjp.result)
    assert f"= {index} = {jacobian} = {matrix}" in md  # every matrix form the chain closes with, in its order
    assert jacobian == r"\left[\left(\operatorname{diag}\left(o\right) - o o^{T}\right) g\right]_{k}"
    assert matrix == r"\left[o \circ \left(g - \left(o^{T} g\right) \mathbf{1}\right)\right]_{k}"
    assert "= o_k*(delta_km - o_m) = [diag(o) - o*o^T]_km" in derive.softmax_ce_hessian().to_text()
    assert "dC/db^l_j = [delta^l]_j\n" in derive.mlp_backprop().to_text()  # no index form beside a bare entry
    assert r"\label{softmax_vjp:result}" in vjp.to_latex() and index in vjp.to_latex().split("Result.")[1]


def test_a_planned_heading_is_typeset_and_a_users_dollar_is_a_character():
    """Issue 17.5: 'Derivative of o_j with respect to z_k' in typeset text, plain only in the text document."""
    d = derive.focal_loss()
    assert "### Lemma 1: Derivative of $o_{j}$ with respect to $z_{k}$" in d.to_markdown()
    assert r"\paragraph{Lemma 1: Derivative of $o_{j}$ with respect to $z_{k}$.}" in d.to_latex()
    assert '<span class="math inline">o_{j}</span> with respect to' in d.to_html()
    assert "Lemma 1: Derivative of o_j with respect to z_k\n" in d.to_text()
    own = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", title="Costs $5", description="a $ b $ c")
    assert r"Costs \$5" in own.to_latex(standalone=True) and "a \\$ b \\$ c" in own.to_latex()
    assert "# Costs \\$5" in own.to_markdown()


def test_the_kronecker_delta_is_an_indicator_where_delta_is_the_error():
    """mlp_backprop's error is delta^l: its Kronecker deltas print as 1[j = m], one letter for one thing."""
    mlp = derive.mlp_backprop().to_latex()
    assert r"\delta^{l}" in mlp and r"\mathbf{1}\left[j = m\right]" in mlp and r"\delta_{" not in mlp
    assert "1[j = m]" in derive.mlp_backprop().to_text()
    assert r"\delta_{kl}" in derive.softmax_ce().to_latex()  # no error delta there: the Kronecker delta


@pytest.fixture(scope="module")
def hessian():
    return derive.softmax_ce_hessian()


def test_a_bound_is_printed_as_a_bound_in_every_format(hessian):
    """Issue 17.6: the last link of v^T H v >= 0 is a bound: \\ge in LaTeX, Markdown, HTML, Jupyter and Sphinx,
    >= in text and JSON; every other row, and every other result, is an equality."""
    from derive.render.nodes import derivation_nodes
    text = hessian.to_text()
    assert "\n    >= 0\n" in text and text.count("    >= ") == 1
    assert "(v_m*d^2E/(dz_k dz_m))) >= 0\n" in text.split("Results")[1]
    assert hessian.to_latex().count(r"&\ge 0") == 2  # the row and the result
    assert hessian.to_markdown().count(r"&\ge 0") == 2
    assert '<span class="math display">\\ge 0</span>' in hessian.to_html()  # the row
    assert hessian.to_html().count(r"\partial z_{m}} \ge 0</span>") >= 1  # the result
    jupyter = hessian._repr_html_()
    assert r"\partial z_{m}}} \ge 0\)" in jupyter  # the row, after the phantom left-hand side
    assert jupyter.count(r"\partial z_{m}} \ge 0\)") == 2  # the part's summary, and the result
    sphinx = "".join(str(n) for n in derivation_nodes(hessian, "h"))
    assert sphinx.count("\n&\\ge 0") == 1 and sphinx.count(r"\ge 0") == 3  # row, result, description
    psd = hessian.parts[-1]
    assert psd.steps[-1]._repr_html_().count(r"\ge 0") == 1
    doc = hessian.to_dict()
    part = next(p for p in doc["parts"] if p["name"] == "semidefinite")
    assert part["relation"] == ">=" and [s["relation"] for s in part["steps"]][-2:] == ["=", ">="]
    assert doc["relation"] == "=" and all(s["relation"] == "=" for s in doc["steps"])
    ce = derive.softmax_ce()
    assert r"&\ge" not in ce.to_latex() + ce.to_markdown() and "\n    >= " not in ce.to_text()


def test_an_assumption_s_words_are_typeset_where_the_format_typesets_and_plain_in_text():
    """The words derive writes for an assumption name their variables: set as mathematics in LaTeX,
    Markdown and HTML ('the entries of $y$ sum to one'), written plainly in text and JSON."""
    d = derive.softmax_ce()
    assert "the entries of $y$ sum to one" in d.to_markdown()
    assert "the index $k$ lies in the range of the sum" in d.to_latex()
    assert 'the index <span class="math inline">k</span> lies' in d.to_html()
    assert "the entries of y sum to one" in d.to_text() and "$" not in d.to_text()
    assert "the entries of y sum to one" in d.to_json()
