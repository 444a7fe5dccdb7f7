"""Polar: its documented 201 to ``POST /v1/customer-sessions/`` (a customer session with the
customer object), and polar-sdk (on httpx) minting the same session."""

from __future__ import annotations

from collections.abc import Callable

from bench._vendor import SdkTarget, VendorBench

CUSTOMER = "992fae2a-2a17-4b7a-8d9e-e287cf90131b"
TOKEN = "polar_cst_9sTLXcBvQk4u0HLhzMvf7lWq3vXgP1pK4dIw6rZyNbC"


def sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    from polar.v2026_10 import Polar

    client = Polar(target.credentials["access_token"], base_url=target.base_url)
    customer = target.customer_id

    def create() -> object:
        return client.customer_sessions.create(customer_id=customer)

    return create, client._client._client.close


BENCH = VendorBench(
    credentials={"access_token": "polar_oat_bench0do0not0leak0123456789"},
    customer_id=CUSTOMER,
    status=201,
    answer={
        "created_at": "2026-12-02T10:42:00.000000Z",
        "modified_at": None,
        "id": "3f0f9b1c-6a57-4b7e-9d0e-6c1d2a3b4c5d",
        "token": TOKEN,
        "expires_at": "2026-12-02T11:42:00.000000Z",
        "return_url": "https://app.example.com/account",
        "customer_portal_url": (
            f"https://polar.sh/acme-inc/portal?customer_session_token={TOKEN}"
            "&email=jane.roe%40mail.example.org"
        ),
        "customer_id": CUSTOMER,
        "customer": {
            "id": CUSTOMER,
            "created_at": "2026-11-02T09:12:44.123456Z",
            "modified_at": None,
            "metadata": {},
            "external_id": "usr_1337",
            "email": "jane.roe@mail.example.org",
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
        },
    },
    url_at=("customer_portal_url",),
    sdk=sdk,
    sdk_name="polar-sdk",
)
