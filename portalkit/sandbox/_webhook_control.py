"""HTTP control endpoints for the sandbox's webhooks, beside ``_control.py``'s (same rules:
JSON bodies, ``Content-Type: application/json`` on every POST, ``{"error": ...}`` with 400 or
404), for a sandbox in another process (``portalkit sandbox``):

    GET    /_sandbox/{vendor}/webhooks                 env, endpoints, changes, pending faults
    POST   /_sandbox/{vendor}/webhooks/endpoints       {"url": "http://127.0.0.1:8000/hooks"}
    DELETE /_sandbox/{vendor}/webhooks/endpoints       every endpoint of the vendor
    POST   /_sandbox/{vendor}/webhooks/trigger         {"change": "subscription_canceled",
                                                        "customer_id"?, "subscription_id"?}
    POST   /_sandbox/{vendor}/webhooks/faults          {"faults": [{"kind": "duplicate"}, ...]}
    GET    /_sandbox/{vendor}/webhooks/deliveries      the delivery log, attempts included
    GET    /_sandbox/{vendor}/subscriptions/{subscription_id}      the subscription's state
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._changes import Changes
from ._control import Handler, _guarded, _json, _optional_text
from ._deliveries import Deliveries
from ._delivery_faults import DeliveryFault
from ._store import Store

if TYPE_CHECKING:
    from .twin import Twin


class WebhookControl:
    def __init__(
        self, twins: Sequence[Twin], store: Store, changes: Changes, deliveries: Deliveries
    ) -> None:
        self.vendors = tuple(twin.name for twin in twins)
        self.store = store
        self.changes = changes
        self.deliveries = deliveries

    def routes(self) -> list[Route]:
        def route(path: str, handler: Handler, method: str) -> Route:
            guarded = _guarded(self._with_webhooks(handler), self.vendors)
            return Route(f"/_sandbox/{{vendor}}{path}", guarded, methods=[method])

        return [
            route("/webhooks", self.overview, "GET"),
            route("/webhooks/endpoints", self.add_endpoint, "POST"),
            route("/webhooks/endpoints", self.clear_endpoints, "DELETE"),
            route("/webhooks/trigger", self.trigger, "POST"),
            route("/webhooks/faults", self.add_faults, "POST"),
            route("/webhooks/deliveries", self.list_deliveries, "GET"),
            route("/subscriptions/{subscription_id}", self.subscription, "GET"),
        ]

    def _with_webhooks(self, handler: Handler) -> Handler:
        """A twin that sends no webhooks has none of these: 404 naming it."""

        async def endpoint(request: Request) -> Response:
            vendor = request.path_params["vendor"]
            if vendor in self.vendors:
                try:
                    self.changes.hooks(vendor)
                except ValueError as exc:
                    return JSONResponse({"error": str(exc)}, 404)
            return await handler(request)

        return endpoint

    async def overview(self, request: Request) -> Response:
        vendor = request.path_params["vendor"]
        hooks = self.changes.hooks(vendor)
        return JSONResponse(
            {
                "env": {"PORTALKIT_PROVIDER": vendor, **hooks.env},
                "endpoints": self.deliveries.endpoints(vendor),
                "changes": sorted(change.value for change in hooks.changes),
                "pending_faults": [f.to_json() for f in self.deliveries.pending_faults(vendor)],
            }
        )

    async def add_endpoint(self, request: Request) -> Response:
        vendor = request.path_params["vendor"]
        url = (await _json(request)).get("url")
        if not isinstance(url, str):
            raise ValueError("'url' must be a string")
        self.deliveries.add_endpoint(vendor, url)
        return JSONResponse({"endpoints": self.deliveries.endpoints(vendor)}, 201)

    async def clear_endpoints(self, request: Request) -> Response:
        self.deliveries.remove_endpoint(request.path_params["vendor"])
        return Response(status_code=204)

    async def trigger(self, request: Request) -> Response:
        data = await _json(request)
        if "change" not in data:
            raise ValueError("'change' is required (an EventType value)")
        applied = self.changes.trigger(
            request.path_params["vendor"],
            data["change"],
            customer_id=_optional_text(data, "customer_id"),
            subscription_id=_optional_text(data, "subscription_id"),
        )
        return JSONResponse(applied.to_json(), 202)  # accepted: the deliveries follow

    async def add_faults(self, request: Request) -> Response:
        faults = (await _json(request)).get("faults")
        if not isinstance(faults, list):
            raise ValueError("'faults' must be a list of delivery fault objects")
        parsed = [DeliveryFault.from_json(item) for item in faults]
        queued = self.deliveries.queue_faults(request.path_params["vendor"], parsed)
        return JSONResponse({"queued": queued})

    async def list_deliveries(self, request: Request) -> Response:
        log = self.deliveries.log.deliveries(request.path_params["vendor"])
        return JSONResponse({"deliveries": [d.to_json() for d in log]})

    async def subscription(self, request: Request) -> Response:
        state = self.store.subscription_state(
            request.path_params["vendor"], request.path_params["subscription_id"]
        )
        return JSONResponse(attrs.asdict(state))
