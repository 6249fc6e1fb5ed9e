"""Verdicts: runs of readable links checked by derive's verifier (with the document's assumptions and case
splits where a link needs them), and, for a chain's first wrong claim, the engine's closed form."""
from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import Optional

import sympy as sp
from sympy.core.function import AppliedUndef

from ..assumptions import different, hot_at
from ..expr import SumExcept, bound_indices, rename_bound
from ..model import Derivation, Rule, Step
from ..setting import Definition, Setting
from .claims import Claim
from .latex import K_SYMBOL
from .reading import free_indices, private_bounds, unique_facts, with_kernel


EXPECTED_CHAINS = 5   # chains whose first wrong claim gets the engine's closed form (each costs a derivation)


def _unknown_function(e, known: set, defined: Optional[dict] = None) -> str:
    """The name of an undefined quantity differentiated in ``e`` (its derivative would be read as 0), or ''. With
    ``defined`` (each name the document defines -> the names its definition uses), a name that is only an input
    (a^L in C = sum (y - a^L)^2) differentiated with respect to another name (da^L_k/dz^L_j) is undefined too: the
    author treats it as a function, and reading it as a constant would make the claim say 0. Two inputs of one
    definition (b and W of z = W a + b) are independent: db/dW is 0; so is an input differentiated with respect to
    a defined name (db^{l+1}/dz^l, where z^l is defined)."""
    for n in e.atoms(sp.Derivative):
        f = n.expr
        for atom in [f] if isinstance(f, (sp.Symbol, sp.Indexed)) else []:
            name = str(atom.base) if isinstance(atom, sp.Indexed) else str(atom)
            if name not in known:
                return name
            wrt = {str(v.base) if isinstance(v, sp.Indexed) else str(v) for v in n.variables}
            if defined and name not in defined and name not in wrt and not wrt & set(defined) \
                    and not any(name in inputs and wrt <= inputs for inputs in defined.values()):
                return name
    return ""


def _split_runs(work, reason):
    """Runs of links, cut at each link one of whose sides ``reason`` objects to (that link is unread)."""
    for claims, exprs, conditions in work:
        bad = [reason(e) for e in exprs]
        run_c: list = []
        run_e: list = []
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


def split_unknown(work, known, defined=None):
    """Runs of links, cut where a side differentiates an undefined quantity (its derivative cannot be checked)."""
    def unknown(e):
        name = _unknown_function(e, known, defined)
        return (f"{name} is not defined in the document (define it, or pass --define): "
                "its derivative cannot be checked") if name else ""
    return _split_runs(work, unknown)


def _names(e) -> set:
    """The quantities ``e`` mentions: the bases of its entries and its plain (non-index) symbols."""
    return {str(a.base) for a in e.atoms(sp.Indexed)} | {
        str(x) for x in e.free_symbols if isinstance(x, sp.Symbol) and not x.is_integer and str(x) != "K"}


def split_unnamed(runs, known, alone: Optional[dict] = None):
    """Runs of links, cut at each link that brings in, on one side only, a name the document never defines nor
    uses in a definition (-sum_j y_j log p_j = -sum_j l_j with l never defined): the link would say something
    of an arbitrary quantity, so it is unread, not wrong. With ``alone`` (id(claim) -> reason, filled here), such
    a link is also yielded as a run of its own, to be checked with the name at random values: one that holds for
    every value of it holds whatever the author means by it (softmax's e^c cancelling); else it stays unread."""
    for claims, exprs, conditions in runs:
        run_c: list = []
        run_e: list = []
        for n, claim in enumerate(claims):
            a, b = _names(exprs[n]), _names(exprs[n + 1])
            alone_names = sorted((a ^ b) - set(known))
            if alone_names:
                claim.verdict = "unread"
                one = len(alone_names) == 1
                claim.reason = (f"{', '.join(alone_names)} {'is' if one else 'are'} not defined in the document "
                                f"and {'appears' if one else 'appear'} on one side only (define it, or "
                                "pass --define)")
                if run_c:
                    yield run_c, run_e, conditions
                run_c, run_e = [], []
                if alone is not None:
                    alone[id(claim)] = (claim.reason, alone_names)
                    claim.reason = ""   # for_every_value gives it back unless the link holds for every value
                    yield [claim], [exprs[n], exprs[n + 1]], conditions
                continue
            if not run_e:
                run_e = [exprs[n]]
            run_e.append(exprs[n + 1])
            run_c.append(claim)
        if run_c:
            yield run_c, run_e, conditions


def _base_name(v) -> str:
    return str(v.base) if isinstance(v, sp.Indexed) else str(v)


