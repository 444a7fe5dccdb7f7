"""examples/manage_billing without a browser: its page, routes and request mapping, with
Starlette's TestClient and a mocked vendor. tests/test_browser.py runs it for real."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from _web import (
    CUSTOMER_ID,
    PORTAL_URL,
    FakeVendor,
    RecordingPortal,
    assert_security_headers,
    deep_link,
)
from starlette.testclient import TestClient

from examples.manage_billing.app import create_app
from examples.manage_billing.billing import (
    SANDBOX_VENDORS,
    BillingAccount,
    SetupError,
    chosen_vendor,
    live_vendor,
)

PUBLIC_URL = "http://127.0.0.1:8765"
SUBSCRIPTIONS = ("sub_01h04vsc0qhwtsbsxh3422wjs4", "sub_01h04vsc0qhwtsbsxh3422wjs5")
SOMEONE_ELSES = "sub_01h04vsc0qhwtsbsxh3422zzzz"


def make_client(vendor: FakeVendor) -> tuple[TestClient, RecordingPortal]:
    portal = vendor.portal()
    account = BillingAccount(
        vendor="paddle",
        label="Paddle (test)",
        portal=portal,
        customer_id=CUSTOMER_ID,
        subscription_ids=SUBSCRIPTIONS,
    )
    app = create_app({"paddle": account}, default_vendor="paddle", public_url=PUBLIC_URL)
    return TestClient(app, base_url=PUBLIC_URL, follow_redirects=False), portal


def test_the_page_offers_a_post_form_and_mints_nothing() -> None:
    vendor = FakeVendor()
    response = make_client(vendor)[0].get("/")
    assert response.status_code == 200
    assert '<form method="post" action="/billing/paddle">' in response.text
    assert 'id="manage-billing"' in response.text
    assert CUSTOMER_ID in response.text
    assert vendor.requests == []


def test_manage_billing_redirects_to_the_portal() -> None:
    vendor = FakeVendor()
    client, portal = make_client(vendor)
    response = client.post("/billing/paddle")
    assert response.status_code == 303
    assert response.headers["location"] == PORTAL_URL
    assert_security_headers(response.headers)
    assert vendor.bodies() == [{"subscription_ids": list(SUBSCRIPTIONS)}]
    [asked] = portal.asked
    assert asked.customer_id == CUSTOMER_ID
    assert asked.flow is None


def test_the_return_url_comes_from_public_url_not_the_host_header() -> None:
    # Paddle takes no return URL (portalkit drops it before sending), so read it off the
    # PortalRequest the app built.
    client, portal = make_client(FakeVendor())
    client.post("/billing/paddle", headers={"Host": "evil.example"})
    [asked] = portal.asked
    assert asked.return_url is not None
    parts = urlsplit(asked.return_url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL
    assert parse_qs(parts.query) == {"vendor": ["paddle"], "from": ["portal"]}


def test_a_deep_link_for_the_users_own_subscription() -> None:
    vendor = FakeVendor()
    query = f"action=cancel_subscription&subscription_id={SUBSCRIPTIONS[1]}"
    response = make_client(vendor)[0].post(f"/billing/paddle?{query}")
    assert response.status_code == 303
    assert response.headers["location"] == deep_link("cancel_subscription", SUBSCRIPTIONS[1])


def test_a_subscription_of_someone_else_opens_the_overview_only() -> None:
    vendor = FakeVendor()
    query = f"action=cancel_subscription&subscription_id={SOMEONE_ELSES}"
    response = make_client(vendor)[0].post(f"/billing/paddle?{query}")
    assert response.headers["location"] == PORTAL_URL
    assert SOMEONE_ELSES not in str(vendor.bodies())


def test_a_cross_site_post_is_refused() -> None:
    vendor = FakeVendor()
    client, _ = make_client(vendor)
    response = client.post("/billing/paddle", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert vendor.requests == []
    same_site = client.post("/billing/paddle", headers={"Origin": PUBLIC_URL})
    assert same_site.status_code == 303


def test_get_on_the_billing_route_is_405() -> None:
    vendor = FakeVendor()
    assert make_client(vendor)[0].get("/billing/paddle").status_code == 405
    assert vendor.requests == []


def test_an_unknown_vendor_page_is_404() -> None:
    assert make_client(FakeVendor())[0].get("/?vendor=stripe").status_code == 404


def test_the_sandbox_is_the_default_and_credentials_select_a_real_vendor() -> None:
    assert live_vendor({}) is None
    assert live_vendor({"PORTALKIT_PROVIDER": "paddle"}) is None  # picks the page's vendor
    assert live_vendor({"PORTALKIT_PROVIDER": "paddle", "PADDLE_API_KEY": "k"}) == "paddle"
    assert live_vendor({"PORTALKIT_PROVIDER": "paddle", "PLUGIPAY_KEY_ID": "k"}) is None
    offered = SANDBOX_VENDORS
    assert chosen_vendor({}, offered) == offered[0]
    assert chosen_vendor({"PORTALKIT_PROVIDER": "Paddle"}, offered) == "paddle"
    with pytest.raises(SetupError, match="PORTALKIT_PROVIDER"):
        chosen_vendor({"PORTALKIT_PROVIDER": "no-such-vendor"}, offered)
