"""Several vendors live at once, behind one ``httpx.MockTransport`` (no sockets).

``VendorWorld`` answers Plugipay, Paylera, Paddle and the FakeVendor plug-in the way each
documents (or, for FakeVendor, defines): a session for a customer the vendor knows, the
vendor's own 404 envelope for one it does not. That is enough to watch a migration: which
vendor each request reached, with which customer id, and what came back.

Every portal URL it mints carries the marker ``SECRET`` in its token, so a test can check
that no log line ever shows one.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from typing import Any

import attrs

from portalkit._http import httpx

SECRET = "SECRET-token"
_PADDLE_PATH = re.compile(r"/customers/([^/]+)/portal-sessions$")
MODES = ("sync", "async")

# Customer ids in each vendor's own format.
PLUGIPAY_CUSTOMER = "cus_01HXAAAAAAAAAAAAAAAAAAAAAA"
PAYLERA_CUSTOMER = "cus_paylera0001"
PAYLERA_CUSTOMER_2 = "cus_paylera0002"
PADDLE_CUSTOMER = "ctm_01gysfvfy7vqhpzkq8rjmrq7an"
PADDLE_CUSTOMER_2 = "ctm_01h0000000000000000000000b"
PADDLE_SUBSCRIPTION = "sub_01h04vsc0qhwtsbsxh3422wjs4"
FAKEVENDOR_CUSTOMER = "fv_0001"


@attrs.frozen
class Hit:
    """One request a vendor received."""

    vendor: str
    host: str
    customer_id: str
    headers: httpx.Headers
    body: dict[str, Any]


class VendorWorld:
    """The MockTransport handler: each vendor knows only its own ``customers``.

    ``fail`` makes a vendor answer every request with that HTTP status instead.
    """

    def __init__(
        self,
        *,
        customers: dict[str, Iterable[str]] | None = None,
        fail: dict[str, int] | None = None,
    ) -> None:
        self.customers = {vendor: set(ids) for vendor, ids in (customers or {}).items()}
        self.fail = dict(fail or {})
        self.hits: list[Hit] = []
        self._serial = itertools.count(1)

    @property
    def vendors_hit(self) -> list[str]:
        return [hit.vendor for hit in self.hits]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        path = request.url.path  # matched at the end: a base URL may add a prefix
        if path.endswith("/v1/portal-sessions"):
            vendor, customer = "plugipay", body["customerId"]
        elif path.endswith("/v1/portal/sessions"):
            vendor, customer = "paylera", body["customer_id"]
        elif paddle := _PADDLE_PATH.search(path):
            vendor, customer = "paddle", paddle.group(1)
        elif path.endswith("/portal"):
            vendor, customer = "fakevendor", body["customer"]
        else:
            raise AssertionError(f"no vendor serves {request.method} {path}")
        self.hits.append(Hit(vendor, request.url.host, customer, request.headers, body))
        status = self.fail.get(vendor)
        if status is None and customer not in self.customers.get(vendor, set()):
            status = 404
        n = next(self._serial)
        if status is not None:
            return _ERRORS[vendor](status, n)
        return _SESSIONS[vendor](customer, body, n)


def _plugipay_session(customer: str, body: dict[str, Any], n: int) -> httpx.Response:
    session = {
        "id": f"ps_{n:026d}",
        "arn": f"arn:plugipay:acc_1:portal-session/ps_{n}",
        "accountId": "acc_01HXAAAAAAAAAAAAAAAAAAAAAA",
        "customerId": customer,
        "url": f"https://plugipay.com/portal/ps_{n}#t={SECRET}",
        "returnUrl": body["returnUrl"],
        "expiresAt": "2026-05-12T10:57:00.000Z",
        "createdAt": "2026-05-12T10:42:00.000Z",
    }
    return httpx.Response(201, json={"data": session}, headers={"X-Request-Id": f"req_pp_{n}"})


def _paylera_session(customer: str, body: dict[str, Any], n: int) -> httpx.Response:
    session = {
        "id": f"ps_paylera_{n}",
        "url": f"https://portal.paylera.io/p/ps_{n}{SECRET}",
        "expires_at": "2026-05-06T13:34:00Z",
    }
    return httpx.Response(200, json=session, headers={"Request-Id": f"req_pl_{n}"})


def _paddle_session(customer: str, body: dict[str, Any], n: int) -> httpx.Response:
    portal = f"https://customer-portal.paddle.com/cpl_{n}"
    subscriptions = [
        {
            "id": subscription,
            "cancel_subscription": f"{portal}?action=cancel_subscription&token={SECRET}",
            "update_subscription_payment_method": f"{portal}?action=update&token={SECRET}",
        }
        for subscription in body.get("subscription_ids", [])
    ]
    session = {
        "id": f"cpls_{n:026d}",
        "customer_id": customer,
        "urls": {
            "general": {"overview": f"{portal}?action=overview&token={SECRET}"},
            "subscriptions": subscriptions,
        },
        "created_at": "2024-10-25T06:53:58Z",
    }
    return httpx.Response(201, json={"data": session, "meta": {"request_id": f"req_pd_{n}"}})


def _fakevendor_session(customer: str, body: dict[str, Any], n: int) -> httpx.Response:
    link = f"https://portal.fakevendor.test/s/{SECRET}{n}"
    return httpx.Response(200, json={"session": f"fvs_{n}", "link": link, "ttl": 600})


def _plugipay_error(status: int, n: int) -> httpx.Response:
    code = {404: "not_found", 401: "invalid_key"}.get(status, "server_error")
    error = {"error": {"code": code, "message": f"HTTP {status} from plugipay"}}
    return httpx.Response(status, json=error, headers={"X-Request-Id": f"req_pp_{n}"})


def _paylera_error(status: int, n: int) -> httpx.Response:
    error = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
    error["error"]["message"] = f"HTTP {status} from paylera"
    return httpx.Response(status, json=error, headers={"Request-Id": f"req_pl_{n}"})


def _paddle_error(status: int, n: int) -> httpx.Response:
    error = {"type": "request_error", "code": "not_found", "detail": f"HTTP {status} from paddle"}
    return httpx.Response(status, json={"error": error, "meta": {"request_id": f"req_pd_{n}"}})


def _fakevendor_error(status: int, n: int) -> httpx.Response:
    return httpx.Response(status, json={"message": f"HTTP {status} from fakevendor"})


_SESSIONS = {
    "plugipay": _plugipay_session,
    "paylera": _paylera_session,
    "paddle": _paddle_session,
    "fakevendor": _fakevendor_session,
}
_ERRORS = {
    "plugipay": _plugipay_error,
    "paylera": _paylera_error,
    "paddle": _paddle_error,
    "fakevendor": _fakevendor_error,
}
