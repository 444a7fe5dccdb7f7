"""Paddle's sandbox twin: ``POST /customers/{customer_id}/portal-sessions`` as Paddle's API
reference documents it (/work/shared/provider-docs/paddle-create-portal-session.txt,
https://developer.paddle.com/api-reference/customer-portals/create-customer-portal-session),
and its hosted portal. Restated from the docs: it imports nothing from the adapter.

Checks, in order: the bearer key (401 ``authentication_missing`` /
``authentication_malformed`` / ``invalid_token``), its permission (403 ``forbidden``), the
customer in the path (404 ``not_found``, also for an id that does not match
``^ctm_[a-z\\d]{26}$``), the body (400 ``invalid_field`` with one ``errors`` entry per
problem: unknown fields, ``subscription_ids`` not a list of unique ``sub_`` ids, more than
25, or a subscription of another customer). Answers 201 with ``data`` and
``meta.request_id``. No idempotency key, no return URL, no expiry in the answer.

URLs: ``{sandbox}/paddle/cpl_<id>?action=overview&token=pga_<token>``, and per subscription
``action=cancel_subscription`` / ``action=update_subscription_payment_method`` with
``subscription_id``. All links of one session share its token, as in Paddle's example.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs
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
    bearer_token,
    iso_seconds,
    json_object,
    token,
    ulid,
    utc,
)

#: Paddle reports no expiry; the sandbox still expires its tokens, after this long.
TTL = 15 * 60
#: The API reference: ``subscription_ids`` takes at most 25 items.
MAX_SUBSCRIPTIONS = 25
SUBSCRIPTION_LINKS = ("cancel_subscription", "update_subscription_payment_method")
PAGE_ACTIONS = ("overview", *SUBSCRIPTION_LINKS)
DOCS = "https://developer.paddle.com/errors/shared/"
CUSTOMER_ID = re.compile(r"ctm_[a-z\d]{26}")
SUBSCRIPTION_ID = re.compile(r"sub_[a-z\d]{26}")
CREDENTIALS = {
    "valid": {"api_key": "pdl_sdbx_apikey_portalkit_portal"},
    "wrong": {"api_key": "pdl_sdbx_apikey_portalkit_wrong"},
    "no_scope": {"api_key": "pdl_sdbx_apikey_portalkit_readonly"},
}
# api key -> may it write customer portal sessions (customer_portal_session.write)?
_KEYS = {CREDENTIALS["valid"]["api_key"]: True, CREDENTIALS["no_scope"]["api_key"]: False}
#: Live Paddle documents 403 for invalid_token and authentication_missing; the portalkit
#: sandbox answers 401 for a wrong or missing key (the project's rule for every vendor).
WRONG_KEY_STATUS = 401


def _lower_ulid(now: float) -> str:
    return ulid(now).lower()


def create(call: Call) -> Reply:
    _authenticate(call)
    customer_id = call.path_params["customer_id"]
    if not CUSTOMER_ID.fullmatch(customer_id) or not call.store.has_customer(customer_id):
        raise Invalid(404, "not_found", f"Customer {customer_id} not found.")
    try:
        body = json_object(call.body)
    except ValueError:
        raise Invalid(
            400, "bad_request", "Invalid request: the body is not a JSON object."
        ) from None
    subscription_ids = _subscription_ids(body, call.store.subscriptions(customer_id))
    return _mint(call, customer_id, subscription_ids)


def _authenticate(call: Call) -> None:
    key = bearer_token(call.headers)
    if key is None:
        raise Invalid(WRONG_KEY_STATUS, "authentication_missing", "Authentication header missing.")
    if not key:
        raise Invalid(
            WRONG_KEY_STATUS,
            "authentication_malformed",
            "Authentication header included, but incorrectly formatted.",
        )
    if key not in _KEYS:
        raise Invalid(WRONG_KEY_STATUS, "invalid_token", "Invalid or revoked API key.")
    if not _KEYS[key]:
        raise Invalid(403, "forbidden", "You aren't permitted to perform this request.")


def _mint(call: Call, customer_id: str, subscription_ids: list[str]) -> Reply:
    created = float(int(call.now))  # the answer shows whole seconds
    session_id = f"cpls_{_lower_ulid(call.now)}"
    link_id = f"cpl_{_lower_ulid(call.now)}"
    secret = f"pga_{token()}"
    root = f"{call.base_url}/paddle/{link_id}"

    def link(**query: str) -> str:
        return f"{root}?{urlencode({**query, 'token': secret})}"

    session = Session(
        vendor="paddle",
        id=session_id,
        customer_id=customer_id,
        return_url=None,
        configuration=None,
        subscription_ids=tuple(subscription_ids),
        locale=None,
        account_id=None,
        idempotency_key=None,
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=link(action="overview"),
        token=secret,
        link_id=link_id,
    )
    call.store.add_session(session)
    subscriptions = [
        {"id": sub, **{a: link(action=a, subscription_id=sub) for a in SUBSCRIPTION_LINKS}}
        for sub in subscription_ids
    ]
    data = {
        "id": session_id,
        "customer_id": customer_id,
        "urls": {"general": {"overview": session.url}, "subscriptions": subscriptions},
        "created_at": iso_seconds(created),
    }
    return Reply(201, {"data": data, "meta": _meta(call)})


def _meta(call: Call) -> dict[str, str]:
    return {"request_id": call.request_id}


def error_reply(call: Call, exc: Invalid) -> Reply:
    error: dict[str, Any] = {
        "type": "api_error" if exc.status >= 500 else "request_error",
        "code": exc.code,
        "detail": exc.message,
        "documentation_url": DOCS + exc.code,
    }
    if exc.details:
        error["errors"] = [{"field": f, "message": m} for f, m in exc.details]
    return Reply(exc.status, {"error": error, "meta": _meta(call)})


def partial(call: Call) -> Reply:
    return Reply(201, {"data": {"id": f"cpls_{_lower_ulid(call.now)}"}, "meta": _meta(call)})


def _subscription_ids(body: dict[str, Any], owned: list[str]) -> list[str]:
    """The validated ``subscription_ids``; every problem is reported at once."""
    problems = [(field, "unknown field") for field in body if field != "subscription_ids"]
    value = body.get("subscription_ids", [])
    if not isinstance(value, list):
        problems.append(("subscription_ids", "must be an array"))
        value = []
    if len(value) > MAX_SUBSCRIPTIONS:
        problems.append(("subscription_ids", f"maximum of {MAX_SUBSCRIPTIONS} items exceeded"))
    seen: set[str] = set()
    for index, item in enumerate(value):
        field = f"subscription_ids[{index}]"
        if not isinstance(item, str) or not SUBSCRIPTION_ID.fullmatch(item):
            problems.append((field, r"must match ^sub_[a-z\d]{26}$"))
        elif item in seen:
            problems.append((field, "items must be unique"))
        elif item not in owned:
            problems.append((field, f"subscription {item} does not belong to this customer"))
        if isinstance(item, str):
            seen.add(item)
    if problems:
        raise Invalid(
            400, "invalid_field", "Request does not pass validation.", details=tuple(problems)
        )
    return list(value)


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /paddle/cpl_...?action=...&token=...``: check the token, open the portal at the
    deep link's action."""
    session = pages.store.session_by_link(request.path_params["link_id"])
    action = request.query_params.get("action", "overview")
    subscription_id = request.query_params.get("subscription_id")
    if session is None or action not in PAGE_ACTIONS:
        return pages.refused("missing")
    if action == "overview":
        subscription_id = None
    elif subscription_id not in session.subscription_ids:
        return pages.refused("missing")
    shown = None if action == "overview" else action
    token_ = request.query_params.get("token", "")
    return pages.open(request, session.id, token_, shown, subscription_id)


