"""derive's pytest plugin: check a gradient function against a derivation from a test.

Installed with derive and registered through the ``pytest11`` entry point, so nothing needs importing:

    @pytest.mark.gradient_of("softmax_ce")
    def test_my_softmax_gradient():
        return my_grad                          # the function to check, called as my_grad(z=Z, y=Y)

    def test_my_cost(derive_gradient):
        derive_gradient(my_grad, "softmax_ce")   # or a cost: derive_gradient(g, "-sum(y[j]*log(softmax(z)[j]), j)", wrt="z")

    @pytest.mark.gradient_of("sum((sigmoid(z[j]) - y[j])**2, j)", wrt="z")
    def test_squared_error(derive_gradient):
        derive_gradient(my_se_grad)              # the marker's derivation; fixed inputs and options as keywords

The derivation is a catalogue name or a cost as ``derive.gradient`` reads it (with ``wrt``, ``assume``,
``define``, ``K``), derived and verified once per test session. ``framework``, ``seed``, ``timeout`` and
fixed inputs (``T=2.0``) go to ``derive.testing.check_gradient``. A mismatch fails the test with
derive's report as the assertion message: the case, the worst entry and the likely slip.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import pytest

MARKER = "gradient_of"
_DERIVING = ("wrt", "assume", "define", "K", "verify")
_CHECKING = ("framework", "seed", "timeout")
_DERIVATIONS = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(derivation, *, wrt=None, assume=(), define=(), K=None, verify=True, framework='auto', seed=0, "
        "timeout=None, **fixed): check the gradient function the test returns, or passes to the derive_gradient "
        "fixture, against a derive catalogue entry or a cost (derive.gradient's grammar)")
    config.stash[_DERIVATIONS] = {}


class _Options:
    """A derivation and its options, as the marker or the fixture call spelled them."""

    def __init__(self, where: str, args: tuple, kwargs: dict) -> None:
        from .errors import ArgumentError, ArgumentTypeError
        if len(args) != 1:
            raise ArgumentError(where, f"takes one derivation (a catalogue name, a cost or a Derivation), got {len(args)}")
        self.derivation = args[0]
        self.deriving = {k: kwargs[k] for k in _DERIVING if k in kwargs}
        self.checking = {k: kwargs[k] for k in _CHECKING if k in kwargs}
        self.fixed = {k: v for k, v in kwargs.items() if k not in _DERIVING and k not in _CHECKING}
        from .model import Derivation
        if isinstance(self.derivation, Derivation):
            if self.deriving:
                raise ArgumentError(", ".join(self.deriving), f"{where}: a Derivation is already derived; "
                                                              "wrt, assume, define, K and verify apply to a cost")
        elif not isinstance(self.derivation, str):
            raise ArgumentTypeError("derivation", f"{where}: must be a catalogue name, a cost (str) or a Derivation, "
                                                  f"got {type(self.derivation).__name__}")

    def key(self) -> tuple:
        def frozen(v: Any) -> Any:
            return tuple(v) if isinstance(v, (list, tuple)) else v
        return (self.derivation, tuple(sorted((k, frozen(v)) for k, v in self.deriving.items())))


def _derive(config: pytest.Config, options: _Options):
    """The options' Derivation, derived and verified once per session (kept in the session's stash)."""
    from .model import Derivation
    if isinstance(options.derivation, Derivation):
        return options.derivation
    from .errors import DeriveError
    cache = config.stash[_DERIVATIONS]
    key = options.key()
    if key not in cache:
        try:
            cache[key] = _derived(options)
        except DeriveError as error:  # a refused cost or an unknown name: derive's message, not its traceback
            pytest.fail(f"derive cannot derive {options.derivation!r}: {error}", pytrace=False)
    return cache[key]


def _derived(options: _Options):
    from .entries import catalogue, entry
    from .planned import gradient
    deriving = dict(options.deriving)
    verify = deriving.pop("verify", True)
    names = {e.name for e in catalogue()}
    if options.derivation in names and not deriving:
        d = entry(options.derivation)()
    else:
        d = gradient(options.derivation, **deriving)
    if verify:
        report = d.verify()
        if not report.ok:
            pytest.fail(f"derive: the derivation of {options.derivation!r} does not verify, so it cannot check a "
                        f"gradient:\n{report}", pytrace=False)
    return d


def _check(config: pytest.Config, fn: Callable, options: _Options):
    """Run derive.testing.assert_gradient on fn; its GradientMismatch fails the test with the report."""
    __tracebackhide__ = True
    from .testing import GradientMismatch, check_gradient
    report = check_gradient(fn, _derive(config, options), **options.checking, **options.fixed)
    if not report.ok:
        raise GradientMismatch(report)  # raised here, in a hidden frame, so the traceback ends at the test's line
    return report


class DeriveGradient:
    """The ``derive_gradient`` fixture: ``derive_gradient(fn, derivation=None, **options)`` checks fn against
    the derivation (by default the test's gradient_of marker) and returns the GradientReport."""

    def __init__(self, config: pytest.Config, marker: Optional[_Options]) -> None:
        self._config = config
        self._marker = marker
        self.calls = 0

    def __call__(self, fn: Callable, derivation: Any = None, *, wrt: Optional[str] = None,
                 assume: Sequence[str] = (), define: Sequence[str] = (), K: Optional[int] = None,
                 verify: bool = True, framework: Optional[str] = None, seed: Optional[int] = None,
                 timeout: Optional[float] = None, **fixed: Any):
        __tracebackhide__ = True
        from .errors import ArgumentError
        self.calls += 1
        given = {"framework": framework, "seed": seed, "timeout": timeout}
        given = {k: v for k, v in given.items() if v is not None}
        if derivation is None:
            if self._marker is None:
                raise ArgumentError("derivation", "derive_gradient needs a derivation (a catalogue name, a cost or "
                                                  "a Derivation), or a gradient_of marker on the test")
            if wrt is not None or assume or define or K is not None or not verify:
                raise ArgumentError("derivation", "wrt, assume, define, K and verify describe a cost: give them "
                                                  "with the cost, in the marker or in this call")
            options = _Options("derive_gradient", (self._marker.derivation,),
                               {**self._marker.deriving, **self._marker.checking, **self._marker.fixed,
                                **given, **fixed})
        else:
            deriving: dict = {k: v for k, v in {"wrt": wrt, "K": K}.items() if v is not None}
            deriving.update({k: v for k, v in (("assume", assume), ("define", define)) if v})
            if not verify:
                deriving["verify"] = False
            options = _Options("derive_gradient", (derivation,), {**deriving, **given, **fixed})
        return _check(self._config, fn, options)

    def __repr__(self) -> str:
        return "derive_gradient(fn, derivation=None, **options)"


def _marker(item: pytest.Item) -> Optional[_Options]:
    mark = item.get_closest_marker(MARKER)
    if mark is None:
        return None
    return _Options(f"@pytest.mark.{MARKER}", tuple(mark.args), dict(mark.kwargs))


@pytest.fixture
def derive_gradient(request: pytest.FixtureRequest) -> DeriveGradient:
    """Check a gradient function against a derive derivation: ``derive_gradient(fn, "softmax_ce")``."""
    return DeriveGradient(request.config, _marker(request.node))


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """A test marked gradient_of returns the function to check, or calls the derive_gradient fixture."""
    from .errors import DeriveError
    try:
        options = _marker(pyfuncitem)
    except DeriveError as error:  # a malformed marker: the test fails naming the argument, before it runs
        pytest.fail(f"{pyfuncitem.name}: {error}", pytrace=False)
    if options is None:
        return (yield)
    testfunction = pyfuncitem.obj
    returned = []

    def run(**kwargs: Any) -> None:
        __tracebackhide__ = True
        returned.append(testfunction(**kwargs))

    pyfuncitem.obj = run  # the test's return value is the function to check, not a stray value to warn about
    try:
        handled = yield  # a failure of the test itself propagates from here
    finally:
        pyfuncitem.obj = testfunction
    result = returned[0] if returned else None
    fixture = pyfuncitem.funcargs.get("derive_gradient")
    if result is None:
        if not (isinstance(fixture, DeriveGradient) and fixture.calls):
            pytest.fail(f"{pyfuncitem.name} is marked {MARKER} but neither returns the gradient function nor "
                        "calls the derive_gradient fixture", pytrace=False)
        return handled
    if not callable(result):
        pytest.fail(f"{pyfuncitem.name} is marked {MARKER} and must return the gradient function to check, "
                    f"got {type(result).__name__}", pytrace=False)
    _run_check(pyfuncitem, result, options)
    return handled


def _run_check(item: pytest.Function, fn: Callable, options: _Options) -> None:
    from .testing import GradientMismatch
    try:
        _check(item.config, fn, options)
        return
    except GradientMismatch as error:
        mismatch = error
    # outside the except block, so the failure is derive's report alone, not a chain of two exceptions
    pytest.fail(f"{getattr(fn, '__name__', 'the gradient')} disagrees with derive's {mismatch.report.derivation}:"
                f"\n{mismatch}", pytrace=False)
