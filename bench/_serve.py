"""The benchmark servers, each in its own process: ``python -m bench._serve KIND``.

Prints one JSON line (its ``pid`` and, per vendor, ``url``, ``credentials`` and
``customer_id``), then serves until its standard input closes. In a process of its own a
server runs on the other core and never competes with the client being measured for the GIL;
its CPU time is read from ``/proc/<pid>/stat`` for the sandbox's throughput figure.

- ``minimal``: a few lines of asyncio, one port per registered vendor, answering every
  request with that vendor's canned answer, prepared once -- as fast as a Python server gets,
  so the client's own cost stands out.
- ``sandbox``: portalkit's vendor emulator (``portalkit.sandbox``: starlette on uvicorn), every
  registered twin, with the twin's credentials and first seeded customer.
- ``starlette``: a bare Starlette JSON endpoint on the sandbox's own uvicorn set-up
  (``portalkit.sandbox._server``): the yardstick for the sandbox's throughput.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from ._vendor import VendorBench, declaration, registered


def _announce(targets: dict[str, dict[str, Any]]) -> None:
    print(json.dumps({"pid": os.getpid(), "targets": targets}), flush=True)


def serve_sandbox() -> None:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        targets = {
            vendor: {
                "url": sandbox.base_url(vendor),
                "credentials": {
                    **sandbox.credentials(vendor),
                    **sandbox.twin(vendor).environment,
                },
                "customer_id": sandbox.customers(vendor)[0],
            }
            for vendor in sandbox.vendors
        }
        _announce(targets)
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)


BARE_ANSWER = {"id": "ps_bare", "url": "https://portal.example.com/p/ps_bare"}


def serve_starlette() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from portalkit.sandbox._server import ServerThread

    async def endpoint(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse(BARE_ANSWER, status_code=201)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])
    server = ServerThread(app, "127.0.0.1", 0)
    server.start()
    try:
        _announce({"starlette": {"url": f"http://127.0.0.1:{server.port}"}})
        sys.stdin.read()
    finally:
        server.stop()


def _answer(bench: VendorBench) -> bytes:
    body = bench.body()
    head = (
        f"HTTP/1.1 {bench.status} {HTTPStatus(bench.status).phrase}\r\n"
        f"Content-Type: {bench.content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


class _MinimalHttp(asyncio.Protocol):
    """HTTP/1.1 keep-alive, one request at a time per connection: enough for httpx and
    requests. Every request gets the prepared answer."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return  # the rest of the body is still on its way
            del self.buffer[:total]
            assert self.transport is not None
            self.transport.write(self.answer)


def _protocol(answer: bytes) -> Callable[[], _MinimalHttp]:
    return lambda: _MinimalHttp(answer)


def serve_minimal() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        targets: dict[str, dict[str, Any]] = {}
        servers = []
        for vendor in registered():
            bench = declaration(vendor)
            answer = _answer(bench)
            server = await loop.create_server(_protocol(answer), "127.0.0.1", 0, backlog=2048)
            servers.append(server)
            port = server.sockets[0].getsockname()[1]
            targets[vendor] = {
                "url": f"http://127.0.0.1:{port}",
                "credentials": dict(bench.credentials),
                "customer_id": bench.customer_id,
            }
        _announce(targets)
        closed = asyncio.Event()

        def wait_for_eof() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(closed.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()
        await closed.wait()
        for server in servers:
            server.close()

    asyncio.run(main())


KINDS = {"sandbox": serve_sandbox, "minimal": serve_minimal, "starlette": serve_starlette}

if __name__ == "__main__":
    # As many connections as a benchmark batch opens (see _concurrent._allow_open_files).
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _wanted = 8192 if _hard == resource.RLIM_INFINITY else min(8192, _hard)
    if _soft != resource.RLIM_INFINITY and _soft < _wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_wanted, _hard))
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind not in KINDS:
        sys.exit(f"usage: python -m bench._serve {'|'.join(KINDS)}")
    KINDS[kind]()
