"""Shared helpers for the unit tests (no sockets anywhere).

- ``Script``: an ``httpx.MockTransport`` handler that answers with scripted replies, in
  order, and keeps a snapshot of every request it saw (a request past the end of the
  script fails the test).
- ``mint``: one ``create_link`` call through ``Portal`` or ``AsyncPortal`` over that
  transport, so every test runs sync and async alike with ``@both_modes``.
- ``end_session``: one ``end_session`` call, the same way.
- ``create_link``: one ``create_link`` call on the Portal's own client, for a test that
  serves the vendor itself (a sandbox or a raw server on 127.0.0.1).
- ``record_sleeps``: replaces the retry loop's sleep with one that only records, so retry
  tests are instant and can assert on the waits without measuring time.
- The vendors' documented example bodies, verbatim from shared/provider-docs.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest
import tenacity

from portalkit import (
    AsyncPortal,
    MigrationRouter,
    Portal,
    PortalLink,
    PortalProvider,
    PortalRequest,
    _portal,
)
from portalkit._http import httpx

MODES = ("sync", "async")
#: Run the decorated test once through Portal and once through AsyncPortal.
both_modes = pytest.mark.parametrize("mode", MODES)

Reply = Callable[[httpx.Request], httpx.Response]


@attrs.frozen
class Sent:
    """What one attempt put on the wire, copied when it was sent (Portal reuses the request
    object across attempts)."""

    method: str
    url: httpx.URL
    headers: httpx.Headers
    content: bytes
    timeout: Mapping[str, float | None]

    @classmethod
    def of(cls, request: httpx.Request) -> Sent:
        return cls(
            method=request.method,
            url=request.url,
            headers=httpx.Headers(request.headers),
            content=request.content,
            timeout=dict(request.extensions.get("timeout", {})),
        )

    def json(self) -> Any:
        return json.loads(self.content)


class Script:
    """A MockTransport handler: answers with ``replies`` in order and records each request."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.sent: list[Sent] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(Sent.of(request))
        if len(self.sent) > len(self.replies):
            pytest.fail(f"unexpected request #{len(self.sent)}: {request.method} {request.url}")
        return self.replies[len(self.sent) - 1](request)

    @property
    def only(self) -> Sent:
        """The one request this script saw (fails if it saw another number of requests)."""
        assert len(self.sent) == 1, f"expected exactly one request, saw {len(self.sent)}"
        return self.sent[0]


def reply(
    status: int,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
) -> Reply:
    """A fresh response per call: ``body`` as JSON (with a JSON content type), or raw
    ``content`` with only the given headers."""

    def respond(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, headers=headers, content=content)
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, headers=headers, json=body)

    return respond


def raise_(error: type[httpx.TransportError], message: str = "simulated") -> Reply:
    """A transport failure, raised the way a real transport raises it."""

    def respond(request: httpx.Request) -> httpx.Response:
        raise error(message, request=request)

    return respond


class ChunkStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent in chunks without a Content-Length, counting what was read."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.read = 0

    def _chunks(self) -> Iterator[bytes]:
        for _ in range(self.count):
            self.read += 1
            yield self.chunk

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks()

    async def __aiter__(self) -> Any:
        for chunk in self._chunks():
            yield chunk


def mint(
    mode: str,
    provider: PortalProvider | MigrationRouter,
    script: Callable[[httpx.Request], httpx.Response],
    request: PortalRequest,
    **portal_options: Any,
) -> PortalLink:
    """``create_link`` once, through Portal ("sync") or AsyncPortal ("async"), over
    ``script`` (a Script, a VendorWorld, any MockTransport handler); the client is the
    caller's own, as a user passing ``http_client`` would."""
    transport = httpx.MockTransport(script)
    if mode == "sync":
        with (
            httpx.Client(transport=transport) as client,
            Portal(provider, http_client=client, **portal_options) as portal,
        ):
            return portal.create_link(request)
    assert mode == "async", mode

    async def run() -> PortalLink:
        async with (
            httpx.AsyncClient(transport=transport) as client,
            AsyncPortal(provider, http_client=client, **portal_options) as portal,
        ):
            return await portal.create_link(request)

    return asyncio.run(run())


