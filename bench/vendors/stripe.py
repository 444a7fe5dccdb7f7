"""Stripe: its documented ``billing_portal.session`` (API reference), sent as a form; the
official ``stripe`` package's ``StripeClient`` (on ``requests``, its default HTTP client)
minting the same session."""

from __future__ import annotations

from collections.abc import Callable

from bench._vendor import SdkTarget, VendorBench

CUSTOMER = "cus_NeZwdNtLEOXuvB"


def sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    import stripe

    client = stripe.StripeClient(
        target.credentials["api_key"],
        base_addresses={"api": target.base_url},
        max_network_retries=0,
    )
    customer = target.customer_id
    sessions = client.v1.billing_portal.sessions

    def create() -> object:
        return sessions.create(params={"customer": customer})

    return create, lambda: None


BENCH = VendorBench(
    credentials={"api_key": "sk_test_51Hbench0do0not0leak"},
    customer_id=CUSTOMER,
    answer={
        "id": "bps_1MrSjzLkdIwHu7ixex0IvU9b",
        "object": "billing_portal.session",
        "configuration": "bpc_1MAhNDLkdIwHu7ixckACO1Jq",
        "created": 1680210639,
        "customer": CUSTOMER,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": "https://example.com/account",
        "url": "https://billing.stripe.com/p/session/test_YWNjdF8xTTJKVGtMa2RJd0h1N2l4",
    },
    url_at=("url",),
    sdk=sdk,
    sdk_name="stripe",
)
