"""Reference 003: the softmax Jacobian, and backpropagation of a squared error through softmax."""
from __future__ import annotations

from typing import Mapping, Optional

import sympy as sp

from .. import definitions as defs
from .. import rules
from ..engine import run_recipe
from ..planner import Planner
from ..model import Derivation, Typeset
from ..notation import check_K, role_names
from ..setting import Definition, Setting
from .softmax import softmax_partials

JACOBIAN_ROLES = {"logits": "z", "outputs": "o", "index": "i", "sum_index": "j", "inner_index": "l",
                  "classes": "K"}
SE_ROLES = {"logits": "z", "outputs": "o", "targets": "t", "cost": "L", "index": "k", "sum_index": "j",
            "inner_index": "l", "classes": "K"}


def _softmax_setting(n: dict, K_value) -> tuple:
    K = defs.classes(n["classes"], K_value)
    k, j, l = (defs.index(n[r]) for r in ("index", "sum_index", "inner_index"))
    z, o = sp.IndexedBase(n["logits"]), sp.IndexedBase(n["outputs"])
    softmax = defs.softmax(o, lambda i: z[i], j, l, K)
    return K, k, j, l, z, o, softmax


def jacobian_recipe(i: sp.Symbol, j: sp.Symbol, lemmas: tuple) -> list:
    """Cases i = j and i != j, the two partials, then the Kronecker-delta form and the matrix form."""
    return [
        (rules.cases, {"first": i, "second": j}),
        rules.kronecker_delta,
        (rules.lemma, {"lemmas": lemmas}),
        rules.cancel,
        rules.expand,
        rules.kronecker_delta,
        rules.factor,
        (rules.matrix_form, {"rows": i, "cols": j}),
    ]