def lost_dependence(e, definitions, passes: int = 6) -> str:
    """Why a derivative in ``e`` would be read as 0 only because the reading lost what it depends on, or '':
    d F / d v where F, with the document's definitions put in, mentions no entry of v's vector at all (h_c
    written once with the example and once without, \\hat y^{(i)} = \\sigma(z^{i}) against z^{(i)}). An author
    does not write out a derivative that is 0 by independence, so such a link is unread, never wrong."""
    for n in e.atoms(sp.Derivative):
        f = n.expr
        wrt = {_base_name(v) for v in n.variables}
        for _ in range(passes):
            before = f
            for d in definitions:
                if str(d.symbol) not in wrt and d.occurs_in(f):   # the variables' own definitions stay
                    f = d.expand_in(f)
            if f == before:
                break
        mentioned = {_base_name(a) for a in f.atoms(sp.Indexed)} | {str(x) for x in f.free_symbols}
        for v in n.variables:
            if _base_name(v) not in mentioned:
                return (f"d {sp.sstr(n.expr)} / d {sp.sstr(v)}: as read, {sp.sstr(n.expr)} does not depend on "
                        f"{_base_name(v)} at all (its dependence was not read), so the derivative would be 0")
    return ""


def split_unread_definitions(runs, unread: dict):
    """Runs of links, cut at each link that mentions a name whose definition the document gives but the reading
    could not parse (h = \\sigma(W^{(1)} x + b^{(1)})): read as a free quantity, the link would be judged about
    something else than the author's h."""
    def why(e):
        hit = sorted(_names(e) & set(unread))
        return (f"{hit[0]} is defined on line {unread[hit[0]]} in notation that was not read") if hit else ""
    return _split_runs(list(runs), why)


def _lettered_sum(e) -> str:
    """x_a + x_b + x_c written out with letters for its classes ('the classes a, b, c'): the letters name distinct
    classes, which the reading does not know; '' when there is none."""
    for add in e.atoms(sp.Add):
        atoms = [t.atoms(sp.Indexed) for t in add.args]
        if len(atoms) >= 3 and all(len(x) == 1 for x in atoms):
            entries = [next(iter(x)) for x in atoms]
            letters = [a.indices[0] for a in entries if len(a.indices) == 1 and isinstance(a.indices[0], sp.Symbol)]
            if len(letters) == len(entries) and len(set(letters)) == len(letters) \
                    and len({a.base for a in entries}) == 1:
                return (f"a sum written out over the classes {', '.join(str(x) for x in letters)}: letters for distinct "
                        "classes are not read")
    return ""


def split_lost(runs, definitions, summed=frozenset()):
    """Runs of links, cut at each link a side of which has a derivative lost_dependence objects to, or a summation
    index read as a number (index_as_number)."""
    return _split_runs(list(runs), lambda e: _lettered_sum(e) or lost_dependence(e, definitions)
                       or index_as_number(e, definitions, summed))


_SUPERSCRIPT_LETTER = re.compile(r"\^\{?\(?([A-Za-z])\)?\}?$")


def index_as_number(e, definitions, summed, passes: int = 6) -> str:
    """Why ``e``, with the document's definitions put in, reads a letter the document sums over (\\sum_j) as a
    number, or '': ``(e^z)^j`` beside ``\\sum_j^N (e^z)^j`` or the name ``y^i`` beside ``\\sum_i y^i`` writes
    the index as a superscript, which is not read; as a power or part of a name the link would be judged about
    something else (a real-valued i), so it is unread, never wrong."""
    if not summed:
        return ""
    f = e
    for _ in range(passes):
        before = f
        wrt = {_base_name(v) for n in f.atoms(sp.Derivative) for v in n.variables}
        for d in definitions:
            if str(d.symbol) not in wrt and d.occurs_in(f):   # a derivative's variables keep their names
                try:
                    f = d.expand_in(f)
                except ValueError:   # a definition put in below a derivative's variable: read f as it is
                    pass
        if f == before:
            break
    for x in sorted(f.free_symbols | e.free_symbols, key=str):
        if not isinstance(x, sp.Symbol) or x.is_integer:
            continue
        m = _SUPERSCRIPT_LETTER.search(str(x))
        letter = str(x) if str(x) in summed else (m.group(1) if m and m.group(1) in summed else "")
        if letter:
            return (f"{letter} is an index the document sums over, written here as a superscript "
                    f"({sp.sstr(x)}): an index in a superscript is not read")
    return ""


def case_splits(work) -> dict:
    """(j, i) -> line, for each sum over j != i the document writes: it treats the cases j = i and j != i apart."""
    out: dict = {}
    for claims, exprs, _ in work:
        for n, e in enumerate(exprs):
            for node in e.atoms(SumExcept):
                if isinstance(node.excluded, sp.Symbol):
                    out.setdefault((node.index, node.excluded), claims[max(n - 1, 0)].line)
    return out


def _bound_apart(exprs: list) -> list:
    """The run's expressions with each summation index that is also free somewhere in the run renamed (i -> i'):
    dJ/dh_1(x^(i)) = -sum_i y_1^(i) / h_1(x^(i)) has a free i on the left and a bound one on the right."""
    free = set().union(*(free_indices(e) for e in exprs))
    if not free:
        return exprs
    return [rename_bound(e, lambda i: sp.Symbol(f"{i}'", **i.assumptions0) if i in free else None) for e in exprs]


