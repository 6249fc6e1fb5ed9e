"""JSON rendering: a stable, documented schema (docs/json-schema.md), version 1."""
from __future__ import annotations

import json as _json

from ..model import Derivation
from .layout import check_settings, lemma_numbers
from .printers import latex, text

SCHEMA = "derive.derivation/1"
DEFAULTS = {"indent": 2}


def _expr(e) -> dict:
    return {"latex": latex(e), "text": text(e)}


def _assumption(a) -> dict:
    return {"key": a.key, "text": a.text, "statement": _expr(a.statement)}


def _chain(d: Derivation) -> dict:
    return {
        "name": d.name,
        "title": d.title,
        "description": d.description,
        "lhs": _expr(d.lhs),
        "conditions": [_assumption(a) for a in d.conditions],
        "steps": [{
            "rule": s.rule.value,
            "rule_title": s.rule.title,
            "justification": s.justification,
            "formula": _expr(s.formula) if s.formula is not None else None,
            "assumptions": [a.key for a in s.assumptions],
            "lemmas": [lem.name for lem in s.lemmas],
            "expr": _expr(s.expr),
        } for s in d.steps],
        "result": _expr(d.result),
        "parts": [p.name for p in d.parts],
    }


def derivation_dict(d: Derivation) -> dict:
    """The derivation as JSON-ready data: the main chain, its lemmas and parts, assumptions."""
    numbers = lemma_numbers(d)
    lemmas, parts = [], []
    for x in d.walk()[:-1]:
        item = dict(_chain(x), number=numbers.get(x.name))
        (lemmas if x.name in numbers else parts).append(item)
    out = {"schema": SCHEMA}
    out.update(_chain(d))
    out["definitions"] = [{"name": x.name, "text": x.text, "lhs": _expr(x.lhs), "rhs": _expr(x.expr)}
                          for x in d.definitions]
    out["assumptions"] = [_assumption(a) for a in d.assumptions]
    out["lemmas"] = lemmas
    out["parts"] = parts
    return out


def render_json(d: Derivation, **settings) -> str:
    """The derivation as a JSON document (keys in a fixed order)."""
    s = check_settings(settings, DEFAULTS, "json")
    return _json.dumps(derivation_dict(d), indent=s["indent"], ensure_ascii=True) + "\n"
