"""A side of a claim as a plain expression of the variables: sizes set, definitions substituted, sums
written out (at a concrete K), derivatives evaluated.

``instantiate`` is the direct route: every size and free index concrete, every sum written out, so the
result is a finite expression SymPy has fully evaluated. ``instantiate(..., generic=True)`` keeps K and the
free indices symbols: sums over 1..K stay sums (a loop in the compiled program) and derivatives of them are
evaluated inside the sum (d/dz_k sum_l exp(z_l) = sum_l delta_kl exp(z_l)), so one form serves every K and
every assignment. A derivative with respect to a defined quantity (dL/do_j) is evaluated while that
quantity is still a symbol, before its own definition goes in; the definitions of the symbols in ``keep``
stay out (the finite difference of dL/do_j treats o as free).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import sympy as sp

from ..expr import Entry, SumExcept, write_out
from .cache import CACHE


def relevant(setting, expr: sp.Expr) -> tuple:
    """The definitions ``expr`` reaches, directly or through other definitions (part of every cache key)."""
    key = (setting, expr)
    found = CACHE.relevant.get(key)
    if found is not None:
        return found
    todo, out = [expr], []
    while todo:
        e = todo.pop()
        for x in setting.definitions:
            if x not in out and x.occurs_in(e):
                out.append(x)
                todo.append(x.expr)
                if x.argument is not None:
                    todo.append(x.argument)
    order = {x: n for n, x in enumerate(setting.definitions)}
    return CACHE.relevant.remember(key, tuple(sorted(out, key=order.__getitem__)))


def expand_sums(e: sp.Expr) -> sp.Expr:
    """Write out every sum with numeric bounds, leaving derivatives unevaluated."""
    for _ in range(20):
        if not e.has(sp.Sum, SumExcept):
            return e
        done: dict = {}

        def ready(n):
            if not isinstance(n, (sp.Sum, SumExcept)):
                return False
            done[n] = write_out(n)
            return done[n] is not None
        new = e.replace(ready, done.__getitem__)
        if new == e:
            return e
        e = new
    return e


def _sum_except_as_sum(e: sp.Expr) -> sp.Expr:
    """sum_{j != k} f_j as sum_j f_j - f_k (the generic route's loops know plain sums; k is in range)."""
    if not e.has(SumExcept):
        return e
    return e.replace(lambda n: isinstance(n, SumExcept),
                     lambda n: sp.Sum(n.function, (n.index, n.lower, n.upper)) - n.function.xreplace({n.index: n.excluded}))


def variables(e: sp.Expr) -> set:
    """The symbols (bases of indexed ones) that derivatives in ``e`` are taken with respect to."""
    return _variables_of(e.atoms(sp.Derivative))


def _variables_of(atoms) -> set:
    return {v.base if isinstance(v, sp.Indexed) else v for n in atoms if isinstance(n, sp.Derivative)
            for v in n.variables}


def first_occurring(setting, e: sp.Expr, skip: set, atoms=None):
    """The first definition of ``setting`` whose symbol occurs in ``e``, other than those of ``skip``, or None
    (``atoms``: ``e``'s Indexed atoms and symbols, when the caller has them)."""
    if atoms is None:
        atoms = e.atoms(sp.Indexed, sp.Symbol)
    bases = {a.base for a in atoms if isinstance(a, sp.Indexed)}
    # a symbol among the atoms may still be bound (a summation index): free_symbols decides, only then
    return next((x for x in setting.definitions if x.symbol not in skip
                 and ((x.symbol in bases) if x.indices else (x.symbol in atoms and x.symbol in e.free_symbols))),
                None)


def _derivatives_only(e: sp.Expr) -> sp.Expr:
    """Evaluate the derivatives in ``e`` (innermost first) without evaluating sums: a derivative of a sum
    over a symbolic range becomes the sum of the derivatives."""
    if not e.has(sp.Derivative):
        return e
    return e.replace(lambda n: isinstance(n, sp.Derivative), lambda n: _apart(n).doit(deep=False))


def _apart(n: sp.Derivative) -> sp.Derivative:
    """d/dz_ij sum_{i,j} f(i, j) with the sum's own i, j renamed apart from the variable's free indices
    first: SymPy differentiates a sum term by term under the same names, so the variable's i, j would be
    captured by the sum's and the result would lose its Kronecker deltas."""
    free = set().union(*(v.free_symbols for v in n.variables))
    if not free or not n.expr.has(sp.Sum):
        return n
    taken = {s.name for s in n.free_symbols} | {s.name for x in n.atoms(sp.Sum) for s in x.variables}

    def fresh(v: sp.Symbol) -> sp.Symbol:
        count = 1
        while f"{v.name}_{count}" in taken:
            count += 1
        taken.add(f"{v.name}_{count}")
        return sp.Symbol(f"{v.name}_{count}", **v.assumptions0)

    def rename(x: sp.Sum) -> sp.Expr:
        clash = [v for v in x.variables if v in free]
        if not clash:
            return x
        names = {v: fresh(v) for v in clash}
        return sp.Sum(x.function.xreplace(names),
                      *[(names.get(v, v), lo.xreplace(names), hi.xreplace(names)) for v, lo, hi in x.limits])

    return sp.Derivative(n.expr.replace(lambda x: isinstance(x, sp.Sum), rename), *n.variable_count)


def instantiate(d, expr: sp.Expr, sizes: dict, assign: dict, keep: frozenset = frozenset(), *,
                generic: bool = False, tick: Optional[Callable[[], None]] = None) -> sp.Expr:
    """``expr`` with ``sizes`` and ``assign`` put in, every definition it reaches substituted and every
    derivative evaluated; sums written out where their bounds are numbers. ``tick`` is called between
    rounds (the time budget)."""
    setting = d.setting
    tick = tick or (lambda: None)

    def fix(e):
        e = e.xreplace({i: sp.Integer(v) for i, v in assign.items() if not isinstance(i, sp.Indexed)})
        return e.xreplace({i: sp.Integer(v) for i, v in assign.items() if isinstance(i, sp.Indexed)})

    def prepare(e):
        e = fix(e).xreplace(sizes)
        return _sum_except_as_sum(e) if generic else expand_sums(e)

    # a definition's occurrence is replaced by its definition already prepared (cached across calls: the same
    # o_1 at K = 2 recurs in every side of a chain and in its lemmas), so the rest of the expression, prepared
    # already, is not walked again after each expansion
    context = (tuple(sizes.items()), tuple(sorted(assign.items(), key=lambda kv: sp.default_sort_key(kv[0]))), generic)

    def piece(x, indices: tuple) -> sp.Expr:
        key = (x, indices, context)
        found = CACHE.pieces.get(key)
        if found is None:
            found = CACHE.pieces.remember(key, prepare(x.at(*indices) if x.indices else x.expr))
        return found

    def expand_in(x, f, atoms: set):
        """``f`` with ``x`` replaced by its prepared definition; ``atoms``: f's Indexed atoms and symbols."""
        if not x.indices:
            return f.xreplace({x.symbol: piece(x, ())})
        found = [a for a in atoms if isinstance(a, sp.Indexed) and a.base == x.symbol]
        if any(i.has(x.symbol) for a in found for i in a.indices):  # o[o[1]]: inner first, as replace does
            return f.replace(lambda n: isinstance(n, sp.Indexed) and n.base == x.symbol,
                             lambda n: piece(x, n.indices))
        return f.xreplace({a: piece(x, a.indices) for a in found})

    e = fix(expr).xreplace(sizes)
    if e.has(Entry):
        e = e.replace(lambda n: isinstance(n, Entry), lambda n: n.doit(deep=False))
    e = prepare(e)
    rounds = 8 * len(setting.definitions) + 8

    def expand(f, skip):
        """``f`` with every definition it uses expanded, one at a time (an expansion may bring in a new derivative
        variable, whose definition then stays), except those of the symbols in ``skip``."""
        for _ in range(rounds):
            tick()
            atoms = f.atoms(sp.Indexed, sp.Symbol, sp.Derivative)  # one walk serves the three questions
            x = first_occurring(setting, f, set(skip) | _variables_of(atoms), atoms)
            if x is None:
                break
            f = expand_in(x, f, atoms)
        return f

    def evaluate(n):
        # dz^{l+1}_k/dz^l_j: z^{l+1} is a variable elsewhere in the expression, but here it is the function,
        # and its definition (through a^l) is what depends on z^l: expand it inside this derivative first
        inner = sp.Derivative(expand(n.expr, variables(n) | set(keep)), *n.variable_count)
        return _derivatives_only(inner) if generic else inner.doit()

    for _ in range(rounds):
        e = expand(e, keep)
        pending = ({x.symbol for x in setting.definitions} & variables(e)) - keep
        if not pending:
            break

        def wrt_pending(n):
            return isinstance(n, sp.Derivative) and any(
                (v.base if isinstance(v, sp.Indexed) else v) in pending for v in n.variables)
        tick()
        e = e.replace(wrt_pending, evaluate)
    tick()
    return _derivatives_only(e) if generic else e.doit()


def with_labels(d, exprs: Sequence[sp.Expr], assign: dict, K: int, rng) -> dict:
    """``assign`` plus an integer class (1..K) for every label in ``exprs`` (a label picks an index)."""
    labels = {name for name, kind in d.setting.domains if kind == "label"}
    if not labels:
        return assign
    out = dict(assign)
    fixed = {i: sp.Integer(v) for i, v in assign.items()}
    for atom in sorted({a.xreplace(fixed) for a in _label_atoms(d, tuple(exprs), frozenset(labels))},
                       key=sp.default_sort_key):
        if atom not in out:
            out[atom] = rng.randint(1, K)
    return out


def _label_atoms(d, exprs: tuple, labels: frozenset) -> tuple:
    """The label entries (y_i) of ``exprs`` and of the definitions, indices still symbols (cached)."""
    key = ("labels", d.setting, exprs, labels)
    found = CACHE.relevant.get(key)
    if found is None:
        found = tuple(a for e in list(exprs) + [x.expr for x in d.setting.definitions]
                      for a in e.atoms(sp.Indexed) if str(a.base) in labels)
        CACHE.relevant.remember(key, found)
    return found


def chain_exprs(d) -> list:
    """The chain's expressions and every definition (and argument) they reach: what sampling must keep defined."""
    exprs = [d.lhs] + [s.expr for s in d.steps]
    for x in dict.fromkeys(x for e in list(exprs) for x in relevant(d.setting, e)):
        exprs += [x.expr] + ([x.argument] if x.argument is not None else [])
    return exprs
