"""Array libraries a compiled closed form runs with: one ops table each (derive.backends.ops), and
nothing else. ``compile(backend="jax")`` and ``compile(backend="torch")`` evaluate the derivation's own
program (derive.tensor) with that library's arrays, through the same interface and input checks as
NumPy (derive.compile.backend). The libraries are imported here, lazily, only when a backend is asked
for: ``import derive`` never imports them.
"""
from __future__ import annotations

import importlib

from ..errors import ArgumentError

BACKENDS = {"numpy": ("numpy", "derive", "pip install numpy"),  # name -> (library, extra, install command)
            "jax": ("jax", "derive[jax]", "pip install jax jaxlib"),
            "torch": ("torch", "derive[torch]", "pip install torch==2.13.0")}


def ops_for(backend: str):
    """The operations table of ``backend`` ('numpy', 'jax' or 'torch'), importing the library now."""
    if backend not in BACKENDS:
        raise ArgumentError("backend", f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    spec = BACKENDS[backend]
    assert spec is not None, "NumPy runs without an ops table: compile() never asks for one"
    library, extra, command = spec
    try:
        importlib.import_module(library)
    except ImportError:
        raise ArgumentError("backend", f"{backend!r} needs the {library} library, which is not installed: "
                                       f"pip install '{extra}' (or {command})") from None
    module = importlib.import_module(f".{backend}_ops", __name__)
    return module.OPS
