"""Lemon Squeezy's sandbox twin: ``GET /v1/customers/{id}`` and ``GET /v1/subscriptions/{id}``
as Lemon Squeezy's API reference documents them (*Retrieve a customer*, *Retrieve a
subscription*, *Getting started*: JSON:API, bearer keys, errors, rate limits; contract notes in
/work/shared/provider-docs/lemonsqueezy.md; wire types of the official lemonsqueezy.js), and
the store-subdomain pages of its hosted customer portal. Restated from the docs: it imports
nothing from the adapter.

Lemon Squeezy mints nothing. Each read of a customer or a subscription signs its links afresh
(valid 24 hours); the link is not single-use: it works any number of times until its
``expires``. So the twin's pages check the signature and the expiry on every visit
(``Twin.single_use_links`` is False) instead of trading the link for a cookie.

Checks, in order: ``Accept`` (406 unless it admits ``application/vnd.api+json``), the bearer
key (401 ``Unauthorized``; a key of another store: 403 ``Forbidden``, see below), the id
(404 ``Not Found`` for an unknown or malformed one). Answers 200 with a JSON:API document
(``jsonapi``, ``links``, ``data{type, id, attributes, relationships}``) labelled
``application/vnd.api+json``, with ``X-Ratelimit-Limit``/``X-Ratelimit-Remaining``.

URLs (the real host is ``https://<store>.lemonsqueezy.com``; the sandbox serves the store's
pages under ``/lemonsqueezy/<store>``)::

    {sandbox}/lemonsqueezy/<store>/billing?expires=<unix>&user=<customer>&signature=<hmac>
    {sandbox}/lemonsqueezy/<store>/subscription/<id>/payment-details?expires=..&signature=..
    {sandbox}/lemonsqueezy/<store>/billing/<id>/update?expires=..&user=..&signature=..

``signature`` is a hex HMAC-SHA256, with a secret of the twin's own, over the path and the
query before it (Lemon Squeezy's own scheme is not documented: this is the twin's).

A subscription read renders the subscription's state in the sandbox
(``TwinStore.subscription_state``): a cancellation, a new plan or card made in the portal or
by ``Sandbox.trigger`` shows there, as in the webhook Lemon Squeezy sends for it (section
``# -- webhooks --``: events, signature and sandbox secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets
import threading
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

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
    ulid,
    utc,
)

API = "https://api.lemonsqueezy.com/v1"  # the documents' own links point at the real API
JSON_API = "application/vnd.api+json"
#: "The URL is valid for 24 hours from time of request."
TTL = 24 * 3600
#: "The API has a rate limit of 300 calls per minute."
RATE_LIMIT = 300
STORE_ID = 1
STORE = "portalkit-sandbox"  # the store's subdomain: https://portalkit-sandbox.lemonsqueezy.com
#: Ids are positive integers, sent as strings.
NUMERIC_ID = re.compile(r"[1-9]\d{0,19}")
CREDENTIALS = {
    "valid": {"api_key": "ls_test_portalkit_sandbox_store"},
    "wrong": {"api_key": "ls_test_portalkit_wrong"},
    # Lemon Squeezy keys have no scopes; the nearest thing is a valid key of another store,
    # which may not read this store's customers.
    "no_scope": {"api_key": "ls_test_portalkit_other_store"},
}
_KEY_STORE = {
    CREDENTIALS["valid"]["api_key"]: STORE_ID,
    CREDENTIALS["no_scope"]["api_key"]: STORE_ID + 1,
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
#: The twin's signing secret: links verify in the process that signed them.
_SECRET = secrets.token_bytes(32)
_new_ids = itertools.count(1001)  # fresh ids for add_customer/add_subscription
_calls: dict[tuple[str, int], int] = {}  # (key, minute) -> calls, for X-Ratelimit-Remaining
_calls_lock = threading.Lock()
SIGNATURE = re.compile(r"[0-9a-f]{64}")


def _new_id(now: float) -> str:
    return str(next(_new_ids))


# -- the API -------------------------------------------------------------------------------


def retrieve_customer(call: Call) -> Reply:
    remaining = _authenticate(call)
    customer_id = call.path_params["id"]
    if not NUMERIC_ID.fullmatch(customer_id) or not call.store.has_customer(customer_id):
        raise Invalid(404, "not_found", "The requested resource could not be found.")
    subscriptions = call.store.subscriptions(customer_id)
    expires = int(call.now) + TTL
    portal = None
    if subscriptions:  # "null if the customer has not bought a subscription in your store"
        portal = _signed(call.base_url, f"/lemonsqueezy/{STORE}/billing", expires, user=customer_id)
        call.store.add_session(_issued(call, customer_id, portal, expires))
    attributes = {
        "store_id": STORE_ID,
        "name": f"Sandbox Customer {customer_id}",
        "email": f"customer{customer_id}@example.com",
        "status": "subscribed" if subscriptions else "unsubscribed",
        "city": None,
        "region": None,
        "country": "US",
        "total_revenue_currency": 1999 * len(subscriptions),
        "mrr": 1999 * len(subscriptions),
        "status_formatted": "Subscribed" if subscriptions else "Unsubscribed",
        "country_formatted": "United States",
        "total_revenue_currency_formatted": f"${19.99 * len(subscriptions):.2f}",
        "mrr_formatted": f"${19.99 * len(subscriptions):.2f}",
        "urls": {"customer_portal": portal},
        "created_at": _timestamp(0),
        "updated_at": _timestamp(0),
        "test_mode": True,
    }
    relations = ("store", "orders", "subscriptions", "license-keys")
    return _document(call, "customers", customer_id, attributes, relations, remaining)


def retrieve_subscription(call: Call) -> Reply:
    """The subscription as its state is now (a cancellation, a new plan or card made in the
    portal or by ``Sandbox.trigger`` shows here), with links signed afresh."""
    remaining = _authenticate(call)
    subscription_id = call.path_params["id"]
    owner = _owner(call, subscription_id) if NUMERIC_ID.fullmatch(subscription_id) else None
    if owner is None:
        raise Invalid(404, "not_found", "The requested resource could not be found.")
    urls = _urls(call.base_url, f"/lemonsqueezy/{STORE}", subscription_id, owner, call.now)
    attributes = subscription_attributes(call.store.subscription_state(subscription_id), urls)
    return _document(
        call, "subscriptions", subscription_id, attributes, SUBSCRIPTION_RELATIONS, remaining
    )


#: A subscription's JSON:API relationships.
SUBSCRIPTION_RELATIONS = ("store", "customer", "order", "order-item", "product", "variant")


def _urls(base_url: str, root: str, subscription_id: str, owner: str, now: float) -> dict[str, str]:
    """A subscription's signed links (valid ``TTL`` from ``now``) under ``base_url + root``."""
    expires = int(now) + TTL
    return {
        "update_payment_method": _signed(
            base_url, f"{root}/subscription/{subscription_id}/payment-details", expires
        ),
        "customer_portal": _signed(base_url, f"{root}/billing", expires, user=owner),
        "customer_portal_update_subscription": _signed(
            base_url, f"{root}/billing/{subscription_id}/update", expires, user=owner
        ),
    }


