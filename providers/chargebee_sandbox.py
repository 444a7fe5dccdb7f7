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
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import attrs
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
)
