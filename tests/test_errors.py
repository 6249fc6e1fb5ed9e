"""Bad input to the public API: a clear error naming the argument, never a SymPy traceback."""
import numpy as np
import pytest

import derive


@pytest.mark.parametrize("K, cls, words", [
    (1, derive.ArgumentError, "at least 2"),
    (0, derive.ArgumentError, "at least 2"),
    (-3, derive.ArgumentError, "at least 2"),
    (2.5, derive.ArgumentTypeError, "integer"),
    ("3", derive.ArgumentTypeError, "integer"),
    (True, derive.ArgumentTypeError, "integer"),
])
def test_bad_K(K, cls, words):
    with pytest.raises(cls) as err:
        derive.softmax_ce(K=K)
    assert err.value.argument == "K"
    assert words in str(err.value)


def test_numpy_integer_K_is_fine():
    assert derive.softmax_ce(K=np.int64(4)).setting.K == 4


@pytest.mark.parametrize("notation, argument", [
    ({"outputs": "o k"}, "notation['outputs']"),
    ({"outputs": "__import__('os')"}, "notation['outputs']"),
    ({"outputs": 3}, "notation['outputs']"),
    ({"colour": "p"}, "notation"),
    ({"outputs": "y"}, "notation"),
    ("p", "notation"),
])
def test_bad_notation(notation, argument):
    with pytest.raises(derive.ArgumentError) as err:
        derive.softmax_ce(notation=notation)
    assert err.value.argument == argument


def test_bad_flag():
    with pytest.raises(derive.ArgumentTypeError) as err:
        derive.softmax_ce(normalized_targets="yes")
    assert err.value.argument == "normalized_targets"


def test_errors_are_value_errors():
    assert issubclass(derive.ArgumentError, ValueError)
    assert issubclass(derive.ArgumentTypeError, TypeError)
