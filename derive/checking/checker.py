"""Check a document's chains of equalities with derive's verifier.

Each chain a = b = c becomes a Derivation whose steps are the claims
(Rule.CLAIM), in a Setting built from the document's own definitions
(o_j = e^{z_j} / sum_k e^{z_k}, E := ...), and verify() checks every link the
way it checks a step of derive's own derivations: instantiated for several K
and index values, derivatives evaluated, compared at random points in high
precision. A link that fails without the document's assumptions
(sum_j y_j = 1) is checked again with them, and holds "using" them.

This module runs the reading (reading.py) and the checking (verdicts.py) in
document order; claims.py holds what it reports.
"""
from __future__ import annotations

import os
import re
import signal
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Sequence, Union

import sympy as sp

from ..assumptions import different
from ..definitions import any_cost
from ..errors import ArgumentError, ArgumentTypeError
from ..setting import Setting
from .claims import CheckReport, Claim
from .extract import chains as find_chains
from .extract import front_matter
from .latex import K_SYMBOL, Names, Unreadable, name_words
from .reading import (Parsed, abstract_costs, applications, implied_definitions, as_assumption, as_case, as_definition, as_one, dropped_indices,
                      index_slips, layer_instances,
                      bare_symbols, case_definitions, conventional, definition_key, entrywise,
                      free_indices, in_force, index_equalities, index_ranges, index_values, label_bases, looks_defining,
                      matrix_facts, parse_piece, primed_names, prose_conditions, read_primes, said_variable, stand_in_variables,
                      unique_facts)
from .verdicts import (EXPECTED_CHAINS, as_functions, case_splits, check_functions, check_run, contradicted,
                       differentiated_entries, entry_definition, entry_functions, expect,
                       for_every_value, split_lost, split_unknown, split_unnamed, split_unread_definitions, target_bases,
                       undefined_functions)


@dataclass(frozen=True)
class Bounds:
    """How much work one document may cost; what is over a bound is unread with the reason (docs/check.md)."""

    max_bytes: int = 1_000_000        # a larger file is refused (exit 2), before it is read
    max_formula: int = 4000           # characters of one side of a link
    max_chains: int = 2000            # chains read; the rest are unread
    seconds_per_run: float = 90.0     # one run of links through the verifier (SIGALRM, main thread only)
    seconds: float = 300.0            # the whole document; claims not reached by then are unread


