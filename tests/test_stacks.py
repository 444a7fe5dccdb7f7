"""Either HTTP stack's client works: portalkit runs on httpx2 (else httpx), and an app still
on httpx 0.28 hands it its own ``httpx.Client`` / ``httpx.AsyncClient``.

Every test runs once per installed stack, sync and async: in the development environment
that is httpx2 (portalkit's own stack) and httpx (a foreign client, converted by
``portalkit._stacks``); in the httpx-only environment (``.venv-httpx``, see the README's
Development section) it is httpx alone, as portalkit's own stack. The adapters see
portalkit's stack whatever the client's.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from _mock import MODES, PLUGIPAY_DOC_SESSION, record_sleeps

from portalkit import AsyncPortal, Portal, PortalLink, PortalRequest, RetryPolicy
from portalkit._http import httpx
from portalkit._stacks import stack_of
from portalkit.errors import InvalidResponse, ProviderUnavailable
from portalkit.providers.plugipay import Plugipay

#: The stacks installed here, by import name.
INSTALLED = [name for name in ("httpx2", "httpx") if importlib.util.find_spec(name) is not None]
#: The stack scripts/test.sh expects portalkit to pick in this environment.
EXPECTED = os.environ.get("PORTALKIT_EXPECT_STACK", "httpx2")


def test_portalkit_runs_on_the_expected_stack() -> None:
    # The development venv has both stacks and must pick httpx2; .venv-httpx has httpx
    # alone (scripts/test.sh sets PORTALKIT_EXPECT_STACK=httpx for it).
    assert httpx.__name__ == EXPECTED
    assert EXPECTED in INSTALLED
    if EXPECTED == "httpx2":
        # Both stacks here, so the foreign-client tests below really ran with httpx too.
        assert INSTALLED == ["httpx2", "httpx"]
    else:
        assert INSTALLED == ["httpx"]


def test_starlette_testclient_uses_portalkits_stack() -> None:
    import starlette.testclient

    assert starlette.testclient.httpx is httpx


stacks = pytest.mark.parametrize("stack", INSTALLED)
modes = pytest.mark.parametrize("mode", MODES)

PROVIDER = Plugipay(key_id="pk_stack_key_id", key_secret="sk_stack_secret_x81")
REQUEST = PortalRequest(PLUGIPAY_DOC_SESSION["customerId"], return_url="https://app.acme.com/a")


class Recorder:
    """Plugipay, recording the types of what its parse methods are handed."""

    def __init__(self) -> None:
        self.seen: list[type] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(PROVIDER, name)

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        self.seen.append(type(response))
        return PROVIDER.parse_response(response, request)

    def parse_error(self, response: httpx.Response) -> Any:
        self.seen.append(type(response))
        return PROVIDER.parse_error(response)


def run(
    mode: str,
    module: ModuleType,
    handler: Callable[[Any], Any],
    provider: Any = PROVIDER,
    **options: Any,
) -> PortalLink:
    """One create_link through a client of ``module``'s stack over a MockTransport."""
    transport = module.MockTransport(handler)
    if mode == "sync":
        with module.Client(transport=transport) as client:
            return Portal(provider, http_client=client, **options).create_link(REQUEST)

    async def go() -> PortalLink:
        async with module.AsyncClient(transport=transport) as client:
            return await AsyncPortal(provider, http_client=client, **options).create_link(REQUEST)

    return asyncio.run(go())


def ok(module: ModuleType) -> Callable[[Any], Any]:
    def answer(request: Any) -> Any:
        assert isinstance(request, module.Request)  # the client's own stack
        return module.Response(201, json={"data": PLUGIPAY_DOC_SESSION})

    return answer


@stacks
def test_the_client_is_recognised(stack: str) -> None:
    module = importlib.import_module(stack)
    with module.Client() as client:
        assert stack_of(client).foreign is (stack != httpx.__name__)

    class Subclassed(module.AsyncClient):  # type: ignore[name-defined,misc]
        pass

    assert stack_of(Subclassed()).module is module


@stacks
@modes
def test_a_link_through_either_stacks_client(mode: str, stack: str) -> None:
    module = importlib.import_module(stack)
    provider = Recorder()
    sent: list[Any] = []

    def answer(request: Any) -> Any:
        sent.append(request)
        return ok(module)(request)

    client_headers = {"X-Tenant": b"acme", "X-App": "café".encode()}
    transport = module.MockTransport(answer)
    if mode == "sync":
        with module.Client(transport=transport, headers=client_headers) as client:
            link = Portal(provider, http_client=client).create_link(REQUEST)  # type: ignore[arg-type]
    else:

        async def go() -> PortalLink:
            async with module.AsyncClient(transport=transport, headers=client_headers) as client:
                portal = AsyncPortal(provider, http_client=client)  # type: ignore[arg-type]
                return await portal.create_link(REQUEST)

        link = asyncio.run(go())
    assert link.url == PLUGIPAY_DOC_SESSION["url"]
    assert provider.seen == [httpx.Response]  # the adapter sees portalkit's stack
    [request] = sent
    assert request.method == "POST"
    assert request.url.path == "/v1/portal-sessions"
    assert request.headers["x-tenant"] == "acme"  # the client's default headers still apply
    assert (b"X-App", "café".encode()) in request.headers.raw  # non-ASCII, as bytes
    assert request.headers["x-plugipay-key-id"] == "pk_stack_key_id"
    assert "x-plugipay-signature" in request.headers
    assert set(request.extensions["timeout"]) == {"connect", "read", "write", "pool"}
    body = json.loads(request.content)
    assert body["customerId"] == REQUEST.customer_id
    assert body["returnUrl"] == REQUEST.return_url
    assert request.headers["content-length"] == str(len(request.content))


