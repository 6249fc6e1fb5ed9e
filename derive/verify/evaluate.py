"""An instantiated side evaluated at one case, term by term, in mpmath at a chosen precision.

``Side`` holds the expression, its top-level terms and their compiled ``Program`` (or None, when the
generator does not know a node: SymPy's evalf then evaluates it). ``terms(sample, integers, digits)`` is the
tuple of the terms' values, or None when some term is not a finite real number.
"""
from __future__ import annotations

from typing import Optional

import mpmath
import sympy as sp
from sympy.core.function import AppliedUndef

from .codegen import Program, Unsupported


def _spread(expr: sp.Expr) -> sp.Expr:
    """A number times a sum spread over the sum's terms, c (a + b) -> c a + c b, at the top level, so each term is
    measured on its own: -(y_k - 10^30) is the terms -y_k and 10^30, and an O(1) slip beside 10^30 stays visible."""
    if not isinstance(expr, sp.Add) and not (isinstance(expr, sp.Mul) and expr.as_coeff_Mul()[1].is_Add):
        return expr

    def terms(e):
        for t in sp.Add.make_args(e):
            c, rest = t.as_coeff_Mul()
            if rest.is_Add:
                yield from (c * u for u in terms(rest))
            else:
                yield t

    return sp.Add(*terms(expr))


class Side:
    """An instantiated expression, ready to evaluate: ``terms`` are its top-level summands (SymPy), and
    ``integers`` the integer symbols (K, free indices) bound at evaluation."""

    __slots__ = ("expr", "terms", "integers", "program")

    def __init__(self, expr: sp.Expr, integers: frozenset = frozenset()):
        expr = _spread(expr)
        self.expr = expr
        self.terms = sp.Add.make_args(expr) if expr != 0 else ()
        self.integers = frozenset(integers)
        self.program: Optional[Program] = None
        if expr.has(sp.Derivative) or expr.atoms(AppliedUndef):
            return
        try:
            self.program = Program(expr, self.integers, terms=True)
        except Unsupported:
            self.program = None

    @property
    def evaluable(self) -> bool:
        return self.program is not None or not (self.expr.has(sp.Derivative) or self.expr.atoms(AppliedUndef))

    def values(self, sample, integers: dict, digits: int) -> Optional[tuple]:
        """The terms' values (mpf) at the case, or None when one is not a finite real number."""
        with mpmath.workdps(digits):
            if self.program is not None:
                try:
                    out = self.program(sample, {s: integers[s] for s in self.program.integers if s in integers})
                except Exception:  # noqa: BLE001 - any failure to evaluate is reported as such, never raised
                    return None
                return _finite(out)
            return self._evalf(sample, integers, digits)

    def _evalf(self, sample, integers: dict, digits: int) -> Optional[tuple]:
        if not self.evaluable:
            return None
        fixed = {s: sp.Integer(v) for s, v in integers.items()}
        out = []
        for t in self.terms:
            try:
                t = t.xreplace(fixed)
                atoms = {a: sp.Float(sample(a.base, *(int(i) for i in a.indices)), digits)
                         for a in t.atoms(sp.Indexed)}
                t = t.xreplace(atoms)
                atoms = {s: sp.Float(sample(s), digits) for s in t.free_symbols
                         if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy)}
                v = t.xreplace(atoms).evalf(digits)
            except Exception:  # noqa: BLE001 - reported as 'could not evaluate'
                return None
            if v.has(sp.Derivative, sp.Sum) or not v.is_number or v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
                return None
            try:
                out.append(mpmath.mpf(sp.Float(v, digits)._to_mpmath(mpmath.mp.prec)))
            except (TypeError, ValueError, AttributeError):
                return None
        return tuple(out)

    def __repr__(self) -> str:
        return f"Side({len(self.terms)} terms, {'compiled' if self.program is not None else 'evalf'})"


def _finite(values) -> Optional[tuple]:
    mpf, isfinite = mpmath.mpf, mpmath.isfinite
    if all(type(v) is mpf and isfinite(v) for v in values):  # the common case: finite reals already
        return tuple(values)
    out = []
    for v in values:
        if isinstance(v, mpmath.mpc):
            if v.imag != 0:
                return None
            v = v.real
        if not isinstance(v, (mpmath.mpf, int, float)):
            try:
                v = mpmath.mpf(v)
            except (TypeError, ValueError):
                return None
        v = mpmath.mpf(v)
        if not mpmath.isfinite(v):
            return None
        out.append(v)
    return tuple(out)
