"""What a request asks for, and what happens when the provider cannot do it.

The rule: a feature whose absence would change what the customer may do (a per-session
configuration, acting for another merchant account, naming the customer by the app's own
id, vendor-specific fields whose meaning portalkit cannot judge, a plan change to confirm, a
discount or a retention offer) is refused with ``UnsupportedFeature`` before anything is
sent. A cosmetic hint (locale, return URL, deep links, the page the portal opens at, what it
does after a flow, an explicit idempotency key) is dropped and listed in
``PortalLink.ignored_fields`` -- unless the caller chose ``strict=True``, which refuses every
unsupported field.

A provider that supports a feature for some values only (a vendor with its own list of
locales) may define ``accepts(feature, request) -> bool``; a False answer makes the feature
unsupported for that request, so the same rule drops or refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from ._models import Action, CustomerIdKind, Feature, PortalRequest
from ._protocol import PortalProvider
from .errors import UnsupportedFeature

COSMETIC_FEATURES: frozenset[Feature] = frozenset(
    {
        Feature.RETURN_URL,
        Feature.LOCALE,
        Feature.SUBSCRIPTION_DEEP_LINKS,
        Feature.FLOW,
        Feature.FLOW_AFTER_COMPLETION,
        Feature.IDEMPOTENCY_KEY,
    }
)

CONFIGURATION_FEATURES: dict[Action, Feature] = {
    Action.CANCEL_SUBSCRIPTION: Feature.CONFIGURE_CANCEL_SUBSCRIPTION,
    Action.UPDATE_SUBSCRIPTION: Feature.CONFIGURE_UPDATE_SUBSCRIPTION,
    Action.UPDATE_PAYMENT_METHOD: Feature.CONFIGURE_UPDATE_PAYMENT_METHOD,
    Action.VIEW_INVOICES: Feature.CONFIGURE_VIEW_INVOICES,
}

# The request field each cosmetic feature lives in, cleared when the provider lacks it.
_FIELD_OF: dict[Feature, str] = {
    Feature.RETURN_URL: "return_url",
    Feature.LOCALE: "locale",
    Feature.SUBSCRIPTION_DEEP_LINKS: "subscription_ids",
    Feature.FLOW: "flow",
    Feature.FLOW_AFTER_COMPLETION: "flow.after_completion",  # cleared inside the flow
    Feature.IDEMPOTENCY_KEY: "idempotency_key",
}


def requested_features(request: PortalRequest, provider_name: str) -> Iterator[tuple[Feature, str]]:
    """Each feature the request uses, with the request field that asks for it."""
    if request.customer_id_kind is not CustomerIdKind.VENDOR:
        # Never dropped: the app's id sent as the vendor's would name another customer.
        yield Feature.EXTERNAL_CUSTOMER_ID, "customer_id_kind"
    if request.return_url is not None:
        yield Feature.RETURN_URL, "return_url"
    if request.locale is not None:
        yield Feature.LOCALE, "locale"
    if request.subscription_ids:
        yield Feature.SUBSCRIPTION_DEEP_LINKS, "subscription_ids"
    flow = request.flow
    if flow is not None:
        yield Feature.FLOW, "flow"
        if flow.after_completion is not None:
            yield Feature.FLOW_AFTER_COMPLETION, "flow.after_completion"
        if flow.items:
            yield Feature.FLOW_ITEMS, "flow.items"
        if flow.discounts:
            yield Feature.FLOW_DISCOUNTS, "flow.discounts"
        if flow.retention is not None:
            yield Feature.FLOW_RETENTION_OFFER, "flow.retention"
    if request.on_behalf_of is not None:
        yield Feature.ON_BEHALF_OF, "on_behalf_of"
    if request.idempotency_key is not None:
        yield Feature.IDEMPOTENCY_KEY, "idempotency_key"
    if request.options_for(provider_name):
        yield Feature.PROVIDER_OPTIONS, f"provider_options[{provider_name!r}]"
    if request.configuration is not None:
        for action in request.configuration.overrides():
            yield CONFIGURATION_FEATURES[action], f"configuration.{action.value}"


def apply_feature_policy(
    provider: PortalProvider, request: PortalRequest, *, strict: bool
) -> tuple[PortalRequest, tuple[str, ...]]:
    """The request with unsupported cosmetic fields cleared, and the names of those fields.

    Raises ``UnsupportedFeature`` for anything else the provider cannot do, so adapters only
    ever see fields they support.
    """
    cleared: dict[str, Any] = {}
    cleared_in_flow: dict[str, Any] = {}
    ignored: list[str] = []
    accepts = getattr(provider, "accepts", None)
    for feature, field in requested_features(request, provider.name):
        if feature in provider.features and (accepts is None or accepts(feature, request)):
            continue
        if strict or feature not in COSMETIC_FEATURES:
            raise UnsupportedFeature(
                f"{field}: {provider.name} does not support {feature.value}"
                + (
                    ""
                    if feature in COSMETIC_FEATURES
                    else "; refusing rather than dropping it,"
                    " because it changes what the customer may do"
                ),
                feature=feature.value,
                field=field,
                rule=f"unsupported by {provider.name}",
                provider=provider.name,
            )
        name = _FIELD_OF[feature]
        if name.startswith("flow."):
            if "flow" not in cleared:  # a dropped flow takes its parts with it
                cleared_in_flow[name.removeprefix("flow.")] = None
                ignored.append(name)
            continue
        cleared[name] = () if feature is Feature.SUBSCRIPTION_DEEP_LINKS else None
        ignored.append(name)
    if not ignored:
        return request, ()
    if cleared_in_flow and "flow" not in cleared and request.flow is not None:
        cleared["flow"] = attrs.evolve(request.flow, **cleared_in_flow)
    return attrs.evolve(request, **cleared), tuple(ignored)
