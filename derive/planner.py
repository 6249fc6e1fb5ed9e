"""The planner: it picks the rules itself, the way SymPy's manualintegrate picks integration rules.

Given a setting (definitions, variables, index ranges) and a derivative to
take, it runs one strategy over the rule set:

1. start: the derivative of a defined cost becomes the derivative of its
   definition; a cost that depends on the variable only through a defined
   layer (z_j = sum_d w_jd x_d) goes through the multivariate chain rule; a
   second derivative starts from the first one, cited as a lemma;
2. differentiate, one rule at a time in priority order (linearity, a lemma,
   the quotient, product and chain rules, elementary derivatives), until no
   derivative is left. A derivative of a defined quantity (do_j/dz_k,
   dE/dz_j) is a lemma: the planner derives it with the same strategy and
   cites it;
3. simplify, again one rule at a time in priority order (cancel, Kronecker
   deltas, exponentials as hyperbolic functions, fold a definition back, sums
   of constants, each stated assumption where it applies, linearity, multiply
   out) until nothing applies;
4. tidy: merge powers of one entry (o_j o_j^(q-1) -> o_j^q), collect and take out common factors
   where that shortens the form.

The chain ends at a closed form, or is marked incomplete with the reason
(an unevaluated derivative, an unfolded exp(z_k)/sum_l exp(z_l), the step
budget). Each step is still made by one rule and checked by verify(). The
priority orders are the rules' own registrations (``@rule(Rule.X,
differentiate=3)``, derive.rules.planned).
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Optional

import sympy as sp

from . import rules
from .engine import Chain
from .errors import DerivationError
from .expr import Held, bound_indices
from .model import Assumption, Derivation, Rule, Typeset
from .rules.algebra import is_activation
from .rules.base import single_derivative
from .setting import Definition, Setting

MAX_STEPS = 60  # per chain; a cost that needs more is reported incomplete
_REWRITES = (Rule.EXPAND, Rule.LINEARITY, Rule.COLLECT, Rule.FACTOR, Rule.MERGE_POWERS)  # no new fact


class Planner:
    """Derives the derivative of anything defined in ``setting``, citing the lemmas it derives on the way.

    ``facts`` are the stated assumptions (used where they apply); ``timeout``
    bounds the wall-clock time of everything this planner derives, in seconds.
    """

    def __init__(self, setting: Setting, facts: Iterable[Assumption] = (), *, timeout: float = 30.0,
                 max_steps: int = MAX_STEPS, names: Optional[Callable[[sp.Basic, sp.Basic], tuple]] = None) -> None:
        self.setting = setting
        self.facts = tuple(facts)
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.max_steps = max_steps
        self.lemmas: dict = {}
        self._failed: dict = {}  # derivative pattern -> why its lemma stopped
        self._busy: set = set()
        shown = dict(setting.display)
        self._names = names or (lambda f, x: _default_names(f, x, shown))

    # -- the strategy ------------------------------------------------------------------------
    def derive(self, lhs: sp.Expr, *, name: str, title: str, description: str = "",
               cite: tuple = (), interface: str = "per_example") -> Derivation:
        """A derivation of ``lhs`` (a derivative), planned; ``cite`` lists lemmas it may use from the start."""
        chain = Chain(self.setting, lhs)
        self._start(chain, cite)
        problem = self._differentiate(chain, cite) or self._simplify(chain)
        if not problem:
            self._tidy(chain)
            problem = self._unfinished(chain)
        d = chain.derivation(name, title, description, interface)
        return d if not problem else _incomplete(d, problem)

    def lemma(self, lhs: sp.Expr, *, name: str, title: str, description: str = "") -> Derivation:
        """Derive ``lhs`` (df/dx, f defined) under a name of its own; later derivations cite it for any df/dx."""
        f, x = single_derivative(lhs)
        definition = self._definition(f)
        if definition is None:
            raise ValueError(f"{sp.sstr(f)} has no definition")  # pragma: no cover - a recipe's own mistake
        d = self.derive(lhs, name=name, title=title, description=description)
        self.lemmas[(definition.symbol, x.base if isinstance(x, sp.Indexed) else x)] = None if d.incomplete else d
        return d

    def _start(self, chain: Chain, cite: tuple) -> None:
        node = chain.expr
        if cite:  # a second derivative: the first one is a lemma
            chain.apply(rules.lemma, lemmas=cite)
            return
        f, x = single_derivative(node) or (None, None)
        definition = self._definition(f)
        if definition is None:
            return
        through = self._layer(definition, x)
        if through is not None:  # every entry of the layer: over the examples too, for z_ij of a batch
            taken: list = self._hidden(definition)  # E := s_j (a Jacobian): the sum must not run over j
            indices = tuple(self._free_index(i, exclude=node, taken=taken) for i in through.indices)
            chain.apply(rules.multivariate_chain_rule, through=through.symbol, indices=indices)
            return
        chain.apply(rules.definition, of=definition.symbol)
        if not definition.is_kernel and _apply(chain, rules.hyperbolic):  # a tanh written out is a tanh layer
            for d in self.setting.definitions:
                if is_activation(d):
                    _apply(chain, rules.fold, of=d.symbol)
        for output in self._outputs() if not definition.is_kernel else ():  # a layer written out is named first
            if _apply(chain, rules.recognise, of=output.symbol) and chain.expr.has(Held):
                _apply(chain, rules.cancel)

    def _differentiate(self, chain: Chain, cite: tuple) -> str:
        order = [r for group in rules.planned("differentiate") for r in group]
        while chain.expr.has(sp.Derivative):
            if problem := self._tick(chain):
                return problem
            lemmas = tuple(cite) + self._lemmas_for(chain.expr)
            for rule in order:
                if _apply(chain, rule, **({"lemmas": lemmas} if "lemmas" in rule.registration.each else {})):
                    break
            else:
                stuck = _first_derivative(chain.expr)
                reasons = [f"the lemma for {what} stopped: {why}" for what, why in self._failed.values()]
                return "no rule applies to " + stuck + ("; " + "; ".join(reasons) if reasons else "")
        return ""

    def _simplify(self, chain: Chain) -> str:
        targets = {"output": [{"of": d.symbol} for d in self._outputs() if sp.fraction(d.expr)[1] != 1],
                   "activation": [{"of": d.symbol} for d in self.setting.definitions if is_activation(d)],
                   "fact": [{"fact": f} for f in self.facts], "facts": [{"facts": self.facts}]}
        order: list = []
        for group in rules.planned("simplify"):  # a rule with targets once per target, its group's rules in turn
            order += [(rule, {}) for rule in group if not rule.registration.each]
            for kind, params in targets.items():
                order += [(rule, p) for p in params for rule in group if kind in rule.registration.each]
        while not (problem := self._tick(chain)):
            if not any(_apply(chain, rule, **params) for rule, params in order):
                return ""
        return problem

    def _tidy(self, chain: Chain) -> None:
        """Collect like terms, then take out common factors, each only where it does not lengthen the form.

        When that returns to a form the chain already passed through (multiplied out, then collected
        back), the detour is cut: the chain ends at the earlier step. So is a closing run of rewrites
        that only lengthen a closed form (a product multiplied out that nothing then used).
        """
        uncut = (list(chain.steps), chain.expr)
        self._cut_lengthening_tail(chain)
        self._tidy_rules(chain)
        if len(chain.steps) and chain.steps[:len(uncut[0])] != uncut[0]:  # the cut form may tidy longer than
            cut = (chain.steps, chain.expr)                                 # the multiplied-out one: keep the shorter
            chain.steps, chain.expr = uncut
            self._tidy_rules(chain)
            if sp.count_ops(chain.expr) >= sp.count_ops(cut[1]):
                chain.steps, chain.expr = cut
        self._cut_split_then_merge(chain)

    def _tidy_rules(self, chain: Chain) -> None:
        for rule in (r for group in rules.planned("tidy") for r in group):
            step = rule(chain.expr, chain.context)
            if step is None or step.expr == chain.expr or sp.count_ops(step.expr) > sp.count_ops(chain.expr):
                continue
            earlier = [n for n, s in enumerate(chain.steps) if s.expr == step.expr]
            if earlier:
                del chain.steps[earlier[0] + 1:]
            else:
                chain.steps.append(step)
            chain.expr = chain.steps[-1].expr

    def _cut_split_then_merge(self, chain: Chain) -> None:
        """A closing multiply-out that a later factor or collect only puts back together is a detour: when
        that rule reaches the last form straight from the line before the multiply-out, take that one step
        (-(y_k - o_k)/T -> o_k/T - y_k/T -> (o_k - y_k)/T becomes -(y_k - o_k)/T -> (o_k - y_k)/T; so for
        the output minus its target: o_k - (1 - eps) y_k - eps/K -> o_k - ((1 - eps) y_k + eps/K))."""
        steps = chain.steps
        if len(steps) < 3 or steps[-1].rule not in (Rule.FACTOR, Rule.COLLECT, Rule.TARGET):
            return
        n = len(steps) - 2
        while n > 0 and steps[n].rule in _REWRITES and steps[n].rule is not Rule.EXPAND:
            n -= 1
        if n <= 0 or steps[n].rule is not Rule.EXPAND:
            return
        before = steps[n - 1].expr
        if before.has(sp.Derivative, Held):
            return
        for rule in (rules.factor, rules.collect, rules.output_minus_target, rules.outputs_minus_targets):
            step = rule(before, chain.context)
            if step is not None and step.expr == chain.expr:
                del steps[n:]
                steps.append(step)
                return

    def _cut_lengthening_tail(self, chain: Chain) -> None:
        """End the chain at the shortest closed form among its closing run of pure rewrites (multiply out,
        linearity, collect, factor), when that form is shorter than the last one."""
        steps = chain.steps
        start = len(steps)
        while start > 0 and steps[start - 1].rule in _REWRITES:
            start -= 1
        if start == len(steps) or start == 0:
            return
        best, best_ops = len(steps) - 1, sp.count_ops(steps[-1].expr)
        for n in range(len(steps) - 2, start - 2, -1):
            ops = sp.count_ops(steps[n].expr)
            if ops < best_ops and not steps[n].expr.has(sp.Derivative, Held) and not self._unfolded_in(steps[n].expr):
                best, best_ops = n, ops
        if best != len(steps) - 1:
            del steps[best + 1:]
            chain.expr = steps[-1].expr

    # -- lemmas ------------------------------------------------------------------------------
    def _lemmas_for(self, expr: sp.Expr) -> tuple:
        """Lemmas for every derivative of a defined quantity in ``expr`` (derived now if new)."""
        out = []
        for node in sorted(expr.atoms(sp.Derivative), key=sp.default_sort_key):
            d = single_derivative(node)
            if d is None:
                continue
            f, x = d
            definition = self._definition(f)
            if definition is None or not isinstance(x, (sp.Indexed, sp.Symbol)):
                continue
            key = (definition.symbol, x.base if isinstance(x, sp.Indexed) else x)
            if key[0] == key[1]:  # do_l/do_j: o is the variable here, an elementary derivative
                continue
            if key in self._busy:
                continue
            if key not in self.lemmas:
                self._busy.add(key)
                try:
                    self.lemmas[key] = self._lemma(definition, x)
                finally:
                    self._busy.discard(key)
            lemma = self.lemmas[key]
            if lemma is not None and lemma not in out:
                out.append(lemma)
        return tuple(out)

    def _lemma(self, definition: Definition, x: sp.Basic) -> Optional[Derivation]:
        # d/dz_j of a sum over j would capture j, in this definition or one it reaches (z_j = sum_a w_ja h_a
        # under dE/dh_a): the lemma's indices avoid them all
        taken: list = list(dict.fromkeys(i for d in self._reached(definition) for i in bound_indices(d.expr)))
        taken += self._hidden(definition)  # dE/dz_l of E := s_j: l is not j
        f = definition.symbol
        if definition.indices:
            f = definition.symbol[tuple(self._pick(i, taken) for i in definition.indices)]
        var = x
        if isinstance(x, sp.Indexed):
            var = x.base[tuple(self._pick(i, taken) for i in x.indices)]
        name, title, description = self._names(f, var)
        lemma = self.derive(sp.Derivative(f, var), name=name, title=title, description=description)
        if lemma.incomplete:
            self._failed[(definition.symbol, x)] = (f"d{_plain(f)}/d{_plain(var)}", lemma.incomplete)
            return None
        return lemma

    def _reached(self, definition: Definition) -> list:
        """``definition`` and every definition its expression reaches, through others too."""
        out, todo = [], [definition]
        while todo:
            d = todo.pop()
            if d in out:
                continue
            out.append(d)
            todo += [e for e in self.setting.definitions if e not in out and e.occurs_in(d.expr)]
        return out

    def _hidden(self, definition: Definition) -> list:
        """The indices free in ``definition`` or a definition it reaches beyond their own (the j of a cost
        E := s_j, whose symbol E does not show it): no index derive picks for its sums or lemmas may be one."""
        ranged = {i for i, _ in self.setting.ranges}
        return list(dict.fromkeys(i for d in self._reached(definition)
                                  for i in sorted(d.expr.free_symbols & ranged - set(d.indices), key=str)))

    def _pick(self, like: sp.Symbol, taken: list) -> sp.Symbol:
        """An index with the range of ``like``, not yet taken, preferring the derivation's conventional order."""
        bounds = self.setting.range_of(like)
        for index in self._pool():
            if index not in taken and self.setting.range_of(index) == bounds:
                taken.append(index)
                return index
        raise DerivationError("cost", f"no free index name left for a lemma over {like}")  # pragma: no cover

    def _pool(self) -> tuple:
        inner = {i for d in self._outputs() for i in bound_indices(d.expr)}
        ranged = [i for i, _ in self.setting.ranges]
        return tuple([i for i in ranged if i not in inner] + [i for i in ranged if i in inner])

    def _free_index(self, like: sp.Symbol, exclude: sp.Basic, taken: Optional[list] = None) -> sp.Symbol:
        """An index with the range of ``like`` that ``exclude`` does not use, nor ``taken`` (which it joins)."""
        taken = [] if taken is None else taken
        taken += [s for s in exclude.free_symbols if isinstance(s, sp.Symbol)]
        taken += [i for a in exclude.atoms(sp.Indexed) for i in a.indices]  # d/dw_ef: e and f are taken too
        return self._pick(like, taken)

    # -- look-ups ----------------------------------------------------------------------------
    def _definition(self, f) -> Optional[Definition]:
        if isinstance(f, sp.Indexed):
            return self.setting.definition_of(f.base)
        if isinstance(f, sp.Symbol):
            return self.setting.definition_of(f)
        return None

    def _outputs(self) -> list:
        return [d for d in self.setting.definitions if d.layer is not None and d.layer.output]

    def _layer(self, definition: Definition, x) -> Optional[Definition]:
        """A defined layer u (not an output) such that ``definition`` depends on x only through u."""
        if x is None:
            return None
        direct = [u for u in self.setting.definitions if _mentions_base(u.expr, x)]
        for u in direct + [u for u in self.setting.definitions if u not in direct]:
            if u is definition or (u.is_kernel and not u.name.startswith("layer_")) or not u.indices \
                    or not self.setting.depends(u.expr, x):  # a layer the cost defines, a sigmoid one too
                continue
            if self.setting.depends(definition.expr, u.symbol) and \
                    not self.setting.depends(definition.expr, x, excluding=u.symbol):
                return u
        return None

    def _tick(self, chain: Chain) -> str:
        if time.monotonic() > self.deadline:
            raise DerivationError("cost", f"the derivation took longer than {self.timeout:g} s; "
                                          "a simpler cost, or a larger timeout, may help")
        if len(chain.steps) >= self.max_steps:
            return f"the planner stopped after {self.max_steps} steps"
        return ""

    def _unfolded_in(self, expr: sp.Expr) -> bool:
        return any(_unfolded(expr, d) is not None for d in self._outputs())

    def _unfinished(self, chain: Chain) -> str:
        expr = chain.expr
        if expr.has(sp.Derivative):
            return "an unevaluated derivative remains: " + _first_derivative(expr)
        if expr.has(Held):
            return "a substituted lemma was not merged"
        for d in self._outputs():
            left = _unfolded(expr, d)
            if left is not None:
                return f"{sp.sstr(left)} was not folded back into {d.symbol}"
        return ""


