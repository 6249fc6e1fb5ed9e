"""The derive command line: list, show, verify, build.

Nothing a user can do prints a traceback. Exit statuses: 0 success; 1 a check
failed (verify, show --verify) or files are stale (build --check); 2 a user
mistake or a folder build cannot write (``derive: error: ...`` on stderr);
130 Ctrl-C (``derive: interrupted``); 143 SIGTERM (``derive: terminated``);
141 when the reader of stdout goes away (``derive list | head -1``): the rest
of the output is dropped quietly, as a command killed by SIGPIPE would be;
74 when stdout is closed, full, or cannot encode the output. Two builds into
one folder take turns (a lock on the folder), so its files never mix two builds.
"""
from __future__ import annotations

import argparse
import inspect
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

from . import __version__
from .entries import catalogue, entry
from .errors import ArgumentError, DeriveError
from .verify.budget import VerifyTimeout

FORMATS = ("text", "latex", "markdown", "json", "html")
DEFAULT_DIR = "derivations"
VERIFY_TIMEOUT = 120.0  # seconds: the default time budget of every verification the command line runs
SYMBOLIC = "symbolic"  # --K symbolic: the symbolic-K form, for entries whose default K is concrete
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
EXIT_OUTPUT = 74  # EX_IOERR: stdout is closed or cannot be written (a full disk)
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every cleanup (write_atomic's) runs."""


def _K(value: str):
    if value == SYMBOLIC:
        return SYMBOLIC
    try:
        K = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2 or '{SYMBOLIC}', got {value!r}") from None
    if K < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {K}")
    return K


def parser() -> argparse.ArgumentParser:
    """The argument parser of the derive command."""
    p = argparse.ArgumentParser(prog="derive", description="Step-by-step, verified gradients of softmax output layers.")
    p.add_argument("--version", action="version", version=f"derive {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", help="list the derivations in the catalogue", description="List the catalogue.")
    K_help = (f"number of classes, up to each entry's bound (see docs/errors.md), or '{SYMBOLIC}' "
              "(default: the entry's)")
    show = sub.add_parser("show", help="print one derivation", description="Print one derivation to stdout.")
    show.add_argument("name", help="a name from 'derive list'")
    show.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    show.add_argument("--K", type=_K, default=None, metavar="N", help=K_help)
    show.add_argument("--standalone", action="store_true", help="with --format latex: a whole document")
    show.add_argument("--verify", action="store_true",
                      help="verify every step first; print the report to stderr, exit 1 if a check fails")
    show.add_argument("--verify-timeout", type=_seconds, default=VERIFY_TIMEOUT, metavar="SECONDS",
                      help=f"time budget of --verify; past it, exit 1 naming what was left unchecked "
                           f"(default: {VERIFY_TIMEOUT:g})")
    grad = sub.add_parser("grad", help="derive the gradient of a cost you write",
                          description="Plan, print and optionally verify the gradient (or Hessian) of a cost "
                                      "written as text; see docs/grammar.md. Exit status 1 when the planner "
                                      "does not reach a closed form or a check fails.")
    grad.add_argument("cost", help='the cost, e.g. "-sum(y[j]*log(softmax(z)[j]), j)"')
    grad.add_argument("--wrt", default="z", metavar="NAME", help="the vector to differentiate by (default: z)")
    grad.add_argument("--assume", action="append", default=[], metavar="EQUATION",
                      help='a stated assumption, e.g. "sum(y[j], j) = 1" (repeatable)')
    grad.add_argument("--define", action="append", default=[], metavar="EQUATION",
                      help='an intermediate vector, e.g. "z[j] = sum(w[j, d]*x[d], d)" (repeatable)')
    grad.add_argument("--hessian", action="store_true", help="the second derivatives instead of the gradient")
    grad.add_argument("--K", type=_K, default=SYMBOLIC, metavar="N",
                      help=f"number of classes, or '{SYMBOLIC}' (default)")
    grad.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    grad.add_argument("--standalone", action="store_true", help="with --format latex: a whole document")
    grad.add_argument("--verify", action="store_true",
                      help="verify every step first; print the report to stderr, exit 1 if a check fails")
    grad.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                      help="how long the planner may take (default: 30)")
    grad.add_argument("--verify-timeout", type=_seconds, default=VERIFY_TIMEOUT, metavar="SECONDS",
                      help=f"time budget of --verify; past it, exit 1 naming what was left unchecked "
                           f"(default: {VERIFY_TIMEOUT:g})")
    ver = sub.add_parser("verify", help="check every step of derivations",
                         description="Verify derivations and print a per-step report; exit status 1 when a check "
                                     "fails. With --K and no names, the entries without a number of classes are "
                                     "skipped (and named).")
    ver.add_argument("names", nargs="*", help="names from 'derive list' (default: all)")
    ver.add_argument("--K", type=_K, default=None, metavar="N", help=K_help)
    ver.add_argument("--timeout", type=_seconds, default=VERIFY_TIMEOUT, metavar="SECONDS",
                     help=f"time budget of each derivation's verification; past it, exit 1 naming what was "
                          f"left unchecked (default: {VERIFY_TIMEOUT:g})")
    build = sub.add_parser("build", help="write the documents of every derivation",
                           description="Write NAME.md, NAME.tex and NAME.html for every catalogue entry, and "
                                       "index.md and index.html. Other files in the folder are left alone.")
    build.add_argument("dir", nargs="?", default=DEFAULT_DIR, help=f"output folder (default: {DEFAULT_DIR})")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 and name the files that are missing or out of date")
    chk = sub.add_parser("check", help="check the chains of equalities in your own derivation",
                         description="Find every chain of equalities in the display math of a Markdown or LaTeX "
                                     "file and check each link. Exit status 1 when a claim is wrong, 2 when the "
                                     "file cannot be read, 0 otherwise (docs/check.md).")
    chk.add_argument("file", help="a Markdown (.md) or LaTeX (.tex) file")
    chk.add_argument("--format", choices=("text", "markdown", "html", "json"), default="text",
                     help="text (default), markdown (an annotated copy of the input), html (the document typeset, "
                          "each claim marked) or json")
    chk.add_argument("--define", action="append", default=[], metavar="EQ",
                     help="a definition in LaTeX, e.g. 'o_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}' (repeatable)")
    chk.add_argument("--assume", action="append", default=[], metavar="EQ",
                     help="an assumption in LaTeX, e.g. '\\sum_j y_j = 1' (repeatable)")
    return p


