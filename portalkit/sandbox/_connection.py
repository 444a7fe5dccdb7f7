"""The outermost ASGI layer: headers every response carries, and a handle on the raw
connection for the faults an HTTP response cannot express (drop, reset, hang).

Every response gets ``X-Frame-Options: DENY``, ``Cache-Control: no-store``,
``Referrer-Policy: no-referrer``, ``X-Content-Type-Options: nosniff`` and an
``X-Request-Id`` (routes that have a vendor-format id set their own).

ASGI has no message for "close the socket now". Under uvicorn's h11 server, the ``send``
callable the server hands the application is a method of the request cycle, which holds the
asyncio transport; this layer keeps that transport in the scope so a fault can close it
(FIN) or abort it with ``SO_LINGER 0`` (RST). Anywhere else (``httpx.ASGITransport``) there
is no socket: a dropped or reset connection is emulated by raising the exception httpx
raises for the real thing (``httpx.RemoteProtocolError`` / ``httpx.ReadError``), which
``ASGITransport`` passes to the client.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._http import httpx

SCOPE_KEY = "portalkit.sandbox.connection"

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
)


class Connection:
    """The client connection behind one request, when the server exposes it."""

    def __init__(self, transport: asyncio.Transport | None, receive: Receive) -> None:
        self._transport = transport
        self._receive = receive

    async def drop(self) -> None:
        """Close the connection cleanly (FIN) without sending anything more."""
        if self._transport is None:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        self._transport.close()
        await self._wait_closed()

    async def reset(self) -> None:
        """Abort the connection with a TCP RST, discarding anything unsent."""
        if self._transport is None:
            raise httpx.ReadError("[Errno 104] Connection reset by peer")
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            # Linger on, timeout 0: close() sends RST instead of FIN.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()
        await self._wait_closed()

    async def flushed(self) -> None:
        """Wait until what was sent has left the process (the peer has it on loopback)."""
        if self._transport is None:
            return
        for _ in range(100):
            if self._transport.get_write_buffer_size() == 0:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)

    async def _wait_closed(self) -> None:
        # The server marks the request disconnected once the transport reports the loss;
        # waiting for that keeps it from answering "500" on a closed socket or logging that
        # the application returned without a response.
        try:
            async with asyncio.timeout(1.0):
                while (await self._receive())["type"] != "http.disconnect":
                    pass
        except TimeoutError:
            pass


def connection(scope: Scope) -> Connection:
    found = scope.get(SCOPE_KEY)
    if not isinstance(found, Connection):
        raise RuntimeError("the sandbox app must be served through WireLayer")
    return found


def _transport_of(send: Send) -> asyncio.Transport | None:
    # uvicorn's h11/httptools request cycle: ``send`` is a bound method of an object with a
    # ``transport`` attribute. Anything else: no transport.
    owner: Any = getattr(send, "__self__", None)
    transport = getattr(owner, "transport", None)
    return transport if isinstance(transport, asyncio.Transport) else None


class WireLayer:
    """ASGI middleware: security headers and request id on every response; the connection
    handle in ``scope``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[SCOPE_KEY] = Connection(_transport_of(send), receive)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                if b"x-request-id" not in present:
                    headers.append((b"x-request-id", str(uuid.uuid4()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
