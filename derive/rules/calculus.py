"""Differentiation rules: linearity, chain rule, quotient rule, elementary derivatives."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import sympy as sp

from ..expr import SumExcept
from ..model import Rule, Step
from .base import N, U, V, X, identity, rewrite_step, single_derivative
from .registry import rule
from .sums import split_off_totals

if TYPE_CHECKING:  # pragma: no cover
    from . import Context


def _with_function(node, function):
    """The same sum (Sum or SumExcept) over a new summand."""
    if isinstance(node, SumExcept):
        return SumExcept(function, (node.index, node.lower, node.upper), node.excluded)
    return sp.Sum(function, *node.limits)


def _sum_indices(node) -> tuple:
    """The indices a Sum or SumExcept binds (empty for anything else)."""
    if isinstance(node, SumExcept):
        return (node.index,)
    if isinstance(node, sp.Sum):
        return tuple(limit[0] for limit in node.limits)
    return ()


def _linearity_label(done: set) -> str:
    """What a linearity step did, in words: 'move the derivative inside the sum, take constant factors
    out of the sum' (never a derivative where none was taken, never a sum where none was touched)."""
    parts = []
    if "terms" in done:
        parts.append("differentiate term by term")
    if "into_sum" in done:
        parts.append("move the derivative inside the sum")
    if "split_sum" in done:
        parts.append("split the sum term by term")
    if "split_off" in done:
        parts.append("split off the part of the sum whose total is known")
    out = [where for kind, where in (("factor_out_derivative", "the derivative"), ("factor_out_sum", "the sum"))
           if kind in done]
    if out:
        parts.append("take constant factors out of " + " and ".join(out))
    if "zero" in done:
        parts.append("the derivative of a constant is zero")
    return ", ".join(parts)


@rule(Rule.LINEARITY, differentiate=1, simplify=6, each=("facts",))
def linearity(expr: sp.Expr, ctx: "Context", facts: Optional[tuple] = None) -> Optional[Step]:
    """d/dx (a f + g + c) -> a df/dx + dg/dx;  d/dx sum_j f_j -> sum_j df_j/dx;  sum_j c f_j -> c sum_j f_j."""
    # With no derivative left, a sum is split term by term for a recipe (``facts`` None); given the stated
    # facts (the planner), only the terms whose sum is then known leave it (c sum_j y_j for sum_j y_j = 1,
    # a constant's K c), and the rest of the sum stays whole.
    setting = ctx.setting
    done: set = set()
    differentiating = expr.has(sp.Derivative)

    def fn(node, frame, used):
        d = single_derivative(node)
        if d is not None:
            f, x = d
            if isinstance(f, sp.Add):
                varying = [a for a in f.args if setting.depends(a, x)]
                done.add("terms" if len(varying) > 1 else "zero")
                if len(varying) < len(f.args):
                    done.add("zero")
                return sp.Add(*[sp.Derivative(a, x) for a in varying])
            if isinstance(f, sp.Mul):
                const = [a for a in f.args if not setting.depends(a, x)]
                rest = [a for a in f.args if setting.depends(a, x)]
                if const and rest:
                    done.add("factor_out_derivative")
                    return sp.Mul(*const) * sp.Derivative(sp.Mul(*rest), x)
            if _sum_indices(f) and not any(x.has(i) for i in _sum_indices(f)):
                done.add("into_sum")
                return _with_function(f, sp.Derivative(f.function, x))
            return None
        indices = _sum_indices(node)
        if indices and isinstance(node.function, sp.Add) and (node.has(sp.Derivative) or not differentiating):
            # while derivatives are being taken, only the sums they act on are split (a quotient's
            # denominator stays one sum)
            if facts is not None and not node.has(sp.Derivative):
                split = split_off_totals(node, facts)
                if split is not None:
                    done.add("split_off")
                return split
            done.add("split_sum")
            return sp.Add(*[_with_function(node, a) for a in node.function.args])
        if indices and isinstance(node.function, sp.Mul):
            const = [a for a in node.function.args if not any(a.has(i) for i in indices)]
            rest = [a for a in node.function.args if any(a.has(i) for i in indices)]
            if const and rest:
                done.add("factor_out_sum")
                return sp.Mul(*const) * _with_function(node, sp.Mul(*rest))
            if isinstance(node, sp.Sum) and len(node.limits) > 1:  # out of the inner sum only
                inner = node.limits[0]
                const = [a for a in node.function.args if not a.has(inner[0])]
                rest = [a for a in node.function.args if a.has(inner[0])]
                if const and rest:
                    done.add("factor_out_sum")
                    return sp.Sum(sp.Mul(*const) * sp.Sum(sp.Mul(*rest), inner), *node.limits[1:])
        return None

    step = rewrite_step(expr, ctx, fn, Rule.LINEARITY, "")
    if step is None:
        return None
    return Step(step.expr, step.rule, _linearity_label(done), step.assumptions)


