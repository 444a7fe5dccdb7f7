"""Figure 3: a thousand creates at once through ``AsyncPortal``, against the same thousand
raw ``httpx.AsyncClient.post`` calls of the identical request.

One batch is ``asyncio.gather`` of all the creates; a round times one batch per side. Both
sides get the same kind of ``httpx.AsyncClient``: room for the whole batch at once (one
connection per create, none kept idle) and a 30 s timeout. With httpx's default pool (100
connections) a raw client queues 900 of the 1,000 inside httpx and fails them with
``PoolTimeout`` after 5 s (encode/httpx#1171); a pool holding hundreds of idle keep-alive
connections spends milliseconds per request looking through them.

``AsyncPortal`` itself hands at most ``MAX_IN_FLIGHT`` (100) requests to its client at a time
and keeps the rest waiting in portalkit. So the raw side is measured twice: handing httpx all
1,000 at once (what a hand-written ``gather`` does), and held to the same 100 in flight by an
``asyncio.Semaphore`` (the like-for-like measure of the library's own cost).
"""

from __future__ import annotations

import asyncio
import resource

from portalkit import AsyncPortal, PortalRequest, _portal
from portalkit._http import httpx

from ._fixtures import Target, raw_request
from ._stats import Comparison, ainterleave

#: AsyncPortal's own cap on requests in flight (portalkit._portal.MAX_IN_FLIGHT).
IN_FLIGHT: int = getattr(_portal, "MAX_IN_FLIGHT", 100)


def _client(concurrency: int, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport,
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


async def _compare(
    target: Target,
    *,
    concurrency: int,
    rounds: int,
    warmup: int,
    transport: httpx.AsyncBaseTransport | None,
    raw_in_flight: int | None,
) -> Comparison:
    raw = raw_request(target)
    customer_id = target.customer_id
    async with (
        _client(concurrency, transport) as portal_client,
        _client(concurrency, transport) as raw_client,
        AsyncPortal(target.provider(), http_client=portal_client) as portal,
    ):
        slots = asyncio.Semaphore(raw_in_flight or concurrency)

        async def through_portal() -> object:
            return await asyncio.gather(
                *(
                    portal.create_link(PortalRequest(customer_id=customer_id))
                    for _ in range(concurrency)
                )
            )

        async def raw_post() -> httpx.Response:
            if raw_in_flight is None:
                return await raw_client.post(raw.url, headers=raw.headers, content=raw.content)
            async with slots:
                return await raw_client.post(raw.url, headers=raw.headers, content=raw.content)

        async def raw_posts() -> object:
            return await asyncio.gather(*(raw_post() for _ in range(concurrency)))

        return await ainterleave(through_portal, raw_posts, rounds=rounds, warmup=warmup)


def async_portal_vs_raw(
    target: Target,
    *,
    concurrency: int,
    rounds: int,
    warmup: int = 1,
    transport: httpx.AsyncBaseTransport | None = None,
    raw_in_flight: int | None = None,
) -> Comparison:
    """Seconds per batch of ``concurrency`` concurrent creates, each side; the raw side
    holds itself to ``raw_in_flight`` requests at a time when given."""
    _allow_open_files(2 * concurrency + 256)
    return asyncio.run(
        _compare(
            target,
            concurrency=concurrency,
            rounds=rounds,
            warmup=warmup,
            transport=transport,
            raw_in_flight=raw_in_flight,
        )
    )
