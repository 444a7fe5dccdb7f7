"""The sandbox as a test double: how many creates it answers per second of one core, and
whether its memory stays flat as creates pile up.

- Throughput: the vendor's raw recipe sends creates to the sandbox server, one at a time over
  one keep-alive connection; the server's own CPU time (``/proc/<pid>/stat``) per create is
  the measure, so the client's speed and the machine's other load do not enter it. The
  yardstick is a bare Starlette JSON endpoint (it reads the body and answers a small JSON)
  on the sandbox's own uvicorn set-up, in a server process of its own, measured the same way
  in alternating rounds. ``creates/s of one core = 1 / CPU seconds per create``.
- Memory: the sandbox's ASGI app driven in this process (no sockets, no client library: one
  hand-made ASGI call per create, the twin's raw request), its resident set size after
  ``first`` creates and after ``total``, per twin.
"""

from __future__ import annotations

import asyncio
import gc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portalkit._http import httpx

from ._servers import Server
from ._stats import Comparison
from ._vendor import Target, recipe


def _cpu_per_request(server: Server, send: Any, calls: int) -> float:
    """The server's CPU seconds per request; the kernel counts in ticks (10 ms), so a batch
    that took less than one is counted as one (only with a smoke test's tiny counts)."""
    before = server.cpu_seconds()
    for _ in range(calls):
        send()
    return max(server.cpu_seconds() - before, server.tick) / calls


def throughput(sandbox: Server, bare: Server, *, calls: int, rounds: int) -> dict[str, Comparison]:
    """Per twin: server CPU seconds per create (a) against per bare request (b), by round."""
    bare_url = bare.urls["starlette"]
    results: dict[str, tuple[list[float], list[float]]] = {v: ([], []) for v in sandbox.targets}
    with httpx.Client() as client:
        creates = {v: recipe(t).sync(client) for v, t in sandbox.targets.items()}
        body = b'{"customer_id":"cus_bare"}'
        headers = {"content-type": "application/json"}

        def bare_post() -> None:
            response = client.post(bare_url, content=body, headers=headers)
            response.raise_for_status()
            response.json()

        for create in creates.values():
            create()
        bare_post()
        for _ in range(rounds):
            for vendor, create in creates.items():
                cpu_bare = _cpu_per_request(bare, bare_post, calls)
                cpu_twin = _cpu_per_request(sandbox, create, calls)
                results[vendor][0].append(cpu_twin)
                results[vendor][1].append(cpu_bare)
    return {v: Comparison(tuple(a), tuple(b)) for v, (a, b) in results.items()}


def _rss() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class SandboxMemory:
    first: int
    total: int
    after_first: int
    after_total: int

    @property
    def per_create(self) -> float:
        """Bytes of resident memory added per create between ``first`` and ``total``."""
        return (self.after_total - self.after_first) / (self.total - self.first)


async def _asgi_create(
    app: Any, method: str, url: httpx.URL, headers: dict[str, str], body: bytes
) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": url.path,
        "raw_path": url.raw_path.partition(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    received = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the app answers before it asks again
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def sandbox_memory(vendor: str, target: Target, *, first: int, total: int) -> SandboxMemory:
    """``target`` names the twin's credentials and customer; its base URL is the sandbox's
    (the host is never read in-process)."""
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    base = "http://127.0.0.1" + sandbox.twin(vendor).base_path
    raw = recipe(Target(vendor, "asgi", base, target.credentials, target.customer_id, target.bench))
    url = httpx.URL(raw.url)
    app = sandbox.app

    async def run(count: int) -> None:
        for _ in range(count):
            headers, body = raw.prepare()
            status = await _asgi_create(app, raw.method, url, headers, body)
            if not 200 <= status < 300:
                raise RuntimeError(f"the {vendor} twin answered {status}")

    async def measure() -> SandboxMemory:
        await run(first)
        gc.collect()
        after_first = _rss()
        await run(total - first)
        gc.collect()
        return SandboxMemory(first, total, after_first, _rss())

    return asyncio.run(measure())
