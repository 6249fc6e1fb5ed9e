"""Symbol names chosen by the caller, checked before any SymPy object is made.

Names are plain identifiers (``z``, ``o``, ``Theta``, ``a``); Greek names such
as ``theta`` print as Greek letters. Nothing the user types is evaluated.
"""
from __future__ import annotations

import re
from typing import Mapping, Optional, Sequence, SupportsInt, cast

import sympy as sp

from .errors import ArgumentError, ArgumentTypeError

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}\Z")
# A SymPy symbol's name: an identifier (letters, digits, _ between them), then at most a subscript and a
# superscript, each a run of letters and digits, or a braced group of those and , ( ) + -, or a bracketed
# one: z, eps, y_true, x_1, a^L, W^{(2)}, W^(l+1), z_{ij}; and the decorations derive check reads from a
# document (a^l-1 for a^{l-1}, y^*, u^', u^\prime, y^\star), the only commands allowed. Anything else (a backslash, braces around TeX, <, &, spaces) is refused.
_SCRIPT = r"[_^](?:[A-Za-z0-9]+(?:[+\-][A-Za-z0-9]+)*|\*|'+|\\prime|\\star|\{[A-Za-z0-9,()+\-]{1,16}\}|\([A-Za-z0-9+\-]{1,16}\))"
_SYMBOL = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:" + _SCRIPT + r"){0,2}\Z")
MAX_SYMBOL = 40


def check_name(argument: str, value: object) -> str:
    """``value`` if it is a usable symbol name, else an ArgumentError naming ``argument``."""
    if not isinstance(value, str):
        raise ArgumentTypeError(argument, f"must be a symbol name (str), got {type(value).__name__}")
    if not _NAME.match(value):
        raise ArgumentError(argument, f"{value!r} is not a symbol name: use a letter followed by "
                                      "letters or digits, at most 16 characters")
    return value


def is_symbol_name(name: str) -> bool:
    """True for a name every renderer may print as it is: an identifier with an optional sub- and superscript."""
    return isinstance(name, str) and len(name) <= MAX_SYMBOL and _SYMBOL.match(name) is not None


def symbol_names(expr: sp.Basic) -> list:
    """The names of the symbols, indexed bases and undefined functions in ``expr``, in traversal order, once."""
    out: dict = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Dummy) and re.fullmatch(r"_Dummy_\d+", node.name):
            continue  # SymPy's own unnamed dummy, never printed by name
        if isinstance(node, sp.Symbol):  # also an Idx's label and an IndexedBase's label
            out.setdefault(node.name)
        elif isinstance(node, sp.MatrixSymbol):
            out.setdefault(str(node.name))
        elif isinstance(node, sp.core.function.AppliedUndef):
            out.setdefault(type(node).__name__)
    return list(out)


def check_symbols(argument: str, expr: sp.Basic) -> sp.Basic:
    """``expr`` if every name in it is an identifier with optional sub/superscripts, else an ArgumentError.

    A SymPy expression can carry any name (``sp.Symbol("z\\input{/etc/passwd}")``); a renderer would
    write it into TeX or Markdown as it is, so such a name is refused here, where the expression enters.
    """
    for name in symbol_names(expr):
        if not is_symbol_name(name):
            raise ArgumentError(argument, f"the symbol name {name!r} is not an identifier: use letters, digits "
                                          "and _ (starting with a letter), optionally followed by a subscript "
                                          "and a superscript such as x_1, a^L or W^{(2)}, at most "
                                          f"{MAX_SYMBOL} characters")
    return expr


def check_K(K: object, argument: str = "K", maximum: Optional[int] = None, why: str = "") -> sp.Expr | None:
    """A concrete class count (int >= 2, at most ``maximum`` when given) as a SymPy Integer, or None for symbolic K.

    ``why`` completes "the largest K ..." in the error for a K above ``maximum``,
    e.g. "softmax_regression writes out term by term".
    """
    if K is None:
        return None
    if isinstance(K, bool) or not isinstance(K, (int, sp.Integer)) and not _is_numpy_int(K):
        raise ArgumentTypeError(argument, f"must be an integer >= 2 or None, got {type(K).__name__} {K!r}")
    n = int(cast(SupportsInt, K))  # an int, SymPy Integer or NumPy integer (checked above)
    if n < 2:
        raise ArgumentError(argument, f"must be at least 2 (softmax needs two classes), got {n}")
    if maximum is not None and n > maximum:
        raise ArgumentError(argument, f"K = {n} is above {maximum}, the largest K {why or 'supported'}; "
                                      "use K=None for the symbolic form, which holds for every K")
    return sp.Integer(n)


def _is_numpy_int(value: object) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, np.integer)


def role_names(roles: Mapping[str, str], notation: Optional[Mapping[str, str]],
               argument: str = "notation", reserved: Sequence[str] = ()) -> dict:
    """``roles`` (role -> default name) with the caller's names applied, each checked, all distinct.

    ``reserved`` lists names the derivation uses itself (fixed index names):
    no role may take one, or a_j would print as j_j.
    """
    names = dict(roles)
    if notation is None:
        return names
    if not isinstance(notation, Mapping):
        raise ArgumentTypeError(argument, f"must be a mapping of role to name, got {type(notation).__name__}")
    for role, name in notation.items():
        if role not in roles:
            raise ArgumentError(argument, f"unknown role {role!r}; roles are {', '.join(sorted(roles))}")
        names[role] = check_name(f"{argument}[{role!r}]", name)
        if name in reserved:
            raise ArgumentError(f"{argument}[{role!r}]", f"{name!r} is an index of this derivation "
                                                         f"({', '.join(reserved)} are fixed); choose another name")
    values = list(names.values())
    clash = sorted({v for v in values if values.count(v) > 1})
    if clash:
        raise ArgumentError(argument, f"each role needs its own name; {', '.join(clash)} is used twice")
    return names
