"""Nothing runs off the page, and every reason set beside its row stays there.

Every catalogue entry, with symbolic K and with K = 3 where it takes K, and every
planned cost of tests/data/costs_from_sources.py is compiled with pdflatex from
``to_latex(standalone=True)``; the log must hold no ``Overfull \\hbox`` wider
than 1 pt, and no reason that amsmath had to move off its row onto a line of its
own (a hook in the compiled copy logs each one). A deliberately unbreakable row
and a reason too wide for its row show that the checks can fail. The row breaker itself is tested with exact strings, and
on every row of every entry: breaking only adds line breaks, it never changes
what the printer wrote.
"""
from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sys
from functools import lru_cache

import pytest

import derive
from derive.entries import entry
from derive.render import tex
from derive.render.latex import PREAMBLE
from derive.render.layout import blocks, display_of
from derive.render.printers import latex as latex_of

TOLERANCE = 1.0  # pt
OVERFULL = re.compile(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)[^\n]*")
BAD = ("Undefined control sequence", "Missing character", "invalid in math mode", "Missing $ inserted")

needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None and not os.environ.get("CI"),
    reason="pdflatex not installed (CI installs it; there this test never skips)")


def cases() -> list:
    """(name, entry, K) for every catalogue entry: K = None and K = 3 where it takes K."""
    out = []
    for e in derive.catalogue():
        if "K" in inspect.signature(e.build).parameters:
            out += [(f"{e.name}-K", e, None), (f"{e.name}-3", e, 3)]
        else:
            out.append((e.name, e, "-"))
    return out


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
import costs_from_sources as C  # noqa: E402


@lru_cache(maxsize=None)
def planned(cost_id: str):
    """The planned derivation of a sourced cost, or None where the planner refuses it (issue 14's gaps)."""
    rec = next(r for r in C.COSTS if r.id == cost_id)
    try:
        return derive.gradient(rec.cost, wrt=rec.wrt, assume=list(rec.assume), define=list(rec.define), timeout=20)
    except derive.DeriveError:
        return None


def sourced_cases() -> list:
    """(name, build, '-') for every planned cost the planner derives."""
    return [(f"source-{r.id}", (lambda i=r.id: planned(i)), "-") for r in C.COSTS if planned(r.id) is not None]


CASES = cases() + sourced_cases()

# Added to the compiled copy only (it changes nothing on the page): amsmath's \place@tag sets a row's tag
# (here its reason, or its number) on a line of its own when the row and the tag do not fit side by side;
# the hook writes one line to the log for each such tag.
MOVED = "derive-moved-tag"
HOOK = (r"\makeatletter\let\derive@placetag\place@tag\def\place@tag{\if1\shift@tag\row@\relax"
        r"\immediate\write16{" + MOVED + r": row \the\row@\space of the alignment ending at line \the\inputlineno}"
        r"\fi\derive@placetag}\makeatother" + "\n")


def hooked(text: str) -> str:
    """``text`` with HOOK before \\begin{document}."""
    assert text.count("\\begin{document}") == 1
    return text.replace("\\begin{document}", HOOK + "\\begin{document}")


def moved(log: str) -> list:
    """The tags amsmath set off their rows, as the hook logged them."""
    return re.findall(MOVED + r": .*", log)


def overfull(log: str) -> list:
    """Every 'Overfull \\hbox (X pt too wide) ...' line of a pdflatex log with X over TOLERANCE."""
    return [m.group(0) for m in OVERFULL.finditer(log) if float(m.group(1)) > TOLERANCE]


def pdflatex(folder: Path, name: str, text: str) -> str:
    """Compile ``text`` as folder/name.tex; the log (the run must succeed)."""
    (folder / f"{name}.tex").write_text(text, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", f"{name}.tex"],
                         cwd=folder, capture_output=True, text=True, timeout=120)
    log = (folder / f"{name}.log").read_text(errors="replace")
    assert run.returncode == 0, f"{name}.tex does not compile:\n{log[-2000:]}"
    return log


