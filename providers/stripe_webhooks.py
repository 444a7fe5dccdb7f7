"""Stripe webhooks: verify ``Stripe-Signature`` and read the event into a ``BillingEvent``.

Vendor docs: Stripe -> Webhooks -> "Verify webhook signatures" (docs.stripe.com/webhooks);
API reference -> Events (the event object, the types list); Customer portal -> "Integrate the
customer portal" (which events a portal action sends). The reference verifier is the official
``stripe`` package's ``stripe.Webhook.construct_event`` / ``WebhookSignature.verify_header``
(stripe/_webhook.py): tests/test_stripe_webhook_sdk_parity.py proves that portalkit accepts
and refuses what it does. What portalkit decided where Stripe leaves room is in
docs/providers/stripe.md, "Webhooks".

Wire shape::

    POST <your endpoint>
    Stripe-Signature: t=1767225600,v1=5257a8...,v1=...   any v1 may match (Stripe signs
                                                          with every secret during a roll);
                                                          v0 (test mode) is ignored
    {"id": "evt_...", "object": "event", "api_version": "2026-10-28.endive",
     "created": 1767225600, "type": "customer.subscription.updated",
     "data": {"object": {"id": "sub_...", "object": "subscription", "customer": "cus_...",
                         "cancel_at_period_end": true, "cancel_at": 1769904000, ...},
              "previous_attributes": {"cancel_at_period_end": false, "cancel_at": null}}}

The signed string is ``"{t}.{raw body}"``, HMAC-SHA256 keyed with the ``whsec_...`` secret's
UTF-8 bytes as given (not decoded), hex. A timestamp more than 300 s old is refused; one in
the future is not (stripe-python does not look).

A portal "cancel at period end" is a ``customer.subscription.updated`` that sets
``cancel_at_period_end`` (newer API versions set ``cancel_at`` too), withdrawing it clears
them, and a plan change replaces the items' prices: only ``previous_attributes`` tells these
apart from any other update, so the mapping reads it. Since 2025-03-31.basil the billing
period is on each item (``items.data[].current_period_end``), not on the subscription, and a
renewal lists ``items`` in ``previous_attributes`` too: a plan change is told by the prices,
not by the key. Stripe has no event for leaving the portal; ``billing_portal.session.created``
is the session being made, so it stays UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from portalkit._events import BillingEvent, EventType
from portalkit._signatures import HmacSignature
from portalkit._webhooks import Delivery, EventMapping, VendorWebhooks
from portalkit._wire import json_converter

if TYPE_CHECKING:
    pass

DOCS_URL = "https://docs.stripe.com/webhooks"

#: How Stripe signs, as stripe-python's ``WebhookSignature.verify_header`` checks it
#: (``tolerance=300``, the default of ``Webhook.construct_event``; no future bound).
SIGNATURE = HmacSignature(
    header="Stripe-Signature",
    items=",",
    assign="=",
    signature_key="v1",
    timestamp_key="t",
    signed="{timestamp}.{body}",
    encoding="hex",
    tolerance=300,
    future_tolerance=None,
)

# Stripe's event types, from its types list (API reference -> Events -> Types of events).
SUBSCRIPTION_UPDATED = "customer.subscription.updated"
SUBSCRIPTION_DELETED = "customer.subscription.deleted"
PAYMENT_METHOD_ATTACHED = "payment_method.attached"
PAYMENT_METHOD_DETACHED = "payment_method.detached"
CUSTOMER_UPDATED = "customer.updated"
PORTAL_SESSION_CREATED = "billing_portal.session.created"
#: A thin event (event destinations' "thin" payload): no snapshot, an ISO 8601 ``created``.
THIN_EVENT_OBJECT = "v2.core.event"

EVENTS: tuple[EventMapping, ...] = (
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "cancel_at_period_end or cancel_at changed (previous_attributes) and the subscription"
        " now ends: ends_at is cancel_at, else the current period's end",
    ),
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_UNCANCELED,
        "cancel_at_period_end or cancel_at changed and the subscription no longer ends",
    ),
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_PLAN_CHANGED,
        "previous_attributes holds items (or plan) with other prices than the subscription's",
    ),
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_UPDATED,
        "any other change (quantity, renewal, status, metadata, ...)",
    ),
    EventMapping(SUBSCRIPTION_DELETED, EventType.SUBSCRIPTION_CANCELED),
    EventMapping(PAYMENT_METHOD_ATTACHED, EventType.PAYMENT_METHOD_UPDATED),
    EventMapping(PAYMENT_METHOD_DETACHED, EventType.PAYMENT_METHOD_UPDATED),
    EventMapping(
        CUSTOMER_UPDATED,
        EventType.PAYMENT_METHOD_UPDATED,
        "previous_attributes holds invoice_settings.default_payment_method (or the legacy"
        " default_source): the default payment method changed",
    ),
    EventMapping(
        CUSTOMER_UPDATED,
        EventType.UNKNOWN,
        "any other change (address, e-mail, tax ids, ...): not a billing event",
    ),
    EventMapping(
        PORTAL_SESSION_CREATED,
        EventType.UNKNOWN,
        "always: the session was made, not used; Stripe reports no portal exit",
    ),
)


# Only the fields the reader needs; Stripe's objects carry many more, which stay in ``raw``.
# Decoded once and read: never compared or printed (see providers/paddle.py).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Data:
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Event:
    id: str
    type: str
    created: int
    data: _Data


@attrs.frozen(repr=False, eq=False, slots=False)
class _Priced:
    """A price or a plan (a plan is the older name of a price): only its id matters here."""

    id: str


@attrs.frozen(repr=False, eq=False, slots=False)
class _Item:
    price: _Priced | None = None
    plan: _Priced | None = None
    # 2025-03-31.basil and later: the billing period is the item's.
    current_period_end: int | None = None

    @property
    def price_id(self) -> str | None:
        priced = self.price or self.plan
        return priced.id if priced is not None else None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Items:
    data: list[_Item]


@attrs.frozen(repr=False, eq=False, slots=False)
class _Subscription:
    id: str
    customer: str
    cancel_at_period_end: bool = False
    cancel_at: int | None = None
    # Before 2025-03-31.basil; later versions have it on the items.
    current_period_end: int | None = None
    ended_at: int | None = None
    items: _Items | None = None
    plan: _Priced | None = None  # single-price subscriptions, older versions

    def price_ids(self) -> frozenset[str] | None:
        return _price_ids(self.items, self.plan)


@attrs.frozen(repr=False, eq=False, slots=False)
class _CancelFields:
    """The cancellation fields as ``previous_attributes`` shows them (only those that
    changed are present there; the rest are read from the subscription)."""

    cancel_at_period_end: bool
    cancel_at: int | None


@attrs.frozen(repr=False, eq=False, slots=False)
class _PreviousPrices:
    items: _Items | None = None
    plan: _Priced | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _ThinEvent:
    id: str
    type: str
    created: str


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter()


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """The verified event as a ``BillingEvent`` (``WebhookRejected(MALFORMED)`` naming the
    field when the envelope is not Stripe's)."""
    if payload.get("object") == THIN_EVENT_OBJECT:
        return _thin_event(payload, delivery)
    event = delivery.structure(_converter, payload, _Event)
    if not event.id:
        raise delivery.malformed("the event has an empty id")
    if not event.type:
        raise delivery.malformed("the event has an empty type")
    obj = event.data.object
    previous = event.data.previous_attributes or {}
    customer_id, subscription_id = _ids(obj, previous)
    ends_at: datetime | None = None
    type_ = EventType.UNKNOWN
    if event.type in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_DELETED):
        subscription = delivery.structure(_converter, obj, _Subscription)
        customer_id, subscription_id = subscription.customer, subscription.id
        if event.type == SUBSCRIPTION_DELETED:
            type_ = EventType.SUBSCRIPTION_CANCELED
            if subscription.ended_at is not None:
                ends_at = delivery.unix_time(subscription.ended_at, "data.object.ended_at")
        else:
            type_, ends_at = _subscription_update(subscription, previous, delivery)
    elif _payment_method_changed(event.type, previous):
        type_ = EventType.PAYMENT_METHOD_UPDATED
    return delivery.event(
        payload,
        id=event.id,
        type=type_,
        vendor_type=event.type,
        occurred_at=delivery.unix_time(event.created, "created"),
        customer_id=customer_id,
        subscription_id=subscription_id,
        ends_at=ends_at,
    )


