"""derive's expression classes print themselves to SymPy's own printers (sympy.latex, str, sympy.pretty)
as derive's documents show them (issue 19.4)."""
import pytest
import sympy as sp

import derive
from derive.expr import Held, SumExcept
from derive.render.printers import latex as derive_latex

z, y = sp.IndexedBase("z"), sp.IndexedBase("y")
j, k, K, T = sp.symbols("j k K T", integer=True, positive=True)


def every_step_expression():
    for name in ("softmax_ce", "softmax_se", "softmax_ce_hessian", "mlp_backprop"):
        d = derive.entry(name)()
        for chain in (d, *d.lemmas):
            for step in chain.steps:
                yield name, step.expr


def test_sympy_latex_of_every_step_has_no_internal_names():
    seen = {SumExcept: 0, Held: 0}
    for name, expr in every_step_expression():
        tex = sp.latex(expr)
        for cls in seen:
            seen[cls] += bool(expr.atoms(cls))
        assert "operatorname{Held}" not in tex and "operatorname{SumExcept}" not in tex, (name, tex)
        assert "Held(" not in str(expr) and "SumExcept(" not in str(expr), (name, str(expr))
        assert "Held" not in sp.pretty(expr) and "SumExcept" not in sp.pretty(expr)
    assert all(seen.values()), seen  # the catalogue's steps do hold both classes: the loop checked something


def test_a_sum_except_prints_as_derive_prints_it():
    s = SumExcept(y[j] * z[j], (j, 1, K), k)
    assert sp.latex(s) == r"\sum_{j \neq k} {y}_{j} {z}_{j}"
    assert derive_latex(s) == r"\sum_{j \neq k} y_{j} z_{j}"
    assert sp.latex(SumExcept(-y[j], (j, 1, K), k)) == r"\sum_{j \neq k} \left(- {y}_{j}\right)"
    assert str(s) == "sum_{j!=k} (y[j]*z[j])"
    picture = sp.pretty(s)
    assert "j ≠ k" in picture.splitlines()[-1] and "y[j]⋅z[j]" in picture
    assert "j != k" in sp.pretty(s, use_unicode=False)


def test_a_held_expression_is_one_bracketed_factor():
    h = Held(z[k] + 1)
    assert sp.latex(h) == r"\left({z}_{k} + 1\right)"
    assert str(h) == "[z[k] + 1]" and sp.pretty(h) == "[z[k] + 1]"
    assert sp.latex(Held(z[k])) == "{z}_{k}" and str(Held(z[k])) == "z[k]"


def test_building_blocks_print_in_the_grammar_spelling():
    assert str(derive.softmax(z[j] / T, j)[k]) == "softmax(z/T)[k]"
    assert str(derive.log_softmax(z[j], j)[k]) == "log_softmax(z)[k]"
    assert str(derive.sigmoid(z[k])) == "sigmoid(z[k])"
    assert sp.latex(derive.softmax(z[j], j)[k]) == r"\operatorname{softmax}\left(z\right)_{k}"
    assert sp.latex(derive.log_softmax(z[j], j)[k]) == r"\operatorname{log\_softmax}\left(z\right)_{k}"
    assert sp.latex(derive.sigmoid(z[k]) ** 2) == r"\sigma\left({z}_{k}\right)^{2}"
    assert sp.pretty(derive.sigmoid(z[k])) == "σ(z[k])"


@pytest.mark.parametrize("text", ["softmax(z)[k]", "softmax(z/T)[k]", "log_softmax(z)[k]"])
def test_str_of_a_block_reads_back_as_the_same_cost(text):
    cost = f"-sum(y[k]*log({text}), k)" if "log_softmax" not in text else f"-sum(y[k]*{text}, k)"
    from derive.expr import SlotVector
    from derive.parse import parse_expression
    blocks = parse_expression(cost).expr.atoms(SlotVector)
    assert blocks and {str(b) for b in blocks} == {text}
    assert parse_expression(cost.replace(text, str(next(iter(blocks))))).expr == parse_expression(cost).expr
