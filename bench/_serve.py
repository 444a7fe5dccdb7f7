"""A server for the benchmarks, in its own process: ``python -m bench._serve sandbox|minimal``.

Prints one JSON line (``url``, ``api_key``, ``customer_id``), then serves until its standard
input closes. In a process of its own the server runs on the other core and never competes
with the client being measured for the GIL.

- ``sandbox``: portalkit's vendor emulator (``portalkit.sandbox``: starlette on uvicorn),
  answering Paddle's portal-session API as the tests use it.
- ``minimal``: a few lines of asyncio that answer every request with one prepared Paddle
  201 -- as fast as a Python server gets, so the client's own cost stands out.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading

from ._fixtures import API_KEY, CUSTOMER_ID, session_body


def _announce(url: str, api_key: str, customer_id: str) -> None:
    print(json.dumps({"url": url, "api_key": api_key, "customer_id": customer_id}), flush=True)


def serve_sandbox() -> None:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        api_key = sandbox.credentials("paddle")["api_key"]
        _announce(sandbox.url, api_key, sandbox.customers("paddle")[0])
        sys.stdin.read()  # until the benchmark closes our stdin (or exits)


def _answer(body: bytes) -> bytes:
    head = (
        "HTTP/1.1 201 Created\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class _MinimalHttp(asyncio.Protocol):
    """HTTP/1.1 keep-alive, one request at a time per connection: enough for httpx and
    requests. Every POST .../portal-sessions gets the prepared answer."""

    answer = _answer(session_body(CUSTOMER_ID))

    def __init__(self) -> None:
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
            path = head[0].split(" ")[1]
            ok = path.endswith("/portal-sessions")
            assert self.transport is not None
            self.transport.write(self.answer if ok else _NOT_FOUND)


def serve_minimal() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_MinimalHttp, "127.0.0.1", 0, backlog=2048)
        port = server.sockets[0].getsockname()[1]
        _announce(f"http://127.0.0.1:{port}", API_KEY, CUSTOMER_ID)
        closed = asyncio.Event()

        def wait_for_eof() -> None:
            sys.stdin.read()
            loop.call_soon_threadsafe(closed.set)

        threading.Thread(target=wait_for_eof, daemon=True).start()
        async with server:
            await closed.wait()

    asyncio.run(main())


if __name__ == "__main__":
    # As many connections as a benchmark batch opens (see _concurrent._allow_open_files).
    _soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    _wanted = 8192 if _hard == resource.RLIM_INFINITY else min(8192, _hard)
    if _soft != resource.RLIM_INFINITY and _soft < _wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_wanted, _hard))
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind == "sandbox":
        serve_sandbox()
    elif kind == "minimal":
        serve_minimal()
    else:
        sys.exit("usage: python -m bench._serve sandbox|minimal")
