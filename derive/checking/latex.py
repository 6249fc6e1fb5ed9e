"""A small recursive-descent parser for the LaTeX of hand-written gradient derivations.

Text -> tokens -> SymPy, with an explicit grammar; nothing typed reaches eval
or sympify. Anything outside the grammar raises ``Unreadable`` with the
position of the token that stopped it, and the caller reports the formula as
unread instead of guessing.

Conventions (the ones the derivations in derivations/ and the seed posts use):

- ``z_k``, ``y_{ij}``, ``\\Theta_{kj}`` -> Indexed (one index per letter or
  digit; commas separate longer indices such as ``p_{i,y_i}``);
- ``x^{(i)}_j`` -> x[i, j] (the example index comes first); ``a^L_j``,
  ``{z^{l+1}}_k``, ``y^*_j`` -> a base named ``a^L`` (a superscript of letters
  decorates the name), while a numeric superscript is a power;
- ``e^{...}`` and ``\\exp`` -> exp; ``\\log``, ``\\ln``, ``\\mbox{log}`` -> log;
  ``\\sigma(x)`` -> 1/(1 + e^{-x});
- ``\\sum_{j=1}^{K}``, ``\\sum_j``, ``\\sum_j^{p}`` -> a Sum over 1..K (a symbolic
  upper bound is read as K); ``\\sum_{j \\neq k}`` -> SumExcept; the summand is the
  rest of the product;
- ``\\frac{\\partial E}{\\partial z_k}``, ``\\frac{\\partial}{\\partial z_k} X``,
  ``\\frac{d a}{d z}`` -> Derivative;
- ``\\delta_{ij}``, ``\\mathbb{1}\\{i = j\\}``, ``1[k = y_i]``, ``1(k = y_i)`` -> KroneckerDelta.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import NoReturn, Optional

import sympy as sp

from sympy.matrices.expressions.matexpr import MatrixElement, MatrixExpr

from ..expr import SumExcept
from ..layers import WORDS, written_out


class Unreadable(Exception):
    """The formula is outside the grammar; ``position`` is the character offset in the formula."""

    def __init__(self, message: str, position: int = 0):
        super().__init__(message)
        self.message = message
        self.position = position


K_SYMBOL = sp.Symbol("K", integer=True, positive=True)

GREEK = {
    "alpha", "beta", "gamma", "epsilon", "varepsilon", "eta", "theta", "Theta", "lambda", "mu", "nu",
    "tau", "phi", "varphi", "psi", "omega", "Omega", "rho", "kappa", "xi", "zeta", "pi", "Sigma",
}
IGNORED = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr",
           "displaystyle", "textstyle", "limits", "nolimits", "cancel", "bm", "boldsymbol", "mathrm",
           "mathit", "pmb", ",", ";", "!", " ", "quad", "qquad", "small", "color",
           "\\"}  # a line break inside a formula (a long numerator set on two lines) is only layout
FUNCTIONS = {"log": sp.log, "ln": sp.log, "exp": sp.exp}

_TOKEN = re.compile(r"""
    (?P<word>(?:eps|log|ln|exp)(?![A-Za-z]))
  | (?P<cmd>\\(?:[A-Za-z]+|.))
  | (?P<num>[0-9]+(?:\.[0-9]+)?)
  | (?P<letter>[A-Za-z])
  | (?P<op>:=|[-+*/=^_(){}\[\],'|<>!.&])
  | (?P<space>\s+)
""", re.VERBOSE)


@dataclass
class Token:
    kind: str
    text: str
    pos: int


_DECORATED = re.compile(r"\\(?P<cmd>hat|widehat|tilde|widetilde|bar|overline|mathcal|mathscr|mathbf|mathbb|boldsymbol|bm|vec)"
                        r"\s*(?:\{\s*(?P<b>[A-Za-z])\s*\}|\s(?P<s>[A-Za-z])(?![A-Za-z]))")
_NAME_MARK = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde", "bar": "bar", "overline": "bar",
              "mathcal": "cal", "mathscr": "scr"}   # bold (mathbf, mathbb, boldsymbol, bm, vec) is the same name
_DASHES = str.maketrans({"\u2013": "-", "\u2212": "-", "\u2014": "-", "\u00b7": "*"})
SIZES = {"tiny", "Tiny", "small", "scriptsize", "footnotesize", "normalsize", "large", "Large", "huge", "Huge", ":", ">"}


MAX_DIGITS = 1000   # a number evaluated exactly has at most this many digits: 10^{10^{10}} is unread, not an hour
MAX_COUNT = 12      # the largest class count a sum bound (\\sum_{j=1}^{3}) may set


def exact_power(base, exponent, pos: int = 0):
    """base ** exponent, refused (Unreadable) when both are numbers and the result would have more than
    MAX_DIGITS digits: SymPy would evaluate it exactly, for as long as that takes."""
    if isinstance(base, sp.Number) and isinstance(exponent, sp.Number) and base not in (0, 1, -1):
        try:
            digits = abs(float(exponent)) * math.log10(abs(float(base))) if float(base) != 0 else 0.0
        except (OverflowError, ValueError):
            digits = math.inf
        if digits > MAX_DIGITS:
            raise Unreadable(f"a number with about {min(digits, 1e300):.3g} digits is over the bound of "
                             f"{MAX_DIGITS} digits evaluated exactly", pos)
    return base ** exponent


# a word written alone on the left of '=' (loss = ..., \\text{CE} = ...) names a quantity, unless it is a function's
# or an operator's name
_NAME_WORD = re.compile(r"\s*(?:(?P<plain>[A-Za-z]{3,})|\\(?:text|mathrm|mathit|operatorname)\s*\{\s*(?P<set>[A-Za-z]{2,})\s*\})\s*")
_NOT_NAMES = {"log", "ln", "exp", "max", "min", "diag", "sin", "cos", "tan", "tanh", "det", "tr", "lim", "argmax",
              "argmin", "sum", "prod", "eps", "sgn", "sign"}


def name_words(heads) -> frozenset:
    """The words among the left-hand sides ``heads`` of a document's chains that name a quantity: ``loss`` in
    ``loss = -\\sum_i y^i \\ln(s^i)`` is one name, not the product l o s s."""
    out = set()
    for head in heads:
        m = _NAME_WORD.fullmatch(head)
        word = m and (m.group("plain") or m.group("set"))
        if word and word.lower() not in _NOT_NAMES and word.lower() not in WORDS:
            out.add(word)
    return frozenset(out)


def tokenize(text: str, words: frozenset = frozenset()) -> list:
    """Tokens of a formula. Decorated letters (\\hat{y}, \\hat y, \\mathcal{L}) are one name, with
    SymPy's modifier suffix (yhat, Lcal: an identifier every renderer prints as the document wrote it); a bold letter (\\mathbf x, \\mathbb{w}) is the letter; \\color{..} and size commands are dropped; a
    typographic dash is a minus."""
    text = text.translate(_DASHES)
    tokens, pos = [], 0
    while pos < len(text):
        d = _DECORATED.match(text, pos)
        if d:
            letter = d.group("b") or d.group("s")
            mark = _NAME_MARK.get(d.group("cmd"))
            tokens.append(Token("letter", letter + mark if mark else letter, pos))  # yhat: SymPy prints \\hat{y}
            pos = d.end()
            pos = _word_script(text, pos, tokens)
            continue
        c = re.match(r"\\color\s*\{[A-Za-z!0-9 ]*\}|\\ell(?![A-Za-z])", text[pos:])
        if c:
            if c.group().startswith("\\ell"):
                tokens.append(Token("letter", "ell", pos))
            pos += c.end()
            continue

        n = re.match(r"[A-Za-z]+", text[pos:]) if words and (pos == 0 or not (text[pos - 1].isalpha()
                                                                              or text[pos - 1] == "\\")) else None
        if n and n.group() in words:   # loss, written as the document's name for it
            tokens.append(Token("letter", n.group(), pos))
            pos = _word_script(text, pos + n.end(), tokens)
            continue
        w = re.match(r"(?i)(?<![\\A-Za-z])(?:softmax|sigmoid)(?=\s*(?:\(|\^))", text[pos:]) \
            if pos == 0 or not (text[pos - 1].isalpha() or text[pos - 1] == "\\") else None
        if w:   # softmax(z_j), sigmoid(x) written as words: one name, read as the function
            tokens.append(Token("letter", w.group(), pos))
            pos += w.end()
            continue
        t = re.match(r"\\(?:top|intercal)(?![A-Za-z])", text[pos:])
        if t:   # x^\top, x^{\intercal}: the transpose, written as x^T is
            tokens.append(Token("letter", "T", pos))
            pos += t.end()
            continue
        f = re.match(r"\\[dt]frac(?![A-Za-z])", text[pos:])
        if f:   # \dfrac, \tfrac: a fraction set large or small
            tokens.append(Token("cmd", "\\frac", pos))
            pos += f.end()
            continue
        m = _TOKEN.match(text, pos)
        if m is None:
            raise Unreadable(f"unexpected character {text[pos]!r}", pos)
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        if kind == "word":
            word = m.group()
            tokens.append(Token("cmd", "\\" + word, pos) if word in FUNCTIONS else Token("letter", word, pos))
        elif kind == "op" and m.group() == "&":
            pass  # an alignment mark inside a formula is only layout
        elif kind == "letter" or (kind == "cmd" and m.group()[1:] in GREEK):
            tokens.append(Token(kind, m.group(), pos))
            pos = _word_script(text, m.end(), tokens)
            continue
        elif kind != "space":
            tok = Token(kind, m.group(), pos)
            if kind == "cmd":
                name = tok.text[1:]
                if name in ("mbox", "text", "mathrm", "operatorname") and _word_at(text, m.end()):
                    word, end = _word_at(text, m.end())
                    if word == "e":
                        tokens.append(Token("letter", "e", tok.pos))
                        pos = end
                        continue
                    if word in words:   # \text{CE} = ...: the document's name for a quantity
                        tokens.append(Token("letter", word, tok.pos))
                        pos = end
                        continue
                    if word.lower() in WORDS:   # \text{softmax}(z_j): a layer's name (derive.layers)
                        tokens.append(Token("letter", word, tok.pos))
                        pos = end
                        continue
                    if word in FUNCTIONS or word == "diag":
                        tokens.append(Token("cmd", "\\" + word, tok.pos))
                        pos = end
                        continue
                    raise Unreadable(f"text {word!r} inside the formula", tok.pos)
                if name in IGNORED or name in SIZES:
                    pos = m.end()
                    continue
            tokens.append(tok)
        pos = m.end()
    return tokens


_WORD_SCRIPT = re.compile(r"_\s*(?:\{\s*\\(?:text|mathrm|textrm|rm|operatorname)\s*\{\s*(?P<a>[A-Za-z]{2,})\s*\}\s*\}"
                          r"|\\(?:text|mathrm|textrm|operatorname)\s*\{\s*(?P<b>[A-Za-z]{2,})\s*\})")


def _word_script(text: str, pos: int, tokens: list) -> int:
    """Y_{\\text{pred}}, x_\\text{max}: a word set as a subscript is part of the name (Y_pred), not an index and
    not prose; the name's own indices follow it (Y_{\\text{pred}}^{(j)} is the entry j of Y_pred)."""
    m = _WORD_SCRIPT.match(text, pos)
    if not m:
        return pos
    last = tokens[-1]
    tokens[-1] = Token("letter", last.text.lstrip("\\") + "_" + (m.group("a") or m.group("b")), last.pos)
    return m.end()


def _word_at(text: str, pos: int):
    m = re.match(r"\s*\{\s*([A-Za-z ]*?)\s*\}", text[pos:])
    if not m:
        return None
    return m.group(1), pos + m.end()


@dataclass
class Names:
    """What the parser learned about names: index symbols, vector bases, scalar symbols."""

    indices: dict = field(default_factory=dict)
    bases: dict = field(default_factory=dict)
    scalars: dict = field(default_factory=dict)
    K: sp.Symbol = K_SYMBOL
    counts: set = field(default_factory=set)
    arity: dict = field(default_factory=dict)   # base name -> number of indices it is written with
    summed: set = field(default_factory=set)    # index names the document sums over explicitly (\\sum_j)
    sigma_is_softmax: bool = False              # the document defines \\sigma(A_i) as a softmax, not the sigmoid
    words: frozenset = frozenset()              # words the document uses as names (loss = ...): one name each
    functions: frozenset = frozenset()          # letters the document defines as functions of an entry, f(Z^{(j)}) = ...

    def index(self, name: str) -> sp.Symbol:
        if name not in self.indices:
            self.indices[name] = sp.Symbol(name, integer=True, positive=True)
        return self.indices[name]

    def base(self, name: str) -> sp.IndexedBase:
        if name not in self.bases:
            self.bases[name] = sp.IndexedBase(name)
        return self.bases[name]

    def scalar(self, name: str) -> sp.Symbol:
        if name == "K":
            return self.K
        if name not in self.scalars:
            self.scalars[name] = sp.Symbol(name)
        return self.scalars[name]


class Parser:
    """expr := sign? term (('+'|'-') term)*; term := factor (('\\cdot'|'\\times'|juxtaposition) factor)*."""

    def __init__(self, text: str, names: Optional[Names] = None, matrix: bool = False):
        self.text = text
        self.tokens = tokenize(text, names.words if names is not None else frozenset())
        self.i = 0
        self.names = names or Names()
        self.in_matrix = matrix   # inside [ ... ]_k: bare vectors and matrices are matrix symbols

    # -- token helpers --------------------------------------------------------
    def peek(self, offset: int = 0) -> Optional[Token]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def peek_text(self, offset: int = 0) -> Optional[str]:
        t = self.peek(offset)
        return t.text if t is not None else None

    def peek_kind(self, offset: int = 0) -> Optional[str]:
        t = self.peek(offset)
        return t.kind if t is not None else None

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.text in texts

    def take(self) -> Token:
        t = self.peek()
        if t is None:
            raise Unreadable("unexpected end of formula", len(self.text))
        self.i += 1
        return t

    def expect(self, text: str) -> Token:
        t = self.peek()
        if t is None or t.text != text:
            where = t.pos if t is not None else len(self.text)
            raise Unreadable(f"expected {text!r}" + (f", found {t.text!r}" if t else ""), where)
        return self.take()

    def fail(self, message: str) -> NoReturn:
        t = self.peek()
        raise Unreadable(message, t.pos if t is not None else len(self.text))

    # -- grammar ----------------------------------------------------------------
    def parse(self) -> sp.Expr:
        e = self.expr()
        if (t := self.peek()) is not None:
            if self.at(","):
                self.fail("a list of values (a, b, \\ldots), not one expression")
            self.fail(f"cannot read {t.text!r} here")
        return e

    def expr(self) -> sp.Expr:
        sign = 1
        if self.at("+", "-"):
            sign = -1 if self.take().text == "-" else 1
        terms = [sign * self.term()]
        dots = None
        while self.at("+", "-"):
            sign = -1 if self.take().text == "-" else 1
            if dots is None and self._dots_ahead():
                dots = (len(terms), self.peek())
                self._skip_dots()
                if not self.at("+", "-"):
                    terms.append(self.term())   # a_1 + a_2 + ... a_n: the last term without its sign
                continue
            terms.append(sign * self.term())
        if dots is not None:
            return self._written_out(terms, *dots)
        if len(terms) == 1:
            return terms[0]
        shapes = {t.shape for t in terms if isinstance(t, MatrixExpr)}
        if shapes:  # 1 - a^l: a scalar added to a vector is added to each entry
            if len(shapes) != 1:
                self.fail("a sum of matrices of different shapes")
            ones = sp.OneMatrix(*next(iter(shapes)))
            return sp.MatAdd(*[t if isinstance(t, MatrixExpr) else t * ones for t in terms]).doit(deep=False)
        return sp.Add(*terms)

    def _dots_ahead(self) -> bool:
        return self.at("\\dots", "\\ldots", "\\cdots") or [self.peek_text(n) for n in range(3)] == [".", ".", "."]

    def _skip_dots(self) -> None:
        if self.at("\\dots", "\\ldots", "\\cdots"):
            self.take()
        else:
            self.take(), self.take(), self.take()

    def _written_out(self, terms: list, at: int, where) -> sp.Expr:
        """t_1 + t_2 + ... + t_n, the terms written out around an ellipsis: the sum of f(k) for k from the first
        term's number to the last's (a letter there, C or n, is K; a number sets the count), where f is the first
        term with its number made the index and every written term is f at its place. Anything else is unread."""
        pos = where.pos if where is not None else 0
        if at < 1 or len(terms) != at + 1:
            raise Unreadable("an ellipsis in a sum that is not t_1 + t_2 + ... + t_n", pos)
        first, last = terms[0], terms[-1]
        firsts, lasts = sorted(first.atoms(sp.Indexed), key=sp.default_sort_key), sorted(last.atoms(sp.Indexed), key=sp.default_sort_key)
        pairs = set()
        for a, b in zip(firsts, lasts):
            if a.base != b.base or len(a.indices) != len(b.indices):
                raise Unreadable("an ellipsis between terms that differ in more than their number", pos)
            pairs |= {(x, y) for x, y in zip(a.indices, b.indices) if x != y}
        if len(firsts) != len(lasts) or len(pairs) != 1:
            raise Unreadable("an ellipsis between terms that differ in more than their number", pos)
        (start, end), = pairs
        if not start.is_Integer or not (end.is_Integer or isinstance(end, sp.Symbol)):
            raise Unreadable("an ellipsis whose terms are not numbered", pos)
        k = sp.Dummy("k", integer=True, positive=True)
        f = first.xreplace({a: a.base[tuple(k if x == start else x for x in a.indices)] for a in firsts})
        if any(f.xreplace({k: start + n}) != t for n, t in enumerate(terms[:-1])) or \
                f.xreplace({k: end}) != last:
            raise Unreadable("an ellipsis between terms that are not one pattern", pos)
        if end.is_Integer:
            if int(end) > MAX_COUNT:
                self.fail(f"a sum to {end} is over the bound of {MAX_COUNT} terms")
            self.names.counts.add(int(end))
            upper = end
        else:
            upper = self.names.K
        return sp.Sum(f, (k, start, upper))

    def term(self) -> sp.Expr:
        factors = [self.factor()]
        while True:
            if self.at("\\circ", "\\odot") and self.in_matrix:
                self.take()
                left = sp.Mul(*factors) if len(factors) > 1 else factors[0]
                factors = [sp.HadamardProduct(left, self.factor())]
            elif self.at("\\cdot", "\\times", "*"):
                self.take()
                sign = 1
                while self.at("-", "+"):   # a \cdot -b: a sign right after the product sign
                    sign = -sign if self.take().text == "-" else sign
                factors.append(sign * self.factor())
            elif self.at("/"):
                self.take()
                factors.append(1 / self.factor())
            elif self.at(".") and self._dot_product_ahead():
                self.take()   # p_j.p_i: a period between two factors is a product (not ..., not a decimal)
                factors.append(self.factor())
            elif self.starts_factor():
                factors.append(self.factor())
            else:
                break
        if any(isinstance(f, MatrixExpr) for f in factors):
            return _matmul(factors, self)
        return sp.Mul(*factors)

    def _dot_product_ahead(self) -> bool:
        before, after = self.tokens[self.i - 1] if self.i else None, self.peek(1)
        if before is None or after is None or before.text == "." or after.text == ".":
            return False
        return after.kind == "letter" or after.text in ("(", "\\frac", "\\exp", "\\log") or \
            (after.kind == "cmd" and after.text[1:] in GREEK)

    def starts_factor(self) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind in ("num", "letter"):
            return True
        if t.text in ("(", "{", "["):
            return True
        if t.kind == "cmd":
            return t.text not in ("\\cdot", "\\times", "\\circ", "\\odot", "\\right", "\\}", "\\neq", "\\ne", "\\le", "\\leq", "\\over",
                                  "\\ge", "\\geq", "\\\\", "\\|", "\\quad", "\\qquad", "\\text", "\\tag", "\\label")
        return False

    def factor(self) -> sp.Expr:
        t = self.peek()
        if t is None:
            self.fail("expected a factor")
        if t.text in ("\\sum",):
            return self.sum()
        if t.text == "\\frac" and self.is_derivative_operator():
            return self.derivative_operator()
        if t.text in ("\\log", "\\ln", "\\exp"):
            self.take()
            power = None
            if self.at("^"):  # \log^2 x is rare; refuse
                self.fail("a power of a function name")
            arg = self.function_argument()
            return FUNCTIONS[t.text[1:]](arg) if power is None else FUNCTIONS[t.text[1:]](arg) ** power
        if (t.kind == "letter" and t.text.lower() in WORDS) or (t.kind == "cmd" and t.text[1:] in WORDS):
            return self._named_function(t)  # softmax(z_j), \text{softplus}(x), \tanh(x): a layer by name
        if t.text == "\\partial" and self.peek_kind(1) == "letter":
            # \partial y_i / \partial x_k: a derivative written inline with a slash
            self.take()
            f = self.factor_no_function()
            if self.at("\\over"):   # {\\partial y \\over \\partial x}: TeX's fraction, the same derivative
                self.take()
            else:
                self.expect("/")
            self.expect("\\partial")
            v = self.factor_no_function()
            if not isinstance(v, (sp.Symbol, sp.Indexed)):
                self.fail("a derivative with respect to something other than a variable")
            return sp.Derivative(f, v)
        if t.text == "\\nabla" and self.peek_text(1) == "_":
            return self.gradient_entry()
        if t.text == "\\sigma" and self.peek_text(1) in ("(", "\\left"):
            self.take()
            arg = self.function_argument()
            if self.names.sigma_is_softmax and isinstance(arg, sp.Indexed) and len(arg.indices) == 1:
                # the document defines sigma(A_i) as its softmax: sigma(A_i) is the entry sigma_i, defined there
                return self.postfix(self.names.base("sigma")[arg.indices[0]])
            return self.postfix(1 / (1 + sp.exp(-arg)))
        base = self.atom()
        return self.postfix(base)

    def gradient_entry(self) -> sp.Expr:
        """\\nabla_{\\theta_j} J(\\theta), \\nabla_{z_k} L: the gradient's entry, the derivative with respect to that
        entry (of the rest of the product, or of the bracket right after it, as \\frac{\\partial}{\\partial x} takes).
        The gradient with respect to a whole vector (\\nabla_{\\mathbf z}) is not read."""
        self.expect("\\nabla")
        self.expect("_")
        at = self.peek()
        v = self.script()
        if not isinstance(v, (sp.Indexed, sp.Symbol)) or (isinstance(v, sp.Symbol) and str(v) in self.names.bases):
            raise Unreadable("the gradient with respect to a whole vector (\\nabla with a vector below) is not read",
                             at.pos if at else 0)
        function = self.postfix(self.group("(", ")")) if self.at("(") else self.term()
        return sp.Derivative(function, v)

    def function_argument(self) -> sp.Expr:
        if self.at("("):
            return self.group("(", ")")
        if self.at("{"):
            return self.postfix(self.group("{", "}"))
        if self.at("["):
            return self.group("[", "]")
        return self.factor_no_function()

    def factor_no_function(self) -> sp.Expr:
        base = self.atom()
        return self.postfix(base)

    def group(self, open_: str, close: str) -> sp.Expr:
        self.expect(open_)
        e = self.expr()
        if open_ == "{" and self.at("\\over"):   # {a \\over b}: TeX's own fraction
            self.take()
            e = e / self.expr()
        self.expect(close)
        return e

    def atom(self) -> sp.Expr:
        t = self.peek()
        if t is None:  # \log at the end: a function name with nothing to apply it to
            self.fail("expected a factor")
        if t.kind == "num":
            self.take()
            value = sp.Rational(t.text) if "." in t.text else sp.Integer(t.text)
            if t.text == "1" and self.at("[", "(") and self._indicator_ahead():
                return self.indicator()
            if t.text == "1" and self.at("\\{"):
                return self.indicator()      # 1\{k = i\}
            if t.text == "1" and self.at("_") and self.peek_text(1) == "{" and self._condition_ahead(2):
                self.take()
                return self.indicator()      # 1_{i=j}
            return value
        if t.text == "(":
            return self.group("(", ")")
        if t.text == "[" and self._entry_ahead():
            return self.entry()
        if t.text == "[":
            return self.group("[", "]")
        if t.text == "\\diag" and self.in_matrix:
            self.take()
            v = self.function_argument()
            if not isinstance(v, MatrixExpr) or v.shape[1] != 1:
                self.fail("diag of something other than a vector")
            return sp.DiagMatrix(v)
        if t.text == "{":
            return self.group("{", "}")
        if t.text == "\\matrix":
            return self.matrix()
        if t.text == "\\frac":
            self.take()
            num = self.braced()
            den = self.braced()
            return num / den
        if t.text in ("\\mathbb", "\\mathbf", "\\mathds", "\\mathbbm"):
            self.take()
            self.expect("{")
            self.expect("1")
            self.expect("}")
            if self.in_matrix and not self.at("\\{", "[", "("):
                return sp.OneMatrix(self.names.K, 1)  # the vector of ones
            return self.indicator()
        if t.text == "\\delta" and self._kronecker_ahead():
            self.take()
            self.expect("_")
            idx = self.subscript_indices()
            return sp.KroneckerDelta(idx[0], idx[1])
        if t.kind == "letter":
            self.take()
            if t.text == "e" and self.at("^"):
                self.take()
                return sp.exp(self.script())
            return self.named(t.text)
        if t.kind == "cmd" and t.text[1:] in GREEK | {"delta", "sigma"}:
            self.take()
            return self.named(t.text[1:])
        self.fail(f"cannot read {t.text!r}")

    def matrix(self) -> sp.Expr:
        """\\matrix{a, b \\| c, d} (a written-out bmatrix, marked so by the extractor) -> an ImmutableMatrix."""
        self.expect("\\matrix")
        self.expect("{")
        rows, row = [], []
        while True:
            row.append(self.expr())
            if self.at(","):
                self.take()
            elif self.at("\\|"):
                self.take()
                rows.append(row)
                row = []
            else:
                self.expect("}")
                rows.append(row)
                break
        if len({len(r) for r in rows}) != 1:
            self.fail("a matrix whose rows differ in length")
        return sp.ImmutableMatrix(rows)

    def _entry_ahead(self) -> bool:
        """[ ... ]_k: an entry of a matrix expression (the bracket closes right before a subscript)."""
        depth = 0
        for j in range(self.i, len(self.tokens)):
            tok = self.tokens[j]
            depth += tok.text == "["
            depth -= tok.text == "]"
            if depth == 0:
                return j + 1 < len(self.tokens) and self.tokens[j + 1].text == "_"
        return False

    def _transpose_ahead(self) -> bool:
        return self.peek_text(1) == "T" or [self.peek_text(n) for n in (1, 2, 3)] == ["{", "T", "}"]

    def entry(self) -> sp.Expr:
        """[M]_{k} or [M]_{jk}: the entry of the matrix expression M, written with index sums."""
        outer, self.in_matrix = self.in_matrix, True
        try:
            m = self.group("[", "]")
        finally:
            self.in_matrix = outer
        self.expect("_")
        at = self.peek()
        idx = self.subscript_indices()
        assert at is not None  # subscript_indices() read a subscript there
        if not isinstance(m, MatrixExpr):
            raise Unreadable("an entry [ ... ]_k of something that is not a vector or a matrix", at.pos)
        rows, cols = m.shape
        if rows == cols == 1:
            raise Unreadable("an entry of a 1 x 1 product (a number, not a vector)", at.pos)
        if len(idx) == 1 and cols == 1:
            element = m[idx[0], 0]
        elif len(idx) == 1 and rows == 1:
            element = m[0, idx[0]]
        elif len(idx) == 2 and rows != 1 and cols != 1:
            element = m[idx[0], idx[1]]
        else:
            raise Unreadable(f"{len(idx)} indices for a {'vector' if 1 in (rows, cols) else 'matrix'}", at.pos)
        return in_notation(element, self.names)

    def braced(self) -> sp.Expr:
        if self.at("{"):
            return self.group("{", "}")
        t = self.take()
        if t.kind == "num":
            return sp.Integer(t.text[0]) if len(t.text) > 1 else sp.Integer(t.text)
        if t.kind == "letter":
            return self.named(t.text)
        raise Unreadable(f"cannot read {t.text!r} as an argument", t.pos)

    def _kronecker_ahead(self) -> bool:
        # \delta_{ij} with exactly two indices and no superscript
        save = self.i
        try:
            self.take()
            if not self.at("_"):
                return False
            self.take()
            idx = self.subscript_indices()
            return len(idx) == 2 and not self.at("^")
        except Unreadable:
            return False
        finally:
            self.i = save

    def _indicator_ahead(self) -> bool:
        t = self.peek()
        assert t is not None  # called at [ or (
        close = {"[": "]", "(": ")"}[t.text]
        depth = 0
        for tok in self.tokens[self.i:]:
            if tok.text in ("[", "("):
                depth += 1
            elif tok.text in ("]", ")"):
                depth -= 1
                if depth == 0:
                    return False
            elif tok.text in ("=", "\\neq") and depth == 1:
                return True
        return False and close

    def _condition_ahead(self, offset: int) -> bool:
        """a = b or a \\neq b, letters or digits, then the closing brace, at self.peek(offset)."""
        toks = [self.peek_text(offset + n) for n in range(4)]
        kinds = [self.peek_kind(offset + n) for n in range(4)]
        return kinds[0] in ("letter", "num") and toks[1] in ("=", "\\neq", "\\ne") \
            and kinds[2] in ("letter", "num") and toks[3] == "}"

    def indicator(self) -> sp.Expr:
        """\\{a = b\\}, [a = b] or (a = b) -> KroneckerDelta(a, b); a != b -> 1 - delta."""
        pairs = {"\\{": "\\}", "[": "]", "(": ")", "{": "}"}
        t = self.take()
        if t.text not in pairs:
            raise Unreadable("expected an indicator's condition", t.pos)
        a = self.index_expr()
        op = self.take()
        if op.text not in ("=", "\\neq", "\\ne"):
            raise Unreadable("an indicator needs a condition a = b or a \\neq b", op.pos)
        b = self.index_expr()
        self.expect(pairs[t.text])
        d = sp.KroneckerDelta(a, b)
        return d if op.text == "=" else 1 - d

    # -- names, indices, scripts --------------------------------------------------
    def named(self, name: str) -> sp.Expr:
        """A letter or Greek name with its subscripts and decorating superscripts."""
        sup_name, example, indices = "", None, None
        for _ in range(3):
            if self.at("^") and not sup_name and example is None:
                kind, value = self.superscript_kind()
                if kind == "power" and self._entry_superscript(name):
                    kind = "name"   # s^1 where the document writes s^i: the entry, not a power
                if kind == "power":
                    break
                self.take()
                if kind == "example":
                    self.expect("{") if self.at("{") else None
                    example = self.example_index()
                    if self.at("}"):
                        self.take()
                else:
                    sup_name = self.decoration()
            elif self.at("_") and indices is None:
                self.take()
                indices = self.subscript_indices()
            elif self.at("[") and indices is None and example is None and self._bracket_index_ahead():
                self.take()   # x[n], y[k]: an entry written with brackets right after the name, as in code
                t = self.take()
                indices = [self.names.index(t.text) if t.kind == "letter" else sp.Integer(t.text)]
                self.take()
            else:
                break
        if self.at("'") and not sup_name:  # u' is u^{\prime}
            self.take()
            sup_name = "\\prime"
        full = name + (f"^{sup_name}" if sup_name else "")
        if sup_name == "\\prime" and not indices and example is None and self.at("("):
            derivative = self._primed_call(name)
            if derivative is not None:
                return derivative
        if name in self.names.functions and not sup_name and not indices and example is None and self.at("("):
            arg = self.group("(", ")")   # g(Z_2) of a g the document defines as g(Z_2) = ...: the quantity g
            if isinstance(arg, sp.Symbol) and not arg.is_integer:
                return sp.Function(name)(arg)   # f(x) in a rule stated for any f: a function of x, not the defined f
            return self.names.scalar(name)
        if example is None and self._application_ahead():
            self.take()
            self.take()
            self.take()
            self.take()
            self.take()
            example = self.names.index(self.take().text)
            self.take()
            self.take()
            self.take()
        elif self._call_ahead() and not (name[:1].islower() and indices and self._indexed_argument()
                                         and not self._same_index_argument(indices)):
            # L_i(f_k), J(\Theta), L(y, t): the name of a function of its argument; y_k(p_i) is a product
            depth = 0
            while True:
                tok = self.take()
                depth += tok.text == "("
                depth -= tok.text == ")"
                if depth == 0:
                    break
        if indices is None and example is None and self.at("[") and self._bracket_index_ahead():
            self.take()   # f(x)[n]: the entry n of the function's value
            t = self.take()
            indices = [self.names.index(t.text) if t.kind == "letter" else sp.Integer(t.text)]
            self.take()
        idx = ([example] if example is not None else []) + list(indices or [])
        if idx:
            self.names.arity.setdefault(full, len(idx))
            return self.names.base(full)[tuple(idx)]
        if self.in_matrix:
            transposed = sup_name == "T" and name in self.names.arity
            key = name if transposed else full
            if key in self.names.arity:
                n = self.names.K
                m = sp.MatrixSymbol(key, n, n if self.names.arity[key] == 2 else 1)
                return self.postfix(m.T if transposed else m)
        return self.names.scalar(full)

    def _bracket_index_ahead(self) -> bool:
        """[n] touching the name before it (x[n], not x [n]): one letter or number, then ]."""
        name, br, inner, close = (self.tokens[self.i - 1], self.peek(), self.peek(1), self.peek(2))
        if br is None or inner is None or close is None or close.text != "]":
            return False
        touching = br.pos == name.pos + len(name.text) and inner.pos == br.pos + 1 and close.pos == inner.pos + len(inner.text)
        return touching and (inner.kind == "letter" and len(inner.text) == 1 or inner.kind == "num" and "." not in inner.text)

    def _call_ahead(self) -> bool:
        """( names ) right after a name: a function's argument list, not a product (no operator inside)."""
        if not self.at("("):
            return False
        depth, j, inner = 0, self.i, 0
        while j < len(self.tokens):
            tok = self.tokens[j]
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif tok.text in ("+", "-", "\\sum", "\\frac", "\\cdot", "\\log", "\\ln", "\\exp", "\\times",
                              "=", "^") or tok.kind == "num":
                return False
            else:
                inner += 1
            j += 1
        return depth == 0 and inner > 0 and j < len(self.tokens)

    def _named_function(self, t) -> sp.Expr:
        """sigmoid(x) and softmax(z_j) written as words: 1/(1 + e^{-x}), and e^{z_j} / sum_k e^{z_k} (the entry j of
        the softmax of z); softmax of anything but one entry (softmax(b), softmax^2) is not read."""
        self.take()
        if not self.at("("):
            raise Unreadable(f"{t.text} without its argument in brackets", t.pos)
        arg = self.group("(", ")")
        layer = WORDS[t.text.lstrip("\\").lower()]
        if not layer.vector:
            return self.postfix(written_out(layer.define(arg)))
        if isinstance(arg, sp.Indexed) and len(arg.indices) == 1:
            k = sp.Dummy("k", integer=True, positive=True)
            return self.postfix(layer.define(arg, arg.base[k], k, self.names.K))
        raise Unreadable(f"{t.text} of {sp.sstr(arg)}: only the softmax of one entry (softmax(z_j)) is read", t.pos)

    def _primed_call(self, name: str):
        """f'(x), \\sigma'(z_j): the derivative of the function at its argument, d f(x) / dx (the sigmoid for
        sigma; for another name, a name the document defines as a function of that same letter: f(x) = ...)."""
        mark = self.i
        try:
            arg = self.group("(", ")")
        except Unreadable:
            self.i = mark
            return None
        if self.at("[") and self._bracket_index_ahead():   # f'(x)[n]: the entry n of f', read as y'[n] is
            self.i = mark
            return None
        if name in self.names.functions and isinstance(arg, sp.Indexed):   # f(Z^{(j)}) = e^{Z^{(j)}}, f'(Z^{(i)})
            return sp.Derivative(self.names.scalar(name), arg)
        if name in self.names.functions and isinstance(arg, sp.Symbol) and not arg.is_integer:
            return sp.Derivative(sp.Function(name)(arg), arg)   # f'(x) of the generic f(x), not the defined f
        if name == "sigma" and isinstance(arg, (sp.Symbol, sp.Indexed)):
            return sp.Derivative(1 / (1 + sp.exp(-arg)), arg)
        if isinstance(arg, sp.Symbol) and not arg.is_integer:
            return sp.Derivative(self.names.scalar(name), arg)
        if not isinstance(arg, (sp.Symbol, sp.Indexed)):   # f'(x^2) is not f' times x^2
            raise Unreadable(f"{name}'({sp.sstr(arg)}): the derivative of a function at an expression is not read",
                             self.tokens[mark].pos)
        self.i = mark
        return None

    def _indexed_argument(self) -> bool:
        """( x_i ) ahead: the bracket holds an entry of a vector (a lower-case y_k(p_i) is then a product)."""
        j = self.i + 1
        while j < len(self.tokens) and self.tokens[j].text == "{":   # ({\color{red}{p_i}})
            j += 1
        toks = self.tokens[j:j + 2]
        return len(toks) == 2 and toks[0].kind == "letter" and toks[1].text == "_"

    def _same_index_argument(self, indices: list) -> bool:
        """( z_i ) right after y_i: the entry's own index on its argument, y_i(z_i) = ... (the function y_i of
        z_i, not the product y_i z_i)."""
        toks = [self.peek_text(n) for n in range(5)]
        return toks[2] == "_" and toks[4] == ")" and len(indices) == 1 and toks[3] == str(indices[0])

    def _application_ahead(self) -> bool:
        """h_c(x^{(i)}): a function of one example, written h[i, c]."""
        want = ["(", None, "^", "{", "(", None, ")", "}", ")"]
        toks = self.tokens[self.i:self.i + len(want)]
        if len(toks) < len(want):
            return False
        return all((w is None and t.kind == "letter") or t.text == w for w, t in zip(want, toks))

    def _entry_superscript(self, name: str) -> bool:
        """^1 (or ^{1}) on a name the document also writes with a letter superscript (s^i, y^i): an entry."""
        nxt = self.peek(1)
        digit = nxt is not None and nxt.kind == "num" or (
            nxt is not None and nxt.text == "{" and self.peek_kind(2) == "num" and self.peek_text(3) == "}")
        if not digit:
            return False
        written = set(self.names.scalars) | set(self.names.bases)
        return any(re.fullmatch(re.escape(name) + r"\^[a-z]", w) for w in written)

    def superscript_kind(self):
        nxt = self.peek(1)
        if nxt is None:
            self.fail("a superscript without content")
        if nxt.text == "{":
            inner = self.peek(2)
            if inner is not None and inner.text == "(":
                return "example", None
            j, letters_only = self.i + 2, True
            depth = 1
            while j < len(self.tokens) and depth:
                tok = self.tokens[j]
                if tok.text == "{":
                    depth += 1
                elif tok.text == "}":
                    depth -= 1
                elif tok.text in ("+", "-"):
                    if j == self.i + 2 or self.tokens[j + 1].kind != "num":
                        letters_only = False
                elif tok.kind == "num":
                    if self.tokens[j - 1].text not in ("+", "-"):
                        letters_only = False
                elif tok.kind == "cmd" and tok.text not in ("\\prime",):
                    letters_only = False
                j += 1
            return ("name" if letters_only else "power"), None
        if nxt.text == "(":
            return "example", None
        if nxt.kind == "letter" or nxt.text in ("*", "'", "\\prime", "\\star"):
            return "name", None
        return "power", None

    def decoration(self) -> str:
        if self.at("{"):
            start = self.take().pos + 1
            depth = 1
            while depth:
                t = self.take()
                if t.text == "{":
                    depth += 1
                elif t.text == "}":
                    depth -= 1
            return re.sub(r"\s+", "", self.text[start:t.pos])
        t = self.take()
        return t.text.lstrip("\\")

    def example_index(self) -> sp.Expr:
        self.expect("(")
        t = self.take()
        if t.kind != "letter":
            raise Unreadable("an example index such as (i)", t.pos)
        self.expect(")")
        return self.names.index(t.text)

    def subscript_indices(self) -> list:
        """z_k, y_{ij}, p_{i,y_i}, \\Theta_{10}, y_{j \\neq i} (refused)."""
        if not self.at("{"):
            first = self.take()
            if first.kind == "letter":
                return [self.names.index(first.text)]
            if first.kind == "num":
                return [sp.Integer(c) for c in first.text]
            raise Unreadable(f"cannot read the subscript {first.text!r}", first.pos)
        self.take()
        out = []
        if any(tok.text == "," for tok in self._until_close()):
            while True:
                out.append(self.index_expr())
                if self.at(","):
                    self.take()
                    continue
                break
        else:
            while not self.at("}"):
                t = self.peek()
                if t is None:
                    self.fail("unclosed subscript")
                if t.kind == "letter":
                    self.take()
                    if self.at("_"):  # y_{y_i}
                        self.take()
                        out.append(self.names.base(t.text)[tuple(self.subscript_indices())])
                    elif not out and self._subscript_condition():
                        # y_{k=i} is the entry k with k = i, that is y_i; y_{k \not= i} is y_k (the extractor makes
                        # its chain say k != i)
                        same = self.take().text == "="
                        if not same and self.at("="):
                            self.take()
                        other = self.take()
                        out.append(self.names.index(other.text if same else t.text))
                    else:
                        out.append(self.names.index(t.text))
                elif t.kind == "num":
                    self.take()
                    out.extend(sp.Integer(c) for c in t.text)
                elif t.text in ("+", "-") and out:
                    sign = 1 if self.take().text == "+" else -1
                    n = self.take()
                    if n.kind != "num":
                        raise Unreadable("an index offset such as k+1", n.pos)
                    out[-1] = out[-1] + sign * int(n.text)
                else:
                    raise Unreadable(f"cannot read {t.text!r} in a subscript", t.pos)
        self.expect("}")
        if not out:
            self.fail("an empty subscript")
        return out

    def _subscript_condition(self) -> bool:
        """= b }, \\neq b }, \\not = b } ahead, b one letter: the rest of a subscript y_{k=i} or y_{k \\not= i}."""
        toks = [self.peek_text(n) for n in range(4)]
        if toks[0] == "=" or toks[0] in ("\\neq", "\\ne"):
            return self.peek_kind(1) == "letter" and len(toks[1] or "") == 1 and toks[2] == "}"
        return toks[0] == "\\not" and toks[1] == "=" and self.peek_kind(2) == "letter" and toks[3] == "}"

    def _until_close(self) -> list:
        depth, out = 1, []
        for tok in self.tokens[self.i:]:
            if tok.text == "{":
                depth += 1
            elif tok.text == "}":
                depth -= 1
                if depth == 0:
                    break
            out.append(tok)
        return out

    def index_expr(self) -> sp.Expr:
        t = self.take()
        if t.kind == "letter":
            if self.at("_"):
                self.take()
                return self.names.base(t.text)[tuple(self.subscript_indices())]
            return self.names.index(t.text)
        if t.kind == "num":
            return sp.Integer(t.text)
        raise Unreadable(f"cannot read {t.text!r} as an index", t.pos)

    def script(self) -> sp.Expr:
        """The argument of ^: {expr}, a digit, a letter."""
        if self.at("{"):
            return self.group("{", "}")
        t = self.take()
        if t.kind == "num":
            return sp.Integer(t.text[0]) if len(t.text) > 1 else sp.Integer(t.text)
        if t.kind == "letter":
            return self.named(t.text)
        if t.kind == "cmd" and t.text[1:] in GREEK:
            return self.names.scalar(t.text[1:])
        if t.text == "-" and self.peek_kind() in ("letter", "num"):
            return -self.script()   # e^-x: plain-text notes mean e^{-x} (LaTeX would set e^{-}x, which no one means)
        raise Unreadable(f"cannot read the exponent {t.text!r}", t.pos)

    def postfix(self, base: sp.Expr) -> sp.Expr:
        while True:
            if self.at("^") and isinstance(base, MatrixExpr) and self._transpose_ahead():
                self.take()
                self.take() if not self.at("{") else [self.take(), self.take(), self.take()]
                base = base.T
            elif self.at("^"):
                at = self.take().pos
                base = exact_power(base, self.script(), at)
            elif self.at("_") and isinstance(base, sp.Symbol) and base != self.names.K:
                self.take()
                idx = tuple(self.subscript_indices())
                self.names.arity.setdefault(str(base), len(idx))
                base = self.names.base(str(base))[idx]
            elif self.at("'", "!"):
                self.fail(f"cannot read {self.peek_text()!r} here")
            else:
                return base

    # -- sums and derivatives ----------------------------------------------------
    def sum(self) -> sp.Expr:
        self.expect("\\sum")
        index, lower, upper, excluded = None, sp.Integer(1), self.names.K, None
        for _ in range(2):
            if self.at("_", "^") and self.peek_text(1) == "{" and self.peek_text(2) == "}":
                self.take(), self.take(), self.take()   # \sum_{}^{}: limits left empty, a sum with no index
                continue
            if self.at("_"):
                self.take()
                if self.at("{"):
                    self.take()
                    t = self.take()
                    if t.kind != "letter":
                        raise Unreadable("a sum's index must be a letter", t.pos)
                    index = self.names.index(t.text)
                    if self.at("="):
                        self.take()
                        lower = self.expr()
                    elif self.at("\\neq", "\\ne"):
                        self.take()
                        excluded = self.index_expr()
                    self.expect("}")
                else:
                    t = self.take()
                    if t.kind != "letter":
                        raise Unreadable("a sum's index must be a letter", t.pos)
                    index = self.names.index(t.text)
            elif self.at("^"):
                self.take()
                if self.at("{"):
                    upper = self.group("{", "}")
                else:   # \sum^K_{k=1}: one token, so that the subscript after it stays the sum's
                    t = self.take()
                    if t.kind not in ("num", "letter"):
                        raise Unreadable(f"cannot read the sum's bound {t.text!r}", t.pos)
                    upper = sp.Integer(t.text[0]) if t.kind == "num" else self.names.scalar(t.text)
                if not upper.is_Integer:
                    upper = self.names.K
                elif int(upper) > MAX_COUNT:
                    self.fail(f"a sum to {upper} is over the bound of {MAX_COUNT} terms (checked with that many "
                              "classes, it would not end)")
                else:
                    self.names.counts.add(int(upper))  # a symbolic count of classes (p, n_L, m) is read as K
        first = self.peek()
        start = first.pos if first is not None else len(self.text)
        if index is None:
            mark = self.i
            first = self.factor()   # the index is read from the factor right after the sum sign
            self.i = mark
            body = self.term()
            index, body = self._implicit_index(first, body, start)
            return sp.Sum(body, (index, lower, upper))
        self.names.summed.add(str(index))
        sign = 1
        while self.at("-", "+"):   # \sum_{k \neq i} -p_k y_k: a sign right after the sum
            sign = -sign if self.take().text == "-" else sign
        body = sign * self.term()
        if excluded is not None:
            return SumExcept(body, (index, lower, upper), excluded)
        return sp.Sum(body, (index, lower, upper))

    def _implicit_index(self, first: sp.Expr, body: sp.Expr, at: int):
        """(index, body) of a sum written without its index (``\\sum e^{x_d}``, ``\\sum t_i \\ln y_i``, ``\\sum e^z``):
        the one index letter of the factor right after the sum sign (factors without it may sit inside the sum or
        outside: the value is the same); of several, the one the document sums over elsewhere or, failing
        that, the one on strictly the most factors; with none, a vector written bare (z, its entries z_j written
        elsewhere) is summed entry by entry. Anything else stays unread."""
        found: dict = {}
        for a in first.atoms(sp.Indexed):
            for i in a.indices:
                for x in i.free_symbols:
                    if str(x) in self.names.indices:
                        found.setdefault(x, set()).add(a)
        for d in first.atoms(sp.Derivative):   # d y_i / d x_j: its variables count as factors too
            for v in d.variables:
                if isinstance(v, sp.Indexed):
                    for x in v.free_symbols & set(found):
                        found[x].add(v)
        if len(found) == 1:
            return next(iter(found)), body
        if len(found) > 1:
            elsewhere = [x for x in found if str(x) in self.names.summed]
            if len(elsewhere) == 1:
                return elsewhere[0], body
            counts = sorted(((len(v), str(x), x) for x, v in found.items()), reverse=True)
            if counts[0][0] > counts[1][0]:
                return counts[0][2], body
            raise Unreadable(f"a sum without an index (it could run over {' or '.join(sorted(str(x) for x in found))})", at)
        bare = sorted((x for x in first.free_symbols if isinstance(x, sp.Symbol) and str(x) in self.names.bases
                       and str(x) not in self.names.indices), key=str)
        if len(bare) == 1:
            fresh = self.names.index(next(c for c in "jklmnpqrs" if c not in {str(x) for x in body.free_symbols}))
            return fresh, body.xreplace({bare[0]: self.names.bases[str(bare[0])][fresh]})
        raise Unreadable("a sum without an index", at)

    def _frac_parts(self):
        """Token spans of \\frac{..}{..} at the cursor: (num_start, num_end, den_start, den_end)."""
        j = self.i + 1
        spans = []
        for _ in range(2):
            if j >= len(self.tokens) or self.tokens[j].text != "{":
                return None
            depth, start = 0, j + 1
            while j < len(self.tokens):
                if self.tokens[j].text == "{":
                    depth += 1
                elif self.tokens[j].text == "}":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            spans.append((start, j))
            j += 1
        return spans

    def is_derivative_operator(self) -> bool:
        spans = self._frac_parts()
        if not spans:
            return False
        (a, b), (c, d) = spans
        num, den = self.tokens[a:b], self.tokens[c:d]
        if not num or not den:
            return False
        # \partial and d mix in hand-written derivations (\frac{\partial (w_k x_i)}{d w_k}): the same derivative
        top = num[0].text == "\\partial" or (
            num[0].text == "d" and (len(num) == 1 or num[1].kind in ("letter", "cmd") or num[1].text == "("))
        bottom = den[0].text == "\\partial" or (den[0].text == "d" and len(den) > 1)
        return top and bottom

    def derivative_operator(self) -> sp.Expr:
        """\\frac{\\partial^n F}{\\partial x \\partial y} or \\frac{\\partial}{\\partial x} body."""
        self.expect("\\frac")
        self.expect("{")
        marker = self.take().text  # \partial or d
        order = 1
        if self.at("^"):
            self.take()
            order = int(self.braced())
        function = None
        if not self.at("}"):
            function = self.expr()
        self.expect("}")
        self.expect("{")
        variables = []
        while not self.at("}"):
            t = self.take()
            if t.text not in ("\\partial", "d"):
                raise Unreadable(f"expected {marker} in a derivative's denominator", t.pos)
            if self.names.sigma_is_softmax and self.at("\\sigma") and self.peek_text(1) in ("(", "\\left"):
                var = self.factor()   # d log sigma(A_i) / d sigma(A_i): the entry sigma_i
            else:
                var = self.factor_no_function()
            if isinstance(var, sp.Pow) and var.exp.is_Integer:
                variables.extend([var.base] * int(var.exp))
            else:
                variables.append(var)
        self.expect("}")
        if len(variables) != order:
            self.fail("the order of the derivative does not match its variables")
        for v in variables:
            if not isinstance(v, (sp.Indexed, sp.Symbol)):
                self.fail("a derivative with respect to something other than a variable")
        if function is None:
            if self.at("("):  # d/dx (u) v: the operator takes the bracket (and its power) only
                function = self.postfix(self.group("(", ")"))
                if self.starts_factor() and not _mentions(function, variables):
                    # d/dy (1 - t)(\log(1 - y)): a bracket without the variable would differentiate to 0, which no
                    # one writes out; the operator takes the product that follows too, where that has the variable
                    mark = self.i
                    rest = self.term()
                    if _mentions(rest, variables):
                        function = function * rest
                    else:
                        self.i = mark
            else:
                function = self.term()
        return sp.Derivative(function, *variables)


def _mentions(e: sp.Expr, variables: list) -> bool:
    """Whether ``e`` writes the vector of one of ``variables`` (an entry of it, or its name bare: \\hat y beside
    \\hat y_i), or the symbol itself."""
    bases = {str(v.base) for v in variables if isinstance(v, sp.Indexed)}
    return any(str(a.base) in bases for a in e.atoms(sp.Indexed)) or any(
        str(s) in bases or s in variables for s in e.free_symbols)


def in_notation(element: sp.Expr, names: Names) -> sp.Expr:
    """SymPy's entry of a matrix expression in the document's notation: o[i, 0] -> o_i, W[j, k] -> W_jk, and
    its sums over 0..K-1 over a fresh index 1..K."""
    def sums(node):
        body = node.function
        limits: list = []
        for d, _lo, hi in node.limits:
            fresh = sp.Symbol(f"_m{len(names.indices) + len(limits)}", integer=True, positive=True)
            body = body.xreplace({d: fresh})
            limits.append((fresh, 1, hi + 1))
        return sp.Sum(body, *limits)
    element = element.replace(lambda n: isinstance(n, sp.Sum), sums)

    def entry(node):
        name, (r, c) = str(node.parent.name), node.indices
        return names.base(name)[r] if node.parent.shape[1] == 1 else names.base(name)[r, c]
    return element.replace(lambda n: isinstance(n, MatrixElement) and isinstance(n.parent, sp.MatrixSymbol), entry)


def _matmul(factors: list, parser: "Parser") -> sp.Expr:
    """A product with matrices in it: scalars scale, matrices multiply in order (g^T o is a 1 x 1 matrix)."""
    scalars = [f for f in factors if not isinstance(f, MatrixExpr)]
    mats = [f for f in factors if isinstance(f, MatrixExpr)]
    for a, b in zip(mats, mats[1:]):
        if a.shape[1] != b.shape[0]:
            if a.shape == (1, 1) or b.shape == (1, 1):
                continue
            parser.fail("a product of a matrix and a vector whose sizes do not match")
    product = mats[0]
    for m in mats[1:]:
        if product.shape == (1, 1) and m.shape != (1, 1):
            product = sp.MatMul(m, product) if m.shape[1] == 1 else sp.MatMul(product, m)
        elif m.shape == (1, 1) and product.shape[1] != 1:
            product = sp.MatMul(product, m)
        else:
            product = sp.MatMul(product, m)
    return sp.Mul(*scalars) * product if scalars else product


def rebalance(text: str) -> str:
    """A bracket closed just outside the brace group it opened in, \\exp{(a + b})  ->  \\exp{(a + b)}: braces
    only group in TeX, so the two read the same on the page; same length, so positions stay."""
    chars = list(text)
    stack = []
    for n, c in enumerate(chars):
        if c == "{" and (n == 0 or chars[n - 1] != "\\"):
            stack.append(n)
        elif c == "}" and (n == 0 or chars[n - 1] != "\\") and stack:
            start = stack.pop()
            inner = "".join(chars[start + 1:n])
            if inner.count("(") == inner.count(")") + 1:
                after = n + 1
                while after < len(chars) and chars[after] == " ":
                    after += 1
                if after < len(chars) and chars[after] == ")":
                    chars[n:after + 1] = list(")}" + " " * (after - n - 1))
    return "".join(chars)


def parse_latex(text: str, names: Optional[Names] = None, matrix: bool = False) -> sp.Expr:
    """One formula (no '=') as SymPy; raises Unreadable. With ``matrix``, names written elsewhere with indices
    (o_j, W_{jk}) stand for the whole vector or matrix when they appear bare (o - y, W^T delta)."""
    return Parser(rebalance(text), names, matrix).parse()
