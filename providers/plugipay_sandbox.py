"""Plugipay's sandbox twin: ``POST /v1/portal-sessions`` as its REST page documents it
(/work/shared/provider-docs/plugipay-rest-api.txt), and its hosted portal. Restated from the
docs: it imports nothing from the adapter, so a signing bug in the adapter is caught here,
not mirrored.

Checks, in order: the signed key (401 ``invalid_key`` / ``invalid_signature``), the portal
scope (403 ``insufficient_scope``), the body (400 ``VALIDATION_ERROR``: strict schema, only
``customerId`` and ``returnUrl``), the idempotency key (409 ``idempotency_key_reused``),
the customer (404 ``not_found``). A session lives 15 minutes; its URL carries the token in
the fragment: ``{sandbox}/plugipay/portal/ps_<ULID>#t=<token>``.

ASSUMPTIONS (Plugipay documents ``invalid_signature`` but neither the signing scheme nor the
error envelope; docs/providers/plugipay.md lists both): the signature is
``v1=<hex HMAC-SHA256(secret, timestamp \\n METHOD \\n path \\n hex SHA-256(body))>`` in
``X-Plugipay-Signature``, with ``X-Plugipay-Key-Id`` and ``X-Plugipay-Timestamp`` (Unix
seconds, 5 minutes' tolerance); errors are ``{"error": {"code", "message", "requestId"}}``.

Webhooks (section ``# -- webhooks --``): ASSUMED too, as portalkit's receiver assumes them.
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
    fingerprint,
    idempotent,
    iso_millis,
    json_object,
    return_url_problem,
    token,
    ulid,
    utc,
)

PATH = "/v1/portal-sessions"
TTL = 15 * 60
#: The signature timestamp may differ from the real clock by this much.
TIMESTAMP_TOLERANCE = 5 * 60
#: The REST page's spelling (the Python SDK page writes ``validation_error``; the REST page
#: wins, see DESIGN.md).
VALIDATION_ERROR = "VALIDATION_ERROR"
SCOPE = "plugipay:portal:create"
FIELDS = ("customerId", "returnUrl")
#: The merchant account the sandbox keys belong to.
ACCOUNT = "acc_01HZSEED00000000000000ACCT"
ACCOUNT_ID = re.compile(r"acc_[0-9A-Za-z]{1,64}")
# Plugipay ids are ULIDs (either case).
_ULID = r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}"
CUSTOMER_ID = re.compile(rf"cus_{_ULID}")
SUBSCRIPTION_ID = re.compile(rf"sub_{_ULID}")
CREDENTIALS = {
    "valid": {"key_id": "pk_sandbox_portal", "key_secret": "sandbox-plugipay-secret"},
    # The right key id with the wrong secret: the signature does not verify.
    "wrong": {"key_id": "pk_sandbox_portal", "key_secret": "sandbox-plugipay-wrong-secret"},
    "no_scope": {"key_id": "pk_sandbox_readonly", "key_secret": "sandbox-plugipay-readonly"},
}
# key id -> (secret, scopes).
_KEYS: dict[str, tuple[str, frozenset[str]]] = {
    CREDENTIALS["valid"]["key_id"]: (CREDENTIALS["valid"]["key_secret"], frozenset({SCOPE})),
    CREDENTIALS["no_scope"]["key_id"]: (
        CREDENTIALS["no_scope"]["key_secret"],
        frozenset({"plugipay:customers:read"}),
    ),
}


def expected_signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The signature the sandbox expects (the assumed scheme, in the module docstring)."""
    body_hash = hashlib.sha256(body).hexdigest()
    message = f"{timestamp}\n{method.upper()}\n{path}\n{body_hash}".encode()
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def create(call: Call) -> Reply:
    _authenticate(call)
    account = _account(call)
    try:
        body = json_object(call.body)
    except ValueError as exc:
        raise Invalid(400, VALIDATION_ERROR, f"The body is not a JSON object: {exc}") from None
    return idempotent(
        call,
        call.headers.get("idempotency-key"),
        fingerprint(body, account),
        lambda: _mint(call, body, account),
        lambda: error_reply(
            call,
            Invalid(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request body.",
            ),
        ),
    )


def _authenticate(call: Call) -> None:
    key_id = call.headers.get("x-plugipay-key-id", "")
    if key_id not in _KEYS:
        raise Invalid(401, "invalid_key", "Unknown or missing API key id.")
    secret, scopes = _KEYS[key_id]
    timestamp = call.headers.get("x-plugipay-timestamp", "")
    if not timestamp.isdigit():
        raise Invalid(401, "invalid_signature", "Missing or malformed X-Plugipay-Timestamp.")
    # Against the real clock, not the advanced sandbox clock (see Call.wall_now).
    if abs(call.wall_now - int(timestamp)) > TIMESTAMP_TOLERANCE:
        raise Invalid(
            401, "invalid_signature", "X-Plugipay-Timestamp is outside the 5-minute tolerance."
        )
    expected = expected_signature(secret, timestamp, call.method, call.path, call.body)
    if not hmac.compare_digest(expected, call.headers.get("x-plugipay-signature", "")):
        raise Invalid(401, "invalid_signature", "The request signature does not verify.")
    if SCOPE not in scopes:
        raise Invalid(403, "insufficient_scope", f"The API key lacks the {SCOPE} scope.")


