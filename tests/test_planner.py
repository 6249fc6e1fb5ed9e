"""The planner: the same results as the catalogue's recipes, and the behaviour it promises."""
import dataclasses

import numpy as np
import sympy as sp

import derive
from derive.gradient import plan
from derive.planner import Planner
from numeric_helpers import softmax

CE = "-sum(y[j]*log(softmax(z)[j]), j)"
ONE = ["sum(y[j], j) = 1"]
k, j, m = (sp.Symbol(n, integer=True, positive=True) for n in "kjm")


# -- the planner's result for each catalogue cost equals the recipe's --------------------------------

def test_cross_entropy_matches_reference_001():
    assert derive.gradient(CE, assume=ONE).result == derive.softmax_ce().result
    assert derive.gradient(CE).result == derive.softmax_ce(normalized_targets=False).result


def test_softmax_partial_matches_reference_003_jacobian():
    lemma = derive.gradient(CE, assume=ONE).lemmas[0]
    jac = derive.softmax_jacobian()
    i_, j_ = (jac.setting.symbols[n] for n in "ij")
    index_form = jac.steps[-2].expr  # before the matrix form
    assert sp.expand(lemma.result.xreplace({j: i_, k: j_}) - index_form) == 0


def test_squared_error_matches_reference_003():
    planned, recipe = derive.softmax_se_planned(), derive.softmax_se()
    # the same symbols in both (o, t, k; sums over j): equal once the sums are written out, at K = 3
    K = planned.setting.K
    assert sp.expand((planned.result - recipe.result).subs(K, 3).doit()) == 0
    Z = np.random.default_rng(0).normal(size=(3, 4))
    T = np.random.default_rng(1).uniform(size=(3, 4))
    np.testing.assert_allclose(planned.compile()(z=Z, t=T), recipe.compile()(z=Z, t=T), atol=1e-15)


def test_linear_layer_matches_references_000_and_002():
    rng = np.random.default_rng(2)
    d = derive.gradient(CE, wrt="w", define=["z[j] = sum(w[j, d]*x[d], d)"], assume=ONE)
    assert str(d.result) == "(o[k] - y[k])*x[e]"
    theta, X = rng.normal(size=(3, 5)), rng.normal(size=(6, 4))
    Y = np.eye(3)[rng.integers(0, 3, size=6)]
    X1 = np.hstack([np.ones((6, 1)), X])  # reference 000 keeps the bias in column 0 with x_0 = 1
    np.testing.assert_allclose(d.compile()(w=theta, x=X1, y=Y),
                               derive.softmax_regression().compile()(theta=theta, x=X, y=Y), atol=1e-13)


def test_output_layer_matches_bp1_of_reference_004():
    bp1 = derive.mlp_backprop().parts[0]
    planned = derive.gradient(CE, assume=ONE)
    a, y = (bp1.setting.symbols[n] for n in "ay")
    kk = bp1.free_indices[0]
    assert bp1.steps[-2].expr == a[kk] - y[kk]
    assert planned.result == sp.IndexedBase("o")[k] - sp.IndexedBase("y")[k]


def test_log_softmax_route_matches_the_softmax_route():
    assert derive.gradient("-sum(y[j]*log_softmax(z)[j], j)", assume=ONE).result == derive.softmax_ce().result


# -- what the planner promises -------------------------------------------------------------------------

def test_every_step_is_one_named_rule_and_verifies():
    d = derive.gradient("-sum(y[j]*(1 - softmax(z)[j])**gamma*log(softmax(z)[j]), j)", assume=ONE)
    for x in d.walk():
        for step in x.steps:
            assert isinstance(step.rule, derive.Rule) and step.justification
    assert d.verify(Ks=(2, 3)).ok


def test_a_lemma_is_derived_once_and_cited_wherever_it_is_needed():
    d = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j) + sum(softmax(z)[j]**2, j)")
    cited = [lem.name for s in d.steps for lem in s.lemmas]
    assert cited == ["partial_o_by_z"] and len(d.lemmas) == 1


def test_no_step_returns_to_an_earlier_expression():
    for cost in (CE, "-sum(((1-eps)*y[j] + eps/K)*log(softmax(z)[j]), j)", "-sum(y[j]*log(softmax(z/T)[j]), j)",
                 "0.5*sum((sigmoid(z[j]) - y[j])**2, j)"):
        d = derive.gradient(cost, assume=ONE if "softmax" in cost else [])
        for x in d.walk():
            chain = [x.lhs] + [s.expr for s in x.steps]
            assert len(chain) == len(set(chain)), (cost, x.name)


def test_a_corrupted_planned_step_is_named_by_verify():
    d = derive.gradient("-sum(y[j]*log(softmax(z/T)[j]), j)", assume=ONE)
    n = [s.rule.value for s in d.steps].index("kronecker_delta")
    wrong = dataclasses.replace(d.steps[n], expr=d.steps[n].expr * 2)
    report = d.with_step(n, wrong).verify(Ks=(2, 3), lemmas=False)
    assert not report.ok and (n + 1) in [c.step for c in report.failures]


def test_the_step_budget_makes_an_incomplete_chain_with_its_reason():
    p, _ = plan(CE, assume=ONE)
    d = Planner(p.setting, p.facts, max_steps=4).derive(p.lhs, name="gradient", title="Gradient")
    # the softmax partial needs more than 4 steps itself: the chain stops at it and says why
    assert "do_j/dz_k" in d.incomplete and "stopped after 4 steps" in d.incomplete
    assert not d.complete


def test_a_derivative_of_a_quantity_without_a_definition_or_rule_is_reported():
    p, planner = plan(CE, assume=ONE)
    f = sp.Function("f")
    d = planner.derive(sp.Derivative(f(p.variable[k]), p.variable[k]), name="x", title="x")
    assert "no rule applies to" in d.incomplete


def test_the_softmax_identity_is_used_and_cited():
    d = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j) + beta*sum(softmax(z)[j]*log(softmax(z)[j]), j)",
                        assume=ONE)
    keys = [a.key for s in d.steps for a in s.assumptions]
    assert "o_outputs_sum_to_one" in keys
    assert not d.result.has(sp.Sum(sp.IndexedBase("o")[j], (j, 1, sp.Symbol("K", integer=True, positive=True))))
