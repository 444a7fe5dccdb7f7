"""Interleaved A/B timing: both sides in one process, against one server, round by round.

Each round times a batch of calls of side A and a batch of side B back to back, alternating
which goes first (A/B, B/A, ...), so slow drift of the machine (another process waking up,
CPU frequency, a warming cache) falls on both sides alike. A figure is the ratio of the two
sides' medians over the rounds; the spread of the per-round ratios says how far to trust it.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """Seconds per operation of side ``a`` (portalkit) and side ``b`` (the baseline), one
    value per round."""

    a: tuple[float, ...]
    b: tuple[float, ...]

    @property
    def median_a(self) -> float:
        return statistics.median(self.a)

    @property
    def median_b(self) -> float:
        return statistics.median(self.b)

    @property
    def ratio(self) -> float:
        return self.median_a / self.median_b

    @property
    def round_ratios(self) -> tuple[float, ...]:
        return tuple(a / b for a, b in zip(self.a, self.b, strict=True))

    @property
    def spread(self) -> tuple[float, float]:
        """The 25th and 75th percentile of the per-round ratios (both the one ratio when
        there are fewer than two rounds)."""
        ratios = sorted(self.round_ratios)
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        quartiles = statistics.quantiles(ratios, n=4, method="inclusive")
        return quartiles[0], quartiles[2]


def settle() -> None:
    """Collect, then move everything still alive into the permanent generation
    (``gc.freeze``): each batch's ``gc.collect()`` then walks only what was made since, not
    the hundreds of thousands of objects the SDK modules bring (0.2 s per collection here),
    which would otherwise dominate a short batch's set-up."""
    gc.collect()
    gc.freeze()


def _time_batch(operation: Callable[[], object], calls: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        operation()
    return (time.perf_counter() - start) / calls


def interleave(
    a: Callable[[], object],
    b: Callable[[], object],
    *,
    calls: int,
    rounds: int,
    warmup: int = 1,
) -> Comparison:
    """Time ``calls`` calls of ``a`` and of ``b`` per round, alternating the order."""
    settle()
    for _ in range(warmup):
        _time_batch(a, calls)
        _time_batch(b, calls)
    times_a: list[float] = []
    times_b: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            times_a.append(_time_batch(a, calls))
            times_b.append(_time_batch(b, calls))
        else:
            times_b.append(_time_batch(b, calls))
            times_a.append(_time_batch(a, calls))
    return Comparison(tuple(times_a), tuple(times_b))


async def _atime_batch(operation: Callable[[], Awaitable[object]]) -> float:
    gc.collect()
    start = time.perf_counter()
    await operation()
    return time.perf_counter() - start


async def ainterleave(
    a: Callable[[], Awaitable[object]],
    b: Callable[[], Awaitable[object]],
    *,
    rounds: int,
    warmup: int = 1,
) -> Comparison:
    """``interleave`` for coroutines: each side's operation is one whole batch (for example
    a thousand concurrent creates), timed once per round."""
    settle()
    for _ in range(warmup):
        await _atime_batch(a)
        await _atime_batch(b)
    times_a: list[float] = []
    times_b: list[float] = []
    for index in range(rounds):
        if index % 2 == 0:
            times_a.append(await _atime_batch(a))
            times_b.append(await _atime_batch(b))
        else:
            times_b.append(await _atime_batch(b))
            times_a.append(await _atime_batch(a))
    return Comparison(tuple(times_a), tuple(times_b))
