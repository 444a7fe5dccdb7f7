#!/usr/bin/env bash
# Sets up a virtual environment and runs the project's main job, `portalkit demo`: mints a
# portal link with each vendor adapter against the embedded sandbox. No credentials, no network.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[sandbox]"
exec .venv/bin/portalkit demo "$@"