# -- webhooks --------------------------------------------------------------------------------
#
# Restated from Paddle's docs, never from portalkit's receiver: "Verify webhook signatures"
# (developer.paddle.com/webhooks/signature-verification), the event reference
# (webhooks/subscriptions/subscription-updated, subscription-canceled,
# webhooks/payment-methods/payment-method-saved), the "Subscription canceled scenario"
# (webhooks/scenarios/subscription-canceled), and the entities' shapes as paddle-python-sdk's
# ``paddle_billing.Notifications.Entities`` read them.
#
#     Paddle-Signature: ts=<unix>;h1=<hex HMAC-SHA256 of "{ts}:{raw body}">
#     {"event_id": "evt_01...", "event_type": "subscription.updated",
#      "occurred_at": "2024-04-12T10:49:39.038915Z", "notification_id": "ntf_01...",
#      "data": {<the entity as it is now>}}
#
# What the portal's actions send: "cancel" schedules a cancellation at the end of the billing
# period (``subscription.updated`` with ``scheduled_change: {action: "cancel", effective_at,
# resume_at: null}``); withdrawing it is a ``subscription.updated`` with
# ``scheduled_change: null``; the end is ``subscription.canceled`` (status ``canceled``,
# ``canceled_at``). A payment method update sends ``payment_method.saved``: UNCONFIRMED which
# events Paddle's portal sends for it (it also runs a zero-value transaction; its
# ``transaction.*`` events are not emulated). Paddle's portal does not change plans: a plan
# change (``Sandbox.trigger`` only, as made through Paddle's API) is a ``subscription.updated``
# with the new price in ``items``.