def check(text: str, *, define: Sequence[str] = (), assume: Sequence[str] = (), name: str = "<text>",
          Ks: Sequence[int] = (2, 3, 4), points: int = 2, index_samples: int = 3, seed: int = 0,
          bounds: Optional[Bounds] = None) -> CheckReport:
    """Check every chain of equalities in a Markdown or LaTeX document; a CheckReport.

    ``define`` and ``assume`` add definitions (``o_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}``) and assumptions
    (``\\sum_j y_j = 1``) in LaTeX, as if the document stated them first, after those of its front matter.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError("text", f"must be the document as a str, got {type(text).__name__}")
    if bounds is not None and not isinstance(bounds, Bounds):
        raise ArgumentTypeError("bounds", f"must be a derive.checking.Bounds, got {type(bounds).__name__}")
    bounds = bounds or Bounds()
    deadline = time.monotonic() + bounds.seconds
    front = front_matter(text)  # the document's own define: and assume: lists come first
    define = tuple(front["define"]) + _texts("define", define)
    assume = tuple(front["assume"]) + _texts("assume", assume)
    names = Names()
    defined: dict = {}
    facts: list = []
    notes: list = []

    for n, line in enumerate(list(define) + list(assume)):
        parts = re.split(r":=|=", line, maxsplit=1)
        kind = "define" if n < len(define) else "assume"
        if len(parts) != 2:
            raise ArgumentError(kind, f"{line!r} is not an equation a = b")
        lhs, rhs = (parse_piece(p, names) for p in parts)
        if isinstance(lhs, Unreadable) or isinstance(rhs, Unreadable):
            bad = lhs if isinstance(lhs, Unreadable) else rhs
            raise ArgumentError(kind, f"cannot read {line!r}: {bad.message}")
        if kind == "define":
            d = as_definition(lhs, rhs, defined)
            if d is None:
                raise ArgumentError("define", f"{line!r} does not define a name such as o_j or E")
            defined[definition_key(d)] = d
        else:
            a = as_assumption(lhs, rhs)
            if a is None:
                raise ArgumentError("assume", f"{line!r}: only sums of targets equal to one (\\sum_j y_j = 1) "
                                              "are supported")
            facts.append(a)

    found = find_chains(text)
    names.sigma_is_softmax = any(_SIGMA_ENTRY.match(c.pieces[0].text) and "\\sum" in c.pieces[-1].text
                                 and "e^{-" not in c.pieces[-1].text for c in found)
    names.words = name_words(c.pieces[0].text for c in found)
    names.functions = _functions_of_entries(found)
    if names.sigma_is_softmax:
        notes.append("the document defines sigma(A_i) with a sum: sigma is its softmax here, not the sigmoid")
    parsed = []
    for n, chain in enumerate(found):
        if n >= bounds.max_chains or time.monotonic() > deadline:
            why = (f"over the bound of {bounds.max_chains} chains per document" if n >= bounds.max_chains
                   else f"over the document's time bound of {bounds.seconds:g} s")
            exprs: list = [Unreadable(why, 0) for _ in chain.pieces]
        else:
            exprs = [parse_piece(p.text, names) if len(p.text) <= bounds.max_formula else
                     Unreadable(f"a formula of {len(p.text)} characters is over the bound of {bounds.max_formula}", 0)
                     for p in chain.pieces]
        for k, e in enumerate(exprs):   # E = -(t_n log q_n + (1 - t_n) log(1 - q)): the bare q is q_n, defining E too
            dropped = {} if isinstance(e, Unreadable) else dropped_indices(e, e, names)
            if dropped:
                exprs[k] = _bare_replaced(e, dropped)
                notes.extend(note for note in _dropped_notes(dropped) if note not in notes)
        parsed.append(Parsed(chain, exprs))
    written = _written_out_count(parsed)
    if written:   # e^{z_1} + e^{z_2} + e^{z_3}: the document writes its sums out for that many classes
        names.counts.add(written)
    applied = applications(parsed)
    for fn, example in applied.items():
        notes.append(f"{fn}_c without its argument is read as {fn}_c(x^({example})), the value for example {example}")

    claims: list = []
    versions: dict = {}   # key -> [(chain number, Definition)] for a plain name defined again further on
    by_case: dict = {}    # (base, position, other indices) -> {value: expression}: h_1(x) = ..., h_2(x) = ...
    where: dict = {}      # key -> (line, lhs, rhs, chain number) of the document's definition
    work: list = []   # (claims of one run of readable links, exprs, conditions)
    carried, last_block = "", None   # the prose before the last display block, and its number
    said_wrt = None   # the variable the prose last named ("with respect to x[k]"), for primes in chains not led by one
    unread_definitions: dict = {}   # name -> line of a definition X = ... whose right side was not read
    for number, item in enumerate(parsed, start=1):
        chain, exprs = item.chain, item.exprs
        if _HEADING.search(chain.before):
            said_wrt = None
        said_wrt = said_variable(chain.before, names) or said_wrt   # "... with respect to x[k]": what y'[n] means
        values = index_values(chain.after, names)
        if len(exprs) == 2 and isinstance(exprs[1], Unreadable) and isinstance(exprs[0], (sp.Symbol, sp.Indexed)) \
                and not isinstance(exprs[0], sp.Derivative):
            head = exprs[0]
            unread_definitions.setdefault(str(head.base) if isinstance(head, sp.Indexed) else str(head),
                                          chain.pieces[1].line)   # h = \sigma(W^{(1)} x + b^{(1)}), not read
        if len(exprs) == 2 and not values and not any(isinstance(e, Unreadable) for e in exprs):
            lhs, rhs = exprs
            if isinstance(rhs, sp.MatrixBase):  # x^(i) = [1; x_1^(i)], Theta = [...]: entries, not a claim
                facts.extend(matrix_facts(lhs, rhs))
                continue
            if isinstance(lhs, sp.Symbol) and (lhs.is_integer or str(lhs) in names.indices) and rhs.is_Integer:
                continue  # "if j = 0": a condition on an index, read with the formula it qualifies
            a = as_assumption(lhs, rhs)
            if a is not None:
                facts.append(a)
                continue
            lhs = _function_head(chain.pieces[0].text, rhs, names, defined) or lhs   # y_i(z_i) = ...: defines y_i
            vector = isinstance(lhs, sp.Symbol) and str(lhs) in names.bases and any(  # delta^L = a^L - y: a claim
                str(x) in names.bases for x in bare_symbols(rhs))
            d = None if vector else as_definition(lhs, rhs, defined)
            if d is not None and (chain.links[0] == ":=" or looks_defining(d) or _SAID_DEFINED.search(chain.before[-80:])):
                defined[definition_key(d)] = d
                versions.setdefault(definition_key(d), []).append((number, d))
                where.setdefault(definition_key(d), (chain.pieces[1].line, chain.pieces[0].text, chain.pieces[1].text, number))
                continue
            if as_case(lhs, rhs, by_case):
                where.setdefault(str(lhs.base) + "[]", (chain.pieces[1].line, chain.pieces[0].text, chain.pieces[1].text,
                                                         number))
                continue
            again = None if vector else as_definition(lhs, rhs, {})
            if again is not None and definition_key(again) in defined and looks_defining(again) \
                    and isinstance(lhs, sp.Symbol) and defined[definition_key(again)].expr != again.expr \
                    and _NEW_PART.search(chain.before):
                versions[definition_key(again)].append((number, again))  # u = ... in one section, u = ... in the next
                continue
        for one in chain.equal_one:
            parsed_one = parse_piece(one, names)
            fact = as_one(parsed_one)
            if fact is not None:
                facts.append(fact)
                if isinstance(parsed_one, sp.Add):  # y_1 + y_2 + y_3 = 1: three classes
                    names.counts.add(len(parsed_one.args))
        sentence = not chain.display and _stated_in_sentence(chain, exprs)
        if not chain.display and not sentence:
            if len(exprs) > 2 and not isinstance(exprs[0], (Unreadable, sp.Derivative)):
                # $y_i = \text{softmax}(x)_i = \frac{e^{x_i}}{\sum e^{x_d}}$ in a sentence: y_i is defined by the
                # last side that reads as a formula (the sides between name it)
                last = next((e for e in reversed(exprs[1:]) if not isinstance(e, Unreadable)), None)
                d = None if last is None else as_definition(exprs[0], last, defined)
                if d is not None and looks_defining(d) and definition_key(d) not in defined:
                    defined[definition_key(d)] = d
                    versions.setdefault(definition_key(d), []).append((number, d))
                    where.setdefault(definition_key(d), (chain.pieces[-1].line, chain.pieces[0].text,
                                                         chain.pieces[-1].text, number))
            continue
        start = _definition_prefix(chain, exprs, defined, names)  # E = -sum y log p = ...: the first '=' defines E
        if start:
            d = as_definition(exprs[0], exprs[start], defined)
            assert d is not None  # _definition_prefix read this definition
            defined[definition_key(d)] = d
            versions.setdefault(definition_key(d), []).append((number, d))
            where.setdefault(definition_key(d), (chain.pieces[1].line, chain.pieces[0].text, chain.pieces[1].text, number))
            for other in exprs[1:start]:   # f(x)[n] = y[n] = ...: y is defined by the formula too
                more = as_definition(other, exprs[start], defined) if _another_name(exprs[0], other, defined) else None
                if more is not None:
                    defined[definition_key(more)] = more
                    versions.setdefault(definition_key(more), []).append((number, more))
                    where.setdefault(definition_key(more), (chain.pieces[start].line, chain.pieces[1].text,
                                                            chain.pieces[start].text, number))
            for k in range(1, start + 1):
                claims.append(Claim(chain.pieces[k].line, chain.pieces[k - 1].text, chain.pieces[k].text, chain=number,
                                    lhs_line=chain.pieces[k - 1].line, verdict="holds", reason="a definition"))
        run_claims: list = []
        run_exprs: list = []
        # blocks with no prose between them (If $i = j$: $$...$$ $$...$$) are one passage: the words before the
        # first qualify them all
        if sentence:   # We have $\frac{dL}{dx_j} = ...$: read with the words of its own paragraph
            before = chain.prose
        else:
            before = chain.before if chain.before.strip() or chain.block == last_block else carried
            carried, last_block = before, chain.block
        conditions = prose_conditions(before + " " + " ".join(chain.remarks), names, chain.after)
        same = index_equalities(before, chain.remarks, exprs)  # If $i = k$, ...: the chain is for k = i
        if same:
            values = {**values, **same}
        exprs = [read_primes(e, exprs[0], said_wrt) if not isinstance(e, Unreadable) else e for e in exprs]
        if values:
            exprs = [e.xreplace(values) if not isinstance(e, Unreadable) else e for e in exprs]
        for k in range(start + 1, len(exprs)):
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
            elif primed_names(a) | primed_names(b):
                why = (f"{', '.join(sorted(primed_names(a) | primed_names(b)))}: a prime needs the variable, and the chain "
                       "does not start with a derivative with respect to one")
            else:
                vectors = [str(x) for x in bare_symbols(a) | bare_symbols(b) if str(x) in names.bases]
                dropped = dropped_indices(a, b, names) if vectors else {}
                if dropped:  # log(\hat y_i) + log(1 - \hat y): the bare name is the entry its index was left off
                    a, b = (_bare_replaced(e, dropped) for e in (a, b))
                    claim.cases = claim.cases + tuple(f"{x} is {sp.sstr(e)}" for x, e in dropped.items())
                    notes.extend(note for note in _dropped_notes(dropped) if note not in notes)
                elif vectors:  # delta^L = a^L - y: read as vectors and compared entry by entry
                    a, b, why = entrywise(chain.pieces[k - 1].text, chain.pieces[k].text, names)
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

    for d, text_ in case_definitions(by_case, defined):
        defined[definition_key(d)] = d
        versions.setdefault(definition_key(d), []).append((0, d))
        notes.append(text_)
    used = set(names.bases)
    differentiated = {str(n.expr.base) for _, exprs, _ in work for e in exprs for n in e.atoms(sp.Derivative)
                      if isinstance(n.expr, sp.Indexed) and any(isinstance(v, sp.Indexed) and str(v.base) == "z"
                                                                for v in n.variables)}
    conventions = []   # names read by the catalogue's convention: the document may mean them as inputs
    for d in conventional(names, used, defined, differentiated):
        defined[definition_key(d)] = d
        conventions.append(definition_key(d))
        notes.append(f"{d.symbol}_j is not defined in the document: read as the {d.text}")
    for key in [k for k, d in defined.items() if not d.indices and str(d.symbol) + "[]" in defined]:
        notes.append(f"{key} and {key}_... are both defined: the indexed one is used")
        del defined[key]
    for d, why in layer_instances(defined, [e for _, exprs, _ in work for e in exprs]):  # z^l for every layer l
        defined[definition_key(d)] = d
        notes.append(why)
    for symbol, var in abstract_costs(work, defined):
        m = sp.Dummy("b", integer=True, positive=True)
        d = any_cost(symbol, var, m, K_SYMBOL, text=f"any differentiable function of {var}")
        defined[definition_key(d)] = d
        notes.append(f"{symbol} is not defined: read as any differentiable function of {var} "
                     "(checked with a test function that couples every entry)")
    for key, claim, d in contradicted(work, defined, where):  # y_j = z_j / sum_k z_k, then y_i = e^{z_i} / ...
        claims.append(claim)
        defined[key] = d
        notes.append(f"{d.symbol} is read as the derivation expands it (line {d.text.rsplit(' ', 1)[-1][:-1]}), "
                     f"not as defined on line {claim.line}")
    claims.sort(key=lambda c: c.line)
    scoped = {key: v for key, v in versions.items() if len(v) > 1 and key in defined}
    for key in sorted(scoped):
        notes.append(f"{key} is defined {len(scoped[key])} times: each claim is read with the definition "
                     "before it")
    for key, why in _circular(defined):   # z_j = sum_i w_ij o_i + b with o_j = softmax(z_j): o names two layers
        del defined[key]
        notes.append(why)
    implied = implied_definitions(work, defined)   # -sum y log p = -sum ell_j: ell never defined, implied
    for base, found in implied.items():
        defined[definition_key(found[0][1])] = found[0][1]
        notes.append(f"{base} is not defined in the document: read as the derivation implies it, "
                     + "; ".join(dict.fromkeys(f"{sp.sstr(d.lhs)} = {sp.sstr(d.expr)} (line {line})"
                                               for line, d in found)))
    definitions = tuple(defined.values())
    stand_ins = stand_in_variables(work, [e for item in parsed for e in item.exprs], definitions)
    if stand_ins:   # d L / d o_i with o written nowhere else and L, p reaching only a: o is the author's a
        work = [(cs, [e if isinstance(e, Unreadable) else e.xreplace(stand_ins) for e in es], conds)
                for cs, es, conds in work]
        notes.extend(f"{v} is written only as a variable of differentiation, and what is differentiated with respect "
                     f"to it depends only on {a} among its inputs: {v} is read as {a}" for v, a in stand_ins.items())
    labels = label_bases(definitions, [e for _, exprs, _ in work for e in exprs])
    targets = () if _SOFT_TARGETS.search(text) else target_bases(  # soft targets said: no one-hot reading
        definitions, [e for _, exprs, _ in work for e in exprs], labels)
    ranges = index_ranges(names, [e for _, exprs, _ in work for e in exprs] + [d.expr for d in definitions]
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
    stated = {str(a.statement) for a in facts}
    summed = [t for t in dict.fromkeys(["y", "t"] + [str(b) for b in targets]) if t in names.bases]
    open_facts = tuple(f for f in (as_assumption(sp.Sum(names.bases[t][j], (j, 1, K_SYMBOL)), sp.Integer(1))
                                   for t in summed for j in [sp.Symbol("j_", integer=True, positive=True)])
                       if f is not None and str(f.statement) not in stated)   # sum_j y_j = 1, never stated
    if targets and _ONE_HOT_SAID.search(text):   # "y is a one-hot vector": its entries sum to one, as stated
        said = tuple(f for f in open_facts if f.statement.lhs.function.base in targets)
        facts.extend(said)
        open_facts = tuple(f for f in open_facts if f not in said)
        notes.extend(f"the document says its targets are one-hot: {sp.sstr(f.statement.lhs)} = 1 is used as stated"
                     for f in said)
    splits = case_splits(work)
    runs: dict[int, tuple[list, list, int, tuple, Setting]] = {}  # id(claim) -> (its run's claims, expressions, position, conditions, setting)
    named = known | {n for d in definitions for n in _input_names(d)}
    unread_definitions = {k: v for k, v in unread_definitions.items() if k not in {str(d.symbol) for d in definitions}}
    alone: dict = {}   # id(claim) -> (unread reason, names): links with a name on one side only, checked for every value
    entries = entry_functions(work, definitions)   # da^L_k/dz^L_j, a^L never defined: any function of z^L
    named |= {str(a) for a in entries}
    placeholders = tuple(entry_definition(a, v, lambda i, v=v: v[i]) for a, v in entries.items())
    for run_claims, run_exprs, conditions in split_unread_definitions(split_lost(split_unnamed(
            split_unknown(as_functions(work, known), known, {**{str(d.symbol): _input_names(d) for d in definitions},
                                                             **{str(a): set() for a in entries}}),
            named, alone), definitions + placeholders, frozenset(names.summed)), unread_definitions):
        setting = in_force(base_setting, scoped, run_claims[0].chain)
        free = set().union(*(free_indices(e) for e in run_exprs))
        cases = tuple((different(a, b), line) for (a, b), line in splits.items()
                      if {a, b} <= free and not any(c.different == ((a, b),) for c in conditions))
        if time.monotonic() > deadline:
            for c in run_claims:
                c.verdict, c.reason = "unread", f"over the document's time bound of {bounds.seconds:g} s"
            continue
        try:
            with _time_limit(min(bounds.seconds_per_run, max(deadline - time.monotonic(), 0.001))):
                inputs = tuple((replace(setting, definitions=tuple(d for d in setting.definitions
                                                                   if definition_key(d) != key)),
                                key.rstrip("[]")) for key in conventions)
                slips = tuple((replace(setting, definitions=tuple(renamed if definition_key(d) == key else d
                                                                   for d in setting.definitions)),
                               renamed.symbol, f"{written} is {meant} in the definition of {sp.sstr(renamed.lhs)}",
                               f"the definition of {sp.sstr(renamed.lhs)} has {written} on its right side, not "
                               f"{meant}", f"{sp.sstr(renamed.lhs)} is as defined, the same for every {meant}")
                              for key, renamed, written, meant in index_slips(setting.definitions))
                slips += tuple((replace(setting, definitions=tuple(d if definition_key(d) != definition_key(other)
                                                                   else other for d in setting.definitions)),
                                other.symbol, f"{sp.sstr(other.lhs)} = {sp.sstr(other.expr)} (line {line})",
                                f"the document does not define {base}; line {line} implies this",
                                f"{sp.sstr(found[0][1].lhs)} = {sp.sstr(found[0][1].expr)} (line {found[0][0]})")
                               for base, found in implied.items() for line, other in found[1:]
                               if str(other.expr) != str(found[0][1].expr))
                def one(cs, es, extra=(), setting=setting, conditions=conditions, cases=cases, inputs=inputs,
                        slips=slips):
                    if extra:   # an instance of the undefined entries: the other readings do not have it
                        setting, inputs, slips = replace(setting, definitions=setting.definitions + extra), (), ()
                    check_run(setting, cs, es, conditions, tuple(facts), Ks, points, index_samples, seed, cases,
                              open_facts, inputs, targets, slips)
                if undefined_functions(run_exprs) or differentiated_entries(run_exprs, entries):
                    # f(x), f'(x) of an f the document never defines, a^L_k never defined: any such function
                    check_functions(one, run_claims, run_exprs, seed, entries)
                else:
                    one(run_claims, run_exprs)
                for_every_value(run_claims, alone)
                never_wrong(run_claims, run_exprs, implied)
        except RunTimeout as e:  # the alarm rang outside the verifier's own try
            for c in run_claims:
                c.verdict, c.reason = "unread", str(e)
        runs.update({id(c): (run_claims, run_exprs, n, conditions, setting) for n, c in enumerate(run_claims)})

    report = CheckReport(claims, [f"{sp.sstr(d.lhs)} := {sp.sstr(d.expr)}" for d in definitions],
                         [sp.sstr(a.statement) for a in unique_facts(facts)], notes, text, name)
    firsts: dict = {}  # the first wrong claim of each chain: what its quantity is, where the engine can derive it
    for c in claims:
        if c.verdict == "wrong" and id(c) in runs:
            firsts.setdefault(c.chain, c)
    for c in list(firsts.values())[:EXPECTED_CHAINS]:
        expect(c, *runs[id(c)], tuple(facts))
    return report


# -- reading the notation of a document ------------------------------------------------------------

def never_wrong(claims, exprs, implied: dict) -> None:
    """A link about a name the document never defines, read as its derivation implies it (implied_definitions), is
    never wrong: what the author means by it is the reading's guess. Such a wrong verdict is unread, with the reason."""
    for n, c in enumerate(claims):
        bases = [b for b in implied if exprs[n].has(b) or exprs[n + 1].has(b)]
        alone = [b for b in bases if all(line == c.line for line, d in implied[b]
                                         if str(d.expr) == str(implied[b][0][1].expr))]
        if alone and c.verdict == "holds":   # the only line that says what w is cannot hold by it
            c.verdict, c.reason, c.cases = "unread", (f"{', '.join(str(b) for b in alone)} is not defined in the "
                                                      "document: only this link says what it is"), ()
        if bases and c.verdict == "wrong":
            c.verdict, c.counterexample, c.readings = "unread", None, ()
            c.reason = (f"depends on what {', '.join(str(b) for b in bases)} is, which the document does not define "
                        "(false under every reading its derivation implies)")


