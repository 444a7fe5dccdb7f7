"""Write the capability tables into the docs from the adapters' declared features.

    .venv/bin/python scripts/gen_capabilities.py           # rewrite the generated blocks
    .venv/bin/python scripts/gen_capabilities.py --check   # exit 1 if a page is out of date

The blocks are the matrix in docs/capabilities.md, each vendor's list in
docs/providers/<name>.md, the webhook tables, and the sandbox's portal actions in
docs/sandbox.md (portalkit/sandbox/_docs.py). tests/test_capability_docs.py and
tests/test_sandbox_actions_doc.py run the same check, so a feature added to an adapter, or an
action to a twin, without regenerating the pages fails the test suite.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from portalkit._capability_docs import generated_pages
from portalkit.sandbox._docs import generated_sandbox_pages

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the capability tables into the docs.")
    parser.add_argument("--check", action="store_true", help="fail if a page is out of date")
    args = parser.parse_args(argv)
    stale = [
        (page, wanted)
        for page, wanted in {**generated_pages(DOCS), **generated_sandbox_pages(DOCS)}.items()
        if not page.exists() or page.read_text(encoding="utf-8") != wanted
    ]
    for page, wanted in stale:
        name = page.relative_to(DOCS.parent)
        if args.check:
            print(f"{name} is out of date: run scripts/gen_capabilities.py", file=sys.stderr)
        else:
            page.write_text(wanted, encoding="utf-8")
            print(f"{name} rewritten")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
