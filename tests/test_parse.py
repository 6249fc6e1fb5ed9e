"""The restricted parser: exact SymPy for the issue's costs, and hostile text refused with nothing executed."""
import ast
import builtins
import importlib
import re
import types

import pytest
import sympy as sp
import sympy.parsing.sympy_parser

import derive.parse
from derive.errors import ArgumentError, ArgumentTypeError
from derive.expr import LogSoftmax, Sigmoid, Softmax
from derive.parse import (MAX_DEPTH, MAX_LENGTH, MAX_NAME, MAX_NODES, Parsed, _check_tree, _Snippet,
                          parse_equation, parse_expression)

POSITION = re.compile(r"at line \d+, column \d+: ")


@pytest.fixture(autouse=True)
def nothing_is_executed(monkeypatch):
    """Every test runs with eval/exec/sympify(str)/parse_expr raising, and compile allowed only to build a tree."""
    modes = []

    def refuse(*args, **kwargs):
        raise AssertionError("user text reached eval, exec or parse_expr")

    real_compile, real_sympify = builtins.compile, sp.sympify

    def tree_only(source, filename, mode, flags=0, *args, **kwargs):
        assert flags & ast.PyCF_ONLY_AST, "compile was asked for code, not a tree"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def sympify(a, *args, **kwargs):
        assert not isinstance(a, str), "sympify was given a string"
        return real_sympify(a, *args, **kwargs)

    def parse(source, *args, **kwargs):
        modes.append(kwargs.get("mode", args[1] if len(args) > 1 else "exec"))
        return ast.parse(source, *args, **kwargs)

    recording_ast = types.ModuleType("ast")  # the parser's view of ast: parse records its mode
    recording_ast.__dict__.update(vars(ast))
    recording_ast.parse = parse

    monkeypatch.setattr(builtins, "eval", refuse)
    monkeypatch.setattr(builtins, "exec", refuse)
    monkeypatch.setattr(builtins, "compile", tree_only)
    monkeypatch.setattr(sp, "sympify", sympify)
    monkeypatch.setattr(importlib.import_module("sympy.core.sympify"), "sympify", sympify)
    monkeypatch.setattr(sp, "parse_expr", refuse)
    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", refuse)
    monkeypatch.setattr(derive.parse, "ast", recording_ast)
    yield
    assert set(modes) <= {"eval"}, "the parser called ast.parse in another mode than eval"


K = sp.Symbol("K", integer=True, positive=True)
j, k, d = (sp.Symbol(n, integer=True, positive=True) for n in "jkd")
z, y, w, t, x, W = (sp.IndexedBase(n) for n in ("z", "y", "w", "t", "x", "W"))
T, tau, eps, gamma = (sp.Symbol(n, real=True) for n in ("T", "tau", "eps", "gamma"))
s = sp.Dummy("s", integer=True, positive=True)


def o(body=z[s], at=j):
    return Softmax(body, s, at)


# -- the issue's examples, exactly ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("-sum(y[j]*log(softmax(z)[j]), j)", -sp.Sum(y[j] * sp.log(o()), (j, 1, K))),
    ("softmax(z/T)[j]", o(z[s] / T)),
    ("softmax(z + tau*log(w))[j]", o(z[s] + tau * sp.log(w[s]))),
    ("-sum(y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(1 - sigmoid(z[j])), j)",
     -sp.Sum(y[j] * sp.log(Sigmoid(z[j])) + (1 - y[j]) * sp.log(1 - Sigmoid(z[j])), (j, 1, K))),
    ("0.5*sum((tanh(z[j]) - y[j])**2, j)", sp.Rational(1, 2) * sp.Sum((sp.tanh(z[j]) - y[j]) ** 2, (j, 1, K))),
    ("-sum(((1-eps)*y[j] + eps/K)*log(softmax(z)[j]), j)",
     -sp.Sum(((1 - eps) * y[j] + eps / K) * sp.log(o()), (j, 1, K))),
    ("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)",
     -sp.Sum(y[j] * (1 - o()) ** gamma * sp.log(o()), (j, 1, K))),
    ("-sum(y[j]*log_softmax(z)[j], j)", -sp.Sum(y[j] * LogSoftmax(z[s], s, j), (j, 1, K))),
    ("0.5*sum((softmax(z)[j] - t[j])**2, j)", sp.Rational(1, 2) * sp.Sum((o() - t[j]) ** 2, (j, 1, K))),
    ("y[k]*log(softmax(z)[k])", y[k] * sp.log(o(at=k))),
    ("sqrt(exp(z[k])) + 2**-3 - +z[k]", sp.sqrt(sp.exp(z[k])) + sp.Rational(1, 8) - z[k]),
])
def test_issue_examples_give_exact_sympy(text, expected):
    parsed = parse_expression(text)
    assert parsed.expr == expected

    def canonical(e):  # slot dummies renamed in order, so the structure compares exactly
        slots = sorted(e.atoms(sp.Dummy), key=lambda d: d.dummy_index)
        return sp.srepr(e.xreplace({d: sp.Symbol(f"slot{n}") for n, d in enumerate(slots)}))

    assert canonical(parsed.expr) == canonical(expected)


