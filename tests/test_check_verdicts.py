"""derive check's verdicts (issue 15 items 4-5): holds, holds_if, ambiguous, wrong, unread; a wrong claim is false
under every reading the document allows and carries its counterexample in the document's notation; a reading that
makes a claim hold is one the document allows (a one-hot target does not excuse a slip in a line that keeps the
other targets), and every read wrong line is found, in continued blocks and branches too."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp

from derive import check
from derive.checking import check_file

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "tests" / "data" / "check_docs"
TRUTH = json.loads((DOCS / "truth.json").read_text(encoding="utf-8"))
OURS = sorted(name for name in TRUTH if name.startswith(("v", "a")))

SOFTMAX = "$$p_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}$$\n\n"
LOSS = SOFTMAX + "$$L = -\\sum_k y_k \\log p_k$$\n\n"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_check", ROOT / "bench" / "bench_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reports():
    return {name: check_file(DOCS / name) for name in OURS}


def test_our_reading_documents_get_the_truths_verdict_on_every_link(reports):
    """Each v* document's truth, established numerically outside derive: holds / holds_if / ambiguous / wrong
    given link by link (the bench's figures, and the exact verdict of every open reading)."""
    assert len(OURS) >= 6
    bench = _bench()
    for name in OURS:
        truth = TRUTH[name]
        row = bench.score(name, reports[name].to_dict(), truth, 0.0)
        assert row["read"] == row["links"], (name, reports[name].to_text())
        assert row["false_alarms"] == 0, (name, reports[name].to_text())
        assert row["wrong_found"] == row["wrong_links"], (name, reports[name].to_text())
        assert row["first_wrong_right"], (name, reports[name].to_text())
        assert row["open_named"] == row["open_links"], (name, reports[name].to_text())


def test_a_target_one_hot_at_the_claims_index_is_a_holds_if_reading(reports):
    claim = next(c for c in reports["v01_onehot_reading.md"].claims if c.line == 17)
    assert claim.verdict == "holds_if"
    assert claim.reason.startswith("if y is one-hot with its 1 at i")
    assert claim.readings == (("y is one-hot with its 1 at i", True), ("as written, with no such condition", False))
    assert "y is one-hot with its 1 at i" in claim.cases


def test_a_slip_that_one_hot_targets_would_hide_is_still_wrong(reports):
    """The sign of the sum over k != i is wrong; with y one-hot at i that sum is 0 and the line would hold, but the
    line still writes y_k for k != i: its author does not take y one-hot, so the reading is not allowed."""
    report = reports["v02_onehot_slip.md"]
    slip = next(c for c in report.claims if c.line == 17)
    assert slip.verdict == "wrong" and report.first_wrong is slip
    assert ("y is one-hot with its 1 at i", False) not in slip.readings   # not even tried
    assert slip.readings == (("as written", False), ("sum_j y_j = 1", False))
    # nor is the prediction p read as one-hot: only a target vector may be (p_i (1 - p_i) = 1 - p_i at p_i = 1)
    prediction = next(c for c in report.claims if c.line == 23)
    assert prediction.verdict == "wrong" and not any("p is one-hot" in r for r, _ in prediction.readings)


def test_only_a_vector_that_multiplies_a_log_is_a_target_read_one_hot():
    """w and x are not targets (nothing in the document multiplies a log): w_i x_i is not excused as x_i at w_i = 1."""
    claim = check("$$\\frac{\\partial}{\\partial w_i} \\sum_k w_k x_k = w_i x_i$$\n").claims[0]
    assert claim.verdict == "wrong" and claim.readings == ()


def test_one_hot_is_not_a_reading_when_the_document_says_its_targets_are_soft():
    text = "The targets are soft labels.\n\n" + LOSS + "$$\\frac{\\partial L}{\\partial z_i} = p_i - 1$$\n"
    assert check(text).claims[0].verdict == "wrong"
    assert check(LOSS + "$$\\frac{\\partial L}{\\partial z_i} = p_i - 1$$\n").claims[0].verdict == "holds_if"


def test_two_readings_of_an_undefined_name_that_disagree_are_ambiguous(reports):
    claim = reports["v03_ambiguous_input.md"].claims[0]
    assert claim.verdict == "ambiguous"
    assert dict(claim.readings) == {"p is an input": True, "p is the softmax of z (the catalogue's convention)": False}
    ce = claim.counterexample   # where it is false, as for a wrong claim
    assert ce["K"] and ce["notation"] and all(k.startswith("z_{") for k in ce["notation"])


def test_a_claim_false_under_every_reading_is_wrong_with_its_counterexample(reports):
    report = reports["v04_false_under_every_reading.md"]
    case, loss = report.claims
    assert case.verdict == loss.verdict == "wrong" and report.first_wrong is case
    assert dict(case.readings) == {"as written": False, "i = j": False, "i != j": False}
    assert dict(loss.readings) == {"as written": False, "sum_j y_j = 1": False, "y is one-hot with its 1 at i": False}
    # the counterexample honours the narrowest reading tried: y one-hot (1, 0), not y = -1.4
    ce = loss.counterexample
    assert ce["reading"] == "y is one-hot with its 1 at i"
    assert {k: v for k, v in ce["notation"].items() if k.startswith("y")} == {"y_{1}": 1.0, "y_{2}": 0.0}
    assert abs(ce["lhs"] - ce["rhs"]) > 1e-3
    assert "given y is one-hot with its 1 at i, at K=2" in report.to_text()


def test_an_unstated_case_of_the_chains_quantity_is_holds_if_either_way(reports):
    off, diagonal = reports["v05_unstated_case.md"].claims
    assert (off.verdict, off.cases) == ("holds_if", ("i != j",))
    assert (diagonal.verdict, diagonal.cases) == ("holds_if", ("i = j",))
    assert off.reason == "if i != j (the document does not say which case; it is false if i = j)"


def test_a_wrong_link_in_the_second_branch_of_a_continued_chain_is_the_first_wrong_line(reports):
    report = reports["v06_branches_continued.md"]
    assert [c.verdict for c in report.claims] == ["holds", "holds", "holds", "holds", "wrong"]
    assert report.first_wrong.line == 17 and report.first_wrong.rhs == "p_i p_j"
    assert report.first_wrong.cases == ("i and j are different indices",)


def test_a_sum_over_k_other_than_i_at_the_head_of_a_link_binds_k():
    """A link whose left side is a sum over k != i: k is bound there, not a free index the verifier sets to 1
    (which made an expansion of the sum look false)."""
    text = LOSS + "$$-\\sum_{k \\neq i} y_k p_i = -p_i \\sum_{k \\neq i} y_k$$\n"
    claim = check(text).claims[0]
    assert claim.verdict == "holds", claim.reason


def test_one_link_the_verifier_cannot_evaluate_does_not_hide_a_wrong_one_in_its_run(monkeypatch):
    import derive.verify as verify_module
    real = verify_module.verify

    def refuses_the_middle_link(d, **kw):   # one link SymPy cannot evaluate (the second): so neither can the run
        if len(d.steps) > 1 or (d.lhs == d.steps[0].expr and not d.lhs.has(sp.Derivative)):
            raise ValueError("cannot evaluate")
        return real(d, **kw)

    monkeypatch.setattr(verify_module, "verify", refuses_the_middle_link)
    report = check("$$\\frac{d}{dz} e^{2z} = 2 e^{2z} = 2 e^{2z} = 3 e^{2z}$$\n")
    assert [c.verdict for c in report.claims] == ["holds", "unread", "wrong"]
    assert report.claims[1].reason == "cannot evaluate (ValueError)"
    assert report.first_wrong.line == 1 and report.first_wrong.rhs == "3 e^{2z}"


def test_every_output_carries_the_new_verdicts(reports):
    report = reports["v03_ambiguous_input.md"]
    assert report.exit_status == 0 and report.counts()["ambiguous"] == 1
    assert "1 ambiguous" in report.to_text().splitlines()[0]
    assert "[AMBIGUOUS]" in report.to_text() and "where it is false: at K=2" in report.to_text()
    assert "> line 5: **ambiguous**: ambiguous: it holds if p is an input" in report.to_markdown()
    page = report.to_html()
    assert '<div class="block ambiguous">' in page and '<span class="tag">ambiguous</span>' in page
    assert 'class="tag">ambiguous' in report._repr_html_()
    holds_if = reports["v01_onehot_reading.md"]
    assert "1 holds only under a reading" in holds_if.to_text().splitlines()[0]
    assert "[holds if]" in holds_if.to_text() and '<span class="tag">holds if</span>' in holds_if.to_html()
    assert "> line 17: holds if y is one-hot with its 1 at i" in holds_if.to_markdown()


def test_json_carries_the_verdicts_and_readings_and_follows_the_schema(reports):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "derive" / "schema" / "check.schema.json").read_text())
    for name in OURS:
        jsonschema.validate(reports[name].to_dict(), schema)
    doc = reports["v03_ambiguous_input.md"].to_dict()
    assert doc["counts"] == {"holds": 0, "holds_if": 0, "ambiguous": 1, "wrong": 0, "unread": 0}
    assert doc["claims"][0]["readings"][0] == {"reading": "p is an input", "holds": True}


