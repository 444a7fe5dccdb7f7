"""Polar: ``POST /v1/customer-sessions/``.

Vendor docs: Polar API reference -> Customer Sessions -> Create Customer Session; the
official ``polar-sdk`` (generated from Polar's OpenAPI document) is the reference client.
What portalkit decided where those are silent is in docs/providers/polar.md.

Wire shape::

    POST {base_url}/v1/customer-sessions/                   the trailing slash, as the SDK
    Authorization: Bearer <organization access token>       polar_oat_...
    Polar-Version: 2026-10                                  pinned, as the SDK's client sends it
    Polar-Organization: <uuid>                              only with organization_id=
    {"customer_id": "<uuid4>"}                              Polar's own id for the customer, or
    {"external_customer_id": "<the app's own id>"}          CustomerIdKind.EXTERNAL
      + "return_url": "https://..."                         optional: a back button in the portal

    201 {"id": "<uuid>", "created_at": "...", "modified_at": null, "token": "polar_cst_...",
         "expires_at": "...", "return_url": "..." | null,
         "customer_portal_url": "https://polar.sh/<org>/portal?customer_session_token=...&email=...",
         "customer_id": "<uuid>", "customer": {"id": "<uuid>", "external_id": ..., "email": ...}}

    422 {"detail": [{"loc": ["body", "customer_id"], "msg": "Customer does not exist.",
                     "type": "value_error", "input": ...}]}      an unknown customer
    409 {"error": "AmbiguousExternalCustomerID", "detail": "..."}  an external id, several customers

The portal URL carries the customer's e-mail address next to the session token: it is a
credential and personal data, and the answer's ``customer`` object (kept in ``link.raw``)
holds the e-mail too. Neither is ever put in a message, a log or a repr. Polar has no
idempotency key: a retried create mints a second session, which is harmless (see
docs/providers/polar.md, Retries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, cast

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import CustomerIdKind, Feature, PortalLink, PortalRequest
from portalkit._wire import (
    USER_AGENT,
    Reply,
    json_body,
    merge_options,
    request_id_from_headers,
    strip_slash,
    text_or_none,
    wire_converter,
)
from portalkit.errors import (
    AmbiguousCustomer,
    CustomerNotFound,
    InvalidRequest,
    InvalidResponse,
    PortalError,
)

BASE_URLS = {
    "production": "https://api.polar.sh",
    "sandbox": "https://sandbox-api.polar.sh",
}
PATH = "/v1/customer-sessions/"
#: Polar's schema types customer_id as pydantic's UUID4. Lowercase only: the form Polar
#: gives out and echoes, so the link's customer_id compares equal to the request's.
CUSTOMER_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_UUID4_RULE = "a Polar customer id: a lowercase UUID4 (xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx)"
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
# "Customer does not exist." is how Polar answers an unknown customer (a 422, not a 404).
_NOT_FOUND_MESSAGE = "customer does not exist"
# Polar's body fields that name the customer (the last an older alias), and the portalkit
# request field each comes from.
_CUSTOMER_FIELDS = frozenset({"customer_id", "external_customer_id", "customer_external_id"})
_FIELD_NAMES = {name: "customer_id" for name in _CUSTOMER_FIELDS} | {"return_url": "return_url"}
# Escape-hatch fields may add to the body (member_id, external_member_id for team
# customers) but never name the customer a second way.
_RESERVED_OPTIONS = _CUSTOMER_FIELDS | {"return_url"}
# A vendor's message used as an error's rule: printable ASCII only, as vendor_error keeps it.
_MESSAGE_SAFE = re.compile(r"[^\x20-\x7e]")


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Customer:
    # Only what the adapter checks; the rest (e-mail included) stays in link.raw.
    id: str
    external_id: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Session:
    id: str
    created_at: str
    expires_at: str
    customer_portal_url: str
    customer_id: str
    customer: _Customer
    return_url: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _FieldError:
    """One item of FastAPI's validation list. ``input`` (the value sent) is not read: it
    may be the customer's id or the return URL, and it never reaches a message."""

    loc: list[Any]
    msg: str
    type: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Error:
    """Polar's error body: ``{"error": <name>, "detail": <message>}``, or FastAPI's
    validation answer, whose ``detail`` is a list of field errors."""

    error: str | None = None
    type: str | None = None
    detail: Any = None


_converter = wire_converter()


