"""The assumptions derivations cite, each a statement plus how to honour it when sampling."""
from __future__ import annotations

import re

import sympy as sp

from .model import Assumption, Typeset


def normalized(base: sp.IndexedBase, index: sp.Symbol, K: sp.Expr, prefix: tuple = ()) -> Assumption:
    """sum_index base_index = 1 (targets that are a probability vector, e.g. one-hot).

    ``prefix`` holds indices in front of the summed one (the example i of y_k^(i)).
    """
    return _sums_to_one(base[tuple(prefix) + (index,)], index, K, f"{base}_sums_to_one",
                        Typeset(f"the entries of ${sp.latex(base)}$ sum to one"), ((str(base), "simplex"),))


def one_hot(base: sp.IndexedBase, index: sp.Symbol, K: sp.Expr) -> Assumption:
    """base is one-hot: exactly one entry is 1, the rest 0 (so it sums to one)."""
    return _sums_to_one(base[index], index, K, f"{base}_one_hot", Typeset(f"${sp.latex(base)}$ is one-hot, so its entries sum to one"),
                        ((str(base), "one_hot"),))


def hot_at(base: sp.IndexedBase, index: sp.Symbol) -> Assumption:
    """base is one-hot with its 1 at ``index``: base_index = 1 and every other entry 0."""
    return Assumption(key=f"{base}_hot_at_{index}", statement=sp.Eq(base[index], 1, evaluate=False),
                      text=Typeset(f"${sp.latex(base)}$ is one-hot, its $1$ at ${sp.latex(index)}$"), domains=((str(base), f"one_hot_at:{index}"),))


def one_hot_at(base: sp.IndexedBase, index: sp.Symbol, hot: sp.Symbol) -> Assumption:
    """base is one-hot with its 1 at the index ``hot`` (the true class t): base_index = [index = hot] for
    every index, which the one-hot target rule substitutes."""
    return Assumption(key=f"{base}_one_hot_at_{hot}",
                      statement=sp.Eq(base[index], sp.KroneckerDelta(index, hot), evaluate=False),
                      text=Typeset(f"${sp.latex(base)}$ is one-hot, its $1$ at the class ${sp.latex(hot)}$"),
                      domains=((str(base), f"one_hot_at:{hot}"),))


def _sums_to_one(entry: sp.Expr, index: sp.Symbol, K: sp.Expr, key: str, text: str, domains: tuple) -> Assumption:
    """sum_index entry = 1, rewritten to 1 where the sum occurs; ``domains`` tells the sampler how to honour it."""
    total = sp.Sum(entry, (index, 1, K))
    return Assumption(key=key, statement=sp.Eq(total, 1, evaluate=False), text=text,
                      rewrite=(total, sp.Integer(1)), domains=domains)


def _key_part(e: sp.Expr) -> str:
    """An expression as a key fragment: letters, digits and underscores (n_l - 1 -> n_l_minus_1)."""
    text = sp.sstr(e).replace(" - ", "_minus_").replace(" + ", "_plus_")
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")


def in_range(index: sp.Symbol, lower: sp.Expr, upper: sp.Expr) -> Assumption:
    """lower <= index <= upper (the key names the bounds: one key, one statement)."""
    return Assumption(
        key=f"{index}_in_{_key_part(lower)}_to_{_key_part(upper)}",
        statement=sp.And(sp.Le(lower, index, evaluate=False), sp.Le(index, upper, evaluate=False), evaluate=False),
        text=Typeset(f"the index ${sp.latex(index)}$ lies in the range of the sum"),
    )


def is_range(a: Assumption) -> bool:
    """True for an index range lower <= index <= upper (stated once for a chain, cited by the steps that
    pick a term out of a sum, never passed on by a step that cites a lemma)."""
    return isinstance(a.statement, sp.And) and all(isinstance(c, sp.Le) for c in a.statement.args)


def different(a: sp.Symbol, b: sp.Symbol) -> Assumption:
    """a != b (two distinct indices)."""
    return Assumption(
        key=f"{a}_ne_{b}",
        statement=sp.Ne(a, b, evaluate=False),
        text=Typeset(f"${sp.latex(a)}$ and ${sp.latex(b)}$ are different indices"),
        different=((a, b),),
    )


def bias_input(base: sp.IndexedBase, example: sp.Symbol) -> Assumption:
    """base_0 = 1 for every example: feature 0 is the bias input."""
    return Assumption(
        key=f"{base}_0_is_one",
        statement=sp.Eq(base[example, 0], 1, evaluate=False),
        text="feature 0 is the constant bias input",
        domains=((str(base), "bias"),),
    )


def softmax_total(out: sp.IndexedBase, index: sp.Symbol, K: sp.Expr, prefix: tuple = ()) -> Assumption:
    """sum_j o_j = 1 for softmax outputs o (sum_j o_ij = 1 for each row i, with ``prefix`` (i,)): an identity
    (it holds for every input), cited where it is used."""
    return _sums_to_one(out[tuple(prefix) + (index,)], index, K, f"{out}_outputs_sum_to_one",
                        Typeset(f"the softmax outputs ${sp.latex(out)}$ sum to one, whatever the logits"), ())
