"""A user's cost, as text or SymPy, made into the Setting the planner works in.

The cost names its own vectors (z, y, w, x), scalar parameters (T, eps) and
indices. This module decides what the planner needs and the user did not
say: a name for each output (o for softmax(z), s for sigmoid(z[j])), the
range of every index (the classes 1..K, or a size of its own such as the
features 1..n of a linear layer), the assumptions as Assumption objects,
and fresh index names for the gradient (k, and m for a Hessian). Nothing
the user typed is evaluated: text goes through derive.parse.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import sympy as sp

from .assumptions import normalized, softmax_total
from .errors import ArgumentError, ArgumentTypeError
from .expr import LogSoftmax, Sigmoid, SlotVector, Softmax, decimal_number
from .layers import LOG_SOFTMAX, SIGMOID, SOFTMAX, TANH
from .notation import check_K, check_symbols
from .setting import Definition, Display, Setting

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,15}")
SOFTMAX_NAMES = ("o", "p", "q", "r")
SIGMOID_NAMES = ("s", "u", "v", "g")
TANH_NAMES = ("t", "th", "tt", "ta")
COST_NAMES = ("E", "L", "C", "J")
CLASS_INDICES = ("j", "k", "m", "i", "a", "b", "c", "r", "t")
FEATURE_INDICES = ("d", "f", "h", "p", "q", "b", "c", "r", "t", "u", "v")  # no e: an index e reads as Euler's e beside e^{z} (issue 17.5)
INNER_INDICES = ("l", "c", "r", "t", "b")
EXAMPLE_INDICES = ("n", "i", "t", "u", "v", "r")


@dataclass(frozen=True)
class Problem:
    """What the planner is given: the setting, the stated assumptions, the cost symbol, the variable and the
    indices of the derivative (one per axis of the variable; ``second`` for a Hessian)."""

    setting: Setting
    facts: tuple
    cost: sp.Symbol
    variable: sp.IndexedBase
    index: tuple
    second: tuple
    text: str

    @property
    def lhs(self) -> sp.Expr:
        """d cost / d variable[index] (d cost / d variable for a scalar parameter)."""
        return sp.Derivative(self.cost, self.variable[self.index] if self.index else self.variable)


def problem(cost, wrt: str = "z", *, assume: Sequence = (), define: Sequence = (),
            K: Optional[int] = None) -> Problem:
    """The Problem of differentiating ``cost`` with respect to the vector named ``wrt``."""
    K_value = check_K(K)
    K_sym = sp.Integer(K_value) if K_value is not None else sp.Symbol("K", integer=True, positive=True)
    if isinstance(wrt, bool) or not isinstance(wrt, str):
        raise ArgumentTypeError("wrt", f"must be the name of a vector of the cost (str), got {type(wrt).__name__}")
    assume, define = _texts("assume", assume), _texts("define", define)
    table: dict = {"vectors": {}, "scalars": {}, "indices": {}}
    scalar = _is_scalar(wrt, cost, define, assume, K_sym)
    if _NAME.fullmatch(wrt) and not scalar:  # the variable is a vector: softmax(z*T) then reads z as the vector
        table["vectors"][wrt] = sp.IndexedBase(wrt)

    if isinstance(cost, str):
        parsed, equations = _read(cost, _named(define, assume), K_sym, table)
        expr, text = parsed.expr, cost.strip()
    elif isinstance(cost, sp.Basic):
        expr = _normalised_symbols(check_symbols("cost", cost), K_sym)
        text = sp.sstr(cost)
        _collect_sympy(expr, table)
        equations = _read(None, _named(define, assume), K_sym, table)[1]
    else:
        raise ArgumentTypeError("cost", f"must be a str or a SymPy expression, got {type(cost).__name__}")
    layers = []
    for n, (lhs, rhs) in enumerate(equations[:len(define)]):
        if not isinstance(lhs.expr, sp.Indexed) or not all(isinstance(i, sp.Symbol) for i in lhs.expr.indices):
            raise ArgumentError(f"define[{n}]", "the left-hand side must be one vector entry such as z[j]")
        if str(lhs.expr.base) == wrt:
            raise ArgumentError(f"define[{n}]", f"{wrt} is the variable: it cannot also be defined")
        layers.append((lhs.expr, rhs.expr))
    facts_text = [(n, lhs.expr, rhs.expr) for n, (lhs, rhs) in enumerate(equations[len(define):])]

    if isinstance(cost, sp.Basic) and wrt in table["scalars"] and wrt not in table["vectors"]:
        scalar = True
    vectors = table["vectors"]
    used_vectors = {a.base for e in [expr] + [x for pair in layers for x in pair] for a in e.atoms(sp.Indexed)}
    used_vectors |= {a.base for e in [expr] + [x for pair in layers for x in pair]
                     for n in sp.preorder_traversal(e) if isinstance(n, SlotVector) for a in n.body.atoms(sp.Indexed)}
    if scalar:
        variable = table["scalars"][wrt]
    elif wrt not in vectors or vectors[wrt] not in used_vectors:
        known = ", ".join(sorted(str(v) for v in used_vectors) + sorted(table["scalars"])) or "none"
        raise ArgumentError("wrt", f"{wrt!r} is not a vector or scalar of the cost (it has: {known})")
    else:
        variable = vectors[wrt]
    if not expr.has(variable) and not any(rhs.has(variable) for _, rhs in layers):
        raise ArgumentError("wrt", f"the cost does not depend on {wrt}")

    used = set(table["vectors"]) | set(table["scalars"]) | {str(i) for i in table["indices"].values()} | {"K"}
    # a batch: the bare N of sum(..., i)/N is the number of examples, the length of the example axis
    absorb = "N" in table["scalars"] and wrt != "N"
    examples = "N" if absorb or "N" not in used else _fresh(("N2", "N3", "N4"), used)
    if absorb:
        used.discard("N")
    sizes, axis_sizes = _sizes(expr, layers, facts_text, K_sym, used, examples)
    used.add("N")
    N_size = next((s for s in sizes.values() if str(s) == examples), None)
    if absorb and N_size is not None:
        N_scalar = table["scalars"].pop("N")
        expr = expr.xreplace({N_scalar: N_size})
        layers = [(lhs, rhs.xreplace({N_scalar: N_size})) for lhs, rhs in layers]
    expr = _ranged(expr, sizes)
    layers = [(lhs, _ranged(rhs, sizes)) for lhs, rhs in layers]

    axes = [] if scalar else _axes_of(variable, expr, layers)
    outputs, expr, layers = _outputs(expr, layers, K_sym, sizes, used)
    E = sp.Symbol(_fresh(COST_NAMES, used))
    used.add(str(E))
    definitions = [Definition("cost", E, (), expr, text="cost")]
    for lhs, rhs in layers:
        definitions.append(Definition(f"layer_{lhs.base}", lhs.base, tuple(lhs.indices), rhs, text="given"))
    definitions += outputs

    def pool(axis):
        size = axis_sizes.get(axis, K_sym)
        return CLASS_INDICES if size == K_sym else EXAMPLE_INDICES if size == N_size else FEATURE_INDICES

    index, second = [], []
    for axis in axes:
        index.append(_index(pool(axis), used, prefer=("k",) if pool(axis) is CLASS_INDICES else ()))
    for axis in axes:
        second.append(_index(pool(axis), used, prefer=("m",) if pool(axis) is CLASS_INDICES else ()))
    for i, axis in zip(index + second, axes + axes):
        sizes[i] = axis_sizes.get(axis, K_sym)
    for _ in range(2):  # spare names for lemmas
        sizes[_index(CLASS_INDICES, used)] = K_sym
    for size in dict.fromkeys(s for s in sizes.values() if s != K_sym):  # a spare name for each layer width
        sizes[_index(EXAMPLE_INDICES if size == N_size else FEATURE_INDICES, used)] = size

    facts = tuple(_fact(n, lhs, rhs, sizes, K_sym) for n, lhs, rhs in facts_text)
    facts += tuple(softmax_total(d.symbol, d.indices[-1], K_sym, prefix=d.indices[:-1])
                   for d in outputs if d.layer is not None and d.layer.normalised)
    simplex = {name for f in facts for name, kind in f.domains}
    domains = [(wrt, "real")]
    for name, base in vectors.items():
        if name == wrt or name in simplex:
            continue
        in_layer = any(rhs.has(base) for _, rhs in layers) and not expr.has(base)
        domains.append((name, "real" if in_layer else "unit"))
    domains += [(str(d.symbol), d.layer.sample) for d in outputs if d.layer is not None and d.layer.sample]
    order = sorted(sizes, key=lambda i: (str(i) not in ("j", "k"), str(i) != "j", str(i)))
    other_sizes = tuple(dict.fromkeys(s for s in sizes.values() if s != K_sym and not s.is_Integer))
    display = tuple((str(d.symbol), Display(r"\log " + str(d.symbol)[4:], "log " + str(d.symbol)[4:]))
                    for d in outputs if d.layer is not None and d.layer.logarithmic)
    setting = Setting(K=K_sym, variables=(variable,), definitions=tuple(definitions),
                      ranges=tuple((i, (sp.Integer(1), sizes[i])) for i in order), domains=tuple(domains),
                      sizes=other_sizes, display=display,
                      symbols={"cost": E, **{str(d.symbol): d.symbol for d in outputs},
                               **({"examples": N_size} if N_size is not None else {})})
    return Problem(setting, facts, E, variable, tuple(index), tuple(second), text)


# -- inputs ------------------------------------------------------------------------------------------

def _is_scalar(wrt: str, cost, define: tuple, assume: tuple, K) -> bool:
    """True when the text uses ``wrt`` as a scalar (a temperature T in softmax(z/T)): read without
    declaring it, it is a scalar, and declaring it a vector changes no other name's role (in
    softmax(z*T) it does: only one of z and T can be the vector, and wrt=z names it)."""
    if not isinstance(cost, str) or not _NAME.fullmatch(wrt):
        return False
    free = _roles(cost, define, assume, K, {})
    if free is None or wrt not in free[1]:
        return False
    declared = _roles(cost, define, assume, K, {wrt: sp.IndexedBase(wrt)})
    return declared is None or declared[0] - {wrt} == free[0] - {wrt}


def _roles(cost: str, define: tuple, assume: tuple, K, vectors: dict):
    """(vector names, scalar names) of the cost and its equations read with ``vectors`` declared, or None
    when they do not read (the real reading reports why)."""
    table: dict = {"vectors": dict(vectors), "scalars": {}, "indices": {}}
    try:
        _read(cost, _named(define, assume), K, table)
    except ArgumentError:
        return None
    return set(table["vectors"]), set(table["scalars"])


def _named(define: tuple, assume: tuple) -> tuple:
    """(argument name, text) of every equation: define[n], then assume[n]."""
    return tuple((f"define[{n}]", t) for n, t in enumerate(define)) + \
        tuple((f"assume[{n}]", t) for n, t in enumerate(assume))


def _read(cost: Optional[str], equations: tuple, K, table: dict) -> tuple:
    """(the parsed cost or None, [(lhs, rhs) parsed] per equation), each text read with the names the texts
    before it gave (``table``, updated); an equation's argument is define[n] or assume[n] by its place."""
    from .parse import parse_equation, parse_expression

    def shared(parsed):
        for role in ("vectors", "scalars", "indices"):
            table[role].update(getattr(parsed, role))
        return parsed

    parsed = shared(parse_expression(cost, argument="cost", K=K, **table)) if cost is not None else None
    return parsed, [tuple(shared(p) for p in parse_equation(line, argument=name, K=K, **table))
                    for name, line in equations]


