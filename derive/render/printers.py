"""SymPy printers for derivation expressions, in the style of sympy.printing.

``_print_<Class>`` methods give textbook forms: o_{k} rather than {o}_{k},
\\frac{\\partial E}{\\partial z_{k}}, \\sum_{j \\neq k}, and products written as
a coefficient fraction followed by the operators it multiplies,
-\\frac{y_{k}}{o_{k}} \\frac{\\partial o_{k}}{\\partial z_{k}}. Printing never
simplifies: the factor order is the only thing a printer chooses.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp
from sympy.printing.conventions import split_super_sub
from sympy.printing.latex import LatexPrinter, greek_letters_set
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.str import StrPrinter

from ..errors import ArgumentError
from ..expr import Decimal, Entry, Held, SumExcept
from ..notation import is_symbol_name

# short names a lecturer types for a Greek letter; full names (gamma, tau, lambda, ...) are SymPy's own
GREEK_ALIASES = {"eps": "varepsilon", "epsilon": "varepsilon", "lam": "lambda", "lamda": "lambda",
                 "lmbda": "lambda", "varepsilon": "varepsilon"}


def _latex_word(word: str) -> str:
    """One piece of a symbol's name in LaTeX: a Greek letter as the letter (eps -> \\varepsilon), a digit
    run or a single letter as it is, and a longer word as one word (\\mathit{lr}), never a product l r."""
    greek = GREEK_ALIASES.get(word, word)
    if greek.lower() in greek_letters_set or greek == "varepsilon":
        if greek == "lamda":
            greek = "lambda"
        return "\\" + greek
    if len(word) > 1 and word.isalpha():
        return rf"\mathit{{{word}}}"
    return word


def _latex_script(script: str) -> str:
    """A sub- or superscript of a name: a word is upright (y_{\\mathrm{true}}), a Greek name a letter."""
    if script.startswith("{") and script.endswith("}"):
        return script[1:-1]
    greek = GREEK_ALIASES.get(script, script)
    if greek.lower() in greek_letters_set or greek == "varepsilon":
        return "\\" + greek
    return rf"\mathrm{{{script}}}" if len(script) > 1 and script.isalpha() else script


# factors printed after the coefficient fraction, in this order
_OPERATOR_ORDER = (sp.log, sp.Sum, SumExcept, sp.Derivative, Held)


def _operator_rank(factor: sp.Basic) -> int:
    if isinstance(factor, sp.Indexed) and str(factor.base).startswith("log "):
        return 0  # a log-softmax entry log o_j (costs.py names its base so) prints as a log: y_j log o_j
    for rank, kind in enumerate(_OPERATOR_ORDER):
        if isinstance(factor, kind):
            return rank
    return -1


def _varies(expr: sp.Basic) -> bool:
    """True for a factor that varies with an index (o_j, e^{z_k}, delta_jk); False for a number or a
    parameter such as eps, T or (1 - eps), which a textbook writes first: (1 - eps) y_j, not y_j (1 - eps)."""
    return expr.has(sp.Indexed, sp.KroneckerDelta, sp.Derivative, sp.MatrixSymbol)


def _bracketed(expr: sp.Basic) -> bool:
    """True for a factor printed in brackets: a sum, or a power of one."""
    return expr.is_Add or expr.is_Pow and expr.base.is_Add


def split_product(expr: sp.Mul) -> tuple:
    """(sign, plain factors, operator factors) of a product, each list in print order.

    Plain factors come first: numbers and parameters (eps, T, (1 - eps)), then what varies with an
    index (y_j, then bracketed sums such as (1 - o_j)^gamma); then operators (log, sums, derivatives,
    substituted lemmas).
    """
    coeff, factors = expr.as_coeff_mul()
    operators = sorted((f for f in factors if _operator_rank(f) >= 0),
                       key=lambda f: (_operator_rank(f), _held_bracket(f), not _held_reciprocal(f),
                                      sp.default_sort_key(f)))
    plain = sorted((f for f in factors if _operator_rank(f) < 0),
                   key=lambda f: (_varies(f), _bracketed(f), sp.default_sort_key(f)))
    if abs(coeff) != 1:
        plain.insert(0, abs(coeff))
    sign = -1 if coeff.is_negative else 1
    return sign, plain, operators


def _hadamard_rank(factor: sp.Basic) -> int:
    """Where a factor goes in an entrywise product: a matrix product first, then a plain vector, then a
    bracketed sum: ((W^T) delta) o a o (1 - a), o o (g - (o^T g) 1)."""
    if isinstance(factor, sp.MatMul) and not isinstance(factor.args[0], sp.OneMatrix):
        return 0
    return 2 if isinstance(factor, (sp.MatAdd, sp.HadamardPower)) else 1


def _delta_taken(printer) -> bool:
    """True when a name of the document prints as the letter delta (the error delta^l of backpropagation):
    the Kronecker delta then prints as the indicator 1[j = m], so that one letter means one thing."""
    return any(getattr(shown, "latex", "").startswith(r"\delta") for shown in printer._settings["display"].values())


def _held_bracket(factor: sp.Basic) -> bool:
    """True for a held factor whose numerator is a sum: the factor taken out goes first,
    e^{z_k}/S (S - e^{z_k})/S."""
    return isinstance(factor, Held) and _bracketed(sp.fraction(factor.expr)[0])


def _held_reciprocal(factor: sp.Basic) -> bool:
    """True for a held fraction over a number, such as the sigmoid 1/(1 + e^{-z}) taken out of a square:
    it goes first, 1/(1 + e^{-z}) e^{-z}/(1 + e^{-z})."""
    return isinstance(factor, Held) and sp.fraction(factor.expr, exact=True)[0].is_Number


def _print_plain(printer, print_mul, factors) -> str:
    product = sp.Mul(*factors)
    return print_mul(product) if product.is_Mul else printer._print(product)


def _negative(term: sp.Basic) -> bool:
    """True for a term printed with a leading minus. A matrix term is read off its coefficient:
    could_extract_minus_sign would evaluate a MatMul, and a printer computes nothing."""
    if isinstance(term, sp.MatrixExpr):
        first = term.args[0] if isinstance(term, sp.MatMul) and term.args else None
        return first is not None and not isinstance(first, sp.MatrixExpr) and first.could_extract_minus_sign()
    return term.could_extract_minus_sign()


def _term_rank(term: sp.Basic) -> tuple:
    """Where a term goes within its sign group: numbers, then terms that vary with an index, then
    parameters (eps/K); among those, fewer bracketed factors first (operators such as log and a
    substituted lemma do not count): y_j log s_j + (1 - y_j) log(1 - s_j)."""
    if isinstance(term, sp.MatrixExpr) or not isinstance(term, sp.Expr):
        return (1, 0)
    rank = 0 if term.is_Number else 1 if _varies(term) else 2
    factors = term.as_coeff_mul()[1] if term.is_Mul else ()
    return (rank, sum(1 for f in factors if _operator_rank(f) < 0 and _bracketed(f)))


def _plain_term(term: sp.Basic) -> bool:
    return isinstance(term, sp.Expr) and not isinstance(term, sp.MatrixExpr) \
        and not term.has(sp.Sum, SumExcept, sp.Derivative)


def _shorter_first(terms: list) -> list:
    """``terms`` (sorted by _term_rank) with a plain term (no sum, no derivative) that another of its rank
    extends put before it, in the places those terms held: 1 - p_t - gamma p_t log p_t, delta o_i + delta o_i o_j.
    Terms that do not extend one another, and a term with a sum or a derivative, keep their places: the term
    a split sum picks out stays first."""
    out = list(terms)
    keys = [_term_rank(t) for t in terms]
    for key in dict.fromkeys(keys):
        places = [n for n, t in enumerate(terms) if keys[n] == key and _plain_term(t)]
        ordered = [terms[n] for n in places]
        moved = True
        while moved:
            moved = False
            for a in range(len(ordered)):
                b = next((b for b in range(a + 1, len(ordered)) if _extends(ordered[a], ordered[b])), None)
                if b is not None:
                    ordered.insert(a, ordered.pop(b))
                    moved = True
                    break
        for n, t in zip(places, ordered):
            out[n] = t
    return out


def _extends(longer: sp.Expr, shorter: sp.Expr) -> bool:
    """True when ``longer``'s factors (numbers aside) are ``shorter``'s and more: gamma p_t log p_t extends p_t."""
    a, b = longer.as_coeff_mul()[1], shorter.as_coeff_mul()[1]
    rest = list(a)
    for f in b:
        if f not in rest:
            return False
        rest.remove(f)
    return bool(rest)


def positive_first(terms: list) -> list:
    """Terms of a sum with the positive ones first, each group ordered by _term_rank (stable over the
    printer's own order), and the shorter of two plain terms of one rank first."""
    return (_shorter_first(sorted((t for t in terms if not _negative(t)), key=_term_rank))
            + _shorter_first(sorted((t for t in terms if _negative(t)), key=_term_rank)))


def _has_denominator(factors) -> bool:
    return any(f.is_Pow and f.exp.is_negative or f.is_Rational and not f.is_Integer for f in factors)


if TYPE_CHECKING:  # a mixin of SymPy's printers: for mypy, its super() and self are a Printer's
    from sympy.printing.printer import Printer as _Mixin
else:
    _Mixin = object


class _Shared(_Mixin):
    """What both printers do alike: positive terms first, each base's label from the display settings, and
    products as a plain coefficient followed by its operators (only the punctuation differs)."""

    _form = "latex"
    _minus, _times, _hadamard = "- ", " ", r" \circ "
    _number_times = r" \cdot "
    _bracket_fractions = False  # \frac groups itself; a/b*d/dz in text needs brackets

    def _group(self, text: str) -> str:
        return rf"\left({text}\right)"

    def _print_Mul(self, expr: sp.Mul) -> str:
        if not expr.is_Mul:  # SymPy's _print_Pow hands 1/x over as a "Mul"
            return super()._print_Mul(expr)
        sign, plain, operators = split_product(expr)
        if _has_denominator(plain):
            parts = [_print_plain(self, super()._print_Mul, plain)]
            if operators and self._bracket_fractions and len(parts[0]) > 1:
                parts[0] = self._group(parts[0])
        else:
            parts = [self.parenthesize(f, PRECEDENCE["Mul"]) for f in plain]
        for op in operators:
            printed = self._print(op)
            if isinstance(op, (sp.Sum, SumExcept)) and op is not operators[-1]:
                printed = self._group(printed)
            parts.append(printed)
        joined = parts[0] if parts else ""
        for part in parts[1:]:  # two numbers side by side (2 and a decimal 1.7159) need a sign between them
            joined += (self._number_times if joined[-1:].isdigit() and part[:1].isdigit() else self._times) + part
        return (self._minus if sign < 0 else "") + joined

    def _print_Decimal(self, expr: Decimal) -> str:
        """A decimal constant with the digits the user wrote (1.7159, not 17159/10000)."""
        return expr.digits

    def _print_MatAdd(self, expr) -> str:
        """A sum of matrices, signs read off each term's coefficient (never by evaluating a product)."""
        out = ""
        for n, term in enumerate(positive_first(list(expr.args))):
            negative = _negative(term)
            if negative:  # the scalar coefficient's sign, taken out (the coefficient is no matrix)
                coeff, rest = term.args[0], term.args[1:]
                term = sp.MatMul(*rest) if coeff == -1 else sp.MatMul(-coeff, *rest)
            printed = self._print(term)
            if isinstance(term, sp.MatAdd):
                printed = self._group(printed)
            out += (" - " if negative else " + ") + printed if n else ("- " if negative else "") + printed
        return out

    def _print_HadamardProduct(self, expr) -> str:
        """Entrywise products, a sum or product bracketed by kind (precedence() would evaluate a MatMul's sign)."""
        def factor(a):
            printed = self._print(a)
            return self._group(printed) if isinstance(a, (sp.MatAdd, sp.MatMul, sp.HadamardProduct)) else printed
        return self._hadamard.join(factor(a) for a in sorted(expr.args, key=_hadamard_rank))

    def _print_MatMul(self, expr) -> str:
        """A product of matrices: its coefficient, then its factors, a sum or Hadamard product bracketed;
        a column of ones times a scalar product, 1 u^T v, as the textbook's (u^T v) 1."""
        args = list(expr.args)
        if len(args) > 2 and isinstance(args[0], sp.OneMatrix) and args[0].shape[1] == 1:
            return self._group(self._print(sp.MatMul(*args[1:]))) + self._times + self._print(args[0])
        if args and not isinstance(args[0], sp.MatrixExpr) and not args[0].is_Number:  # a scalar such as sum_j y_j
            scalar = args.pop(0)
            printed = self._print(scalar)
            if isinstance(scalar, sp.Add):
                printed = self._group(printed)
            rest = self._print(sp.MatMul(*args)) if len(args) > 1 else self._print(args[0])
            return printed + self._times + rest
        coeff = args.pop(0) if args and args[0].is_Number else sp.Integer(1)
        parts = []
        for f in args:
            printed = self._print(f)
            if isinstance(f, (sp.MatAdd, sp.HadamardProduct, sp.MatMul)):
                printed = self._group(printed)
            parts.append(printed)
        if abs(coeff) != 1:
            parts.insert(0, self._print(abs(coeff)))
        return (self._minus if coeff.is_negative else "") + self._times.join(parts)

    def _as_ordered_terms(self, expr, order=None):
        return positive_first(super()._as_ordered_terms(expr, order=order))

    def _name(self, name: str) -> None:
        """Refuse a name that is not an identifier with optional scripts: it would reach TeX or Markdown as it is."""
        if not is_symbol_name(name) and not name.startswith("_Dummy_"):
            raise ArgumentError("derivation", f"holds the symbol name {name!r}, which is not an identifier "
                                              "(letters, digits and _, optionally a subscript and a superscript); "
                                              "it is not printed")

    def _print_Symbol(self, expr, *args, **kwargs) -> str:
        self._name(expr.name)
        return super()._print_Symbol(expr, *args, **kwargs)

    def _print_Function(self, expr, *args, **kwargs) -> str:
        if isinstance(expr, sp.core.function.AppliedUndef):
            self._name(type(expr).__name__)
        return super()._print_Function(expr, *args, **kwargs)

    def _label(self, base) -> str:
        shown = self._settings["display"].get(str(base))
        if shown is not None:
            return getattr(shown, self._form)
        return self._print(base.label if hasattr(base, "label") else base)

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._label(expr)

    def _print_MatrixSymbol(self, expr) -> str:
        self._name(str(expr.name))
        shown = self._settings["display"].get(str(expr.name))
        return getattr(shown, self._form) if shown is not None else super()._print_MatrixSymbol(expr)


class DeriveLatexPrinter(_Shared, LatexPrinter):
    """LaTeX for derivation expressions (KaTeX, MathJax and amsmath safe)."""

    printmethod = "_derive_latex"
    _default_settings = {**LatexPrinter._default_settings, "display": {}}

    def _print_Symbol(self, expr, *args, **kwargs) -> str:
        """A name as a textbook sets it: Greek names as letters (eps, gamma, tau), a word as one word,
        a subscript word upright; y_true -> y_{\\mathrm{true}}, eps_2 -> \\varepsilon_{2}."""
        self._name(expr.name)
        if isinstance(expr, sp.Dummy):
            return super()._print_Symbol(expr, *args, **kwargs)
        name, sups, subs = split_super_sub(expr.name)
        out = _latex_word(name)
        if subs:
            out += "_{" + " ".join(_latex_script(x) for x in subs) + "}"
        if sups:
            out += "^{" + " ".join(_latex_script(x) for x in sups) + "}"
        return out

    def _indices(self, indices) -> str:
        printed = [self._print(i) for i in indices]
        simple = all(isinstance(i, (sp.Symbol, sp.Integer)) for i in indices)
        return "".join(printed) if simple else ",".join(printed)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        label = self._label(expr.base)
        shown = self._settings["display"].get(str(expr.base))
        style = shown.style if shown is not None else "sub"
        if style == "example" and len(expr.indices) > 1:
            first = self._print(expr.indices[0])
            return f"{label}_{{{self._indices(expr.indices[1:])}}}^{{({first})}}"
        if style == "function" and len(expr.indices) > 1:
            first = self._print(expr.indices[0])
            return rf"{label}_{{{self._indices(expr.indices[1:])}}}\left({shown.argument}^{{({first})}}\right)"
        sub = self._indices(expr.indices)
        name = expr.base.label.name if shown is None and isinstance(expr.base.label, sp.Symbol) else ""
        word, sups, subs = split_super_sub(name) if name else ("", [], [])
        if subs:  # y_true[j] -> y_{\mathrm{true},j}: one subscript, never a double one
            self._name(name)
            own = " ".join(_latex_script(x) for x in subs)
            label = _latex_word(word) + ("^{" + " ".join(_latex_script(x) for x in sups) + "}" if sups else "")
            return f"{label}_{{{own},{sub}}}"
        return f"{label}_{{{sub}}}"  # a^{L}_{j}: the subscript beneath the superscript, as a textbook sets it

    def _print_Pow(self, expr: sp.Pow, *args, **kwargs) -> str:
        """A power of a name that has a superscript is bracketed: (a^{L}_{k})^{2}, never a^{L2}_{k}."""
        base = expr.base
        if isinstance(base, (sp.Symbol, sp.Indexed)) and expr.exp.is_Number and expr.exp > 0:
            printed = self._print(base)
            if "^" in printed:
                return rf"\left({printed}\right)^{{{self._print(expr.exp)}}}"
        return super()._print_Pow(expr, *args, **kwargs)


    def _print_HadamardPower(self, expr) -> str:
        base = self.parenthesize(expr.base, PRECEDENCE["Pow"])
        if "^" in base and not base.endswith(r"\right)"):  # {a^{l}}^{\circ 2}, not a double superscript
            base = f"{{{base}}}"
        return rf"{base}^{{\circ {{{self._print(expr.exp)}}}}}"

    def _print_Transpose(self, expr) -> str:
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol) or "^" in inner:
            inner = rf"\left({inner}\right)"
        return f"{inner}^{{T}}"

    def _print_DiagMatrix(self, expr) -> str:
        return rf"\operatorname{{diag}}\left({self._print(expr.args[0])}\right)"

    def _print_OneMatrix(self, expr) -> str:
        return r"\mathbf{1}"

    def _print_Entry(self, expr: Entry) -> str:
        return rf"\left[{self._print(expr.matrix)}\right]_{{{self._indices(expr.indices)}}}"

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        f = expr.expr
        if len(expr.variable_count) > 1 or expr.variable_count[0][1] > 1:  # d2E / dz_k dz_m
            order = sum(n for _, n in expr.variable_count)
            below = r" ".join(rf"\partial {self._print(x)}" + (f"^{{{n}}}" if n > 1 else "")
                              for x, n in expr.variable_count)
            inner = self._print(f)
            top = rf"\partial^{{{order}}} {inner}" if isinstance(f, (sp.Symbol, sp.Indexed)) else rf"\partial^{{{order}}}"
            tail = "" if isinstance(f, (sp.Symbol, sp.Indexed)) else rf" \left({inner}\right)"
            return rf"\frac{{{top}}}{{{below}}}{tail}"
        (x, n), = expr.variable_count
        var = self._print(x)
        if isinstance(f, (sp.Symbol, sp.Indexed)):
            return rf"\frac{{\partial {self._print(f)}}}{{\partial {var}}}"
        inner = self._print(f)
        if isinstance(f, (sp.Add, sp.Mul)) or f.could_extract_minus_sign():
            inner = rf"\left({inner}\right)"
        return rf"\frac{{\partial}}{{\partial {var}}} {inner}"

    def _print_log(self, expr: sp.log, exp=None) -> str:
        arg = expr.args[0]
        inner = self._print(arg)
        tex = rf"\log {inner}" if isinstance(arg, (sp.Symbol, sp.Indexed)) else rf"\log\left({inner}\right)"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _print_SumExcept(self, expr: SumExcept) -> str:
        return expr._latex(self)  # the class prints itself, for SymPy's printers and for derive's alike

    def _print_Held(self, expr: Held) -> str:
        return expr._latex(self)

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta, exp=None) -> str:
        # against a label (1[k = y_i]), or where the document's own delta is taken (mlp's error delta^l)
        if not all(isinstance(a, (sp.Symbol, sp.Integer)) for a in expr.args) or _delta_taken(self):
            index, label = sorted(expr.args, key=lambda a: not isinstance(a, sp.Symbol))
            tex = rf"\mathbf{{1}}\left[{self._print(index)} = {self._print(label)}\right]"
            return tex if exp is None else rf"{tex}^{{{exp}}}"
        i, j = (self._print(a) for a in expr.args)
        tex = rf"\delta_{{{i}{j}}}" if all(a.is_Atom for a in expr.args) else rf"\delta_{{{i},{j}}}"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _print_And(self, expr: sp.And) -> str:
        chained = _chain(expr)
        if chained is None:
            return super()._print_And(expr)
        return r" \le ".join(self._print(x) for x in chained)


    def _print_Sum(self, expr: sp.Sum) -> str:
        """Nested sums, outermost first: sum_{i=1}^{m} sum_{c=1}^{K} f."""
        signs = " ".join(rf"\sum_{{{self._print(i)}={self._print(lo)}}}^{{{self._print(hi)}}}"
                         for i, lo, hi in reversed(expr.limits))
        body = self._print(expr.function)
        if expr.function.is_Add or expr.function.could_extract_minus_sign():
            body = rf"\left({body}\right)"
        return f"{signs} {body}"


