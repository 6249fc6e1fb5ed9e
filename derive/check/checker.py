"""Check a document's chains of equalities with derive's verifier.

Each chain a = b = c becomes a Derivation whose steps are the claims
(Rule.CLAIM), in a Setting built from the document's own definitions
(o_j = e^{z_j} / sum_k e^{z_k}, E := ...), and verify() checks every link the
way it checks a step of derive's own derivations: instantiated for several K
and index values, derivatives evaluated, compared at random points in high
precision. A link that fails without the document's assumptions
(sum_j y_j = 1) is checked again with them, and holds "using" them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence, Union

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixExpr

from ..assumptions import bias_input, different, hot_at, normalized
from ..definitions import any_cost, sigmoid, softmax
from ..errors import ArgumentError, ArgumentTypeError
from ..expr import SumExcept, bound_indices
from ..model import Derivation, Rule, Step
from ..setting import Definition, Setting
from .extract import chains as find_chains
from .latex import K_SYMBOL, Names, Parser, Unreadable, parse_latex

SCHEMA = "derive.check/1"
EXPECTED_CHAINS = 5   # chains whose first wrong claim gets the engine's closed form (each costs a derivation)


@dataclass
class Claim:
    """One link a = b of a chain: where it is, what it says, and the verdict."""

    line: int
    lhs: str
    rhs: str
    verdict: str = "unread"        # holds | wrong | unread
    reason: str = ""               # why unread, or how it holds (the assumption used)
    counterexample: Optional[dict] = None
    chain: int = 0
    lhs_line: int = 0
    uses: tuple = ()
    cases: tuple = ()              # index conditions (j != i) a claim holds under: the document's case split
    expected: str = ""             # the first wrong claim: the engine's closed form of the quantity (text)
    expected_latex: str = ""
    expected_of: str = ""          # ... of this side of the chain, as written

    def to_dict(self) -> dict:
        out = {"line": self.line, "lhs": self.lhs, "rhs": self.rhs, "verdict": self.verdict,
               "chain": self.chain}
        if self.reason:
            out["reason"] = self.reason
        if self.uses:
            out["uses"] = list(self.uses)
        if self.cases:
            out["cases"] = list(self.cases)
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample
        if self.expected:
            out["expected"] = {"of": self.expected_of, "text": self.expected, "latex": self.expected_latex}
        return out


@dataclass
class CheckReport:
    """Every claim of a document, the definitions and assumptions it was read with, and notes."""

    claims: list
    definitions: list = field(default_factory=list)
    assumptions: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    source: str = ""
    name: str = "<text>"

    @property
    def first_wrong(self) -> Optional[Claim]:
        return next((c for c in self.claims if c.verdict == "wrong"), None)

    @property
    def ok(self) -> bool:
        """No claim is wrong (unread claims are not errors, but they are listed)."""
        return self.first_wrong is None

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict:
        out = {"holds": 0, "wrong": 0, "unread": 0}
        for c in self.claims:
            out[c.verdict] += 1
        return out

    def to_dict(self) -> dict:
        first = self.first_wrong
        return {
            "schema": SCHEMA,
            "file": self.name,
            "claims": [c.to_dict() for c in self.claims],
            "first_wrong": first.to_dict() if first is not None else None,
            "counts": self.counts(),
            "definitions": list(self.definitions),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
        }

    def to_json(self, indent: int = 2) -> str:
        import json
        return json.dumps(self.to_dict(), indent=indent)

    def to_text(self) -> str:
        from .report import render_text
        return render_text(self)

    def to_markdown(self) -> str:
        from .report import render_markdown
        return render_markdown(self)

    def __str__(self) -> str:
        return self.to_text()


# -- reading the document ------------------------------------------------------------------------

@dataclass
class _Parsed:
    chain: object
    exprs: list          # sympy or Unreadable per piece


def _parse(text: str, names: Names):
    try:
        return parse_latex(text, names)
    except Unreadable as e:
        return e
    except Exception as e:  # noqa: BLE001 -- whatever SymPy raises, the formula is unread, never a traceback
        return Unreadable(f"cannot read the formula ({type(e).__name__})", 0)


_FRESH = iter(range(10 ** 9))


def _private_bounds(expr):
    """The summation indices of a definition renamed apart (_b0, _b1, ...): the verifier sets free index
    values with xreplace, which must not reach a bound index of the same name."""
    def rename(node):
        limits, body = [], node.function
        for i, lo, hi in node.limits:
            new = sp.Symbol(f"_b{next(_FRESH)}", integer=True, positive=True)
            body = body.xreplace({i: new})
            limits.append((new, lo, hi))
        return sp.Sum(body, *limits)
    expr = expr.replace(lambda n: isinstance(n, sp.Sum), rename)
    return expr.replace(lambda n: isinstance(n, SumExcept),
                        lambda n: SumExcept(n.function.xreplace({n.index: (b := sp.Symbol(
                            f"_b{next(_FRESH)}", integer=True, positive=True))}), (b, n.lower, n.upper), n.excluded))


def _as_definition(lhs, rhs, defined: dict) -> Optional[Definition]:
    """lhs = rhs defines lhs when lhs is a name or a name with index symbols, not defined yet, and rhs does not
    mention it; log X_i = rhs defines X_i = e^{rhs}."""
    if isinstance(lhs, sp.log) and isinstance(lhs.args[0], (sp.Indexed, sp.Symbol)):
        lhs, rhs = lhs.args[0], sp.exp(rhs)
    if isinstance(lhs, sp.Indexed):
        if not all(isinstance(i, sp.Symbol) and i != K_SYMBOL for i in lhs.indices) \
                or len(set(lhs.indices)) != len(lhs.indices):
            return None  # y_1 = ... or y_K = ...: one case of a definition (_as_case)
        base = lhs.base
        if str(base) + "[]" in defined or rhs.has(base):
            return None
        return _with_kernel(Definition(f"def_{base}", base, tuple(lhs.indices), _private_bounds(rhs),
                                       text="from the document"))
    if isinstance(lhs, sp.Symbol) and lhs != K_SYMBOL and not lhs.is_integer:
        if str(lhs) in defined or lhs in rhs.free_symbols:
            return None
        return Definition(f"def_{lhs}", lhs, (), _private_bounds(rhs), text="from the document")
    return None


def _with_kernel(d: Definition) -> Definition:
    """A definition that is a softmax (e^{g(j)} / sum_l e^{g(l)}) or a sigmoid (1 / (1 + e^{-g(j)})) of its
    one index, marked as such: the planner folds its quotients back into the defined name."""
    num, den = sp.fraction(d.expr)
    if isinstance(num, sp.exp) and isinstance(den, sp.Sum) and len(den.limits) == 1 \
            and isinstance(den.function, sp.exp) and d.indices[-1:]:
        l, g, j = den.limits[0][0], num.args[0], d.indices[-1]  # h_c(x^(i)): the softmax is over the last index
        if g.has(j) and den.function.args[0] == g.xreplace({j: l}):
            return replace(d, kernel="softmax", argument=g)
    if len(d.indices) != 1:
        return d
    j = d.indices[0]
    if num == 1 and isinstance(den, sp.Add) and len(den.args) == 2 and 1 in den.args:
        e = next(a for a in den.args if a != 1)
        if isinstance(e, sp.exp) and e.args[0].could_extract_minus_sign() and e.args[0].has(j):
            return replace(d, kernel="sigmoid", argument=-e.args[0])
    return d


def _as_assumption(lhs, rhs):
    """sum_j y_j = 1 -> the normalized-targets assumption."""
    if (isinstance(lhs, sp.Sum) and len(lhs.limits) == 1 and isinstance(lhs.function, sp.Indexed)
            and lhs.function.indices[-1] == lhs.limits[0][0] and rhs == 1):
        index = lhs.limits[0][0]
        return normalized(lhs.function.base, index, K_SYMBOL, prefix=tuple(lhs.function.indices[:-1]))
    return None


def _as_one(expr):
    """sum_j y_j or y_1 + y_2 + y_3 (noted = 1 under an underbrace) -> targets that sum to one."""
    if isinstance(expr, Unreadable):
        return None
    if isinstance(expr, sp.Sum):
        return _as_assumption(expr, sp.Integer(1))
    terms = expr.args if isinstance(expr, sp.Add) else ()
    if terms and all(isinstance(t, sp.Indexed) for t in terms) and len({t.base for t in terms}) == 1:
        heads = {t.indices[:-1] for t in terms}
        if len(heads) == 1 and all(t.indices[-1].is_Integer for t in terms):
            j = sp.Symbol("j", integer=True, positive=True)
            return normalized(terms[0].base, j, K_SYMBOL, prefix=tuple(next(iter(heads))))
    return None


_NEQ = re.compile(r"\b([a-z])\s*(?:\\neq|\\ne\b|!=|≠)\s*([a-z])\b")


_HOT = [  # where j is the index of the element of y that is "hot" / where y_j = 1
    re.compile(r"^[\s,.;:]*where\s+([a-z])\s+is\s+the\s+index\s+of\s+[^.]*?\b([a-z])\b[^.]*?\bhot\b"),
    re.compile(r"^[\s,.;:]*where\s+([a-z])_\{?([a-z])\}?\s*=\s*1\b"),
]


def _prose(text: str) -> str:
    """Prose with its inline-math delimiters removed: 'where \\(j\\) is' -> 'where j is'."""
    return re.sub(r"\\\\?[()]|\$", "", text)


def _conditions(before: str, names: Names, after: str = "") -> tuple:
    """The conditions stated in the prose around a block: j != k just before it (For $j \\neq k$: ...) or
    just after it (..., where j != i), and a one-hot target's hot index just after it (where j is the index of
    the element of y that is "hot")."""
    tail = before[-400:]
    lead = re.match(r"[\s,.;:]*(?:where|for|if|when)\b[^.]{0,80}", after)
    if lead:
        tail = tail + " " + lead.group()
    out = []
    for a, b in _NEQ.findall(tail):
        if "_" in tail[max(0, tail.find(a) - 1):tail.find(a)]:
            continue
        out.append(different(names.index(a), names.index(b)))
    plain = _prose(after[:240])
    for n, pattern in enumerate(_HOT):
        m = pattern.search(plain)
        if m:
            index, base = (m.group(1), m.group(2)) if n == 0 else (m.group(2), m.group(1))
            if base in names.bases:
                out.append(hot_at(names.bases[base], names.index(index)))
            break
    return tuple(out)


def _conventional(names: Names, used: set, defined: dict, differentiated: set = frozenset()) -> list:
    """The catalogue's conventions for names the document uses but does not define."""
    out = []
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

