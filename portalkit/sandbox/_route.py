"""A vendor's create route: log the request, then apply the next scripted fault or answer
as the vendor would."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from ._api import Call, VendorApi, json_response
from ._inject import inject
from ._store import ReceivedRequest, Store, utc

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
            base_url=bound_base_url(request.scope),
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
