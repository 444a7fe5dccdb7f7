"""FakeVendor's webhooks, received: a ``VendorWebhooks`` written as a plug-in package would
write it, registered in its pyproject.toml::

    [project.entry-points."portalkit.webhooks"]
    fakevendor = "portalkit_fakevendor.webhooks:WEBHOOKS"

so ``Webhooks.from_env`` (``FAKEVENDOR_WEBHOOK_SECRET``), the web views and ``portalkit webhook
verify`` receive FakeVendor's deliveries with no change to portalkit.

Its wire shape is invented for the tests (the twin, portalkit_fakevendor.sandbox, restates it
independently)::

    POST <your webhook URL>
    X-Fakevendor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">

    {"id": "fvevt_...", "type": "subscription.cancel_scheduled", "created": 1767225600,
     "data": {"object": {"id": "fvsub_...", "customer": "fv_...",
                         "cancel_at_period_end": true, "current_period_end": 1769817600}}}

An ended subscription's ``current_period_end`` is when it ended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portalkit import BillingEvent, Delivery, EventMapping, EventType, VendorWebhooks

# HmacSignature is not among portalkit's public names (yet): a plug-in reaches into
# portalkit._signatures for it, as the built-in vendors' webhook modules do.
from portalkit._signatures import HmacSignature

SIGNATURE = HmacSignature(
    header="X-Fakevendor-Signature",
    items=",",
    assign="=",
    signature_key="v1",
    timestamp_key="t",
    signed="{timestamp}.{body}",
    tolerance=300,
    future_tolerance=300,
)

EVENTS: tuple[EventMapping, ...] = (
    EventMapping("subscription.cancel_scheduled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED),
    EventMapping("subscription.resumed", EventType.SUBSCRIPTION_UNCANCELED),
    EventMapping("subscription.ended", EventType.SUBSCRIPTION_CANCELED),
)
_TYPES = {row.vendor_type: row.type for row in EVENTS}
#: The events whose ``ends_at`` is the object's ``current_period_end``.
_ENDING = frozenset({EventType.SUBSCRIPTION_CANCEL_SCHEDULED, EventType.SUBSCRIPTION_CANCELED})


def _text(value: object, field: str, delivery: Delivery) -> str:
    if not isinstance(value, str) or not value:
        raise delivery.malformed(f"{field} is not a non-empty string")
    return value


def _optional_text(value: object, field: str, delivery: Delivery) -> str | None:
    return None if value is None else _text(value, field, delivery)


def _seconds(value: object, field: str, delivery: Delivery) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise delivery.malformed(f"{field} is not a unix time")
    return delivery.unix_time(value, field)


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """A verified FakeVendor delivery as a ``BillingEvent``."""
    vendor_type = _text(payload.get("type"), "type", delivery)
    event_type = _TYPES.get(vendor_type, EventType.UNKNOWN)
    data = payload.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise delivery.malformed("data.object is not an object")
    ends_at = None
    if event_type in _ENDING:
        ends_at = _seconds(
            obj.get("current_period_end"), "data.object.current_period_end", delivery
        )
    return delivery.event(
        payload,
        id=_text(payload.get("id"), "id", delivery),
        type=event_type,
        vendor_type=vendor_type,
        occurred_at=_seconds(payload.get("created"), "created", delivery),
        customer_id=_optional_text(obj.get("customer"), "data.object.customer", delivery),
        subscription_id=_text(obj.get("id"), "data.object.id", delivery),
        ends_at=ends_at,
    )


WEBHOOKS = VendorWebhooks(
    provider="fakevendor",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url="https://docs.fakevendor.test/webhooks",
)
