"""Figure 3: a thousand creates at once through ``AsyncPortal``, against the same thousand
raw ``httpx.AsyncClient.post`` calls of the identical request.

Both sides get an ``httpx.AsyncClient`` with httpx's default pool (100 connections), so the
pool, not the library, decides how many requests are on the wire at a time. One batch is
``asyncio.gather`` of all the creates; a round times one batch per side.
"""

from __future__ import annotations

import asyncio

import httpx

from portalkit import AsyncPortal, PortalRequest

from ._fixtures import Target, raw_request
from ._stats import Comparison, ainterleave


async def _compare(
    target: Target, *, concurrency: int, rounds: int, transport: httpx.AsyncBaseTransport | None
) -> Comparison:
    raw = raw_request(target)
    customer_id = target.customer_id
    async with (
        httpx.AsyncClient(transport=transport) as portal_client,
        httpx.AsyncClient(transport=transport) as raw_client,
        AsyncPortal(target.provider(), http_client=portal_client) as portal,
    ):

        async def through_portal() -> object:
            return await asyncio.gather(
                *(
                    portal.create_link(PortalRequest(customer_id=customer_id))
                    for _ in range(concurrency)
                )
            )

        async def raw_posts() -> object:
            return await asyncio.gather(
                *(
                    raw_client.post(raw.url, headers=raw.headers, content=raw.content)
                    for _ in range(concurrency)
                )
            )

        return await ainterleave(through_portal, raw_posts, rounds=rounds)


def async_portal_vs_raw(
    target: Target,
    *,
    concurrency: int,
    rounds: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Comparison:
    """Seconds per batch of ``concurrency`` concurrent creates, each side."""
    return asyncio.run(
        _compare(target, concurrency=concurrency, rounds=rounds, transport=transport)
    )
