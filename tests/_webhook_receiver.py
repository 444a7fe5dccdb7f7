"""An app that receives the sandbox's webhooks, for the tests that watch them arrive: served
on 127.0.0.1 by tests/_web_server.py, so the sandbox's deliveries cross a real socket.

- ``/hooks/{vendor}``: portalkit's own Starlette ``webhook_view``, verifying with
  ``Webhooks.from_env(sandbox.webhook_env(vendor))`` as an app would; its handler records
  each event it is given, and raises while ``fail_next[vendor]`` is above 0 (the view then
  answers 500 and the sandbox retries).
- ``/raw``: records every request as it came (headers, body) and answers the next status of
  ``statuses`` (200 once they run out), after the next delay of ``delays`` (if any).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Mapping

import attrs
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from portalkit import BillingEvent, Webhooks
from portalkit.web.starlette import webhook_view


@attrs.frozen
class RawHit:
    headers: Mapping[str, str]
    body: bytes


class Receiver:
    def __init__(self, envs: Mapping[str, Mapping[str, str]]) -> None:
        self._lock = threading.Lock()
        self.envs = dict(envs)
        self.events: dict[str, list[BillingEvent]] = {}
        self.handler_calls: dict[str, int] = {}
        self.fail_next: dict[str, int] = {}
        self.raw: list[RawHit] = []
        self.statuses: deque[int] = deque()
        self.delays: deque[float] = deque()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.events = {vendor: [] for vendor in self.envs}
            self.handler_calls = dict.fromkeys(self.envs, 0)
            self.fail_next = dict.fromkeys(self.envs, 0)
            self.raw = []
            self.statuses.clear()
            self.delays.clear()

    def app(self) -> Starlette:
        routes = [Route("/raw", self._raw, methods=["POST"])]
        for vendor, env in self.envs.items():
            view = webhook_view(Webhooks.from_env(env), self._handler(vendor))
            routes.append(Route(f"/hooks/{vendor}", view, methods=["POST"]))
        return Starlette(routes=routes)

    def _handler(self, vendor: str):  # type: ignore[no-untyped-def]
        def handle(event: BillingEvent) -> None:
            with self._lock:
                self.handler_calls[vendor] += 1
                if self.fail_next[vendor] > 0:
                    self.fail_next[vendor] -= 1
                    raise RuntimeError("the app's handler failed (on purpose)")
                self.events[vendor].append(event)

        return handle

    async def _raw(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.raw.append(RawHit(dict(request.headers), body))
            delay = self.delays.popleft() if self.delays else 0.0
            status = self.statuses.popleft() if self.statuses else 200
        if delay:
            await asyncio.sleep(delay)
        return PlainTextResponse("", status)
