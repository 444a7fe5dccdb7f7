"""The sync deadline for the whole exchange: a network backend whose every connect, read
and write is capped by the time left.

Per-read timeouts never fire while a server sends a byte now and then, and sync httpx has
no hook between the bytes of a response head. So ``Portal``'s own client runs on a
transport (``deadline_transport()``) whose network streams shrink each timeout to what is
left of the current call's deadline, and time out once it has passed. ``Portal`` puts that
deadline in a context variable around each exchange; outside a portalkit call the streams
behave exactly as httpx's own.

A client the caller builds gets the same guarantee when it is built on this transport::

    client = httpx.Client(transport=portalkit.deadline_transport(verify=my_ca))

(``deadline_transport`` lives beside ``Portal`` so that it always builds a transport of the
HTTP stack ``Portal`` runs on.)

Not covered: name resolution (``getaddrinfo`` takes no timeout) and TLS handshakes run by
a proxy.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ssl

#: When (time.monotonic()) the portalkit call running in this context must end.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "portalkit_deadline", default=None
)


class deadline_at:  # lower case: used as a function, ``with deadline_at(when):``
    """Hold every network operation in this context to end by ``when`` (monotonic).

    A class, not ``@contextmanager``: it is entered on every attempt, and a generator-based
    manager costs about 1.5 µs more each time."""

    __slots__ = ("_token", "_when")

    def __init__(self, when: float) -> None:
        self._when = when

    def __enter__(self) -> None:
        self._token = _DEADLINE.set(self._when)

    def __exit__(self, *exc_info: object) -> None:
        _DEADLINE.reset(self._token)


def _capped(timeout: float | None, timed_out: type[Exception]) -> float | None:
    when = _DEADLINE.get()
    if when is None:
        return timeout
    left = when - time.monotonic()
    if left <= 0:
        raise timed_out("portalkit's deadline passed")
    return left if timeout is None else min(timeout, left)


# Duck-typed rather than subclassing httpcore's base classes, so one implementation serves
# httpcore (under httpx) and httpcore2 (under httpx2); ``core`` is the matching module,
# whose timeout exceptions httpx maps to its own.


class _DeadlineStream:
    def __init__(self, stream: Any, core: ModuleType) -> None:
        self._stream = stream
        self._core = core

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._stream.read(max_bytes, _capped(timeout, self._core.ReadTimeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, self._core.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _DeadlineStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _capped(timeout, self._core.ConnectTimeout)
        )
        return _DeadlineStream(stream, self._core)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend:
    """httpcore's sync network backend, with every stream capped by the current call's
    deadline."""

    def __init__(self, backend: Any, core: ModuleType) -> None:
        self._backend = backend
        self._core = core

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _DeadlineStream:
        stream = self._backend.connect_tcp(
            host, port, _capped(timeout, self._core.ConnectTimeout), local_address, socket_options
        )
        return _DeadlineStream(stream, self._core)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> _DeadlineStream:
        stream = self._backend.connect_unix_socket(
            path, _capped(timeout, self._core.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream, self._core)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def transport_for(stack: ModuleType, **options: Any) -> Any:
    """An ``HTTPTransport`` of ``stack`` (httpx or httpx2) whose connection pool runs on
    ``DeadlineBackend``; ``portalkit.deadline_transport`` is this for Portal's stack."""
    import importlib

    core = importlib.import_module("httpcore2" if stack.__name__ == "httpx2" else "httpcore")
    transport = stack.HTTPTransport(**options)
    pool = getattr(transport, "_pool", None)  # httpx exposes no network_backend option
    if pool is None or not hasattr(pool, "_network_backend"):  # a proxy: nothing to cap
        return transport
    pool._network_backend = DeadlineBackend(pool._network_backend, core)
    return transport
