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

Loading the plugin imports nothing beyond pytest and portalkit's core: the sandbox
(starlette, uvicorn: the ``sandbox`` extra) is imported when a test first asks for one of
these fixtures, and a missing extra fails that test with the install command, not the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import pytest

from ._portal import Portal
from ._registry import available_twins
from ._retry import RetryPolicy

if TYPE_CHECKING:
    from .sandbox import Fault, Sandbox

    #: The names of the vendors the sandbox emulates (the registered twins), sorted.
    VENDORS: tuple[str, ...]

__all__ = [
    "FAST_RETRY",
    "VENDORS",
    "Fault",
    "KeyKind",
    "PortalFactory",
    "Sandbox",
    "portal_by_vendor",
    "portal_for",
    "portal_sandbox",
    "portal_sandbox_env",
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
    """``Fault`` and ``Sandbox`` from portalkit.sandbox, imported on first use, so that
    loading this plugin stays cheap and works without the sandbox extra; ``VENDORS``, the
    registered twins' names (``portalkit.sandbox`` entry points), read on use."""
    if name == "Fault":
        from .sandbox import Fault

        return Fault
    if name == "Sandbox":
        from .sandbox import Sandbox

        return Sandbox
    if name == "VENDORS":  # read from the registry (entry points), never restated here
        return tuple(available_twins())
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


@pytest.fixture(scope="session")
def _portalkit_sandbox_server() -> Iterator[Sandbox]:
    sandbox = _sandbox_class()()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


@pytest.fixture
def portal_sandbox(_portalkit_sandbox_server: Sandbox) -> Iterator[Sandbox]:
    """The running sandbox, in its seeded state (see the module docstring)."""
    sandbox = _portalkit_sandbox_server
    sandbox.reset()
    yield sandbox
    sandbox.reset()  # also releases requests left hanging on a scripted fault


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
