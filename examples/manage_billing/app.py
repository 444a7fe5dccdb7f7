"""A "Manage billing" page on Starlette, with portalkit.web doing the minting.

Run it from the repository root (after ``bash scripts/test.sh`` or ``pip install -e
".[dev]"``)::

    .venv/bin/python -m examples.manage_billing        # then open http://127.0.0.1:8000

By default it starts the portalkit sandbox in this process, signs in a demo user who is a
customer at each of the sandbox's vendors, and lets you pick the vendor on the page
(``PORTALKIT_PROVIDER`` picks the one it opens on). With a vendor's credentials in the
environment it uses that vendor for real instead (see billing.py).

It also closes the loop: what the customer does in the vendor's portal comes back as the
vendor's webhooks, received at ``/hooks/<vendor>`` by ``portalkit.web.starlette.webhook_view``
and kept per subscription (events.py), and the page shows it ("Your plan ends on ...").
On the sandbox, the sandbox sends them there (``PORTALKIT_EXAMPLE_PUBLIC_URL`` must then be
where this process is reached); at a real vendor, set its webhook variables and point its
webhook at ``<public URL>/hooks/<vendor>``.

Ask before you show a button: the page offers "Cancel subscription", "Change plan", ...
only where the vendor's portal can open at that action -- ``portal.preview(request)`` says
so without sending anything -- and says what the vendor cannot open at (its portal home is
where the customer lands instead), and which hints of "Manage billing" it drops.

What to copy into an app: the form that POSTs to the billing route (never a link minted at
render time), ``redirect_view`` with the app's own ``to_request``, the subscription check in
``to_request``, the preview before each action button, a same-origin check on the POST, and
a webhook route outside that check.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from portalkit import Action, Feature, Flow, Outcome, PortalRequest, RequestPreview, errors
from portalkit.web.starlette import redirect_view, webhook_view

from .billing import (
    HOOKS_PATH,
    SANDBOX_VENDORS,
    BillingAccount,
    SetupError,
    chosen_vendor,
    hooks_url,
    live_account,
    live_vendor,
    sandbox_accounts,
    webhook_variables,
)
from .events import SubscriptionEvents, SubscriptionNews
from .settings import server_settings

DEMO_USER = "Ada Lovelace"
#: The actions the page offers a button for, each where the vendor's portal can open at it
#: (``Portal.preview``): for one subscription, else for the whole account.
ACTIONS = {
    Action.CANCEL_SUBSCRIPTION: "Cancel subscription",
    Action.UPDATE_SUBSCRIPTION: "Change plan",
    Action.UPDATE_PAYMENT_METHOD: "Update payment method",
    Action.VIEW_INVOICES: "View invoices",
    Action.UPDATE_CUSTOMER_DETAILS: "Update billing details",
}
Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    accounts: Mapping[str, BillingAccount],
    *,
    default_vendor: str,
    public_url: str,
    events: SubscriptionEvents | None = None,
) -> Starlette:
    """The example app. ``public_url`` is where browsers reach it (the return URL is built
    from it, never from the request's Host header, which the client controls). ``events``
    keeps what the vendors' webhooks said (default: a new, empty one)."""
    public_url = public_url.rstrip("/")
    news = SubscriptionEvents() if events is None else events

    def to_request_for(account: BillingAccount) -> Callable[[Request], PortalRequest]:
        def to_request(request: Request) -> PortalRequest:
            # The app's own mapping: the signed-in user (always the demo user here) to their
            # customer at this vendor. A deep link is honoured only for that customer's own
            # subscriptions (ids from the browser are never trusted as they are), and only
            # where the page offers its button: otherwise the portal's home page.
            action = request.query_params.get("action")
            subscription_id = request.query_params.get("subscription_id")
            if action not in {a.value for a in ACTIONS}:
                return portal_request(account, public_url)
            if subscription_id is not None and subscription_id not in account.subscription_ids:
                return portal_request(account, public_url)
            asked = portal_request(account, public_url, Flow(Action(action), subscription_id))
            if not account.portal.preview(asked).honours(Feature.FLOW):
                return portal_request(account, public_url)
            return asked

        return to_request

    async def home(request: Request) -> Response:
        vendor = request.query_params.get("vendor", default_vendor)
        if vendor not in accounts:
            return PlainTextResponse("Unknown vendor.", 404)
        back = request.query_params.get("from") == "portal"
        page = render_page(accounts, accounts[vendor], back, news, public_url)
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    routes = [Route("/", home, name="home")]
    for account in accounts.values():
        view = redirect_view(account.portal, to_request_for(account))
        routes.append(Route(f"/billing/{account.vendor}", same_origin_only(view), methods=["POST"]))
        if account.webhooks is not None:
            # The vendor's POSTs: no Origin check (the vendor is not a browser); the view
            # verifies the signature instead, and hands each event to the handler once.
            hooks = webhook_view(account.webhooks, news.apply)
            routes.append(Route(HOOKS_PATH + account.vendor, hooks, methods=["POST"]))
    return Starlette(routes=routes)


def same_origin_only(endpoint: Endpoint) -> Endpoint:
    """Refuse a POST that a browser sent from another site (cross-site request forgery).

    Browsers send ``Origin`` with every POST; it must name this app's own host. A real app
    would rather use its framework's CSRF token, which covers older browsers too.
    """

    async def guarded(request: Request) -> Response:
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
            return PlainTextResponse("Cross-site request refused.", 403)
        return await endpoint(request)

    return guarded


def portal_request(
    account: BillingAccount, public_url: str, flow: Flow | None = None
) -> PortalRequest:
    """What "Manage billing" (no flow) or an action's button (its flow) asks the vendor for."""
    back = urlencode({"vendor": account.vendor, "from": "portal"})
    return PortalRequest(
        account.customer_id,
        return_url=f"{public_url.rstrip('/')}/?{back}",
        subscription_ids=account.subscription_ids,
        flow=flow,
    )


def action_previews(
    account: BillingAccount, public_url: str
) -> dict[Action, dict[str | None, RequestPreview]]:
    """What each action's button would get, asked of the vendor's Portal before rendering
    (``Portal.preview`` sends nothing): per subscription of the user's, and (None) for the
    whole account."""
    return {
        action: {
            target: account.portal.preview(
                portal_request(account, public_url, Flow(action, target))
            )
            for target in (*account.subscription_ids, None)
        }
        for action in ACTIONS
    }


def action_button(account: BillingAccount, action: Action, target: str | None) -> str:
    e = html.escape
    query: dict[str, str] = {"action": action.value}
    if target is not None:
        query["subscription_id"] = target
    return (
        f'<form method="post" action="/billing/{e(account.vendor)}?{e(urlencode(query))}">'
        f'<button id="{e(action.value)}-{e(target or "account")}" data-action="{e(action.value)}"'
        f">{e(ACTIONS[action])}</button></form>"
    )


def not_offered(
    account: BillingAccount, previews: Mapping[Action, Mapping[str | None, RequestPreview]]
) -> str:
    """What the vendor's portal cannot open at, in the app's words (``#not-offered``): each
    action with no button on the page, and whether portalkit would drop the flow (the portal
    opens at its home) or refuse it; the preview's reason, portalkit's own, as the title."""
    e = html.escape
    items = []
    for action, label in ACTIONS.items():
        by_target = previews[action]
        if any(preview.honours(Feature.FLOW) for preview in by_target.values()):
            continue
        # The first subscription's answer when there is one, else the account's.
        preview = next(iter(by_target.values()))
        outcome = preview.outcome(Feature.FLOW) or Outcome.DROPPED
        reason = next(
            (entry.reason for entry in preview.features if entry.feature is Feature.FLOW), ""
        )
        if outcome is Outcome.DROPPED:
            text = f"{account.label} opens its portal home; it cannot open at “{label}”."
        else:
            text = (
                f"{account.label} cannot open its portal at “{label}”; “Manage billing”"
                " opens its home."
            )
        items.append(
            f'<li id="not-offered-{e(action.value)}" data-action="{e(action.value)}"'
            f' data-outcome="{e(outcome.value)}" title="{e(reason)}">{e(text)}</li>'
        )
    if not items:
        return ""
    return f'<ul id="not-offered">{"".join(items)}</ul>'


def dropped_hints(account: BillingAccount, public_url: str) -> str:
    """The hints of "Manage billing" the vendor drops (``#dropped-fields``): the request
    fields its link will list in ``ignored_fields``, with portalkit's reason."""
    e = html.escape
    preview = account.portal.preview(portal_request(account, public_url))
    if not preview.dropped:
        return ""
    items = "".join(
        f'<li data-field="{e(entry.field)}" title="{e(entry.reason)}"><code>{e(entry.field)}'
        "</code></li>"
        for entry in preview.dropped
    )
    return (
        f'<p class="note">{e(account.label)} ignores some of what this page asks for:</p>'
        f'<ul id="dropped-fields">{items}</ul>'
    )


def render_page(
    accounts: Mapping[str, BillingAccount],
    account: BillingAccount,
    back_from_portal: bool,
    events: SubscriptionEvents | None = None,
    public_url: str = "",
) -> str:
    e = html.escape
    news = SubscriptionEvents() if events is None else events
    vendors = " ".join(
        f'<a href="/?vendor={e(name)}" id="vendor-{e(name)}"'
        + (' aria-current="page"' if name == account.vendor else "")
        + f">{e(other.label)}</a>"
        for name, other in accounts.items()
    )
    # Ask before you show a button: only the actions the vendor's portal can open at.
    previews = action_previews(account, public_url)
    account_actions = "".join(
        action_button(account, action, None)
        for action, by_target in previews.items()
        if by_target[None].honours(Feature.FLOW)
    )
    subscriptions = "".join(
        f'<li data-subscription-id="{e(subscription_id)}"><code>{e(subscription_id)}</code> '
        + "".join(
            action_button(account, action, subscription_id)
            for action, by_target in previews.items()
            if by_target[subscription_id].honours(Feature.FLOW)
        )
        + '<div class="state">'
        + subscription_state(subscription_id, news.get(account.vendor, subscription_id))
        + "</div></li>"
        for subscription_id in account.subscription_ids
    )
    welcome = (
        '<p id="welcome-back" class="note">Welcome back from the billing portal.</p>'
        if back_from_portal
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Account · Manage billing example</title>
<style>
 body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; }}
 nav a {{ margin-right: 1rem; }} nav a[aria-current] {{ font-weight: bold; }}
 form {{ display: inline; margin-right: .5rem; }} .note {{ background: #eef; padding: .5rem; }}
 button {{ font: inherit; padding: .3rem .8rem; }}
 li {{ margin-bottom: .5rem; }} .state {{ margin-top: .2rem; }}
</style></head>
<body>
<h1>Your account</h1>
<p>Signed in as <strong id="user">{e(DEMO_USER)}</strong> (demo user).</p>
{welcome}
<nav>Billing vendor: {vendors}</nav>
<h2>Billing</h2>
<p>Billed by <strong id="vendor">{e(account.label)}</strong>
 as customer <code id="customer">{e(account.customer_id)}</code>.</p>
<form method="post" action="/billing/{e(account.vendor)}">
 <button id="manage-billing">Manage billing</button></form>
<div id="account-actions">{account_actions}</div>
{dropped_hints(account, public_url)}
<h3>Subscriptions</h3>
<ul>{subscriptions or "<li>None.</li>"}</ul>
{not_offered(account, previews)}
{webhooks_note(account, public_url)}
</body></html>
"""


def subscription_state(subscription_id: str, news: SubscriptionNews | None) -> str:
    """What the vendor's latest event said of the subscription, with stable ids for tests:
    ``#subscription-state-<id>`` (``data-state``, and ``data-ends-at`` when it ends) and
    ``#subscription-event-<id>`` (the event that said so)."""
    e = html.escape
    sub = e(subscription_id, quote=True)
    if news is None:
        return (
            f'<span id="subscription-state-{sub}" data-state="unknown">'
            "No change reported yet</span>"
        )
    ends = news.ends_at
    ends_attr = f' data-ends-at="{ends:%Y-%m-%d}"' if ends is not None else ""
    when = f"{ends.day} {ends:%B %Y}" if ends is not None else None
    text = {
        "active": "Active",
        "cancel_scheduled": f"Your plan ends on {when}" if when else "Your plan is ending",
        "canceled": f"Canceled (ended on {when})" if when else "Canceled",
        "updated": "Changed in the billing portal (the vendor's event does not say how)",
    }.get(news.state, news.state)
    reported = f"{news.occurred_at:%Y-%m-%d %H:%M:%S} UTC"
    return (
        f'<strong id="subscription-state-{sub}" data-state="{e(news.state)}"{ends_attr}>'
        f"{e(text)}</strong>"
        f' <small id="subscription-event-{sub}" data-type="{e(news.type.value)}">'
        f"({e(news.type.value)}: {e(news.vendor_type)}, {e(reported)})</small>"
    )


def webhooks_note(account: BillingAccount, public_url: str) -> str:
    """Whether changes made in the portal come back to this page, and if not, how to."""
    e = html.escape
    if account.webhooks is not None:
        return (
            '<p id="webhooks" data-receiving="yes" class="note">Changes made in the billing'
            f" portal come back here as {e(account.label)}'s webhooks (POST"
            f" <code>{e(HOOKS_PATH + account.vendor)}</code>): reload to see them.</p>"
        )
    variables = webhook_variables(account.vendor)
    how = (
        f"set {' and '.join(f'<code>{e(name)}</code>' for name in variables)} and send"
        f" {e(account.label)}'s webhooks to <code>{e(hooks_url(public_url, account.vendor))}</code>"
        if variables
        else "portalkit reads no webhooks from this vendor"
    )
    return (
        '<p id="webhooks" data-receiving="no" class="note">No webhook receiver: changes made'
        f" in the billing portal are not shown here ({how}).</p>"
    )


@contextlib.contextmanager
def accounts_from_environment(
    environ: Mapping[str, str], public_url: str
) -> Iterator[tuple[dict[str, BillingAccount], str]]:
    """The demo user's accounts and the vendor to open on: a real vendor when its
    credentials are set, else every sandbox vendor, on a sandbox started here that sends its
    webhooks to ``public_url``."""
    with contextlib.ExitStack() as stack:
        vendor = live_vendor(environ)
        if vendor is not None:
            accounts = {vendor: live_account(vendor, environ)}
        else:
            from portalkit.sandbox import Sandbox

            vendor = chosen_vendor(environ, SANDBOX_VENDORS)  # checked before anything starts
            sandbox = Sandbox()
            stack.enter_context(sandbox.serve(host="127.0.0.1", port=0))
            print(f"Sandbox running at {sandbox.url}", file=sys.stderr)
            accounts = sandbox_accounts(sandbox, public_url)
        for account in accounts.values():
            stack.callback(account.portal.close)
        yield accounts, vendor


def main(environ: Mapping[str, str] = os.environ) -> None:
    import uvicorn

    try:
        host, port, public_url = server_settings(environ)
        with accounts_from_environment(environ, public_url) as (accounts, default_vendor):
            app = create_app(accounts, default_vendor=default_vendor, public_url=public_url)
            print(f"Manage billing example: open {public_url}/", file=sys.stderr)
            uvicorn.run(app, host=host, port=port, log_level="warning")
    except (SetupError, errors.ConfigurationError) as error:
        sys.exit(f"examples.manage_billing: {error}")