def create_link(
    mode: str,
    provider: PortalProvider | MigrationRouter,
    request: PortalRequest,
    **portal_options: Any,
) -> PortalLink:
    """``create_link`` once, through Portal ("sync") or AsyncPortal ("async"), on the
    client the Portal makes itself: for a test whose server is real (on 127.0.0.1)."""
    if mode == "sync":
        with Portal(provider, **portal_options) as portal:
            return portal.create_link(request)
    assert mode == "async", mode

    async def run() -> PortalLink:
        async with AsyncPortal(provider, **portal_options) as portal:
            return await portal.create_link(request)

    return asyncio.run(run())


def end_session(
    mode: str,
    provider: PortalProvider | MigrationRouter,
    script: Callable[[httpx.Request], httpx.Response],
    link: PortalLink,
    **portal_options: Any,
) -> None:
    """``end_session(link)`` once, through Portal ("sync") or AsyncPortal ("async"), over
    ``script``, as ``mint`` does for ``create_link``."""
    transport = httpx.MockTransport(script)
    if mode == "sync":
        with (
            httpx.Client(transport=transport) as client,
            Portal(provider, http_client=client, **portal_options) as portal,
        ):
            assert portal.end_session(link) is None
        return
    assert mode == "async", mode

    async def run() -> None:
        async with (
            httpx.AsyncClient(transport=transport) as client,
            AsyncPortal(provider, http_client=client, **portal_options) as portal,
        ):
            assert await portal.end_session(link) is None

    asyncio.run(run())


