"""What verify() returns: one ``Check`` per claim (a step, a result), gathered in a ``Report``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True)
class Check:
    """One checked claim: a step (``step`` is its 1-based number) or the result (``step`` None).

    ``cases`` counts the cases actually evaluated (an assignment of the free indices at one K and one
    random point); a check with 0 cases is never ok. ``Ks`` are the values of K it was evaluated at.
    ``counterexample``, for a failed check that could be evaluated, is the first failing case:
    {"K": int, "indices": {name: value}, "values": {symbol or entry as text: float}, "lhs": float,
    "rhs": float} (for the result, lhs is the finite difference and rhs the closed form).
    """

    derivation: str
    step: Optional[int]
    rule: str
    ok: bool
    method: str
    cases: int
    max_error: float
    message: str = ""
    counterexample: Optional[dict] = None
    Ks: tuple = ()

    @property
    def label(self) -> str:
        if self.step is not None:
            where = f"step {self.step} ({self.rule})"
        else:
            where = "result (finite differences)" if self.rule == "finite differences" else self.rule
        return f"{self.derivation}: {where}"

    def __str__(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        at = f" at K = {', '.join(map(str, self.Ks))}" if self.Ks else ""
        detail = f"{self.method}, {self.cases} cases{at}, max error {self.max_error:.1e}"
        return f"[{status}] {self.label}: {detail}" + (f" -- {self.message}" if self.message else "")


@dataclass(frozen=True)
class Report:
    """The checks of one derivation and its lemmas; ``ok`` when all passed.

    ``Ks`` are the values of K the numeric checks used; for symbolic K, ``drawn`` is the one drawn from
    ``wide`` (the range, inclusive) by ``seed`` (None for a concrete K).
    """

    name: str
    checks: tuple = field(default=())
    Ks: tuple = ()
    drawn: Optional[int] = None
    wide: Optional[tuple] = None
    seed: int = 0

    @property
    def ok(self) -> bool:
        """True when there was something to check and every check passed: an empty report is not ok."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple:
        return tuple(c for c in self.checks if not c.ok)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def K_text(self) -> str:
        """The K values in words: 'K = 2, 3, 4, 5 and 17 (drawn from 6..24 with seed 0)'."""
        if not self.Ks:
            return ""
        if self.drawn is None or self.wide is None:
            return "K = " + ", ".join(map(str, self.Ks))
        small = [k for k in self.Ks if k != self.drawn]
        return (f"K = {', '.join(map(str, small))} and {self.drawn} "
                f"(drawn from {self.wide[0]}..{self.wide[1]} with seed {self.seed})")

    def __str__(self) -> str:
        n = len(self.checks)
        verdict = f"all {n} checks passed" if self.ok else f"{len(self.failures)} of {n} checks FAILED"
        at = f" ({self.K_text})" if self.Ks else ""
        return "\n".join([f"verify {self.name}: {verdict}{at}", *(f"  {c}" for c in self.checks)])

    def __repr__(self) -> str:
        return f"Report({self.name!r}, ok={self.ok}, checks={len(self.checks)}, failures={len(self.failures)})"

    def _repr_html_(self) -> str:
        """Jupyter: each check's verdict, the lemmas' checks collapsible."""
        from ..render.jupyter import report_html
        return report_html(self)