@stacks
@modes
def test_retries_reuse_the_idempotency_key(
    mode: str, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(stack)
    sleeps = record_sleeps(monkeypatch)
    keys: list[str] = []

    def answer(request: Any) -> Any:
        keys.append(request.headers["idempotency-key"])
        if len(keys) == 1:
            return module.Response(503, json={"error": {"code": "UNAVAILABLE"}})
        if len(keys) == 2:
            raise module.ConnectError("simulated", request=request)
        return ok(module)(request)

    link = run(mode, module, answer)
    assert link.session_id == PLUGIPAY_DOC_SESSION["id"]
    assert len(keys) == 3
    assert len(set(keys)) == 1
    uuid.UUID(keys[0])
    assert len(sleeps) == 2


@stacks
@modes
def test_an_error_answer_reaches_the_adapter_in_portalkits_stack(mode: str, stack: str) -> None:
    module = importlib.import_module(stack)
    provider = Recorder()

    def answer(request: Any) -> Any:
        body = {"error": {"code": "NOT_FOUND", "message": "No such customer"}}
        return module.Response(404, json=body, headers={"X-Request-Id": "req_404"})

    with pytest.raises(Exception, match="No such customer") as caught:
        run(mode, module, answer, provider, retry=RetryPolicy(max_attempts=1))
    assert getattr(caught.value, "status", None) == 404
    assert getattr(caught.value, "request_id", None) == "req_404"
    assert provider.seen == [httpx.Response]


@stacks
@modes
@pytest.mark.parametrize(
    ("error", "kind"), [("ConnectError", "failed"), ("ReadTimeout", "timed out")]
)
def test_transport_errors_of_either_stack(mode: str, stack: str, error: str, kind: str) -> None:
    module = importlib.import_module(stack)

    def answer(request: Any) -> Any:
        raise getattr(module, error)("simulated", request=request)

    with pytest.raises(ProviderUnavailable, match=f"request {kind} \\({error}\\)"):
        run(mode, module, answer, retry=RetryPolicy(max_attempts=1))


def chunks(module: ModuleType, chunk: bytes, count: int, pause: float = 0.0) -> Any:
    """A body of ``count`` chunks without a Content-Length, of ``module``'s stream classes,
    pausing (blocking, so no cancel scope can fire) before each chunk."""

    class Chunks(module.SyncByteStream, module.AsyncByteStream):  # type: ignore[name-defined,misc]
        read = 0

        def _chunks(self) -> Iterator[bytes]:
            for _ in range(count):
                time.sleep(pause)
                Chunks.read += 1
                yield chunk

        def __iter__(self) -> Iterator[bytes]:
            return self._chunks()

        async def __aiter__(self) -> Any:
            for piece in self._chunks():
                yield piece

    return Chunks()


@stacks
@modes
def test_the_body_limit_holds_for_a_streamed_body(mode: str, stack: str) -> None:
    module = importlib.import_module(stack)
    stream = chunks(module, b"x" * 1024, 1000)

    def answer(request: Any) -> Any:
        return module.Response(201, stream=stream)

    with pytest.raises(InvalidResponse, match="over the 4096-byte limit"):
        run(mode, module, answer, max_response_bytes=4096, retry=RetryPolicy(max_attempts=1))
    assert type(stream).read == 5  # refused as soon as it passed the limit


@stacks
@modes
def test_the_body_limit_holds_for_a_declared_length(mode: str, stack: str) -> None:
    module = importlib.import_module(stack)

    def answer(request: Any) -> Any:
        return module.Response(201, content=b"{" + b" " * 5000 + b"}")

    with pytest.raises(InvalidResponse, match="over the 4096-byte limit"):
        run(mode, module, answer, max_response_bytes=4096)


@stacks
@modes
def test_the_deadline_holds_while_a_body_trickles(mode: str, stack: str) -> None:
    module = importlib.import_module(stack)
    stream = chunks(module, b" ", 200, pause=0.01)

    def answer(request: Any) -> Any:
        return module.Response(201, stream=stream)

    policy = RetryPolicy(max_attempts=1, deadline=0.2)
    with pytest.raises(ProviderUnavailable, match="body was still arriving at the deadline"):
        run(mode, module, answer, retry=policy)
    assert type(stream).read < 100


@stacks
@modes
def test_a_gzip_body_is_decoded_before_the_adapter_reads_it(mode: str, stack: str) -> None:
    import gzip

    module = importlib.import_module(stack)
    body = gzip.compress(json.dumps({"data": PLUGIPAY_DOC_SESSION}).encode())

    def answer(request: Any) -> Any:
        return module.Response(
            201,
            content=body,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )

    assert run(mode, module, answer).url == PLUGIPAY_DOC_SESSION["url"]
