"""derive check: a document's chains of equalities, each link checked by derive's verifier."""
import json
import re
from pathlib import Path

import pytest

import derive
from derive.check import check, check_file
from derive.check.latex import Unreadable, parse_latex

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
    checker = sys.modules["derive.check.checker"]
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
    ("softmax_vjp.md", r"&= \left[\left(g - \mathbf{1} g^{T} o\right) \circ o\right]_{k} \\",
     r"&= \left[\left(g - \mathbf{1} g^{T} o\right) \circ g\right]_{k} \\"),
    ("softmax_vjp.md", r"&= \left[\left(g - \mathbf{1} g^{T} o\right) \circ o\right]_{k} \\",
     r"&= \left[\left(g - \mathbf{1} o^{T} g\right) \circ o\right]_{k} \\"),   # g^T o = o^T g: still holds
    ("softmax_jacobian.md", r"&= \left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{ij} \\",
     r"&= \left[\operatorname{diag}\left(o\right) - o^{T} o\right]_{ij} \\"),   # o^T o is a number
    ("softmax_jacobian.md", r"&= \left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{ij} \\",
     r"&= \left[\operatorname{diag}\left(o\right) + o o^{T}\right]_{ij} \\"),
])
def test_matrix_forms_are_read_entry_by_entry(name, old, new):
    text, line = corrupt(name, old, new)
    report = check(text, Ks=(2, 3))
    verdicts = {c.verdict for c in report.claims if c.line == line}
    if "o^{T} g" in new:
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
    (r"\sum_{j \neq k} y_j", "SumExcept(y[j], (j, 1, K), k)"),
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
    (r"W_{jk} \delta_j + \left[W^{T} \delta\right]_{k}", "W[j, k]*delta[j] + Sum(W[_m2, k]*delta[_m2], (_m2, 1, K))"),
])
def test_the_parser_reads_the_notation_of_derivations(latex, expected):
    import sympy as sp
    assert sp.sstr(parse_latex(latex)) == expected


@pytest.mark.parametrize("latex", [r"\int_0^1 f", r"\frac{a}{", r"o_k \mapsto 1", "__import__('os')",
                                   r"1, 2, \ldots, m", r"\matrix{1, 2 \| 3}"])
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
    assert [c.verdict for c in plain.claims] == ["holds", "wrong"]
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
    assert report.counts() == {"holds": 1, "wrong": 0, "unread": 0}, report.to_text()
    assert report.assumptions == ["Eq(Sum(y[j], (j, 1, K)), 1)"]
    # without it, q is read as the softmax (the catalogue's convention), whose off-diagonal partial is not 0
    assert check(body).first_wrong is not None
    with pytest.raises(derive.ArgumentError, match="define"):
        check("---\ndefine:\n  - q_j + 1\n---\n" + body)
