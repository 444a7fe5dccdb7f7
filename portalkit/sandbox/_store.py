"""The sandbox's state: customers, minted sessions, idempotency replays, the request log,
scripted faults, portal cookies, subscriptions' states and the sandbox clock.

Shared by the server thread (the routes) and the test thread (the ``Sandbox`` methods), so
every access goes through one lock. Records handed out are frozen snapshots.
"""

from __future__ import annotations

import copy
import json
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import attrs

from .._redact import redact_url
from ._faults import Fault
from ._subscriptions import new_state, transition
from ._twin_events import Change, SubscriptionState, TwinWebhooks

#: How long an idempotency key is remembered (sandbox time), as vendors commonly do.
IDEMPOTENCY_WINDOW = 24 * 3600.0
# Caps that keep a long test run's sandbox bounded, whatever it is sent. Past a cap the
# oldest entry goes first.
#: Requests kept in each vendor's request log (a ring).
MAX_RECEIVED = 1000
#: Bytes of each logged request body kept; ``ReceivedRequest.body_length`` has the length.
MAX_LOGGED_BODY = 4096
#: Minted sessions kept per vendor (an expired one older than SESSION_RETENTION goes first).
MAX_SESSIONS = 10_000
#: How long after its expiry a session is kept, so opening it still answers "expired".
SESSION_RETENTION = 24 * 3600.0
#: Idempotency replays kept in all (each also expires after IDEMPOTENCY_WINDOW).
MAX_REPLAYS = 10_000
#: Portal cookies kept in all.
MAX_COOKIES = 10_000
#: Past the session or replay cap, the entries long expired are looked for (a walk over all
#: of them) on the first overflow and then once every this many; in between the oldest goes.
#: A walk on every overflow made each create of a long run cost milliseconds (10,000
#: sessions walked per create), where the cap is meant to keep it cheap.
STALE_SCAN_EVERY = 1000

Consumed = Literal["ok", "used", "expired", "missing", "forbidden"]


#: The latest sandbox time advance() reaches (datetime tops out at the year 9999).
_LATEST = datetime(9000, 1, 1, tzinfo=UTC).timestamp()


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@attrs.frozen
class Session:
    """A portal session the sandbox minted. ``url`` (and ``token``) are the bearer
    credential: ``repr()`` hides them. The optional fields hold what a vendor's request
    carried (None where the vendor has no such thing); ``extra`` holds anything else a twin
    wants its hosted page or a test to see."""

    vendor: str
    id: str
    customer_id: str
    return_url: str | None
    #: A per-session configuration as sent (None when absent).
    configuration: Mapping[str, bool] | None
    subscription_ids: tuple[str, ...]
    locale: str | None
    #: The merchant account the session belongs to (the key's, or an on-behalf-of header).
    account_id: str | None
    idempotency_key: str | None
    created_at: datetime
    expires_at: datetime
    used: bool
    url: str = attrs.field(repr=redact_url)
    token: str = attrs.field(repr=False)
    #: A link id other than the session id that the hosted page looks the session up by
    #: (``TwinStore.session_by_link``).
    link_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict, repr=False)

    def expired(self, now: float) -> bool:
        return now >= self.expires_at.timestamp()


@attrs.frozen
class ReceivedRequest:
    """One request to a vendor's create route, as the sandbox received it (faulted ones
    included). Headers are lowercase; they hold credentials, so ``repr()`` omits them."""

    vendor: str
    method: str
    path: str
    query: str
    headers: Mapping[str, str] = attrs.field(repr=False)
    #: The body, or its first MAX_LOGGED_BODY bytes once logged (see ``body_length``).
    body: bytes = attrs.field(repr=False)
    received_at: datetime
    #: The whole body's length in bytes (None: not logged yet, ``len(body)``).
    body_length: int | None = None

    @property
    def truncated(self) -> bool:
        return self.body_length is not None and self.body_length > len(self.body)

    def json(self) -> Any:
        """The body parsed as JSON (ValueError when it is not JSON, or was truncated)."""
        if self.truncated:
            raise ValueError("the logged body is truncated: only its first bytes were kept")
        return json.loads(self.body) if self.body else None


