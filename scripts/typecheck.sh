#!/usr/bin/env bash
# mypy --strict over the package as it ships: providers/ is portalkit.providers in the wheel
# (setuptools package-dir), so lay it out that way in a scratch tree and check that.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cp -R "$root/portalkit" "$tree/portalkit"
cp -R "$root/providers" "$tree/portalkit/providers"
find "$tree" -name __pycache__ -prune -exec rm -rf {} +
cd "$tree"
"$python" -m mypy --config-file "$root/pyproject.toml" -p portalkit 2>&1 \
  | sed -e 's#^portalkit/providers/#providers/#'
exit "${PIPESTATUS[0]}"
