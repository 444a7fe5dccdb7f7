"""The "Manage billing" button in a real browser: headless Debian Chromium, driven by
Playwright, against the example app and the sandbox, both served on 127.0.0.1 here.

For each vendor: open the app, click "Manage billing", land on the sandbox portal for the
demo user's customer with the actions it allows; follow a deep link; use "Back to merchant";
then open the first link again and get the 410 page (or, where the vendor's links are
reusable until they expire, ``Twin.single_use_links`` False, the portal again). A vendor that
can open a subscription's edit page (Chargebee's forward_url) shows it pre-opened; one that
can end a session early (``Feature.END_SESSION``) answers 410 for a link whose session was
ended, used or not. Screenshots of every portal page go to test-artifacts/ (gitignored).

Two vendors differ from the happy path, on purpose, because their APIs do:

- Deep links: a vendor whose portal page can open at an action (the twin's
  ``preopened_labels``: Paddle's per-subscription deep links, Stripe's ``flow_data``, Lemon
  Squeezy's subscription links, Chargebee's edit-subscription page) opens it there. The app
  asks before it shows a button (``Portal.preview``): it shows "Cancel subscription",
  "Change plan", ... only where the vendor's portal opens at that action, and says which
  actions it cannot open at. The test presses every action button the page shows for a
  subscription and lands on the portal pre-opened there; a vendor that shows none (its
  twin pre-opens nothing) says so on the page, and its front page lists cancelling among
  the actions.
- Return URL: Paddle's API takes none, so its portal has no "Back to merchant" link (the real
  one's way back is configured in Paddle's dashboard, not per session). The test checks that
  the link is absent and that the browser's Back button returns to the app, which is how a
  Paddle customer gets back.

The way back: for each vendor whose twin's portal page cancels a subscription (the twin's
``webhooks.action_changes`` maps an action to ``SUBSCRIPTION_CANCEL_SCHEDULED``), the customer
presses that button in the portal; the twin sends its vendor's webhooks to the app's
``/hooks/<vendor>``, and back in the app the account page shows the end date the normalized
event carried. Where the twin's page offers withdrawing the cancellation, the customer does,
and the page says "Active" again -- or, where the vendor's event cannot tell a withdrawal
from any other update (no row of its webhook table is ``SUBSCRIPTION_UNCANCELED``: Paddle),
that the subscription changed.

Playwright drives /usr/bin/chromium (scripts/test.sh installs it); it never downloads a
browser of its own.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pytest
from _vendors import adapter, seeded_customer, supports, twin
from _web_server import bind_loopback, serve, url_of
from playwright.sync_api import BrowserContext, Page, Response, expect, sync_playwright

from examples.manage_billing.app import create_app
from examples.manage_billing.billing import SANDBOX_VENDORS, sandbox_accounts
from portalkit import (
    Action,
    AfterCompletion,
    EventType,
    Feature,
    Flow,
    Portal,
    PortalRequest,
    get_vendor_webhooks,
)
from portalkit.sandbox import Sandbox

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
# As the machine's notes prescribe: no GPU, no sandbox as root, and none of Chromium's
# background traffic, which this machine's closed network would refuse.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: Upper bound on any one wait for the page; a bound, not a speed assertion.
WAIT_MS = 15_000
#: How long the app's page may take to show what a webhook said (a bound, not a speed test).
WEBHOOK_WAIT_S = 10.0
#: The portal page's own button for a scheduled cancellation, where no action of the twin's
#: withdraws it (docs/sandbox.md, "The portal page's buttons").
WITHDRAW = "withdraw_cancellation"


@attrs.frozen
class Stack:
    sandbox: Sandbox
    app_url: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The sandbox and the example app, each on a free 127.0.0.1 port; the sandbox sends
    every vendor's webhooks to the app."""
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        sock = bind_loopback()
        accounts = sandbox_accounts(sandbox, public_url=url_of(sock))
        app = create_app(accounts, default_vendor=SANDBOX_VENDORS[0], public_url=url_of(sock))
        with serve(app, sock) as app_url:
            yield Stack(sandbox, app_url)
        for account in accounts.values():
            account.portal.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash scripts/test.sh` (as root it installs Debian's"
            " chromium) or `apt-get install -y chromium`"
        )
    # A fresh, empty profile: no state from an earlier run or another test.
    with (
        tempfile.TemporaryDirectory(prefix="portalkit-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    browser.clear_cookies()
    page = browser.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        yield page
    finally:
        page.close()


def click_and_capture_link(page: Page, button: str, app_url: str) -> str:
    """Click a button whose form POSTs to the app; return the link the app redirected to."""
    with page.expect_response(
        lambda response: response.url.startswith(f"{app_url}/billing/")
    ) as answer:
        page.click(button)
    response: Response = answer.value
    assert response.status == 303
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    location = response.headers["location"]
    page.wait_for_selector("#customer-id")  # the portal page (after Plugipay's sign-in script)
    return location


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)


@pytest.mark.parametrize("vendor", SANDBOX_VENDORS)
def test_manage_billing_end_to_end(page: Page, stack: Stack, vendor: str) -> None:
    sandbox, app_url = stack.sandbox, stack.app_url
    customer_id = sandbox.customers(vendor)[0]
    subscription_id = sandbox.subscriptions(vendor, customer_id)[0]
    home = f"{app_url}/?vendor={vendor}"

    # The app's page, with the demo user signed in; rendering it mints nothing.
    page.goto(home)
    assert page.text_content("#customer") == customer_id
    assert sandbox.sessions(vendor) == []

    # "Manage billing": a POST, a 303, and the portal for this customer.
    first_link = click_and_capture_link(page, "#manage-billing", app_url)
    assert first_link.startswith(f"{sandbox.url}/{vendor}/")
    assert page.url.startswith(f"{sandbox.url}/{vendor}/")
    assert page.text_content("#customer-id") == customer_id
    actions = page.eval_on_selector_all("#actions li", "items => items.map(i => i.dataset.action)")
    assert {"cancel_subscription", "update_payment_method", "view_invoices"} <= set(actions)
    assert page.locator("#preopened-action").count() == 0  # the front page
    screenshot(page, f"{vendor}-portal")

    # Back to the app: by the portal's own link, or (a vendor that takes no return URL, e.g.
    # Paddle) the browser's Back button.
    if not supports(vendor, Feature.RETURN_URL):
        assert page.locator("#back-to-merchant").count() == 0
        page.go_back()
        assert page.url == home
    else:
        page.click("#back-to-merchant")
        page.wait_for_selector("#welcome-back")
        assert urlsplit(page.url).query == f"vendor={vendor}&from=portal"
        assert page.url.startswith(f"{app_url}/?")
        screenshot(page, f"{vendor}-back-in-app")

    # The action buttons the page shows for the first subscription: only those the vendor's
    # portal opens at (the app asked Portal.preview), each of which does open it there.
    page.goto(home)
    shown = page.eval_on_selector_all(
        f'li[data-subscription-id="{subscription_id}"] button[data-action]',
        "buttons => buttons.map(b => b.dataset.action)",
    )
    assert bool(shown) == bool(twin(vendor).preopened_labels)  # the twin's own fact
    for action in shown:
        page.goto(home)
        click_and_capture_link(page, f"#{action}-{subscription_id}", app_url)
        assert page.text_content("#customer-id") == customer_id
        preopened = page.locator("#preopened-action")
        assert preopened.get_attribute("data-subscription-id") == subscription_id
        assert preopened.get_attribute("data-action") in twin(vendor).preopened_labels
        screenshot(page, f"{vendor}-deep-link-{action}")
    page.goto(home)
    not_offered = page.eval_on_selector_all(
        "#not-offered li", "items => items.map(i => i.dataset.action)"
    )
    assert not set(shown) & set(not_offered)
    if "cancel_subscription" in not_offered:
        # "Manage billing" opened the front page above, cancelling among its actions.
        assert "cancel_subscription" in actions
        assert page.text_content("#not-offered-cancel_subscription").startswith(
            page.text_content("#vendor")
        )

    # The first link again: used once, so 410 Gone, even in the browser that used it -- or,
    # at a vendor whose signed links work until they expire (Twin.single_use_links False:
    # Lemon Squeezy), the same customer's portal again.
    response = page.goto(first_link)
    assert response is not None
    if twin(vendor).single_use_links:
        assert response.status == 410
        assert page.get_attribute("#gone-reason", "data-reason") == "used"
        screenshot(page, f"{vendor}-gone")
    else:
        assert response.status == 200
        assert page.text_content("#customer-id") == customer_id
        assert page.locator("#preopened-action").count() == 0
        screenshot(page, f"{vendor}-reopened")
    # One session per click, none for rendering a page (or previewing its buttons) or for
    # the refused second visit.
    assert len(sandbox.sessions(vendor)) == 1 + len(shown)


def _opens_update_subscription(vendor: str) -> bool:
    """Can the vendor open its portal at one subscription's edit page (a ``Flow`` its adapter
    sends, not drops or refuses)? Asked with ``Portal.preview``: nothing is sent."""
    request = PortalRequest(
        seeded_customer(vendor),
        return_url="https://app.example/account",  # some vendors require one
        flow=Flow(Action.UPDATE_SUBSCRIPTION, twin(vendor).customers[seeded_customer(vendor)][0]),
    )
    with Portal(adapter(vendor)) as portal:
        return portal.preview(request).honours(Feature.FLOW)


@pytest.mark.parametrize("vendor", [v for v in SANDBOX_VENDORS if _opens_update_subscription(v)])
def test_update_subscription_deep_link(page: Page, stack: Stack, vendor: str) -> None:
    """A vendor that can open the portal at a subscription's edit page (e.g. Chargebee's
    forward_url permalink) does so in the browser."""
    sandbox = stack.sandbox
    customer_id = sandbox.customers(vendor)[0]
    subscription_id = sandbox.subscriptions(vendor, customer_id)[0]
    with Portal(sandbox.provider(vendor)) as portal:
        link = portal.create_link(
            PortalRequest(customer_id, flow=Flow(Action.UPDATE_SUBSCRIPTION, subscription_id))
        )
    assert link.ignored_fields == ()
    assert link.deep_link(Action.UPDATE_SUBSCRIPTION, subscription_id) == link.url
    response = page.goto(link.url)
    assert response is not None
    assert response.status == 200
    page.wait_for_selector("#customer-id")
    preopened = page.locator("#preopened-action")
    assert preopened.get_attribute("data-action") == "update_subscription"
    assert preopened.get_attribute("data-subscription-id") == subscription_id
    screenshot(page, f"{vendor}-update-subscription")


@pytest.mark.parametrize("vendor", [v for v in SANDBOX_VENDORS if supports(v, Feature.END_SESSION)])
def test_an_ended_session_is_gone(page: Page, stack: Stack, vendor: str) -> None:
    """``portal.end_session(link)``: the link answers 410 afterwards, used or not."""
    sandbox = stack.sandbox
    customer_id = sandbox.customers(vendor)[0]
    with Portal(sandbox.provider(vendor)) as portal:
        used = portal.create_link(PortalRequest(customer_id))
        response = page.goto(used.url)
        assert response is not None
        assert response.status == 200
        assert page.text_content("#customer-id") == customer_id
        response = page.goto(used.url)  # single use
        assert response is not None
        assert response.status == 410

        unused = portal.create_link(PortalRequest(customer_id))
        portal.end_session(unused)
        response = page.goto(unused.url)
        assert response is not None
        assert response.status == 410
        assert page.locator("#gone-reason").count() == 1
        screenshot(page, f"{vendor}-ended")
        portal.end_session(used)  # ending a used link's session is fine too
        response = page.goto(used.url)
        assert response is not None
        assert response.status == 410


AFTER_COMPLETION_VENDORS = [
    v for v in SANDBOX_VENDORS if supports(v, Feature.FLOW_AFTER_COMPLETION)
]


@pytest.mark.parametrize("vendor", AFTER_COMPLETION_VENDORS)
def test_cancel_flow_redirects_after_completion(page: Page, stack: Stack, vendor: str) -> None:
    """A cancel flow whose ``after_completion`` is a redirect (e.g. Stripe): the link opens
    the flow's page, the customer confirms (``#flow-confirm``, the convention of a twin's flow
    page), and the browser lands on the redirect URL, back in the app."""
    sandbox, app_url = stack.sandbox, stack.app_url
    customer_id = sandbox.customers(vendor)[0]
    subscription_id = sandbox.subscriptions(vendor, customer_id)[0]
    done_url = f"{app_url}/?vendor={vendor}&from=cancel-flow"
    with Portal(sandbox.provider(vendor)) as portal:
        link = portal.create_link(
            PortalRequest(
                customer_id,
                return_url=f"{app_url}/?vendor={vendor}",
                flow=Flow(
                    Action.CANCEL_SUBSCRIPTION,
                    subscription_id,
                    after_completion=AfterCompletion.redirect(done_url),
                ),
            )
        )

    page.goto(link.url)
    assert page.text_content("#customer-id") == customer_id
    preopened = page.locator("#preopened-action")
    assert preopened.get_attribute("data-action") == "cancel_subscription"
    assert preopened.get_attribute("data-subscription-id") == subscription_id
    screenshot(page, f"{vendor}-cancel-flow")
    with page.expect_navigation(url=done_url):
        page.click("#flow-confirm")
    assert page.url == done_url
    assert page.text_content("#customer") == customer_id  # the app's page, rendered
    screenshot(page, f"{vendor}-after-cancel-flow")
    # The link was single-use: opening it again is 410, even in this browser.
    response = page.goto(link.url)
    assert response is not None
    assert response.status == 410


def _action_for(vendor: str, change: EventType) -> str | None:
    """The twin's portal action that applies ``change`` (None: its page has none)."""
    hooks = twin(vendor).webhooks
    if hooks is None:
        return None
    return next((a for a, c in hooks.action_changes.items() if c is change), None)


def _withdraws(vendor: str) -> bool:
    """Does the twin's page offer withdrawing a scheduled cancellation?"""
    hooks = twin(vendor).webhooks
    return hooks is not None and EventType.SUBSCRIPTION_UNCANCELED in hooks.changes


def _reports_uncancel(vendor: str) -> bool:
    """Does portalkit read one of the vendor's events as a withdrawn cancellation?"""
    return any(
        row.type is EventType.SUBSCRIPTION_UNCANCELED for row in get_vendor_webhooks(vendor).events
    )


CANCELLING_VENDORS = [
    v for v in SANDBOX_VENDORS if _action_for(v, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
]


def press_in_portal(page: Page, sandbox_url: str, vendor: str, action: str, sub: str) -> None:
    """In the twin's portal page (the one the link opened; where that page has no buttons, a
    vendor-specific one, the cookie's own ``/{vendor}/session``), press the button of
    ``action`` for subscription ``sub``, and land on the page again (303)."""
    form = f"#act-{action}-{sub}"
    if page.locator(form).count() == 0:
        page.goto(f"{sandbox_url}/{vendor}/session")
    with page.expect_navigation(url=f"{sandbox_url}/{vendor}/session"):
        page.click(f"{form} button")


def back_to_app(page: Page, home: str) -> None:
    """Back to the app: by the portal's "Back to merchant" link, or (a vendor that takes no
    return URL: Paddle) as the customer would, by going there."""
    if page.locator("#back-to-merchant").count():
        page.click("#back-to-merchant")
        page.wait_for_selector("#welcome-back")
    else:
        page.goto(home)


def wait_for_state(page: Page, sub: str, state: str) -> None:
    """Reload the app's page until it shows ``state`` for ``sub``: the webhook may still be
    on its way. Bounded by WEBHOOK_WAIT_S."""
    shown = page.locator(f"#subscription-state-{sub}")
    deadline = time.monotonic() + WEBHOOK_WAIT_S
    while shown.get_attribute("data-state") != state:
        assert time.monotonic() < deadline, f"the page still shows {shown.text_content()!r}"
        page.wait_for_timeout(50)
        page.reload()


@pytest.mark.parametrize("vendor", CANCELLING_VENDORS)
def test_a_cancellation_in_the_portal_comes_back_to_the_app(
    page: Page, stack: Stack, vendor: str
) -> None:
    sandbox, app_url = stack.sandbox, stack.app_url
    cancel = _action_for(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    assert cancel is not None
    customer_id = sandbox.customers(vendor)[0]
    # The last subscription: the other tests here open deep links for the first.
    sub = sandbox.subscriptions(vendor, customer_id)[-1]
    home = f"{app_url}/?vendor={vendor}"
    state = page.locator(f"#subscription-state-{sub}")

    page.goto(home)
    assert page.get_attribute("#webhooks", "data-receiving") == "yes"
    assert state.get_attribute("data-state") != "cancel_scheduled"

    # "Manage billing", then the portal's cancel button for the subscription.
    click_and_capture_link(page, "#manage-billing", app_url)
    press_in_portal(page, sandbox.url, vendor, cancel, sub)
    expect(page.locator(f"#subscription-status-{sub}")).to_have_attribute(
        "data-status", "cancel_scheduled"
    )
    screenshot(page, f"{vendor}-cancel-scheduled")

    # Back in the app: the end date, as the vendor's webhook said it.
    back_to_app(page, home)
    wait_for_state(page, sub, "cancel_scheduled")
    ends = datetime.fromtimestamp(sandbox.subscription(vendor, sub).current_period_end, UTC)
    assert state.get_attribute("data-ends-at") == f"{ends:%Y-%m-%d}"
    assert state.text_content() == f"Your plan ends on {ends.day} {ends:%B %Y}"
    assert page.get_attribute(f"#subscription-event-{sub}", "data-type") == (
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED.value
    )
    screenshot(page, f"{vendor}-app-cancel-scheduled")

    if not _withdraws(vendor):  # e.g. Plugipay: a cancellation is not taken back
        return
    # The customer changes their mind: the portal again, "Withdraw cancellation".
    withdraw = _action_for(vendor, EventType.SUBSCRIPTION_UNCANCELED) or WITHDRAW
    click_and_capture_link(page, "#manage-billing", app_url)
    press_in_portal(page, sandbox.url, vendor, withdraw, sub)
    expect(page.locator(f"#subscription-status-{sub}")).to_have_attribute("data-status", "active")
    back_to_app(page, home)
    if _reports_uncancel(vendor):
        wait_for_state(page, sub, "active")
        assert state.text_content() == "Active"
    else:  # Paddle: a subscription.updated like any other; the page does not guess
        wait_for_state(page, sub, "updated")
    assert state.get_attribute("data-ends-at") is None
    screenshot(page, f"{vendor}-app-withdrawn")
