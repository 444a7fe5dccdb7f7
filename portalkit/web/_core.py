"""What every framework helper shares, with no web framework imported.

The rules a "Manage billing" endpoint follows, whatever serves it:

- it mints only on POST (a GET is answered 405 and mints nothing), so a crawler, a link
  preview or a page render never burns a session;
- it answers ``303 See Other`` to the link (or ``{"url": ...}`` for a front end that opens
  a new tab), with ``Cache-Control: no-store`` so no cache keeps a bearer credential, and
  ``Referrer-Policy: no-referrer`` so the portal never learns the page the customer was on;
- a failure becomes a small generic answer (``refusal_for``): 404 when the vendor says it
  knows no such customer (or that the customer has no portal yet), 400 when the request
  cannot be served, 502 for anything else the vendor did -- and for an endpoint that did
  not answer as the vendor's API does (``UnexpectedEndpoint``: the app's base URL or a
  proxy is wrong, not the customer's account). The page and the log line never carry the
  link, the vendor's words or a secret;
- every refusal is logged once, at WARNING, on the ``portalkit.web`` logger, with why: for
  one portalkit decided itself (a return URL it may not send, a feature the vendor lacks,
  a GET) the field and the rule, for the vendor's the provider, status, code and request id;
- the app may render each refusal's page itself (``render_refusal``): it is handed the
  request and a ``Refusal`` (its ``RefusalKind``, status, portalkit's default message, the
  provider and the vendor's request id; never the vendor's message, the link or a secret).
  The status and the security headers are portalkit's whatever the app returns; a renderer
  that raises (or returns something that is not a response) is logged at ERROR and the
  customer gets portalkit's own page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

import attrs

from .._link_check import is_safe_redirect
from .._models import PortalLink, PortalRequest
from .._portal import Portal
from ..errors import (
    ConfigurationError,
    CustomerNotFound,
    InvalidRequest,
    InvalidResponse,
    NoPortalYet,
    PortalError,
    UnexpectedEndpoint,
)

logger = logging.getLogger("portalkit.web")

#: Sent with every answer, success or not.
SECURITY_HEADERS: Mapping[str, str] = MappingProxyType(
    {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
)
#: See Other: the browser follows with a GET and never replays the POST.
REDIRECT_STATUS = 303
#: The only method that mints; the ``Allow`` header of a 405.
ALLOWED_METHOD = "POST"


class RefusalKind(StrEnum):
    """Why a "Manage billing" endpoint did not send the customer to the portal: a closed
    set, the same for every vendor and every framework (``Refusal.kind``)."""

    #: A method other than POST reached the endpoint (a link, a reload, a crawler): 405,
    #: nothing minted.
    METHOD_NOT_ALLOWED = "method_not_allowed"
    #: The vendor says it knows no such customer (``CustomerNotFound``, its own answer): 404.
    NOT_FOUND = "not_found"
    #: The vendor knows the customer, who has no portal yet, typically for never having
    #: subscribed (``NoPortalYet``): 404. Show a checkout or the app's own billing page.
    NO_PORTAL_YET = "no_portal_yet"
    #: The request cannot be served: refused by portalkit before anything was sent (a
    #: ``PortalRequest`` that fails validation, a return URL host not allowed, a feature the
    #: vendor lacks), or by the vendor (``InvalidRequest``): 400.
    CANNOT_OPEN = "cannot_open"
    #: Anything else: the vendor failed or could not be reached once retries were spent,
    #: refused the keys, answered something unreadable, or the endpoint that answered is
    #: not the vendor's API (``UnexpectedEndpoint``): 502.
    UNAVAILABLE = "unavailable"


@attrs.frozen
class Refusal:
    """A failed mint as the customer sees it, and what an app's ``render_refusal`` is
    handed to render its own page: never the vendor's message, the link or a secret.

    ``kind`` says which outcome it is; ``status`` is the HTTP status the answer has (also
    when the app renders it); ``message`` is portalkit's own short English text for it (the
    default page's). ``provider`` names the vendor when it is known, and ``request_id`` is
    the vendor's id for the request, when it answered with one, for a support ticket.
    Two refusals are equal when their answer is (kind, status and message).
    """

    status: int
    message: str
    kind: RefusalKind = attrs.field(kw_only=True)
    provider: str | None = attrs.field(default=None, kw_only=True, eq=False)
    request_id: str | None = attrs.field(default=None, kw_only=True, eq=False)


METHOD_NOT_ALLOWED = Refusal(
    405,
    "Use the Manage billing button to open the billing portal.",
    kind=RefusalKind.METHOD_NOT_ALLOWED,
)
NOT_FOUND = Refusal(404, "No billing account was found for you.", kind=RefusalKind.NOT_FOUND)
NO_PORTAL_YET = Refusal(
    404, "There is nothing to manage in the billing portal yet.", kind=RefusalKind.NO_PORTAL_YET
)
BAD_REQUEST = Refusal(
    400, "The billing portal cannot be opened for this account.", kind=RefusalKind.CANNOT_OPEN
)
BAD_GATEWAY = Refusal(
    502,
    "The billing portal is unavailable right now. Please try again.",
    kind=RefusalKind.UNAVAILABLE,
)


def refusal_for(error: PortalError) -> Refusal:
    """The answer for a portalkit error: 404, 400 or 502, never the vendor's message.

    404 only for the vendor's own "no such customer" (or "no portal yet"); an
    ``UnexpectedEndpoint`` (a 404 page that is not the vendor's) is 502: the app is
    misconfigured, and the customer is not told that no account was found."""
    refusal = _answer_for(error)
    return attrs.evolve(refusal, provider=error.provider, request_id=error.request_id)


def _answer_for(error: PortalError) -> Refusal:
    if isinstance(error, UnexpectedEndpoint):
        return BAD_GATEWAY
    if isinstance(error, CustomerNotFound):
        return NOT_FOUND
    if isinstance(error, NoPortalYet):
        return NO_PORTAL_YET
    if isinstance(error, InvalidRequest):  # UnsupportedFeature included
        return BAD_REQUEST
    return BAD_GATEWAY


def refused_locally(error: PortalError) -> bool:
    """portalkit refused before anything was sent: a request it will not send (its field and
    rule in the message) or a set-up it cannot use. A vendor's refusal has a status."""
    return isinstance(error, InvalidRequest | ConfigurationError) and error.status is None


def refuse(error: PortalError) -> Refusal:
    """Log what went wrong without the vendor's words, and return the customer's answer.

    Only fields portalkit controls are logged: the error class, portalkit's own message
    (which never holds a URL or a secret; for a refusal of its own, the field and the rule
    it broke), and the provider, status, vendor error code and request id for a support
    ticket. Not ``str(error)``, which appends the vendor's message, and no traceback, which
    would print it too.
    """
    refusal = refusal_for(error)
    if refused_locally(error):
        logger.warning(
            "answered %d: %s: %s (refused by portalkit before anything was sent%s)",
            refusal.status,
            type(error).__name__,
            error.message,
            f"; provider={error.provider}" if error.provider else "",
        )
        return refusal
    logger.warning(
        "answered %d: %s: %s (provider=%s status=%s code=%s request_id=%s)",
        refusal.status,
        type(error).__name__,
        error.message,
        error.provider,
        error.status,
        error.code,
        error.request_id,
    )
    return refusal


def refuse_method(method: str) -> Refusal:
    """The 405 for a request that is not a POST, logged with the method it came with."""
    # %r and a cap: the method is the client's text, and must not forge a log line.
    logger.warning(
        "answered 405: method %r refused: a link is minted on POST only (a form with"
        ' method="post", or fetch with method "POST"); nothing was minted',
        method[:20],
    )
    return METHOD_NOT_ALLOWED


def refusal_headers(refusal: Refusal) -> dict[str, str]:
    """The headers of every refusal, portalkit's page or the app's own."""
    headers = dict(SECURITY_HEADERS)
    if refusal.kind is RefusalKind.METHOD_NOT_ALLOWED:
        headers["Allow"] = ALLOWED_METHOD
    return headers


RequestT = TypeVar("RequestT")
AnswerT = TypeVar("AnswerT")


def check_renderer(render: object, framework: str) -> None:
    """Fail at start-up, not at the first refusal, when ``render_refusal`` is no function."""
    if render is not None and not callable(render):
        raise TypeError(
            f"portalkit.web.{framework}: render_refusal must be a function of (request,"
            f" refusal), or None, not {type(render).__name__}"
        )


def render(
    renderer: Callable[[RequestT, Refusal], object],
    request: RequestT,
    refusal: Refusal,
    to_answer: Callable[[object], AnswerT],
) -> AnswerT | None:
    """The app's page for ``refusal`` (``to_answer`` makes the framework's response of what
    the renderer returned, or raises ``TypeError``), or None when the renderer failed: the
    view then answers portalkit's own page. A renderer's bug never reaches the customer."""
    try:
        return to_answer(renderer(request, refusal))
    except Exception as error:
        renderer_failed(refusal, error)
        return None


def renderer_failed(refusal: Refusal, error: Exception) -> None:
    """Log a ``render_refusal`` that raised, with its traceback (the app's code: it never
    saw the vendor's message, the link or a secret), before portalkit's own page is sent."""
    logger.error(
        "render_refusal failed (%s) on a %s refusal; answered portalkit's own %d page instead",
        type(error).__name__,
        refusal.kind.value,
        refusal.status,
        exc_info=error,
    )


def not_a_response(value: object, expected: str) -> TypeError:
    return TypeError(f"render_refusal returned {type(value).__name__}, not {expected}")


def is_mint_method(method: str) -> bool:
    return method.upper() == ALLOWED_METHOD


def require_sync_portal(portal: object, framework: str) -> None:
    """Fail at start-up, not at the first click, when a sync view is handed an AsyncPortal."""
    if not isinstance(portal, Portal):
        raise TypeError(
            f"portalkit.web.{framework} needs a portalkit.Portal, not {type(portal).__name__}"
        )


def attempt(
    portal: Portal, method: str, build: Callable[[], PortalRequest]
) -> PortalLink | Refusal:
    """A sync view's whole job but the answer: refuse anything but POST (the view checks it
    itself, not only the route: a view mounted for GET too must still never mint), else
    ``mint``."""
    if not is_mint_method(method):
        return refuse_method(method)
    return mint(portal, build)


def mint(portal: Portal, build: Callable[[], PortalRequest]) -> PortalLink | Refusal:
    """Build the app's request and mint its link; any portalkit error becomes a Refusal.

    ``build`` runs inside the guard because building a ``PortalRequest`` validates it, and
    an invalid one (a malformed customer id in the app's records) is a 400, not a crash.
    """
    try:
        return checked(portal.create_link(build()))
    except PortalError as error:
        return refuse(error)


def checked(link: PortalLink) -> PortalLink:
    """``link``, once its URL is one a browser may be sent to (https, or http to a loopback
    sandbox; absolute; a plain host). Portal already refuses anything else; this second look
    keeps a future adapter's slip from ever becoming a ``Location`` header."""
    if not is_safe_redirect(link.url):
        raise InvalidResponse(
            f"{link.provider} answered with a url a browser must not be sent to; refused",
            provider=link.provider,
        )
    return link


def json_body(link: PortalLink) -> dict[str, str]:
    return {"url": link.url}


def json_error(refusal: Refusal) -> dict[str, str]:
    return {"error": refusal.message}
