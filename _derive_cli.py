"""The ``derive`` console script: Ctrl-C is handled before the package (and SymPy) is imported.

This module lies outside the derive package on purpose: importing ``derive.cli`` imports
SymPy first, which takes a second or more, and a Ctrl-C in that second would otherwise
print a traceback instead of ``derive: interrupted``.
"""
import sys

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as derive.cli


def main() -> int:
    """Import the command line and run it; exit 130 on a Ctrl-C at any moment."""
    try:
        from derive.cli import main as run
    except KeyboardInterrupt:
        if sys.stderr is not None:
            print("derive: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
