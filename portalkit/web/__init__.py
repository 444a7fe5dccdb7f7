"""Ready-made "Manage billing" endpoints for web frameworks (the ``web`` extra).

One module per framework; a framework is imported only when its module is::

    portalkit.web.starlette   Starlette and FastAPI (Portal or AsyncPortal)
    portalkit.web.flask       Flask (Portal)
    portalkit.web.django      Django (Portal)

Each offers ``redirect_view(portal, to_request)``, which answers ``303 See Other`` to the
portal, and ``json_view(portal, to_request)``, which answers ``{"url": ...}`` for a front end
that opens the portal in a new tab. ``to_request`` is the app's own function from its
request (its logged-in user) to a ``PortalRequest``. Both mint on POST only, so the POST must
be protected against cross-site request forgery by the app: Django's CSRF middleware applies
as usual; with Flask or Starlette use the app's CSRF protection (a token, or a SameSite
session cookie plus an Origin check).

A refusal (no link minted) is a short generic page: 404 when the vendor knows no such
customer, or the customer has no portal yet; 400 when the request cannot be served; 502 for
anything else; 405 for anything but POST. Pass ``render_refusal=`` to either view to render
that page yourself (a template, a translation for the user's locale): it is called with the
framework's request and a ``Refusal`` (``kind``: a ``RefusalKind``; ``status``; portalkit's
default ``message``; ``provider``; the vendor's ``request_id``), never the vendor's message,
the link or a secret, and returns the framework's response; portalkit sets the status and
the security headers on it. Every refusal is logged once at WARNING on the
``portalkit.web`` logger, with why (for one portalkit decided itself: the field and the rule
it broke); ``logging.basicConfig()`` is enough to see it.

Each also offers ``webhook_view(hooks, handler, event_log=...)``, the other direction: it
reads the vendor's POST as raw bytes (the usual cause of a failed signature is a body the
framework parsed first), refuses a body over ``hooks.max_body_bytes`` unread, verifies it
with ``hooks`` (a ``portalkit.Webhooks``) and calls the app's ``handler`` with the
``BillingEvent``, once per event::

    400  the delivery is refused (bad or missing signature, stale, malformed, too large);
         the body says nothing more, the log names the provider and the reason only
    200  the handler returned, or the event was handled already (a duplicate: not again)
    409  another worker is handling this event right now: the vendor retries later
    500  the handler raised: the event is released, and the vendor's retry runs it again
    405  anything but POST (``Allow: POST``)

``event_log`` is where handled events are kept: by default an ``InMemoryEventLog`` per view
(one process); ``portalkit.sql_event_log.SqlEventLog`` (the ``sql`` extra) for an app on
several processes or hosts, which share its database; None for no deduplication. The
webhook views are exempt from CSRF checks where the framework makes them (Django); with
Flask-WTF, exempt the view (``csrf.exempt(view)``).

This package itself imports no framework: it holds the shared rules (``Refusal``,
``RefusalKind``, ``refusal_for``, ``SECURITY_HEADERS``; ``receive`` and ``WebhookAnswer``
for webhooks) for anyone wiring portalkit into another framework.
"""

from ._core import (
    ALLOWED_METHOD,
    REDIRECT_STATUS,
    SECURITY_HEADERS,
    Refusal,
    RefusalKind,
    refusal_for,
)
from ._webhook import WebhookAnswer, receive

__all__ = [
    "ALLOWED_METHOD",
    "REDIRECT_STATUS",
    "SECURITY_HEADERS",
    "Refusal",
    "RefusalKind",
    "WebhookAnswer",
    "receive",
    "refusal_for",
]