def _texts(argument: str, value) -> tuple:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)):
        raise ArgumentTypeError(argument, f"must be a list of equations as text, got {type(value).__name__}")
    for n, v in enumerate(value):
        if not isinstance(v, str):
            raise ArgumentTypeError(f"{argument}[{n}]", f"must be an equation as text, got {type(v).__name__}")
    return tuple(value)


def _normalised_symbols(expr: sp.Basic, K) -> sp.Basic:
    """A SymPy cost with its indices as positive integer symbols, its K as derive's (the user's may lack
    those assumptions, and then would not match) and each float as the exact decimal it prints as."""
    indices = set()
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed):
            indices |= {i for i in node.indices if isinstance(i, sp.Symbol)}
        elif isinstance(node, sp.Sum):
            indices |= {lim[0] for lim in node.limits}
    mapping = {i: sp.Symbol(str(i), integer=True, positive=True) for i in indices if not isinstance(i, sp.Dummy)}
    mapping.update({s: K for s in expr.free_symbols if str(s) == "K"})
    for f in expr.atoms(sp.Float):  # a float is the decimal it prints as (1.7159), exact, as the parser reads it
        digits = repr(float(f))
        value = sp.Rational(digits)
        mapping[f] = value if "e" in digits else decimal_number(value, digits)
    return expr.xreplace(mapping)


