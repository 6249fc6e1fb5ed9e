"""Check every step of a derivation, its lemmas, and its result.

A step claims ``previous = new`` under the derivation's conditions and the step's own assumptions. For
symbolic K the claim is proved for every K where the identities of ``prove`` suffice, and evaluated at
K = 2..5 and at one K drawn from 6..24 by the seed (concrete K: at that K), with values of the free indices
that honour the conditions (``cases``). Both sides have every definition substituted and every sum and
derivative evaluated (``instantiate``, ``sides``), and are evaluated term by term in 30-digit mpmath
arithmetic (``codegen``, ``evaluate``) at random points drawn to honour the assumptions (``sampling``);
the difference of the terms the sides do not share is compared with the sum of their absolute values.
The result is also compared with a central finite difference of the cost, independent of every step.
docs/architecture.md says exactly what an ok report guarantees.

Modules: ``report`` (Check, Report), ``cases`` (which K and index values), ``sampling`` (the values),
``instantiate`` (a side as a plain expression), ``sides`` (which instantiation, cached), ``codegen`` (an
expression as an mpmath program), ``evaluate`` (a side's terms at a case), ``prove`` (symbolic zero, for a
concrete K and for every K), ``checks`` (a chain's checks), ``budget`` (the time budget), ``cache``.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional, Sequence

import mpmath

from ..errors import ArgumentError, ArgumentTypeError
from ..model import Derivation
from . import cases
from .budget import Budget, OutOfTime, VerifyTimeout
from .cache import CACHE
from .checks import check_chain
from .report import Check, Report

__all__ = ["verify", "clear_cache", "Check", "Report", "VerifyTimeout"]


def verify(derivation: Derivation, *, Ks: Optional[Sequence[int]] = None, points: int = 2,
           index_samples: int = 2, seed: int = 0, lemmas: bool = True,
           progress: Optional[Callable[[str], None]] = None, timeout: Optional[float] = None) -> Report:
    """Check every step (and every lemma's steps) and the result of ``derivation``.

    ``Ks`` defaults to 2..5 and one K drawn from 6..24 by ``seed`` for symbolic K (raised above any index
    constant the chains compare an index with), and to the derivation's K otherwise. ``index_samples`` is
    the number of assignments of the free indices per K at K = 4, 5 (every assignment is checked at
    K <= 3; at a K above 5 the ends 1, K - 1, K of each range, a random value and the index constants).
    ``progress``, when given, is called with a short message such as "softmax_ce: step 3 of 9" before each
    check. ``timeout`` (seconds, None for no limit) bounds the whole call: past it, ``VerifyTimeout`` is
    raised naming the claims left unchecked; a report is never ok for work not done.
    """
    if not isinstance(derivation, Derivation):
        raise ArgumentTypeError("derivation", f"must be a Derivation, got {type(derivation).__name__}")
    chains = derivation.walk() if lemmas else (derivation,)
    drawn = None
    if Ks is None and not derivation.setting.K.is_Integer:
        constants = tuple(c for d in chains for c in cases.index_constants([d.lhs] + [s.expr for s in d.steps]))
        Ks = cases.default_Ks(derivation, seed, constants)
        drawn = Ks[-1]
    Ks = _check_Ks(derivation, Ks)
    if not isinstance(points, int) or isinstance(points, bool) or points < 1:
        raise ArgumentError("points", f"must be a positive integer, got {points!r}")
    if not isinstance(index_samples, int) or isinstance(index_samples, bool) or index_samples < 1:
        raise ArgumentError("index_samples", f"must be a positive integer, got {index_samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ArgumentTypeError("seed", f"must be an integer, got {type(seed).__name__}")
    if progress is not None and not callable(progress):
        raise ArgumentTypeError("progress", f"must be callable or None, got {type(progress).__name__}")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout > 0 or timeout != timeout):
        raise ArgumentError("timeout", f"must be a positive number of seconds or None, got {timeout!r}")
    budget = Budget(timeout)
    checks: list = []
    done: list = []
    todo = [d for d in chains if d.steps]
    precision = mpmath.mp.prec
    try:
        with budget:  # interrupts a long SymPy or mpmath call at the deadline (main thread; see budget)
            for d in chains:
                if d.incomplete:
                    checks.append(Check(d.name, None, "incomplete", False, "not a closed form", 0, float("inf"),
                                        f"the derivation is incomplete: {d.incomplete}"))
                if not d.steps and d.parts:  # made of parts only: each part is checked on its own
                    continue
                if not d.steps:
                    checks.append(Check(d.name, None, "no steps", False, "nothing to check", 0, float("inf"),
                                        "the derivation has no steps: nothing was proved"))
                    continue
                checks.extend(check_chain(d, Ks, points, index_samples, seed, progress, budget, done))
    except OutOfTime:
        assert timeout is not None  # OutOfTime is raised only under a budget
        finished = {(c.derivation, c.step) for c in done}
        unchecked = [f"{d.name}: " + (f"step {n} ({s.rule.value})" if s is not None else "result")
                     for d in todo for n, s in [*enumerate(d.steps, start=1), (None, None)]
                     if (d.name, n) not in finished]
        raise VerifyTimeout(derivation.name, timeout, tuple(unchecked), tuple(done),
                            caller=budget.caller_first and not budget.expired()) from None
    finally:
        mpmath.mp.prec = precision  # an mpmath routine interrupted halfway may not have put it back
    return Report(derivation.name, tuple(checks), Ks=Ks, drawn=drawn,
                  wide=cases.WIDE if drawn is not None else None, seed=seed)


def clear_cache() -> None:
    """Forget every cached instantiation, proof and chain (for benchmarks and memory)."""
    CACHE.clear()


def _check_Ks(derivation: Derivation, Ks) -> tuple:
    K = derivation.setting.K
    if Ks is None:
        return (int(K),)
    if isinstance(Ks, (str, bytes)) or not isinstance(Ks, Iterable):
        raise ArgumentTypeError("Ks", f"must be a sequence of integers >= 2, got {type(Ks).__name__}")
    Ks = tuple(Ks)
    if not Ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 2 for k in Ks):
        raise ArgumentError("Ks", f"must be a non-empty sequence of integers >= 2, got {Ks!r}")
    if K.is_Integer and Ks != (int(K),):
        raise ArgumentError("Ks", f"{derivation.name} has K = {K}; it can only be checked at K = {K}")
    return Ks