def _definition_prefix(chain, exprs, defined: dict, names: Names) -> int:
    """How many leading links of a chain define its first name: ``L = -\\sum_j y_j \\log p_j = ...`` defines L (1),
    ``y_i = f(x_i) = \\log(...) = ...`` defines y_i through the name f (2); 0 when the chain starts with a claim."""
    if len(exprs) < 3 or any(isinstance(e, Unreadable) for e in exprs[:2]) or primed_names(exprs[0]):
        return 0   # y'[n] = ... is a derivative (read_primes), not a name being defined
    k = 1
    while k + 1 < len(exprs) and not isinstance(exprs[k + 1], Unreadable) and (
            isinstance(exprs[k], sp.Symbol) and not exprs[k].is_integer and str(exprs[k]) not in defined
            and str(exprs[k]) not in names.bases or _another_name(exprs[0], exprs[k], defined)):
        k += 1
    if isinstance(exprs[k], Unreadable) or isinstance(exprs[0], sp.Derivative):
        return 0
    d = as_definition(exprs[0], exprs[k], defined)
    if d is None or not looks_defining(d) or any(str(x) in names.bases for x in bare_symbols(exprs[k])):
        return 0
    return k

def _another_name(first, e, defined: dict) -> bool:
    """``f(x)[n] = y[n] = ...``: e, a second side, is another name for the first side's entry (the same indices, not
    defined yet), which the chain's formula defines as well."""
    return isinstance(first, sp.Indexed) and isinstance(e, sp.Indexed) and e.indices == first.indices \
        and e.base != first.base and definition_key_of(e) not in defined


