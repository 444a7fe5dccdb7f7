"""portalkit: one "Manage billing" link across billing vendors.

from portalkit import Portal, PortalRequest
from portalkit.providers.paddle import Paddle

with Portal(Paddle(api_key="...", environment="sandbox")) as portal:  # Paddle's hosted sandbox
    link = portal.create_link(PortalRequest(customer_id="ctm_..."))
    # redirect the customer to link.url

with Sandbox().serve() as sandbox, Portal(sandbox.provider("paddle")) as portal:
    ...                                  # portalkit.sandbox: a local emulator, no network

with Portal.from_env() as portal:    # PORTALKIT_PROVIDER=paddle, PADDLE_API_KEY=...
    ...
"""

import logging

from . import errors
from ._capabilities import CONFIGURATION_FEATURES, COSMETIC_FEATURES, Outcome
from ._env import ProviderEnv
from ._event_log import Claim, EventLog, InMemoryEventLog
from ._events import BillingEvent, EventType
from ._models import (
    Action,
    AfterCompletion,
    AfterCompletionKind,
    CustomerIdKind,
    DeepLink,
    Feature,
    Flow,
    FlowDiscount,
    FlowItem,
    PortalConfiguration,
    PortalLink,
    PortalRequest,
    RetentionOffer,
)
from ._portal import AsyncPortal, AsyncPortalOptions, Portal, PortalOptions, deadline_transport
from ._preview import FeatureOutcome, RequestPreview
from ._protocol import Exchange, MultiStepProvider, PortalProvider, SessionEndingProvider
from ._registry import (
    available_providers,
    available_twins,
    get_provider_factory,
    provider_from_env,
)
from ._retry import RetryPolicy
from ._router import MigrationRouter, RequestRouter, Route
from ._signatures import BasicPair
from ._webhooks import (
    Delivery,
    EventMapping,
    VendorWebhooks,
    Webhooks,
    available_webhook_providers,
    get_vendor_webhooks,
    verify_delivery,
)

__version__ = "0.1.0"

# A library's manners (the logging HOWTO, "Configuring Logging for a Library"): records reach
# the handlers the application configured, and without any, nothing is printed; with no
# handler at all, a warning would go to stderr through ``logging.lastResort``.
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CONFIGURATION_FEATURES",
    "COSMETIC_FEATURES",
    "Action",
    "AfterCompletion",
    "AfterCompletionKind",
    "AsyncPortal",
    "AsyncPortalOptions",
    "BasicPair",
    "BillingEvent",
    "Claim",
    "CustomerIdKind",
    "DeepLink",
    "Delivery",
    "EventLog",
    "EventMapping",
    "EventType",
    "Exchange",
    "Feature",
    "FeatureOutcome",
    "Flow",
    "FlowDiscount",
    "FlowItem",
    "InMemoryEventLog",
    "MigrationRouter",
    "MultiStepProvider",
    "Outcome",
    "Portal",
    "PortalConfiguration",
    "PortalLink",
    "PortalOptions",
    "PortalProvider",
    "PortalRequest",
    "ProviderEnv",
    "RequestPreview",
    "RequestRouter",
    "RetentionOffer",
    "RetryPolicy",
    "Route",
    "SessionEndingProvider",
    "VendorWebhooks",
    "Webhooks",
    "__version__",
    "available_providers",
    "available_twins",
    "available_webhook_providers",
    "deadline_transport",
    "errors",
    "get_provider_factory",
    "get_vendor_webhooks",
    "provider_from_env",
    "verify_delivery",
]
