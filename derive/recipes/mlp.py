"""Reference 004: backpropagation through an MLP with sigmoid hidden layers and a softmax output.

The four equations, each a derivation of its own (a part), in index and matrix form:
BP1 delta^L = a^L - y, BP2 delta^l = ((W^(l+1))^T delta^(l+1)) * a^l (1 - a^l),
BP3 dC/db^l = delta^l, BP4 dC/dW^l = delta^l (a^(l-1))^T. The sigmoid
derivative is a lemma; BP1 is the softmax + cross-entropy recipe with the
network's notation and cites the shared softmax partials.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Optional

import sympy as sp

from .. import definitions as defs
from .. import rules
from ..assumptions import one_hot
from ..engine import run_recipe
from ..planner import Planner
from ..model import Derivation, Typeset
from ..notation import role_names
from ..setting import Display, Setting
from .softmax import output_gradient_recipe, softmax_partials

# Index letters by the layer they count, so that each letter has one range in the whole document (BP4's k
# counts layer l-1, so BP1 cannot take k for the output layer too): the first letter of a layer is its free
# index, the others its bound ones; u is the abstract cost's own (never printed). No role may take one (a_j
# would print as a_j_j).
LETTERS = {"output": ("c", "r", "s"), "this": ("j", "m", "u"), "next": ("i", "p"), "previous": ("k", "q")}
INDICES = tuple(x for letters in LETTERS.values() for x in letters)
ROLES = {"activations": "a", "inputs": "z", "weights": "W", "biases": "b", "errors": "delta", "targets": "y",
         "cost": "C", "layer": "l", "output_layer": "L"}


def _layer_base(latex: str, text: str, store: dict) -> sp.IndexedBase:
    """A per-layer base named as it reads (a^L, a^(l-1)): '^' is in no caller's name (letters and digits)."""
    store[text] = Display(latex, text)
    return sp.IndexedBase(text)


def _tex(name: str) -> str:
    """A name as LaTeX: Greek names (delta, epsilon, ...) as Greek letters."""
    return sp.latex(sp.Symbol(name))


def _sigmoid_lemma(a: sp.IndexedBase, z: sp.IndexedBase, j, k, setting: Setting) -> Derivation:
    """da_j/dz_k = delta_jk a_j (1 - a_j), planned (the reference takes no route of its own here)."""
    return Planner(setting).derive(sp.Derivative(a[j], z[k]), name="sigmoid_derivative",
                                   title="Derivative of the sigmoid",
                                   description="The rate of change of a sigmoid unit's activation with respect "
                                               "to its input")


