"""The twin interface: how one vendor plugs its emulation into the sandbox.

A *twin* is a vendor's sandbox emulation — its API routes, hosted portal pages, seeds, id
formats, credentials, error envelope and page text — as one ``Twin`` value. The sandbox's
machinery (server, store, routing, faults, control endpoints, the cookie-authenticated
portal page) names no vendor: it serves every twin registered in the ``portalkit.sandbox``
entry-point group, under the name its adapter has in ``portalkit.providers``::

    [project.entry-points."portalkit.providers"]
    acme = "acme_portalkit:Acme"
    [project.entry-points."portalkit.sandbox"]
    acme = "acme_portalkit.sandbox:TWIN"        # a Twin value (or a function returning one)

A twin is an independent witness: it restates its vendor's contract (paths, limits, id
formats, the signature check) from the vendor's documentation and never imports the adapter
it exists to catch. The built-in twins are examples: ``portalkit/providers/*_sandbox.py``.
docs/twins.md describes every field; docs/adding-a-vendor.md lists the files a vendor needs.

Shape of a twin module::

    def create(call: Call) -> Reply:                  # an API route: pure, no I/O
        ...authenticate (bearer_token), validate (json_object / form_object), raise Invalid...
        call.store.add_session(Session(...))           # what the hosted page will open
        return Reply(201, {...})

    async def open_link(request: Request, pages: Pages) -> Response:   # a hosted page
        return pages.open(request, request.path_params["session_id"])

    TWIN = Twin(name="acme", title="Acme", routes=(ApiRoute("POST", "/v1/portal", create),),
                pages=(PageRoute("GET", "/acme/p/{session_id}", open_link),), ...)

Every helper here is pure or works on the vendor-scoped ``TwinStore`` a ``Call`` carries.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import attrs
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from .._validation import is_loopback_host
from ._store import Consumed, Replay, Session, TwinStore, utc
from ._twin_events import Change, SubscriptionState, TwinWebhooks

if TYPE_CHECKING:
    from ._pages import Pages

__all__ = [
    "KEY_KINDS",
    "ApiRoute",
    "Call",
    "Change",
    "Consumed",
    "IdFormat",
    "Invalid",
    "KeyKind",
    "PageRoute",
    "Pages",
    "Reply",
    "Session",
    "SubscriptionState",
    "Twin",
    "TwinStore",
    "TwinWebhooks",
    "base62",
    "bearer_token",
    "fingerprint",
    "form_object",
    "generic_code",
    "idempotent",
    "iso_millis",
    "iso_seconds",
    "json_object",
    "return_url_problem",
    "token",
    "ulid",
    "utc",
]

#: Which of a twin's credentials: accepted, refused (401), or without the portal scope (403).
KeyKind = Literal["valid", "wrong", "no_scope"]
KEY_KINDS: tuple[KeyKind, ...] = ("valid", "wrong", "no_scope")

# -- what a route handler sees and answers ---------------------------------------------------


@attrs.frozen
class Call:
    """One request to one of a twin's API routes, read in full."""

    #: The twin's name.
    vendor: str
    #: A fresh request id in the vendor's format (``Twin.request_id``); also sent as
    #: ``X-Request-Id``.
    request_id: str
    method: str
    #: The path as received (``/customers/ctm_.../portal-sessions``).
    path: str
    #: The route's path template (``ApiRoute.path``): tells a twin's ``error``/``partial``
    #: which of its routes was called.
    route: str
    path_params: Mapping[str, str]
    #: The query string, parsed (last value wins).
    query: Mapping[str, str]
    headers: Headers = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    #: Where the request arrived (``http://127.0.0.1:54321``): portal URLs point here.
    base_url: str
    #: Sandbox time when it arrived (the real clock plus ``Sandbox.advance``).
    now: float
    #: The real clock when it arrived: check request signatures' timestamps against this, so
    #: a test that advanced sandbox time can still sign a fresh request.
    wall_now: float
    #: This vendor's customers, sessions and idempotency replays.
    store: TwinStore = attrs.field(repr=False, eq=False)


@attrs.frozen
class Reply:
    """A route's answer: a status and a JSON payload (``X-Request-Id`` is added)."""

    status: int
    payload: Mapping[str, Any]
    headers: Mapping[str, str] = attrs.field(factory=dict)


class Invalid(Exception):
    """A request the vendor refuses: raised by checks, turned into a ``Reply`` by the twin's
    own error envelope. ``field`` names the offending field; ``details`` lists (field,
    message) pairs when several fields are wrong at once."""

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


# -- the twin --------------------------------------------------------------------------------

RouteHandler = Callable[[Call], Reply]
PageHandler = Callable[[Request, "Pages"], Awaitable[Response]]


