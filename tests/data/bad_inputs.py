"""The table of bad (and valid) inputs to compiled gradients, run against every backend (issue 18.2).

Each case replaces one (or a few) keyword arguments of a valid call of a compiled entry and says what must
happen: ``refused`` (a derive error whose ``argument`` names the case's argument) or ``accepted`` (the
result equals the NumPy backend's on the same values in float64). ``outcome(case, backend, native)``
classifies what happens; tests/test_inputs.py asserts every case's outcome is the expected one on numpy,
torch and jax, and that a refusal's message is the same on all three. ``native=True`` passes the case's
NumPy arrays as the library's own arrays (torch.Tensor, jax.Array) where the library can hold them.

Run as a script to count the outcomes per backend (the closing figures of issue 18.2):

    PYTHONPATH=. python tests/data/bad_inputs.py

Measured on 2026-12-03 (344 cases: 239 to refuse, 105 valid), before (main at 1d7bc8d) -> after:

    numpy            clear 221 -> 239, accepted 74 -> 105; silent 13 (masked arrays, float32 rows off
                     by 2e-4), wrong argument 4, unclear 1, valid refused 31 -> 0
    torch            clear 34 -> 239, accepted 70 -> 105; silent 109, unclear 51, wrong argument 45,
                     valid refused 32, wrong result 3 -> 0
    torch (tensors)  clear 34 -> 239, accepted 60 -> 105; silent 85, unclear 75, wrong argument 45,
                     valid refused 43, wrong result 2 -> 0
    jax              clear 34 -> 239, accepted 74 -> 105; silent 109, unclear 51, wrong argument 45,
                     valid refused 28, wrong result 3 -> 0  (jax arrays: the same, silent 107, unclear 53)

The module uses derive's public API only (the catalogue entries, derive.gradient, compile(backend=...)),
so the same table runs against an older checkout (PYTHONPATH=/tmp/old python .../bad_inputs.py).
"""
from __future__ import annotations

import dataclasses
import importlib
import warnings
from collections import Counter
from typing import Callable, Dict, Tuple

import numpy as np

N, K, n = 3, 4, 2
_rng = np.random.default_rng(18)
Z = _rng.normal(size=(N, K)) * 2
Y = np.eye(K)[[0, 2, 3]]
W = _rng.normal(size=(K, n))
X = _rng.normal(size=(N, n))
B = _rng.normal(size=(K,))
THETA = _rng.normal(size=(3, n + 1))  # softmax_regression's catalogue entry has K = 3
Y3 = np.eye(3)[[0, 2, 1]]
LABELS = np.array([0, 2, 3])


def _f32_softmax_rows(classes: int = K) -> np.ndarray:
    """Float32 targets normalised the usual way (a softmax in float32): rows 1e-7 or so off 1."""
    z = np.random.default_rng(classes).normal(size=(N, classes)).astype(np.float32) * 3
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)



def _entries() -> Dict[str, Callable]:
    import derive
    bias = dict(wrt="b", define=["z[j] = sum(w[j, d]*x[d], d) + b[j]"], assume=["sum(y[j], j) = 1"])
    return {
        "softmax_ce": derive.softmax_ce,
        "label_smoothing": derive.label_smoothing,
        "softmax_ce_labels": derive.softmax_ce_labels,
        "softmax_regression": derive.softmax_regression,
        "softmax_ce_bias": lambda: derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", **bias),
    }


GOOD = {  # a valid call of each entry
    "softmax_ce": {"z": Z, "y": Y},
    "label_smoothing": {"z": Z, "y": Y, "eps": 0.1},
    "softmax_ce_labels": {"w": W, "x": X, "label": LABELS},
    "softmax_regression": {"theta": THETA, "x": X, "y": Y3},
    "softmax_ce_bias": {"b": B, "y": Y, "w": W, "x": X},
}
TARGETS = {("softmax_ce", "y"), ("label_smoothing", "y"), ("softmax_regression", "y"), ("softmax_ce_bias", "y")}
PER_EXAMPLE = {("softmax_ce", "z"), ("softmax_ce", "y"), ("label_smoothing", "z"), ("label_smoothing", "y"),
               ("softmax_ce_bias", "y"), ("softmax_ce_bias", "x")}


@dataclasses.dataclass(frozen=True)
class Case:
    entry: str
    argument: str           # the argument a refusal must name
    kind: str               # what is wrong (or, for a valid case, what is unusual)
    values: Tuple           # ((keyword, value), ...) replacing GOOD[entry]'s
    expect: str             # 'refused' or 'accepted'
    also: Tuple = ()        # other arguments a refusal may name (two arguments whose shapes disagree)

    @property
    def id(self) -> str:
        return f"{self.entry}-{self.argument}-{self.kind}"

    def kwargs(self) -> dict:
        return dict(GOOD[self.entry], **dict(self.values))


def _masked(a):
    mask = np.zeros(a.shape, bool)
    mask.flat[0] = True
    return np.ma.array(a, mask=mask)


def _with(a, value):
    a = np.array(a, dtype=np.float64)
    a.flat[1] = value
    return a