def subscription_attributes(state: SubscriptionState, urls: dict[str, str]) -> dict[str, Any]:
    """The subscription object's attributes (API reference, "The subscription object"), as a
    read answers them and a webhook carries them. ``status``: ``active``; ``cancelled`` in
    the grace period a cancellation leaves (``cancelled`` true, ``ends_at`` the period's end);
    ``expired`` once it ended. ``renews_at`` is the period's end whatever the status."""
    status = _status(state)
    ends_at: float | None = None
    if status == "cancelled":
        ends_at = state.current_period_end
    elif status == "expired":
        ends_at = state.ended_at if state.ended_at is not None else state.updated_at
    variant = int(state.plan) if NUMERIC_ID.fullmatch(state.plan) else 1
    last_four = state.payment_method if LAST_FOUR.fullmatch(state.payment_method) else "4242"
    return {
        "store_id": STORE_ID,
        "customer_id": int(state.customer_id),
        "order_id": int(state.id),
        "order_item_id": int(state.id),
        "product_id": 1,
        "variant_id": variant,
        "product_name": "Sandbox Plan",
        "variant_name": VARIANTS.get(state.plan, "Monthly"),
        "user_name": f"Sandbox Customer {state.customer_id}",
        "user_email": f"customer{state.customer_id}@example.com",
        "status": status,
        "status_formatted": status.title(),
        "card_brand": CARD_BRANDS[(int(last_four) - 4242) % len(CARD_BRANDS)],  # 4242: visa
        "card_last_four": last_four,
        "payment_processor": "stripe",
        "pause": None,
        "cancelled": status != "active",
        "trial_ends_at": None,
        "billing_anchor": utc(state.created_at).day,
        "first_subscription_item": {
            "id": int(state.id),
            "subscription_id": int(state.id),
            "price_id": variant,
            "quantity": 1,
            "is_usage_based": False,
            "created_at": _timestamp(state.created_at),
            "updated_at": _timestamp(state.updated_at),
        },
        "urls": urls,
        "renews_at": _timestamp(state.current_period_end),
        "ends_at": None if ends_at is None else _timestamp(ends_at),
        "created_at": _timestamp(state.created_at),
        "updated_at": _timestamp(state.updated_at),
        "test_mode": True,
    }


