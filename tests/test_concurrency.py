"""One Portal shared by 32 threads, one AsyncPortal with 1,000 concurrent creates, against
the sandbox on 127.0.0.1.

Every link must belong to the customer that asked for it (checked against the session the
sandbox minted, not only against the link), every create gets its own idempotency key, the
connection pool stays bounded (sampled every 2 ms while the load runs, both in the
client's pool and in the kernel's table of TCP connections to the sandbox's port), and
after ``close()`` no connection, thread or unclosed socket is left behind
(``ResourceWarning`` is recorded and must stay empty).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from _fault_matrix import DEDUPLICATING, RETURN_URL, VENDORS, idempotency_key
from _vendors import portal_customer

from portalkit import AsyncPortal, Portal, PortalLink, PortalRequest, RetryPolicy
from portalkit._portal import DEFAULT_LIMITS, MAX_CONNECTIONS
from portalkit.sandbox import Sandbox

THREADS = 32
CREATES_PER_THREAD = 8
ASYNC_CREATES = 1_000
KEEPALIVE = DEFAULT_LIMITS.max_keepalive_connections or 0
_ESTABLISHED = "01"  # the state column of /proc/net/tcp
#: These tests are about correctness and bounds, not latency: 1,000 creates queue behind
#: 100 connections in a process that also runs the server, so the last ones wait seconds.
#: A generous deadline keeps a slow machine from failing them; per-attempt timeouts stay
#: the defaults (a create stuck in httpx's pool queue still fails after 5 s).
UNHURRIED = RetryPolicy(deadline=60.0)


def open_connections_to(port: int) -> int:
    """Client-side TCP connections to 127.0.0.1:``port`` that are open right now (the
    kernel's view: no client internals involved)."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)  # the header line
        for line in table:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == _ESTABLISHED and int(remote.split(":")[1], 16) == port:
                count += 1
    return count


@dataclass
class Peaks:
    pool: int = 0  # connections in the client's pool
    sockets: int = 0  # open TCP connections to the server, as the kernel counts them
    samples: int = 0


def pool_size(portal: Portal | AsyncPortal) -> Callable[[], int]:
    """How many connections the Portal's own httpx pool holds. httpx exposes no such count,
    so this looks at private attributes -- for this test only."""
    client: Any = portal._client
    pool = client._transport._pool
    return lambda: len(pool.connections)


@contextmanager
def sampling(port: int, pool: Callable[[], int]) -> Iterator[Peaks]:
    """Sample the pool size and the open connections to ``port`` every 2 ms."""
    peaks = Peaks()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peaks.pool = max(peaks.pool, pool())
            peaks.sockets = max(peaks.sockets, open_connections_to(port))
            peaks.samples += 1
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, name="connection-sampler", daemon=True)
    sampler.start()
    try:
        yield peaks
    finally:
        stop.set()
        sampler.join()


def check_bounded(peaks: Peaks, most: int, creates: int) -> None:
    """The pool never held more than ``most`` connections. The kernel also counts sockets
    the pool has let go of and is still closing (under load httpcore closes every idle
    connection once its pool holds more than max_keepalive_connections, and opens new
    ones), so its count runs above the pool's -- but far below one socket per create."""
    assert peaks.samples > 0
    assert 1 <= peaks.pool <= most, peaks
    assert 1 <= peaks.sockets < creates, peaks