def _subscription_update(
    subscription: _Subscription, previous: Mapping[str, Any], delivery: Delivery
) -> tuple[EventType, datetime | None]:
    if "cancel_at_period_end" in previous or "cancel_at" in previous:
        before = delivery.structure(
            _converter,
            {
                "cancel_at_period_end": previous.get(
                    "cancel_at_period_end", subscription.cancel_at_period_end
                ),
                "cancel_at": previous.get("cancel_at", subscription.cancel_at),
            },
            _CancelFields,
        )
        scheduled_now = subscription.cancel_at_period_end or subscription.cancel_at is not None
        scheduled_before = before.cancel_at_period_end or before.cancel_at is not None
        if scheduled_now:
            # Newly scheduled, or moved to another time: either way it now ends then.
            return EventType.SUBSCRIPTION_CANCEL_SCHEDULED, _ends_at(subscription, delivery)
        if scheduled_before:
            return EventType.SUBSCRIPTION_UNCANCELED, None
    if "items" in previous or "plan" in previous:
        before_prices = delivery.structure(_converter, previous, _PreviousPrices)
        old = _price_ids(before_prices.items, before_prices.plan)
        new = subscription.price_ids()
        # Compared, not just noticed: a renewal (basil and later) and a quantity change
        # list the items too, with the same prices.
        if old is not None and new is not None and old != new:
            return EventType.SUBSCRIPTION_PLAN_CHANGED, None
    return EventType.SUBSCRIPTION_UPDATED, None