def _collect_sympy(expr: sp.Basic, table: dict) -> None:
    """The symbol table of a cost built directly with SymPy (IndexedBase vectors, Sum indices)."""
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Indexed):
            table["vectors"].setdefault(str(node.base), node.base)
            for i in node.indices:
                if isinstance(i, sp.Symbol):
                    table["indices"].setdefault(str(i), i)
        elif isinstance(node, sp.Sum):
            for i, _, _ in node.limits:
                table["indices"].setdefault(str(i), i)
    indices = set(table["indices"].values())
    for s in expr.free_symbols:
        if isinstance(s, sp.Symbol) and s not in indices and str(s) != "K" and not isinstance(s, sp.Dummy):
            table["scalars"].setdefault(str(s), s)


# -- index ranges ------------------------------------------------------------------------------------

def _sizes(expr, layers, facts, K, used, examples: str = "N") -> tuple:
    """(index -> its upper bound, vector axis -> its size): K for the classes, ``examples`` (N) for the
    examples (the axis of an index that picks a row of an output layer, i in softmax(z[i])[j] or
    sigmoid(z[i, j])), a size of its own (n) for any other axis, found by following which vector axes each
    index is used on."""
    parent: dict = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        parent[find(a)] = find(b)

    CLASS = ("classes",)
    EXAMPLES = ("examples",)
    everything = [expr] + [e for pair in layers for e in pair] + [e for _, lhs, rhs in facts for e in (lhs, rhs)]
    for e in everything:
        in_cost = e is expr
        for node in sp.preorder_traversal(e):
            if isinstance(node, sp.Indexed):
                for p, i in enumerate(node.indices):
                    if isinstance(i, sp.Symbol):
                        union(("axis", str(node.base), p), ("index", i))
            elif isinstance(node, SlotVector):
                union(("index", node.slot), CLASS)
                if isinstance(node.at, sp.Symbol):
                    union(("index", node.at), CLASS)
                for i in _rows(node.body, node.slot):  # softmax(z[i])[j]: i picks an example
                    union(("index", i), EXAMPLES)
            elif isinstance(node, (Sigmoid, sp.tanh)) and in_cost:  # a hidden layer has a width of its own
                rows, j = _rows_and_class(node.args[0])
                if j is not None:
                    union(("index", j), CLASS)
                for i in rows:
                    union(("index", i), EXAMPLES)
    for body, slot in _normalisers(expr):  # a layer written out over a batch: sum_l exp(z_il), 1 + exp(z_ij)
        union(("index", slot), CLASS)
        for i in _rows(body, slot):
            union(("index", i), EXAMPLES)
    for _, j, rows in _logistic_arguments(expr):
        union(("index", j), CLASS)
        for i in rows:
            union(("index", i), EXAMPLES)
    for node in sp.preorder_traversal(expr):  # vectors the cost itself indexes once are class vectors
        if isinstance(node, sp.Indexed) and len(node.indices) == 1:
            union(("axis", str(node.base), 0), CLASS)
    groups: dict = {}
    out: dict = {}
    axes: dict = {}
    for key in list(parent):
        if key[0] != "index" or isinstance(key[1], sp.Dummy):  # a softmax's slot is no index of the cost
            continue
        root = find(key)
        if root == find(CLASS):
            out[key[1]] = K
        else:
            if root not in groups:
                if root == find(EXAMPLES) and root != find(CLASS):
                    name = examples
                else:
                    name = "n" if "n" not in used else _fresh(tuple(f"n{c}" for c in range(2, 9)), used)
                used.add(name)
                groups[root] = sp.Symbol(name, integer=True, positive=True)
            out[key[1]] = groups[root]
    for key in list(parent):  # axes of vectors, for the gradient's own indices
        if key[0] == "axis":
            root = find(key)
            axes[key] = K if root == find(CLASS) else groups.get(root, K)
    return out, axes