def test_fields_of_a_cost():
    parsed = parse_expression("-sum(((1-eps)*y[j] + eps/K)*log(softmax(z/T)[j]), j)")
    assert isinstance(parsed, Parsed)
    assert list(parsed.vectors) == ["y", "z"] and parsed.vectors["z"] == z
    assert parsed.ranks == {"y": 1, "z": 1}
    assert list(parsed.scalars) == ["eps", "T"] and parsed.scalars["T"] == T
    assert parsed.scalars["T"].is_real and parsed.indices["j"].is_integer and parsed.indices["j"].is_positive
    assert parsed.indices == {"j": j} and parsed.free == () and parsed.K == K and parsed.K.is_integer


def test_a_mean_is_the_sum_over_the_count_of_its_index():
    """mean(x, i) = sum(x, i) / sum(1, i): the count is K here, the size of i's axis once costs.py knows it."""
    parsed = parse_expression("mean(z[j]*y[j], j)")
    assert parsed.expr == sp.Sum(z[j] * y[j], (j, 1, K)) / sp.Sum(1, (j, 1, K))
    assert parsed.free == () and parsed.indices == {"j": j}
    assert sp.simplify(parsed.expr.doit() - sp.Sum(z[j] * y[j], (j, 1, K)).doit() / K) == 0


def test_numbers_are_exact_rationals_from_the_literal_text():
    from derive.expr import Decimal, exact
    assert exact(parse_expression("0.1*z[j]").expr) == sp.Rational(1, 10) * z[j]
    assert parse_expression("1e-3 + 2.5e2 + 1_000 + .5 + 5.").expr == sp.Rational(1255501, 1000)
    tenth = parse_expression("0.1").expr  # exact, and printed as written (tests/test_decimals.py)
    assert isinstance(tenth, Decimal) and tenth.value == sp.Rational(1, 10) and tenth.digits == "0.1"


def test_free_indices_in_order_of_first_use():
    assert parse_expression("y[k]*log(softmax(z)[k])").free == (k,)
    assert parse_expression("sum(w[j, d]*x[d], d) + z[k]").free == (j, k)
    bound_and_free = parse_expression("z[j]*sum(y[j], j)")
    assert bound_and_free.free == (j,) and bound_and_free.indices == {"j": j}
    assert parse_expression("sum(sum(w[j, d], d), j)").free == ()


def test_concrete_K():
    assert parse_expression("sum(z[j], j)", K=sp.Integer(3)).expr == sp.Sum(z[j], (j, 1, 3))
    assert parse_expression("eps/K", K=3).expr == eps / 3


# -- equations and shared symbol tables --------------------------------------------------------------------------

def test_the_linear_layer_define():
    lhs, rhs = parse_equation("z[j] = sum(w[j, d]*x[d], d)", argument="define[0]")
    assert lhs.expr == z[j] and rhs.expr == sp.Sum(w[j, d] * x[d], (d, 1, K))
    assert lhs.free == rhs.free == (j,)
    assert rhs.ranks == {"w": 2, "x": 1} and rhs.indices == {"j": j, "d": d}


