#!/usr/bin/env bash
# The benchmarks on both HTTP stacks (docs/performance.md): httpx2 in .venv, then httpx 0.28
# alone in .venv-httpx (built here as scripts/test.sh builds it, when missing). Each run
# rewrites its own results block in docs/performance.md. Arguments go to both runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || { "$python" -m venv .venv && .venv/bin/python -m pip install -q -e ".[dev]"; }
if [ ! -x .venv-httpx/bin/python ]; then
  "$python" -m venv .venv-httpx
  .venv-httpx/bin/python -m pip install --quiet -e ".[dev]"
  .venv-httpx/bin/python -m pip uninstall --quiet --yes httpx2 httpcore2
fi
echo "== python -m bench on httpx2 (.venv)"
.venv/bin/python -m bench "$@"
echo "== python -m bench on httpx (.venv-httpx)"
.venv-httpx/bin/python -m bench "$@"
