"""Reading a document's notation: its definitions (by cases, by section, by pattern, contradicted by its own
derivation), assumptions, the conditions its prose states, index ranges, functions of an example, primes and
matrices written out. Everything here turns parsed LaTeX into a Setting and facts; nothing is checked here."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Optional

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..assumptions import bias_input, different, hot_at, normalized, one_hot
from ..definitions import sigmoid, softmax
from ..expr import bound_indices, rename_bound
from ..layers import read as read_layer
from ..setting import Definition, Setting
from .extract import Chain
from .latex import K_SYMBOL, Names, Unreadable, in_notation, parse_latex


@dataclass
class Parsed:
    chain: Chain
    exprs: list          # sympy or Unreadable per piece


def parse_piece(text: str, names: Names):
    try:
        return parse_latex(text, names)
    except Unreadable as e:
        return e
    except Exception as e:  # noqa: BLE001 -- whatever SymPy raises, the formula is unread, never a traceback
        return Unreadable(f"cannot read the formula ({type(e).__name__})", 0)


def private_bounds(expr):
    """The summation indices of a definition renamed apart (fresh dummies): the verifier sets free index values
    with xreplace, which must not reach a bound index of the same name."""
    return rename_bound(expr, lambda i: sp.Dummy("b", integer=True, positive=True))


def as_definition(lhs, rhs, defined: dict) -> Optional[Definition]:
    """lhs = rhs defines lhs when lhs is a name or a name with index symbols, not defined yet, and rhs does not
    mention it; log X_i = rhs defines X_i = e^{rhs}."""
    if isinstance(lhs, sp.log) and isinstance(lhs.args[0], (sp.Indexed, sp.Symbol)):
        lhs, rhs = lhs.args[0], sp.exp(rhs)
    if isinstance(lhs, sp.Indexed):
        if not all(isinstance(i, sp.Symbol) and i != K_SYMBOL for i in lhs.indices) \
                or len(set(lhs.indices)) != len(lhs.indices):
            return None  # y_1 = ... or y_K = ...: one case of a definition (as_case)
        base = lhs.base
        if str(base) + "[]" in defined or rhs.has(base):
            return None
        return with_kernel(Definition(f"def_{base}", base, tuple(lhs.indices), private_bounds(rhs),
                                       text="from the document"))
    if isinstance(lhs, sp.Symbol) and lhs != K_SYMBOL and not lhs.is_integer:
        if str(lhs) in defined or lhs in rhs.free_symbols:
            return None
        return Definition(f"def_{lhs}", lhs, (), private_bounds(rhs), text="from the document")
    return None


def with_kernel(d: Definition) -> Definition:
    """A definition that is a layer of derive.layers (a softmax e^{g(j)} / sum_l e^{g(l)}, a sigmoid
    1 / (1 + e^{-g(j)}), a tanh, ...: each layer's own reading), marked as such: the planner folds its
    quotients back into the defined name."""
    found = read_layer(d.expr, tuple(d.indices))
    if found is None:
        return d
    layer, g = found
    return replace(d, kernel=layer.name, argument=g)


def as_assumption(lhs, rhs):
    """sum_j y_j = 1 -> the normalized-targets assumption."""
    if (isinstance(lhs, sp.Sum) and len(lhs.limits) == 1 and isinstance(lhs.function, sp.Indexed)
            and lhs.function.indices[-1] == lhs.limits[0][0] and rhs == 1):
        index = lhs.limits[0][0]
        return normalized(lhs.function.base, index, K_SYMBOL, prefix=tuple(lhs.function.indices[:-1]))
    return None


def as_one(expr):
    """sum_j y_j or y_1 + y_2 + y_3 (noted = 1 under an underbrace) -> targets that sum to one."""
    if isinstance(expr, Unreadable):
        return None
    if isinstance(expr, sp.Sum):
        return as_assumption(expr, sp.Integer(1))
    terms = expr.args if isinstance(expr, sp.Add) else ()
    if terms and all(isinstance(t, sp.Indexed) for t in terms) and len({t.base for t in terms}) == 1:
        heads = {t.indices[:-1] for t in terms}
        if len(heads) == 1 and all(t.indices[-1].is_Integer for t in terms):
            j = sp.Symbol("j", integer=True, positive=True)
            return normalized(terms[0].base, j, K_SYMBOL, prefix=tuple(next(iter(heads))))
    return None


_NEQ = re.compile(r"\b([a-z])\s*(?:\\neq|\\ne\b|!=|≠|\\not\s*=)\s*([a-z])\b")   # i \not= k too

_NEQ_WORDS = re.compile(r"\b([a-z])\s+(?:is\s+)?(?:different\s+from|not\s+equal\s+to|other\s+than|distinct\s+from)\s+([a-z])\b"
                        r"|\b([a-z])\s+and\s+([a-z])\s+are\s+(?:not\s+equal|different|distinct)\b")   # n and k are not equal

_HOT = (  # where j is the index of the element of y that is "hot" / where y_j = 1
    re.compile(r"^[\s,.;:]*where\s+([a-z])\s+is\s+the\s+index\s+of\s+[^.]*?\b([a-z])\b[^.]*?\bhot\b"),
    re.compile(r"^[\s,.;:]*where\s+([a-z])_\{?([a-z])\}?\s*=\s*1\b"),
)


def _prose(text: str) -> str:
    """Prose with its inline-math delimiters removed: 'where \\(j\\) is' -> 'where j is'."""
    return re.sub(r"\\\\?[()]|\$", "", text)


_ONE_HOT = re.compile(r"one[- ]hot|\b1 for the (?:true|correct|right|target) class and 0\b|exactly one of [^.]{0,40}\bis 1\b",
                      re.IGNORECASE)
_MATH_NAME = re.compile(r"(?:\$\$?|\\\\?\()\s*(?:\\(?:mathbf|boldsymbol|bm|vec)\s*\{?\s*)?([A-Za-z])\s*\}?\s*"
                        r"(?:_\{?\s*[a-z]\s*\}?)?\s*(?:s\b)?\s*(?:\$\$?|\\\\?\))")


def _one_hot_said(tail: str, names: Names):
    """The base the prose says is one-hot (y is a one-hot vector; Y_i is 1 for the true class and 0 otherwise;
    exactly one of the t_i is 1), when the sentence saying it names exactly one base the document indexes."""
    for sentence in re.split(r"(?<=[.!?])\s+", tail):
        if not _ONE_HOT.search(sentence):
            continue
        named = {m.group(1) for m in _MATH_NAME.finditer(sentence)} & set(names.bases)
        if len(named) == 1:
            return names.bases[named.pop()]
    return None


def prose_conditions(before: str, names: Names, after: str = "") -> tuple:
    """The conditions stated in the prose around a block: j != k just before it (For $j \\neq k$: ...) or
    just after it (..., where j != i), and a one-hot target's hot index just after it (where j is the index of
    the element of y that is "hot")."""
    tail = before[-400:]
    lead = re.match(r"[\s,.;:]*(?:where|for|if|when)\b[^.]{0,80}", after)
    if lead:
        tail = tail + " " + lead.group()
    out: list = []
    for m in _NEQ_WORDS.finditer(_prose(tail)):  # For \( k \) different from \( i \):
        a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        out.append(different(names.index(a), names.index(b)))
    for m in _NEQ.finditer(tail):
        if tail[max(0, m.start(1) - 1):m.start(1)] == "_":  # y_{j \neq i}: a subscript, not a condition
            continue
        out.append(different(names.index(m.group(1)), names.index(m.group(2))))
    hot = _one_hot_said(tail, names)
    if hot is not None:
        out.append(one_hot(hot, sp.Dummy("h", integer=True, positive=True), K_SYMBOL))
    plain = _prose(after[:240])
    for n, pattern in enumerate(_HOT):
        hot = pattern.search(plain)
        if hot:
            index, base = (hot.group(1), hot.group(2)) if n == 0 else (hot.group(2), hot.group(1))
            if base in names.bases:
                out.append(hot_at(names.bases[base], names.index(index)))
            break
    return tuple(out)


def conventional(names: Names, used: set, defined: dict, differentiated: frozenset | set = frozenset()) -> list:
    """The catalogue's conventions for names the document uses but does not define."""
    out: list = []
    z = names.bases.get("z")
    if z is None:
        return out
    j, l = sp.Symbol("j", integer=True, positive=True), sp.Symbol("_l", integer=True, positive=True)
    candidates = [n for n in ("o", "p", "a") if n in used] + sorted(differentiated - {"o", "p", "a", "s", "z"})
    for name in candidates:
        if name + "[]" not in defined:
            base = names.base(name)
            out.append(replace(softmax(base, lambda i: z[i], j, l, K_SYMBOL, name=f"def_{name}"),
                               text="softmax (catalogue convention)"))
            break
    if "s" in used and "s[]" not in defined:
        out.append(replace(sigmoid(names.base("s"), z, j), name="def_s", text="sigmoid (catalogue convention)"))
    return out


