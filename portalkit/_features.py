"""Every ``Feature``, described once: the request field that asks for it, whether it is
cosmetic, and what it means.

The feature policy (``portalkit._capabilities``: which features a request uses, which are
dropped rather than refused, the field a dropped one is cleared from), the capability docs
(``portalkit._capability_docs``) and their checks all read this table; nothing else restates
a feature. A new feature is one row here (and its member of ``Feature``).

A request asks for a feature when the feature's field holds anything but that field's
default (``customer_id_kind`` other than ``VENDOR``, a non-empty ``subscription_ids``, a
``configuration.view_invoices`` that is True or False, ...); ``provider_options[name]`` when
the entry for the serving provider is not empty. A dropped cosmetic field is set back to its
default.

A *cosmetic* feature is a hint whose absence does not change what the customer may do: when
the provider lacks it, it is dropped and listed in ``PortalLink.ignored_fields`` (refused
under ``strict=True``). Every other feature is refused with ``UnsupportedFeature``.
"""

from __future__ import annotations

import attrs

from ._models import Action, Feature


@attrs.frozen
class FeatureSpec:
    """One feature: where a request asks for it, and what the policy and the docs say."""

    feature: Feature
    #: The ``PortalRequest`` field that asks for it (``flow.items`` inside the flow;
    #: ``provider_options[name]`` with the provider's name filled in). A cosmetic feature is
    #: cleared from this field when the provider lacks it.
    field: str
    #: What it does, for the capability docs.
    meaning: str
    cosmetic: bool = False
    #: For a per-session configuration feature: the action it configures.
    action: Action | None = None
    #: False for a feature that is a call of its own, not a request field.
    in_request: bool = True
    #: What a provider has or lacks, as a noun phrase for ``Portal.preview``'s reasons:
    #: "acme has no per-session configuration of cancelling".
    noun: str = attrs.field(kw_only=True)


def _configure(action: Action, meaning: str, what: str) -> FeatureSpec:
    return FeatureSpec(
        Feature(f"configure_{action.value}"),
        f"configuration.{action.value}",
        meaning,
        action=action,
        noun=f"per-session configuration of {what}",
    )


#: In the order a request's features are checked (the first refused one is reported).
FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        # Never dropped: the app's id sent as the vendor's would name another customer.
        Feature.EXTERNAL_CUSTOMER_ID,
        "customer_id_kind",
        "the customer named by the app's own id (`PortalRequest.for_external_id`)",
        noun="look-up of a customer by the app's own id",
    ),
    FeatureSpec(
        Feature.RETURN_URL,
        "return_url",
        "where the portal sends the customer back",
        noun="per-session return URL",
        cosmetic=True,
    ),
    FeatureSpec(
        Feature.LOCALE,
        "locale",
        "the portal's language",
        noun="per-session language",
        cosmetic=True,
    ),
    FeatureSpec(
        Feature.SUBSCRIPTION_DEEP_LINKS,
        "subscription_ids",
        "deep links per subscription",
        noun="per-subscription deep links",
        cosmetic=True,
    ),
    FeatureSpec(
        Feature.FLOW,
        "flow",
        "open the portal at one action",
        noun="flows (a portal opened at one action)",
        cosmetic=True,
    ),
    FeatureSpec(
        Feature.FLOW_AFTER_COMPLETION,
        "flow.after_completion",
        "redirect, confirmation message or portal home once a flow is done",
        noun="choice of what a flow does once done",
        cosmetic=True,
    ),
    FeatureSpec(
        Feature.FLOW_ITEMS,
        "flow.items",
        "a plan change for the customer to confirm",
        noun="plan changes for the customer to confirm",
    ),
    FeatureSpec(
        Feature.FLOW_DISCOUNTS,
        "flow.discounts",
        "a coupon or promotion code on that change",
        noun="discounts on a plan change to confirm",
    ),
    FeatureSpec(
        Feature.FLOW_RETENTION_OFFER,
        "flow.retention",
        "a coupon offered to stop a cancellation",
        noun="retention offers",
    ),
    FeatureSpec(
        Feature.ON_BEHALF_OF,
        "on_behalf_of",
        "a platform minting for a merchant account",
        noun="minting for another merchant account",
    ),
    FeatureSpec(
        Feature.IDEMPOTENCY_KEY,
        "idempotency_key",
        "the vendor de-duplicates a retried create",
        noun="idempotency keys",
        cosmetic=True,
    ),
    FeatureSpec(
        Feature.PROVIDER_OPTIONS,
        "provider_options[name]",
        "extra vendor-specific body fields",
        noun="vendor-specific body fields",
    ),
    _configure(
        Action.CANCEL_SUBSCRIPTION, "allow or forbid cancelling, this session only", "cancelling"
    ),
    _configure(
        Action.UPDATE_SUBSCRIPTION,
        "allow or forbid plan changes, this session only",
        "plan changes",
    ),
    _configure(
        Action.UPDATE_PAYMENT_METHOD,
        "allow or forbid payment-method updates, this session only",
        "payment-method updates",
    ),
    _configure(
        Action.VIEW_INVOICES,
        "allow or forbid the invoice list, this session only",
        "the invoice list",
    ),
    # Not a request field: a call of its own, refused by providers without it.
    FeatureSpec(
        Feature.END_SESSION,
        "Portal.end_session(link)",
        "end a minted session early",
        noun="way to end a session early",
        in_request=False,
    ),
)

SPECS: dict[Feature, FeatureSpec] = {spec.feature: spec for spec in FEATURES}
