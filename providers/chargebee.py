"""Chargebee: ``POST https://{site}.chargebee.com/api/v2/portal_sessions``.

Vendor docs: https://apidocs.chargebee.com/docs/api/portal_sessions (create, logout, the
portal session object, error handling); the official ``chargebee`` package (3.x) is the
reference client (tests/test_chargebee_sdk_parity.py). What portalkit decided where the docs
are silent is in docs/providers/chargebee.md.

Wire shape::

    POST {origin}/api/v2/portal_sessions        origin: https://{site}.chargebee.com, or base_url
    Authorization: Basic base64("<api key>:")   the key as user name, empty password
    chargebee-idempotency-key: <uuid>           every create; the same key on every retry
    Content-Type: application/x-www-form-urlencoded

    customer[id]=cus_1&redirect_url=https%3A%2F%2F...&forward_url=https%3A%2F%2F...

    200 {"portal_session": {"id": "portal_...", "token": "...", "status": "created",
         "access_url": "https://{site}.chargebeeportal.com/portal/access/<token>",
         "redirect_url": "https://...", "customer_id": "cus_1",
         "created_at": 1517505973, "expires_at": 1517509573,        unix seconds
         "linked_customers": [...], "object": "portal_session"}}

    POST {origin}/api/v2/portal_sessions/{id}/logout           Portal.end_session(link)
    200 {"portal_session": {..., "status": "logged_out"}}

    4xx/5xx {"message": "...", "type": "invalid_request", "api_error_code": "param_wrong_value",
             "param": "customer[id]", "http_status_code": 400}

The access URL must be opened within an hour, and only once. ``forward_url`` (the page the
portal opens at after sign-in) is a portal URL: portalkit builds it from ``Flow`` for the
portal pages Chargebee documents (``FORWARD_PATHS``); another flow is dropped by the feature
policy (``accepts``), or refused under ``strict=True``. A flow sent as a ``forward_url`` page
is the link's deep link too (``link.deep_link(flow.action, flow.subscription_id)`` is
``link.url``), as a Stripe flow's session URL is.
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote, urlencode, urlsplit

import attrs

from portalkit import _validation as check
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit._models import Action, DeepLink, Feature, Flow, PortalLink, PortalRequest
from portalkit._wire import (
    USER_AGENT,
    LazyConverter,
    Reply,
    request_id_from_headers,
    strip_slash,
    text_or_none,
    wire_converter,
)
from portalkit.errors import (
    AuthenticationFailed,
    CustomerNotFound,
    InvalidRequest,
    PermissionDenied,
    PortalError,
    RateLimited,
    UnsupportedFeature,
)

if TYPE_CHECKING:
    import cattrs

PATH = "/api/v2/portal_sessions"
#: The site name becomes a host name label: letters, digits, hyphens, as DNS allows them.
SITE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
SITE_RULE = (
    "must be a Chargebee site name: letters, digits and hyphens only (at most 63, not"
    " starting or ending with a hyphen), e.g. 'acme-test'"
)
# The documented limits ("max chars") of the create's parameters and of the session id.
MAX_CUSTOMER_ID = 50
MAX_SUBSCRIPTION_ID = 50
MAX_REDIRECT_URL = 250
MAX_FORWARD_URL = 250
MAX_SESSION_ID = 70
#: Chargebee's idempotency page: "Idempotency keys can be upto 100 characters in length".
MAX_IDEMPOTENCY_KEY = 100
IDEMPOTENCY_HEADER = "chargebee-idempotency-key"
#: Chargebee documents no request id; one of these response headers (a proxy's, the
#: sandbox's) is kept when present, for a support ticket, and never invented.
REQUEST_ID_HEADERS = ("X-Request-Id", "Request-Id")
#: The portal pages a session can open at (``forward_url``), by the action they serve; the
#: path goes after the portal's origin. Chargebee documents one: the edit-subscription
#: permalink, which an SSO portal opens only through ``forward_url``.
FORWARD_PATHS: dict[Action, str] = {
    Action.UPDATE_SUBSCRIPTION: "/portal/permalink/subscriptions/{subscription_id}/edit",
}
#: The session status Chargebee reports once it has ended one.
LOGGED_OUT = "logged_out"

# Chargebee's api_error_code -> portalkit's error, for codes whose HTTP status alone would
# say something else (or too little). A 5xx is ProviderUnavailable whatever its code.
_ERROR_CODES: dict[str, type[PortalError]] = {
    "resource_not_found": CustomerNotFound,
    "api_authentication_failed": AuthenticationFailed,
    "basic_authentication_failed": AuthenticationFailed,
    "api_authorization_failed": PermissionDenied,
    "api_request_limit_exceeded": RateLimited,
    "lock_timeout": RateLimited,
    # A site that does not exist is a credentials problem (the site and key go together),
    # not an unknown customer: CustomerNotFound would send a MigrationRouter to its fallback.
    "site_not_found": AuthenticationFailed,
    "invalid_request": InvalidRequest,
    "param_wrong_value": InvalidRequest,
    # Chargebee's 409 means "not in a state for this", not an idempotency-key conflict.
    "invalid_state_for_request": InvalidRequest,
}
# The keys only Chargebee's error envelope has: one of them present (even malformed) makes an
# answer Chargebee's own, read leniently; none, and the answer is no verdict of Chargebee's.
_ENVELOPE_KEYS = ("api_error_code", "error_code", "error_msg", "http_status_code")
# Chargebee's parameter names -> the portalkit request fields they come from.
_PARAM_FIELDS: dict[str, str] = {
    "customer[id]": "customer_id",
    "redirect_url": "return_url",
    "forward_url": "flow",
}
# A param name shown on an error: it came from the vendor, so only a plain name passes.
_PARAM_NAME = re.compile(r"[A-Za-z0-9_\[\]\.]{1,100}")


def _strict_int(value: object, _: type) -> int:
    # cattrs' default calls int(): "17" and true would pass as times.
    if type(value) is not int:
        raise TypeError(f"expected an integer, not {type(value).__name__}")
    return value


def _make_converter() -> cattrs.Converter:
    converter = wire_converter().converter
    converter.register_structure_hook(int, _strict_int)
    return converter


_converter = LazyConverter(_make_converter)


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (compiling those and building a slotted class a
# second time are most of each class's import cost; issue 17).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Session:
    """The portal_session object, the fields portalkit reads (the rest stay in ``raw``)."""

    id: str
    access_url: str
    customer_id: str
    status: str
    created_at: int
    expires_at: int | None = None
    redirect_url: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Envelope:
    portal_session: _Session


@attrs.frozen(repr=False, eq=False, slots=False)
class _Error:
    """Chargebee's error body, read leniently (``Reply.error_body``): a malformed field still
    yields the rest."""

    message: str | None = None
    type: str | None = None
    api_error_code: str | None = None
    param: str | None = None
    error_code: str | None = None  # the older, deprecated code; api_error_code wins
    http_status_code: int | None = None


def _site(instance: Chargebee, attribute: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not SITE.fullmatch(value):
        raise InvalidRequest.local("site", SITE_RULE, provider="chargebee")


def _api_key(instance: Chargebee, attribute: attrs.Attribute[str], value: str) -> None:
    # The key is the Basic user name: a ':' would end it, and the header is ASCII.
    if not re.fullmatch(r"[\x21-\x39\x3b-\x7e]+", value):
        raise InvalidRequest.local(
            "api_key",
            "must be printable ASCII without spaces or ':' (as Chargebee issues them)",
            provider="chargebee",
        )


def _base_url(instance: Chargebee, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        check.base_url(value, allow_insecure=instance.allow_insecure_base_url)


def _portal_url(instance: Chargebee, attribute: attrs.Attribute[str | None], value: object) -> None:
    if value is not None:
        check.return_url("portal_url", value)
        # An origin: the portal's own paths (FORWARD_PATHS) are appended to it, so a path
        # or a query would put every forward_url somewhere the portal does not serve.
        text = str(value)  # return_url has checked it is one
        parts = urlsplit(text)
        if parts.path not in ("", "/") or parts.query or "?" in text:
            raise InvalidRequest.local(
                "portal_url",
                "must be the portal's origin, https://host[:port], with no path or query",
                provider="chargebee",
            )


@attrs.frozen
class Chargebee:
    """Chargebee adapter. ``Chargebee(site="acme-test", api_key="test_...")``.

    ``base_url`` replaces the whole API origin ``https://{site}.chargebee.com`` (requests go
    to ``{base_url}/api/v2/portal_sessions``), e.g. a sandbox at
    ``http://127.0.0.1:8000/chargebee/acme-test``; the site is still required and checked.
    ``portal_url`` is the portal's origin that ``forward_url`` deep links point into
    (default ``https://{site}.chargebeeportal.com``; set it for a custom portal domain)."""

    name: ClassVar[str] = "chargebee"
    features: ClassVar[frozenset[Feature]] = frozenset(
        {Feature.RETURN_URL, Feature.FLOW, Feature.IDEMPOTENCY_KEY, Feature.END_SESSION}
    )
    #: Access URLs live on the site's portal host, ``{site}.chargebeeportal.com``.
    portal_hosts: ClassVar[tuple[str, ...]] = ("*.chargebeeportal.com",)

    site: str = attrs.field(validator=_site)
    api_key: str = attrs.field(repr=False, validator=[check.secret, _api_key])
    base_url: str | None = attrs.field(
        default=None, converter=attrs.converters.optional(strip_slash), validator=_base_url
    )
    portal_url: str | None = attrs.field(
        default=None, converter=attrs.converters.optional(strip_slash), validator=_portal_url
    )
    allow_insecure_base_url: bool = attrs.field(default=False, repr=False)
    _authorization: str = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # Exactly what the chargebee package sends: base64 of "<key>:", an empty password.
        token = base64.b64encode(f"{self.api_key}:".encode("ascii")).decode("ascii")
        object.__setattr__(self, "_authorization", f"Basic {token}")

    @classmethod
    def from_env(cls, env: ProviderEnv) -> Chargebee:
        """``CHARGEBEE_SITE`` and ``CHARGEBEE_API_KEY`` (required), ``CHARGEBEE_BASE_URL``
        and ``CHARGEBEE_PORTAL_URL`` (optional)."""
        return cls(
            site=env.require("site"),
            api_key=env.require("api_key"),
            base_url=env.get("base_url"),
            portal_url=env.get("portal_url"),
        )

    @property
    def api_root(self) -> str:
        """Where the API lives: ``base_url``, else the site's own host."""
        return self.base_url or f"https://{self.site}.chargebee.com"

    @property
    def portal_root(self) -> str:
        """The portal's origin, for ``forward_url``."""
        return self.portal_url or f"https://{self.site}.chargebeeportal.com"

    def _headers(self) -> dict[str, str]:
        # No OS-Version or Lang-Version (the SDK's): the host's platform is nobody's business.
        return {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Authorization": self._authorization,
        }

    def build_request(self, request: PortalRequest) -> httpx.Request:
        _at_most("customer_id", request.customer_id, MAX_CUSTOMER_ID)
        if request.idempotency_key is None:  # Portal always makes one
            raise InvalidRequest.local(
                "idempotency_key", "is required by chargebee", provider=self.name
            )
        _at_most("idempotency_key", request.idempotency_key, MAX_IDEMPOTENCY_KEY)
        fields = [("customer[id]", request.customer_id)]
        if request.return_url is not None:
            _at_most("return_url", request.return_url, MAX_REDIRECT_URL)
            fields.append(("redirect_url", request.return_url))
        if request.flow is not None:
            forward_url = self._forward_url(request.flow)
            if forward_url is not None:
                _at_most("flow", forward_url, MAX_FORWARD_URL, what="its forward_url")
                fields.append(("forward_url", forward_url))
        headers = self._headers()
        headers[IDEMPOTENCY_HEADER] = request.idempotency_key
        return httpx.Request(
            "POST", self.api_root + PATH, headers=headers, content=urlencode(fields).encode()
        )

    def accepts(self, feature: Feature, request: PortalRequest) -> bool:
        """A flow Chargebee's portal has no documented page for is unsupported for this
        request, so the feature policy drops it and lists it in ``ignored_fields`` (the
        customer lands on the portal's home page), or refuses it under ``strict=True``."""
        if feature is Feature.FLOW and request.flow is not None:
            return _has_page(request.flow)
        return True

    def _forward_url(self, flow: Flow) -> str | None:
        """The portal page a flow opens (None: the portal's home page); refuse the flows
        Chargebee's portal has no documented page for."""
        if flow.action is Action.OVERVIEW and flow.subscription_id is None:
            return None
        path = FORWARD_PATHS.get(flow.action)
        if path is not None and flow.subscription_id is not None:
            # Checked here so a bad id is reported where the caller wrote it.
            _at_most("flow.subscription_id", flow.subscription_id, MAX_SUBSCRIPTION_ID)
            return self.portal_root + path.format(subscription_id=quote(flow.subscription_id))
        mapped = ", ".join(f"{action.value} (with a subscription)" for action in FORWARD_PATHS)
        raise UnsupportedFeature(
            f"flow: chargebee's portal can open {mapped} or the overview, not"
            f" {flow.action.value!r}"
            + (" for a subscription" if flow.subscription_id else " without a subscription"),
            feature=Feature.FLOW.value,
            field="flow",
            rule="unsupported flow for chargebee",
            provider=self.name,
        )

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        body = reply.json_object()
        session = reply.structure(_converter, body, _Envelope).portal_session
        return PortalLink(
            provider=self.name,
            session_id=session.id,
            customer_id=session.customer_id,
            url=session.access_url,
            expires_at=(
                None
                if session.expires_at is None  # never invented
                else reply.unix_time(session.expires_at, "expires_at")
            ),
            created_at=reply.unix_time(session.created_at, "created_at"),
            return_url=session.redirect_url or request.return_url,
            deep_links=_flow_links(request.flow, session.access_url),
            idempotency_key=request.idempotency_key,
            status=session.status,
            raw=body,
        )

    def build_end_session(self, link: PortalLink) -> httpx.Request:
        session_id = link.session_id
        try:
            check.identifier("link.session_id", session_id)
        except InvalidRequest as error:
            error.provider = self.name
            raise
        _at_most("link.session_id", session_id, MAX_SESSION_ID)
        url = f"{self.api_root}{PATH}/{quote(session_id, safe='')}/logout"
        # The SDK's logout sends no body; no idempotency key either: logging out twice is
        # harmless, and the key buys nothing.
        return httpx.Request("POST", url, headers=self._headers())

    def parse_end_session(self, response: httpx.Response, link: PortalLink) -> None:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        session = reply.structure(_converter, reply.json_object(), _Envelope).portal_session
        if session.id != link.session_id:
            raise reply.invalid("another session than the one logged out")
        if session.status != LOGGED_OUT:
            raise reply.invalid(f"a logged-out session whose status is not {LOGGED_OUT!r}")

    def parse_error(self, response: httpx.Response) -> PortalError:
        reply = Reply.of(response, self.name, request_id=_request_id(response))
        raw = reply.error_json()
        if not any(name in raw for name in _ENVELOPE_KEYS):
            # Not Chargebee's envelope: a proxy's page, or another server's answer for a
            # wrong base URL (a bare {"message": ...} is any gateway's).
            return reply.unexpected_endpoint(message=text_or_none(raw.get("message")))
        wire = reply.error_body(_converter, _Error)
        error = reply.error(
            code=wire.api_error_code or wire.error_code,
            message=wire.message,
            overrides=_ERROR_CODES if reply.status < 500 else None,
        )
        param = wire.param
        if isinstance(error, InvalidRequest) and param and _PARAM_NAME.fullmatch(param):
            error.field = _PARAM_FIELDS.get(param, param)
            error.message = f"{error.message} (parameter {param})"
        return error


def _request_id(response: httpx.Response) -> str | None:
    return request_id_from_headers(response, *REQUEST_ID_HEADERS)


def _flow_links(flow: Flow | None, access_url: str) -> tuple[DeepLink, ...]:
    """The link's deep link for a flow sent as a ``forward_url`` page: the access URL opens
    the portal there after sign-in, as Stripe's flow session URL opens its flow. None for
    the overview (the access URL's own page) or without a flow."""
    if flow is None or flow.subscription_id is None or flow.action not in FORWARD_PATHS:
        return ()
    return (DeepLink(flow.action, flow.subscription_id, access_url),)


def _has_page(flow: Flow) -> bool:
    """Does Chargebee's portal have a page for ``flow`` (the home page, or a permalink)?"""
    if flow.subscription_id is None:
        return flow.action is Action.OVERVIEW
    return flow.action in FORWARD_PATHS


def _at_most(field: str, value: str, limit: int, *, what: str = "") -> None:
    if len(value) > limit:
        subject = f"{what} " if what else ""
        raise InvalidRequest.local(
            field,
            f"{subject}must be at most {limit} characters for chargebee (got {len(value)})",
            provider="chargebee",
        )
