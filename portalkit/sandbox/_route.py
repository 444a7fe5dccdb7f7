"""A twin's API route: log the request, then apply the next scripted fault for its vendor
or answer as the vendor would."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._inject import inject, json_response
from ._store import ReceivedRequest, Store, TwinStore, utc
from .twin import ApiRoute, Call, Twin


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
            base_url=str(request.base_url).rstrip("/"),
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
