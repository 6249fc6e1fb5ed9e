"""Nothing runs off the page.

Every catalogue entry, with symbolic K and with K = 3 where it takes K, is
compiled with pdflatex from ``to_latex(standalone=True)``; the log must hold no
``Overfull \\hbox`` wider than 1 pt. A deliberately unbreakable row shows that
the check can fail. The row breaker itself is tested with exact strings, and
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


CASES = cases()


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
    texts = {name: (entry() if K == "-" else entry(K=K)).to_latex(standalone=True) for name, entry, K in CASES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        logs = dict(zip(texts, pool.map(lambda name: pdflatex(folder, name, texts[name]), texts)))
    return {name: (texts[name], logs[name]) for name in texts}


@needs_pdflatex
@pytest.mark.parametrize("name", [name for name, _, _ in CASES])
def test_nothing_runs_off_the_page(compiled, name):
    text, log = compiled[name]
    for bad in BAD:
        assert bad not in log, bad
    wide = overfull(log)
    assert not wide, "\n\n".join(f"{w}\n{source_lines(text, w)}" for w in wide)


@needs_pdflatex
def test_the_check_fails_on_a_row_that_runs_off_the_page(tmp_path):
    """A product with nothing to break at, far wider than the page, must be reported."""
    row = " ".join(f"x_{{{n}}}" for n in range(150))
    lines = tex.equation("E", row)
    assert len(lines) == 1  # no sum, no bracket, no fraction: the breaker leaves it whole
    text = PREAMBLE + "\\begin{document}\n\\begin{align*}\n" + lines[0] + "\n\\end{align*}\n\\end{document}\n"
    wide = overfull(pdflatex(tmp_path, "wide", text))
    assert len(wide) == 1, wide
    assert source_lines(text, wide[0]).startswith("\\begin{align*}\nE &= x_{0} x_{1}")


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


def test_a_row_that_fits_is_left_alone():
    assert tex.equation("E", r"o_{k} - y_{k}") == [r"E &= o_{k} - y_{k}"]


def unbroken(lines: list) -> str:
    """The right-hand side the breaker started from: its lines with the break markup taken out."""
    text = " ".join(re.sub(r"^.*?&(=|:=|\\quad)", "", x, count=1) for x in lines)
    for markup in (r"\right.", r"\left. {}", r"\left.", r"\quad", r"\begin{aligned}&\textstyle",
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

PAGES = {"softmax_ce": 2, "mlp_backprop": 4}  # at most, A4 (before the reasons went beside their rows: 3 and 6)


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
