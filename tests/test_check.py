"""derive check: a document's chains of equalities, each link checked by derive's verifier."""
import json
import re
from pathlib import Path

import pytest
import sympy as sp

import derive
from derive.checking import check, check_file
from derive.checking.latex import Names, Unreadable, parse_latex
from derive.checking.reading import parse_piece

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"
SEEDS = ROOT.parent / "shared" / "seeds"
SCHEMA = json.loads((ROOT / "derive" / "schema" / "check.schema.json").read_text())

UNREAD: dict = {}  # every catalogue document is read in full, matrix forms included


def documents():
    return sorted(p.name for p in DERIVATIONS.glob("*.md") if p.name != "index.md")


# -- the catalogue round-trips ------------------------------------------------------------------

@pytest.mark.parametrize("name", documents())
def test_every_catalogue_document_passes_its_own_check(name):
    report = check_file(DERIVATIONS / name)
    counts = report.counts()
    assert counts["wrong"] == 0, report.to_text()
    assert counts["holds"] >= 10
    assert counts["unread"] == UNREAD.get(name, 0), report.to_text()
    for claim in report.claims:
        if claim.verdict == "unread":
            assert claim.reason  # says why


@pytest.mark.parametrize("name", ["softmax_ce", "mlp_backprop"])
def test_the_standalone_latex_page_is_read_in_full_too(name):
    """The printed page writes a numbered row's reason as \\withreason{...} before its number and its sums
    as \\sum\\nolimits: the reason is a justification, not math, and every claim is read."""
    text = derive.entry(name)().to_latex(standalone=True)
    assert r"\withreason{" in text
    counts = check(text, name=f"{name}.tex").counts()
    assert counts["wrong"] == 0 and counts["unread"] == 0 and counts["holds"] >= 20, counts


# -- corrupted copies are caught at the corrupted line, and nowhere else -------------------------

# (document, a string on exactly one line of the derivation, its corruption)
CORRUPTIONS = {
    "sign": [
        ("softmax_ce.md", r"&= o_{k} - y_{k} \\", r"&= o_{k} + y_{k} \\"),
        ("sigmoid_bce.md", r"&= s_{k} - y_{k} \\", r"&= y_{k} - s_{k} \\"),
        ("softmax_jacobian.md", r"&= - o_{i} o_{j} \\", r"&= o_{i} o_{j} \\"),
    ],
    "dropped factor": [
        ("softmax_ce.md", r"- \sum_{j \neq k} \left(- o_{k} y_{j}\right) - y_{k}", r"- \sum_{j \neq k} \left(- y_{j}\right) - y_{k}"),
        ("softmax_ce.md", r"&= o_{k} \left(1 - o_{k}\right) \\", r"&= \left(1 - o_{k}\right) \\"),
    ],
    "swapped index": [
        ("softmax_ce.md", r"&= - o_{j} o_{k} \\", r"&= - o_{j} o_{j} \\"),
        ("softmax_ce.md", r"&= o_{k} \sum_{j=1}^{K} y_{j} - y_{k} \\", r"&= o_{k} \sum_{j=1}^{K} y_{j} - y_{j} \\"),
    ],
    "wrong denominator": [
        ("softmax_ce.md", r"&= \frac{e^{z_{k}} \sum_{l=1}^{K} e^{z_{l}} - e^{2 z_{k}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\",
         r"&= \frac{e^{z_{k}} \sum_{l=1}^{K} e^{z_{l}} - e^{2 z_{k}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{3}} \\"),
    ],
    "missing exponential": [
        ("softmax_ce.md", r"&= \frac{e^{z_{k}} \sum_{l=1}^{K} e^{z_{l}} - e^{2 z_{k}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\",
         r"&= \frac{z_{k} \sum_{l=1}^{K} e^{z_{l}} - e^{2 z_{k}}}{\left(\sum_{l=1}^{K} e^{z_{l}}\right)^{2}} \\"),
    ],
}


def corrupt(name, old, new):
    lines = (DERIVATIONS / name).read_text().split("\n")
    hits = [n for n, line in enumerate(lines) if old in line]
    assert len(hits) == 1, f"{old!r} is on {len(hits)} lines of {name}"
    lines[hits[0]] = lines[hits[0]].replace(old, new)
    return "\n".join(lines), hits[0] + 1


@pytest.mark.parametrize("kind,name,old,new",
                         [(kind, *case) for kind, cases in CORRUPTIONS.items() for case in cases])
def test_a_corrupted_line_is_caught_there_and_nowhere_else(kind, name, old, new):
    text, line = corrupt(name, old, new)
    report = check(text)
    assert report.first_wrong is not None and report.first_wrong.line == line, report.to_text()
    for claim in report.claims:
        if claim.verdict == "wrong":  # the link into the corrupted line, and the one out of it
            assert line in (claim.line, claim.lhs_line), report.to_text()
    assert report.first_wrong.counterexample["lhs"] != report.first_wrong.counterexample["rhs"]
    assert report.exit_status == 1


# -- every catalogue document, corrupted one way at a time ----------------------------------------

_ROW = re.compile(r"^&= (?P<rhs>.*?)(?P<end> \\\\)?$")


