"""The portal page's webhook buttons in a real browser (headless Debian Chromium, driven by
Playwright): for every twin that sends webhooks, open a minted link, press "Cancel" on the
first subscription, land back on the portal showing the scheduled end, press "Withdraw
cancellation" where the vendor has an event for it -- and the app's endpoint, portalkit's
webhook view on 127.0.0.1, receives each change as a verified event.

What only a browser shows: the page's Content-Security-Policy (``form-action 'self'``) lets
the forms post and follow the 303, the path-scoped cookie rides along, and the same-origin
check lets the page's own forms through (Chromium sends them with ``Origin: null``, the
pages being ``Referrer-Policy: no-referrer``, and ``Sec-Fetch-Site: same-origin``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _web_server import bind_loopback, serve
from _webhook_receiver import Receiver
from playwright.sync_api import Page

# The same browser, profile and page as tests/test_browser.py.
from test_browser import browser, page  # noqa: F401

from portalkit import EventType, Portal, PortalRequest
from portalkit.sandbox import DeliveryPolicy, Sandbox, load_twins

pytestmark = pytest.mark.browser

VENDORS = tuple(t.name for t in load_twins() if t.webhooks is not None)
RETURN_URL = "https://app.example/account"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    served = Sandbox(delivery_policy=DeliveryPolicy(max_attempts=3, backoff=0.02))
    with served.serve(host="127.0.0.1", port=0):
        yield served


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_cancel_button_in_a_browser(vendor: str, sandbox: Sandbox, page: Page) -> None:  # noqa: F811
    sandbox.reset()
    hooks = sandbox.twin(vendor).webhooks
    assert hooks is not None
    app = Receiver({vendor: sandbox.webhook_env(vendor)})
    customer = next(c for c in sandbox.customers(vendor) if sandbox.subscriptions(vendor, c))
    sub = sandbox.subscriptions(vendor, customer)[0]
    with serve(app.app(), bind_loopback()) as app_url:
        sandbox.add_webhook_endpoint(vendor, f"{app_url}/hooks/{vendor}")
        try:
            with Portal(sandbox.provider(vendor)) as portal:
                link = portal.create_link(PortalRequest(customer, return_url=RETURN_URL))
            page.goto(link.url)
            status = f"#subscription-status-{sub}"
            page.wait_for_selector(f'{status}[data-status="active"]')

            cancel = next(a for a, c in hooks.action_changes.items() if c in _CANCELS)
            page.click(f"#act-{cancel}-{sub} button[data-action='{cancel}']")
            page.wait_for_selector(f'{status}:not([data-status="active"])')
            assert page.url == f"{sandbox.url}/{vendor}/session"  # the 303, followed
            scheduled = hooks.action_changes[cancel] is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
            if scheduled:
                assert (page.text_content(status) or "").startswith("Ends on ")
            sent = len(sandbox.deliveries(vendor))  # queued before the 303 was answered
            assert all(d.delivered for d in sandbox.wait_for_deliveries(vendor, sent))
            assert hooks.action_changes[cancel] in [e.type for e in app.events[vendor]]

            if scheduled and EventType.SUBSCRIPTION_UNCANCELED in hooks.changes:
                handled = len(app.events[vendor])
                page.click(f"#act-withdraw_cancellation-{sub} button")
                page.wait_for_selector(f'{status}[data-status="active"]')
                more = len(sandbox.deliveries(vendor))
                assert more > sent
                assert all(d.delivered for d in sandbox.wait_for_deliveries(vendor, more))
                # Verified and handled; its type is the vendor's to say (docs/webhooks.md).
                assert len(app.events[vendor]) > handled
        finally:
            sandbox.remove_webhook_endpoint(vendor)


_CANCELS = (EventType.SUBSCRIPTION_CANCEL_SCHEDULED, EventType.SUBSCRIPTION_CANCELED)
