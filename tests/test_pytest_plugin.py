"""The pytest plugin (derive/pytest_plugin.py), run through pytest's own pytester in a subprocess, so the
plugin is loaded the way a user's pytest loads it: through the installed pytest11 entry point."""

pytest_plugins = ["pytester"]

GRADIENTS = '''
import numpy as np

def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def good(z, y):
    return softmax(z) - y

def sign_slip(z, y):
    return y - softmax(z)

def se_sigmoid(z, y):
    s = 1 / (1 + np.exp(-z))
    return 2 * (s - y) * s * (1 - s)
'''


def run(pytester, source: str, *args: str):
    pytester.makepyfile(gradients=GRADIENTS)
    pytester.makepyfile(test_user=source)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error::pytest.PytestReturnNotNoneWarning",
                                         *args)


def test_the_entry_point_registers_the_marker(pytester):
    result = pytester.runpytest_subprocess("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gradient_of(derivation*"])


def test_a_marked_test_returns_the_function_to_check(pytester):
    result = run(pytester, '''
import pytest
from gradients import good, sign_slip

@pytest.mark.gradient_of("softmax_ce")
def test_good():
    return good

@pytest.mark.gradient_of("softmax_ce")
def test_slip():
    return sign_slip
''')
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "sign_slip disagrees with derive's softmax_ce" in out
    assert "sign" in out.split("sign_slip disagrees", 1)[1]  # the diagnosis names the likely slip
    assert "During handling" not in out and "pytest_plugin.py" not in out  # the report, not the plugin's frames


def test_the_fixture_takes_a_catalogue_name_or_a_cost(pytester):
    result = run(pytester, '''
import pytest
from gradients import good, se_sigmoid, sign_slip

def test_name(derive_gradient):
    report = derive_gradient(good, "softmax_ce")
    assert report.ok

def test_cost(derive_gradient):
    derive_gradient(se_sigmoid, "sum((sigmoid(z[j]) - y[j])**2, j)", wrt="z")

@pytest.mark.gradient_of("-sum(y[j]*log(softmax(z)[j]), j)", assume=["sum(y[j], j) = 1"], seed=3)
def test_marker_cost(derive_gradient):
    derive_gradient(good)

def test_slip(derive_gradient):
    derive_gradient(sign_slip, "softmax_ce")
''')
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*derive_gradient(sign_slip, \"softmax_ce\")*", "*GradientMismatch*"])


def test_the_derivation_is_derived_once_per_session(pytester):
    result = run(pytester, '''
import pytest
from gradients import se_sigmoid
import sys
import derive
g = sys.modules["derive.planned"]  # the module of derive.gradient

calls = []
original = g.plan
def counting(*args, **kwargs):
    calls.append(args)
    return original(*args, **kwargs)
g.plan = counting

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cost(derive_gradient, seed):
    derive_gradient(se_sigmoid, "sum((sigmoid(z[j]) - y[j])**2, j)", wrt="z", seed=seed)

def test_count():
    assert len(calls) == 1
''')
    result.assert_outcomes(passed=4)


def test_misuse_fails_the_test_with_a_message(pytester):
    result = run(pytester, '''
import pytest
from gradients import good

@pytest.mark.gradient_of("softmax_ce")
def test_returns_nothing():
    pass

@pytest.mark.gradient_of("softmax_ce")
def test_returns_a_number():
    return 3

@pytest.mark.gradient_of()
def test_no_derivation():
    return good

@pytest.mark.gradient_of("no_such_entry_or_cost(")
def test_unreadable():
    return good

def test_unknown_input(derive_gradient):
    derive_gradient(good, "softmax_ce", temperature=2.0)

def test_fixture_without_marker(derive_gradient):
    derive_gradient(good)
''')
    result.assert_outcomes(failed=6)
    out = result.stdout.str()
    assert "neither returns the gradient function nor calls the derive_gradient fixture" in out
    assert "must return the gradient function to check, got int" in out
    assert "takes one derivation" in out
    assert "derive cannot derive 'no_such_entry_or_cost('" in out
    assert "temperature: unknown input" in out
    assert "derive_gradient needs a derivation" in out


def test_a_test_that_fails_on_its_own_fails_as_itself(pytester):
    result = run(pytester, '''
import pytest

@pytest.mark.gradient_of("softmax_ce")
def test_raises():
    raise RuntimeError("the user's own error")
''')
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: the user's own error*"])