def _base_url(instance: Polar, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


def _environment(instance: Polar, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in BASE_URLS:
        raise InvalidRequest.local(
            "environment", "must be 'production' or 'sandbox'", provider="polar"
        )


def _access_token(instance: Polar, attribute: attrs.Attribute[str], value: str) -> None:
    # A credential goes into a header: printable ASCII, no spaces (check.secret has already
    # refused control characters, non-ASCII and surrounding whitespace).
    if not _HEADER_SAFE.fullmatch(value):
        raise InvalidRequest.local(
            "access_token",
            "must be printable ASCII without spaces or control characters",
            provider="polar",
        )


def _organization_id(
    instance: Polar, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None and not (isinstance(value, str) and CUSTOMER_ID.fullmatch(value)):
        raise InvalidRequest.local(
            "organization_id", "must be a lowercase UUID4 (Polar's organization id)", "polar"
        )


@attrs.frozen
class Polar:
    """Polar adapter. ``Polar(access_token="polar_oat_...", environment="sandbox")``
    (``"production"`` by default); ``base_url`` overrides the environment's host.
    ``organization_id`` is sent as ``Polar-Organization``, for a token that reaches more
    than one organization (an organization access token needs none)."""

    name: ClassVar[str] = "polar"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.RETURN_URL, Feature.EXTERNAL_CUSTOMER_ID, Feature.PROVIDER_OPTIONS}
    )
    #: The hosts the portal links live on: Polar's web app, per environment.
    portal_hosts: ClassVar[tuple[str, ...]] = ("polar.sh", "sandbox.polar.sh")
    #: The API version sent as ``Polar-Version``, as the SDK's ``polar.v2026_10`` client
    #: sends it: the newest version polar-sdk 1.x ships whose date has come (its 2027-01
    #: client reads and writes customer sessions the same way).
    api_version: ClassVar[str] = "2026-10"

    access_token: str = attrs.field(repr=False, validator=[check.secret, _access_token])
    environment: Literal["production", "sandbox"] = attrs.field(
        default="production", validator=_environment
    )
    base_url: str | None = attrs.field(
        default=None,
        converter=attrs.converters.optional(strip_slash),
        validator=_base_url,
    )
    organization_id: str | None = attrs.field(default=None, validator=_organization_id)
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)

    @classmethod
    def from_env(cls, env: ProviderEnv) -> Polar:
        """``POLAR_ACCESS_TOKEN`` (required), ``POLAR_ENVIRONMENT`` (``production``, the
        default, or ``sandbox``), ``POLAR_BASE_URL`` (optional; overrides the environment's
        host), ``POLAR_ORGANIZATION_ID`` (optional)."""
        environment = env.choice("environment", BASE_URLS, default="production")
        return cls(
            access_token=env.require("access_token"),
            environment=cast(Literal["production", "sandbox"], environment),  # checked above
            base_url=env.get("base_url"),
            organization_id=env.get("organization_id"),
        )

    @property
    def api_root(self) -> str:
        return self.base_url or BASE_URLS[self.environment]

    def build_request(self, request: PortalRequest) -> httpx.Request:
        payload: dict[str, Any]
        if request.customer_id_kind is CustomerIdKind.EXTERNAL:
            # The app's own id: any string to Polar; portalkit's identifier rules already hold.
            payload = {"external_customer_id": request.customer_id}
        else:
            check.require_pattern(
                "customer_id", request.customer_id, CUSTOMER_ID, _UUID4_RULE, self.name
            )
            payload = {"customer_id": request.customer_id}
        if request.return_url is not None:
            payload["return_url"] = request.return_url
        options = request.options_for(self.name)
        if options:
            for key in options:
                if key in _RESERVED_OPTIONS:
                    raise InvalidRequest.local(
                        f"provider_options[{self.name!r}].{key}",
                        "must not name the customer or the return URL; use the PortalRequest"
                        " fields instead",
                        provider=self.name,
                    )
            merge_options(payload, options, self.name)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {self.access_token}",
            "Polar-Version": self.api_version,
        }
        if self.organization_id is not None:
            headers["Polar-Organization"] = self.organization_id
        return httpx.Request(
            "POST", f"{self.api_root}{PATH}", headers=headers, content=json_body(payload)
        )

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        body = reply.json_object()
        session = reply.structure(_converter, body, _Session)
        # The invalid answers name the fields, never their values: ids and personal data.
        if session.customer.id != session.customer_id:
            raise reply.invalid("a customer object that is not the session's customer")
        if (
            request.customer_id_kind is CustomerIdKind.EXTERNAL
            and session.customer.external_id != request.customer_id
        ):
            # The core's customer binding compares a link with the vendor id the request
            # named (PortalRequest.vendor_customer_id); an external id names none, so the
            # binding is checked here, against Polar's echo of the app's id.
            raise reply.invalid(
                "a session for a customer whose external_id is not the one requested"
            )
        return PortalLink(
            provider=self.name,
            session_id=session.id,
            customer_id=session.customer_id,
            url=session.customer_portal_url,
            expires_at=reply.timestamp(session.expires_at, "expires_at"),
            created_at=reply.timestamp(session.created_at, "created_at"),
            return_url=session.return_url,
            request_id=reply.request_id,
            raw=body,
        )

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        raw = reply.error_json()
        if isinstance(raw.get("detail"), list) and response.status_code == 422:
            return self._validation_error(reply, raw["detail"])
        if not _is_envelope(raw):
            # Not Polar's {"error": <name>, "detail": ...}: a proxy's page, or FastAPI's own
            # {"detail": "Not Found"} for a path Polar's API does not have (a wrong base URL).
            return reply.unexpected_endpoint(message=text_or_none(raw.get("detail")))
        body = reply.error_body(_converter, _Error)
        error = reply.error(code=body.error or body.type, message=text_or_none(body.detail))
        if response.status_code == 409:
            # The one 409 Polar documents for this endpoint; Polar has no idempotency keys,
            # so it is never an IdempotencyConflict.
            return _as(AmbiguousCustomer, error)
        return error

    def _validation_error(self, reply: Reply, detail: list[Any]) -> PortalError:
        items: list[_FieldError] = []
        for item in detail:  # one malformed item does not hide the others
            if not (isinstance(item, dict) and isinstance(item.get("loc"), list)):
                continue  # (cattrs would read a string loc as a list of its characters)
            try:
                items.append(reply.structure(_converter, item, _FieldError))
            except InvalidResponse:
                continue
        not_found = [
            item
            for item in items
            if _polar_field(item.loc) in _CUSTOMER_FIELDS
            and item.msg.strip().lower().startswith(_NOT_FOUND_MESSAGE)
        ]
        # For a union body each member reports; a member's "missing" for the way of naming
        # the customer the request did not use hides the real problem: prefer the others.
        present = [item for item in items if item.type != "missing"]
        ranked = not_found or present or items
        first: _FieldError | None = ranked[0] if ranked else None
        # A union's members often report the same problem: each once, in order.
        lines = dict.fromkeys(f"{_polar_field(item.loc) or 'body'}: {item.msg}" for item in items)
        message = "; ".join(lines)
        error = reply.error(code=first.type if first is not None else None, message=message)
        if not_found:
            return _as(CustomerNotFound, error)
        if isinstance(error, InvalidRequest) and first is not None:
            field = _polar_field(first.loc)
            error.field = _FIELD_NAMES.get(field, field) or None
            error.rule = _MESSAGE_SAFE.sub("?", first.msg)[:200]
        return error


