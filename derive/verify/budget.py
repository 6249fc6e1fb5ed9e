"""The time budget of one verify() call: a deadline, checked between cases and between the rounds of an
instantiation, and the record of what was checked so far (for the error that names what was not)."""
from __future__ import annotations

import time
from typing import Optional

from ..errors import DeriveError


class VerifyTimeout(DeriveError):
    """verify() ran out of its time budget; nothing was declared ok. ``unchecked`` lists the claims left
    unchecked ("softmax_ce: step 4 (expand)", ...), ``checked`` the checks finished before the deadline."""

    def __init__(self, name: str, seconds: float, unchecked: tuple, checked: tuple) -> None:
        self.name, self.seconds, self.unchecked, self.checked = name, seconds, tuple(unchecked), tuple(checked)
        shown = ", ".join(unchecked[:6]) + (f" and {len(unchecked) - 6} more" if len(unchecked) > 6 else "")
        super().__init__(f"verify {name}: stopped after the time budget of {seconds:g} s with "
                         f"{len(unchecked)} claim(s) unchecked ({shown}); "
                         f"{len(checked)} check(s) finished. Nothing is verified: raise the budget "
                         f"(timeout=; derive verify --timeout, --verify-timeout) or simplify the cost")


class OutOfTime(Exception):
    """Raised inside the checks when the deadline has passed (turned into VerifyTimeout by verify())."""


class Budget:
    """``tick()`` raises OutOfTime once ``seconds`` have passed since the budget was made (None: no limit)."""

    __slots__ = ("seconds", "deadline")

    def __init__(self, seconds: Optional[float]) -> None:
        self.seconds = seconds
        self.deadline = None if seconds is None else time.monotonic() + seconds

    def tick(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime()

    def __repr__(self) -> str:
        return f"Budget({self.seconds!r} s)"
