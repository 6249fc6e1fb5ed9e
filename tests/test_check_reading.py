"""derive check reads what people write (issue 15 items 2-3): the layouts and notation of the public hand
derivations collected for the issue, each reproduced in our own words (tests/data/check_docs/t12..t17 hold the
whole documents; bench/bench_check.py scores them against their truth in test_check.py)."""
from pathlib import Path

import pytest
import sympy as sp

import derive
from derive.checking import check
from derive.checking.extract import chains
from derive.checking.latex import Names, Unreadable, parse_latex
from derive.checking.reading import free_indices

DOCS = Path(__file__).resolve().parent / "data" / "check_docs"
SOFTMAX_O = "$$o_k = \\frac{e^{z_k}}{\\sum_{j=1}^K e^{z_j}}$$\n\n"


def read(text: str) -> sp.Expr:
    return parse_latex(text, Names())


def verdicts(text: str) -> list:
    return [(c.line, c.verdict) for c in check(text).claims]


# -- layout -----------------------------------------------------------------------------------------

def test_mathjax_script_blocks_are_display_math():
    claims = check((DOCS / "t12_script_tags_word_subscripts.md").read_text()).claims
    assert [c.verdict for c in claims] == ["holds", "holds"]   # \underset{\text{..}}{=} and \underset{..}= too


def test_a_reason_under_an_equals_sign_is_not_math():
    chain, = chains("$$a \\underset{\\text{chain rule}}= b \\overset{(2)}{=} c$$\n")
    assert [p.text for p in chain.pieces] == ["a", "b", "c"]


def test_kramdown_inline_condition_qualifies_the_block_after_it():
    text = "The scores are $$q_j = \\frac{e^{a_j}}{\\sum_{k=1}^N e^{a_k}}$$ here.\n\nIf $$i=j$$,\n\n" \
           "$$\\frac{\\partial q_i}{\\partial a_j} = q_j(1-q_j)$$\n"
    assert verdicts(text) == [(5, "holds")]
    alone = chains("$$i = j$$\n")   # on its own line it is still a display (a claim the checker may refuse)
    assert len(alone) == 1


def test_a_bullet_holding_only_a_formula_is_set_apart():
    found = chains("Two derivatives:\n\n- $\\frac{\\partial e^{a_i}}{\\partial a_j} = e^{a_i} \\delta_{ij}$\n"
                   "- in words, $x = 1$ here\n")
    assert [c.display for c in found] == [True, False]


# -- notation ---------------------------------------------------------------------------------------

def test_a_word_subscript_is_part_of_the_name():
    y = read("Y_{\\text{pred}}^{(j)}")
    assert isinstance(y, sp.Indexed) and str(y.base) == "Y_pred"
    assert read("e^{x_\\text{max} - x_\\text{max}}") == 1


def test_a_sign_right_after_the_caret_is_the_exponent():
    t = sp.Symbol("t")
    assert read("e^-t") == sp.exp(-t)
    assert read("1 / (1 + e^-t)") == 1 / (1 + sp.exp(-t))
    claims = check((DOCS / "t13_plain_text_steps.md").read_text()).claims
    assert [c.verdict for c in claims] == ["holds"] * 4 + ["wrong"]


def test_empty_sum_limits_and_a_bound_before_the_index():
    assert read("\\sum_{}^{} e^{z_k}") == read("\\sum e^{z_k}")
    assert read("\\sum^K_{k=1} e^{z_k}") == read("\\sum_{k=1}^K e^{z_k}")


def test_an_entry_in_brackets_touches_its_name():
    n = sp.Symbol("n", integer=True, positive=True)
    assert read("x[n]") == sp.IndexedBase("x")[n]
    assert str(read("x [n]")) == "n*x"   # with a space: a product, as before
    assert read("f(x)[n]") == sp.IndexedBase("f")[n]


def test_indicators_in_braces_and_as_a_subscript_of_one():
    i, j, k = sp.symbols("i j k", integer=True, positive=True)
    assert read("1\\{k = i\\}") == sp.KroneckerDelta(k, i)
    assert read("1_{i=j}") == sp.KroneckerDelta(i, j)
    with pytest.raises(Unreadable):
        read("1_{i}")


def test_an_entry_with_its_condition_in_the_subscript():
    i = sp.Symbol("i", integer=True, positive=True)
    assert read("o_{k=i}") == sp.IndexedBase("o")[i]
    text = SOFTMAX_O + "$$\\frac{\\partial o_{k \\not= i}}{\\partial z_i} = - o_k o_i$$\n"
    claim, = check(text).claims
    assert claim.verdict == "holds" and "different" in claim.reason   # at k = i it would be wrong: k != i is read