def _flip_sign(line):
    m = _ROW.match(line)
    return f"&= - \\left({m.group('rhs')}\\right){m.group('end') or ''}"


def _wrong_denominator(line):
    return line.replace("\\right)^{2}}", "\\right)^{3}}", 1)


def _missing_exponential(line):
    return re.sub(r"e\^\{((?:[a-z]|\{[a-z]\^\{[A-Za-z+-1]+\}\})_\{[a-z]\})\}", r"\1", line, count=1)


def _swapped_index(line):
    """The first k (or i) of a step written for k, swapped for j; not next to a Kronecker delta or a derivative
    with respect to z_k, where e^{z_j} delta_jk = e^{z_k} delta_jk makes the swap no slip."""
    if "\\delta_" in line or "\\partial" in line or "\\sum_{j" in line:
        return line
    m = re.search(r"(?<=[a-z}])_\{([ik])\}", line)
    return line[:m.start()] + "_{j}" + line[m.end():] if m else line


def _dropped_factor(line):
    # not the operand of a derivative (d/dz_k (1 - o_j) without its operand is no longer a formula)
    return re.sub(r"(?<!\}\}) \\left\(1 - [^()]*?\\right\)(?![\^_])", "", line, count=1)


SLIPS = {"sign": _flip_sign, "dropped factor": _dropped_factor, "swapped index": _swapped_index,
         "wrong denominator": _wrong_denominator, "missing exponential": _missing_exponential}


def slips():
    """(document, kind, line, corrupted line): each kind of slip on the first step it applies to (a sign
    on the last step), for every catalogue document."""
    out = []
    for name in documents():
        lines = (DERIVATIONS / name).read_text().split("\n")
        steps = [n for n, line in enumerate(lines) if _ROW.match(line) and line.strip() not in ("&= 0 \\\\", "&= 0")]
        for kind, slip in SLIPS.items():
            for n in (steps[::-1] if kind in ("sign", "swapped index") else steps):
                new = slip(lines[n])
                if new != lines[n]:
                    out.append((name, kind, n + 1, new))
                    break
    return out


@pytest.mark.parametrize("name,kind,line,new", slips(), ids=lambda v: str(v)[:24])
def test_every_document_catches_each_slip_at_its_line(name, kind, line, new):
    lines = (DERIVATIONS / name).read_text().split("\n")
    lines[line - 1] = new
    report = check("\n".join(lines), Ks=(2, 3))
    assert report.first_wrong is not None and report.first_wrong.line == line, report.to_text()
    assert all(line in (c.line, c.lhs_line) for c in report.claims if c.verdict == "wrong"), report.to_text()
    assert report.counts()["unread"] == 0, report.to_text()


def test_the_battery_covers_every_document_and_most_kinds():
    found = slips()
    per_document = {name: {kind for n, kind, *_ in found if n == name} for name in documents()}
    assert all(len(kinds) >= 3 for kinds in per_document.values()), per_document
    assert len({kind for _, kind, *_ in found}) == len(SLIPS) and len(found) >= 55


def test_a_blind_checker_would_fail_the_battery(monkeypatch):
    """The battery is not vacuous: with every link waved through, the corrupted line is not caught."""
    import sys
    checker = sys.modules["derive.checking.checker"]
    monkeypatch.setattr(checker, "check_run", lambda setting, claims, *rest: [
        setattr(c, "verdict", "holds") for c in claims])
    text, line = corrupt("softmax_ce.md", r"&= o_{k} - y_{k} \\", r"&= o_{k} + y_{k} \\")
    assert check(text).first_wrong is None


# -- the seeds ----------------------------------------------------------------------------------

def seed(prefix):
    found = sorted(SEEDS.glob(prefix + "_*.txt"))
    if not found:
        pytest.skip("the seed posts are not next to the project")
    return found[0]


def wrong_lines(path):
    return [c.line for c in check_file(path).claims if c.verdict == "wrong"]


def test_seed_003_its_definition_and_its_denominator_slip_are_flagged():
    report = check_file(seed("003"))
    first = report.first_wrong
    # y_1 = z_1 / sum_k z_k, ..., y_K = z_K / sum_k z_k: the exponentials are missing, as line 20's own expansion
    # of y_i (e^{z_i} / sum_k e^{z_k}) shows; the rest is read with the softmax the derivation uses
    assert first is not None and first.line == 7 and "line 20 expands y_i" in first.reason
    assert any("as the derivation expands it (line 20)" in n for n in report.notes)
    slip = next(c for c in report.claims if c.verdict == "wrong" and c.line == 20)
    assert "(\\sum_k e^{z_k}\\right)^2} \\frac{\\sum_k e^{z_k} - e^{z_i}}" in slip.rhs.replace("\\left", "")
    # the backpropagation formula dL/dz_k = y_k (dL/dy_k - sum_j dL/dy_j y_j) holds
    assert {c.verdict for c in report.claims if c.line in (38, 42)} == {"holds"}
    assert [c.line for c in report.claims if c.verdict == "wrong"] == [7, 20, 20]