# -- checking ------------------------------------------------------------------------------------

def applications(parsed) -> dict:
    """Functions written with an example argument, h_c(x^{(i)}) = h[i, c], and also bare, h_1 = h[1]: the
    bare ones are rewritten h[i, 1] in place. {name: example index}."""
    with_example: dict = {}
    bare: set = set()
    for item in parsed:
        for e in item.exprs:
            if isinstance(e, Unreadable):
                continue
            for atom in e.atoms(sp.Indexed):
                if len(atom.indices) == 2 and isinstance(atom.indices[0], sp.Symbol):
                    with_example.setdefault(atom.base, set()).add(atom.indices[0])
                elif len(atom.indices) == 1:
                    bare.add((atom.base, atom.indices[0]))
    found = {b: next(iter(v)) for b, v in with_example.items()
             if len(v) == 1 and any(base == b and i not in v for base, i in bare)}
    if not found:
        return {}
    for item in parsed:
        item.exprs = [e if isinstance(e, Unreadable) else e.replace(
            lambda a: isinstance(a, sp.Indexed) and a.base in found and len(a.indices) == 1
            and a.indices[0] != found[a.base],
            lambda a: a.base[found[a.base], a.indices[0]]) for e in item.exprs]
    return {str(b): str(i) for b, i in found.items()}