def check(text: str, *, define: Sequence[str] = (), assume: Sequence[str] = (), name: str = "<text>",
          Ks: Sequence[int] = (2, 3, 4), points: int = 2, index_samples: int = 3, seed: int = 0) -> CheckReport:
    """Check every chain of equalities in a Markdown or LaTeX document; a CheckReport.

    ``define`` and ``assume`` add definitions (``o_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}``) and assumptions
    (``\\sum_j y_j = 1``) in LaTeX, as if the document stated them first.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError("text", f"must be the document as a str, got {type(text).__name__}")
    define = _texts("define", define)
    assume = _texts("assume", assume)
    names = Names()
    defined: dict = {}
    facts: list = []
    notes: list = []

    for n, line in enumerate(list(define) + list(assume)):
        parts = re.split(r":=|=", line, maxsplit=1)
        kind = "define" if n < len(define) else "assume"
        if len(parts) != 2:
            raise ArgumentError(kind, f"{line!r} is not an equation a = b")
        lhs, rhs = (_parse(p, names) for p in parts)
        if isinstance(lhs, Unreadable) or isinstance(rhs, Unreadable):
            bad = lhs if isinstance(lhs, Unreadable) else rhs
            raise ArgumentError(kind, f"cannot read {line!r}: {bad.message}")
        if kind == "define":
            d = _as_definition(lhs, rhs, defined)
            if d is None:
                raise ArgumentError("define", f"{line!r} does not define a name such as o_j or E")
            defined[_key(d)] = d
        else:
            a = _as_assumption(lhs, rhs)
            if a is None:
                raise ArgumentError("assume", f"{line!r}: only sums of targets equal to one (\\sum_j y_j = 1) "
                                              "are supported")
            facts.append(a)

    parsed = []
    for chain in find_chains(text):
        exprs = [_parse(p.text, names) for p in chain.pieces]
        parsed.append(_Parsed(chain, exprs))
    applied = _applications(parsed)
    for fn, example in applied.items():
        notes.append(f"{fn}_c without its argument is read as {fn}_c(x^({example})), the value for example {example}")

    claims: list = []
    versions: dict = {}   # key -> [(chain number, Definition)] for a plain name defined again further on
    by_case: dict = {}    # (base, position, other indices) -> {value: expression}: h_1(x) = ..., h_2(x) = ...
    where: dict = {}      # key -> (line, lhs, rhs, chain number) of the document's definition
    work: list = []   # (claims of one run of readable links, exprs, conditions)
    for number, item in enumerate(parsed, start=1):
        chain, exprs = item.chain, item.exprs
        values = _index_values(chain.after, names)
        if len(exprs) == 2 and not values and not any(isinstance(e, Unreadable) for e in exprs):
            lhs, rhs = exprs
            if isinstance(rhs, sp.MatrixBase):  # x^(i) = [1; x_1^(i)], Theta = [...]: entries, not a claim
                facts.extend(_matrix_facts(lhs, rhs))
                continue
            if isinstance(lhs, sp.Symbol) and (lhs.is_integer or str(lhs) in names.indices) and rhs.is_Integer:
                continue  # "if j = 0": a condition on an index, read with the formula it qualifies
            a = _as_assumption(lhs, rhs)
            if a is not None:
                facts.append(a)
                continue
            vector = isinstance(lhs, sp.Symbol) and str(lhs) in names.bases and any(  # delta^L = a^L - y: a claim
                str(x) in names.bases for x in _bare_symbols(rhs))
            d = None if vector else _as_definition(lhs, rhs, defined)
            if d is not None and (chain.links[0] == ":=" or _looks_defining(d)):
                defined[_key(d)] = d
                versions.setdefault(_key(d), []).append((number, d))
                where.setdefault(_key(d), (chain.pieces[1].line, chain.pieces[0].text, chain.pieces[1].text, number))
                continue
            if _as_case(lhs, rhs, by_case):
                where.setdefault(str(lhs.base) + "[]", (chain.pieces[1].line, chain.pieces[0].text, chain.pieces[1].text,
                                                         number))
                continue
            again = None if vector else _as_definition(lhs, rhs, {})
            if again is not None and _key(again) in defined and _looks_defining(again) \
                    and isinstance(lhs, sp.Symbol) and defined[_key(again)].expr != again.expr:
                versions[_key(again)].append((number, again))  # u = ... in one section, u = ... in the next
                continue
        for one in chain.equal_one:
            parsed_one = _parse(one, names)
            fact = _as_one(parsed_one)
            if fact is not None:
                facts.append(fact)
                if isinstance(parsed_one, sp.Add):  # y_1 + y_2 + y_3 = 1: three classes
                    names.counts.add(len(parsed_one.args))
        if not chain.display:
            continue
        run_claims, run_exprs = [], []
        conditions = _conditions(chain.before, names, chain.after)
        exprs = [_primed(e, exprs[0]) if not isinstance(e, Unreadable) else e for e in exprs]
        if values:
            exprs = [e.xreplace(values) if not isinstance(e, Unreadable) else e for e in exprs]
        for k in range(1, len(exprs)):
            a, b = exprs[k - 1], exprs[k]
            claim = Claim(chain.pieces[k].line, chain.pieces[k - 1].text, chain.pieces[k].text, chain=number,
                          lhs_line=chain.pieces[k - 1].line,
                          cases=tuple(f"{i} = {v}" for i, v in values.items()))
            claims.append(claim)
            why = ""
            if isinstance(a, Unreadable) or isinstance(b, Unreadable):
                bad, piece = (a, chain.pieces[k - 1]) if isinstance(a, Unreadable) else (b, chain.pieces[k])
                col = piece.column + bad.position
                why = f"cannot read {'the left' if bad is a else 'the right'}-hand side: {bad.message} " \
                      f"(line {_line(text, col)}, column {_col(text, col)})"
            elif chain.links[k - 1] == ":=":
                claim.verdict, claim.reason = "holds", "a definition"
                continue
            elif a.has(sp.MatrixBase) or b.has(sp.MatrixBase) or isinstance(a, sp.MatrixBase) \
                    or isinstance(b, sp.MatrixBase):
                why = "a matrix written out entry by entry is not read inside a formula"
            elif _primes(a) | _primes(b):
                why = (f"{', '.join(sorted(_primes(a) | _primes(b)))}: a prime needs the variable, and the chain "
                       "does not start with a derivative with respect to one")
            else:
                vectors = [str(x) for x in _bare_symbols(a) | _bare_symbols(b) if str(x) in names.bases]
                if vectors:  # delta^L = a^L - y: read as vectors and compared entry by entry
                    a, b, why = _entrywise(chain.pieces[k - 1].text, chain.pieces[k].text, names)
                    if why:
                        why = f"vector notation ({', '.join(sorted(vectors))} without an index): {why}"
            if why:
                claim.reason = why
                if run_claims:
                    work.append((run_claims, run_exprs, conditions))
                run_claims, run_exprs = [], []
                continue
            if not run_exprs:
                run_exprs = [a]
            run_exprs.append(b)
            run_claims.append(claim)
        if run_claims:
            work.append((run_claims, run_exprs, conditions))

    for d, text_ in _case_definitions(by_case, defined):
        defined[_key(d)] = d
        versions.setdefault(_key(d), []).append((0, d))
        notes.append(text_)
    used = set(names.bases)
    differentiated = {str(n.expr.base) for _, exprs, _ in work for e in exprs for n in e.atoms(sp.Derivative)
                      if isinstance(n.expr, sp.Indexed) and any(isinstance(v, sp.Indexed) and str(v.base) == "z"
                                                                for v in n.variables)}
    for d in _conventional(names, used, defined, differentiated):
        defined[_key(d)] = d
        notes.append(f"{d.symbol}_j is not defined in the document: read as the {d.text}")
    for key in [k for k, d in defined.items() if not d.indices and str(d.symbol) + "[]" in defined]:
        notes.append(f"{key} and {key}_... are both defined: the indexed one is used")
        del defined[key]
    for symbol, var in _abstract_costs(work, defined):
        m = sp.Symbol(f"_b{next(_FRESH)}", integer=True, positive=True)
        d = any_cost(symbol, var, m, K_SYMBOL, text=f"any differentiable function of {var}")
        defined[_key(d)] = d
        notes.append(f"{symbol} is not defined: read as any differentiable function of {var} "
                     "(checked with a test function that couples every entry)")
    for key, claim, d in _contradicted(work, defined, where):  # y_j = z_j / sum_k z_k, then y_i = e^{z_i} / ...
        claims.append(claim)
        defined[key] = d
        notes.append(f"{d.symbol} is read as the derivation expands it (line {d.text.rsplit(' ', 1)[-1][:-1]}), "
                     f"not as defined on line {claim.line}")
    claims.sort(key=lambda c: c.line)
    scoped = {key: v for key, v in versions.items() if len(v) > 1 and key in defined}
    for key in sorted(scoped):
        notes.append(f"{key} is defined {len(scoped[key])} times: each claim is read with the definition "
                     "before it")
    definitions = tuple(defined.values())
    labels = _labels(definitions, [e for _, exprs, _ in work for e in exprs])
    ranges = _ranges(names, [e for _, exprs, _ in work for e in exprs] + [d.expr for d in definitions]
                     + [d.lhs for d in definitions], facts)
    base_setting = Setting(K=K_SYMBOL, variables=tuple(names.bases.values()), definitions=definitions,
                           ranges=ranges, domains=tuple((str(b), "label") for b in labels))
    if names.counts and len(names.counts) == 1:
        Ks = tuple(names.counts)  # the document counts its classes (sum_{c=1}^{3}): check at that count
        notes.append(f"the document's sums run to {Ks[0]}: checked with {Ks[0]} classes")
    known = {str(d.symbol) for d in definitions}
    known |= {str(a.base) for d in definitions for a in d.expr.atoms(sp.Indexed)}  # inputs: b, W of z = W a + b
    known |= {str(v.base) if isinstance(v, sp.Indexed) else str(v)  # dz_j/dz_k is a Kronecker delta
              for _, exprs, _ in work for e in exprs for n in e.atoms(sp.Derivative) for v in n.variables}
    splits = _case_splits(work)
    runs: dict = {}  # id(claim) -> (its run's claims, expressions, position, conditions, setting)
    for run_claims, run_exprs, conditions in _split_unknown(work, known):
        setting = _in_force(base_setting, scoped, run_claims[0].chain)
        free = set().union(*(_free_indices(e) for e in run_exprs))
        cases = tuple((different(a, b), line) for (a, b), line in splits.items()
                      if {a, b} <= free and not any(c.different == ((a, b),) for c in conditions))
        _check_run(setting, run_claims, run_exprs, conditions, tuple(facts), Ks, points, index_samples, seed,
                   cases)
        runs.update({id(c): (run_claims, run_exprs, n, conditions, setting) for n, c in enumerate(run_claims)})

    report = CheckReport(claims, [f"{sp.sstr(d.lhs)} := {sp.sstr(d.expr)}" for d in definitions],
                         [sp.sstr(a.statement) for a in _unique(facts)], notes, text, name)
    firsts = {}  # the first wrong claim of each chain: what its quantity is, where the engine can derive it
    for c in claims:
        if c.verdict == "wrong" and id(c) in runs:
            firsts.setdefault(c.chain, c)
    for c in list(firsts.values())[:EXPECTED_CHAINS]:
        _expect(c, *runs[id(c)], tuple(facts))
    return report


# -- reading the notation of a document ------------------------------------------------------------

def _applications(parsed) -> dict:
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


def _matrix_facts(lhs, rhs) -> list:
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


def _as_case(lhs, rhs, by_case: dict) -> bool:
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


def _case_definitions(by_case: dict, defined: dict):
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
                yield (Definition(f"def_{base}", base, tuple(indices), _private_bounds(expr),
                                  text="from the document (its entries 1 and K)"),
                       f"{base} is defined by its entries {base}_1, ..., {base}_K: read as {base}_j for every j")
            continue
        if sorted(cases) != list(range(1, len(cases) + 1)) or len(cases) < 2:
            continue
        c = sp.Symbol(f"_c{next(_FRESH)}", integer=True, positive=True)
        indices = list(symbols)
        indices.insert(position, c)
        pieces = [(_private_bounds(cases[v]), sp.Eq(c, v)) for v in sorted(cases)[:-1]]
        pieces.append((_private_bounds(cases[len(cases)]), True))
        d = Definition(f"def_{base}", base, tuple(indices), sp.Piecewise(*pieces), text="from the document, by cases")
        yield d, (f"{base} is defined case by case ({', '.join(f'{base}_{v}' for v in sorted(cases))}): "
                  f"read as one definition over the {len(cases)} classes")


def _entrywise(left: str, right: str, names: Names):
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
    parser = Parser("", names)
    return parser.names_of(sides[0][at]), parser.names_of(sides[1][at]), ""


def _contradicted(work, defined: dict, where: dict):
    """Definitions the document's own derivation contradicts: a link dy_i/dz = d(E)/dz that expands y_i as an
    E its definition is not (seed 003 defines y_i = z_i / sum_k z_k, then differentiates e^{z_i} / sum_k e^{z_k}).
    Yields (key, a wrong claim at the definition, the definition as the derivation expands it)."""
    from ..render.printers import text
    seen = set()
    for claims, exprs, _ in work:
        for n, claim in enumerate(claims):
            a, b = exprs[n], exprs[n + 1]
            if not (isinstance(a, sp.Derivative) and isinstance(b, sp.Derivative) and isinstance(a.expr, sp.Indexed)
                    and a.variables == b.variables):
                continue
            key = str(a.expr.base) + "[]"
            d = defined.get(key)
            if d is None or key in seen or key not in where or b.expr.has(a.expr.base) or d.abstract:
                continue
            mapping = dict(zip(a.expr.indices, d.indices))
            if not all(isinstance(i, sp.Symbol) for i in mapping):
                continue
            expanded = _private_bounds(b.expr.xreplace(mapping))
            values = _differs(d.expr, expanded, d.indices)
            if values is None:
                continue
            seen.add(key)
            line, lhs, rhs, chain = where[key]
            wrong = Claim(line, lhs, rhs, verdict="wrong", chain=chain, lhs_line=line,
                          reason=f"line {claim.line} expands {text(a.expr)} as {text(b.expr)}, "
                                 "which this definition is not",
                          counterexample=values)
            yield key, wrong, _with_kernel(replace(d, expr=expanded,
                                                   text=f"as the derivation expands it (line {claim.line})"))


def _differs(one, other, indices) -> Optional[dict]:
    """A counterexample where two definitions of the same entry differ (K = 3, the first index values), or None."""
    import random
    assign = {i: sp.Integer(1) for i in indices}
    sides = [e.xreplace({K_SYMBOL: 3}).xreplace(assign).doit() for e in (one, other)]
    atoms = sorted(set().union(*(s.atoms(sp.Indexed) for s in sides)), key=sp.default_sort_key)
    rng = random.Random(0)
    for _ in range(3):
        values = {a: sp.Float(rng.uniform(-2, 2)) for a in atoms}
        left, right = (complex(s.xreplace(values).evalf()) for s in sides)
        if abs(left - right) > 1e-9 * max(1, abs(left), abs(right)):
            return {"K": 3, "indices": {str(i): 1 for i in indices},
                    "values": {str(a): float(v) for a, v in values.items()},
                    "lhs": left.real, "rhs": right.real}
    return None


def _pattern(first, last):
    """(j, e(j)) with e(1) = ``first`` and e(K) = ``last``: the 1s that index entries in ``first`` are where
    ``last`` has K. None when the two are not one pattern."""
    j = sp.Symbol("j", integer=True, positive=True)
    general = first.replace(lambda a: isinstance(a, sp.Indexed) and 1 in a.indices,
                            lambda a: a.base[tuple(j if i == 1 else i for i in a.indices)])
    if general.xreplace({j: K_SYMBOL}) == last and general.has(j):
        return j, general
    return None


def _primes(e) -> set:
    return {str(s) for s in e.free_symbols if str(s).endswith("^\\prime")} | \
           {str(a.base) for a in e.atoms(sp.Indexed) if str(a.base).endswith("^\\prime")}


def _primed(e, head):
    """u' v - u v' in a chain that starts with dh/dx: u' is du/dx."""
    if not _primes(e) or not isinstance(head, sp.Derivative) or len(head.variables) != 1:
        return e
    x = head.variables[0]
    mapping = {s: sp.Derivative(sp.Symbol(str(s)[:-len("^\\prime")]), x) for s in e.free_symbols
               if str(s).endswith("^\\prime")}
    return e.xreplace(mapping)


