"""Expression pieces SymPy lacks, and the one traversal every rule uses.

* ``SumExcept``: a finite sum that skips one index value, sum_{j != k}.
* ``Held``: a sub-expression just substituted and not yet merged with its
  surroundings (SymPy would otherwise cancel o_k / o_k on construction, and
  the cancellation would never be shown as a step of its own).
* ``Decimal``: a constant the user wrote with a decimal point (1.7159), exact for every computation and
  printed with the user's digits; SymPy keeps it one factor, as it keeps pi (1.7159^2, not 294431281/10^8).
* ``transform``: a post-order rewrite that tells the rewriting function which
  index inequalities hold at the node (inside sum_{j != k}, j != k holds).

Each class prints itself to SymPy's printers (``_latex``, ``_sympystr``, ``_pretty``), so
``sympy.latex(step.expr)``, ``str`` and ``sympy.pretty`` show it as derive's documents do; derive's
own printers reach the same methods (SymPy calls a class's print method before a printer's
``_print_<Class>``).
"""
from __future__ import annotations

from typing import Callable, Optional

import mpmath
import sympy as sp
from sympy.core.expr import Expr
from sympy.core.numbers import NumberSymbol
from sympy.printing.precedence import PRECEDENCE


class Decimal(NumberSymbol):
    """A decimal constant as the user wrote it, e.g. 1.7159 in LeCun's 1.7159 tanh(2x/3).

    ``value`` is its exact rational value (17159/10000), which verify, compile and every numeric check use;
    ``digits`` is the text every printer shows. A product with a number stays a product (2/3 * 1.7159),
    so a closed form reads as a textbook writes it; the cancel rule multiplies it out where that gives a
    whole number (2 * 0.5 -> 1).
    """

    is_real = True
    is_finite = True
    __slots__ = ("value", "digits")

    value: sp.Rational
    digits: str

    def __new__(cls, value, digits: str) -> "Decimal":
        obj = Expr.__new__(cls)
        obj.value = sp.Rational(value)
        obj.digits = digits
        return obj

    def __getnewargs__(self):
        return (self.value, self.digits)

    def _hashable_content(self):
        return (self.value,)

    def __eq__(self, other) -> bool:
        return isinstance(other, Decimal) and self.value == other.value

    def __ne__(self, other) -> bool:
        return not self == other

    __hash__ = NumberSymbol.__hash__

    def _eval_is_positive(self):
        return self.value.is_positive

    def _eval_is_negative(self):
        return self.value.is_negative

    def _eval_is_zero(self):
        return self.value.is_zero

    def _as_mpf_val(self, prec):
        return mpmath.libmp.from_rational(int(self.value.p), int(self.value.q), prec)

    def approximation_interval(self, number_cls):
        if issubclass(number_cls, sp.Rational):
            return (self.value, self.value)
        return None

    def _sympystr(self, printer) -> str:
        return self.digits

    def _latex(self, printer) -> str:
        return self.digits

    def _pretty(self, printer):
        from sympy.printing.pretty.stringpict import prettyForm
        return prettyForm(self.digits)


def decimal_number(value, digits: Optional[str] = None) -> sp.Expr:
    """A number the user wrote as a decimal (``digits``): a Decimal where the digits are shorter than the
    fraction (1.7159, 0.1), else the Rational itself (2, 1/2, 1/4). Without ``digits``, a number a decimal
    multiplied out to, the same way: 0.02 (not 1/50), 1/5 (not 0.2), 1."""
    value = sp.Rational(value)
    if value.is_Integer:
        return value
    if digits is None:
        q = int(value.q)
        for f in (2, 5):
            while q % f == 0:
                q //= f
        if q != 1:
            return value
        import decimal
        with decimal.localcontext() as ctx:
            ctx.prec = len(str(value)) + 10
            digits = format(decimal.Decimal(int(value.p)) / decimal.Decimal(int(value.q)), "f")
    return Decimal(value, digits) if len(digits) < len(str(value)) else value


