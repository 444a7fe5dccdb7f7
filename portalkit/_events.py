"""The way back, in one vocabulary: what a customer did in a vendor's portal, as a
``BillingEvent`` whose ``type`` is one ``EventType`` whatever the vendor.

Each vendor's webhook module maps its own event names onto this closed set (its table is in
its docs page). An event the vocabulary has no word for is ``EventType.UNKNOWN``: kept, with
the vendor's name in ``vendor_type`` and its payload in ``raw``, never an error, so a vendor's
new event type never breaks an app.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs


class EventType(StrEnum):
    """What happened, in portalkit's words."""

    #: The subscription will end at the end of its period (``ends_at`` says when); until
    #: then it is still active, and the customer may withdraw the cancellation.
    SUBSCRIPTION_CANCEL_SCHEDULED = "subscription_cancel_scheduled"
    #: A scheduled cancellation was withdrawn: the subscription renews again.
    SUBSCRIPTION_UNCANCELED = "subscription_uncanceled"
    #: The subscription has ended (at the end of its period, or at once).
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    #: The subscription moved to another plan or price (the vendor says so).
    SUBSCRIPTION_PLAN_CHANGED = "subscription_plan_changed"
    #: Any other change to the subscription, or one the vendor's event cannot tell apart
    #: from the kinds above (see each vendor's docs page).
    SUBSCRIPTION_UPDATED = "subscription_updated"
    #: The customer added, replaced or removed a payment method.
    PAYMENT_METHOD_UPDATED = "payment_method_updated"
    #: The customer left the portal (a vendor that reports it).
    PORTAL_SESSION_COMPLETED = "portal_session_completed"
    #: Every other event: kept, never an error.
    UNKNOWN = "unknown"


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("occurred_at and ends_at must be aware datetimes")
    return value.astimezone(UTC)


def _optional_aware_utc(value: datetime | None) -> datetime | None:
    return None if value is None else _aware_utc(value)


def _frozen_raw(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class BillingEvent:
    """One verified webhook delivery, normalized.

    ``id`` is the vendor's event id; for a vendor that sends none, a digest of the signed body,
    so a redelivery of the same event has the same id (the key for handling it once).
    ``occurred_at`` (aware, UTC) and ``resource_version`` (the vendor's own counter, where it
    has one) order events that arrive out of order. ``raw`` is the vendor's payload as sent;
    it is left out of ``repr()`` because it holds customer data.
    """

    provider: str
    id: str
    type: EventType
    #: The vendor's own name for the event (``customer.subscription.updated``).
    vendor_type: str
    occurred_at: datetime = attrs.field(converter=_aware_utc)
    customer_id: str | None = None
    subscription_id: str | None = None
    #: When the subscription ends (a scheduled cancellation) or ended.
    ends_at: datetime | None = attrs.field(default=None, converter=_optional_aware_utc)
    #: A version of the subscription or customer that only grows (Chargebee's
    #: ``resource_version``); None where the vendor has none: order by ``occurred_at``.
    resource_version: int | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen_raw, repr=False, eq=False)

    def summary(self) -> dict[str, Any]:
        """Every field but ``raw``, as JSON-ready values (times in ISO 8601)."""
        return {
            "provider": self.provider,
            "id": self.id,
            "type": self.type.value,
            "vendor_type": self.vendor_type,
            "occurred_at": self.occurred_at.isoformat(),
            "customer_id": self.customer_id,
            "subscription_id": self.subscription_id,
            "ends_at": None if self.ends_at is None else self.ends_at.isoformat(),
            "resource_version": self.resource_version,
        }
