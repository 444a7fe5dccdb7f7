"""The benchmark command's code paths (bench/, ``python -m bench``), with tiny counts.

Only the shape of what it produces is checked -- every figure present, numbers that parse,
the docs block written between its markers -- never a timing: speed is bench/'s business,
not the test suite's.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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
    "warmup": 0,
}
NUMBER = r"\d[\d,]*(?:\.\d+)?"


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


def test_every_figure_has_rows(result: Any) -> None:
    figures = [row.figure for row in result.rows]
    assert sorted(set(figures)) == ["1", "2", "3", "4", "5"]
    # 1: in-process, context, sandbox, minimal; 2: per server; 3: in-process, and per
    # server with the raw side all at once and capped like AsyncPortal.
    assert figures.count("1") == 4
    assert figures.count("2") == 2
    assert figures.count("3") == 5
    assert figures.count("4") == 2
    assert figures.count("5") == 2


def test_ratio_rows_are_well_formed(result: Any) -> None:
    for row in result.rows:
        if row.figure == "5":
            continue
        assert re.fullmatch(rf"{NUMBER} (µs|ms)", row.portalkit), row
        assert re.fullmatch(rf"{NUMBER} (µs|ms)", row.baseline), row
        ratio = float(row.result)
        assert ratio > 0
        assert re.fullmatch(rf"{NUMBER} to {NUMBER}", row.spread), row
        if row.target:
            assert re.fullmatch(rf"≤ {NUMBER}", row.target), row
            assert row.met is (ratio <= float(row.target.removeprefix("≤ ")))
        else:
            assert row.met is None
            assert row.what.startswith("(context)") or "in-process" in row.what


def test_memory_rows_are_well_formed(result: Any) -> None:
    held, over_time = (row for row in result.rows if row.figure == "5")
    assert re.fullmatch(rf"{NUMBER} MiB", held.portalkit)
    assert re.fullmatch(rf"{NUMBER} B/link", held.result)
    assert re.fullmatch(rf"-?{NUMBER} B", over_time.portalkit)
    assert re.fullmatch(rf"growth -?{NUMBER} B", over_time.result)
    assert isinstance(over_time.met, bool)


def test_both_sides_send_the_identical_request(result: Any) -> None:
    assert any("same method, URL, headers and body" in n and "yes" in n for n in result.notes)


def test_the_report_is_written_between_markers(
    bench: ModuleType, result: Any, tmp_path: Path
) -> None:
    from bench._report import BEGIN, END, write_into

    report = result.markdown(command="python -m bench", load_before=None)
    assert "| # | Measurement |" in report
    assert "Python: CPython" in report
    assert "httpx " in report
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    write_into(page, report)
    write_into(page, report)  # idempotent: replaces, never appends a second block
    text = page.read_text()
    assert text.count(BEGIN) == 1
    assert "old" not in text
    assert text.startswith("# Performance\n\nbefore\n")
    assert text.endswith("after\n")
    assert report.strip() in text
