"""portalkit's benchmarks (issues 7 and 17): the library's own cost per mint and at import,
for every registered vendor.

Run ``.venv/bin/python -m bench`` (about 10 minutes; ``--quick`` for a smoke run). The vendor
list is the registry's (``portalkit.providers`` entry points); what the bench needs to know
about a vendor is declared in its test module, ``tests/test_<vendor>.py`` (``BENCH``; see
``bench._vendor``). Every figure is a ratio of medians over repeated rounds, both sides
measured in the same process against the same server, interleaved A/B, B/A to cancel drift.
See docs/performance.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from portalkit._http import httpx as _stack

from . import _concurrent, _imports, _memory, _naming, _sandbox, _sync
from ._report import Row, environment, mib, ratio_row, table
from ._servers import ROOT, Server, serve
from ._stats import Comparison
from ._vendor import Target, declaration, in_process, registered, same_request_on_the_wire

__all__ = ["Result", "Row", "Settings", "run"]

US = 1e6
MS = 1e3
#: The HTTP stack this run measures portalkit on (portalkit._http): httpx2, or httpx.
STACK = _stack.__name__
#: A leak of even one small object per create would leave 32 bytes or more per create;
#: allocator and interpreter caches move the total by a few KiB either way.
GROWTH_PER_CREATE = 8


@dataclass(frozen=True)
class Settings:
    """How much to measure: calls per round and rounds, per kind of figure."""

    in_process_calls: int
    in_process_rounds: int
    loopback_calls: int
    loopback_rounds: int
    concurrency: int
    concurrent_rounds: int
    import_rounds: int
    memory_count: int
    sandbox_calls: int
    sandbox_rounds: int
    sandbox_memory: tuple[int, int]
    warmup: int = 1

    @classmethod
    def full(cls) -> Settings:
        return cls(
            in_process_calls=500,
            in_process_rounds=11,
            loopback_calls=60,
            loopback_rounds=11,
            concurrency=1000,
            concurrent_rounds=3,
            import_rounds=20,
            memory_count=3000,
            sandbox_calls=1500,  # 300 left the bare endpoint at 6 to 11 CPU ticks a round
            sandbox_rounds=3,
            sandbox_memory=(10_000, 100_000),
        )

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            in_process_calls=100,
            in_process_rounds=3,
            loopback_calls=20,
            loopback_rounds=3,
            concurrency=100,
            concurrent_rounds=2,
            import_rounds=4,
            memory_count=500,
            sandbox_calls=50,
            sandbox_rounds=2,
            sandbox_memory=(500, 2000),
        )

    def describe(self) -> str:
        first, total = self.sandbox_memory
        return (
            f"per vendor: in-process {self.in_process_rounds} rounds of"
            f" {self.in_process_calls:,} creates per side; loopback {self.loopback_rounds}"
            f" rounds of {self.loopback_calls:,}; concurrent {self.concurrent_rounds} rounds"
            f" of one batch of {self.concurrency:,}; sandbox throughput {self.sandbox_rounds}"
            f" rounds of {self.sandbox_calls:,}; sandbox memory after {first:,} and"
            f" {total:,} creates; portalkit memory {self.memory_count:,} links and"
            f" {self.memory_count:,} + {self.memory_count:,} creates; imports:"
            f" {self.import_rounds} processes per side"
        )


@dataclass
class Result:
    settings: Settings
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self, *, command: str, load_before: tuple[float, float, float] | None) -> str:
        rows = sorted(self.rows, key=lambda row: row.figure)  # stable: measured order within
        return "\n\n".join(
            [
                f"Command: `{command}` ({self.settings.describe()}).",
                environment(load_before),
                table(rows),
                "\n".join(f"- {note}" for note in self.notes),
            ]
        )


Progress = Callable[[str], None]


def run(settings: Settings, progress: Progress = lambda line: None) -> Result:
    """Every figure, for every registered vendor."""
    result = Result(settings)
    names = registered()
    result.notes.append(f"Stack: portalkit on {STACK}. Vendors (the registry): {', '.join(names)}.")
    for vendor in names:
        declaration(vendor)  # a registered vendor without a declaration stops the run here
    _wire(result, names)
    _in_process(settings, result, progress, names)
    progress("starting the minimal server")
    with serve("minimal") as minimal:
        _loopback(settings, result, progress, minimal, names)
    progress("starting the sandbox server")
    with serve("sandbox") as sandbox:
        missing = [v for v in names if v not in sandbox.targets]
        if missing:
            result.notes.append(
                "No sandbox twin registered (yet) for: "
                + ", ".join(missing)
                + "; their sandbox rows appear once a twin is."
            )
        _loopback(settings, result, progress, sandbox, names)
        with serve("starlette") as bare:
            _sandbox_throughput(settings, result, progress, sandbox, bare)
        _sandbox_memory(settings, result, progress, sandbox)
    _imports_figure(settings, result, progress)
    _naming_figure(settings, result, progress)
    _tracing_figure(settings, result, progress)
    _memory_figure(settings, result, progress, names)
    return result


def _wire(result: Result, names: list[str]) -> None:
    verdicts = []
    for vendor in names:
        same, why = same_request_on_the_wire(vendor)
        verdicts.append(f"{vendor} {'yes' if same else '**NO** (' + why + ')'}")
    result.notes.append(
        "Figure 2: portalkit and the raw recipe put the same method, URL, headers and body"
        " on the wire (checked through one recording transport; idempotency keys and"
        " signatures by name): " + ", ".join(verdicts) + "."
    )


PER_CREATE = "create: `Portal` / raw `httpx.Client` recipe"


def _in_process(s: Settings, result: Result, progress: Progress, names: list[str]) -> None:
    for vendor in names:
        progress(f"2. {vendor}: sync create vs raw, in-process")
        comparison = _sync.portal_vs_raw(
            in_process(vendor),
            calls=s.in_process_calls,
            rounds=s.in_process_rounds,
            warmup=s.warmup,
            in_process=True,
        )
        label = f"{vendor} {PER_CREATE}, in-process (`MockTransport`)"
        result.rows.append(ratio_row("2", label, comparison, unit="µs", scale=US, target=1.30))


def _loopback(
    s: Settings, result: Result, progress: Progress, server: Server, names: list[str]
) -> None:
    where = f"127.0.0.1, {server.kind} server"
    for vendor in names:
        target = server.targets.get(vendor)
        if target is None:
            continue
        progress(f"2. {vendor}: sync create vs raw, {where}")
        comparison = _sync.portal_vs_raw(
            target, calls=s.loopback_calls, rounds=s.loopback_rounds, warmup=s.warmup
        )
        label = f"{vendor} {PER_CREATE}, {where}"
        result.rows.append(ratio_row("2", label, comparison, unit="µs", scale=US, target=1.05))
        if target.bench.sdk is not None:
            progress(f"3. {vendor}: portalkit vs {target.bench.sdk_name}, {where}")
            comparison = _sync.portal_vs_sdk(
                target, calls=s.loopback_calls, rounds=s.loopback_rounds, warmup=s.warmup
            )
            label = f"{vendor} create: portalkit / `{target.bench.sdk_name}`, {where}"
            result.rows.append(ratio_row("3", label, comparison, unit="µs", scale=US, target=0.80))
        if server.kind != "minimal":
            continue  # against the sandbox a batch measures the server, and costs a minute
        progress(f"4. {vendor}: {s.concurrency} concurrent creates, {where}")
        comparison = _concurrent.async_portal_vs_raw(
            target, concurrency=s.concurrency, rounds=s.concurrent_rounds, warmup=s.warmup
        )
        label = (
            f"{vendor} {s.concurrency:,} concurrent creates: `AsyncPortal` / raw"
            f" `httpx.AsyncClient` recipe, {_concurrent.IN_FLIGHT} in flight each, {where}"
        )
        result.rows.append(ratio_row("4", label, comparison, unit="ms", scale=MS, target=1.10))


def _sandbox_throughput(
    s: Settings, result: Result, progress: Progress, sandbox: Server, bare: Server
) -> None:
    progress("5. sandbox throughput (server CPU per create) vs a bare Starlette endpoint")
    found = _sandbox.throughput(sandbox, bare, calls=s.sandbox_calls, rounds=s.sandbox_rounds)
    for vendor, comparison in found.items():
        speed = round(1 / comparison.ratio, 3)  # judged as the table prints it
        low, high = comparison.spread
        result.rows.append(
            Row(
                figure="5",
                what=f"{vendor} sandbox twin: creates/s of one core / bare Starlette JSON"
                " endpoint, same uvicorn set-up (server CPU time)",
                portalkit=f"{1 / comparison.median_a:,.0f} /s",
                baseline=f"{1 / comparison.median_b:,.0f} /s",
                result=f"{speed:.3f}",
                spread=f"{1 / high:.2f} to {1 / low:.2f}",
                target="≥ 0.50",
                met=speed >= 0.5,
            )
        )


def _sandbox_memory(s: Settings, result: Result, progress: Progress, sandbox: Server) -> None:
    first, total = s.sandbox_memory
    for vendor, target in sandbox.targets.items():
        progress(f"5. {vendor}: sandbox memory after {first} and {total} creates (ASGI)")
        found = _sandbox.sandbox_memory(vendor, target, first=first, total=total)
        result.rows.append(
            Row(
                figure="5",
                what=f"{vendor} sandbox twin: resident memory after {first:,} creates / after"
                f" {total:,} (in-process ASGI)",
                portalkit=mib(found.after_first),
                baseline=mib(found.after_total),
                result=f"{found.per_create:,.0f} B/create",
                spread="",
                target=f"< {GROWTH_PER_CREATE} B/create",
                met=found.per_create < GROWTH_PER_CREATE,
            )
        )


def _imports_figure(s: Settings, result: Result, progress: Progress) -> None:
    progress(f"1. import portalkit + every adapter vs import {STACK}, whole processes")
    times = _imports.portalkit_vs_httpx(rounds=s.import_rounds, warmup=s.warmup + 1)
    what = f"`import portalkit` + every registered adapter / `import {STACK}`, whole process"
    for clock, comparison in (("wall", times.wall), ("CPU", times.cpu)):
        result.rows.append(
            ratio_row("1", f"{what}, {clock} time", comparison, unit="ms", scale=MS, target=1.35)
        )
    added = ", ".join(f"{name} {ms:.1f}" for name, ms in _imports.import_profile())
    result.notes.append(
        f"Figure 1: `python -c pass` alone takes {times.startup * MS:.1f} ms here (in both"
        f" sides). The modules portalkit's import adds on top of {STACK}, by their own import"
        f" time in ms (one `python -X importtime` run): {added}."
    )


def _naming_figure(s: Settings, result: Result, progress: Progress) -> None:
    progress(f"1. naming one vendor with {_naming.FAKES} more installed")
    found = _naming.naming_one_vendor(rounds=s.import_rounds, warmup=s.warmup)
    few, many = found.installed
    result.rows.append(
        ratio_row(
            "1",
            f"First `Portal.from_env()` naming {found.vendor}, fresh process: {many} vendors"
            f" installed / {few}",
            found.comparison,
            unit="ms",
            scale=MS,
            target=1.05,
        )
    )
    result.notes.append(
        f"Figure 1: with {many} vendors installed ({_naming.FAKES} fakes, each its own"
        " distribution, whose modules do not exist), naming one imported only"
        f" {', '.join(found.adapters)} and no fake module, checked in every sample."
    )


def _tracing_figure(s: Settings, result: Result, progress: Progress) -> None:
    progress("6. telemetry hooks: absent, unconfigured, traced (own process)")
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench._tracing",
            str(s.in_process_calls),
            str(s.in_process_rounds),
            str(s.warmup),
            str(s.loopback_calls),
            str(s.loopback_rounds),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(child.stdout)
    labels = {
        "absent": ("OpenTelemetry absent", 1.02),
        "unconfigured": ("OpenTelemetry imported, no provider", 1.02),
        "traced": ("`TracerProvider` + exporter that drops spans", 1.10),
        "traced-loopback": ("`TracerProvider` + exporter that drops spans", 1.10),
    }
    for mode, by_vendor in found.items():
        what, target = labels[mode]
        where = "127.0.0.1, minimal server" if mode.endswith("loopback") else "in-process"
        for vendor, (a, b) in by_vendor.items():
            result.rows.append(
                ratio_row(
                    "6",
                    f"{vendor} create, {where}, {what}: `Portal` / `Portal` without hooks",
                    Comparison(tuple(a), tuple(b)),
                    unit="µs",
                    scale=US,
                    target=target,
                )
            )


def _memory_figure(s: Settings, result: Result, progress: Progress, names: list[str]) -> None:
    n = s.memory_count
    for vendor in names:
        target: Target = in_process(vendor)
        progress(f"M. {vendor}: memory, {n} links held, one Portal over {2 * n} creates")
        held = _memory.links_held(target, n)
        result.rows.append(
            Row(
                figure="M",
                what=f"{vendor}: {n:,} `PortalLink`s held (tracemalloc)",
                portalkit=mib(held.held),
                baseline="",
                result=f"{held.per_link:,.0f} B/link",
                spread=f"peak {mib(held.peak)}",
                target="",
                met=None,
            )
        )
        over = _memory.portal_over_time(target, n)
        result.rows.append(
            Row(
                figure="M",
                what=f"{vendor}: one `Portal`, still allocated after {n:,} creates / after"
                f" {2 * n:,}",
                portalkit=f"{over.after_count:,} B",
                baseline=f"{over.after_twice:,} B",
                result=f"growth {over.growth:,} B",
                spread=f"peak {mib(over.peak)}",
                target=f"< {GROWTH_PER_CREATE} B/create",
                met=over.growth < GROWTH_PER_CREATE * n,
            )
        )