def exact(expr):
    """``expr`` with every Decimal replaced by its exact rational value."""
    if not isinstance(expr, sp.Basic) or not expr.has(Decimal):
        return expr
    return expr.xreplace({d: d.value for d in expr.atoms(Decimal)})


def _sigma(printer, body, label):
    """A pretty-printed sum sign sized to ``body``, with ``label`` below it and ``body`` to its right."""
    from sympy.printing.pretty.stringpict import prettyForm, stringPict
    half = max(1, (body.height() + 1) // 2)
    if printer._use_unicode:
        top, down, up, bottom = "_", "\N{BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT}", \
            "\N{BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT}", "\N{OVERLINE}"
    else:
        top, down, up, bottom = "_", "\\", "/", "-"
    width = half + 1
    lines = [top * width] + [" " * i + down + " " * (width - i - 1) for i in range(half)]
    lines += [" " * i + up + " " * (width - i - 1) for i in reversed(range(half))] + [bottom * width]
    sign = prettyForm(*stringPict("").stack(*lines))
    sign = prettyForm(*sign.below(label))
    sign.baseline = half  # the row where the diagonals meet
    if body.binding == prettyForm.ADD:
        body = prettyForm(*body.parens())
    out = prettyForm(*sign.right(" ", body))
    out.binding = prettyForm.MUL
    return out


class SumExcept(Expr):
    """sum over index from lower to upper, skipping index = excluded."""

    is_commutative = True

    def __new__(cls, function, limits, excluded):
        function = sp.sympify(function)
        index, lower, upper = (sp.sympify(a) for a in limits)
        return Expr.__new__(cls, function, sp.Tuple(index, lower, upper), sp.sympify(excluded))

    @property
    def function(self) -> sp.Expr:
        return self.args[0]

    @property
    def index(self) -> sp.Symbol:
        return self.args[1][0]

    @property
    def lower(self) -> sp.Expr:
        return self.args[1][1]

    @property
    def upper(self) -> sp.Expr:
        return self.args[1][2]

    @property
    def excluded(self) -> sp.Expr:
        return self.args[2]

    @property
    def free_symbols(self):
        inner = self.function.free_symbols - {self.index}
        return inner | self.lower.free_symbols | self.upper.free_symbols | self.excluded.free_symbols

    def _eval_subs(self, old, new):
        if old == self.index:
            return self
        return None

    def _latex(self, printer) -> str:
        """\\sum_{j \\neq k} f, the summand bracketed when it is a sum or starts with a minus sign."""
        body = printer._print(self.function)
        if isinstance(self.function, sp.Add) or self.function.could_extract_minus_sign():
            body = rf"\left({body}\right)"
        return rf"\sum_{{{printer._print(self.index)} \neq {printer._print(self.excluded)}}} {body}"

    def _sympystr(self, printer) -> str:
        """sum_{j!=k} f, as derive's text documents write it."""
        return (f"sum_{{{printer._print(self.index)}!={printer._print(self.excluded)}}} "
                f"{printer.parenthesize(self.function, PRECEDENCE['Mul'])}")

    def _pretty(self, printer):
        """A sum sign with j != k below it."""
        from sympy.printing.pretty.stringpict import prettyForm, stringPict
        ne = " \N{NOT EQUAL TO} " if printer._use_unicode else " != "
        label = prettyForm(*stringPict.next(printer._print(self.index), ne, printer._print(self.excluded)))
        return _sigma(printer, printer._print(self.function), label)

    def term(self, value) -> sp.Expr:
        """The summand with the index set to ``value``."""
        return self.function.xreplace({self.index: sp.sympify(value)})

    def full_sum(self) -> sp.Sum:
        """The sum without the skipped value."""
        return sp.Sum(self.function, (self.index, self.lower, self.upper))

    def doit(self, **hints):
        function = self.function.doit(**hints) if hints.get("deep", True) else self.function
        lo, hi, ex = self.lower, self.upper, self.excluded
        if lo.is_Integer and hi.is_Integer and ex.is_Integer:
            return sp.Add(*[function.xreplace({self.index: sp.Integer(v)}) for v in range(int(lo), int(hi) + 1)
                           if v != int(ex)])
        return sp.Sum(function, (self.index, lo, hi)).doit(**hints) - function.xreplace({self.index: ex})


class Held(Expr):
    """A substituted sub-expression kept apart until a cancel step merges it."""

    is_commutative = True

    def __new__(cls, expr):
        return Expr.__new__(cls, sp.sympify(expr))

    @property
    def expr(self) -> sp.Expr:
        return self.args[0]

    def doit(self, **hints):
        return self.expr.doit(**hints) if hints.get("deep", True) else self.expr

    def _bare(self) -> bool:
        return self.expr.is_Atom or isinstance(self.expr, sp.Indexed)

    def _fraction(self) -> bool:
        """True for a held u/v with a positive coefficient: typeset, a fraction bar groups it already."""
        numerator, denominator = sp.fraction(self.expr)
        return denominator != 1 and not self.expr.could_extract_minus_sign()

    def _latex(self, printer) -> str:
        """The held expression in brackets (bare when it is a symbol, an entry or a fraction): it is one factor."""
        tex = printer._print(self.expr)
        return tex if self._bare() or self._fraction() else rf"\left({tex}\right)"

    def _sympystr(self, printer) -> str:
        """[x] for a held expression x, as derive's text documents write it."""
        return printer._print(self.expr) if self._bare() else f"[{printer._print(self.expr)}]"

    def _pretty(self, printer):
        """The held expression in brackets."""
        from sympy.printing.pretty.stringpict import prettyForm
        inner = printer._print(self.expr)
        return inner if self._bare() else prettyForm(*inner.parens("[", "]"))


def release(expr: sp.Expr) -> sp.Expr:
    """Replace every Held(x) by x, letting SymPy merge it with its neighbours."""
    return expr.replace(lambda e: isinstance(e, Held), lambda e: e.expr)


def _powers(factor: sp.Basic) -> list:
    """(base, exponent) of each factor in ``factor``, looking through Held (Held(a b)**2 -> a**2, b**2)."""
    base, exp = factor.as_base_exp()
    if isinstance(base, Held):
        return [(b, e * exp) for f in sp.Mul.make_args(base.expr) for b, e in _powers(f)]
    return [(base, exp)]


def cancels_on_release(expr: sp.Basic) -> bool:
    """True when releasing a Held in ``expr`` would cancel a factor against a neighbour (u/u -> 1).

    Only then is the release a step of its own (cancel); otherwise releasing
    only drops brackets, which the step that made the Held does itself.
    """
    for node in sp.preorder_traversal(expr):
        if not isinstance(node, sp.Mul) or not node.has(Held):
            continue
        signs: dict = {}
        for factor in node.args:
            held = factor.as_base_exp()[0].has(Held)
            for base, exp in _powers(factor):
                if base.is_Number or not exp.is_number:
                    continue
                signs.setdefault(base, []).append((bool(exp > 0), held))
        for seen in signs.values():
            if {s for s, _ in seen} == {True, False} and any(h for _, h in seen):
                return True
    return False


def settle(expr: sp.Expr) -> sp.Expr:
    """``expr`` with its Held parts kept only if releasing them cancels something; else released."""
    if expr.has(Held) and not cancels_on_release(expr):
        return release(expr)
    return expr


class Entry(Expr):
    """Entry (i, j) (or i, for a vector) of a matrix expression: [M]_{ij}.

    ``vectors`` maps each MatrixSymbol of M to the IndexedBase whose entries it
    holds, so that ``doit`` turns the entry back into indexed scalars (the
    verifier compares it with the index form). Indices are 1-based.
    """

    is_commutative = True

    def __new__(cls, matrix, indices, vectors):
        return Expr.__new__(cls, matrix, sp.Tuple(*indices), sp.Tuple(*[sp.Tuple(m, b) for m, b in vectors]))

    @property
    def matrix(self):
        return self.args[0]

    @property
    def indices(self) -> tuple:
        return tuple(self.args[1])

    @property
    def vectors(self) -> tuple:
        return tuple(tuple(p) for p in self.args[2])

    @property
    def free_symbols(self):
        out = set()
        for i in self.indices:
            out |= i.free_symbols
        return out

    def _sympystr(self, printer) -> str:
        """[M]_ij in str() and repr(), without the internal matrix-to-vector map."""
        return f"[{printer._print(self.matrix)}]_({', '.join(printer._print(i) for i in self.indices)})"

    def _latex(self, printer) -> str:
        """\\left[M\\right]_{ij}."""
        printed = [printer._print(i) for i in self.indices]
        simple = all(isinstance(i, (sp.Symbol, sp.Integer)) for i in self.indices)
        return rf"\left[{printer._print(self.matrix)}\right]_{{{('' if simple else ',').join(printed)}}}"

    def _pretty(self, printer):
        """[M]_(i, j)."""
        from sympy.printing.pretty.stringpict import prettyForm
        return prettyForm(f"[{sp.sstr(self.matrix)}]_({', '.join(sp.sstr(i) for i in self.indices)})")

    def doit(self, **hints):
        i = self.indices[0] - 1
        j = self.indices[1] - 1 if len(self.indices) > 1 else 0
        matrix = self.matrix
        if all(s.is_Integer for s in matrix.shape):
            matrix = matrix.as_explicit()
        element = matrix[i, j]
        back = dict(self.vectors)

        def is_element(e):
            return isinstance(e, sp.matrices.expressions.matexpr.MatrixElement) and e.parent in back

        def to_indexed(e):
            base = back[e.parent]
            if e.parent.shape[1] == 1:
                return base[e.i + 1]
            return base[e.i + 1, e.j + 1]

        element = sp.sympify(element).replace(is_element, to_indexed)
        return element.doit(**hints) if hints.get("deep", True) else element


def write_out(node: sp.Basic, evaluate: bool = True):
    """A sum with numeric bounds written term by term, or None: one numeric limit of a Sum, a whole SumExcept
    (the full sum less the skipped term when the skipped index is not a number).

    Index values go in with xreplace: subs would evaluate Derivative(L, o[j])
    as soon as its variable changes (to 0, L being a bare symbol).
    """
    if isinstance(node, SumExcept):
        if not (node.lower.is_Integer and node.upper.is_Integer):
            return None
        if node.excluded.is_Integer:
            return node.doit(deep=False)
        return write_out(node.full_sum(), evaluate) - node.term(node.excluded)  # skipping a symbolic index
    if not isinstance(node, sp.Sum):
        return None
    for n, (index, lower, upper) in enumerate(node.limits):
        if lower.is_Integer and upper.is_Integer:
            others = node.limits[:n] + node.limits[n + 1:]
            body = sp.Add(*[node.function.xreplace({index: sp.Integer(v)})
                            for v in range(int(lower), int(upper) + 1)], evaluate=evaluate)
            return sp.Sum(body, *others) if others else body
    return None


def bound_indices(expr: sp.Basic) -> set:
    """Every index some sum inside ``expr`` binds."""
    out: set = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Sum):
            out.update(limit[0] for limit in node.limits)
        elif isinstance(node, SumExcept):
            out.add(node.index)
    return out