def _apply(chain: Chain, rule, **params) -> bool:
    """Apply ``rule`` once unless it makes no step or leads back to an expression already on the chain
    (multiplying out and cancelling, say, would otherwise undo each other forever)."""
    step = rule(chain.expr, chain.context, **params)
    if step is None or step.expr == chain.expr or step.expr == chain.lhs or any(step.expr == s.expr for s in chain.steps):
        return False
    chain.steps.append(step)
    chain.expr = step.expr
    return True


def _unfolded(expr: sp.Expr, d: Definition):
    """What is left of output ``d`` written out in ``expr`` (its layer's ``unfolded``), or None."""
    assert d.layer is not None  # an output of _outputs
    return d.layer.unfolded(expr, d)


def _mentions_base(expr: sp.Expr, x) -> bool:
    """True when ``expr`` itself holds an entry of x's base (or x), not only through a definition."""
    base = x.base if isinstance(x, sp.Indexed) else x
    return any(a.base == base for a in expr.atoms(sp.Indexed)) or (isinstance(base, sp.Symbol) and expr.has(base))


def _incomplete(d: Derivation, problem: str) -> Derivation:
    from dataclasses import replace
    return replace(d, incomplete=problem)


def _first_derivative(expr: sp.Expr) -> str:
    nodes = sorted(expr.atoms(sp.Derivative), key=sp.default_sort_key)
    return sp.sstr(nodes[0]) if nodes else sp.sstr(expr)