def test_the_first_wrong_claim_of_a_chain_comes_with_the_engines_closed_form():
    report = check_file(seed("003"))
    slip = next(c for c in report.claims if c.verdict == "wrong" and c.line == 20)
    # what dy_i/dz_i is, derived by the planner from the post's own softmax and verified
    assert slip.expected == "y_i*(1 - y_i)" and slip.expected_of.startswith("\\frac{\\partial y_i}")
    assert slip.expected_latex and slip.to_dict()["expected"]["text"] == slip.expected
    assert "expected: y_i*(1 - y_i)" in report.to_text()
    # no expected form where there is no derivative to derive
    text = "$$\\sum_j e^{z_j} o_k = 2 e^{z_k}$$"
    wrong = check(text).first_wrong
    assert wrong is not None and wrong.expected == ""


def test_seed_001_its_off_diagonal_partial_holds_in_the_case_the_post_splits_off():
    report = check_file(seed("001"))
    # 46: e^{z_j} d/dz_i (sum_k e^{z_k})^{-1} drops d e^{z_j}/dz_i: it holds for j != i, the case the sum over
    # j != i on line 36 needs, and the report says so
    assert wrong_lines(seed("001")) == []
    (c46,) = [c for c in report.claims if c.line == 46]
    assert c46.verdict == "holds" and c46.cases == ("Ne(j, i)",) and "line 36" in c46.reason
    # 84: o_i sum_j y_j - y_i = o_i - y_i holds with the post's underbrace "= 1" read as sum_j y_j = 1
    assert [c.uses for c in report.claims if c.line == 84][0]
    assert report.counts()["holds"] == 17


def test_without_the_case_split_the_off_diagonal_partial_is_wrong():
    text = seed("001").read_text().replace("\\sum_{j \\neq i}", "\\sum_{j}")
    report = check(text)
    # the split itself is now wrong (line 36), and so is the partial of o_j on line 46
    assert [c.line for c in report.claims if c.verdict == "wrong"][:2] == [36, 46]
    assert report.first_wrong.expected == "o_i - y^*_i"


def test_seeds_002_and_004_their_equations_hold():
    assert wrong_lines(seed("002")) == []
    # 47: "C_x = -ln a_j^L" holds for a one-hot y whose hot index is j, as the prose after it says
    assert wrong_lines(seed("004")) == []
    (c47,) = [c for c in check_file(seed("004")).claims if c.line == 47]
    assert c47.verdict == "holds" and "one-hot, its 1 at j" in c47.reason


def test_without_its_hot_index_the_one_hot_cost_is_wrong():
    text = seed("004").read_text().replace(r'where \\(j\\) is the index of the element in the vector \\(y\\) that '
                                           r'is "hot"', "where the sum is gone")
    assert "where the sum is gone" in text
    report = check(text)
    assert report.first_wrong is not None and report.first_wrong.line == 47


def test_seed_000_its_per_example_chain_rule_and_its_bias_remark_are_flagged():
    report = check_file(seed("000"))
    # h_1 without its argument is h_1(x^(i)): dJ/dh_1 is then one example's -y_1^(i)/h_1(x^(i)), not a sum over
    # the examples (67, 100, 128), the chain rule without the sum over examples is wrong (62, 155), so is a
    # per-example factor multiplied into the sum (93, 119, 147, 156); x_0^(i) is the bias input 1, not 0 (173)
    assert wrong_lines(seed("000")) == [62, 67, 93, 100, 119, 128, 147, 155, 156, 173]
    by_line = {c.line: c for c in report.claims}
    # the quotient rule with u' and v' (u redefined in each part) and the final forms hold
    assert all(by_line[n].verdict == "holds" for n in (83, 84, 85, 86, 87, 110, 111, 112, 113, 138, 141, 163))
    assert by_line[158].verdict == "holds" and by_line[158].uses
    # the general form holds at j = 0 too, with x_0 = 1 read from x^(i) = [1; x_1^(i)]
    assert by_line[169].verdict == "holds" and "Eq(x[i, 0], 1)" in by_line[169].uses
    assert by_line[173].cases == ("j = 0",) and by_line[173].counterexample["lhs"] == 1.0
    assert {c.verdict for c in report.claims if c.line in (20, 24)} == {"unread"}
    assert any("case by case" in n for n in report.notes) and any("defined 3 times" in n for n in report.notes)


def test_seed_000_without_its_bias_vector_the_general_form_fails_at_j_0():
    text = seed("000").read_text().replace(r"x^{(i)} = \begin{bmatrix} 1 \\ x_1^{(i)} \end{bmatrix}", "")
    assert "x_1^{(i)} \\end{bmatrix}" not in text
    report = check(text)
    assert [c.verdict for c in report.claims if c.line == 169] == ["wrong"]