def source_lines(text: str, report: str) -> str:
    """The .tex lines an overfull report points at: 'in alignment at lines 40--52', or the
    environment that ends at 'detected at line 52'."""
    m = re.search(r"lines? (\d+)(?:--(\d+))?", report)
    if not m:
        return ""
    lines = text.splitlines()
    last = int(m.group(2) or m.group(1))
    first = int(m.group(1)) if m.group(2) else max(
        (n + 1 for n in range(last) if lines[n].startswith("\\begin{")), default=last)
    return "\n".join(lines[first - 1:last])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict:
    """name -> (LaTeX, log) for every case, compiled two at a time."""
    folder = tmp_path_factory.mktemp("layout")
    texts = {name: hooked((entry() if K == "-" else entry(K=K)).to_latex(standalone=True)) for name, entry, K in CASES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        logs = dict(zip(texts, pool.map(lambda name: pdflatex(folder, name, texts[name]), texts)))
    return {name: (texts[name], logs[name]) for name in texts}


# A row that runs off the page today, with why (a strict xfail: it fails loudly once it fits).
RUNS_OFF: dict = {}


@needs_pdflatex
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=RUNS_OFF[name]))
                                  if name in RUNS_OFF else name for name, _, _ in CASES])
def test_nothing_runs_off_the_page(compiled, name):
    text, log = compiled[name]
    for bad in BAD:
        assert bad not in log, bad
    wide = overfull(log)
    assert not wide, "\n\n".join(f"{w}\n{source_lines(text, w)}" for w in wide)


@needs_pdflatex
@pytest.mark.parametrize("name", [name for name, _, _ in CASES])
def test_every_reason_set_beside_its_row_stays_there(compiled, name):
    """page_rows sets a reason beside its row only where its estimate says both fit; amsmath, which
    measures, must never have to move one onto a line of its own (flush right between two rows, where
    it reads as the next row's)."""
    text, log = compiled[name]
    assert not moved(log), "\n\n".join(f"{m}\n{source_lines(text, m)}" for m in moved(log))


@needs_pdflatex
def test_the_moved_tag_check_fails_on_a_reason_too_wide_for_its_row(tmp_path):
    """A row and a reason that together are wider than the line: amsmath moves the reason, the hook says so."""
    row = " + ".join(f"x_{{{n}}}" for n in range(40))
    text = hooked(PREAMBLE + "\\begin{document}\n\\begin{align}\nE &= " + row + r" \tag*{\small "
                  + "a reason of many words " * 6 + "}\n\\end{align}\n\\end{document}\n")
    assert len(moved(pdflatex(tmp_path, "moved", text))) == 1


@needs_pdflatex
def test_the_check_fails_on_a_row_that_runs_off_the_page(tmp_path):
    """A sum's summand with nothing to break at, far wider than the page, must be reported."""
    row = r"\sum_{j} " + " ".join(f"x_{{{n}}}" for n in range(150))
    lines = tex.equation("E", row)
    assert len(lines) == 1  # one term, no bracket, no fraction, a summand is not broken between factors
    text = PREAMBLE + "\\begin{document}\n\\begin{align*}\n" + lines[0] + "\n\\end{align*}\n\\end{document}\n"
    wide = overfull(pdflatex(tmp_path, "wide", text))
    assert len(wide) == 1, wide
    assert source_lines(text, wide[0]).startswith("\\begin{align*}\nE &= \\sum_{j} x_{0} x_{1}")


# ------------------------------------------------------------------ the breaker

def test_a_long_sum_breaks_between_terms_and_keeps_each_sign():
    room = tex.width(r"E = - a_{1} + a_{2}") + 2
    assert tex.equation("E", r"- a_{1} + a_{2} - a_{3} + a_{4}", room=room) == [
        r"E &= - a_{1} + a_{2}", r"&\quad - a_{3}", r"&\quad + a_{4}"]


def test_a_bracketed_sum_breaks_inside_its_brackets():
    room = tex.width(r"E = - \sum_{i=1}^{m} \left(a_{1} + a_{2}") + 2
    assert tex.equation("E", r"- \sum_{i=1}^{m} \left(a_{1} + a_{2} - a_{3}\right) + b", room=room) == [
        r"E &= - \sum_{i=1}^{m} \left(a_{1} + a_{2} \right.",
        r"&\quad \quad \left. {} - a_{3}\right) + b"]


