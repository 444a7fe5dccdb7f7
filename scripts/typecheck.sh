#!/usr/bin/env bash
# mypy --strict over the package as it ships: portalkit/providers is a symlink to the
# top-level providers/ folder, so `-p portalkit` checks the adapters as portalkit.providers.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
cd "$root"
exec "$python" -m mypy --config-file pyproject.toml -p portalkit
