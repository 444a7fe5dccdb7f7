"""Chargebee: its documented ``portal_session`` (API reference: Create a portal session), sent
as a form with HTTP Basic auth; the official ``chargebee`` package (v3, on httpx) minting the
same session. The SDK is pointed at the server through its own environment's
``api_endpoint``, the attribute its requests are built from, and told to speak plain http
with ``protocol="http"``; chargebee 3.x's ``update_protocol`` sets ``verify_ca_certs`` on the
instance while ``http_request`` reads it from the class, so the class attribute is cleared
too (in the bench process only: it only picks the URL scheme)."""

from __future__ import annotations

from collections.abc import Callable

from bench._vendor import SdkTarget, VendorBench

CUSTOMER = "__test__KyVnHhSBWm8kA2sT"
TOKEN = "__test__cdBbQgJg5fPSTw9qBPDIaQiVEEx0Gsrrc"


def sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    import chargebee

    client = chargebee.Chargebee(
        api_key=target.credentials["api_key"], site=target.credentials["site"], protocol="http"
    )
    chargebee.Chargebee.verify_ca_certs = False
    client.env.api_endpoint = target.base_url + "/api/v2"
    params = {"customer": {"id": target.customer_id}}

    def create() -> object:
        return client.PortalSession.create(params)

    return create, lambda: None


BENCH = VendorBench(
    credentials={"site": "acme-test", "api_key": "test_cbBenchKey0123456789"},
    customer_id=CUSTOMER,
    answer={
        "portal_session": {
            "access_url": f"https://yourapp.chargebeeportal.com/portal/access/{TOKEN}",
            "created_at": 1517505973,
            "customer_id": CUSTOMER,
            "expires_at": 1517509573,
            "id": "portal___test__KyVnHhSBWm8l82sV",
            "linked_customers": [
                {
                    "customer_id": CUSTOMER,
                    "has_active_subscription": False,
                    "has_billing_address": False,
                    "has_payment_method": False,
                    "object": "linked_customer",
                }
            ],
            "object": "portal_session",
            "redirect_url": "https://yourdomain.com/users/3490343",
            "status": "created",
            "token": TOKEN,
        }
    },
    url_at=("portal_session", "access_url"),
    sdk=sdk,
    sdk_name="chargebee",
)
