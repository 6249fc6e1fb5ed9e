"""derive.sphinx: the ``derivation`` directive for Sphinx, from reStructuredText and MyST Markdown.

In conf.py: ``extensions = ["derive.sphinx"]`` (with ``"myst_parser"`` for Markdown). Then::

    .. derivation:: softmax_ce

    .. derivation::
       :wrt: z
       :assume: sum(y[j], j) = 1
       :name: ce

       -sum(y[j]*log(softmax(z)[j]), j)

renders a catalogue entry, or the gradient of a cost typed in the directive (its content or
``:cost:``; the options are ``derive.gradient``'s), typeset by Sphinx's math support with
numbered, citable equations (:eq:`ce:result`; see derive.render.nodes for the labels). The
derivation is verified first (``:verify: no`` skips it); a derivation that does not verify, a
cost that cannot be read or a bad option fails the build with a ``DerivationDirectiveError``
naming the file, the line and the problem.

Configuration: ``derive_verify`` (default True: verify every derivation unless its directive says
``:verify: no``), ``derive_verify_timeout`` (seconds per derivation, default 120),
``derive_math_width`` (pt of TeX a display may hold before its rows are broken, default 400).
"""
from __future__ import annotations

import re
from typing import Any, Optional

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import SphinxError
from sphinx.util.docutils import SphinxDirective

from . import __version__
from .entries import entry
from .errors import ArgumentError, DeriveError
from .planned import gradient
from .model import Derivation
from .render.nodes import ROOM, derivation_nodes


class DerivationDirectiveError(SphinxError):
    """A derivation directive that cannot be rendered: its message names the file, the line and the problem."""

    category = "derive: derivation directive"


class _Unknown:
    """The value of an option the directive does not have (reported by run(), which names the choices)."""

    def __init__(self, name: str) -> None:
        self.name = name


class _OptionSpec(dict):
    """The directive's options; an unknown one reaches run() as _Unknown instead of a docutils warning,
    so that a misspelt option (:asume:) fails the build like any other bad option."""

    def __missing__(self, name: str):
        return lambda value, name=name: _Unknown(name)


_TEXT = ("cost", "wrt", "assume", "define", "K", "name", "title", "description", "verify", "seed",
         "lemmas", "justifications")
_COST_ONLY = ("cost", "wrt", "assume", "define", "title", "description")
_PREFIX = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,59}\Z")
_YES, _NO = ("yes", "true", "on", "1"), ("no", "false", "off", "0")


def _items(value: str) -> tuple:
    """Several definitions or assumptions: one per line, or separated by ';'."""
    return tuple(x.strip() for x in re.split(r"[;\n]", value) if x.strip())


