"""Sending a twin's webhooks: each event to each of the vendor's endpoints, at least once.

An event is serialized once (compact JSON); each endpoint gets one delivery of it, with the
same body and delivery id on every attempt and the signature's timestamp set anew at each
(as Standard Webhooks and every vendor do). A delivery is retried with exponential backoff
(``DeliveryPolicy``) while the endpoint answers anything but a 2xx, or nothing at all.

Each endpoint has its own lane: a queue and, while it has work, one thread that sends its
deliveries one at a time in the order they were queued, so the order an app sees is the
order the changes happened (unless a ``DeliveryFault.out_of_order`` swaps two), and a slow
or dead endpoint never holds up another. A lane's thread exits when its queue is empty, so an
idle sandbox runs no thread; ``stop()`` (the end of ``Sandbox.serve()``) cancels what is
left and joins them, and ``reset()`` drops what is queued.

Scripted ``DeliveryFault``s are taken one per event, in order, when the event is queued.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from .._http import httpx
from ._delivery_faults import WRONG_SECRET_SUFFIX, DeliveryFault
from ._delivery_log import DeliveryAttempt, DeliveryLog, DeliveryState, WebhookDelivery
from ._store import utc
from ._twin_events import Change, TwinWebhooks

if TYPE_CHECKING:
    from .twin import Twin


def _attempts(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("DeliveryPolicy: max_attempts must be a whole number, 1 or more")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"DeliveryPolicy: {attribute.name} must be a positive number")


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"DeliveryPolicy: {attribute.name} must be 0 or more")


@attrs.frozen
class DeliveryPolicy:
    """How hard the sandbox tries: ``max_attempts`` POSTs per delivery, waiting ``backoff``
    x 2^(n-1) seconds after the n-th failed one, each POST given ``timeout`` seconds.

    The defaults (5 attempts, 0.05 s doubling: 0.75 s of waits in all) keep a test of a
    failing endpoint fast; real vendors retry for days, which no test waits for."""

    max_attempts: int = attrs.field(default=5, validator=_attempts)
    backoff: float = attrs.field(default=0.05, validator=_non_negative)
    timeout: float = attrs.field(default=5.0, validator=_positive)

    def delay(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        return float(self.backoff * 2 ** (attempt - 1))


# Where vendors' envelopes name the event and its id. The twin's payload is its vendor's own
# shape; the log reads these without knowing whose shape it is (the first path found wins).
_TYPE_PATHS = (("event_type",), ("type",), ("eventType",), ("meta", "event_name"))
_ID_PATHS = (("event_id",), ("id",), ("eventId",), ("meta", "event_id"))


def _read(payload: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> str | None:
    for path in paths:
        value: Any = payload
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value:
            return value
    return None


def json_body(payload: Mapping[str, Any]) -> bytes:
    """The compact JSON a vendor sends (no spaces; UTF-8 as is)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@attrs.frozen
class _Event:
    """One event, serialized once, with the faults the script gave it."""

    payload: Mapping[str, Any] = attrs.field(repr=False)
    body: bytes = attrs.field(repr=False)
    delivery_id: str
    event_type: str
    event_id: str | None
    change: Change
    subscription_id: str
    labels: tuple[str, ...] = ()
    #: A fault applied when signing: ``late`` or ``bad_signature``.
    signing: DeliveryFault | None = None


@attrs.frozen
class _Job:
    """One delivery's work: its record's key, where to, and the cancel signal of the
    generation it was queued in (set by a reset or a stop)."""

    vendor: str
    sequence: int
    url: str
    event: _Event
    cancel: threading.Event = attrs.field(eq=False)


class _Lane:
    """One endpoint's queue, and the thread sending it (None while idle)."""

    def __init__(self) -> None:
        self.queue: deque[_Job] = deque()
        self.thread: threading.Thread | None = None