def _ranged(expr: sp.Expr, sizes: dict) -> sp.Expr:
    """Every sum over an index with a size other than K gets that size as its upper limit; the count of a
    mean(x, i), sum(1, i), is that size (N for the examples, K for the classes)."""
    def fix(node):
        limits = [(i, lo, sizes.get(i, hi)) for i, lo, hi in node.limits]
        if node.function == 1 and len(limits) == 1 and limits[0][1] == 1:
            return limits[0][2]
        return sp.Sum(node.function, *limits)
    return expr.replace(lambda n: isinstance(n, sp.Sum), fix)


def _axes_of(variable, expr, layers) -> list:
    for e in [expr] + [rhs for _, rhs in layers]:
        for node in sp.preorder_traversal(e):
            if isinstance(node, sp.Indexed) and node.base == variable:
                return [("axis", str(variable), p) for p in range(len(node.indices))]
        for node in sp.preorder_traversal(e):
            if isinstance(node, SlotVector):
                for inner in node.body.atoms(sp.Indexed):
                    if inner.base == variable:
                        return [("axis", str(variable), p) for p in range(len(inner.indices))]
    raise ArgumentError("wrt", f"{variable} is not indexed in the cost")  # pragma: no cover


# -- outputs -----------------------------------------------------------------------------------------