def matrix_facts(lhs, rhs) -> list:
    """x^{(i)} = [1; x_1^{(i)}]: the row holding x_1 numbers the rows, so the constant 1 is x_0, the bias."""
    if not isinstance(lhs, sp.Indexed) or rhs.shape[1] != 1:
        return []
    base, head = lhs.base, tuple(lhs.indices)
    offset = None
    for r in range(rhs.shape[0]):
        e = rhs[r, 0]
        if isinstance(e, sp.Indexed) and e.base == base and e.indices[:-1] == head and e.indices[-1].is_Integer:
            offset = int(e.indices[-1]) - r
    if offset is None:
        return []
    return [bias_input(base, head[0]) for r in range(rhs.shape[0])
            if rhs[r, 0] == 1 and r + offset == 0 and len(head) == 1]


def as_case(lhs, rhs, by_case: dict) -> bool:
    """h_1(x^{(i)}) = ...: one case of a definition over its class index (the numbered index); recorded."""
    if not isinstance(lhs, sp.Indexed) or rhs.has(sp.Derivative) or rhs.has(lhs.base):
        return False
    numbers = [n for n, i in enumerate(lhs.indices) if i.is_Integer or i == K_SYMBOL]
    symbols = [i for i in lhs.indices if isinstance(i, sp.Symbol) and i != K_SYMBOL]
    if len(numbers) != 1 or len(symbols) != len(lhs.indices) - 1:
        return False
    position = numbers[0]
    key = (lhs.base, position, tuple(symbols))
    value = lhs.indices[position]
    by_case.setdefault(key, {})[int(value) if value.is_Integer else value] = rhs
    return True