class Deliveries:
    """Every vendor's webhook endpoints, scripted delivery faults, lanes and log."""

    def __init__(
        self,
        twins: Sequence[Twin],
        wall_clock: Callable[[], float],
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self._twins = {twin.name: twin for twin in twins}
        self._clock = wall_clock
        self.policy = DeliveryPolicy() if policy is None else policy
        self.log = DeliveryLog(self._twins)
        self._lock = threading.Lock()
        self._sequence = itertools.count(1)
        self._endpoints: dict[str, list[str]] = {vendor: [] for vendor in self._twins}
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._faults: dict[str, deque[DeliveryFault]] = {}
        #: The first event of a scripted out_of_order, waiting for the next one.
        self._held: dict[str, _Event] = {}
        self._cancel = threading.Event()
        #: Every lane thread still running, for stop() to join.
        self._threads: set[threading.Thread] = set()
        self._clear_script()

    # -- endpoints ---------------------------------------------------------------------

    def add_endpoint(self, vendor: str, url: str) -> None:
        """Send the vendor's events to ``url`` too (once: adding it again changes nothing).
        Endpoints outlive ``reset()``: they are the wiring, like the server's port."""
        problem = endpoint_url_problem(url)
        if problem is not None:
            raise ValueError(f"{vendor}: webhook endpoint {url!r} {problem}")
        self._hooks(vendor)
        with self._lock:
            if url not in self._endpoints[vendor]:
                self._endpoints[vendor].append(url)

    def remove_endpoint(self, vendor: str, url: str | None = None) -> None:
        """Stop sending to ``url`` (None: to every endpoint of the vendor). Deliveries already
        queued for it still go."""
        with self._lock:
            endpoints = self._endpoints[vendor]
            endpoints[:] = [] if url is None else [u for u in endpoints if u != url]

    def endpoints(self, vendor: str) -> list[str]:
        with self._lock:
            return list(self._endpoints[vendor])

    # -- faults ------------------------------------------------------------------------

    def queue_faults(self, vendor: str, faults: Sequence[DeliveryFault]) -> int:
        with self._lock:
            self._faults[vendor].extend(faults)
            return len(self._faults[vendor])

    def pending_faults(self, vendor: str) -> list[DeliveryFault]:
        with self._lock:
            return list(self._faults[vendor])

    def held(self, vendor: str) -> int:
        """Events a scripted out_of_order holds back (0 or 1)."""
        with self._lock:
            return int(vendor in self._held)

    # -- sending -----------------------------------------------------------------------

    def send(
        self,
        vendor: str,
        change: Change,
        subscription_id: str,
        payloads: Sequence[Mapping[str, Any]],
        now: float,
    ) -> int:
        """Queue ``payloads`` (one change's events, in the vendor's order) for every endpoint
        of the vendor; returns how many deliveries this queued (an event a scripted
        out_of_order holds back is queued with the next change's). With no endpoint the events
        go nowhere, as at a vendor with no webhook configured, and no scripted fault is used."""
        hooks = self._hooks(vendor)
        events = [self._event(hooks, change, subscription_id, p, now) for p in payloads]
        with self._lock:
            endpoints = list(self._endpoints[vendor])
            if not endpoints:
                return 0
            ordered = self._script(vendor, events)
            cancel = self._cancel
            jobs = [
                _Job(vendor, next(self._sequence), url, event, cancel)
                for event in ordered
                for url in endpoints
            ]
            for job in jobs:
                self.log.add(
                    WebhookDelivery(
                        vendor=vendor,
                        sequence=job.sequence,
                        id=job.event.delivery_id,
                        event_type=job.event.event_type,
                        event_id=job.event.event_id,
                        # Its own change: an event held back by out_of_order goes out with
                        # the next change's.
                        change=job.event.change,
                        subscription_id=job.event.subscription_id,
                        url=job.url,
                        body=job.event.body,
                        faults=job.event.labels,
                    )
                )
                self._enqueue(job)
            return len(jobs)

    def _event(
        self,
        hooks: TwinWebhooks,
        change: Change,
        subscription_id: str,
        payload: Mapping[str, Any],
        now: float,
    ) -> _Event:
        make_id = hooks.delivery_id
        return _Event(
            payload=payload,
            body=json_body(payload),
            delivery_id=make_id(now) if make_id is not None else f"whd_{secrets.token_hex(12)}",
            event_type=_read(payload, _TYPE_PATHS) or "",
            event_id=_read(payload, _ID_PATHS),
            change=change,
            subscription_id=subscription_id,
        )

    def _script(self, vendor: str, events: list[_Event]) -> list[_Event]:
        """The events in the order they go out, each with the scripted fault it takes (under
        the lock). A held out_of_order event goes right after the next event, which takes no
        fault of its own: the pair is the fault."""
        ordered: list[_Event] = []
        faults = self._faults[vendor]
        for event in events:
            held = self._held.pop(vendor, None)
            if held is not None:
                ordered += [_label(event, "out_of_order"), held]
                continue
            fault = faults.popleft() if faults else None
            if fault is None:
                ordered.append(event)
            elif fault.kind == "out_of_order":
                self._held[vendor] = _label(event, "out_of_order")
            elif fault.kind == "duplicate":
                ordered += [event, _label(event, "duplicate")]
            else:  # late, bad_signature: how every attempt of it is signed
                ordered.append(attrs.evolve(_label(event, fault.kind), signing=fault))
        return ordered

    def _enqueue(self, job: _Job) -> None:
        lane = self._lanes.setdefault((job.vendor, job.url), _Lane())
        lane.queue.append(job)
        if lane.thread is None:
            thread = threading.Thread(
                target=self._run_lane,
                args=(lane,),
                name=f"portalkit-sandbox-webhooks-{job.vendor}",
                daemon=True,
            )
            lane.thread = thread
            self._threads.add(thread)
            thread.start()

    def _run_lane(self, lane: _Lane) -> None:
        try:
            # One client per busy spell: its connection to the endpoint is reused from one
            # delivery to the next. No proxies from the environment: the endpoint is the app's.
            with httpx.Client(
                timeout=self.policy.timeout, follow_redirects=False, trust_env=False
            ) as client:
                while True:
                    with self._lock:
                        if not lane.queue:
                            lane.thread = None  # decided under the lock _enqueue takes
                            return
                        job = lane.queue.popleft()
                    self._deliver(client, job)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _deliver(self, client: httpx.Client, job: _Job) -> None:
        hooks = self._hooks(job.vendor)
        event = job.event
        signing = event.signing
        kind = None if signing is None else signing.kind
        secret = hooks.secret + WRONG_SECRET_SUFFIX if kind == "bad_signature" else hooks.secret
        backdate = int(signing.seconds) if signing is not None and kind == "late" else 0
        user_agent = f"portalkit-sandbox ({self._twins[job.vendor].title} twin webhooks)"
        for number in range(1, self.policy.max_attempts + 1):
            if job.cancel.is_set():
                return
            at = self._clock()
            timestamp = int(at) - backdate
            headers = {
                "Content-Type": "application/json",
                "User-Agent": user_agent,
                **hooks.sign(event.body, event.payload, secret, timestamp, event.delivery_id),
            }
            status, error = _post(client, job.url, event.body, headers)
            attempt = DeliveryAttempt(
                number=number,
                at=utc(at),
                timestamp=timestamp,
                status_code=status,
                error=error,
                fault=kind,
                headers=headers,
            )
            ok = attempt.ok
            last = number == self.policy.max_attempts
            state: DeliveryState = "delivered" if ok else ("failed" if last else "pending")
            self.log.update(job.vendor, job.sequence, _with_attempt(attempt, state))
            if ok or last:
                return
            if job.cancel.wait(self.policy.delay(number)):
                return  # reset or stopped while waiting to retry

    # -- lifecycle ---------------------------------------------------------------------

    def reset(self) -> None:
        """Drop what is queued and cancel what is being sent (a sent attempt is not taken
        back), clear the log and the scripted faults; endpoints stay."""
        with self._lock:
            self._cancel_all()
            self._clear_script()
        self.log.clear()

    def stop(self) -> None:
        """Cancel every delivery not finished (marked ``abandoned``) and wait for the lanes'
        threads to end: the end of ``Sandbox.serve()``. An attempt in flight ends within the
        policy's timeout. Later events are sent again as usual."""
        with self._lock:
            self._cancel_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join()
        self.log.abandon_pending()

    def _cancel_all(self) -> None:
        self._cancel.set()
        self._cancel = threading.Event()  # the next generation's
        for lane in self._lanes.values():
            lane.queue.clear()

    def _clear_script(self) -> None:
        self._faults = {vendor: deque() for vendor in self._twins}
        self._held = {}

    def _hooks(self, vendor: str) -> TwinWebhooks:
        hooks = self._twins[vendor].webhooks
        if hooks is None:
            raise ValueError(f"{vendor}: the twin sends no webhooks (Twin.webhooks is None)")
        return hooks


def endpoint_url_problem(url: object) -> str | None:
    """Why ``url`` cannot be a webhook endpoint, or None. Any http(s) URL: an app under test
    is often plain http on localhost, or on a host name inside a compose network."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    if len(url) > 2048 or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return "must be a URL of at most 2048 characters, without spaces"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "must be an absolute http(s) URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an absolute http(s) URL"
    return None


def _label(event: _Event, label: str) -> _Event:
    return attrs.evolve(event, labels=(*event.labels, label))


def _with_attempt(
    attempt: DeliveryAttempt, state: DeliveryState
) -> Callable[[WebhookDelivery], WebhookDelivery]:
    def change(delivery: WebhookDelivery) -> WebhookDelivery:
        return attrs.evolve(delivery, attempts=(*delivery.attempts, attempt), state=state)

    return change


def _post(
    client: httpx.Client, url: str, body: bytes, headers: Mapping[str, str]
) -> tuple[int | None, str | None]:
    """The endpoint's status, or (None, why) when it did not answer."""
    try:
        response = client.post(url, content=body, headers=dict(headers))
    # Anything the HTTP stack raises is no answer, to be retried: the worker thread must
    # outlive whatever the endpoint (or a stack that did not map its transport's error into
    # an HTTPError) does, or the deliveries queued behind this one would never be sent.
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return response.status_code, None
