"""HTTP control endpoints under ``/_sandbox``: drive a sandbox that runs in another process
(``portalkit sandbox``) the way ``Sandbox``'s methods drive one in-process.

    GET    /                                           what the sandbox serves, per vendor
                                                       (its API, portal pages, these endpoints)
    GET    /_sandbox                                   credentials, customers, pending faults
    POST   /_sandbox/reset                             back to the seeded state
    POST   /_sandbox/advance            {"seconds": 900}
    POST   /_sandbox/{vendor}/faults    {"faults": [{"kind": "status", "status": 429,
                                                     "retry_after": 1}, ...]}
    DELETE /_sandbox/{vendor}/faults
    GET    /_sandbox/{vendor}/customers
    POST   /_sandbox/{vendor}/customers {"customer_id": optional}
    POST   /_sandbox/{vendor}/customers/{customer_id}/subscriptions
                                        {"subscription_id": optional}
    GET    /_sandbox/{vendor}/sessions                 minted sessions, without URLs or tokens
    GET    /_sandbox/{vendor}/received                 the request log, credentials redacted

Errors answer ``{"error": "<what is wrong>"}`` with 400 (bad input) or 404 (unknown vendor
or customer). A POST must say ``Content-Type: application/json`` (415 otherwise), so a web
page open in a developer's browser cannot drive the sandbox with a simple form post.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._registry import did_you_mean
from ._describe import overview
from ._faults import Fault
from ._route import bound_base_url
from ._store import Store, utc

if TYPE_CHECKING:
    from .twin import Twin

#: Request headers that carry credentials for every vendor: shown as "<redacted>" in the
#: request log (with each twin's own ``secret_headers``).
SECRET_HEADERS = frozenset({"authorization", "cookie"})

Handler = Callable[[Request], Awaitable[Response]]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status)


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("the body is JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _guarded(handler: Handler, vendors: Sequence[str]) -> Handler:
    """Unknown vendor -> 404; bad JSON or a rejected value -> 400; unknown customer -> 404."""

    async def endpoint(request: Request) -> Response:
        if request.method == "POST" and not _is_json(request):
            # A web page can send a "simple" cross-site POST (form or text/plain) without
            # asking first; application/json needs a CORS preflight, which this never grants.
            return _error(415, "the control endpoints take only Content-Type: application/json")
        vendor = request.path_params.get("vendor")
        if vendor is not None and vendor not in vendors:
            hint = did_you_mean(vendor, vendors)
            return _error(
                404, f"unknown vendor {vendor!r}; expected one of {', '.join(vendors)}{hint}"
            )
        try:
            return await handler(request)
        except KeyError as exc:
            return _error(404, str(exc.args[0]) if exc.args else "not found")
        except (ValueError, TypeError) as exc:
            return _error(400, str(exc))

    return endpoint


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


class Control:
    def __init__(self, twins: Sequence[Twin], store: Store) -> None:
        self.twins = {twin.name: twin for twin in twins}
        self.store = store

    def routes(self) -> list[Route]:
        vendors = tuple(self.twins)

        def route(path: str, handler: Handler, method: str) -> Route:
            return Route(f"/_sandbox{path}", _guarded(handler, vendors), methods=[method])

        return [
            route("", self.overview, "GET"),
            route("/reset", self.reset, "POST"),
            route("/advance", self.advance, "POST"),
            route("/{vendor}/faults", self.add_faults, "POST"),
            route("/{vendor}/faults", self.clear_faults, "DELETE"),
            route("/{vendor}/customers", self.customers, "GET"),
            route("/{vendor}/customers", self.add_customer, "POST"),
            route("/{vendor}/customers/{customer_id}/subscriptions", self.add_subscription, "POST"),
            route("/{vendor}/sessions", self.sessions, "GET"),
            route("/{vendor}/received", self.received, "GET"),
        ]

    async def overview(self, request: Request) -> Response:
        twins = list(self.twins.values())
        return JSONResponse(overview(twins, self.store, bound_base_url(request.scope)))

    async def reset(self, request: Request) -> Response:
        self.store.reset()
        return Response(status_code=204)

    async def advance(self, request: Request) -> Response:
        seconds = (await _json(request)).get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise ValueError("'seconds' must be a number")
        self.store.advance(float(seconds))
        return JSONResponse({"now": _iso(self.store.now())})

    async def add_faults(self, request: Request) -> Response:
        faults = (await _json(request)).get("faults")
        if not isinstance(faults, list):
            raise ValueError("'faults' must be a list of fault objects")
        parsed = [Fault.from_json(item) for item in faults]
        queued = self.store.queue_faults(request.path_params["vendor"], parsed)
        return JSONResponse({"queued": queued})

    async def clear_faults(self, request: Request) -> Response:
        self.store.clear_faults(request.path_params["vendor"])
        return Response(status_code=204)

    async def customers(self, request: Request) -> Response:
        vendor = request.path_params["vendor"]
        store = self.store
        listing = [
            {"id": cid, "subscriptions": store.subscriptions(vendor, cid)}
            for cid in store.customers(vendor)
        ]
        return JSONResponse({"customers": listing})

    async def add_customer(self, request: Request) -> Response:
        customer_id = _optional_text(await _json(request), "customer_id")
        created = self.store.add_customer(request.path_params["vendor"], customer_id)
        return JSONResponse({"customer_id": created}, 201)

    async def add_subscription(self, request: Request) -> Response:
        subscription_id = _optional_text(await _json(request), "subscription_id")
        created = self.store.add_subscription(
            request.path_params["vendor"], request.path_params["customer_id"], subscription_id
        )
        return JSONResponse({"subscription_id": created}, 201)

    async def sessions(self, request: Request) -> Response:
        listing = [
            {
                "id": s.id,
                "customer_id": s.customer_id,
                "return_url": s.return_url,
                "configuration": s.configuration,
                "subscription_ids": list(s.subscription_ids),
                "locale": s.locale,
                "account_id": s.account_id,
                "idempotency_key": s.idempotency_key,
                "created_at": s.created_at.isoformat(),
                "expires_at": s.expires_at.isoformat(),
                "used": s.used,
            }
            for s in self.store.sessions(request.path_params["vendor"])
        ]
        return JSONResponse({"sessions": listing})

    async def received(self, request: Request) -> Response:
        vendor = request.path_params["vendor"]
        secret = SECRET_HEADERS | self.twins[vendor].secret_headers
        listing = [
            {
                "method": r.method,
                "path": r.path,
                "query": r.query,
                "headers": {k: ("<redacted>" if k in secret else v) for k, v in r.headers.items()},
                "body": r.body.decode("utf-8", "replace"),
                "body_length": r.body_length if r.body_length is not None else len(r.body),
                "received_at": r.received_at.isoformat(),
            }
            for r in self.store.received(vendor)
        ]
        return JSONResponse({"received": listing})


def _optional_text(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{field!r} must be a string")
    return value


def _iso(seconds: float) -> str:
    return utc(seconds).isoformat()
