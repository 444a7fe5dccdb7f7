"""The "Manage billing" button in a real browser: headless Debian Chromium, driven by
Playwright, against the example app and the sandbox, both served on 127.0.0.1 here.

For each vendor: open the app, click "Manage billing", land on the sandbox portal for the
demo user's customer with the actions it allows; follow a deep link; use "Back to merchant";
then open the first link again and get the 410 page (or, where the vendor's links are
reusable until they expire, ``Twin.single_use_links`` False, the portal again). Screenshots
of every portal page go to test-artifacts/ (gitignored).

Two vendors differ from the happy path, on purpose, because their APIs do:

- Deep links: Paddle and Lemon Squeezy have them (per subscription). The app's "Cancel
  subscription" button asks for one through a ``Flow`` (Lemon Squeezy, which has no cancel
  deep link, gets "Update payment method": the first the twin pre-opens); Plugipay and
  Paylera cannot open a portal at an action, so portalkit drops the flow (a cosmetic hint,
  listed in ``ignored_fields``) and the customer lands on the portal's front page, where
  cancelling is one of the listed actions. The test checks exactly that: no pre-opened
  action, and "cancel" among the actions.
- Return URL: Paddle's API takes none, so its portal has no "Back to merchant" link (the real
  one's way back is configured in Paddle's dashboard, not per session). The test checks that
  the link is absent and that the browser's Back button returns to the app, which is how a
  Paddle customer gets back.

Playwright drives /usr/bin/chromium (scripts/test.sh installs it); it never downloads a
browser of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import attrs
import pytest
from _vendors import supports, twin
from _web_server import bind_loopback, serve, url_of
from playwright.sync_api import BrowserContext, Page, Response, sync_playwright

from examples.manage_billing.app import create_app
from examples.manage_billing.billing import SANDBOX_VENDORS, sandbox_accounts
from portalkit import Feature
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
#: The app's deep-link buttons the test may follow, by preference (action ids).
DEEP_LINK_ACTIONS = ("cancel_subscription", "update_payment_method")


@attrs.frozen
class Stack:
    sandbox: Sandbox
    app_url: str


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The sandbox and the example app, each on a free 127.0.0.1 port."""
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        accounts = sandbox_accounts(sandbox)
        sock = bind_loopback()
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

    # A deep link for the first subscription: "Cancel subscription", or where the vendor's
    # deep links cannot open that (Lemon Squeezy) "Update payment method".
    opens = twin(vendor).preopened_labels
    action = next((a for a in DEEP_LINK_ACTIONS if a in opens), DEEP_LINK_ACTIONS[0])
    page.goto(home)
    click_and_capture_link(page, f"#{action}-{subscription_id}", app_url)
    assert page.text_content("#customer-id") == customer_id
    preopened = page.locator("#preopened-action")
    if supports(vendor, Feature.SUBSCRIPTION_DEEP_LINKS):  # e.g. Paddle
        assert preopened.get_attribute("data-action") == action
        assert preopened.get_attribute("data-subscription-id") == subscription_id
    else:  # no deep links at this vendor: its front page, with cancelling among the actions
        assert preopened.count() == 0
        assert page.locator("#action-cancel_subscription").count() == 1
    screenshot(page, f"{vendor}-deep-link")

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
    # One session per click, none for rendering a page or for the refused second visit.
    assert len(sandbox.sessions(vendor)) == 2
