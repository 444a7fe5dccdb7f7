"""The log of the sandbox's webhook deliveries: what was sent where, each attempt's answer,
and a wait for a test that needs the deliveries to be over before it looks.

Records handed out are frozen snapshots; the sending threads replace a delivery's record as
its attempts come in (``update``), and every change wakes the waiters.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from ._twin_events import Change

#: Deliveries kept per vendor: past it the oldest leaves (a long run's log stays bounded).
MAX_DELIVERIES = 1000

#: ``pending``: queued or being retried; ``delivered``: an attempt got a 2xx; ``failed``: every
#: attempt was refused or unanswered; ``abandoned``: the sandbox stopped first.
DeliveryState = Literal["pending", "delivered", "failed", "abandoned"]


@attrs.frozen
class DeliveryAttempt:
    """One POST of a delivery: when, with which signed timestamp, and the answer."""

    #: 1 for the first attempt.
    number: int
    #: When it was sent (the real clock, UTC).
    at: datetime
    #: The timestamp it was signed with (Unix seconds; set anew at every attempt).
    timestamp: int
    #: The endpoint's status code, or None when it did not answer (``error`` says why).
    status_code: int | None
    error: str | None
    #: The scripted fault this attempt carried (``"late"``, ``"bad_signature"``), or None.
    fault: str | None
    #: The headers sent, the signature among them (sandbox secrets only): hidden from repr.
    headers: Mapping[str, str] = attrs.field(repr=False)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@attrs.frozen
class WebhookDelivery:
    """One event sent to one endpoint, with every attempt so far. A duplicate (a scripted
    ``DeliveryFault.duplicate()``) is a second record with the same ``id`` and ``body``."""

    vendor: str
    #: Its place among all the sandbox's deliveries (the order they were queued in).
    sequence: int
    #: The delivery's id: the same on every attempt and in every copy (Standard Webhooks'
    #: ``webhook-id``, where the vendor sends one).
    id: str
    #: The vendor's name for the event (``customer.subscription.updated``).
    event_type: str
    #: The event's id in its body, or None where the vendor's body carries none.
    event_id: str | None
    #: The change that sent it, and the subscription it changed.
    change: Change
    subscription_id: str
    url: str
    #: The JSON body exactly as sent (serialized once: every attempt and copy sends it).
    body: bytes = attrs.field(repr=False)
    #: The scripted faults that shaped it (``"duplicate"``, ``"out_of_order"``, ...).
    faults: tuple[str, ...] = ()
    state: DeliveryState = "pending"
    attempts: tuple[DeliveryAttempt, ...] = ()

    @property
    def finished(self) -> bool:
        """Delivered, given up, or abandoned: nothing more will be sent."""
        return self.state != "pending"

    @property
    def delivered(self) -> bool:
        return self.state == "delivered"

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)

    def to_json(self) -> dict[str, Any]:
        """The JSON form ``GET /_sandbox/{vendor}/webhooks/deliveries`` lists."""
        return {
            "sequence": self.sequence,
            "id": self.id,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "change": self.change.value,
            "subscription_id": self.subscription_id,
            "url": self.url,
            "body": self.body.decode("utf-8", "replace"),
            "faults": list(self.faults),
            "state": self.state,
            "attempts": [
                {
                    "number": a.number,
                    "at": a.at.isoformat(),
                    "timestamp": a.timestamp,
                    "status_code": a.status_code,
                    "error": a.error,
                    "fault": a.fault,
                }
                for a in self.attempts
            ],
        }


class DeliveryLog:
    """Each vendor's deliveries, oldest first, in a ring of ``MAX_DELIVERIES``."""

    def __init__(self, vendors: Iterable[str]) -> None:
        self._changed = threading.Condition()
        self._vendors = tuple(vendors)
        self._log: dict[str, OrderedDict[int, WebhookDelivery]] = {}
        self.clear()

    def clear(self) -> None:
        with self._changed:
            self._log = {vendor: OrderedDict() for vendor in self._vendors}
            self._changed.notify_all()

    def add(self, delivery: WebhookDelivery) -> None:
        with self._changed:
            log = self._log[delivery.vendor]
            log[delivery.sequence] = delivery
            while len(log) > MAX_DELIVERIES:
                log.popitem(last=False)
            self._changed.notify_all()

    def update(
        self, vendor: str, sequence: int, change: Callable[[WebhookDelivery], WebhookDelivery]
    ) -> None:
        """Replace a delivery's record by ``change(record)``. A record no longer in the log
        (cleared by a reset, or pushed out of the ring) stays gone."""
        with self._changed:
            log = self._log[vendor]
            current = log.get(sequence)
            if current is not None:
                log[sequence] = change(current)
                self._changed.notify_all()

    def abandon_pending(self) -> None:
        """Mark every delivery still pending as abandoned (the sandbox is stopping)."""
        with self._changed:
            for log in self._log.values():
                for sequence, delivery in log.items():
                    if not delivery.finished:
                        log[sequence] = attrs.evolve(delivery, state="abandoned")
            self._changed.notify_all()

    def deliveries(self, vendor: str) -> list[WebhookDelivery]:
        with self._changed:
            return list(self._log[vendor].values())

    def wait(
        self, vendor: str, count: int, timeout: float, held: Callable[[], int]
    ) -> list[WebhookDelivery]:
        """Block until ``count`` of the vendor's deliveries are finished; then every one of its
        deliveries, oldest first. TimeoutError saying how far it got (and how many events a
        scripted ``out_of_order`` still holds back, waiting for their partner)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                deliveries = list(self._log[vendor].values())
                if sum(d.finished for d in deliveries) >= count:
                    return deliveries
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        finished = sum(d.finished for d in deliveries)
        pending = len(deliveries) - finished
        waiting = held()
        note = (
            f"; {waiting} event(s) held back by DeliveryFault.out_of_order until the next event"
            if waiting
            else ""
        )
        raise TimeoutError(
            f"{vendor}: {finished} of {count} deliveries finished after {timeout:g} s"
            f" ({pending} still pending{note})"
        )
