"""The process's memory of work already done: instantiated sides, proofs, and whole checked chains.

One ``Cache`` object holds every table, each bounded (cleared when it reaches ``MAX_ENTRIES``), so the
process-wide state is this one object, emptied by ``derive.verify.clear_cache()``. Nothing cached decides
a verdict the uncached run would not reach: a report depends on the seed only (tests/test_verify.py).
"""
from __future__ import annotations

MAX_ENTRIES = 20000


class Table(dict):
    """A dict that forgets everything when it grows past ``MAX_ENTRIES`` (``remember`` stores and returns)."""

    def remember(self, key, value):
        if len(self) >= MAX_ENTRIES:
            self.clear()
        self[key] = value
        return value


class Cache:
    """The tables: ``sides`` (instantiated, compiled expressions), ``generic`` (one form for every K or every
    assignment, or None where it is unusable), ``validated`` (generic forms already compared with the direct
    route), ``proved`` (symbolic proofs), ``chains`` (checked chains by content), ``relevant`` (the
    definitions an expression reaches), ``pieces`` (a definition at given indices, sizes and assignment, prepared
    for instantiation)."""

    NAMES = ("sides", "generic", "validated", "proved", "chains", "relevant", "pieces")
    sides: Table
    generic: Table
    validated: Table
    proved: Table
    chains: Table
    relevant: Table
    pieces: Table

    def __init__(self) -> None:
        for name in self.NAMES:
            setattr(self, name, Table())

    def clear(self) -> None:
        for name in self.NAMES:
            getattr(self, name).clear()

    def __repr__(self) -> str:
        return "Cache(" + ", ".join(f"{n}={len(getattr(self, n))}" for n in self.NAMES) + ")"


CACHE = Cache()