def case_definitions(by_case: dict, defined: dict):
    """One definition per function given case by case for classes 1..n (Piecewise in the class index)."""
    for (base, position, symbols), cases in by_case.items():
        if str(base) + "[]" in defined:
            continue
        if set(cases) == {1, K_SYMBOL}:  # y_1 = z_1 / sum_k z_k, ..., y_K = z_K / sum_k z_k: the pattern of y_j
            general = _pattern(cases[1], cases[K_SYMBOL])
            if general is not None:
                j, expr = general
                indices = list(symbols)
                indices.insert(position, j)
                yield (Definition(f"def_{base}", base, tuple(indices), private_bounds(expr),
                                  text="from the document (its entries 1 and K)"),
                       f"{base} is defined by its entries {base}_1, ..., {base}_K: read as {base}_j for every j")
            continue
        if sorted(cases) != list(range(1, len(cases) + 1)) or len(cases) < 2:
            continue
        c = sp.Dummy("c", integer=True, positive=True)
        indices = list(symbols)
        indices.insert(position, c)
        pieces = [(private_bounds(cases[v]), sp.Eq(c, v)) for v in sorted(cases)[:-1]]
        pieces.append((private_bounds(cases[len(cases)]), True))
        d = Definition(f"def_{base}", base, tuple(indices), sp.Piecewise(*pieces), text="from the document, by cases")
        yield d, (f"{base} is defined case by case ({', '.join(f'{base}_{v}' for v in sorted(cases))}): "
                  f"read as one definition over the {len(cases)} classes")


def entrywise(left: str, right: str, names: Names):
    """Both sides of a vector or matrix equation as their entries at fresh indices: (a, b, '') or the reason."""
    try:
        sides = [parse_latex(text, names, matrix=True) for text in (left, right)]
    except Unreadable as e:
        return None, None, e.message
    except Exception as e:  # noqa: BLE001 -- SymPy refusing a matrix operation: unread, never a traceback
        return None, None, f"cannot read the matrix expression ({type(e).__name__})"
    shapes = {s.shape if isinstance(s, MatrixExpr) else (1, 1) for s in sides}
    if len(shapes) != 1:
        return None, None, "the two sides have different shapes"
    rows, cols = shapes.pop()
    if (rows, cols) == (1, 1):
        return None, None, "a product of vectors that is a number"
    free = [c for c in "kjimnpqrst" if c not in names.indices] + ["_r", "_s"]
    fresh = [names.index(c) for c in free[:2]]
    at = (fresh[0], 0) if cols == 1 else (0, fresh[1]) if rows == 1 else tuple(fresh)
    return in_notation(sides[0][at], names), in_notation(sides[1][at], names), ""


def _pattern(first, last):
    """(j, e(j)) with e(1) = ``first`` and e(K) = ``last``: the 1s that index entries in ``first`` are where
    ``last`` has K. None when the two are not one pattern."""
    j = sp.Symbol("j", integer=True, positive=True)
    general = first.replace(lambda a: isinstance(a, sp.Indexed) and 1 in a.indices,
                            lambda a: a.base[tuple(j if i == 1 else i for i in a.indices)])
    if general.xreplace({j: K_SYMBOL}) == last and general.has(j):
        return j, general
    return None


def primed_names(e) -> set:
    return {str(s) for s in e.free_symbols if str(s).endswith("^\\prime")} | \
           {str(a.base) for a in e.atoms(sp.Indexed) if str(a.base).endswith("^\\prime")}


def read_primes(e, head, said=None):
    """u' v - u v' in a chain that starts with dh/dx: u' is du/dx. In a chain that starts otherwise, ``said`` is
    the variable the prose names ("the derivative of softmax(x)[n] with respect to x[k]"): y'[n] is dy[n]/dx[k]."""
    if not primed_names(e):
        return e
    if isinstance(head, sp.Derivative) and len(head.variables) == 1:
        x = head.variables[0]
    elif said is not None and not isinstance(head, sp.Derivative):
        x = said
    else:
        return e
    mark = "^\\prime"
    mapping = {s: sp.Derivative(sp.Symbol(str(s)[:-len(mark)]), x) for s in e.free_symbols if str(s).endswith(mark)}
    e = e.replace(lambda a: isinstance(a, sp.Indexed) and str(a.base).endswith(mark),
                  lambda a: sp.Derivative(sp.IndexedBase(str(a.base)[:-len(mark)])[a.indices], x))
    return e.xreplace(mapping)


_WITH_RESPECT = re.compile(r"with\s+respect\s+to\s+(?:\$([^$]{1,40})\$|\\\(([^)]{1,40})\\\)|([A-Za-z](?:\[[A-Za-z0-9]\]|_\{?[A-Za-z0-9]\}?))(?![\w{]))")


