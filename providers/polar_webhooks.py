"""Polar webhooks: verify the Standard Webhooks signature and read the event into a
``BillingEvent``.

Vendor docs: docs.polar.sh -> Integrate -> Webhooks -> "Handle & monitor webhook deliveries"
(integrate/webhooks/delivery: the SDK helper, Standard Webhooks, the secret's encoding) and
"Webhook Events" (integrate/webhooks/events: the catalogue and the "Cancellation Sequences");
the Standard Webhooks specification (standard-webhooks/spec/standard-webhooks.md). The
reference verifiers are the official ``polar-sdk``'s ``polar.webhooks.validate_event`` (which
each versioned ``polar.v20XX_XX.webhooks.validate_event`` calls) and the generic
``standardwebhooks.Webhook``: tests/test_polar_webhook_sdk_parity.py proves that portalkit
accepts and refuses what they do. What portalkit decided where Polar leaves room is in
docs/providers/polar.md, "Webhooks".

Wire shape::

    POST <your endpoint>
    webhook-id: msg_2Lk...                      the delivery's id: the same on every retry
    webhook-timestamp: 1767225600               Unix seconds, set anew on each attempt
    webhook-signature: v1,K5oZfz...= [v1,...]   space-separated; any v1 may match
    {"type": "subscription.canceled", "timestamp": "2025-12-14T16:02:11.402517Z",
     "data": {"id": "<uuid>", "customer_id": "<uuid>", "status": "active",
              "cancel_at_period_end": true, "current_period_end": "...",
              "ends_at": "...", "ended_at": null, ...}}

The signed string is ``"{webhook-id}.{webhook-timestamp}.{raw body}"``, HMAC-SHA256, base64;
a timestamp more than 300 s away either way is refused (the SDK and Standard Webhooks both).
Polar's quirk is the key: its secret is not base64, and the SDK tries the secret's own UTF-8
bytes first, then, when the text after an optional ``whsec_`` decodes as base64, the decoded
bytes (``polar.webhooks._signing_keys``); ``polar_signing_keys`` gives exactly those.

The body has no event id: a delivery is named by its ``webhook-id``, which Polar keeps across
retries, so it is the event's ``id``. Polar's "subscription.canceled" means both a cancellation
at the end of the period (``cancel_at_period_end`` true, still active) and an immediate
revocation (false, already ``canceled``; ``subscription.revoked`` follows). Polar sends no
previous values: a plan change is a ``subscription.updated`` like any other, never guessed.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from portalkit._events import BillingEvent, EventType
from portalkit._signatures import HmacSignature
from portalkit._webhooks import Delivery, EventMapping, VendorWebhooks
from portalkit._wire import json_converter

if TYPE_CHECKING:
    pass

DOCS_URL = "https://docs.polar.sh/integrate/webhooks/delivery"

#: The prefix Standard Webhooks gives a base64 secret (``whsec_<base64>``).
SECRET_PREFIX = "whsec_"  # noqa: S105 -- a prefix, not a secret


def polar_signing_keys(secret: str) -> tuple[bytes, ...]:
    """The HMAC keys polar-sdk accepts for ``secret``: its UTF-8 bytes as given (Polar's own
    secrets, which are not base64), then the base64-decoded text after an optional
    ``whsec_`` when it decodes to other, non-empty bytes (a Standard Webhooks secret)."""
    raw = secret.encode("utf-8")
    remainder = secret.removeprefix(SECRET_PREFIX)
    try:
        decoded = base64.b64decode(remainder + "=" * (-len(remainder) % 4), validate=True)
    except (binascii.Error, ValueError):
        return (raw,)
    return (raw, decoded) if decoded and decoded != raw else (raw,)


#: How Polar signs (Standard Webhooks), as polar-sdk's ``validate_event`` checks it: five
#: minutes of drift either way; only ``v1`` signatures count.
SIGNATURE = HmacSignature(
    header="webhook-signature",
    items=" ",
    assign=",",
    signature_key="v1",
    timestamp_header="webhook-timestamp",
    id_header="webhook-id",
    signed="{id}.{timestamp}.{body}",
    encoding="base64",
    tolerance=300,
    future_tolerance=300,
    keys=polar_signing_keys,
)

# Polar's event types, from its catalogue (the SDK's ``_KNOWN_EVENT_TYPES``).
SUBSCRIPTION_CANCELED = "subscription.canceled"
SUBSCRIPTION_UNCANCELED = "subscription.uncanceled"
SUBSCRIPTION_REVOKED = "subscription.revoked"
SUBSCRIPTION_UPDATED = "subscription.updated"
#: Event types whose ``data`` is a subscription: its ``id`` is the subscription's.
SUBSCRIPTION_PREFIX = "subscription."

EVENTS: tuple[EventMapping, ...] = (
    EventMapping(
        SUBSCRIPTION_CANCELED,
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "data.cancel_at_period_end is true and it has not ended (status not canceled, no"
        " ended_at): ends_at is data.ends_at, else data.current_period_end",
    ),
    EventMapping(
        SUBSCRIPTION_CANCELED,
        EventType.SUBSCRIPTION_CANCELED,
        "otherwise: revoked at once, or a scheduled cancellation come due (subscription.revoked"
        " follows); ends_at is data.ended_at",
    ),
    EventMapping(SUBSCRIPTION_UNCANCELED, EventType.SUBSCRIPTION_UNCANCELED),
    EventMapping(SUBSCRIPTION_REVOKED, EventType.SUBSCRIPTION_CANCELED),
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_UPDATED,
        "always: Polar's catch-all, sent with each of the above too; a plan change cannot be"
        " told (no previous values)",
    ),
)


# Only the fields the reader needs; Polar's objects carry many more, which stay in ``raw``.
# Decoded once and read: never compared or printed (see providers/paddle.py).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Event:
    type: str
    timestamp: str
    data: dict[str, Any]


@attrs.frozen(repr=False, eq=False, slots=False)
class _Subscription:
    id: str
    customer_id: str
    cancel_at_period_end: bool
    status: str | None = None
    current_period_end: str | None = None
    ends_at: str | None = None
    ended_at: str | None = None


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter()


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """The verified event as a ``BillingEvent`` (``WebhookRejected(MALFORMED)`` naming the
    field when the envelope is not Polar's)."""
    event = delivery.structure(_converter, payload, _Event)
    if not event.type:
        raise delivery.malformed("the event has an empty type")
    delivery_id = delivery.signed.delivery_id
    if not delivery_id:  # the scheme requires it; a reader called otherwise has no id
        raise delivery.malformed("the delivery has no webhook-id")
    data = event.data
    customer_id = _text(data.get("customer_id"))
    if event.type.startswith(SUBSCRIPTION_PREFIX):
        subscription_id = _text(data.get("id"))
    else:  # an order, a refund, ...: the subscription it belongs to, if any
        subscription_id = _text(data.get("subscription_id"))
    type_ = EventType.UNKNOWN
    ends_at: datetime | None = None
    if event.type in (
        SUBSCRIPTION_CANCELED,
        SUBSCRIPTION_UNCANCELED,
        SUBSCRIPTION_REVOKED,
        SUBSCRIPTION_UPDATED,
    ):
        subscription = delivery.structure(_converter, data, _Subscription)
        customer_id, subscription_id = subscription.customer_id, subscription.id
        type_, ends_at = _subscription_event(event.type, subscription, delivery)
    return delivery.event(
        payload,
        id=delivery_id,
        type=type_,
        vendor_type=event.type,
        occurred_at=delivery.iso_time(event.timestamp, "timestamp"),
        customer_id=customer_id,
        subscription_id=subscription_id,
        ends_at=ends_at,
    )


def _subscription_event(
    vendor_type: str, subscription: _Subscription, delivery: Delivery
) -> tuple[EventType, datetime | None]:
    if vendor_type == SUBSCRIPTION_UPDATED:
        return EventType.SUBSCRIPTION_UPDATED, None
    if vendor_type == SUBSCRIPTION_UNCANCELED:
        return EventType.SUBSCRIPTION_UNCANCELED, None
    # When a scheduled cancellation comes due, Polar sends subscription.canceled again, with
    # cancel_at_period_end still true but the subscription ended (status canceled, ended_at
    # set; Polar's server, subscription/service.py): that one is the end, not a schedule.
    has_ended = subscription.status == "canceled" or subscription.ended_at is not None
    if vendor_type == SUBSCRIPTION_CANCELED and subscription.cancel_at_period_end and not has_ended:
        if subscription.ends_at is not None:
            return EventType.SUBSCRIPTION_CANCEL_SCHEDULED, delivery.iso_time(
                subscription.ends_at, "data.ends_at"
            )
        if subscription.current_period_end is not None:
            return EventType.SUBSCRIPTION_CANCEL_SCHEDULED, delivery.iso_time(
                subscription.current_period_end, "data.current_period_end"
            )
        raise delivery.malformed(
            "a subscription cancelled at period end has no ends_at nor current_period_end"
        )
    # Revoked, or canceled with immediate revocation: it has ended.
    ended = subscription.ended_at
    return EventType.SUBSCRIPTION_CANCELED, (
        None if ended is None else delivery.iso_time(ended, "data.ended_at")
    )


def _text(value: object) -> str | None:
    """An id read leniently: an event outside the table is kept whatever its data holds."""
    return value if isinstance(value, str) and value else None


WEBHOOKS = VendorWebhooks(
    provider="polar",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
