"""Plain-text rendering for terminals: ASCII only, one step per line, reasons beneath."""
from __future__ import annotations

from ..model import Derivation
from functools import partial

from .layout import (blocks, check_settings, cite_text, display_of, one_line, plain, result_forms,
                     result_relations, scoped_assumptions)
from .printers import text as text_of

DEFAULTS = {"justifications": True}


def _why(row, text, show: bool) -> str:
    if not show:
        return ""
    why = plain(row.justification)
    if row.formula is not None:
        formulas = row.formula if isinstance(row.formula, tuple) else (row.formula,)
        why += ": " + ", ".join(text(f) for f in formulas)
    cites = cite_text(row)
    if cites:
        why += f" ({cites})"
    if row.assumptions:
        why += "; using " + ", ".join(text(a.statement) for a in row.assumptions)
    return f"[{row.rule}] {why}"


def render_text(d: Derivation, **settings) -> str:
    """The derivation as plain text."""
    s = check_settings(settings, DEFAULTS, "text")
    text = partial(text_of, display=display_of(d))
    title = one_line(plain(d.title))  # no newline or terminal escape from a title reaches the terminal
    lines = [title, "=" * len(title)]
    if d.description:
        lines += [one_line(plain(d.description))]
    lines += ["", "Definitions"]
    for definition in d.definitions:
        if definition.abstract:
            lines.append(f"  {text(definition.lhs)}: {one_line(definition.text)}")
            continue
        lines.append(f"  {text(definition.lhs)} := {text(definition.expr)}" +
                     (f"    ({one_line(definition.text)})" if definition.text else ""))
    for block in blocks(d):
        lines += ["", one_line(plain(block.heading))]
        if block.conditions:
            lines.append("  for " + ", ".join(text(c.statement) for c in block.conditions))
        lines.append(f"  {text(block.lhs)}")
        for row in block.rows:
            lines.append(f"    {row.relation.text} {text(row.expr)}")
            why = _why(row, text, s["justifications"])
            if why:
                lines.append(f"        {why}")
    results = result_forms(d)
    lines += ["", "Result" if len(results) == 1 else "Results"]
    lines += [f"  {text(lhs)} {relation.text} " + " = ".join(text(f) for f in forms)
              for (lhs, forms), relation in zip(results, result_relations(d))]
    scoped = scoped_assumptions(d)
    if scoped:
        lines += ["", "Assumptions"]
        lines += [f"  {text(a.statement)}    ({one_line(a.text)}; {where})" for a, where in scoped]
    return "\n".join(lines) + "\n"
