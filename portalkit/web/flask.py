"""The "Manage billing" view for Flask.

::

    from portalkit.web.flask import redirect_view

    def to_request(request: flask.Request) -> PortalRequest:
        user = current_user                                 # the app's own login
        return PortalRequest(user.billing_customer_id, return_url=app.config["ACCOUNT_URL"])

    view = login_required(redirect_view(portal, to_request))
    app.add_url_rule("/billing/portal", view_func=view, methods=["POST"])

To render the error pages yourself (your template, your translation), pass
``render_refusal``: it gets the request and the ``Refusal`` (``refusal.kind``, a
``RefusalKind``), and returns what a Flask view may return; the status and the security
headers stay portalkit's. Each refusal is logged at WARNING on ``portalkit.web``, with
why::

    def billing_refused(request: flask.Request, refusal: Refusal) -> str:
        return flask.render_template("billing_refused.html", kind=refusal.kind)

    view = redirect_view(portal, to_request, render_refusal=billing_refused)

``portal`` is a ``Portal``. URL variables of the rule are passed to the view and ignored:
``to_request`` reads them from ``request.view_args``, and may ``abort(401)`` for a visitor
who is not signed in. The views are named ``portal_redirect`` and ``portal_json``; pass
``endpoint=`` to ``add_url_rule`` when an app mounts more than one of a kind. Flask has no
CSRF protection of its own: protect the POST with the app's (Flask-WTF's ``CSRFProtect``,
or a SameSite session cookie plus an Origin check).

The vendor's webhooks, verified and handled once (see ``portalkit.web._webhook`` for the
answers)::

    from portalkit.web.flask import webhook_view

    def on_event(event: BillingEvent) -> None:
        billing.apply(event)                                # the app's own work

    view = webhook_view(Webhooks.from_env(), on_event, event_log=SqlEventLog(url))
    app.add_url_rule("/webhooks/billing", view_func=view, methods=["POST"])
    csrf.exempt(view)                                       # with Flask-WTF's CSRFProtect

The view reads the raw body from ``request.stream`` (never more than one byte past
``hooks.max_body_bytes``, and nothing when ``Content-Length`` is already over it), so no
code may read ``request.data`` or ``request.form`` before it. Flask checks no CSRF token by
itself, but Flask-WTF's ``CSRFProtect`` refuses the vendor's POST, which carries none:
exempt the view as above. It is named ``billing_webhook``; pass ``endpoint=`` when mounting
one per vendor.
"""

from __future__ import annotations

from collections.abc import Callable

import flask
from flask.typing import ResponseReturnValue

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
ToRequest = Callable[[flask.Request], PortalRequest]
#: The app's own page for a refusal: anything a Flask view may return (a template's text, a
#: ``Response``, a dict for JSON). Its status and ``Cache-Control``/``Referrer-Policy``
#: headers are set to the refusal's whatever it returns.
RenderRefusal = Callable[[flask.Request, Refusal], ResponseReturnValue]
View = Callable[..., flask.Response]


def redirect_view(
    portal: Portal, to_request: ToRequest, *, render_refusal: RenderRefusal | None = None
) -> View:
    """A view that mints on POST and answers ``303 See Other`` to the portal; a refusal is
    portalkit's plain-text page, or ``render_refusal``'s."""
    require_sync_portal(portal, "flask")
    check_renderer(render_refusal, "flask")

    def portal_redirect(**url_values: object) -> flask.Response:
        outcome = _attempt(portal, to_request)
        if isinstance(outcome, Refusal):
            return _refused(outcome, render_refusal, _text_page)
        return flask.Response(
            status=REDIRECT_STATUS, headers={"Location": outcome.url, **SECURITY_HEADERS}
        )

    return portal_redirect


def json_view(
    portal: Portal, to_request: ToRequest, *, render_refusal: RenderRefusal | None = None
) -> View:
    """A view that mints on POST and answers ``{"url": ...}`` for a front end that opens the
    portal itself (``window.open(url, "_blank", "noopener")``); a refusal is
    ``{"error": ...}``, or ``render_refusal``'s answer."""
    require_sync_portal(portal, "flask")
    check_renderer(render_refusal, "flask")

    def portal_json(**url_values: object) -> flask.Response:
        outcome = _attempt(portal, to_request)
        if isinstance(outcome, Refusal):
            return _refused(outcome, render_refusal, _json_page)
        response = flask.jsonify(json_body(outcome))
        response.headers.update(SECURITY_HEADERS)
        return response

    return portal_json


def _attempt(portal: Portal, to_request: ToRequest) -> PortalLink | Refusal:
    request = flask.request
    return attempt(portal, request.method, lambda: to_request(request))


def _refused(
    refusal: Refusal,
    render_refusal: RenderRefusal | None,
    default: Callable[[Refusal], flask.Response],
) -> flask.Response:
    if render_refusal is None:
        return default(refusal)
    response = render(render_refusal, flask.request, refusal, _as_response)
    if response is None:
        return default(refusal)
    response.status_code = refusal.status
    response.headers.update(refusal_headers(refusal))
    return response


def _as_response(value: object) -> flask.Response:
    # make_response takes what a view may return, and raises TypeError on anything else.
    response = flask.make_response(value)
    if not isinstance(response, flask.Response):
        raise not_a_response(value, "a Flask response")
    return response


def _text_page(refusal: Refusal) -> flask.Response:
    return flask.Response(
        refusal.message, refusal.status, refusal_headers(refusal), mimetype="text/plain"
    )


def _json_page(refusal: Refusal) -> flask.Response:
    response = flask.jsonify(json_error(refusal))
    response.status_code = refusal.status
    response.headers.update(refusal_headers(refusal))
    return response


def webhook_view(
    hooks: Webhooks, handler: Handler, *, event_log: EventLogChoice = PER_VIEW
) -> View:
    """A view that verifies each POSTed delivery and hands its ``BillingEvent`` to
    ``handler``, once per event under ``event_log`` (default: in this process's memory;
    ``SqlEventLog`` for several processes or hosts; None: no deduplication)."""
    check_view(hooks, handler, event_log, "flask")
    log = event_log_for(event_log)

    def billing_webhook(**url_values: object) -> flask.Response:
        answer = _receive(hooks, handler, log, flask.request)
        return flask.Response(
            answer.text, answer.status, dict(answer.headers), mimetype="text/plain"
        )

    return billing_webhook


def _receive(
    hooks: Webhooks, handler: Handler, log: EventLog | None, request: flask.Request
) -> WebhookAnswer:
    if not is_delivery_method(request.method):
        return WRONG_METHOD
    limit = hooks.max_body_bytes
    if declared_too_large(request.content_length, limit):
        return too_large(hooks)
    body = read_capped(request.stream.read, limit)
    if body is None:
        return too_large(hooks)
    return receive(hooks, dict(request.headers.items()), body, handler, log)
