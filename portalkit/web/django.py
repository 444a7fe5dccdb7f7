"""The "Manage billing" view for Django.

::

    from portalkit.web.django import redirect_view

    def to_request(request: HttpRequest) -> PortalRequest:
        customer_id = request.user.billing.customer_id      # the app's own mapping
        return PortalRequest(customer_id, return_url=request.build_absolute_uri("/account/"))

    urlpatterns = [
        path("billing/portal/", login_required(redirect_view(portal, to_request))),
    ]

To render the error pages yourself (your template, your translation), pass
``render_refusal``: it gets the request and the ``Refusal`` (``refusal.kind``, a
``RefusalKind``) and returns an ``HttpResponse``; the status and the security headers stay
portalkit's::

    def billing_refused(request: HttpRequest, refusal: Refusal) -> HttpResponse:
        return render(request, "billing/refused.html", {"kind": refusal.kind})

    redirect_view(portal, to_request, render_refusal=billing_refused)

``portal`` is a ``Portal``. URL arguments are passed to the view and ignored: ``to_request``
reads them from ``request.resolver_match``, and may raise ``PermissionDenied`` or ``Http404``
as any view code may. The views are not CSRF-exempt: Django's
``CsrfViewMiddleware`` checks the POST as it checks any other, so the button's form needs
``{% csrf_token %}`` (and a ``fetch`` to the JSON view the ``X-CSRFToken`` header).

The vendor's webhooks, verified and handled once (see ``portalkit.web._webhook`` for the
answers)::

    from portalkit.web.django import webhook_view

    def on_event(event: BillingEvent) -> None:
        billing.apply(event)                                # the app's own work

    urlpatterns = [
        path("webhooks/billing/", webhook_view(Webhooks.from_env(), on_event,
                                               event_log=SqlEventLog(url))),
    ]

The webhook view is CSRF-exempt (``csrf_exempt``): the vendor sends no token, and its
signature is the proof of origin. It reads the raw body with ``request.read`` (nothing when
``CONTENT_LENGTH`` is already over ``hooks.max_body_bytes``, never more than one byte past
it), not ``request.body``, which ``DATA_UPLOAD_MAX_MEMORY_SIZE`` caps with an error of its
own. Under ASGI, Django itself receives the whole body before any view runs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .._event_log import EventLog
from .._models import PortalLink, PortalRequest
from .._portal import Portal
from .._webhooks import Webhooks
from ._core import (
    REDIRECT_STATUS,
    SECURITY_HEADERS,
    Refusal,
    attempt,
    check_renderer,
    json_body,
    json_error,
    not_a_response,
    refusal_headers,
    render,
    require_sync_portal,
)
from ._webhook import (
    PER_VIEW,
    WRONG_METHOD,
    EventLogChoice,
    Handler,
    WebhookAnswer,
    check_view,
    declared_too_large,
    event_log_for,
    is_delivery_method,
    read_capped,
    receive,
    too_large,
)

__all__ = ["RenderRefusal", "ToRequest", "json_view", "redirect_view", "webhook_view"]

#: The app's function from its request to the PortalRequest for the signed-in customer.
ToRequest = Callable[[HttpRequest], PortalRequest]
#: The app's own page for a refusal (``render(request, template, ...)``, a
#: ``JsonResponse``). Its status and ``Cache-Control``/``Referrer-Policy`` headers are set
#: to the refusal's whatever it returns.
RenderRefusal = Callable[[HttpRequest, Refusal], HttpResponse]
View = Callable[..., HttpResponse]


def redirect_view(
    portal: Portal, to_request: ToRequest, *, render_refusal: RenderRefusal | None = None
) -> View:
    """A view that mints on POST and answers ``303 See Other`` to the portal; a refusal is
    portalkit's plain-text page, or ``render_refusal``'s."""
    require_sync_portal(portal, "django")
    check_renderer(render_refusal, "django")

    def portal_redirect(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        outcome = _attempt(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return _refused(request, outcome, render_refusal, _text_page)
        # Not HttpResponseRedirect: that is a 302, and checks schemes portalkit already checked.
        return HttpResponse(
            status=REDIRECT_STATUS, headers={"Location": outcome.url, **SECURITY_HEADERS}
        )

    return portal_redirect


def json_view(
    portal: Portal, to_request: ToRequest, *, render_refusal: RenderRefusal | None = None
) -> View:
    """A view that mints on POST and answers ``{"url": ...}`` for a front end that opens the
    portal itself (``window.open(url, "_blank", "noopener")``); a refusal is
    ``{"error": ...}``, or ``render_refusal``'s answer."""
    require_sync_portal(portal, "django")
    check_renderer(render_refusal, "django")

    def portal_json(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        outcome = _attempt(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return _refused(request, outcome, render_refusal, _json_page)
        return JsonResponse(json_body(outcome), headers=dict(SECURITY_HEADERS))

    return portal_json


def _attempt(portal: Portal, to_request: ToRequest, request: HttpRequest) -> PortalLink | Refusal:
    # Django routes every method to a view: the check in attempt() is the only one.
    return attempt(portal, request.method or "", lambda: to_request(request))


def _refused(
    request: HttpRequest,
    refusal: Refusal,
    render_refusal: RenderRefusal | None,
    default: Callable[[Refusal], HttpResponse],
) -> HttpResponse:
    if render_refusal is None:
        return default(refusal)
    response = render(render_refusal, request, refusal, _as_response)
    if response is None:
        return default(refusal)
    response.status_code = refusal.status
    for name, value in refusal_headers(refusal).items():
        response[name] = value
    return response


def _as_response(value: object) -> HttpResponse:
    if not isinstance(value, HttpResponse):
        raise not_a_response(value, "an HttpResponse")
    return value


def _text_page(refusal: Refusal) -> HttpResponse:
    return HttpResponse(
        refusal.message,
        status=refusal.status,
        headers=refusal_headers(refusal),
        content_type="text/plain; charset=utf-8",
    )


def _json_page(refusal: Refusal) -> HttpResponse:
    return JsonResponse(
        json_error(refusal), status=refusal.status, headers=refusal_headers(refusal)
    )


def webhook_view(
    hooks: Webhooks, handler: Handler, *, event_log: EventLogChoice = PER_VIEW
) -> View:
    """A CSRF-exempt view that verifies each POSTed delivery and hands its ``BillingEvent``
    to ``handler``, once per event under ``event_log`` (default: in this process's memory;
    ``SqlEventLog`` for several processes or hosts; None: no deduplication)."""
    check_view(hooks, handler, event_log, "django")
    log = event_log_for(event_log)

    def billing_webhook(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        answer = _receive(hooks, handler, log, request)
        return HttpResponse(
            answer.text,
            status=answer.status,
            headers=dict(answer.headers),
            content_type="text/plain; charset=utf-8",
        )

    # The vendor's POST carries no CSRF token; its signature is what proves where it came from.
    view: View = csrf_exempt(billing_webhook)
    return view


def _receive(
    hooks: Webhooks, handler: Handler, log: EventLog | None, request: HttpRequest
) -> WebhookAnswer:
    # Checked here too, not only by the URLconf: Django routes every method to a view.
    if not is_delivery_method(request.method or ""):
        return WRONG_METHOD
    limit = hooks.max_body_bytes
    if declared_too_large(request.META.get("CONTENT_LENGTH"), limit):
        return too_large(hooks)
    body = read_capped(request.read, limit)
    if body is None:
        return too_large(hooks)
    return receive(hooks, request.headers, body, handler, log)