def rename_bound(expr: sp.Basic, rename: Callable[[sp.Symbol], Optional[sp.Symbol]]) -> sp.Basic:
    """``expr`` with each summation index i of its sums (over j != k too) renamed to ``rename(i)``, or kept
    where that is None."""
    def sums(node):
        body, limits = node.function, []
        for i, lo, hi in node.limits:
            new = rename(i)
            if new is not None:
                body, i = body.xreplace({i: new}), new
            limits.append((i, lo, hi))
        return sp.Sum(body, *limits)

    def sums_except(node):
        new = rename(node.index)
        if new is None:
            return node
        return SumExcept(node.function.xreplace({node.index: new}), (new, node.lower, node.upper), node.excluded)
    expr = expr.replace(lambda n: isinstance(n, sp.Sum), sums)
    return expr.replace(lambda n: isinstance(n, SumExcept), sums_except)


def substitute(expr: sp.Expr, mapping: dict) -> sp.Expr:
    """Replace free indices by values without capture: a bound index a value mentions is renamed (j -> j')."""
    incoming = set().union(*(sp.sympify(v).free_symbols for v in mapping.values())) if mapping else set()
    for index in bound_indices(expr) & incoming:
        if index not in mapping:
            expr = expr.xreplace({index: sp.Symbol(f"{index}'", **index.assumptions0)})
    return expr.xreplace({k: sp.sympify(v) for k, v in mapping.items()})


