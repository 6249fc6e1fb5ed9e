"""The data a derivation is made of: rules' names, assumptions, steps, derivations.

Nothing here computes mathematics. A Derivation holds what the rules produced;
rendering, verification and compilation read it (their modules are imported
lazily so that ``import derive`` stays cheap).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from .setting import Setting
    from .verify import Report


class Rule(str, Enum):
    """The fixed vocabulary of rules a step can cite: each kind of step once, with its title.

    A rule function (derive.rules) is registered by its decorator, ``@rule(Rule.X, ...)``, naming the
    kind of step it makes; this table is the JSON schema's enum (scripts/schema.py writes it there)."""

    DEFINITION = "definition", "definition"
    LINEARITY = "linearity", "linearity", True
    SPLIT_SUM = "split_sum", "split the sum"
    JOIN_SUM = "join_sum", "join the sum"
    CHAIN_RULE = "chain_rule", "chain rule", True
    MULTIVARIATE_CHAIN_RULE = "multivariate_chain_rule", "multivariate chain rule", True
    QUOTIENT_RULE = "quotient_rule", "quotient rule", True
    PRODUCT_RULE = "product_rule", "product rule", True
    SUM_CONSTANT = "sum_constant", "sum of a constant"
    DIFFERENTIATE = "differentiate", "differentiate"
    DELTA = "kronecker_delta", "Kronecker delta", True
    LEMMA = "lemma", "lemma"
    CASES = "cases", "cases"
    WRITE_OUT = "write_out_sum", "write out the sum"
    FOLD = "fold_definition", "fold definition"
    CANCEL = "cancel", "cancel"
    EXPAND = "expand", "expand"
    COLLECT = "collect", "collect terms"
    MERGE_POWERS = "merge_powers", "merge powers"
    HYPERBOLIC = "hyperbolic", "hyperbolic functions", True
    TARGET = "output_minus_target", "output minus target"
    FACTOR = "factor", "factor"
    ADD_SUBTRACT = "add_and_subtract", "add and subtract"
    SPLIT_FRACTION = "split_fraction", "split the fraction"
    ASSUMPTION = "assumption", "assumption"
    ONE_HOT = "one_hot_target", "one-hot target"
    SQUARE = "complete_square", "complete the square"
    NONNEGATIVE = "nonnegative", "nonnegative terms"
    MATRIX_FORM = "matrix_form", "matrix form"
    CLAIM = "claim", "claimed"  # a link of a user's own chain, checked by derive check

    _title: str
    _law: bool

    def __new__(cls, value: str, title: str, law: bool = False) -> "Rule":
        member = str.__new__(cls, value)
        member._value_ = value
        member._title = title
        member._law = law
        return member

    @property
    def law(self) -> bool:
        """Whether the title names a law of calculus the step applies (linearity, the chain rule, ...),
        which the step's own words need not say; other titles name the action ('expand', 'cancel'), and
        the step's words say that action already."""
        return self._law

    @property
    def title(self) -> str:  # type: ignore[override]  # the rule's human name replaces str.title on a Rule
        """Human name, e.g. 'quotient rule'."""
        return self._title

    def __str__(self) -> str:
        return self.value


class Relation(str, Enum):
    """How a step's new right-hand side relates to the one before: equal (most steps), or a bound.

    A chain with a bound reads lhs = ... = a >= b = ...: its result is then a bound on the left-hand
    side (``Derivation.relation``). ``tex``, ``symbol`` and ``text`` are how LaTeX, Markdown/HTML words
    and plain text print it."""

    EQ = "=", "=", "=", "="
    GE = ">=", r"\ge", "\u2265", ">="
    LE = "<=", r"\le", "\u2264", "<="

    tex: str
    symbol: str
    text: str

    def __new__(cls, value: str, tex: str, symbol: str, text: str) -> "Relation":
        member = str.__new__(cls, value)
        member._value_ = value
        member.tex, member.symbol, member.text = tex, symbol, text
        return member

    def __str__(self) -> str:
        return self.value

    def then(self, other: "Relation") -> "Relation":
        """The relation of a chain a R b S c between a and c: = then >= is >=; >= then <= says nothing."""
        if other is Relation.EQ or other is self:
            return self
        if self is Relation.EQ:
            return other
        raise ValueError(f"a chain cannot combine {self.value} with {other.value}: it bounds nothing")


