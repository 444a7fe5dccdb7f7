#!/usr/bin/env bash
# The wheel is the product. Builds the sdist and, from it, the wheel; checks their metadata;
# installs the wheel into a clean virtual environment (no editable install) and, from a
# scratch directory (no checkout on sys.path), runs `portalkit demo` and a smoke test of the
# sandbox, the web helpers and the pytest plugin (scripts/wheel_smoke.py). Run by
# scripts/test.sh; needs .venv (the dev extra brings build, setuptools, wheel and twine).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dev=$root/.venv/bin/python
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== build the sdist, then the wheel from it (no build isolation: offline)"
# Into a copy of the tracked files, so the build leaves nothing behind in the checkout.
mkdir -p "$work/src" && (cd "$root" && git ls-files -z --cached --others --exclude-standard \
  | xargs -0 cp -P --parents -t "$work/src")
"$dev" -m build --no-isolation --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
sdist=$(ls "$work"/dist/*.tar.gz)
wheel=$(ls "$work"/dist/*.whl)
echo "   $(basename "$sdist")  $(basename "$wheel")"

echo "== twine check --strict"
"$dev" -m twine check --strict "$sdist" "$wheel"
"$dev" - "$wheel" "$sdist" <<'PY'
# What twine does not check: the files and entry points the package promises.
import sys, tarfile, zipfile

wheel, sdist = sys.argv[1:]
names = set(zipfile.ZipFile(wheel).namelist())
for required in (
    "portalkit/__init__.py", "portalkit/py.typed", "portalkit/providers/paddle.py",
    "portalkit/sandbox/__init__.py", "portalkit/web/starlette.py", "portalkit/testing.py",
    "portalkit/providers/paddle_webhooks.py", "portalkit/sql_event_log.py",
):
    assert required in names, f"the wheel lacks {required}"
assert not any(n.startswith(("tests/", "providers/", "bench/")) for n in names), "stray files"
info = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
entry_points = zipfile.ZipFile(wheel).read(info).decode()
for line in ("portalkit = portalkit.cli:main", "portalkit = portalkit.testing",
             "paddle = portalkit.providers.paddle:Paddle",
             "paddle = portalkit.providers.paddle_webhooks:WEBHOOKS"):
    assert line in entry_points, f"the wheel lacks the entry point {line!r}"
members = tarfile.open(sdist).getnames()
for required in ("README.md", "pyproject.toml", "providers/paddle.py", "portalkit/py.typed"):
    assert any(m.endswith("/" + required) for m in members), f"the sdist lacks {required}"
print(f"   {len(names)} files in the wheel; entry points and package data present")
PY

echo "== install the wheel into a clean venv"
"$python" -m venv "$work/venv"
pip_quiet() {  # this machine's pip configuration warns about absent local indexes: not ours
  "$work/venv/bin/python" -m pip install --quiet "$@" 2> >(grep -v "^WARNING: Location" >&2)
}
pip_quiet --upgrade pip
pip_quiet "$wheel[sandbox,web]" pytest
mkdir "$work/run"
cp "$root/scripts/wheel_smoke.py" "$work/run/test_wheel_smoke.py"
cd "$work/run"

echo "== portalkit demo (from the wheel)"
"$work/venv/bin/portalkit" demo

echo "== smoke test (from the wheel)"
# -p no:cacheprovider: nothing written; the rootdir is the scratch directory.
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider test_wheel_smoke.py
