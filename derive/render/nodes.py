"""A derivation as docutils nodes, for the Sphinx directive (derive.sphinx).

Every formula is a docutils ``math_block`` or ``math`` node holding LaTeX, so Sphinx's own
math support typesets it (MathJax by default, or whichever math renderer the project
chose). The equations a reader may cite carry a ``label``: each definition
(``PREFIX:def-N``), each chain (``PREFIX:lemma-N``, ``PREFIX:PART`` for a part,
``PREFIX:derivation`` for the main chain) and the result (``PREFIX:result``, or
``PREFIX:result-N`` for several); the directive registers them with Sphinx's math
domain, which numbers them. Reasons are set beside their rows (tex.beside_rows).
Prose (headings, descriptions, notes) is text nodes, so no markup in it is read.
Like every renderer this formats what the derivation holds and computes nothing.
"""
from __future__ import annotations

from functools import partial

from docutils import nodes

from ..model import Derivation
from .latex import _name
from .layout import blocks, capitalised, display_of, lemma_numbers, one_line, pieces, result_relations, scoped_assumptions
from .printers import latex as latex_of
from .tex import beside_rows, equation, escape as _escape

ROOM = 420.0  # pt of TeX a display holds: the text column of Sphinx's default theme (660 px) at MathJax's size


def labels(d: Derivation, prefix: str) -> dict:
    """Chain name -> the label of its equation (lemmas, parts and the main chain)."""
    numbers = lemma_numbers(d)
    out = {}
    for b in blocks(d):
        if b.kind == "lemma":
            out[b.name] = f"{prefix}:lemma-{numbers[b.name]}"
        elif b.kind == "part":
            out[b.name] = f"{prefix}:{_name(b.name)}"
        else:
            out[b.name] = f"{prefix}:derivation"
    return out


def _aligned(lines: list) -> str:
    """Lines of tex.equation (or of a chain that already ends each line but the last with \\\\) as one display."""
    if len(lines) == 1 and "&&" not in lines[0]:  # a reason beside its row keeps its column
        return lines[0].replace("&", "")
    ends = [x if x.endswith(r"\\") else x + r" \\" for x in lines[:-1]]
    return "\\begin{aligned}\n" + "\n".join(ends + lines[-1:]) + "\n\\end{aligned}"


def _display(tex: str, label: str) -> nodes.math_block:
    return nodes.math_block(tex, tex, label=label, number=None, nowrap=False)


def _inline(tex: str) -> nodes.math:
    return nodes.math(tex, tex)


def _paragraph(*children, classes=()) -> nodes.paragraph:
    return nodes.paragraph("", "", *children, classes=list(classes))


def _text(words: str) -> nodes.Text:
    return nodes.Text(one_line(words))


def _prose(words: str) -> list:
    """Words as nodes: text, and a Typeset's $...$ mathematics (derive's own headings and descriptions) as
    inline math; a user's own words are one text node, their $ signs characters."""
    return [_text(part) if kind == "text" else _inline(part) for kind, part in pieces(words)]


def _sentence(words: str) -> list:
    """A description as the nodes of one sentence: a capital first letter and a full stop."""
    words = capitalised(type(words)(words.strip()))  # a Typeset stays one
    return _prose(words) + ([] if words.endswith(".") else [nodes.Text(".")])


def _assumption_list(items, latex) -> nodes.bullet_list:
    out = nodes.bullet_list(classes=["derive-assumptions"])
    for item in items:
        a, where = item if isinstance(item, tuple) else (item, "")
        words = [_text(": "), *_prose(a.words)] + ([_text(f" ({where})")] if where else [])
        out += nodes.list_item("", _paragraph(_inline(latex(a.statement)), *words))
    return out


def derivation_nodes(d: Derivation, prefix: str, *, lemmas: bool = True, justifications: bool = True,
                     room: float = ROOM) -> list:
    """The derivation as a container of docutils nodes: definitions, lemmas (their chains, or with
    ``lemmas=False`` only their results), the chain with each step's reason beside it, the result and
    the assumptions. Labelled math_blocks carry ``label`` (see the module docstring) and ``number`` None."""
    latex = partial(latex_of, display=display_of(d))
    box = nodes.container(classes=["derivation"])
    if d.description:
        box += _paragraph(*_sentence(d.description), classes=["derive-description"])
    box += nodes.rubric("", "Definitions")
    for n, x in enumerate(d.definitions, start=1):
        label = f"{prefix}:def-{n}"
        if x.abstract:
            box += _display(latex(x.lhs) + rf" \quad \text{{{_escape(x.text)}}}", label)
            continue
        note = rf" \quad \text{{({_escape(x.text)})}}" if x.text else ""
        lines = equation(latex(x.lhs), latex(x.expr), ":=", room - 60 * bool(note))
        box += _display(_aligned(lines[:-1] + [lines[-1] + note]), label)
    names = labels(d, prefix)
    shown = one_line(d.description).strip()
    for block in blocks(d):
        box += nodes.rubric("", "", *_prose(block.heading))
        if block.description and one_line(block.description).strip() != shown:
            box += _paragraph(*_sentence(block.description))
        if block.conditions:
            words: list = [_text("For ")]
            for n, c in enumerate(block.conditions):
                words += [_text(", ")] * bool(n) + [_inline(latex(c.statement))]
            box += _paragraph(*words, _text(":"))
        if block.kind == "lemma" and not lemmas:
            result = block.rows[-1].expr if block.rows else block.lhs
            box += _display(_aligned(equation(latex(block.lhs), latex(result), "=", room)), names[block.name])
            continue
        box += _display(_aligned(beside_rows(block, latex, justifications, room)), names[block.name])
        if block.assumptions:
            box += _paragraph(_text("Assumptions used here:"), classes=["derive-block-assumptions"])
            box += _assumption_list(block.assumptions, latex)
    results = d.results
    box += nodes.rubric("", "Result" if len(results) == 1 else "Results")
    for n, ((lhs, rhs), relation) in enumerate(zip(results, result_relations(d)), start=1):
        label = f"{prefix}:result" if len(results) == 1 else f"{prefix}:result-{n}"
        box += _display(_aligned(equation(latex(lhs), latex(rhs), relation.tex, room)), label)
    scoped = scoped_assumptions(d)
    if scoped:
        box += nodes.rubric("", "Assumptions")
        box += _assumption_list(scoped, latex)
    return [box]
