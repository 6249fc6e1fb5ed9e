"""What every renderer shows, in order: definitions, numbered lemmas, the chain, the result.

Layout only reads the derivation; it numbers lemmas and pairs each step with
the lemma numbers it cites. It never computes mathematics.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from ..errors import ArgumentError, ArgumentTypeError
from ..model import Derivation, Relation, Rule, Typeset


@dataclass(frozen=True)
class Row:
    """One line of a chain: '= expr' (or '>= expr' for a bound), with why it holds."""

    expr: sp.Expr
    rule: str
    justification: str
    formula: object
    assumptions: tuple
    cites: tuple
    relation: Relation = Relation.EQ
    law: bool = False  # the rule names a law of calculus (Rule.law): worth naming beside the step's words


@dataclass(frozen=True)
class Block:
    """A chain to print: a heading, its left-hand side, its rows."""

    heading: str
    description: str
    lhs: sp.Expr
    rows: tuple
    conditions: tuple
    assumptions: tuple = ()
    kind: str = "main"  # "lemma", "part" or "main": a lemma's and a part's last row is an equation a reader cites
    name: str = ""  # the chain's name (Derivation.name)


def _order(d: Derivation) -> list:
    """(kind, derivation) in print order: each lemma and part after what it cites, once."""
    order: list = []
    seen: set = set()

    def visit(x: Derivation) -> None:
        for part in x.parts:
            if part.name not in seen:
                seen.add(part.name)
                visit(part)
                order.append(("part", part))
        for step in x.steps:
            for lemma in step.lemmas:
                if lemma.name not in seen:
                    seen.add(lemma.name)
                    visit(lemma)
                    order.append(("lemma", lemma))

    visit(d)
    return order


def lemma_numbers(d: Derivation) -> dict:
    """Lemma name -> number, in print order."""
    lemmas = [x for kind, x in _order(d) if kind == "lemma"]
    return {x.name: n for n, x in enumerate(lemmas, start=1)}


def blocks(d: Derivation) -> tuple:
    """The lemma and part blocks in print order, then the main chain; a part of a chain with steps of its
    own (H v of the Hessian) comes after that chain, which it builds on."""
    numbers = lemma_numbers(d)
    after = {p.name for p in d.parts} if d.steps else set()

    def block(x: Derivation, heading: str, kind: str) -> Block:
        rows = tuple(Row(s.expr, s.rule.title, s.justification, s.formula, s.assumptions,
                         tuple(numbers[lem.name] for lem in s.lemmas), s.relation, s.rule.law) for s in x.steps)
        own = tuple(a for a in x.assumptions if a not in x.conditions)
        return Block(heading, x.description, x.lhs, rows, x.conditions, own, kind, x.name)

    def heading(kind, x):
        return f"Lemma {numbers[x.name]}: " + x.title if kind == "lemma" else x.title  # a Typeset stays one

    order = _order(d)
    out = [block(x, heading(kind, x), kind) for kind, x in order if x.name not in after]
    if d.steps:
        out.append(block(d, "Derivation", "main"))
    out += [block(x, heading(kind, x), kind) for kind, x in order if x.name in after]
    return tuple(out)


def pieces(words: str) -> list:
    """(kind, text) of a title, heading or description: a Typeset's text and $math$ pieces; any other
    str (a user's own words) is one text piece, its $ signs characters."""
    return words.pieces() if isinstance(words, Typeset) else [("text", words)] if words else []


def capitalised(words: str) -> str:
    """The words with a capital first letter, still a Typeset when they were one."""
    out = words[:1].upper() + words[1:]
    return Typeset(out) if isinstance(words, Typeset) else out


def plain(words: str) -> str:
    """The words as a text document writes them (a Typeset's mathematics without TeX braces)."""
    return words.plain if isinstance(words, Typeset) else words


def result_chains(d: Derivation) -> tuple:
    """The chains whose results ``d`` reports, in order: ``d`` itself where it has steps, then its parts."""
    return ((d,) if d.steps or not d.parts else ()) + tuple(d.parts)


def result_forms(d: Derivation) -> tuple:
    """(lhs, forms) for each result of ``d`` (as ``d.results``): the index form and the matrix form side by
    side where the chain ends by writing one as the other, o_k (g_k - sum_j o_j g_j) =
    [(diag(o) - o o^T) g]_k = [o o (g - (o^T g) 1)]_k (every matrix form the chain closes with)."""
    out: list = []
    for x in result_chains(d):
        steps = x.steps
        matrix = getattr(x.result, "matrix", None)  # [delta^l]_j adds nothing to delta^l_j
        if len(steps) >= 2 and steps[-1].rule is Rule.MATRIX_FORM and not isinstance(matrix, sp.MatrixSymbol):
            first = len(steps) - 1  # the first of the matrix forms the chain closes with
            while first > 1 and steps[first - 1].rule is Rule.MATRIX_FORM:
                first -= 1
            out.append((x.lhs, tuple(s.expr for s in steps[first - 1:])))
        else:
            out.append((x.lhs, (x.result,)))
    return tuple(out)


def result_relations(d: Derivation) -> tuple:
    """For each result of ``result_forms(d)``, how its left-hand side relates to its first form: = for a
    chain of equalities, >= for a bound such as v^T H v >= 0 (a matrix form always equals the index form)."""
    chains = ((d,) if d.steps or not d.parts else ()) + tuple(d.parts)
    return tuple(x.relation for x in chains)


def chain_labels(d: Derivation) -> dict:
    """Chain name -> how a reader refers to it: 'Lemma 2', 'BP4' (a part's title up to its colon),
    'the derivation'."""
    numbers = lemma_numbers(d)
    out = {}
    for kind, x in _order(d):
        if kind == "lemma":
            out[x.name] = f"Lemma {numbers[x.name]}"
        else:  # 'BP4' of 'BP4: the gradient ...'; 'the Hessian-vector product' of a title without a colon
            out[x.name] = x.title.split(":")[0] if ":" in x.title else x.title[:1].lower() + x.title[1:]
    out[d.name] = "the derivation"
    return out


def scoped_assumptions(d: Derivation) -> tuple:
    """(assumption, 'used in ...' words) for each assumption the derivation or its lemmas and parts rely on.

    Local facts (j != k inside a sum over j != k) and a lemma's conditions
    are shown where they hold (at the step, in the lemma's heading), so they
    are not listed here.
    """
    labels = chain_labels(d)
    conditions = {a.key for x in d.walk() for a in x.conditions}
    out = []
    for a, names in d.assumption_uses():
        if a.local or a.key in conditions:
            continue
        out.append((a, "used in " + and_list([labels[n] for n in names])))
    return tuple(out)


def formulas(formula) -> tuple:
    """A step's cited formula as a tuple of formulas (a step may cite several)."""
    return formula if isinstance(formula, tuple) else (formula,)


def and_list(words: list) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def display_of(d: Derivation) -> dict:
    """How each base prints (name -> Display), merged over the derivation and its sub-derivations."""
    out: dict = {}
    for x in d.walk():
        out.update(dict(x.setting.display))
    return out


def cite_text(row: Row) -> str:
    """'Lemma 1 and Lemma 2' for a row that cites lemmas, else ''."""
    if not row.cites:
        return ""
    return and_list([f"Lemma {n}" for n in row.cites])


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(words: str) -> str:
    """Words the derivation carries (a title, a description, a note) as one line of text: control characters
    (newlines, terminal escapes) become a space, so no text can start a heading, a comment or a command."""
    return _CONTROL.sub(" ", str(words))


def check_settings(settings: Mapping, defaults: Mapping, renderer: str) -> dict:
    """``defaults`` updated by ``settings``; an unknown name or a wrong type is an ArgumentError."""
    out = dict(defaults)
    for key, value in settings.items():
        if key not in defaults:
            raise ArgumentError(key, f"unknown setting of the {renderer} renderer; "
                                     f"settings are {', '.join(sorted(defaults))}")
        if not isinstance(value, type(defaults[key])) or isinstance(value, bool) != isinstance(defaults[key], bool):
            raise ArgumentTypeError(key, f"must be {type(defaults[key]).__name__}, got {type(value).__name__}")
        out[key] = value
    return out
