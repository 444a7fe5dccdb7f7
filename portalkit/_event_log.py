"""At least once, handled once: the log a webhook view consults before calling the app.

Vendors deliver at least once, so the same event can arrive twice, even at two workers at
the same moment. Before the app's handler runs, the view *claims* the event in an
``EventLog``; exactly one claim wins. The winner runs the handler, then marks the event
*done* (a later duplicate is answered 2xx without calling the handler again) or, when the
handler raised, *releases* it (the vendor's retry may claim it again). A claim whose holder
died is taken over once its lease has run out.

``InMemoryEventLog`` serves one process; ``portalkit.sql_event_log.SqlEventLog`` serves an app
on several hosts through its database.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol, runtime_checkable

__all__ = ["DEFAULT_LEASE_SECONDS", "Claim", "EventLog", "InMemoryEventLog"]

#: How long a claim holds before another worker may take the event over: longer than any
#: handler should run (the vendors give up waiting for an answer after 5 to 30 s).
DEFAULT_LEASE_SECONDS = 300.0


class Claim(StrEnum):
    """The answer to ``EventLog.claim``."""

    #: This caller holds the event: run the handler, then ``done`` or ``release``.
    CLAIMED = "claimed"
    #: The event was handled already: answer 2xx, do nothing.
    DONE = "done"
    #: Another worker holds it right now: answer non-2xx, so the vendor tries again later.
    BUSY = "busy"


@runtime_checkable
class EventLog(Protocol):
    """Where a webhook view records the events it handled, by (provider, event id)."""

    def claim(self, provider: str, event_id: str) -> Claim: ...

    def done(self, provider: str, event_id: str) -> None: ...

    def release(self, provider: str, event_id: str) -> None: ...


class InMemoryEventLog:
    """An ``EventLog`` in this process's memory, safe across threads, bounded: once
    ``max_events`` are remembered, the oldest handled ones are forgotten (a duplicate that
    old would be handled again). For one process; several hosts need ``SqlEventLog``."""

    def __init__(
        self,
        max_events: int = 100_000,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self.lease_seconds = lease_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # (provider, id) -> None when done, else the time the claim was taken.
        self._events: OrderedDict[tuple[str, str], float | None] = OrderedDict()

    def claim(self, provider: str, event_id: str) -> Claim:
        key = (provider, event_id)
        now = self._clock()
        with self._lock:
            if key in self._events:
                claimed_at = self._events[key]
                if claimed_at is None:
                    return Claim.DONE
                if now - claimed_at < self.lease_seconds:
                    return Claim.BUSY
            self._events[key] = now
            self._events.move_to_end(key)
            self._forget_oldest()
            return Claim.CLAIMED

    def done(self, provider: str, event_id: str) -> None:
        with self._lock:
            self._events[(provider, event_id)] = None

    def release(self, provider: str, event_id: str) -> None:
        with self._lock:
            key = (provider, event_id)
            if key in self._events and self._events[key] is not None:
                del self._events[key]

    def __len__(self) -> int:
        return len(self._events)

    def _forget_oldest(self) -> None:
        excess = len(self._events) - self.max_events
        if excess <= 0:
            return
        # Handled events go first, oldest first; a claim in progress is kept while any
        # handled event can make room, so a running handler is never left unguarded.
        for key in [k for k, v in self._events.items() if v is None][:excess]:
            del self._events[key]
            excess -= 1
        while excess > 0:
            self._events.popitem(last=False)
            excess -= 1
