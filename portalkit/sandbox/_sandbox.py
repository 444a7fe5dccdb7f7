"""Sandbox: the local emulator of Plugipay, Paylera and Paddle, as one object.

    sandbox = Sandbox()
    with sandbox.serve():                      # uvicorn on 127.0.0.1, a free port
        with Portal(sandbox.provider("paddle")) as portal:
            link = portal.create_link(PortalRequest(customer_id=sandbox.customers("paddle")[0]))

State (customers, sessions, faults, clock) lives in memory from construction; ``serve()``
only puts it on a socket, and ``app`` is the same state as an ASGI application.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal, overload

from starlette.types import ASGIApp

from ..providers.paddle import Paddle
from ..providers.paylera import Paylera
from ..providers.plugipay import Plugipay
from ._app import build_app
from ._describe import describe
from ._faults import Fault
from ._seeds import CREDENTIALS, KEY_KINDS, VENDORS, KeyKind, Vendor
from ._server import ServerThread
from ._store import ReceivedRequest, Session, Store, utc


def _vendor(name: str) -> Vendor:
    for vendor in VENDORS:
        if name == vendor:
            return vendor
    raise ValueError(f"unknown vendor {name!r}; expected one of {', '.join(VENDORS)}")


class Sandbox:
    """In-memory vendor state with seeded customers, an ASGI app over it, and ``serve()``.

    ``clock`` is the real clock the sandbox starts from (seconds since the epoch);
    ``advance()`` moves sandbox time past it. Thread-safe: a test thread may script faults
    while the server thread answers requests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._store = Store(clock)
        self._app = build_app(self._store, clock)
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

    # -- credentials and adapters ----------------------------------------------------------

    def credentials(self, vendor: str, key: KeyKind = "valid") -> dict[str, str]:
        """The adapter's constructor keyword arguments for a ``valid`` key, a ``wrong`` one
        (401) or one without the portal scope (``no_scope``, 403)."""
        if key not in KEY_KINDS:
            raise ValueError(f"unknown key kind {key!r}; expected one of {', '.join(KEY_KINDS)}")
        return dict(CREDENTIALS[_vendor(vendor)][key])

    @overload
    def provider(
        self, vendor: Literal["plugipay"], key: KeyKind = ..., *, base_url: str | None = ...
    ) -> Plugipay: ...
    @overload
    def provider(
        self, vendor: Literal["paylera"], key: KeyKind = ..., *, base_url: str | None = ...
    ) -> Paylera: ...
    @overload
    def provider(
        self, vendor: Literal["paddle"], key: KeyKind = ..., *, base_url: str | None = ...
    ) -> Paddle: ...
    @overload
    def provider(
        self, vendor: str, key: KeyKind = ..., *, base_url: str | None = ...
    ) -> Plugipay | Paylera | Paddle: ...

    def provider(
        self, vendor: str, key: KeyKind = "valid", *, base_url: str | None = None
    ) -> Plugipay | Paylera | Paddle:
        """A ready adapter pointed at this sandbox (``base_url`` defaults to ``url``)."""
        creds = self.credentials(vendor, key)
        root = base_url or self.url
        if vendor == "plugipay":
            return Plugipay(creds["key_id"], creds["key_secret"], base_url=root)
        if vendor == "paylera":
            return Paylera(creds["api_key"], base_url=root)
        return Paddle(creds["api_key"], environment="sandbox", base_url=root)

    # -- customers -----------------------------------------------------------------------

    def customers(self, vendor: str) -> list[str]:
        """The vendor's customer ids: the seeded ones first, in a fixed order."""
        return self._store.customers(_vendor(vendor))

    def subscriptions(self, vendor: str, customer_id: str) -> list[str]:
        """The customer's subscription ids (KeyError for an unknown customer)."""
        return self._store.subscriptions(_vendor(vendor), customer_id)

    def add_customer(self, vendor: str, customer_id: str | None = None) -> str:
        """Add a customer; with no id, a fresh valid one. Returns the id."""
        return self._store.add_customer(_vendor(vendor), customer_id)

    def add_subscription(
        self, vendor: str, customer_id: str, subscription_id: str | None = None
    ) -> str:
        """Give a customer a subscription; with no id, a fresh valid one. Returns the id."""
        return self._store.add_subscription(_vendor(vendor), customer_id, subscription_id)

    # -- faults, inspection, time ----------------------------------------------------------

    def script(self, vendor: str, *faults: Fault) -> None:
        """Queue ``faults`` for the next requests to the vendor's create route, one each, in
        order, after any already queued; then normal behaviour resumes."""
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"script() takes Fault values, not {type(fault).__name__}")
        self._store.queue_faults(_vendor(vendor), faults)

    def sessions(self, vendor: str) -> list[Session]:
        """Sessions minted so far, oldest first."""
        return self._store.sessions(_vendor(vendor))

    def received(self, vendor: str) -> list[ReceivedRequest]:
        """Requests to the vendor's create route so far (faulted ones included), oldest first."""
        return self._store.received(_vendor(vendor))

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
        return describe(self._store, self._url)

    def __repr__(self) -> str:
        return f"Sandbox(url={self._url!r})"
