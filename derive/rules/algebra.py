"""Algebraic rules: definitions in and out, cancel, expand, collect, factor, assumptions, lemmas."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

import sympy as sp

from ..assumptions import is_range
from ..expr import Decimal, Held, SumExcept, decimal_number, cancels_on_release, known_different, release, settle, substitute
from ..model import Assumption, Rule, Step, Typeset
from .base import identity, rewrite_step, single_derivative
from .sums import is_total
from .registry import rule

if TYPE_CHECKING:  # pragma: no cover
    from . import Context


@rule(Rule.DEFINITION)
def definition(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """symbol -> its definition, e.g. E -> -sum_j y_j log o_j."""
    d = ctx.setting.definition_of(of)
    if d is None or not d.occurs_in(expr):
        return None
    new = d.expand_in(expr)
    return Step(new, Rule.DEFINITION, f"definition of the {d.text or d.name}")


@rule(Rule.FACTOR, simplify=3, each=("output",))
def factor_over_output(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """u_k (b + c)/v^2 -> (u_k/v) ((b + c)/v) for an output o_j := u_j/v, x/v^2 -> (1/v) (x/v) for o_j := 1/v: before o is folded."""
    return _factor_over(expr, ctx, of)


@rule(Rule.ADD_SUBTRACT, simplify=3, each=("output",))
def add_and_subtract(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """u/v -> (u + n - n)/v, where v = u + n is an output's denominator: e^{-z}/(1 + e^{-z}) -> (1 + e^{-z} - 1)/(1 + e^{-z})."""
    d = ctx.setting.definition_of(of)
    if d is None or not d.indices or not _held_fractions(expr):
        return None
    denominators = _denominators(expr, d)
    added: list = []

    def pad(node):
        if not isinstance(node, Held):
            return None
        numerator, denominator = sp.fraction(node.expr, exact=True)
        if denominator not in denominators or numerator.has(denominator) or not isinstance(denominator, sp.Add):
            return None
        n = sp.expand(denominator - numerator)
        if not n.is_Number or n == 0:
            return None
        added.append(n)
        return Held(sp.Mul(sp.Add(*denominator.args, -n, evaluate=False), 1 / denominator, evaluate=False))

    new = expr.replace(lambda e: pad(e) is not None, pad)
    if new == expr:
        return None
    n = added[0]
    words = f"add and subtract {sp.sstr(abs(n))} in the numerator" if all(a == n for a in added) else \
        "add and subtract a number in each numerator"
    return Step(new, Rule.ADD_SUBTRACT, words)