class DerivationDirective(SphinxDirective):
    """``.. derivation:: [catalogue name]`` with options, or a cost as content."""

    has_content = True
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = False
    # every value as text (MyST's YAML options may be numbers); docutils lower-cases :K: to k
    option_spec = _OptionSpec({name: lambda value: "" if value is None else str(value) for name in _TEXT + ("k",)})

    def fail(self, problem: str) -> DerivationDirectiveError:
        return DerivationDirectiveError(f"{self.get_location()}: derivation: {problem}")

    def _switch(self, name: str, default: bool) -> bool:
        value = self.options.get(name)
        if value is None:
            return default
        if value.strip().lower() in _YES:
            return True
        if value.strip().lower() in _NO:
            return False
        raise self.fail(f":{name}: must be yes or no, got {value!r}")

    def _int(self, name: str) -> Optional[int]:
        value = self.options.get(name)
        if value is None:
            return None
        if not re.fullmatch(r"\s*\d{1,6}\s*", value):
            raise self.fail(f":{name}: must be a whole number, got {value!r}")
        return int(value)

    def _derivation(self) -> tuple:
        """(derivation, default label prefix) from the argument or the cost."""
        if "k" in self.options:
            self.options.setdefault("K", self.options.pop("k"))
        unknown = [v.name for v in self.options.values() if isinstance(v, _Unknown)]
        if unknown:
            raise self.fail(f"unknown option :{unknown[0]}:; the options are "
                            + ", ".join(f":{x}:" for x in _TEXT))
        K = self._int("K")
        if K is not None and K < 1:
            raise self.fail(f":K: must be at least 1, got {K}")
        content = " ".join(line.strip() for line in self.content).strip()
        if self.arguments:
            name = self.arguments[0]
            given = [f":{x}:" for x in _COST_ONLY if x in self.options] + ["a cost as content"] * bool(content)
            if given:
                raise self.fail(f"{given[0]} applies to a cost typed in the directive, not to the catalogue "
                                f"entry {name!r}")
            try:
                found = entry(name)
            except ArgumentError as error:
                raise self.fail(error.problem) from None
            try:
                return (found() if K is None else found(K=K)), name
            except TypeError:
                raise self.fail(f":K: the catalogue entry {name!r} takes no class count") from None
        cost = self.options.get("cost")
        if cost is not None and content:
            raise self.fail("give the cost once: as :cost: or as the directive's content, not both")
        cost = cost if cost is not None else content
        if not cost.strip():
            raise self.fail("no derivation: name a catalogue entry (.. derivation:: softmax_ce) or type a "
                            "cost (:cost: or the directive's content)")
        kwargs: dict = {"assume": _items(self.options.get("assume", "")),
                        "define": _items(self.options.get("define", "")), "K": K}
        for x in ("wrt", "name", "title", "description"):
            if self.options.get(x, "").strip():
                kwargs[x] = self.options[x].strip()
        d = gradient(cost.strip(), **kwargs)
        return d, d.name

    def _verify(self, d: Derivation) -> None:
        seed = self._int("seed") or 0
        timeout = float(self.config.derive_verify_timeout)
        from .verify import VerifyTimeout
        try:
            report = d.verify(seed=seed, timeout=timeout)
        except VerifyTimeout as error:
            raise self.fail(f"{d.name} was not verified within {timeout:g} s ({error}); raise "
                            "derive_verify_timeout in conf.py, or give :verify: no") from None
        if not report.ok:
            failed = [f"  {c}" for c in report.failures[:5]]
            more = len(report.failures) - len(failed)
            raise self.fail(f"{d.name} does not verify ({len(report.failures)} of {len(report.checks)} checks "
                            f"failed, {report.K_text or 'no K'}; seed {seed}):\n" + "\n".join(failed)
                            + (f"\n  ... and {more} more" if more > 0 else ""))

    def run(self) -> list:
        try:
            d, default = self._derivation()
        except DeriveError as error:
            argument = getattr(error, "argument", "")
            where = f":{argument}: " if argument else ""
            problem = getattr(error, "problem", str(error))
            raise self.fail(f"{where}{problem}") from None
        prefix = self.options.get("name", "").strip() or default
        if not _PREFIX.match(prefix):
            raise self.fail(f":name: {prefix!r} must be letters, digits, _ . - (a label prefix, at most 60)")
        if self._switch("verify", self.config.derive_verify):
            self._verify(d)
        out = derivation_nodes(d, prefix, lemmas=self._switch("lemmas", True),
                               justifications=self._switch("justifications", True),
                               room=float(self.config.derive_math_width))
        self._register(out, prefix)
        return out

    def _register(self, out: list, prefix: str) -> None:
        """Each labelled display registered with Sphinx's math domain (which numbers it), with its target."""
        domain = self.env.domains.math_domain
        docname = self.env.current_document.docname
        for node in list(out[0].findall(nodes.math_block)):
            self.set_source_info(node)
            node["docname"] = docname
            label = node["label"]
            if label in domain.equations:
                other = domain.equations[label][0]
                raise self.fail(f"the equation label {label!r} is already used (in {other}); give this "
                                f"derivation another label prefix with :name:")
            domain.note_equation(docname, label, location=node)
            node["number"] = domain.get_equation_number_for(label)
            target = nodes.target("", "", ids=[nodes.make_id(f"equation-{label}")])
            self.state.document.note_explicit_target(target)
            node.parent.insert(node.parent.index(node), target)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the derivation directive and its configuration values."""
    app.add_config_value("derive_verify", True, "env", types=frozenset({bool}))
    app.add_config_value("derive_verify_timeout", 120.0, "env", types=frozenset({int, float}))
    app.add_config_value("derive_math_width", ROOM, "env", types=frozenset({int, float}))
    app.add_directive("derivation", DerivationDirective)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
