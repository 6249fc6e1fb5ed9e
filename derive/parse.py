"""The restricted parser: a cost, a definition or an assumption typed as text -> SymPy.

The text form is Python expression syntax over a small vocabulary
(docs/grammar.md): vectors indexed by classes (``z[j]``, ``w[j, d]``), scalar
parameters (bare names such as ``T``, ``gamma``), ``K``, numbers,
``+ - * / **``, ``log``, ``exp``, ``sqrt``, ``sum(expr, j)``, ``mean(expr, i)``, and the layers of
derive.layers by their grammar names: ``sigmoid``, ``tanh``, ``softplus``, ``log_sigmoid`` entry by entry and
``softmax(v)[j]`` / ``log_softmax(v)[j]`` of a vector expression ``v``.

Nothing typed by a user is evaluated: the text is checked character by
character, then parsed with ``ast.parse(text, mode="eval")`` (which only
builds a tree), the tree is checked against an allow-list of node types and
names, and the SymPy expression is built node by node from that tree. No
``eval``, ``exec``, ``sympify`` or ``parse_expr`` ever sees the text.

Every refusal is an ``ArgumentError`` naming the argument (``cost``,
``define[1]``, ``assume[0]``) and the line and column (both from 1).
"""
from __future__ import annotations

import ast
import decimal
import re
import string
from dataclasses import dataclass
from typing import Mapping, NoReturn, Optional, cast

import sympy as sp

from .errors import ArgumentError, ArgumentTypeError
from .layers import GRAMMAR, grammar_names
from .expr import decimal_number

#: Longest text accepted, in characters; longer text is refused before any parsing.
MAX_LENGTH = 2000
#: Deepest nesting of brackets ( [ and of the expression tree (a chain a + b - c, or a * b / c, is one level).
MAX_DEPTH = 40
#: Most parts (names, numbers, operations, calls) one text may have.
MAX_NODES = 500
#: Largest absolute value of a numeric exponent (x**64).
MAX_EXPONENT = 64
#: Most digits of a number: written out (and at most this decimal exponent: 1e400), or made by * / and **.
MAX_DIGITS = 400
#: Longest name.
MAX_NAME = 16

_ELEMENTARY = {"log": sp.log, "exp": sp.exp, "sqrt": sp.sqrt}
FUNCTIONS = tuple(_ELEMENTARY) + grammar_names(vector=False)  # the layers' names: derive.layers
VECTOR_FUNCTIONS = grammar_names(vector=True)
REDUCTIONS = ("sum", "mean")
RESERVED = REDUCTIONS + FUNCTIONS + VECTOR_FUNCTIONS + ("K",)

ALLOWED = ("names, numbers, + - * / **, brackets ( ) and [ ], commas, K, and the functions "
           "sum(x, j), mean(x, i), " + ", ".join(FUNCTIONS + tuple(f"{v}(v)[j]" for v in VECTOR_FUNCTIONS)))
_ALLOWED_FUNCTIONS = ", ".join(REDUCTIONS + FUNCTIONS + VECTOR_FUNCTIONS[:-1]) + " and " + VECTOR_FUNCTIONS[-1]
_EXAMPLE = "-sum(y[j]*log(softmax(z)[j]), j)"

_CHARS = frozenset(string.ascii_letters + string.digits + " \t\r\n+-*/()[],._=")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_CHAR_NAMES = {
    "'": "a string (quote ')", '"': 'a string (quote ")', "{": "a brace {", "}": "a brace }",
    ":": "a colon (slices, lambdas and dicts)", "<": "a comparison <", ">": "a comparison >",
    "!": "a comparison !=", "#": "a comment #", "\\": "a backslash", "@": "the operator @",
    "%": "the operator %", "&": "the operator &", "|": "the operator |", "^": "the operator ^ "
    "(powers are written **)", "~": "the operator ~", ";": "a semicolon", "\0": "a null byte",
}
_NODE_NAMES = {
    ast.Attribute: "an attribute access (x.name)", ast.Lambda: "a lambda", ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension", ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression", ast.Compare: "a comparison", ast.BoolOp: "and/or",
    ast.IfExp: "a conditional (x if c else y)", ast.Starred: "a starred argument (*x)",
    ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string", ast.Dict: "a dict", ast.List: "a list",
    ast.Set: "a set", ast.Tuple: "a tuple outside [...]", ast.NamedExpr: "an assignment expression (:=)",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield", ast.Slice: "a slice (a:b)",
}
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
              ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|",
              ast.BitAnd: "&", ast.BitXor: "^", ast.USub: "-", ast.UAdd: "+", ast.Not: "not", ast.Invert: "~"}
