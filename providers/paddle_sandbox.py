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

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from portalkit.sandbox.twin import (
    ApiRoute,
    Call,
    IdFormat,
    Invalid,
    PageRoute,
    Pages,
    Reply,
    Session,
    Twin,
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
)