@rule(Rule.SPLIT_FRACTION, simplify=3, each=("output",))
def split_fraction(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """(v + r)/v -> 1 + r/v, where v is an output's denominator: (1 + e^{-z} - 1)/(1 + e^{-z}) -> 1 - 1/(1 + e^{-z})."""
    d = ctx.setting.definition_of(of)
    if d is None or not d.indices or not _held_fractions(expr):
        return None
    denominators = _denominators(expr, d)

    def split(node):
        if not isinstance(node, Held):
            return None
        numerator, denominator = sp.fraction(node.expr, exact=True)
        if denominator not in denominators or not isinstance(numerator, sp.Add) or \
                not isinstance(denominator, sp.Add):
            return None
        terms = list(numerator.args)
        for t in denominator.args:
            if t not in terms:
                return None
            terms.remove(t)
        if not terms:
            return None
        return Held(1 + sp.Add(*terms) / denominator)

    new = expr.replace(lambda e: split(e) is not None, split)
    if new == expr:
        return None
    return Step(new, Rule.SPLIT_FRACTION, "split the fraction: the denominator over itself is 1")


def _held_fractions(expr: sp.Expr) -> bool:
    """True when ``expr`` holds a fraction kept apart (a factor that factor_over_output took out)."""
    return any(isinstance(h, Held) and sp.fraction(h.expr, exact=True)[1] != 1 for h in expr.atoms(Held))


def _denominators(expr: sp.Expr, d) -> set:
    """The output's denominator at every row value ``expr`` uses it at (1 + e^{-z_j}, 1 + e^{-z_k}, ...)."""
    denominator = sp.fraction(d.expr)[1]
    if denominator == 1:
        return set()
    return {substitute(denominator, at) for at in _row_values(expr, d, denominator)}


@rule(Rule.FOLD, simplify=3, each=("output", "activation"))
def fold(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """numerator(j) / denominator -> symbol_j, for symbol_j := numerator(j) / denominator; F(g(j)) -> symbol_j, for symbol_j := F(g(j)); o_t -> p_t, for p_t := o_t."""
    d = ctx.setting.definition_of(of)
    if d is not None and not d.indices and isinstance(d.expr, sp.Indexed):  # p_t := o_t: o_t -> p_t
        if not expr.has(d.expr):
            return None
        return Step(expr.xreplace({d.expr: d.symbol}), Rule.FOLD, f"name the {d.text or d.name}",
                    formula=identity(d.expr, d.lhs))
    if d is None or not d.indices:
        return None
    if isinstance(d.expr, sp.Derivative):  # delta_k := dC/dz_k: dC/dz_k -> delta_k
        return _fold_derivative(expr, d)
    if is_activation(d):  # h_a := tanh(g(a)): tanh(g(b)) -> h_b
        new = _fold_application(expr, d)
        if new == expr:
            return None
        return Step(new, Rule.FOLD, f"fold the definition of the {d.text or d.name} back in",
                    formula=identity(d.expr, d.lhs))
    numerator, denominator = sp.fraction(d.expr)
    if denominator == 1:
        return None
    if numerator.is_Number:  # symbol := c / (c' + g): c' + g = c/symbol, g = c/symbol - c'
        new = _fold_reciprocal(expr, d)
        new = new if new is None else settle(new)  # 1/(1 + e^{-z}) held apart is s: no bracket left
        if new is None or new == expr:
            return None
        return Step(new, Rule.FOLD, f"fold the definition of the {d.text or d.name} back in",
                    formula=identity(d.expr, d.lhs))
    new = expr
    for at in _row_values(expr, d, denominator):  # o_ij := exp(z_ij)/S_i: once for each row i it occurs at
        row_denominator = substitute(denominator, at)
        held, brought = sp.Dummy("D", positive=True), sp.Dummy("B", positive=True)
        work = new.xreplace({row_denominator: held})
        folded = _fold_quotient(work, d, numerator, denominator, brought, at, held)
        if folded == work:
            continue
        # the denominators the fold brings in stay apart, so that cancelling them is a step of its own
        new = folded.xreplace({held: row_denominator, brought: Held(row_denominator)})
    new = settle(new)
    if new == expr:
        return None
    return Step(new, Rule.FOLD, f"fold the definition of the {d.text or d.name} back in",
                formula=identity(d.expr, d.lhs))


@rule(Rule.FOLD, simplify=3, each=("output",))
def recognise(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """A layer written out -> its output: exp(g_j)/sum_l exp(g_l) -> o_j, exp(g)/(1 + exp(g)) -> s, 1 + exp(g) -> 1/(1 - s)."""
    d = ctx.setting.definition_of(of)
    if d is None or not d.indices or d.layer is None or not d.layer.output:
        return None
    if d.layer.fold == "normaliser" and not any(p.base == sp.fraction(d.expr)[1] and p.exp.is_negative
                                         for p in expr.atoms(sp.Pow)):
        return None  # no fraction over the normaliser: a log-sum-exp is recognised once differentiated
    sigmoids, new = _recognise_logistic(expr, d) if d.layer.fold == "logistic" else (expr, expr)
    softplus = new != sigmoids
    step = fold(new, ctx, of)
    new = new if step is None else step.expr
    if new == expr:
        return None
    if softplus:
        logs = any(isinstance(n, sp.log) and isinstance(n.args[0], sp.Add) and n.args[0].has(sp.exp)
                   for n in sp.preorder_traversal(expr))
        why = ("recognise a softplus log(1 + exp(g)) through the sigmoid" if logs else
               "recognise 1/(1 + exp(g)), the sigmoid of -g, as one minus the sigmoid")
        return Step(new, Rule.FOLD, why, formula=identity(1 + sp.exp(d.argument), 1 / (1 - d.lhs)))
    return Step(new, Rule.FOLD, f"recognise the {d.layer.text}", formula=identity(d.expr, d.lhs))


def _recognise_logistic(expr: sp.Expr, d) -> tuple:
    """(exp(g(w))/(1 + exp(g(w))) -> s_w, and that with 1 + exp(g(w)) -> 1/(1 - s_w) too) for every w (every
    (t, w) of a batch's s_ij)."""
    wilds = tuple(sp.Wild(f"w{n}") for n, _ in enumerate(d.indices))
    g = d.argument.xreplace(dict(zip(d.indices, wilds)))

    def entry(m):
        return d.symbol[tuple(m[w] for w in wilds)] if m and all(w in m for w in wilds) else None

    def whole(e):
        if not isinstance(e, sp.Mul):
            return None
        for f in e.args:
            m = f.match(1 / (1 + sp.exp(g)))
            if entry(m) is not None and sp.exp(g.xreplace(m)) in e.args:
                return e.func(*[a for a in e.args if a not in (f, sp.exp(g.xreplace(m)))]) * entry(m)
        return None

    def complement(e):  # e^{-g}/(1 + e^{-g}) = 1 - s: read where it stands, not as s (1/s - 1)
        if not isinstance(e, sp.Mul):
            return None
        for f in e.args:
            m = f.match(1 / (1 + sp.exp(-g)))
            if entry(m) is not None and sp.exp(-g.xreplace(m)) in e.args:
                return e.func(*[a for a in e.args if a not in (f, sp.exp(-g.xreplace(m)))]) * (1 - entry(m))
        return None

    def plus(e):
        m = e.match(1 + sp.exp(g)) if isinstance(e, sp.Add) and len(e.args) == 2 else None
        return 1 / (1 - entry(m)) if entry(m) is not None else None

    sigmoids = expr.replace(lambda e: whole(e) is not None, whole)
    sigmoids = sigmoids.replace(lambda e: complement(e) is not None, complement)
    return sigmoids, sigmoids.replace(lambda e: plus(e) is not None, plus)


def _fold_derivative(expr, d) -> Optional[Step]:
    wilds = [sp.Wild(f"w{n}") for n, _ in enumerate(d.indices)]
    pattern = d.expr.xreplace(dict(zip(d.indices, wilds)))

    def swap(e):
        if not isinstance(e, sp.Derivative):
            return None
        m = e.match(pattern)
        if m is None or any(w not in m for w in wilds):
            return None
        return d.symbol[tuple(m[w] for w in wilds)]

    new = expr.replace(lambda e: swap(e) is not None, swap)
    if new == expr:
        return None
    return Step(new, Rule.FOLD, f"fold the definition of the {d.text or d.name} back in",
                formula=identity(d.expr, d.lhs))


def _row_values(expr, d, denominator) -> list:
    """{row index: value} for every value the definition's row indices (those its denominator reads: the i of
    o_ij := exp(z_ij)/sum_l exp(z_il)) take where that denominator occurs in ``expr``; [{}] without rows."""
    rows = [i for i in d.indices if denominator.has(i)]
    if not rows:
        return [{}]
    wilds = {i: sp.Wild(f"r_{i}", properties=[lambda e: e.is_Symbol or e.is_Integer]) for i in rows}
    pattern = denominator.xreplace(wilds)
    values = []
    for s in expr.atoms(type(denominator)):
        m = s.match(pattern)
        if m is not None and all(w in m for w in wilds.values()):
            value = {i: m[wilds[i]] for i in rows}
            if value not in values:
                values.append(value)
    return sorted(values, key=lambda v: sp.default_sort_key(tuple(v.values())))


def _fold_quotient(work, d, numerator, denominator, brought, at: dict, held=None):
    """Every numerator(w) over the held denominator -> symbol_w; the row indices of the denominator (``at``:
    their values at this denominator) must match, not only the pattern.

    A numerator(w) that shares a product with a power of the held denominator takes one of its factors:
    exp(z_j) exp(z_k)/S^2 -> o_j o_k, and a bracket left over one more factor is divided term by term,
    (S - exp(z_k))/S -> 1 - o_k, the way a textbook reads it off. A numerator(w) with no denominator left
    to take becomes symbol_w times ``brought`` (the denominator brought in, for a cancel step of its own).
    """
    wilds = [sp.Wild(f"w{n}") for n, _ in enumerate(d.indices)]
    power = sp.Wild("m")
    pattern = _power_pattern(numerator.xreplace(dict(zip(d.indices, wilds))), power)
    fixed = [n for n, i in enumerate(d.indices) if denominator.has(i)]

    def entry(e):
        """(symbol_w, m) when ``e`` is numerator(w)^m, else None."""
        m = e.match(pattern)
        if m is None:
            return None
        n = m.get(power, sp.Integer(1))
        if any(w not in m for w in wilds) or not (n.is_Integer and n > 0):
            return None  # exp(-z_j) is no power of exp(z_j) to fold: 1/(o_j S) would bring the sum back
        if any(m[wilds[n]] != at.get(d.indices[n], d.indices[n]) for n in fixed):
            return None
        return d.symbol[tuple(m[w] for w in wilds)], int(n)

    def over_held(e) -> int:
        base, exp = e.as_base_exp()
        return -int(exp) if base == held and exp.is_Integer and exp.is_negative else 0

    def product(node):
        left = sum(over_held(f) for f in node.args)
        if not left:
            return node.func(*[walk(f) for f in node.args])
        out = []
        for f in node.args:
            found = entry(f)
            if found is not None and found[1] <= left:
                out.append(found[0] ** found[1])
                left -= found[1]
            elif not over_held(f):
                out.append(f)
        for n, f in enumerate(out):  # a bracket over one more factor of the denominator: term by term
            inner = f.expr if isinstance(f, Held) else f
            if left and isinstance(inner, sp.Add):
                terms = [walk(t / held) for t in inner.args]
                if not any(t.has(held, brought) for t in terms):
                    out[n] = sp.Add(*terms)
                    left -= 1
        return sp.Mul(*[walk(f) for f in out]) * held ** -left

    def walk(e):
        if isinstance(e, sp.Mul):
            return product(e)
        if isinstance(e, Held) and isinstance(e.expr, sp.Mul) and any(over_held(f) for f in e.expr.args):
            return walk(e.expr)  # a factor held apart to be read as a fraction: its fold releases it
        found = entry(e)
        if found is not None:
            return (found[0] * brought) ** found[1]
        if not e.args or e.is_Atom:
            return e
        return e.func(*[walk(a) for a in e.args])

    return walk(work)


def is_activation(d) -> bool:
    """True for an entry defined as a function of one argument, h_a := F(g(a)) (a tanh layer), not a kernel."""
    return (bool(d.indices) and not d.is_kernel and isinstance(d.expr, sp.Function) and len(d.expr.args) == 1
            and not isinstance(d.expr, (sp.exp, sp.log)))


def _fold_application(expr, d):
    """Every F(g(w)) in ``expr`` -> symbol_w, for symbol_j := F(g(j)) (its indices matched as wilds)."""
    wilds = {i: sp.Wild(f"w_{i}", properties=[lambda e: e.is_Symbol or e.is_Integer]) for i in d.indices}
    pattern = d.expr.xreplace(wilds)

    def fold_one(e):
        m = e.match(pattern)
        if m is None or any(w not in m for w in wilds.values()):
            return None
        return d.symbol[tuple(m[wilds[i]] for i in d.indices)]

    return expr.replace(lambda e: isinstance(e, type(d.expr)) and fold_one(e) is not None, fold_one)


def _fold_reciprocal(expr, d):
    """For each index value the expression uses (s_j, s_k, ...): c' + g -> c/s and then g -> c/s - c'."""
    bases = {a.base for a in d.expr.atoms(sp.Indexed)}
    values = {a.indices for a in expr.atoms(sp.Indexed) if a.base in bases and len(a.indices) == len(d.indices)}
    # the index values at which the definition's exponential occurs (h_a of exp(-sum_d w_ad x_d): a)
    wilds = {i: sp.Wild(f"w_{i}", properties=[lambda e: e.is_Symbol or e.is_Integer]) for i in d.indices}
    for e in sp.fraction(d.expr)[1].atoms(sp.exp):
        pattern = e.xreplace(wilds)
        for a in expr.atoms(sp.exp):
            m = a.match(pattern)
            if m is not None and all(w in m for w in wilds.values()):
                values.add(tuple(m[wilds[i]] for i in d.indices))
    new = expr
    for value in sorted(values, key=sp.default_sort_key):
        numerator, denominator = sp.fraction(d.at(*value))
        if not isinstance(denominator, sp.Add):
            continue
        const, variable = denominator.as_independent(*[i for i in value if isinstance(i, sp.Symbol)], as_Add=True)
        if variable == 0:
            continue
        lhs = d.symbol[value]
        new = new.xreplace({denominator: numerator / lhs})
        new = new.replace(lambda e: e == variable, lambda e: numerator / lhs - const)
    return new


def _power_pattern(numerator: sp.Expr, power: sp.Wild) -> sp.Expr:
    """exp(g) -> exp(m g): SymPy writes exp(g)**2 as exp(2 g), so match any integer power."""
    if isinstance(numerator, sp.exp):
        return sp.exp(power * numerator.args[0])
    return numerator ** power


@rule(Rule.HYPERBOLIC, simplify=2)
def hyperbolic(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """c e^x + c e^-x -> 2c cosh(x), c e^x - c e^-x -> 2c sinh(x), sinh(x)/cosh(x) -> tanh(x)."""
    new, used = hyperbolic_form(expr)
    if new == expr:
        return None
    x = sp.Symbol("x")
    formulas = {"cosh": identity(sp.exp(x) + sp.exp(-x), 2 * sp.cosh(x)),
                "sinh": identity(sp.exp(x) - sp.exp(-x), 2 * sp.sinh(x)),
                "tanh": identity(sp.sinh(x) / sp.cosh(x), sp.tanh(x))}
    cited = tuple(formulas[n] for n in ("cosh", "sinh", "tanh") if n in used)
    names = [n for n in ("cosh", "sinh", "tanh") if n in used]
    words = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    return Step(new, Rule.HYPERBOLIC, f"write the exponentials as {words}",
                formula=cited[0] if len(cited) == 1 else cited)


def hyperbolic_form(expr: sp.Expr) -> tuple:
    """(``expr`` with every pair c e^u + c e^-u written 2c cosh(u), c e^u - c e^-u written 2c sinh(u) and
    sinh(u)/cosh(u) written tanh(u), for u holding a vector entry; the names of the functions used)."""
    used: set = set()

    def exponential(term):
        """(c, u) for a term c e^u, else None."""
        factors = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.exp)]
        if len(factors) != 1 or not factors[0].args[0].atoms(sp.Indexed):
            return None
        return sp.Mul(*[f for f in sp.Mul.make_args(term) if f is not factors[0]]), factors[0].args[0]

    def pairs(node):
        if not isinstance(node, sp.Add):
            return None
        terms = list(node.args)
        read = [exponential(t) for t in terms]
        out, done = [], set()
        for n, a in enumerate(read):
            if a is None or n in done:
                continue
            for m in range(n + 1, len(terms)):
                b = read[m]
                if b is None or m in done or sp.expand(a[1] + b[1]) != 0:
                    continue
                if a[0] == b[0]:
                    out.append(2 * a[0] * sp.cosh(a[1]))
                    used.add("cosh")
                elif a[0] == -b[0]:
                    out.append(2 * a[0] * sp.sinh(a[1]))
                    used.add("sinh")
                else:
                    continue
                done |= {n, m}
                break
        if not done:
            return None
        return sp.Add(*out, *[t for n, t in enumerate(terms) if n not in done])

    def ratios(node):
        if not isinstance(node, sp.Mul):
            return None
        sinhs = {f.args[0]: f for f in node.args if isinstance(f, sp.sinh)}
        coshs = {f.base.args[0]: f for f in node.args
                 if isinstance(f, sp.Pow) and f.exp == -1 and isinstance(f.base, sp.cosh)}
        shared = [u for u in sinhs if u in coshs]
        if not shared:
            return None
        used.add("tanh")
        gone = {sinhs[u] for u in shared} | {coshs[u] for u in shared}
        return sp.Mul(*[f for f in node.args if f not in gone], *[sp.tanh(u) for u in shared])

    new = expr.replace(lambda n: isinstance(n, sp.Add) and pairs(n) is not None, pairs)
    new = new.replace(lambda n: isinstance(n, sp.Mul) and ratios(n) is not None, ratios)
    return new, used


@rule(Rule.CANCEL, simplify=1)
def cancel(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """(1/u) * u -> 1, (a v^2 - b v^2) / v^2 -> a - b and (2a - 2b)/2 -> a - b: cancel common factors."""
    if expr.has(Held):  # merge substituted factors with their neighbours
        if not cancels_on_release(expr):
            return None
        return Step(release(expr), Rule.CANCEL, "cancel common factors")
    numbers = _cancel_numbers(_merge_decimals(expr))
    if numbers != expr:
        return Step(numbers, Rule.CANCEL, "cancel common factors")
    if not any(p.exp.is_negative for p in expr.atoms(sp.Pow)):  # no fraction to cancel
        return None
    new = sp.cancel(expr)
    if new == expr or not _cancelled(_divisors(expr), _divisors(new)):
        return None
    return Step(new, Rule.CANCEL, "cancel common factors")


def _merge_decimals(expr: sp.Expr) -> sp.Expr:
    """A number times a decimal constant the user wrote, multiplied out where that writes shorter: 2 * 0.1 -> 0.2,
    10 * 0.1 -> 1, (4/3) * 0.6 -> 0.8; (2/3) * 1.7159 and (4/3) * 1.7159 stay (not 17159/15000, 17159/7500)."""
    if not expr.has(Decimal):
        return expr

    def merged(node):
        if not isinstance(node, sp.Mul):
            return None
        coeff, rest = node.as_coeff_Mul()
        for d in sorted((f for f in sp.Mul.make_args(rest) if isinstance(f, Decimal)), key=lambda f: f.value):
            product = coeff * d.value  # simpler: fewer characters than the number and the decimal side by side
            if coeff.is_Rational and coeff != 1 and len(str(product)) < len(str(coeff)) + len(d.digits):
                return decimal_number(product) * sp.Mul(*[f for f in sp.Mul.make_args(rest) if f is not d])
        return None

    return expr.replace(lambda n: merged(n) is not None, merged)


def _cancel_numbers(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each fraction c/q times a bracket whose terms share a number n cancelled: (2a - 2b)/2 -> a - b."""

    def cancelled(node):
        if not isinstance(node, sp.Mul):
            return None
        coeff, rest = node.as_coeff_Mul()
        if not (coeff.is_Rational and coeff.q != 1):
            return None
        for f in sp.Mul.make_args(rest):
            if isinstance(f, sp.Add):
                n, primitive = f.primitive()
                if n.is_Integer and sp.gcd(n, coeff.q) > 1:
                    others = [g for g in sp.Mul.make_args(rest) if g is not f]
                    return sp.Mul(coeff * n, primitive, *others)
        return None

    return expr.replace(lambda n: cancelled(n) is not None, cancelled)


def _divisors(expr: sp.Basic) -> dict:
    """Each base the expression divides by -> the highest power it divides by."""
    out: dict = {}
    for p in sp.preorder_traversal(expr):
        if isinstance(p, sp.Pow) and p.exp.is_Integer and p.exp.is_negative and not p.base.is_Number:
            out[p.base] = max(out.get(p.base, 0), -int(p.exp))
    return out


def _cancelled(before: dict, after: dict) -> bool:
    """True when a divisor went away or lost a power, and none came in or grew: (a v^2)/v^2 -> a is a
    cancellation; a/K + b/K -> (a + b)/K (a common denominator) and 1/(1+e^-x) -> e^x/(e^x+1) are not."""
    if any(base not in before or power > before[base] for base, power in after.items()):
        return False
    return any(after.get(base, 0) < power for base, power in before.items())


@rule(Rule.EXPAND, simplify=7)
def expand(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """a (b + c) -> a b + a c; a bracket that also divides stays whole, (2u + 2v) a / (u + v) -> 2a."""
    new = _expand_keeping_divisors(expr)
    if new == expr:
        return None
    return Step(new, Rule.EXPAND, _expand_label(expr))


def _expand_keeping_divisors(expr: sp.Expr) -> sp.Expr:
    """sympy.expand_mul, except that a bracket that is also a divisor (or a number times one) is not multiplied
    out, so that it cancels against its divisor instead of leaving their products spread over the terms."""
    divisors = {p.base for p in sp.preorder_traversal(expr)
                if isinstance(p, sp.Pow) and p.exp.is_negative and isinstance(p.base, sp.Add)}
    if not divisors:
        return sp.expand_mul(expr)
    held = {}
    for b in divisors:
        c, primitive = b.primitive()
        held[primitive] = (c, sp.Dummy("bracket"))

    def is_held(node):
        return isinstance(node, sp.Add) and (node.primitive()[1] in held or -node.primitive()[1] in held)

    def hold(node):  # SymPy writes -2 (u + v) as (-2u - 2v): held as -2 times the divisor
        c, primitive = node.primitive()
        sign = 1 if primitive in held else -1
        c_b, dummy = held[sign * primitive]
        return sign * c / c_b * dummy

    out = sp.expand_mul(expr.replace(is_held, hold))
    return out.xreplace({dummy: c * primitive for primitive, (c, dummy) in held.items()})


def _expand_label(expr: sp.Expr) -> str:
    """What multiplying out does here, as a reader sees it: brackets multiplied out, a minus sign
    distributed (-(a - b)), or a fraction split term by term ((a + b)/T), never brackets that are not there."""
    kinds: set = set()
    for node in sp.preorder_traversal(expr):
        if not isinstance(node, sp.Mul) or not any(isinstance(a, sp.Add) for a in node.args):
            continue
        others = [a for a in node.args if not isinstance(a, sp.Add)]
        if len(node.args) - len(others) > 1 or any(not _denominator_or_number(a) for a in others):
            kinds.add("brackets")
            continue
        if any(a.is_Number and a.is_negative for a in others):
            kinds.add("sign")
        if any(not a.is_Number for a in others) or any(a.is_Rational and a.q != 1 for a in others):
            kinds.add("fraction")
    words = [w for k, w in (("brackets", "multiply out the brackets"), ("sign", "distribute the minus sign"),
                            ("fraction", "split the fraction term by term")) if k in kinds]
    return ", ".join(words) or "multiply out the brackets"


def _denominator_or_number(e: sp.Basic) -> bool:
    return e.is_Number or (isinstance(e, sp.Pow) and e.exp.is_negative)


@rule(Rule.COLLECT, tidy=3)
def collect(expr: sp.Expr, ctx: "Context", on: Sequence = ()) -> Optional[Step]:
    """a x + b x -> (a + b) x, for x a defined quantity shared by several terms."""

    def fn(node, frame, used):
        if not isinstance(node, sp.Add):
            return None
        targets = list(on) or _shared_factors(node, ctx.setting)
        if not targets:
            return None
        new = sp.collect(node, targets, func=factor_terms)
        return None if new == node else new

    return rewrite_step(expr, ctx, fn, Rule.COLLECT, "collect the terms with a common factor")


def _shared_factors(expr: sp.Add, setting) -> list:
    defined = {d.symbol for d in setting.definitions if d.indices}
    counts: dict = {}
    for term in expr.args:
        for factor in sp.Mul.make_args(term):
            if isinstance(factor, sp.Indexed) and factor.base in defined:
                counts[factor] = counts.get(factor, 0) + 1
    return sorted((f for f, n in counts.items() if n > 1), key=sp.default_sort_key)


@rule(Rule.MERGE_POWERS, tidy=1)
def merge_powers(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """x * x**a -> x**(a + 1): multiply powers of one base (an entry, or 1 - s_k) by adding their exponents."""
    new = _merged_powers(expr)
    if new == expr:
        return None
    return Step(new, Rule.MERGE_POWERS, "multiply the powers of the same entry: add the exponents")


def _merged_powers(expr: sp.Expr) -> sp.Expr:
    """``expr`` with x * x**a -> x**(a + 1) in every product, for x an entry or a sum of entries."""

    def merged(node):
        if not isinstance(node, sp.Mul):
            return None
        powers: dict = {}
        for f in node.args:
            base, exp = f.as_base_exp()
            if not base.is_Number and not isinstance(base, sp.exp) and base.atoms(sp.Indexed):
                powers.setdefault(base, []).append(exp)
        bases = [b for b, e in powers.items() if len(e) > 1 and any(not x.is_Number for x in e)]
        if not bases:
            return None
        kept = [f for f in node.args if f.as_base_exp()[0] not in bases]
        return sp.Mul(*kept, *[b ** sp.Add(*powers[b]) for b in bases])

    return expr.replace(lambda n: merged(n) is not None, merged)


def _split_powers(expr: sp.Expr) -> sp.Expr:
    """x**(a + n) -> x**a * x**n for a symbolic a and a positive integer n, so that x**a can be taken out."""

    def split(node):
        if not (isinstance(node, sp.Pow) and isinstance(node.exp, sp.Add) and node.base.atoms(sp.Indexed)):
            return None
        n, a = node.exp.as_coeff_Add()
        if not (n.is_Integer and n > 0) or a.is_Number:
            return None
        return sp.Mul(node.base ** a, node.base ** n, evaluate=False)

    return expr.replace(lambda n: split(n) is not None, split)


def _split_to_lowest(expr: sp.Expr) -> sp.Expr:
    """In a sum whose terms hold powers of one base with symbolic exponents a few integers apart, each power
    written as the lowest one times the rest: x^g - g x^(g-1) -> x^(g-1) x - g x^(g-1)."""

    def powers(term):
        return [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Pow) and not f.exp.is_Number
                and f.base.atoms(sp.Indexed)]

    def split(node):
        if not isinstance(node, sp.Add):
            return None
        by_base: dict = {}
        for term in node.args:
            for f in powers(term):
                by_base.setdefault(f.base, set()).add(f.exp)
        for base, exps in by_base.items():
            if len(exps) < 2:
                continue
            low = min(exps, key=lambda e: sp.sympify(e - next(iter(exps))))
            gaps = {e: e - low for e in exps}
            if not all(g.is_Integer and g >= 0 for g in gaps.values()):
                continue
            swap = {base ** e: sp.Mul(base ** low, base ** g, evaluate=False) for e, g in gaps.items() if g}
            return node.xreplace(swap)
        return None

    return expr.replace(lambda n: split(n) is not None, split)


@rule(Rule.TARGET, tidy=5)
def output_minus_target(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """o_k + a y_k + b -> o_k - ((-a) y_k - b): the output minus its target, the target's terms collected."""
    if not isinstance(expr, sp.Add):
        return None
    defined = {d.symbol for d in ctx.setting.definitions if d.indices}

    def is_output(e):
        return any(isinstance(x, sp.Indexed) and x.base in defined for x in e.atoms(sp.Indexed))

    outputs = [t for t in expr.args if is_output(t)]
    rest = [t for t in expr.args if not is_output(t)]
    if len(outputs) != 1 or not (isinstance(outputs[0], sp.Indexed) and outputs[0].base in defined):
        return None
    target = -sp.Add(*rest)
    entries = sorted(target.atoms(sp.Indexed), key=sp.default_sort_key)
    if len(rest) < 2 or not entries:  # o_k - y_k is already the textbook's
        return None
    target = sp.collect(sp.expand(target), entries, func=factor_terms)
    if sp.count_ops(target) >= sp.count_ops(sp.Add(*rest)) + 1:  # grouping must not lengthen the form
        return None
    new = sp.Add(outputs[0], sp.Mul(-1, target, evaluate=False), evaluate=False)
    return Step(new, Rule.TARGET, "write the result as the output minus its target")


@rule(Rule.TARGET, tidy=6)
def outputs_minus_targets(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """a (t_j - o_j) -> -a (o_j - t_j), sum_j -f_j -> -sum_j f_j: each bracket an output minus its target."""
    defined = {d.symbol for d in ctx.setting.definitions if d.indices}

    def entry(e, of_defined: bool) -> bool:
        return isinstance(e, sp.Indexed) and (e.base in defined) == of_defined

    def difference(node, first: bool, second: bool) -> bool:  # a - b, a an output entry (first) or a target's
        if not (isinstance(node, sp.Add) and len(node.args) == 2):
            return False
        neg = [a for a in node.args if a.could_extract_minus_sign()]
        pos = [a for a in node.args if not a.could_extract_minus_sign()]
        return len(neg) == 1 and len(pos) == 1 and entry(pos[0], first) and entry(-neg[0], second)

    def backwards(node) -> bool:  # t_j - o_j: a target entry minus an output entry
        return difference(node, False, True)

    def turned(node):
        if isinstance(node, sp.Mul) and any(backwards(f) for f in node.args):  # a lone bracket keeps its form
            flips = sum(1 for f in node.args if backwards(f))  # evaluated: a * -(o - t) stays a product
            return sp.Mul(sp.Integer(-1) ** flips, *[-f if backwards(f) else f for f in node.args])
        if isinstance(node, sp.Sum) and node.function.as_coeff_Mul()[0] == -1 and \
                any(difference(f, True, False) for f in sp.Mul.make_args(node.function)):
            return -sp.Sum(-node.function, *node.limits)
        return None

    new = expr
    for _ in range(3):  # the brackets first, then the sums their signs came out into
        new = new.replace(lambda n: turned(n) is not None, turned)
    if new == expr:
        return None
    return Step(new, Rule.TARGET, "write each bracket as the output minus its target, the minus sign outside")


def factor_terms(expr: sp.Expr) -> sp.Expr:
    """sympy.factor_terms, except that a sum keeps a term that does not depend on its index: SymPy's takes
    it out (sum_l (1 + z_l) -> sum_l 1 + sum_l z_l), a split that nothing then simplifies."""
    def keeps(node) -> bool:
        return isinstance(node, sp.Sum) and isinstance(node.function, sp.Add) and \
            any(not t.has(*(limit[0] for limit in node.limits)) for t in node.function.args)
    held: dict = {}

    def hold(node):
        return held.setdefault(node, sp.Dummy(f"sum{len(held)}"))
    return sp.factor_terms(expr.replace(keeps, hold)).xreplace({d: s for s, d in held.items()})


@rule(Rule.FACTOR, tidy=4)
def factor(expr: sp.Expr, ctx: "Context", over: Optional[sp.Basic] = None, lowest: bool = False) -> Optional[Step]:
    """a b - a c -> a (b - c), s^2 - s -> s (s - 1), x^(g+1) - g x^g -> x^g (x - g) (lowest=True: x^g - x^(g-1) -> x^(g-1) (x - 1)); over o_j := u_j/v: u_k (b + c)/v^2 -> (u_k/v) ((b + c)/v)."""
    if over is not None:
        return _factor_over(expr, ctx, over)
    candidates = [factor_terms(expr)]
    split = _split_powers(expr)
    if split != expr:  # a power with a symbolic exponent shared by terms: x^(g+1) is x^g x
        candidates.append(_merged_powers(factor_terms(split)))
    split = _split_to_lowest(expr) if lowest else expr
    if split != expr:  # x^g - g x^(g-1): x^g is x^(g-1) x (a recipe's choice: the compiler reads x^(g-1) log x
        candidates.append(_merged_powers(factor_terms(split)))  # as one stable factor, not x^(g-1) alone)
    if not expr.has(sp.Sum, SumExcept, sp.Derivative, Held) and _low_degree(expr):  # a delta factors as a symbol
        deltas = {x: sp.Dummy() for x in expr.atoms(sp.KroneckerDelta)}
        candidates.append(_outputs_first(sp.factor(expr.xreplace(deltas)).xreplace({v: x for x, v in deltas.items()}),
                                         ctx))
    if not expr.has(SumExcept, sp.Derivative, Held, sp.KroneckerDelta) and _low_degree(expr):
        candidates.append(_factor_with_sums_as_symbols(expr))
        candidates.append(_factor_by_denominator(expr))
    signed = [_sign_into_sum(c) for c in candidates]
    new = min(candidates + signed, key=sp.count_ops)  # the first (common factors only) on a tie
    if new == expr or sp.count_ops(new) > sp.count_ops(expr):
        return None
    if new in signed and new not in candidates:
        before = candidates[signed.index(new)]
        why = "move the minus sign into the sum" if before == expr else \
            _factor_label(expr, before) + " and move the minus sign into the sum"
        return Step(new, Rule.FACTOR, why)
    return Step(new, Rule.FACTOR, _factor_label(expr, new))


def _outputs_first(expr: sp.Expr, ctx: "Context") -> sp.Expr:
    """A product of brackets with the minus signs where a textbook puts them: (delta_kt - o_k)(a - b) ->
    (o_k - delta_kt)(b - a), so that an output entry standing alone in a bracket comes with a plus sign."""
    defined = {d.symbol for d in ctx.setting.definitions if d.indices}

    def negative_output(bracket) -> bool:
        return any(t.could_extract_minus_sign() and isinstance(-t, sp.Indexed) and (-t).base in defined
                   for t in bracket.args)

    def flipped(node):
        if not isinstance(node, sp.Mul):
            return None
        brackets = [f for f in node.args if isinstance(f, sp.Add)]
        wrong = [b for b in brackets if negative_output(b)]
        if not wrong or len(brackets) < 2:
            return None
        flip = wrong[:len(wrong) // 2 * 2] if len(wrong) % 2 == 0 else \
            wrong + [next(b for b in brackets if b not in wrong)]
        return sp.Mul(*[sp.expand(-f) if f in flip else f for f in node.args])

    return expr.replace(lambda n: flipped(n) is not None, flipped)


def _sign_into_sum(e: sp.Expr) -> sp.Expr:
    """-sum_i a_i (b_i - c_i) -> sum_i a_i (c_i - b_i): a minus sign before a sum taken into its one bracket
    (softmax regression's sum_i x_j (h_k - y_k), not -sum_i x_j (y_k - h_k))."""
    coeff, rest = e.as_coeff_Mul()
    if coeff != -1 or not isinstance(rest, sp.Sum):
        return e
    brackets = [f for f in sp.Mul.make_args(rest.function) if isinstance(f, sp.Add)]
    if len(brackets) != 1:
        return e
    return sp.Sum(rest.function.xreplace({brackets[0]: -brackets[0]}), *rest.limits)


def _low_degree(expr: sp.Expr, most: int = 8) -> bool:
    """True when no integer power in ``expr`` is above ``most``: SymPy's factor multiplies a power out first,
    and (a + b + c + d)^63 takes it a minute (the power-64 cost of tests/test_verify.py)."""
    return all(not (p.exp.is_Integer and abs(p.exp) > most) for p in expr.atoms(sp.Pow))


def _factor_with_sums_as_symbols(expr: sp.Expr) -> sp.Expr:
    """sympy.factor with each sum held as one symbol: (y_k - P) P - 2 y_k + 2 P -> (P - 2)(y_k - P), P = sum_j y_j o_j."""
    sums = {a for a in sp.preorder_traversal(expr) if isinstance(a, sp.Sum)}
    outer = sorted((s for s in sums if not any(t != s and t.has(s) for t in sums)), key=sp.default_sort_key)
    held = {s: sp.Dummy(f"sum{n}") for n, s in enumerate(outer)}  # a sum inside a sum goes with its sum
    return _sign_into_bracket(sp.factor(expr.xreplace(held)).xreplace({d: s for s, d in held.items()}))


def _sign_into_bracket(expr: sp.Expr) -> sp.Expr:
    """-(a - b) c -> (b - a) c: a product's minus sign taken into a bracket that reads better negated."""
    if not isinstance(expr, sp.Mul) or not expr.could_extract_minus_sign():
        return expr
    factors = list(expr.args)
    for n, f in enumerate(factors):
        if isinstance(f, sp.Add) and f.could_extract_minus_sign():
            factors[n] = -f
            return sp.Mul(*factors) * -1
    return expr


def _factor_by_denominator(expr: sp.Expr) -> sp.Expr:
    """The terms over each denominator added and factored, then the factors they share taken out, with no
    common denominator made: -y(1 + z)/f - ... + (1 + z)/S -> (1 + z)(1/S - y/f)."""
    if not isinstance(expr, sp.Add):
        return expr
    groups: dict = {}
    for term in expr.args:
        numerator, denominator = sp.fraction(term)
        groups.setdefault(denominator, []).append(numerator)
    if len(groups) == len(expr.args):  # no two terms over one denominator: nothing to group
        return factor_terms(expr)
    return factor_terms(sp.Add(*[_factor_with_sums_as_symbols(sp.Add(*n)) / d for d, n in groups.items()]))


def _factor_over(expr: sp.Expr, ctx: "Context", of: sp.Basic) -> Optional[Step]:
    """A numerator over the square of o's denominator v, with a common factor a of its terms: written as
    (a/v) ((b + c)/v), each fraction held apart so that a fold reads each (e^{z_k}/S (S - e^{z_k})/S)."""
    d = ctx.setting.definition_of(of)
    if d is None or not d.indices or sp.fraction(d.expr)[1] == 1 or expr.has(Held):
        return None
    numerator, denominator = sp.fraction(d.expr)
    squares = {substitute(denominator, at).as_dummy() for at in _row_values(expr, d, denominator)}

    def split(node):
        if not isinstance(node, sp.Mul):
            return None
        over = [f for f in node.args if isinstance(f, sp.Pow) and f.exp == -2 and f.base.as_dummy() in squares]
        if len(over) != 1:
            return None
        v = over[0].base
        rest = sp.factor_terms(node * v ** 2)
        if numerator.is_Number:  # o := c/v: x/v^2 -> (c/v) (x/(c v)), the output and a fraction to read
            return _split_reciprocal_square(rest, v, numerator)
        constant, varying, brackets = [], [], []
        for f in sp.Mul.make_args(rest):
            if isinstance(f, sp.Add) and f.has(v):
                brackets.append(f)
            elif f.has(type(numerator)) and not (isinstance(f, sp.Pow) and f.exp.is_negative):
                varying.append(f)  # the numerators (e^{z_k}); x_ij, delta_jk and 1/T stay in front
            else:
                constant.append(f)
        if len(brackets) != 1 or not varying or v.has(*varying):
            return None
        return sp.Mul(*constant) * Held(sp.Mul(*varying) / v) * Held(brackets[0] / v)

    new = expr.replace(lambda n: split(n) is not None, split)
    if new == expr:
        return None
    if numerator.is_Number:
        return Step(new, Rule.FACTOR, "split the squared denominator into two fractions")
    return Step(new, Rule.FACTOR, "take out the common factor")


def _split_reciprocal_square(rest: sp.Expr, v: sp.Expr, c: sp.Expr) -> Optional[sp.Expr]:
    """x/v^2 (x = ``rest``) as (c/v) (x/(c v)) for an output c/v (the sigmoid's 1/(1 + e^{-z})): the factors of x
    that vary with v's exponential go into the second fraction, the others (delta_jk, x_d, 1/T) in front."""
    varying = [f for f in sp.Mul.make_args(rest) if f.has(*v.atoms(sp.exp)) and not f.has(v)] if v.has(sp.exp) else []
    constant = [f for f in sp.Mul.make_args(rest) if f not in varying]
    if not varying or any(f.has(v) for f in constant):
        return None
    return sp.Mul(*constant) * Held(c / v) * Held(sp.Mul(*varying) / (c * v))


def _factor_label(expr: sp.Expr, new: sp.Expr) -> str:
    """'take out the common factor', or what happened when only a minus sign moved: -(y - o)/T -> (o - y)/T."""
    coeff, rest = expr.as_coeff_Mul()
    brackets = [f for f in sp.Mul.make_args(rest) if isinstance(f, sp.Add)]
    if coeff == -1 and len(brackets) == 1 and new == rest.xreplace({brackets[0]: -brackets[0]}):
        where = "numerator" if sp.fraction(rest)[1] != 1 else "brackets"
        return f"move the minus sign into the {where}"
    return "take out the common factor"


@rule(Rule.ASSUMPTION, simplify=5, each=("fact",))
def assumption(expr: sp.Expr, ctx: "Context", fact: Assumption) -> Optional[Step]:
    """lhs -> rhs for a declared assumption lhs = rhs, e.g. sum_j y_j -> 1."""
    if fact.rewrite is None:
        return None
    lhs, rhs = fact.rewrite
    new = expr.xreplace({lhs: rhs})
    if new == expr and isinstance(lhs, sp.Sum):  # over another index name, or at another row (sum_l y_hl)
        new = expr.replace(lambda n: is_total(n, lhs), lambda n: rhs)
    if new == expr and isinstance(lhs, sp.Sum) and all(b.is_Integer for b in lhs.limits[0][1:]):
        new = _replace_written_out(expr, lhs, rhs)
    if new == expr:
        return None
    return Step(new, Rule.ASSUMPTION, (Typeset("use the assumption that " + fact.words) if isinstance(fact.words, Typeset)
                 else f"use the assumption that {fact.words}"), assumptions=(fact,))


@rule(Rule.ONE_HOT)
def one_hot_target(expr: sp.Expr, ctx: "Context", fact: Assumption, back: bool = False) -> Optional[Step]:
    """y_j -> [j = t] for a target one-hot at t (fact y_j = delta_jt): every entry of y becomes a Kronecker delta; back=True: [k = t] -> y_k."""
    statement = fact.statement
    if not (isinstance(statement, sp.Eq) and isinstance(statement.lhs, sp.Indexed)
            and isinstance(statement.rhs, sp.KroneckerDelta) and len(statement.lhs.indices) == 1):
        return None
    base, (index,) = statement.lhs.base, statement.lhs.indices
    if back:  # the textbook's y_k where a delta with the hot class is left: (o_k - delta_kt) -> (o_k - y_k)
        hot = statement.rhs.args[1] if statement.rhs.args[0] == index else statement.rhs.args[0]
        entries = {e: base[next(i for i in e.args if i != hot)] for e in expr.atoms(sp.KroneckerDelta)
                   if hot in e.args and any(i != hot for i in e.args)}
        if not entries:
            return None
        (delta, entry), = sorted(entries.items(), key=lambda kv: sp.default_sort_key(kv[0]))[:1]
        return Step(expr.xreplace(entries), Rule.ONE_HOT, "read the one-hot target back", assumptions=(fact,),
                    formula=identity(delta, entry))
    new = expr.replace(lambda n: isinstance(n, sp.Indexed) and n.base == base and len(n.indices) == 1,
                       lambda n: statement.rhs.xreplace({index: n.indices[0]}))
    if new == expr:
        return None
    return Step(new, Rule.ONE_HOT, Typeset(f"the target ${sp.latex(base)}$ is one-hot, its $1$ at the class "
                                          f"${sp.latex(statement.rhs.args[1])}$"),
                assumptions=(fact,))


def _replace_written_out(expr, total: sp.Sum, value):
    """Replace a written-out copy of ``total`` (f(1) + ... + f(n), possibly inside a longer sum)."""
    (_, low, high), = total.limits
    widest = max((len(n.args) for n in sp.preorder_traversal(expr) if isinstance(n, sp.Add)), default=0)
    if int(high) - int(low) + 1 > widest:  # no sum in expr has that many terms: nothing is written out
        return expr
    terms = set(sp.Add.make_args(total.doit()))

    def swap(node):
        if isinstance(node, sp.Add) and terms <= set(node.args):
            return sp.Add(value, *[t for t in node.args if t not in terms])
        return None

    return expr.replace(lambda n: swap(n) is not None, swap)


@rule(Rule.LEMMA, differentiate=2, each=("lemmas",))
def lemma(expr: sp.Expr, ctx: "Context", lemmas: Sequence) -> Optional[Step]:
    """df/dx -> the result of a lemma whose left-hand side matches, under its conditions (d2f/dx dy -> d/dy lemma)."""
    cited: dict = {}
    set_to: list = []  # (lemma index, what it is set to, its Kronecker deltas) where that is not an index: j = y_i

    def fn(node, frame, used):
        d = single_derivative(node)
        rest: tuple = ()
        if d is None and any(_match(lem.lhs, node) is not None for lem in lemmas):
            pass  # a lemma for the whole second derivative
        elif d is None and isinstance(node, sp.Derivative) and all(n == 1 for _, n in node.variable_count):
            # a second derivative: the first variable's derivative may be a lemma, d2F/dx dy -> d/dy (lemma)
            rest = node.variables[1:]
            node = sp.Derivative(node.expr, node.variables[0])
        elif d is None:
            return None
        for lem in lemmas:
            mapping = _match(lem.lhs, node)
            if mapping is None:
                continue
            ok = True
            needs = []
            for cond in lem.conditions:
                for a, b in cond.different:
                    a2, b2 = a.xreplace(mapping), b.xreplace(mapping)
                    if not known_different(frame, a2, b2):
                        ok = False
                    elif frozenset((a2, b2)) in ctx.facts:  # the chain's own condition, not a bound index
                        needs.append(ctx.condition(a2, b2))
            if not ok:
                continue
            used.extend(needs)
            cited.setdefault(lem.name, lem)
            used.extend(a for a in _cited(lem) if not _is_condition(a, lem) and not is_range(a))
            found = Held(substitute(lem.result, mapping))
            for i, v in mapping.items():  # (delta_jk, the k it meets in this chain)
                deltas = tuple((x, next(a for a in x.args if a != i).xreplace(mapping))
                               for x in lem.result.atoms(sp.KroneckerDelta) if i in x.args and len(set(x.args)) == 2)
                if not (isinstance(v, sp.Symbol) or v.is_Number) and (i, v, deltas) not in set_to:  # c = 1 is no news
                    set_to.append((i, v, deltas))
            return sp.Derivative(found, *rest) if rest else found
        return None

    step = rewrite_step(expr, ctx, fn, Rule.LEMMA, "")
    if step is None:
        return None
    step = Step(settle(step.expr), step.rule, step.justification, step.assumptions)
    order = {lem.name: n for n, lem in enumerate(lemmas)}
    names = tuple(sorted(cited.values(), key=lambda lem: order[lem.name]))
    why = "substitute the " + ("lemma" if len(names) == 1 else "lemmas")
    return Step(step.expr, Rule.LEMMA, why + _set_to(set_to), step.assumptions, lemmas=names)


def _set_to(pairs: list) -> str:
    """Where a lemma's index is set to something other than an index (j = y_i), say so, and what its
    Kronecker delta then is: ' at $j = y_{i}$, where $\\delta_{jk}$ is $\\mathbf{1}[k = y_{i}]$'."""
    if not pairs:
        return ""
    at = ", ".join(f"{_tex(i)} = {_tex(v)}" for i, v in dict.fromkeys((i, v) for i, v, _ in pairs))
    where = "".join(f", where ${_tex(delta)}$ is $\\mathbf{{1}}\\left[{_tex(other)} = {_tex(v)}\\right]$"
                    for _, v, deltas in pairs for delta, other in deltas)
    return Typeset(f" at ${at}$" + where)


def _tex(e: sp.Basic) -> str:
    """A label's TeX for an index, an indexed label (y_{i}) or a Kronecker delta (\\delta_{jk})."""
    if isinstance(e, sp.KroneckerDelta):
        return "\\delta_{" + "".join(_tex(a) for a in e.args) + "}"
    if isinstance(e, sp.Indexed):
        return f"{_tex(e.base.label)}_{{{','.join(_tex(a) for a in e.indices)}}}"
    return sp.latex(e)


def _is_condition(a, lem) -> bool:
    """True when ``a`` is one of the lemma's conditions, however its steps order the pair (k != j is j != k)."""
    pairs = {frozenset(p) for c in lem.conditions for p in c.different}
    return a.key in {c.key for c in lem.conditions} or bool(a.different) and all(frozenset(p) in pairs
                                                                                  for p in a.different)


def _cited(lem) -> list:
    """The assumptions a lemma's steps cite (with the lemma's own indices)."""
    return [a for step in lem.steps for a in step.assumptions]


def _match(pattern: sp.Derivative, node: sp.Derivative) -> Optional[dict]:
    """Index renaming that turns ``pattern`` into ``node`` (first or second derivatives alike), or None."""
    if not (isinstance(pattern, sp.Derivative) and isinstance(node, sp.Derivative)):
        return None
    if [n for _, n in pattern.variable_count] != [n for _, n in node.variable_count]:
        return None
    p, n = (pattern.expr, *pattern.variables), (node.expr, *node.variables)
    mapping: dict = {}
    for a, b in zip(p, n):
        if not (isinstance(a, sp.Indexed) and isinstance(b, sp.Indexed)):
            if a != b:
                return None
            continue
        if a.base != b.base or len(a.indices) != len(b.indices):
            return None
        for i, v in zip(a.indices, b.indices):
            if mapping.setdefault(i, v) != v:
                return None
    return mapping