def _account(call: Call) -> str:
    on_behalf_of = call.headers.get("x-plugipay-on-behalf-of")
    if on_behalf_of is None:
        return ACCOUNT
    if not ACCOUNT_ID.fullmatch(on_behalf_of):
        raise Invalid(400, VALIDATION_ERROR, "X-Plugipay-On-Behalf-Of must be an acc_ account id.")
    return on_behalf_of


def _mint(call: Call, body: dict[str, Any], account: str) -> Reply:
    for field in body:
        if field not in FIELDS:
            raise Invalid(
                400,
                VALIDATION_ERROR,
                f"Unknown field {field!r}: the schema is strict (customerId, returnUrl).",
                field=field,
            )
    customer_id = body.get("customerId")
    if customer_id is None:
        raise Invalid(400, VALIDATION_ERROR, "customerId is required.", field="customerId")
    if not isinstance(customer_id, str) or not CUSTOMER_ID.fullmatch(customer_id):
        raise Invalid(
            400, VALIDATION_ERROR, "customerId must be a cus_<ULID> id.", field="customerId"
        )
    return_url = body.get("returnUrl")
    if return_url is None:
        raise Invalid(400, VALIDATION_ERROR, "returnUrl is required.", field="returnUrl")
    problem = return_url_problem(return_url)
    if problem:
        raise Invalid(400, VALIDATION_ERROR, f"returnUrl {problem}.", field="returnUrl")
    if not call.store.has_customer(customer_id):
        # Plugipay does not tell "another workspace's customer" from "no such customer".
        raise Invalid(404, "not_found", f"No such customer: {customer_id}.")

    created = int(call.now * 1000) / 1000  # the answer shows milliseconds
    session_id = f"ps_{ulid(created)}"
    secret = token()
    session = Session(
        vendor="plugipay",
        id=session_id,
        customer_id=customer_id,
        return_url=str(return_url),
        configuration=None,
        subscription_ids=(),
        locale=None,
        account_id=account,
        idempotency_key=call.headers.get("idempotency-key"),
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=f"{call.base_url}/plugipay/portal/{session_id}#t={secret}",
        token=secret,
    )
    call.store.add_session(session)
    return Reply(
        201,
        {
            "data": {
                "id": session.id,
                "arn": f"arn:plugipay:{account}:portal-session/{session.id}",
                "accountId": account,
                "customerId": customer_id,
                "url": session.url,
                "returnUrl": session.return_url,
                "expiresAt": iso_millis(created + TTL),
                "createdAt": iso_millis(created),
            }
        },
    )


def error_reply(call: Call, exc: Invalid) -> Reply:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message, "requestId": call.request_id}
    if exc.field:
        error["field"] = exc.field
    return Reply(exc.status, {"error": error})


def partial(call: Call) -> Reply:
    return Reply(201, {"data": {"id": f"ps_{ulid(call.now)}"}})


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /plugipay/portal/ps_...``: the token is in the fragment, so answer the page
    whose script trades it for the cookie."""
    return pages.exchange_page(request.path_params["session_id"])


async def exchange(request: Request, pages: Pages) -> Response:
    return await pages.exchange(request, request.path_params["session_id"])


# -- webhooks --------------------------------------------------------------------------------
# Plugipay's REST page (Portal sessions -> "Events") names the events a portal action fires,
# "subscription.cancelled, payment_method.attached, invoice.paid, and so on", and points to a
# "Webhooks" page the docs portalkit has do not include: no signature scheme, envelope or
# payload is documented. So the twin, like portalkit's receiver, ASSUMES them: both sides are
# portalkit's assumption of an undocumented scheme, written independently (nothing here is
# imported from the receiver), so they agree only if each restates the same assumption:
#
#   X-Plugipay-Timestamp: <unix seconds>
#   X-Plugipay-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{raw body}">
#   {"id": "evt_<ULID>", "type": "subscription.cancelled", "createdAt": "<ISO 8601, ms>",
#    "data": {"object": {... the resource, camelCase as Plugipay's API writes it ...}}}
#
# Only the two events the docs name that a portal action causes are sent: a scheduled
# cancellation and an ended subscription are both ``subscription.cancelled`` (told apart by
# ``cancelAtPeriodEnd``), a new card is ``payment_method.attached``. Plugipay names no event for
# a withdrawn cancellation or a plan change: those are not in ``changes`` (trigger refuses
# them), and the portal's "Change plan" applies no change.

#: The sandbox webhook's signing secret (Plugipay documents no format for it).
WEBHOOK_SECRET = "sandbox-plugipay-webhook-secret"  # noqa: S105 -- the sandbox's, public
#: The plans a subscription can be on (ids ``plan_<ULID>``, as the assumed payloads show).
PLANS = ("plan_01HZSEED000000000000000P01", "plan_01HZSEED000000000000000P02")
_CANCELLED = "subscription.cancelled"
_ATTACHED = "payment_method.attached"


def webhook_headers(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """The ASSUMED scheme: ``v1=`` and the hex HMAC-SHA256 of ``"{timestamp}.{raw body}"``,
    keyed with the secret's UTF-8 bytes; the timestamp in a header of its own."""
    signed = str(timestamp).encode() + b"." + body
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Plugipay-Timestamp": str(timestamp),
        "X-Plugipay-Signature": f"v1={signature}",
    }


