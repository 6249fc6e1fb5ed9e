"""Costs the softmax_ce recipe was not written for: same rules, no new rule code."""
import numpy as np
import pytest
import sympy as sp

from derive import definitions as defs
from derive.assumptions import normalized
from derive.recipes.softmax import output_gradient
from derive.setting import Setting

K = defs.classes("K", None)
k, j, l = (defs.index(n) for n in "kjl")
z, o, y, w = (sp.IndexedBase(n) for n in "zoyw")
T = sp.Symbol("T", positive=True)
E = sp.Symbol("E")


def build(cost, soft, name):
    s = Setting(K=K, variables=(z,), definitions=(cost, soft), ranges=tuple((i, (1, K)) for i in (k, j, l)),
                domains=(("y", "unit"), ("w", "positive"), ("T", "positive")))
    return output_gradient(s, E, o, z, j, k, name=name, title=name, facts=(normalized(y, j, K),))


@pytest.fixture(scope="module")
def temperature():
    return build(defs.cross_entropy(E, o, y, j, K), defs.softmax(o, lambda i: z[i] / T, j, l, K), "temperature")


@pytest.fixture(scope="module")
def weighted():
    return build(defs.cross_entropy(E, o, y, j, K, weights=w), defs.softmax(o, lambda i: z[i], j, l, K), "weighted")


def test_temperature(temperature):
    assert temperature.result == (o[k] - y[k]) / T
    same, other = temperature.lemmas
    assert same.result == o[k] * (1 - o[k]) / T
    assert other.result == -o[j] * o[k] / T
    report = temperature.verify()
    assert report.ok, str(report)


def test_class_weighted(weighted):
    assert weighted.result == o[k] * sp.Sum(w[j] * y[j], (j, 1, K)) - w[k] * y[k]
    assert "assumption" not in [s.rule.value for s in weighted.steps]
    report = weighted.verify()
    assert report.ok, str(report)


def test_they_compile(temperature, weighted):
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(3, 4))
    Y = rng.dirichlet(np.ones(4), size=3)
    W = rng.uniform(0.5, 2, size=(3, 4))
    P = np.exp(Z / 2) / np.exp(Z / 2).sum(-1, keepdims=True)
    assert np.allclose(temperature.compile()(z=Z, y=Y, T=2.0), (P - Y) / 2)
    P = np.exp(Z) / np.exp(Z).sum(-1, keepdims=True)
    assert np.allclose(weighted.compile()(z=Z, y=Y, w=W), P * (W * Y).sum(-1, keepdims=True) - W * Y)
