"""What both sides of a comparison share: one Paddle customer, the vendor's answer, the
identical raw request, and clients pointed at the same place.

Paddle is the adapter measured throughout: it is the vendor with an official Python SDK to
compare against, and it has no idempotency key or request signature, so the very same
request can be replayed by the raw-httpx side call after call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from portalkit import PortalRequest
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle

#: A customer for the in-process transport and the minimal server (the sandbox seeds its own).
CUSTOMER_ID = "ctm_01grnn4zta5a1mf02jjze7y2ys"
API_KEY = "pdl_bench_apikey_01hbenchmark"
_TOKEN = "pga_eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdG1fYmVuY2gifQ.c2lnbmF0dXJl"


def session_body(customer_id: str) -> bytes:
    """Paddle's documented 201 answer (no subscriptions), as the vendor would send it."""
    portal = "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"
    return json.dumps(
        {
            "data": {
                "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
                "customer_id": customer_id,
                "urls": {
                    "general": {"overview": f"{portal}?action=overview&token={_TOKEN}"},
                    "subscriptions": [],
                },
                "created_at": "2024-10-25T06:53:58Z",
            },
            "meta": {"request_id": "fa176777-4bca-49ec-aa1e-f53885333cb7"},
        },
        separators=(",", ":"),
    ).encode()


def mock_transport(customer_id: str = CUSTOMER_ID) -> httpx.MockTransport:
    """An in-process Paddle: every request gets the same prepared 201 answer."""
    body = session_body(customer_id)
    headers = {"content-type": "application/json"}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, headers=headers, content=body)

    return httpx.MockTransport(answer)


@dataclass(frozen=True)
class Target:
    """Where both sides send their creates: a Paddle API root, a key it accepts, a customer
    it knows."""

    name: str
    base_url: str
    api_key: str
    customer_id: str

    def provider(self) -> Paddle:
        return Paddle(api_key=self.api_key, environment="sandbox", base_url=self.base_url)

    def portal_request(self) -> PortalRequest:
        return PortalRequest(customer_id=self.customer_id)


#: The in-process target: no socket, only httpx.MockTransport.
IN_PROCESS = Target("in-process", "http://127.0.0.1:9", API_KEY, CUSTOMER_ID)


@dataclass(frozen=True)
class RawRequest:
    """The request the adapter builds, as a hand-written integration would send it."""

    url: str
    headers: Mapping[str, str]
    content: bytes


# httpx adds these itself, from the URL and the body, on both sides alike.
_COMPUTED_HEADERS = frozenset({"host", "content-length"})


def raw_request(target: Target) -> RawRequest:
    """Method, URL, headers and body taken from the adapter's own ``build_request``."""
    built = target.provider().build_request(target.portal_request())
    assert built.method == "POST"
    headers = {k: v for k, v in built.headers.items() if k.lower() not in _COMPUTED_HEADERS}
    return RawRequest(str(built.url), headers, built.content)


def wire_image(request: httpx.Request) -> tuple[str, str, tuple[tuple[str, str], ...], bytes]:
    """What goes on the wire, header order aside: to check both sides send the same bytes."""
    headers = tuple(sorted((k.lower(), v) for k, v in request.headers.multi_items()))
    return request.method, str(request.url), headers, request.content
