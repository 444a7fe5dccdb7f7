"""portalkit: one "Manage billing" link across billing vendors.

from portalkit import Portal, PortalRequest
from portalkit.providers.paddle import Paddle

with Portal(Paddle(api_key="...", environment="sandbox")) as portal:
    link = portal.create_link(PortalRequest(customer_id="ctm_..."))
    # redirect the customer to link.url

with Portal.from_env() as portal:    # PORTALKIT_PROVIDER=paddle, PADDLE_API_KEY=...
    ...
"""

from . import errors
from ._capabilities import CONFIGURATION_FEATURES, COSMETIC_FEATURES
from ._env import ProviderEnv
from ._models import (
    Action,
    DeepLink,
    Feature,
    Flow,
    PortalConfiguration,
    PortalLink,
    PortalRequest,
)
from ._portal import AsyncPortal, Portal, deadline_transport
from ._protocol import PortalProvider
from ._registry import available_providers, get_provider_factory, provider_from_env
from ._retry import RetryPolicy
from ._router import MigrationRouter, Route

__version__ = "0.1.0"

__all__ = [
    "CONFIGURATION_FEATURES",
    "COSMETIC_FEATURES",
    "Action",
    "AsyncPortal",
    "DeepLink",
    "Feature",
    "Flow",
    "MigrationRouter",
    "Portal",
    "PortalConfiguration",
    "PortalLink",
    "PortalProvider",
    "PortalRequest",
    "ProviderEnv",
    "RetryPolicy",
    "Route",
    "__version__",
    "available_providers",
    "deadline_transport",
    "errors",
    "get_provider_factory",
    "provider_from_env",
]