def _status(state: SubscriptionState) -> str:
    if state.status == "canceled":
        return "expired"
    return "cancelled" if state.cancel_at_period_end else "active"


def _authenticate(call: Call) -> int:
    """Accept and the key; the calls left this minute (for ``X-Ratelimit-Remaining``)."""
    accept = call.headers.get("accept")
    if accept is not None and not _accepts_json_api(accept):
        raise Invalid(406, "not_acceptable", f"The API only answers {JSON_API}.")
    key = bearer_token(call.headers)
    if not key or key not in _KEY_STORE:
        raise Invalid(401, "unauthorized", "Unauthenticated.")
    if _KEY_STORE[key] != STORE_ID:
        raise Invalid(403, "forbidden", "This API key does not have access to this store.")
    with _calls_lock:
        minute = int(call.wall_now // 60)
        count = _calls.get((key, minute), 0) + 1
        if len(_calls) > 100:  # earlier minutes are of no more use
            _calls.clear()
        _calls[(key, minute)] = count
    return max(0, RATE_LIMIT - count)


def _accepts_json_api(accept: str) -> bool:
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(kinds & {JSON_API, "application/*", "*/*", ""})


def _owner(call: Call, subscription_id: str) -> str | None:
    for customer_id in call.store.customers():
        if subscription_id in call.store.subscriptions(customer_id):
            return customer_id
    return None


def _document(
    call: Call,
    kind: str,
    id_: str,
    attributes: dict[str, Any],
    relations: tuple[str, ...],
    remaining: int,
) -> Reply:
    data = _resource(kind, id_, attributes, relations)
    payload = {"jsonapi": {"version": "1.0"}, "links": data["links"], "data": data}
    headers = {
        "Content-Type": JSON_API,
        "X-Ratelimit-Limit": str(RATE_LIMIT),
        "X-Ratelimit-Remaining": str(remaining),
    }
    return Reply(200, payload, headers)


def _resource(
    kind: str, id_: str, attributes: dict[str, Any], relations: tuple[str, ...]
) -> dict[str, Any]:
    """A JSON:API resource object (a read's ``data``, a webhook's ``data``)."""
    self_link = f"{API}/{kind}/{id_}"
    return {
        "type": kind,
        "id": id_,
        "attributes": attributes,
        "relationships": {
            name: {
                "links": {
                    "related": f"{self_link}/{name}",
                    "self": f"{self_link}/relationships/{name}",
                }
            }
            for name in relations
        },
        "links": {"self": self_link},
    }


def _issued(call: Call, customer_id: str, url: str, expires: int) -> Session:
    """What the twin records of a customer read: the portal link it signed (so tests can
    see what was handed out, and to whom). Nothing is used up by opening it."""
    return Session(
        vendor="lemonsqueezy",
        id=f"read_{ulid(call.now)}",
        customer_id=customer_id,
        return_url=None,
        configuration=None,
        subscription_ids=(),
        locale=None,
        account_id=str(STORE_ID),
        idempotency_key=None,
        created_at=utc(float(int(call.now))),
        expires_at=utc(float(expires)),
        used=False,
        url=url,
        token=url.rsplit("signature=", 1)[1],
    )


def error_reply(call: Call, exc: Invalid) -> Reply:
    """A JSON:API error document: ``{"jsonapi", "errors": [{"detail", "status", "title"}]}``."""
    error = {
        "detail": exc.message,
        "status": str(exc.status),
        "title": _TITLES.get(exc.status, "Error"),
    }
    headers = {"Content-Type": JSON_API}
    if exc.status == 429:
        headers |= {"X-Ratelimit-Limit": str(RATE_LIMIT), "X-Ratelimit-Remaining": "0"}
    return Reply(exc.status, {"jsonapi": {"version": "1.0"}, "errors": [error]}, headers)


def partial(call: Call) -> Reply:
    """A 200 document whose resource lacks its attributes."""
    kind = "subscriptions" if call.route.startswith("/v1/subscriptions") else "customers"
    data = {"type": kind, "id": call.path_params.get("id", "1")}
    return Reply(200, {"jsonapi": {"version": "1.0"}, "data": data}, {"Content-Type": JSON_API})


def _timestamp(seconds: float) -> str:
    """Lemon Squeezy's timestamps: ``2022-12-01T13:01:07.000000Z``."""
    return utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


# -- signed links -----------------------------------------------------------------------------


def _signature(path: str, query: str) -> str:
    return hmac.new(_SECRET, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()


def _signed(base_url: str, path: str, expires: int, **query: str) -> str:
    unsigned = urlencode({"expires": str(expires), **query})
    return f"{base_url}{path}?{unsigned}&signature={_signature(path, unsigned)}"


def _verify(request: Request, pages: Pages) -> str | None:
    """Why the signed link cannot be used ("missing": unsigned, "forbidden", "expired"), or
    None. The signature covers the query before it, in order."""
    query = request.url.query
    unsigned, found, signature = query.rpartition("&signature=")
    if not found or not SIGNATURE.fullmatch(signature) or "expires=" not in unsigned:
        return "missing"
    if not hmac.compare_digest(signature, _signature(request.url.path, unsigned)):
        return "forbidden"
    expires = request.query_params.get("expires", "")
    if not expires.isdigit() or pages.store.now() >= int(expires):
        return "expired"
    return None


def _sign_in_page() -> HTMLResponse:
    """``/billing`` without a signed link asks for the customer's e-mail (a magic link)."""
    return HTMLResponse(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>Sign in (portalkit sandbox)</title></head><body>\n"
        '<h1 id="sign-in">Sign in to manage your billing</h1>\n'
        "<p>Enter your e-mail address and we will send you a magic link. (portalkit sandbox:"
        " no e-mail is sent.)</p>\n</body></html>\n",
        401,
    )


def _open(
    request: Request,
    pages: Pages,
    customer_id: str | None,
    action: str | None = None,
    subscription_id: str | None = None,
) -> Response:
    if request.path_params["store"] != STORE:
        return pages.refused("missing")
    problem = _verify(request, pages)
    if problem == "missing":
        return _sign_in_page()
    if problem is not None:
        return pages.refused("expired" if problem == "expired" else "forbidden")
    if customer_id is None or not pages.store.has_customer(customer_id):
        return pages.refused("missing")
    if subscription_id is not None and subscription_id not in pages.store.subscriptions(
        customer_id
    ):
        return pages.refused("missing")
    expires = float(request.query_params["expires"])
    # Reusable until it expires: a view of the customer's portal, nothing used up.
    session = Session(
        vendor="lemonsqueezy",
        id=f"customers/{customer_id}",
        customer_id=customer_id,
        return_url=None,
        configuration=None,
        subscription_ids=(),
        locale=None,
        account_id=str(STORE_ID),
        idempotency_key=None,
        created_at=utc(expires - TTL),
        expires_at=utc(expires),
        used=False,
        url=str(request.url),
        token=request.query_params.get("signature", ""),
    )
    return pages.portal(session, action, subscription_id)


async def billing(request: Request, pages: Pages) -> Response:
    """The customer portal's front page."""
    return _open(request, pages, request.query_params.get("user"))


async def payment_details(request: Request, pages: Pages) -> Response:
    """A subscription's update-payment-method page (the link names no customer: the
    subscription's owner is the customer)."""
    subscription_id = request.path_params["subscription_id"]
    owner = next(
        (c for c in pages.store.customers() if subscription_id in pages.store.subscriptions(c)),
        None,
    )
    return _open(request, pages, owner, "update_payment_method", subscription_id)


async def update_subscription(request: Request, pages: Pages) -> Response:
    """A subscription's change-plan page."""
    subscription_id = request.path_params["subscription_id"]
    customer_id = request.query_params.get("user")
    return _open(request, pages, customer_id, "update_subscription", subscription_id)


# -- webhooks --------------------------------------------------------------------------------
# Lemon Squeezy's docs: help/webhooks (one POST per event, ``Content-Type: application/json``,
# the event's name in ``X-Event-Name``), help/webhooks/signing-requests (``X-Signature``: the
# hex HMAC-SHA256 of the raw body, keyed with the signing secret you typed, 6 to 40
# characters; nothing else is signed, there is no timestamp, so a late delivery is the same
# delivery), help/webhooks/event-types (subscription_cancelled: "the subscription enters a
# grace period until the next billing date"; subscription_resumed; subscription_expired;
# subscription_updated, the catch-all), the developer guide "Staying in sync with webhooks"
# (the envelope: ``meta`` {``event_name``, ``test_mode``, ``webhook_id``, and ``custom_data``
# only when the checkout passed some}, ``data`` the resource) and the API reference's
# "The subscription object" (``data``: the same resource a read answers, see
# ``subscription_attributes``). Lemon Squeezy has no event for a plan change or a new card:
# both are subscription_updated.
#
# The links in a webhook are on the store's real host (``https://<store>.lemonsqueezy.com``):
# an event is built without a request, so without the sandbox's address. Read the
# subscription through the API for links that open in the sandbox.

#: The signing secret the sandbox's webhook was made with (one you choose, 6 to 40 characters).
WEBHOOK_SECRET = "portalkit-sandbox-signing-secret"  # noqa: S105 -- the sandbox's, public
#: The sandbox store's webhook (``meta.webhook_id`` names the webhook, not the event).
WEBHOOK_ID = "5f2b0f0e-1c55-4c1a-9d0e-7a3f6b8c2d41"
#: The variants (of product 1, "Sandbox Plan") a subscription can be on: id -> name.
VARIANTS = {"1": "Monthly", "2": "Pro Monthly"}
#: Lemon Squeezy shows a card by its brand and last four only, so the twin's payment method
#: id *is* the last four: a new one each time (from 4242 on), of one of these brands.
CARD_BRANDS = ("visa", "mastercard", "amex", "discover")
_card_numbers = itertools.count(4242)
LAST_FOUR = re.compile(r"\d{4}")
#: The event each change sends.
EVENT_NAMES = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: "subscription_cancelled",
    Change.SUBSCRIPTION_UNCANCELED: "subscription_resumed",
    Change.SUBSCRIPTION_CANCELED: "subscription_expired",
    Change.SUBSCRIPTION_PLAN_CHANGED: "subscription_updated",
    Change.PAYMENT_METHOD_UPDATED: "subscription_updated",
    Change.SUBSCRIPTION_UPDATED: "subscription_updated",
}


def webhook_headers(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """``X-Signature``: the hex HMAC-SHA256 of the raw body; ``X-Event-Name``, unsigned."""
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-Event-Name": str(payload["meta"]["event_name"]),
        "X-Signature": signature,
    }


def webhook_events(
    change: Change, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    """The one event Lemon Squeezy sends for ``change``: the subscription as it is now."""
    event_name = EVENT_NAMES.get(change)
    if event_name is None:
        return []
    urls = _urls(f"https://{STORE}.lemonsqueezy.com", "", after.id, after.customer_id, now)
    attributes = subscription_attributes(after, urls)
    return [
        {
            "meta": {"test_mode": True, "event_name": event_name, "webhook_id": WEBHOOK_ID},
            "data": _resource("subscriptions", after.id, attributes, SUBSCRIPTION_RELATIONS),
        }
    ]


WEBHOOKS = TwinWebhooks(
    secret=WEBHOOK_SECRET,
    env={"LEMONSQUEEZY_WEBHOOK_SECRET": WEBHOOK_SECRET},
    sign=webhook_headers,
    events=webhook_events,
    changes=frozenset(EVENT_NAMES),
    action_changes={
        # Lemon Squeezy's portal cancels at the end of the period (the grace period).
        "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": Change.PAYMENT_METHOD_UPDATED,
        "update_subscription": Change.SUBSCRIPTION_PLAN_CHANGED,
    },
    plans=tuple(VARIANTS),
    payment_method_id=lambda now: f"{next(_card_numbers) % 10_000:04d}",
)


TWIN = Twin(
    name="lemonsqueezy",
    title="Lemon Squeezy",
    description="Lemon Squeezy: signed portal links read from customers and subscriptions "
    "(JSON:API), reusable for 24 hours.",
    routes=(
        ApiRoute("GET", "/v1/customers/{id}", retrieve_customer),
        ApiRoute("GET", "/v1/subscriptions/{id}", retrieve_subscription),
    ),
    pages=(
        PageRoute("GET", "/lemonsqueezy/{store}/billing", billing),
        PageRoute(
            "GET",
            "/lemonsqueezy/{store}/subscription/{subscription_id}/payment-details",
            payment_details,
        ),
        PageRoute(
            "GET", "/lemonsqueezy/{store}/billing/{subscription_id}/update", update_subscription
        ),
    ),
    credentials=CREDENTIALS,
    customers={"1": ("1", "2"), "2": ("3",), "3": ()},
    customer_id=IdFormat(NUMERIC_ID, _new_id),
    subscription_id=IdFormat(NUMERIC_ID, _new_id),
    request_id=lambda now: str(uuid.uuid4()),
    error_reply=error_reply,
    partial=partial,
    status_codes={},
    actions=(
        ("view_invoices", "Billing history"),
        ("update_payment_method", "Update payment method"),
        ("update_subscription", "Change plan"),
        ("cancel_subscription", "Cancel subscription"),
    ),
    preopened_labels={
        "update_payment_method": "Update payment method",
        "update_subscription": "Change plan",
    },
    url_secrets=(r"[?&]signature=(?P<token>[^&#\s\"']+)",),
    single_use_links=False,
    webhooks=WEBHOOKS,
)