def _stated_in_sentence(chain, exprs: list) -> bool:
    """Inline math inside a sentence that states a derivative (``We have $\\frac{dL}{dx_j} = -\\sum t_i ...$ from
    the chain rule``) is a claim, as a display would be. Not a claim: a side that is 0 (an equation to solve,
    ``setting $\\frac{dJ}{d\\theta} = 0$``), nor a derivative the prose says it names (``denote by $...$``)."""
    if not exprs or not isinstance(exprs[0], sp.Derivative):
        return False
    if any(not isinstance(e, Unreadable) and e == 0 for e in exprs[1:]):
        return False
    return not _SAID_DEFINED.search(chain.prose[-80:])


# a name defined again is a new definition only where the prose says so ("Again, by defining") or a new part
# begins (a heading): otherwise loss = ... after loss = ... is a claim about the loss, as an author's next step is
_NEW_PART = re.compile(r"(?:by definition|we define|is defined as|define[sd]?|defined by|denote[sd]?|let|defining)\b"
                       r"[^.$]{0,30}[:,]?\s*$|^\s*#|\\(?:sub)*section\b|\\paragraph\b", re.IGNORECASE | re.MULTILINE)
_HEADING = re.compile(r"^\s*#|\\(?:sub)*section\b", re.MULTILINE)
_SAID_DEFINED = re.compile(r"(?:by definition|we define|is defined as|define[sd]?|defined by|denote[sd]?|let)\b[^.$]{0,30}[:,]?\s*$",
                           re.IGNORECASE)   # "recall that by definition: $$ delta^L_j = dC/dz^L_j $$" names a derivative


