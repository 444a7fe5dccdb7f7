"""The benchmark command's code paths (bench/, ``python -m bench``), with tiny counts, for
every registered vendor.

Only the shape of what it produces is checked -- every figure present, a row per vendor
where the figure is per vendor, numbers that parse, the docs block written between its
markers -- never a timing: speed is bench/'s business, not the test suite's.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from portalkit import available_providers, available_twins

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "in_process_calls": 3,
    "in_process_rounds": 2,
    "loopback_calls": 2,
    "loopback_rounds": 2,
    "concurrency": 4,
    "concurrent_rounds": 2,
    "import_rounds": 1,
    "memory_count": 20,
    "sandbox_calls": 3,
    "sandbox_rounds": 1,
    "sandbox_memory": (5, 10),
    "warmup": 0,
}
NUMBER = r"\d[\d,]*(?:\.\d+)?"
VENDORS = available_providers()
TWINS = [v for v in available_twins() if v in VENDORS]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    if str(ROOT) not in sys.path:  # bench/ is a folder of the repository, not a package
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("bench")


@pytest.fixture(scope="module")
def result(bench: ModuleType) -> Any:
    seen: list[str] = []
    outcome = bench.run(bench.Settings(**TINY), progress=seen.append)
    assert seen, "run() reports progress"
    return outcome


def rows(result: Any, figure: str, text: str = "") -> list[Any]:
    return [row for row in result.rows if row.figure == figure and text in row.what]


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_has_a_bench_declaration(bench: ModuleType, vendor: str) -> None:
    from bench._vendor import VendorBench, declaration

    assert isinstance(declaration(vendor), VendorBench)


def test_the_vendor_list_is_the_registrys(bench: ModuleType) -> None:
    from bench._vendor import registered

    assert registered() == VENDORS


@pytest.mark.parametrize("vendor", VENDORS)
def test_every_vendor_has_its_rows(result: Any, vendor: str) -> None:
    from bench._vendor import declaration

    mine = [row for row in result.rows if row.what.startswith(f"{vendor} ")]
    per_create = [row for row in mine if row.figure == "2"]
    servers = 2 + (vendor in TWINS)  # in-process, minimal, and the sandbox with a twin
    assert len(per_create) == servers
    sdk = declaration(vendor).sdk is not None
    assert len([row for row in mine if row.figure == "3"]) == (servers - 1) * sdk
    assert len([row for row in mine if row.figure == "4"]) == 1  # the minimal server
    assert len([row for row in mine if row.figure == "5"]) == 2 * (vendor in TWINS)
    assert len([row for row in mine if row.figure == "6"]) == 4  # 3 in-process, 1 loopback
    assert len([row for row in result.rows if row.what.startswith(f"{vendor}: ")]) == 2


def test_import_rows(result: Any) -> None:
    assert len(rows(result, "1", "every registered adapter")) == 2
    [naming] = rows(result, "1", "Portal.from_env()")
    assert f"{len(VENDORS) + 70} vendors installed / {len(VENDORS)}" in naming.what
    assert any("no fake module" in note for note in result.notes)


def test_ratio_rows_are_well_formed(result: Any) -> None:
    for row in result.rows:
        if row.figure == "M" or (row.figure == "5" and "memory" in row.what):
            continue
        assert re.fullmatch(rf"{NUMBER} (µs|ms|/s)", row.portalkit), row
        assert re.fullmatch(rf"{NUMBER} (µs|ms|/s)", row.baseline), row
        value = float(row.result)
        assert value > 0
        assert re.fullmatch(rf"{NUMBER} to {NUMBER}", row.spread), row
        assert re.fullmatch(rf"[≤≥] {NUMBER}", row.target), row
        limit = float(row.target[2:])
        assert row.met is (value <= limit if row.target[0] == "≤" else value >= limit)


def test_memory_rows_are_well_formed(result: Any) -> None:
    for row in result.rows:
        if row.figure == "5" and "memory" in row.what:
            assert re.fullmatch(rf"-?{NUMBER} B/create", row.result), row
            assert isinstance(row.met, bool)
    for vendor in VENDORS:
        held, over_time = (row for row in result.rows if row.what.startswith(f"{vendor}: "))
        assert re.fullmatch(rf"{NUMBER} MiB", held.portalkit)
        assert re.fullmatch(rf"{NUMBER} B/link", held.result)
        assert re.fullmatch(rf"-?{NUMBER} B", over_time.portalkit)
        assert re.fullmatch(rf"growth -?{NUMBER} B", over_time.result)
        assert isinstance(over_time.met, bool)


def test_both_sides_send_the_identical_request(result: Any) -> None:
    [note] = [n for n in result.notes if "same method, URL, headers and body" in n]
    for vendor in VENDORS:
        assert f"{vendor} yes" in note
    assert "NO" not in note


def test_the_report_is_written_between_markers(
    bench: ModuleType, result: Any, tmp_path: Path
) -> None:
    from bench._report import markers, write_into

    report = result.markdown(command="python -m bench", load_before=None)
    assert "| # | Measurement |" in report
    assert "Python: CPython" in report
    assert "httpx " in report
    begin, end = markers(bench.STACK)
    other_begin, other_end = markers("other")
    page = tmp_path / "performance.md"
    page.write_text(
        f"# Performance\n\nbefore\n\n{begin}\nold\n{end}\n\n{other_begin}\nkept\n{other_end}\n"
        "\nafter\n"
    )
    write_into(page, report, bench.STACK)
    write_into(page, report, bench.STACK)  # idempotent: replaces, never appends a second block
    text = page.read_text()
    assert text.count(begin) == 1
    assert "old" not in text
    assert "kept" in text  # the other stack's block is left alone
    assert text.startswith("# Performance\n\nbefore\n")
    assert text.endswith("after\n")
    assert report.strip() in text


@pytest.mark.parametrize(
    ("portalkit", "baseline", "shown", "met"),
    [
        (1.1004, 1.0, "1.100", True),  # prints 1.100: the row must not read MISSED
        (1.1006, 1.0, "1.101", False),
        (1.0, 1.0, "1.000", True),
    ],
)
def test_a_ratio_is_judged_as_the_table_prints_it(
    bench: ModuleType, portalkit: float, baseline: float, shown: str, met: bool
) -> None:
    from bench._report import ratio_row
    from bench._stats import Comparison

    comparison = Comparison(a=(portalkit,), b=(baseline,))
    row = ratio_row("4", "x", comparison, unit="ms", scale=1000, target=1.10)
    assert (row.result, row.met) == (shown, met)