@attrs.frozen
class ApiRoute:
    """One of the vendor's API routes at its real path, in Starlette syntax
    (``/customers/{customer_id}/portal-sessions``). ``handler`` is pure: it reads the
    ``Call``, may add a session to ``call.store``, and returns a ``Reply`` (or raises
    ``Invalid``, which the twin's ``error_reply`` turns into its error envelope)."""

    method: str
    path: str
    handler: RouteHandler

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@attrs.frozen
class PageRoute:
    """A hosted-portal route (a portal link, a token exchange). Its path must start with
    ``/{twin.name}/``; ``/{twin.name}/session`` is the sandbox's own cookie-authenticated
    portal page. ``handler(request, pages)`` is async (it may read the body)."""

    method: str
    path: str
    handler: PageHandler


@attrs.frozen
class IdFormat:
    """An id format: ``pattern`` (full match) is what ``add_customer``/``add_subscription``
    accept and ``new(now)`` makes a fresh valid id (``now``: sandbox time)."""

    pattern: re.Pattern[str]
    new: Callable[[float], str]


def _check_credentials(
    instance: Twin, attribute: attrs.Attribute[Any], value: Mapping[str, Mapping[str, str]]
) -> None:
    if set(value) != set(KEY_KINDS):
        raise ValueError(f"Twin {instance.name!r}: credentials needs exactly {KEY_KINDS}")


def _check_pages(
    instance: Twin, attribute: attrs.Attribute[Any], value: Sequence[PageRoute]
) -> None:
    for page in value:
        if (
            not page.path.startswith(f"/{instance.name}/")
            or page.path == f"/{instance.name}/session"
        ):
            raise ValueError(
                f"Twin {instance.name!r}: page {page.path!r} must be under /{instance.name}/"
                " (and not /{name}/session, which the sandbox serves)"
            )


