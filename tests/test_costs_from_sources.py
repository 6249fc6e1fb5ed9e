"""Issue 14: costs from papers and framework docs (tests/data/costs_from_sources.py).

(a) every textbook gradient matches central differences of its independent NumPy cost: truth, without derive;
(b) derive plans each cost, verifies it, compiles it, and the compiled gradient matches central differences.
Records in KNOWN_GAPS are xfail(strict=False) in (b): they become real checks as the gaps close.
"""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "data"))
import costs_from_sources as C  # noqa: E402

import derive  # noqa: E402

N = 3
IDS = [r.id for r in C.COSTS]


def test_the_collection_is_large_enough_and_outside_the_catalogue():
    assert len(C.COSTS) >= 30
    catalogue = {"softmax_ce", "softmax_jacobian", "softmax_se", "softmax_regression", "softmax_ce_labels",
                 "mlp_backprop", "softmax_ce_temperature", "label_smoothing", "softmax_ce_weighted", "focal_loss",
                 "log_softmax_nll", "softmax_se_planned", "softmax_vjp", "hessian"}
    assert not catalogue & set(IDS)
    assert set(C.KNOWN_GAPS) <= set(IDS)
    for r in C.COSTS:
        assert r.source and r.cost and r.wrt in r.inputs or r.wrt in r.scalars
        assert r.textbook_ops >= 1


@pytest.mark.parametrize("rec", C.COSTS, ids=IDS)
def test_the_textbook_gradient_matches_central_differences(rec):
    _, rows = C.sample(rec, np.random.default_rng(1), N)
    for row in rows:
        g = np.asarray(rec.numpy_gradient(row), dtype=float)
        assert g.shape == np.shape(row[rec.wrt])
        np.testing.assert_allclose(g, C.central_difference(rec, row), rtol=1e-5, atol=1e-7)


def _cases():
    for r in C.COSTS:
        marks = [pytest.mark.xfail(strict=False, reason=C.KNOWN_GAPS[r.id])] if r.id in C.KNOWN_GAPS else []
        yield pytest.param(r, id=r.id, marks=marks)


@pytest.mark.parametrize("rec", list(_cases()))
def test_derive_plans_verifies_and_compiles_the_cost(rec):
    d = derive.gradient(rec.cost, wrt=rec.wrt, assume=list(rec.assume), define=list(rec.define), timeout=20)
    assert d.complete, d.incomplete
    report = d.verify(Ks=(2, 3), points=1)
    assert report.ok, str(report)
    g = d.compile()
    batch, rows = C.sample(rec, np.random.default_rng(2), N)
    fd = np.stack([C.central_difference(rec, row) for row in rows])
    if rec.wrt in rec.shared:
        fd = fd.sum(0)
    got = np.asarray(g(**{k: batch[k] for k in g.inputs}), dtype=float)
    assert got.size == fd.size, (got.shape, fd.shape)
    np.testing.assert_allclose(got.reshape(fd.shape), fd, rtol=1e-5, atol=1e-6)
