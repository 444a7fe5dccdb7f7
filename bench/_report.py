"""The results table, the machine it ran on, and writing both into docs/performance.md."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ._stats import Comparison

PACKAGES = (
    "portalkit-billing",
    "httpx2",
    "httpcore2",
    "httpx",
    "httpcore",
    "h11",
    "attrs",
    "cattrs",
    "tenacity",
    "anyio",
    "paddle-python-sdk",
    "stripe",
    "chargebee",
    "polar-sdk",
    "requests",
    "urllib3",
    "starlette",
    "uvicorn",
    "opentelemetry-api",
    "opentelemetry-sdk",
)


def markers(stack: str) -> tuple[str, str]:
    """The results block of one HTTP stack's run (``httpx2`` or ``httpx``)."""
    return (
        f"<!-- bench:begin {stack} (written by `python -m bench` on {stack};"
        " edits inside are overwritten) -->",
        f"<!-- bench:end {stack} -->",
    )


@dataclass(frozen=True)
class Row:
    figure: str
    what: str
    portalkit: str
    baseline: str
    result: str
    spread: str
    target: str
    #: None when the row has no target (reported for information).
    met: bool | None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: ""}[self.met]


def ratio_row(
    figure: str,
    what: str,
    comparison: Comparison,
    *,
    unit: str,
    scale: float,
    target: float | None,
) -> Row:
    low, high = comparison.spread
    # Judged on the ratio as the table prints it, so a reader never sees
    # "1.100 ≤ 1.10 MISSED" from a ratio of 1.1004.
    shown = round(comparison.ratio, 3)
    return Row(
        figure=figure,
        what=what,
        portalkit=f"{comparison.median_a * scale:,.1f} {unit}",
        baseline=f"{comparison.median_b * scale:,.1f} {unit}",
        result=f"{shown:.3f}",
        spread=f"{low:.2f} to {high:.2f}",
        target="" if target is None else f"≤ {target:.2f}",
        met=None if target is None else shown <= target,
    )


def mib(size: float) -> str:
    return f"{size / 2**20:,.2f} MiB"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| # | Measurement | portalkit | baseline | ratio / value | IQR of rounds | target | |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    lines += [
        f"| {r.figure} | {r.what} | {r.portalkit} | {r.baseline} | **{r.result}** | {r.spread} "
        f"| {r.target} | {r.verdict} |"
        for r in rows
    ]
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(load_before: tuple[float, float, float] | None) -> str:
    load_now = os.getloadavg()
    lines = [
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {_cpu_model()}, {os.cpu_count()} cores; {platform.platform()}",
        "- Load average (1 min) before / after: "
        + (f"{load_before[0]:.2f} / " if load_before else "")
        + f"{load_now[0]:.2f}",
        f"- Python: {platform.python_implementation()} {sys.version.split()[0]}",
        "- Packages: " + ", ".join(f"{name} {_version(name)}" for name in PACKAGES),
    ]
    return "\n".join(lines)


def write_into(path: Path, block: str, stack: str) -> None:
    """Replace what lies between ``stack``'s markers in ``path`` with ``block`` (the markers
    are appended when the file has none)."""
    begin, end = markers(stack)
    generated = f"{begin}\n\n{block.strip()}\n\n{end}"
    text = path.read_text() if path.exists() else "# Performance\n"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + generated + tail
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    path.write_text(text)
