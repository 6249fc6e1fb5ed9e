"""The derive command: output, exit status, errors without tracebacks, build."""
import dataclasses
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import time
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
    assert out.stdout.startswith("\\documentclass") and "\\sum\\nolimits_{j=1}^{4}" in out.stdout  # the page sets its limits beside the sign


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
    for args in ((), ("list",), ("show",), ("verify",), ("build",), ("grad",)):
        out = run(*args, "--help")
        assert out.returncode == 0 and out.stdout.startswith("usage: derive")


def test_verify_passes_and_prints_plain_text_when_not_a_terminal():
    out = run("verify", "softmax_ce", "softmax_jacobian")
    assert out.returncode == 0
    assert "verify softmax_ce: all" in out.stdout and "verify softmax_jacobian: all" in out.stdout
    assert "\033[" not in out.stdout
    assert out.stderr == ""  # no progress line when stderr is not a terminal


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
    assert set(first) == {"index.md", "index.html"} | {f"{e.name}.{x}" for e in derive.catalogue()
                                                       for x in ("md", "tex", "html")}
    index = first["index.md"].decode()
    assert "[HTML](softmax_ce.html)" in index and "[Markdown](softmax_ce.md)" in index
    assert first["softmax_ce.html"].startswith(b"<!DOCTYPE html>")
    assert b'href="softmax_ce.html"' in first["index.html"]
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
    assert 'derive = "_derive_cli:main"' in text  # the launcher, which handles Ctrl-C before importing derive


# -- nothing a user can do prints a traceback (issue 7) ------------------------------------------------

