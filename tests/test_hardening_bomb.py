"""Issue 10, item 3: compressed bodies are held to the body limit and the deadline.

A ``Content-Encoding: gzip, gzip`` body of 1 GiB of zeros (about 2 KB on the wire) is
streamed to every adapter through Portal and AsyncPortal. The decoded bytes count against
``max_response_bytes`` as they are produced, so the call ends with the body-limit
``InvalidResponse`` well inside the deadline, and the memory portalkit allocated on the way
stays a few tens of MiB (tracemalloc's peak: every buffer zlib hands back is a Python
object it counts). These bound the work, not its speed.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator

import pytest
from _answers import NAMES, VENDORS
from _mock import MODES

from portalkit import AsyncPortal, Portal, RetryPolicy, errors
from portalkit._http import httpx

GIB = 1 << 30
MIB = 1 << 20
DEADLINE = 8.0
#: A few tens of MiB, against the 2-4 GiB decoding the bomb whole costs.
MEMORY_BOUND = 40 * MIB


def _gzip(chunks: Iterator[bytes]) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    out = [compressor.compress(chunk) for chunk in chunks]
    out.append(compressor.flush())
    return b"".join(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GiB of zeros, gzipped twice (built a MiB at a time: never 1 GiB in memory)."""
    zeros = bytes(MIB)
    inner = _gzip(zeros for _ in range(GIB // MIB))
    return _gzip(iter([inner]))


class _Stream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The bomb as a network would deliver it: in 64 KiB pieces, never read ahead."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _pieces(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), 65536):
            yield self.data[start : start + 65536]

    def __iter__(self) -> Iterator[bytes]:
        return self._pieces()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            yield piece


def _transport(body: bytes, encoding: str, status: int = 201) -> httpx.MockTransport:
    def respond(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        return httpx.Response(status, headers=headers, stream=_Stream(body))

    return httpx.MockTransport(respond)


def _create(mode: str, vendor: str, transport: httpx.MockTransport) -> object:
    v = VENDORS[vendor]
    policy = RetryPolicy(max_attempts=1, deadline=DEADLINE)
    if mode == "sync":
        with httpx.Client(transport=transport) as client:
            return Portal(v.build(), http_client=client, retry=policy).create_link(v.request())

    async def run() -> object:
        async with httpx.AsyncClient(transport=transport) as client:
            portal = AsyncPortal(v.build(), http_client=client, retry=policy)
            return await portal.create_link(v.request())

    return asyncio.run(run())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_a_gzip_gzip_bomb_is_refused_within_memory_and_deadline(
    bomb: bytes, vendor: str, mode: str
) -> None:
    transport = _transport(bomb, "gzip, gzip", VENDORS[vendor].status)
    tracemalloc.start()
    try:
        started = time.monotonic()
        with pytest.raises(errors.InvalidResponse) as caught:
            _create(mode, vendor, transport)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "limit" in caught.value.message
    assert peak < MEMORY_BOUND, f"peak {peak / MIB:.0f} MiB"
    assert elapsed < DEADLINE + 1.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, deflate", "identity, gzip"])
@pytest.mark.parametrize("vendor", NAMES)
def test_a_compressed_answer_within_the_limit_still_reads(
    vendor: str, mode: str, encoding: str
) -> None:
    import json

    v = VENDORS[vendor]
    raw = json.dumps(v.body(v.good_url)).encode()
    body = raw
    for name in [e.strip() for e in encoding.split(",")]:
        if name == "gzip":
            body = _gzip(iter([body]))
        elif name == "deflate":
            body = zlib.compress(body)
    link = _create(mode, vendor, _transport(body, encoding, v.status))
    assert getattr(link, "url", None) == v.good_url


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "x-unknown"])
@pytest.mark.parametrize("vendor", NAMES)
def test_an_encoding_portalkit_did_not_ask_for_is_refused(
    vendor: str, mode: str, encoding: str
) -> None:
    transport = _transport(b"\x00" * 100, encoding, VENDORS[vendor].status)
    with pytest.raises(errors.InvalidResponse) as caught:
        _create(mode, vendor, transport)
    assert caught.value.retryable is False


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", NAMES)
def test_a_corrupt_gzip_body_is_an_invalid_response(vendor: str, mode: str) -> None:
    transport = _transport(b"not gzip at all", "gzip", VENDORS[vendor].status)
    with pytest.raises(errors.InvalidResponse):
        _create(mode, vendor, transport)


@pytest.mark.parametrize("vendor", NAMES)
def test_portalkit_asks_only_for_what_it_decodes(vendor: str) -> None:
    seen: list[httpx.Request] = []
    v = VENDORS[vendor]

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return v.response(v.good_url)(request)

    # A client whose default would also offer br and zstd (httpx's, with those installed).
    client = httpx.Client(
        transport=httpx.MockTransport(respond),
        headers={"Accept-Encoding": "gzip, deflate, br, zstd"},
    )
    with client:
        Portal(v.build(), http_client=client).create_link(v.request())
    assert seen[0].headers.get_list("accept-encoding") == ["gzip, deflate"]