Frame = frozenset  # of frozenset({a, b}) pairs known to be different


def guard(factor: sp.Basic):
    """(a, b) when ``factor`` is 1 - delta_ab (it vanishes unless a != b), else None."""
    if isinstance(factor, sp.Add) and len(factor.args) == 2:
        one, other = sorted(factor.args, key=lambda a: not a.is_Number)
        if one == 1 and isinstance(-other, sp.KroneckerDelta):
            return tuple((-other).args)
    return None


def _entering(node: sp.Basic, frame: Frame) -> Frame:
    """The facts inside ``node``: a sum forgets facts about the index it binds, SumExcept adds its own."""
    bound: tuple = ()
    if isinstance(node, SumExcept):
        bound = (node.index,)
    elif isinstance(node, sp.Sum):
        bound = tuple(limit[0] for limit in node.limits)
    if bound:
        frame = frozenset(pair for pair in frame if not any(b in pair for b in bound))
    if isinstance(node, SumExcept):
        return frame | {frozenset((node.index, node.excluded))}
    return frame


def _arg_frames(node: sp.Basic, frame: Frame) -> list:
    """The frame each argument of ``node`` is rewritten in.

    In a product with a factor 1 - delta_ab the other factors only matter when
    a != b, so they may be rewritten knowing it; the guard itself may not.
    """
    inner = _entering(node, frame)
    if not isinstance(node, sp.Mul):
        return [inner] * len(node.args)
    guards = [guard(a) for a in node.args]
    out = []
    for n, _ in enumerate(node.args):
        extra = {frozenset(g) for m, g in enumerate(guards) if g is not None and m != n}
        out.append(inner | extra)
    return out


