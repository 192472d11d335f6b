#!/usr/bin/env bash
# Set up and run the demo: the seed's worked example through the economy engine, then the
# living demo mall (tokenmall demo) served at http://127.0.0.1:8000 until Ctrl+C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. .venv/bin/activate
tokenmall economy table --every 10
echo
echo "Replaying examples/seed.jsonl (tokenmall economy replay --preset seed --final):"
tokenmall economy replay examples/seed.jsonl --preset seed --final
echo
exec tokenmall demo "$@"