def shell(command, **kw):
    """``command`` in bash, with $PY the interpreter; its stdout ends with the first command's status."""
    return subprocess.run(["bash", "-c", command + '; echo "status=${PIPESTATUS[0]}"'], capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PY": sys.executable}, **kw)


def test_version():
    out = run("--version")
    assert (out.returncode, out.stdout, out.stderr) == (0, f"derive {derive.__version__}\n", "")
    assert derive.__version__ == "0.1.0"


@pytest.mark.parametrize("command", [
    '"$PY" -m derive list | true',                                          # the reader is gone before the first write
    '"$PY" -m derive show softmax_ce | true',
    '"$PY" -m derive verify softmax_ce softmax_jacobian | head -1',        # the reader goes away between writes
])
def test_a_closed_pipe_is_quiet_and_exits_141(command):
    out = shell(command)
    assert out.stderr == ""
    assert out.stdout.endswith("status=141\n")


@pytest.mark.parametrize("command, words", [
    ('"$PY" -m derive list >&-', "standard output is closed"),
    ('"$PY" -m derive list > /dev/full', "cannot write the output: No space left on device"),
    ('"$PY" -m derive show softmax_ce --format html > /dev/full', "cannot write the output: No space left on device"),
])
def test_output_that_cannot_be_written_is_one_line_and_exit_74(command, words):
    out = shell(command)
    assert out.stderr == f"derive: error: {words}\n"
    assert out.stdout.endswith("status=74\n")


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_output_the_encoding_cannot_write_is_one_line_and_exit_74(tmp_path, encoding):
    post = tmp_path / "post.md"
    post.write_text("$$\\frac{\u2202E}{\u2202z_k} = o_k \u2212 y_k$$\n", encoding="utf-8")
    out = run("check", str(post), env={"PYTHONIOENCODING": encoding})
    assert out.returncode == 74 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and f"output encoding ({encoding}) cannot write" in out.stderr
    assert "PYTHONIOENCODING=utf-8" in out.stderr


def test_ctrl_c_while_the_package_is_importing(monkeypatch, capsys):
    import builtins
    import _derive_cli
    real_import = builtins.__import__

    def interrupted(name, *args, **kw):  # the Ctrl-C lands while derive.cli (and SymPy) is importing
        if name == "derive.cli":
            raise KeyboardInterrupt
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", interrupted)
    assert _derive_cli.main() == 130
    assert capsys.readouterr() == ("", "derive: interrupted\n")


def test_the_launcher_imports_nothing_of_derive():
    out = subprocess.run([sys.executable, "-c", "import sys, _derive_cli; print(sorted(m for m in sys.modules "
                          "if m.split('.')[0] in ('derive', 'sympy')))"], capture_output=True, text=True, timeout=60)
    assert out.stdout == "[]\n", out.stderr


# a real SIGINT, sent by the process to itself at the moment the named module starts importing: the moments
# a Ctrl-C can land in once the console script runs (a timed kill from outside may land in Python's own start-up,
# before any code of ours runs, which no entry point can cover)
_SIGINT_AT = """
import os, runpy, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
sys.argv = [{script!r}, "list"]
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.parametrize("module", ["derive", "sympy", "sympy.core", "derive.cli"])
def test_a_ctrl_c_early_in_the_console_script_prints_no_traceback(module):
    script = Path(sys.executable).with_name("derive")
    if not script.exists():
        pytest.skip("the console script is not installed beside this interpreter")
    code = _SIGINT_AT.format(module=module, script=str(script))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 130 and proc.stderr == "derive: interrupted\n", (proc.returncode, proc.stderr)


def test_concurrent_builds_into_one_folder_each_succeed_and_never_mix(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "derive", "build", str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outs]
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert run("build", "--check", str(tmp_path)).returncode == 0


def test_a_second_build_waits_for_the_one_holding_the_folder(tmp_path, monkeypatch, capsys):
    import fcntl
    import threading
    monkeypatch.setattr(cli, "documents", fast_documents)
    holder = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    said = []
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("status", cli.build(tmp_path, False, said.append)))
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive() and not list(tmp_path.iterdir())  # nothing written while another build holds it
    assert any("waiting for another derive build" in line for line in said)
    os.close(holder)
    thread.join(30)
    assert result == {"status": 0} and sorted(p.name for p in tmp_path.iterdir()) == sorted(fast_documents())


def test_a_reader_that_stops_early_gets_no_traceback():
    # one big write into a pipe closed after the first line: whether it ends in EPIPE is up to the kernel
    out = shell('"$PY" -m derive show softmax_ce --format html | head -1')
    assert out.stderr == ""
    assert out.stdout in ("<!DOCTYPE html>\nstatus=0\n", "<!DOCTYPE html>\nstatus=141\n")


def test_show_html():
    out = run("show", "softmax_ce", "--format", "html")
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("<!DOCTYPE html>") and "Gradient of softmax with cross-entropy loss" in out.stdout


def fast_documents(progress=None):
    return {"a.md": "a\n", "a.tex": "\\relax\n", "index.md": "é\n"}


def test_build_onto_a_file_or_below_one_is_an_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep")
    out = run("build", str(afile))
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"derive: error: {afile}: is a file, not a folder\n"
    out = run("build", str(afile / "sub"))
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"derive: error: {afile / 'sub'}: not a folder ({afile} is a file)\n"
    out = run("build", str(afile), "--check")
    assert out.returncode == 2 and out.stderr == f"derive: error: {afile}: is a file, not a folder\n"
    assert afile.read_text() == "keep"


def test_build_where_a_folder_holds_an_owned_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "documents", fast_documents)
    (tmp_path / "a.tex").mkdir()
    assert cli.main(["build", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"derive: error: {tmp_path}: a.tex is a folder; derive writes a file of that name\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("where", ["tempfile.mkstemp", "Path.mkdir"])
def test_build_into_an_unwritable_folder(tmp_path, monkeypatch, capsys, where):
    # root ignores mode bits, so the refusal is simulated where the operating system would give it
    def refuse(*args, **kw):
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr(cli, "documents", fast_documents)
    if where == "tempfile.mkstemp":
        monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)
    else:
        monkeypatch.setattr(cli.Path, "mkdir", refuse)
    assert cli.main(["build", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"derive: error: {tmp_path / 'out'}: ") and "permission denied" in err
    assert err.count("\n") == 1


def test_build_replaces_owned_files_in_any_encoding_and_leaves_the_rest(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "documents", fast_documents)
    (tmp_path / "a.md").write_bytes(b"\xff\xfe not UTF-8")        # owned: replaced
    (tmp_path / "notes.md").write_bytes(b"\xff\xfe mine")          # not owned: left alone
    assert cli.main(["build", str(tmp_path), "--check"]) == 1
    assert "a.md" in capsys.readouterr().err
    assert cli.main(["build", str(tmp_path)]) == 0
    assert (tmp_path / "a.md").read_bytes() == b"a\n"
    assert (tmp_path / "index.md").read_bytes() == "é\n".encode()
    assert (tmp_path / "notes.md").read_bytes() == b"\xff\xfe mine"
    assert cli.main(["build", str(tmp_path), "--check"]) == 0


def test_build_removes_the_temporary_files_a_killed_build_left(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "documents", fast_documents)
    left = [".a.md.k3_x9q2z.tmp", ".index.md.abcdefgh.tmp"]
    kept = [".notes.md.abcdefgh.tmp", ".a.md.tmp", "a.md.abcdefgh.tmp", ".a.mdx.abcdefgh.tmp"]
    for name in left + kept:
        (tmp_path / name).write_text("half")
    assert cli.main(["build", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept + list(fast_documents()))


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_are_written_with_the_umask(tmp_path, monkeypatch, mask, mode):
    monkeypatch.setattr(cli, "documents", fast_documents)
    old = os.umask(mask)
    try:
        assert cli.main(["build", str(tmp_path)]) == 0
    finally:
        os.umask(old)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()} == \
        {name: mode for name in fast_documents()}


def test_a_real_build_writes_0644_under_umask_022(tmp_path):
    out = subprocess.run(["bash", "-c", 'umask 022 && "$PY" -m derive build "$DIR"'], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PY": sys.executable, "DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    modes = {stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {0o644}


@pytest.mark.parametrize("signum, status, line", [(signal.SIGINT, 130, "derive: interrupted\n"),
                                                  (signal.SIGTERM, 143, "derive: terminated\n")])
def test_a_signal_mid_write_exits_cleanly_and_leaves_no_temporary_file(tmp_path, monkeypatch, capsys,
                                                                       signum, status, line):
    monkeypatch.setattr(cli, "documents", fast_documents)
    (tmp_path / "a.md").write_text("old")
    real_replace = os.replace

    def signalled(src, dst):  # the signal arrives while the first file is being written
        os.kill(os.getpid(), signum)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", signalled)
    handler = signal.getsignal(signal.SIGTERM)
    assert cli.main(["build", str(tmp_path)]) == status
    assert capsys.readouterr() == ("", line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md"] and (tmp_path / "a.md").read_text() == "old"
    assert signal.getsignal(signal.SIGTERM) is handler  # main restores the handler it replaced


READY = ("import sys; from derive.cli import main; print('ready', file=sys.stderr, flush=True); "
         "sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("signum, status, line", [(signal.SIGINT, 130, "derive: interrupted\n"),
                                                  (signal.SIGTERM, 143, "derive: terminated\n")])
@pytest.mark.parametrize("delay", [0.2, 0.8])  # inside the build, which takes about 1.5 s after the imports
def test_a_signal_to_a_running_build(tmp_path, signum, status, line, delay):
    # The driver imports derive first (a signal during Python's own imports is not derive's to handle);
    # the signal then lands somewhere in the build: either outcome is fine, a traceback or a .tmp is not.
    proc = subprocess.Popen([sys.executable, "-c", READY, "build", str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline() == "ready\n"
    time.sleep(delay)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (status, 0), stderr
    assert stderr == (line if proc.returncode else "")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# -- bounded work (issue 9) ----------------------------------------------------------------------------

BOUNDS = {"softmax_ce": 50, "softmax_jacobian": 50, "softmax_se": 50, "softmax_regression": 30,
          "softmax_ce_labels": 50}


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_K_above_the_bound_is_refused_at_once(name):
    bound = BOUNDS[name]
    with pytest.raises(derive.ArgumentError) as err:
        cli.entry(name)(K=bound + 1)  # the bound is the recipe's own: the API refuses too
    assert err.value.argument == "K"
    assert str(err.value).startswith(f"K: K = {bound + 1} is above {bound}, the largest K ")
    assert "K=None for the symbolic form" in str(err.value)
    assert cli.entry(name)(K=bound).setting.K == bound
    for command in ("show", "verify"):
        out = run(command, name, "--K", "1000000")
        assert (out.returncode, out.stdout) == (2, "")
        assert out.stderr.startswith(f"derive: error: --K: K = 1000000 is above {bound}, the largest K ")
        assert "use --K symbolic for the symbolic form" in out.stderr and "Traceback" not in out.stderr


def test_K_symbolic_on_the_command_line():
    out = run("show", "softmax_regression", "--K", "symbolic")
    assert out.returncode == 0 and "sum_{c=1..K}" in out.stdout
    assert "sum_{c=1..3}" in run("show", "softmax_regression").stdout


def test_verify_K_without_names_skips_the_entries_without_K_and_says_so():
    out = run("verify", "--K", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    heads = [line for line in out.stdout.splitlines() if line.startswith("verify ")]
    names = [e.name for e in derive.catalogue()]
    assert [h.split(":")[0] for h in heads] == [f"verify {name}" for name in names]
    for name, head in zip(names, heads):
        if name == "mlp_backprop":
            assert head == "verify mlp_backprop: skipped, it has no number of classes to set with --K"
        else:
            assert re.fullmatch(rf"verify {name}: all \d+ checks passed \(K = \d+\)", head)


def test_verify_K_with_a_name_without_K_refuses_before_any_work():
    out = run("verify", "softmax_ce", "mlp_backprop", "--K", "3")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == "derive: error: --K: mlp_backprop has no number of classes to set\n"


def test_progress_on_a_terminal_only():
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "derive", "verify", "softmax_ce"], stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        try:
            chunk = os.read(master, 4096) if ready else b""
        except OSError:  # the child closed the terminal
            chunk = b""
        if not chunk:
            break
        seen += chunk
    stdout = proc.communicate(timeout=300)[0].decode()
    os.close(master)
    assert proc.returncode == 0 and stdout.startswith("verify softmax_ce: all ")
    text = seen.decode()
    assert "\r\x1b[K" in text and re.search(r"softmax_ce: step 1 of \d+", text) and "softmax_ce: result" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared before the report


# -- derive grad: a cost of the user's own ------------------------------------------------------------

CE_TEXT = "-sum(y[j]*log(softmax(z)[j]), j)"


def test_grad_prints_a_verified_derivation():
    out = run("grad", CE_TEXT, "--assume", "sum(y[j], j) = 1", "--verify")
    assert out.returncode == 0, out.stderr
    assert out.stderr.startswith("verify gradient: all ")
    assert "  dE/dz_k = o_k - y_k" in out.stdout


def test_grad_hessian_in_latex():
    out = run("grad", CE_TEXT, "--hessian", "--assume", "sum(y[j], j) = 1", "--format", "latex", "--standalone")
    assert out.returncode == 0 and out.stdout.startswith("\\documentclass")
    assert r"\left[\operatorname{diag}\left(o\right) - o o^{T}\right]_{km}" in out.stdout
    unnormalised = run("grad", CE_TEXT, "--hessian", "--format", "text")
    assert "[sum_{j=1..K} y_j*diag(o) - sum_{j=1..K} y_j*o*o^T]_km" in unnormalised.stdout


def test_grad_with_a_linear_layer_and_concrete_K():
    out = run("grad", CE_TEXT, "--wrt", "w", "--define", "z[j] = sum(w[j, d]*x[d], d)",
              "--assume", "sum(y[j], j) = 1", "--K", "3", "--format", "json")
    assert out.returncode == 0, out.stderr
    assert '"text": "x_f*(o_k - y_k)"' in out.stdout  # no index e beside e^{z} (issue 17.5)


def test_grad_refuses_hostile_text_without_a_traceback():
    for cost in ("__import__('os').system('echo owned')", "lambda: 0", "[x for x in y]", "x" * 5000):
        out = run("grad", cost)
        assert out.returncode == 2 and out.stderr.startswith("derive: error: cost: ")
        assert "Traceback" not in out.stderr and "owned" not in out.stdout


def test_grad_says_when_there_is_no_closed_form(monkeypatch, capsys):
    from derive import planner
    original = planner.Planner.__init__

    def short(self, setting, facts=(), *, timeout=30.0, max_steps=2, names=None):
        original(self, setting, facts, timeout=timeout, max_steps=2, names=names)

    monkeypatch.setattr(planner.Planner, "__init__", short)
    assert cli.main(["grad", CE_TEXT]) == 1
    assert "did not reach a closed form: the planner stopped after 2 steps" in capsys.readouterr().err


# -- derive check ---------------------------------------------------------------------------------

CHECK_DOC = r"""Let $o_j = \frac{e^{z_j}}{\sum_k e^{z_k}}$ and $E = - \sum_j y_j \log o_j$, with $\sum_j y_j = 1$.

$$
\begin{aligned}
\frac{\partial E}{\partial z_k} &= o_k \sum_j y_j - y_k \\
&= o_k - y_k
\end{aligned}
$$
"""


def test_check_exit_status_0_when_every_claim_holds(tmp_path):
    path = tmp_path / "good.md"
    path.write_text(CHECK_DOC)
    out = run("check", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 claims, 2 hold, 0 wrong" in out.stdout


def test_check_exit_status_1_and_json_for_a_wrong_claim(tmp_path):
    import json
    path = tmp_path / "bad.md"
    path.write_text(CHECK_DOC.replace("&= o_k - y_k", "&= y_k - o_k"))
    out = run("check", str(path), "--format", "json")
    assert out.returncode == 1
    data = json.loads(out.stdout)
    assert data["first_wrong"]["line"] == 6 and data["first_wrong"]["verdict"] == "wrong"
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(derive.__file__).parent / "schema" / "check.schema.json").read_text())
    jsonschema.validate(data, schema)
    md = run("check", str(path), "--format", "markdown")
    assert md.returncode == 1 and "**first wrong claim**" in md.stdout


def test_check_define_and_assume_options(tmp_path):
    path = tmp_path / "bare.md"
    path.write_text("$$\\frac{\\partial E}{\\partial z_k} = o_k - y_k$$\n")
    out = run("check", str(path), "--define", r"E = - \sum_j y_j \log o_j", "--assume", r"\sum_j y_j = 1")
    assert out.returncode == 0, out.stdout + out.stderr
    bad = run("check", str(path), "--assume", "y_1 = 1")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_check_unreadable_files_exit_2_with_one_line(tmp_path):
    binary = tmp_path / "latin1.md"
    binary.write_bytes("$$\\frac{\\partial E}{\\partial z_k} = \xe9$$".encode("latin-1"))
    for target in (tmp_path / "missing.md", binary, tmp_path):
        out = run("check", str(target))
        assert out.returncode == 2, target
        assert out.stdout == "" and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