def test_the_normalisation_assumption():
    lhs, rhs = parse_equation("sum(y[j], j) = 1")
    assert lhs.expr == sp.Sum(y[j], (j, 1, K)) and rhs.expr == 1 and lhs.free == rhs.free == ()


def test_texts_share_one_symbol_table():
    cost = parse_expression("-sum(y[j]*log(softmax(z/T)[j]), j)")
    table = dict(K=cost.K, vectors=cost.vectors, scalars=cost.scalars, indices=cost.indices)
    lhs, rhs = parse_equation("z[j] = sum(W[j, d]*x[d], d)", argument="define[0]", **table)
    assert lhs.vectors["z"] is cost.vectors["z"] and lhs.indices["j"] is cost.indices["j"]
    assert list(rhs.vectors) == ["W", "x"]
    concrete = parse_expression("sum(y[j], j)", K=sp.Integer(4), vectors={"y": y})
    assert concrete.K == 4 and concrete.vectors["y"] is y
    with pytest.raises(ArgumentError, match=r"T is used both as a scalar"):
        parse_expression("T[j]", argument="assume[0]", **table)
    with pytest.raises(ArgumentError, match=r"z is a vector: index it, z\[j\]"):
        parse_expression("z + 1", **table)


def test_given_objects_keep_their_identity_and_assumptions():
    mine = sp.Symbol("T", positive=True)
    assert parse_expression("z[j]/T", scalars={"T": mine}).expr == z[j] / mine
    with pytest.raises(ArgumentTypeError) as error:
        parse_expression("z[j]", vectors={"z": "z"})
    assert error.value.argument == "vectors"


# -- softmax of a vector expression -----------------------------------------------------------------------------

def test_softmax_entries_compare_up_to_the_slot_name():
    a, b = parse_expression("softmax(z/T)[j]").expr, parse_expression("softmax(z/T)[j]").expr
    assert a.slot != b.slot and a == b and hash(a) == hash(b)
    assert a.body == z[a.slot] / T and a.at == j and a.at_index(k) == z[k] / T
    assert a.free_symbols == {z.label, T, j}
    assert parse_expression("softmax(z)[j]*softmax(z)[j]").expr == o() ** 2


@pytest.mark.parametrize("text, vectors, expected", [
    ("softmax(2*z)[j]", None, o(2 * z[s])),
    ("softmax(tau*z/T)[j]", None, o(tau * z[s] / T)),
    ("softmax(z**2 - sigmoid(w))[j]", None, o(z[s] ** 2 - Sigmoid(w[s]))),
    ("softmax(z*T)[j]", {"z": z}, o(T * z[s])),
    ("softmax(z*T)[j] + softmax(z)[j]", None, o(T * z[s]) + o()),
    ("softmax(exp(K*z))[j]", None, o(sp.exp(K * z[s]))),
])
def test_names_inside_softmax_are_vectors_where_a_vector_is_needed(text, vectors, expected):
    assert parse_expression(text, vectors=vectors).expr == expected


# -- refusals ----------------------------------------------------------------------------------------------------