class Typeset(str):
    """Words derive wrote itself with inline mathematics between $ signs: 'Derivative of $o_{j}$ with
    respect to $z_{k}$'. A renderer typesets the $...$ pieces; a title a user passes is a plain str,
    whose $ signs are characters like any other."""

    def pieces(self) -> list:
        """(kind, text) in reading order, kind 'text' or 'math'."""
        return [("math" if n % 2 else "text", part) for n, part in enumerate(self.split("$")) if part]

    @property
    def plain(self) -> str:
        """The words with the mathematics as a text document writes it: o_j, W^(l+1)_kj, i != j, (1/N)."""
        return "".join(part if kind == "text" else _plain_math(part) for kind, part in self.pieces())

    def __add__(self, other):
        return Typeset(str(self) + str(other)) if isinstance(other, str) else NotImplemented

    def __radd__(self, other):
        return Typeset(str(other) + str(self)) if isinstance(other, str) else NotImplemented


_PLAIN_COMMANDS = {"neq": " != ", "le": " <= ", "ge": " >= ", "varepsilon": "eps", "partial": "d", "sum": "sum",
                   "cdot": "*", "circ": " o "}


def _plain_math(tex: str) -> str:
    """The TeX of a Typeset as plain text: \\operatorname{diag} -> diag, \\frac{1}{N} -> (1/N), \\neq -> !=."""
    import re
    tex = re.sub(r"\\operatorname\{(\w+)\}", r"\1", tex)
    tex = re.sub(r"\\mathbf\{1\}", "1", tex).replace("\\left[", "[").replace("\\right]", "]")
    tex = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1/\2)", tex)
    # a command's space is kept after a word (\\log o_j -> log o_j), not after \\partial (\\partial E -> dE)
    tex = re.sub(r"\\([A-Za-z]+)( ?)", lambda m: _PLAIN_COMMANDS.get(m.group(1), m.group(1))
                 + ("" if m.group(1) == "partial" else m.group(2)), tex)
    return re.sub(r"  +", " ", tex.replace("{", "").replace("}", ""))


@dataclass(frozen=True)
class Assumption:
    """A stated fact a step may rely on, e.g. sum_j y_j = 1 or j != k.

    ``rewrite`` (lhs, rhs) is what the assumption rule substitutes;
    ``domains`` tells the verifier's sampler how to draw values honouring it
    (base name -> 'simplex', 'one_hot', ...); ``different`` lists index pairs
    that must differ. ``text`` says it in words; given as a Typeset (variables between $ signs), its
    plain form is ``text`` and the Typeset is ``words``, which the typesetting renderers set.
    """

    key: str
    statement: sp.Basic
    text: str
    rewrite: Optional[tuple] = None
    domains: tuple = ()
    different: tuple = ()
    words: str = field(default="", compare=False, repr=False)

    def __post_init__(self) -> None:
        # A Typeset text ('the index $k$ lies in the range of the sum') is kept as ``words`` for the
        # renderers that typeset it; ``text`` is always its plain form (the text document, JSON, check).
        if isinstance(self.text, Typeset):
            object.__setattr__(self, "words", self.text)
            object.__setattr__(self, "text", self.text.plain)
        elif not self.words:
            object.__setattr__(self, "words", self.text)

    @property
    def local(self) -> bool:
        """True for an index inequality (j != k): it holds where a step applies (inside a sum over
        j != k, in the case j != k, or as a lemma's condition), not throughout a derivation."""
        return bool(self.different)

    def __repr__(self) -> str:
        return f"Assumption({self.key!r}: {sp.sstr(self.statement)})"


@dataclass(frozen=True)
class Step:
    """One link of the chain: the expression after the step and why it holds.

    ``justification`` is plain words (no markup, so every renderer can set
    it as text); ``formula`` is the identity the rule cites, if any, as a
    SymPy equation that renderers print as mathematics. ``relation`` says how the
    expression before the step relates to ``expr``: equal (the default) or a bound
    (before >= expr), which verify checks as an inequality.
    """

    expr: sp.Expr
    rule: Rule
    justification: str
    assumptions: tuple = ()
    lemmas: tuple = ()
    formula: Optional[sp.Basic] = None
    relation: Relation = Relation.EQ

    def __post_init__(self) -> None:
        if not isinstance(self.relation, Relation):
            from .errors import ArgumentTypeError
            raise ArgumentTypeError("relation", f"must be a derive.Relation (EQ, GE or LE), got {self.relation!r}")

    def __repr__(self) -> str:
        cited = "".join(f", lemma={d.name!r}" for d in self.lemmas)
        uses = "".join(f", uses={a.key!r}" for a in self.assumptions)
        bound = "" if self.relation is Relation.EQ else f", relation={self.relation.value!r}"
        return f"Step({self.rule.value}: {sp.sstr(self.expr)}{uses}{cited}{bound})"

    def _repr_html_(self) -> str:
        """Jupyter: the row, its rule and reason, and each cited lemma's chain, collapsible."""
        from .render.jupyter import step_html
        return step_html(self)


