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

To render the error pages yourself (your template, your translation), pass
``render_refusal``: it gets the request and the ``Refusal`` (``refusal.kind``, a
``RefusalKind``) and returns a ``Response`` (``def`` or ``async def``); the status and the
security headers stay portalkit's::

    async def billing_refused(request: Request, refusal: Refusal) -> Response:
        return templates.TemplateResponse(request, "billing_refused.html", {"kind": refusal.kind})

    redirect_view(portal, to_request, render_refusal=billing_refused)

``portal`` is a ``Portal`` (its blocking call runs in Starlette's thread pool) or an
``AsyncPortal`` (awaited). A plain ``def to_request`` also runs in the thread pool, so it may
query a database; an ``async def`` one is awaited. For a visitor who is not signed in it
raises ``HTTPException(401)``. Protect the POST against cross-site request forgery in the
app: Starlette has no CSRF protection of its own.

The vendor's webhooks, verified and handled once (see ``portalkit.web._webhook`` for the
answers)::

    from portalkit.web.starlette import webhook_view

    async def on_event(event: BillingEvent) -> None:        # or a plain def
        await billing.apply(event)                          # the app's own work

    hooks = Webhooks.from_env()
    app = Starlette(routes=[
        Route("/webhooks/billing", webhook_view(hooks, on_event, event_log=SqlEventLog(url)),
              methods=["POST"]),
    ])
    # FastAPI: app.add_api_route("/webhooks/billing", webhook_view(hooks, on_event),
    #                            methods=["POST"])

A plain ``def`` handler runs in the thread pool, an ``async def`` one is awaited; the event
log's calls run in the thread pool too (a SQL log blocks). The body is read from
``request.stream()`` and reading stops once it is past ``hooks.max_body_bytes``. Mount the
webhook route outside any CSRF middleware the app adds: the vendor sends no token.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from .._event_log import EventLog
from .._events import BillingEvent
from .._models import PortalLink, PortalRequest
from .._portal import AsyncPortal, Portal
from .._webhooks import Webhooks
from ..errors import PortalError
from ._core import (
    REDIRECT_STATUS,
    SECURITY_HEADERS,
    Refusal,
    check_renderer,
    checked,
    is_mint_method,
    json_body,
    json_error,
    not_a_response,
    refusal_headers,
    refuse,
    refuse_method,
    renderer_failed,
)
from ._webhook import (
    PER_VIEW,
    WRONG_METHOD,
    EventLogChoice,
    WebhookAnswer,
    begin,
    check_view,
    declared_too_large,
    event_log_for,
    failed,
    finished,
    is_delivery_method,
    release_quietly,
    too_large,
    verify,
)

__all__ = [
    "RenderRefusal",
    "ToRequest",
    "WebhookHandler",
    "json_view",
    "redirect_view",
    "webhook_view",
]