HOSTILE = [
    ("__import__('os')", "a string"),
    ("__import__(1)", "calling __import__"),
    ("_x + z[j]", "the name _x"),
    ("().__class__", "an attribute access"),
    ("z.__class__", "an attribute access"),
    ("lambda: 0", "a colon"),
    ("[x for x in y]", "a list comprehension"),
    ("exec('1')", "a string"),
    ("exec(1)", "calling exec"),
    ("eval('1')", "a string"),
    ("eval(1)", "calling eval"),
    ("open('f')", "a string"),
    ("f'{z}'", "a string"),
    ("'abc'", "a string"),
    ("z[j+1]", r"arithmetic in an index"),
    ("z[0]", "the number 0 as an index"),
    ("x" * 100_000, "100000 characters long"),
    ("(" * 1000 + "z[j]" + ")" * 990, "brackets are nested more than 40"),
    ("exp(exp(exp(exp(z[j]))))**99999", "exponent 99999 is too large"),
    ("z[j] if y else 0", "a conditional"),
    ("sum(z[j], j, 3)", "sum takes 2 arguments, got 3"),
    ("log(x=1)", "a keyword argument"),
    ("log(*x)", "a starred argument"),
    ("z[j] == 1", "a comparison"),
    ("z[j] < 1", "a comparison <"),
    ("True", "True is not allowed"),
    ("None", "None is not allowed"),
    ("...", "an ellipsis"),
    ("1j", "a complex number"),
    ("0x1f", "not written in decimal"),
    ("z[j] // 2", "the operator //"),
    ("not z[j]", "the operator not"),
    ("z[j] and y[j]", "and/or"),
    ("[z, y]", "a list is not allowed"),
    ("(z[j], y[j])", "a tuple outside"),
    ("z[j] ^ 2", r"powers are written \*\*"),
    ("z[j]; 1", "a semicolon"),
    ("z[j] # comment", "a comment"),
    ("\u0435xp(z[j])", "U\\+0435"),  # a Cyrillic e
    ("z[j]\0", "a null byte"),
    ("-" * 60 + "z[j]", "signs"),
    ("a" + "+a" * MAX_NODES, f"more than {MAX_NODES} parts"),
    ("sigmoid(" * (MAX_DEPTH + 1) + "z[j]" + ")" * (MAX_DEPTH + 1), "nested more than"),
    ("z[j]**" * (MAX_DEPTH + 1) + "2", "nested more than"),
    ("z[j]**z[k]", "an exponent may use only numbers and scalar parameters"),
    ("z[j]**sum(y[j], j)", "an exponent may use only numbers"),
    ("(2**64)**64", "this power makes numbers"),
    ("1e500", "more than 400 digits"),
    ("1e400*1e400", "about 800 digits"),
    ("1/0", "division by zero"),
    ("log(0)", "undefined"),
    ("sqrt(-1)", "not a real number"),
    ("a" * (MAX_NAME + 1), "characters"),
    ("z[_j]", "starting with _"),
    ("foo(z[j])", "calling foo"),
    ("z(1)", "calling z"),
    ("(z)(1)", "calling z"),
    ("softmax(z)[j](1)", "calling an expression"),
    ("(z + y)[j]", "indexing this"),
    ("softmax(z)", r"softmax\(v\) is a vector: index it, softmax\(v\)\[j\]"),
    ("log_softmax(z)", r"log_softmax\(v\) is a vector"),
    ("softmax(z)[j, k]", "takes one index"),
    ("softmax(z[j])[j]", "without brackets"),
    ("softmax(j*z)[j]", "j is an index"),
    ("softmax(3)[j]", "needs a vector"),
    ("softmax(sum(z, j))[j]", "sum is not allowed inside softmax"),
    ("sum(z[j], 1)", "the second argument of sum"),
    ("sum(z[j])", "sum takes 2 arguments, got 1"),
    ("mean(z[j])", "mean takes 2 arguments, got 1; write mean"),
    ("mean(z[j], 2)", "the second argument of mean is the index it means over"),
    ("softmax(mean(z, j))[j]", "mean is not allowed inside softmax"),
    ("mean + z[j]", r"mean is a function: call it, mean\(x\)"),
    ("log(z[j], 2)", "log takes 1 argument, got 2"),
    ("log[j]", "log is a function; it cannot be a vector"),
    ("z[log]", "log is a function; it cannot be an index"),
    ("z[K]", "K is the number of classes"),
    ("sum(z[j], K)", "K is the number of classes"),
    ("log + z[j]", r"log is a function: call it, log\(x\)"),
    ("z*z[j]", r"z is a vector: index it, z\[j\]"),
    ("j*z[j]", "j is an index: use it inside"),
    ("z[j]*z[j, k]", "z is used with 1 index and with 2"),
    ("z[j]*j[k]", "j is used both as an index"),
    ("z[j] = 1", "= is not allowed here"),
    ("z[j] +", "not a valid expression"),
    ("", "is empty"),
    ("  \n ", "is empty"),
]


