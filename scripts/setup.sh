#!/usr/bin/env bash
# Create .venv (if missing) and install tokenmall with its dev extras from this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# The anchoring contract's pinned compiler (contracts/package.json), for the test that
# recompiles it; without npm that test is skipped outside CI.
if command -v npm >/dev/null 2>&1; then
  (cd contracts && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || echo "warning: npm ci in contracts/ failed; the contract's build test will skip" >&2
fi
