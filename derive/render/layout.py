"""What every renderer shows, in order: definitions, numbered lemmas, the chain, the result.

Layout only reads the derivation; it numbers lemmas and pairs each step with
the lemma numbers it cites. It never computes mathematics.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from ..errors import ArgumentError, ArgumentTypeError
from ..model import Derivation


@dataclass(frozen=True)
class Row:
    """One line of a chain: '= expr', with why it holds."""

    expr: sp.Expr
    rule: str
    justification: str
    formula: object
    assumptions: tuple
    cites: tuple


@dataclass(frozen=True)
class Block:
    """A chain to print: a heading, its left-hand side, its rows."""

    heading: str
    description: str
    lhs: sp.Expr
    rows: tuple
    conditions: tuple


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
    """The lemma and part blocks in print order, then the main chain."""
    numbers = lemma_numbers(d)

    def block(x: Derivation, heading: str) -> Block:
        rows = tuple(Row(s.expr, s.rule.title, s.justification, s.formula, s.assumptions,
                         tuple(numbers[lem.name] for lem in s.lemmas)) for s in x.steps)
        return Block(heading, x.description, x.lhs, rows, x.conditions)

    out = [block(x, f"Lemma {numbers[x.name]}: {x.title}" if kind == "lemma" else x.title)
           for kind, x in _order(d)]
    if d.steps:
        out.append(block(d, "Derivation"))
    return tuple(out)


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
    names = [f"Lemma {n}" for n in row.cites]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


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
