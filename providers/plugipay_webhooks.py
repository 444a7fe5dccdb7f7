"""Plugipay webhooks: an ASSUMED signature scheme and envelope, from the events the docs name.

Vendor docs: Plugipay REST API -> Portal sessions -> "Events": the portal's actions "fire the
same events you'd see from any API-driven equivalent -- subscription.cancelled,
payment_method.attached, invoice.paid, and so on", with a pointer to a "Webhooks" page for
the full catalogue. That page is not among the docs portalkit has, and the pages it has
document no webhook signature, envelope or payload. Everything below but those three event
names is portalkit's ASSUMPTION (listed in docs/providers/plugipay.md, "Webhooks"), chosen to
match how portalkit already assumes Plugipay signs API requests (providers/plugipay.py), and
declared once, here.

Wire shape (ASSUMED)::

    POST <your webhook URL>
    X-Plugipay-Timestamp: <unix seconds>
    X-Plugipay-Signature: v1=<hex>        HMAC-SHA256 of "{timestamp}.{raw body}", keyed with
                                          the webhook signing secret; several v1= (comma-
                                          separated) while Plugipay rotates the secret

    {"id": "evt_<ULID>", "type": "subscription.cancelled",
     "createdAt": "2026-05-12T10:42:00.000Z",                ISO 8601, as Plugipay's API
     "data": {"object": {"id": "sub_<ULID>", "customerId": "cus_<ULID>",
                         "cancelAtPeriodEnd": true,
                         "currentPeriodEnd": "2026-06-12T10:42:00.000Z", ...}}}

Plugipay's API is camelCase (``customerId``, ``returnUrl``, ``expiresAt``), so its events'
objects are assumed camelCase too.
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

#: Where Plugipay documents its webhooks: its "Webhooks" page, whose address portalkit does
#: not know (the portal-sessions page only links to it), so no link is invented.
DOCS_URL = ""

#: ASSUMPTION, the one place it is declared: Plugipay's conventional scheme, the same headers
#: and hex ``v1=`` form portalkit assumes for its API request signatures, over
#: ``"{timestamp}.{raw body}"``; a timestamp more than 300 s old or ahead is refused.
SIGNATURE = HmacSignature(
    header="X-Plugipay-Signature",
    items=",",
    assign="=",
    signature_key="v1",
    timestamp_header="X-Plugipay-Timestamp",
    signed="{timestamp}.{body}",
    encoding="hex",
    tolerance=300,
    future_tolerance=300,
)

#: The events the docs name, as portalkit reads them. invoice.paid (named too) and every
#: event the docs only imply ("and so on": a plan change, a detached card) are UNKNOWN until
#: Plugipay documents them: portalkit does not guess their names.
EVENTS: tuple[EventMapping, ...] = (
    EventMapping(
        "subscription.cancelled",
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        when="`cancelAtPeriodEnd` is true (`ends_at`: `currentPeriodEnd`)",
    ),
    EventMapping(
        "subscription.cancelled",
        EventType.SUBSCRIPTION_CANCELED,
        when="`cancelAtPeriodEnd` is false or absent (cancelled at once)",
    ),
    EventMapping("payment_method.attached", EventType.PAYMENT_METHOD_UPDATED),
)
_CANCELLED = "subscription.cancelled"
_SIMPLE_TYPES = {row.vendor_type: row.type for row in EVENTS if not row.when}
#: Events about a subscription: the object is the subscription, so its id is one.
_SUBSCRIPTION_EVENTS = "subscription."


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (as in the adapters; issue 17). Field names are
# snake_case here and camelCase on the wire (json_converter(camel_case=True)).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Object:
    id: str  # every Plugipay resource has one (ps_, cus_, sub_...)
    customer_id: str | None = None
    subscription_id: str | None = None  # an invoice's
    cancel_at_period_end: bool | None = None
    current_period_end: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Data:
    object: _Object


@attrs.frozen(repr=False, eq=False, slots=False)
class _Event:
    id: str
    type: str
    created_at: str
    data: _Data


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter(camel_case=True)


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """A verified Plugipay delivery as a ``BillingEvent``."""
    event = delivery.structure(_converter, payload, _Event)
    if not event.id:
        raise delivery.malformed("id is empty")
    if not event.type:
        raise delivery.malformed("type is empty")
    obj = event.data.object
    ends_at: datetime | None = None
    if event.type == _CANCELLED:
        if obj.cancel_at_period_end:
            # Still active until the period ends: a scheduled cancellation.
            if obj.current_period_end is None:
                raise delivery.malformed(
                    "data.object.currentPeriodEnd is missing from a cancellation at period end"
                )
            event_type = EventType.SUBSCRIPTION_CANCEL_SCHEDULED
            ends_at = delivery.iso_time(obj.current_period_end, "data.object.currentPeriodEnd")
        else:
            event_type = EventType.SUBSCRIPTION_CANCELED
    else:
        event_type = _SIMPLE_TYPES.get(event.type, EventType.UNKNOWN)
    is_subscription = event.type.startswith(_SUBSCRIPTION_EVENTS)
    return delivery.event(
        payload,
        id=event.id,
        type=event_type,
        vendor_type=event.type,
        occurred_at=delivery.iso_time(event.created_at, "createdAt"),
        customer_id=obj.customer_id,
        subscription_id=obj.id if is_subscription else obj.subscription_id,
        ends_at=ends_at,
    )


WEBHOOKS = VendorWebhooks(
    provider="plugipay",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
