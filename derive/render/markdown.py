"""Markdown rendering: $$\\begin{aligned}...\\end{aligned}$$ display math for KaTeX and MathJax.

The math uses only commands both support (no \\bm, no \\label, no Unicode);
prose outside math is plain words.
"""
from __future__ import annotations

from ..model import Derivation
from functools import partial

from .layout import blocks, check_settings, display_of, scoped_assumptions
from .printers import latex as latex_of
from .tex import aligned_rows, definition_rows

DEFAULTS = {"justifications": True, "heading_level": 2}


def _display(lines: list) -> list:
    return ["$$", r"\begin{aligned}", *lines, r"\end{aligned}", "$$"]


def render_markdown(d: Derivation, **settings) -> str:
    """The derivation as Markdown."""
    s = check_settings(settings, DEFAULTS, "markdown")
    latex = partial(latex_of, display=display_of(d))
    level = s["heading_level"]
    if not 1 <= level <= 5:
        from ..errors import ArgumentError
        raise ArgumentError("heading_level", f"must be between 1 and 5, got {level}")
    h1, h2 = "#" * level, "#" * (level + 1)
    out = [f"{h1} {d.title}", ""]
    if d.description:
        out += [d.description + ".", ""]
    out += [f"{h2} Definitions", "", *_display(definition_rows(d.definitions, latex)), ""]
    for block in blocks(d):
        out += [f"{h2} {block.heading}", ""]
        if block.conditions:
            out += ["For " + ", ".join(f"${latex(c.statement)}$" for c in block.conditions) + ":", ""]
        out += [*_display(aligned_rows(block, latex, s["justifications"])), ""]
    if len(d.results) == 1:
        (lhs, result), = d.results
        out += [f"{h2} Result", "", "$$", f"{latex(lhs)} = {latex(result)}", "$$", ""]
    else:
        rows = [f"{latex(lhs)} &= {latex(result)}" + (r" \\" if n < len(d.results) - 1 else "")
                for n, (lhs, result) in enumerate(d.results)]
        out += [f"{h2} Results", "", *_display(rows), ""]
    scoped = scoped_assumptions(d)
    if scoped:
        out += [f"{h2} Assumptions", ""]
        out += [f"- ${latex(a.statement)}$: {a.text} ({where})" for a, where in scoped]
        out.append("")
    return "\n".join(out)
