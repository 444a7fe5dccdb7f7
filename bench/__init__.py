"""portalkit's benchmarks (issue 7): the library's own cost per mint and at import.

Run ``.venv/bin/python -m bench`` (a few minutes; ``--quick`` for a smoke run). Every figure
is a ratio of medians over repeated rounds, both sides measured in the same process against
the same server, interleaved A/B/B/A to cancel drift. See docs/performance.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from . import _concurrent, _imports, _memory, _sync
from ._fixtures import IN_PROCESS, mock_transport
from ._report import Row, environment, mib, ratio_row, table
from ._servers import serve

__all__ = ["Result", "Row", "Settings", "run"]

US = 1e6
MS = 1e3


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

    @classmethod
    def full(cls) -> Settings:
        return cls(
            in_process_calls=2000,
            in_process_rounds=15,
            loopback_calls=200,
            loopback_rounds=15,
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


@dataclass
class Result:
    settings: Settings
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self, *, command: str, load_before: tuple[float, float, float] | None) -> str:
        s = self.settings
        counts = (
            f"in-process: {s.in_process_rounds} rounds of {s.in_process_calls:,} creates per side;"
            f" loopback: {s.loopback_rounds} rounds of {s.loopback_calls:,};"
            f" concurrent: {s.concurrent_rounds} rounds of one batch of {s.concurrency:,};"
            f" imports: {s.import_rounds} processes per side;"
            f" memory: {s.memory_count:,} links / creates"
        )
        parts = [
            f"Command: `{command}` ({counts}).",
            environment(load_before),
            table(self.rows),
            "\n".join(f"- {note}" for note in self.notes),
        ]
        return "\n\n".join(parts)


def run(settings: Settings, progress: Callable[[str], None] = lambda line: None) -> Result:
    """Every figure, in order; ``progress`` hears what is being measured."""
    result = Result(settings)
    _figure_1(settings, result, progress)
    _figure_2(settings, result, progress)
    _figure_3(settings, result, progress)
    _figure_4(settings, result, progress)
    _figure_5(settings, result, progress)
    return result


def _figure_1(s: Settings, result: Result, progress: Callable[[str], None]) -> None:
    what = "Sync create: `Portal` / raw `httpx.Client.post`"
    progress("1. sync create vs raw httpx, in-process")
    identical = _sync.same_request_on_the_wire()
    comparison = _sync.portal_vs_raw(
        IN_PROCESS,
        calls=s.in_process_calls,
        rounds=s.in_process_rounds,
        transport=mock_transport(),
    )
    result.rows.append(
        ratio_row("1", f"{what}, in-process (`MockTransport`)", comparison,
                  unit="µs", scale=US, target=1.30)
    )
    for kind in ("sandbox", "minimal"):
        progress(f"1. sync create vs raw httpx, loopback {kind} server")
        with serve(kind) as target:
            comparison = _sync.portal_vs_raw(
                target, calls=s.loopback_calls, rounds=s.loopback_rounds
            )
        result.rows.append(
            ratio_row("1", f"{what}, 127.0.0.1, {kind} server", comparison,
                      unit="µs", scale=US, target=1.05)
        )
    result.notes.append(
        "Figure 1: both sides put the same method, URL, headers and body on the wire: "
        + ("yes (checked through one recording transport)." if identical else "**NO**.")
    )


def _figure_2(s: Settings, result: Result, progress: Callable[[str], None]) -> None:
    for kind in ("sandbox", "minimal"):
        progress(f"2. portalkit vs paddle-python-sdk, loopback {kind} server")
        with serve(kind) as target:
            comparison = _sync.portal_vs_sdk(
                target, calls=s.loopback_calls, rounds=s.loopback_rounds
            )
        result.rows.append(
            ratio_row("2", f"Paddle create: portalkit / `paddle-python-sdk`, 127.0.0.1, {kind} server",
                      comparison, unit="µs", scale=US, target=0.80)
        )


def _figure_3(s: Settings, result: Result, progress: Callable[[str], None]) -> None:
    what = f"{s.concurrency:,} concurrent creates: `AsyncPortal` / raw `httpx.AsyncClient`"
    for kind in ("sandbox", "minimal"):
        progress(f"3. {s.concurrency} concurrent creates, loopback {kind} server")
        with serve(kind) as target:
            comparison = _concurrent.async_portal_vs_raw(
                target, concurrency=s.concurrency, rounds=s.concurrent_rounds
            )
        result.rows.append(
            ratio_row("3", f"{what}, 127.0.0.1, {kind} server", comparison,
                      unit="ms", scale=MS, target=1.10)
        )
    progress(f"3. {s.concurrency} concurrent creates, in-process")
    comparison = _concurrent.async_portal_vs_raw(
        IN_PROCESS,
        concurrency=s.concurrency,
        rounds=s.concurrent_rounds,
        transport=mock_transport(),
    )
    result.rows.append(
        ratio_row("3", f"{what}, in-process (`MockTransport`)", comparison,
                  unit="ms", scale=MS, target=None)
    )


def _figure_4(s: Settings, result: Result, progress: Callable[[str], None]) -> None:
    progress("4. import portalkit vs import httpx, whole processes")
    times = _imports.portalkit_vs_httpx(rounds=s.import_rounds)
    what = "`import portalkit` + all adapters / `import httpx`, whole process"
    result.rows.append(ratio_row("4", f"{what}, wall time", times.wall,
                                 unit="ms", scale=MS, target=1.35))
    result.rows.append(ratio_row("4", f"{what}, CPU time", times.cpu,
                                 unit="ms", scale=MS, target=1.35))
    added = ", ".join(f"{name} {ms:.1f}" for name, ms in _imports.import_profile())
    result.notes.append(
        f"Figure 4: `python -c pass` alone takes {times.startup * MS:.1f} ms here (in both"
        f" sides). Modules portalkit's import adds on top of httpx, by their own import time"
        f" in ms (one `python -X importtime` run): {added}."
    )


def _figure_5(s: Settings, result: Result, progress: Callable[[str], None]) -> None:
    n = s.memory_count
    progress(f"5. memory: {n} links held")
    held = _memory.links_held(n)
    result.rows.append(
        Row("5", f"{n:,} `PortalLink`s held (tracemalloc)", mib(held.held), "",
            f"{held.per_link:,.0f} B/link", f"peak {mib(held.peak)}", "", None)
    )
    progress(f"5. memory: one Portal over {2 * n} creates")
    over = _memory.portal_over_time(n)
    result.rows.append(
        Row("5", f"One `Portal`: retained after {n:,} creates / after {2 * n:,}",
            f"{over.after_count:,} B", f"{over.after_twice:,} B", f"growth {over.growth:,} B",
            f"peak {mib(over.peak)}", "< 1 B/create", over.growth < n)
    )
