"""Rules: small functions ``rule(expr, ctx, **params) -> Step | None``.

Each rewrites every place in ``expr`` where it applies and returns the Step
(new expression, rule name, justification, assumptions used, lemmas cited),
or None when it does not apply. "Does not apply" is never an exception.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..setting import Setting
from .algebra import (assumption, cancel, collect, definition, expand, factor, fold, hyperbolic, lemma,
                      merge_powers, output_minus_target, recognise)
from .calculus import (chain_rule, combine_sums, differentiate, linearity, multivariate_chain_rule, product_rule,
                       quotient_rule)
from .matrix import matrix_form
from .sums import cases, join_sum, kronecker_delta, split_sum, sum_constant, write_out_sum

__all__ = [
    "Context", "assumption", "cancel", "cases", "chain_rule", "collect", "combine_sums", "definition",
    "differentiate", "expand", "factor", "fold", "hyperbolic", "join_sum", "kronecker_delta", "lemma", "linearity",
    "matrix_form", "merge_powers", "multivariate_chain_rule", "output_minus_target", "product_rule", "quotient_rule",
    "recognise", "split_sum", "sum_constant", "write_out_sum",
]


@dataclass(frozen=True)
class Context:
    """What a rule may consult: the setting and the chain's standing conditions."""

    setting: Setting
    conditions: tuple = ()

    @property
    def facts(self) -> frozenset:
        """Index pairs the conditions declare different."""
        return frozenset(frozenset(pair) for a in self.conditions for pair in a.different)
