"""The caller's own httpx client: its default headers go out under the adapter's."""

from __future__ import annotations

from portalkit import AsyncPortal, Portal, PortalRequest
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle

CUSTOMER = "ctm_01gysfvfy7vqhpzkq8rjmrq7an"
ANSWER = {
    "data": {
        "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
        "customer_id": CUSTOMER,
        "urls": {"general": {"overview": "https://customer-portal.paddle.com/cpl_1?token=t"}},
        "created_at": "2024-10-25T06:53:58Z",
    },
    "meta": {"request_id": "req_1"},
}


def _handler(seen: list[httpx.Request]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=ANSWER)

    return httpx.MockTransport(answer)


def test_non_ascii_client_header_is_sent_as_given() -> None:
    seen: list[httpx.Request] = []
    # httpx takes a non-ASCII header value as bytes (UTF-8 here).
    client = httpx.Client(transport=_handler(seen), headers={"X-Tenant": "Zoë".encode()})
    with client, Portal(Paddle(api_key="k"), http_client=client) as portal:
        link = portal.create_link(PortalRequest(CUSTOMER))
    assert link.request_id == "req_1"
    assert seen[0].headers.raw.count((b"X-Tenant", "Zoë".encode())) == 1
    # The adapter's own headers win over the client's defaults.
    assert seen[0].headers["authorization"] == "Bearer k"


async def test_client_headers_do_not_replace_the_adapters() -> None:
    seen: list[httpx.Request] = []
    client = httpx.AsyncClient(
        transport=_handler(seen), headers={"Authorization": "Bearer other", "X-App": "shop"}
    )
    async with client, AsyncPortal(Paddle(api_key="k"), http_client=client) as portal:
        await portal.create_link(PortalRequest(CUSTOMER))
    assert seen[0].headers.get_list("authorization") == ["Bearer k"]
    assert seen[0].headers["x-app"] == "shop"
