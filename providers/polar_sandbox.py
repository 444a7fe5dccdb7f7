"""Polar's sandbox twin: ``POST /v1/customer-sessions/`` as Polar's API reference and OpenAPI
schema describe it (/work/shared/provider-docs/polar.md; the server's ``customer_session``
schemas and service; the ``polar-sdk`` models), and the customer portal it opens.
Restated from the docs: it imports nothing from the adapter.

Checks, in order, as Polar's FastAPI app makes them: the bearer token (401
``{"error": "Unauthorized", "detail": ...}`` with ``WWW-Authenticate``), its scope (403
``{"error": "NotPermitted", "detail": "Missing required scope: ..."}``: the token lacks
``customer_sessions:write``), the body against the union of Polar's two create schemas (422
with FastAPI's list ``{"detail": [{"loc", "msg", "type", "input"}]}``; a failing union
reports every member's errors, each ``loc`` tagged with the member's schema name, as
pydantic does), then the customer: unknown -> 422 ``["body", "customer_id"]`` (or
``external_customer_id``) "Customer does not exist.", an external id held by customers in
two organizations the token reaches -> 409 ``{"error": "AmbiguousExternalCustomerID"}``.
``Polar-Organization`` narrows the lookup to one organization. Answers 201 with Polar's
``CustomerSession`` (``customer`` the ``CustomerIndividual`` object); a session lives one
hour. No idempotency key: every create mints a new session.

Wire shape::

    POST /v1/customer-sessions/            Authorization: Bearer polar_oat_...
    {"customer_id": "<uuid4>"} | {"external_customer_id": "<app id>"}   (or the older alias
      + "return_url": "https://..."                                    customer_external_id)
    201 {"id", "created_at", "modified_at", "token": "polar_cst_...", "expires_at",
         "return_url", "customer_portal_url", "customer_id", "customer": {...}}

The portal URL, on the sandbox's origin as Polar's is on its web app's:
``{sandbox}/polar/{org_slug}/portal?customer_session_token=polar_cst_...&email=<urlencoded>``.
It carries the customer's e-mail address: personal data, like the token a credential.
Every seeded address is on a reserved example domain.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

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
    bearer_token,
    token,
    utc,
)

from .polar_twin_webhooks import twin_webhooks

PATH = "/v1/customer-sessions/"
#: Polar's customer sessions live one hour.
TTL = 60 * 60
SCOPE = "customer_sessions:write"
TOKEN_PREFIX = "polar_cst_"  # noqa: S105 -- the prefix of the tokens it mints, not one
#: Polar types ``customer_id`` as pydantic's UUID4; the ids it hands out are lowercase.
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
#: pydantic's HttpUrl: at most 2083 characters, http or https.
URL_MAX = 2083
CREDENTIALS = {
    "valid": {"access_token": "polar_oat_portalkit_sandbox_valid"},
    "wrong": {"access_token": "polar_oat_portalkit_sandbox_wrong"},
    "no_scope": {"access_token": "polar_oat_portalkit_sandbox_readonly"},
}
_SCOPES = {
    CREDENTIALS["valid"]["access_token"]: ("customers:read", SCOPE),
    CREDENTIALS["no_scope"]["access_token"]: ("customers:read", "orders:read"),
}
#: Polar's two create schemas, in the order of its union (the first wins when both fit).
_BY_ID = "CustomerSessionCustomerIDCreate"
_BY_EXTERNAL_ID = "CustomerSessionCustomerExternalIDCreate"
_EXTERNAL_ID_FIELDS = ("external_customer_id", "customer_external_id")  # the field, its alias


@attrs.frozen
class Organization:
    id: str
    slug: str


#: The sandbox token reaches both organizations (see docs/providers/polar.md, Sandbox): the
#: second exists so that one external id can name two customers, Polar's 409.
MAIN = Organization("1b9a0c6e-2f3d-4e5a-9b8c-7d6e5f4a3b21", "portalkit-sandbox")
OTHER = Organization("6c5d4e3f-2a1b-4c0d-8e9f-a0b1c2d3e4f5", "portalkit-sandbox-eu")
ORGANIZATIONS = (MAIN, OTHER)


@attrs.frozen
class Customer:
    id: str
    external_id: str | None
    email: str
    name: str | None
    organization: Organization
    created_at: str = "2026-01-05T09:30:00.000000Z"


#: The seeded customers: the first three by convention (two subscriptions, one, none); the
#: last two share the external id ``usr_shared`` in two organizations (the 409).
SEEDS: tuple[tuple[Customer, tuple[str, ...]], ...] = (
    (
        Customer(
            "4f1d2c3b-5a69-4e78-8f90-a1b2c3d4e501",
            "usr_alice",
            "alice@example.com",
            "Alice Example",
            MAIN,
        ),
        ("7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c01", "7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c02"),
    ),
    (
        Customer(
            "4f1d2c3b-5a69-4e78-8f90-a1b2c3d4e502",
            "usr_bob",
            "bob@example.org",
            "Bob Example",
            MAIN,
        ),
        ("7a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c03",),
    ),
    (
        Customer(
            "4f1d2c3b-5a69-4e78-8f90-a1b2c3d4e503",
            "usr_carol",
            "carol+billing@example.com",
            None,
            MAIN,
        ),
        (),
    ),
    (
        Customer(
            "4f1d2c3b-5a69-4e78-8f90-a1b2c3d4e504",
            "usr_shared",
            "dana@example.com",
            "Dana Example",
            MAIN,
        ),
        (),
    ),
    (
        Customer(
            "4f1d2c3b-5a69-4e78-8f90-a1b2c3d4e505",
            "usr_shared",
            "erin@example.org",
            "Erin Example",
            OTHER,
        ),
        (),
    ),
)
_SEEDED = {customer.id: customer for customer, _ in SEEDS}


def customer_record(customer_id: str) -> Customer:
    """A seeded customer, or one added to the sandbox (``Sandbox.add_customer``): no external
    id, an address on a reserved domain derived from its id, the main organization."""
    found = _SEEDED.get(customer_id)
    if found is not None:
        return found
    return Customer(customer_id, None, f"customer-{customer_id[:8]}@example.com", None, MAIN)


class ValidationFailed(Invalid):
    """A 422 with FastAPI's validation list (``items``: Polar's ``ValidationError``s)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__(422, str(items[0]["type"]), str(items[0]["msg"]))
        self.items = items


