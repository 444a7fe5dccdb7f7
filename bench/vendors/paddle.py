"""Paddle: its documented 201 to ``POST /customers/{id}/portal-sessions`` (no subscriptions),
and paddle-python-sdk (on ``requests``) minting the same session."""

from __future__ import annotations

from collections.abc import Callable

from bench._vendor import SdkTarget, VendorBench

CUSTOMER = "ctm_01grnn4zta5a1mf02jjze7y2ys"
PORTAL = "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"
TOKEN = "pga_eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdG1fYmVuY2gifQ.c2lnbmF0dXJl"


class _Environment:
    """Stands in for ``paddle_billing.Environment``: the SDK only reads ``base_url`` from it
    (``urljoin(self.options.environment.base_url, url)``), so this points the official
    client at a local server without patching anything."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    from paddle_billing import Client, Options
    from paddle_billing.Resources.CustomerPortalSessions.Operations import (
        CreateCustomerPortalSession,
    )

    client = Client(
        target.credentials["api_key"], options=Options(environment=_Environment(target.base_url))
    )
    customer_id = target.customer_id

    def create() -> object:
        return client.customer_portal_sessions.create(customer_id, CreateCustomerPortalSession())

    return create, client.client.close


BENCH = VendorBench(
    credentials={"api_key": "pdl_bench_apikey_01hbenchmark"},
    customer_id=CUSTOMER,
    status=201,
    answer={
        "data": {
            "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
            "customer_id": CUSTOMER,
            "urls": {
                "general": {"overview": f"{PORTAL}?action=overview&token={TOKEN}"},
                "subscriptions": [],
            },
            "created_at": "2024-10-25T06:53:58Z",
        },
        "meta": {"request_id": "fa176777-4bca-49ec-aa1e-f53885333cb7"},
    },
    url_at=("data", "urls", "general", "overview"),
    sdk=sdk,
    sdk_name="paddle-python-sdk",
)
