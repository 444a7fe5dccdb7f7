"""The hosted portal's HTML: minimal, every value escaped, stable element ids for browser
tests (listed in docs/sandbox.md).

Nothing a client sent reaches the page unescaped: customer ids, return URLs and subscription
ids go through ``html.escape``; the return URL is also re-checked to be http(s) before it
becomes a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from ._store import Session, utc

if TYPE_CHECKING:
    from ._changes import PortalAction
    from ._twin_events import SubscriptionState
    from .twin import Twin

#: Pages run one same-origin script (the fragment-token exchange) and nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
EXCHANGE_SCRIPT_PATH = "/_sandbox/static/portal-exchange.js"


def _document(title: str, body: str, lang: str = "en") -> str:
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )


def _safe_link(url: str) -> str | None:
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


@attrs.frozen
class SubscriptionRow:
    """One subscription on the portal page: its id, and for a twin that sends webhooks its
    state and the buttons the page offers for it."""

    id: str
    state: SubscriptionState | None = None
    actions: Sequence[PortalAction] = ()


def portal_page(
    twin: Twin,
    session: Session,
    subscriptions: Sequence[SubscriptionRow],
    action: str | None = None,
    subscription_id: str | None = None,
) -> str:
    """The portal itself: who, what they may do, the pre-opened action, the way back."""
    vendor = twin.title
    rows = [
        ("customer-id", "Customer", session.customer_id),
        ("session-id", "Session", session.id),
        ("expires-at", "Link expires", session.expires_at.isoformat()),
    ]
    if session.locale:
        rows.append(("locale", "Locale", session.locale))
    parts = [
        f'<h1 id="portal-title">{escape(vendor)} customer portal</h1>\n',
        '<p id="sandbox-notice">portalkit sandbox: nothing here is real.</p>\n<dl>\n',
        *(f'<dt>{label}</dt><dd id="{eid}">{escape(value)}</dd>\n' for eid, label, value in rows),
        "</dl>\n",
    ]
    if action is not None:
        label = twin.preopened_labels.get(action, action)
        target = f" for {subscription_id}" if subscription_id else ""
        parts.append(
            f'<p id="preopened-action" data-action="{escape(action)}" '
            f'data-subscription-id="{escape(subscription_id or "")}">'
            f"Opened at: {escape(label + target)}</p>\n"
        )
    parts.append('<h2>What you can do</h2>\n<ul id="actions">\n')
    parts.extend(
        f'<li id="action-{escape(a)}" data-action="{escape(a)}">{escape(label)}</li>\n'
        for a, label in twin.allowed_actions(session, twin.actions)
    )
    parts.append('</ul>\n<h2>Subscriptions</h2>\n<ul id="subscriptions">\n')
    parts.extend(_subscription(twin.name, row) for row in subscriptions)
    parts.append("</ul>\n")
    back = _safe_link(session.return_url) if session.return_url else None
    if back is not None:
        parts.append(
            f'<p><a id="back-to-merchant" href="{escape(back, quote=True)}" rel="noreferrer">'
            "Back to merchant</a></p>\n"
        )
    return _document(
        f"{vendor} customer portal (portalkit sandbox)", "".join(parts), session.locale or "en"
    )


def _subscription(vendor: str, row: SubscriptionRow) -> str:
    sub = escape(row.id, quote=True)
    parts = [f'<li id="subscription-{sub}" data-subscription-id="{sub}">{sub}']
    state = row.state
    if state is not None:
        status, text = _status(state)
        parts += [
            f' <span id="subscription-status-{sub}" data-status="{status}">{escape(text)}</span>',
            f' <span id="subscription-plan-{sub}" data-plan="{escape(state.plan, quote=True)}">'
            f"Plan: {escape(state.plan)}</span>",
            f' <span id="subscription-payment-method-{sub}" '
            f'data-payment-method="{escape(state.payment_method, quote=True)}">'
            f"Payment method: {escape(state.payment_method)}</span>",
        ]
    # Plain forms: the cookie is scoped to /{vendor}/session, so a POST to .../session/act
    # carries it, and the page needs no script (its CSP allows forms to itself only).
    for offered in row.actions:
        action = escape(offered.id, quote=True)
        parts.append(
            f'\n<form id="act-{action}-{sub}" method="post" '
            f'action="/{escape(vendor, quote=True)}/session/act">'
            f'<input type="hidden" name="action" value="{action}">'
            f'<input type="hidden" name="subscription_id" value="{sub}">'
            f'<button type="submit" data-action="{action}" data-subscription-id="{sub}">'
            f"{escape(offered.label)}</button></form>"
        )
    parts.append("</li>\n")
    return "".join(parts)


def _status(state: SubscriptionState) -> tuple[str, str]:
    """(``data-status``, the words): active, cancel_scheduled ("Ends on ..."), canceled."""
    if state.status == "canceled":
        return "canceled", "Canceled"
    if state.cancel_at_period_end:
        return "cancel_scheduled", f"Ends on {utc(state.current_period_end):%Y-%m-%d}"
    return "active", "Active"


def exchange_page(title: str, session_path: str) -> str:
    """The first page of a link whose token is in the URL fragment, which the browser never
    sends: a script reads it and trades it for the cookie, then opens ``session_path``."""
    body = (
        f'<h1 id="portal-title">{escape(title)} customer portal</h1>\n'
        '<p id="exchange-status" data-state="exchanging" '
        f'data-next="{escape(session_path, quote=True)}">Signing you in…</p>\n'
        '<noscript><p id="noscript">This portal link needs JavaScript to read its sign-in '
        "token.</p></noscript>\n"
        f'<script src="{EXCHANGE_SCRIPT_PATH}"></script>\n'
    )
    return _document("Signing in (portalkit sandbox)", body)


_GONE = {
    "used": "This portal link was already used. Portal links work once: go back to the "
    "merchant's site and open the billing portal again.",
    "expired": "This portal link has expired. Go back to the merchant's site and open the "
    "billing portal again.",
}


def gone_page(reason: str) -> str:
    body = (
        '<h1 id="gone">This portal link is no longer valid</h1>\n'
        f'<p id="gone-reason" data-reason="{escape(reason)}">{escape(_GONE[reason])}</p>\n'
    )
    return _document("Link no longer valid (portalkit sandbox)", body)


def error_page(element_id: str, title: str, message: str) -> str:
    body = f'<h1 id="{escape(element_id)}">{escape(title)}</h1>\n<p>{escape(message)}</p>\n'
    return _document(f"{title} (portalkit sandbox)", body)


EXCHANGE_SCRIPT = """\
// portalkit sandbox, a portal whose sign-in token is in the URL fragment (#t=...),
// which browsers never send to the server. Read it, remove it from the address bar, and
// trade it once for an httpOnly cookie; then open the cookie-authenticated portal.
(function () {
  "use strict";
  var status = document.getElementById("exchange-status");
  var match = /(?:^#|&)t=([^&]*)/.exec(window.location.hash);
  window.history.replaceState(null, "", window.location.pathname);
  function fail(state, text) {
    status.setAttribute("data-state", state);
    status.textContent = text;
  }
  if (!match || !match[1]) {
    fail("missing-token", "This portal link is incomplete: its sign-in token is missing.");
    return;
  }
  fetch(window.location.pathname + "/exchange", {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token: decodeURIComponent(match[1])})
  }).then(function (response) {
    if (response.ok) {
      window.location.replace(status.getAttribute("data-next"));
    } else if (response.status === 410) {
      window.location.reload();
    } else {
      fail("refused", "This portal link is not valid.");
    }
  }, function () {
    fail("error", "Could not reach the portal.");
  });
})();
"""