def _check(args) -> int:
    """derive check FILE: exit 2 (one line on stderr) when the file cannot be read."""
    from .checking import check
    from .checking.checker import read_document
    try:
        text = read_document(args.file)  # a FIFO or /dev/zero is refused, not waited on or read forever
    except IsADirectoryError:
        print(f"derive: error: {args.file}: is a folder, not a file", file=sys.stderr)
        return 2
    except ArgumentError as exc:
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"derive: error: {args.file}: {(exc.strerror or str(exc)).lower()}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"derive: error: {args.file}: not UTF-8 text (byte {exc.start})", file=sys.stderr)
        return 2
    report = check(text, define=args.define, assume=args.assume, name=args.file)
    if args.format == "json":
        print(report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown())
    elif args.format == "html":
        print(report.to_html(), end="")
    else:
        print(report.to_text(), end="")
    return report.exit_status


class Progress:
    """One self-overwriting status line on stderr, shown only when stderr is a terminal."""

    def __init__(self, stream=None) -> None:
        self.stream = sys.stderr if stream is None else stream
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            self.enabled = False
        self.shown = False

    def __call__(self, message: str) -> None:
        """Show ``message`` in place of the previous one; an empty message clears the line."""
        if not message:
            self.clear()
        if not self.enabled or not message:
            return
        width = max(shutil.get_terminal_size().columns - 1, 10)
        self.stream.write("\r\033[K" + message[:width])
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False


def _takes_K(name: str) -> bool:
    return "K" in inspect.signature(entry(name).build).parameters


def _build(name: str, K):
    e = entry(name)
    if K is None:
        return e()
    if not _takes_K(name):
        raise ArgumentError("--K", f"{name} has no number of classes to set")
    try:
        return e(K=None if K == SYMBOLIC else K)
    except ArgumentError as exc:
        if exc.argument != "K":
            raise
        raise ArgumentError("--K", exc.problem.replace("K=None", f"--K {SYMBOLIC}")) from None