@pytest.mark.parametrize("name, status", [("v03_ambiguous_input.md", 0), ("v01_onehot_reading.md", 0),
                                          ("v04_false_under_every_reading.md", 1)])
def test_only_a_wrong_claim_makes_the_exit_status_1(name, status):
    run = subprocess.run([sys.executable, "-m", "derive", "check", str(DOCS / name)], cwd=ROOT,
                         capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == status, run.stdout + run.stderr


def test_a_chain_whose_first_link_holds_only_if_i_equals_j_is_read_in_that_case():
    """'If $$i=j$$,' in a sentence is not read as a condition; the chain's own first link holds only if i = j, so
    the author works in that case: its later links are read in it. A chain that holds in general (with delta_ij)
    and then drops the delta is a slip, and stays wrong."""
    head = SOFTMAX + "$$\\frac{\\partial p_j}{\\partial z_i} = "
    case = check(head + "\\frac{e^{z_i} \\sum_k e^{z_k} - e^{z_j} e^{z_i}}{(\\sum_k e^{z_k})^2} = \\frac{e^{z_i}}"
                        "{\\sum_k e^{z_k}} \\cdot \\frac{\\sum_k e^{z_k} - e^{z_i}}{\\sum_k e^{z_k}} = p_j (1 - p_i)$$\n")
    assert [c.verdict for c in case.claims] == ["holds_if"] * 3
    assert case.claims[2].reason.startswith("if i = j (the chain's first link (line 3) holds only if i = j")
    slip = check(head + "p_j (\\delta_{ij} - p_i) = p_j (1 - p_i)$$\n")
    assert [c.verdict for c in slip.claims] == ["holds", "wrong"]


def test_a_lone_equation_with_its_argument_written_defines_the_entry():
    """y_i(z_i) = e^{z_i} / sum_k e^{z_k} defines y_i (read as the product y_i z_i it was a false claim)."""
    report = check("$$y_i(z_i) = \\frac{e^{z_i}}{\\sum_{k=1}^K e^{z_k}}$$\n\n"
                   "$$\\frac{\\partial y_i}{\\partial z_i} = y_i (1 - y_i)$$\n")
    assert [c.verdict for c in report.claims] == ["holds"]
    assert any(d.startswith("y[i] :=") for d in report.definitions)


def test_a_one_hot_reading_draws_one_hot_values_even_where_the_document_states_the_simplex():
    """The sampler lets a step's facts override a condition's domain: the stated sum_k y_k = 1 must not turn the
    reading 'y one-hot at i' back into y on the simplex (the reading would not be tried, and the counterexample
    would claim a reading its values do not honour)."""
    text = (LOSS + "$$\\sum_k y_k = 1$$\n\n"
            "$$\\frac{\\partial L}{\\partial z_i} = p_i - 1$$\n\n$$\\frac{\\partial L}{\\partial z_i} = 2 p_i - 1$$\n")
    holds_if, wrong = check(text).claims
    assert holds_if.verdict == "holds_if", holds_if.reason
    assert wrong.verdict == "wrong" and wrong.counterexample["reading"] == "y is one-hot with its 1 at i"
    assert sorted(v for k, v in wrong.counterexample["notation"].items() if k.startswith("y")) == [0.0, 1.0]


def test_targets_the_document_calls_one_hot_sum_to_one_as_stated():
    """'y is a one-hot vector' (or 'exactly one of the t_i is 1') states that the targets sum to one: a claim that
    needs it holds using it; without the words it holds only if they do."""
    claim = LOSS + "$$\\frac{\\partial L}{\\partial z_i} = p_i - y_i$$\n"
    said = check("Here $y$ is a one-hot vector.\n\n" + claim)
    assert said.claims[0].verdict == "holds" and said.claims[0].uses
    assert any("one-hot" in n for n in said.notes)
    words = check("Exactly one of the $y_k$ is 1 and the rest are zeros.\n\n" + claim)
    assert words.claims[0].verdict == "holds"
    assert check(claim).claims[0].verdict == "holds_if"
    # where it says so, one-hot at an index is still a reading, not a statement
    at_i = check("Here $y$ is a one-hot vector.\n\n" + LOSS + "$$\\frac{\\partial L}{\\partial z_i} = p_i - 1$$\n")
    assert at_i.claims[0].verdict == "holds_if"


def test_a_definition_whose_index_slips_is_read_both_ways(reports):
    """q_m = e^{s_n} / sum_r e^{s_r} (a01, the style of a public post): as written q_m is the same for every m, as
    meant it is e^{s_m} / sum. A line that holds only as meant is ambiguous, never wrong; one false under both
    readings (a lost sign) is still wrong, with its counterexample."""
    report = reports["a01_definition_index_slip.md"]
    meant = next(c for c in report.claims if c.line == 17)
    assert meant.verdict == "ambiguous" and meant.counterexample["K"]
    assert dict(meant.readings) == {"n is m in the definition of q[m]": True,
                                    "q[m] is as defined, the same for every m": False}
    slip = next(c for c in report.claims if c.line == 18)
    assert slip.verdict == "wrong" and report.first_wrong is slip and slip.counterexample["K"]


def test_a_name_written_bare_beside_its_entry_is_that_entry_and_a_binary_label_is_not_one_hot(reports):
    """a02 (the style of a forum question on the log loss): log(1 - \\hat q) beside \\hat q_n is \\hat q_n with its
    index left off, in the definition of E as in the claims; a claimed side that writes 1 - t_n takes t_n as a 0/1
    label, so "t one-hot at n" (which makes that term 0) does not excuse the lost sign."""
    report = reports["a02_dropped_index_binary_labels.md"]
    assert "qhat written without its index beside qhat[n] is read as qhat[n]" in report.notes
    verdicts = {c.line: c.verdict for c in report.claims}
    assert verdicts == {9: "holds", 11: "wrong", 13: "holds"}
    slip = report.first_wrong
    assert slip.line == 11 and slip.counterexample["K"]
    assert not any("one-hot" in reading for reading, _ in slip.readings)


# -- a name applied to an argument and never defined: any differentiable function ---------------------------------

def test_a_rule_for_every_function_holds_and_a_false_one_is_never_wrong():
    right = "$$\\frac{d}{dx} \\left( \\frac{f(x)}{g(x)} \\right) = \\frac{f'(x) g(x) - f(x) g'(x)}{g(x)^2}$$\n"
    claim = check(right).claims[0]
    assert claim.verdict == "holds" and claim.reason.startswith("for any differentiable f, g")
    slip = check(right.replace("g(x) - f(x)", "g(x) + f(x)")).claims[0]
    # false for some f, g: it may rest on what the author means by f and g, which the document never says
    assert slip.verdict == "unread" and slip.reason.startswith("depends on what f, g are")


def test_a_claim_that_holds_for_the_sigmoid_only_is_holds_if_the_sigmoid():
    claim = check("$$\\frac{d}{dx} f(x) = f(x) (1 - f(x))$$\n").claims[0]
    assert claim.verdict == "holds_if" and claim.reason.startswith("if f is the sigmoid")
    other = check("$$\\frac{d}{dx} f(x) = f(x) (2 - f(x))$$\n").claims[0]
    assert other.verdict == "unread" and other.reason.startswith("depends on what f is")


def test_a_name_never_differentiated_itself_stays_a_constant():
    claim = check("$$\\frac{d}{dx} (a x) = a$$\n").claims[0]
    assert claim.verdict == "holds" and "any differentiable" not in claim.reason
    assert check("$$\\frac{d}{dx} (a x) = 2 a$$\n").claims[0].verdict == "wrong"


def test_a_prime_at_an_expression_is_unread_not_a_product():
    claim = check("$$\\frac{d}{dx} f(x^2) = 2 x f'(x^2)$$\n").claims[0]
    assert claim.verdict == "unread" and "the derivative of a function at an expression" in claim.reason


def test_our_document_of_undefined_functions_is_read_link_by_link():
    name = "r01_functions_never_defined.md"
    report = check_file(DOCS / name)
    row = _bench().score(name, report.to_dict(), TRUTH[name], 0.0)
    assert row["read"] == row["links"] == 4 and row["false_alarms"] == 0, report.to_text()
    assert all(c.verdict == "holds" for c in report.claims), report.to_text()


def test_a_name_on_one_side_only_holds_for_every_value_or_stays_unread():
    name = "r02_constant_on_one_side.md"
    report = check_file(DOCS / name)
    row = _bench().score(name, report.to_dict(), TRUTH[name], 0.0)
    assert row["read"] == row["links"] == 2 and row["false_alarms"] == 0, report.to_text()
    first = report.claims[0]
    assert first.verdict == "holds" and first.reason == "for every value of c (not defined in the document)"
    factor = check("$$p_i = \\frac{e^{x_i}}{\\sum_j e^{x_j}}$$\n\n"
                   "$$\\frac{e^{x_i}}{\\sum_j e^{x_j}} = \\frac{c e^{x_i}}{\\sum_j e^{x_j}}$$\n").claims[-1]
    # false unless c = 1: what c is the document does not say, so it is unread, never wrong
    assert factor.verdict == "unread" and factor.reason.startswith("c is not defined in the document and appears")
    assert factor.counterexample is None
