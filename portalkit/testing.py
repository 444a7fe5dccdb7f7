"""pytest plugin: a running portalkit sandbox, and a ``Portal`` per vendor pointed at it.

Installed with portalkit (the ``pytest11`` entry point ``portalkit``), so an application's
tests can cover its "Manage billing" path against real HTTP in a few lines::

    from portalkit import PortalRequest
    from portalkit.testing import Fault

    def test_manage_billing(portal_sandbox, portal_for):
        customer = portal_sandbox.customers("paddle")[0]
        link = portal_for("paddle").create_link(PortalRequest(customer))
        assert link.session_id == portal_sandbox.sessions("paddle")[0].id

    def test_paddle_outage_is_retried(portal_sandbox, portal_for):
        portal_sandbox.script("paddle", Fault.status(503), Fault.status(429, retry_after=1))
        ...

Fixtures:

``portal_sandbox``
    The running ``portalkit.sandbox.Sandbox``: one server per test session (started on first
    use, on 127.0.0.1 and a free port), reset to its seeded state before and after each test,
    so a fault scripted or a session minted in one test never reaches the next.
``portal_for``
    ``portal_for(vendor, key="valid", **portal_options) -> Portal`` pointed at the sandbox,
    closed after the test. ``key`` is ``"valid"``, ``"wrong"`` (401) or ``"no_scope"`` (403).
    Retries do not sleep unless you pass ``retry=``: see ``FAST_RETRY``.
``portal_by_vendor``
    ``{vendor: Portal}`` for every vendor the sandbox emulates, all pointed at it.
    (``sandbox_portals``, its name before every fixture shared the ``portal_`` prefix, is
    kept as an alias.)
``portal_sandbox_env``
    Sets each vendor's environment variables (credentials, ``<VENDOR>_BASE_URL``) to the
    sandbox's for the length of the test, so code that builds its ``Portal`` with
    ``Portal.from_env()`` talks to the sandbox; returns what it set. Choose the vendor with
    ``monkeypatch.setenv("PORTALKIT_PROVIDER", "paddle")``.
``portal_webhooks``
    The sandbox's webhooks, for a test of the app's own webhook handler
    (``PortalWebhooks``): ``serve(app)`` puts an ASGI app on 127.0.0.1 for the test,
    ``forward(vendor, url)`` sends the vendor's events there, ``env(vendor)`` is what
    ``Webhooks.from_env`` needs to verify them, ``trigger(vendor, EventType...)`` changes a
    subscription and sends the vendor's events, ``script(vendor, *DeliveryFault...)``
    disturbs the next deliveries, ``wait(vendor, count)`` blocks until they are over, and
    ``events(vendor)`` reads what was delivered into ``BillingEvent``s::

        def test_cancel_is_recorded(portal_webhooks):
            hooks = Webhooks.from_env(portal_webhooks.env("stripe"))
            url = portal_webhooks.serve(create_app(hooks))  # the app's own webhook view
            portal_webhooks.forward("stripe", url + "/webhooks")
            portal_webhooks.trigger("stripe", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
            (delivery,) = portal_webhooks.wait("stripe")
            assert delivery.delivered

Loading the plugin imports nothing beyond pytest and portalkit's core: the sandbox
(starlette, uvicorn: the ``sandbox`` extra) is imported when a test first asks for one of
these fixtures, and a missing extra fails that test with the install command, not the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Literal

import pytest

from ._portal import Portal
from ._registry import available_twins
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from ._events import BillingEvent, EventType
    from .sandbox import AppliedChange, DeliveryFault, Fault, Sandbox, WebhookDelivery

    #: The names of the vendors the sandbox emulates (the registered twins), sorted.
    VENDORS: tuple[str, ...]
    #: The names of the vendors whose twins send webhooks, in the same order.
    WEBHOOK_VENDORS: tuple[str, ...]

__all__ = [
    "FAST_DELIVERY_BACKOFF",
    "FAST_RETRY",
    "VENDORS",
    "WEBHOOK_VENDORS",
    "DeliveryFault",
    "Fault",
    "KeyKind",
    "PortalFactory",
    "PortalWebhooks",
    "Sandbox",
    "portal_by_vendor",
    "portal_for",
    "portal_sandbox",
    "portal_sandbox_env",
    "portal_webhooks",
    "sandbox_portals",
]

INSTALL_HINT = (
    "portalkit.testing: the sandbox needs the 'sandbox' extra: "
    "pip install './portalkit[sandbox]' from a clone, or '<wheel>[sandbox]' (not on PyPI yet)"
)

#: Which sandbox credentials: accepted, refused (401), or without the portal scope (403).
KeyKind = Literal["valid", "wrong", "no_scope"]
PortalFactory = Callable[..., Portal]


def __getattr__(name: str) -> Any:
    """``Fault``, ``DeliveryFault`` and ``Sandbox`` from portalkit.sandbox, imported on first
    use, so that loading this plugin stays cheap and works without the sandbox extra;
    ``VENDORS``, the registered twins' names (``portalkit.sandbox`` entry points), read on
    use; ``WEBHOOK_VENDORS``, those whose twins send webhooks (loading the twins)."""
    if name == "Fault":
        from .sandbox import Fault

        return Fault
    if name == "DeliveryFault":
        from .sandbox import DeliveryFault

        return DeliveryFault
    if name == "Sandbox":
        from .sandbox import Sandbox

        return Sandbox
    if name == "VENDORS":  # read from the registry (entry points), never restated here
        return tuple(available_twins())
    if name == "WEBHOOK_VENDORS":  # the twins themselves say whether they send webhooks
        from .sandbox import load_twins

        return tuple(twin.name for twin in load_twins() if twin.webhooks is not None)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The retry policy ``portal_for`` uses by default: the attempts and deadline of
#: ``RetryPolicy()`` without the sleeps (no backoff, ``Retry-After`` capped at 0), so a
#: scripted 429 or 503 costs a test no time. Pass ``retry=RetryPolicy()`` for real waits.
FAST_RETRY = RetryPolicy(backoff_initial=0, retry_after_cap=0)


def _sandbox_class() -> type[Sandbox]:
    try:
        from .sandbox import Sandbox
    except ImportError as exc:
        reason = str(exc)
    else:
        return Sandbox
    # Outside the except block, so the report is this line and not an import traceback.
    pytest.fail(f"{INSTALL_HINT} ({reason})", pytrace=False)


#: The backoff between webhook delivery attempts in the plugin's sandbox (seconds, doubling
#: at each of the 5 attempts): a test of a refused delivery waits 0.15 s in all, not 0.75 s.
FAST_DELIVERY_BACKOFF = 0.01


@pytest.fixture(scope="session")
def _portalkit_sandbox_server() -> Iterator[Sandbox]:
    sandbox_class = _sandbox_class()  # fails the test with the install hint, when missing
    from .sandbox import DeliveryPolicy

    sandbox = sandbox_class(delivery_policy=DeliveryPolicy(backoff=FAST_DELIVERY_BACKOFF))
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


@pytest.fixture
def portal_sandbox(_portalkit_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The running sandbox, in its seeded state (see the module docstring)."""
    sandbox = _portalkit_sandbox_server
    _clean(sandbox)
    yield sandbox
    _clean(sandbox)  # also releases requests left hanging on a scripted fault


