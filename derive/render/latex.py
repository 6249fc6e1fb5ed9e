"""LaTeX rendering: amsmath align* blocks, or a whole document with standalone=True."""
from __future__ import annotations

from .. import __version__
from ..model import Derivation
from functools import partial

import re

from .layout import (and_list, blocks, lemma_numbers, check_settings, display_of, pieces, result_chains, result_forms,
                     result_relations, scoped_assumptions)
from .printers import latex as latex_of
from .tex import NUMBER, PAGE_POINTS, PAGE_WIDTH, TEXT_WIDTH, aligned_rows, definition_rows, equations, escape, page_rows, width

DEFAULTS = {"standalone": False, "justifications": True, "jupyter": False}

PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[a4paper,hmargin=2cm,vmargin=0.8cm,footskip=12pt]{geometry}
\usepackage[fleqn]{amsmath}
\usepackage{amssymb}
\setlength{\mathindent}{1em}
\setlength{\jot}{0.5pt}
\makeatletter
\g@addto@macro\normalsize{\setlength\abovedisplayskip{3pt plus 2pt minus 1pt}%
 \setlength\belowdisplayskip{3pt plus 2pt minus 1pt}}
\newcommand{\withreason}[1]{\gdef\derive@reason{#1}}% a numbered row's reason, set before its number
\let\derive@reason\@empty
\def\tagform@#1{\let\derive@words\derive@reason\global\let\derive@reason\@empty
 \maketag@@@{\ifx\derive@words\@empty\else\derive@words\quad\fi(\ignorespaces#1\unskip\@@italiccorr)}}
\renewcommand\paragraph{\@startsection{paragraph}{4}{\z@}{0.4ex \@plus .2ex \@minus .2ex}{-1em}%
 {\normalfont\normalsize\bfseries}}
\makeatother
\allowdisplaybreaks
\delimitershortfall=12pt \delimiterfactor=800
"""


def _env(lines: list, env: str = "align*") -> list:
    return [rf"\begin{{{env}}}", *lines, rf"\end{{{env}}}"]


def _result_rows(results, latex, label: str, page: float = TEXT_WIDTH, numbered: tuple = (),
                 relations: tuple = ()) -> list:
    """'lhs &= result' for each result, broken like the rows of a chain where too wide; each result
    numbered on its last line (\\label{label-N}, or \\label{label} for a single result). A result whose
    chain already numbered it (``numbered[N]``, the label of a part's last row: BP1's (10)) keeps that
    number (\\tag{\\ref{...}}) instead of taking a second one for the same equation."""
    room = page - NUMBER - max(width(latex(lhs)) for lhs, _ in results)
    lines = []
    for n, (lhs, forms) in enumerate(results):
        relation = relations[n].tex if relations else "="
        eq = equations(latex(lhs), [latex(f) for f in forms], relation, room + width(latex(lhs)))
        tag = rf" \label{{{label}}}" if len(results) == 1 else rf" \label{{{label}-{n + 1}}}"
        if n < len(numbered) and numbered[n]:
            tag = rf" \tag{{\ref{{{numbered[n]}}}}}" + tag
        lines += [x + r" \notag" for x in eq[:-1]] + [eq[-1] + tag]
    return [x + r" \\" for x in lines[:-1]] + lines[-1:]


_LONG = re.compile(r"\S{24,}")  # a run of text with no space that may not fit a line: a cost as it was typed
_AFTER = re.compile(r"(?<=[+,=(/])|(?<=\*)(?!\*)")  # where it may break: after an operator (** whole), a comma, a (


def _text(words: str) -> str:
    """Plain words as LaTeX text: escaped, and a long run without spaces (``-alpha*sum(y[j]*log(...), j)``)
    allowed to break after its operators and commas, as a line of code wraps, instead of running off the page."""
    out, at = [], 0
    for m in _LONG.finditer(words):
        out += [escape(words[at:m.start()]), r"\allowbreak{}".join(escape(x) for x in _AFTER.split(m.group(0)))]
        at = m.end()
    return "".join(out + [escape(words[at:])])


def _words(words: str) -> str:
    """Prose as LaTeX: its text escaped (see _text), a Typeset's mathematics as $...$."""
    return "".join(_text(t) if kind == "text" else f"${t}$" for kind, t in pieces(words))


_SUM = re.compile(r"\\sum(?![A-Za-z])(?!\\nolimits)")


def _limits_beside(latex, expr) -> str:
    """``latex(expr)`` with each \\sum as \\sum\\nolimits: on the compact page a display sum's limits sit beside
    its sign, and tex.width reads the \\nolimits, so that the widths it estimates are those pdflatex sets."""
    return _SUM.sub(lambda m: r"\sum\nolimits", latex(expr))


def label_prefix(d: Derivation) -> str:
    """The prefix of the document's \\label names: its name, with only letters, digits, _ . - (so that two
    derivations \\input into one document do not clash)."""
    return _name(d.name) or "derivation"


def _name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def render_latex(d: Derivation, **settings) -> str:
    """The derivation as LaTeX (a fragment for \\input, or a document)."""
    s = check_settings(settings, DEFAULTS, "latex")
    latex = partial(latex_of, display=display_of(d))
    if s["standalone"]:  # the page sets a display sum's limits beside its sign, and says so where it measures
        latex = partial(_limits_beside, latex)
    if s["jupyter"]:
        main = blocks(d)[-1]
        return "$$" + "\n".join(_env(aligned_rows(main, latex, s["justifications"]), "aligned")) + "$$"
    out = [f"% {escape(d.title)} -- generated by derive {__version__}; derive verify checks every step"]
    if s["standalone"]:
        out = [PREAMBLE.rstrip("\n"), r"\begin{document}", rf"{{\large\bfseries {_words(d.title)}\par}}\smallskip", *out]
    if d.description:
        out.append(_words(d.description) + ".")
    prefix = label_prefix(d)
    out.append(r"\paragraph{Definitions.}")
    page = PAGE_WIDTH if s["standalone"] else TEXT_WIDTH  # a fragment goes into an 11pt column
    out += _env(definition_rows(d.definitions, latex, page, labels=f"{prefix}:def"), "align")
    bl = blocks(d)
    numbers = lemma_numbers(d)
    labels = {b.name: f"{prefix}:lemma-{numbers[b.name]}" if b.kind == "lemma" else f"{prefix}:{_name(b.name)}"
              for b in bl if b.kind != "main"}  # a lemma's and a part's last row is numbered

    def cite(ns: tuple) -> str:
        return and_list([rf"\eqref{{{labels[name]}}}" for name, n in numbers.items() if n in ns])

    for block in bl:
        head = rf"\paragraph{{{_words(block.heading)}.}}"
        if block.conditions:
            head += " For " + ", ".join(f"${latex(c.statement)}$" for c in block.conditions) + "."
        out.append(head)
        out += _env(page_rows(block, latex, s["justifications"], labels.get(block.name, ""), cite, room=page,
                                   points=PAGE_POINTS if s["standalone"] else 1.0,
                                   numbered_reason=r"\withreason" if s["standalone"] else ""), "align")
    results = result_forms(d)
    out.append(r"\paragraph{Result.}" if len(results) == 1 else r"\paragraph{Results.}")
    numbered = tuple(labels.get(x.name, "") if x is not d else "" for x in result_chains(d))
    out += _env(_result_rows(results, latex, f"{prefix}:result", page, numbered, result_relations(d)), "align")
    scoped = scoped_assumptions(d)
    if scoped:
        out.append(r"{\small\paragraph{Assumptions.}")  # run in, one after another: a list takes a line each
        out.append("; ".join(rf"${latex(a.statement)}$ ({_words(a.words)}; {escape(where)})" for a, where in scoped)
                   + r".\par}")
    if s["standalone"]:
        out.append(r"\end{document}")
    return "\n".join(out) + "\n"
