"""Paddle Billing webhooks: verify ``Paddle-Signature`` and read the notification into a
``BillingEvent``.

Vendor docs: developer.paddle.com -> Webhooks -> "Verify webhook signatures"
(webhooks/signature-verification) and the event reference (webhooks/overview, one page per
event: webhooks/subscriptions/subscription-updated, ...); "Subscription canceled scenario"
(webhooks/scenarios/subscription-canceled) for what a cancellation sends. The reference
verifier is the official ``paddle-python-sdk``'s ``paddle_billing.Notifications.Verifier``
(``PaddleSignature.parse`` / ``.verify``): tests/test_paddle_webhook_sdk_parity.py proves
that portalkit accepts and refuses what it does. What portalkit decided where Paddle leaves
room is in docs/providers/paddle.md, "Webhooks".

Wire shape::

    POST <your notification destination>
    Paddle-Signature: ts=1767225600;h1=4f1b2c...[;h1=...]   any h1 may match; any key other
                                                          than ts and h1 is refused, as the
                                                          SDK's parser does
    {"event_id": "evt_01...", "event_type": "subscription.updated",
     "occurred_at": "2024-04-12T10:49:39.038915Z", "notification_id": "ntf_01...",
     "data": {"id": "sub_01...", "customer_id": "ctm_01...", "status": "active",
              "scheduled_change": {"action": "cancel", "effective_at": "...",
                                   "resume_at": null}, ...}}

The signed string is ``"{ts}:{raw body}"`` (a colon), HMAC-SHA256 keyed with the endpoint's
secret key (``pdl_ntfset_...``) as UTF-8, hex. The SDK's ``Verifier`` allows 5 seconds of
drift both ways (``maximum_variance=5``); so does portalkit (``Webhooks(..., tolerance=)``
widens both sides at once).

A portal "cancel at period end" is a ``subscription.updated`` whose ``scheduled_change`` says
``cancel``; the subscription ends with ``subscription.canceled``. Paddle sends the entity as
it is now and no previous values, so a withdrawn cancellation (``scheduled_change`` back to
null), a plan change and a renewal all arrive as the same ``subscription.updated``: portalkit
never guesses which, and reads every one but a scheduled cancellation as
SUBSCRIPTION_UPDATED.
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

DOCS_URL = "https://developer.paddle.com/webhooks/signature-verification"

#: How Paddle signs, as paddle-python-sdk's ``Verifier().verify(request, secrets)`` checks it:
#: ``ts`` and ``h1`` pairs split on ``;``, any other key refused (``PaddleSignature.parse``
#: raises on it), and ``maximum_variance=5`` seconds of drift either way.
SIGNATURE = HmacSignature(
    header="Paddle-Signature",
    items=";",
    assign="=",
    signature_key="h1",
    timestamp_key="ts",
    signed="{timestamp}:{body}",
    encoding="hex",
    tolerance=5,
    future_tolerance=5,
    strict_keys=True,
)

# Paddle's event names, as its catalogue lists them (the SDK's
# paddle_billing.Entities.Events.EventTypeName).
SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
PAYMENT_METHOD_SAVED = "payment_method.saved"
PAYMENT_METHOD_DELETED = "payment_method.deleted"
#: ``scheduled_change.action`` of a cancellation at the end of the billing period (the others
#: are ``pause`` and ``resume``).
CANCEL_ACTION = "cancel"
#: Event types whose ``data`` is a subscription entity: its ``id`` is the subscription's.
SUBSCRIPTION_PREFIX = "subscription."

EVENTS: tuple[EventMapping, ...] = (
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        'data.scheduled_change.action is "cancel": ends_at is its effective_at',
    ),
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_UPDATED,
        "any other update, a withdrawn cancellation and a plan change included: Paddle sends"
        " no previous values, so they cannot be told apart",
    ),
    EventMapping(SUBSCRIPTION_CANCELED, EventType.SUBSCRIPTION_CANCELED),
    EventMapping(PAYMENT_METHOD_SAVED, EventType.PAYMENT_METHOD_UPDATED),
    EventMapping(PAYMENT_METHOD_DELETED, EventType.PAYMENT_METHOD_UPDATED),
)


# Only the fields the reader needs; Paddle's entities carry many more, which stay in ``raw``.
# Decoded once and read: never compared or printed (see providers/paddle.py).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Event:
    event_id: str
    event_type: str
    occurred_at: str
    data: dict[str, Any]
    # Required by Paddle's schema, not needed here: the event id is the one to dedupe on
    # (a replayed notification has a new notification_id and the same event_id).
    notification_id: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _ScheduledChange:
    action: str
    effective_at: str
    resume_at: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Subscription:
    id: str
    customer_id: str
    scheduled_change: _ScheduledChange | None = None
    canceled_at: str | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _PaymentMethod:
    id: str
    customer_id: str


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter()


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """The verified notification as a ``BillingEvent`` (``WebhookRejected(MALFORMED)``
    naming the field when the envelope is not Paddle's)."""
    event = delivery.structure(_converter, payload, _Event)
    if not event.event_id:
        raise delivery.malformed("the event has an empty event_id")
    if not event.event_type:
        raise delivery.malformed("the event has an empty event_type")
    data = event.data
    customer_id = _text(data.get("customer_id"))
    if event.event_type.startswith(SUBSCRIPTION_PREFIX):
        subscription_id = _text(data.get("id"))
    else:  # a transaction, an adjustment, ...: the subscription it belongs to, if any
        subscription_id = _text(data.get("subscription_id"))
    type_ = EventType.UNKNOWN
    ends_at: datetime | None = None
    if event.event_type in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_CANCELED):
        subscription = delivery.structure(_converter, data, _Subscription)
        customer_id, subscription_id = subscription.customer_id, subscription.id
        change = subscription.scheduled_change
        if event.event_type == SUBSCRIPTION_CANCELED:
            type_ = EventType.SUBSCRIPTION_CANCELED
            if subscription.canceled_at is not None:
                ends_at = delivery.iso_time(subscription.canceled_at, "data.canceled_at")
        elif change is not None and change.action == CANCEL_ACTION:
            type_ = EventType.SUBSCRIPTION_CANCEL_SCHEDULED
            ends_at = delivery.iso_time(change.effective_at, "data.scheduled_change.effective_at")
        else:
            type_ = EventType.SUBSCRIPTION_UPDATED
    elif event.event_type in (PAYMENT_METHOD_SAVED, PAYMENT_METHOD_DELETED):
        method = delivery.structure(_converter, data, _PaymentMethod)
        type_, customer_id = EventType.PAYMENT_METHOD_UPDATED, method.customer_id
    return delivery.event(
        payload,
        id=event.event_id,
        type=type_,
        vendor_type=event.event_type,
        occurred_at=delivery.iso_time(event.occurred_at, "occurred_at"),
        customer_id=customer_id,
        subscription_id=subscription_id,
        ends_at=ends_at,
    )


def _text(value: object) -> str | None:
    """An id read leniently: an event outside the table is kept whatever its data holds."""
    return value if isinstance(value, str) and value else None


WEBHOOKS = VendorWebhooks(
    provider="paddle",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