@pytest.mark.parametrize("name,old,new", [
    ("softmax_vjp.md", r"&= \left[o \circ \left(g - \left(o^{T} g\right) \mathbf{1}\right)\right]_{k} \\",
     r"&= \left[g \circ \left(g - \left(o^{T} g\right) \mathbf{1}\right)\right]_{k} \\"),
    ("softmax_vjp.md", r"&= \left[o \circ \left(g - \left(o^{T} g\right) \mathbf{1}\right)\right]_{k} \\",
     r"&= \left[o \circ \left(g - \mathbf{1} g^{T} o\right)\right]_{k} \\"),   # 1 g^T o = (o^T g) 1: still holds
    ("softmax_jacobian.md", r"&= \left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{ij} \\",
     r"&= \left[\operatorname{diag}\left(o\right) - o^{T} o\right]_{ij} \\"),   # o^T o is a number
    ("softmax_jacobian.md", r"&= \left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{ij} \\",
     r"&= \left[\operatorname{diag}\left(o\right) + o o^{T}\right]_{ij} \\"),
])
def test_matrix_forms_are_read_entry_by_entry(name, old, new):
    text, line = corrupt(name, old, new)
    report = check(text, Ks=(2, 3))
    verdicts = {c.verdict for c in report.claims if c.line == line}
    if "g^{T} o" in new:
        assert verdicts == {"holds"}, report.to_text()
    elif "o^{T} o" in new:
        assert verdicts == {"unread"}, report.to_text()
    else:
        assert report.first_wrong is not None and report.first_wrong.line == line, report.to_text()


def test_a_vector_equation_is_checked_entry_by_entry():
    text = seed("004").read_text()
    assert "wrong" not in {c.verdict for c in check(text).claims if c.line == 54}
    report = check(text.replace(r"\\[\delta^L = a^L - y.\\]", r"\\[\delta^L = a^L + y.\\]"))
    assert report.first_wrong is not None and report.first_wrong.line == 54


def test_a_wrong_claim_in_a_seed_is_flagged():
    text = seed("004").read_text().replace(r"\stackrel{a \text{ def}}{=} -a_j^L a_i^L. \quad \blacksquare",
                                           r"\stackrel{a \text{ def}}{=} a_j^L a_i^L. \quad \blacksquare")
    report = check(text)
    assert report.first_wrong is not None and report.first_wrong.line == 40


# -- the parser ---------------------------------------------------------------------------------

@pytest.mark.parametrize("latex,expected", [
    (r"\frac{\partial E}{\partial z_k}", "Derivative(E, z[k])"),
    (r"\sum_{j \neq k} y_j", "sum_{j!=k} y[j]"),
    (r"\sum_j^{p} y^*_j", "Sum(y^*[j], (j, 1, K))"),
    (r"x^{(i)}_j \Theta_{kj}", "Theta[k, j]*x[i, j]"),
    (r"a^L_j", "a^L[j]"),
    (r"\delta_{ij}", "KroneckerDelta(i, j)"),
    (r"\mathbb{1}\{k = y_i\}", "KroneckerDelta(k, y[i])"),
    (r"1[k = y_i]", "KroneckerDelta(k, y[i])"),
    (r"\exp(z_k) \cdot \ln o_k", "exp(z[k])*log(o[k])"),
    (r"\sigma(z_k)", "1/(1 + exp(-z[k]))"),
    (r"\bigg( o_k \bigg)^{2}", "o[k]**2"),
    (r"\exp{(\Theta_{10} + x_1^{(i)}})", "exp(Theta[1, 0] + x[i, 1])"),   # a bracket closed outside its group
    (r"u' v - u v^{\prime}", "-u*v^\\prime + u^\\prime*v"),
    (r"\matrix{1 \| x_1^{(i)}}", "Matrix([\n[      1],\n[x[i, 1]]])"),
    (r"h_1(x^{(i)})", "h[i, 1]"),
    (r"\frac{\partial(w_kx_i)}{dw_k}", "Derivative(w[k]*x[i], w[k])"),   # d and \partial mixed
    (r"o_j + \left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{ij}", "KroneckerDelta(i, j)*o[i] - o[i]*o[j] + o[j]"),
    (r"o_j g_j + \left[\left(g - \mathbf{1} g^{T} o\right) \circ o\right]_{k}",
     "(g[k] - Sum(g[_m2]*o[_m2], (_m2, 1, K)))*o[k] + g[j]*o[j]"),
    (r"o_j g_j + \left[o \circ \left(g - \left(o^{T} g\right) \mathbf{1}\right)\right]_{k}",
     "(g[k] - Sum(g[_m2]*o[_m2], (_m2, 1, K)))*o[k] + g[j]*o[j]"),
    (r"W_{jk} \delta_j + \left[W^{T} \delta\right]_{k}", "W[j, k]*delta[j] + Sum(W[_m2, k]*delta[_m2], (_m2, 1, K))"),
])
def test_the_parser_reads_the_notation_of_derivations(latex, expected):
    import sympy as sp
    assert sp.sstr(parse_latex(latex)) == expected


@pytest.mark.parametrize("latex", [r"\int_0^1 f", r"\frac{a}{", r"o_k \mapsto 1", "__import__('os')",
                                   r"1, 2, \ldots, m", r"\matrix{1, 2 \| 3}",
                                   r"\log", r"x + \exp"])  # a function name at the end (was an AttributeError)
def test_the_parser_refuses_what_it_cannot_read_with_a_position(latex):
    with pytest.raises(Unreadable) as info:
        parse_latex(latex)
    assert 0 <= info.value.position <= len(latex)


def test_an_unreadable_formula_is_reported_and_skipped():
    text = "$$\n\\frac{\\partial E}{\\partial z_k} = \\int f \\, dx = o_k - y_k\n$$\n"
    report = check(text)
    assert [c.verdict for c in report.claims] == ["unread", "unread"]
    assert "line 2, column" in report.claims[0].reason
    assert report.exit_status == 0


