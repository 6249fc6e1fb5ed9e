"""Errors raised at the API boundary: each names the argument and the problem."""
from __future__ import annotations


class DeriveError(Exception):
    """Base class of every error derive raises on purpose."""


class ArgumentError(DeriveError, ValueError):
    """An argument has a bad value; ``argument`` names it."""

    def __init__(self, argument: str, problem: str) -> None:
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument has the wrong type; ``argument`` names it."""


class UnknownDerivationError(ArgumentError, KeyError):
    """A derivation name that is not in the catalogue."""

    def __str__(self) -> str:  # KeyError would quote the message
        return f"{self.argument}: {self.problem}"


class DerivationError(ArgumentError):
    """The planner could not finish within its time budget; ``argument`` names the input (the cost)."""
