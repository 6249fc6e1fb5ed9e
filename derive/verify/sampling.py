"""The values a check evaluates at: how each variable is drawn, honouring its domain and the assumptions.

A variable is drawn on first use (``Sample`` is the ``get`` of a compiled program), in the order the
program reads it, from the check's own random source, so a case depends on the seed and the step only.
Targets are unnormalised unless a cited assumption says otherwise (y on the simplex for sum_j y_j = 1), so
a step that needs an assumption it does not cite fails; a variable under a log or a non-integer power is
drawn positive (in (0, 1) under log(1 - y)) so that every expression of the chain is defined.
"""
from __future__ import annotations

from typing import Iterable, Optional

import mpmath
import sympy as sp

from ..expr import SumExcept

_TIGHTER = ("real", "positive", "unit")  # draw kinds, each defining more expressions (log y, log(1 - y))


def domains(d, assumptions: tuple, needs: Optional[dict] = None) -> dict:
    """Base or scalar name -> how to draw it: the setting's domain, narrowed to what ``needs`` asks (a
    log's argument positive), then what the cited ``assumptions`` say (y on the simplex)."""
    out = dict(d.setting.domains)
    for name, need in (needs or {}).items():
        kind = out.get(name, "real")
        if kind in _TIGHTER:
            out[name] = max(kind, need, key=_TIGHTER.index)
    for a in assumptions:
        out.update(dict(a.domains))
    return out


def needs(exprs: Iterable[sp.Expr]) -> dict:
    """Base or scalar name -> 'positive' or 'unit' (0..1) for the variables under a log or a non-integer power."""
    found: dict = {}
    for e in exprs:
        for n in sp.preorder_traversal(e):
            if isinstance(n, sp.log):
                _positive(n.args[0], found)
            elif isinstance(n, sp.Pow) and not n.exp.is_Integer:
                _positive(n.base, found)
    return found


def _positive(e: sp.Expr, found: dict) -> None:
    """Record in ``found`` domains of ``e``'s variables on which ``e`` > 0 (sufficient, not necessary:
    y for y, 1 - y, y/(1 - y), y + eps, y**g; nothing for exp(.), z**2 or a shape it does not know)."""
    def need(atom, kind):
        name = str(atom.base if isinstance(atom, sp.Indexed) else atom)
        found[name] = max(found.get(name, kind), kind, key=_TIGHTER.index)

    if isinstance(e, (sp.Indexed, sp.Symbol)):
        need(e, "positive")
    elif isinstance(e, sp.Pow):
        if not (e.exp.is_Integer and e.exp.is_even):
            _positive(e.base, found)
    elif isinstance(e, sp.Mul):
        coefficient, factors = e.as_coeff_mul()
        if coefficient > 0:
            for f in factors:
                _positive(f, found)
    elif isinstance(e, sp.Add):
        constant, terms = e.as_coeff_add()
        negative = [t for t in terms if t.as_coeff_mul()[0] < 0]
        if len(negative) == 1 and constant > 0:  # c - a*y, positive for y in (0, 1) when a <= c
            a, rest = negative[0].as_coeff_mul()
            if len(rest) == 1 and isinstance(rest[0], (sp.Indexed, sp.Symbol)) and -a <= constant:
                need(rest[0], "unit")
        if len(negative) <= 1 and constant >= 0:
            for t in terms:
                if t not in negative:
                    _positive(t, found)
    elif isinstance(e, (sp.Sum, SumExcept)):
        _positive(e.args[0], found)


def draw(kind: str, rng):
    """One value of a variable of domain ``kind`` ('positive', 'unit' or real)."""
    if kind == "positive":
        return mpmath.mpf(rng.uniform(0.5, 2.0))
    if kind == "unit":
        return mpmath.mpf(rng.uniform(0.05, 1.0))
    return mpmath.mpf(rng.uniform(-2.0, 2.0))


class Sample:
    """The values of one case, drawn on first use: ``sample(z, 3)`` is z_3, ``sample(eps)`` is eps.

    ``K`` is the number of classes (a label's range, a simplex's length); ``assign`` the free indices'
    values (where a target one-hot at j has its 1). ``override`` sets one variable (a finite difference's
    shifted input) while sharing every other value with the sample it was made from.
    """

    __slots__ = ("domains", "K", "rng", "assign", "values", "override")

    def __init__(self, domains: dict, K: int, rng, assign: dict, values: Optional[dict] = None,
                 override: Optional[tuple] = None):
        self.domains, self.K, self.rng, self.assign = domains, K, rng, assign
        self.values = {} if values is None else dict(values)
        self.override = override

    def shifted(self, key: tuple, value) -> "Sample":
        """The same values, with ``key`` (base or symbol, indices) set to ``value``."""
        out = Sample(self.domains, self.K, self.rng, self.assign, None, (key, value))
        out.values = self.values  # shared: a value drawn through either is the same value
        return out

    def __call__(self, base, *indices):
        key = (base, indices)
        if self.override is not None and self.override[0] == key:
            return self.override[1]
        found = self.values.get(key)
        if found is None:
            found = self._draw(base, indices)
        return found

    def _draw(self, base, indices: tuple):
        name = _name(base)
        if not indices:
            value = self.values[(base, ())] = draw(self.domains.get(name, "positive"), self.rng)
            return value
        kind = self.domains.get(name, "real")
        if kind == "label":
            value = self.values[(base, indices)] = self.rng.randint(1, self.K)
            return value
        if kind in ("simplex", "one_hot") or kind.startswith("one_hot_at:"):
            head = indices[:-1]
            with mpmath.workdps(mpmath.mp.dps + 10):
                if kind == "simplex":
                    raw = [mpmath.mpf(self.rng.uniform(0.05, 1.0)) for _ in range(self.K)]
                    total = mpmath.fsum(raw)
                    vec = [r / total for r in raw]
                else:
                    if kind.startswith("one_hot_at:"):
                        at = kind.split(":", 1)[1]
                        hot = next(int(v) for i, v in self.assign.items() if str(i) == at) - 1
                    else:
                        hot = self.rng.randrange(self.K)
                    vec = [mpmath.mpf(1 if i == hot else 0) for i in range(self.K)]
            for n, v in enumerate(vec, start=1):
                self.values.setdefault((base, head + (n,)), v)
            if (base, indices) not in self.values:  # outside 1..K: no such entry of the group
                raise IndexError(f"{name}{list(indices)} is outside 1..{self.K}")
            return self.values[(base, indices)]
        if kind == "bias" and indices[-1] == 0:
            value = mpmath.mpf(1)
        else:
            value = draw("real" if kind == "bias" else kind, self.rng)
        self.values[(base, indices)] = value
        return value

    def shown(self) -> dict:
        """Every value drawn, by name ('z[3]', 'eps'), as floats (a counterexample's "values")."""
        out = {}
        for (base, indices), v in self.values.items():
            if self.domains.get(str(base)) == "label":
                continue  # a label is an index value (the counterexample's "indices")
            out[f"{base}[{', '.join(str(i) for i in indices)}]" if indices else str(base)] = float(v)
        return dict(sorted(out.items()))


def _name(base) -> str:
    """str(base) without SymPy's printer (a draw asks it once per value): a symbol's or IndexedBase's name."""
    label = base.label if isinstance(base, sp.IndexedBase) else base
    return label.name if isinstance(label, sp.Symbol) else str(base)
