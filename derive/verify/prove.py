"""Proving a difference zero symbolically: at a concrete K (after instantiation), and for every K.

``zero`` decides a concrete instantiation by ``cancel(expand(.))`` where that is cheap. ``zero_in_K``
decides a step with K (and the free indices) still symbols, without substituting any definition: it
normalises both sides with identities that hold for every K, and proves the step when the difference
becomes 0. The identities (each valid for any K >= 1 and free indices in their ranges):

* sum_{j != k} f_j -> sum_j f_j - f_k                              (1 <= k <= K)
* sum_j (a f_j + g_j) -> a sum_j f_j + sum_j g_j                     (a free of j)
* sum_j delta_jk f_j -> f_k                                          (1 <= k <= K)
* sum_j c -> c (upper - lower + 1)                                   (c free of j)
* the summation index renamed canonically, held factors released, products expanded
* a cited assumption's rewrite (sum_j y_j -> 1), normalised the same way

A step whose difference contains a derivative, is larger than ``IN_K_OPS`` or raises a sum to a power
above ``MAX_POWER``, is not attempted
(derivatives are checked numerically only). A proof never decides a failure: a step not proved is
checked numerically like any other.
"""
from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from ..expr import Held, SumExcept
from .cache import CACHE

SYMBOLIC_OPS = 80  # try the concrete proof only below this many operations
IN_K_OPS = 400  # and the proof in K below this many


MAX_POWER = 6  # expand() of (a + b + ...)**n grows like n^(terms): a larger power is not multiplied out


def _explodes(e: sp.Expr) -> bool:
    """True when expanding ``e`` could blow up: a sum raised to an integer power above MAX_POWER."""
    return any(isinstance(n, sp.Pow) and n.exp.is_Integer and abs(int(n.exp)) > MAX_POWER and n.base.has(sp.Add)
               for n in sp.preorder_traversal(e))


def zero(left: sp.Expr, right: sp.Expr) -> bool:
    """True when left - right is proved 0 (concrete sizes and indices; cheap cases only)."""
    if left == right:
        return True
    diff = left - right
    if diff == 0:
        return True
    key = ("zero", left, right)
    if key in CACHE.proved:
        return CACHE.proved[key]
    # only where cheap: expand() of Kronecker deltas over symbolic indices (a generic instance) or of a
    # larger difference can take minutes
    if diff.has(sp.KroneckerDelta, MatrixElement, sp.Sum, SumExcept) or sp.count_ops(diff) > SYMBOLIC_OPS \
            or _explodes(diff):
        return CACHE.proved.remember(key, False)
    try:
        proved = sp.cancel(sp.expand(diff)) == 0
    except (sp.PolynomialError, TypeError, ValueError, RecursionError):  # pragma: no cover
        proved = False
    return CACHE.proved.remember(key, proved)


def zero_in_K(setting, left: sp.Expr, right: sp.Expr, rewrites: tuple = ()) -> bool:
    """True when left = right is proved for every K by the identities above (``rewrites``: the (lhs, rhs)
    of the cited assumptions)."""
    key = ("in K", setting, left, right, rewrites)
    found = CACHE.proved.get(key)
    if found is not None:
        return found
    proved = False
    diff = left - right
    if diff == 0:
        proved = True
    elif not diff.has(sp.Derivative, MatrixElement, sp.MatrixBase) and not diff.atoms(sp.MatrixSymbol) \
            and sp.count_ops(diff) <= IN_K_OPS and not _explodes(diff):
        try:
            n = _normal(setting, diff)
            for lhs, rhs in rewrites:
                n = _normal(setting, n.xreplace({_normal(setting, lhs): _normal(setting, rhs)}))
            proved = n == 0
        except (sp.PolynomialError, TypeError, ValueError, RecursionError, AttributeError):
            proved = False
    return CACHE.proved.remember(key, proved)


def _in_range(setting, index, lower, upper) -> bool:
    """True when the setting declares ``index`` to range over exactly lower..upper."""
    try:
        lo, hi = setting.range_of(index)
    except Exception:  # noqa: BLE001 - no declared range: not provably in range
        return False
    return sp.sympify(lo) == lower and sp.sympify(hi) == upper


def _normal(setting, e: sp.Expr) -> sp.Expr:
    """``e`` in the normal form of the identities of the module (a fixed point, a few rounds at most)."""
    for _ in range(6):
        new = _round(setting, e)
        if new == e:
            return e
        e = new
    return e


def _round(setting, e: sp.Expr) -> sp.Expr:
    e = e.replace(lambda n: isinstance(n, Held), lambda n: n.expr)

    def except_(n):
        if _in_range(setting, n.excluded, n.lower, n.upper):
            return sp.Sum(n.function, (n.index, n.lower, n.upper)) - n.function.xreplace({n.index: n.excluded})
        return n
    e = e.replace(lambda n: isinstance(n, SumExcept), except_)
    e = e.replace(lambda n: isinstance(n, sp.Sum) and len(n.limits) == 1, lambda n: _split(setting, n))
    return sp.expand(e)


def _split(setting, s: sp.Sum) -> sp.Expr:
    """One sum over one index in normal form: split over its terms, constants out, deltas applied, index
    renamed to a dummy named after its limits."""
    (j, lo, hi), = s.limits
    # named by its height (sums nested inside it), so that renaming never captures an inner sum's index
    canonical = sp.Symbol(f"_s{_height(s.function)}_{lo}_{hi}", integer=True)
    out = sp.S.Zero
    for term in sp.Add.make_args(sp.expand(s.function)):
        c, dep = sp.S.One, []
        for f in sp.Mul.make_args(term):
            if j in f.free_symbols:
                dep.append(f)
            else:
                c *= f
        deltas = [f for f in dep if isinstance(f, sp.KroneckerDelta)]
        if not dep:
            out += c * (hi - lo + 1)
            continue
        if deltas:
            delta = deltas[0]
            other = delta.args[1] if delta.args[0] == j else delta.args[0]
            if j not in other.free_symbols and _in_range(setting, other, lo, hi):
                rest = sp.Mul(*[f for f in dep if f is not delta])
                out += c * rest.xreplace({j: other})
                continue
        out += c * sp.Sum(sp.Mul(*dep).xreplace({j: canonical}), (canonical, lo, hi))
    return out


def _height(e: sp.Expr) -> int:
    """How deep sums nest inside ``e`` (0 without sums)."""
    return max((1 + _height(n.function) for n in e.atoms(sp.Sum)), default=0)