def _outputs(expr, layers, K, sizes, used) -> tuple:
    """Name every softmax, log-softmax, sigmoid and tanh of the cost; replace each by its output's entry.

    A layer defined as a sigmoid of its own entry (h[a] = sigmoid(sum(w[a, d]*x[d], d))) is that sigmoid:
    its definition keeps the layer's name and index, whose width is the layer's own."""
    definitions: list = []
    softmaxes: dict = {}   # canonical body -> Definition
    sigmoids: dict = {}
    tanhs: dict = {}
    kept = []
    for lhs, rhs in layers:
        if isinstance(rhs, Sigmoid) and set(_class_indices(rhs.args[0])) <= set(lhs.indices):
            g = rhs.args[0]
            d = Definition(f"layer_{lhs.base}", lhs.base, tuple(lhs.indices), SIGMOID.define(g),
                           kernel=SIGMOID.name, argument=g, text="sigmoid layer")
            sigmoids[(g, lhs.base)] = d
            definitions.append(d)
        else:
            kept.append((lhs, rhs))
    layers = kept
    j = _index(CLASS_INDICES, used | {"k", "m"}, keep=False)
    inner = _index(INNER_INDICES, used | {j}, keep=False)
    for name in (j, inner):
        sizes[sp.Symbol(name, integer=True, positive=True)] = K
    j = sp.Symbol(j, integer=True, positive=True)
    inner = sp.Symbol(inner, integer=True, positive=True)

    def softmax_of(node: SlotVector) -> Definition:
        return softmax_over(node.body, node.slot)

    def softmax_over(body: sp.Expr, slot: sp.Symbol, normaliser: Optional[sp.Symbol] = None) -> Definition:
        """The softmax of ``body`` over ``slot``; its normaliser sums over ``normaliser`` (the cost's own
        index where the cost writes the sum out, so that the two are one expression)."""
        key = body.xreplace({slot: j})
        if key not in softmaxes:
            out = sp.IndexedBase(_fresh(SOFTMAX_NAMES, used))
            used.add(str(out))
            l = normaliser if normaliser is not None and normaliser != j else inner
            g_j, g_l = key, body.xreplace({slot: l})
            rows = tuple(_rows(body, slot))  # softmax(z[i])[j]: o_ij, the softmax of row i
            d = Definition("softmax", out, rows + (j,), SOFTMAX.define(g_j, g_l, l, K),
                           kernel=SOFTMAX.name, argument=g_j, text="softmax")
            softmaxes[key] = d
            definitions.append(d)
        return softmaxes[key]

    def replace(node):
        if isinstance(node, Softmax):
            return softmax_of(node).symbol[tuple(_rows(node.body, node.slot)) + (node.at,)]
        if isinstance(node, LogSoftmax):
            o = softmax_of(node).symbol
            name = f"log {o}"
            rows = tuple(_rows(node.body, node.slot))
            existing = [d for d in definitions if str(d.symbol) == name]
            if not existing:
                g_j, g_l = node.body.xreplace({node.slot: j}), node.body.xreplace({node.slot: inner})
                existing = [Definition("log_softmax", sp.IndexedBase(name), rows + (j,),
                                       LOG_SOFTMAX.define(g_j, g_l, inner, K), kernel=LOG_SOFTMAX.name,
                                       argument=g_j, text="log-softmax")]
                definitions.append(existing[0])
            return existing[0].symbol[rows + (node.at,)]
        if isinstance(node, Sigmoid):
            x = node.args[0]
            rows, c = _rows_and_class(x)
            if c is None:
                raise ArgumentError("cost", f"sigmoid({sp.sstr(x)}) needs an argument with a class index, "
                                            "such as sigmoid(z[j]) or sigmoid(z[i, j])")
            if x.could_extract_minus_sign():  # sigmoid(-g) = 1/(1 + exp(g)): the planner recognises it as
                sigmoid_of(-x, c, rows)       # 1 - s, a step of its own, not a second layer
                return 1 / (1 + sp.exp(-x))
            return sigmoid_of(x, c, rows).symbol[tuple(rows) + (c,)]
        if isinstance(node, sp.tanh):
            x = node.args[0]
            rows, c = _rows_and_class(x)
            if c is None:
                return None  # tanh of a scalar is differentiated as it is
            return tanh_of(x, c, rows).symbol[tuple(rows) + (c,)]
        return None

    def own(index: sp.Symbol) -> sp.Symbol:
        """The definition's index: j for a class index, the index itself on an axis of another size."""
        return j if sizes.get(index, K) == K else index

    def tanh_of(x: sp.Expr, index: sp.Symbol, rows=()) -> Definition:
        at = own(index)
        key = x.xreplace({index: at})
        if key not in tanhs:
            out = sp.IndexedBase(_fresh(TANH_NAMES, used))
            used.add(str(out))
            d = Definition("tanh", out, tuple(rows) + (at,), TANH.define(key), kernel=TANH.name, argument=key,
                           text="tanh")
            tanhs[key] = d
            definitions.append(d)
        return tanhs[key]

    def sigmoid_of(x: sp.Expr, index: sp.Symbol, rows=()) -> Definition:
        at = own(index)
        key = x.xreplace({index: at})
        if key not in sigmoids:
            out = sp.IndexedBase(_fresh(SIGMOID_NAMES, used))
            used.add(str(out))
            d = Definition("sigmoid", out, tuple(rows) + (at,), SIGMOID.define(key), kernel=SIGMOID.name,
                           argument=key,
                           text="sigmoid")
            sigmoids[key] = d
            definitions.append(d)
        return sigmoids[key]

    def rewrite(e):
        return e.replace(lambda n: replace(n) is not None, replace) if e.has(SlotVector, Sigmoid, sp.tanh) else e

    def rewrite_layer(lhs, rhs):
        """A layer defined as a tanh of its own entry, h[a] = tanh(g(a)), is that tanh: only its argument is read."""
        if isinstance(rhs, sp.tanh) and set(_class_indices(rhs.args[0])) <= set(lhs.indices):
            return sp.tanh(rewrite(rhs.args[0]))
        return rewrite(rhs)

    expr = rewrite(expr)
    layers = [(lhs, rewrite_layer(lhs, rhs)) for lhs, rhs in layers]
    for e in [expr] + [rhs for _, rhs in layers]:  # layers written out, as framework code computes them
        for body, slot in _normalisers(e):
            softmax_over(body, slot, normaliser=slot)
        for x, index, rows in _logistic_arguments(e):
            sigmoid_of(x, index, rows)
        for x, index, rows in _tanh_arguments(e):
            tanh_of(x, index, rows)
    return definitions, expr, layers


