"""The sandbox's ASGI application: the three vendors' create routes at their real paths,
the hosted portal pages, and the ``/_sandbox`` control endpoints, under the wire layer
that adds the security headers and exposes the connection to faults."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._connection import WireLayer
from ._control import Control
from ._paddle import PaddleApi
from ._pages import PortalPages
from ._paylera import PayleraApi
from ._plugipay import PlugipayApi
from ._route import create_route
from ._store import Store

#: Request bodies larger than this are refused (413) before any route reads them.
MAX_BODY_BYTES = 1024 * 1024


async def _too_deep(request: Request, exc: Exception) -> Response:
    """A body nested deeper than Python's stack, on any route: a bad request, not a 500."""
    return JSONResponse({"error": "the body is JSON nested too deeply"}, 400)


def build_app(store: Store, wall_clock: Callable[[], float]) -> WireLayer:
    routes = [
        create_route(PlugipayApi(wall_clock), store),
        create_route(PayleraApi(), store),
        create_route(PaddleApi(), store),
        *Control(store).routes(),
        *PortalPages(store).routes(),
    ]
    app = Starlette(
        routes=routes,
        max_body_size=MAX_BODY_BYTES,
        exception_handlers={RecursionError: _too_deep},
    )
    return WireLayer(app)
