"""HTML rendering: one self-contained page per derivation, and an index page.

The page carries the pinned KaTeX (assets/katex: its JS inline, its CSS inline
with the woff2 fonts as data: URIs), so it needs no network and no other file.
Each math element holds its TeX source as text (readable without JavaScript);
a script at the end of the page typesets it with ``throwOnError: false`` and
``strict: "error"``. Prose is escaped with html.escape; the renderer formats
what the derivation holds and computes nothing.
"""
from __future__ import annotations

import base64
import html
import re
from functools import lru_cache, partial
from importlib import resources
from typing import Sequence

from ..errors import ArgumentError, ArgumentTypeError
from ..model import Derivation
from .layout import (and_list, blocks, capitalised, check_settings, display_of, formulas, pieces, plain, result_forms,
                     result_relations, scoped_assumptions)
from .printers import latex as latex_of
from .tex import equations

# How much TeX (in pt, as tex.width measures it) a display row holds: KaTeX sets 1 em of TeX (10.95 pt)
# in 1.21 x 17 px in the wide column (60rem less padding, about 950 px: 505 pt) and, in a narrow row,
# in .9 x 16 px on a phone (390 px less padding, about 350 px: 266 pt); a little under each.
WIDE = 472.0
NARROW = 225.0

DEFAULTS = {"justifications": True}

KATEX_VERSION = "0.19.1"
ERROR_COLOR = "#cc0000"  # KaTeX draws what it cannot parse in this colour (tests look for it)

_FONT_SRC = re.compile(r'src:url\((fonts/[^)]+\.woff2)\) format\("woff2"\)[^;}]*')

CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#fff;color:#1f1f1f;font-family:Charter,"Bitstream Charter","Iowan Old Style",
 Georgia,Cambria,"Times New Roman",serif;font-size:1.0625rem;line-height:1.55;overflow-wrap:break-word}
