"""Runs recipes: applies rules in order to a chain and packs the result as a Derivation."""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import sympy as sp

from .model import Derivation, Step
from .rules import Context
from .setting import Setting

RuleFn = Callable[..., Optional[Step]]


class Chain:
    """A growing chain of equalities: lhs = e1 = e2 = ...; rules append steps."""

    def __init__(self, setting: Setting, lhs: sp.Expr, conditions: tuple = (), start: Optional[sp.Expr] = None) -> None:
        """``start``: the expression the first rule rewrites, when the chain continues one derived before
        (lhs = start already shown); by default the left-hand side itself."""
        self.context = Context(setting, tuple(conditions))
        self.lhs = lhs
        self.expr = lhs if start is None else start
        self.steps: list = []

    def apply(self, rule: RuleFn, **params) -> bool:
        """Apply ``rule`` once; True when it made a step."""
        step = rule(self.expr, self.context, **params)
        if step is None or step.expr == self.expr:
            return False
        self.steps.append(step)
        self.expr = step.expr
        return True

    def run(self, recipe: Iterable) -> "Chain":
        """Apply each (rule, params) of a recipe in order, skipping those that do not apply."""
        for item in recipe:
            rule, params = item if isinstance(item, tuple) else (item, {})
            self.apply(rule, **params)
        return self

    def derivation(self, name: str, title: str, description: str = "", interface: str = "per_example") -> Derivation:
        """The chain so far as a Derivation."""
        return Derivation(name=name, title=title, setting=self.context.setting, lhs=self.lhs,
                          steps=tuple(self.steps), conditions=self.context.conditions,
                          description=description, interface=interface)


def run_recipe(setting: Setting, lhs: sp.Expr, recipe: Iterable, *, name: str, title: str,
               description: str = "", conditions: tuple = (), interface: str = "per_example") -> Derivation:
    """Build a Derivation of ``lhs`` by running ``recipe`` on it."""
    return Chain(setting, lhs, conditions).run(recipe).derivation(name, title, description, interface)