#: The app's function from its request to the PortalRequest for the signed-in customer.
ToRequest = Callable[[Request], PortalRequest | Awaitable[PortalRequest]]
#: The app's own page for a refusal, ``def`` (run in the thread pool) or ``async def``. Its
#: status and ``Cache-Control``/``Referrer-Policy`` headers are set to the refusal's whatever
#: it returns.
RenderRefusal = Callable[[Request, Refusal], Response | Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
#: The app's function that acts on one verified event, ``def`` or ``async def``: it returns
#: when the event is handled and raises when it is not (the vendor then retries).
WebhookHandler = Callable[[BillingEvent], Awaitable[object] | object]


def redirect_view(
    portal: Portal | AsyncPortal,
    to_request: ToRequest,
    *,
    render_refusal: RenderRefusal | None = None,
) -> Endpoint:
    """An endpoint that mints on POST and answers ``303 See Other`` to the portal; a refusal
    is portalkit's plain-text page, or ``render_refusal``'s."""
    _check_portal(portal)
    check_renderer(render_refusal, "starlette")

    async def portal_redirect(request: Request) -> Response:
        outcome = await _mint(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return await _refused(request, outcome, render_refusal, _text_page)
        return RedirectResponse(outcome.url, status_code=REDIRECT_STATUS, headers=SECURITY_HEADERS)

    return portal_redirect


def json_view(
    portal: Portal | AsyncPortal,
    to_request: ToRequest,
    *,
    render_refusal: RenderRefusal | None = None,
) -> Endpoint:
    """An endpoint that mints on POST and answers ``{"url": ...}`` for a front end that opens
    the portal itself (``window.open(url, "_blank", "noopener")``); a refusal is
    ``{"error": ...}``, or ``render_refusal``'s answer."""
    _check_portal(portal)
    check_renderer(render_refusal, "starlette")

    async def portal_json(request: Request) -> Response:
        outcome = await _mint(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return await _refused(request, outcome, render_refusal, _json_page)
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
        return refuse_method(request.method)
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


async def _refused(
    request: Request,
    refusal: Refusal,
    render_refusal: RenderRefusal | None,
    default: Callable[[Refusal], Response],
) -> Response:
    if render_refusal is None:
        return default(refusal)
    try:
        response = await _render(render_refusal, request, refusal)
    except Exception as error:  # the app's bug: logged, and portalkit's own page sent
        renderer_failed(refusal, error)
        return default(refusal)
    response.status_code = refusal.status
    response.headers.update(refusal_headers(refusal))
    return response


async def _render(render_refusal: RenderRefusal, request: Request, refusal: Refusal) -> Response:
    if _is_async(render_refusal):
        result = render_refusal(request, refusal)
    else:
        result = await run_in_threadpool(render_refusal, request, refusal)
    if inspect.isawaitable(result):
        result = await result
    if not isinstance(result, Response):
        raise not_a_response(result, "a Starlette Response")
    return result


def _text_page(refusal: Refusal) -> Response:
    return PlainTextResponse(refusal.message, refusal.status, headers=refusal_headers(refusal))


def _json_page(refusal: Refusal) -> Response:
    return JSONResponse(json_error(refusal), refusal.status, headers=refusal_headers(refusal))


def webhook_view(
    hooks: Webhooks, handler: WebhookHandler, *, event_log: EventLogChoice = PER_VIEW
) -> Endpoint:
    """An endpoint that verifies each POSTed delivery and hands its ``BillingEvent`` to
    ``handler``, once per event under ``event_log`` (default: in this process's memory;
    ``SqlEventLog`` for several processes or hosts; None: no deduplication)."""
    check_view(hooks, handler, event_log, "starlette", awaits=True)
    log = event_log_for(event_log)

    async def billing_webhook(request: Request) -> Response:
        answer = await _receive(hooks, handler, log, request)
        return PlainTextResponse(answer.text, answer.status, headers=answer.headers)

    return billing_webhook


async def _receive(
    hooks: Webhooks, handler: WebhookHandler, log: EventLog | None, request: Request
) -> WebhookAnswer:
    # Checked here too, not only by the route, as the portal views do.
    if not is_delivery_method(request.method):
        return WRONG_METHOD
    limit = hooks.max_body_bytes
    if declared_too_large(request.headers.get("content-length"), limit):
        return too_large(hooks)
    body = await _read_capped(request, limit)
    if body is None:
        return too_large(hooks)
    event = verify(hooks, request.headers, body)
    if isinstance(event, WebhookAnswer):
        return event
    answer = await run_in_threadpool(begin, log, event)
    if answer is not None:
        return answer
    try:
        await _call(handler, event)
    except Exception as error:
        return await run_in_threadpool(failed, log, event, error)
    except BaseException:
        # Cancelled (the vendor hung up): free the event for its retry, shielded so the
        # release itself is not cancelled, then let the cancellation through.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(release_quietly, log, event)
        raise
    return await run_in_threadpool(finished, log, event)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The raw body, or None once it is past ``limit``: the rest is never received. (An
    ASGI server hands the body over in its own chunks, so the last one taken may hold more
    than the one byte past the limit that tells an over-long body.)"""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _call(handler: WebhookHandler, event: BillingEvent) -> None:
    if _is_async(handler):
        result = handler(event)
    else:
        result = await run_in_threadpool(handler, event)
    if inspect.isawaitable(result):  # e.g. a functools.partial of an async function
        await result
