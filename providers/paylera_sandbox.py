"""Paylera's sandbox twin: ``POST /v1/portal/sessions`` as its Customer portal page documents
it (/work/shared/provider-docs/paylera-customer-portal.txt), and its hosted portal.
Restated from the docs: it imports nothing from the adapter.

Checks, in order: the bearer key (401 ``authentication_error`` / ``invalid_api_key``), its
permission (403 ``permission_error`` / ``insufficient_permissions``), the body (400
``invalid_request_error``: ``parameter_missing`` / ``parameter_invalid`` /
``parameter_unknown``; only ``customer_id``, ``return_url``, ``locale`` and the three
``configuration`` keys), the idempotency key (409 ``idempotency_error`` /
``idempotency_key_reused``), the customer (404 ``resource_missing``). Answers 201
``{id, url, expires_at}``; a session lives 60 minutes. The URL's path is the bearer token
(``{sandbox}/paylera/p/ps_<32 random base62>``), so the id is unguessable.

Error envelope (the adapter's assumption): ``{"error": {"type", "code", "message", "param",
"request_id"}}``. The page documents none of the codes: they are sandbox choices, listed in
docs/sandbox.md.

Webhooks (``TWIN.webhooks``, the section "webhooks" below): the events the page lists for
what the customer does in the portal, signed with ``Paylera-Signature``. Paylera documents
neither the scheme nor the payloads: both are the conventional shape portalkit assumed (see
that section).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from portalkit import EventType
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
    fingerprint,
    idempotent,
    iso_seconds,
    json_object,
    return_url_problem,
    utc,
)

PATH = "/v1/portal/sessions"
TTL = 60 * 60
FIELDS = ("customer_id", "return_url", "locale", "configuration")
CONFIGURATION_KEYS = (
    "subscription_cancel_enabled",
    "subscription_update_enabled",
    "payment_method_update_enabled",
)
# Paylera only shows "cus_..." ids.
CUSTOMER_ID = re.compile(r"cus_[A-Za-z0-9]{1,64}")
SUBSCRIPTION_ID = re.compile(r"sub_[A-Za-z0-9]{1,64}")
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
CREDENTIALS = {
    "valid": {"api_key": "sk_sandbox_paylera_portal"},
    "wrong": {"api_key": "sk_sandbox_paylera_wrong"},
    "no_scope": {"api_key": "sk_sandbox_paylera_readonly"},
}
# api key -> may it create portal sessions?
_KEYS = {CREDENTIALS["valid"]["api_key"]: True, CREDENTIALS["no_scope"]["api_key"]: False}
_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    409: "idempotency_error",
    429: "rate_limit_error",
}
# The per-session configuration key -> the portal action it switches.
_SWITCHES = {
    "subscription_cancel_enabled": "cancel_subscription",
    "subscription_update_enabled": "update_subscription",
    "payment_method_update_enabled": "update_payment_method",
}


def create(call: Call) -> Reply:
    _authenticate(call)
    try:
        body = json_object(call.body)
    except ValueError as exc:
        raise Invalid(400, "invalid_json", f"The body is not a JSON object: {exc}") from None
    return idempotent(
        call,
        call.headers.get("idempotency-key"),
        fingerprint(body),
        lambda: _mint(call, body),
        lambda: error_reply(
            call,
            Invalid(
                409,
                "idempotency_key_reused",
                "Keys for idempotent requests can only be used with the same "
                "parameters they were first used with.",
            ),
        ),
    )


def _authenticate(call: Call) -> None:
    key = bearer_token(call.headers)
    if not key:
        raise Invalid(401, "invalid_api_key", "No API key provided (Authorization: Bearer).")
    if key not in _KEYS:
        raise Invalid(401, "invalid_api_key", "Invalid API key provided.")
    if not _KEYS[key]:
        raise Invalid(
            403, "insufficient_permissions", "This API key may not create customer portal sessions."
        )


def _mint(call: Call, body: dict[str, Any]) -> Reply:
    customer_id, return_url, locale, configuration = _validated(body)
    if not call.store.has_customer(customer_id):
        raise Invalid(404, "resource_missing", f"No such customer: {customer_id!r}", "customer_id")
    created = float(int(call.now))  # the answer shows whole seconds
    session_id = f"ps_{base62(32)}"
    session = Session(
        vendor="paylera",
        id=session_id,
        customer_id=customer_id,
        return_url=return_url,
        configuration=configuration,
        subscription_ids=(),
        locale=locale,
        account_id=None,
        idempotency_key=call.headers.get("idempotency-key"),
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=f"{call.base_url}/paylera/p/{session_id}",
        # The path is the credential: the session id is the token.
        token=session_id,
    )
    call.store.add_session(session)
    return Reply(
        201, {"id": session.id, "url": session.url, "expires_at": iso_seconds(created + TTL)}
    )


def error_reply(call: Call, exc: Invalid) -> Reply:
    error: dict[str, Any] = {
        "type": _TYPES.get(exc.status)
        or ("api_error" if exc.status >= 500 else "invalid_request_error"),
        "code": exc.code,
        "message": exc.message,
        "request_id": call.request_id,
    }
    if exc.field:
        error["param"] = exc.field
    return Reply(exc.status, {"error": error})


def partial(call: Call) -> Reply:
    return Reply(201, {"id": f"ps_{base62(32)}"})


def _validated(
    body: dict[str, Any],
) -> tuple[str, str | None, str | None, dict[str, bool] | None]:
    for field in body:
        if field not in FIELDS:
            raise Invalid(400, "parameter_unknown", f"Received unknown parameter: {field}", field)
    customer_id = body.get("customer_id")
    if customer_id is None:
        raise Invalid(
            400, "parameter_missing", "Missing required param: customer_id.", "customer_id"
        )
    if not isinstance(customer_id, str) or not CUSTOMER_ID.fullmatch(customer_id):
        raise Invalid(400, "parameter_invalid", "customer_id must be a cus_ id.", "customer_id")
    return_url = body.get("return_url")
    if return_url is not None:
        problem = return_url_problem(return_url)
        if problem:
            raise Invalid(400, "parameter_invalid", f"return_url {problem}.", "return_url")
    locale = body.get("locale")
    if locale is not None and (not isinstance(locale, str) or not _LOCALE.fullmatch(locale)):
        raise Invalid(
            400, "parameter_invalid", "locale must be a language tag such as 'fr'.", "locale"
        )
    return customer_id, return_url, locale, _configuration(body.get("configuration"))


def _configuration(value: object) -> dict[str, bool] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Invalid(400, "parameter_invalid", "configuration must be an object.", "configuration")
    for key, enabled in value.items():
        param = f"configuration[{key}]"
        if key not in CONFIGURATION_KEYS:
            raise Invalid(400, "parameter_unknown", f"Received unknown parameter: {param}", param)
        if not isinstance(enabled, bool):
            raise Invalid(400, "parameter_invalid", f"{param} must be a boolean.", param)
    return dict(value)


def allowed_actions(session: Session, actions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The portal's actions minus what the session's configuration switched off."""
    disabled = {
        action
        for key, action in _SWITCHES.items()
        if (session.configuration or {}).get(key) is False
    }
    return [(a, label) for a, label in actions if a not in disabled]


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /paylera/p/ps_...``: the path is the credential; the first visit opens."""
    return pages.open(request, request.path_params["session_id"])


# -- webhooks --------------------------------------------------------------------------------
# Paylera's "Customer portal" page ("What you'll get back") lists the events a portal action
# emits and nothing more: no signature scheme, no envelope, no example. Both sides of the
# sandbox are therefore portalkit's assumption of an undocumented shape, restated here (not
# imported) as the adapter's docs declare it (docs/providers/paylera.md, "Webhooks"; the
# example deliveries in tests/webhook_events/paylera/):
#
# - ``Paylera-Signature: t=<unix>,v1=<hex>``: the hex HMAC-SHA256 of ``"{t}.{raw body}"``
#   keyed with the secret's UTF-8 bytes (the conventional scheme, Stripe's).
# - ``{"id": "evt_...", "object": "event", "type", "created" (unix), "livemode": false,
#   "data": {"object", "previous_attributes"}}``: a Stripe-like envelope in Paylera's own
#   naming (``customer_id``, as its session request names the customer); the old values in
#   ``previous_attributes`` on ``subscription.updated`` only.
# - What each action emits, per the page: "Customer cancelled" ``subscription.canceled`` (the
#   page lets a customer un-cancel "before period end", so a portal cancellation runs to the
#   period's end: ``cancel_at_period_end``), "Customer un-cancelled before period end"
#   ``subscription.reactivated``, "Plan changed" ``subscription.updated`` (the old plan in
#   ``previous_attributes.plan``), "Customer added a method"
#   ``customer.payment_method_attached``, "Customer closed the portal"
#   ``portal.session.completed`` with "a summary of actions taken" (assumed: ``actions``,
#   each ``{type, object_id}``). The end of a subscription is ``subscription.canceled`` again,
#   now ``status: "canceled"`` with ``ended_at``.

#: The sandbox endpoint's signing secret (Paylera shows no format; its keys' style).
WEBHOOK_SECRET = "whsec_sandbox_paylera_webhooks"  # noqa: S105 -- a fixed sandbox secret
SIGNATURE_HEADER = "Paylera-Signature"

SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
SUBSCRIPTION_REACTIVATED = "subscription.reactivated"
PAYMENT_METHOD_ATTACHED = "customer.payment_method_attached"
PORTAL_SESSION_COMPLETED = "portal.session.completed"

#: The sandbox's plans: a new subscription is on the first; a plan change moves to the next.
PLANS = ("plan_pro_monthly", "plan_team_monthly")
#: Each plan's monthly price, in cents (EUR).
_PLAN_AMOUNTS = {"plan_pro_monthly": 4900, "plan_team_monthly": 9900}
#: The metadata key a bare update changes (see ``_bare_update``).
UPDATE_MARKER = "portalkit_sandbox_update"


def sign_webhook(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """``Paylera-Signature: t=<timestamp>,v1=<hex>`` (assumed, as above); no delivery id is
    sent (the event's ``id`` is the one to dedupe on)."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: f"t={timestamp},v1={digest}"}


def event_id(now: float) -> str:
    """``evt_`` and 16 characters (the shape of the assumed examples' ids)."""
    return f"evt_{base62(16)}"


def payment_method_id(now: float) -> str:
    return f"pm_{base62(12)}"


def _plan_object(plan: str) -> dict[str, Any]:
    return {
        "id": plan,
        "object": "plan",
        "interval": "month",
        "amount": _PLAN_AMOUNTS.get(plan, 4900),
        "currency": "eur",
    }


def subscription_object(state: SubscriptionState) -> dict[str, Any]:
    """A subscription in the assumed shape. Once it has ended nothing is pending any more:
    ``cancel_at_period_end`` is false (as in the example of a cancellation at once)."""
    ended = state.status == "canceled"
    return {
        "id": state.id,
        "object": "subscription",
        "customer_id": state.customer_id,
        "status": state.status,
        "plan": _plan_object(state.plan),
        "quantity": 1,
        "cancel_at_period_end": state.cancel_at_period_end and not ended,
        "canceled_at": _unix(state.canceled_at),
        "ended_at": _unix(state.ended_at),
        "current_period_start": int(state.current_period_start),
        "current_period_end": int(state.current_period_end),
        "created": int(state.created_at),
        "metadata": {},
    }


def payment_method_object(state: SubscriptionState) -> dict[str, Any]:
    """The card the customer added (a test card)."""
    return {
        "id": state.payment_method,
        "object": "payment_method",
        "customer_id": state.customer_id,
        "type": "card",
        "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
    }


def _unix(value: float | None) -> int | None:
    return None if value is None else int(value)


def _event(
    event_type: str, obj: dict[str, Any], now: float, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id(now),
        "object": "event",
        "type": event_type,
        "created": int(now),
        "livemode": False,
        "data": data,
    }


def webhook_events(
    change: Change, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    """The assumed events for ``change`` (one each, as the page lists one per action)."""
    obj = subscription_object(after)
    if change in (EventType.SUBSCRIPTION_CANCEL_SCHEDULED, EventType.SUBSCRIPTION_CANCELED):
        # One event for both: the object tells a period-end cancellation from an ended one.
        return [_event(SUBSCRIPTION_CANCELED, obj, now)]
    if change is EventType.SUBSCRIPTION_UNCANCELED:
        return [_event(SUBSCRIPTION_REACTIVATED, obj, now)]
    if change is EventType.PAYMENT_METHOD_UPDATED:
        return [_event(PAYMENT_METHOD_ATTACHED, payment_method_object(after), now)]
    if change is EventType.PORTAL_SESSION_COMPLETED:
        return [_event(PORTAL_SESSION_COMPLETED, _portal_session(before, after, now), now)]
    if change is EventType.SUBSCRIPTION_PLAN_CHANGED:
        return [_event(SUBSCRIPTION_UPDATED, obj, now, {"plan": _plan_object(before.plan)})]
    marked, previous = _bare_update(obj, after)
    return [_event(SUBSCRIPTION_UPDATED, marked, now, previous)]


def _bare_update(
    obj: dict[str, Any], state: SubscriptionState
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A bare update (``Sandbox.trigger(..., SUBSCRIPTION_UPDATED)``) changes nothing the
    sandbox's state holds: it shows as a metadata edit (this event only), so that
    ``previous_attributes`` still names what changed."""
    return {**obj, "metadata": {UPDATE_MARKER: str(state.version)}}, {"metadata": {}}


def _portal_session(
    before: SubscriptionState, after: SubscriptionState, now: float
) -> dict[str, Any]:
    """``portal.session.completed``'s object: the "summary of actions taken" is what changed
    from ``before`` (the subscription when the session began) to ``after``. The builder is
    not told which session it was: the id is a fresh ``ps_`` id.

    Not in ``changes``: leaving the portal changes no subscription, and the sandbox's
    subscriptions go through subscription changes only (``trigger`` refuses it). The event is
    rendered here for the sandbox to send when the customer leaves the portal."""
    return {
        "id": f"ps_{base62(32)}",
        "object": "portal.session",
        "customer_id": after.customer_id,
        "return_url": None,
        "completed_at": int(now),
        "actions": _actions_taken(before, after),
    }


def _actions_taken(before: SubscriptionState, after: SubscriptionState) -> list[dict[str, str]]:
    actions = []
    if after.payment_method != before.payment_method:
        actions.append({"type": PAYMENT_METHOD_ATTACHED, "object_id": after.payment_method})
    if after.plan != before.plan:
        actions.append({"type": SUBSCRIPTION_UPDATED, "object_id": after.id})
    ends_before = before.cancel_at_period_end or before.status == "canceled"
    ends_after = after.cancel_at_period_end or after.status == "canceled"
    if ends_after != ends_before:
        kind = SUBSCRIPTION_CANCELED if ends_after else SUBSCRIPTION_REACTIVATED
        actions.append({"type": kind, "object_id": after.id})
    return actions


WEBHOOKS = TwinWebhooks(
    secret=WEBHOOK_SECRET,
    env={"PAYLERA_WEBHOOK_SECRET": WEBHOOK_SECRET},
    sign=sign_webhook,
    events=webhook_events,
    changes=frozenset(
        {
            EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
            EventType.SUBSCRIPTION_UNCANCELED,
            EventType.SUBSCRIPTION_CANCELED,
            EventType.SUBSCRIPTION_PLAN_CHANGED,
            EventType.SUBSCRIPTION_UPDATED,
            EventType.PAYMENT_METHOD_UPDATED,
        }
    ),
    # The portal's actions that change a subscription ("Upgrade or downgrade", "Cancel
    # subscription", "Manage payment methods"); invoices, tax ids and the billing address
    # change none (the address and tax ids send customer.updated, no billing event).
    action_changes={
        "update_subscription": EventType.SUBSCRIPTION_PLAN_CHANGED,
        "cancel_subscription": EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": EventType.PAYMENT_METHOD_UPDATED,
    },
    plans=PLANS,
    payment_method_id=payment_method_id,
)


TWIN = Twin(
    name="paylera",
    title="Paylera",
    description="Paylera: portal sessions with per-session configuration, locale and "
    "idempotency keys.",
    routes=(ApiRoute("POST", PATH, create),),
    pages=(PageRoute("GET", "/paylera/p/{session_id}", open_link),),
    credentials=CREDENTIALS,
    customers={
        "cus_sandbox0001": ("sub_sandbox0101", "sub_sandbox0102"),
        "cus_sandbox0002": ("sub_sandbox0201",),
        "cus_sandbox0003": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, lambda now: f"cus_{base62(14)}"),
    subscription_id=IdFormat(SUBSCRIPTION_ID, lambda now: f"sub_{base62(14)}"),
    request_id=lambda now: f"req_{base62(24)}",
    error_reply=error_reply,
    partial=partial,
    status_codes={
        400: "parameter_invalid",
        401: "invalid_api_key",
        403: "insufficient_permissions",
        404: "resource_missing",
        409: "idempotency_key_reused",
    },
    actions=(
        ("update_subscription", "Upgrade or downgrade"),
        ("cancel_subscription", "Cancel subscription"),
        ("update_payment_method", "Manage payment methods"),
        ("view_invoices", "View invoices"),
        ("update_tax_ids", "Manage tax IDs"),
        ("update_billing_address", "Update billing address"),
    ),
    allowed_actions=allowed_actions,
    webhooks=WEBHOOKS,
)