_HEAD = re.compile(r"^\s*([A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?)\s*(?:\\left)?\(((?:[^()]|\([^()]*\))*?)(?:\\right)?\)\s*$")
_ENTRY_ARGUMENT = re.compile(r"[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?(?:\^\{?\(?[A-Za-z0-9]\)?\}?)?")


def _functions_of_entries(found) -> frozenset:
    """Letters a lone equation defines as a function of an entry or vector, ``f(Z_2^{(j)}) = e^{Z_2^{(j)}}`` and
    ``g(Z_2) = \\sum_c e^{Z_2^{(c)}}`` after "Let:": each such f(...) is the quantity f wherever written, and
    f'(Z_2^{(i)}) its derivative in that entry (what the author means when writing it as the derivative
    d e^{Z_2^{(j)}} / d Z_2^{(i)}). A plain letter argument (f(x) = ...) is read as before."""
    out = set()
    for c in found:
        m = _HEAD.match(c.pieces[0].text) if len(c.pieces) == 2 else None
        if m and len(m.group(1)) == 1 and m.group(1).islower() and _ENTRY_ARGUMENT.fullmatch(m.group(2).strip()) \
                and re.search(r"[_^]", m.group(2)):
            out.add(m.group(1))
    return frozenset(out)


def _function_head(written: str, rhs, names: Names, defined: dict):
    """The entry a lone equation defines when its left side is written as a function of its argument, ``y_i(z_i)
    = \\frac{e^{z_i}}{\\sum_k e^{z_k}}``: y_i (not the product y_i z_i, whose equation would be a false claim about
    a name the document defines right there), where the name is not defined yet and the right side uses every
    quantity of the argument; else None."""
    m = _HEAD.match(written)
    if not m:
        return None
    head, argument = parse_piece(m.group(1), names), parse_piece(m.group(2), names)
    if not isinstance(head, (sp.Symbol, sp.Indexed)) or isinstance(argument, Unreadable) \
            or definition_key_of(head) in defined:
        return None
    used = {str(x.base) for x in rhs.atoms(sp.Indexed)} | {str(x) for x in rhs.free_symbols}
    wanted = {str(x.base) for x in argument.atoms(sp.Indexed)} | {
        str(x) for x in argument.free_symbols if not (isinstance(x, sp.Symbol) and x.is_integer)}
    return head if wanted and wanted <= used else None


