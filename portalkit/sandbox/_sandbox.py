"""Sandbox: the local emulator of every registered vendor twin, as one object.

    sandbox = Sandbox()
    with sandbox.serve():                      # uvicorn on 127.0.0.1, a free port
        with Portal(sandbox.provider("paddle")) as portal:
            link = portal.create_link(PortalRequest(customer_id=sandbox.customers("paddle")[0]))

State (customers, sessions, faults, clock) lives in memory from construction; ``serve()``
only puts it on a socket, and ``app`` is the same state as an ASGI application.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from starlette.types import ASGIApp

from .._env import ProviderEnv
from .._protocol import PortalProvider
from .._registry import get_provider_factory
from ._app import build_app
from ._describe import describe
from ._faults import Fault
from ._server import ServerThread
from ._store import ReceivedRequest, Session, Store, utc
from ._twins import load_twins
from .twin import KEY_KINDS, KeyKind, Twin


class Sandbox:
    """In-memory vendor state with seeded customers, an ASGI app over it, and ``serve()``.

    ``clock`` is the real clock the sandbox starts from (seconds since the epoch);
    ``advance()`` moves sandbox time past it. ``twins`` are the vendors it emulates (default:
    every twin registered in the ``portalkit.sandbox`` entry-point group). Thread-safe: a
    test thread may script faults while the server thread answers requests.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, twins: Sequence[Twin] | None = None
    ) -> None:
        self._twins = {twin.name: twin for twin in (load_twins() if twins is None else twins)}
        self._store = Store(list(self._twins.values()), clock)
        self._app = build_app(list(self._twins.values()), self._store, clock)
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
            raise ValueError(
                f"unknown vendor {vendor!r}; expected one of {', '.join(self._twins)}"
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
        requests hanging on a fault are released."""
        self._store.reset()

    def describe(self) -> str:
        """URL, credentials and seeded customers, for a person to read."""
        return describe(list(self._twins.values()), self._store, self._url)

    def __repr__(self) -> str:
        return f"Sandbox(url={self._url!r})"