@attrs.frozen
class Replay:
    """A stored answer for an idempotency key."""

    fingerprint: str
    status: int
    body: bytes
    stored_at: float


@attrs.frozen
class PortalCookie:
    """What a portal cookie stands for: a session, and the action its link opened."""

    vendor: str
    session_id: str
    action: str | None
    subscription_id: str | None
    #: The session itself, for a twin whose reusable links are views that mint no stored
    #: session (``Twin.single_use_links`` False): the cookie is then all there is of it.
    session: Session | None = None


class _IdFormat(Protocol):
    @property
    def pattern(self) -> re.Pattern[str]: ...
    @property
    def new(self) -> Callable[[float], str]: ...


class Seeded(Protocol):
    """What the store needs of a twin: its name, seeds and id formats."""

    @property
    def name(self) -> str: ...
    @property
    def customers(self) -> Mapping[str, tuple[str, ...]]: ...
    @property
    def customer_id(self) -> _IdFormat: ...
    @property
    def subscription_id(self) -> _IdFormat: ...
    @property
    def webhooks(self) -> TwinWebhooks | None: ...


def _check_format(vendor: str, what: str, value: object, pattern: re.Pattern[str]) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(
            f"{vendor}: {value!r} is not a valid {what} id (must match {pattern.pattern})"
        )