def _item(loc: list[Any], type_: str, msg: str, input_: Any, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": type_, "loc": loc, "msg": msg, "input": input_}
    if ctx:
        item["ctx"] = ctx
    return item


# -- the API route ---------------------------------------------------------------------------


def create(call: Call) -> Reply:
    _authenticate(call)
    body = _body(call.body)
    schema, value = _validate(body)
    return_url = body.get("return_url")
    organizations = _organizations(call)
    if schema == _BY_ID:
        customers = [
            customer_record(cid)
            for cid in call.store.customers()
            if cid == value and customer_record(cid).organization in organizations
        ]
        field = "customer_id"
    else:
        customers = [
            record
            for record in map(customer_record, call.store.customers())
            if record.external_id == value and record.organization in organizations
        ]
        field = "external_customer_id"  # as Polar names it, even for the alias
    if not customers:
        raise ValidationFailed(
            [_item(["body", field], "value_error", "Customer does not exist.", value)]
        )
    if len(customers) > 1:
        raise Invalid(
            409,
            "AmbiguousExternalCustomerID",
            "The external customer ID matches customers in several organizations."
            " Set the Polar-Organization header to choose one.",
        )
    return _mint(call, customers[0], return_url if isinstance(return_url, str) else None)


def _authenticate(call: Call) -> None:
    presented = bearer_token(call.headers)
    if not presented or presented not in _SCOPES:
        raise Invalid(401, "Unauthorized", "Unauthorized")
    scopes = _SCOPES[presented]
    if SCOPE not in scopes:
        raise Invalid(
            403,
            "NotPermitted",
            f"Missing required scope: have={','.join(scopes)} requires={SCOPE},web:write",
        )


def _body(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        raise ValidationFailed(
            [_item(["body", 0], "json_invalid", "JSON decode error", {}, error=str(exc))]
        ) from None
    if parsed is None:
        raise ValidationFailed([_item(["body"], "missing", "Field required", None)])
    if not isinstance(parsed, dict):
        raise ValidationFailed(
            [
                _item(
                    ["body", schema],
                    "model_attributes_type",
                    "Input should be a valid dictionary or object to extract fields from",
                    parsed,
                )
                for schema in (_BY_ID, _BY_EXTERNAL_ID)
            ]
        )
    return parsed


def _validate(body: dict[str, Any]) -> tuple[str, str]:
    """Which of Polar's two schemas the body fits, and the customer value it carries: the
    first member that validates wins; when neither does, both members' errors."""
    by_id = _customer_id_errors(body) + _return_url_errors(body, _BY_ID)
    if not by_id:
        return _BY_ID, str(body["customer_id"])
    by_external = _external_id_errors(body) + _return_url_errors(body, _BY_EXTERNAL_ID)
    if not by_external:
        name = next(name for name in _EXTERNAL_ID_FIELDS if name in body)
        return _BY_EXTERNAL_ID, str(body[name])
    raise ValidationFailed(by_id + by_external)


def _customer_id_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    loc = ["body", _BY_ID, "customer_id"]
    if "customer_id" not in body:
        return [_item(loc, "missing", "Field required", body)]
    value = body["customer_id"]
    if not isinstance(value, str):
        return [
            _item(loc, "uuid_type", "UUID input should be a string, bytes or UUID object", value)
        ]
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return [_item(loc, "uuid_parsing", "Input should be a valid UUID", value)]
    if parsed.version != 4:
        return [_item(loc, "uuid_version", "UUID version 4 expected", value, expected_version=4)]
    return []


def _external_id_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    name = next((name for name in _EXTERNAL_ID_FIELDS if name in body), None)
    if name is None:
        return [
            _item(
                ["body", _BY_EXTERNAL_ID, "external_customer_id"], "missing", "Field required", body
            )
        ]
    value = body[name]
    if not isinstance(value, str):
        return [
            _item(
                ["body", _BY_EXTERNAL_ID, name],
                "string_type",
                "Input should be a valid string",
                value,
            )
        ]
    return []


def _return_url_errors(body: dict[str, Any], schema: str) -> list[dict[str, Any]]:
    value = body.get("return_url")
    if value is None:
        return []
    loc = ["body", schema, "return_url"]
    if not isinstance(value, str):
        return [_item(loc, "url_type", "URL input should be a string or URL", value)]
    if len(value) > URL_MAX:
        return [
            _item(
                loc,
                "url_too_long",
                f"URL should have at most {URL_MAX} characters",
                value,
                max_length=URL_MAX,
            )
        ]
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or not parts.scheme or not host or any(ch.isspace() for ch in value):
        return [_item(loc, "url_parsing", "Input should be a valid URL", value)]
    if parts.scheme not in ("http", "https"):
        return [
            _item(
                loc,
                "url_scheme",
                "URL scheme should be 'http' or 'https'",
                value,
                expected_schemes="'http' or 'https'",
            )
        ]
    return []


def _organizations(call: Call) -> tuple[Organization, ...]:
    """The organizations the lookup searches: all the token reaches, or the one
    ``Polar-Organization`` names (none, for an id the token does not reach)."""
    chosen = call.headers.get("polar-organization")
    if chosen is None:
        return ORGANIZATIONS
    return tuple(org for org in ORGANIZATIONS if org.id == chosen.strip().lower())


def _iso(seconds: float) -> str:
    """Polar's timestamps: microseconds, UTC, ``Z``."""
    return utc(seconds).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mint(call: Call, customer: Customer, return_url: str | None) -> Reply:
    created = call.now
    session_id = str(uuid.uuid4())
    secret = f"{TOKEN_PREFIX}{token()}"
    url = (
        f"{call.base_url}/polar/{customer.organization.slug}/portal"
        f"?customer_session_token={secret}&email={quote(customer.email, safe='')}"
    )
    call.store.add_session(
        Session(
            vendor="polar",
            id=session_id,
            customer_id=customer.id,
            return_url=return_url,
            configuration=None,
            subscription_ids=(),
            locale=None,
            account_id=customer.organization.id,
            idempotency_key=None,
            created_at=utc(created),
            expires_at=utc(created + TTL),
            used=False,
            url=url,
            token=secret,
            # The page finds a session by its token's hash, as Polar stores only the hash.
            link_id=_token_hash(secret),
            extra={"organization_slug": customer.organization.slug},
        )
    )
    return Reply(
        201,
        {
            "created_at": _iso(created),
            "modified_at": None,
            "id": session_id,
            "token": secret,
            "expires_at": _iso(created + TTL),
            "return_url": return_url,
            "customer_portal_url": url,
            "customer_id": customer.id,
            "customer": _customer_object(customer),
        },
    )


def _customer_object(customer: Customer) -> dict[str, Any]:
    """Polar's ``CustomerIndividual``, every field the schema requires."""
    return {
        "id": customer.id,
        "created_at": customer.created_at,
        "modified_at": None,
        "metadata": {},
        "external_id": customer.external_id,
        "email": customer.email,
        "email_verified": True,
        "type": "individual",
        "name": customer.name,
        "billing_name": None,
        "billing_address": None,
        "tax_id": None,
        "locale": None,
        "organization_id": customer.organization.id,
        "default_payment_method_id": None,
        "deleted_at": None,
        "first_user_event_at": None,
        "avatar_url": None,
    }


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- errors ----------------------------------------------------------------------------------

#: Polar's error names (``PolarError`` subclasses, the SDK's error models) per status.
STATUS_CODES: Mapping[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "NotPermitted",
    404: "ResourceNotFound",
    409: "AmbiguousExternalCustomerID",
    422: "value_error",
    429: "TooManyRequests",
    500: "InternalServerError",
}


def error_reply(call: Call, exc: Invalid) -> Reply:
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="polar"'
    if isinstance(exc, ValidationFailed):
        return Reply(422, {"detail": exc.items}, headers)
    if exc.status == 422:  # a scripted 422: one item at the body, in FastAPI's list
        return Reply(422, {"detail": [_item(["body"], exc.code, exc.message, None)]}, headers)
    return Reply(exc.status, {"error": exc.code, "detail": exc.message}, headers)


def partial(call: Call) -> Reply:
    return Reply(201, {"id": str(uuid.uuid4()), "modified_at": None})


# -- the hosted portal -------------------------------------------------------------------------


async def open_portal(request: Request, pages: Pages) -> Response:
    """``GET /polar/{org_slug}/portal?customer_session_token=...&email=...``: the token names
    the session (single use); the organization in the path must be the session's."""
    secret = request.query_params.get("customer_session_token", "")
    session = pages.store.session_by_link(_token_hash(secret)) if secret else None
    if session is None or session.extra.get("organization_slug") != request.path_params["org"]:
        return pages.refused("missing")
    return pages.open(request, session.id, secret)


TWIN = Twin(
    name="polar",
    title="Polar",
    description="Polar: customer sessions by Polar's customer id or the app's external id.",
    routes=(ApiRoute("POST", PATH, create),),
    pages=(PageRoute("GET", "/polar/{org}/portal", open_portal),),
    credentials=CREDENTIALS,
    environment={"environment": "sandbox"},
    customers={customer.id: subscriptions for customer, subscriptions in SEEDS},
    customer_id=IdFormat(UUID4, lambda now: str(uuid.uuid4())),
    subscription_id=IdFormat(UUID4, lambda now: str(uuid.uuid4())),
    request_id=lambda now: str(uuid.uuid4()),
    error_reply=error_reply,
    partial=partial,
    status_codes=STATUS_CODES,
    actions=(
        ("view_invoices", "Orders and invoices"),
        ("update_payment_method", "Payment methods"),
        ("update_subscription", "Change plan"),
        ("cancel_subscription", "Cancel subscription"),
    ),
    # The token rides in the query. The customer's e-mail address next to it is personal
    # data, not a credential: the recording tools scrub every e-mail address, plain or
    # percent-encoded (docs/cassettes.md).
    url_secrets=(r"[?&]customer_session_token=(?P<token>[^&#\s\"']+)",),
    # -- webhooks -- (Polar's events and signature: polar_twin_webhooks.py)
    webhooks=twin_webhooks(lambda customer_id: _customer_object(customer_record(customer_id))),
)
