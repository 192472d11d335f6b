#!/usr/bin/env bash
# Set up and run every check: lint, types, the import contract and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
ruff check src tests
mypy
lint-imports
pytest "$@"