class Store:
    def __init__(self, twins: Sequence[Seeded], clock: Callable[[], float] = time.time) -> None:
        self._twins = {twin.name: twin for twin in twins}
        self.vendors: tuple[str, ...] = tuple(self._twins)
        self._clock = clock
        self._lock = threading.RLock()
        #: Set while the server stops: hanging and delayed requests give up.
        self.stopping = threading.Event()
        #: Bumped by reset(): requests hanging from before a reset give up too.
        self.generation = 0
        self._offset = 0.0
        #: Overflows of the session and replay caps so far (see STALE_SCAN_EVERY).
        self._overflows = {"sessions": 0, "replays": 0}
        self._customers: dict[str, dict[str, list[str]]] = {}
        self._sessions: dict[str, dict[str, Session]] = {}
        self._links: dict[tuple[str, str], str] = {}
        self._replays: dict[tuple[str, str], Replay] = {}
        self._received: dict[str, deque[ReceivedRequest]] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._cookies: dict[str, PortalCookie] = {}
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}
        self._states: dict[tuple[str, str], SubscriptionState] = {}
        #: Called after every reset(): state kept beside the store (webhook deliveries) goes too.
        self._reset_listeners: list[Callable[[], None]] = []
        self.reset()

    def on_reset(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each reset (``Sandbox.reset()`` and ``POST
        /_sandbox/reset`` alike)."""
        self._reset_listeners.append(listener)

    def reset(self) -> None:
        with self._lock:
            self.generation += 1
            self._offset = 0.0
            self._customers = {
                name: {cid: list(subs) for cid, subs in twin.customers.items()}
                for name, twin in self._twins.items()
            }
            self._sessions = {vendor: {} for vendor in self.vendors}
            self._links = {}
            self._replays = {}
            self._received = {vendor: deque(maxlen=MAX_RECEIVED) for vendor in self.vendors}
            self._faults = {vendor: deque() for vendor in self.vendors}
            self._cookies = {}
            self._objects = {}
            self._states = {}
        for listener in self._reset_listeners:
            listener()

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> float:
        """Sandbox time in seconds since the epoch: the real clock plus advance()."""
        with self._lock:
            return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        # NaN fails every comparison and infinity poisons every later timestamp: refused,
        # so a bad value can never break the calls after it.
        if not isinstance(seconds, int | float) or not math.isfinite(seconds):
            raise ValueError("advance: seconds must be a finite number")
        if seconds < 0:
            raise ValueError("advance: the sandbox clock only moves forward")
        if self._clock() + self._offset + seconds > _LATEST:
            raise ValueError("advance: that would move the clock past the year 9000")
        with self._lock:
            self._offset += seconds

    # -- customers -----------------------------------------------------------------------

    def customers(self, vendor: str) -> list[str]:
        with self._lock:
            return list(self._customers[vendor])

    def has_customer(self, vendor: str, customer_id: str) -> bool:
        with self._lock:
            return customer_id in self._customers[vendor]

    def subscriptions(self, vendor: str, customer_id: str) -> list[str]:
        with self._lock:
            try:
                return list(self._customers[vendor][customer_id])
            except KeyError:
                raise KeyError(f"{vendor}: no customer {customer_id!r} in the sandbox") from None

    def add_customer(self, vendor: str, customer_id: str | None = None) -> str:
        """Add a customer (a fresh valid id when None); adding one twice is harmless.
        ValueError when the id does not match the vendor's format."""
        id_format = self._twins[vendor].customer_id
        if customer_id is None:
            customer_id = id_format.new(self.now())
        _check_format(vendor, "customer", customer_id, id_format.pattern)
        with self._lock:
            self._customers[vendor].setdefault(customer_id, [])
        return customer_id

    def add_subscription(
        self, vendor: str, customer_id: str, subscription_id: str | None = None
    ) -> str:
        """Give ``customer_id`` a subscription (a fresh valid id when None). KeyError for an
        unknown customer; ValueError for a malformed id or one another customer holds."""
        id_format = self._twins[vendor].subscription_id
        if subscription_id is None:
            subscription_id = id_format.new(self.now())
        _check_format(vendor, "subscription", subscription_id, id_format.pattern)
        with self._lock:
            customers = self._customers[vendor]
            if customer_id not in customers:
                raise KeyError(f"{vendor}: no customer {customer_id!r} in the sandbox")
            for other, subs in customers.items():
                if subscription_id in subs and other != customer_id:
                    raise ValueError(
                        f"{vendor}: subscription {subscription_id!r} belongs to {other!r}"
                    )
            if subscription_id not in customers[customer_id]:
                customers[customer_id].append(subscription_id)
        return subscription_id

    def owner(self, vendor: str, subscription_id: str) -> str:
        """The customer who holds ``subscription_id``; KeyError for an unknown subscription."""
        with self._lock:
            for customer_id, subs in self._customers[vendor].items():
                if subscription_id in subs:
                    return customer_id
        raise KeyError(f"{vendor}: no subscription {subscription_id!r} in the sandbox")

    # -- subscriptions' states -------------------------------------------------------------

    def subscription_state(self, vendor: str, subscription_id: str) -> SubscriptionState:
        """The subscription's state, made on first use (active, ten days into its period, on
        the twin's first plan). KeyError for an unknown subscription; ValueError for a twin
        that declares no webhooks (its subscriptions have no state to show)."""
        with self._lock:
            return self._state(vendor, subscription_id)

    def apply(
        self, vendor: str, subscription_id: str, change: Change, now: float | None = None
    ) -> tuple[SubscriptionState, SubscriptionState]:
        """Apply ``change`` at sandbox time ``now`` (default: now), atomically: (before,
        after). ValueError (naming why) for an impossible change, which changes nothing."""
        with self._lock:
            before = self._state(vendor, subscription_id)
            after = transition(
                before, change, self._hooks(vendor), self.now() if now is None else now
            )
            self._states[(vendor, subscription_id)] = after
            return before, after

    def _state(self, vendor: str, subscription_id: str) -> SubscriptionState:
        state = self._states.get((vendor, subscription_id))
        if state is None:
            hooks = self._hooks(vendor)
            customer_id = self.owner(vendor, subscription_id)
            state = new_state(hooks, subscription_id, customer_id, self.now())
            self._states[(vendor, subscription_id)] = state
        return state

    def _hooks(self, vendor: str) -> TwinWebhooks:
        hooks = self._twins[vendor].webhooks
        if hooks is None:
            raise ValueError(f"{vendor}: the twin sends no webhooks (Twin.webhooks is None)")
        return hooks

    # -- request log and faults ------------------------------------------------------------

    def record(self, request: ReceivedRequest) -> None:
        """Log a request: its body cut to MAX_LOGGED_BODY bytes (its length kept), in a ring
        of the last MAX_RECEIVED requests."""
        if request.body_length is None:
            request = attrs.evolve(
                request, body=request.body[:MAX_LOGGED_BODY], body_length=len(request.body)
            )
        with self._lock:
            self._received[request.vendor].append(request)

    def received(self, vendor: str) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received[vendor])

    def queue_faults(self, vendor: str, faults: Iterable[Fault]) -> int:
        with self._lock:
            self._faults[vendor].extend(faults)
            return len(self._faults[vendor])

    def clear_faults(self, vendor: str) -> None:
        with self._lock:
            self._faults[vendor].clear()

    def next_fault(self, vendor: str) -> Fault | None:
        with self._lock:
            queue = self._faults[vendor]
            return queue.popleft() if queue else None

    def pending_faults(self, vendor: str) -> list[Fault]:
        with self._lock:
            return list(self._faults[vendor])

    # -- sessions ------------------------------------------------------------------------

    def add_session(self, session: Session) -> None:
        with self._lock:
            sessions = self._sessions[session.vendor]
            sessions[session.id] = session
            if session.link_id is not None:
                self._links[(session.vendor, session.link_id)] = session.id
            if len(sessions) > MAX_SESSIONS:
                self._prune_sessions(sessions)

    def _scan_due(self, cap: str) -> bool:
        """Whether this overflow of ``cap`` walks its entries for expired ones."""
        self._overflows[cap] += 1
        return (self._overflows[cap] - 1) % STALE_SCAN_EVERY == 0  # the first, then every Nth

    def _prune_sessions(self, sessions: dict[str, Session]) -> None:
        """Down to MAX_SESSIONS: sessions long expired first when a scan is due, then the
        oldest."""
        if self._scan_due("sessions"):
            cutoff = self.now() - SESSION_RETENTION
            stale = [sid for sid, s in sessions.items() if s.expires_at.timestamp() < cutoff]
            for session_id in stale:
                self._forget_session(sessions, session_id)
        while len(sessions) > MAX_SESSIONS:
            self._forget_session(sessions, next(iter(sessions)))  # insertion order: oldest

    def _forget_session(self, sessions: dict[str, Session], session_id: str) -> None:
        session = sessions.pop(session_id)
        if session.link_id is not None:
            self._links.pop((session.vendor, session.link_id), None)

    def sessions(self, vendor: str) -> list[Session]:
        with self._lock:
            return list(self._sessions[vendor].values())

    def session(self, vendor: str, session_id: str) -> Session | None:
        with self._lock:
            return self._sessions[vendor].get(session_id)

    def session_by_link(self, vendor: str, link_id: str) -> Session | None:
        with self._lock:
            session_id = self._links.get((vendor, link_id))
            return None if session_id is None else self._sessions[vendor].get(session_id)

    def consume(self, vendor: str, session_id: str, token: str | None = None) -> Consumed:
        """Use a session's single-use link, atomically. ``token``, when given, must match
        (compared in constant time); a wrong token ("forbidden") does not use the link up."""
        with self._lock:
            session = self._sessions[vendor].get(session_id)
            if session is None:
                return "missing"
            if token is not None and not secrets.compare_digest(
                token.encode(), session.token.encode()
            ):
                return "forbidden"
            if session.used:
                return "used"
            if session.expired(self.now()):
                return "expired"
            self._sessions[vendor][session_id] = attrs.evolve(session, used=True)
            return "ok"

    # -- idempotency ---------------------------------------------------------------------

    def replay(self, vendor: str, key: str) -> Replay | None:
        with self._lock:
            stored = self._replays.get((vendor, key))
            if stored is not None and self.now() - stored.stored_at > IDEMPOTENCY_WINDOW:
                del self._replays[(vendor, key)]
                return None
            return stored

    def remember(self, vendor: str, key: str, replay: Replay) -> None:
        with self._lock:
            self._replays[(vendor, key)] = replay
            if len(self._replays) > MAX_REPLAYS:
                if self._scan_due("replays"):
                    now = self.now()
                    expired = [
                        k
                        for k, r in self._replays.items()
                        if now - r.stored_at > IDEMPOTENCY_WINDOW
                    ]
                    for stale in expired:
                        del self._replays[stale]
                while len(self._replays) > MAX_REPLAYS:
                    del self._replays[next(iter(self._replays))]

    # -- a twin's own objects ----------------------------------------------------------

    def put_object(self, vendor: str, kind: str, object_id: str, value: Any) -> None:
        with self._lock:
            self._objects.setdefault((vendor, kind), {})[object_id] = _copied(value)

    def get_object(self, vendor: str, kind: str, object_id: str) -> Any | None:
        with self._lock:
            return _copied(self._objects.get((vendor, kind), {}).get(object_id))

    def objects(self, vendor: str, kind: str) -> list[tuple[str, Any]]:
        with self._lock:
            return [
                (key, _copied(value))
                for key, value in self._objects.get((vendor, kind), {}).items()
            ]

    # -- portal cookies ------------------------------------------------------------------

    def new_cookie(self, cookie: PortalCookie) -> str:
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._cookies[value] = cookie
            while len(self._cookies) > MAX_COOKIES:
                del self._cookies[next(iter(self._cookies))]
        return value

    def cookie(self, value: str | None) -> PortalCookie | None:
        if not value:
            return None
        with self._lock:
            return self._cookies.get(value)