def test_a_long_numerator_is_set_on_lines_inside_its_fraction():
    room = tex.width(r"E = \frac{a_{1} b_{1} c_{1} + a_{2}}{d} - b")
    assert tex.equation("E", r"\frac{a_{1} b_{1} c_{1} + a_{2} b_{2} c_{2}}{d} - b", room=room) == [
        r"E &= \frac{\begin{aligned}&\textstyle a_{1} b_{1} c_{1} \\ &\textstyle \quad + a_{2} b_{2} c_{2}"
        r"\end{aligned}}{d} - b"]


def test_a_long_product_breaks_between_its_factors_never_inside_a_small_bracket():
    """issue 17.8: '(1 -' / 'o_k)' at 390 px. A product wider than its line goes on after a factor, the next
    line starting with \\times; a small bracket such as (o_k - y_k) stays whole."""
    rhs = r"\left(1 - o_{t}\right)^{\gamma - 1} \left(o_{k} - \delta_{kt}\right) \left(1 - \gamma o_{t} \log o_{t} - o_{t}\right)"
    room = tex.width(r"E = \quad {} \times \left(1 - \gamma o_{t} \log o_{t} - o_{t}\right)") + 2
    assert tex.width(f"E = {rhs}") > room
    assert tex.equation("E", rhs, room=room) == [
        r"E &= \left(1 - o_{t}\right)^{\gamma - 1} \left(o_{k} - \delta_{kt}\right)",
        r"&\quad {} \times \left(1 - \gamma o_{t} \log o_{t} - o_{t}\right)"]


def test_a_product_is_not_broken_before_a_functions_argument_nor_after_an_operator():
    term = tex._parse(tex._TOKEN.findall(
        r"- a h_{1}\left(x\right) \frac{\partial}{\partial z} \left(b + c\right) \log \left(d + e\right) f \sum_{j} g_{j} \left(u + v\right)"))[0]
    assert [tex._src(g).strip() for g in tex._factors(term)] == [
        "- a", r"h_{1}\left(x\right)", r"\frac{\partial}{\partial z} \left(b + c\right)",
        r"\log \left(d + e\right)", r"f \sum_{j} g_{j} \left(u + v\right)"]


def test_a_factor_wider_than_a_line_is_broken_inside_and_the_product_goes_on():
    rhs = r"a \left(" + " + ".join(f"b_{{{n}}}" for n in range(12)) + r"\right) c"
    room = tex.width(r"E = a \left(b_{0} + b_{1} + b_{2} + b_{3}") + 2
    lines = tex.equation("E", rhs, room=room)
    assert len(lines) > 2 and lines[0].startswith(r"E &= a \left(b_{0} + b_{1}") and lines[0].endswith(r"\right.")
    assert lines[-1].endswith(r"\right) c") and not any(r"\times" in x for x in lines)
    assert all(tex.width(x.replace("&", "")) <= room + 1 for x in lines), lines


def test_a_fraction_whose_numerator_is_a_bracketed_sum_times_a_factor_breaks_inside_the_bracket():
    """taylor_softmax_nll's rows: ((A) S - (B) C) y_j over D, the whole inside a bracket with a factor after
    it. The numerator is set on lines, broken inside its bracket, and the outer bracket still closes."""
    num = r"\left(a_{1} b_{1} c_{1} d_{1} + a_{2} b_{2} c_{2} d_{2} - a_{3} b_{3} c_{3} d_{3}\right) y_{j}"
    rhs = r"- \left(\sum_{j} \frac{" + num + r"}{d_{j}}\right) \sum_{l} \left(1 + z_{l}\right)"
    room = tex.width(r"E = - \left(\sum_{j} \right) \sum_{l} \left(1 + z_{l}\right) \left(a_{1} b_{1} c_{1} d_{1} + a_{2} b_{2} c_{2} d_{2}")
    lines = tex.equation("E", rhs, room=room)
    assert len(lines) == 1 and r"\frac{\begin{aligned}&\textstyle \left(a_{1}" in lines[0], lines
    assert lines[0].endswith(r"\right) y_{j}\end{aligned}}{d_{j}}\right) \sum_{l} \left(1 + z_{l}\right)"), lines
    assert lines[0].count(r"\\ &\textstyle") >= 1 and r"\right. \\ &\textstyle \quad \quad \left. {} - a_{3}" in lines[0], lines


