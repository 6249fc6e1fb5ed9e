#!/usr/bin/env bash
# Install what the test suite needs on a fresh Debian machine, then run it:
# pdflatex (texlive), chromium, nodejs and npm from Debian (apt-get, as root or with sudo), the pinned
# KaTeX and MathJax from the npm registry (tools/mathcheck), and the test extra in .venv from PyPI.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# pdflatex (with amsmath and geometry) for the LaTeX compilation tests
if ! command -v pdflatex >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    texlive-latex-base texlive-latex-recommended >/dev/null
fi

# headless Chromium, and node with the pinned KaTeX and MathJax, for tests/test_math_renders.py
if ! command -v chromium >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
fi
bash tools/mathcheck/install.sh

# the Python test extra, in a virtual environment (.venv) so that a Debian or Ubuntu system Python,
# which refuses a system-wide pip install ("externally-managed-environment"), works as well
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq python3-venv >/dev/null
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# the optional backends, so that tests/test_backends.py runs in CI (torch's CPU build; about 30 s here)
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0 jax jaxlib
# lint and types before the tests (configured in pyproject.toml; the versions are pinned in the test extra)
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