def test_tex_over_and_a_period_between_factors():
    p, q = sp.IndexedBase("p"), sp.IndexedBase("q")
    i, j = sp.symbols("i j", integer=True, positive=True)
    assert read("{a \\over b}") == sp.Symbol("a") / sp.Symbol("b")
    assert read("- p_j.q_i") == -p[j] * q[i]
    with pytest.raises(Unreadable):
        read("p_1 + p_2 + ... + q_3")   # an ellipsis is not a product, and this one is not one pattern


def test_a_sum_written_out_around_an_ellipsis():
    names = Names()
    s = parse_latex("-y_1 \\log p_1 - y_2 \\log p_2 - \\dots - y_C \\log p_C", names)
    assert isinstance(s, sp.Sum) and s.limits[0][2] == names.K
    three = Names()
    assert isinstance(parse_latex("y_1 + y_2 + ... + y_3", three), sp.Sum) and three.counts == {3}
    claims = check((DOCS / "t17_ellipsis_sum.md").read_text()).claims
    assert [c.verdict for c in claims[:5]] == ["holds"] * 5


def test_conditions_said_in_words():
    claims = check((DOCS / "t14_bracket_entries_cases_in_words.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(9, "holds"), (11, "holds"), (13, "holds"), (17, "holds"),
                                                     (19, "wrong")]


def test_an_index_both_free_and_summed_stays_free():
    k = sp.Symbol("k", integer=True, positive=True)
    x = sp.IndexedBase("x")
    e = sp.exp(x[k]) / sp.Sum(sp.exp(x[k]), (k, 1, sp.Symbol("K", integer=True, positive=True)))
    assert free_indices(e) == {k}
    assert free_indices(sp.Sum(x[k], (k, 1, 3))) == set()


def test_an_entry_written_as_a_function_of_its_own_input_is_a_definition():
    text = "$$y_i(z_i) = \\frac{e^{z_i}}{\\sum_{k=1}^K e^{z_k}}$$\n\n$$\\frac{\\partial y_i}{\\partial z_i} = y_i (1 - y_i)$$\n"
    assert verdicts(text) == [(3, "holds")]   # it was a product y_i z_i, and "wrong"
    i, k = sp.symbols("i k", integer=True, positive=True)
    assert read("y_k(p_i)") == sp.IndexedBase("y")[k] * sp.IndexedBase("p")[i]   # another index: a product


def test_an_equation_drawn_from_another_on_its_row_is_a_claim_of_its_own():
    found = chains("$$a = b \\quad \\Rightarrow \\quad c = d$$\n\n$$e = f \\implies g = h \\quad \\text{so} \\quad u = v$$\n")
    assert [[p.text for p in c.pieces] for c in found] == [["a", "b"], ["c", "d"], ["e", "f"], ["g", "h"]]
    claims = check((DOCS / "t18_implies.md").read_text()).claims
    assert [c.verdict for c in claims] == ["holds", "holds", "holds", "wrong"]


def test_a_target_said_to_be_one_hot_in_words_sums_to_one():
    claims = check((DOCS / "t17_ellipsis_sum.md").read_text()).claims
    assert claims[-1].verdict == "holds" and "one-hot" in claims[-1].reason
    loss = SOFTMAX_O + "$$E = -\\sum_{k=1}^K t_k \\log o_k$$\n\n"
    said = check(loss + "Since $t$ is 1 for the true class and 0 otherwise:\n\n"
                 "$$\\frac{\\partial E}{\\partial z_i} = o_i - t_i$$\n").claims[-1]
    assert said.verdict == "holds" and "one-hot" in said.reason
    unsaid = check(loss + "Then:\n\n$$\\frac{\\partial E}{\\partial z_i} = o_i - t_i$$\n").claims[-1]
    assert "one-hot" not in unsaid.reason   # never said: at most the verdict's own "holds if"


def test_definitions_for_every_layer_l_are_read_one_layer_on():
    """A document that defines z^l, a^l and delta^l once, for a generic layer l, and goes through layer l + 1 in
    BP2: each definition is read one layer on as well, so BP2 holds and a wrong sign in BP3 is found."""
    report = check((DOCS / "g01_generic_layer.md").read_text(), name="g01_generic_layer.md")
    verdicts = [(c.line, c.verdict) for c in report.claims]
    assert verdicts == [(16, "holds"), (16, "holds"), (22, "holds"), (22, "wrong")], report.to_text()
    assert any("defined for every layer l" in n for n in report.notes)
    # the catalogue's own mlp_backprop defines each layer once too and is read in full
    mlp = check(derive.entry("mlp_backprop")().to_markdown(), name="mlp_backprop.md")
    assert mlp.counts()["unread"] == 0 and mlp.counts()["wrong"] == 0, mlp.to_text()


# -- issue 15, third round (tests/data/check_docs/q01..) -------------------------------------------

def test_a_derivative_stated_inside_a_sentence_is_a_claim():
    claims = check((DOCS / "q01_inline_derivative_claims.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(5, "holds"), (7, "wrong"), (11, "holds")]
    # an equation to solve (= 0) and a derivative the prose names are not claims
    named = "Let $y_i = \\frac{e^{a_i}}{\\sum_k e^{a_k}}$.\n\nWe denote $\\frac{\\partial y_i}{\\partial a_i} = d_i$.\n"
    assert check(named).claims == []


def test_nabla_below_an_entry_a_transpose_as_top_and_a_size_at_a_row_start():
    claims = check((DOCS / "q02_gradient_words_sizes.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(9, "holds"), (9, "holds_if"), (13, "holds"), (13, "holds"),
                                                     (17, "wrong")]
    assert read("\\nabla_{z_k} L") == sp.Derivative(sp.Symbol("L"), sp.IndexedBase("z")[sp.Symbol("k", integer=True,
                                                                                                    positive=True)])
    with pytest.raises(Unreadable, match="whole vector"):   # the gradient in a whole vector is not read
        names = Names()
        parse_latex("z_k", names)
        parse_latex("\\nabla_{z} L", names)
    assert read("x^\\top") == read("x^T")


def test_a_word_on_the_left_is_one_name_and_restating_it_is_a_claim():
    claims = check((DOCS / "q03_word_restated.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(9, "holds"), (13, "wrong"), (17, "unread")]
    assert "risk" in str(claims[1].counterexample) or claims[1].counterexample
    # a section heading or "by defining" before it makes it a new definition, not a claim
    text = "$$u = a + b$$\n\nThen, by defining\n\n$$u = a - b$$\n\n$$\\frac{\\partial u}{\\partial b} = -1$$\n"
    assert verdicts(text) == [(7, "holds")]


def test_an_index_written_as_a_superscript_is_unread_never_wrong():
    text = "$$s^i = \\frac{e^{z_i}}{\\sum_j^N e^{z_j}}$$\n\n$$cost = -\\sum_i^N y_i \\ln(s^i)$$\n\n" \
           "$$cost = -y_i \\ln(s^i)$$\n"
    claim, = check(text).claims
    assert claim.verdict == "unread" and "superscript" in claim.reason


# -- issue 15, fourth round (tests/data/check_docs/u01..) ------------------------------------------

def test_a_letter_written_only_as_a_variable_is_the_input_it_stands_for():
    """d E / d r_c where r is written nowhere else and E, q reach only the scores s: r is read as s (an author who
    switched letters), so the chain is checked and its wrong last line found."""
    report = check((DOCS / "u01_switched_letter.md").read_text())
    assert [(c.line, c.verdict) for c in report.claims] == [(13, "holds"), (13, "holds"), (15, "holds"),
                                                            (17, "holds"), (17, "holds"), (17, "wrong")]
    assert any("r is read as s" in n for n in report.notes)
    # where what is differentiated reaches two inputs, which one the letter stands for is not said: unread
    two = "$$q_m = \\frac{e^{s_m + b_m}}{\\sum_n e^{s_n + b_n}}$$\n\n$$\\frac{\\partial q_m}{\\partial r_c} = 0$$\n"
    assert verdicts(two) == [(3, "unread")]


def test_two_names_for_one_entry_and_primes_whose_variable_the_prose_names():
    """g(v)[m] = q[m] = formula defines both names; y'[n] and g'(v)[m] in a chain not led by a derivative take the
    variable the prose names ("the derivative of g(v)[m] with respect to v[c]"), so the lost sign is found."""
    report = check((DOCS / "u02_named_twice_primes_in_prose.md").read_text())
    assert [(c.line, c.verdict) for c in report.claims] == [(5, "holds"), (5, "holds"), (11, "holds"), (11, "holds"),
                                                            (13, "holds"), (17, "holds"), (17, "holds"), (19, "wrong")]
    assert {"g[m]", "q[m]"} <= {d.split(" := ")[0] for d in report.definitions}
    # with no variable named in the prose, a prime is still unread, never guessed
    bare = "$$q[m] = \\frac{e^{v[m]}}{\\sum_{}^{} e^{v[c]}}$$\n\n$$q'[m] = q[m] - q[m]^2 = q[m] (1 - q[m])$$\n"
    assert verdicts(bare) == [(3, "unread"), (3, "holds")]


def test_entries_never_defined_are_any_functions_of_the_vector_they_are_differentiated_in():
    """dg_m/du_c with g never defined (only an input of E): g_m is any differentiable function of the whole vector u,
    so the chain rule through every output holds, the one-term form holds if each g_m depends on u_m alone, and an
    algebraic link about g (no derivative of it) is checked with g a plain variable, its dropped term found."""
    claims = check((DOCS / "u03_entries_never_defined.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(9, "holds"), (9, "holds"), (13, "holds_if"), (17, "holds"),
                                                     (17, "wrong")]
    assert "depends on u_k alone" in claims[2].reason
    # a derivative of a name the document defines is not taken as 0 in such a run: dE/du_c = 0 is not read as holding
    zero = "$$E = \\frac{1}{2} \\sum_m (g_m - t_m)^2$$\n\n$$\\frac{\\partial E}{\\partial u_c} = 0$$\n"
    assert [c.verdict for c in check(zero).claims] != ["holds"]


def test_a_letter_defined_as_a_function_of_an_entry_is_that_quantity_and_its_prime_the_derivative_in_an_entry():
    """u(S_1^{(m)}) = e^{S_1^{(m)}} after "Write:" defines the quantity u (its argument has a superscript inside
    brackets); u(S_1^{(m)}) elsewhere is u, and u'(S_1^{(n)}) is du/dS_1^{(n)}, as the author expands it. The same
    letter in a rule stated for any u(x) stays a function of x."""
    claims = check((DOCS / "u04_functions_of_an_entry.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(9, "holds"), (17, "holds"), (20, "holds"), (20, "holds"),
                                                     (21, "holds"), (21, "wrong")]
    assert "any differentiable" in claims[0].reason


def test_an_operator_before_a_bracket_without_its_variable_takes_the_product_after_it():
    """d/dq (1 - t)(\\log(1 - q)): the bracket alone would differentiate to 0, which no one writes out; the operator
    takes the product that follows, which has q, so the link is read and its lost sign found. A bracket that has
    the variable keeps the operator to itself (d/dx (u) v is u' v)."""
    claims = check((DOCS / "u05_operator_before_a_constant_bracket.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(9, "holds"), (9, "holds"), (13, "wrong")]
    x = sp.Symbol("x")
    assert read("\\frac{d}{dx}(x^2) x") == sp.Derivative(x ** 2, x) * x
    assert read("\\frac{d}{dx}(2) x") == sp.Derivative(2 * x, x)


def test_a_term_never_defined_is_read_as_the_derivation_implies_it():
    """-sum t log q = sum_m r_m and dr_m/dq_m = d/dq_m(-t_m log q_m) imply r_m = -t_m log q_m: the chain through r is
    read and the wrong last line found. Where the lines imply two readings (the sign lost in a sum written again
    over -r), a link true under one only is ambiguous, and a link about r is never wrong."""
    claims = check((DOCS / "u06_implied_terms.md").read_text()).claims
    assert [(c.line, c.verdict) for c in claims] == [(5, "holds"), (5, "holds"), (9, "unread"), (9, "holds"),
                                                     (13, "holds"), (13, "holds"), (13, "holds"), (13, "wrong")]
    assert "only this link says what it is" in claims[2].reason   # the implying line cannot hold by itself
    two = ("$$q_m = \\frac{e^{s_m}}{\\sum_n e^{s_n}}$$\n\n$$E = -\\sum_m t_m \\log q_m = -\\sum_m r_m$$\n\n"
           "$$\\frac{\\partial r_m}{\\partial q_m} = \\frac{\\partial}{\\partial q_m} \\left( - t_m \\log q_m \\right)$$\n\n"
           "$$\\frac{\\partial r_m}{\\partial q_m} = 5$$\n")
    assert verdicts(two)[2:] == [(5, "ambiguous"), (7, "unread")]
