"""What each Fault does on the wire.

Two families. Faults that replace the vendor: ``status``, ``html``, ``empty``,
``malformed``, ``missing_fields``, ``oversized``, ``drop`` and ``hang`` answer without
running the vendor logic (no session is minted). Faults that disturb the vendor's answer:
``delay``, ``truncated``, ``wrong_content_type`` and ``reset`` run it first (a session may be
minted and an idempotency key remembered, as a real vendor would have done before the
answer was lost), then delay, cut, mislabel or abort it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ._connection import Connection, connection
from ._faults import Fault
from ._store import Store
from .twin import ApiRoute, Call, Reply, Twin, json_bytes

JSON = "application/json"

PROXY_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
MALFORMED_BODY = b'{"data": {"id": "ps_\xff\xfe", this is not JSON'
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_CHUNK = 64 * 1024


def json_response(reply: Reply, call: Call) -> Response:
    headers = {"X-Request-Id": call.request_id, **reply.headers}
    return Response(json_bytes(reply.payload), reply.status, headers, media_type=JSON)


async def inject(
    fault: Fault, call: Call, api: Twin, route: ApiRoute, store: Store, scope: Scope
) -> Response:
    """The response for a request to ``route`` that drew ``fault``."""
    conn = connection(scope)
    kind = fault.kind
    if kind == "status":
        return _status(fault, call, api)
    if kind == "delay":
        if not await _wait(store, fault.seconds):
            # Stopped or reset meanwhile: answering now would mint into the fresh state.
            return _Raw(conn.drop)
        return json_response(api.answer(route, call), call)
    if kind == "drop":
        return _Raw(conn.drop)
    if kind == "hang":
        return _Raw(lambda: _hang(conn, store))
    if kind == "html":
        status = fault.status_code
        page = PROXY_PAGE.format(status=status, reason=_REASONS.get(status, "Error"))
        return HTMLResponse(page, status, {"Server": "nginx"})
    if kind == "empty":
        return Response(b"", fault.status_code, {"X-Request-Id": call.request_id}, media_type=JSON)
    if kind == "malformed":
        return Response(MALFORMED_BODY, 201, {"X-Request-Id": call.request_id}, media_type=JSON)
    if kind == "missing_fields":
        return json_response(api.partial(call), call)
    if kind == "oversized":
        return _oversized(fault, call, api)
    # The faults that disturb the vendor's own answer.
    normal = json_response(api.answer(route, call), call)
    if kind == "truncated":
        body = bytes(normal.body)
        return _with_body(normal, body[: len(body) // 2])
    if kind == "wrong_content_type":
        normal.headers["content-type"] = "text/plain; charset=utf-8"
        return normal
    if kind == "reset":
        return _ResetMidBody(normal, conn)
    raise AssertionError(f"unhandled fault kind {kind!r}")  # pragma: no cover


def _status(fault: Fault, call: Call, api: Twin) -> Response:
    status = fault.status_code
    if fault.body is None:
        response = json_response(api.error(call, status), call)
    else:
        content = fault.body
        if isinstance(content, str):
            content = content.encode()
        elif not isinstance(content, bytes):
            content = json_bytes(content)
        response = Response(content, status, {"X-Request-Id": call.request_id}, media_type=JSON)
    if fault.retry_after is not None:
        value = fault.retry_after
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        response.headers["retry-after"] = str(value)
    return response


def _oversized(fault: Fault, call: Call, api: Twin) -> Response:
    # A valid JSON object of about fault.size bytes: the vendor's partial body plus padding.
    head = json_bytes(api.partial(call).payload)[:-1] + b',"padding":"'
    tail = b'"}'
    filler = max(0, fault.size - len(head) - len(tail))
    headers = {"X-Request-Id": call.request_id}
    if not fault.chunked:
        return Response(head + b"x" * filler + tail, 201, headers, media_type=JSON)

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        left = filler
        while left > 0:
            step = min(_CHUNK, left)
            yield b"x" * step
            left -= step
        yield tail

    return StreamingResponse(chunks(), 201, headers, media_type=JSON)


def _with_body(response: Response, body: bytes) -> Response:
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response


async def _wait(store: Store, seconds: float) -> bool:
    """Sleep ``seconds``; False if cut short because the server stops or the sandbox is
    reset."""
    generation = store.generation
    deadline = asyncio.get_running_loop().time() + seconds
    while not store.stopping.is_set() and store.generation == generation:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            return True
        await asyncio.sleep(min(left, 0.05))
    return False


async def _hang(conn: Connection, store: Store) -> None:
    await _wait(store, float("inf"))
    await conn.drop()


class _Raw(Response):
    """A "response" that only acts on the connection (drop, hang)."""

    def __init__(self, action: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self._action = action

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._action()


class _ResetMidBody(Response):
    """Start ``inner``, send half its body, then reset the connection."""

    def __init__(self, inner: Response, conn: Connection) -> None:
        super().__init__()
        self._inner = inner
        self._conn = conn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytes(self._inner.body)
        await send(
            {
                "type": "http.response.start",
                "status": self._inner.status_code,
                "headers": self._inner.raw_headers,
            }
        )
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        await self._conn.flushed()
        await self._conn.reset()