def _all_actions(session: Session, actions: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(actions)


@attrs.frozen(kw_only=True)
class Twin:
    """One vendor's sandbox emulation. Every field is documented in docs/twins.md."""

    #: The registry name: the same as the adapter's ``portalkit.providers`` entry point.
    name: str
    #: How pages and ``portalkit sandbox`` write the vendor (``"Acme"``).
    title: str
    #: One line for ``portalkit sandbox`` and the docs: what is emulated.
    description: str
    #: The vendor's API routes; scripted faults apply to the next request to any of them.
    routes: tuple[ApiRoute, ...]
    #: The hosted portal's routes (links, token exchanges).
    pages: tuple[PageRoute, ...] = attrs.field(default=(), validator=_check_pages)
    #: The adapter's ``from_env`` fields per kind of key (``{"valid": {"api_key": "..."}}``):
    #: ``Sandbox.credentials``, ``Sandbox.provider`` and the pytest plugin use them.
    #: Keyed by ``KEY_KINDS`` (all three required).
    credentials: Mapping[str, Mapping[str, str]] = attrs.field(validator=_check_credentials)
    #: Other ``from_env`` fields a sandbox adapter needs (``{"environment": "sandbox"}``).
    environment: Mapping[str, str] = attrs.field(factory=dict)
    #: Where under the sandbox's URL the adapter's ``base_url`` points (``""``: the root;
    #: ``"/acme/site-test"`` for a vendor whose host carries a site name).
    base_path: str = ""
    #: The seeded customers and their subscriptions, in order (first: two, second: one,
    #: third: none, by convention).
    customers: Mapping[str, tuple[str, ...]]
    customer_id: IdFormat
    subscription_id: IdFormat
    #: A fresh request id in the vendor's format, at sandbox time ``now``.
    request_id: Callable[[float], str]
    #: The vendor's error envelope for an ``Invalid`` (a refused request, ``Fault.status``).
    error_reply: Callable[[Call, Invalid], Reply]
    #: A 2xx body in the vendor's shape that lacks its required fields
    #: (``Fault.missing_fields``, the head of ``Fault.oversized``).
    partial: Callable[[Call], Reply]
    #: Error codes by status for ``Fault.status`` (others: ``generic_code``'s table).
    status_codes: Mapping[int, str] = attrs.field(factory=dict)
    #: What a customer can do in the vendor's portal: (stable action id, label), in order.
    actions: tuple[tuple[str, str], ...] = ()
    #: The actions one session allows (default: all of ``actions``), e.g. minus what a
    #: per-session configuration switched off.
    allowed_actions: Callable[[Session, Sequence[tuple[str, str]]], list[tuple[str, str]]] = (
        _all_actions
    )
    #: Labels of the actions a deep link opens the portal at (``{"cancel_subscription": ...}``).
    preopened_labels: Mapping[str, str] = attrs.field(factory=dict)
    #: Request headers that carry credentials besides ``Authorization`` and ``Cookie``:
    #: redacted in ``GET /_sandbox/{vendor}/received``.
    secret_headers: frozenset[str] = frozenset()
    #: Where a portal URL this twin mints carries its bearer token: regular expressions with
    #: a named group ``token`` (``r"[?&]signature=(?P<token>[^&#\s\"']+)"``). Recording tools
    #: replace each match's token, and the cassette scan flags one left in place.
    url_secrets: tuple[str, ...] = ()
    #: Does a portal link work once (traded for the portal cookie on its first visit, 410
    #: after)? False for a vendor whose signed links work any number of times until they
    #: expire; its pages then check the link on every visit (``Pages.portal``).
    single_use_links: bool = True
    #: The vendor's webhooks (``TwinWebhooks``): its secret, how it signs, the events each
    #: portal action or ``Sandbox.trigger`` sends. None: the twin sends no webhooks.
    webhooks: TwinWebhooks | None = None

    def error(self, call: Call, status: int, message: str | None = None) -> Reply:
        """The vendor's error envelope for ``status`` (what ``Fault.status`` answers)."""
        code = generic_code(status, self.status_codes)
        return self.error_reply(
            call, Invalid(status, code, message or f"Sandbox fault: HTTP {status}")
        )

    def answer(self, route: ApiRoute, call: Call) -> Reply:
        """Run ``route`` for ``call``; an ``Invalid`` becomes the vendor's error envelope."""
        try:
            return route.handler(call)
        except Invalid as exc:
            return self.error_reply(call, exc)


# -- checks every vendor makes ---------------------------------------------------------------

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
    scheme, _, tok = value.strip().partition(" ")
    return tok.strip() if scheme.lower() == "bearer" and tok.strip() else ""


def json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


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


_FORM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")


def form_object(body: bytes) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` body with bracketed nesting, as several
    vendors send it: ``a[b]=1&c[0]=x&c[1]=y&d[]=z`` -> ``{"a": {"b": "1"}, "c": ["x", "y"],
    "d": ["z"]}``. Values stay strings. Raises ValueError for a malformed or conflicting key
    (or a body that is not UTF-8)."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        match = _FORM_KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"malformed form key {key!r}")
        _insert(result, [match[1], *_BRACKET.findall(match[2])], value, key)
    return result


def _insert(node: dict[str, Any] | list[Any], parts: list[str], value: str, key: str) -> None:
    part, rest = parts[0], parts[1:]
    child: Any = value if not rest else ([] if rest[0] == "" or rest[0].isdigit() else {})
    if isinstance(node, dict):
        current = node.setdefault(part, child) if rest else node.setdefault(part, value)
        if not rest:
            if current is not value:
                raise ValueError(f"form key {key!r} is given twice")
            return
    else:
        if part == "":
            node.append(child)
            current = node[-1]
        elif part.isdigit():
            position = int(part)
            node.extend([None] * (position + 1 - len(node)))
            if node[position] is None:
                node[position] = child
            current = node[position]
        else:
            raise ValueError(f"form key {key!r} mixes a list and an object")
        if not rest:
            return
    if not isinstance(current, dict | list):
        raise ValueError(f"form key {key!r} conflicts with another")
    _insert(current, rest, value, key)


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


# -- idempotency -----------------------------------------------------------------------------


def fingerprint(*parts: object) -> str:
    """What makes two requests "the same" for idempotency: the parsed body and the
    headers that change the result, independent of key order and whitespace."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(
    call: Call,
    key: str | None,
    print_: str,
    mint: Callable[[], Reply],
    conflict: Callable[[], Reply],
) -> Reply:
    """Answer a replayed key with the stored answer (same ``print_``, with
    ``Idempotent-Replayed: true``) or ``conflict()`` (another body); otherwise ``mint()`` and
    remember a 2xx answer for a day of sandbox time. Errors are not remembered, so a retry
    after a 4xx or 5xx is tried afresh. An ``Invalid`` raised by ``mint`` passes through."""
    if key is None:
        return mint()
    stored = call.store.replay(key)
    if stored is not None:
        if stored.fingerprint != print_:
            return conflict()
        return Reply(stored.status, json.loads(stored.body), {"Idempotent-Replayed": "true"})
    reply = mint()
    if 200 <= reply.status < 300:
        call.store.remember(key, Replay(print_, reply.status, json_bytes(reply.payload), call.now))
    return reply


# -- ids and times ---------------------------------------------------------------------------

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def ulid(now: float) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base32 characters."""
    value = (int(now * 1000) & (2**48 - 1)) << 80 | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def base62(length: int) -> str:
    """``length`` random base62 characters (from ``secrets``: ids in URLs are credentials).

    One draw of enough random bits, written in base 62, instead of ``secrets.choice`` per
    character (a system call each: a third of a twin's create). Uniform: the number is below
    62**length, and each base-62 digit of a uniform number in that range is uniform."""
    value = secrets.randbelow(62**length)
    digits = []
    for _ in range(length):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(digits)


def token() -> str:
    """A single-use portal token (256 bits)."""
    return secrets.token_urlsafe(32)


def iso_millis(seconds: float) -> str:
    """``2026-05-12T10:42:00.000Z``."""
    moment = utc(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(seconds: float) -> str:
    """``2026-05-06T13:34:00Z``."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def __getattr__(name: str) -> Any:
    # Pages is documented here but lives beside the page machinery (which imports this).
    if name == "Pages":
        from ._pages import Pages

        return Pages
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
