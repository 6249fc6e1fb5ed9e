"""Symbol names chosen by the caller, checked before any SymPy object is made.

Names are plain identifiers (``z``, ``o``, ``Theta``, ``a``); Greek names such
as ``theta`` print as Greek letters. Nothing the user types is evaluated.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Mapping, Optional

import sympy as sp

from .errors import ArgumentError, ArgumentTypeError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}\Z")


def check_name(argument: str, value: object) -> str:
    """``value`` if it is a usable symbol name, else an ArgumentError naming ``argument``."""
    if not isinstance(value, str):
        raise ArgumentTypeError(argument, f"must be a symbol name (str), got {type(value).__name__}")
    if not _NAME.match(value):
        raise ArgumentError(argument, f"{value!r} is not a symbol name: use a letter followed by "
                                      "letters or digits, at most 16 characters")
    return value


def check_K(K: object, argument: str = "K") -> sp.Expr | None:
    """A concrete class count (int >= 2) as a SymPy Integer, or None for symbolic K."""
    if K is None:
        return None
    if isinstance(K, bool) or not isinstance(K, (int, sp.Integer)) and not _is_numpy_int(K):
        raise ArgumentTypeError(argument, f"must be an integer >= 2 or None, got {type(K).__name__} {K!r}")
    if int(K) < 2:
        raise ArgumentError(argument, f"must be at least 2 (softmax needs two classes), got {int(K)}")
    return sp.Integer(int(K))


def _is_numpy_int(value: object) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, np.integer)


@dataclass(frozen=True)
class Notation:
    """Names of the symbols of a softmax output layer."""

    logits: str = "z"
    outputs: str = "o"
    targets: str = "y"
    cost: str = "E"
    index: str = "k"
    sum_index: str = "j"
    inner_index: str = "l"
    classes: str = "K"

    @classmethod
    def make(cls, base: Optional["Notation"] = None, overrides: Optional[Mapping[str, str]] = None,
             argument: str = "notation") -> "Notation":
        """``base`` with ``overrides`` applied, every name checked and all distinct."""
        base = base or cls()
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            raise ArgumentTypeError(argument, f"must be a mapping of role to name, got {type(overrides).__name__}")
        known = {f.name for f in fields(cls)}
        values = {f.name: getattr(base, f.name) for f in fields(cls)}
        for role, name in overrides.items():
            if role not in known:
                raise ArgumentError(argument, f"unknown role {role!r}; roles are {', '.join(sorted(known))}")
            values[role] = check_name(f"{argument}[{role!r}]", name)
        names = list(values.values())
        clash = sorted({n for n in names if names.count(n) > 1})
        if clash:
            raise ArgumentError(argument, f"each role needs its own name; {', '.join(clash)} is used twice")
        return cls(**values)
