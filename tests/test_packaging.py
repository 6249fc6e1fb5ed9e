"""The package as users get it: the wheel and the sdist built from this tree, and the wheel installed into a
fresh virtual environment, where the command line and a verified derivation work."""
import email
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: the build uses this environment's setuptools instead of downloading one
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,) = out.glob("derive-*.whl")
    (sdist,) = out.glob("derive-*.tar.gz")
    return wheel, sdist


def test_the_wheel_carries_the_typing_marker_the_license_and_the_launcher(dist):
    wheel, _ = dist
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("derive/py.typed", "_derive_cli.py", "derive/schema/derivation.schema.json",
                   "derive/render/assets/katex/katex.min.js"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)


def test_the_metadata_states_the_license_the_dependencies_and_the_classifiers(dist):
    wheel, _ = dist
    with zipfile.ZipFile(wheel) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        message = email.message_from_bytes(z.read(meta))
    assert message["License-Expression"] == "MIT"
    assert "License" not in message  # the deprecated free-text field is gone
    requires = message.get_all("Requires-Dist")
    assert any(r.startswith("mpmath") for r in requires)  # verify imports it
    torch = [r for r in requires if r.startswith("torch")]
    assert len(torch) == 1 and "==" not in torch[0].split(";")[0] and torch[0].endswith('extra == "torch"')
    classifiers = message.get_all("Classifier")
    assert "Typing :: Typed" in classifiers and not any(c.startswith("License ::") for c in classifiers)


def test_the_sdist_carries_the_docs_the_examples_and_the_tests(dist):
    _, sdist = dist
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for needed in ("LICENSE", "README.md", "docs/api.md", "docs/errors.md", "examples/tour.ipynb",
                   "tests/test_packaging.py", "derive/py.typed", "_derive_cli.py"):
        assert needed in names, needed


def test_the_wheel_installs_and_runs_in_a_fresh_environment(dist, tmp_path):
    wheel, _ = dist
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    done = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    listed = subprocess.run([str(env / "bin" / "derive"), "list"], capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and listed.stdout.startswith("softmax_ce "), listed.stderr
    code = ("import derive, pathlib; d = derive.softmax_ce(); assert d.verify().ok; "
            "assert (pathlib.Path(derive.__file__).parent / 'py.typed').exists(); "
            "assert not derive.__file__.startswith(%r); print(d.result)" % str(ROOT))
    ran = subprocess.run([str(py), "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip() == "o[k] - y[k]"