@pytest.mark.parametrize("text, problem", HOSTILE, ids=[repr(t[:24]) for t, _ in HOSTILE])
def test_hostile_or_bad_text_is_refused_with_argument_and_position(text, problem):
    with pytest.raises(ArgumentError) as error:
        parse_expression(text, argument="define[1]")
    assert error.value.argument == "define[1]"
    assert str(error.value).startswith("define[1]: ")
    assert POSITION.match(error.value.problem), error.value.problem
    assert re.search(problem, error.value.problem), error.value.problem


def test_a_refusal_names_what_is_allowed():
    with pytest.raises(ArgumentError) as error:
        parse_expression("z.__class__")
    assert error.value.problem.startswith("at line 1, column 1: an attribute access (x.name) is not allowed; "
                                          "allowed are names, numbers, + - * / **")


def test_positions_count_lines_and_columns_from_one():
    with pytest.raises(ArgumentError, match=r"at line 2, column 9: the number 0 as an index"):
        parse_expression("-sum(y[j]*\n  log(z[0]), j)")
    with pytest.raises(ArgumentError, match=r"at line 1, column 15: calling exec"):
        parse_equation("sum(y[j], j) =exec(1)")
    with pytest.raises(ArgumentError, match=r"at line 2, column 3: calling exec"):
        parse_equation("z[j] =\n  exec(1)")
    with pytest.raises(ArgumentError, match=rf"at line 1, column {MAX_LENGTH + 1}: "):
        parse_expression("z" * (MAX_LENGTH + 1))


def test_names_up_to_the_limit_are_fine():
    name = "a" * MAX_NAME
    assert parse_expression(f"{name}*z[j]").scalars == {name: sp.Symbol(name, real=True)}
    assert parse_expression("z[j]" + "+z[j]" * (MAX_NODES // 5)).expr == (MAX_NODES // 5 + 1) * z[j]
    assert parse_expression("(" * (MAX_DEPTH - 1) + "z[j]" + ")" * (MAX_DEPTH - 1)).expr == z[j]


@pytest.mark.parametrize("text, problem", [
    ("z[j] == 1", "a comparison =="),
    ("z[j]", "expected an equation lhs = rhs"),
    ("a = b = c", "an equation has a single ="),
    (" = 1", "the left of = is empty"),
    ("z[j] = ", "the right of = is empty"),
    ("z[j] = z[j, k]", "takes 1 indices on the left of = and 2 on the right"),
    ("log(x=1) = 1", "a keyword argument"),
])
def test_bad_equations_are_refused(text, problem):
    with pytest.raises(ArgumentError, match=problem) as error:
        parse_equation(text, argument="assume[2]")
    assert error.value.argument == "assume[2]"


@pytest.mark.parametrize("value", [None, 3, b"z[j]", ["z[j]"]])
def test_text_must_be_a_string(value):
    with pytest.raises(ArgumentTypeError) as error:
        parse_expression(value)
    assert error.value.argument == "cost"
    with pytest.raises(ArgumentTypeError):
        parse_equation(value)


@pytest.mark.parametrize("text, what", [
    ("'abc'", "a string"), ("b'x'", "bytes"), ("f'{z}'", "an f-string"), ("lambda: 0", "a lambda"),
    ("{1: 2}", "a dict"), ("{1}", "a set"), ("z[1:2]", "a slice"), ("a < b", "a comparison"),
    ("(a := 1)", "an assignment expression"), ("await a", "await"), ("(yield)", "yield"),
    ("__import__('os').system('x')", "calling an expression"), ("z.y", "an attribute access"),
    ("(x for x in y)", "a generator expression"),
    ("z @ y", "the operator @"), ("~z", "the operator ~"),
])
def test_the_tree_allow_list_refuses_even_what_the_character_check_lets_through(text, what):
    """The character check is one wall; the allow-list over the tree is a second one, tested on its own."""
    tree = ast.parse(text, mode="eval")
    with pytest.raises(ArgumentError, match=what):
        _check_tree("cost", _Snippet(text, 1, 0), tree)
