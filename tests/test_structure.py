"""The package's shape: no public name hides a module."""
import importlib
import pkgutil
import types

import derive


def _modules():
    return [m.name for m in pkgutil.walk_packages(derive.__path__, "derive.")
            if not m.name.endswith(("_ops", "sphinx", "__main__"))]  # backends' tables import their optional libraries


def test_no_public_name_hides_a_module():
    hidden = []
    for name in _modules():
        parent, _, last = name.rpartition(".")
        if parent != "derive":
            continue
        importlib.import_module(name)
        value = getattr(derive, last, None)
        if value is not None and not isinstance(value, types.ModuleType):
            hidden.append(f"derive.{last} is a {type(value).__name__}, hiding the module {name}")
    assert not hidden


def test_check_and_gradient_modules_import_by_name():
    import derive.checking.latex as latex
    import derive.planned as planned
    assert derive.check.__module__.startswith("derive.checking")
    assert derive.gradient is planned.gradient
    assert latex.parse_latex