def _array_cases(entry: str, name: str, a: np.ndarray) -> list:
    """The bad values every array argument must refuse, and the unusual valid ones it must accept."""
    bad = {
        "complex": a + 0.5j,
        "complex_zero_imaginary": a.astype(np.complex128),
        "bool": a != 0,
        "object": a.astype(object),
        "string": a.astype(str),
        "text": "1.0",
        "bytes": b"1.0",
        "none": None,
        "dict": {"a": 1.0},
        "ragged": [[1.0, 2.0], [3.0]],
        "masked": _masked(a),
        "extra_axis": a[..., None],
    }
    if a.dtype.kind == "f":
        bad.update({"nan": _with(a, np.nan), "inf": _with(a, np.inf)})
    if (entry, name) in PER_EXAMPLE:
        bad["fewer_rows"] = a[:-1]
    elif a.ndim == 2 and entry != "softmax_ce_labels" or name == "label":
        bad["wrong_length"] = a[:-1]
    good = {"list": a.tolist(), "float32": a.astype(np.float32), "float16": a.astype(np.float16),
            "fortran_order": np.asfortranarray(a), "reversed_view": a[::-1][::-1]}
    if a.dtype.kind == "f" and (entry, name) not in TARGETS:
        good["integers"] = np.round(a).astype(np.int64)
    if (entry, name) in TARGETS:
        good["integers"] = a.astype(np.int64)
    # two arguments that disagree: either may be named (the message names both)
    others = tuple(m for m in GOOD[entry] if (entry, m) in PER_EXAMPLE and m != name)
    pair = {"fewer_rows": others, "wrong_length": ("y",) if entry == "softmax_regression" and name == "x" else ()}
    cases = [Case(entry, name, k, ((name, v),), "refused", pair.get(k, ())) for k, v in bad.items()]
    return cases + [Case(entry, name, k, ((name, v),), "accepted") for k, v in good.items()]


def _target_cases(entry: str) -> list:
    y = GOOD[entry]["y"]
    Y32 = _f32_softmax_rows(y.shape[1])
    off = Y32.copy()
    off[:, 0] += 2e-4
    negative = y.copy()
    negative[0, :2] = [-0.5, 1.5]
    bad = {"rows_sum_to_2": 2 * y, "negative_entry": negative, "float32_rows_off_2e-4": off,
           "float64_rows_off_2e-4": off.astype(np.float64), "counts": y * 3 + 1}
    good = {"float32_softmax_rows": Y32, "float32_softmax_rows_as_float64": Y32.astype(np.float64),
            "soft_rows": np.full(y.shape, 1 / y.shape[1]),
            "float16_soft_rows": np.full(y.shape, 1 / y.shape[1], np.float16)}
    return ([Case(entry, "y", k, (("y", v),), "refused") for k, v in bad.items()]
            + [Case(entry, "y", k, (("y", v),), "accepted") for k, v in good.items()])


def _label_cases() -> list:
    e = "softmax_ce_labels"
    bad = {"fractional": LABELS + 0.5, "out_of_range": np.array([0, 1, K]), "negative": np.array([0, -1, 2]),
           "bool": np.array([True, False, True]), "one_hot_matrix": np.eye(K)[LABELS], "text": "012",
           "complex": LABELS + 0j, "string": LABELS.astype(str), "object": LABELS.astype(object),
           "masked": _masked(LABELS), "none": None, "ragged": [[0, 1], [2]], "fewer": LABELS[:-1]}
    good = {"list": LABELS.tolist(), "int32": LABELS.astype(np.int32), "uint8": LABELS.astype(np.uint8),
            "integral_floats": LABELS.astype(np.float64)}
    return ([Case(e, "label", k, (("label", v),), "refused") for k, v in bad.items()]
            + [Case(e, "label", k, (("label", v),), "accepted") for k, v in good.items()])


def _scalar_cases() -> list:
    e = "label_smoothing"
    bad = {"complex": 0.1 + 1j, "bool": True, "text": "0.1", "none": None, "vector": np.array([0.1, 0.2]),
           "per_example": np.full(N, 0.1), "nan": float("nan"), "inf": float("inf"), "list": [0.1],
           "complex_array": np.array(0.1 + 0j)}
    good = {"int": 0, "numpy_float32": np.float32(0.25), "numpy_float64": np.float64(0.1),
            "zero_d_array": np.array(0.1), "numpy_int": np.int64(1)}
    return ([Case(e, "eps", k, (("eps", v),), "refused") for k, v in bad.items()]
            + [Case(e, "eps", k, (("eps", v),), "accepted") for k, v in good.items()])