class DeriveTextPrinter(_Shared, StrPrinter):
    """Plain ASCII for terminals: o_k, dE/dz_k, sum_{j=1}^{K}, sum_{j!=k}."""

    printmethod = "_derive_text"
    _form = "text"
    _minus, _times, _hadamard = "-", "*", " o "
    _number_times = "*"
    _bracket_fractions = True

    def _group(self, text: str) -> str:
        return f"({text})"
    _default_settings = {**StrPrinter._default_settings, "display": {}}

    def _indices(self, indices) -> str:
        printed = [self._print(i) for i in indices]
        if all(isinstance(i, (sp.Symbol, sp.Integer)) and len(str(i)) == 1 for i in indices):
            return "".join(printed)
        return "{" + ",".join(printed) + "}"

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        label = self._label(expr.base)
        shown = self._settings["display"].get(str(expr.base))
        style = shown.style if shown is not None else "sub"
        if style == "example" and len(expr.indices) > 1:
            return f"{label}_{self._indices(expr.indices[1:])}^({self._print(expr.indices[0])})"
        if style == "function" and len(expr.indices) > 1:
            return f"{label}_{self._indices(expr.indices[1:])}({shown.argument}^({self._print(expr.indices[0])}))"
        return f"{label}_{self._indices(expr.indices)}"


    def _print_Transpose(self, expr) -> str:
        return f"{self.parenthesize(expr.arg, PRECEDENCE['Pow'])}^T"

    def _print_DiagMatrix(self, expr) -> str:
        return f"diag({self._print(expr.args[0])})"

    def _print_OneMatrix(self, expr) -> str:
        return "1"

    def _print_Entry(self, expr: Entry) -> str:
        return f"[{self._print(expr.matrix)}]_{self._indices(expr.indices)}"

    def _print_Derivative(self, expr: sp.Derivative) -> str:
        f = expr.expr
        if len(expr.variable_count) > 1 or expr.variable_count[0][1] > 1:  # d^2E/dz_k dz_m
            order = sum(n for _, n in expr.variable_count)
            below = " ".join(f"d{self._print(x)}" + (f"^{n}" if n > 1 else "") for x, n in expr.variable_count)
            if isinstance(f, (sp.Symbol, sp.Indexed)):
                return f"d^{order}{self._print(f)}/({below})"
            return f"d^{order}/({below})({self._print(f)})"
        (x, n), = expr.variable_count
        if isinstance(f, (sp.Symbol, sp.Indexed)):
            return f"d{self._print(f)}/d{self._print(x)}"
        return f"d/d{self._print(x)}({self._print(f)})"

    def _print_Sum(self, expr: sp.Sum) -> str:
        signs = " ".join(f"sum_{{{self._print(i)}={self._print(lo)}..{self._print(hi)}}}"
                         for i, lo, hi in reversed(expr.limits))
        return f"{signs} {self.parenthesize(expr.function, PRECEDENCE['Mul'])}"

    def _print_SumExcept(self, expr: SumExcept) -> str:
        return expr._sympystr(self)

    def _print_Held(self, expr: Held) -> str:
        return expr._sympystr(self)

    def _print_KroneckerDelta(self, expr: sp.KroneckerDelta) -> str:
        if not all(isinstance(a, (sp.Symbol, sp.Integer)) for a in expr.args) or _delta_taken(self):
            index, label = sorted(expr.args, key=lambda a: not isinstance(a, sp.Symbol))
            return f"1[{self._print(index)} = {self._print(label)}]"
        return "delta_" + self._indices(expr.args)


    def _print_Relational(self, expr: sp.Basic) -> str:
        op = {"==": "=", "!=": "!=", "<=": "<=", ">=": ">=", "<": "<", ">": ">"}[expr.rel_op]
        return f"{self._print(expr.lhs)} {op} {self._print(expr.rhs)}"

    def _print_And(self, expr: sp.And) -> str:
        chained = _chain(expr)
        if chained is None:
            return " and ".join(self._print(a) for a in expr.args)
        return " <= ".join(self._print(x) for x in chained)

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        if isinstance(expr.base, (sp.Sum, SumExcept)):
            if expr.exp == -1:
                return f"1/({self._print(expr.base)})"
            return f"({self._print(expr.base)})**{self.parenthesize(expr.exp, PRECEDENCE['Pow'])}"
        return super()._print_Pow(expr, rational)


def _chain(expr: sp.And):
    """[a, b, c] for a <= b and b <= c (in either order of the two), else None."""
    if len(expr.args) != 2 or not all(isinstance(a, sp.Le) for a in expr.args):
        return None
    first, second = expr.args
    if first.rhs == second.lhs:
        return [first.lhs, first.rhs, second.rhs]
    if second.rhs == first.lhs:
        return [second.lhs, second.rhs, first.rhs]
    return None


def latex(expr: sp.Basic, **settings) -> str:
    """LaTeX of one expression."""
    return DeriveLatexPrinter(settings).doprint(expr)


def text(expr: sp.Basic, **settings) -> str:
    """Plain text of one expression."""
    return DeriveTextPrinter(settings).doprint(expr)