# -- notation, options, outputs -----------------------------------------------------------------

SMALL = r"""Let $o_j = \frac{e^{z_j}}{\sum_k e^{z_k}}$ and

$$E = - \sum_j y_j \log o_j$$

Then

$$
\begin{aligned}
\frac{\partial E}{\partial z_k} &= - \sum_j \frac{y_j}{o_j} \frac{\partial o_j}{\partial z_k} && \text{chain rule} \\
&= o_k \sum_j y_j - y_k \\
&= o_k - 2 y_k
\end{aligned}
$$
"""


def test_a_small_document_definitions_from_the_text_and_the_first_wrong_claim():
    report = check(SMALL)
    assert [c.verdict for c in report.claims] == ["holds", "holds", "wrong"]
    assert report.first_wrong.line == 11
    assert report.first_wrong.counterexample["K"] >= 2
    assert any("o[j] :=" in d for d in report.definitions)


def test_define_and_assume_options():
    text = "$$\n\\frac{\\partial E}{\\partial z_k} = o_k \\sum_j y_j - y_k = o_k - y_k\n$$\n"
    plain = check(text, define=[r"E = - \sum_j y_j \log o_j"])
    # sum_j y_j = 1 is never stated: the second link holds only under that reading, and says so (issue 15)
    assert [c.verdict for c in plain.claims] == ["holds", "holds_if"]
    assert plain.claims[1].reason == "if sum_j y_j = 1 (the document never says so; it is false otherwise)"
    assert any("catalogue convention" in n for n in plain.notes)  # o is read as the softmax of z
    assumed = check(text, define=[r"E = - \sum_j y_j \log o_j"], assume=[r"\sum_j y_j = 1"])
    assert [c.verdict for c in assumed.claims] == ["holds", "holds"]
    assert assumed.claims[1].uses
    with pytest.raises(derive.ArgumentError):
        check(text, assume=[r"y_1 = 1"])


def test_json_follows_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    texts = [SMALL, (DERIVATIONS / "softmax_jacobian.md").read_text()]
    texts += [p.read_text() for p in sorted(SEEDS.glob("*.txt"))]  # cases, expected forms, a contradicted definition
    for text in texts:
        data = json.loads(check(text).to_json())
        jsonschema.validate(data, SCHEMA)
    data = check(SMALL).to_dict()
    assert data["first_wrong"]["line"] == 11 and data["first_wrong"]["verdict"] == "wrong"
    assert {"line", "lhs", "rhs", "verdict"} <= set(data["claims"][0])


def test_markdown_is_an_annotated_copy():
    out = check(SMALL).to_markdown()
    assert SMALL.rstrip("\n") in out.replace("\n> line 11: **first wrong claim**", "") or "first wrong claim" in out
    lines = out.split("\n")
    end = lines.index("$$", lines.index("\\end{aligned}") if "\\end{aligned}" in lines else 0)
    assert lines[end + 1].startswith("> line 9: ok")
    assert lines[end + 2].startswith("> line 10: ok")
    assert "**first wrong claim**" in lines[end + 3]


def test_latex_environments_are_read():
    text = r"""\begin{align*}
\frac{\partial o_k}{\partial z_k} &= o_k (1 - o_k) \\
&= o_k - o_k^2
\end{align*}
\begin{equation}
s_k = \frac{1}{1 + e^{-z_k}}
\end{equation}
\begin{gather}
\frac{\partial s_k}{\partial z_k} = s_k (1 + s_k)
\end{gather}
"""
    report = check(text)
    assert [c.verdict for c in report.claims] == ["holds", "holds", "wrong"]
    assert report.first_wrong.line == 9


def test_check_is_exported():
    assert derive.check is check


def test_front_matter_defines_and_assumes():
    body = "For $j \\neq k$:\n\n$$\\frac{\\partial q_j}{\\partial z_k} = 0$$\n"
    front = ("---\ntitle: a post\nlayout: post\ndefine:\n  - 'q_j = \\frac{1}{1 + e^{-z_j}}'\n"
             "assume: \\sum_j y_j = 1\n---\n")
    report = check(front + body)
    assert report.counts() == {"holds": 1, "holds_if": 0, "ambiguous": 0, "wrong": 0, "unread": 0}, report.to_text()
    assert report.assumptions == ["Eq(Sum(y[j], (j, 1, K)), 1)"]
    # without it, q is read as the softmax (the catalogue's convention), whose off-diagonal partial is not 0:
    # the claim holds if q is an input: two readings of a name the document never defines disagree, and it
    # prefers neither (issue 15: ambiguous, no false alarm on an open reading)
    (claim,) = check(body).claims
    assert claim.verdict == "ambiguous" and claim.reason.startswith("ambiguous: it holds if q is an input")
    with pytest.raises(derive.ArgumentError, match="define"):
        check("---\ndefine:\n  - q_j + 1\n---\n" + body)


# -- issue 15 item 7: bounded work on any file ----------------------------------------------------

