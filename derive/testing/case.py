"""Case: one generated input of the battery, with the sizes and score scale it was drawn at."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Case:
    """One generated input: ``inputs`` are the keyword arguments (NumPy) given to fn and the closed form."""

    number: int
    dtype: str
    label: str
    inputs: dict
    dims: dict
    scale: float  # the largest |score| (logit) the softmax sees
    gain: float = 1.0  # how far an error in a softmax output carries into the result (sum_i |x_i| for a dataset)

    def describe(self) -> str:
        dims = ", ".join(f"{k}={v}" for k, v in self.dims.items())
        return f"#{self.number}: {self.dtype}, {dims}, {self.label}"
