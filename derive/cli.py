"""The derive command line: list, show, verify (build comes with the documents)."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from .catalogue import catalogue, entry
from .errors import DeriveError

FORMATS = ("text", "latex", "markdown", "json")


def _K(value: str) -> int:
    try:
        K = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {value!r}") from None
    if K < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {K}")
    return K


def parser() -> argparse.ArgumentParser:
    """The argument parser of the derive command."""
    p = argparse.ArgumentParser(prog="derive", description="Step-by-step, verified gradients of softmax output layers.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", help="list the derivations in the catalogue", description="List the catalogue.")
    show = sub.add_parser("show", help="print one derivation", description="Print one derivation to stdout.")
    show.add_argument("name", help="a name from 'derive list'")
    show.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    show.add_argument("--K", type=_K, default=None, metavar="N", help="number of classes (default: symbolic K)")
    show.add_argument("--standalone", action="store_true", help="with --format latex: a whole document")
    show.add_argument("--verify", action="store_true",
                      help="verify every step first; print the report to stderr, exit 1 if a check fails")
    ver = sub.add_parser("verify", help="check every step of derivations",
                         description="Verify derivations; exit status 1 when any check fails.")
    ver.add_argument("names", nargs="*", help="names from 'derive list' (default: all)")
    ver.add_argument("--K", type=_K, default=None, metavar="N", help="number of classes (default: symbolic K)")
    return p


def _build(name: str, K: Optional[int]):
    e = entry(name)
    return e(K=K) if K is not None else e()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        if args.command in (None, "list"):
            for e in catalogue():
                print(f"{e.name:<22} {e.description}")
            return 0
        if args.command == "show":
            d = _build(args.name, args.K)
            if args.standalone and args.format != "latex":
                raise DeriveError("--standalone: only applies to --format latex")
            if args.verify:
                report = d.verify()
                print(str(report).splitlines()[0] if report.ok else report, file=sys.stderr)
                if not report.ok:
                    return 1
            out = {"text": d.to_text, "markdown": d.to_markdown, "json": d.to_json,
                   "latex": lambda: d.to_latex(standalone=args.standalone)}[args.format]()
            sys.stdout.write(out if out.endswith("\n") else out + "\n")
            return 0
        if args.command == "verify":
            names = args.names or [e.name for e in catalogue()]
            failed = False
            for name in names:
                report = _build(name, args.K).verify()
                print(report)
                failed = failed or not report.ok
            return 1 if failed else 0
    except DeriveError as exc:
        print(f"derive: error: {exc}", file=sys.stderr)
        return 2
    return 0  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
