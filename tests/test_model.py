import pytest
import sympy as sp

import derive
from derive.model import Derivation, Rule, Step


def test_derivation_holds_its_parts(ce):
    assert ce.name == "softmax_ce"
    assert ce.title
    assert [d.name for d in ce.definitions] == ["cross_entropy", "softmax"]
    assert isinstance(ce.lhs, sp.Derivative)
    assert all(isinstance(s, Step) and isinstance(s.rule, Rule) for s in ce.steps)
    assert ce.result == ce.steps[-1].expr
    assert [l.name for l in ce.lemmas] == ["softmax_partial_same", "softmax_partial_other"]
    assert [a.key for a in ce.assumptions] == ["k_in_1_to_K", "y_sums_to_one"]


def test_reprs_are_readable(ce):
    assert repr(ce) == "Derivation('softmax_ce': Derivative(E, z[k]) = o[k] - y[k], 11 steps, 2 lemmas)"
    assert repr(ce.steps[-1]) == "Step(assumption: o[k] - y[k], uses='y_sums_to_one')"
    assert repr(ce.assumptions[-1]) == "Assumption('y_sums_to_one': Eq(Sum(y[j], (j, 1, K)), 1))"
    assert repr(Rule.QUOTIENT_RULE) == "<Rule.QUOTIENT_RULE: 'quotient_rule'>"
    assert Rule.QUOTIENT_RULE.title == "quotient rule"


def test_every_rule_has_a_title():
    assert all(r.title for r in Rule)


def test_walk_lists_lemmas_before_the_derivation(ce):
    assert [d.name for d in ce.walk()] == ["softmax_partial_same", "softmax_partial_other", "softmax_ce"]


def test_with_step_replaces_one_step_only(ce):
    changed = ce.with_step(2, Step(sp.Integer(0), Rule.EXPAND, "x"))
    assert changed.steps[2].expr == 0
    assert changed.steps[:2] == ce.steps[:2] and changed.steps[3:] == ce.steps[3:]
    assert ce.steps[2].expr != 0


def test_equation(ce):
    assert ce.equation.lhs == ce.lhs and ce.equation.rhs == ce.result


def test_derivations_are_rebuilt_identically():
    assert derive.softmax_ce() == derive.softmax_ce()


def test_public_methods_spell_out_their_parameters():
    """help() shows every parameter: no bare **options on the public API."""
    import inspect
    expected = {
        "verify": ["Ks", "points", "index_samples", "seed", "lemmas", "progress", "timeout"],
        "to_text": ["justifications"],
        "to_latex": ["standalone", "justifications", "jupyter"],
        "to_markdown": ["justifications", "heading_level"],
        "to_html": ["justifications"],
        "to_json": ["indent"],
    }
    for name, params in expected.items():
        sig = inspect.signature(getattr(Derivation, name))
        assert [p for p in sig.parameters if p != "self"] == params, name
        assert all(p.kind is not p.VAR_KEYWORD for p in sig.parameters.values()), name


def test_documented_entry_lookup_exists():
    import derive
    assert derive.entry("softmax_ce").name == "softmax_ce"
    assert derive.entry("softmax_ce")(K=3).setting.K == 3


def test_a_step_is_an_equality_unless_it_says_it_is_a_bound(ce):
    """Issue 17.6: Step.relation, '=' by default; a chain with a >= step is a bound, lhs >= result."""
    from dataclasses import replace
    from derive.model import Relation
    assert all(s.relation is Relation.EQ for d in ce.walk() for s in d.steps) and ce.relation is Relation.EQ
    assert (Relation.GE.tex, Relation.GE.symbol, Relation.GE.text) == (r"\ge", "\u2265", ">=")
    bound = ce.with_step(len(ce.steps) - 1, replace(ce.steps[-1], relation=Relation.GE))
    assert bound.relation is Relation.GE and isinstance(bound.equation, sp.GreaterThan)
    assert "relation='>='" in repr(bound.steps[-1]) and " >= o[k] - y[k]," in repr(bound)
    assert Relation.EQ.then(Relation.GE) is Relation.GE and Relation.GE.then(Relation.EQ) is Relation.GE
    with pytest.raises(ValueError, match="cannot combine >= with <="):
        Relation.GE.then(Relation.LE)
    with pytest.raises(derive.ArgumentTypeError, match="relation: must be a derive.Relation") as err:
        Step(sp.Integer(0), Rule.EXPAND, "x", relation=">=")
    assert err.value.argument == "relation"