def _clean(sandbox: Sandbox) -> None:
    sandbox.reset()
    # Webhook endpoints outlive a reset (they are wiring); a test's are its own.
    for vendor in sandbox.vendors:
        sandbox.remove_webhook_endpoint(vendor)


@pytest.fixture
def portal_for(portal_sandbox: Sandbox) -> Iterator[PortalFactory]:
    """``portal_for(vendor, key="valid", **portal_options)``: a Portal pointed at the
    sandbox, closed after the test."""
    opened: list[Portal] = []

    def make(vendor: str, key: KeyKind = "valid", **portal_options: Any) -> Portal:
        portal_options.setdefault("retry", FAST_RETRY)
        portal = Portal(portal_sandbox.provider(vendor, key), **portal_options)
        opened.append(portal)
        return portal

    yield make
    for portal in opened:
        portal.close()


@pytest.fixture
def portal_by_vendor(portal_sandbox: Sandbox, portal_for: PortalFactory) -> dict[str, Portal]:
    """A Portal per vendor, pointed at the sandbox: ``portal_by_vendor["paddle"]``."""
    return {vendor: portal_for(vendor) for vendor in portal_sandbox.vendors}


@pytest.fixture
def sandbox_portals(portal_by_vendor: dict[str, Portal]) -> dict[str, Portal]:
    """``portal_by_vendor`` under its former name, kept for existing test suites."""
    return portal_by_vendor


