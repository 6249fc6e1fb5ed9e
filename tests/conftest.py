"""Shared fixtures: derivations are built once per session (they are immutable)."""
import pytest

import derive


@pytest.fixture(scope="session")
def ce():
    return derive.softmax_ce()


@pytest.fixture(scope="session")
def ce3():
    return derive.softmax_ce(K=3)


@pytest.fixture(scope="session")
def ce_report(ce):
    return ce.verify()
