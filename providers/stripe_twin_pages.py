"""The Stripe twin's hosted portal (providers/stripe_sandbox.py): ``GET /stripe/p/test_...``
opens the portal, at the session's flow when it has one, and ``POST
/stripe/p/test_.../complete`` confirms the flow and carries out its ``after_completion``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from portalkit.providers.stripe_twin_sessions import FLOW_ACTIONS
from portalkit.sandbox.twin import Pages, Session

_PAGE_CSP = "default-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"


def allowed_actions(session: Session, actions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The portal's actions the session's configuration has on."""
    shown = session.configuration or {}
    return [(a, label) for a, label in actions if shown.get(a, True)]


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /stripe/p/test_...``: the path is the credential. Without a flow, the portal's
    home page; with one, the flow's own page (the portal cookie is set either way)."""
    session = pages.store.session_by_link(request.path_params["token"])
    if session is None:
        return pages.refused("missing")
    flow = session.extra.get("flow")
    if flow is None:
        return pages.open(request, session.id)
    action = FLOW_ACTIONS[flow["type"]][0]
    subscription = session.subscription_ids[0] if session.subscription_ids else None
    opened = pages.open(request, session.id, action=action, subscription_id=subscription)
    if request.method == "HEAD" or opened.status_code != 200:
        return opened
    page = _flow_page(session, flow, action, subscription)
    for name, value in opened.raw_headers:
        if name == b"set-cookie":
            page.raw_headers.append((name, value))
    return page


def _flow_page(
    session: Session, flow: Mapping[str, Any], action: str, subscription: str | None
) -> HTMLResponse:
    flow_type = flow["type"]
    details = flow.get(flow_type) or {}
    rows = [("customer-id", "Customer", session.customer_id), ("session-id", "Session", session.id)]
    parts = [
        '<h1 id="portal-title">Stripe customer portal</h1>\n',
        '<p id="sandbox-notice">portalkit sandbox: nothing here is real.</p>\n<dl>\n',
        *(f'<dt>{label}</dt><dd id="{eid}">{escape(value)}</dd>\n' for eid, label, value in rows),
        "</dl>\n",
        f'<p id="preopened-action" data-action="{escape(action)}" '
        f'data-subscription-id="{escape(subscription or "")}" '
        f'data-flow-type="{escape(flow_type)}">'
        f"Opened at: {escape(_LABELS[flow_type])}"
        f"{escape(' for ' + subscription) if subscription else ''}</p>\n",
    ]
    retention = details.get("retention")
    if retention:
        coupon = retention["coupon_offer"]["coupon"]
        parts.append(
            f'<p id="retention-offer" data-coupon="{escape(coupon)}">Before you go: coupon'
            f" {escape(coupon)} is yours if you stay.</p>\n"
        )
    for item in details.get("items") or []:
        parts.append(
            f'<p class="confirm-item" data-item="{escape(item["id"])}">{escape(item["id"])}:'
            f" price {escape(str(item['price']))}, quantity {escape(str(item['quantity']))}</p>\n"
        )
    after = flow["after_completion"]["type"]
    parts.append(
        f'<form id="flow-form" method="post" action="/stripe/p/{escape(session.token)}/complete"'
        f' data-after-completion="{escape(after)}">\n'
        f'<input type="hidden" name="flow_secret" value="{escape(session.extra["flow_secret"])}">\n'
        f'<button id="flow-confirm" type="submit">{escape(_CONFIRM[flow_type])}</button>\n'
        "</form>\n"
    )
    back = session.return_url
    if back:
        parts.append(
            f'<p><a id="back-to-merchant" href="{escape(back, quote=True)}" rel="noreferrer">'
            "Back to merchant</a></p>\n"
        )
    csp = _PAGE_CSP
    if after == "redirect":  # the form's answer redirects there: allow the navigation
        csp += " " + _origin(flow["after_completion"]["redirect"]["return_url"])
    return _html("Stripe customer portal (portalkit sandbox)", "".join(parts), csp, session)


_LABELS = {
    "payment_method_update": "Update payment method",
    "subscription_cancel": "Cancel subscription",
    "subscription_update": "Update subscription",
    "subscription_update_confirm": "Confirm subscription update",
    "customer_update": "Update customer information",
}
_CONFIRM = {
    "payment_method_update": "Save payment method",
    "subscription_cancel": "Cancel subscription",
    "subscription_update": "Update subscription",
    "subscription_update_confirm": "Confirm",
    "customer_update": "Save",
}
# What the hosted confirmation says when the session set no custom message.
_DONE = {
    "payment_method_update": "Your payment method has been updated.",
    "subscription_cancel": "Your subscription has been canceled.",
    "subscription_update": "Your subscription has been updated.",
    "subscription_update_confirm": "Your subscription has been updated.",
    "customer_update": "Your information has been updated.",
}


def _origin(url: str) -> str:
    parts = urlsplit(url)  # checked at create: https, or http to loopback
    return f"{parts.scheme}://{parts.netloc}"


def _html(
    title: str, body: str, csp: str, session: Session | None = None, status: int = 200
) -> HTMLResponse:
    lang = escape(session.locale or "en") if session else "en"
    document = (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(document, status, {"Content-Security-Policy": csp})


async def complete_flow(request: Request, pages: Pages) -> Response:
    """``POST /stripe/p/test_.../complete``: the customer confirmed the flow (the form's
    ``flow_secret`` proves the page was opened); carry out its ``after_completion``."""
    session = pages.store.session_by_link(request.path_params["token"])
    if session is None or session.extra.get("flow") is None:
        return pages.refused("missing")
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    given = form.get("flow_secret", "")
    if not session.used or not secrets.compare_digest(
        given.encode(), str(session.extra["flow_secret"]).encode()
    ):
        return pages.refused("forbidden")
    if pages.store.get_object("flow_completion", session.id) is not None:
        return pages.refused("used")
    flow = session.extra["flow"]
    after = flow["after_completion"]
    pages.store.put_object(
        "flow_completion",
        session.id,
        {"type": flow["type"], "after_completion": after["type"], "at": pages.store.now()},
    )
    if after["type"] == "redirect":
        return RedirectResponse(after["redirect"]["return_url"], 303)
    if after["type"] == "portal_homepage":
        return RedirectResponse("/stripe/session", 303)
    message = (after.get("hosted_confirmation") or {}).get("custom_message") or _DONE[flow["type"]]
    body = (
        '<h1 id="flow-complete">Done</h1>\n'
        f'<p id="confirmation-message">{escape(message)}</p>\n'
        '<p><a id="portal-home" href="/stripe/session">Return to the portal</a></p>\n'
    )
    return _html("Done (portalkit sandbox)", body, _PAGE_CSP, session)
