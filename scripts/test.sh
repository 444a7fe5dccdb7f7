#!/usr/bin/env bash
# Sets everything up from scratch and runs the full test suite, lint and type checks.
# This is the README's test command and what CI (.ci/run) runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
bash scripts/typecheck.sh
echo "== pytest"
.venv/bin/python -m pytest "$@"
