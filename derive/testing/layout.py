"""The input layout base: drawing the battery of cases, comparing one output array, and the hooks the
report and the diagnosis call; each derivation interface (per-example, dataset, labels, network) subclasses it."""
from __future__ import annotations

import itertools
from typing import Any, Callable, Optional

import numpy as np

from ..model import Derivation
from .case import Case
from .frameworks import _Caller, _Misbehaved, _Raised, _to_numpy
from .report import UNRECOGNISED, CaseFailure
from .slips import _factor, _one_class, _shifted, _transposed
from .tolerance import _allowance, _tolerance, _violations

SCALAR_VALUES = (0.5, 2.0)  # positive, as the verifier samples scalars; never 1, which would hide a missing factor


def _compare(caller: _Caller, case: Case, expected: np.ndarray, notes: list) -> Optional[CaseFailure]:
    try:
        actual = caller(case.inputs)
    except _Misbehaved as exc:
        return CaseFailure(case, exc.kind, expected, error=str(exc), written=exc.names)
    except _Raised as exc:
        return CaseFailure(case, "raised", expected, error=str(exc))
    except Exception as exc:
        return CaseFailure(case, "raised", expected, error=f"{type(exc).__name__}: {exc}")
    if actual.shape != expected.shape:
        return CaseFailure(case, "shape", expected, actual)
    name, rtol, atol = _tolerance(case.dtype, actual.dtype)
    if name != case.dtype and not any("lower precision" in n for n in notes):
        notes.append(f"fn returned {actual.dtype} for {case.dtype} inputs (JAX without jax_enable_x64?): "
                     f"compared with the {name} tolerance, the lower precision")
    bad, ratio, bound = _violations(actual, expected, rtol, atol, _allowance(case, name))
    if not bad.any():
        return None
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(ratio)), ratio.shape))
    kind = "non-finite" if not np.all(np.isfinite(actual)) else "mismatch"
    return CaseFailure(case, kind, expected, actual, worst, float(actual[worst]), float(expected[worst]),
                       float(bound[worst]), tolerance=(name, rtol, atol))


def _domains(d: Derivation, compiled) -> dict:
    """Base name -> how to draw it. y and t without a declared domain are targets in [0, 1] (the catalogue's
    notation; focal_loss declares none); any other array without one is drawn from the reals."""
    domains = {"y": "unit", "t": "unit"}
    domains.update(dict(d.setting.domains))
    for x in d.walk():
        for a in x.assumptions:
            domains.update(dict(a.domains))
    domains.update(getattr(compiled, "targets", {}) or {})
    return domains


LOGITS = (("small", 1e-3), ("moderate", 3.0), ("large", 100.0), ("extreme", 1e4), ("equal", None))


class _Layout:
    # each layout's own (declared here for the type checker): the examples' axis name and, for this battery,
    # its sizes, its logit inputs, its inputs and its largest score
    examples: str
    _dims: Callable[..., list]
    logit_inputs: Callable[[], tuple]
    make: Callable[..., Any]
    top_score: Callable[[dict], float]
    names: tuple = ()
    score = "z"
    transpose_hint = ""
    overflow_hint = ""
    unrecognised = UNRECOGNISED  # the slips checked for

    @staticmethod
    def convert(out) -> np.ndarray:
        return _to_numpy(out)

    def compare(self, caller: _Caller, case: Case, expected, notes: list) -> Optional[CaseFailure]:
        return _compare(caller, case, expected, notes)

    def checks(self) -> tuple:
        """The likely-cause checks tried, in order, on the failures not explained by large logits."""
        return (_transposed, _factor, _shifted, _one_class)

    def output_text(self, output: str) -> str:
        return ""

    def outputs_text(self, outputs: dict) -> str:
        return ""

    def __init__(self, d: Derivation, compiled) -> None:
        self.d = d
        self.compiled = compiled
        self.K = getattr(compiled, "K", None)
        self.domains = _domains(d, compiled)

    def scalars(self) -> tuple:
        return ()

    def gain(self, inputs) -> float:
        return 1.0

    def target_names(self) -> tuple:
        return self.names[2:3]

    def target_kinds(self) -> tuple:
        return ("one-hot", "soft")

    def battery(self, rng, fixed: dict) -> list:
        fixed = {k: self._pinned(k, v) for k, v in fixed.items()}
        cases, n = [], 0
        kinds = self.target_kinds()
        if kinds != ("",) and all(t in fixed for t in self.target_names()):
            kinds = ("given",)
        for dtype in ("float64", "float32"):
            for dims in self._dims(fixed):
                for (logits, scale), targets in itertools.product(LOGITS, kinds):
                    if any(k in fixed for k in self.logit_inputs()) and logits != "moderate":
                        continue  # the logits are pinned: one case per dims and targets
                    inputs, top = self.make(rng, dims, logits, scale, targets, np.dtype(dtype))
                    for i, s in enumerate(self.scalars()):
                        inputs[s] = SCALAR_VALUES[(n + i) % len(SCALAR_VALUES)]
                    for k, v in fixed.items():
                        inputs[k] = v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
                    if any(k in fixed for k in self.logit_inputs()):
                        top, logits = self.top_score(inputs), "pinned"
                    label = self.label(logits, top, targets) + "".join(
                        f", {s} = {inputs[s]:g}" for s in self.scalars())
                    n += 1
                    cases.append(Case(n, dtype, label, inputs, dims, top, self.gain(inputs)))
        return cases

    def _pinned(self, name: str, value):
        if name in self.scalars():
            from ..inputs import check_scalar
            return check_scalar(name, value)
        if type(value).__module__.split(".")[0] in ("torch", "jax", "jaxlib"):
            value = _to_numpy(value)
        return np.asarray(value)

    def label(self, logits, top, targets) -> str:
        what = {"small": "small", "moderate": "moderate", "large": "large", "extreme": "extreme",
                "equal": "equal logits in each row,", "pinned": "the given"}[logits]
        return f"{what} |{self.score}| up to {top:.3g}" + (f", {targets} targets" if targets else "")

    def factors(self, case: Case) -> list:
        m = case.dims[self.examples]
        out = [("1/N", 1.0 / m), ("N", float(m)), ("-1", -1.0), ("1/K", 1.0 / case.dims["K"]),
               ("K", float(case.dims["K"]))]
        for s in self.scalars():
            out += [(f"{s}", float(case.inputs[s])), (f"1/{s}", 1.0 / float(case.inputs[s]))]
        return out

    @staticmethod
    def factor_order(name: str) -> int:
        return {"1/N": 0, "N": 1, "-1": 2}.get(name, 3)

    def coverage(self, cases) -> str:
        Ks = sorted({c.dims["K"] for c in cases})
        Ns = sorted({c.dims[self.examples] for c in cases})
        dtypes = sorted({c.dtype for c in cases})
        return (f"{' and '.join(dtypes)}, K in {Ks}, {self.examples} in {Ns}, |{self.score}| from "
                f"{min(c.scale for c in cases if c.scale > 0):.2g} to {max(c.scale for c in cases):.2g}, "
                f"equal logits")

    def shape_text(self, f: CaseFailure) -> str:
        return str(f.expected.shape)
