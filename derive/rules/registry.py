"""Registering a rule: one decorator on its function, from which everything else derives.

    @rule(Rule.QUOTIENT_RULE, differentiate=3)
    def quotient_rule(expr, ctx):
        '''d/dx (u/v) -> (u' v - u v') / v^2, when v depends on x.'''

``Rule.X`` is the kind of step the function makes (its name and title in derive.model.Rule, the JSON
schema's enum). The keywords place it in the planner's phases (``differentiate``, ``simplify``,
``tidy``): a priority, lower first; rules that share one are tried together, per target. ``each``
says what the planner applies it to, one application each: 'output' (a softmax output, defined by a
fraction: ``of=``), 'activation' (an activation's definition: ``of=``), 'fact' (each stated
assumption: ``fact=``), 'facts' (every stated assumption at once: ``facts=``), 'lemmas' (every lemma at
hand: ``lemmas=``). A rule with no phase is used by recipes only. derive.rules collects the registered functions (``RULES``) and the planner's orders
(``planned(phase)``); nothing is recorded anywhere else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ..model import Rule, Step

PHASES = ("differentiate", "simplify", "tidy")  # the planner's, in the order it runs them
TARGETS = ("output", "activation", "fact", "facts", "lemmas")


@dataclass(frozen=True)
class Registration:
    """What the decorator records on a rule function: the kind of step it makes and its place in the plan."""

    kind: Rule
    phases: dict = field(default_factory=dict)  # phase -> priority
    each: tuple = ()

    def __repr__(self) -> str:
        parts = [self.kind.value] + [f"{p}={n}" for p, n in self.phases.items()]
        parts += [f"each={self.each!r}"] if self.each else []
        return f"Registration({', '.join(parts)})"


RuleFunction = Callable[..., Optional[Step]]


def rule(kind: Rule, *, differentiate: Optional[int] = None, simplify: Optional[int] = None,
         tidy: Optional[int] = None, each: tuple = ()) -> Callable[[RuleFunction], RuleFunction]:
    """Register the decorated function as a rule making steps of ``kind``, at these places in the plan."""
    if not isinstance(kind, Rule):
        raise TypeError(f"a rule is registered with a derive.model.Rule, got {kind!r}")
    unknown = [t for t in each if t not in TARGETS]
    if unknown:
        raise ValueError(f"each={unknown!r}: a rule is applied to each of {', '.join(TARGETS)}")
    places = {"differentiate": differentiate, "simplify": simplify, "tidy": tidy}
    registration = Registration(kind, {p: n for p, n in places.items() if n is not None}, tuple(each))

    def register(fn: RuleFunction) -> RuleFunction:
        doc = (fn.__doc__ or "").strip()
        if not doc or "\n" in doc or "->" not in doc:
            raise ValueError(f"rule {fn.__name__}: its docstring must be one line stating the rewrite (with ->)")
        fn.registration = registration  # type: ignore[attr-defined]
        return fn
    return register


def registration_of(fn) -> Optional[Registration]:
    """The registration of a rule function, or None for any other object."""
    return getattr(fn, "registration", None) if callable(fn) else None