def said_variable(prose: str, names: Names):
    """The entry the prose last names as the variable of a derivative, "the derivative of softmax(x)[n] with respect to
    x[k]" (x[k]); None if it names none, or something other than one name or entry."""
    found = None
    for m in _WITH_RESPECT.finditer(prose):
        v = parse_piece(next(g for g in m.groups() if g), names)
        if isinstance(v, (sp.Symbol, sp.Indexed)) and not (isinstance(v, sp.Symbol) and v.is_integer):
            found = v
    return found


_SAME_BEFORE = re.compile(r"\b(?:if|when|for|with)\s+([a-z])\s*=\s*([a-z])\s*[,:]?\s*(?:[A-Za-z]+\s*){0,5}[,.;:]?\s*$",
                          re.IGNORECASE)   # If $i = j$, this gives:
_SAME_WORDS = re.compile(r"\b(?:if|when|where|which|for)\s+([a-z])\s+(?:equals|is\s+equal\s+to)\s+([a-z])\s*[,:.]?\s*$",
                         re.IGNORECASE)   # The case in which n equals k:
_SAME_REMARK = re.compile(r"^[\s,;:]*([a-z])\s*=\s*([a-z])[\s,.;]*$")  # the whole remark is the case: \quad i = j


def index_equalities(before: str, remarks: list, exprs: list) -> dict:
    """'If $i = k$,' just before a block, or '\\quad i = j' after its row: the chain is said for equal indices.
    Returns {k: i} (the second letter read as the first) for letters that are free indices of the chain."""
    free = {str(x): x for e in exprs if not isinstance(e, Exception) for x in free_indices(e)}
    found = [m.groups() for m in _SAME_BEFORE.finditer(_prose(before[-80:]))]
    found += [m.groups() for m in _SAME_WORDS.finditer(_prose(before[-80:]).replace(">", " "))]
    for remark in remarks:
        plain = re.sub(r"\\(?:quad|qquad|text|mbox|mathrm|hbox)\b|[{}]|\b(?:if|for|when)\b", " ", remark)
        if not _NEQ.search(plain):
            found += [m.groups() for m in _SAME_REMARK.finditer(plain.strip())]
    out = {}
    for a, b in found:
        if a != b and a in free and b in free:
            out[free[b]] = free[a]
    return out


_VALUE = re.compile(r"^[\s,.;:]*(?:if|when|for)\s+([a-z])\s*=\s*(\d+)\b")


def index_values(after: str, names: Names) -> dict:
    """'... if j = 0' right after a formula: the formula is said at that value of the index."""
    m = _VALUE.search(_prose(after[:120]))
    if not m or m.group(1) not in names.indices:
        return {}
    return {names.indices[m.group(1)]: sp.Integer(m.group(2))}


def index_ranges(names: Names, exprs: list, facts: list) -> tuple:
    """Each index letter's range: 1..K, or 0..n where the entries it indexes are numbered from 0 in the
    document (Theta_{10}, Theta_{11} and x_0 = 1: the feature index runs over 0..1)."""
    numbers: dict = {}   # (base, position) -> the numbers written there
    uses: dict = {}      # index -> {(base, position)}
    for e in list(exprs) + [f.statement for f in facts]:
        bound = bound_indices(e)
        for atom in e.atoms(sp.Indexed):
            for n, i in enumerate(atom.indices):
                if i.is_Integer:
                    numbers.setdefault((atom.base, n), set()).add(int(i))
                elif isinstance(i, sp.Symbol) and i not in bound:
                    uses.setdefault(i, set()).add((atom.base, n))
    out = []
    for i in names.indices.values():
        written = set().union(*(numbers.get(place, set()) for place in uses.get(i, ())))
        if written and min(written) == 0:
            out.append((i, (sp.Integer(0), sp.Integer(max(written)))))
        else:
            out.append((i, (sp.Integer(1), K_SYMBOL)))
    return tuple(out)


def in_force(setting: Setting, scoped: dict, chain: int) -> Setting:
    """``setting`` with each name defined more than once read with its last definition before ``chain``."""
    if not scoped:
        return setting
    chosen = {}
    for key, versions in scoped.items():
        before = [d for number, d in versions if number <= chain]
        chosen[key] = before[-1] if before else versions[0][1]
    definitions = tuple(chosen.get(definition_key(d), d) for d in setting.definitions)
    return replace(setting, definitions=definitions)


