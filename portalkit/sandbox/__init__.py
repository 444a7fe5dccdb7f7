"""portalkit.sandbox: a local emulator of billing vendors' portal-session APIs and their
hosted portal pages, for tests, demos and offline development. Each vendor is a *twin*
(``portalkit.sandbox.twin``) registered in the ``portalkit.sandbox`` entry-point group.

    from portalkit import EventType
    from portalkit.sandbox import DeliveryFault, Fault, Sandbox

    sandbox = Sandbox()
    with sandbox.serve():
        provider = sandbox.provider("paddle")
        sandbox.script("paddle", Fault.status(429, retry_after=1))
        sandbox.add_webhook_endpoint("stripe", "http://127.0.0.1:8000/hooks/stripe")
        sandbox.script_deliveries("stripe", DeliveryFault.duplicate())
        sandbox.trigger("stripe", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
        sandbox.wait_for_deliveries("stripe", 2)

Needs the ``sandbox`` extra (starlette, uvicorn). See docs/sandbox.md ("Webhooks" for the
second half of the example).
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
from ._changes import AppliedChange
from ._deliveries import DeliveryPolicy
from ._delivery_faults import DeliveryFault
from ._delivery_log import DeliveryAttempt, WebhookDelivery
from ._faults import Fault
from ._sandbox import Sandbox
from ._server import serve_app
from ._store import ReceivedRequest, Session
from ._twin_events import SubscriptionState, TwinWebhooks
from ._twins import load_twins
from .twin import Twin

__all__ = [
    "AppliedChange",
    "DeliveryAttempt",
    "DeliveryFault",
    "DeliveryPolicy",
    "Fault",
    "ReceivedRequest",
    "Sandbox",
    "Session",
    "SubscriptionState",
    "Twin",
    "TwinWebhooks",
    "WebhookDelivery",
    "available_twins",
    "load_twins",
    "serve_app",
]