def check_run(setting, claims, exprs, conditions, facts, Ks, points, index_samples, seed, cases=(),
              open_facts=(), open_settings=(), targets=(), slips=()) -> None:
    """Verify a run of links; a link that fails is tried again with the document's assumptions, then in the
    cases its sums split apart (j != i), and holds "using" or "for" them; a link still false is tried under the
    readings the document leaves open (``readings``; ``targets``: the target vectors that may be one-hot) and
    ``decide`` gives its verdict: holds_if, ambiguous, or wrong. ``slips``: (setting, name, reading, why, default)
    for a definition whose right side's index may be a slip for its left side's (reading.index_slips)."""
    from ..verify import VerifyTimeout, verify

    exprs = _bound_apart(exprs)

    def run(with_facts, extra=()):
        steps = tuple(Step(e, Rule.CLAIM, "claimed", assumptions=tuple(facts) if with_facts else ())
                      for e in exprs[1:])
        d = Derivation("claim", "claim", setting, exprs[0], steps, conditions=tuple(conditions) + tuple(extra))
        try:
            report = verify(d, Ks=Ks, points=points, index_samples=index_samples, seed=seed, lemmas=False)
        except VerifyTimeout as e:  # a budget of verify's own (the run's bound is checker.RunTimeout)
            return None, str(e), False
        except Exception as e:  # noqa: BLE001 -- a formula SymPy cannot evaluate is unread, never a traceback
            return None, f"cannot evaluate ({type(e).__name__})", True
        return {c.step: c for c in report.checks if c.step is not None}, "", False

    first, error, evaluable_apart = run(False)
    if first is None and evaluable_apart and len(claims) > 1:
        # one side SymPy cannot evaluate must not hide the other links of the run (a wrong one among them):
        # each link is checked on its own, and only the one that cannot be evaluated is unread
        for n, claim in enumerate(claims):
            check_run(setting, [claim], exprs[n:n + 2], conditions, facts, Ks, points, index_samples, seed, cases,
                      open_facts, open_settings, targets, slips)
        return
    if first is None:
        for c in claims:
            c.verdict, c.reason = "unread", error
        return
    failing = [n for n, c in first.items() if not c.ok]
    second, third = {}, {}
    if failing and facts:
        second, _, _ = run(True)
        second = second or {}
    if cases and any(not (n in second and second[n].ok) for n in failing):
        third, _, _ = run(True, tuple(a for a, _ in cases))
        third = third or {}
    def holds_under(under, a, b, more_facts=(), more_conditions=()) -> tuple:
        """(the link a = b holds in Setting ``under`` with these facts and conditions added, the counterexample
        where it does not, or None); (False, None) when a side cannot be evaluated so: no reading. A condition
        that says how to draw a vector (y one-hot at i) replaces the document's facts about that vector (y on
        the simplex, which it implies): the sampler lets a step's facts override a condition's domain."""
        drawn = {name for c in more_conditions for name, _ in c.domains}
        kept = tuple(f for f in facts if not drawn & {name for name, _ in f.domains})
        step = (Step(b, Rule.CLAIM, "claimed", assumptions=kept + tuple(more_facts)),)
        d = Derivation("claim", "claim", under, a, step, conditions=tuple(conditions) + tuple(more_conditions))
        try:
            report = verify(d, Ks=Ks, points=points, index_samples=index_samples, seed=seed, lemmas=False)
        except Exception:  # noqa: BLE001 -- not evaluable under this reading: no reading (OutOfTime is a BaseException)
            return False, None
        if _steps_hold(report):
            return True, None
        failed = next((c for c in report.checks if c.step is not None and not c.ok), None)
        ce = _counterexample(failed) if failed is not None and failed.message.startswith("sides differ") else None
        return False, ce if ce and "K" in ce else None

    def readings(n) -> list:
        """The readings the document leaves open for link n, each (kind, reading, why, default, holds): a
        "condition" narrows what the link is about (targets that sum to one, one-hot targets, i = j or i != j for
        the chain's own quantity); an "alternative" is another meaning of the notation, on an equal footing with
        ours (a name the document never defines: our catalogue's softmax, or an input; log to base e, 2 or 10).
        Each is allowed only where the document leaves it open (docs/check.md, "Readings")."""
        a, b = exprs[n - 1], exprs[n]
        out: list = []
        for fact in open_facts:  # targets that sum to one, where the document never says so
            base = fact.statement.lhs.function.base
            if b.has(base):  # a link whose claimed side has no target: the reading says nothing about it
                out.append(("condition", f"sum_j {base}_j = 1", "the document never says so", "",
                            lambda fact=fact: holds_under(setting, a, b, (fact,))))
        stated = bool(conditions or claims[n - 1].cases)
        hot_stated = any(dom.startswith("one_hot") for c in conditions for _, dom in c.domains)
        for base in () if hot_stated else targets:   # a target vector that may be one-hot, its 1 at a free index
            for h in _hot_indices(a, b, base, setting):
                out.append(("condition", f"{base} is one-hot with its 1 at {h}",
                            f"{base} is the document's target vector, and it does not say where its 1 is", "",
                            lambda base=base, h=h: holds_under(setting, a, b, more_conditions=(hot_at(base, h),))))
        first_link = n == 1 and isinstance(a, sp.Derivative) and not b.has(sp.KroneckerDelta) \
            and free_indices(b) <= free_indices(a)
        def equal(x, y):
            return lambda: holds_under(setting, a.xreplace({y: x}), b.xreplace({y: x}))

        def apart(x, y):
            return lambda: holds_under(setting, a, b, more_conditions=(different(x, y),))

        if not stated and first_link:   # only the chain's own quantity (dp_j/do_i = ...) has cases
            free = sorted(free_indices(a) & free_indices(exprs[0]), key=str)
            for x, y in ((x, y) for k, x in enumerate(free) for y in free[k + 1:]):
                index_cases[f"{x} = {y}"] = (x, y, equal)
                index_cases[f"{x} != {y}"] = (x, y, apart)
                out.append(("condition", f"{x} = {y}", "the document does not say which case", f"{x} != {y}",
                            equal(x, y)))
                out.append(("condition", f"{x} != {y}", "the document does not say which case", f"{x} = {y}",
                            apart(x, y)))
        elif not stated and chain_case and n > 1:
            # the chain's first link holds only in one case (i = j): its later links are read in that case too
            # (a later link in a chain that holds in general, dropping a delta_ij, is a slip and stays wrong)
            (reading, line), (x, y, make) = chain_case[0], index_cases[chain_case[0][0]]
            out.append(("condition", reading, f"the chain's first link (line {line}) holds only if {reading}", "",
                        make(x, y)))
        if a.has(sp.Derivative) or b.has(sp.Derivative):
            for other, name in open_settings:  # p_j never defined: read as the softmax by convention, or an input
                out.append(("alternative", f"{name} is an input", f"the document does not define {name}",
                            f"{name} is the softmax of z (the catalogue's convention)",
                            lambda other=other: holds_under(other, a, b)))
        for other, name, reading, why, default in slips:  # p_j = e^{a_i} / ...: as written, or with a_j meant
            if name in _depends_on(a, setting) | _depends_on(b, setting):
                out.append(("alternative", reading, why, default, lambda other=other: holds_under(other, a, b)))
        return out

    index_cases: dict = {}   # "i = j" -> (i, j, how to check a link in that case)
    chain_case: list = []    # [(reading, line)] when the chain's first link holds only if i = j (or i != j)
    for n, claim in enumerate(claims, start=1):
        c = first.get(n)
        if n == 2 and claims[0].verdict == "holds_if" and claims[0].cases and claims[0].cases[-1] in index_cases:
            chain_case.append((claims[0].cases[-1], claims[0].line))
        if c is None:
            claim.verdict, claim.reason = "unread", "not checked"
        elif c.ok:
            claim.verdict = "holds"
            if conditions:  # read from the prose around the block: say so
                claim.cases = tuple(a.text for a in conditions)
                claim.reason = "given that " + "; ".join(claim.cases)
        elif n in second and second[n].ok:
            claim.verdict = "holds"
            claim.uses = tuple(sp.sstr(a.statement) for a in unique_facts(facts))
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
            if n in second and not second[n].ok and second[n].message.startswith("sides differ"):
                c = second[n]  # false even with the document's assumptions: show values that honour them
            counterexample = _counterexample(c)
            if "K" not in counterexample:   # no values to show: a wrong verdict always carries them
                claim.verdict, claim.reason = "unread", "cannot evaluate both sides: " + c.message
                continue
            if conditions and not claim.cases:   # the prose's conditions the counterexample honours
                claim.cases = tuple(a.text for a in conditions)
            decide(claim, readings(n), c.message, counterexample)