def mlp_backprop(*, notation: Optional[Mapping[str, str]] = None) -> Derivation:
    """Derive the four equations of backpropagation (BP1-BP4) for sigmoid hidden layers and a softmax output.

    Roles for ``notation``: activations (a), inputs (z, the weighted inputs),
    weights (W), biases (b), errors (delta), targets (y), cost (C), layer (l),
    output_layer (L).
    """
    n = role_names(ROLES, notation, reserved=INDICES)
    A, Z, Wn, Bn, D, Y, C, l, L = (n[r] for r in ("activations", "inputs", "weights", "biases", "errors",
                                                  "targets", "cost", "layer", "output_layer"))
    a_tex, z_tex, w_tex, b_tex, d_tex = (_tex(x) for x in (A, Z, Wn, Bn, D))
    c, r, s = (defs.index(x) for x in LETTERS["output"])    # 1..n_L
    j, m, u = (defs.index(x) for x in LETTERS["this"])      # 1..n_l
    i, p = (defs.index(x) for x in LETTERS["next"])         # 1..n_{l+1}
    k, q = (defs.index(x) for x in LETTERS["previous"])     # 1..n_{l-1}
    size_L, size_l, size_next, size_prev = (sp.Symbol(f"n_{x}", integer=True, positive=True)
                                            for x in (L, l, f"{{{l}+1}}", f"{{{l}-1}}"))
    show: dict = {}
    aL = _layer_base(f"{a_tex}^{{{L}}}", f"{A}^{L}", show)
    zL = _layer_base(f"{z_tex}^{{{L}}}", f"{Z}^{L}", show)
    al = _layer_base(f"{a_tex}^{{{l}}}", f"{A}^{l}", show)
    zl = _layer_base(f"{z_tex}^{{{l}}}", f"{Z}^{l}", show)
    a_prev = _layer_base(f"{a_tex}^{{{l}-1}}", f"{A}^({l}-1)", show)
    z_next = _layer_base(f"{z_tex}^{{{l}+1}}", f"{Z}^({l}+1)", show)
    W_l = _layer_base(f"{w_tex}^{{{l}}}", f"{Wn}^{l}", show)
    W_next = _layer_base(f"{w_tex}^{{{l}+1}}", f"{Wn}^({l}+1)", show)
    b_l = _layer_base(f"{b_tex}^{{{l}}}", f"{Bn}^{l}", show)
    b_next = _layer_base(f"{b_tex}^{{{l}+1}}", f"{Bn}^({l}+1)", show)
    d_l = _layer_base(f"{d_tex}^{{{l}}}", f"{D}^{l}", show)
    d_next = _layer_base(f"{d_tex}^{{{l}+1}}", f"{D}^({l}+1)", show)
    y = sp.IndexedBase(Y)
    Cx, Cs = sp.Symbol(f"{C}_x"), sp.Symbol(C)
    display = tuple(show.items())

    def setting(definitions, variables, ranges, sizes, symbols, domains=()):
        return Setting(K=size_L, variables=variables, definitions=definitions,
                       ranges=tuple((i, (sp.Integer(1), s)) for i, s in ranges), sizes=sizes,
                       domains=domains, display=display, symbols=symbols)

    # BP1: the output layer, with the softmax + cross-entropy route
    hot = one_hot(y, r, size_L)
    out = setting((defs.cross_entropy(Cx, aL, y, r, size_L), defs.softmax(aL, lambda x: zL[x], r, s, size_L)),
                  (zL,), ((c, size_L), (r, size_L), (s, size_L)), (), {"a": aL, "z": zL, "y": y})
    partials = softmax_partials(out, aL, zL, r, c)
    bp1 = run_recipe(out, sp.Derivative(Cx, zL[c]),
                     output_gradient_recipe(Cx, c, partials, (hot,)) + [(rules.matrix_form, {"rows": c})],
                     name="bp1", title="BP1: the error in the output layer",
                     description="The error of the softmax output layer under the cross-entropy cost")

    # the sigmoid derivative, a lemma of BP2
    hidden = setting((defs.any_cost(Cs, z_next, p, size_next, "any differentiable cost of the next layer's "
                                                             "weighted inputs"),
                      defs.derivative_of(d_next, Cs, z_next, i),
                      defs.affine(z_next, W_next, al, b_next, i, m, size_l), defs.sigmoid(al, zl, j)),
                     (zl,), ((j, size_l), (m, size_l), (i, size_next), (p, size_next)), (size_l, size_next),
                     {"a": al, "z": zl, "delta_next": d_next, "W_next": W_next, "z_next": z_next})
    sigmoid = _sigmoid_lemma(al, zl, j, m, hidden)

    # BP2: from one layer's error to the one before
    bp2 = run_recipe(hidden, sp.Derivative(Cs, zl[j]), [
        (rules.multivariate_chain_rule, {"through": z_next, "indices": (i,)}),
        (rules.fold, {"of": d_next}),
        (rules.definition, {"of": z_next}),
        rules.linearity,
        rules.differentiate,
        (rules.lemma, {"lemmas": (sigmoid,)}),
        rules.cancel,
        rules.kronecker_delta,
        rules.linearity,
        (rules.matrix_form, {"rows": j}),
    ], name="bp2", title="BP2: the error of a hidden layer",
        description="The error of hidden layer l from the error of layer l+1")

    # BP3 and BP4: the gradients with respect to one layer's parameters
    params = setting((defs.any_cost(Cs, zl, u, size_l, "any differentiable cost of the layer's weighted inputs"),
                      defs.derivative_of(d_l, Cs, zl, m), defs.affine(zl, W_l, a_prev, b_l, m, q, size_prev)),
                     (W_l, b_l), ((j, size_l), (m, size_l), (u, size_l), (k, size_prev), (q, size_prev)),
                     (size_l, size_prev),
                     {"delta": d_l, "a_prev": a_prev, "W": W_l, "b": b_l, "z": zl})
    layer_recipe = [
        (rules.multivariate_chain_rule, {"through": zl, "indices": (m,)}),
        (rules.fold, {"of": d_l}),
        (rules.definition, {"of": zl}),
        rules.linearity,
        rules.differentiate,
        rules.kronecker_delta,
    ]
    bp3 = run_recipe(params, sp.Derivative(Cs, b_l[j]), layer_recipe + [(rules.matrix_form, {"rows": j})],
                     name="bp3", title="BP3: the gradient with respect to the biases",
                     description="The rate of change of the cost with respect to any bias")
    bp4 = run_recipe(params, sp.Derivative(Cs, W_l[j, k]), layer_recipe + [(rules.matrix_form, {"rows": j, "cols": k})],
                     name="bp4", title="BP4: the gradient with respect to the weights",
                     description="The rate of change of the cost with respect to any weight")
    parts = (bp1, bp2, bp3, bp4)
    # What the document states: each quantity once, at the generic layer l (a textbook's delta^l_j :=
    # dC/dz^l_j), not once per part. BP2 reads them one layer on (delta^(l+1), z^(l+1)), the parts'
    # settings hold those instances for the rules and the verifier.
    layer_l = (defs.any_cost(Cs, zl, u, size_l), defs.derivative_of(d_l, Cs, zl, j),
               defs.affine(zl, W_l, a_prev, b_l, j, k, size_prev), defs.sigmoid(al, zl, j))
    ranges = tuple(dict.fromkeys(x for part in (out, hidden, params) for x in part.ranges))
    return Derivation(
        name="mlp_backprop", title="Backpropagation with softmax outputs and cross-entropy cost",
        setting=replace(out, definitions=out.definitions + layer_l, ranges=ranges, sizes=(size_l, size_next, size_prev)),
        lhs=bp1.lhs, steps=(), parts=parts,
        description=Typeset("The four equations of backpropagation for a network with sigmoid hidden layers, "
                            f"a softmax output layer and the cross-entropy cost. ${C}_{{x}}$ is the cost of one "
                            f"example $x$ (BP1 is derived for it); ${C}$ is the cost being differentiated in "
                            f"BP2-BP4, any differentiable function of the layer's weighted inputs, so the equations "
                            f"hold for ${C}_{{x}}$ and, the derivative being linear, for the mean "
                            f"${C} = \\frac{{1}}{{N}} \\sum_{{x}} {C}_{{x}}$ over a batch of $N$ examples, which "
                            f"is what the compiled function differentiates. The error and the weighted input are defined once, for "
                            f"every layer ${l}$ (${d_tex}^{{{l}+1}}$ is ${d_tex}^{{{l}}}$ one layer on), and "
                            f"the sigmoid for every hidden layer"),
        interface="network")