#: The notification destination's secret key, in Paddle's format (``pdl_ntfset_<ulid>_<key>``).
WEBHOOK_SECRET = "pdl_ntfset_01hzseed000000000000000001_PortalkitSandboxNotificationKey1"  # noqa: S105 -- a fixed sandbox secret
SIGNATURE_HEADER = "Paddle-Signature"


@attrs.frozen
class Price:
    """A catalog price a subscription can be on (Paddle's price entity, abridged)."""

    id: str
    product_id: str
    name: str
    amount: str  # Paddle writes amounts as strings of the lowest denomination


PRICES = (
    Price("pri_01hzseed00000000000000pr01", "pro_01hzseed00000000000000pd01", "Monthly", "3000"),
    Price(
        "pri_01hzseed00000000000000pr02", "pro_01hzseed00000000000000pd02", "Monthly (Team)", "9000"
    ),
)
_PRICES = {price.id: price for price in PRICES}
#: When the sandbox's catalog prices were created (a fixed moment, as in Paddle's examples).
CATALOG_CREATED = 1_704_067_200.0  # 2024-01-01T00:00:00Z


def _iso_micro(seconds: float) -> str:
    """Paddle's timestamps in notifications: RFC 3339, microseconds, ``Z``."""
    return utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_webhook(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """``Paddle-Signature: ts=...;h1=...``: HMAC-SHA256 keyed with the secret key's UTF-8
    bytes over ``"{ts}:{raw body}"``, hex. Paddle sends no delivery id header."""
    signed = f"{timestamp}:".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return {SIGNATURE_HEADER: f"ts={timestamp};h1={digest}"}


def webhook_events(
    change: Change, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    """The notifications Paddle sends for ``change``, in order."""
    if change == Change.PAYMENT_METHOD_UPDATED:
        return [_envelope("payment_method.saved", _payment_method(after, now), now)]
    if change == Change.SUBSCRIPTION_CANCELED:
        return [_envelope("subscription.canceled", _subscription(after), now)]
    # A cancellation scheduled or withdrawn, a plan change, any other update: Paddle sends the
    # entity as it is now and no previous values.
    return [_envelope("subscription.updated", _subscription(after), now)]


def _envelope(event_type: str, data: dict[str, Any], now: float) -> dict[str, Any]:
    """Paddle's notification envelope, in the order Paddle writes its fields."""
    return {
        "event_id": f"evt_{_lower_ulid(now)}",
        "event_type": event_type,
        "occurred_at": _iso_micro(now),
        "notification_id": f"ntf_{_lower_ulid(now)}",
        "data": data,
    }


def _address_id(customer_id: str) -> str:
    """The customer's (only) address: the sandbox keeps one per customer."""
    return f"add_{customer_id.removeprefix('ctm_')}"


def _subscription(state: SubscriptionState) -> dict[str, Any]:
    """Paddle's subscription entity (notification shape: no ``management_urls``)."""
    ended = state.status == "canceled"
    scheduled = state.cancel_at_period_end and not ended
    next_billed = None if ended or scheduled else _iso_micro(state.current_period_end)
    return {
        "id": state.id,
        "status": state.status,
        "customer_id": state.customer_id,
        "address_id": _address_id(state.customer_id),
        "business_id": None,
        "currency_code": "USD",
        "created_at": _iso_micro(state.created_at),
        "updated_at": _iso_micro(state.updated_at),
        "started_at": _iso_micro(state.created_at),
        "first_billed_at": _iso_micro(state.created_at),
        "next_billed_at": next_billed,
        "paused_at": None,
        # Paddle's canceled_at is when the subscription became canceled, not when it was asked.
        "canceled_at": _iso_micro(state.ended_at or state.updated_at) if ended else None,
        "collection_mode": "automatic",
        "billing_details": None,
        "current_billing_period": None
        if ended
        else {
            "starts_at": _iso_micro(state.current_period_start),
            "ends_at": _iso_micro(state.current_period_end),
        },
        "billing_cycle": {"interval": "month", "frequency": 1},
        "scheduled_change": {
            "action": "cancel",
            "effective_at": _iso_micro(state.current_period_end),
            "resume_at": None,
        }
        if scheduled
        else None,
        "items": [_item(state, next_billed)],
        "custom_data": None,
        "discount": None,
        "import_meta": None,
        "consent_requirements": [],
    }


def _item(state: SubscriptionState, next_billed: str | None) -> dict[str, Any]:
    price = _PRICES.get(state.plan) or Price(state.plan, PRICES[0].product_id, "Monthly", "3000")
    return {
        "status": "active",  # as in Paddle's subscription.canceled example, too
        "quantity": 1,
        "recurring": True,
        "created_at": _iso_micro(state.created_at),
        "updated_at": _iso_micro(state.updated_at),
        "previously_billed_at": _iso_micro(state.current_period_start),
        "next_billed_at": next_billed,
        "trial_dates": None,
        "price": {
            "id": price.id,
            "product_id": price.product_id,
            "type": "standard",
            "description": price.name,
            "name": price.name,
            "tax_mode": "account_setting",
            "billing_cycle": {"interval": "month", "frequency": 1},
            "trial_period": None,
            "unit_price": {"amount": price.amount, "currency_code": "USD"},
            "unit_price_overrides": [],
            "custom_data": None,
            "status": "active",
            "quantity": {"minimum": 1, "maximum": 1},
            "import_meta": None,
            "created_at": _iso_micro(CATALOG_CREATED),
            "updated_at": _iso_micro(CATALOG_CREATED),
        },
    }


def _payment_method(state: SubscriptionState, now: float) -> dict[str, Any]:
    """Paddle's saved payment method entity: the card the customer just saved for the
    subscription (``origin: "subscription"``)."""
    return {
        "id": state.payment_method,
        "customer_id": state.customer_id,
        "address_id": _address_id(state.customer_id),
        "type": "card",
        "origin": "subscription",
        "saved_at": _iso_micro(now),
        "updated_at": _iso_micro(now),
    }


WEBHOOKS = TwinWebhooks(
    secret=WEBHOOK_SECRET,
    env={"PADDLE_WEBHOOK_SECRET": WEBHOOK_SECRET},
    sign=sign_webhook,
    events=webhook_events,
    changes=frozenset(
        {
            Change.SUBSCRIPTION_CANCEL_SCHEDULED,
            Change.SUBSCRIPTION_UNCANCELED,
            Change.SUBSCRIPTION_CANCELED,
            Change.SUBSCRIPTION_PLAN_CHANGED,
            Change.SUBSCRIPTION_UPDATED,
            Change.PAYMENT_METHOD_UPDATED,
        }
    ),
    # The portal cancels at the end of the billing period; no plan change in Paddle's portal.
    action_changes={
        "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": Change.PAYMENT_METHOD_UPDATED,
    },
    plans=tuple(price.id for price in PRICES),
    payment_method_id=lambda now: f"paymtd_{_lower_ulid(now)}",
)


TWIN = Twin(
    name="paddle",
    title="Paddle",
    description="Paddle Billing: customer portal sessions with per-subscription deep links.",
    routes=(ApiRoute("POST", "/customers/{customer_id}/portal-sessions", create),),
    pages=(PageRoute("GET", "/paddle/{link_id}", open_link),),
    credentials=CREDENTIALS,
    environment={"environment": "sandbox"},
    customers={
        "ctm_01hzseed000000000000000001": (
            "sub_01hzseed000000000000000101",
            "sub_01hzseed000000000000000102",
        ),
        "ctm_01hzseed000000000000000002": ("sub_01hzseed000000000000000201",),
        "ctm_01hzseed000000000000000003": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, lambda now: f"ctm_{_lower_ulid(now)}"),
    subscription_id=IdFormat(SUBSCRIPTION_ID, lambda now: f"sub_{_lower_ulid(now)}"),
    request_id=lambda now: str(uuid.uuid4()),
    error_reply=error_reply,
    partial=partial,
    status_codes={400: "invalid_field", 401: "invalid_token", 429: "too_many_requests"},
    actions=(
        ("view_invoices", "View transactions and invoices"),
        ("update_payment_method", "Update payment method"),
        ("update_subscription", "Manage subscriptions"),
        ("cancel_subscription", "Cancel subscription"),
    ),
    preopened_labels={
        "cancel_subscription": "Cancel subscription",
        "update_subscription_payment_method": "Update payment method",
    },
    webhooks=WEBHOOKS,
)
