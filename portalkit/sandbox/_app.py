"""The sandbox's ASGI application: every twin's API routes at their real paths and its
hosted portal pages, and the ``/_sandbox`` control endpoints (webhooks' included), under the
wire layer that adds the security headers and exposes the connection to faults."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._changes import Changes
from ._connection import WireLayer
from ._control import Control
from ._deliveries import Deliveries
from ._describe import served
from ._pages import PortalPages
from ._route import api_route, bound_base_url
from ._store import Store
from ._webhook_control import WebhookControl
from .twin import Twin

#: Request bodies larger than this are refused (413) before any route reads them.
MAX_BODY_BYTES = 1024 * 1024


async def _too_deep(request: Request, exc: Exception) -> Response:
    """A body nested deeper than Python's stack, on any route: a bad request, not a 500."""
    return JSONResponse({"error": "the body is JSON nested too deeply"}, 400)


def _signatures(routes: Sequence[Route]) -> list[str]:
    """``["GET /_sandbox", ...]``: each route's methods (HEAD, which Starlette adds to every
    GET, left out) and path."""
    return [
        f"{method} {route.path}"
        for route in routes
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]


def _root(
    twins: Sequence[Twin],
    control: Sequence[Route],
    webhook_control: Sequence[Route],
    pages: Sequence[Route],
) -> Route:
    """``GET /``: what the sandbox serves (``served``), for whoever opens its URL."""
    listed = {
        "control": _signatures(control),
        "webhook_control": _signatures(webhook_control),
        "pages": _signatures(pages),
    }

    async def root(request: Request) -> Response:
        url = bound_base_url(request.scope)
        return JSONResponse(served(twins, url, **listed))

    return Route("/", root, methods=["GET"])


def build_app(
    twins: Sequence[Twin],
    store: Store,
    wall_clock: Callable[[], float],
    changes: Changes,
    deliveries: Deliveries,
) -> WireLayer:
    routes: list[Route] = []
    owner: dict[tuple[str, str], str] = {}
    for twin in twins:
        for route in twin.routes:
            # Two vendors on one path would shadow each other: refuse it at start, by name.
            taken = owner.setdefault((route.method, route.path), twin.name)
            if taken != twin.name:
                raise ValueError(f"sandbox twins {taken!r} and {twin.name!r} both serve {route}")
            routes.append(api_route(twin, route, store, wall_clock))
    control = Control(twins, store).routes()
    webhook_control = WebhookControl(twins, store, changes, deliveries).routes()
    pages = PortalPages(twins, store, changes).routes()
    routes += [*control, *webhook_control, *pages]
    routes.append(_root(twins, control, webhook_control, pages))
    app = Starlette(
        routes=routes,
        max_body_size=MAX_BODY_BYTES,
        exception_handlers={RecursionError: _too_deep},
    )
    return WireLayer(app)