_VALUE = re.compile(r"^[\s,.;:]*(?:if|when|for)\s+([a-z])\s*=\s*(\d+)\b")


def _index_values(after: str, names: Names) -> dict:
    """'... if j = 0' right after a formula: the formula is said at that value of the index."""
    m = _VALUE.search(_prose(after[:120]))
    if not m or m.group(1) not in names.indices:
        return {}
    return {names.indices[m.group(1)]: sp.Integer(m.group(2))}


def _ranges(names: Names, exprs: list, facts: list) -> tuple:
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


def _in_force(setting: Setting, scoped: dict, chain: int) -> Setting:
    """``setting`` with each name defined more than once read with its last definition before ``chain``."""
    if not scoped:
        return setting
    chosen = {}
    for key, versions in scoped.items():
        before = [d for number, d in versions if number <= chain]
        chosen[key] = before[-1] if before else versions[0][1]
    definitions = tuple(chosen.get(_key(d), d) for d in setting.definitions)
    return replace(setting, definitions=definitions)


def _expect(claim: Claim, claims: list, exprs: list, n: int, conditions: tuple, setting: Setting,
            facts: tuple, timeout: float = 5.0) -> None:
    """Fill in what the wrong ``claim``'s right-hand side should equal, where the engine can derive it: the
    planner's closed form of the earliest side still joined to the claim by links that hold, verified."""
    from ..planner import Planner
    from ..render.printers import latex, text
    from ..verify import verify

    m = n
    while m > 0 and claims[m - 1].verdict == "holds":
        m -= 1
    for h in range(m, n + 1):
        head = exprs[h]
        if not head.has(sp.Derivative):
            continue
        try:
            d = Planner(setting, facts + tuple(conditions), timeout=timeout).derive(
                head, name="expected", title="the engine's derivation")
            if d.incomplete or d.result.has(sp.Derivative) or not verify(d, Ks=(2, 3)).ok:
                continue
        except Exception:  # noqa: BLE001 -- no derivation: the report simply has no expected form
            continue
        result = _readable_bounds(d.result)
        claim.expected, claim.expected_latex, claim.expected_of = text(result), latex(result), claims[h].lhs
        return


