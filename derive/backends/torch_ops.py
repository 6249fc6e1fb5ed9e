"""The PyTorch table of array operations (imported only for compile(backend="torch"))."""
from __future__ import annotations

import numpy as np
import torch

from .ops import Ops


class TorchOps(Ops):
    name = "torch"
    xp = torch

    def host(self, value):
        if not isinstance(value, torch.Tensor):
            return value
        t = value.detach()
        if t.dtype in (torch.float16, torch.bfloat16):  # NumPy has no bfloat16: both are read as float64
            t = t.to(torch.float64)
        return t.cpu().numpy()

    def from_checked(self, value, checked, dtype):
        wanted = getattr(torch, np.dtype(dtype).name)
        if isinstance(value, torch.Tensor):
            return value if value.dtype == wanted else value.to(wanted)
        return torch.as_tensor(np.asarray(checked).astype(dtype))

    def permute(self, a, order):
        return a.permute(*order)

    def moveaxis(self, a, source, destination):
        return torch.movedim(a, source, destination)

    def cast(self, mask):
        return mask.to(torch.get_default_dtype())

    def eye(self, n: int):
        return torch.eye(n, dtype=torch.get_default_dtype())

    def softmax(self, a):
        return torch.softmax(a, dim=-1)

    def log_softmax(self, a):
        return torch.log_softmax(a, dim=-1)

    def sigmoid(self, a):
        return torch.sigmoid(a)

    def rowmax(self, a):
        return torch.amax(a, dim=-1, keepdim=True)

    def rowsum(self, a):
        return torch.sum(a, dim=-1, keepdim=True)

    def concatenate(self, arrays, axis):
        return torch.cat(arrays, dim=axis)

    def ones_like(self, a):
        return torch.ones_like(a)


OPS = TorchOps()
