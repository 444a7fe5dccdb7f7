"""Figures 1 and 2: one sync create at a time.

1. ``Portal.create_link`` against a raw ``httpx.Client.post`` of the identical request.
   The raw side is the cheapest possible integration: the adapter's URL, headers and body
   prepared once, then ``post`` and nothing else -- no JSON decoding, no status check, no
   request model. The portalkit side builds a ``PortalRequest`` per call, as an app does.
2. ``Portal.create_link`` against Paddle's official SDK (``paddle-python-sdk``, on
   ``requests``) creating the same session on the same server.
"""

from __future__ import annotations

from collections.abc import Callable

from portalkit import Portal, PortalRequest
from portalkit._http import httpx

from ._fixtures import IN_PROCESS, Target, raw_request, session_body, wire_image
from ._stats import Comparison, interleave


def portal_vs_raw(
    target: Target,
    *,
    calls: int,
    rounds: int,
    warmup: int = 1,
    transport: httpx.BaseTransport | None = None,
    decode: bool = False,
) -> Comparison:
    """Figure 1 against ``target`` (through ``transport`` when given, else over TCP).

    ``decode``: the raw side also decodes the JSON answer and reads the portal URL from it,
    the least any integration does with the answer (shown for context only)."""
    raw = raw_request(target)
    with (
        httpx.Client(transport=transport) as portal_client,
        httpx.Client(transport=transport) as raw_client,
        Portal(target.provider(), http_client=portal_client) as portal,
    ):
        customer_id = target.customer_id

        def through_portal() -> object:
            return portal.create_link(PortalRequest(customer_id=customer_id))

        def raw_post() -> object:
            return raw_client.post(raw.url, headers=raw.headers, content=raw.content)

        def raw_post_decoded() -> object:
            answer = raw_client.post(raw.url, headers=raw.headers, content=raw.content)
            return answer.json()["data"]["urls"]["general"]["overview"]

        baseline = raw_post_decoded if decode else raw_post
        return interleave(through_portal, baseline, calls=calls, rounds=rounds, warmup=warmup)


def same_request_on_the_wire() -> bool:
    """Whether the two sides of figure 1 put the same method, URL, headers and body on the
    wire (header order aside), recorded through one in-process transport."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            201,
            headers={"content-type": "application/json"},
            content=session_body(IN_PROCESS.customer_id),
        )

    transport = httpx.MockTransport(record)
    raw = raw_request(IN_PROCESS)
    with (
        httpx.Client(transport=transport) as client,
        Portal(IN_PROCESS.provider(), http_client=client) as portal,
    ):
        portal.create_link(IN_PROCESS.portal_request())
        client.post(raw.url, headers=raw.headers, content=raw.content)
    return len(seen) == 2 and wire_image(seen[0]) == wire_image(seen[1])


class _Environment:
    """Stands in for ``paddle_billing.Environment``: the SDK only ever reads ``base_url``
    from it (``urljoin(self.options.environment.base_url, url)`` in ``Client``), so this
    points the official client at a local server without patching anything."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def sdk_create(target: Target) -> tuple[Callable[[], object], Callable[[], None]]:
    """A create through Paddle's official SDK against ``target``, and its clean-up."""
    from paddle_billing import Client, Options
    from paddle_billing.Resources.CustomerPortalSessions.Operations import (
        CreateCustomerPortalSession,
    )

    client = Client(target.api_key, options=Options(environment=_Environment(target.base_url)))
    customer_id = target.customer_id

    def create() -> object:
        return client.customer_portal_sessions.create(customer_id, CreateCustomerPortalSession())

    return create, client.client.close


def portal_vs_sdk(target: Target, *, calls: int, rounds: int, warmup: int = 1) -> Comparison:
    """Figure 2: the same session minted by portalkit and by paddle-python-sdk."""
    sdk, close_sdk = sdk_create(target)
    try:
        with httpx.Client() as client, Portal(target.provider(), http_client=client) as portal:
            customer_id = target.customer_id

            def through_portal() -> object:
                return portal.create_link(PortalRequest(customer_id=customer_id))

            return interleave(through_portal, sdk, calls=calls, rounds=rounds, warmup=warmup)
    finally:
        close_sdk()