def _readable_bounds(e):
    """The private summation indices of the document's definitions (_b3) renamed to letters not in use."""
    taken = {str(s) for s in e.free_symbols} | {str(i) for i in bound_indices(e)}
    letters = iter(c for c in "lmnpqrstuv" if c not in taken)

    def rename(node):
        body, limits = node.function, []
        for i, lo, hi in node.limits:
            if str(i).startswith("_"):
                new = sp.Symbol(next(letters, str(i)), **i.assumptions0)
                body, i = body.xreplace({i: new}), new
            limits.append((i, lo, hi))
        return sp.Sum(body, *limits)
    return e.replace(lambda n: isinstance(n, sp.Sum) and any(str(l[0]).startswith("_") for l in n.limits), rename)


def _abstract_costs(work, defined):
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


def _unknown_function(e, known: set) -> str:
    """The name of an undefined quantity differentiated in ``e`` (its derivative would be read as 0), or ''."""
    for n in e.atoms(sp.Derivative):
        f = n.expr
        for atom in [f] if isinstance(f, (sp.Symbol, sp.Indexed)) else []:
            name = str(atom.base) if isinstance(atom, sp.Indexed) else str(atom)
            if name not in known:
                return name
    return ""


def _split_runs(work, reason):
    """Runs of links, cut at each link one of whose sides ``reason`` objects to (that link is unread)."""
    for claims, exprs, conditions in work:
        bad = [reason(e) for e in exprs]
        run_c, run_e = [], []
        for n, claim in enumerate(claims):
            why = bad[n] or bad[n + 1]
            if why:
                claim.verdict, claim.reason = "unread", why
                if run_c:
                    yield run_c, run_e, conditions
                run_c, run_e = [], []
                continue
            if not run_e:
                run_e = [exprs[n]]
            run_e.append(exprs[n + 1])
            run_c.append(claim)
        if run_c:
            yield run_c, run_e, conditions