def documents(progress: Optional[Callable[[str], None]] = None) -> dict:
    """File name -> content of every generated document (deterministic)."""
    from .render.html import render_index_html
    from .render.markdown import _words as markdown_words
    out: dict = {}
    lines = ["# Derivations", "",
             "Generated by `derive build`; every step of each is checked by `derive verify NAME`.", "",
             "| derivation | what it derives | reference | files |", "| --- | --- | --- | --- |"]
    rows = []
    entries = catalogue()
    for number, e in enumerate(entries, start=1):
        if progress is not None:
            progress(f"build: {e.name} ({number} of {len(entries)})")
        d = e()
        out[f"{e.name}.md"] = d.to_markdown()
        out[f"{e.name}.tex"] = d.to_latex(standalone=True)
        out[f"{e.name}.html"] = d.to_html()
        lines.append(f"| [{d.title}]({e.name}.md) | {markdown_words(e.description).replace('|', '/')} | {e.reference} | "
                     f"[Markdown]({e.name}.md), [LaTeX]({e.name}.tex), [HTML]({e.name}.html) |")
        rows.append((e.name, d.title, e.description, e.reference))
    out["index.md"] = "\n".join(lines) + "\n"
    out["index.html"] = render_index_html(rows)
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` in one step: a reader sees the old file or the new one, never half.

    The file gets mode 0o666 & ~umask, as open() would give it (mkstemp makes 0600).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def stale_temporaries(folder: Path, names) -> list:
    """Temporary files write_atomic left in ``folder`` for ``names`` (a build killed mid-write)."""
    owned = re.compile("|".join(rf"\.{re.escape(n)}\.[a-z0-9_]{{8}}\.tmp" for n in names) + r"\Z")
    try:
        return sorted(p for p in folder.iterdir() if owned.match(p.name) and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []


def _folder_error(folder: Path, exc: OSError, name: Optional[str] = None) -> DeriveError:
    """``DIR: <problem>`` for an OSError met while building into ``folder``."""
    for p in (folder, *folder.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                return DeriveError(f"{folder}: is a file, not a folder" if p == folder
                                   else f"{folder}: not a folder ({p} is a file)")
            break
    what = f"{name}: " if name else ""
    if isinstance(exc, PermissionError):
        return DeriveError(f"{folder}: {what}permission denied, cannot write here")
    if isinstance(exc, IsADirectoryError) and name:
        return DeriveError(f"{folder}: {name} is a folder; derive writes a file of that name")
    return DeriveError(f"{folder}: {what}{(exc.strerror or str(exc)).lower()}")


def build(folder: Path, check: bool, progress: Optional[Callable[[str], None]] = None) -> int:
    """Write (or with check, compare) every document; the exit status.

    Files are compared as bytes, so a file of another encoding is replaced, not
    decoded. Only the files derive writes are touched, and the temporary files
    a killed build left behind for them are removed.
    """
    docs = documents(progress)
    if progress is not None:
        progress("")
    data = {name: text.encode("utf-8") for name, text in docs.items()}

    def current(name: str) -> bool:
        path = folder / name
        return path.is_file() and path.read_bytes() == data[name]

    if check:
        if folder.exists() and not folder.is_dir():
            raise DeriveError(f"{folder}: is a file, not a folder")
        try:
            stale = [name for name in docs if not current(name)]
        except OSError as exc:
            raise _folder_error(folder, exc) from None
        if stale:
            print(f"derive: {len(stale)} file(s) in {folder} are missing or out of date: {', '.join(stale)}; "
                  f"run: derive build {folder}", file=sys.stderr)
            return 1
        print(f"{folder}: all {len(docs)} files up to date")
        return 0
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = _lock_folder(folder, progress)
    except OSError as exc:
        raise _folder_error(folder, exc) from None
    try:
        try:
            for tmp in stale_temporaries(folder, docs):
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            raise _folder_error(folder, exc) from None
        changed = 0
        for name, text in docs.items():
            try:
                if not current(name):
                    write_atomic(folder / name, text)
                    changed += 1
            except OSError as exc:
                raise _folder_error(folder, exc, name) from None
    finally:
        if lock is not None:
            os.close(lock)  # closing the descriptor releases the lock
    print(f"{folder}: wrote {changed} of {len(docs)} files")
    return 0


def _lock_folder(folder: Path, progress: Optional[Callable[[str], None]]) -> Optional[int]:
    """Hold ``folder`` for one build: a second build waits for the first, so files never mix two builds.

    The lock is on the folder itself (flock on its descriptor), so no lock file is left behind;
    it ends with the process. Where flock does not exist (Windows), builds are not serialised.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if progress is not None:
                progress(f"waiting for another derive build of {folder} to finish")
            fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _paint(text: str, ok: bool) -> str:
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\033[{'32' if ok else '31'}m{text}\033[0m"


def _seconds(text: str) -> float:
    """A positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _verify(names: Sequence[str], K, progress: Progress, timeout: float = VERIFY_TIMEOUT) -> int:
    chosen = list(names) or [e.name for e in catalogue()]
    for name in chosen:
        entry(name)  # every name checked before any work
    skipped = []
    if K is not None:
        if names:
            for name in chosen:
                if not _takes_K(name):
                    raise ArgumentError("--K", f"{name} has no number of classes to set")
        else:
            skipped = [name for name in chosen if not _takes_K(name)]
    derivations = {}
    for name in chosen:  # a bad K is refused before any verification
        if name not in skipped:
            progress(f"building {name}")
            derivations[name] = _build(name, K)
    failed = False
    for name in chosen:
        if name in skipped:
            print(f"verify {name}: skipped, it has no number of classes to set with --K")
            continue
        report = derivations[name].verify(progress=progress, timeout=timeout)
        progress.clear()
        lines = str(report).splitlines()
        print(_paint(lines[0], report.ok))
        for line in lines[1:]:
            print(_paint(line, not line.lstrip().startswith("[FAIL]")))
        sys.stdout.flush()
        failed = failed or not report.ok
    return 1 if failed else 0


def _show(args, progress: Progress) -> int:
    return _emit(_build(args.name, args.K), args, progress)


def _grad(args, progress: Progress) -> int:
    from .planned import gradient, hessian
    K = None if args.K == SYMBOLIC else args.K
    progress("planning the derivation")
    derive_it = hessian if args.hessian else gradient
    d = derive_it(args.cost, args.wrt, assume=args.assume, define=args.define, K=K, timeout=args.timeout)
    progress.clear()
    status = _emit(d, args, progress)
    if not d.complete:
        reason = next(x.incomplete for x in d.walk() if x.incomplete)
        print(f"derive: the planner did not reach a closed form: {reason}", file=sys.stderr)
        return 1
    return status


def _emit(d, args, progress: Progress) -> int:
    """Print ``d`` in the chosen format, after verifying it when asked."""
    if args.standalone and args.format != "latex":
        raise ArgumentError("--standalone", "only applies to --format latex")
    if args.verify:
        report = d.verify(progress=progress, timeout=args.verify_timeout)
        progress.clear()
        print(str(report).splitlines()[0] if report.ok else report, file=sys.stderr)
        if not report.ok:
            return 1
    out = {"text": d.to_text, "markdown": d.to_markdown, "json": d.to_json, "html": d.to_html,
           "latex": lambda: d.to_latex(standalone=args.standalone)}[args.format]()
    sys.stdout.write(out if out.endswith("\n") else out + "\n")
    return 0


def _run(argv: Optional[Sequence[str]], progress: Progress) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, a usage error: argparse has printed what to say
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        if args.command in (None, "list"):
            for e in catalogue():
                print(f"{e.name:<20} {e.summary}")
            return 0
        if args.command == "show":
            return _show(args, progress)
        if args.command == "grad":
            return _grad(args, progress)
        if args.command == "verify":
            return _verify(args.names, args.K, progress, args.timeout)
        if args.command == "check":
            return _check(args)
        if args.command == "build":
            return build(Path(args.dir), args.check, progress)
    except VerifyTimeout as exc:  # not a usage error: the claims were not checked, so not verified
        progress.clear()
        print(f"derive: error: {exc}", file=sys.stderr)
        return 1
    except DeriveError as exc:
        progress.clear()
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2
    return 0  # pragma: no cover


def _terminate(signum, frame):
    raise Terminated


def _say(line: str) -> None:
    """One line on stderr, if there is a stderr."""
    if sys.stderr is not None:
        print(line, file=sys.stderr)


def _quiet_stdout() -> None:
    """Point stdout at the null device, so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests capture it)
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    progress = Progress()
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
        installed = True
    except (ValueError, OSError, AttributeError):  # not the main thread
        installed = False
    try:
        if sys.stdout is None:  # started with stdout closed (derive list >&-)
            _say("derive: error: standard output is closed")
            return EXIT_OUTPUT
        status = _run(argv, progress)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:  # every other OSError of a command is a DeriveError: this one is writing stdout
        _quiet_stdout()
        _say(f"derive: error: cannot write the output: {exc.strerror or exc}")
        return EXIT_OUTPUT
    except UnicodeEncodeError as exc:  # PYTHONIOENCODING=ascii, and the output is not ASCII
        _quiet_stdout()
        char = exc.object[exc.start:exc.start + 1] if isinstance(exc.object, str) else "?"
        _say(f"derive: error: the output encoding ({exc.encoding}) cannot write {ascii(char)}; "
             "set PYTHONIOENCODING=utf-8")
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        progress.clear()
        _say("derive: interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        progress.clear()
        _say("derive: terminated")
        return EXIT_TERMINATED
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
