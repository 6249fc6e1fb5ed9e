"""Pieces shared by the LaTeX and Markdown renderers: escaping and aligned rows."""
from __future__ import annotations

from .layout import Block, cite_text

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(words: str) -> str:
    """Plain words made safe for LaTeX text mode (and KaTeX/MathJax \\text{})."""
    return "".join(_SPECIAL.get(c, c) for c in words)


def _formulas(formula) -> tuple:
    return formula if isinstance(formula, tuple) else (formula,)


def why(row, latex, show: bool = True) -> str:
    """The justification column of a row, as LaTeX: \\text{...} with cited math."""
    if not show:
        return ""
    if row.formula is not None:
        parts = [rf"\text{{{escape(row.justification)}: }}" + r",\ ".join(latex(f) for f in _formulas(row.formula))]
    else:
        parts = [rf"\text{{{escape(row.justification)}}}"]
    cites = cite_text(row)
    if cites:
        parts.append(rf"\ \text{{({escape(cites)})}}")
    if row.assumptions:
        parts.append(r"\text{; using }" + r",\ ".join(latex(a.statement) for a in row.assumptions))
    return " && " + "".join(parts)


WIDE = 150  # characters of LaTeX after which a row's reason goes on a line of its own


def aligned_rows(block: Block, latex, justifications: bool = True) -> list:
    """The lines of an aligned chain: 'lhs &= e1 && why \\\\', '&= e2 && why \\\\', ...

    A long expression keeps the whole width: its reason follows on the next line.
    """
    lines = []
    for n, row in enumerate(block.rows):
        head = latex(block.lhs) + " " if n == 0 else ""
        end = r" \\" if n < len(block.rows) - 1 else ""
        expr, reason = latex(row.expr), why(row, latex, justifications)
        if reason and len(expr) > WIDE:
            lines.append(f"{head}&= {expr} \\\\")
            lines.append(f"&{reason}{end}")
        else:
            lines.append(f"{head}&= {expr}{reason}{end}")
    return lines


def definition_rows(definitions, latex) -> list:
    """The aligned lines of the definitions: 'o_{j} &:= ... && \\text{(softmax)}'."""
    lines = []
    for n, d in enumerate(definitions):
        end = r" \\" if n < len(definitions) - 1 else ""
        if d.abstract:
            lines.append(rf"{latex(d.lhs)} & \quad \text{{{escape(d.text)}}}{end}")
            continue
        note = rf" && \text{{({escape(d.text)})}}" if d.text else ""
        lines.append(f"{latex(d.lhs)} &:= {latex(d.expr)}{note}{end}")
    return lines