def abstract_costs(work, defined):
    """Undefined scalars differentiated with respect to entries of vectors (dL/do_j, dC/dz^l_j, dC/dW^l_jk):
    (L, v) pairs, v the defined vector every other one feeds (L is any differentiable function of v)."""
    found: dict = {}
    for _, exprs, _ in work:
        for e in exprs:
            for n in e.atoms(sp.Derivative):
                if isinstance(n.expr, sp.Symbol) and str(n.expr) not in defined and not n.expr.is_integer:
                    found.setdefault(n.expr, set()).update(v.base for v in n.variables if isinstance(v, sp.Indexed))
    feeds = _feeds(defined)
    out = []
    for sym, bases in found.items():  # dL/dz_k and dL/do_j: L is a function of the defined o, which feeds on z
        top = [b for b in bases if str(b) + "[]" in defined and bases - {b} <= feeds.get(b, set())]
        if len(top) == 1:
            out.append((sym, top[0]))
    return out


def _feeds(defined: dict) -> dict:
    """base -> every base its definition reaches, through the definitions of the bases it uses."""
    direct = {d.symbol: {a.base for a in d.expr.atoms(sp.Indexed)} for d in defined.values() if d.indices}
    out = {}
    for base in direct:
        seen, todo = set(), [base]
        while todo:
            for b in direct.get(todo.pop(), ()):
                if b not in seen:
                    seen.add(b)
                    todo.append(b)
        out[base] = seen
    return out


def bare_symbols(e) -> set:
    """Symbols used on their own, not as the name of an indexed entry (o in o - y, not in o_j)."""
    e = e.replace(lambda n: isinstance(n, sp.Derivative) and isinstance(n.expr, sp.Symbol),
                  lambda n: sp.Dummy())  # dC/dz_j: C is the scalar cost, even where C_x is also written
    plain = e.xreplace({i: sp.Dummy() for i in e.atoms(sp.Indexed)}).free_symbols
    return {x for x in plain if isinstance(x, sp.Symbol) and not isinstance(x, sp.Dummy)}


def definition_key(d: Definition) -> str:
    return str(d.symbol) + ("[]" if d.indices else "")


def looks_defining(d: Definition) -> bool:
    """A plain 'x = ...' defines x when the right-hand side has no derivative."""
    return not d.expr.has(sp.Derivative)


def unique_facts(facts):
    seen: dict = {}
    for a in facts:
        seen.setdefault(a.key, a)
    return list(seen.values())


def label_bases(definitions, exprs) -> set:
    """Bases used as an index of another base (y of p_{i, y_i}) are integer labels."""
    out = set()
    for e in list(exprs) + [d.expr for d in definitions]:
        for atom in e.atoms(sp.Indexed):
            for i in atom.indices:
                if isinstance(i, sp.Indexed):
                    out.add(i.base)
        for kd in e.atoms(sp.KroneckerDelta):
            for i in kd.args:
                if isinstance(i, sp.Indexed):
                    out.add(i.base)
    return out


def free_indices(e) -> set:
    """The index symbols free in ``e``, those inside a derivative's variable (d/dh_1(x^(i))) included."""
    inside = {s for a in e.atoms(sp.Indexed) for s in a.free_symbols}
    index = {s for s in e.free_symbols | inside if isinstance(s, sp.Symbol) and s.is_integer and s != K_SYMBOL}
    # a letter a sum binds is still free where it is also written outside every sum (e^{x_k} / \sum e^{x_k})
    plain = {s for s in e.free_symbols if isinstance(s, sp.Symbol)}
    return index - (bound_indices(e) - plain)


def index_slips(definitions) -> list:
    """The definitions whose right side has a free index their left side lacks, in place of the one it has
    (p_j = e^{a_i} / sum_k e^{a_k}): as written, p_j is the same for every j; the author most likely meant the
    left side's index. Each is (the definition's key, the definition with the right side's index read as the left
    side's, the index written, the index meant); only a single index each way is read so."""
    out = []
    for d in definitions:
        if d.abstract or not d.indices:
            continue
        free = free_indices(d.expr)
        missing = [i for i in d.indices if i not in free]
        extra = sorted(free - set(d.indices), key=str)
        if len(missing) == 1 and len(extra) == 1:
            written, meant = extra[0], missing[0]
            renamed = with_kernel(replace(d, expr=d.expr.xreplace({written: meant}), kernel="", argument=None))
            out.append((definition_key(d), renamed, written, meant))
    return out


