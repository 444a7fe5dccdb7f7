"""FakeVendor's sandbox twin, written as a plug-in package would write it: one ``Twin`` from
the public ``portalkit.sandbox.twin`` module, registered in its pyproject.toml::

    [project.entry-points."portalkit.sandbox"]
    fakevendor = "portalkit_fakevendor.sandbox:TWIN"

It restates FakeVendor's invented contract (see the adapter's docstring) and imports nothing
from the adapter: ``POST /portal`` with ``Authorization: Bearer <token>`` and
``{"customer": "fv_...", "return_to": "https://..."}`` answers 200 ``{"session", "link",
"ttl"}``; errors are ``{"message": "..."}``. The link's path is its credential
(``{sandbox}/fakevendor/s/fvs_<32 base62>``), good for one visit.

It sends FakeVendor's webhooks too (section ``# -- webhooks --``), signed and shaped as the
plug-in's receiver (portalkit_fakevendor.webhooks) reads them, but restated here with
``hmac`` directly: nothing is imported from the receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from portalkit.sandbox.twin import (
    ApiRoute,
    Call,
    Change,
    IdFormat,
    Invalid,
    PageRoute,
    Pages,
    Reply,
    Session,
    SubscriptionState,
    Twin,
    TwinWebhooks,
    base62,
    bearer_token,
    json_object,
    return_url_problem,
    utc,
)

TTL = 600
CUSTOMER_ID = re.compile(r"fv_[0-9a-z]{4,32}")
SUBSCRIPTION_ID = re.compile(r"fvsub_[0-9a-z]{4,32}")
CREDENTIALS = {
    "valid": {"token": "fv_sandbox_token"},
    "wrong": {"token": "fv_sandbox_wrong"},
    "no_scope": {"token": "fv_sandbox_readonly"},
}
# token -> may it create portal sessions?
_TOKENS = {CREDENTIALS["valid"]["token"]: True, CREDENTIALS["no_scope"]["token"]: False}


def create(call: Call) -> Reply:
    token = bearer_token(call.headers)
    if token not in _TOKENS:
        raise Invalid(401, "unauthorized", "Unknown token.")
    if not _TOKENS[token]:
        raise Invalid(403, "forbidden", "This token may not open portals.")
    try:
        body = json_object(call.body)
    except ValueError:
        raise Invalid(400, "bad_request", "The body is not a JSON object.") from None
    customer = body.get("customer")
    if not isinstance(customer, str) or not CUSTOMER_ID.fullmatch(customer):
        raise Invalid(400, "bad_request", "customer must be an fv_ id.", "customer")
    return_to = body.get("return_to")
    if return_to is not None and (problem := return_url_problem(return_to)):
        raise Invalid(400, "bad_request", f"return_to {problem}.", "return_to")
    if not call.store.has_customer(customer):
        raise Invalid(404, "not_found", "No such customer.", "customer")
    session_id = f"fvs_{base62(32)}"
    created = call.now
    session = Session(
        vendor="fakevendor",
        id=session_id,
        customer_id=customer,
        return_url=return_to,
        configuration=None,
        subscription_ids=(),
        locale=None,
        account_id=None,
        idempotency_key=None,
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=f"{call.base_url}/fakevendor/s/{session_id}",
        token=session_id,  # the path is the credential
    )
    call.store.add_session(session)
    return Reply(200, {"session": session.id, "link": session.url, "ttl": TTL})


def error_reply(call: Call, exc: Invalid) -> Reply:
    return Reply(exc.status, {"message": exc.message})


def partial(call: Call) -> Reply:
    return Reply(200, {"session": f"fvs_{base62(32)}"})


async def open_link(request: Request, pages: Pages) -> Response:
    return pages.open(request, request.path_params["session_id"])


# -- webhooks --------------------------------------------------------------------------------
# FakeVendor's invented scheme:
#
#   X-Fakevendor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">
#   {"id": "fvevt_...", "type": "subscription.cancel_scheduled", "created": <unix seconds>,
#    "data": {"object": {"id": "fvsub_...", "customer": "fv_...",
#                        "cancel_at_period_end": true, "current_period_end": <unix seconds>}}}
#
# One event per change: a scheduled cancellation, its withdrawal, an ended subscription
# (whose current_period_end is when it ended). The portal's "Cancel subscription" schedules
# the cancellation for the end of the period.

WEBHOOK_SECRET = "fv_whsec_sandbox"  # the sandbox's, public
_EVENT_TYPES = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: "subscription.cancel_scheduled",
    Change.SUBSCRIPTION_UNCANCELED: "subscription.resumed",
    Change.SUBSCRIPTION_CANCELED: "subscription.ended",
}


def webhook_headers(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    signed = f"{timestamp}.".encode() + body
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Fakevendor-Signature": f"t={timestamp},v1={signature}",
    }


def webhook_events(
    change: Change, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    kind = _EVENT_TYPES.get(change)
    if kind is None:
        return []
    ended = after.status == "canceled" and after.ended_at is not None
    period_end = after.ended_at if ended else after.current_period_end
    return [
        {
            "id": f"fvevt_{base62(16).lower()}",
            "type": kind,
            "created": int(now),
            "data": {
                "object": {
                    "id": after.id,
                    "customer": after.customer_id,
                    "cancel_at_period_end": after.cancel_at_period_end and not ended,
                    "current_period_end": int(period_end or 0),
                }
            },
        }
    ]


WEBHOOKS = TwinWebhooks(
    secret=WEBHOOK_SECRET,
    env={"FAKEVENDOR_WEBHOOK_SECRET": WEBHOOK_SECRET},
    sign=webhook_headers,
    events=webhook_events,
    changes=frozenset(_EVENT_TYPES),
    action_changes={"cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED},
    plans=("fvplan_basic",),
    payment_method_id=lambda now: f"fvpm_{base62(12).lower()}",
)


TWIN = Twin(
    name="fakevendor",
    title="FakeVendor",
    description="FakeVendor (a plug-in): bearer token, a link whose path is its credential.",
    routes=(ApiRoute("POST", "/portal", create),),
    pages=(PageRoute("GET", "/fakevendor/s/{session_id}", open_link),),
    credentials=CREDENTIALS,
    customers={
        "fv_0001": ("fvsub_0101", "fvsub_0102"),
        "fv_0002": ("fvsub_0201",),
        "fv_0003": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, lambda now: f"fv_{base62(12).lower()}"),
    subscription_id=IdFormat(SUBSCRIPTION_ID, lambda now: f"fvsub_{base62(12).lower()}"),
    request_id=lambda now: f"fvreq_{base62(16)}",
    error_reply=error_reply,
    partial=partial,
    status_codes={},
    actions=(
        ("cancel_subscription", "Cancel subscription"),
        ("update_payment_method", "Update card"),
        ("view_invoices", "Invoices"),
    ),
    webhooks=WEBHOOKS,
)