def test_a_row_that_fits_is_left_alone():
    assert tex.equation("E", r"o_{k} - y_{k}") == [r"E &= o_{k} - y_{k}"]


def unbroken(lines: list) -> str:
    """The right-hand side the breaker started from: its lines with the break markup taken out."""
    text = " ".join(re.sub(r"^.*?&(=|:=|\\quad)", "", x, count=1) for x in lines)
    for markup in (tex.TIMES, r"\right.", r"\left. {}", r"\left.", r"\quad", r"\begin{aligned}&\textstyle",
                   r"\\ &\textstyle", r"\end{aligned}"):
        text = text.replace(markup, " ")
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("room", [tex.TEXT_WIDTH, 260.0])
def test_breaking_never_changes_what_the_printer_wrote(room):
    for name, make, K in CASES:
        d = make() if K == "-" else make(K=K)
        latex = lambda e: latex_of(e, display=display_of(d))  # noqa: E731
        for block in blocks(d):
            for row in block.rows:
                rhs = latex(row.expr)
                lines = tex.equation(latex(block.lhs), rhs, room=room)
                assert unbroken(lines) == re.sub(r"\s+", "", rhs), (name, lines)
                assert all(x.count(r"\left") == x.count(r"\right") for x in lines), (name, lines)


# ------------------------------------------------------------------ compact pages (issue 17.7)

PAGES = {"softmax_ce": 1, "mlp_backprop": 3}  # at most, A4 (issue 17.7: 3 and 6 at first, 2 and 4 with the reasons beside their rows)


def pages(log: str) -> int:
    m = re.search(r"Output written on \S+ \((\d+) pages?", log)
    assert m, "no PDF written"
    return int(m.group(1))


@needs_pdflatex
@pytest.mark.parametrize("name", sorted(PAGES))
def test_pages_are_compact_and_every_reference_resolves(tmp_path, name):
    text = entry(name)().to_latex(standalone=True)
    pdflatex(tmp_path, name, text)
    log = pdflatex(tmp_path, name, text)  # the second run resolves \eqref
    assert "undefined references" not in log and "Reference `" not in log, re.findall(r"LaTeX Warning: .*", log)
    assert pages(log) <= PAGES[name]


def test_reasons_sit_beside_their_rows_and_cited_equations_are_numbered():
    d = derive.softmax_ce()
    text = d.to_latex()
    rows = sum(len(b.rows) for b in blocks(d))
    beside = text.count(r"\tag*{") + len(re.findall(r"(?<!&)\\qquad \\text\{\\small", text))
    below = len(re.findall(r"^&\\qquad (\\text|\\parbox)", text, re.M))
    assert beside + below == rows and beside >= 0.75 * rows, (beside, below, rows)
    labels = re.findall(r"\\label\{([^}]*)\}", text)
    assert labels == ["softmax_ce:def-1", "softmax_ce:def-2", "softmax_ce:lemma-1", "softmax_ce:lemma-2",
                      "softmax_ce:result"]
    assert r"substitute the lemmas \eqref{softmax_ce:lemma-1} and \eqref{softmax_ce:lemma-2}" in text
    assert set(re.findall(r"\\eqref\{([^}]*)\}", text)) <= set(labels)
    # every row that carries no number says \notag, so amsmath numbers only those five
    numbered = [x for x in text.split(r"\\") if r"\notag" not in x and r"\tag*" not in x and "&" in x
                and not x.strip().startswith(r"\end")]
    assert all(r"\label" in x for x in numbered), numbered


# ------------------------------------------------------------------ the width estimate against pdflatex

