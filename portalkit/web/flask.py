"""The "Manage billing" view for Flask.

::

    from portalkit.web.flask import redirect_view

    def to_request(request: flask.Request) -> PortalRequest:
        user = current_user                                 # the app's own login
        return PortalRequest(user.billing_customer_id, return_url=app.config["ACCOUNT_URL"])

    view = login_required(redirect_view(portal, to_request))
    app.add_url_rule("/billing/portal", view_func=view, methods=["POST"])

``portal`` is a ``Portal``. URL variables of the rule are passed to the view and ignored:
``to_request`` reads them from ``request.view_args``, and may ``abort(401)`` for a visitor
who is not signed in. The views are named ``portal_redirect`` and ``portal_json``; pass
``endpoint=`` to ``add_url_rule`` when mounting one twice. Flask has no CSRF protection of
its own: protect the POST with the app's (Flask-WTF's ``CSRFProtect``, or a SameSite
session cookie plus an Origin check).
"""

from __future__ import annotations

from collections.abc import Callable

import flask

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
ToRequest = Callable[[flask.Request], PortalRequest]
View = Callable[..., flask.Response]


def redirect_view(portal: Portal, to_request: ToRequest) -> View:
    """A view that mints on POST and answers ``303 See Other`` to the portal."""
    require_sync_portal(portal, "flask")

    def portal_redirect(**url_values: object) -> flask.Response:
        outcome = _mint(portal, to_request)
        if isinstance(outcome, Refusal):
            return flask.Response(
                outcome.message, outcome.status, refusal_headers(outcome), mimetype="text/plain"
            )
        return flask.Response(
            status=REDIRECT_STATUS, headers={"Location": outcome.url, **SECURITY_HEADERS}
        )

    return portal_redirect


def json_view(portal: Portal, to_request: ToRequest) -> View:
    """A view that mints on POST and answers ``{"url": ...}`` for a front end that opens the
    portal itself (``window.open(url, "_blank", "noopener")``)."""
    require_sync_portal(portal, "flask")

    def portal_json(**url_values: object) -> flask.Response:
        outcome = _mint(portal, to_request)
        if isinstance(outcome, Refusal):
            response = flask.jsonify(json_error(outcome))
            response.status_code = outcome.status
            response.headers.update(refusal_headers(outcome))
            return response
        response = flask.jsonify(json_body(outcome))
        response.headers.update(SECURITY_HEADERS)
        return response

    return portal_json


def _mint(portal: Portal, to_request: ToRequest) -> PortalLink | Refusal:
    request = flask.request
    # Checked here too, not only by the rule: a view mounted without methods=["POST"] must
    # still never mint on a GET.
    if not is_mint_method(request.method):
        return METHOD_NOT_ALLOWED
    return mint(portal, lambda: to_request(request))