def _split_unknown(work, known):
    """Runs of links, cut where a side differentiates an undefined quantity (its derivative cannot be checked)."""
    def unknown(e):
        name = _unknown_function(e, known)
        return (f"{name} is not defined in the document (define it, or pass --define): "
                "its derivative cannot be checked") if name else ""
    return _split_runs(work, unknown)


def _bare_symbols(e) -> set:
    """Symbols used on their own, not as the name of an indexed entry (o in o - y, not in o_j)."""
    e = e.replace(lambda n: isinstance(n, sp.Derivative) and isinstance(n.expr, sp.Symbol),
                  lambda n: sp.Dummy())  # dC/dz_j: C is the scalar cost, even where C_x is also written
    plain = e.xreplace({i: sp.Dummy() for i in e.atoms(sp.Indexed)}).free_symbols
    return {x for x in plain if isinstance(x, sp.Symbol) and not isinstance(x, sp.Dummy)}


def _key(d: Definition) -> str:
    return str(d.symbol) + ("[]" if d.indices else "")


def _looks_defining(d: Definition) -> bool:
    """A plain 'x = ...' defines x when the right-hand side has no derivative."""
    return not d.expr.has(sp.Derivative)


def _unique(facts):
    seen = {}
    for a in facts:
        seen.setdefault(a.key, a)
    return list(seen.values())