ROW = re.compile(r" \\tag\*?\{.*$| \\label\{[^}]*\}| \\notag| \\withreason\{.*$| \\qquad \\text\{\\small.*$")


def row_lines(text: str) -> list:
    """The lines of every chain row of a standalone document (reasons, numbers and definitions left out)."""
    out = []
    for env in re.findall(r"\\begin\{align\}\n(.*?)\n\\end\{align\}", text, re.S):
        for line in env.split(" \\\\\n"):
            if ":=" in line or line.startswith((r"&\qquad \text{", r"&\qquad \parbox")) or r"\text{(" in line:
                continue
            out.append(ROW.sub("", line))
    return out


@needs_pdflatex
def test_the_width_estimate_of_every_row_is_close_to_pdflatex(compiled, tmp_path):
    """tex.width, times PAGE_POINTS, against the width pdflatex gives each row line on the page: never more
    than 5% under (a reason beside it keeps GAP, at least 20 pt), and at most 25% over (room wasted). On the
    page a display sum's limits sit beside its sign (\\sum\\nolimits); counted under it, as KaTeX sets them,
    the rows with sums came out up to 18% under."""
    lines = sorted({x for name, _, _ in CASES if not name.startswith("source-") for x in row_lines(compiled[name][0])})
    assert len(lines) > 200
    body = [rf"\setbox0\hbox{{$\displaystyle {x.replace('&', '')}$}}\typeout{{WIDTH {n} \the\wd0}}"
            for n, x in enumerate(lines)]
    log = pdflatex(tmp_path, "widths", PREAMBLE + "\\begin{document}\n" + "\n".join(body) + "\n\\end{document}\n")
    real = {int(n): float(w) for n, w in re.findall(r"WIDTH (\d+) ([\d.]+)pt", log)}
    assert len(real) == len(lines)
    ratios = sorted((tex.width(x.replace("&", "")) * tex.PAGE_POINTS / real[n], x) for n, x in enumerate(lines))
    assert ratios[0][0] >= 0.95, ratios[:3]
    # room wasted: 25% over, or a few points on a row too short to waste a line (&\ge 0 of the PSD chain)
    over = [(r, x) for r, x in ratios if r > 1.25 and (r - 1) * real[lines.index(x)] > 5]
    assert not over, over


def test_a_sum_with_its_limits_beside_is_counted_wider_than_one_with_them_under():
    under, beside = tex.width(r"\sum_{j=1}^{K} y_{j}"), tex.width(r"\sum\nolimits_{j=1}^{K} y_{j}")
    assert beside > under + 5
    assert tex.width(r"\sum\nolimits_{j=1}^{K} y_{j}", 1) == tex.width(r"\sum_{j=1}^{K} y_{j}", 1)  # inline: beside


def test_the_page_writes_every_sum_with_its_limits_beside():
    text = derive.softmax_ce().to_latex(standalone=True)
    assert r"\sum_" not in text and text.count(r"\sum\nolimits_{j=1}^{K}") >= 3
    assert r"\sum\nolimits" not in derive.softmax_ce().to_latex()  # a fragment: the host document's sums


# ------------------------------------------------------------------ numbered rows keep their reasons beside them

@needs_pdflatex
def test_a_numbered_rows_reason_sits_before_its_number_and_the_number_alone_is_cited(tmp_path):
    text = derive.softmax_ce().to_latex(standalone=True)
    lemma = re.search(r"^.*\\label\{softmax_ce:lemma-1\}.*$", text, re.M).group(0)
    assert r"\withreason{\small fold the definition of the softmax back in" in lemma
    # the width of every number amsmath sets (and of every \eqref) goes to the log
    text = hooked(text).replace("\\begin{document}", r"\makeatletter\let\derive@number\tagform@"
                                r"\def\tagform@#1{\setbox0\hbox{\derive@number{#1}}\typeout{TAG \the\wd0}\box0}"
                                "\\makeatother\n\\begin{document}", 1)
    pdflatex(tmp_path, "ce", text)
    log = pdflatex(tmp_path, "ce", text)
    assert not moved(log) and "undefined references" not in log
    numbers = sorted({float(w) for w in re.findall(r"TAG ([\d.]+)pt", log)})
    assert numbers[0] < 20 and numbers[-1] > 150, numbers  # (5) alone, and (3) or (4) after the fold's words
    aux = (tmp_path / "ce.aux").read_text()
    assert r"\newlabel{softmax_ce:lemma-1}{{3}" in aux and r"\newlabel{softmax_ce:lemma-2}{{4}" in aux


