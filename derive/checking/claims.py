"""What derive check says about a document: each claim (one link a = b) with its verdict, and the report."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


SCHEMA = "derive.check/1"

# every verdict a claim may get, in the order the reports count them; only "wrong" is an error (exit status 1)
VERDICTS = ("holds", "holds_if", "ambiguous", "wrong", "unread")


@dataclass
class Claim:
    """One link a = b of a chain: where it is, what it says, and the verdict."""

    line: int
    lhs: str
    rhs: str
    verdict: str = "unread"        # holds | holds_if | ambiguous | wrong | unread (VERDICTS; docs/check.md)
    reason: str = ""               # why unread, or how it holds (the assumption used, the reading)
    counterexample: Optional[dict] = None
    chain: int = 0
    lhs_line: int = 0
    uses: tuple = ()
    cases: tuple = ()              # index conditions (j != i) a claim holds under: the document's case split
    expected: str = ""             # the first wrong claim: the engine's closed form of the quantity (text)
    expected_latex: str = ""
    expected_of: str = ""          # ... of this side of the chain, as written
    readings: tuple = ()           # holds_if / ambiguous: ((reading, holds under it), ...), the document's first


    def to_dict(self) -> dict:
        out = {"line": self.line, "lhs": self.lhs, "rhs": self.rhs, "verdict": self.verdict,
               "chain": self.chain}
        if self.reason:
            out["reason"] = self.reason
        if self.uses:
            out["uses"] = list(self.uses)
        if self.cases:
            out["cases"] = list(self.cases)
        if self.readings:
            out["readings"] = [{"reading": r, "holds": h} for r, h in self.readings]
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
        if self.expected:
            out["expected"] = {"of": self.expected_of, "text": self.expected, "latex": self.expected_latex}
        return out


@dataclass
class CheckReport:
    """Every claim of a document, the definitions and assumptions it was read with, and notes."""

    claims: list
    definitions: list = field(default_factory=list)
    assumptions: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    source: str = ""
    name: str = "<text>"

    @property
    def first_wrong(self) -> Optional[Claim]:
        return next((c for c in self.claims if c.verdict == "wrong"), None)

    @property
    def ok(self) -> bool:
        """No claim is wrong (unread claims are not errors, but they are listed)."""
        return self.first_wrong is None

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict:
        out = dict.fromkeys(VERDICTS, 0)
        for c in self.claims:
            out[c.verdict] += 1
        return out

    def to_dict(self) -> dict:
        first = self.first_wrong
        return {
            "schema": SCHEMA,
            "file": self.name,
            "claims": [c.to_dict() for c in self.claims],
            "first_wrong": first.to_dict() if first is not None else None,
            "counts": self.counts(),
            "definitions": list(self.definitions),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
        }

    def to_json(self, indent: int = 2) -> str:
        import json
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        from .report import render_text
        return render_text(self)

    def to_markdown(self) -> str:
        from .report import render_markdown
        return render_markdown(self)

    def to_html(self) -> str:
        """The document typeset (KaTeX, carried inline), each claim marked with its verdict."""
        from .report import render_html
        return render_html(self)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        """Jupyter: each claim's verdict, the first wrong one marked."""
        from ..render.jupyter import check_report_html
        return check_report_html(self)


# -- reading the document ------------------------------------------------------------------------