def _plain(e: sp.Basic) -> str:
    """o_j, w_ke, E: an entry as a reader writes it in words."""
    if isinstance(e, sp.Indexed):
        return f"{e.base}_" + "".join(str(i) for i in e.indices)
    return str(e)


def _default_names(f: sp.Basic, x: sp.Basic, display: Optional[dict] = None) -> tuple:
    """(name, title, description) of the lemma df/dx; ``display`` (base name -> Display) says how a base
    prints (log o as \\log o, not the word 'log o')."""
    fb = f.base if isinstance(f, sp.Indexed) else f
    xb = x.base if isinstance(x, sp.Indexed) else x
    slug = "".join(c if c.isalnum() else "_" for c in f"{fb}_by_{xb}".lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    fx, xx = _tex(f, display or {}), _tex(x, display or {})
    return (f"partial_{slug}", Typeset(f"Derivative of ${fx}$ with respect to ${xx}$"),
            Typeset(f"The derivative of ${fx}$ with respect to ${xx}$, planned"))


def _tex(e: sp.Basic, display: dict) -> str:
    """o_{j}, W^{(l+1)}_{kj}: an entry's name (an identifier with optional scripts, or as ``display`` shows
    its base) as TeX for a heading."""
    if isinstance(e, sp.Indexed):
        name, indices = str(e.base), "".join(str(i) for i in e.indices)
    else:
        name, indices = str(e), ""
    base, _, sup = name.partition("^")
    shown = display.get(name)
    tex = shown.latex if shown is not None else _letter(base) + (f"^{{{sup}}}" if sup else "")
    return tex + (f"_{{{indices}}}" if indices else "")


def _letter(name: str) -> str:
    """A Greek name as its letter (delta -> \\delta), a longer word upright, a letter as it is."""
    if name in _GREEK:
        return "\\" + name
    return rf"\mathrm{{{name}}}" if len(name) > 1 else name


_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "tau", "theta", "Theta"}