def test_a_fragment_keeps_a_numbered_rows_reason_inside_the_line():
    """A fragment goes into another document, without derive's preamble and its \\withreason."""
    text = derive.softmax_ce().to_latex()
    assert r"\withreason" not in text and r"\qquad \text{\small fold the definition" in text


# ------------------------------------------------------------------ prose

def test_a_long_run_of_text_may_break_after_its_operators():
    from derive.render.latex import _text
    out = _text("the cost E = -alpha*sum(y[j]*log(softmax(z)[j]), j) + T**2*x_1*sum(x_2*x_3*x_4, i) with respect to z")
    assert r"-alpha*\allowbreak{}sum(\allowbreak{}y[j]*\allowbreak{}log(" in out
    assert r"T**\allowbreak{}2*\allowbreak{}x\_1*\allowbreak{}sum(" in out  # ** stays whole; the text is escaped
    assert _text("short words, x*y stay as they are") == "short words, x*y stay as they are"


# ------------------------------------------------------------------ one number for one equation

@needs_pdflatex
def test_a_result_its_part_already_numbered_keeps_that_number(tmp_path):
    """mlp_backprop's Results repeat BP1-BP4, whose last rows are numbered (10), (12), (13), (14): the
    Results show those numbers, not four new ones, and \\eqref of a result label resolves to them."""
    text = derive.mlp_backprop().to_latex(standalone=True)
    parts = ["bp1", "bp2", "bp3", "bp4"]
    for n, part in enumerate(parts, start=1):
        assert rf"\tag{{\ref{{mlp_backprop:{part}}}}} \label{{mlp_backprop:result-{n}}}" in text
    pdflatex(tmp_path, "mlp", text)
    log = pdflatex(tmp_path, "mlp", text)
    assert "undefined references" not in log and "multiply defined" not in log
    labels = dict(re.findall(r"\\newlabel\{mlp_backprop:([^}]*)\}\{\{(.*?)\}\{\d+\}\}", (tmp_path / "mlp.aux").read_text()))
    for n, part in enumerate(parts, start=1):  # result-N is typeset as BP N's own number
        assert labels[f"result-{n}"].replace(" ", "") == rf"{{\ref{{mlp_backprop:{part}}}}}", labels
        assert labels[part].isdigit(), labels
    numbers = [int(v) for v in labels.values() if v.isdigit()]
    assert len(numbers) == len(set(numbers)) and max(numbers) == int(labels["bp4"]), labels  # none twice, none after BP4


def test_a_result_of_the_main_chain_takes_its_own_number():
    text = derive.softmax_ce().to_latex(standalone=True)
    assert r"\label{softmax_ce:result}" in text and r"\tag{\ref" not in text


# ------------------------------------------------------------------ a reason wrapped beside its row

def test_a_reason_wrapped_beside_its_row_is_set_on_two_lines_of_about_equal_length():
    """Not a full line and a word ('take constant factors out of the' / 'sum', the Hessian's page 2): the box
    of a reason wrapped beside its row is a little over half the reason wide, or its widest formula."""
    boxes = 0
    for e in derive.catalogue():
        for box, reason in re.findall(r"\\tag\*\{\\parbox\[t\]\{(\d+)pt\}\{\\raggedleft (.*)\}\}", e().to_latex(standalone=True)):
            wide = tex.width(rf"\text{{{reason}}}")
            formula = max((tex.width(m.replace(r"\textstyle", ""), 1) for m in re.findall(r"\$(.*?)\$", reason)), default=0)
            assert int(box) <= max(.6 * wide, formula + tex.EM, 5 * tex.EM) * tex.PAGE_POINTS + 1, (e.name, box, reason)
            boxes += 1
    assert boxes >= 10