def _keyword_cases() -> list:
    z = (("y", Y), ("z", Z))
    return [
        Case("softmax_ce", "zz", "unknown_keyword", z + (("zz", Z),), "refused"),
        Case("softmax_ce", "z", "one_example_each", (("z", Z[0]), ("y", Y[0])), "accepted"),
        Case("softmax_ce", "z", "one_class", (("z", Z[:, :1]), ("y", np.ones((N, 1)))), "refused"),
        Case("softmax_ce", "y", "one_example_against_rows", (("y", Y[0]),), "refused"),
        Case("softmax_ce", "y", "other_class_count", (("y", np.eye(K + 1)[[0, 1, 2]]),), "refused"),
        Case("softmax_ce", "z", "no_examples", (("z", Z[:0]), ("y", Y[:0])), "accepted"),
    ]


def cases() -> list:
    out = []
    for entry, call in GOOD.items():
        for name, value in call.items():
            if isinstance(value, np.ndarray) and name != "label":
                out += _array_cases(entry, name, value)
    out += [c for e in sorted(TARGETS) for c in _target_cases(e[0])]
    return out + _label_cases() + _scalar_cases() + _keyword_cases()


CASES = cases()
_COMPILED: dict = {}


def compiled(entry: str, backend: str):
    """The compiled entry (cached), or the exception compiling it raised."""
    key = (entry, backend)
    if key not in _COMPILED:
        try:
            _COMPILED[key] = _entries()[entry]().compile(backend=backend)
        except Exception as exc:  # an older checkout that does not compile the entry
            _COMPILED[key] = exc
    return _COMPILED[key]


def library(backend: str):
    module = importlib.import_module(backend)
    if backend == "jax":
        module.config.update("jax_enable_x64", True)
    return module


def to_native(value, backend: str):
    """A NumPy array as the library's own array (torch.Tensor, jax.Array), where the library holds its dtype."""
    if not isinstance(value, np.ndarray) or isinstance(value, np.ma.MaskedArray) or value.dtype.kind in "OUS":
        return value
    if backend == "torch":
        import torch
        return torch.as_tensor(value.copy())  # a C-ordered copy (torch reads no negative strides)
    import jax.numpy as jnp
    return jnp.asarray(value)


def to_numpy(out):
    return out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)


def _reference(case: Case):
    """The NumPy backend's result on the case's values read as float64 (integers for labels)."""
    kwargs = {}
    for k, v in case.kwargs().items():
        if k == "label":
            kwargs[k] = np.asarray(v).astype(np.int64)
        elif isinstance(v, (np.ndarray, list)):
            kwargs[k] = np.asarray(v, dtype=np.float64)
        else:
            kwargs[k] = float(v)
    g = compiled(case.entry, "numpy")
    try:
        return g(**kwargs)
    except Exception:  # the values refused in float64 (an older checkout's tolerance): as given, then
        return g(**case.kwargs())


def call(case: Case, backend: str, native: bool = False):
    """Call the compiled entry with the case's arguments: (result or None, exception or None)."""
    g = compiled(case.entry, backend)
    if isinstance(g, Exception):
        return None, g
    kwargs = case.kwargs()
    if native:
        kwargs = {k: to_native(v, backend) for k, v in kwargs.items()}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return g(**kwargs), None
    except Exception as exc:  # classified by the caller
        return None, exc


def outcome(case: Case, backend: str, native: bool = False) -> Tuple[str, object]:
    """(what happened, the exception or result): for a case that must be refused 'clear' (a derive error
    naming the argument), 'wrong_argument' (a derive error naming another), 'unclear' (another exception)
    or 'silent' (a result); for a valid case 'accepted' (the reference's result), 'wrong_result' or
    'refused_valid'. 'not_compiled' when the entry does not compile at all."""
    from derive.errors import DeriveError
    if isinstance(compiled(case.entry, backend), Exception):
        return "not_compiled", compiled(case.entry, backend)
    out, exc = call(case, backend, native)
    if case.expect == "refused":
        if exc is None:
            return "silent", out
        if isinstance(exc, DeriveError):
            named = getattr(exc, "argument", None)
            return ("clear" if named in (case.argument,) + case.also else "wrong_argument"), exc
        return "unclear", exc
    if exc is not None:
        return "refused_valid", exc
    got = to_numpy(out)
    try:
        expected = _reference(case)
    except Exception:
        return "wrong_result", out
    low = any(getattr(v, "dtype", np.float64) in (np.float16, np.float32) for v in dict(case.values).values())
    ok = got.shape == expected.shape and np.allclose(got, expected, rtol=1e-2 if low else 1e-9,
                                                     atol=1e-2 if low else 1e-12)
    return ("accepted" if ok else "wrong_result"), out


def counts(backend: str, native: bool = False) -> Counter:
    return Counter(outcome(c, backend, native)[0] for c in CASES)


if __name__ == "__main__":  # pragma: no cover - the figures for the closing note
    import derive
    print(f"derive from {derive.__file__}; {len(CASES)} cases "
          f"({sum(c.expect == 'refused' for c in CASES)} to refuse, {sum(c.expect == 'accepted' for c in CASES)} valid)")
    for backend, native in (("numpy", False), ("torch", False), ("torch", True), ("jax", False), ("jax", True)):
        if backend != "numpy":
            library(backend)
        label = backend + (" (library arrays)" if native else "")
        print(f"{label:24s}", dict(sorted(counts(backend, native).items())))