def _class_indices(x: sp.Expr) -> list:
    """The free indices of the vector entries in ``x`` (not those a sum inside ``x`` binds), sorted by name."""
    free = x.free_symbols
    return sorted({i for a in x.atoms(sp.Indexed) for i in a.indices if isinstance(i, sp.Symbol) and i in free},
                  key=str)


def _rows(body: sp.Expr, slot: sp.Symbol) -> list:
    """The indices in front of the slot in a softmax's body: softmax(z[i])[j] is the softmax of row i."""
    return sorted({i for a in body.atoms(sp.Indexed) if slot in a.indices for i in a.indices
                   if i != slot and isinstance(i, sp.Symbol)}, key=str)


def _rows_and_class(x: sp.Expr) -> tuple:
    """(row indices, class index) of an entrywise layer's argument: sigmoid(z[j]) has class index j;
    sigmoid(z[i, j]) the row (example) i and the class j, the last index of an entry; (.., None) without one."""
    free = _class_indices(x)
    if len(free) <= 1:
        return [], (free[0] if free else None)
    entries = sorted((a for a in x.atoms(sp.Indexed) if any(i in free for i in a.indices)),
                     key=lambda a: (-len(a.indices), sp.default_sort_key(a)))
    last = next(i for i in reversed(entries[0].indices) if i in free)
    return [i for i in free if i != last], last


