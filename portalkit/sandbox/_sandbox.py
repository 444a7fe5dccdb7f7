"""Sandbox: the local emulator of every registered vendor twin, as one object.

    sandbox = Sandbox()
    with sandbox.serve():                      # uvicorn on 127.0.0.1, a free port
        with Portal(sandbox.provider("paddle")) as portal:
            link = portal.create_link(PortalRequest(customer_id=sandbox.customers("paddle")[0]))

State (customers, sessions, faults, clock) lives in memory from construction; ``serve()``
only puts it on a socket, and ``app`` is the same state as an ASGI application.

A twin that declares webhooks also sends them: ``add_webhook_endpoint`` says where,
``trigger`` (or a button on the portal page) changes a subscription and queues the vendor's
events, ``deliveries`` and ``wait_for_deliveries`` show what was sent and answered.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from starlette.types import ASGIApp

from .._env import ProviderEnv
from .._protocol import PortalProvider
from .._registry import did_you_mean, get_provider_factory
from ._app import build_app
from ._changes import AppliedChange, Changes
from ._deliveries import Deliveries, DeliveryPolicy
from ._delivery_faults import DeliveryFault
from ._delivery_log import WebhookDelivery
from ._describe import describe, webhook_env
from ._faults import Fault
from ._server import ServerThread
from ._store import ReceivedRequest, Session, Store, utc
from ._twin_events import Change, SubscriptionState
from ._twins import load_twins
from .twin import KEY_KINDS, KeyKind, Twin


class Sandbox:
    """In-memory vendor state with seeded customers, an ASGI app over it, and ``serve()``.

    ``clock`` is the real clock the sandbox starts from (seconds since the epoch);
    ``advance()`` moves sandbox time past it. ``twins`` are the vendors it emulates (default:
    every twin registered in the ``portalkit.sandbox`` entry-point group). ``delivery_policy``
    is how webhook deliveries are retried (default: 5 attempts, 0.05 s doubling, 5 s
    timeout). Thread-safe: a test thread may script faults while the server thread answers
    requests.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        twins: Sequence[Twin] | None = None,
        delivery_policy: DeliveryPolicy | None = None,
    ) -> None:
        self._twins = {twin.name: twin for twin in (load_twins() if twins is None else twins)}
        listed = list(self._twins.values())
        self._store = Store(listed, clock)
        # Signatures carry the real clock, as the receiving app checks them against its own.
        self._deliveries = Deliveries(listed, clock, delivery_policy)
        self._store.on_reset(self._deliveries.reset)
        self._changes = Changes(listed, self._store, self._deliveries)
        self._app = build_app(listed, self._store, clock, self._changes, self._deliveries)
        self._server: ServerThread | None = None
        self._url: str | None = None

    # -- serving -------------------------------------------------------------------------

    @property
    def app(self) -> ASGIApp:
        """The ASGI application (also usable with ``httpx.ASGITransport``)."""
        return self._app

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[Sandbox]:
        """Serve on ``host``:``port`` (0: a free port) in a background thread until the block
        ends. ``url`` is set inside the block; leaving it stops the server, releases hanging
        requests and closes the socket."""
        if self._server is not None:
            raise RuntimeError("this Sandbox is already serving")
        server = ServerThread(self._app, host, port)
        self._store.stopping.clear()
        server.start()
        self._server = server
        shown = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 -- a mapping
        self._url = (
            f"http://[{shown}]:{server.port}" if ":" in shown else f"http://{shown}:{server.port}"
        )
        try:
            yield self
        finally:
            self._store.stopping.set()
            server.stop()
            # Deliveries still being retried end with the server: no thread outlives it.
            self._deliveries.stop()
            self._server = None
            self._url = None

    @property
    def serving(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` while serving; RuntimeError otherwise."""
        if self._url is None:
            raise RuntimeError("the sandbox is not serving: use `with sandbox.serve():`")
        return self._url

    # -- vendors, credentials and adapters --------------------------------------------------

    @property
    def vendors(self) -> tuple[str, ...]:
        """The names of the vendors this sandbox emulates, in registration order."""
        return tuple(self._twins)

    def twin(self, vendor: str) -> Twin:
        """The vendor's twin; ValueError naming the vendors for an unknown one."""
        try:
            return self._twins[vendor]
        except KeyError:
            hint = did_you_mean(vendor, self._twins) if isinstance(vendor, str) else ""
            raise ValueError(
                f"unknown vendor {vendor!r}; expected one of {', '.join(self._twins)}{hint}"
            ) from None

    def _vendor(self, vendor: str) -> str:
        return self.twin(vendor).name

    def credentials(self, vendor: str, key: KeyKind = "valid") -> dict[str, str]:
        """The adapter's constructor keyword arguments (its ``from_env`` fields) for a
        ``valid`` key, a ``wrong`` one (401) or one without the portal scope (``no_scope``,
        403)."""
        if key not in KEY_KINDS:
            raise ValueError(f"unknown key kind {key!r}; expected one of {', '.join(KEY_KINDS)}")
        return dict(self.twin(vendor).credentials[key])

    def base_url(self, vendor: str) -> str:
        """Where the vendor's adapter points: ``url`` plus the twin's ``base_path``."""
        return self.url + self.twin(vendor).base_path

    def environment(
        self, vendor: str, key: KeyKind = "valid", *, base_url: str | None = None
    ) -> dict[str, str]:
        """The vendor's environment variables (``PADDLE_API_KEY``, ``PADDLE_BASE_URL``, ...)
        that make ``Portal.from_env`` talk to this sandbox."""
        twin = self.twin(vendor)
        env = ProviderEnv(twin.name, {})
        fields = {**self.credentials(vendor, key), **twin.environment}
        fields["base_url"] = base_url or self.base_url(vendor)
        return {env.variable(field): value for field, value in fields.items()}

    def provider(
        self, vendor: str, key: KeyKind = "valid", *, base_url: str | None = None
    ) -> PortalProvider:
        """A ready adapter pointed at this sandbox (``base_url`` defaults to
        ``base_url(vendor)``), built through the registry as ``Portal.from_env`` builds it:
        the sandbox never imports an adapter."""
        env = ProviderEnv(vendor, self.environment(vendor, key, base_url=base_url))
        return get_provider_factory(self._vendor(vendor)).from_env(env)

    # -- customers -----------------------------------------------------------------------

    def customers(self, vendor: str) -> list[str]:
        """The vendor's customer ids: the seeded ones first, in a fixed order."""
        return self._store.customers(self._vendor(vendor))

    def subscriptions(self, vendor: str, customer_id: str) -> list[str]:
        """The customer's subscription ids (KeyError for an unknown customer)."""
        return self._store.subscriptions(self._vendor(vendor), customer_id)

    def add_customer(self, vendor: str, customer_id: str | None = None) -> str:
        """Add a customer; with no id, a fresh valid one. Returns the id."""
        return self._store.add_customer(self._vendor(vendor), customer_id)

    def add_subscription(
        self, vendor: str, customer_id: str, subscription_id: str | None = None
    ) -> str:
        """Give a customer a subscription; with no id, a fresh valid one. Returns the id."""
        return self._store.add_subscription(self._vendor(vendor), customer_id, subscription_id)

    # -- faults, inspection, time ----------------------------------------------------------

    def script(self, vendor: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests to the vendor's API routes, one each, in
        order, after any already queued; then normal behaviour resumes."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"script() takes Fault values, not {type(fault).__name__}")
        self._store.queue_faults(self._vendor(vendor), faults)

    def sessions(self, vendor: str) -> list[Session]:
        """Sessions minted so far, oldest first."""
        return self._store.sessions(self._vendor(vendor))

    def received(self, vendor: str) -> list[ReceivedRequest]:
        """Requests to the vendor's API routes so far (faulted ones included), oldest first."""
        return self._store.received(self._vendor(vendor))

    def now(self) -> datetime:
        """Sandbox time (UTC): the clock plus everything ``advance()`` added."""
        return utc(self._store.now())

    def advance(self, seconds: float) -> None:
        """Move sandbox time forward: sessions expire, idempotency keys are forgotten."""
        self._store.advance(seconds)

    def reset(self) -> None:
        """Back to the seeded state: sessions, request log, faults and clock offset cleared;
        requests hanging on a fault are released; subscriptions' states, the delivery log,
        scripted delivery faults and deliveries not yet sent are dropped (webhook endpoints
        stay registered: see ``remove_webhook_endpoint``)."""
        self._store.reset()

    # -- webhooks ------------------------------------------------------------------------

    def webhook_env(self, vendor: str) -> dict[str, str]:
        """What ``portalkit.Webhooks.from_env`` needs to verify the twin's deliveries:
        ``{"PORTALKIT_PROVIDER": vendor, "STRIPE_WEBHOOK_SECRET": ...}`` (sandbox secrets).
        ValueError for a twin that sends no webhooks."""
        return webhook_env(self.twin(vendor))

    def add_webhook_endpoint(self, vendor: str, url: str) -> None:
        """Send the vendor's events to ``url`` (an http(s) URL of the app under test), besides
        any endpoint already added. Endpoints outlive ``reset()``."""
        self._deliveries.add_endpoint(self._vendor(vendor), url)

    def remove_webhook_endpoint(self, vendor: str, url: str | None = None) -> None:
        """Stop sending to ``url`` (None: to every endpoint of the vendor)."""
        self._deliveries.remove_endpoint(self._vendor(vendor), url)

    def webhook_endpoints(self, vendor: str) -> list[str]:
        """Where the vendor's events go, in the order added."""
        return self._deliveries.endpoints(self._vendor(vendor))

    def trigger(
        self,
        vendor: str,
        change: Change | str,
        *,
        customer_id: str | None = None,
        subscription_id: str | None = None,
    ) -> AppliedChange:
        """Change a subscription as the customer would in the vendor's portal, and send the
        vendor's events for it to every endpoint (like ``stripe trigger``). ``change`` is an
        ``EventType`` the twin has events for (``TwinWebhooks.changes``). With no
        ``subscription_id``, the customer's first subscription; with no customer either, the
        first customer's that has one.

        ValueError for a twin without webhooks, a change it has no events for, a subscription
        of another customer, or an impossible change (cancelling an ended subscription,
        withdrawing a cancellation never scheduled); KeyError for an unknown customer or
        subscription. Returns at once: the deliveries go from a background thread
        (``wait_for_deliveries``)."""
        return self._changes.trigger(
            self._vendor(vendor), change, customer_id=customer_id, subscription_id=subscription_id
        )

    def subscription(self, vendor: str, subscription_id: str) -> SubscriptionState:
        """The subscription's state as triggers and the portal's buttons left it (active, ten
        days into a thirty-day period, on the twin's first plan until changed). KeyError for
        an unknown subscription."""
        return self._store.subscription_state(self._vendor(vendor), subscription_id)

    def script_deliveries(self, vendor: str, *faults: DeliveryFault) -> None:
        """Queue delivery faults for the vendor's next events, one each, in order (an
        ``out_of_order`` takes two events), after any already queued."""
        for fault in faults:
            if not isinstance(fault, DeliveryFault):
                raise TypeError(
                    f"script_deliveries() takes DeliveryFault values, not {type(fault).__name__}"
                )
        name = self._vendor(vendor)
        self._changes.hooks(name)
        self._deliveries.queue_faults(name, faults)

    def deliveries(self, vendor: str) -> list[WebhookDelivery]:
        """The vendor's webhook deliveries so far, in the order they were queued (one per
        event and endpoint; a scripted duplicate twice), each with its attempts."""
        return self._deliveries.log.deliveries(self._vendor(vendor))

    def wait_for_deliveries(
        self, vendor: str, count: int, timeout: float = 5.0
    ) -> list[WebhookDelivery]:
        """Block until ``count`` of the vendor's deliveries are finished (delivered, or given
        up after the last attempt), then return all of them. TimeoutError saying how many
        finished."""
        name = self._vendor(vendor)
        return self._deliveries.log.wait(name, count, timeout, lambda: self._deliveries.held(name))

    def describe(self) -> str:
        """URL, credentials and seeded customers, for a person to read."""
        return describe(list(self._twins.values()), self._store, self._url)

    def __repr__(self) -> str:
        return f"Sandbox(url={self._url!r})"