def transform(expr: sp.Basic, fn: Callable[[sp.Basic, Frame], Optional[sp.Basic]],
              frame: Frame = frozenset(), _depth: int = 0) -> sp.Basic:
    """Rewrite ``expr`` bottom-up with ``fn(node, frame)`` until no node changes.

    ``fn`` returns the replacement of a node, or None to keep it. A
    replacement is itself transformed again, so a rule that moves a derivative
    inward keeps moving it until it reaches the leaves.
    """
    if _depth > 200:
        raise RecursionError("rule did not terminate")
    if not expr.args or isinstance(expr, (sp.Indexed, sp.IndexedBase, sp.Tuple, Entry)):
        new = fn(expr, frame)
        return expr if new is None else transform(new, fn, frame, _depth + 1)
    frames = _arg_frames(expr, frame)
    args = [a if isinstance(a, sp.Tuple) else transform(a, fn, f, _depth) for a, f in zip(expr.args, frames)]
    node = expr if all(a is b for a, b in zip(args, expr.args)) else expr.func(*args)
    new = fn(node, frame)
    return node if new is None else transform(new, fn, frame, _depth + 1)


def known_different(frame: Frame, a: sp.Expr, b: sp.Expr) -> bool:
    """True when the frame says a != b (or both are different integers)."""
    if a.is_Integer and b.is_Integer:
        return a != b
    return frozenset((a, b)) in frame


def indexed_with_base(expr: sp.Basic, bases) -> list:
    """Every Indexed in expr whose base is one of ``bases``."""
    bases = set(bases)
    return [e for e in expr.atoms(sp.Indexed) if e.base in bases]


