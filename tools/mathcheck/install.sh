#!/usr/bin/env bash
# Install the pinned KaTeX and MathJax (package-lock.json) into tools/mathcheck/node_modules.
# Runs `npm ci` only when node_modules is missing or was installed from another lockfile.
# Exits non-zero if node/npm is missing or the install fails.
set -euo pipefail
here=${BASH_SOURCE[0]%/*}
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
cd "$here"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "mathcheck/install.sh: $tool not found (apt-get install nodejs npm)" >&2
    exit 1
  fi
done

stamp=node_modules/.mathcheck-lock.sha256
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -f node_modules/katex/package.json ] && [ -f node_modules/mathjax/package.json ]; then
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! npm ci --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
  echo "mathcheck/install.sh: npm ci failed:" >&2
  grep -v 'Unknown user config' "$log" >&2 || true
  exit 1
fi
echo "$want" > "$stamp"
