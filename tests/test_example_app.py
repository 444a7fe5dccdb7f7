"""examples/manage_billing without a browser: its page, routes and request mapping, with
Starlette's TestClient and a mocked vendor; and its webhook routes, served on 127.0.0.1 for
the sandbox's twins to deliver to. tests/test_browser.py runs it for real."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from _vendors import twin
from _web import (
    CUSTOMER_ID,
    PORTAL_URL,
    FakeVendor,
    RecordingPortal,
    assert_security_headers,
    deep_link,
)
from _web_server import bind_loopback, serve, url_of
from starlette.testclient import TestClient

from examples.manage_billing.app import ACTIONS, create_app, portal_request
from examples.manage_billing.billing import (
    SANDBOX_VENDORS,
    BillingAccount,
    SetupError,
    chosen_vendor,
    live_vendor,
    live_webhooks,
    sandbox_accounts,
    webhook_variables,
)
from portalkit import Action, EventType, Flow, errors, get_vendor_webhooks
from portalkit._http import httpx
from portalkit.sandbox import DeliveryFault, Sandbox
from portalkit.testing import WEBHOOK_VENDORS

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


# -- ask before you show a button: the action buttons per vendor ------------------------------


def page_of(client: TestClient, vendor: str) -> str:
    response = client.get(f"/?vendor={vendor}")
    assert response.status_code == 200
    return response.text


def buttons(page: str, target: str) -> set[str]:
    """The action buttons the page shows for a subscription (or, ``"account"``, for the
    whole account): their actions."""
    return set(re.findall(rf'<button id="([a-z_]+)-{re.escape(target)}" data-action=', page))


def portal_opens_at(url: str) -> dict[str, str] | None:
    """Where the twin's portal page opens for ``url``: its ``#preopened-action`` attributes
    (None: its front page)."""
    page = httpx.get(url, follow_redirects=True, timeout=5)
    assert page.status_code == 200
    found = re.search(r'<p id="preopened-action" ([^>]*)>', page.text)
    return None if found is None else dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found[1]))


def minted_for(account: BillingAccount, action: Action, target: str | None) -> str:
    """What the vendor actually does with the button's flow, asked by minting it against the
    sandbox (create_link, not preview): "opens" (the twin's portal opens at the action, for
    the target), "dropped" (the link lists the flow in ignored_fields) or "refused"."""
    request = portal_request(account, PUBLIC_URL, Flow(action, target))
    try:
        link = account.portal.create_link(request)
    except errors.UnsupportedFeature:
        return "refused"
    if "flow" in link.ignored_fields:
        assert portal_opens_at(link.url) is None
        return "dropped"
    shown = portal_opens_at(link.url)
    assert shown is not None, f"{action} for {target}: the portal opened at its front page"
    assert shown["subscription-id"] == (target or "")
    return "opens"


@pytest.mark.parametrize("vendor", SANDBOX_VENDORS)
def test_the_page_shows_only_the_buttons_the_vendor_can_honour(
    portal_sandbox: Sandbox, vendor: str
) -> None:
    accounts = sandbox_accounts(portal_sandbox)
    account = accounts[vendor]
    try:
        app = create_app(accounts, default_vendor=vendor, public_url=PUBLIC_URL)
        client = TestClient(app, base_url=PUBLIC_URL, follow_redirects=False)
        page = page_of(client, vendor)
        assert portal_sandbox.sessions(vendor) == []  # rendering (and previewing) mints nothing

        targets: list[str | None] = [*account.subscription_ids, None]
        offered: set[Action] = set()
        for target in targets:
            shown = buttons(page, target or "account")
            for action in ACTIONS:
                what = minted_for(account, action, target)
                # A button exactly where the vendor's portal opens at the action.
                assert (action.value in shown) == (what == "opens"), (action, target, what)
                if what == "opens":
                    offered.add(action)
        for action, label in ACTIONS.items():
            note = re.search(rf'<li id="not-offered-{action.value}"[^>]*>([^<]*)</li>', page)
            # Each action without a button anywhere is said to be unavailable, in the app's
            # words (its label, the vendor's name, where the customer lands instead).
            assert (note is None) == (action in offered), action
            if note is not None:
                assert html.unescape(note[1]).startswith(account.label), note[1]
                assert f"“{label}”" in html.unescape(note[1])
                what = minted_for(account, action, targets[0])
                assert f'data-outcome="{what}"' in note[0], (note[0], what)
        # An independent fact about each vendor: its twin's portal page pre-opens some action
        # (the vendor documents deep links) exactly when the page offers any action button.
        assert bool(offered) == bool(twin(vendor).preopened_labels)

        # Each button, pressed, opens the portal at its action (through the app's own route).
        for target in targets:
            for action in buttons(page, target or "account"):
                query = urlencode(
                    {"action": action, **({"subscription_id": target} if target else {})}
                )
                response = client.post(f"/billing/{vendor}?{query}")
                assert response.status_code == 303
                shown = portal_opens_at(response.headers["location"])
                assert shown is not None
                assert shown["subscription-id"] == (target or "")
        # An action the page does not offer, posted anyway, opens the portal's home page.
        for action in set(ACTIONS) - offered:
            query = urlencode(
                {"action": action.value, "subscription_id": account.subscription_ids[0]}
            )
            response = client.post(f"/billing/{vendor}?{query}")
            assert response.status_code == 303
            assert portal_opens_at(response.headers["location"]) is None

        # What "Manage billing" asks for and the vendor drops: the fields its link lists.
        link = account.portal.create_link(portal_request(account, PUBLIC_URL))
        assert set(re.findall(r'<li data-field="([^"]+)"', page)) == set(link.ignored_fields)
    finally:
        for each in accounts.values():
            each.portal.close()


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


# -- the way back: the vendors' webhooks -------------------------------------------------------


def _reports_uncancel(vendor: str) -> bool:
    """Whether portalkit reads one of the vendor's events as a withdrawn cancellation (not
    Paddle: its withdrawal is a ``subscription.updated`` like any other)."""
    table = get_vendor_webhooks(vendor).events
    return any(row.type is EventType.SUBSCRIPTION_UNCANCELED for row in table)


@contextlib.contextmanager
def example_on_sandbox(sandbox: Sandbox, vendor: str) -> Iterator[tuple[str, BillingAccount]]:
    """The example app on 127.0.0.1, on ``sandbox``, which sends it every vendor's webhooks
    (the plugin's ``portal_sandbox`` removes the endpoints after the test)."""
    sock = bind_loopback()
    public_url = url_of(sock)
    accounts = sandbox_accounts(sandbox, public_url)
    app = create_app(accounts, default_vendor=vendor, public_url=public_url)
    try:
        with serve(app, sock) as url:
            yield url, accounts[vendor]
    finally:
        for account in accounts.values():
            account.portal.close()


def shown_state(url: str, vendor: str, subscription_id: str) -> dict[str, str]:
    """The state the account page shows for the subscription: its data- attributes and
    text."""
    page = httpx.get(f"{url}/?vendor={vendor}", timeout=5)
    assert page.status_code == 200
    found = re.search(
        rf'id="subscription-state-{re.escape(subscription_id)}"([^>]*)>([^<]*)<', page.text
    )
    assert found is not None, page.text
    shown = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', found.group(1)))
    shown["text"] = html.unescape(found.group(2))
    return shown


def change(sandbox: Sandbox, vendor: str, what: EventType, subscription_id: str) -> None:
    """Change the subscription as the portal's button does, and wait for its deliveries."""
    before = len(sandbox.deliveries(vendor))
    applied = sandbox.trigger(vendor, what, subscription_id=subscription_id)
    assert applied.deliveries >= 1
    done = sandbox.wait_for_deliveries(vendor, before + applied.deliveries)
    assert all(d.delivered for d in done[before:]), done


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_the_twins_webhooks_are_received_and_shown(portal_sandbox: Sandbox, vendor: str) -> None:
    hooks = portal_sandbox.twin(vendor).webhooks
    assert hooks is not None
    with example_on_sandbox(portal_sandbox, vendor) as (url, account):
        subscription_id = account.subscription_ids[-1]
        assert portal_sandbox.webhook_endpoints(vendor) == [f"{url}/hooks/{vendor}"]
        assert shown_state(url, vendor, subscription_id) == {
            "state": "unknown",
            "text": "No change reported yet",
        }

        change(portal_sandbox, vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED, subscription_id)
        ends = datetime.fromtimestamp(
            portal_sandbox.subscription(vendor, subscription_id).current_period_end, UTC
        )
        shown = shown_state(url, vendor, subscription_id)
        assert shown["state"] == "cancel_scheduled"
        assert shown["ends-at"] == f"{ends:%Y-%m-%d}"
        assert shown["text"] == f"Your plan ends on {ends.day} {ends:%B %Y}"

        if EventType.SUBSCRIPTION_UNCANCELED in hooks.changes:
            portal_sandbox.advance(1)  # a later second: vendors that count in whole seconds
            change(portal_sandbox, vendor, EventType.SUBSCRIPTION_UNCANCELED, subscription_id)
            shown = shown_state(url, vendor, subscription_id)
            if _reports_uncancel(vendor):
                assert shown == {"state": "active", "text": "Active"}
            else:  # Paddle: "updated", and no longer an end date
                assert shown["state"] == "updated"

        portal_sandbox.advance(1)
        change(portal_sandbox, vendor, EventType.SUBSCRIPTION_CANCELED, subscription_id)
        shown = shown_state(url, vendor, subscription_id)
        assert shown["state"] == "canceled"
        assert shown["text"].startswith("Canceled")


@pytest.mark.parametrize("vendor", [v for v in WEBHOOK_VENDORS if _reports_uncancel(v)])
def test_an_older_event_that_arrives_late_changes_nothing(
    portal_sandbox: Sandbox, vendor: str
) -> None:
    with example_on_sandbox(portal_sandbox, vendor) as (url, account):
        subscription_id = account.subscription_ids[0]
        # The cancellation's (first) event is held back until the next one has been sent:
        # the withdrawal's, a second later, where the change sends one event.
        portal_sandbox.script_deliveries(vendor, DeliveryFault.out_of_order())
        cancel = portal_sandbox.trigger(
            vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED, subscription_id=subscription_id
        )
        portal_sandbox.advance(1)
        uncancel = portal_sandbox.trigger(
            vendor, EventType.SUBSCRIPTION_UNCANCELED, subscription_id=subscription_id
        )
        done = portal_sandbox.wait_for_deliveries(vendor, cancel.deliveries + uncancel.deliveries)
        assert all(d.delivered for d in done)
        assert shown_state(url, vendor, subscription_id) == {"state": "active", "text": "Active"}


def test_a_delivery_with_a_bad_signature_is_400_and_changes_nothing(
    portal_sandbox: Sandbox,
) -> None:
    # One vendor is enough here: each vendor's verification has its own tests.
    vendor = WEBHOOK_VENDORS[0]
    with example_on_sandbox(portal_sandbox, vendor) as (url, account):
        subscription_id = account.subscription_ids[0]
        # Signed by the twin with a wrong secret (Chargebee: wrong Basic credentials), as a
        # forged delivery is: refused at every attempt.
        portal_sandbox.script_deliveries(vendor, DeliveryFault.bad_signature())
        applied = portal_sandbox.trigger(
            vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED, subscription_id=subscription_id
        )
        done = portal_sandbox.wait_for_deliveries(vendor, applied.deliveries)
        [forged] = [d for d in done if "bad_signature" in d.faults]
        assert forged.state == "failed"
        assert {a.status_code for a in forged.attempts} == {400}
        if len(done) == 1:  # the change's only event (Polar sends two: the second is fine)
            assert shown_state(url, vendor, subscription_id)["state"] == "unknown"
        # The twin's own body without its headers: refused alike, with nothing said.
        answer = httpx.post(f"{url}/hooks/{vendor}", content=forged.body, timeout=5)
        assert answer.status_code == 400
        assert answer.text == "Rejected."


def test_without_webhooks_the_page_says_how_to_receive_them() -> None:
    response = make_client(FakeVendor())[0].get("/")
    assert 'id="webhooks" data-receiving="no"' in response.text
    assert "PADDLE_WEBHOOK_SECRET" in response.text
    assert f"{PUBLIC_URL}/hooks/paddle" in response.text
    assert make_client(FakeVendor())[0].post("/hooks/paddle").status_code == 404


def test_a_live_vendors_webhooks_come_from_its_variables() -> None:
    assert live_webhooks("paddle", {"PADDLE_API_KEY": "k"}) is None
    hooks = live_webhooks("paddle", {"PADDLE_WEBHOOK_SECRET": "pdl_ntfset_x_secret"})
    assert hooks is not None
    assert hooks.provider == "paddle"
    assert webhook_variables("chargebee") == (
        "CHARGEBEE_WEBHOOK_USERNAME",
        "CHARGEBEE_WEBHOOK_PASSWORD",
    )
    with pytest.raises(errors.ConfigurationError, match="CHARGEBEE_WEBHOOK_PASSWORD"):
        live_webhooks("chargebee", {"CHARGEBEE_WEBHOOK_USERNAME": "u"})
