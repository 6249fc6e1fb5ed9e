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


# -- one ops interface: every backend is one table of it, and nothing else ---------------------------

def _abstract(cls) -> set:
    """The methods of the ops protocol that a backend must spell (the base raises NotImplementedError)."""
    import inspect
    out = set()
    for name, fn in vars(cls).items():
        if inspect.isfunction(fn) and "raise NotImplementedError" in inspect.getsource(fn):
            out.add(name)
    return out


def test_every_backend_is_one_table_of_the_one_ops_interface():
    from derive.backends import BACKENDS, ops_for
    from derive.backends.ops import Ops
    required = _abstract(Ops)
    assert {"host", "from_checked", "permute", "softmax", "rowmax"} <= required
    for name in BACKENDS:
        ops = ops_for(name)
        assert isinstance(ops, Ops) and ops.name == name
        missing = [m for m in required if getattr(type(ops), m) is getattr(Ops, m)]
        assert not missing, f"{name} does not spell {missing}"


def test_the_interpreter_numeric_and_compile_share_the_numpy_table():
    from derive import tensor
    from derive.backends.numpy_ops import NUMPY
    from derive.compile import boundary
    assert tensor.NUMPY is NUMPY and boundary.NUMPY is NUMPY
    assert not hasattr(tensor, "NumpyOps")  # one NumPy table, in derive.backends


def test_backends_import_nothing_from_compile():
    import ast
    import pathlib
    for path in pathlib.Path(derive.__file__).parent.joinpath("backends").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any("compile" in n or "tensor" in n for n in names), (path.name, names)