@runtime_checkable
class CompiledGradient(Protocol):
    """What ``Derivation.compile()`` returns: the closed form as a function of keyword arguments.

    ``g(**arrays)`` returns the gradient (a NumPy array, or the backend's array; a tuple
    (grads_W, grads_b) for a network); ``inputs`` lists the keywords, ``source`` the generated code,
    ``name`` the derivation's name. The interfaces are described in docs/api.md.
    """

    name: str

    @property
    def inputs(self) -> tuple: ...

    @property
    def source(self) -> str: ...

    def __call__(self, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Derivation:
    """A chain of equalities from ``lhs`` to ``result``, each link a Step.

    ``conditions`` hold throughout (an index range, j != k for a lemma);
    ``assumptions`` lists every assumption a step of the chain cites.
    ``interface`` tells compile() how the inputs are laid out: 'per_example'
    (rows are examples), 'dataset', 'labels' or 'network'. ``incomplete``
    says why a planned chain stops short of a closed form ('' when it does not).
    """

    name: str
    title: str
    setting: "Setting"
    lhs: sp.Expr
    steps: tuple
    conditions: tuple = ()
    description: str = ""
    parts: tuple = field(default=())
    interface: str = "per_example"
    incomplete: str = ""

    @property
    def complete(self) -> bool:
        """False when the chain stops short of a closed form (``incomplete`` says why), here or in a
        lemma or part; verify() is then not ok and compile() refuses it."""
        return not any(d.incomplete for d in self.walk())

    @property
    def result(self) -> sp.Expr | tuple:
        """The last right-hand side of the chain; for a derivation made of parts (BP1-BP4), a tuple
        of each part's equation lhs = result."""
        if not self.steps and self.parts:
            return tuple(p.equation for p in self.parts)
        return self.steps[-1].expr if self.steps else self.lhs

    @property
    def relation(self) -> Relation:
        """How the left-hand side relates to the result: = for a chain of equalities, >= (or <=) when a
        step is a bound; a chain mixing >= and <= raises ValueError (it bounds nothing)."""
        out = Relation.EQ
        for step in self.steps:
            out = out.then(step.relation)
        return out

    @property
    def results(self) -> tuple:
        """(lhs, result) of this chain, then of each part (a derivation made of parts has only theirs)."""
        own = ((self.lhs, self.result),) if self.steps or not self.parts else ()
        return own + tuple((p.lhs, p.result) for p in self.parts)

    @property
    def assumptions(self) -> tuple:
        """What this chain relies on: its conditions, then every assumption its own steps cite
        (a lemma's are cited by the step that uses the lemma), in order of first use.

        Local facts (j != k inside a sum over j != k) belong to the step that
        uses them and are left out; so are the assumptions of the parts of a
        derivation made of parts: each part has its own.
        """
        seen: dict = {a.key: a for a in self.conditions}
        for step in self.steps:
            for a in step.assumptions:
                if not a.local:
                    seen.setdefault(a.key, a)
        return tuple(seen.values())

    def assumption_uses(self) -> tuple:
        """(assumption, names of the chains citing it) for every assumption cited anywhere, once each.

        Chains are this one and its lemmas and parts (``walk()`` order); a
        condition counts as cited by its own chain. One key means one
        statement: two different statements under one key raise ValueError.
        """
        uses: dict = {}
        for d in self.walk():
            cited = list(d.conditions) + [a for step in d.steps for a in step.assumptions]
            for a in cited:
                known, names = uses.setdefault(a.key, (a, []))
                if known.statement != a.statement:
                    raise ValueError(f"assumption key {a.key!r} names two statements: "
                                     f"{sp.sstr(known.statement)} and {sp.sstr(a.statement)}")
                if d.name not in names:
                    names.append(d.name)
        return tuple((a, tuple(names)) for a, names in uses.values())

    @property
    def definitions(self) -> tuple:
        """The definitions the derivation starts from."""
        return self.setting.definitions

    @property
    def lemmas(self) -> tuple:
        """Sub-derivations cited by steps, each once, in order of citation."""
        seen: dict = {}
        for step in self.steps:
            for lemma in step.lemmas:
                seen.setdefault(lemma.name, lemma)
        return tuple(seen.values())

    def walk(self) -> tuple:
        """Every sub-derivation (lemmas and parts, depth first, each once), then this one."""
        out: dict = {}

        def visit(d: "Derivation") -> None:
            for part in d.parts:
                visit(part)
            for step in d.steps:
                for lemma in step.lemmas:
                    visit(lemma)
            out.setdefault(d.name, d)

        visit(self)
        return tuple(out.values())

    @property
    def free_indices(self) -> tuple:
        """The indices free in the left-hand side (k of dE/dz_k; i, j of do_i/dz_j), in order."""
        from .expr import bound_indices
        ranged = {i for i, _ in self.setting.ranges}
        bound = bound_indices(self.lhs)  # m of [H v]_k = sum_m H_km v_m is not free, nor k of sum_{k != i}
        out: list = []
        for node in sp.preorder_traversal(self.lhs):
            if isinstance(node, sp.Indexed):
                out.extend(i for i in node.indices if i in ranged and i not in bound and i not in out)
        return tuple(out)

    @property
    def equation(self) -> sp.Basic:
        """lhs = result as a SymPy equation (lhs >= result, a SymPy Ge, for a chain with a bound)."""
        make = {Relation.EQ: sp.Eq, Relation.GE: sp.Ge, Relation.LE: sp.Le}[self.relation]
        return make(self.lhs, self.result, evaluate=False)

    def with_step(self, index: int, step: Step) -> "Derivation":
        """A copy with step ``index`` replaced (for tests that corrupt a step)."""
        steps = list(self.steps)
        steps[index] = step
        return replace(self, steps=tuple(steps))

    def __repr__(self) -> str:
        if not self.steps and self.parts:
            parts = "; ".join(f"{sp.sstr(p.lhs)} = {sp.sstr(p.result)}" for p in self.parts)
            return f"Derivation({self.name!r}: {len(self.parts)} parts: {parts})"
        return (f"Derivation({self.name!r}: {sp.sstr(self.lhs)} {self.relation.text} {sp.sstr(self.result)}, "
                f"{len(self.steps)} steps, {len(self.lemmas)} lemmas)")

    # -- views, computed by their own modules -------------------------------
    def verify(self, *, Ks: Optional[Sequence[int]] = None, points: int = 2, index_samples: int = 2,
               seed: int = 0, lemmas: bool = True,
               progress: Optional[Callable[[str], None]] = None, timeout: Optional[float] = None) -> "Report":
        """Check every step and the result (see derive.verify.verify).

        Ks: the class counts to instantiate (default 2..5 and one K drawn from 6..24, or the derivation's K);
        points: random points per case; index_samples: assignments of the free
        indices per K; seed: the random seed; lemmas: check cited lemmas too;
        progress: called with a short message before each check; timeout: seconds before a VerifyTimeout
        naming what was left unchecked (None: no limit).
        """
        from .verify import verify
        return verify(self, Ks=Ks, points=points, index_samples=index_samples, seed=seed, lemmas=lemmas,
                      progress=progress, timeout=timeout)

    def to_text(self, *, justifications: bool = True) -> str:
        """The chain as plain text for a terminal; justifications=False leaves out each step's reason."""
        from .render.text import render_text
        return render_text(self, justifications=justifications)

    def to_latex(self, *, standalone: bool = False, justifications: bool = True, jupyter: bool = False) -> str:
        """amsmath source (align* blocks); standalone=True gives a whole document, jupyter=True the
        main chain as one $$\\begin{aligned}...$$ block."""
        from .render.latex import render_latex
        return render_latex(self, standalone=standalone, justifications=justifications, jupyter=jupyter)

    def to_markdown(self, *, justifications: bool = True, heading_level: int = 2) -> str:
        """Markdown with $$\\begin{aligned}...$$ display math (KaTeX and MathJax); heading_level 1..5."""
        from .render.markdown import render_markdown
        return render_markdown(self, justifications=justifications, heading_level=heading_level)

    def to_html(self, *, justifications: bool = True) -> str:
        """A self-contained HTML page (KaTeX, its CSS and fonts inlined)."""
        from .render.html import render_html
        return render_html(self, justifications=justifications)

    def to_json(self, *, indent: int = 2) -> str:
        """A stable JSON document of the derivation (schema derive.derivation/3)."""
        from .render.json import render_json
        return render_json(self, indent=indent)

    def to_dict(self) -> dict:
        """The JSON document as Python data."""
        from .render.json import derivation_dict
        return derivation_dict(self)

    def compile(self, backend: str = "numpy") -> CompiledGradient:
        """The closed form as a vectorised, numerically stable NumPy function (see derive.compile);
        ``backend="jax"`` or ``"torch"`` runs the same program with that library (an optional extra)."""
        from .compile import compile_derivation
        return compile_derivation(self, backend)

    def _repr_latex_(self) -> str:
        from .render.latex import render_latex
        return render_latex(self, jupyter=True)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        """Jupyter: the chain with each step's rule and reason, lemmas collapsible (derive.render.jupyter)."""
        from .render.jupyter import derivation_html
        return derivation_html(self)
