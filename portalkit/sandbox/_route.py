"""A twin's API route: log the request, then apply the next scripted fault for its vendor
or answer as the vendor would."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from ._inject import inject, json_response
from ._store import ReceivedRequest, Store, TwinStore, utc
from .twin import ApiRoute, Call, Twin

#: A wildcard bind address, and the loopback address links use for it.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def bound_base_url(scope: Scope) -> str:
    """The sandbox's own root URL, from the address its server is bound to -- never from the
    request's ``Host`` header, which any client sets (``Host: evil.example`` would otherwise
    mint links on evil.example). A wildcard bind (0.0.0.0) mints loopback links. Without a
    server address (an in-process ASGI transport), the request's URL is the only root."""
    server = scope.get("server")
    if not server:
        return "http://127.0.0.1"
    host, port = server[0], server[1]
    host = _WILDCARDS.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    scheme = scope.get("scheme", "http")
    return f"{scheme}://{shown}" if port is None else f"{scheme}://{shown}:{port}"


def api_route(
    twin: Twin, route: ApiRoute, store: Store, wall_clock: Callable[[], float] = time.time
) -> Route:
    view = TwinStore(store, twin.name)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        now = store.now()
        call = Call(
            vendor=twin.name,
            request_id=twin.request_id(now),
            method=request.method,
            path=request.url.path,
            route=route.path,
            path_params={k: str(v) for k, v in request.path_params.items()},
            query=dict(request.query_params),
            headers=request.headers,
            body=body,
            base_url=bound_base_url(request.scope),
            now=now,
            wall_now=wall_clock(),
            store=view,
        )
        store.record(
            ReceivedRequest(
                vendor=twin.name,
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                received_at=utc(now),
            )
        )
        fault = store.next_fault(twin.name)
        if fault is None:
            return json_response(twin.answer(route, call), call)
        return await inject(fault, call, twin, route, store, request.scope)

    return Route(route.path, endpoint, methods=[route.method])
