"""Shared by the web-helper tests: a Paddle adapter over httpx.MockTransport, a scripted
vendor answer, and the leak check every framework test runs on its pages and logs.

Paddle is used because its link carries the token in the query string, the easiest place
for a careless helper to leak it; any adapter would do.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from portalkit import (
    AsyncPortal,
    Portal,
    PortalConfiguration,
    PortalLink,
    PortalRequest,
    RetryPolicy,
)
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle

API_KEY = "pdl_sdbx_apikey_01secretsecretsecret"
CUSTOMER_ID = "ctm_01h8441jn5pcwrfhwh78jqt8hk"
OTHER_CUSTOMER_ID = "ctm_01h8441jn5pcwrfhwh78jqt8zz"
TOKEN = "pga_secret-portal-token-0123456789"
PORTAL_URL = (
    "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"
    f"?action=overview&token={TOKEN}"
)
VENDOR_DETAIL = "vendor-detail-that-must-not-leak"
#: One attempt: the error tests would otherwise sleep through backoff.
NO_RETRY = RetryPolicy(max_attempts=1)


def deep_link(action: str, subscription_id: str) -> str:
    return PORTAL_URL.replace(
        "action=overview", f"action={action}&subscription_id={subscription_id}"
    )


def created(
    subscription_ids: list[str] | None = None, customer_id: str = CUSTOMER_ID
) -> httpx.Response:
    """Paddle's 201 for ``customer_id``, with a pair of deep links for each subscription
    asked for."""
    subscriptions = [
        {
            "id": subscription_id,
            "cancel_subscription": deep_link("cancel_subscription", subscription_id),
            "update_subscription_payment_method": deep_link(
                "update_subscription_payment_method", subscription_id
            ),
        }
        for subscription_id in subscription_ids or []
    ]
    return httpx.Response(
        201,
        json={
            "data": {
                "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
                "customer_id": customer_id,
                "urls": {"general": {"overview": PORTAL_URL}, "subscriptions": subscriptions},
                "created_at": "2024-10-25T06:53:58Z",
            },
            "meta": {"request_id": "fa176777-4bca-49ec-aa1e-f53885333cb7"},
        },
    )


def vendor_error(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "error": {"type": "request_error", "code": code, "detail": VENDOR_DETAIL},
            "meta": {"request_id": "req-err-1"},
        },
    )


#: (vendor status, vendor code, status the helper answers): the issue's mapping.
VENDOR_ERRORS = [
    (404, "entity_not_found", 404),
    (400, "bad_request", 400),
    (401, "authentication_malformed", 502),
    (403, "forbidden", 502),
    (429, "too_many_requests", 502),
    (500, "internal_error", 502),
    (503, "service_unavailable", 502),
]


class RecordingPortal(Portal):
    """A Portal that keeps each PortalRequest it is asked for, before any field is dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[PortalRequest] = []

    def create_link(self, request: PortalRequest) -> PortalLink:
        self.asked.append(request)
        return super().create_link(request)


@attrs.define
class FakeVendor:
    """A MockTransport handler that keeps every request and answers it with ``reply``, or
    by default with a 201 holding deep links for the subscriptions the request asked for."""

    reply: httpx.Response | None = None
    requests: list[httpx.Request] = attrs.field(factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.reply is not None:
            return self.reply
        return created(
            json.loads(request.content).get("subscription_ids"), request.url.path.split("/")[2]
        )

    def bodies(self) -> list[Any]:
        return [json.loads(request.content) for request in self.requests]

    def portal(self, **options: Any) -> RecordingPortal:
        """A Portal over this vendor; ``options`` are Portal's (``allowed_return_hosts=``)."""
        client = httpx.Client(transport=httpx.MockTransport(self))
        return RecordingPortal(
            Paddle(api_key=API_KEY), http_client=client, retry=NO_RETRY, **options
        )

    def async_portal(self) -> AsyncPortal:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return AsyncPortal(Paddle(api_key=API_KEY), http_client=client, retry=NO_RETRY)

    def customers_asked_for(self) -> list[str]:
        return [request.url.path.split("/")[2] for request in self.requests]


def request_for(customer_id: str) -> PortalRequest:
    return PortalRequest(customer_id)


def unsupported_request() -> PortalRequest:
    """Paddle has no per-session configuration: refused before sending (UnsupportedFeature)."""
    return PortalRequest(CUSTOMER_ID, configuration=PortalConfiguration(cancel_subscription=False))


def assert_no_leak(*texts: str) -> None:
    """Nothing the customer sees or the log keeps holds the link, the vendor's words or a key."""
    for text in texts:
        for secret in (TOKEN, PORTAL_URL, "customer-portal.paddle.com", VENDOR_DETAIL, API_KEY):
            assert secret not in text, f"{secret!r} leaked into {text!r}"


def assert_security_headers(headers: Any) -> None:
    assert headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"


def configure_django() -> None:
    """Django's settings for a test that calls views directly, made only when no other module
    made them (tests/test_web_django.py configures Django at its import, with itself as the
    URLconf): a test then overrides what it needs with ``override_settings``."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="portalkit-tests-only",
            ALLOWED_HOSTS=["testserver"],
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()
