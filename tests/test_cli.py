"""The derive command: output, exit status, errors without tracebacks, build."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import derive
from derive import cli


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "derive", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def test_list():
    out = run("list")
    assert out.returncode == 0
    assert [line.split()[0] for line in out.stdout.splitlines()] == [e.name for e in derive.catalogue()]


@pytest.mark.parametrize("fmt, start", [("text", "Gradient of softmax with cross-entropy loss\n"),
                                        ("latex", "% Gradient"), ("markdown", "## Gradient"), ("json", "{\n")])
def test_show_formats(fmt, start):
    out = run("show", "softmax_ce", "--format", fmt)
    assert out.returncode == 0 and out.stdout.startswith(start) and out.stderr == ""


def test_show_standalone_and_K():
    out = run("show", "softmax_ce", "--format", "latex", "--standalone", "--K", "4")
    assert out.stdout.startswith("\\documentclass") and "\\sum_{j=1}^{4}" in out.stdout


def test_show_verify_reports_on_stderr():
    out = run("show", "softmax_ce", "--verify")
    assert out.returncode == 0
    assert out.stderr.startswith("verify softmax_ce: all ")
    assert out.stdout.startswith("Gradient of softmax")


@pytest.mark.parametrize("args, words", [
    (("show", "nope"), "no derivation called 'nope'"),
    (("show", "softmax_ce", "--K", "1"), "must be an integer >= 2"),
    (("show", "softmax_ce", "--K", "two"), "must be an integer >= 2"),
    (("show", "mlp_backprop", "--K", "3"), "--K: mlp_backprop has no number of classes"),
    (("show", "softmax_ce", "--standalone"), "--standalone: only applies"),
    (("verify", "softmax_ce", "nope"), "no derivation called 'nope'"),
    (("show", "softmax_ce", "--format", "pdf"), "invalid choice"),
])
def test_user_mistakes_give_an_error_and_no_traceback(args, words):
    out = run(*args)
    assert out.returncode == 2
    assert words in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_help_everywhere():
    for args in ((), ("list",), ("show",), ("verify",), ("build",)):
        out = run(*args, "--help")
        assert out.returncode == 0 and out.stdout.startswith("usage: derive")


def test_verify_passes_and_prints_plain_text_when_not_a_terminal():
    out = run("verify", "softmax_ce", "softmax_jacobian")
    assert out.returncode == 0
    assert "verify softmax_ce: all" in out.stdout and "verify softmax_jacobian: all" in out.stdout
    assert "\033[" not in out.stdout


def test_verify_exits_1_and_names_the_failing_step(monkeypatch, capsys):
    good = derive.softmax_ce()
    bad = good.with_step(7, dataclasses.replace(good.steps[7], expr=good.steps[7].expr + 1))
    fake = dataclasses.replace(derive.catalogue()[0], build=lambda **kw: bad)
    monkeypatch.setattr(cli, "entry", lambda name: fake)
    assert cli.main(["verify", "softmax_ce"]) == 1
    assert "[FAIL] softmax_ce: step 8 (expand)" in capsys.readouterr().out


def test_build_is_byte_identical_and_check_names_stale_files(tmp_path, capsys):
    assert cli.main(["build", str(tmp_path)]) == 0
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(first) == {"index.md"} | {f"{e.name}.{x}" for e in derive.catalogue() for x in ("md", "tex")}
    assert cli.main(["build", str(tmp_path)]) == 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
    assert cli.main(["build", str(tmp_path), "--check"]) == 0
    (tmp_path / "softmax_se.tex").write_text("old")
    (tmp_path / "index.md").unlink()
    capsys.readouterr()
    assert cli.main(["build", str(tmp_path), "--check"]) == 1
    err = capsys.readouterr().err
    assert "softmax_se.tex" in err and "index.md" in err and "softmax_ce.md" not in err


def test_an_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.md"
    target.write_text("old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]  # no temporary file left behind


def test_console_script_is_declared():
    text = (Path(__file__).parent.parent / "pyproject.toml").read_text()
    assert 'derive = "derive.cli:main"' in text
