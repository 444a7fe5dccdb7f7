"""Chargebee's sandbox twin: portal sessions as Chargebee's API reference documents them
(/work/shared/provider-docs/chargebee.md; https://apidocs.chargebee.com/docs/api/portal_sessions,
.../error-handling, .../idempotency), and its hosted portal. Restated from the docs: it
imports nothing from the adapter.

Chargebee puts the site in the host name (``https://{site}.chargebee.com/api/v2/...``). The
sandbox serves one origin, so the site moves into the path: the adapter's ``base_url`` is
``{sandbox}/chargebee/{site}`` (``Twin.base_path``), and the routes are::

    POST /chargebee/{site}/api/v2/portal_sessions                    create
    GET  /chargebee/{site}/api/v2/portal_sessions/{id}               retrieve
    POST /chargebee/{site}/api/v2/portal_sessions/{id}/logout        end the session now

The same three also answer at ``/api/v2/...`` with the site read from the ``Host`` header's
first label (``acme-test.localhost:8000``), which is how the official SDK, whose URL is
always ``{protocol}://{site}.{domain}/api/v2``, reaches the sandbox; a bare loopback host
(``base_url`` the sandbox's own URL) names the sandbox's one site, ``acme-test``.

Checks, in order: the site (404 ``site_not_found``), HTTP Basic with the key as user name and
an empty password (401 ``api_authentication_failed``), the key's permission (403
``api_authorization_failed``), the form body (400 ``param_wrong_value`` naming ``param``:
``customer[id]`` required and at most 50 characters, ``redirect_url`` / ``forward_url`` URLs
of at most 250; 400 ``invalid_request`` for an unknown parameter or an idempotency key over
100 characters), the customer (404 ``resource_not_found``). Errors are Chargebee's envelope
``{message, type, api_error_code, param, error_code, error_msg, http_status_code}``.

``chargebee-idempotency-key``: the same key and parameters within the window answer the stored
session again with ``chargebee-idempotency-replayed: true``; the same key with other
parameters is 409 ``idempotency_key_reused`` (Chargebee documents no code for it: a sandbox
choice, docs/providers/chargebee.md).

The access URL is ``{sandbox}/chargebee/{site}/portal/access/<token>``: the path is the
single-use bearer token, to be opened within an hour. ``forward_url`` naming the
edit-subscription permalink (``/portal/permalink/subscriptions/{id}/edit`` on the site's
portal) opens the portal at that subscription's "update_subscription" page. After a logout
the link answers 410 even if it was never used.

Webhooks (section ``# -- webhooks --``): Chargebee's events for each portal action, with HTTP
Basic credentials as Chargebee sends them.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

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
    base62,
    fingerprint,
    form_object,
    idempotent,
    return_url_problem,
    utc,
)

SITE = "acme-test"
API = "/api/v2/portal_sessions"
#: "The access URL is single-use and must be used within one hour."
TTL = 60 * 60
MAX_CUSTOMER_ID = 50
MAX_URL = 250
MAX_IDEMPOTENCY_KEY = 100
IDEMPOTENCY_HEADER = "chargebee-idempotency-key"
REPLAYED_HEADER = "chargebee-idempotency-replayed"
CREATE_PARAMS = ("customer[id]", "redirect_url", "forward_url")
#: The edit-subscription permalink, the one portal page Chargebee documents for forward_url.
PERMALINK = re.compile(r"/portal/permalink/subscriptions/(?P<subscription_id>[^/?#]+)/edit")
# Chargebee ids: at most 50 of letters, digits and _ - . (test sites prefix __test__).
CUSTOMER_ID = re.compile(r"[A-Za-z0-9_.\-]{1,50}")
SUBSCRIPTION_ID = re.compile(r"[A-Za-z0-9_.\-]{1,50}")
CREDENTIALS = {
    "valid": {"site": SITE, "api_key": "test_portalkitSandboxFullAccess01"},
    "wrong": {"site": SITE, "api_key": "test_portalkitSandboxWrongKey0001"},
    "no_scope": {"site": SITE, "api_key": "test_portalkitSandboxReadOnly0001"},
}
# api key -> may it write portal sessions?
_KEYS = {CREDENTIALS["valid"]["api_key"]: True, CREDENTIALS["no_scope"]["api_key"]: False}
_IP = re.compile(r"[0-9.]+")
_ERROR_TYPES = {400: "invalid_request", 404: "invalid_request", 409: "invalid_request"}


def _new_id(now: float) -> str:
    return f"__test__{base62(16)}"


# -- the API -------------------------------------------------------------------------------


def create(call: Call) -> Reply:
    site = _authenticate(call)
    params = _form(call)
    unknown = sorted(set(params) - set(CREATE_PARAMS))
    if unknown:
        raise Invalid(
            400, "invalid_request", f"{unknown[0]} : is not a known parameter", unknown[0]
        )
    customer_id = params.get("customer[id]", "")
    if not customer_id:
        raise Invalid(400, "param_wrong_value", "customer[id] : cannot be blank", "customer[id]")
    if len(customer_id) > MAX_CUSTOMER_ID:
        raise Invalid(
            400,
            "param_wrong_value",
            f"customer[id] : cannot be more than {MAX_CUSTOMER_ID} characters",
            "customer[id]",
        )
    for name in ("redirect_url", "forward_url"):
        value = params.get(name)
        if value is not None and (len(value) > MAX_URL or return_url_problem(value)):
            raise Invalid(
                400,
                "param_wrong_value",
                f"{name} : invalid value (a URL of at most {MAX_URL} characters)",
                name,
            )
    key = call.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise Invalid(
            400,
            "invalid_request",
            f"{IDEMPOTENCY_HEADER} : must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
        )
    if not CUSTOMER_ID.fullmatch(customer_id) or not call.store.has_customer(customer_id):
        raise Invalid(404, "resource_not_found", "Sorry, we couldn't find that resource")

    def conflict() -> Reply:
        return error_reply(
            call,
            Invalid(
                409,
                "idempotency_key_reused",
                "The idempotency key was already used with different parameters",
            ),
        )

    reply = idempotent(
        call,
        key,
        fingerprint(site, sorted(params.items())),
        lambda: _mint(call, site, customer_id, params),
        conflict,
    )
    if reply.headers:  # the shared helper's replay marker, in Chargebee's words
        return attrs.evolve(reply, headers={REPLAYED_HEADER: "true"})
    return reply


def _mint(call: Call, site: str, customer_id: str, params: dict[str, str]) -> Reply:
    created = int(call.now)  # unix seconds
    secret = f"__test__{base62(32)}"
    forward = _forward(site, params.get("forward_url"), call)
    session = Session(
        vendor="chargebee",
        id=f"portal___test__{base62(16)}",
        customer_id=customer_id,
        return_url=params.get("redirect_url"),
        configuration=None,
        subscription_ids=tuple(call.store.subscriptions(customer_id)),
        locale=None,
        account_id=site,
        idempotency_key=call.headers.get(IDEMPOTENCY_HEADER),
        created_at=utc(created),
        expires_at=utc(created + TTL),
        used=False,
        url=f"{call.base_url}/chargebee/{site}/portal/access/{secret}",
        token=secret,
        link_id=secret,
        extra={"forward_subscription_id": forward} if forward else {},
    )
    call.store.add_session(session)
    return Reply(200, {"portal_session": _object(session, call.now)})


def _forward(site: str, url: str | None, call: Call) -> str | None:
    """The subscription a ``forward_url`` permalink opens (on the site's portal host, or the
    sandbox's own portal pages), when it is the customer's; None otherwise (the portal's
    home page, as Chargebee's portal shows for a page it cannot open)."""
    if url is None:
        return None
    parts = urlsplit(url)
    own = urlsplit(call.base_url)
    path = parts.path
    if parts.hostname == f"{site}.chargebeeportal.com":
        pass
    elif parts.netloc == own.netloc and path.startswith(f"/chargebee/{site}/"):
        path = path.removeprefix(f"/chargebee/{site}")
    else:
        return None
    match = PERMALINK.fullmatch(path)
    return match["subscription_id"] if match else None


def retrieve(call: Call) -> Reply:
    _authenticate(call)
    return Reply(200, {"portal_session": _object(_session(call), call.now)})


def logout(call: Call) -> Reply:
    """End the session now: ``status`` becomes ``logged_out`` and the link stops working,
    used or not (its expiry moves to now). Logging out twice answers the same."""
    _authenticate(call)
    session = _session(call)
    if "logout_at" not in session.extra:
        moment = int(call.now)
        session = attrs.evolve(
            session,
            expires_at=min(session.expires_at, utc(moment)),
            extra={**session.extra, "logout_at": moment},
        )
        call.store.add_session(session)
    return Reply(200, {"portal_session": _object(session, call.now)})


def _session(call: Call) -> Session:
    session = call.store.session(call.path_params["session_id"])
    if session is None:
        raise Invalid(404, "resource_not_found", "Sorry, we couldn't find that resource")
    return session


def _object(session: Session, now: float) -> dict[str, Any]:
    """The portal_session object as Chargebee answers it."""
    logout_at = session.extra.get("logout_at")
    status = "logged_out" if logout_at is not None else "logged_in" if session.used else "created"
    body: dict[str, Any] = {
        "id": session.id,
        "token": session.token,
        "access_url": session.url,
        "status": status,
        "created_at": int(session.created_at.timestamp()),
        "expires_at": int(session.created_at.timestamp()) + TTL,
        "customer_id": session.customer_id,
        "object": "portal_session",
        "linked_customers": [
            {
                "customer_id": session.customer_id,
                "has_billing_address": False,
                "has_payment_method": False,
                "has_active_subscription": bool(session.subscription_ids),
                "object": "linked_customer",
            }
        ],
    }
    if session.return_url is not None:
        body["redirect_url"] = session.return_url
    if logout_at is not None:
        body["logout_at"] = logout_at
    return body


def _site(call: Call) -> str:
    """The site: from the path, else the Host header's first label (``acme-test.localhost``);
    a bare loopback host (``127.0.0.1``, ``localhost``) names no site, so the sandbox's own."""
    site = call.path_params.get("site")
    if site is None:
        host = urlsplit(f"//{call.headers.get('host') or ''}").hostname or ""
        loopback = host == "localhost" or _IP.fullmatch(host) or ":" in host
        site = SITE if loopback else host.split(".", 1)[0]
    if site != SITE:
        raise Invalid(404, "site_not_found", "Sorry, the site is not found")
    return site


def _authenticate(call: Call) -> str:
    site = _site(call)
    scheme, _, encoded = (call.headers.get("authorization") or "").partition(" ")
    try:
        user, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user, colon, password = "", "", ""
    if scheme.lower() != "basic" or not colon or password or user not in _KEYS:
        raise Invalid(
            401, "api_authentication_failed", "Sorry, authentication failed. Invalid api key"
        )
    if not _KEYS[user]:
        raise Invalid(
            403,
            "api_authorization_failed",
            "Sorry, Access restricted. You don't have permission for this operation",
        )
    return site


def _form(call: Call) -> dict[str, str]:
    """The form body as Chargebee's flat parameter names (``customer[id]``)."""
    try:
        parsed = form_object(call.body)
    except ValueError:
        raise Invalid(400, "invalid_request", "The request body is not a valid form") from None
    flat: dict[str, str] = {}
    for name, value in parsed.items():
        if isinstance(value, dict):
            for key, inner in value.items():
                if not isinstance(inner, str):
                    raise Invalid(400, "invalid_request", f"{name}[{key}] : invalid value")
                flat[f"{name}[{key}]"] = inner
        elif isinstance(value, str):
            flat[name] = value
        else:
            raise Invalid(400, "invalid_request", f"{name} : invalid value", name)
    return flat


def error_reply(call: Call, exc: Invalid) -> Reply:
    body: dict[str, Any] = {"message": exc.message}
    if exc.status in _ERROR_TYPES:
        body["type"] = _ERROR_TYPES[exc.status]
    body["api_error_code"] = exc.code
    if exc.field is not None:
        body["param"] = exc.field
    body.update(error_code=exc.code, error_msg=exc.message, http_status_code=exc.status)
    return Reply(exc.status, body)


def partial(call: Call) -> Reply:
    return Reply(200, {"portal_session": {"id": f"portal___test__{base62(16)}"}})


# -- the hosted portal -----------------------------------------------------------------------


async def open_link(request: Request, pages: Pages) -> Response:
    """``GET /chargebee/{site}/portal/access/<token>``: the token is the path; open the portal
    (at the forwarded subscription's edit page when the session has one)."""
    secret = request.path_params["token"]
    session = pages.store.session_by_link(secret)
    if session is None or request.path_params["site"] != SITE:
        return pages.refused("missing")
    subscription_id = session.extra.get("forward_subscription_id")
    if subscription_id not in session.subscription_ids:
        subscription_id = None
    action = "update_subscription" if subscription_id else None
    return pages.open(request, session.id, secret, action, subscription_id)


# -- webhooks --------------------------------------------------------------------------------
# Chargebee's docs: https://apidocs.chargebee.com/docs/api/events (the event object: ``id``
# ``ev_...``, ``occurred_at`` in Unix seconds, ``source``, ``object``, ``api_version``,
# ``event_type``, ``webhook_status``, ``content`` holding the resources as they are now, never
# their previous values), each event's page (a subscription event's content is the
# ``subscription`` and its ``customer``; a payment source event's the ``customer`` and the
# ``payment_source``), .../subscriptions (``status`` ``non_renewing`` while a cancellation is
# scheduled, ``cancelled_at`` the date it takes effect, ``resource_version`` in milliseconds)
# and the webhook settings: nothing is signed, the user name and password configured with the
# webhook URL arrive as HTTP Basic. Field names and enums as chargebee-python's models name
# them (``SubscriptionResponse``, ``CustomerResponse``, ``PaymentSourceResponse``,
# ``EventResponse``; its test checks every field sent is one of theirs). Ids on a test site:
# ``ev___test__...``, ``pm___test__...``.

#: The sandbox webhook's Basic credentials, ``"user:password"``.
WEBHOOK_USERNAME = "portalkit-sandbox"
WEBHOOK_PASSWORD = "sandbox-chargebee-webhook-password"  # noqa: S105 -- the sandbox's, public
WEBHOOK_SECRET = f"{WEBHOOK_USERNAME}:{WEBHOOK_PASSWORD}"
#: Item prices (Product Catalog 2.0) a subscription can be on, with their monthly price in
#: cents.
PLANS = {"portalkit-basic-USD-Monthly": 900, "portalkit-pro-USD-Monthly": 2900}
GATEWAY_ACCOUNT = "gw___test__portalkitGateway1"
#: The event each change sends. A change of plan is ``subscription_changed``, which Chargebee
#: sends for any change made through "update subscription" (a plan, a quantity, an add-on).
#: A new card is a new payment source (its own id): ``payment_source_added``.
EVENT_TYPES = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: "subscription_cancellation_scheduled",
    Change.SUBSCRIPTION_UNCANCELED: "subscription_scheduled_cancellation_removed",
    Change.SUBSCRIPTION_CANCELED: "subscription_cancelled",
    Change.SUBSCRIPTION_PLAN_CHANGED: "subscription_changed",
    Change.SUBSCRIPTION_UPDATED: "subscription_changed",
    Change.PAYMENT_METHOD_UPDATED: "payment_source_added",
}


def webhook_headers(
    body: bytes, payload: Mapping[str, Any], secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    """HTTP Basic with the webhook's ``"user:password"`` (another secret: other credentials);
    nothing is signed, so neither the body nor the timestamp is in the headers."""
    username, _, password = secret.partition(":")
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}", "Content-Type": "application/json"}


def webhook_events(
    change: Change, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    """The one event Chargebee sends for ``change``, from the portal (``source``)."""
    event_type = EVENT_TYPES.get(change)
    if event_type is None:
        return []
    content: dict[str, Any] = {"subscription": _subscription(after), "customer": _customer(after)}
    if change is Change.PAYMENT_METHOD_UPDATED:
        content = {"customer": _customer(after), "payment_source": _payment_source(after, now)}
    return [
        {
            "id": f"ev___test__{base62(16)}",
            "occurred_at": int(now),
            "source": "portal",
            "object": "event",
            "api_version": "v2",
            "event_type": event_type,
            "webhook_status": "scheduled",
            "content": content,
        }
    ]


def _version(state: SubscriptionState) -> int:
    """``resource_version``: milliseconds of the last change, that grows at every change even
    within one second (the state's ``version`` in the milliseconds)."""
    return int(state.updated_at) * 1000 + state.version % 1000


def _subscription(state: SubscriptionState) -> dict[str, Any]:
    price = PLANS.get(state.plan, 0)
    subscription: dict[str, Any] = {
        "id": state.id,
        "billing_period": 1,
        "billing_period_unit": "month",
        "customer_id": state.customer_id,
        "status": "active",
        "current_term_start": int(state.current_period_start),
        "current_term_end": int(state.current_period_end),
        "next_billing_at": int(state.current_period_end),
        "created_at": int(state.created_at),
        "started_at": int(state.created_at),
        "activated_at": int(state.created_at),
        "updated_at": int(state.updated_at),
        "has_scheduled_changes": False,
        "channel": "web",
        "resource_version": _version(state),
        "deleted": False,
        "object": "subscription",
        "currency_code": "USD",
        "subscription_items": [
            {
                "item_price_id": state.plan,
                "item_type": "plan",
                "quantity": 1,
                "unit_price": price,
                "amount": price,
                "free_quantity": 0,
                "object": "subscription_item",
            }
        ],
        "due_invoices_count": 0,
        "mrr": price,
        "exchange_rate": 1.0,
        "base_currency_code": "USD",
    }
    if state.status == "canceled":
        # Ended: no term, no next billing; cancelled_at is when it ended.
        for field in ("current_term_start", "current_term_end", "next_billing_at"):
            del subscription[field]
        ended = state.ended_at if state.ended_at is not None else state.updated_at
        subscription.update(status="cancelled", cancelled_at=int(ended), mrr=0)
    elif state.cancel_at_period_end:
        # Scheduled: cancelled_at is when it will take effect (the term's end).
        del subscription["next_billing_at"]
        asked = state.canceled_at if state.canceled_at is not None else state.updated_at
        subscription.update(
            status="non_renewing",
            cancelled_at=int(state.current_period_end),
            cancel_schedule_created_at=int(asked),
            remaining_billing_cycles=0,
        )
    return subscription


def _customer(state: SubscriptionState) -> dict[str, Any]:
    return {
        "id": state.customer_id,
        "first_name": "Sandbox",
        "last_name": "Customer",
        "email": f"{state.customer_id}@example.com",
        "auto_collection": "on",
        "net_term_days": 0,
        "allow_direct_debit": False,
        "created_at": int(state.created_at),
        "taxability": "taxable",
        "updated_at": int(state.updated_at),
        "locale": "en",
        "pii_cleared": "active",
        "channel": "web",
        "resource_version": _version(state),
        "deleted": False,
        "object": "customer",
        "card_status": "valid",
        "primary_payment_source_id": state.payment_method,
        "payment_method": {
            "object": "payment_method",
            "type": "card",
            "reference_id": _reference(state),
            "gateway": "chargebee",
            "gateway_account_id": GATEWAY_ACCOUNT,
            "status": "valid",
        },
        "promotional_credits": 0,
        "refundable_credits": 0,
        "excess_payments": 0,
        "unbilled_charges": 0,
        "preferred_currency_code": "USD",
    }


def _payment_source(state: SubscriptionState, now: float) -> dict[str, Any]:
    return {
        "id": state.payment_method,
        "updated_at": int(now),
        "resource_version": _version(state),
        "deleted": False,
        "object": "payment_source",
        "customer_id": state.customer_id,
        "type": "card",
        "reference_id": _reference(state),
        "status": "valid",
        "gateway": "chargebee",
        "gateway_account_id": GATEWAY_ACCOUNT,
        "created_at": int(now),
        "issuing_country": "US",
        "card": {
            "first_name": "Sandbox",
            "last_name": "Customer",
            "iin": "424242",
            "last4": "4242",
            "brand": "visa",
            "funding_type": "credit",
            "expiry_month": 12,
            "expiry_year": 2030,
            "masked_number": "************4242",
            "object": "card",
        },
    }


def _reference(state: SubscriptionState) -> str:
    """The gateway's token for the payment source (``tok_...``)."""
    return "tok_" + state.payment_method.removeprefix("pm_")


WEBHOOKS = TwinWebhooks(
    secret=WEBHOOK_SECRET,
    env={
        "CHARGEBEE_WEBHOOK_USERNAME": WEBHOOK_USERNAME,
        "CHARGEBEE_WEBHOOK_PASSWORD": WEBHOOK_PASSWORD,
    },
    sign=webhook_headers,
    events=webhook_events,
    changes=frozenset(EVENT_TYPES),
    action_changes={
        # The portal's default: cancel at the end of the term.
        "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": Change.PAYMENT_METHOD_UPDATED,
        "update_subscription": Change.SUBSCRIPTION_PLAN_CHANGED,
    },
    plans=tuple(PLANS),
    payment_method_id=lambda now: f"pm___test__{base62(16)}",
)


TWIN = Twin(
    name="chargebee",
    title="Chargebee",
    description=(
        "Chargebee: site-scoped, form-encoded portal sessions with logout and an"
        " edit-subscription deep link."
    ),
    routes=(
        ApiRoute("POST", f"/chargebee/{{site}}{API}", create),
        ApiRoute("GET", f"/chargebee/{{site}}{API}/{{session_id}}", retrieve),
        ApiRoute("POST", f"/chargebee/{{site}}{API}/{{session_id}}/logout", logout),
        # The same, with the site in the Host header: how the official SDK's URLs arrive.
        ApiRoute("POST", API, create),
        ApiRoute("GET", f"{API}/{{session_id}}", retrieve),
        ApiRoute("POST", f"{API}/{{session_id}}/logout", logout),
    ),
    pages=(PageRoute("GET", "/chargebee/{site}/portal/access/{token}", open_link),),
    credentials=CREDENTIALS,
    base_path=f"/chargebee/{SITE}",
    customers={
        "__test__cbSeedCustomer01": ("__test__cbSeedSub0101", "__test__cbSeedSub0102"),
        "__test__cbSeedCustomer02": ("__test__cbSeedSub0201",),
        "__test__cbSeedCustomer03": (),
    },
    customer_id=IdFormat(CUSTOMER_ID, _new_id),
    subscription_id=IdFormat(SUBSCRIPTION_ID, _new_id),
    request_id=lambda now: str(uuid.uuid4()),
    error_reply=error_reply,
    partial=partial,
    status_codes={
        400: "param_wrong_value",
        401: "api_authentication_failed",
        403: "api_authorization_failed",
        404: "resource_not_found",
        409: "idempotency_key_reused",
        429: "api_request_limit_exceeded",
        500: "internal_error",
        503: "internal_temporary_error",
    },
    actions=(
        ("view_invoices", "Billing history"),
        ("update_payment_method", "Payment methods"),
        ("update_subscription", "Edit subscription"),
        ("cancel_subscription", "Cancel subscription"),
    ),
    preopened_labels={"update_subscription": "Edit subscription"},
    url_secrets=(r"/portal/access/(?P<token>[^\"'\s/?#]+)",),
    webhooks=WEBHOOKS,
)
