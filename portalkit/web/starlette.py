"""The "Manage billing" endpoint for Starlette and FastAPI.

::

    from portalkit.web.starlette import redirect_view

    def to_request(request: Request) -> PortalRequest:      # or async def
        user = request.state.user                           # the app's own login
        return PortalRequest(user.billing_customer_id, return_url="https://app.example/account")

    app = Starlette(routes=[
        Route("/billing/portal", redirect_view(portal, to_request), methods=["POST"]),
    ])
    # FastAPI: app.add_api_route("/billing/portal", redirect_view(portal, to_request),
    #                            methods=["POST"])

``portal`` is a ``Portal`` (its blocking call runs in Starlette's thread pool) or an
``AsyncPortal`` (awaited). A plain ``def to_request`` also runs in the thread pool, so it may
query a database; an ``async def`` one is awaited. For a visitor who is not signed in it
raises ``HTTPException(401)``. Protect the POST against cross-site request forgery in the
app: Starlette has no CSRF protection of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from .._models import PortalLink, PortalRequest
from .._portal import AsyncPortal, Portal
from ..errors import PortalError
from ._core import (
    METHOD_NOT_ALLOWED,
    REDIRECT_STATUS,
    SECURITY_HEADERS,
    Refusal,
    checked,
    is_mint_method,
    json_body,
    json_error,
    refusal_headers,
    refuse,
)

__all__ = ["ToRequest", "json_view", "redirect_view"]

#: The app's function from its request to the PortalRequest for the signed-in customer.
ToRequest = Callable[[Request], PortalRequest | Awaitable[PortalRequest]]
Endpoint = Callable[[Request], Awaitable[Response]]


def redirect_view(portal: Portal | AsyncPortal, to_request: ToRequest) -> Endpoint:
    """An endpoint that mints on POST and answers ``303 See Other`` to the portal."""
    _check_portal(portal)

    async def portal_redirect(request: Request) -> Response:
        outcome = await _mint(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return _text_refusal(outcome)
        return RedirectResponse(outcome.url, status_code=REDIRECT_STATUS, headers=SECURITY_HEADERS)

    return portal_redirect


def json_view(portal: Portal | AsyncPortal, to_request: ToRequest) -> Endpoint:
    """An endpoint that mints on POST and answers ``{"url": ...}`` for a front end that opens
    the portal itself (``window.open(url, "_blank", "noopener")``)."""
    _check_portal(portal)

    async def portal_json(request: Request) -> Response:
        outcome = await _mint(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return JSONResponse(
                json_error(outcome), outcome.status, headers=refusal_headers(outcome)
            )
        return JSONResponse(json_body(outcome), headers=SECURITY_HEADERS)

    return portal_json


def _check_portal(portal: object) -> None:
    if not isinstance(portal, Portal | AsyncPortal):
        raise TypeError(
            "portalkit.web.starlette needs a portalkit.Portal or AsyncPortal, "
            f"not {type(portal).__name__}"
        )


async def _mint(
    portal: Portal | AsyncPortal, to_request: ToRequest, request: Request
) -> PortalLink | Refusal:
    # Checked here too, not only by the route: an endpoint mounted without methods=["POST"]
    # must still never mint on a GET.
    if not is_mint_method(request.method):
        return METHOD_NOT_ALLOWED
    try:
        portal_request = await _build(to_request, request)
        if isinstance(portal, AsyncPortal):
            return checked(await portal.create_link(portal_request))
        return checked(await run_in_threadpool(portal.create_link, portal_request))
    except PortalError as error:
        return refuse(error)


async def _build(to_request: ToRequest, request: Request) -> PortalRequest:
    if _is_async(to_request):
        result = to_request(request)
    else:
        result = await run_in_threadpool(to_request, request)
    if inspect.isawaitable(result):  # e.g. a functools.partial of an async function
        result = await result
    return result


def _is_async(function: object) -> bool:
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 -- an object with async __call__
    )


def _text_refusal(refusal: Refusal) -> Response:
    return PlainTextResponse(refusal.message, refusal.status, headers=refusal_headers(refusal))
