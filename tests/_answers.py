"""Each shipped vendor's 201, built around a URL and a customer of the test's choosing, for
the hardening tests (tests/test_hardening_*.py).

``VENDORS`` maps a vendor name to a ``Vendor``: how to build its adapter (optionally on a
given base URL), a valid request, and the 201 body that answers it with ``url`` as the
portal link (and, for Paddle, as every deep link).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from portalkit import PortalProvider, PortalRequest
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay

PLUGIPAY_CUSTOMER = "cus_01HXAAAAAAAAAAAAAAAAAAAAAA"
PLUGIPAY_OTHER = "cus_01HXBBBBBBBBBBBBBBBBBBBBBB"
PAYLERA_CUSTOMER = "cus_paylera0001"
PADDLE_CUSTOMER = "ctm_01gysfvfy7vqhpzkq8rjmrq7an"
PADDLE_OTHER = "ctm_01h0000000000000000000000b"
PADDLE_SUBSCRIPTION = "sub_01h04vsc0qhwtsbsxh3422wjs4"


@attrs.frozen
class Vendor:
    name: str
    build: Callable[..., PortalProvider]  # base_url=... optional
    request: Callable[[], PortalRequest]
    body: Callable[..., dict[str, Any]]  # body(url, customer=None, deep_url=None)
    good_url: str
    other_customer: str | None  # None: the vendor never echoes a customer

    def response(self, url: str, **kw: Any) -> Callable[[httpx.Request], httpx.Response]:
        body = self.body(url, **kw)

        def answer(request: httpx.Request) -> httpx.Response:
            return httpx.Response(201, json=body)

        return answer


def _plugipay_body(url: str, customer: str | None = None, **_: Any) -> dict[str, Any]:
    return {
        "data": {
            "id": "ps_01HXAB12",
            "customerId": customer or PLUGIPAY_CUSTOMER,
            "url": url,
            "expiresAt": "2026-05-12T10:57:00.000Z",
            "createdAt": "2026-05-12T10:42:00.000Z",
        }
    }


def _paylera_body(url: str, **_: Any) -> dict[str, Any]:
    return {"id": "ps_01HXAB12", "url": url, "expires_at": "2026-05-06T13:34:00Z"}


def _paddle_body(
    url: str, customer: str | None = None, deep_url: str | None = None, omit_customer: bool = False
) -> dict[str, Any]:
    deep = deep_url or url
    data: dict[str, Any] = {
        "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
        "customer_id": customer or PADDLE_CUSTOMER,
        "urls": {
            "general": {"overview": url},
            "subscriptions": [
                {
                    "id": PADDLE_SUBSCRIPTION,
                    "cancel_subscription": deep,
                    "update_subscription_payment_method": deep,
                }
            ],
        },
        "created_at": "2024-10-25T06:53:58Z",
    }
    if omit_customer:
        del data["customer_id"]
    return {"data": data, "meta": {"request_id": "req_1"}}


def _plugipay(**kw: Any) -> Plugipay:
    return Plugipay(key_id="key_test_1", key_secret="secret_test_1", **kw)


def _paylera(**kw: Any) -> Paylera:
    return Paylera(api_key="pk_test_1", **kw)


def _paddle(**kw: Any) -> Paddle:
    return Paddle(api_key="pdl_test_1", **kw)


VENDORS: dict[str, Vendor] = {
    "plugipay": Vendor(
        "plugipay",
        _plugipay,
        lambda: PortalRequest(PLUGIPAY_CUSTOMER, return_url="https://app.example.com/account"),
        _plugipay_body,
        "https://plugipay.com/portal/ps_01HXAB12#t=token",
        PLUGIPAY_OTHER,
    ),
    "paylera": Vendor(
        "paylera",
        _paylera,
        lambda: PortalRequest(PAYLERA_CUSTOMER),
        _paylera_body,
        "https://portal.paylera.io/p/ps_01HXAB12",
        None,
    ),
    "paddle": Vendor(
        "paddle",
        _paddle,
        lambda: PortalRequest(PADDLE_CUSTOMER, subscription_ids=[PADDLE_SUBSCRIPTION]),
        _paddle_body,
        "https://customer-portal.paddle.com/cpl_01j7?action=overview&token=t",
        PADDLE_OTHER,
    ),
}
NAMES = sorted(VENDORS)