def _is_envelope(body: Mapping[str, Any]) -> bool:
    """Polar's own error answer: its error's name (``error``, or the older ``type``) with
    its ``detail``."""
    named = text_or_none(body.get("error")) or text_or_none(body.get("type"))
    return named is not None and "detail" in body


def _as(cls: type[PortalError], error: PortalError) -> PortalError:
    """``error`` as a ``cls``, with the same message and context."""
    if type(error) is cls:
        return error
    return cls(
        error.message,
        provider=error.provider,
        status=error.status,
        code=error.code,
        vendor_message=error.vendor_message,
        request_id=error.request_id,
    )


def _request_id(response: httpx.Response) -> str | None:
    # ASSUMPTION: Polar documents no request-id header; X-Request-Id is read when present.
    return request_id_from_headers(response, "X-Request-Id")


# pydantic tags an error in one member of a union body with the member's schema name
# (["body", "CustomerSessionCustomerIDCreate", "return_url"]); Polar's fields are snake_case.
_SCHEMA_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


def _polar_field(loc: list[Any]) -> str:
    """``customer_id`` for ``["body", "customer_id"]`` (and for the union-tagged
    ``["body", "CustomerSessionCustomerIDCreate", "customer_id"]``); ``items[0].id`` for
    deeper places."""
    parts = loc[1:] if loc and loc[0] == "body" else loc
    if len(parts) > 1 and isinstance(parts[0], str) and _SCHEMA_NAME.fullmatch(parts[0]):
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        elif isinstance(part, str):
            text += f".{part}" if text else part
    return text