def definition_key_of(head) -> str:
    """The key a definition of ``head`` (y_i, or E) has among the document's definitions (y[] or E)."""
    return str(head.base) + "[]" if isinstance(head, sp.Indexed) else str(head)


_ONE_HOT_SAID = re.compile(r"\bone[\s-]?hot\b|\b1-hot\b|\bexactly\s+one\s+of\b[^.]{0,60}\bis\s+1\b|"
                           r"\bcan\s+only\s+be\s+1\b|\b1\s+for\s+the\s+(?:correct|true)\s+class\b", re.IGNORECASE)

_SOFT_TARGETS = re.compile(r"\bsoft\s+(?:targets?|labels?)|label[\s-]+smoothing|\bnot\s+(?:necessarily\s+)?one[\s-]?hot",
                           re.IGNORECASE)   # the document says its targets need not be one-hot


_SIGMA_ENTRY = re.compile(r"^\\sigma\s*(?:\\left)?\(\s*[A-Za-z]_\{?[a-z]\}?\s*(?:\\right)?\)$")


def _dropped_notes(dropped: dict) -> list:
    return [f"{x} written without its index beside {sp.sstr(e)} is read as {sp.sstr(e)}" for x, e in dropped.items()]


def _bare_replaced(e, by: dict):
    """e with its bare symbols replaced (``by``), the names of its indexed entries (yhat of yhat_i) left alone."""
    masks = {x: sp.Dummy() for x in e.atoms(sp.Indexed)}
    return e.xreplace(masks).xreplace(by).xreplace({m: x for x, m in masks.items()})