def _ends_at(subscription: _Subscription, delivery: Delivery) -> datetime:
    """When a scheduled cancellation takes effect: ``cancel_at`` (set by newer API versions
    for a period-end cancellation too), else the end of the current period."""
    if subscription.cancel_at is not None:
        return delivery.unix_time(subscription.cancel_at, "data.object.cancel_at")
    if subscription.current_period_end is not None:
        return delivery.unix_time(subscription.current_period_end, "data.object.current_period_end")
    item_ends = [
        item.current_period_end
        for item in (subscription.items.data if subscription.items else [])
        if item.current_period_end is not None
    ]
    if not item_ends:
        raise delivery.malformed(
            "a subscription cancelled at period end has no cancel_at nor current_period_end"
        )
    # Classic billing gives every item the same period; with mixed intervals the
    # subscription runs until the last one ends.
    return delivery.unix_time(max(item_ends), "data.object.items.data.current_period_end")


def _price_ids(items: _Items | None, plan: _Priced | None) -> frozenset[str] | None:
    """The prices a subscription is on, or None when they cannot be read (an item without
    a price: never guessed)."""
    if items is not None:
        ids = [item.price_id for item in items.data]
        return None if None in ids else frozenset(i for i in ids if i is not None)
    if plan is not None:
        return frozenset({plan.id})
    return None


def _payment_method_changed(event_type: str, previous: Mapping[str, Any]) -> bool:
    if event_type in (PAYMENT_METHOD_ATTACHED, PAYMENT_METHOD_DETACHED):
        return True
    if event_type != CUSTOMER_UPDATED:
        return False
    # The customer's default changed (a portal "make default"); any other customer change
    # (address, e-mail, tax ids) is no billing event.
    settings = previous.get("invoice_settings")
    if isinstance(settings, Mapping) and "default_payment_method" in settings:
        return True
    return "default_source" in previous


def _ids(obj: Mapping[str, Any], previous: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The customer and subscription an event is about, where its object names them (read
    leniently: an event outside the table is kept whatever its object holds)."""
    kind = obj.get("object")
    if kind == "customer":
        return _text(obj.get("id")), None
    # A detached payment method has no customer any more; the event's previous_attributes
    # still names it.
    customer = _text(obj.get("customer")) or _text(previous.get("customer"))
    subscription = _text(obj.get("id")) if kind == "subscription" else None
    return customer, subscription or _text(obj.get("subscription"))


def _text(value: object) -> str | None:
    if isinstance(value, Mapping):  # an expanded object
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _thin_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """A thin event has no snapshot to read: kept as UNKNOWN, with its id and time."""
    event = delivery.structure(_converter, payload, _ThinEvent)
    if not event.id or not event.type:
        raise delivery.malformed("the thin event has an empty id or type")
    return delivery.event(
        payload,
        id=event.id,
        type=EventType.UNKNOWN,
        vendor_type=event.type,
        occurred_at=delivery.iso_time(event.created, "created"),
    )


WEBHOOKS = VendorWebhooks(
    provider="stripe",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
