"""What every framework helper shares, with no web framework imported.

The rules a "Manage billing" endpoint follows, whatever serves it:

- it mints only on POST (a GET is answered 405 and mints nothing), so a crawler, a link
  preview or a page render never burns a session;
- it answers ``303 See Other`` to the link (or ``{"url": ...}`` for a front end that opens
  a new tab), with ``Cache-Control: no-store`` so no cache keeps a bearer credential, and
  ``Referrer-Policy: no-referrer`` so the portal never learns the page the customer was on;
- a failure becomes a small generic answer (``refusal_for``): 404 when the vendor says it
  knows no such customer, 400 when the request cannot be served, 502 for anything else the
  vendor did -- and for an endpoint that did not answer as the vendor's API does
  (``UnexpectedEndpoint``: the app's base URL or a proxy is wrong, not the customer's
  account). The page and the log line never carry the link, the vendor's words or a
  secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType

import attrs

from .._link_check import is_safe_redirect
from .._models import PortalLink, PortalRequest
from .._portal import Portal
from ..errors import (
    CustomerNotFound,
    InvalidRequest,
    InvalidResponse,
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


@attrs.frozen
class Refusal:
    """A failed mint as the customer sees it: a status and a short generic message."""

    status: int
    message: str


METHOD_NOT_ALLOWED = Refusal(405, "Use the Manage billing button to open the billing portal.")
NOT_FOUND = Refusal(404, "No billing account was found for you.")
BAD_REQUEST = Refusal(400, "The billing portal cannot be opened for this account.")
BAD_GATEWAY = Refusal(502, "The billing portal is unavailable right now. Please try again.")


def refusal_for(error: PortalError) -> Refusal:
    """The answer for a portalkit error: 404, 400 or 502, never the vendor's message.

    404 only for the vendor's own "no such customer"; an ``UnexpectedEndpoint`` (a 404
    page that is not the vendor's) is 502: the app is misconfigured, and the customer is
    not told that no account was found."""
    if isinstance(error, UnexpectedEndpoint):
        return BAD_GATEWAY
    if isinstance(error, CustomerNotFound):
        return NOT_FOUND
    if isinstance(error, InvalidRequest):  # UnsupportedFeature included
        return BAD_REQUEST
    return BAD_GATEWAY


def refuse(error: PortalError) -> Refusal:
    """Log what went wrong without the vendor's words, and return the customer's answer.

    Only fields portalkit controls are logged: the error class, portalkit's own message
    (which never holds a URL or a secret), and the provider, status, vendor error code and
    request id for a support ticket. Not ``str(error)``, which appends the vendor's message,
    and no traceback, which would print it too.
    """
    refusal = refusal_for(error)
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


def refusal_headers(refusal: Refusal) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    if refusal.status == METHOD_NOT_ALLOWED.status:
        headers["Allow"] = ALLOWED_METHOD
    return headers


def is_mint_method(method: str) -> bool:
    return method.upper() == ALLOWED_METHOD


def require_sync_portal(portal: object, framework: str) -> None:
    """Fail at start-up, not at the first click, when a sync view is handed an AsyncPortal."""
    if not isinstance(portal, Portal):
        raise TypeError(
            f"portalkit.web.{framework} needs a portalkit.Portal, not {type(portal).__name__}"
        )


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