def _written_out_count(parsed) -> int:
    """n where the document writes a sum out term by term, x_1 + x_2 + ... + x_n (n >= 3, each term with one
    entry of one vector, the entries 1..n): its number of classes; 0 when it writes none, or two counts."""
    counts = set()
    for item in parsed:
        for e in item.exprs:
            if isinstance(e, Unreadable):
                continue
            for add in e.atoms(sp.Add):
                entries = [t.atoms(sp.Indexed) for t in add.args]
                if len(entries) < 3 or any(len(x) != 1 for x in entries):
                    continue
                atoms = [next(iter(x)) for x in entries]
                if len({a.base for a in atoms}) == 1 and all(len(a.indices) == 1 and a.indices[0].is_Integer
                                                            for a in atoms):
                    numbers = sorted(int(a.indices[0]) for a in atoms)
                    if numbers == list(range(1, len(numbers) + 1)):
                        counts.add(len(numbers))
    return counts.pop() if len(counts) == 1 else 0


def _circular(defined: dict) -> list:
    """[(key, note)] for definitions that reach their own name through the ones before them (z_j defined by
    o_i, o_j by z_j: one letter for two layers); expanding them would never end, so the later one is dropped
    and its name read as an input."""
    accepted: dict = {}
    out = []
    for key, d in defined.items():
        own = str(d.symbol)
        seen, todo = set(), set(_input_names(d))
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo |= next((_input_names(e) for e in accepted.values() if str(e.symbol) == name), set())
        if own in seen:
            out.append((key, f"{own} is defined through itself (by way of {', '.join(sorted(seen - {own}))}): "
                             f"that definition is not used, {own} is read as an input"))
        else:
            accepted[key] = d
    return out