def dropped_indices(a, b, names: Names) -> dict:
    """{bare name: its entry} for the names a link writes both bare and with one index, the same index at every
    entry of that name in the link (log(\\hat y_i) + log(1 - \\hat y)): the bare one is that entry with its
    index left off. {} when some bare name of the link is not so (written with two indices, or with different
    ones, or only bare: a vector, read entry by entry elsewhere)."""
    out = {}
    for x in bare_symbols(a) | bare_symbols(b):
        base = names.bases.get(str(x))
        if base is None:
            continue
        entries = {e for side in (a, b) for e in side.atoms(sp.Indexed) if e.base == base}
        if len(entries) != 1:
            return {}
        entry = entries.pop()
        if len(entry.indices) != 1 or not isinstance(entry.indices[0], sp.Symbol) or entry.indices[0] == K_SYMBOL:
            return {}
        out[x] = entry
    return out


_LAYERED = re.compile(r"^(?P<name>.+)\^(?P<layer>[A-Za-z])(?P<shift>[+-][0-9]+)?$")


def _layer_of(name: str):
    """('z', 'l', 1) for z^l+1, ('a', 'L', 0) for a^L, or None for a name with no layer superscript."""
    m = _LAYERED.match(name)
    return None if m is None else (m["name"], m["layer"], int(m["shift"] or 0))


def layer_instances(defined: dict, exprs: list) -> list:
    """[(definition, note)]: a document that defines each layer once, for a generic layer l (z^l_j := b^l_j +
    sum_k W^l_jk a^{l-1}_k, delta^l_j := dC/dz^l_j), and writes l + 1 in its claims (BP2: dC/dz^l_j through
    z^{l+1}), states each of them one layer on as well (z^{l+1}, delta^{l+1}), as a textbook's "for every
    layer l" means; a cost C left undefined is then any function of the last of them (abstract_costs)."""
    bases = {str(b) for e in exprs for b in e.atoms(sp.IndexedBase)} | \
        {str(s) for e in exprs for s in e.free_symbols if isinstance(s, sp.Symbol)}
    generic = {}
    for d in defined.values():
        layer = _layer_of(str(d.symbol))
        if layer is not None and layer[1].islower() and layer[2] == 0:
            generic[layer[0]] = (layer[1], d)
    letters = {g for g, _ in generic.values()}
    if len(letters) != 1:
        return []
    g = letters.pop()
    if not any(_layer_of(b) is not None and _layer_of(b)[1:] == (g, 1) for b in bases):
        return []  # the claims never go one layer on: nothing to read one layer on

    def shifted(name: str):
        layer = _layer_of(name)
        if layer is None or layer[1] != g:
            return None
        n = layer[2] + 1
        return f"{layer[0]}^{g}" + (f"{n:+d}" if n else "")

    def renamed(expr):
        swap = {}
        for b in expr.atoms(sp.IndexedBase):
            new = shifted(str(b))
            if new is not None:
                swap[b] = sp.IndexedBase(new, **b.assumptions0)
        for s in expr.free_symbols:
            new = shifted(str(s)) if isinstance(s, sp.Symbol) else None
            if new is not None:
                swap[s] = sp.Symbol(new, **s.assumptions0)
        return expr.xreplace(swap)

    out = []
    keys = set(defined)
    for _name, (_, d) in sorted(generic.items()):
        one_on = replace(d, name=d.name + "_next", symbol=renamed(d.symbol), expr=renamed(d.expr))
        key = definition_key(one_on)
        if key not in keys:
            keys.add(key)
            out.append((one_on, f"{d.symbol} is defined for every layer {g}: read one layer on as well, "
                                f"{one_on.symbol}"))
    return out


def _expanded(f, definitions, passes: int = 6):
    """``f`` with the document's definitions put in, a few passes deep."""
    for _ in range(passes):
        before = f
        for d in definitions:
            if d.occurs_in(f):
                f = d.expand_in(f)
        if f == before:
            break
    return f


