"""What a derivation starts from: its definitions, index ranges and sample domains.

A ``Setting`` answers the questions rules ask ("does this expression depend on
z_k?", "what is o_j defined as?") and the verifier asks ("which values may y
take?"). It holds SymPy objects only; no mathematics is done here beyond
substitution of definitions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import sympy as sp

from .expr import indexed_with_base, substitute
from .layers import LAYERS, Layer, layer


@dataclass(frozen=True)
class Definition:
    """``symbol[indices] := expr``, e.g. o_j := exp(z_j) / sum_l exp(z_l).

    ``kernel`` names the output layer the definition is (a name in
    derive.layers.LAYERS: 'softmax' for exp(g(j)) / sum_l exp(g(l)), 'sigmoid'
    for 1 / (1 + exp(-g(j))), 'tanh', ...), with ``argument`` the g(j); ''
    for none. ``layer`` is that layer, which every stage asks (how it is
    compiled, folded back, read). An
    ``abstract`` definition stands for any function (a cost C of z): renderers
    show only its text, and the verifier checks steps with ``expr``, a test
    function of the same arguments.
    """

    name: str
    symbol: sp.Basic
    indices: tuple
    expr: sp.Expr
    kernel: str = ""
    argument: Optional[sp.Expr] = None
    text: str = ""
    abstract: bool = False

    def __post_init__(self) -> None:
        if self.kernel:
            layer(self.kernel)  # an ArgumentError naming the layers there are

    @property
    def layer(self) -> Optional[Layer]:
        """The output layer this definition is, or None."""
        return LAYERS[self.kernel] if self.kernel else None

    @property
    def is_kernel(self) -> bool:
        """True when the definition is a layer compiled from its ``argument`` by the layer's stable numerics
        (and kept as a named quantity by the rules): a softmax, log-softmax or sigmoid, not a tanh."""
        layer = self.layer
        return layer is not None and layer.kernel

    @property
    def lhs(self) -> sp.Expr:
        """The defined quantity as it appears in expressions (o[j] or E)."""
        return self.symbol[self.indices] if self.indices else self.symbol

    def at(self, *indices) -> sp.Expr:
        """The defining expression with its indices set to ``indices``."""
        if len(indices) != len(self.indices):
            raise ValueError(f"{self.symbol} takes {len(self.indices)} indices")
        return substitute(self.expr, dict(zip(self.indices, indices)))

    def occurs_in(self, expr: sp.Basic) -> bool:
        """True when the defined symbol appears in ``expr``."""
        if self.indices:
            return bool(indexed_with_base(expr, [self.symbol]))
        return self.symbol in expr.free_symbols

    def expand_in(self, expr: sp.Basic) -> sp.Basic:
        """Replace every occurrence of the defined symbol by its definition."""
        if self.indices:
            return expr.replace(lambda e: isinstance(e, sp.Indexed) and e.base == self.symbol,
                                lambda e: self.at(*e.indices))
        return expr.xreplace({self.symbol: self.expr})

    def __repr__(self) -> str:
        return f"Definition({self.name}: {sp.sstr(self.lhs)} := {sp.sstr(self.expr)})"


@dataclass(frozen=True)
class Display:
    """How a base prints: its label in LaTeX and text, and where its indices go.

    style 'sub': label_{indices}; 'example': label^{(first)}_{rest}, as in
    x_j^{(i)}; 'function': label_{rest}(arg^{(first)}), as in h_k(x^{(i)}).
    """

    latex: str
    text: str
    style: str = "sub"
    argument: str = "x"


@dataclass(frozen=True)
class Setting:
    """Definitions, the classes count K, index ranges and sampling domains.

    ``domains`` maps a base's name to how the verifier samples it when no
    assumption says otherwise: 'real', 'positive', 'unit' (0..1) or 'label'.
    ``ranges`` maps an index symbol to its (lower, upper) bounds; ``sizes``
    lists size symbols other than K (layer widths, the number of examples)
    that the verifier instantiates too; ``display`` maps a base's name to
    its Display.
    """

    K: sp.Expr
    variables: tuple
    definitions: tuple
    ranges: tuple
    domains: tuple = ()
    sizes: tuple = ()
    display: tuple = ()
    symbols: dict = field(default_factory=dict, compare=False, hash=False)

    # -- look-ups ----------------------------------------------------------
    def definition_of(self, symbol: sp.Basic) -> Optional[Definition]:
        """The definition of a base or symbol, or None."""
        for d in self.definitions:
            if d.symbol == symbol:
                return d
        return None

    def range_of(self, index: sp.Symbol) -> tuple:
        """(lower, upper) of an index; 1..K when not declared."""
        for i, bounds in self.ranges:
            if i == index:
                return bounds
        return (sp.Integer(1), self.K)

    def dependents(self, variable: sp.Basic, excluding: Optional[sp.Basic] = None) -> frozenset:
        """Bases and symbols whose value changes with ``variable``'s base (not through ``excluding``)."""
        base = variable.base if isinstance(variable, sp.Indexed) else variable
        found = {base}
        changed = True
        while changed:
            changed = False
            for d in self.definitions:
                if d.symbol in found or d.symbol == excluding:
                    continue
                if _mentions(d.expr, found):
                    found.add(d.symbol)
                    changed = True
        return frozenset(found)

    def depends(self, expr: sp.Basic, variable: sp.Basic, excluding: Optional[sp.Basic] = None) -> bool:
        """True when ``expr`` may change with ``variable`` (through definitions too, but not through ``excluding``)."""
        return _mentions(expr, self.dependents(variable, excluding))


def _mentions(expr: sp.Basic, symbols: Iterable) -> bool:
    symbols = set(symbols)
    if any(isinstance(s, sp.Symbol) and s in expr.free_symbols for s in symbols):
        return True
    return bool(indexed_with_base(expr, [s for s in symbols if isinstance(s, sp.IndexedBase)]))
