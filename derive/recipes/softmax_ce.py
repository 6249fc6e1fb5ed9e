"""softmax_ce: dE/dz_k for E = -sum_j y_j log o_j, o = softmax(z) (reference 001)."""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from .. import definitions as defs
from ..assumptions import normalized
from ..errors import ArgumentTypeError
from ..model import Derivation
from ..notation import check_K, role_names
from ..setting import Setting
from .softmax import output_gradient


ROLES = {"logits": "z", "outputs": "o", "targets": "y", "cost": "E", "index": "k", "sum_index": "j",
         "inner_index": "l", "classes": "K"}


def softmax_ce(K: Optional[int] = None, *, normalized_targets: bool = True,
               notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive dE/dz_k = o_k - y_k for softmax outputs and cross-entropy cost.

    K: number of classes, an integer >= 2, or None for symbolic K.
    normalized_targets: use sum_j y_j = 1 (one-hot or probability targets);
        without it the result is o_k sum_j y_j - y_k.
    notation: rename symbols, e.g. {"outputs": "p", "targets": "t"}; roles are
        logits, outputs, targets, cost, index, sum_index, inner_index, classes.

    K is at most 50 (the sums stay symbolic, but ``verify`` writes them out:
    about 15 s at K = 50); K=None holds for every K.
    """
    K_value = check_K(K, maximum=50, why="at which softmax_ce is verified within about a minute")
    if not isinstance(normalized_targets, bool):
        raise ArgumentTypeError("normalized_targets", f"must be True or False, got {normalized_targets!r}")
    n = role_names(ROLES, notation)
    K_sym = defs.classes(n["classes"], K_value)
    k, j, l = (defs.index(n[r]) for r in ("index", "sum_index", "inner_index"))
    z, o, y = (sp.IndexedBase(n[r]) for r in ("logits", "outputs", "targets"))
    E = sp.Symbol(n["cost"])
    setting = Setting(
        K=K_sym,
        variables=(z,),
        definitions=(defs.cross_entropy(E, o, y, j, K_sym), defs.softmax(o, lambda i: z[i], j, l, K_sym)),
        ranges=tuple((i, (sp.Integer(1), K_sym)) for i in (k, j, l)),
        domains=((n["logits"], "real"), (n["targets"], "unit")),
        symbols={"z": z, "o": o, "y": y, "E": E, "k": k, "j": j, "l": l},
    )
    facts = (normalized(y, j, K_sym),) if normalized_targets else ()
    return output_gradient(
        setting, E, o, z, j, k, facts=facts,
        name="softmax_ce",
        title="Gradient of softmax with cross-entropy loss",
        description="The gradient of the cross-entropy loss with respect to the logits of a softmax output layer",
    )