def _input_names(d) -> set:
    """The names a definition's right-hand side uses (W, a, b of z = W a + b)."""
    return {str(a.base) for a in d.expr.atoms(sp.Indexed)} | {str(x) for x in d.expr.free_symbols
                                                                if isinstance(x, sp.Symbol)}


def _texts(argument: str, value) -> tuple:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ArgumentTypeError(argument, "must be a list of equations as LaTeX text")
    return tuple(value)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _col(text: str, offset: int) -> int:
    return offset - (text.rfind("\n", 0, offset) + 1) + 1


class RunTimeout(BaseException):
    """A run of links took longer than Bounds.seconds_per_run. A BaseException, as verify's OutOfTime: the
    alarm rings inside verify(), and an ``except Exception`` there (a side it cannot evaluate) must not turn
    it into a failed check, which would call a link wrong that was only not finished; the run is unread."""


@contextmanager
def _time_limit(seconds: float):
    """Raise RunTimeout in the block after ``seconds`` (SIGALRM: in the main thread; elsewhere, no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    fired = []

    def expire(signum, frame):
        fired.append(True)
        raise RunTimeout(f"over the time bound of {seconds:g} s per run of links")

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        # the alarm rings again every 50 ms: code that catches every exception (the verifier names a side it
        # cannot evaluate) must not swallow the bound and run on unbounded
        signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
        yield
        if fired:
            raise RunTimeout(f"over the time bound of {seconds:g} s per run of links")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_document(path: Union[str, Path], bounds: Optional[Bounds] = None) -> str:
    """The text of ``path``: a regular file of at most ``bounds.max_bytes`` bytes, UTF-8. A FIFO, a device
    (/dev/zero) or a socket is refused before it is opened (ArgumentError naming ``file``), so is a larger file;
    OSError and UnicodeDecodeError propagate to the caller."""
    bounds = bounds or Bounds()
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(21, "is a folder, not a file", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise ArgumentError("file", f"{path} is not a regular file (a FIFO, a device or a socket is not read)")
    if info.st_size > bounds.max_bytes:
        raise ArgumentError("file", f"{path} has {info.st_size} bytes, over the bound of {bounds.max_bytes}")
    with open(path, "rb") as f:
        data = f.read(bounds.max_bytes + 1)
    if len(data) > bounds.max_bytes:  # it grew while we read
        raise ArgumentError("file", f"{path} has more than {bounds.max_bytes} bytes, over the bound")
    return data.decode("utf-8")


def check_file(path: Union[str, Path], *, define: Sequence[str] = (), assume: Sequence[str] = (),
               Ks: Sequence[int] = (2, 3, 4), points: int = 2, index_samples: int = 3,
               seed: int = 0, bounds: Optional[Bounds] = None) -> CheckReport:
    """Read ``path`` (read_document: a regular UTF-8 file within the bounds) and check it as check() does;
    OSError / UnicodeDecodeError propagate to the caller."""
    text = read_document(path, bounds)
    return check(text, define=define, assume=assume, name=str(path), Ks=Ks, points=points,
                 index_samples=index_samples, seed=seed, bounds=bounds)