class TwinStore:
    """One vendor's view of the sandbox state, as a twin's route handlers and pages see it
    (``Call.store``, ``Pages.store``): its customers, its sessions, its idempotency keys."""

    def __init__(self, store: Store, vendor: str) -> None:
        self._store = store
        self.vendor = vendor

    def now(self) -> float:
        """Sandbox time in seconds since the epoch."""
        return self._store.now()

    def customers(self) -> list[str]:
        return self._store.customers(self.vendor)

    def has_customer(self, customer_id: str) -> bool:
        return self._store.has_customer(self.vendor, customer_id)

    def subscriptions(self, customer_id: str) -> list[str]:
        """The customer's subscriptions; KeyError for an unknown customer."""
        return self._store.subscriptions(self.vendor, customer_id)

    def subscription_state(self, subscription_id: str) -> SubscriptionState:
        """The subscription's state as the portal's actions and ``Sandbox.trigger`` left it
        (made on first use): what a twin's subscription read renders. KeyError for an unknown
        subscription; ValueError when the twin declares no webhooks."""
        return self._store.subscription_state(self.vendor, subscription_id)

    def add_session(self, session: Session) -> None:
        """Keep a minted session (its ``vendor`` must be this twin's)."""
        if session.vendor != self.vendor:
            raise ValueError(f"a {session.vendor!r} session in the {self.vendor!r} store")
        self._store.add_session(session)

    def session(self, session_id: str) -> Session | None:
        return self._store.session(self.vendor, session_id)

    def session_by_link(self, link_id: str) -> Session | None:
        """The session whose ``link_id`` is ``link_id``."""
        return self._store.session_by_link(self.vendor, link_id)

    def sessions(self) -> list[Session]:
        return self._store.sessions(self.vendor)

    def consume(self, session_id: str, token: str | None = None) -> Consumed:
        """Use a session's single-use link (see ``Store.consume``)."""
        return self._store.consume(self.vendor, session_id, token)

    def replay(self, key: str) -> Replay | None:
        return self._store.replay(self.vendor, key)

    def remember(self, key: str, replay: Replay) -> None:
        self._store.remember(self.vendor, key, replay)

    def put_object(self, kind: str, object_id: str, value: Any) -> None:
        """Keep (or replace) one of this twin's own objects (a vendor resource the twin
        emulates besides sessions, e.g. a portal configuration): ``value`` is copied, and
        every object goes on ``Sandbox.reset()``."""
        self._store.put_object(self.vendor, kind, object_id, value)

    def get_object(self, kind: str, object_id: str) -> Any | None:
        """A copy of the object of ``kind`` with id ``object_id``, or None."""
        return self._store.get_object(self.vendor, kind, object_id)

    def objects(self, kind: str) -> list[tuple[str, Any]]:
        """Every object of ``kind`` as (id, copy), in the order they were first put."""
        return self._store.objects(self.vendor, kind)


_ATOMS = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """A deep copy of a twin's object. They are JSON-shaped (dicts, lists, strings,
    numbers), which this copies about five times faster than ``copy.deepcopy`` (whose memo
    of shared references JSON cannot hold): a twin that reads one of its objects on every
    create (a portal configuration) spent half the create in that copy. Anything else is
    deep-copied."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, _ATOMS):
        return value
    return copy.deepcopy(value)
