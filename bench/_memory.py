"""Figure 5: memory, with tracemalloc (every Python allocation, whoever makes it).

- Holding links: ``count`` PortalLinks minted through ``Portal`` (in-process transport, so
  each link carries its own decoded vendor body, as a real one does), kept in a list.
- One Portal over time: after ``count`` creates whose links are dropped, and again after
  ``count`` more. What the Portal (and the httpx client under it) keeps between calls should
  not grow with the number of calls.
"""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import dataclass

from portalkit import Portal, PortalLink
from portalkit._http import httpx

from ._vendor import Target, mock_transport


@dataclass(frozen=True)
class LinksHeld:
    count: int
    #: Bytes still allocated while the links are held (everything made since tracing began).
    held: int
    #: The most allocated at any one time while minting them.
    peak: int

    @property
    def per_link(self) -> float:
        return self.held / self.count


@dataclass(frozen=True)
class PortalOverTime:
    count: int
    #: Bytes still allocated after ``count`` creates, over what was there before the first.
    after_count: int
    #: The same after ``2 * count`` creates.
    after_twice: int
    #: The most allocated at any one time during all ``2 * count`` creates.
    peak: int

    @property
    def growth(self) -> int:
        """What the second ``count`` creates left behind that the first did not."""
        return self.after_twice - self.after_count


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def links_held(target: Target, count: int) -> LinksHeld:
    with (
        httpx.Client(transport=mock_transport(target.bench)) as client,
        Portal(target.provider(), http_client=client) as portal,
    ):
        portal.create_link(target.portal_request())  # warm: caches, converters, pool
        tracemalloc.start()
        try:
            before = _traced()
            tracemalloc.reset_peak()
            links: list[PortalLink] = [
                portal.create_link(target.portal_request()) for _ in range(count)
            ]
            held = _traced() - before
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        assert len(links) == count
        return LinksHeld(count, held, peak)


def portal_over_time(target: Target, count: int) -> PortalOverTime:
    with (
        httpx.Client(transport=mock_transport(target.bench)) as client,
        Portal(target.provider(), http_client=client) as portal,
    ):
        portal.create_link(target.portal_request())
        tracemalloc.start()
        try:
            before = _traced()
            tracemalloc.reset_peak()
            for _ in range(count):
                portal.create_link(target.portal_request())
            after_count = _traced() - before
            for _ in range(count):
                portal.create_link(target.portal_request())
            after_twice = _traced() - before
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        return PortalOverTime(count, after_count, after_twice, peak)