@rule(Rule.LINEARITY, tidy=2)
def combine_sums(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """sum_i a_i + sum_l b_l -> sum_i (a_i + b_i), for sums over the same range (linearity, read backwards)."""

    def fn(node, frame, used):
        if not isinstance(node, sp.Add):
            return None
        groups: dict = {}
        for term in node.args:
            coeff, rest = term.as_independent(sp.Sum, as_Add=False)
            if isinstance(rest, sp.Sum) and not any(coeff.has(limit[0]) for limit in rest.limits):
                # one bound index per range: sum_l b_l joins sum_j a_j as sum_j b_j (l free nowhere else)
                key = tuple(limit[1:] for limit in rest.limits)
                groups.setdefault(key, []).append((term, coeff, rest))
        for members in groups.values():
            if len({s.as_dummy() for _, _, s in members}) == 1:
                continue  # a S + b S is one sum with two coefficients: collect's (a + b) S, not sum_j (a + b) s_j
            if len(members) > 1:
                limits = members[0][2].limits
                names = [limit[0] for limit in limits]
                if any(cf.has(*names) or s.function.has(*(set(names) - {lim[0] for lim in s.limits}))
                       for _, cf, s in members[1:]):
                    continue  # renaming would capture a free index
                summed = sp.Sum(sp.Add(*[cf * s.function.xreplace(
                    {old[0]: new for old, new in zip(s.limits, names)}) for _, cf, s in members]), *limits)
                kept = [t for t in node.args if all(t is not m[0] for m in members)]
                return sp.Add(summed, *kept)
        return None

    return rewrite_step(expr, ctx, fn, Rule.LINEARITY, "sums over the same range combine into one sum")


@rule(Rule.MULTIVARIATE_CHAIN_RULE)
def multivariate_chain_rule(expr: sp.Expr, ctx: "Context", through: sp.IndexedBase, indices: tuple,
                            fixed: tuple = ()) -> Optional[Step]:
    """dF/dx -> sum_j dF/du_ij du_ij/dx, for F depending on x only through the u_ij (``fixed`` i not summed)."""
    setting = ctx.setting

    def fn(node, frame, used):
        d = single_derivative(node)
        if d is None:
            return None
        f, x = d
        base_of = lambda e: e.base if isinstance(e, sp.Indexed) else e  # noqa: E731
        if (not isinstance(f, (sp.Symbol, sp.Indexed)) or through in (base_of(f), base_of(x))
                or not setting.depends(f, x) or not setting.depends(through[tuple(fixed) + tuple(indices)], x)):
            return None
        if any(node.has(i) for i in indices):  # the sum's indices must be new
            return None
        definition = setting.definition_of(f.base if isinstance(f, sp.Indexed) else f)
        if definition is not None:
            if not setting.depends(definition.expr, through[indices]):
                return None
            if setting.depends(definition.expr, x, excluding=through):  # F must depend on x only through u
                return None
        u = through[tuple(fixed) + tuple(indices)]
        body = sp.Derivative(f, u) * sp.Derivative(u, x)
        for index in reversed(indices):
            lower, upper = setting.range_of(index)
            body = sp.Sum(body, (index, lower, upper))
        return body

    return rewrite_step(expr, ctx, fn, Rule.MULTIVARIATE_CHAIN_RULE,
                        "multivariate chain rule")


_OUTER = {"log": "the logarithm", "exp": "the exponential", "power": "the power", "exponent": "the exponent"}


@rule(Rule.CHAIN_RULE, differentiate=5)
def chain_rule(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """d/dx F(u) -> F'(u) du/dx for F of one argument, u^n or a^u (log u gives u'/u, a^u gives a^u log(a) u')."""
    setting = ctx.setting
    names: list = []

    def fn(node, frame, used):
        d = single_derivative(node)
        if d is None:
            return None
        f, x = d
        if isinstance(f, sp.Pow) and not setting.depends(f.exp, x):
            # n u^(n-1) kept as a product, 2 (o_j - t_j) as a textbook writes it (SymPy would distribute the 2)
            u, outer, name = f.base, sp.Mul(f.exp, f.base ** (f.exp - 1), evaluate=False), "power"
        elif isinstance(f, sp.Pow) and not setting.depends(f.base, x):  # a^v, the exponent varies
            u, outer, name = f.exp, f * sp.log(f.base), "exponent"
        elif isinstance(f, sp.Function) and len(f.args) == 1:
            u, outer, name = f.args[0], f.fdiff(1), type(f).__name__
        else:
            return None
        if not setting.depends(u, x) or (is_element(u, x) and name != "exponent"):  # F(x_l) is elementary
            return None
        names.append(name)
        return outer * sp.Derivative(u, x)

    step = rewrite_step(expr, ctx, fn, Rule.CHAIN_RULE, "")
    if step is None:
        return None
    kinds = sorted(set(names))
    why = "chain rule through " + " and ".join(_OUTER.get(n, n) for n in kinds)
    formulas = []
    for n in kinds:
        if n == "log":
            formulas.append(identity(sp.Derivative(sp.log(U), X), sp.Derivative(U, X) / U))
        elif n == "power":
            formulas.append(identity(sp.Derivative(U ** N, X), N * U ** (N - 1) * sp.Derivative(U, X)))
        elif n == "exponent":
            formulas.append(identity(sp.Derivative(V ** U, X), V ** U * sp.log(V) * sp.Derivative(U, X)))
        else:
            F = sp.Function("F")
            formulas.append(identity(sp.Derivative(F(U), X), sp.Derivative(F(U), U) * sp.Derivative(U, X)))
    formulas = list(dict.fromkeys(formulas))
    return Step(step.expr, step.rule, why, step.assumptions,
                formula=formulas[0] if len(formulas) == 1 else tuple(formulas))


@rule(Rule.PRODUCT_RULE, differentiate=4)
def product_rule(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """d/dx (u v) -> u' v + u v', for two or more factors that depend on x (and no denominator that does)."""
    setting = ctx.setting

    def fn(node, frame, used):
        d = single_derivative(node)
        if d is None:
            return None
        f, x = d
        if not isinstance(f, sp.Mul) or setting.depends(sp.fraction(f, exact=True)[1], x):
            return None  # a denominator that depends on x is the quotient rule's (exp(-x) is no denominator)
        const = [a for a in f.args if not setting.depends(a, x)]
        varying = [a for a in f.args if setting.depends(a, x)]
        if len(varying) < 2:
            return None
        terms = [sp.Mul(*varying[:n], *varying[n + 1:]) * sp.Derivative(v, x) for n, v in enumerate(varying)]
        return sp.Mul(*const) * sp.Add(*terms)

    formula = identity(sp.Derivative(U * V, X), sp.Derivative(U, X) * V + U * sp.Derivative(V, X))
    return rewrite_step(expr, ctx, fn, Rule.PRODUCT_RULE, "product rule", formula=formula)


@rule(Rule.QUOTIENT_RULE, differentiate=3)
def quotient_rule(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """d/dx (u/v) -> (u' v - u v') / v^2, when v depends on x (-u v'/v^2 when u does not)."""
    setting = ctx.setting

    def fn(node, frame, used):
        d = single_derivative(node)
        if d is None:
            return None
        f, x = d
        u, v = sp.fraction(f, exact=True)  # exp(-x) is a numerator, not 1/exp(x)
        if v == 1 or not setting.depends(v, x):
            return None
        if not setting.depends(u, x):  # a constant numerator's derivative is zero: d/dx (c/v) -> -c v'/v^2
            constant.append(u)
            return sp.Mul(-u, sp.Derivative(v, x), sp.Pow(v, -2))
        numerator = sp.Add(sp.Mul(sp.Derivative(u, x), v), -sp.Mul(u, sp.Derivative(v, x)), evaluate=False)
        return sp.Mul(numerator, sp.Pow(v, -2))

    constant: list = []
    formula = identity(sp.Derivative(U / V, X),
                       (sp.Derivative(U, X) * V - U * sp.Derivative(V, X)) / V**2)
    step = rewrite_step(expr, ctx, fn, Rule.QUOTIENT_RULE, "quotient rule", formula=formula)
    if step is not None and constant:
        return Step(step.expr, step.rule, "quotient rule; the numerator is constant, its derivative is zero",
                    step.assumptions, formula=step.formula)
    return step


@rule(Rule.DIFFERENTIATE, differentiate=6)
def differentiate(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """d/dx c -> 0;  dz_l/dz_k -> delta_lk;  d/dz_k F(z_l) -> F'(z_l) delta_lk for F = exp, log, tanh or a constant power."""
    setting = ctx.setting

    def fn(node, frame, used):
        if isinstance(node, (sp.Sum, SumExcept)) and node.function == 0:
            return sp.Integer(0)
        d = single_derivative(node)
        if d is None:
            return None
        f, x = d
        if not setting.depends(f, x):
            return sp.Integer(0)
        if is_element(f, x):
            return sp.diff(f, x)
        if isinstance(f, (sp.exp, sp.log, sp.tanh)) and is_element(f.args[0], x):
            return f.fdiff(1) * sp.diff(f.args[0], x)
        if isinstance(f, sp.Pow) and is_element(f.base, x) and not setting.depends(f.exp, x):
            return f.exp * f.base ** (f.exp - 1) * sp.diff(f.base, x)
        return None  # anything else is a chain, product or quotient rule step of its own

    return rewrite_step(expr, ctx, fn, Rule.DIFFERENTIATE,
                        "elementary derivatives; distinct variables are independent")


def is_element(u: sp.Basic, x: sp.Basic) -> bool:
    """True when ``u`` is an element of the variable x's family: z_l for x = z_k (d z_l / d z_k = delta_lk)."""
    if isinstance(x, sp.Indexed):
        return isinstance(u, sp.Indexed) and u.base == x.base
    return u == x