def _depends_on(e, setting: Setting) -> set:
    """The names e mentions, directly or through the setting's definitions (L through p_k through its a)."""
    by_name = {d.symbol: d for d in setting.definitions}
    seen: set = set()
    todo = [e]
    while todo:
        x = todo.pop()
        names = {a.base.label if isinstance(a, sp.Indexed) else a for a in x.atoms(sp.Indexed, sp.Symbol)}
        names |= {a.base for a in x.atoms(sp.Indexed)}
        for n in names - seen:
            seen.add(n)
            if n in by_name:
                todo.append(by_name[n].expr)
    return seen


def decide(claim: Claim, readings: list, message: str, counterexample: dict) -> None:
    """The verdict of a link false as read, from the readings the document leaves open (each (kind, reading, why,
    default, holds), tried in order; ``holds`` is called at most once each):

    - holds_if: a condition makes it hold ("holds if i = j"): the first such condition, with the one it is false
      under;
    - ambiguous: no condition makes it hold, but an alternative reading of the notation does, and the document
      prefers neither (it holds if p is an input, it is false if p is the softmax of z);
    - wrong: false under every reading tried (listed in ``readings``), with a counterexample: under the last
      condition tried that gives one (values a reader of the document accepts: y one-hot rather than y = -1.4),
      else as read."""
    tried: list = []
    held = None
    for kind, reading, why, default, holds in readings:
        ok, values = holds()
        tried.append((kind, reading, why, default, ok))
        if ok and kind == "condition":
            held = tried[-1]
            break
        if values and kind == "condition":
            counterexample = {**values, "reading": reading}
    if held is None:
        held = next((t for t in tried if t[4]), None)
    if held is None:
        claim.verdict, claim.reason, claim.counterexample = "wrong", message, counterexample
        if tried:
            claim.readings = (("as written", False),) + tuple((t[1], False) for t in tried)
        return
    kind, reading, why, default, _ = held
    claim.readings = ((reading, True), (default or "as written, with no such condition", False))
    if kind == "condition":
        claim.verdict, claim.cases = "holds_if", tuple(claim.cases) + (reading,)
        claim.reason = f"if {reading} ({why}; it is false {'if ' + default if default else 'otherwise'})"
    else:
        claim.verdict = "ambiguous"
        claim.reason = f"ambiguous: it holds if {reading}, it is false if {default} ({why})"
        claim.counterexample = counterexample