def webhook_events(
    change: Change, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    """The events Plugipay (by assumption) sends for ``change``."""
    if change is Change.PAYMENT_METHOD_UPDATED:
        return [_event(_ATTACHED, _payment_method(after, now), now)]
    if change in (Change.SUBSCRIPTION_CANCEL_SCHEDULED, Change.SUBSCRIPTION_CANCELED):
        return [_event(_CANCELLED, _subscription(after), now)]
    return []


def _event(kind: str, obj: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "id": f"evt_{ulid(now)}",
        "type": kind,
        "createdAt": iso_millis(now),
        "data": {"object": obj},
    }


def _subscription(state: SubscriptionState) -> dict[str, Any]:
    """A subscription as the assumed payloads write it. An ended subscription says
    ``cancelAtPeriodEnd: false`` (nothing is scheduled any more): how the receiver tells
    "ended" from "will end"."""
    ended = state.status == "canceled"
    return {
        "id": state.id,
        "arn": f"arn:plugipay:{ACCOUNT}:subscription/{state.id}",
        "accountId": ACCOUNT,
        "customerId": state.customer_id,
        "status": "cancelled" if ended else "active",
        "planId": state.plan,
        "currentPeriodStart": iso_millis(state.current_period_start),
        "currentPeriodEnd": iso_millis(state.current_period_end),
        "cancelAtPeriodEnd": state.cancel_at_period_end and not ended,
        "cancelledAt": None if state.canceled_at is None else iso_millis(state.canceled_at),
        "createdAt": iso_millis(state.created_at),
    }


def _payment_method(state: SubscriptionState, now: float) -> dict[str, Any]:
    return {
        "id": state.payment_method,
        "arn": f"arn:plugipay:{ACCOUNT}:payment-method/{state.payment_method}",
        "accountId": ACCOUNT,
        "customerId": state.customer_id,
        "type": "card",
        "card": {"brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030},
        "createdAt": iso_millis(now),
    }


WEBHOOKS = TwinWebhooks(
    secret=WEBHOOK_SECRET,
    env={"PLUGIPAY_WEBHOOK_SECRET": WEBHOOK_SECRET},
    sign=webhook_headers,
    events=webhook_events,
    changes=frozenset(
        {
            Change.SUBSCRIPTION_CANCEL_SCHEDULED,
            Change.SUBSCRIPTION_CANCELED,
            Change.PAYMENT_METHOD_UPDATED,
        }
    ),
    action_changes={
        # The portal cancels at the end of the period (the assumed payloads' portal case).
        "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": Change.PAYMENT_METHOD_UPDATED,
    },
    plans=PLANS,
    payment_method_id=lambda now: f"pm_{ulid(now)}",
)


TWIN = Twin(
    name="plugipay",
    title="Plugipay",
    description="Plugipay: signed requests, portal sessions whose token rides in the URL "
    "fragment, on-behalf-of accounts.",
    routes=(ApiRoute("POST", PATH, create),),
    pages=(
        PageRoute("GET", "/plugipay/portal/{session_id}", open_link),
        PageRoute("POST", "/plugipay/portal/{session_id}/exchange", exchange),
    ),
    credentials=CREDENTIALS,
    customers={
        "cus_01HZSEED000000000000000001": (
            "sub_01HZSEED000000000000000101",
            "sub_01HZSEED000000000000000102",
        ),
        "cus_01HZSEED000000000000000002": ("sub_01HZSEED000000000000000201",),
        "cus_01HZSEED000000000000000003": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, lambda now: f"cus_{ulid(now)}"),
    subscription_id=IdFormat(SUBSCRIPTION_ID, lambda now: f"sub_{ulid(now)}"),
    request_id=lambda now: f"req_{ulid(now)}",
    error_reply=error_reply,
    partial=partial,
    status_codes={400: VALIDATION_ERROR, 401: "invalid_key", 403: "insufficient_scope"},
    actions=(
        ("update_subscription", "Change plan"),
        ("cancel_subscription", "Cancel subscription"),
        ("update_payment_method", "Update payment method"),
        ("view_invoices", "View invoices"),
    ),
    secret_headers=frozenset({"x-plugipay-key-id", "x-plugipay-signature"}),
    webhooks=WEBHOOKS,
)