def test_a_power_tower_is_unread_not_evaluated_and_the_rest_is_checked():
    import time as _time
    start = _time.monotonic()
    report = check("$$a = 10^{10^{10}}$$\n\n$$\\frac{d}{dz} e^{2z} = 2 e^{2z}$$\n")
    assert _time.monotonic() - start < 30
    tower, rest = report.claims
    assert tower.verdict == "unread" and "over the bound of 1000 digits" in tower.reason
    assert rest.verdict == "holds"


def test_a_sum_bound_over_the_class_bound_is_unread():
    report = check("$$\\sum_{j=1}^{1000000} y_j = y_1 + y_2$$\n\n$$\\sum_{j=1}^{3} y_j = y_1 + y_2 + y_3$$\n")
    big, small = report.claims
    assert big.verdict == "unread" and "a sum to 1000000 is over the bound" in big.reason
    assert small.verdict == "holds"


def test_the_time_bounds_leave_claims_unread_with_the_reason():
    from derive.checking import Bounds
    text = "$$\\frac{d}{dz} e^{2z} = 2 e^{2z}$$\n"
    per_run = check(text, bounds=Bounds(seconds_per_run=1e-6)).claims[0]
    assert per_run.verdict == "unread" and "time bound" in per_run.reason
    whole = check(text, bounds=Bounds(seconds=0.0)).claims[0]
    assert whole.verdict == "unread" and "the document's time bound" in whole.reason
    assert check(text).claims[0].verdict == "holds"   # the same claim within the bounds


def test_long_formulas_and_many_chains_are_unread_past_their_bounds():
    from derive.checking import Bounds
    text = "".join(f"$$ {k} x_{k} = x_{k} + {k - 1} x_{k} $$\n\n" for k in range(2, 6))
    report = check(text, bounds=Bounds(max_chains=2))
    assert [c.verdict for c in report.claims] == ["holds", "holds", "unread", "unread"]
    assert "over the bound of 2 chains" in report.claims[2].reason
    long = check("$$ x_1 = " + " + ".join(["x_1"] * 50) + " - 49 x_1 $$", bounds=Bounds(max_formula=100))
    assert long.claims[0].verdict == "unread" and "over the bound of 100" in long.claims[0].reason


def test_devices_fifos_and_large_files_are_refused_before_reading(tmp_path):
    import os
    from derive.checking import Bounds, read_document
    from derive.errors import ArgumentError
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    for path in (fifo, "/dev/zero"):
        with pytest.raises(ArgumentError, match="not a regular file") as info:
            check_file(path)
        assert info.value.argument == "file"
    big = tmp_path / "big.md"
    big.write_text("$$ x_1 = x_1 $$\n" * 100)
    with pytest.raises(ArgumentError, match="over the bound of 500"):
        read_document(big, Bounds(max_bytes=500))
    assert read_document(big).startswith("$$")


