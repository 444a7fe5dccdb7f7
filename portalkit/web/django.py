"""The "Manage billing" view for Django.

::

    from portalkit.web.django import redirect_view

    def to_request(request: HttpRequest) -> PortalRequest:
        customer_id = request.user.billing.customer_id      # the app's own mapping
        return PortalRequest(customer_id, return_url=request.build_absolute_uri("/account/"))

    urlpatterns = [
        path("billing/portal/", login_required(redirect_view(portal, to_request))),
    ]

``portal`` is a ``Portal``. URL arguments are passed to the view and ignored: ``to_request``
reads them from ``request.resolver_match``, and may raise ``PermissionDenied`` or ``Http404``
as any view code may. The views are not CSRF-exempt: Django's
``CsrfViewMiddleware`` checks the POST as it checks any other, so the button's form needs
``{% csrf_token %}`` (and a ``fetch`` to the JSON view the ``X-CSRFToken`` header).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from .._models import PortalLink, PortalRequest
from .._portal import Portal
from ._core import (
    METHOD_NOT_ALLOWED,
    REDIRECT_STATUS,
    SECURITY_HEADERS,
    Refusal,
    is_mint_method,
    json_body,
    json_error,
    mint,
    refusal_headers,
    require_sync_portal,
)

__all__ = ["ToRequest", "json_view", "redirect_view"]

#: The app's function from its request to the PortalRequest for the signed-in customer.
ToRequest = Callable[[HttpRequest], PortalRequest]
View = Callable[..., HttpResponse]


def redirect_view(portal: Portal, to_request: ToRequest) -> View:
    """A view that mints on POST and answers ``303 See Other`` to the portal."""
    require_sync_portal(portal, "django")

    def portal_redirect(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        outcome = _mint(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return HttpResponse(
                outcome.message,
                status=outcome.status,
                headers=refusal_headers(outcome),
                content_type="text/plain; charset=utf-8",
            )
        # Not HttpResponseRedirect: that is a 302, and checks schemes portalkit already checked.
        return HttpResponse(
            status=REDIRECT_STATUS, headers={"Location": outcome.url, **SECURITY_HEADERS}
        )

    return portal_redirect


def json_view(portal: Portal, to_request: ToRequest) -> View:
    """A view that mints on POST and answers ``{"url": ...}`` for a front end that opens the
    portal itself (``window.open(url, "_blank", "noopener")``)."""
    require_sync_portal(portal, "django")

    def portal_json(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        outcome = _mint(portal, to_request, request)
        if isinstance(outcome, Refusal):
            return JsonResponse(
                json_error(outcome), status=outcome.status, headers=refusal_headers(outcome)
            )
        return JsonResponse(json_body(outcome), headers=dict(SECURITY_HEADERS))

    return portal_json


def _mint(portal: Portal, to_request: ToRequest, request: HttpRequest) -> PortalLink | Refusal:
    # Checked here too, not only by the URLconf: Django routes every method to a view.
    if not is_mint_method(request.method or ""):
        return METHOD_NOT_ALLOWED
    return mint(portal, lambda: to_request(request))