def _labels(definitions, exprs) -> set:
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


def _case_splits(work) -> dict:
    """(j, i) -> line, for each sum over j != i the document writes: it treats the cases j = i and j != i apart."""
    out: dict = {}
    for claims, exprs, _ in work:
        for n, e in enumerate(exprs):
            for node in e.atoms(SumExcept):
                if isinstance(node.excluded, sp.Symbol):
                    out.setdefault((node.index, node.excluded), claims[max(n - 1, 0)].line)
    return out


def _free_indices(e) -> set:
    """The index symbols free in ``e``, those inside a derivative's variable (d/dh_1(x^(i))) included."""
    inside = {s for a in e.atoms(sp.Indexed) for s in a.free_symbols}
    return {s for s in e.free_symbols | inside if isinstance(s, sp.Symbol) and s.is_integer
            and s != K_SYMBOL} - bound_indices(e)


def _bound_apart(exprs: list) -> list:
    """The run's expressions with each summation index that is also free somewhere in the run renamed (i -> i'):
    dJ/dh_1(x^(i)) = -sum_i y_1^(i) / h_1(x^(i)) has a free i on the left and a bound one on the right."""
    free = set().union(*(_free_indices(e) for e in exprs))
    if not free:
        return exprs

    def rename(node):
        body, limits = node.function, []
        for i, lo, hi in node.limits:
            if i in free:
                new = sp.Symbol(f"{i}'", **i.assumptions0)
                body, i = body.xreplace({i: new}), new
            limits.append((i, lo, hi))
        return sp.Sum(body, *limits)
    return [e.replace(lambda n: isinstance(n, sp.Sum) and any(l[0] in free for l in n.limits), rename)
            for e in exprs]


