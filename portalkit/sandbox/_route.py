"""A vendor's create route: log the request, then apply the next scripted fault or answer
as the vendor would."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._api import Call, VendorApi, json_response
from ._inject import inject
from ._store import ReceivedRequest, Store, utc


def create_route(api: VendorApi, store: Store) -> Route:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        now = store.now()
        call = Call(
            vendor=api.name,
            request_id=api.request_id(now),
            method=request.method,
            path=request.url.path,
            path_params={k: str(v) for k, v in request.path_params.items()},
            headers=request.headers,
            body=body,
            base_url=str(request.base_url).rstrip("/"),
            now=now,
        )
        store.record(
            ReceivedRequest(
                vendor=api.name,
                method=request.method,
                path=request.url.path,
                query=request.url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                received_at=utc(now),
            )
        )
        fault = store.next_fault(api.name)
        if fault is None:
            return json_response(api.create(call, store), call)
        return await inject(fault, call, api, store, request.scope)

    return Route(api.path, endpoint, methods=["POST"])
