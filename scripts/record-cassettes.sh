#!/usr/bin/env bash
# Re-records the vendor cassettes (cassettes/<vendor>/*.yaml) by running the cassette tests
# (tests/test_<vendor>.py) against the portalkit sandbox over loopback HTTP -- or, for a
# vendor whose credentials are in the environment, against that vendor's own API. Then
# checks that no secret reached a cassette and that every cassette replays offline.
#
#   bash scripts/record-cassettes.sh                  every vendor with a sandbox twin
#   bash scripts/record-cassettes.sh paddle           one vendor
#   PADDLE_API_KEY=... PADDLE_TEST_CUSTOMER_ID=... PADDLE_TEST_SUBSCRIPTION_IDS=a,b,c \
#     bash scripts/record-cassettes.sh paddle         against Paddle's sandbox environment
#
# The variables per vendor are in docs/cassettes.md. Never runs in CI (CI=true).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

case "${CI:-}" in
  1 | true | TRUE | yes)
    echo "record-cassettes: refusing to record in CI (CI=$CI); cassettes are replayed there" >&2
    exit 2
    ;;
esac

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev]"
fi

# The vendor list is the registry (the portalkit.sandbox entry points), not this script.
read -r -a known <<<"$(.venv/bin/python -c \
  "from portalkit import available_twins; print(' '.join(available_twins()))")"
vendors=("$@")
[ ${#vendors[@]} -gt 0 ] || vendors=("${known[@]}")
tests=()
for vendor in "${vendors[@]}"; do
  if [[ " ${known[*]} " != *" $vendor "* ]]; then
    echo "record-cassettes: unknown vendor '$vendor' (${known[*]})" >&2
    exit 2
  fi
  mode=$(PORTALKIT_RECORD=1 PYTHONPATH=tests .venv/bin/python -c \
    "import sys; from _cassettes import vendor_mode; print(vendor_mode(sys.argv[1]))" "$vendor")
  if [ "$mode" = sandbox ]; then
    # A clean slate, so no cassette of a renamed or deleted test survives. (A live recording
    # keeps the folder: its sandbox_only tests replay their sandbox cassettes.)
    rm -f "cassettes/$vendor"/*.yaml
  fi
  echo "record-cassettes: $vendor -> $mode"
  tests+=("tests/test_$vendor.py")
done

echo "== recording"
PORTALKIT_RECORD=1 .venv/bin/python -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "== scanning the cassettes for secrets"
.venv/bin/python -m pytest -q -p no:cacheprovider tests/test_cassette_hygiene.py
echo "== replaying them with the network blocked"
PORTALKIT_RECORD= .venv/bin/python -m pytest -q -p no:cacheprovider "${tests[@]}"
echo "record-cassettes: done; review with: git diff --stat cassettes/"
