"""The deadline holds even when a server trickles its status line and headers.

Per-read timeouts never fire while bytes keep coming, and httpx offers no hook between the
bytes of a response head. AsyncPortal therefore runs each exchange inside a cancel scope
that ends at the deadline. (Sync httpx has no such hook: ``Portal`` checks the deadline
between body chunks only; docs/reliability.md says so.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _raw_server import RawServer, TrickleHead

from portalkit import AsyncPortal, PortalRequest, RetryPolicy, errors
from portalkit.sandbox import Sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


async def test_async_create_stops_at_the_deadline_while_the_head_trickles(
    sandbox: Sandbox,
) -> None:
    customer = sandbox.customers("paddle")[0]
    # About 200 bytes of head at one byte per 50 ms: ten seconds to arrive, each read quick.
    with RawServer([TrickleHead(interval=0.05)], upstream=sandbox.url) as raw:
        provider = sandbox.provider("paddle", base_url=raw.url)
        policy = RetryPolicy(max_attempts=3, deadline=0.5, backoff_initial=0.0)
        async with AsyncPortal(provider, retry=policy) as portal:
            with pytest.raises(errors.ProviderUnavailable) as caught:
                await portal.create_link(PortalRequest(customer))
    assert "timed out" in caught.value.message
    assert "exchange was still under way at the deadline" in caught.value.message
    # The deadline, not the attempt budget, ended the call: no time was left for a retry.
    assert len(raw.requests) == 1


async def test_a_head_that_arrives_in_time_still_gives_a_link(sandbox: Sandbox) -> None:
    customer = sandbox.customers("paddle")[0]
    with RawServer([TrickleHead(interval=0.0, chunk=16)], upstream=sandbox.url) as raw:
        provider = sandbox.provider("paddle", base_url=raw.url)
        async with AsyncPortal(provider, retry=RetryPolicy(deadline=5.0)) as portal:
            link = await portal.create_link(PortalRequest(customer))
    assert link.customer_id == customer
    assert len(raw.requests) == 1
