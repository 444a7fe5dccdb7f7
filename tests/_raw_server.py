"""A raw HTTP/1.1 server on 127.0.0.1 for the faults a well-behaved server cannot produce.

The sandbox speaks HTTP through uvicorn and scripts most faults itself (statuses, broken
bodies, a dropped or reset connection). A few live below what it can do: silence *after*
the vendor minted a session, a body that trickles in a byte at a time, a body that never
ends, a TLS certificate the client should refuse, a port that refuses connections.

``RawServer`` plays a script of behaviours, one per connection (each connection carries
one request; the last behaviour repeats), and can forward a request to an upstream server
(the sandbox) first, so that a fault strikes after the vendor minted a session -- the case
where idempotency keys matter.

Everything is bounded: the server stops by itself after ``lifetime`` seconds, every
behaviour checks the stop flag, and a streamed body stops at ``max_stream_bytes`` or when
the client hangs up. Only loopback addresses are used.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
_MAX_HEAD = 64 * 1024
_POLL = 0.02  # how often a waiting handler looks at the stop flag


@dataclass(frozen=True)
class RawRequest:
    """One request as the raw server read it off the socket."""

    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes
    raw: bytes  # the head and body exactly as received


class Behaviour(Protocol):
    """What the server does with one connection, after reading its request."""

    @property
    def name(self) -> str:
        """A short description, for reports."""
        ...

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None: ...


@dataclass
class RawServer:
    """Plays ``script`` (one behaviour per accepted request; the last one repeats).

    Use as a context manager; ``url`` is the server's base URL.
    """

    script: Sequence[Behaviour]
    upstream: str | None = None  # base URL that Forward-style behaviours relay to
    lifetime: float = 30.0  # seconds before the server stops on its own, whatever happens
    max_stream_bytes: int = 32 * 1024 * 1024  # the most an endless body ever sends
    tls: ssl.SSLContext | None = None
    requests: list[RawRequest] = field(default_factory=list, init=False)
    connections: int = field(default=0, init=False)
    streamed: int = field(default=0, init=False)  # bytes an EndlessBody got out
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False)
    _listener: socket.socket | None = field(default=None, init=False)
    _ends_at: float = field(default=0.0, init=False)

    @property
    def port(self) -> int:
        assert self._listener is not None, "the server is not started"
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or time.monotonic() > self._ends_at

    def __enter__(self) -> RawServer:
        self._ends_at = time.monotonic() + self.lifetime
        listener = socket.create_server((LOOPBACK, 0))
        listener.settimeout(_POLL)
        self._listener = listener
        self._spawn(self._accept_loop, "raw-server-accept")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        for thread in list(self._threads):
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self.stopping:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            self._spawn(self._serve, f"raw-server-conn-{index}", conn, index)

    def _serve(self, conn: socket.socket, index: int) -> None:
        if self.tls is not None:
            conn.settimeout(5)
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                return  # the client refused our certificate: nothing to serve
        with closing_quietly(conn):
            conn.settimeout(_POLL)
            request = self._read_request(conn)
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            behaviour = self.script[min(index, len(self.script) - 1)]
            with suppress(OSError):  # the client hung up: the behaviour is over
                behaviour(conn, request, self)

    def _read_request(self, conn: socket.socket) -> RawRequest | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self._recv(conn)
            if not chunk or len(data) > _MAX_HEAD:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = self._recv(conn)
            if not chunk:
                return None
            body += chunk
        return RawRequest(method, path, headers, body, head + b"\r\n\r\n" + body)

    def _recv(self, conn: socket.socket) -> bytes:
        """The next bytes from the client; b"" when it hung up or the server is stopping."""
        while not self.stopping:
            try:
                return conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return b""

    def wait_for_hangup(self, conn: socket.socket) -> None:
        """Hold the connection open, silent, until the client gives up or the server stops."""
        while self._recv(conn):
            pass

    def forward(self, request: RawRequest) -> bytes:
        """Relay ``request`` to the upstream server; its complete response, as bytes, with
        ``Connection: close`` so the client never reuses this socket."""
        assert self.upstream, "this behaviour needs RawServer(upstream=...)"
        target = urlsplit(self.upstream)
        upstream = http.client.HTTPConnection(target.hostname or LOOPBACK, target.port, timeout=10)
        try:
            upstream.request(request.method, request.path, request.body, request.headers)
            response = upstream.getresponse()
            body = response.read()
        finally:
            upstream.close()
        skip = {"connection", "content-length", "transfer-encoding", "keep-alive"}
        lines = [f"HTTP/1.1 {response.status} {response.reason}"]
        lines += [
            f"{name}: {value}" for name, value in response.getheaders() if name.lower() not in skip
        ]
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextmanager
def closing_quietly(conn: socket.socket) -> Iterator[socket.socket]:
    try:
        yield conn
    finally:
        with suppress(OSError):
            conn.close()


# -- behaviours -------------------------------------------------------------------------


@dataclass(frozen=True)
class Forward:
    """Behave: relay to the upstream server and send its answer back intact."""

    name: str = "forward"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        conn.sendall(server.forward(request))


@dataclass(frozen=True)
class Reply:
    """Behave: answer with a fixed response (no upstream needed)."""

    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    name: str = "reply"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        head = (
            f"HTTP/1.1 {self.status} X\r\nContent-Type: {self.content_type}\r\n"
            f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(head.encode() + self.body)


@dataclass(frozen=True)
class Hang:
    """Fault: accept, read the request, never answer (a read timeout for the client).
    With ``forward_first`` the vendor has minted the session before the silence."""

    forward_first: bool = True
    name: str = "accept and never answer"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        if self.forward_first and server.upstream is not None:
            server.forward(request)
        server.wait_for_hangup(conn)


@dataclass(frozen=True)
class Trickle:
    """Fault: the upstream answer's headers at once, then its body ``chunk`` bytes at a time
    every ``interval`` seconds: each read succeeds, so only an overall deadline stops the
    client."""

    interval: float = 0.05
    chunk: int = 1
    name: str = "slow trickle"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        head, _, body = server.forward(request).partition(b"\r\n\r\n")
        conn.sendall(head + b"\r\n\r\n")  # the status line and headers at once
        for start in range(0, len(body), self.chunk):
            if server.stopping:
                return
            time.sleep(self.interval)
            conn.sendall(body[start : start + self.chunk])


@dataclass(frozen=True)
class TrickleHead:
    """Fault: the upstream answer's status line and headers ``chunk`` bytes at a time every
    ``interval`` seconds, then its body: no read ever times out while the head arrives."""

    interval: float = 0.05
    chunk: int = 1
    name: str = "status line and headers trickled"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        head, _, body = server.forward(request).partition(b"\r\n\r\n")
        head += b"\r\n\r\n"
        for start in range(0, len(head), self.chunk):
            if server.stopping:
                return
            time.sleep(self.interval)
            conn.sendall(head[start : start + self.chunk])
        conn.sendall(body)


@dataclass(frozen=True)
class EndlessBody:
    """Fault: 201 with no Content-Length and a body that never ends (until the client hangs
    up, the server stops, or ``max_stream_bytes`` went out)."""

    name: str = "oversized body streamed forever"

    def __call__(self, conn: socket.socket, request: RawRequest, server: RawServer) -> None:
        conn.sendall(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\n\r\n" + b'{"data": "'
        )
        block = b"x" * 65536
        sent = 0
        while sent < server.max_stream_bytes and not server.stopping:
            conn.sendall(block)
            sent += len(block)
            server.streamed = sent


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port where connections are refused: bound (so nobody else takes it while
    the test runs) but not listening, so the kernel answers a SYN with an RST."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind((LOOPBACK, 0))
        yield holder.getsockname()[1]
    finally:
        holder.close()
