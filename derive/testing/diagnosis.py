"""The likely causes of a failing report, in order: exceptions, overflow, loss of precision at large
scores, then the first of the layout's slip checks that explains the remaining failures."""
from __future__ import annotations

from .frameworks import _Caller
from .layout import _Layout
from .report import GradientReport
from .tolerance import _large


def _diagnose(report: GradientReport, compiled, caller: _Caller, layout: _Layout) -> list:
    failures = report.failures
    if not failures:
        return []
    causes = []
    hung = [f for f in failures if f.kind == "timeout"]
    if hung:
        causes.append(f"{hung[0].error} in {hung[0].case.describe()}: an endless loop, or far slower than the "
                      f"closed form; give timeout= a larger bound if it is only slow")
    mutated = [f for f in failures if f.kind == "mutated"]
    if mutated:
        names = sorted({n for f in mutated for n in f.written})
        causes.append(f"fn writes into its input arrays ({', '.join(names)}), so its caller's data changes: "
                      f"compute into new arrays (or copy first: {names[0]} = {names[0]}.copy())")
    raised = [f for f in failures if f.kind == "raised"]
    if raised:
        where = ("every case" if len(raised) == len(report.cases)
                 else f"{len(raised)} cases, first {raised[0].case.describe()}")
        causes.append(f"fn raised an exception in {where}: {raised[0].error}")
    nonfinite = [f for f in failures if f.kind == "non-finite"]
    if nonfinite and all(_large(f.case) for f in nonfinite):
        worst = max(f.case.scale for f in nonfinite)
        causes.append(f"non-finite output (inf or nan) only at large |{layout.score}| (up to {worst:.3g}), where "
                      f"exp overflows: a missing max-subtraction; compute the softmax as exp(s - max(s)) / "
                      f"sum(exp(s - max(s))) over each row's scores s (or use a log-sum-exp){layout.overflow_hint}")
    elif nonfinite:
        causes.append(f"non-finite output (inf or nan) even at moderate |{layout.score}|, first in "
                      f"{nonfinite[0].case.describe()}: a division by zero or a log of zero")
    wrong = [f for f in failures if f.kind in ("mismatch", "shape", "structure")]
    if wrong and all(_large(f.case) for f in wrong) and not nonfinite:
        causes.append(f"wrong only at large |{layout.score}| (at least {min(f.case.scale for f in wrong):.3g}): a "
                      f"loss of precision, e.g. log(softmax(s)) where log-softmax s - logsumexp(s) is needed")
    ordinary = [f for f in wrong if not _large(f.case)]
    if ordinary:
        for check in layout.checks():
            cause = check(ordinary, compiled, layout)
            if cause:
                causes.append(cause)
                break
    return causes