class Sigmoid(sp.Function):
    """the logistic sigmoid 1/(1+exp(-x)); the planner turns it into a defined output."""

    nargs = 1

    def _latex(self, printer, exp=None) -> str:
        """\\sigma\\left(x\\right), as the documents write the sigmoid."""
        tex = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return tex if exp is None else rf"{tex}^{{{exp}}}"

    def _sympystr(self, printer) -> str:
        """sigmoid(x), the grammar's spelling."""
        return f"sigmoid({printer._print(self.args[0])})"

    def _pretty(self, printer):
        """σ(x)."""
        from sympy.printing.pretty.stringpict import prettyForm
        name = "\N{GREEK SMALL LETTER SIGMA}" if printer._use_unicode else "sigmoid"
        return prettyForm(*prettyForm(*printer._print(self.args[0]).parens()).left(name))


# The slot every softmax body is compared under: Softmax(z[s1], s1, j) == Softmax(z[s2], s2, j).
_CANONICAL_SLOT = sp.Dummy("slot", integer=True, positive=True)


class SlotVector(Expr):
    """Entry ``at`` of a function of a whole vector: args (body, slot, at).

    ``body`` is the vector's entry written at a bound index ``slot`` (a Dummy),
    e.g. z[slot]/T; ``at`` is the entry taken. Two such entries are equal when
    their bodies agree up to renaming the slot.
    """

    is_commutative = True

    def __new__(cls, body, slot, at):
        return Expr.__new__(cls, sp.sympify(body), slot, sp.sympify(at))

    @property
    def body(self) -> sp.Expr:
        return self.args[0]

    @property
    def slot(self) -> sp.Symbol:
        return self.args[1]

    @property
    def at(self) -> sp.Expr:
        return self.args[2]

    def at_index(self, i) -> sp.Expr:
        """The body with the slot set to ``i``: the i-th entry of the vector."""
        return self.body.xreplace({self.slot: sp.sympify(i)})

    def _hashable_content(self):
        return (self.body.xreplace({self.slot: _CANONICAL_SLOT}), _CANONICAL_SLOT, self.at)

    @property
    def free_symbols(self):
        inner = {s for s in self.body.free_symbols if self.slot not in s.free_symbols}
        return inner | self.at.free_symbols

    def _eval_subs(self, old, new):
        if old == self.slot:
            return self
        return None

    def vector(self) -> sp.Expr:
        """The vector as the grammar writes it, softmax(z/T)[k] -> z/T: each entry at the slot, z[slot], becomes
        its vector z (a body that reads the slot otherwise keeps its entry, z[slot])."""
        return self.body.xreplace({a: a.base for a in self.body.atoms(sp.Indexed) if a.indices == (self.slot,)})

    def _function_name(self) -> str:
        return "log_softmax" if isinstance(self, LogSoftmax) else "softmax"

    def _latex(self, printer, exp=None) -> str:
        """\\operatorname{softmax}\\left(z\\right)_{k}."""
        name = self._function_name().replace("_", r"\_")
        tex = (rf"\operatorname{{{name}}}\left({printer._print(self.vector())}\right)"
               rf"_{{{printer._print(self.at)}}}")
        return tex if exp is None else rf"{tex}^{{{exp}}}"

    def _sympystr(self, printer) -> str:
        """softmax(z)[k], the grammar's spelling."""
        return f"{self._function_name()}({printer._print(self.vector())})[{printer._print(self.at)}]"

    def _pretty(self, printer):
        """softmax(z)[k]."""
        from sympy.printing.pretty.stringpict import prettyForm
        inner = prettyForm(*prettyForm(*printer._print(self.vector()).parens()).left(self._function_name()))
        return prettyForm(*inner.right(prettyForm(*printer._print(self.at).parens("[", "]"))))


class Softmax(SlotVector):
    """softmax(v)[at] = exp(v_at) / sum_i exp(v_i), v_i = body with slot -> i."""


class LogSoftmax(SlotVector):
    """log_softmax(v)[at] = v_at - log sum_i exp(v_i), v_i = body with slot -> i."""
