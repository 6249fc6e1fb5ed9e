"""Markdown rendering: $$\\begin{aligned}...\\end{aligned}$$ display math for KaTeX and MathJax.

The math uses only commands both support (no \\bm, no \\label, no Unicode);
prose outside math (titles, descriptions, headings, notes) is text: every character
Markdown or HTML would read as markup is backslash-escaped, so a title such as
``<script>...`` or ``*emphasis*`` shows as written and never runs or formats.
"""
from __future__ import annotations

from ..model import Derivation
from functools import partial

import re

from .layout import (blocks, check_settings, display_of, one_line, pieces, result_forms, result_relations,
                     scoped_assumptions)
from .printers import latex as latex_of
from .tex import aligned_rows, definition_rows

DEFAULTS = {"justifications": True, "heading_level": 2}

# CommonMark lets any ASCII punctuation be backslash-escaped. These can start markup anywhere in a line
# (HTML and autolinks <, entities &, emphasis * _, links [ ], code `, math $, tables |, strikethrough ~,
# images !, braces of attribute syntax); a parenthesis only matters after ], which is escaped.
_MARKUP = re.compile(r"([\\`*_{}\[\]<>#!|~$&])")
# at the start of a line: a list (- + or 1.), a heading underline (= -), a block quote (>), a heading (#)
_LEADING = re.compile(r"\A(\s*)([-+=]|\d+(?=[.)]))")


def escape_markdown(words: str) -> str:
    """Plain words as Markdown text that shows them as written: one line, markup characters escaped."""
    out = _MARKUP.sub(r"\\\1", one_line(words).strip())
    m = _LEADING.match(out)
    if m and m.group(2)[0].isdigit():
        n = m.end()
        return out[:n] + "\\" + out[n:]  # 1\. is not a list item
    return _LEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), out, count=1)


def _display(lines: list) -> list:
    return ["$$", r"\begin{aligned}", *lines, r"\end{aligned}", "$$"]


def _words(words: str) -> str:
    """Prose as Markdown: its text escaped, a Typeset's mathematics as $...$."""
    def text(t):  # escape_markdown trims; the spaces around a piece of mathematics stay
        return " " * (len(t) - len(t.lstrip())) + escape_markdown(t) + " " * (len(t) - len(t.rstrip()))
    return "".join(text(t) if kind == "text" else f"${t}$" for kind, t in pieces(words))


def render_markdown(d: Derivation, **settings) -> str:
    """The derivation as Markdown."""
    s = check_settings(settings, DEFAULTS, "markdown")
    latex = partial(latex_of, display=display_of(d))
    level = s["heading_level"]
    if not 1 <= level <= 5:
        from ..errors import ArgumentError
        raise ArgumentError("heading_level", f"must be between 1 and 5, got {level}")
    h1, h2 = "#" * level, "#" * (level + 1)
    out = [f"{h1} {_words(d.title)}", ""]
    if d.description:
        out += [_words(d.description) + ".", ""]
    out += [f"{h2} Definitions", "", *_display(definition_rows(d.definitions, latex)), ""]
    for block in blocks(d):
        out += [f"{h2} {_words(block.heading)}", ""]
        if block.conditions:
            out += ["For " + ", ".join(f"${latex(c.statement)}$" for c in block.conditions) + ":", ""]
        out += [*_display(aligned_rows(block, latex, s["justifications"])), ""]
    results = result_forms(d)
    if len(results) == 1:
        (lhs, forms), = results
        relation, = result_relations(d)
        out += [f"{h2} Result", "", "$$", f"{latex(lhs)} {relation.tex} " + " = ".join(latex(f) for f in forms), "$$",
                ""]
    else:
        rows = [f"{latex(lhs)} &{relation.tex} " + " = ".join(latex(f) for f in forms)
                + (r" \\" if n < len(results) - 1 else "")
                for n, ((lhs, forms), relation) in enumerate(zip(results, result_relations(d)))]
        out += [f"{h2} Results", "", *_display(rows), ""]
    scoped = scoped_assumptions(d)
    if scoped:
        out += [f"{h2} Assumptions", ""]
        out += [f"- ${latex(a.statement)}$: {_words(a.words)} ({escape_markdown(where)})"
                for a, where in scoped]
        out.append("")
    return "\n".join(out)
