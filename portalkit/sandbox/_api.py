"""What the three vendors' create routes share: the request as a handler sees it (``Call``),
the answer it gives (``Reply``), and the small checks every vendor makes (JSON object body,
return URL, idempotency).

Each vendor module implements ``VendorApi``: pure functions from a ``Call`` and the store to
a ``Reply``, with no I/O, so the wire-level faults stay in one place (``_inject.py``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs
from starlette.datastructures import Headers
from starlette.responses import Response

from .._validation import is_loopback_host
from ._store import Replay, Store, utc

JSON = "application/json"


@attrs.frozen
class Call:
    """One request to a create route, read in full."""

    vendor: str
    request_id: str
    method: str
    path: str
    path_params: Mapping[str, str]
    headers: Headers = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    #: Where the request arrived (``http://127.0.0.1:54321``): portal URLs point here.
    base_url: str
    #: Sandbox time when it arrived.
    now: float


@attrs.frozen
class Reply:
    status: int
    payload: Mapping[str, Any]
    headers: Mapping[str, str] = attrs.field(factory=dict)


class VendorApi(Protocol):
    """One vendor's create route."""

    @property
    def name(self) -> str:
        """The vendor's name, as ``Sandbox`` methods take it."""
        ...

    @property
    def path(self) -> str:
        """The route, in Starlette syntax: the vendor's real path."""
        ...

    def request_id(self, now: float) -> str:
        """A request id in the vendor's format."""
        ...

    def create(self, call: Call, store: Store) -> Reply:
        """Authenticate, validate and mint a session, exactly as the vendor documents."""
        ...

    def error(self, call: Call, status: int, message: str | None = None) -> Reply:
        """The vendor's error envelope for ``status`` (used by ``Fault.status``)."""
        ...

    def partial(self, call: Call) -> Reply:
        """A 2xx body in the vendor's shape that lacks its required fields."""
        ...


class Invalid(Exception):
    """A request the vendor refuses: raised by checks, turned into a Reply by the vendor.
    ``field`` names the offending field; ``details`` lists (field, message) pairs when
    several fields are wrong at once (Paddle reports them all)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details


#: Error codes for statuses a fault can script, when a vendor has no code of its own.
GENERIC_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "request_timeout",
    409: "conflict",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def generic_code(status: int, overrides: Mapping[int, str]) -> str:
    return overrides.get(status) or GENERIC_CODES.get(status) or f"http_{status}"


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; "" when the header is
    there but is not a bearer token; None when it is absent."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(reply: Reply, call: Call) -> Response:
    headers = {"X-Request-Id": call.request_id, **reply.headers}
    return Response(json_bytes(reply.payload), reply.status, headers, media_type=JSON)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}``. Raises ValueError otherwise."""
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except RecursionError:  # deeper than Python's stack: a bad body, not a crash
        raise ValueError("the body is JSON nested too deeply") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"the body is a JSON {type(parsed).__name__}, not an object")
    return parsed


def return_url_problem(value: object) -> str | None:
    """Why ``value`` is not an acceptable return URL, or None. https, or plain http to a
    loopback host: the sandbox is a test-mode vendor, and local apps run on localhost."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > 2048:
        return "must be at most 2048 characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return "must be an absolute URL"
    if not host or any(ch.isspace() or ord(ch) < 0x20 for ch in value):
        return "must be an absolute URL"
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host)):
        return None
    return "must be an https:// URL (http is accepted for localhost only)"


def fingerprint(*parts: object) -> str:
    """What makes two requests "the same" for idempotency: the parsed body and the
    headers that change the result, independent of key order and whitespace."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    store: Store,
    call: Call,
    key: str | None,
    print_: str,
    mint: Callable[[], Reply],
    conflict: Callable[[], Reply],
) -> Reply:
    """Answer a replayed key with the stored answer (same body) or ``conflict`` (another
    body); otherwise mint and remember a successful answer. Errors are not remembered, so a
    retry after a 4xx or 5xx is tried afresh."""
    if key is None:
        return mint()
    stored = store.replay(call.vendor, key)
    if stored is not None:
        if stored.fingerprint != print_:
            return conflict()
        return Reply(stored.status, json.loads(stored.body), {"Idempotent-Replayed": "true"})
    reply = mint()
    if 200 <= reply.status < 300:
        body = json_bytes(reply.payload)
        store.remember(call.vendor, key, Replay(print_, reply.status, body, call.now))
    return reply


def iso_millis(seconds: float) -> str:
    """``2026-05-12T10:42:00.000Z`` (Plugipay's style)."""
    moment = utc(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(seconds: float) -> str:
    """``2026-05-06T13:34:00Z`` (Paylera's and Paddle's style)."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