_DIFFER = re.compile(r"sides differ at K=(\d+), (.*?): (\S+) != (\S+)$")


def _counterexample(check) -> dict:
    """The verifier's failing case as JSON-ready values, with ``notation``: the values named as the document
    writes them (yhat[1] -> \\hat{y}_{1})."""
    from .report import document_name
    ce = getattr(check, "counterexample", None)
    if isinstance(ce, dict):
        out: dict = {k: (v if isinstance(v, (int, float, str, list, dict)) or v is None else str(v))
                     for k, v in ce.items()}
        values = out.get("values")
        if isinstance(values, dict):
            out["notation"] = {document_name(k): v for k, v in values.items()}
        return out
    m = _DIFFER.search(check.message or "")
    if not m:
        return {"message": check.message}
    indices = {}
    if m.group(2) != "no free index":
        for part in m.group(2).split(", "):
            k, _, v = part.partition("=")
            indices[k] = int(v) if v.lstrip("-").isdigit() else v
    return {"K": int(m.group(1)), "indices": indices, "lhs": float(m.group(3)), "rhs": float(m.group(4))}


def expect(claim: Claim, claims: list, exprs: list, n: int, conditions: tuple, setting: Setting,
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
            if d.incomplete or isinstance(d.result, tuple) or d.result.has(sp.Derivative) or not verify(d, Ks=(2, 3)).ok:
                continue
        except Exception:  # noqa: BLE001 -- no derivation: the report simply has no expected form
            continue
        result = _readable_bounds(d.result)
        try:
            shown = _printed(result, text, latex)
        except Exception:  # noqa: BLE001 -- a form the printers cannot write: no expected form
            return
        claim.expected, claim.expected_latex = shown
        claim.expected_of = claims[h].lhs
        return


def _printed(e, text, latex) -> tuple:
    """(text, latex) of ``e``, with the document's own names (y^*, a^l-1) kept: the printers refuse a name that
    is not an identifier, so each is printed as a placeholder identifier and written back as the document has it."""
    from ..notation import is_symbol_name
    odd = sorted({str(x) for x in e.free_symbols if isinstance(x, sp.Symbol) and not is_symbol_name(str(x))}
                 | {str(a.base) for a in e.atoms(sp.Indexed) if not is_symbol_name(str(a.base))}, key=len, reverse=True)
    if not odd:
        return text(e), latex(e)
    marks = {name: f"Zq{n}q" for n, name in enumerate(odd)}
    renamed = e.replace(lambda x: isinstance(x, sp.IndexedBase) and str(x) in marks,
                        lambda x: sp.IndexedBase(marks[str(x)]))
    renamed = renamed.xreplace({x: sp.Symbol(marks[str(x)], **x.assumptions0) for x in renamed.free_symbols
                                if isinstance(x, sp.Symbol) and str(x) in marks})
    out = [text(renamed), latex(renamed)]
    for name, mark in marks.items():
        out = [o.replace(mark, name) for o in out]
    return tuple(out)


def _readable_bounds(e):
    """The private summation indices of the document's definitions (_b) renamed to letters not in use."""
    taken = {str(s) for s in e.free_symbols} | {str(i) for i in bound_indices(e)}
    letters = iter(c for c in "lmnpqrstuv" if c not in taken)
    return rename_bound(e, lambda i: sp.Symbol(next(letters, str(i)), **i.assumptions0)
                        if str(i).startswith("_") else None)


def contradicted(work, defined: dict, where: dict):
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
            if isinstance(b.expr, sp.Indexed) and str(b.expr.base) + "[]" in defined:
                continue   # df[n]/dx = dy[n]/dx: two names the document defines, which the claim itself compares
            mapping = dict(zip(a.expr.indices, d.indices))
            if not all(isinstance(i, sp.Symbol) for i in mapping):
                continue
            expanded = private_bounds(b.expr.xreplace(mapping))
            values = _differs(d, expanded)
            if values is None:
                continue
            seen.add(key)
            line, lhs, rhs, chain = where[key]
            wrong = Claim(line, lhs, rhs, verdict="wrong", chain=chain, lhs_line=line,
                          reason=f"line {claim.line} expands {text(a.expr)} as {text(b.expr)}, "
                                 "which this definition is not",
                          counterexample=values)
            yield key, wrong, with_kernel(replace(d, expr=expanded,
                                                   text=f"as the derivation expands it (line {claim.line})"))


def _differs(d: Definition, other: sp.Expr) -> Optional[dict]:
    """The verifier's counterexample where ``other`` is not the definition ``d`` of the same entry, or None (also
    when a side cannot be evaluated: no verdict, so no contradiction)."""
    from ..verify import verify
    setting = Setting(K=K_SYMBOL, variables=(), definitions=(),
                      ranges=tuple((i, (sp.Integer(1), K_SYMBOL)) for i in d.indices))
    lhs = d.expr
    step = Step(other, Rule.CLAIM, "the derivation's expansion")
    try:
        report = verify(Derivation("definition", "definition", setting, lhs, (step,)), Ks=(3,), lemmas=False)
    except Exception:  # noqa: BLE001 -- a side SymPy cannot evaluate: no verdict
        return None
    check = next(c for c in report.checks if c.step == 1)
    return _counterexample(check) if not check.ok and check.message.startswith("sides differ") else None


def _steps_hold(report) -> bool:
    """Every claimed link holds in the report (its step checks, with at least one case each); the result's own
    check is not asked, since a link's left-hand side need not be a derivative (o_k sum_j y_j - y_k = ...)."""
    steps = [c for c in report.checks if c.step is not None]
    return bool(steps) and all(c.ok for c in steps)


def _hot_indices(a, b, base, setting) -> list:
    """The free indices h at which the target vector ``base`` may be read as one-hot for the link a = b: the link is
    about the target (it mentions it, or differentiates a cost the document defines with it), and its claimed side
    b mentions the target at h only. A claimed side that still writes other entries (a sum over them, y_k for k !=
    i) shows that its author does not take y one-hot at i: those entries would be 0, so a slip in them (a wrong
    sign) is not excused by this reading; nor is one that writes 1 - y_i (``_complemented``)."""
    costs = {_base_name(n.expr) for e in (a, b) for n in e.atoms(sp.Derivative)}   # dL/dz_i: L is differentiated
    if not (a.has(base) or b.has(base) or any(str(d.symbol) in costs and d.expr.has(base)
                                               for d in setting.definitions)):
        return []
    written = {x.indices[0] for x in b.atoms(sp.Indexed) if x.base == base}
    free = free_indices(a) | free_indices(b)
    if len(written) > 1 or any(i not in free for i in written):
        return []
    return sorted((h for h in written or free if not _complemented(b, base[h])), key=str)


def _complemented(e, entry) -> bool:
    """e writes 1 - entry (a binary cross-entropy's (1 - y_i) log(1 - p_i)): its author takes the entry as a 0/1
    label, which one-hot at its index would make the constant 1, and the term written with it 0."""
    return any(isinstance(n, sp.Add) and n.has(entry) and sp.expand(n.xreplace({entry: sp.Integer(1)})) == 0
               for n in sp.preorder_traversal(e))


def target_bases(definitions, exprs, labels=frozenset()) -> tuple:
    """The document's target vectors: entries y_k that multiply a log (a cross-entropy's y_k log p_k, in a definition
    or a claim) and that the document does not define (an input, not an integer label). Only such a vector may be
    read as one-hot with its 1 at a free index ("holds if y is one-hot with its 1 at i"): a prediction, or any
    other vector, is never excused so."""
    own = {str(d.symbol) for d in definitions}
    found: dict = {}
    for e in [d.expr for d in definitions] + list(exprs):
        for m in e.atoms(sp.Mul):
            if not any(isinstance(f, sp.log) for f in m.args):
                continue
            for f in m.args:
                if isinstance(f, sp.log):
                    continue
                for atom in f.atoms(sp.Indexed):
                    if len(atom.indices) == 1 and str(atom.base) not in own and atom.base not in labels:
                        found.setdefault(str(atom.base), atom.base)
    return tuple(found[k] for k in sorted(found))


# -- names the document applies to an argument and never defines: any differentiable function -------------------

FUNCTION_INSTANCES = 3   # random smooth functions each undefined function is checked with


def as_functions(work, known: set):
    """The chains with each name the document never defines but differentiates itself with respect to one variable
    x (f'(x) and g'(x) in the quotient rule, d z / d theta), read as an arbitrary differentiable function of x:
    the symbol f becomes f(x) in every side of that chain, so SymPy's chain rule applies to it. A name that is
    never differentiated itself (a in d(a x)/dx) stays a constant; one differentiated with respect to two
    variables, or an entry (a^L_k), is left as it is (its links stay unread)."""
    out = []
    for claims, exprs, conditions in work:
        wrt: dict = {}
        for e in exprs:
            for n in e.atoms(sp.Derivative):
                for s in n.expr.free_symbols:
                    if isinstance(s, sp.Symbol) and not s.is_integer and str(s) not in known:
                        wrt.setdefault(s, set()).update(n.variables)
        direct = {n.expr for e in exprs for n in e.atoms(sp.Derivative) if isinstance(n.expr, sp.Symbol)}
        mapping = {s: sp.Function(str(s))(next(iter(v))) for s, v in wrt.items()
                   if s in direct and len(v) == 1 and isinstance(next(iter(v)), sp.Symbol) and next(iter(v)) != s}
        if mapping:
            exprs = [e.xreplace(mapping) for e in exprs]
        out.append((claims, exprs, conditions))
    return out


def entry_functions(work, definitions) -> dict:
    """Entries the document never defines but differentiates with respect to the entries of one other vector (Nielsen's
    da^L_k/dz^L_j, with a^L only an input of C = 1/2 sum (y - a^L)^2 and z^L defined nowhere): {a^L: z^L}. Each such
    a^L_k is an arbitrary differentiable function of the whole vector z^L in the claims (check_functions), the same
    mechanism as f(x) of an f never defined. A base differentiated with respect to two vectors, or one defined in
    terms of the other, is left as it is (its links stay unread)."""
    own = {d.symbol for d in definitions}
    wrt: dict = {}
    for _, exprs, _ in work:
        for e in exprs:
            for n in e.atoms(sp.Derivative):
                if isinstance(n.expr, sp.Indexed) and n.expr.base not in own and len(n.expr.indices) == 1:
                    wrt.setdefault(n.expr.base, set()).update(
                        v.base if isinstance(v, sp.Indexed) and len(v.indices) == 1 else None for v in n.variables)
    feeds = {d.symbol: {a.base for a in d.expr.atoms(sp.Indexed)} for d in definitions}
    return {a: next(iter(v)) for a, v in wrt.items() if len(v) == 1 and None not in v and next(iter(v)) != a
            and next(iter(v)) not in own and a not in feeds.get(next(iter(v)), set())}


def differentiated_entries(exprs, entries: dict) -> dict:
    """Those of ``entries`` (entry_functions) that a derivative in ``exprs`` differentiates: elsewhere (an algebraic
    link about g_m) an undefined entry is a plain variable."""
    return {a: v for a, v in entries.items() if any(n.expr.has(a) for e in exprs for n in e.atoms(sp.Derivative))}


def entry_definition(base, var, body) -> Definition:
    """base_i := body(i), an instance of an arbitrary differentiable function of the vector var (abstract)."""
    i = sp.Dummy("i", integer=True, positive=True)
    return Definition(f"def_{base}", base, (i,), body(i), text=f"any differentiable function of {var}", abstract=True)


def _random_entry(rng: random.Random, var, coupled: bool):
    """A random smooth function of the vector ``var`` for entry i: of var_i, plus, if ``coupled``, of every entry."""
    def q():
        return sp.Rational(rng.randint(-9, 9) or 1, rng.randint(2, 5))
    own = [q() for _ in range(7)]
    weight, shift = q(), q()
    m = sp.Dummy("m", integer=True, positive=True)

    def body(i):
        x = var[i]
        out = own[0] * sp.sin(own[1] * x + own[2]) + own[3] * sp.exp(own[4] * x / 2) + own[5] * x ** 2 + own[6] * x + 4
        if coupled:
            out += weight * sp.Sum(sp.sin(var[m] * (shift + i / 7)), (m, 1, K_SYMBOL))
        return out
    return body


def undefined_functions(exprs) -> set:
    """The undefined functions applied in ``exprs`` (f of f(x))."""
    return {a.func for e in exprs for a in e.atoms(AppliedUndef)}


def _random_smooth(rng: random.Random, t: sp.Symbol) -> sp.Expr:
    """A random smooth function of t: a combination of sin, exp and a polynomial, rational coefficients."""
    def q():
        return sp.Rational(rng.randint(-9, 9) or 1, rng.randint(2, 5))
    return (q() * sp.sin(q() * t + q()) + q() * sp.exp(q() * t / 2) + q() * t ** 2 + q() * t
            + rng.randint(3, 6))


def _sigmoid(t: sp.Symbol) -> sp.Expr:
    return 1 / (1 + sp.exp(-t))


def check_functions(check, claims, exprs, seed: int, entries: Optional[dict] = None) -> None:
    """Check a run whose sides apply undefined functions (f(x), f'(x)), or differentiate undefined entries (``entries``,
    {a^L: z^L} from entry_functions): ``check(claims, exprs, definitions)`` verifies the run with each function replaced
    by FUNCTION_INSTANCES random smooth functions in turn, and each such entry a^L_k defined as a random smooth function
    of the whole vector z^L. A link that holds for every instance holds for any differentiable function (the chain
    rule, the quotient rule); one that fails for some instance says something about what the author means by f,
    which the document does not say: it is "holds_if" where entries that each depend on their own z^L_k alone make it
    hold (random again), or where the sigmoid for f (and for those entries) does, else unread, and never wrong on the
    strength of a random f."""
    import copy

    entries = differentiated_entries(exprs, entries or {})
    functions = sorted(undefined_functions(exprs), key=str)
    t = sp.Dummy("t")
    rng = random.Random(seed)
    names = ", ".join([str(f) for f in functions] + [str(a) for a in entries])
    verb = "is" if len(functions) + len(entries) == 1 else "are"
    no_functions: dict = {}

    def instance(bodies: dict, entry_bodies: dict) -> list:
        trial = [copy.copy(c) for c in claims]
        subs = {f: sp.Lambda(t, body) for f, body in bodies.items()}
        check(trial, [_instantiate(e, subs) for e in exprs],
              tuple(entry_definition(a, entries[a], body) for a, body in entry_bodies.items()))
        return trial

    def random_functions() -> dict:
        return {f: _random_smooth(rng, t) for f in functions}

    results = [instance(random_functions(), {a: _random_entry(rng, v, True) for a, v in entries.items()})
               for _ in range(FUNCTION_INSTANCES)]
    sigmoid = None
    own: Optional[list] = None
    for n, claim in enumerate(claims):
        verdicts = {r[n].verdict for r in results}
        if verdicts == {"holds"}:
            claim.verdict = "holds"
            claim.reason = (f"for any differentiable {names} (checked with {FUNCTION_INSTANCES} random smooth "
                            f"functions for {names}; the document does not define {names})")
            continue
        if entries and not functions and verdicts & {"wrong", "holds_if", "ambiguous"}:
            if own is None:   # each entry a function of its own input alone: a^L_k = sigma(z^L_k) for any sigma
                own = [instance(no_functions, {a: _random_entry(rng, v, False) for a, v in entries.items()})
                       for _ in range(FUNCTION_INSTANCES)]
            if {r[n].verdict for r in own} == {"holds"}:
                alone = ", ".join(f"{a}_k depends on {v}_k alone" for a, v in entries.items())
                claim.verdict = "holds_if"
                claim.cases = tuple(claim.cases) + (alone,)
                claim.readings = ((alone, True), (f"{names} any differentiable function of {', '.join(str(v) for v in entries.values())}",
                                                  False))
                claim.reason = (f"if {alone} (the document does not define {names}; it is false for entries that "
                                "depend on the other entries too)")
                continue
        if "wrong" in verdicts or "holds_if" in verdicts or "ambiguous" in verdicts:
            if sigmoid is None:
                sigmoid = instance({f: _sigmoid(t) for f in functions},
                                   {a: (lambda i, v=v: _sigmoid(v[i])) for a, v in entries.items()})
            if sigmoid[n].verdict == "holds":
                claim.verdict = "holds_if"
                claim.cases = tuple(claim.cases) + (f"{names} {verb} the sigmoid",)
                claim.readings = ((f"{names} {verb} the sigmoid", True), (f"{names} any differentiable function", False))
                claim.reason = (f"if {names} {verb} the sigmoid (the document does not define {names}; it is false for "
                                "other functions)")
            else:
                claim.verdict = "unread"
                claim.reason = (f"depends on what {names} {verb}, which the document does not define (it is false for "
                                "some differentiable functions; define it, or pass --define)")
        else:
            claim.verdict = "unread"
            claim.reason = next((r[n].reason for r in results if r[n].verdict == "unread"), "") or \
                f"{names} is not defined in the document"


def _instantiate(e, subs: dict):
    """``e`` with each undefined function replaced by its body, and the derivatives of those bodies taken (only
    those: dC/dw of a C the document defines is the verifier's, through C's definition, not 0)."""
    if not subs:
        return e
    functions = set(subs)
    out = e.replace(lambda n: isinstance(n, (sp.Derivative, sp.Subs)) and not n.has(sp.Sum)
                    and any(a.func in functions for a in n.atoms(AppliedUndef)), lambda n: n.subs(subs).doit())
    return out.subs(subs)


def for_every_value(claims, alone: dict) -> None:
    """The verdicts of links checked with a name on one side only at random values (split_unnamed): "holds" for
    every value of it stands, with the reason; any other verdict is the link's unread reason again (a wrong
    verdict would rest on a value the author never meant)."""
    for c in claims:
        if id(c) not in alone:
            continue
        reason, names = alone[id(c)]
        if c.verdict == "holds":
            every = f"for every value of {', '.join(names)} (not defined in the document)"
            c.reason = f"{c.reason}; {every}" if c.reason else every
        else:
            c.verdict, c.reason, c.readings, c.counterexample = "unread", reason, (), None