@contextmanager
def no_resource_leaks() -> Iterator[None]:
    """Fails if anything in the block leaks an unclosed socket, transport or event loop
    (Python reports those as ResourceWarning when they are collected)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Iterator[Sandbox]:
    served.reset()
    yield served
    served.reset()


def port_of(sandbox: Sandbox) -> int:
    return int(sandbox.url.rsplit(":", 1)[1])


def check_links_belong_to_askers(
    sandbox: Sandbox, vendor: str, links: dict[str, PortalLink], expected: int
) -> None:
    """``links`` maps the customer who asked to the link it got."""
    assert len(links) == expected
    sessions = sandbox.sessions(vendor)
    assert len({session.id for session in sessions}) == expected, "a create lost or doubled"
    # Found by the URL the sandbox issued (a vendor that mints nothing names the resource
    # it read the link from in session_id, not a session).
    minted = {session.url: session for session in sessions}
    for customer, link in links.items():
        assert link.customer_id == customer
        session = minted[link.url]
        assert session.customer_id == customer, "a link was minted for another customer"
        # The session's URL, or (a vendor that mints deep links, e.g. Paddle) one of them.
        assert link.url == session.url or link.url in {d.url for d in link.deep_links}
    keys = [idempotency_key(r.headers) for r in sandbox.received(vendor)]
    assert len(keys) == expected
    if vendor in DEDUPLICATING:
        assert len(set(keys)) == expected, "two creates shared an idempotency key"


@pytest.mark.parametrize("vendor", VENDORS)
def test_one_portal_shared_by_32_threads(sandbox: Sandbox, vendor: str) -> None:
    customers = [portal_customer(sandbox, vendor) for _ in range(THREADS * CREATES_PER_THREAD)]
    links: dict[str, PortalLink] = {}
    failures: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)
    threads_before = threading.active_count()

    with no_resource_leaks():
        portal = Portal(sandbox.provider(vendor), retry=UNHURRIED)

        def worker(portal: Portal, mine: list[str]) -> None:
            start.wait()
            for customer in mine:
                try:
                    link = portal.create_link(
                        PortalRequest(customer_id=customer, return_url=RETURN_URL)
                    )
                except BaseException as exc:  # reported below, with the others
                    with lock:
                        failures.append(exc)
                else:
                    with lock:
                        links[customer] = link

        workers = [
            threading.Thread(
                target=worker, args=(portal, customers[i::THREADS]), name=f"worker-{i}"
            )
            for i in range(THREADS)
        ]
        with sampling(port_of(sandbox), pool_size(portal)) as peaks:
            for thread in workers:
                thread.start()
            for thread in workers:
                thread.join()
            idle = open_connections_to(port_of(sandbox))
        portal.close()
        closed = open_connections_to(port_of(sandbox))
        del portal, workers  # so that anything left unclosed is collected, and warns

    assert not failures, failures[:3]
    check_links_belong_to_askers(sandbox, vendor, links, len(customers))
    check_bounded(peaks, min(THREADS, MAX_CONNECTIONS), len(customers))
    assert idle <= KEEPALIVE
    assert closed == 0, "Portal.close() left connections open"
    assert threading.active_count() == threads_before


@pytest.mark.parametrize("vendor", VENDORS)
def test_one_async_portal_with_1000_concurrent_creates(sandbox: Sandbox, vendor: str) -> None:
    customers = [portal_customer(sandbox, vendor) for _ in range(ASYNC_CREATES)]
    threads_before = threading.active_count()

    async def load() -> tuple[list[PortalLink | BaseException], int, int, Peaks]:
        portal = AsyncPortal(sandbox.provider(vendor), retry=UNHURRIED)
        with sampling(port_of(sandbox), pool_size(portal)) as peaks:
            results = await asyncio.gather(
                *(
                    portal.create_link(PortalRequest(customer_id=customer, return_url=RETURN_URL))
                    for customer in customers
                ),
                return_exceptions=True,
            )
        idle = open_connections_to(port_of(sandbox))
        await portal.aclose()
        return results, idle, open_connections_to(port_of(sandbox)), peaks

    with no_resource_leaks():
        results, idle, closed, peaks = asyncio.run(load())

    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    links = {
        customer: result
        for customer, result in zip(customers, results, strict=True)
        if isinstance(result, PortalLink)
    }
    check_links_belong_to_askers(sandbox, vendor, links, ASYNC_CREATES)
    # 1,000 creates at once, never more connections than the pool allows.
    check_bounded(peaks, MAX_CONNECTIONS, ASYNC_CREATES)
    assert peaks.pool > 1  # they did run concurrently
    assert idle <= KEEPALIVE
    assert closed == 0, "AsyncPortal.aclose() left connections open"
    assert threading.active_count() == threads_before