def _normalisers(expr: sp.Expr) -> list:
    """(g, l) for every softmax normaliser sum_l exp(g(l)) written out in ``expr``: the log-sum-exp of
    framework code and the denominator of a softmax written as a fraction."""
    out = []
    for s in sp.preorder_traversal(expr):
        if isinstance(s, sp.Sum) and len(s.limits) == 1 and isinstance(s.function, sp.exp):
            l, body = s.limits[0][0], s.function.args[0]
            if any(l in a.indices for a in body.atoms(sp.Indexed)):
                out.append((body, l))
    return out


def _logistic_arguments(expr: sp.Expr) -> list:
    """(g, j) for every 1 + exp(g) or 1 + exp(-g) written out in ``expr`` with g over one class index j:
    a sigmoid 1/(1 + exp(-g)), exp(g)/(1 + exp(g)) or a softplus log(1 + exp(g))."""
    out = []
    for a in sp.preorder_traversal(expr):
        if not isinstance(a, sp.Add) or len(a.args) != 2 or sp.Integer(1) not in a.args:
            continue
        e = next(t for t in a.args if t != 1)
        if not isinstance(e, sp.exp):
            continue
        g = e.args[0]
        g = -g if g.could_extract_minus_sign() else g
        rows, c = _rows_and_class(g)
        if c is not None:
            out.append((g, c, rows))
    return out


def _tanh_arguments(expr: sp.Expr) -> list:
    """(g, j, rows) for every tanh written out in ``expr``, (exp(g) - exp(-g))/(exp(g) + exp(-g)) with g over
    one class index j (what the planner's hyperbolic step rewrites as tanh(g))."""
    from .rules.algebra import hyperbolic_form
    out = []
    for node in sp.preorder_traversal(hyperbolic_form(expr)[0]):
        if isinstance(node, sp.tanh):
            rows, c = _rows_and_class(node.args[0])
            if c is not None:
                out.append((node.args[0], c, rows))
    return out


# -- assumptions --------------------------------------------------------------------------------------

def _fact(n: int, lhs, rhs, sizes, K):
    """sum(y[j], j) = 1 (or sum(y[i, j], j) = 1, every example's row) -> the normalized-targets assumption;
    anything else is refused."""
    if (isinstance(lhs, sp.Sum) and len(lhs.limits) == 1 and isinstance(lhs.function, sp.Indexed)
            and lhs.function.indices[-1:] == (lhs.limits[0][0],) and rhs == 1
            and lhs.limits[0][0] not in lhs.function.indices[:-1]):
        index = lhs.limits[0][0]
        return normalized(lhs.function.base, index, sizes.get(index, K), prefix=tuple(lhs.function.indices[:-1]))
    raise ArgumentError(f"assume[{n}]", "only an assumption of the form sum(y[j], j) = 1 (targets that sum "
                                        "to one; sum(y[i, j], j) = 1 for each example's row) is supported")


# -- names --------------------------------------------------------------------------------------------

def _fresh(pool: Iterable[str], used: set) -> str:
    for name in pool:
        if name not in used:
            return name
    raise ArgumentError("cost", "the cost uses every name derive would give its outputs")  # pragma: no cover


def _index(pool, used: set, prefer: tuple = (), keep: bool = True):
    for name in tuple(prefer) + tuple(pool):
        if name not in used:
            if keep:
                used.add(name)
                return sp.Symbol(name, integer=True, positive=True)
            return name
    raise ArgumentError("cost", "the cost uses every index name derive would choose")  # pragma: no cover
