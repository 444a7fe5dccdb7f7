"""Plugipay: ``POST /v1/portal-sessions``.

Vendor docs: Plugipay REST API -> Portal sessions (the contract; where the Go and Python SDK
pages disagree with it, the REST page wins), Go SDK and Python SDK -> Portal sessions.
What portalkit decided where those pages are silent is in docs/providers/plugipay.md.

Wire shape::

    POST {base_url}/v1/portal-sessions
    Idempotency-Key: <key>                     every create is keyed
    X-Plugipay-On-Behalf-Of: acc_...           only for platforms acting for a merchant
    X-Plugipay-Key-Id / -Timestamp / -Signature   HMAC request signing (ASSUMED scheme)
    {"customerId": "cus_<ULID>", "returnUrl": "https://..."}     strict: no other key, ever

    201 {"data": {"id": "ps_...", "arn", "accountId", "customerId", "url": ".../ps_...#t=<token>",
                  "returnUrl", "expiresAt", "createdAt"}}

No per-session configuration, no locale, no deep links: the workspace's portal settings
apply to every session.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import ClassVar

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import Feature, PortalLink, PortalRequest
from portalkit._wire import (
    USER_AGENT,
    Reply,
    camel_case_converter,
    json_body,
    request_id_from_headers,
    strip_slash,
)
from portalkit.errors import (
    AuthenticationFailed,
    CustomerNotFound,
    IdempotencyConflict,
    InvalidRequest,
    PermissionDenied,
    PortalError,
)

#: ASSUMPTION: the docs never name the API host; this is the conventional one.
API_BASE_URL = "https://api.plugipay.com"
PATH = "/v1/portal-sessions"
# cus_ + a 26-character ULID (Crockford base32; accepted in either case).
CUSTOMER_ID = re.compile(r"cus_[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}")
ACCOUNT_ID = re.compile(r"acc_[0-9A-Za-z]{1,64}")

_ERROR_CODES: dict[str, type[PortalError]] = {
    "validation_error": InvalidRequest,  # also spelled VALIDATION_ERROR: matched ignoring case
    "invalid_signature": AuthenticationFailed,
    "invalid_key": AuthenticationFailed,
    "insufficient_scope": PermissionDenied,
    "not_found": CustomerNotFound,
    "idempotency_key_reused": IdempotencyConflict,
}


def sign(secret: str, *, timestamp: str, method: str, path: str, body: bytes) -> str:
    """The request signature. ASSUMPTION: Plugipay documents ``invalid_signature`` but not
    the scheme; this is the conventional HMAC-SHA256 over timestamp, method, path and body
    hash, hex-encoded with a version prefix. The sandbox verifies with this same function."""
    message = "\n".join((timestamp, method.upper(), path, hashlib.sha256(body).hexdigest()))
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return f"v1={digest}"


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class _CreateBody:
    customer_id: str
    return_url: str


@attrs.frozen(repr=False, eq=False, slots=False)
class _Session:
    id: str
    customer_id: str
    url: str
    expires_at: str
    created_at: str
    return_url: str | None = None
    account_id: str | None = None
    arn: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Envelope:
    data: _Session


# ASSUMPTION: the error envelope is {"error": {"code", "message", "requestId"}}; the docs show
# codes and statuses but not the envelope.
@attrs.frozen(repr=False, eq=False, slots=False)
class _Error:
    code: str | None = None
    message: str | None = None
    request_id: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _ErrorEnvelope:
    error: _Error = _Error()


_converter = camel_case_converter()


def _base_url(instance: Plugipay, attribute: attrs.Attribute[str], value: str) -> None:
    check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


@attrs.frozen
class Plugipay:
    """Plugipay adapter. ``Plugipay(key_id=..., key_secret=...)``; platforms minting for a
    merchant use ``.for_merchant("acc_...")`` or ``PortalRequest(on_behalf_of=...)``."""

    name: ClassVar[str] = "plugipay"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.RETURN_URL, Feature.ON_BEHALF_OF, Feature.IDEMPOTENCY_KEY}
    )
    #: Where its portal links live (plugipay.com/portal/<session>); a workspace's custom
    #: domain (billing.yourbrand.com) is added with Portal(custom_portal_hosts=...).
    portal_hosts: ClassVar[tuple[str, ...]] = ("plugipay.com",)

    key_id: str = attrs.field(repr=False, validator=check.secret)
    key_secret: str = attrs.field(repr=False, validator=check.secret)
    base_url: str = attrs.field(default=API_BASE_URL, converter=strip_slash, validator=_base_url)
    on_behalf_of: str | None = None
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)
    #: Seconds since the epoch for the signature timestamp (a parameter so tests can pin it).
    clock: Callable[[], float] = attrs.field(default=time.time, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.on_behalf_of is not None:
            self._check_account(self.on_behalf_of)

    @classmethod
    def from_env(cls, env: ProviderEnv) -> Plugipay:
        """``PLUGIPAY_KEY_ID`` and ``PLUGIPAY_KEY_SECRET`` (required),
        ``PLUGIPAY_ON_BEHALF_OF`` (optional, ``acc_...``), ``PLUGIPAY_BASE_URL`` (optional)."""
        return cls(
            key_id=env.require("key_id"),
            key_secret=env.require("key_secret"),
            base_url=env.get("base_url", default=API_BASE_URL),
            on_behalf_of=env.get("on_behalf_of"),
        )

    def for_merchant(self, account_id: str) -> Plugipay:
        """A copy that mints every session for merchant account ``account_id``."""
        return attrs.evolve(self, on_behalf_of=account_id)

    def _check_account(self, account_id: str) -> None:
        check.identifier("on_behalf_of", account_id)
        check.require_pattern("on_behalf_of", account_id, ACCOUNT_ID, "acc_<id>", self.name)

    def build_request(self, request: PortalRequest) -> httpx.Request:
        check.require_pattern(
            "customer_id",
            request.customer_id,
            CUSTOMER_ID,
            "cus_ followed by a 26-character ULID",
            self.name,
        )
        if request.return_url is None:
            raise InvalidRequest.local("return_url", "is required by plugipay", provider=self.name)
        if request.idempotency_key is None:
            raise InvalidRequest.local(
                "idempotency_key", "is required by plugipay", provider=self.name
            )
        on_behalf_of = request.on_behalf_of or self.on_behalf_of
        if on_behalf_of is not None:
            self._check_account(on_behalf_of)

        body = json_body(
            _converter.unstructure(_CreateBody(request.customer_id, request.return_url))
        )
        url = httpx.URL(self.base_url + PATH)
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": request.idempotency_key,
            "X-Plugipay-Key-Id": self.key_id,
            "X-Plugipay-Timestamp": timestamp,
            "X-Plugipay-Signature": sign(
                self.key_secret, timestamp=timestamp, method="POST", path=url.path, body=body
            ),
        }
        if on_behalf_of is not None:
            headers["X-Plugipay-On-Behalf-Of"] = on_behalf_of
        return httpx.Request("POST", url, headers=headers, content=body)

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        body = reply.json_object()
        session = reply.structure(_converter, body, _Envelope).data
        return PortalLink(
            provider=self.name,
            session_id=session.id,
            customer_id=session.customer_id,
            url=session.url,
            expires_at=reply.timestamp(session.expires_at, "expiresAt"),
            created_at=reply.timestamp(session.created_at, "createdAt"),
            return_url=session.return_url,
            request_id=reply.request_id,
            raw=body,
        )

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        if not reply.has_error_object("code"):  # Plugipay's own answer, or another's
            return reply.unexpected_endpoint()
        error = reply.error_body(_converter, _ErrorEnvelope).error
        return reply.error(
            code=error.code,
            message=error.message,
            request_id=error.request_id,
            overrides=_ERROR_CODES,
        )


def _request_id(response: httpx.Response) -> str | None:
    return request_id_from_headers(response, "X-Request-Id", "Request-Id")
