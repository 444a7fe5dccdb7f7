"""Lemon Squeezy webhooks: an ``X-Signature`` HMAC of the raw body, and a JSON:API resource.

Vendor docs: https://docs.lemonsqueezy.com/help/webhooks (delivery: one POST per event, three
more attempts after about 5, 25 and 125 s), .../help/webhooks/signing-requests (the
signature), .../help/webhooks/event-types (the catalogue), the developer guide "Staying in
sync with webhooks" (an example delivery) and API -> "The subscription object". There is no
official Python SDK. What portalkit decided where the pages are silent is in
docs/providers/lemonsqueezy.md ("Webhooks").

Wire shape::

    POST <your webhook URL>
    Content-Type: application/json
    X-Event-Name: subscription_cancelled     NOT signed: the event name is read from the body
    X-Signature: <hex>                       HMAC-SHA256 of the raw body, keyed with the
                                             signing secret you chose (6 to 40 characters)

    {"meta": {"event_name": "subscription_cancelled", "custom_data": {...},
              "test_mode": false},
     "data": {"type": "subscriptions", "id": "1",
              "attributes": {"customer_id": 1, "status": "cancelled", "cancelled": true,
                             "ends_at": "2022-11-12T00:00:00.000000Z",
                             "updated_at": "2022-10-28T09:25:06.000000Z", ...}}}

What the delivery does not have, and what portalkit uses instead:

- no timestamp is signed, so there is no replay window (a captured delivery verifies for
  ever): deduplicate on ``event.id``;
- no event id: ``id`` is the SHA-256 of the body (``delivery.digest``), which a redelivery
  of the same event repeats (``meta.webhook_id``, when sent, names the webhook, not the event);
- no event time: ``occurred_at`` is the resource's ``attributes.updated_at``, its last change.

``data.attributes.customer_id`` is an integer on the wire; portalkit's Lemon Squeezy adapter
takes customer ids as digit strings, so ``customer_id`` is its decimal string.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from portalkit._events import BillingEvent, EventType
from portalkit._signatures import HmacSignature
from portalkit._webhooks import Delivery, EventMapping, VendorWebhooks
from portalkit._wire import json_converter

if TYPE_CHECKING:
    pass

DOCS_URL = "https://docs.lemonsqueezy.com/help/webhooks"

#: How Lemon Squeezy signs (docs: "Signing requests"): the hex HMAC-SHA256 of the raw body,
#: alone in ``X-Signature``. Nothing else is signed: neither a time nor ``X-Event-Name``.
SIGNATURE = HmacSignature(header="X-Signature", signed="{body}", encoding="hex")

#: The subscription events of Lemon Squeezy's catalogue ("Event types") that portalkit names.
#: Every other event (order_created, subscription_payment_success, license_key_created, ...)
#: is UNKNOWN. The catalogue has no plan-change or payment-method event: a plan change, a new
#: card and any other change all arrive as subscription_updated, which says nothing of what
#: changed -- so it is SUBSCRIPTION_UPDATED, never a guessed PLAN_CHANGED.
EVENTS: tuple[EventMapping, ...] = (
    # "The subscription enters a grace period until the next billing date": ends_at says when.
    EventMapping("subscription_cancelled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED),
    EventMapping("subscription_resumed", EventType.SUBSCRIPTION_UNCANCELED),
    EventMapping("subscription_expired", EventType.SUBSCRIPTION_CANCELED),
    EventMapping("subscription_updated", EventType.SUBSCRIPTION_UPDATED),
)
_TYPES = {row.vendor_type: row.type for row in EVENTS}
#: The JSON:API type of a subscription (its id is ``subscription_id``), and of a subscription
#: invoice (whose ``attributes.subscription_id`` is).
_SUBSCRIPTIONS = "subscriptions"
_SUBSCRIPTION_INVOICES = "subscription-invoices"


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (as in the adapters; issue 17). Only the fields
# portalkit reads: the rest of the resource stays in ``event.raw``.
@attrs.frozen(repr=False, eq=False, slots=False)
class _Attributes:
    updated_at: str
    customer_id: int | None = None
    subscription_id: int | None = None  # a subscription invoice's
    ends_at: str | None = None  # a subscription's: set while cancelled, and once expired


@attrs.frozen(repr=False, eq=False, slots=False)
class _Resource:
    type: str
    id: str
    attributes: _Attributes


@attrs.frozen(repr=False, eq=False, slots=False)
class _Meta:
    event_name: str


@attrs.frozen(repr=False, eq=False, slots=False)
class _Envelope:
    meta: _Meta
    data: _Resource


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter()


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """A verified Lemon Squeezy delivery as a ``BillingEvent``."""
    envelope = delivery.structure(_converter, payload, _Envelope)
    # The body's event name is signed; the X-Event-Name header, which repeats it, is not.
    vendor_type = envelope.meta.event_name
    if not vendor_type:
        raise delivery.malformed("meta.event_name is empty")
    resource = envelope.data
    attributes = resource.attributes
    event_type = _TYPES.get(vendor_type, EventType.UNKNOWN)
    ends_at: datetime | None = None
    if attributes.ends_at is not None:
        ends_at = delivery.iso_time(attributes.ends_at, "data.attributes.ends_at")
    if event_type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED and ends_at is None:
        raise delivery.malformed("data.attributes.ends_at is missing from subscription_cancelled")
    subscription_id: str | None = None
    if resource.type == _SUBSCRIPTIONS:
        subscription_id = resource.id
    elif resource.type == _SUBSCRIPTION_INVOICES and attributes.subscription_id is not None:
        subscription_id = str(attributes.subscription_id)
    return delivery.event(
        payload,
        id=delivery.digest,
        type=event_type,
        vendor_type=vendor_type,
        occurred_at=delivery.iso_time(attributes.updated_at, "data.attributes.updated_at"),
        customer_id=None if attributes.customer_id is None else str(attributes.customer_id),
        subscription_id=subscription_id,
        ends_at=ends_at,
    )


WEBHOOKS = VendorWebhooks(
    provider="lemonsqueezy",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
