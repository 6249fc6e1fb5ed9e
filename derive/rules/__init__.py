"""Rules: small functions ``rule(expr, ctx, **params) -> Step | None``.

Each rewrites every place in ``expr`` where it applies and returns the Step
(new expression, rule name, justification, assumptions used, lemmas cited),
or None when it does not apply. "Does not apply" is never an exception.

A rule is registered once, by its decorator (derive.rules.registry.rule): the
kind of step it makes and its place in the planner's phases. This package
collects the registered functions of its modules (``RULES``, each also an
attribute: ``rules.cancel``) and the planner's orders (``planned(phase)``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import sympy as sp
from ..model import Assumption
from ..setting import Setting
from . import algebra, calculus, matrix, sums
from .registry import PHASES, Registration, RuleFunction, registration_of, rule


@dataclass(frozen=True)
class Context:
    """What a rule may consult: the setting and the chain's standing conditions."""

    setting: Setting
    conditions: tuple = ()

    @property
    def facts(self) -> frozenset:
        """Index pairs the conditions declare different."""
        return frozenset(frozenset(pair) for a in self.conditions for pair in a.different)

    def condition(self, a: sp.Basic, b: sp.Basic) -> Optional[Assumption]:
        """The chain's own condition that a and b differ, as the chain states it (r != c, not c != r), or None."""
        for c in self.conditions:
            if any(frozenset(pair) == frozenset((a, b)) for pair in c.different):
                return c
        return None


#: Every registered rule, in the order its module defines it (the modules in alphabetical order).
RULES: tuple = tuple(f for m in (algebra, calculus, matrix, sums) for f in vars(m).values()
                     if registration_of(f) is not None and f.__module__ == m.__name__)
globals().update({f.__name__: f for f in RULES})

__all__ = ["Context", "RULES", "Registration", "planned", "rule", *(f.__name__ for f in RULES)]


def planned(phase: str) -> tuple:
    """The planner's order for ``phase``: groups of rules sharing a priority, lowest first (a group is
    tried per target: for each output, fold then recognise)."""
    if phase not in PHASES:
        raise ValueError(f"unknown phase {phase!r}; the planner's phases are {', '.join(PHASES)}")
    placed = sorted({f.registration.phases[phase] for f in RULES if phase in f.registration.phases})
    return tuple(tuple(f for f in RULES if f.registration.phases.get(phase) == n) for n in placed)


def __getattr__(name: str) -> RuleFunction:
    """Only for type checkers: every rule is a module attribute already (set from ``RULES`` above)."""
    raise AttributeError(f"module 'derive.rules' has no rule {name!r}")
