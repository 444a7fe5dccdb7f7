"""portalkit's benchmarks (issue 7): the library's own cost per mint and at import.

Run ``.venv/bin/python -m bench`` (a few minutes; ``--quick`` for a smoke run). Every figure
is a ratio of medians over repeated rounds, both sides measured in the same process against
the same server, interleaved A/B, B/A to cancel drift. See docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import _concurrent, _imports, _memory, _sync
from ._fixtures import IN_PROCESS, Target, mock_transport
from ._report import Row, environment, mib, ratio_row, table
from ._servers import serve

__all__ = ["Result", "Row", "Settings", "run"]

US = 1e6
MS = 1e3
#: Servers on 127.0.0.1, each in its own process: portalkit's sandbox (what the issue asks
#: for), and a minimal asyncio server whose own cost is far smaller.
SERVERS = ("sandbox", "minimal")
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
    warmup: int = 1

    @classmethod
    def full(cls) -> Settings:
        return cls(
            in_process_calls=1000,
            in_process_rounds=21,
            loopback_calls=100,
            loopback_rounds=31,
            concurrency=1000,
            concurrent_rounds=7,
            import_rounds=40,
            memory_count=10_000,
        )

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            in_process_calls=200,
            in_process_rounds=5,
            loopback_calls=30,
            loopback_rounds=5,
            concurrency=100,
            concurrent_rounds=3,
            import_rounds=6,
            memory_count=1000,
        )

    def describe(self) -> str:
        return (
            f"in-process: {self.in_process_rounds} rounds of {self.in_process_calls:,} creates"
            f" per side; loopback: {self.loopback_rounds} rounds of {self.loopback_calls:,};"
            f" concurrent: {self.concurrent_rounds} rounds of one batch of"
            f" {self.concurrency:,}; imports: {self.import_rounds} processes per side;"
            f" memory: {self.memory_count:,} links, {self.memory_count:,} + "
            f"{self.memory_count:,} creates"
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
    """Every figure; each server is started once and serves figures 1 to 3."""
    result = Result(settings)
    _in_process(settings, result, progress)
    for kind in SERVERS:
        progress(f"starting the {kind} server")
        with serve(kind) as target:
            _loopback(settings, result, progress, target)
    _imports_figure(settings, result, progress)
    _memory_figure(settings, result, progress)
    return result


SYNC = "Sync create: `Portal` / raw `httpx.Client.post`"


def _concurrent_label(settings: Settings) -> str:
    return f"{settings.concurrency:,} concurrent creates: `AsyncPortal` / raw `httpx.AsyncClient`"


def _in_process(s: Settings, result: Result, progress: Progress) -> None:
    progress("1. sync create vs raw httpx, in-process")
    identical = _sync.same_request_on_the_wire()
    result.notes.append(
        "Figure 1: both sides put the same method, URL, headers and body on the wire: "
        + ("yes (checked through one recording transport)." if identical else "**NO**.")
    )
    comparison = _sync.portal_vs_raw(
        IN_PROCESS,
        calls=s.in_process_calls,
        rounds=s.in_process_rounds,
        warmup=s.warmup,
        transport=mock_transport(),
    )
    label = f"{SYNC}, in-process (`MockTransport`)"
    result.rows.append(ratio_row("1", label, comparison, unit="µs", scale=US, target=1.30))
    progress("1. (context) sync create vs raw httpx + JSON decoding, in-process")
    comparison = _sync.portal_vs_raw(
        IN_PROCESS,
        calls=s.in_process_calls,
        rounds=s.in_process_rounds,
        warmup=s.warmup,
        transport=mock_transport(),
        decode=True,
    )
    label = "(context) `Portal` / raw post + `response.json()` + URL read, in-process"
    result.rows.append(ratio_row("1", label, comparison, unit="µs", scale=US, target=None))
    progress(f"3. {s.concurrency} concurrent creates, in-process")
    comparison = _concurrent.async_portal_vs_raw(
        IN_PROCESS,
        concurrency=s.concurrency,
        rounds=s.concurrent_rounds,
        warmup=s.warmup,
        transport=mock_transport(),
    )
    label = f"{_concurrent_label(s)}, in-process (`MockTransport`)"
    result.rows.append(ratio_row("3", label, comparison, unit="ms", scale=MS, target=None))


def _loopback(s: Settings, result: Result, progress: Progress, target: Target) -> None:
    where = f"127.0.0.1, {target.name} server"
    progress(f"1. sync create vs raw httpx, {where}")
    comparison = _sync.portal_vs_raw(
        target, calls=s.loopback_calls, rounds=s.loopback_rounds, warmup=s.warmup
    )
    result.rows.append(
        ratio_row("1", f"{SYNC}, {where}", comparison, unit="µs", scale=US, target=1.05)
    )
    progress(f"2. portalkit vs paddle-python-sdk, {where}")
    comparison = _sync.portal_vs_sdk(
        target, calls=s.loopback_calls, rounds=s.loopback_rounds, warmup=s.warmup
    )
    label = f"Paddle create: portalkit / `paddle-python-sdk`, {where}"
    result.rows.append(ratio_row("2", label, comparison, unit="µs", scale=US, target=0.80))
    for in_flight in (None, _concurrent.IN_FLIGHT):
        how = "all at once" if in_flight is None else f"{in_flight} in flight, as `AsyncPortal`"
        progress(f"3. {s.concurrency} concurrent creates, raw {how}, {where}")
        comparison = _concurrent.async_portal_vs_raw(
            target,
            concurrency=s.concurrency,
            rounds=s.concurrent_rounds,
            warmup=s.warmup,
            raw_in_flight=in_flight,
        )
        label = f"{_concurrent_label(s)} (raw: {how}), {where}"
        result.rows.append(ratio_row("3", label, comparison, unit="ms", scale=MS, target=1.10))


def _imports_figure(s: Settings, result: Result, progress: Progress) -> None:
    progress("4. import portalkit vs import httpx, whole processes")
    times = _imports.portalkit_vs_httpx(rounds=s.import_rounds, warmup=s.warmup + 1)
    what = "`import portalkit` + all adapters / `import httpx`, whole process"
    for clock, comparison in (("wall", times.wall), ("CPU", times.cpu)):
        result.rows.append(
            ratio_row("4", f"{what}, {clock} time", comparison, unit="ms", scale=MS, target=1.35)
        )
    added = ", ".join(f"{name} {ms:.1f}" for name, ms in _imports.import_profile())
    result.notes.append(
        f"Figure 4: `python -c pass` alone takes {times.startup * MS:.1f} ms here (in both"
        " sides). The modules portalkit's import adds on top of httpx, by their own import"
        f" time in ms (one `python -X importtime` run): {added}."
    )


def _memory_figure(s: Settings, result: Result, progress: Progress) -> None:
    n = s.memory_count
    progress(f"5. memory: {n} links held")
    held = _memory.links_held(n)
    result.rows.append(
        Row(
            figure="5",
            what=f"{n:,} `PortalLink`s held (tracemalloc)",
            portalkit=mib(held.held),
            baseline="",
            result=f"{held.per_link:,.0f} B/link",
            spread=f"peak {mib(held.peak)}",
            target="",
            met=None,
        )
    )
    progress(f"5. memory: one Portal over {2 * n} creates")
    over = _memory.portal_over_time(n)
    result.rows.append(
        Row(
            figure="5",
            what=f"One `Portal`: still allocated after {n:,} creates / after {2 * n:,}",
            portalkit=f"{over.after_count:,} B",
            baseline=f"{over.after_twice:,} B",
            result=f"growth {over.growth:,} B",
            spread=f"peak {mib(over.peak)}",
            target=f"< {GROWTH_PER_CREATE} B/create",
            met=over.growth < GROWTH_PER_CREATE * n,
        )
    )
