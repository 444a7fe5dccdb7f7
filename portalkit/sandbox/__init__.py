"""portalkit.sandbox: a local emulator of billing vendors' portal-session APIs and their
hosted portal pages, for tests, demos and offline development. Each vendor is a *twin*
(``portalkit.sandbox.twin``) registered in the ``portalkit.sandbox`` entry-point group.

    from portalkit.sandbox import Sandbox, Fault

    sandbox = Sandbox()
    with sandbox.serve():
        provider = sandbox.provider("paddle")
        sandbox.script("paddle", Fault.status(429, retry_after=1))

Needs the ``sandbox`` extra (starlette, uvicorn). See docs/sandbox.md.
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise ModuleNotFoundError(
        "portalkit.sandbox needs the 'sandbox' extra: pip install './portalkit[sandbox]'"
        " from a clone, or '<wheel>[sandbox]' (not on PyPI yet)"
    ) from exc

from .._registry import available_twins
from ._faults import Fault
from ._sandbox import Sandbox
from ._store import ReceivedRequest, Session
from ._twins import load_twins
from .twin import Twin

__all__ = [
    "Fault",
    "ReceivedRequest",
    "Sandbox",
    "Session",
    "Twin",
    "available_twins",
    "load_twins",
]
