"""Issue 10, item 5: the sync deadline holds for the whole exchange.

A raw socket server (tests/_raw_server.py) sends the sandbox's answer back with its status
line and headers one byte a second. Per-read timeouts never fire; before this item the sync
``Portal`` stayed blocked for as long as the server liked. Now its own client runs on
``deadline_transport``, so the call ends by the deadline plus a second -- as ``AsyncPortal``
already did -- and a caller's client built on ``portalkit.deadline_transport()`` does too.
These bound the wait, they do not time the work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from _raw_server import RawServer, TrickleHead
from _vendors import VENDORS

from portalkit import AsyncPortal, Portal, PortalRequest, RetryPolicy, deadline_transport, errors
from portalkit._portal import httpx  # the stack Portal runs on (httpx, or httpx2)
from portalkit.sandbox import Sandbox

DEADLINE = 2.0
SLACK = 1.0
ONE_BYTE_A_SECOND = TrickleHead(interval=1.0)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


def _request(sandbox: Sandbox, vendor: str) -> PortalRequest:
    return PortalRequest(sandbox.customers(vendor)[0], return_url="https://app.example.com/a")


def _policy() -> RetryPolicy:
    return RetryPolicy(max_attempts=3, deadline=DEADLINE, backoff_initial=0.0)


@pytest.mark.parametrize("vendor", VENDORS)
def test_sync_portal_stops_at_the_deadline_while_the_head_trickles(
    sandbox: Sandbox, vendor: str
) -> None:
    with RawServer([ONE_BYTE_A_SECOND], upstream=sandbox.url, lifetime=20) as raw:
        provider = sandbox.provider(vendor, base_url=raw.url)
        with Portal(provider, retry=_policy()) as portal:  # portalkit's own client
            started = time.monotonic()
            with pytest.raises(errors.ProviderUnavailable) as caught:
                portal.create_link(_request(sandbox, vendor))
            elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + SLACK, f"ended {elapsed:.1f}s after the start"
    assert "timed out" in caught.value.message
    assert len(raw.requests) == 1  # the deadline, not the attempt budget, ended it


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_callers_client_on_deadline_transport_gets_the_same_guarantee(
    sandbox: Sandbox, vendor: str
) -> None:
    with RawServer([ONE_BYTE_A_SECOND], upstream=sandbox.url, lifetime=20) as raw:
        provider = sandbox.provider(vendor, base_url=raw.url)
        client = httpx.Client(transport=deadline_transport(), timeout=30.0)
        with client, Portal(provider, http_client=client, retry=_policy()) as portal:
            started = time.monotonic()
            with pytest.raises(errors.ProviderUnavailable):
                portal.create_link(_request(sandbox, vendor))
            elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + SLACK, f"ended {elapsed:.1f}s after the start"


@pytest.mark.parametrize("vendor", VENDORS)
def test_async_portal_stops_at_the_deadline_while_the_head_trickles(
    sandbox: Sandbox, vendor: str
) -> None:
    async def run() -> float:
        async with AsyncPortal(provider, retry=_policy()) as portal:
            started = time.monotonic()
            with pytest.raises(errors.ProviderUnavailable):
                await portal.create_link(_request(sandbox, vendor))
            return time.monotonic() - started

    with RawServer([ONE_BYTE_A_SECOND], upstream=sandbox.url, lifetime=20) as raw:
        provider = sandbox.provider(vendor, base_url=raw.url)
        elapsed = asyncio.run(run())
    assert elapsed < DEADLINE + SLACK, f"ended {elapsed:.1f}s after the start"


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_deadline_transport_still_mints_when_the_head_arrives_in_time(
    sandbox: Sandbox, vendor: str
) -> None:
    with RawServer([TrickleHead(interval=0.0, chunk=16)], upstream=sandbox.url) as raw:
        provider = sandbox.provider(vendor, base_url=raw.url)
        with Portal(provider, retry=RetryPolicy(deadline=5.0)) as portal:
            link = portal.create_link(_request(sandbox, vendor))
    assert link.customer_id == sandbox.customers(vendor)[0]


def test_the_deadline_transport_is_inert_outside_a_portalkit_call(sandbox: Sandbox) -> None:
    with httpx.Client(transport=deadline_transport()) as client:
        assert client.get(sandbox.url + "/").status_code < 600
