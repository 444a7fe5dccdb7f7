"""portalkit: one "Manage billing" link across billing vendors.

from portalkit import Portal, PortalRequest
from portalkit.providers.paddle import Paddle

with Portal(Paddle(api_key="...", environment="sandbox")) as portal:
    link = portal.create_link(PortalRequest(customer_id="ctm_..."))
    # redirect the customer to link.url
"""

from . import errors
from ._capabilities import CONFIGURATION_FEATURES, COSMETIC_FEATURES
from ._models import (
    Action,
    DeepLink,
    Feature,
    Flow,
    PortalConfiguration,
    PortalLink,
    PortalRequest,
)
from ._portal import AsyncPortal, Portal
from ._protocol import PortalProvider
from ._retry import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "CONFIGURATION_FEATURES",
    "COSMETIC_FEATURES",
    "Action",
    "AsyncPortal",
    "DeepLink",
    "Feature",
    "Flow",
    "Portal",
    "PortalConfiguration",
    "PortalLink",
    "PortalProvider",
    "PortalRequest",
    "RetryPolicy",
    "__version__",
    "errors",
]
