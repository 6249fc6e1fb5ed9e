"""JSON rendering: a stable, documented schema (docs/json-schema.md), version 3."""
from __future__ import annotations

import json as _json

from ..model import Derivation, Typeset
from .layout import check_settings, display_of, lemma_numbers
from .printers import latex, text

SCHEMA = "derive.derivation/3"
DEFAULTS = {"indent": 2}


def _expr(e, display: dict) -> dict:
    if isinstance(e, tuple):
        return {"latex": r",\ ".join(latex(x, display=display) for x in e),
                "text": ", ".join(text(x, display=display) for x in e)}
    return {"latex": latex(e, display=display), "text": text(e, display=display)}


def _assumption(a, display: dict) -> dict:
    return {"key": a.key, "text": a.text, "statement": _expr(a.statement, display)}


def _chain(d: Derivation, display: dict) -> dict:
    return {
        "name": d.name,
        "title": _plain(d.title),  # JSON holds plain words: a Typeset's mathematics as text
        "description": _plain(d.description),
        "lhs": _expr(d.lhs, display),
        "conditions": [_assumption(a, display) for a in d.conditions],
        "assumptions": [a.key for a in d.assumptions if a not in d.conditions],
        "steps": [{
            "rule": s.rule.value,
            "rule_title": s.rule.title,
            "justification": _plain(s.justification),
            "formula": _expr(s.formula, display) if s.formula is not None else None,
            "assumptions": [a.key for a in s.assumptions],
            "lemmas": [lem.name for lem in s.lemmas],
            "expr": _expr(s.expr, display),
            "relation": s.relation.value,
        } for s in d.steps],
        "result": _expr(d.result, display),
        "relation": d.relation.value,
    }


def derivation_dict(d: Derivation) -> dict:
    """The derivation as JSON-ready data: the main chain, its lemmas and parts, assumptions."""
    display = display_of(d)
    numbers = lemma_numbers(d)
    lemmas: list = []
    parts: list = []
    for x in d.walk()[:-1]:
        item = dict(_chain(x, display), number=numbers.get(x.name))
        (lemmas if x.name in numbers else parts).append(item)
    out: dict = {"schema": SCHEMA}
    out.update(_chain(d, display))
    out["definitions"] = [{"name": x.name, "text": x.text, "lhs": _expr(x.lhs, display),
                           "rhs": None if x.abstract else _expr(x.expr, display), "abstract": x.abstract}
                          for x in d.definitions]
    out["assumptions"] = [dict(_assumption(a, display), local=a.local, used_in=list(names))
                          for a, names in d.assumption_uses()]
    out["lemmas"] = lemmas
    out["parts"] = parts
    return out


def render_json(d: Derivation, **settings) -> str:
    """The derivation as a JSON document (keys in a fixed order)."""
    s = check_settings(settings, DEFAULTS, "json")
    return _json.dumps(derivation_dict(d), indent=s["indent"], ensure_ascii=True) + "\n"


def _plain(words: str) -> str:
    return words.plain if isinstance(words, Typeset) else words