def _check_run(setting, claims, exprs, conditions, facts, Ks, points, index_samples, seed, cases=()) -> None:
    """Verify a run of links; a link that fails is tried again with the document's assumptions, then in the
    cases its sums split apart (j != i), and holds "using" or "for" them."""
    from ..verify import verify

    exprs = _bound_apart(exprs)

    def run(with_facts, extra=()):
        steps = tuple(Step(e, Rule.CLAIM, "claimed", assumptions=tuple(facts) if with_facts else ())
                      for e in exprs[1:])
        d = Derivation("claim", "claim", setting, exprs[0], steps, conditions=tuple(conditions) + tuple(extra))
        try:
            report = verify(d, Ks=Ks, points=points, index_samples=index_samples, seed=seed, lemmas=False)
        except Exception as e:  # noqa: BLE001 -- a formula SymPy cannot evaluate is unread, never a traceback
            return None, f"cannot evaluate ({type(e).__name__})"
        return {c.step: c for c in report.checks if c.step is not None}, ""

    first, error = run(False)
    if first is None:
        for c in claims:
            c.verdict, c.reason = "unread", error
        return
    failing = [n for n, c in first.items() if not c.ok]
    second, third = {}, {}
    if failing and facts:
        second, _ = run(True)
        second = second or {}
    if cases and any(not (n in second and second[n].ok) for n in failing):
        third, _ = run(True, tuple(a for a, _ in cases))
        third = third or {}
    for n, claim in enumerate(claims, start=1):
        c = first.get(n)
        if c is None:
            claim.verdict, claim.reason = "unread", "not checked"
        elif c.ok:
            claim.verdict = "holds"
            if conditions:  # read from the prose around the block: say so
                claim.cases = tuple(a.text for a in conditions)
                claim.reason = "given that " + "; ".join(claim.cases)
        elif n in second and second[n].ok:
            claim.verdict = "holds"
            claim.uses = tuple(sp.sstr(a.statement) for a in _unique(facts))
            claim.reason = "using " + ", ".join(claim.uses)
        elif n in third and third[n].ok:
            claim.verdict = "holds"
            claim.cases = tuple(sp.sstr(a.statement) for a, _ in cases)
            claim.reason = "for " + ", ".join(f"{a.different[0][0]} != {a.different[0][1]} (the sum over "
                                              f"{a.different[0][0]} != {a.different[0][1]} on line {line})"
                                              for a, line in cases)
        elif not (getattr(c, "counterexample", None) or c.message.startswith("sides differ")):
            claim.verdict, claim.reason = "unread", "cannot evaluate both sides: " + c.message
        else:
            claim.verdict = "wrong"
            if n in second and not second[n].ok and second[n].message.startswith("sides differ"):
                c = second[n]  # wrong even with the document's assumptions: show values that honour them
            claim.reason = c.message
            claim.counterexample = _counterexample(c)