def stand_in_variables(work, everything: list, definitions) -> dict:
    """Letters an author switched for a vector of inputs: {v: a} for a base v the document writes only as a variable
    of differentiation (d L / d o_i, with o never defined nor written anywhere else) where everything it
    differentiates with respect to v depends, through the document's definitions, on one same vector of inputs a
    (p_k = softmax(a)_k, L = -sum y log p): v is read as a (deepnotes' o for the logits a). None where the
    differentiated quantities share no input, or more than one (which one is meant, the document does not say), or
    where one of them writes an input itself (dh_k/dw_j: h is said to depend on w)."""
    own = {d.symbol for d in definitions}
    inputs = {a.base for d in definitions for a in d.expr.atoms(sp.Indexed)} - own
    shared: dict = {}
    for e in (x for _, exprs, _ in work for x in exprs):
        for n in e.atoms(sp.Derivative):
            reached = {a.base for a in _expanded(n.expr, definitions).atoms(sp.Indexed)} & inputs
            if {a.base for a in n.expr.atoms(sp.Indexed)} & inputs:
                reached = set()   # dh_k/dw_j with h itself an input: the author says h depends on w, not that w is h
            for v in n.variables:
                if isinstance(v, sp.Indexed) and v.base not in own and v.base not in inputs:
                    shared[v.base] = shared.get(v.base, reached) & reached
    def outside_derivatives(e):
        return e.replace(lambda n: isinstance(n, sp.Derivative), lambda n: n.expr)
    written = set()
    for e in everything:
        if not isinstance(e, Exception):
            written |= {a.base for a in outside_derivatives(e).atoms(sp.Indexed)}
    written |= {a.base for d in definitions for a in (d.expr.atoms(sp.Indexed) | {d.lhs}) if isinstance(a, sp.Indexed)}
    return {v: next(iter(bases)) for v, bases in shared.items() if len(bases) == 1 and v not in written}


def implied_definitions(work, defined: dict) -> dict:
    """What the derivation itself says an undefined entry is, where the document never defines it: {base: [(line,
    Definition)]}, in document order. Two kinds of link imply one: a sum written again over the name, ``-\\sum_j
    y_j \\log p_j = -\\sum_j \\ell_j`` (\\ell_j is the term, y_j log p_j), and a derivative of the name equated to
    the derivative of an expression in the same variable, ``\\frac{\\partial \\ell_j}{\\partial p_j} =
    \\frac{\\partial}{\\partial p_j}(-y_j \\log p_j)`` (\\ell_j is -y_j log p_j). Only bases no definition uses."""
    used = {a.base for d in defined.values() for a in d.expr.atoms(sp.Indexed)} | {d.symbol for d in defined.values()}
    out: dict = {}

    def add(x, expr, line):
        if x.base in used or expr.has(x.base) or not all(isinstance(i, sp.Symbol) for i in x.indices) \
                or len(set(x.indices)) != len(x.indices):
            return
        d = with_kernel(Definition(f"def_{x.base}", x.base, tuple(x.indices), private_bounds(expr), text="implied"))
        out.setdefault(x.base, []).append((line, d))   # the same reading again: another line that implies it

    for claims, exprs, _ in work:
        for n, claim in enumerate(claims):
            a, b = exprs[n], exprs[n + 1]
            for p, q in ((a, b), (b, a)):
                if isinstance(p, sp.Derivative) and isinstance(q, sp.Derivative) and isinstance(p.expr, sp.Indexed) \
                        and p.variables == q.variables and not q.expr.has(p.expr.base):
                    add(p.expr, q.expr, claim.line)
                for s in q.atoms(sp.Sum):
                    body, (j, lo, hi) = s.function, s.limits[0]
                    sign = -1 if body.could_extract_minus_sign() else 1
                    x = sign * body
                    if not (isinstance(x, sp.Indexed) and x.indices == (j,)) or len(s.limits) != 1:
                        continue
                    t = sp.Dummy("t")
                    for other in p.atoms(sp.Sum):
                        if len(other.limits) == 1 and other.limits[0][1:] == (lo, hi) \
                                and q.xreplace({s: t}) == p.xreplace({other: t}) and not other.has(x.base):
                            k = other.limits[0][0]
                            add(x, sign * other.function.xreplace({k: j}), claim.line)
    return {base: found for base, found in out.items()}