main{max-width:60rem;margin:0 auto;padding:1.5rem 1.25rem 3rem}
h1{font-size:1.75rem;line-height:1.25;margin:.5rem 0 .75rem}
h2{font-size:1.3rem;line-height:1.3;margin:2.25rem 0 .75rem;padding-bottom:.2rem;border-bottom:1px solid #d8d8d8}
a{color:#1a57a8}
a:visited{color:#5b3f99}
p{margin:.5rem 0}
.description{font-size:1.1rem;color:#333}
nav.toc{margin:1rem 0 1.5rem;padding:.6rem 1rem;background:#f6f7f9;border:1px solid #e1e4e8;border-radius:4px}
nav.toc h2{font-size:1rem;margin:0 0 .3rem;border:0;padding:0}
nav.toc ol{margin:0;padding-left:1.4rem}
nav.toc li{margin:.1rem 0}
.math-row{overflow-x:auto;overflow-y:hidden;max-width:100%;padding:.15rem 0;
 background:linear-gradient(to right,#fff 40%,rgba(255,255,255,0)) left/1.5rem 100% no-repeat local,
 linear-gradient(to left,#fff 40%,rgba(255,255,255,0)) right/1.5rem 100% no-repeat local,
 radial-gradient(farthest-side at 0 50%,rgba(0,0,0,.2),rgba(0,0,0,0)) left/.6rem 100% no-repeat scroll,
 radial-gradient(farthest-side at 100% 50%,rgba(0,0,0,.2),rgba(0,0,0,0)) right/.6rem 100% no-repeat scroll}
.math-row .katex-display.fleqn>.katex{padding-left:1.6rem}
.math-row.narrow{display:none}
.math-row .katex-display{margin:.35rem 0}
.math.inline{display:inline-block;max-width:100%;overflow-x:auto;overflow-y:hidden;vertical-align:middle;
 padding:.1rem 0}
html:not(.typeset) .math{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85rem;
 white-space:pre-wrap;overflow-wrap:anywhere}
ol.chain,ul.defs,ul.results{list-style:none;margin:0;padding:0}
ol.chain>li{margin:0;padding:.35rem 0 .55rem;border-bottom:1px solid #eee}
ol.chain>li:last-child{border-bottom:0}
.why{margin:0 0 0 .25rem;padding-left:1.6rem;text-indent:-1.6rem;font-size:.95rem;color:#444;line-height:1.5}
.why .math{text-indent:0}
.why .katex{font-size:1.08em}
.why .num{color:#777;font-variant-numeric:tabular-nums;display:inline-block;min-width:1.6rem;text-indent:0}
.why .rule{font-size:.82em;font-weight:600;letter-spacing:.02em;color:#1f3f66;background:#eaf0f7;
 border:1px solid #d3deea;border-radius:3px;padding:0 .35em;margin-right:.3em;white-space:nowrap}
.why .uses{color:#555}
ul.defs>li{display:flex;flex-wrap:wrap;align-items:baseline;column-gap:1.25rem;padding:.1rem 0}
ul.defs>li>.math-row{flex:0 1 auto;min-width:0}
ul.defs .katex-display{padding-right:.25rem}
.note{color:#555;font-size:.95rem}
.conditions{font-style:italic}
.block-assumptions{font-size:.95rem;color:#444}
ul.assumptions{padding-left:1.4rem}
ul.assumptions li{margin:.2rem 0}
#results .math-row{background:#f5f8fc;border-left:3px solid #1a57a8;padding:.1rem .75rem .1rem 0}
footer{margin-top:3rem;padding-top:.5rem;border-top:1px solid #e5e5e5;font-size:.85rem;color:#666}
code{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.86em}
ul.entries{list-style:none;margin:0;padding:0}
ul.entries p{margin:.3rem 0}
ul.entries>li{padding:.75rem 0;border-bottom:1px solid #eee}
ul.entries .name{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85rem;color:#666}
ul.entries .entry-title{font-size:1.15rem;font-weight:600}
ul.entries .meta{font-size:.92rem;color:#555}
@media (max-width:40rem){
 body{font-size:1rem}
 main{padding:1rem .85rem 2rem}
 h1{font-size:1.45rem}
 h2{font-size:1.15rem;margin-top:1.75rem}
 .why{margin-left:0;font-size:.92rem}
 .math-row .katex-display.fleqn>.katex{padding-left:.75rem}
 ul.defs .note{padding-left:.75rem}
 .math-row .katex{font-size:1.1em}
 .math-row.wide{display:none}
 .math-row.narrow{display:block}
 .math-row.narrow .katex{font-size:.9em}
}
@media print{
 nav.toc{display:none}
 a{color:inherit;text-decoration:none}
 .math-row{overflow:visible}
 ol.chain>li,ul.defs>li{break-inside:avoid}
}
"""

RENDER_SCRIPT = """
(function () {
  var opts = {throwOnError: false, strict: "error", errorColor: "%s", fleqn: true};
  var els = document.querySelectorAll(".math");
  for (var i = 0; i < els.length; i++) {
    var el = els[i];
    opts.displayMode = el.classList.contains("display");
    try {
      katex.render(el.textContent, el, opts);
    } catch (e) {
      el.classList.add("math-error");
      el.title = String(e && e.message || e);
    }
  }
  document.documentElement.classList.add("typeset");
})();
""" % ERROR_COLOR


def _asset(path: str) -> bytes:
    return resources.files(__package__).joinpath("assets/katex/" + path).read_bytes()


@lru_cache(maxsize=1)
def katex_head() -> str:
    """KaTeX's licence (as a comment), CSS (fonts as data: URIs) and JS, for a page's <head>."""
    def font(m: re.Match) -> str:
        data = base64.b64encode(_asset(m.group(1))).decode("ascii")
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    css, n = _FONT_SRC.subn(font, _asset("katex.min.css").decode("utf-8"))
    if n == 0 or "url(fonts/" in css:  # pragma: no cover - a vendored file that changed shape
        raise RuntimeError("katex.min.css: could not inline every woff2 font")
    js = _asset("katex.min.js").decode("utf-8")
    licence = _asset("LICENSE").decode("utf-8").replace("--", "- -")
    return (f"<!-- KaTeX {KATEX_VERSION}, carried with this page under its licence:\n{licence}-->\n"
            f"<style>{css}</style>\n<script>{js}</script>\n")


def _e(words: str) -> str:
    return html.escape(words, quote=True)


def _math(tex: str, display: bool) -> str:
    kind = "display" if display else "inline"
    return f'<span class="math {kind}">{_e(tex)}</span>'


def _row(tex: str) -> str:
    """A display formula in its own block that scrolls sideways when it is too wide."""
    return f'<div class="math-row">{_math(tex, True)}</div>'


def _aligned(lines: list) -> str:
    return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


def _equation(lhs: str, rhs, relation: str = "=") -> str:
    """'lhs = rhs' as a display row, broken the way the LaTeX breaks it (tex.equation): one block when
    it fits the wide column (WIDE pt) and a phone (NARROW pt); otherwise a wide and a narrow variant,
    and the page's CSS shows the one that fits the screen. ``rhs`` may be a list of equal forms
    (an index form and its matrix form), each put on a line of its own where they do not fit on one."""
    forms = [rhs] if isinstance(rhs, str) else list(rhs)
    whole = f"{lhs} {relation} {f' {relation} '.join(forms)}".lstrip()
    wide, narrow = (equations(lhs, forms, relation, room) for room in (WIDE, NARROW))
    unbroken = equations(lhs, forms, relation, float("inf"))
    if wide == narrow == unbroken:
        return _row(whole)
    # one line can still be broken inside: a numerator set on lines of its own
    shown = [whole if wide == unbroken else _aligned(wide), _aligned(narrow)]
    return "".join(f'<div class="math-row {kind}">{_math(tex, True)}</div>' for kind, tex in zip(("wide", "narrow"),
                                                                                               shown))


def _slug(words: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-") or "section"


def _section_ids(d: Derivation, bl: tuple) -> list:
    """An id for each block: lemma-N for lemmas, a part's name, 'derivation' for the main chain."""
    titles: dict = {}
    for x in d.walk():
        if x is not d:
            titles.setdefault(x.title, x.name)
    used = {"contents", "definitions", "results", "assumptions"}
    out = []
    for n, block in enumerate(bl):
        m = re.match(r"Lemma (\d+): ", block.heading)
        if m:
            ident = f"lemma-{m.group(1)}"
        elif n == len(bl) - 1 and d.steps and block.heading == "Derivation":
            ident = "derivation"
        else:
            ident = _slug(titles.get(block.heading, block.heading))
        base, k = ident, 2
        while ident in used:
            ident, k = f"{base}-{k}", k + 1
        used.add(ident)
        out.append(ident)
    return out


def _assumption_math(a, latex, math=_math) -> str:
    return f'<span title="{_e(a.text)}">{math(latex(a.statement), False)}</span>'


def repeats(rule: str, words: str) -> bool:
    """Whether ``words`` already say the rule's name: each word of it (of three letters or more) starts a
    word of ``words`` ('cancel' in 'cancel common factors', 'fold definition' in 'fold the definition
    of the softmax back in'), so a chip showing it would say the same thing twice."""
    said = re.findall(r"[a-z]+", words.lower())
    return all(any(w.startswith(x) for w in said) for x in re.findall(r"[a-z]{3,}", rule.lower()))


def shows_chip(row) -> bool:
    """Whether a row names its rule in a chip: only a law of calculus (Rule.law: 'linearity', 'chain rule'),
    and only where the words do not say it; a rule named for its action ('expand', 'cancel') is what the
    step's own words say ('multiply out the brackets'), so a chip would say it twice (issue 17.8)."""
    return row.law and not repeats(row.rule, plain(row.justification))


def _why(number: int, row, latex, math=_math, links: bool = True) -> str:
    """The law the step applies (a chip, see shows_chip), the justification, cited formulas,
    lemmas and assumptions of one step. ``math(tex, display)`` writes a formula (this page's KaTeX spans,
    or the Jupyter output's MathJax delimiters); ``links`` makes each cited lemma a link to #lemma-N."""
    chip = f'<span class="rule">{_e(row.rule)}</span> ' if shows_chip(row) else ""
    parts = [f'<span class="num">{number}</span> {chip}', _words(row.justification, math)]
    if row.formula is not None:
        # display style: a cited identity is read, not skimmed (text style shrinks its fractions)
        parts.append(": " + ", ".join(math(r"\displaystyle " + latex(f), False) for f in formulas(row.formula)))
    if row.cites:
        cited = [f'<a href="#lemma-{n}">Lemma {n}</a>' if links else f"Lemma {n}" for n in row.cites]
        parts.append(" (" + and_list(cited) + ")")
    if row.assumptions:
        parts.append('; <span class="uses">using ' + ", ".join(_assumption_math(a, latex, math)
                                                                for a in row.assumptions) + "</span>")
    return '<p class="why">' + "".join(parts) + "</p>"


def _assumption_list(assumptions, latex) -> list:
    """Items are assumptions, or (assumption, 'used in ...') pairs."""
    items = []
    for item in assumptions:
        a, where = item if isinstance(item, tuple) else (item, "")
        note = f" ({_e(where)})" if where else ""
        items.append(f"<li>{_math(latex(a.statement), False)}: {_words(a.words)}{note}</li>")
    return ['<ul class="assumptions">', *items, "</ul>"]


def _words(words: str, math=_math) -> str:
    """Prose as HTML: its text escaped, a Typeset's mathematics as inline math (written by ``math``)."""
    return "".join(_e(t) if kind == "text" else math(t, False) for kind, t in pieces(words))


def _block(block, ident: str, latex, justifications: bool, shown: str) -> list:
    out = [f'<section id="{ident}">', f"<h2>{_words(block.heading)}</h2>"]
    if block.description and block.description != shown:  # the main chain's is the page's description
        out.append(f'<p class="about">{_words(capitalised(block.description))}.</p>')
    if block.conditions:
        out.append('<p class="conditions">For ' + ", ".join(_math(latex(c.statement), False)
                                                           for c in block.conditions) + ":</p>")
    out.append('<ol class="chain">')
    for n, row in enumerate(block.rows):
        head = latex(block.lhs) if n == 0 else ""
        item = [f'<li id="{ident}-step-{n + 1}">', _equation(head, latex(row.expr), row.relation.tex)]
        if justifications:
            item.append(_why(n + 1, row, latex))
        out.append("".join(item) + "</li>")
    out.append("</ol>")
    if block.assumptions:
        out.append('<p class="block-assumptions">Assumptions used here:</p>')
        out += _assumption_list(block.assumptions, latex)
    out.append("</section>")
    return out


def _definitions(d: Derivation, latex) -> list:
    out = ['<section id="definitions">', "<h2>Definitions</h2>", '<ul class="defs">']
    for x in d.definitions:
        if x.abstract:
            out.append(f'<li>{_row(latex(x.lhs))}<span class="note">{_e(x.text)}</span></li>')
            continue
        note = f'<span class="note">({_e(x.text)})</span>' if x.text else ""
        out.append(f"<li>{_equation(latex(x.lhs), latex(x.expr), ':=')}{note}</li>")
    return out + ["</ul>", "</section>"]


def _page(title: str, body: list, math: bool) -> str:
    head = katex_head() if math else ""
    script = f"<script>{RENDER_SCRIPT}</script>\n" if math else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n{head}<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n" + script + "</body>\n</html>\n")


def _footer(math: bool) -> str:
    katex = (f" Mathematics typeset in the browser by KaTeX {KATEX_VERSION}, carried with this page"
             " (no network needed)." if math else "")
    return f"<footer>Generated by derive.{katex}</footer>"


def render_html(d: Derivation, *, justifications: bool = True) -> str:
    """The derivation as a self-contained HTML page (KaTeX, its CSS and fonts inlined)."""
    s = check_settings({"justifications": justifications}, DEFAULTS, "html")
    latex = partial(latex_of, display=display_of(d))
    bl = blocks(d)
    ids = _section_ids(d, bl)
    assumptions = scoped_assumptions(d)
    results = d.results
    results_heading = "Result" if len(results) == 1 else "Results"

    toc = ['<nav class="toc" id="contents" aria-label="Contents">', "<h2>Contents</h2>", "<ol>",
           '<li><a href="#definitions">Definitions</a></li>',
           *(f'<li><a href="#{i}">{_words(b.heading)}</a></li>' for i, b in zip(ids, bl)),
           f'<li><a href="#results">{results_heading}</a></li>']
    if assumptions:
        toc.append('<li><a href="#assumptions">Assumptions</a></li>')
    toc += ["</ol>", "</nav>"]

    body = [f"<h1>{_words(d.title)}</h1>"]
    if d.description:
        body.append(f'<p class="description">{_words(d.description)}.</p>')
    body += toc
    body += _definitions(d, latex)
    for ident, block in zip(ids, bl):
        body += _block(block, ident, latex, s["justifications"], d.description)
    body += ['<section id="results">', f"<h2>{results_heading}</h2>", '<ul class="results">',
             *(f"<li>{_equation(latex(lhs), [latex(f) for f in forms], relation.tex)}</li>"
               for (lhs, forms), relation in zip(result_forms(d), result_relations(d))),
             "</ul>", "</section>"]
    if assumptions:
        body += ['<section id="assumptions">', "<h2>Assumptions</h2>", *_assumption_list(assumptions, latex),
                 "</section>"]
    body.append(_footer(math=True))
    return _page(plain(d.title), body, math=True)


def _check_rows(rows) -> list:
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
        raise ArgumentTypeError("rows", f"must be a sequence of (name, title, description, reference), "
                                        f"got {type(rows).__name__}")
    out = []
    for n, row in enumerate(rows):
        if not isinstance(row, (tuple, list)) or len(row) != 4 or not all(isinstance(x, str) for x in row):
            raise ArgumentTypeError("rows", f"row {n} must be (name, title, description, reference) strings, "
                                            f"got {row!r}")
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", row[0]):
            raise ArgumentError("rows", f"row {n}: {row[0]!r} is not a derivation name (letters, digits, _ . -)")
        out.append(tuple(row))
    return out


def render_index_html(rows) -> str:
    """The index page: each (name, title, description, reference) linked to NAME.html, NAME.md and NAME.tex."""
    entries = []
    for name, title, description, reference in _check_rows(rows):
        page, md, tex = (_e(f"{name}.{ext}") for ext in ("html", "md", "tex"))
        meta = [f"reference: {_e(reference)}"] if reference else []
        meta.append(f'files: <a href="{page}">HTML</a>, <a href="{md}">Markdown</a>, <a href="{tex}">LaTeX</a>')
        entries.append(f'<li id="{_e(name)}"><a class="entry-title" href="{page}">{_e(title)}</a> '
                       f'<span class="name">{_e(name)}</span>'
                       f"<p>{_words(description)}</p>"
                       f'<p class="meta">{" &middot; ".join(meta)}</p></li>')
    body = ["<h1>Derivations</h1>",
            "<p>Generated by <code>derive build</code>; every step of each is checked by "
            "<code>derive verify NAME</code>.</p>",
            '<ul class="entries">', *entries, "</ul>", _footer(math=True)]
    return _page("Derivations", body, math=True)
