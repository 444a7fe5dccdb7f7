"""A thousand creates at once through ``AsyncPortal``, against the same thousand raw creates
(the vendor's raw recipe) through ``httpx.AsyncClient``, held to the same requests in flight.

One batch is ``asyncio.gather`` of all the creates; a round times one batch per side. Both
sides get the same kind of ``httpx.AsyncClient``: room for the whole batch at once (one
connection per create, none kept idle) and a 30 s timeout. ``AsyncPortal`` hands at most
``MAX_IN_FLIGHT`` (100) requests to its client at a time and keeps the rest waiting in
portalkit; the raw side holds itself to the same number with an ``asyncio.Semaphore``. (A
raw client handed all 1,000 at once is slower than both: httpcore's pool walks its whole
queue whenever a request enters or leaves it; see docs/performance.md.)
"""

from __future__ import annotations

import asyncio
import resource

from portalkit import AsyncPortal, _portal
from portalkit._http import httpx

from ._stats import Comparison, ainterleave
from ._vendor import Target, recipe

#: AsyncPortal's own cap on requests in flight (portalkit._portal.MAX_IN_FLIGHT).
IN_FLIGHT: int = getattr(_portal, "MAX_IN_FLIGHT", 100)


def _client(concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=0),
        timeout=httpx.Timeout(30.0),
    )


def _allow_open_files(count: int) -> None:
    """A thousand sockets at once can pass a 1,024-file soft limit: raise it (within the
    hard limit), as a server operator would."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = count if hard == resource.RLIM_INFINITY else min(count, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _compare(target: Target, *, concurrency: int, rounds: int, warmup: int) -> Comparison:
    raw = recipe(target)
    async with (
        _client(concurrency) as portal_client,
        _client(concurrency) as raw_client,
        AsyncPortal(target.provider(), http_client=portal_client) as portal,
    ):
        slots = asyncio.Semaphore(IN_FLIGHT)
        raw_create = raw.asynchronous(raw_client)
        request = target.portal_request

        async def through_portal() -> object:
            return await asyncio.gather(
                *(portal.create_link(request()) for _ in range(concurrency))
            )

        async def raw_one() -> str:
            async with slots:
                return await raw_create()

        async def raw_batch() -> object:
            return await asyncio.gather(*(raw_one() for _ in range(concurrency)))

        return await ainterleave(through_portal, raw_batch, rounds=rounds, warmup=warmup)


def async_portal_vs_raw(
    target: Target, *, concurrency: int, rounds: int, warmup: int = 1
) -> Comparison:
    """Seconds per batch of ``concurrency`` concurrent creates, each side."""
    _allow_open_files(2 * concurrency + 256)
    return asyncio.run(_compare(target, concurrency=concurrency, rounds=rounds, warmup=warmup))