def test_cli_check_refuses_dev_zero_with_one_line_and_exit_2(capsys):
    from derive.cli import main
    assert main(["check", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file" in err


# -- issue 15: our own documents in the styles found in public hand derivations ------------------

CHECK_DOCS = ROOT / "tests" / "data" / "check_docs"


def _bench():
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_check", ROOT / "bench" / "bench_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_style_documents_are_read_without_a_false_alarm_and_every_wrong_line_found():
    rows = _bench().run(CHECK_DOCS, CHECK_DOCS / "truth.json")
    assert len(rows) == len(json.loads((CHECK_DOCS / "truth.json").read_text()))
    links, read = sum(r["links"] for r in rows), sum(r["read"] for r in rows)
    assert read >= 0.9 * links, rows
    for r in rows:
        assert r["false_alarms"] == 0, r
        assert r["wrong_found"] == r["wrong_links"], r
        assert r["first_wrong_right"], r


def test_the_bench_scores_a_false_alarm_and_a_missed_wrong_line():
    bench = _bench()
    truth = {"links": [{"line": 3, "rhs": "2x", "truth": "holds"}, {"line": 5, "rhs": "3x", "truth": "wrong"}],
             "first_wrong_line": 5}
    report = {"claims": [{"line": 3, "rhs": "2 x", "verdict": "wrong"}, {"line": 5, "rhs": "3x", "verdict": "holds"}],
              "first_wrong": {"line": 3}}
    row = bench.score("doc", report, truth, 0.0)
    assert (row["false_alarms"], row["wrong_found"], row["first_wrong_right"]) == (1, 0, False)


# -- issue 15 item 5: a reading the document leaves open is "holds if", never a false alarm -----

SOFTMAX_P = "$$p_j = \\frac{e^{o_j}}{\\sum_k e^{o_k}}$$\n\n"


def test_an_unstated_case_is_holds_if_and_a_stated_one_is_applied():
    unstated = check(SOFTMAX_P + "$$\\frac{\\partial p_j}{\\partial o_i} = p_i (1 - p_i)$$\n").claims[0]
    assert unstated.verdict == "holds_if" and unstated.reason.startswith("if i = j")
    stated = check(SOFTMAX_P + "$$\\frac{\\partial p_j}{\\partial o_i} = p_i (1 - p_i), \\quad i \\ne j$$\n").claims[0]
    assert stated.verdict == "wrong"   # the document says i != j: no other reading is allowed
    before = check(SOFTMAX_P + "If $i = j$,\n$$\\frac{\\partial p_j}{\\partial o_i} = p_i (1 - p_i)$$\n").claims[0]
    assert before.verdict == "holds" and before.cases == ("j = i",)
    never = check(SOFTMAX_P + "$$\\frac{\\partial p_j}{\\partial o_i} = p_i (2 - p_i)$$\n").claims[0]
    assert never.verdict == "wrong" and never.counterexample


def test_targets_summing_to_one_is_a_reading_when_never_stated():
    loss = SOFTMAX_P + "$$L = -\\sum_k y_k \\log p_k$$\n\n"
    holds_if = check(loss + "$$\\frac{\\partial L}{\\partial o_i} = p_i - y_i$$\n").claims[0]
    assert holds_if.verdict == "holds_if"
    assert holds_if.reason == "if sum_j y_j = 1 (the document never says so; it is false otherwise)"
    wrong = check(loss + "$$\\frac{\\partial L}{\\partial o_i} = p_i + y_i$$\n").claims[0]
    assert wrong.verdict == "wrong"


def test_a_name_said_to_be_defined_as_a_derivative_is_a_definition_not_a_claim():
    text = "recall that by definition:\n\n$$\\delta_j = \\frac{\\partial C}{\\partial z_j}$$\n"
    assert check(text).claims == []
    assert check("$$\\delta_j = \\frac{\\partial C}{\\partial z_j}$$\n").claims  # without the words: a claim


def test_the_first_line_gives_the_share_read():
    report = check("$$a = 10^{10^{10}}$$\n\n$$\\frac{d}{dz} e^{2z} = 2 e^{2z}$$\n")
    assert report.to_text().splitlines()[0].endswith("(1 of 2 read, 50%)")


def test_an_undefined_name_read_by_convention_may_be_an_input():
    text = ("$$\\frac{d}{dz_i}\\left(-\\sum_{j=1}^K p_j z_j\\right) = -p_i$$\n")
    claim = check(text).claims[0]
    # p is never defined: the catalogue's softmax of z and an input are two readings on an equal footing
    assert claim.verdict == "ambiguous" and claim.reason.startswith("ambiguous: it holds if p is an input")
    assert claim.counterexample["K"] and dict(claim.readings) == {"p is an input": True,
                                                                   "p is the softmax of z (the catalogue's convention)": False}
    wrong = check("$$\\frac{d}{dz_i}\\left(-\\sum_{j=1}^K p_j z_j\\right) = p_i$$\n").claims[0]
    assert wrong.verdict == "wrong"   # false under both readings


def test_words_for_different_indices_are_a_condition():
    text = SOFTMAX_P + "For \\( k \\) different from \\( i \\):\n\n$$\\frac{\\partial p_i}{\\partial o_k} = - p_i p_k$$\n"
    claim = check(text).claims[0]
    assert claim.verdict == "holds" and "different" in claim.reason


# -- issue 15 item 6: the verdicts on the document itself ----------------------------------------

def test_html_is_the_document_typeset_with_each_claim_marked():
    report = check_file(CHECK_DOCS / "t04_wrong_sign.md")
    page = report.to_html()
    assert page.startswith("<!DOCTYPE html>") and "katex.render" in page and "<script src" not in page
    assert page.count('class="verdict wrong first"') == 1 and page.count('class="verdict holds"') == 1
    assert "counterexample at K=" in page and "(2 of 2 read, 100%)" in page
    assert "Binary cross entropy for one example" in page            # the prose is there, escaped
    assert check("<b>x</b>\n$$ a_1 = a_1 $$").to_html().count("&lt;b&gt;x&lt;/b&gt;") == 1


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no headless Chromium")
def test_html_renders_in_headless_chromium_with_a_red_wrong_block(tmp_path):
    import subprocess
    page = tmp_path / "t04.html"
    page.write_text(check_file(CHECK_DOCS / "t04_wrong_sign.md").to_html(), encoding="utf-8")
    shot = tmp_path / "t04.png"
    subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1000,700", page.as_uri()], capture_output=True, timeout=120)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000   # typeset, not a blank page


# -- issue 15: the notation and layout of the public collection (bench/bench_check.py) -------------

def test_an_inline_formula_alone_on_its_line_is_a_display_and_one_in_a_sentence_is_not():
    alone = check("One step per line:\n\n$\\frac{d}{dz} e^{2z} = 3 e^{2z}$\n")
    assert [c.verdict for c in alone.claims] == ["wrong"]
    assert check("so $e^{2z} e^{z} = e^{4z}$ in a sentence\n").claims == []
    # a derivative stated in a sentence is a claim (issue 15, third round: tests/data/check_docs/q01)
    assert [c.verdict for c in check("so $\\frac{d}{dz} e^{2z} = 3 e^{2z}$ in a sentence\n").claims] == ["wrong"]


def test_a_bare_sum_takes_the_index_of_the_factor_after_it():
    names = Names()
    d, i, j = (names.index(n) for n in "dij")
    x, t, y = (names.base(n) for n in "xty")
    assert parse_piece("\\sum e^{x_d} \\cdot e^{x_i}", names) == sp.Sum(sp.exp(x[d]) * sp.exp(x[i]), (d, 1, names.K))
    got = parse_piece("\\sum t_i \\frac{1}{y_i} \\frac{dy_i}{dx_j}", names)
    assert isinstance(got, sp.Sum) and got.limits[0][0] == i
    assert isinstance(parse_piece("\\sum e^{x_i + x_j}", Names()), Unreadable)   # two indices: never guessed


def test_the_rows_of_a_cases_block_are_claims_under_their_conditions():
    text = SOFTMAX_P + ("$$\\frac{\\partial p_j}{\\partial o_i} = \\begin{cases} p_i (1 - p_i) & i = j \\\\ "
                        "{} & \\text{otherwise} \\end{cases}$$\n")
    right = check(text.replace("{}", "-p_i p_j"))
    assert [c.verdict for c in right.claims] == ["holds", "holds"]
    assert "different" in right.claims[1].reason               # 'otherwise' is i != j
    wrong = check(text.replace("{}", "p_i p_j"))
    assert [c.verdict for c in wrong.claims] == ["holds", "wrong"]
    inside = check(SOFTMAX_P + "$$L = \\sum_i \\begin{cases} a & i = j \\\\ b & i \\ne j \\end{cases}$$\n")
    assert all(c.verdict != "wrong" for c in inside.claims)    # a cases block inside a sum: unread


def test_an_entry_followed_by_a_bracketed_entry_is_a_product_not_a_call():
    names = Names()
    y, p, L = names.base("y"), names.base("p"), names.base("L")
    k, i = names.index("k"), names.index("i")
    assert parse_piece("y_k({\\color{red}{p_i}})", names) == y[k] * p[i]
    assert parse_piece("L_i(f_k)", names) == L[i]


def test_a_primed_function_of_its_argument_is_its_derivative():
    report = check_file(CHECK_DOCS / "t08_primes.md")
    assert [c.verdict for c in report.claims if c.line == 3] == ["holds", "holds", "holds", "wrong"]


def test_blocks_continued_with_an_equals_sign_join_the_chain_before():
    report = check_file(CHECK_DOCS / "t07_continued_blocks.md")
    by_line = {c.line: c for c in report.claims}
    assert by_line[17].lhs.startswith("\\frac{\\partial}{\\partial v_r}")   # after 'If $m = r$,'
    assert by_line[20].lhs == by_line[17].lhs                               # 'And if': the same head
    assert by_line[10].verdict == "unread" and "w is not defined" in by_line[10].reason


def test_circular_definitions_are_dropped_not_expanded_forever():
    report = check_file(CHECK_DOCS / "t10_two_layers_one_letter.md")
    assert any("defined through itself" in n for n in report.notes)
    assert [c.verdict for c in report.claims] == ["unread"]


def test_the_run_bound_is_not_swallowed_by_code_that_catches_every_exception():
    import time as clock
    from derive.checking.checker import RunTimeout, _time_limit
    swallowed = 0
    with pytest.raises(RunTimeout):
        with _time_limit(0.05):
            for _ in range(40):        # code that catches every exception, as the verifier's side evaluation does
                try:
                    clock.sleep(0.05)
                except Exception:      # noqa: BLE001
                    swallowed += 1
    assert swallowed == 0              # a BaseException: an unfinished link is never a failed check ("wrong")
    caught = 0
    start = clock.monotonic()
    with pytest.raises(RunTimeout):    # even code that catches BaseException: the alarm rings again, and the
        with _time_limit(0.05):        # block's end raises it
            for _ in range(10):
                try:
                    clock.sleep(0.05)
                except BaseException:  # noqa: BLE001
                    caught += 1
    assert caught >= 1 and clock.monotonic() - start < 30


def test_counterexamples_and_expected_forms_are_in_the_documents_own_names():
    report = check_file(CHECK_DOCS / "t04_wrong_sign.md")
    line = next(l for l in report.to_text().splitlines() if "counterexample" in l)
    assert "\\hat{y}=" in line and "yhat" not in line                  # not the parser's spelling
    page = report.to_html()
    assert "\\hat{y}=" in page and "\\hat{y} \\left(" in page            # the expected form too, in HTML
    from derive.checking.report import document_name
    assert [document_name(k) for k in ("yhat[1]", "a^L[2]", "Lcal", "sigma")] == [
        "\\hat{y}_{1}", "a^L_{2}", "\\mathcal{L}", "\\sigma"]


def test_a_link_through_an_unread_definition_is_unread_not_wrong():
    text = ("$$h = \\tanh(W^{(1)} v)$$\n\n$$a = 2 v$$\n\n$$\\frac{\\partial}{\\partial h} (3 h) = 3$$\n\n"
            "$$\\sigma(a)(1 - \\sigma(a)) = h (1 - h)$$\n")
    claim = [c for c in check(text).claims if c.rhs.startswith("h (1")][0]
    assert claim.verdict == "unread" and "h is defined on line 1 in notation that was not read" in claim.reason


def test_a_derivative_whose_dependence_was_lost_is_unread_not_wrong():
    text = "$$s = \\frac{1}{1 + e^{-u^{k}}}$$\n\n$$\\frac{\\partial s}{\\partial u_k} = s (1 - s)$$\n"
    claim = check(text).claims[-1]
    assert claim.verdict == "unread" and "does not depend on u" in claim.reason