def softmax_jacobian(K: Optional[int] = None, *, notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive do_i/dz_j = o_i (delta_ij - o_j), i.e. the matrix diag(o) - o o^T.

    The cases i = j and i != j are the two softmax partials, each by the
    quotient rule. Roles for ``notation``: logits, outputs, index (i, the row),
    sum_index (j, the column), inner_index (l), classes. K is None (symbolic)
    or at most 50, where ``verify`` takes about 45 s.
    """
    K_value = check_K(K, maximum=50, why="at which softmax_jacobian is verified within about a minute")
    n = role_names(JACOBIAN_ROLES, notation)
    K, i, j, l, z, o, softmax = _softmax_setting(n, K_value)
    setting = Setting(K=K, variables=(z,), definitions=(softmax,),
                      ranges=tuple((x, (sp.Integer(1), K)) for x in (i, j, l)),
                      domains=((n["logits"], "real"),),
                      symbols={"z": z, "o": o, "i": i, "j": j, "l": l})
    lemmas = softmax_partials(setting, o, z, i, j)
    return run_recipe(setting, sp.Derivative(o[i], z[j]), jacobian_recipe(i, j, lemmas),
                      name="softmax_jacobian", title="The softmax Jacobian",
                      description="Every partial derivative of the softmax outputs with respect to its inputs, "
                                  "in index form and as a matrix")


def backprop_recipe(out: sp.IndexedBase, j: sp.Symbol, k: sp.Symbol, lemmas: tuple) -> list:
    """Multivariate chain rule through o, split at j = k, the partials, factor o_k out, join the sum."""
    return [
        (rules.multivariate_chain_rule, {"through": out, "indices": (j,)}),
        (rules.split_sum, {"at": k}),
        (rules.lemma, {"lemmas": lemmas}),
        rules.cancel,
        rules.linearity,
        rules.expand,
        rules.factor,
        rules.join_sum,
    ]


def softmax_se(K: Optional[int] = None, *, notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive dL/dz_k for L = 1/2 sum_l (o_l - t_l)^2 on softmax outputs o.

    First the general backpropagation through softmax,
    dL/dz_k = o_k (dL/do_k - sum_j dL/do_j o_j), by the multivariate chain rule
    and the softmax partials (a lemma); then dL/do_j = o_j - t_j (a lemma) gives
    the closed form. K is None (symbolic) or at most 50, where ``verify`` takes
    about 80 s.
    """
    K_value = check_K(K, maximum=50, why="at which softmax_se is verified within about a minute and a half")
    n = role_names(SE_ROLES, notation)
    K, k, j, l, z, o, softmax = _softmax_setting(n, K_value)
    t, L = sp.IndexedBase(n["targets"]), sp.Symbol(n["cost"])
    cost = defs.squared_error(L, o, t, l, K)
    setting = Setting(K=K, variables=(z,), definitions=(cost, softmax),
                      ranges=tuple((x, (sp.Integer(1), K)) for x in (k, j, l)),
                      domains=((n["logits"], "real"), (n["targets"], "unit")),
                      symbols={"z": z, "o": o, "t": t, "L": L, "k": k, "j": j, "l": l})
    partials = softmax_partials(setting, o, z, j, k)
    general = run_recipe(setting, sp.Derivative(L, z[k]), backprop_recipe(o, j, k, partials),
                         name="softmax_backprop", title="Backpropagation through softmax",
                         description="The gradient of any cost of the softmax outputs, by the multivariate chain rule")
    cost_partial = Planner(setting).derive(sp.Derivative(L, o[j]), name="squared_error_partial",
                                           title="Derivative of the squared error",
                                           description="The derivative of the squared error with respect to one "
                                                       "output")
    recipe = [(rules.lemma, {"lemmas": (general,)}), (rules.lemma, {"lemmas": (cost_partial,)}), rules.cancel]
    return run_recipe(setting, sp.Derivative(L, z[k]), recipe,
                      name="softmax_se", title="Gradient of softmax with squared error",
                      description="The gradient of the squared error of softmax outputs with respect to the logits")


def softmax_vjp(K: Optional[int] = None) -> Derivation:
    """Reference 003's backpropagation through softmax: dL/dz_k = o_k (g_k - sum_j o_j g_j), g = dL/do given; as a
    matrix, the Jacobian times g, (diag(o) - o o^T) g, computed entrywise, o o (g - (o^T g) 1)."""
    K_value = check_K(K, maximum=50, why="the catalogue verifies at")
    n = {"logits": "z", "outputs": "o", "index": "k", "sum_index": "j", "inner_index": "l", "classes": "K"}
    Ksym, k, j, l, z, o, softmax = _softmax_setting(n, None if K_value is None else int(K_value))
    g, L = sp.IndexedBase("g"), sp.Symbol("L")
    upstream = Definition("upstream", g, (j,), sp.Derivative(L, o[j]), text="upstream gradient")
    setting = Setting(K=Ksym, variables=(z,),
                      definitions=(defs.any_cost(L, o, l, Ksym, "any differentiable cost of the outputs"), softmax,
                                   upstream),
                      ranges=tuple((x, (sp.Integer(1), Ksym)) for x in (k, j, l)),
                      domains=(("z", "real"),), symbols={"z": z, "o": o, "g": g, "L": L, "k": k, "j": j, "l": l})
    partials = softmax_partials(setting, o, z, j, k)
    recipe = backprop_recipe(o, j, k, partials) + [(rules.fold, {"of": g}),
                                                   (rules.matrix_form, {"rows": k, "vector": g}), rules.entrywise_form]
    return run_recipe(setting, sp.Derivative(L, z[k]), recipe, name="softmax_vjp",
                      title="Backpropagation through softmax",
                      description=Typeset("The vector-Jacobian product of the softmax, $(\\operatorname{diag}(o) - o o^{T}) g$: "
                                          "the gradient with respect to the logits from the gradient "
                                          "$g = \\partial L/\\partial o$ with respect to the outputs, for any cost $L$"))
