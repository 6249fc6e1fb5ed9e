"""The time budget of one verify() call: a deadline that holds inside long SymPy and mpmath calls too, and
the record of what was checked so far (for the error that names what was not).

``Budget`` is checked two ways. ``tick()`` between cases and between the rounds of an instantiation raises
``OutOfTime`` once the deadline has passed. Used as a context manager (``with budget:``) in the main thread
of a platform with ``signal.setitimer``, it also arms an interval timer (SIGALRM) whose handler raises
``OutOfTime`` in whatever call is running when the deadline passes, and again every ``REPEAT`` seconds until
the block ends (so a library's bare ``except:`` cannot swallow it for good). ``OutOfTime`` is a
``BaseException``, like KeyboardInterrupt, so the ``except Exception`` of SymPy, mpmath and of verify's own
"could not evaluate" paths lets it through. Leaving the block restores the SIGALRM handler that was
installed before and any timer that was running (with the time it had left; one whose deadline passed
meanwhile rings at once). Outside the main thread, without setitimer, or when the SIGALRM handler was
installed by non-Python code (it could not be restored), only ``tick()`` holds: one long call can then
overrun the budget.
"""
from __future__ import annotations

import signal
import threading
import time
from typing import Any, Optional

from ..errors import DeriveError

REPEAT = 0.25  # seconds between rings once the deadline has passed, until the block ends


class VerifyTimeout(DeriveError):
    """verify() ran out of its time budget; nothing was declared ok. ``unchecked`` lists the claims left
    unchecked ("softmax_ce: step 4 (expand)", ...), ``checked`` the checks finished before the deadline."""

    def __init__(self, name: str, seconds: float, unchecked: tuple, checked: tuple, caller: bool = False) -> None:
        self.name, self.seconds, self.unchecked, self.checked = name, seconds, tuple(unchecked), tuple(checked)
        self.caller = caller  # stopped by the caller's own alarm, due before verify's budget ran out
        shown = ", ".join(unchecked[:6]) + (f" and {len(unchecked) - 6} more" if len(unchecked) > 6 else "")
        when = (f"at the caller's own time limit, before its budget of {seconds:g} s" if caller
                else f"after the time budget of {seconds:g} s")
        super().__init__(f"verify {name}: stopped {when} with "
                         f"{len(unchecked)} claim(s) unchecked ({shown}); "
                         f"{len(checked)} check(s) finished. Nothing is verified: raise the budget "
                         f"(timeout=; derive verify --timeout, --verify-timeout) or simplify the cost")


class OutOfTime(BaseException):
    """Raised inside the checks when the deadline has passed (turned into VerifyTimeout by verify()). A
    BaseException, so that no ``except Exception`` on the way (SymPy's, mpmath's, verify's) mistakes it for
    a failure to evaluate."""


def _can_interrupt() -> bool:
    return (hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
            and threading.current_thread() is threading.main_thread())


class Budget:
    """``tick()`` raises OutOfTime once ``seconds`` have passed since the budget was made (None: no limit);
    ``with budget:`` also interrupts a long call at the deadline (see the module)."""

    __slots__ = ("seconds", "deadline", "interrupts", "caller_first", "_armed", "_previous", "_outer")

    def __init__(self, seconds: Optional[float]) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds
        self.interrupts = False  # True while a timer is armed for this budget
        self.caller_first = False  # True when a timer the caller had running was due before this deadline
        self._armed = False
        self._previous: Any = None  # the SIGALRM handler before the block
        self._outer: Optional[tuple[float, float]] = None  # (deadline, interval) of the timer that was running before the block

    def expired(self) -> bool:
        """Whether this budget's own deadline has passed."""
        return self.deadline is not None and time.monotonic() > self.deadline

    def tick(self) -> None:
        if self.expired():
            raise OutOfTime()

    def _ring(self, signum, frame) -> None:
        if self._armed:
            raise OutOfTime()

    def __enter__(self) -> "Budget":
        try:
            self._arm()
        except BaseException:  # a ring already (a budget of microseconds): undo what was set, then stop
            self.__exit__()
            raise
        return self

    def _arm(self) -> None:
        if self.deadline is None or not _can_interrupt():
            return
        previous = signal.getsignal(signal.SIGALRM)
        if previous is None:  # installed outside Python: it could not be put back
            return
        now = time.monotonic()
        delay, interval = signal.getitimer(signal.ITIMER_REAL)
        self._outer = (now + delay, interval) if delay > 0 else None
        end = self.deadline if self._outer is None else min(self.deadline, self._outer[0])
        self.caller_first = end < self.deadline  # the caller's timer rings first: the stop is the caller's
        self._previous = previous
        self.interrupts = True  # from here on, __exit__ has something to undo
        self._armed = True
        signal.signal(signal.SIGALRM, self._ring)
        signal.setitimer(signal.ITIMER_REAL, max(end - now, 1e-6), REPEAT)

    def __exit__(self, *exc) -> None:
        while self.interrupts:  # a ring can land in here before the timer is off: undo again until done
            try:
                self._disarm()
            except OutOfTime:
                continue
        return None

    def _disarm(self) -> None:
        self._armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._previous)
        if self._outer is not None:
            deadline, interval = self._outer
            signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 1e-6), interval)
        self.interrupts = False
        self._previous = self._outer = None

    def __repr__(self) -> str:
        return f"Budget({self.seconds!r} s)"