_DIFFER = re.compile(r"sides differ at K=(\d+), (.*?): (\S+) != (\S+)$")


def _counterexample(check) -> dict:
    ce = getattr(check, "counterexample", None)
    if isinstance(ce, dict):
        return {k: (v if isinstance(v, (int, float, str, list, dict)) or v is None else str(v))
                for k, v in ce.items()}
    m = _DIFFER.search(check.message or "")
    if not m:
        return {"message": check.message}
    indices = {}
    if m.group(2) != "no free index":
        for part in m.group(2).split(", "):
            k, _, v = part.partition("=")
            indices[k] = int(v) if v.lstrip("-").isdigit() else v
    return {"K": int(m.group(1)), "indices": indices, "lhs": float(m.group(3)), "rhs": float(m.group(4))}


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _col(text: str, offset: int) -> int:
    return offset - (text.rfind("\n", 0, offset) + 1) + 1


def _texts(argument: str, value) -> tuple:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ArgumentTypeError(argument, "must be a list of equations as LaTeX text")
    return tuple(value)


def check_file(path: Union[str, Path], *, define: Sequence[str] = (), assume: Sequence[str] = (),
               Ks: Sequence[int] = (2, 3, 4), points: int = 2, index_samples: int = 3,
               seed: int = 0) -> CheckReport:
    """Read ``path`` (UTF-8) and check it as check() does; OSError / UnicodeDecodeError propagate to the caller."""
    text = Path(path).read_bytes().decode("utf-8")
    return check(text, define=define, assume=assume, name=str(path), Ks=Ks, points=points,
                 index_samples=index_samples, seed=seed)
