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

This package itself imports no framework: it holds the shared rules (``refusal_for``,
``SECURITY_HEADERS``) for anyone wiring portalkit into another framework.
"""

from ._core import (
    ALLOWED_METHOD,
    REDIRECT_STATUS,
    SECURITY_HEADERS,
    Refusal,
    refusal_for,
)

__all__ = ["ALLOWED_METHOD", "REDIRECT_STATUS", "SECURITY_HEADERS", "Refusal", "refusal_for"]
