"""An app's own HTTP client on the other stack: what the shells need of it, and the cheap
conversions between the two stacks.

portalkit runs on one stack (``_http.httpx``: httpx2, else httpx). An app still on httpx 0.28
may hand ``Portal`` its own ``httpx.Client`` while portalkit runs on httpx2. The adapters only
ever see portalkit's stack: for such a *foreign* client the shells send a copy of each request
in the client's own types (so its transport, pool, proxies, TLS, auth and event hooks apply as
usual) and turn its response back into portalkit's before any adapter reads it::

    adapter ── httpx2.Request ──> outgoing() ── httpx.Request ──> app's httpx.Client
    adapter <── httpx2.Response ── incoming() <── httpx.Response (body read) ──┘

A client of portalkit's own stack (the usual case) goes through ``NATIVE``, whose
conversions return what they are given.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from ._http import httpx

if TYPE_CHECKING:
    import httpx as httpx_legacy
    import httpx2

    from ._call import Call

    #: Either stack's clients, for the public signatures (``Portal(http_client=...)``).
    SyncClient: TypeAlias = httpx2.Client | httpx_legacy.Client
    AsyncClient: TypeAlias = httpx2.AsyncClient | httpx_legacy.AsyncClient
else:
    SyncClient = httpx.Client
    AsyncClient = httpx.AsyncClient

#: The import names of the two stacks.
STACK_NAMES = ("httpx2", "httpx")
#: Response extensions that describe the answer (not the connection), kept on conversion.
_KEPT_EXTENSIONS = ("http_version", "reason_phrase")


class Stack:
    """The few things the shells touch that differ between the stacks: exception classes,
    the stream base classes (a response's stream must be one of its own stack's), and the
    request/response conversion."""

    def __init__(self, module: ModuleType) -> None:
        from ._call import AsyncDeadlineStream, DeadlineStream

        self.module = module
        self.foreign = module is not httpx
        #: What a failed exchange raises: this stack's errors (and, for a foreign client,
        #: portalkit's own, which building the copy of a request may raise).
        errors: tuple[type[Exception], ...] = (
            module.HTTPError,
            module.InvalidURL,
            module.StreamError,
        )
        if self.foreign:
            errors += (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)
        self.errors = errors
        self.timeout: type[Exception] = module.TimeoutException
        #: What a connection that was never made raises: refused, DNS, TLS, connect timeout.
        self.connect_failures: tuple[type[Exception], ...] = (
            module.ConnectError,
            module.ConnectTimeout,
        )
        self.sync_stream: type[Any] = module.SyncByteStream
        self.async_stream: type[Any] = module.AsyncByteStream
        self.deadline_stream: type[Any] = DeadlineStream
        self.async_deadline_stream: type[Any] = AsyncDeadlineStream
        if self.foreign:
            # The same wrappers, also of this stack's stream classes: its Response checks
            # ``isinstance(stream, SyncByteStream)`` before it iterates.
            self.deadline_stream = type(
                "DeadlineStream", (DeadlineStream, module.SyncByteStream), {}
            )
            self.async_deadline_stream = type(
                "AsyncDeadlineStream", (AsyncDeadlineStream, module.AsyncByteStream), {}
            )

    def outgoing(self, request: httpx.Request) -> httpx.Request:
        """``request`` in this stack's types (typed as portalkit's: the two share one API)."""
        if not self.foreign:
            return request
        copy: httpx.Request = self.module.Request(
            request.method,
            str(request.url),
            headers=request.headers.raw,
            content=request.content,
            extensions=request.extensions,
        )
        return copy

    def incoming(
        self, response: httpx.Response, body: bytes, request: httpx.Request
    ) -> httpx.Response:
        """A response of portalkit's stack holding ``body`` (already decoded), for the adapter."""
        if not self.foreign:
            return response
        headers = [
            (name, value)
            for name, value in response.headers.raw
            if name.lower() != b"content-encoding"  # ``body`` is already decoded
        ]
        extensions = {k: v for k, v in response.extensions.items() if k in _KEPT_EXTENSIONS}
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=body,
            request=request,
            extensions=extensions,
        )

    def guard_sync(self, response: httpx.Response, call: Call) -> None:
        """Hold a body's arrival to the call's deadline (see ``_call.DeadlineStream``)."""
        if isinstance(response.stream, self.sync_stream):
            response.stream = self.deadline_stream(response.stream, call)

    def guard_async(self, response: httpx.Response, call: Call) -> None:
        if isinstance(response.stream, self.async_stream):
            response.stream = self.async_deadline_stream(response.stream, call)

    def __repr__(self) -> str:
        return f"Stack({self.module.__name__}{', foreign' if self.foreign else ''})"


_STACKS: dict[str, Stack] = {}


def stack_of(client: object) -> Stack:
    """The stack ``client`` belongs to, by its class (or the first httpx/httpx2 class it
    derives from). Anything else is taken as portalkit's own stack, duck-typed as before."""
    if isinstance(client, (httpx.Client, httpx.AsyncClient)):
        return _stack(httpx.__name__)
    for cls in type(client).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in STACK_NAMES:
            return _stack(root)
    return _stack(httpx.__name__)


def _stack(name: str) -> Stack:
    stack = _STACKS.get(name)
    if stack is None:
        stack = _STACKS[name] = Stack(importlib.import_module(name))
    return stack


def is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a timeout of either stack."""
    return isinstance(exc, (httpx.TimeoutException, *(s.timeout for s in _STACKS.values())))


def is_connect_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says no connection was made (refused, DNS, TLS, a connect timeout),
    in either stack."""
    failures = (httpx.ConnectError, httpx.ConnectTimeout)
    return isinstance(exc, failures) or any(
        isinstance(exc, stack.connect_failures) for stack in _STACKS.values()
    )