_ADDITIVE = (ast.Add, ast.Sub)
_MULTIPLICATIVE = (ast.Mult, ast.Div)
_ROLE_WORDS = {"vector": "a vector (used as name[...])", "scalar": "a scalar parameter (a bare name)",
               "index": "an index (inside [...] or bound by sum)"}


@dataclass(frozen=True)
class Parsed:
    """One parsed text: the expression and the symbols it uses.

    ``vectors``, ``scalars`` and ``indices`` hold the names this text uses,
    in order of first use (given objects reused); ``ranks`` the number of
    indices each vector takes; ``free`` the indices used outside every sum
    binding them; ``K`` the number of classes.
    """

    expr: sp.Expr
    vectors: dict
    ranks: dict
    scalars: dict
    indices: dict
    free: tuple
    K: sp.Expr


def parse_expression(text: str, *, argument: str = "cost", K=None,
                     vectors: Optional[Mapping[str, sp.IndexedBase]] = None,
                     scalars: Optional[Mapping[str, sp.Symbol]] = None,
                     indices: Optional[Mapping[str, sp.Symbol]] = None) -> Parsed:
    """``text`` (a cost such as ``-sum(y[j]*log(softmax(z)[j]), j)``) as SymPy, or an ArgumentError.

    The mappings name symbols shared with other texts (a cost and its
    definitions and assumptions): those names keep their role and object.
    """
    _check_text(argument, text)
    _check_equals(argument, text, equation=False)
    return _Builder(argument, _snippet(argument, text, 0, len(text)), K, vectors, scalars, indices).parsed()


def parse_equation(text: str, *, argument: str = "assume", K=None,
                   vectors: Optional[Mapping[str, sp.IndexedBase]] = None,
                   scalars: Optional[Mapping[str, sp.Symbol]] = None,
                   indices: Optional[Mapping[str, sp.Symbol]] = None) -> tuple:
    """``text`` of the form ``lhs = rhs`` (``sum(y[j], j) = 1``) as two Parsed sides sharing one symbol table."""
    _check_text(argument, text)
    at = _check_equals(argument, text, equation=True)
    left = _Builder(argument, _snippet(argument, text, 0, at), K, vectors, scalars, indices).parsed()
    right = _Builder(argument, _snippet(argument, text, at + 1, len(text)), left.K,
                     {**(vectors or {}), **left.vectors}, {**(scalars or {}), **left.scalars},
                     {**(indices or {}), **left.indices}).parsed()
    for name, rank in right.ranks.items():
        if left.ranks.get(name, rank) != rank:
            raise ArgumentError(argument, f"{name} takes {left.ranks[name]} indices on the left of = and "
                                          f"{rank} on the right; use one name for one vector")
    return left, right


# -- positions ---------------------------------------------------------------------------------------------------

def _line_column(text: str, i: int) -> tuple:
    """(line, column), both from 1, of character ``i`` of ``text``."""
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def _fail(argument: str, where: tuple, problem: str) -> NoReturn:
    raise ArgumentError(argument, f"at line {where[0]}, column {where[1]}: {problem}")


def _refuse(argument: str, where: tuple, what: str, allowed: str = ALLOWED) -> NoReturn:
    _fail(argument, where, f"{what} is not allowed; allowed are {allowed}")


@dataclass(frozen=True)
class _Snippet:
    """The part of the text one tree is parsed from, and where it starts in the whole text."""

    text: str
    line: int    # line of the snippet's first character, from 1
    column: int  # column of the snippet's first character, from 0

    def where(self, node_or_line, col_offset: Optional[int] = None) -> tuple:
        """(line, column), from 1, in the whole text, of a node (or of a line and 0-based column of the snippet)."""
        if col_offset is None:
            node_or_line, col_offset = node_or_line.lineno, node_or_line.col_offset
        line = node_or_line
        return self.line + line - 1, (self.column if line == 1 else 0) + col_offset + 1


def _snippet(argument: str, text: str, start: int, stop: int) -> _Snippet:
    part = text[start:stop]
    stripped = part.lstrip(" \t\r\n")
    begin = start + len(part) - len(stripped)
    line, column = _line_column(text, begin if stripped else start)
    if not stripped.strip():
        side = "" if (start, stop) == (0, len(text)) else ("the left of = " if start == 0 else "the right of = ")
        _fail(argument, (line, column), f"{side}is empty; write an expression such as {_EXAMPLE}")
    return _Snippet(stripped, line, column - 1)


