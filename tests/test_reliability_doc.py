"""docs/reliability.md holds for every registered vendor (issue 11: a page writes a row that
holds for every vendor once, naming no vendor list).

Two checks, both derived from the registry (``tests/_vendors.py``), never from a list:

- every test the page cites exists: ``<vendor>`` in a cited id stands for each registered
  vendor and ``{a,b}`` for each of its alternatives, and every id so expanded is one pytest
  collects (a bare ``tests/x.py::test_y``, or ``::test_y`` after one, names a test function);
- no registered vendor is named on the page (by its registry name or its twin's title)
  except in the name of a cited test function and in a link to its page under
  ``docs/providers/``: where vendors differ, a row says which feature decides it.

The fault matrix's own rows are checked against its scenarios in
``tests/test_faults.py::test_reliability_doc_names_every_scenario``.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from _vendors import VENDORS, twin

ROOT = Path(__file__).parent.parent
DOC = ROOT / "docs" / "reliability.md"

#: A cited test: `tests/x.py::test_y[params]`, or `::test_y[params]` after a full one.
_CITED = re.compile(r"(?P<path>tests/[\w/]+\.py)?::(?P<name>test_\w+)(?:\[(?P<params>[^\]]*)\])?")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_ALTERNATIVES = re.compile(r"\{([^{}]*,[^{}]*)\}")
#: A link to a vendor's own page, where naming the vendor is the point.
_VENDOR_PAGE_LINK = re.compile(r"\[[^\]]*\]\(providers/[\w-]+\.md(?:#[\w-]*)?\)")


def cited_ids(doc: str) -> Iterator[tuple[str, str, str | None]]:
    """(path, function, params or None) for each test the page cites, in page order."""
    path: str | None = None
    for span in _CODE_SPAN.findall(doc):
        match = _CITED.fullmatch(span)
        if match is None:
            continue
        path = match["path"] or path
        assert path is not None, f"{span!r} cites no file and follows no citation"
        yield path, match["name"], match["params"]


def expand(params: str) -> list[str]:
    """``params`` with ``<vendor>`` as each registered vendor and ``{a,b}`` as a and b."""
    parts = _ALTERNATIVES.split(params.replace("<vendor>", "{" + ",".join(VENDORS) + ",}"))
    # split() alternates literal text and alternative groups; a lone vendor gets the trailing
    # comma above so that it is a group too, and the empty alternative it adds is dropped.
    choices = [
        [part] if i % 2 == 0 else [alt for alt in part.split(",") if alt]
        for i, part in enumerate(parts)
    ]
    return ["".join(chosen) for chosen in itertools.product(*choices)]


def missing_ids(doc: str, collected: set[str]) -> list[str]:
    """The cited ids (expanded) that pytest does not collect."""
    functions = {node.split("[", 1)[0] for node in collected}
    missing: list[str] = []
    for path, name, params in cited_ids(doc):
        if params is None:
            if f"{path}::{name}" not in functions:
                missing.append(f"{path}::{name}")
            continue
        missing.extend(
            node
            for node in (f"{path}::{name}[{expanded}]" for expanded in expand(params))
            if node not in collected
        )
    return missing


def vendor_names(vendors: Iterable[str] = VENDORS) -> dict[str, re.Pattern[str]]:
    """Each vendor's registry name and twin title, as a whole-word pattern."""
    patterns: dict[str, re.Pattern[str]] = {}
    for vendor in vendors:
        for name in {vendor.lower(), twin(vendor).title.lower()}:
            words = r"\s+".join(re.escape(word) for word in name.split())
            patterns[name] = re.compile(rf"(?<![\w]){words}(?![\w])", re.IGNORECASE)
    return patterns


def vendors_named(doc: str) -> list[str]:
    """Lines naming a registered vendor outside a cited test's name and a vendor-page link."""
    found: list[str] = []
    patterns = vendor_names()
    for number, line in enumerate(doc.splitlines(), 1):
        text = _VENDOR_PAGE_LINK.sub("", line)
        text = re.sub(r"::test_\w+", "::", text)
        found.extend(
            f"line {number}: {name!r} in {line.strip()[:160]!r}"
            for name, pattern in patterns.items()
            if pattern.search(text)
        )
    return found


@pytest.fixture(scope="module")
def collected() -> set[str]:
    """Every node id pytest collects from the files the page cites."""
    files = sorted({path for path, _, _ in cited_ids(DOC.read_text())})
    done = subprocess.run(  # noqa: S603 -- this interpreter, pytest, the page's own test files
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return {line.strip() for line in done.stdout.splitlines() if "::" in line}


def test_every_cited_test_exists_for_every_vendor(collected: set[str]) -> None:
    doc = DOC.read_text()
    assert len(list(cited_ids(doc))) > 50, "the page cites its tests in code spans"
    assert not missing_ids(doc, collected)


def test_the_page_names_no_vendor() -> None:
    assert not vendors_named(DOC.read_text())


def test_the_checks_catch_a_vendor_list_and_a_missing_id() -> None:
    """(control) a row written per vendor, and a cited id some vendor lacks, are caught."""
    first, second = VENDORS[0], VENDORS[1]
    collected = {f"tests/test_x.py::test_y[{vendor}-sync]" for vendor in VENDORS[1:]}
    collected |= {f"tests/test_x.py::test_y[{vendor}-async]" for vendor in VENDORS}
    cited = "`tests/test_x.py::test_y[<vendor>-{sync,async}]`"
    row = f"| a fault | {twin(first).title}: 1; {second}: 2 | {cited} |"
    assert missing_ids(row, collected) == [f"tests/test_x.py::test_y[{first}-sync]"]
    assert len(vendors_named(row)) == 2
    listed = f"`tests/test_x.py::test_y[{{{first},{second}}}-async]`"
    assert not missing_ids(listed, collected)  # it exists, but it is a vendor list:
    assert vendors_named(listed)
    # The allowed places: a cited test's name, and a link to the vendor's page.
    allowed = f"`tests/test_x.py::test_{first}_only` [its page](providers/{first}.md)"
    assert not vendors_named(allowed)
    assert missing_ids(allowed, collected) == [f"tests/test_x.py::test_{first}_only"]