@pytest.fixture
def portal_sandbox_env(portal_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every vendor's environment variables, set to the sandbox's for this test."""
    variables: dict[str, str] = {}
    for vendor in portal_sandbox.vendors:
        variables.update(portal_sandbox.environment(vendor))
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


class PortalWebhooks:
    """The ``portal_webhooks`` fixture: the running sandbox's webhooks, for a test of the
    app's own webhook handler against every vendor's twin. Everything it starts or registers
    ends with the test."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._servers = ExitStack()

    def serve(self, app: ASGIApp) -> str:
        """Serve the ASGI ``app`` (Starlette, FastAPI, ...) on 127.0.0.1 and a free port until
        the test ends, so the sandbox can POST to it; returns its root URL
        (``http://127.0.0.1:<port>``). (``portalkit.sandbox.serve_app`` outside pytest.)"""
        from .sandbox import serve_app

        return self._servers.enter_context(serve_app(app))

    def forward(self, vendor: str, url: str) -> None:
        """Send the vendor's events to ``url`` (the app's webhook endpoint) for this test."""
        self.sandbox.add_webhook_endpoint(vendor, url)

    def env(self, vendor: str) -> dict[str, str]:
        """``{"PORTALKIT_PROVIDER": vendor, "<VENDOR>_WEBHOOK_SECRET": ...}``: what
        ``portalkit.Webhooks.from_env`` needs to verify the vendor twin's deliveries."""
        return self.sandbox.webhook_env(vendor)

    def trigger(
        self,
        vendor: str,
        change: EventType | str,
        *,
        customer_id: str | None = None,
        subscription_id: str | None = None,
    ) -> AppliedChange:
        """Change a subscription (``Sandbox.trigger``) and send the vendor's events for it:
        ``trigger("paddle", EventType.SUBSCRIPTION_CANCELED)``. Returns at once; ``wait``."""
        return self.sandbox.trigger(
            vendor, change, customer_id=customer_id, subscription_id=subscription_id
        )

    def script(self, vendor: str, *faults: DeliveryFault) -> None:
        """Disturb the vendor's next deliveries, one fault per event:
        ``DeliveryFault.duplicate()``, ``.out_of_order()``, ``.late()``, ``.bad_signature()``."""
        self.sandbox.script_deliveries(vendor, *faults)

    def wait(self, vendor: str, count: int = 1, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Block until ``count`` of the vendor's deliveries in this test are over (answered
        2xx, or refused at every attempt); then all of them, oldest first, each with its
        attempts (``status_code``, ``error``)."""
        return self.sandbox.wait_for_deliveries(vendor, count, timeout)

    def deliveries(self, vendor: str) -> list[WebhookDelivery]:
        """The vendor's deliveries so far, finished or not."""
        return self.sandbox.deliveries(vendor)

    def events(self, vendor: str) -> list[BillingEvent]:
        """What was delivered, read by portalkit as a correct receiver reads it
        (``Webhooks.from_env(env(vendor))``, at the time each was sent): one
        ``BillingEvent`` per delivery that verifies, in the order sent -- a duplicate twice,
        a late or badly signed one not at all."""
        from . import Webhooks
        from .errors import WebhookRejected

        hooks = Webhooks.from_env(self.env(vendor))
        events = []
        for delivery in self.sandbox.deliveries(vendor):
            if not delivery.attempts:
                continue
            attempt = delivery.attempts[-1]
            try:
                event = hooks.parse(attempt.headers, delivery.body, now=attempt.at.timestamp())
            except WebhookRejected:
                continue
            events.append(event)
        return events

    def close(self) -> None:
        for vendor in self.sandbox.vendors:
            self.sandbox.remove_webhook_endpoint(vendor)
        self._servers.close()


@pytest.fixture
def portal_webhooks(portal_sandbox: Sandbox) -> Iterator[PortalWebhooks]:
    """The sandbox's webhooks for this test: ``serve``, ``forward``, ``env``, ``trigger``,
    ``script``, ``wait``, ``events`` (see ``PortalWebhooks``). Endpoints, servers and
    deliveries end with the test."""
    webhooks = PortalWebhooks(portal_sandbox)
    yield webhooks
    webhooks.close()