def record_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make the retry loop's sleeps instant (sync and async) and return the waits it asked
    for, in order."""
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def async_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    monkeypatch.setattr(_portal, "Retrying", functools.partial(tenacity.Retrying, sleep=sleep))
    monkeypatch.setattr(
        _portal, "AsyncRetrying", functools.partial(tenacity.AsyncRetrying, sleep=async_sleep)
    )
    return sleeps


# -- The vendors' example bodies, verbatim from shared/provider-docs ---------------------

#: Plugipay REST API -> Portal sessions -> "The portal session object" (inside its
#: documented ``data`` envelope).
PLUGIPAY_DOC_SESSION: dict[str, Any] = {
    "id": "ps_01HXxxxxxxxxxxxxxxxxxxxxxx",
    "arn": "arn:plugipay:acc_01HXxxxx:portal-session/ps_01HXxxxx",
    "accountId": "acc_01HXxxxxxxxxxxxxxxxxxxxxxx",
    "customerId": "cus_01HXxxxxxxxxxxxxxxxxxxxxxx",
    "url": "https://plugipay.com/portal/ps_01HXxx...#t=eyJhbGciOi...",
    "returnUrl": "https://app.acme.com/account",
    "expiresAt": "2026-05-12T10:57:00.000Z",
    "createdAt": "2026-05-12T10:42:00.000Z",
}
PLUGIPAY_DOC_CUSTOMER = "cus_01HXxxxxxxxxxxxxxxxxxxxxxx"
PLUGIPAY_DOC_RETURN_URL = "https://app.acme.com/account"

#: Paylera -> Customer portal -> "Generating a session" -> Response. The page's "ps_…"
#: placeholder is percent-encoded in the URL, as a real link would carry it: a portal URL
#: holds ASCII only (portalkit refuses anything else).
PAYLERA_DOC_RESPONSE: dict[str, Any] = {
    "id": "ps_…",
    "url": "https://portal.paylera.io/p/ps_%E2%80%A6",
    "expires_at": "2026-05-06T13:34:00Z",
}

#: Paddle -> Create a customer portal session -> Request / Response examples.
#: The customer the documented response names. (The path parameter's own example,
#: ctm_01grnn4zta5a1mf02jjze7y2ys, is another customer: a session answered for it would be
#: bound to someone else, which portalkit refuses.)
PADDLE_DOC_CUSTOMER = "ctm_01gysfvfy7vqhpzkq8rjmrq7an"
PADDLE_DOC_SUBSCRIPTION = "sub_01h04vsc0qhwtsbsxh3422wjs4"
PADDLE_DOC_REQUEST: dict[str, Any] = {"subscription_ids": ["sub_01h04vsc0qhwtsbsxh3422wjs4"]}
_PADDLE_TOKEN = (
    "pga_eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdG1fMDFncm5uNHp0YTVhMW1mMDJqanplN3ky"
    "eXMiLCJuYW1lIjoiSm9obiBEb2UiLCJpYXQiOjE3Mjc2NzkyMzh9._oO12IejzdKmyKTwb7BLjmiILkx4_cSyGjX"
    "raOBUI_g"
)
_PADDLE_PORTAL = "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"
PADDLE_DOC_OVERVIEW = f"{_PADDLE_PORTAL}?action=overview&token={_PADDLE_TOKEN}"
PADDLE_DOC_CANCEL = (
    f"{_PADDLE_PORTAL}?action=cancel_subscription"
    f"&subscription_id=sub_01h04vsc0qhwtsbsxh3422wjs4&token={_PADDLE_TOKEN}"
)
PADDLE_DOC_UPDATE_PAYMENT = (
    f"{_PADDLE_PORTAL}?action=update_subscription_payment_method"
    f"&subscription_id=sub_01h04vsc0qhwtsbsxh3422wjs4&token={_PADDLE_TOKEN}"
)
PADDLE_DOC_TOKEN = _PADDLE_TOKEN
PADDLE_DOC_RESPONSE: dict[str, Any] = {
    "data": {
        "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
        "customer_id": "ctm_01gysfvfy7vqhpzkq8rjmrq7an",
        "urls": {
            "general": {"overview": PADDLE_DOC_OVERVIEW},
            "subscriptions": [
                {
                    "id": "sub_01h04vsc0qhwtsbsxh3422wjs4",
                    "cancel_subscription": PADDLE_DOC_CANCEL,
                    "update_subscription_payment_method": PADDLE_DOC_UPDATE_PAYMENT,
                }
            ],
        },
        "created_at": "2024-10-25T06:53:58Z",
    },
    "meta": {"request_id": "fa176777-4bca-49ec-aa1e-f53885333cb7"},
}

#: Polar -> Create Customer Session -> 201, shaped as Polar's CustomerSession schema and the
#: polar-sdk ``CustomerSession``/``CustomerIndividual`` dataclasses (Polar's reference page
#: gives the fields, not one whole example). The portal URL is built the way Polar's model
#: builds it: the org slug, then the token and the customer's e-mail, urlencoded.
POLAR_DOC_CUSTOMER = "992fae2a-2a17-4b7a-8d9e-e287cf90131b"
POLAR_DOC_EXTERNAL_ID = "usr_1337"
POLAR_DOC_EMAIL = "jane.roe@mail.example.org"
POLAR_DOC_TOKEN = "polar_cst_9sTLXcBvQk4u0HLhzMvf7lWq3vXgP1pK4dIw6rZyNbC"
POLAR_DOC_PORTAL_URL = (
    "https://polar.sh/acme-inc/portal"
    f"?customer_session_token={POLAR_DOC_TOKEN}&email=jane.roe%40mail.example.org"
)
POLAR_DOC_CUSTOMER_OBJECT: dict[str, Any] = {
    "id": POLAR_DOC_CUSTOMER,
    "created_at": "2026-11-02T09:12:44.123456Z",
    "modified_at": None,
    "metadata": {},
    "external_id": POLAR_DOC_EXTERNAL_ID,
    "email": POLAR_DOC_EMAIL,
    "email_verified": True,
    "type": "individual",
    "name": "Jane Roe",
    "billing_name": None,
    "billing_address": None,
    "tax_id": None,
    "locale": None,
    "organization_id": "1dbfc517-0bbf-4301-9ba8-555ca42b9737",
    "default_payment_method_id": None,
    "deleted_at": None,
    "first_user_event_at": None,
    "avatar_url": None,
}
POLAR_DOC_RESPONSE: dict[str, Any] = {
    "created_at": "2026-12-02T10:42:00.000000Z",
    "modified_at": None,
    "id": "3f0f9b1c-6a57-4b7e-9d0e-6c1d2a3b4c5d",
    "token": POLAR_DOC_TOKEN,
    "expires_at": "2026-12-02T11:42:00.000000Z",
    "return_url": "https://app.example.com/account",
    "customer_portal_url": POLAR_DOC_PORTAL_URL,
    "customer_id": POLAR_DOC_CUSTOMER,
    "customer": POLAR_DOC_CUSTOMER_OBJECT,
}