# -- checks on the characters -------------------------------------------------------------------------------------

def _check_text(argument: str, text: object) -> None:
    """Type, length, characters and bracket depth, before anything parses the text."""
    if not isinstance(text, str):
        raise ArgumentTypeError(argument, f"must be a str such as {_EXAMPLE!r}, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        where = _line_column(text, MAX_LENGTH)  # counts newlines in the first MAX_LENGTH characters only
        _fail(argument, where, f"the text is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    depth = 0
    run = 0  # consecutive signs + and -, which nest as unary operators
    for i, char in enumerate(text):
        if char not in _CHARS:
            what = _CHAR_NAMES.get(char) or (f"the character {char!r} (U+{ord(char):04X})" if not char.isascii()
                                             or not char.isprintable() else f"the character {char!r}")
            _refuse(argument, _line_column(text, i), what)
        if char in "([":
            depth += 1
            if depth > MAX_DEPTH:
                _fail(argument, _line_column(text, i), f"brackets are nested more than {MAX_DEPTH} deep")
        elif char in ")]":
            depth -= 1
        if char in "+-":
            run += 1
            if run > MAX_DEPTH:
                _fail(argument, _line_column(text, i), f"more than {MAX_DEPTH} signs + or - in a row")
        elif not char.isspace():
            run = 0


def _check_equals(argument: str, text: str, equation: bool) -> int:
    """Index of the one top-level ``=`` of an equation; for an expression, refuse a top-level ``=``."""
    depth, found = 0, []
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char != "=":
            continue
        double = text[i + 1:i + 2] == "=" or text[i - 1:i] == "="
        if double:
            if equation:
                _refuse(argument, _line_column(text, i), "a comparison ==",
                        "equations written lhs = rhs with a single =")
            continue  # a comparison: the tree check refuses it
        if depth == 0:
            found.append(i)
    if not equation:
        if found:
            _fail(argument, _line_column(text, found[0]), f"= is not allowed here: {argument} is an expression; "
                                                          "equations lhs = rhs go in define=[...] or assume=[...]")
        return -1
    if not found:
        _fail(argument, (1, 1), "expected an equation lhs = rhs, such as sum(y[j], j) = 1")
    if len(found) > 1:
        _fail(argument, _line_column(text, found[1]), "an equation has a single =; found another one here")
    return found[0]


# -- checks on the tree ------------------------------------------------------------------------------------------

def _parse_tree(argument: str, snippet: _Snippet) -> ast.Expression:
    """The tree of the snippet: ast.parse in "eval" mode only builds it, it runs nothing."""
    try:
        return ast.parse(snippet.text, mode="eval")
    except SyntaxError as error:
        where = snippet.where(error.lineno or 1, max((error.offset or 1) - 1, 0))
        _fail(argument, where, f"not a valid expression ({error.msg}); write it in Python syntax, "
                               f"e.g. {_EXAMPLE}")
    except (ValueError, RecursionError, MemoryError) as error:
        _fail(argument, snippet.where(1, 0), f"cannot be parsed ({type(error).__name__}); "
                                             f"keep it under {MAX_DEPTH} levels deep")


def _chain(node: ast.AST, ops: tuple) -> list:
    """The operands of a left-nested chain a + b - c (or a * b / c) as [(op, node)], first op None; no recursion."""
    out: list = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ops):
        out.append((type(node.op), node.right))
        node = node.left
    out.append((None, node))
    return out[::-1]


def _children(node: ast.AST) -> list:
    """The sub-expressions of a node, a whole chain of + - (or * /) at once."""
    if isinstance(node, ast.BinOp):
        for ops in (_ADDITIVE, _MULTIPLICATIVE):
            if isinstance(node.op, ops):
                return [n for _, n in _chain(node, ops)]
    return [c for c in ast.iter_child_nodes(node) if not isinstance(c, (ast.expr_context, ast.operator,
                                                                          ast.unaryop))]


def _constant_text(snippet: _Snippet, node: ast.Constant) -> str:
    return ast.get_source_segment(snippet.text, node) or ""


def _check_tree(argument: str, snippet: _Snippet, tree: ast.Expression) -> None:
    """Refuse every node, name and shape outside the allow-list, and trees too large or too deep."""
    if not isinstance(tree, ast.Expression):  # pragma: no cover - ast.parse(mode="eval") returns one
        raise ArgumentError(argument, "not an expression")
    vector_calls: set = set()  # id() of softmax calls that are indexed
    slices: set = set()        # id() of tuples that are the indices of a subscript
    count = 0
    stack = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            _fail(argument, snippet.where(node), f"the expression has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            _fail(argument, snippet.where(node), f"the expression is nested more than {MAX_DEPTH} levels deep")
        _check_node(argument, snippet, node, vector_calls, slices)
        stack.extend((child, depth + 1) for child in reversed(_children(node)))


def _check_node(argument: str, snippet: _Snippet, node: ast.AST, vector_calls: set, slices: set) -> None:
    where = snippet.where(node)
    if isinstance(node, ast.Constant):
        value: object = node.value
        if type(value) is int:
            if not re.fullmatch(r"[0-9_]+", _constant_text(snippet, node)):
                _refuse(argument, where, "a number not written in decimal digits",
                        "decimal numbers such as 2, 0.5, 1e-3")
            if len(str(value)) > MAX_DIGITS:
                _fail(argument, where, f"the number has more than {MAX_DIGITS} digits")
            return
        if type(value) is float:
            return
        what = {str: "a string", bytes: "bytes", bool: str(value), type(None): "None",
                complex: "a complex number", type(...): "an ellipsis (...)"}.get(type(value), "a constant")
        _refuse(argument, where, what)
    if isinstance(node, ast.Name):
        _check_name(argument, where, node.id)
        if not isinstance(node.ctx, ast.Load):  # pragma: no cover - only a refused := can store
            _refuse(argument, where, "an assignment")
        return
    if isinstance(node, ast.BinOp):
        if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
            _refuse(argument, where, f"the operator {_OPERATORS.get(type(node.op), '?')}", "the operators + - * / **")
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            _refuse(argument, where, f"the operator {_OPERATORS.get(type(node.op), '?')}", "the signs + and -")
        return
    if isinstance(node, ast.Subscript):
        value = node.value
        vector_call = isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
            and value.func.id in VECTOR_FUNCTIONS
        if not (isinstance(value, ast.Name) or vector_call):
            _refuse(argument, where, "indexing this", "indexing a vector, z[j], or softmax(v)[j], log_softmax(v)[j]")
        index = node.slice
        names = index.elts if isinstance(index, ast.Tuple) else [index]
        for item in names:
            if not isinstance(item, ast.Name):
                _index_refusal(argument, snippet, item)
        if isinstance(index, ast.Tuple):
            if vector_call:
                assert isinstance(value, ast.Call) and isinstance(value.func, ast.Name)  # what vector_call means
                _fail(argument, where, f"{value.func.id}(v)[j] takes one index")
            if not names:  # pragma: no cover - z[()] needs a tuple the parser builds only from ()
                _index_refusal(argument, snippet, index)
            slices.add(id(index))
        if vector_call:
            vector_calls.add(id(value))
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            _refuse(argument, where, "calling an expression", f"calls of {_ALLOWED_FUNCTIONS}")
        name = func.id
        if name not in REDUCTIONS + FUNCTIONS + VECTOR_FUNCTIONS:
            _refuse(argument, where, f"calling {name}", f"calls of {_ALLOWED_FUNCTIONS}")
        for keyword in node.keywords:
            _refuse(argument, snippet.where(keyword) if hasattr(keyword, "lineno") else where,
                    "a keyword argument (name=...)", "positional arguments, as in log(x) and sum(x, j)")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                _refuse(argument, snippet.where(arg), "a starred argument (*x)", "positional arguments")
        wanted = 2 if name in REDUCTIONS else 1
        if len(node.args) != wanted:
            usage = {"sum": "sum(x, j), a sum over j = 1..K",
                     "mean": "mean(x, i), the mean over i, sum(x, i) over the size of i's axis"}.get(name, f"{name}(x)")
            _fail(argument, where, f"{name} takes {wanted} argument{'s' * (wanted > 1)}, got {len(node.args)}; "
                                   f"write {usage}")
        if name in REDUCTIONS and not isinstance(node.args[1], ast.Name):
            _fail(argument, snippet.where(node.args[1]), f"the second argument of {name} is the index it "
                                                         f"{name}s over, a name: {name}(x, j)")
        if name in VECTOR_FUNCTIONS and id(node) not in vector_calls:
            _fail(argument, where, f"{name}(v) is a vector: index it, {name}(v)[j]")
        return
    if isinstance(node, ast.Tuple) and id(node) in slices:
        return
    _refuse(argument, where, _NODE_NAMES.get(type(node), f"a {type(node).__name__} expression"))


def _index_refusal(argument: str, snippet: _Snippet, node: ast.AST) -> NoReturn:
    where = snippet.where(node) if hasattr(node, "lineno") else snippet.where(1, 0)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        what = f"the number {ast.get_source_segment(snippet.text, node)} as an index"
    elif isinstance(node, ast.Tuple):
        what = "an empty index"
    elif isinstance(node, (ast.BinOp, ast.UnaryOp)):
        what = "arithmetic in an index (such as z[j+1])"
    else:
        what = _NODE_NAMES.get(type(node), "this") + " as an index"
    _refuse(argument, where, what, "index names inside [...], as in z[j] or w[j, d]")


def _check_name(argument: str, where: tuple, name: str) -> None:
    if name.startswith("_"):
        _refuse(argument, where, f"the name {name} (starting with _)", "names starting with a letter")
    if not _NAME.match(name):  # pragma: no cover - the character check leaves only ASCII identifiers
        _refuse(argument, where, f"the name {name!r}", "names of letters, digits and _")
    if len(name) > MAX_NAME:
        _refuse(argument, where, f"the name {name[:MAX_NAME]}... ({len(name)} characters)",
                f"names of at most {MAX_NAME} characters")


# -- building the expression -------------------------------------------------------------------------------------

def _digits(number: sp.Rational) -> int:
    """About how many decimal digits the numerator and denominator of ``number`` have together."""
    return int((abs(number.p).bit_length() + number.q.bit_length()) * 0.30103)


def _is_call(node: ast.AST, names) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names


class _Builder:
    """Roles of the names, then the SymPy expression, built node by node from a checked tree."""

    def __init__(self, argument, snippet, K, vectors, scalars, indices):
        self.argument = argument
        self.snippet = snippet
        self.K = self._K(K)
        self.given = {"vector": dict(self._mapping("vectors", vectors, sp.IndexedBase)),
                      "scalar": dict(self._mapping("scalars", scalars, sp.Symbol)),
                      "index": dict(self._mapping("indices", indices, sp.Symbol))}
        self.roles: dict = {}
        for role in ("vector", "scalar", "index"):
            for name in self.given[role]:
                self.roles.setdefault(name, role)
        self.vectors: dict = {}
        self.ranks: dict = {}
        self.scalars: dict = {}
        self.indices: dict = {}
        self.free: list = []
        self.bound: list = []  # indices bound by the sums around the node being built

    def _K(self, K) -> sp.Expr:
        if K is None:
            return sp.Symbol("K", integer=True, positive=True)
        if isinstance(K, bool) or not isinstance(K, (int, sp.Integer, sp.Symbol)):
            raise ArgumentTypeError("K", f"must be a SymPy Symbol, an integer or None, got {type(K).__name__}")
        return sp.Integer(K) if isinstance(K, int) else K

    def _mapping(self, name, mapping, kind):
        if mapping is None:
            return {}
        if not isinstance(mapping, Mapping):
            raise ArgumentTypeError(name, f"must be a mapping of name to {kind.__name__}, got {type(mapping).__name__}")
        for key, value in mapping.items():
            if not isinstance(key, str) or not isinstance(value, kind):
                raise ArgumentTypeError(name, f"must map names to {kind.__name__}; got {key!r}: {type(value).__name__}")
        return mapping

    def where(self, node) -> tuple:
        return self.snippet.where(node)

    def fail(self, node, problem: str) -> NoReturn:
        _fail(self.argument, self.where(node), problem)

    # roles ---------------------------------------------------------------------------------------------------

    def parsed(self) -> Parsed:
        tree = _parse_tree(self.argument, self.snippet)
        _check_tree(self.argument, self.snippet, tree)
        self.assign(tree.body, "indexed", False)
        self.assign(tree.body, "bare", False)
        for phase in (1, 2):
            for arg in self.vector_arguments(tree.body):
                self.resolve(arg, True, phase)
        expr = self.build(tree.body)
        return Parsed(expr, self.vectors, self.ranks, self.scalars, self.indices, tuple(self.free), self.K)

    def set_role(self, node, name: str, role: str) -> None:
        if name in RESERVED:
            if name == "K":
                self.fail(node, f"K is the number of classes; it cannot be {_ROLE_WORDS[role]}")
            self.fail(node, f"{name} is a function; it cannot be {_ROLE_WORDS[role]} "
                            f"(reserved names: {', '.join(RESERVED)})")
        known = self.roles.get(name)
        if known is None:
            self.roles[name] = role
        elif known != role:
            if known == "vector" and role == "scalar":
                self.fail(node, f"{name} is a vector: index it, {name}[j]")
            if known == "index" and role == "scalar":
                self.fail(node, f"{name} is an index: use it inside [...], as in z[{name}], or as the index of "
                                f"a sum, sum(x, {name})")
            self.fail(node, f"{name} is used both as {_ROLE_WORDS[known]} and as {_ROLE_WORDS[role]}")

    def assign(self, node, kind: str, in_vector: bool) -> None:
        """Roles from the shape of the text: ``indexed`` (z[...], indices), then ``bare`` names (scalars)."""
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name):
                if kind == "indexed":
                    self.set_role(node.value, node.value.id, "vector")
            else:
                self.assign(node.value, kind, in_vector)
            if kind == "indexed":
                index = node.slice
                for name in index.elts if isinstance(index, ast.Tuple) else [index]:
                    self.set_role(name, cast(ast.Name, name).id, "index")  # checked: indices are names
            return
        if isinstance(node, ast.Call):
            func = cast(ast.Name, node.func)  # checked: only names are called
            if func.id in REDUCTIONS:
                if kind == "indexed":
                    self.set_role(node.args[1], cast(ast.Name, node.args[1]).id, "index")
                self.assign(node.args[0], kind, in_vector)
                return
            for arg in node.args:
                self.assign(arg, kind, in_vector or func.id in VECTOR_FUNCTIONS)
            return
        if isinstance(node, ast.Name):
            if kind == "bare" and not in_vector:
                if node.id in RESERVED and node.id != "K":
                    self.fail(node, f"{node.id} is a function: call it, {node.id}(x)")
                if node.id != "K":
                    self.set_role(node, node.id, "scalar")
            return
        for child in _children(node):
            self.assign(child, kind, in_vector)

    def vector_arguments(self, node) -> list:
        """The argument v of every softmax(v)[j] and log_softmax(v)[j], in order."""
        out, stack = [], [node]
        while stack:
            current = stack.pop()
            if _is_call(current, VECTOR_FUNCTIONS):
                out.append(current.args[0])
                continue
            stack.extend(reversed(_children(current)))
        return out

    def mentions_vector(self, node) -> bool:
        return any(isinstance(n, ast.Name) and self.roles.get(n.id) == "vector" for n in ast.walk(node))

    def resolve(self, node, vector_place: bool, phase: int) -> None:
        """Roles of the bare names inside softmax(v): a vector where v needs one, else a scalar.

        Known names keep their role. Phase 1 settles the places outside
        products (operands of + -, arguments of log/exp/sqrt/sigmoid/tanh, a
        dividend, a base); phase 2 the products: the factors that mention a
        known vector carry it, else the last factor does; other factors,
        divisors and exponents are scalars (tau*log(w), z/T).
        """
        if isinstance(node, ast.Name):
            if node.id == "K":
                return
            if node.id in RESERVED:
                self.fail(node, f"{node.id} is a function: call it, {node.id}(x)")
            role = self.roles.get(node.id)
            if role == "index":
                self.fail(node, f"{node.id} is an index; inside softmax(v) the vector v is written without "
                                f"indices, as in softmax(z)[{node.id}]")
            if role is None and (vector_place or phase == 2):
                self.set_role(node, node.id, "vector" if vector_place else "scalar")
            return
        if isinstance(node, ast.Constant):
            return
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name):  # a row of a matrix, softmax(z[i])[j]: its indices are set
                return
            self.fail(node, "inside softmax(v) write the vector without brackets, softmax(z)[j], or a row of a "
                            "matrix, softmax(z[i])[j]")
        if isinstance(node, ast.Call):
            func = cast(ast.Name, node.func)  # checked: only names are called
            if func.id not in FUNCTIONS:
                self.fail(node, f"{func.id} is not allowed inside softmax(v); v may use + - * / **, "
                                f"{', '.join(FUNCTIONS[:-1])} and {FUNCTIONS[-1]}, entry by entry")
            self.resolve(node.args[0], vector_place, phase)
            return
        if isinstance(node, ast.UnaryOp):
            self.resolve(node.operand, vector_place, phase)
            return
        if isinstance(node.op, ast.Pow):
            self.resolve(node.left, vector_place, phase)
            self.resolve(node.right, False, phase)
            return
        if isinstance(node.op, _ADDITIVE):
            for _, operand in _chain(node, _ADDITIVE):
                self.resolve(operand, vector_place, phase)
            return
        factors = _chain(node, _MULTIPLICATIVE)
        numerators = [n for op, n in factors if op is not ast.Div]
        for op, divisor in factors:
            if op is ast.Div:
                self.resolve(divisor, False, phase)
        if len(numerators) == 1:
            self.resolve(numerators[0], vector_place, phase)
            return
        if phase == 1:
            return
        carriers = [n for n in numerators if self.mentions_vector(n)] or numerators[-1:]
        for factor in numerators:
            self.resolve(factor, vector_place and any(factor is c for c in carriers), phase)

    # symbols -------------------------------------------------------------------------------------------------

    def vector(self, node, name: str, rank: int) -> sp.IndexedBase:
        known = self.ranks.get(name)
        if known is not None and known != rank:
            self.fail(node, f"{name} is used with {known} ind{'ex' if known == 1 else 'ices'} and with {rank}; "
                            f"one name is one vector")
        self.ranks[name] = rank
        if name not in self.vectors:
            self.vectors[name] = self.given["vector"].get(name) or sp.IndexedBase(name)
        return self.vectors[name]

    def index(self, node, name: str) -> sp.Symbol:
        if name not in self.indices:
            self.indices[name] = self.given["index"].get(name) or sp.Symbol(name, integer=True, positive=True)
        symbol = self.indices[name]
        if symbol not in self.bound and symbol not in self.free:
            self.free.append(symbol)
        return symbol

    def scalar(self, name: str) -> sp.Expr:
        if name == "K":
            return self.K
        if name not in self.scalars:
            self.scalars[name] = self.given["scalar"].get(name) or sp.Symbol(name, real=True)
        return self.scalars[name]

    # expressions ---------------------------------------------------------------------------------------------

    def checked(self, node, value: sp.Expr) -> sp.Expr:
        """``value``, unless it is undefined (1/0, log(0)) or not real (sqrt(-1))."""
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            self.fail(node, "this is undefined (a division by zero, or the log of 0)")
        if value.is_number and value.is_extended_real is False:
            self.fail(node, "this is not a real number (the square root or log of a negative number)")
        return value

    def number(self, node: ast.Constant) -> sp.Expr:
        if type(node.value) is int:
            return sp.Integer(node.value)
        literal = _constant_text(self.snippet, node).replace("_", "")
        try:
            sign, digits, exponent = decimal.Decimal(literal).as_tuple()
        except decimal.InvalidOperation:  # pragma: no cover - the parser accepted it as a float literal
            self.fail(node, f"{literal} is not a number")
        if not isinstance(exponent, int) or abs(exponent) > MAX_DIGITS or len(digits) > MAX_DIGITS:
            self.fail(node, f"the number {literal} has more than {MAX_DIGITS} digits")
        mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        if exponent >= 0:
            return sp.Integer(mantissa * 10 ** exponent)
        value = sp.Rational(mantissa, 10 ** -exponent)
        written = literal.lower()
        if written.startswith("."):
            written = "0" + written
        if "e" in written:
            return value  # 1e-3 is 1/1000
        # 1.7159 and 0.1 stay decimals (exact, printed as written, not 17159/10000); 2.0 is 2, 0.5 is 1/2
        return decimal_number(value, written)

    def build(self, node, vector: Optional[sp.Symbol] = None) -> sp.Expr:
        """The SymPy expression of ``node``; inside softmax(v), ``vector`` is the slot the vectors are indexed at."""
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node, vector)
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand, vector)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, _ADDITIVE):
                terms = [self.build(n, vector) for _, n in _chain(node, _ADDITIVE)]
                signs = [op is not ast.Sub for op, _ in _chain(node, _ADDITIVE)]
                return self.checked(node, sp.Add(*[t if s else -t for t, s in zip(terms, signs)]))
            if isinstance(node.op, _MULTIPLICATIVE):
                return self.product(node, vector)
            return self.power(node, vector)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, vector)
        return self.call(node, vector)

    def name(self, node: ast.Name, vector) -> sp.Expr:
        role = self.roles.get(node.id)
        if vector is not None and role == "vector":
            return self.vector(node, node.id, 1)[vector]
        if role == "vector":  # pragma: no cover - assign() refuses a bare vector outside softmax first
            self.fail(node, f"{node.id} is a vector: index it, {node.id}[j]")
        return self.scalar(node.id)

    def product(self, node, vector) -> sp.Expr:
        value = sp.Integer(1)
        for op, operand in _chain(node, _MULTIPLICATIVE):
            factor = self.build(operand, vector)
            if op is ast.Div:
                if factor == 0:
                    self.fail(operand, "division by zero")
                factor = 1 / factor
            value = self.sized(operand, self.checked(node, value * factor))
        return value

    def power(self, node, vector) -> sp.Expr:
        base = self.build(node.left, vector)
        for part in ast.walk(node.right):
            allowed = isinstance(part, (ast.Constant, ast.UnaryOp, ast.expr_context, ast.unaryop)) \
                or isinstance(part, ast.BinOp) and isinstance(part.op, _ADDITIVE + _MULTIPLICATIVE) \
                or isinstance(part, ast.operator) and isinstance(part, _ADDITIVE + _MULTIPLICATIVE) \
                or isinstance(part, ast.Name) and (part.id == "K" or self.roles.get(part.id) == "scalar")
            if not allowed:
                self.fail(part, "an exponent may use only numbers and scalar parameters with + - * /, "
                                "as in x**2, x**gamma or x**(1/T); no vectors, indices, functions or **")
        exponent = self.build(node.right, None)
        if exponent.is_Number and abs(exponent) > MAX_EXPONENT:
            self.fail(node.right, f"the exponent {exponent} is too large; at most {MAX_EXPONENT} in absolute value")
        if exponent.is_Number:  # a power of numbers is computed at once: bound it before it is
            digits = sum(_digits(r) for r in base.atoms(sp.Rational)) * abs(exponent)
            if digits > MAX_DIGITS:
                self.fail(node, f"this power makes numbers of about {int(digits)} digits; "
                                f"at most {MAX_DIGITS} are allowed")
        return self.sized(node, self.checked(node, base ** exponent))

    def sized(self, node, value: sp.Expr) -> sp.Expr:
        """``value``, unless its numeric factor has more than MAX_DIGITS digits (1e400*1e400)."""
        coefficient = value.as_coeff_Mul()[0]
        if coefficient.is_Rational and _digits(coefficient) > MAX_DIGITS:
            self.fail(node, f"this makes a number of about {_digits(coefficient)} digits; "
                            f"at most {MAX_DIGITS} are allowed")
        return value

    def subscript(self, node: ast.Subscript, vector=None) -> sp.Expr:
        """z[j], w[j, d]; inside softmax(v) (``vector`` the slot) z[i] is row i of the matrix z, z[i, slot];
        softmax(v)[j] is entry j of the softmax."""
        index = node.slice
        # checked: indices are names, and a subscript of a call is softmax(v)[j] or log_softmax(v)[j]
        names = cast("list[ast.Name]", index.elts if isinstance(index, ast.Tuple) else [index])
        if isinstance(node.value, ast.Name):
            row = vector is not None
            base = self.vector(node.value, node.value.id, len(names) + row)
            return base[tuple(self.index(n, n.id) for n in names) + ((vector,) if row else ())]
        if vector is not None:  # pragma: no cover - resolve() refuses a softmax inside softmax(v) first
            self.fail(node, "a softmax inside softmax(v) is not allowed")
        call = cast(ast.Call, node.value)
        function = cast(ast.Name, call.func).id
        slot = sp.Dummy("slot", integer=True, positive=True)
        at = self.index(names[0], names[0].id)
        body = self.build(call.args[0], slot)
        if not body.has(slot):
            self.fail(call.args[0], f"{function}(v) needs a vector in v, such as softmax(z)[j] "
                                    "or softmax(z/T)[j]; v names none")
        rows = sorted({i for a in body.atoms(sp.Indexed) if a.has(slot) for i in a.indices if i != slot}, key=str)
        if at in rows:
            self.fail(call.args[0], f"inside {function}(v)[{at}] write the vector without brackets, "
                                    f"softmax(z)[{at}], or a row of a matrix at an index other than {at}, "
                                    f"softmax(z[i])[{at}]")
        return GRAMMAR[function].call(body, slot, at)

    def call(self, node: ast.Call, vector) -> sp.Expr:
        name = cast(ast.Name, node.func).id  # checked: only names are called
        if name in REDUCTIONS:
            reduction, name = name, cast(ast.Name, node.args[1]).id  # checked: sum(x, j) runs over an index name
            symbol = self.indices.get(name) or self.given["index"].get(name) \
                or sp.Symbol(name, integer=True, positive=True)
            self.bound.append(symbol)
            body = self.build(node.args[0])
            self.bound.pop()
            self.indices.setdefault(name, symbol)
            total = sp.Sum(body, (symbol, 1, self.K))
            # the mean over i is the sum over the count of i's values, sum(1, i): K here, the size of i's axis
            # (N for a batch's examples) once the cost's reader knows it
            return total if reduction == "sum" else total / sp.Sum(sp.Integer(1), (symbol, 1, self.K))
        argument = self.build(node.args[0], vector)
        function = _ELEMENTARY[name] if name in _ELEMENTARY else GRAMMAR[name].call
        return self.checked(node, function(argument))
