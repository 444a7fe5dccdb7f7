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

# The browser test (tests/test_browser.py) drives Debian's Chromium through Playwright; it
# never downloads a browser of its own. Install it when missing and we may; else say how.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== apt-get install chromium (for the browser test)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser test needs Debian's Chromium at /usr/bin/chromium;" \
      "install it first: sudo apt-get update && sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi

# The event log's test (tests/test_event_log.py) starts its own PostgreSQL server from
# Debian's binaries (/usr/lib/postgresql/<version>/bin); nothing is started here. Install
# them when missing and we may; else say how.
if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "== apt-get install postgresql (for the event log's test)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
  else
    echo "error: the event log's test needs Debian's PostgreSQL in /usr/lib/postgresql;" \
      "install it first: sudo apt-get update && sudo apt-get install -y postgresql" >&2
    exit 1
  fi
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict"
bash scripts/typecheck.sh
# One pytest worker per core (pytest-xdist); PYTEST_WORKERS=0 runs the suite in one process.
workers=(-n "${PYTEST_WORKERS:-auto}")
echo "== pytest (httpx2, portalkit's stack; httpx 0.28 clients as an app's own)"
.venv/bin/python -m pytest "${workers[@]}" "$@"

# The whole suite again where only httpx 0.28 is installed: portalkit falls back to it
# (portalkit/_http.py), and the cassettes replay through vcrpy's httpx patch.
echo "== pytest again under httpx alone (.venv-httpx: httpx2 and httpcore2 uninstalled)"
[ -x .venv-httpx/bin/python ] || "$python" -m venv .venv-httpx
.venv-httpx/bin/python -m pip install --quiet --upgrade pip
.venv-httpx/bin/python -m pip install --quiet -e ".[dev]"
.venv-httpx/bin/python -m pip uninstall --quiet --yes httpx2 httpcore2
PORTALKIT_EXPECT_STACK=httpx .venv-httpx/bin/python -m pytest "${workers[@]}" "$@"
echo "== the wheel: build, check, install into a clean venv, demo and smoke test from it"
bash scripts/wheel-check.sh

echo "== docs (mkdocs build --strict)"
# Not --quiet: it hides the warnings that --strict counts, and the build then passes.
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict
