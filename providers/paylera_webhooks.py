"""Paylera webhooks: verify ``Paylera-Signature`` and read the event into a ``BillingEvent``.

Vendor docs: Paylera -> Customer portal -> "What you'll get back" (the events a portal action
emits: ``subscription.updated`` "Plan changed, quantity changed", ``subscription.canceled``
"Customer cancelled", ``subscription.reactivated`` "Customer un-cancelled before period end",
``customer.payment_method_attached`` / ``_detached``, ``customer.updated`` "Address or tax
ID changed", ``portal.session.completed`` "Customer closed the portal", with a summary of
the actions taken). That page lists the events and nothing more: no signature scheme, no
envelope, no example payload.

ASSUMED, all of it, and declared here only (docs/providers/paylera.md, "Webhooks", says
so to users)::

    POST <your endpoint>
    Paylera-Signature: t=1767225600,v1=<hex>[,v1=<hex>]    the conventional scheme:
                                                            HMAC-SHA256 of "{t}.{raw body}",
                                                            keyed with the secret's UTF-8
                                                            bytes; 300 s either way
    {"id": "evt_...", "type": "subscription.canceled", "created": 1767225600,
     "data": {"object": {"id": "sub_...", "object": "subscription", "customer_id": "cus_...",
                         "plan": {"id": "plan_..."}, "cancel_at_period_end": true,
                         "current_period_end": 1769904000, ...},
              "previous_attributes": {"plan": {"id": "plan_..."}}}}

A Stripe-like envelope in Paylera's own naming: its API is snake_case, names the customer
``customer_id`` (the session request does) and writes times in ISO 8601 (``expires_at``), so
the reader takes ``customer_id`` or ``customer``, and a time in Unix seconds or ISO 8601.
A plan change is told only where the previous plan is given (``previous_attributes.plan``);
the page's "Plan changed, quantity changed" are otherwise one event that cannot be told
apart, so it stays SUBSCRIPTION_UPDATED.
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

#: Where Paylera documents its webhooks: nowhere yet. The events are listed on its
#: "Customer portal" page, whose address portalkit does not know (a copy is in the issue's
#: provider notes), so no link is invented.
DOCS_URL = ""

#: ASSUMED: Paylera documents no scheme; this is the conventional one (Stripe's shape, with
#: a bound on both sides of the timestamp). The one place it is declared.
SIGNATURE = HmacSignature(
    header="Paylera-Signature",
    items=",",
    assign="=",
    signature_key="v1",
    timestamp_key="t",
    signed="{timestamp}.{body}",
    encoding="hex",
    tolerance=300,
    future_tolerance=300,
)

# The event names, as the customer-portal page lists them.
SUBSCRIPTION_UPDATED = "subscription.updated"
SUBSCRIPTION_CANCELED = "subscription.canceled"
SUBSCRIPTION_REACTIVATED = "subscription.reactivated"
PAYMENT_METHOD_ATTACHED = "customer.payment_method_attached"
PAYMENT_METHOD_DETACHED = "customer.payment_method_detached"
CUSTOMER_UPDATED = "customer.updated"
PORTAL_SESSION_COMPLETED = "portal.session.completed"

EVENTS: tuple[EventMapping, ...] = (
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_PLAN_CHANGED,
        "previous_attributes.plan is given and is not the subscription's plan (assumed shape)",
    ),
    EventMapping(
        SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_UPDATED,
        "otherwise: a quantity change, or a plan change the payload does not show",
    ),
    EventMapping(
        SUBSCRIPTION_CANCELED,
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "cancel_at_period_end is true: ends_at is cancel_at, else current_period_end",
    ),
    EventMapping(
        SUBSCRIPTION_CANCELED,
        EventType.SUBSCRIPTION_CANCELED,
        "otherwise: cancelled at once (ends_at is ended_at or canceled_at, when given)",
    ),
    EventMapping(SUBSCRIPTION_REACTIVATED, EventType.SUBSCRIPTION_UNCANCELED),
    EventMapping(PAYMENT_METHOD_ATTACHED, EventType.PAYMENT_METHOD_UPDATED),
    EventMapping(PAYMENT_METHOD_DETACHED, EventType.PAYMENT_METHOD_UPDATED),
    EventMapping(
        CUSTOMER_UPDATED,
        EventType.UNKNOWN,
        "always: an address or tax id changed (the page's words), not a billing event",
    ),
    EventMapping(PORTAL_SESSION_COMPLETED, EventType.PORTAL_SESSION_COMPLETED),
)


# The assumed shapes, only the fields the reader needs (the rest stays in ``raw``). Times are
# read by hand: Unix seconds or ISO 8601 (see the module docstring).
@attrs.frozen(repr=False, eq=False, slots=False)
class _Data:
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Event:
    id: str
    type: str
    created: Any
    data: _Data


@attrs.frozen(repr=False, eq=False, slots=False)
class _Subscription:
    id: str
    customer_id: str | None = None
    customer: str | None = None
    cancel_at_period_end: bool = False
    cancel_at: Any = None
    current_period_end: Any = None
    ended_at: Any = None
    canceled_at: Any = None
    plan: Any = None  # {"id": "plan_..."} or the id itself


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter()


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """The verified event as a ``BillingEvent`` (``WebhookRejected(MALFORMED)`` naming the
    field when the envelope is not the assumed one)."""
    event = delivery.structure(_converter, payload, _Event)
    if not event.id:
        raise delivery.malformed("the event has an empty id")
    if not event.type:
        raise delivery.malformed("the event has an empty type")
    obj = event.data.object
    previous = event.data.previous_attributes or {}
    customer_id, subscription_id = _ids(obj)
    ends_at: datetime | None = None
    type_ = EventType.UNKNOWN
    if event.type in (SUBSCRIPTION_UPDATED, SUBSCRIPTION_CANCELED, SUBSCRIPTION_REACTIVATED):
        subscription = delivery.structure(_converter, obj, _Subscription)
        customer_id = subscription.customer_id or subscription.customer
        subscription_id = subscription.id
        if event.type == SUBSCRIPTION_REACTIVATED:
            type_ = EventType.SUBSCRIPTION_UNCANCELED
        elif event.type == SUBSCRIPTION_CANCELED:
            type_, ends_at = _canceled(subscription, delivery)
        else:
            type_ = _updated(subscription, previous, delivery)
    elif event.type in (PAYMENT_METHOD_ATTACHED, PAYMENT_METHOD_DETACHED):
        type_ = EventType.PAYMENT_METHOD_UPDATED
    elif event.type == PORTAL_SESSION_COMPLETED:
        # The summary of actions stays in ``raw``: each action has its own event too.
        type_ = EventType.PORTAL_SESSION_COMPLETED
    return delivery.event(
        payload,
        id=event.id,
        type=type_,
        vendor_type=event.type,
        occurred_at=_time(event.created, "created", delivery),
        customer_id=customer_id,
        subscription_id=subscription_id,
        ends_at=ends_at,
    )


def _canceled(subscription: _Subscription, delivery: Delivery) -> tuple[EventType, datetime | None]:
    """The page says only "Customer cancelled", and that a customer may un-cancel "before
    period end": a cancellation that runs to the period's end says so (assumed:
    ``cancel_at_period_end``, Stripe's name); any other has ended."""
    if subscription.cancel_at_period_end:
        for field in ("cancel_at", "current_period_end"):
            value = getattr(subscription, field)
            if value is not None:
                return EventType.SUBSCRIPTION_CANCEL_SCHEDULED, _time(
                    value, f"data.object.{field}", delivery
                )
        raise delivery.malformed(
            "a subscription cancelled at period end has no cancel_at nor current_period_end"
        )
    for field in ("ended_at", "canceled_at"):
        value = getattr(subscription, field)
        if value is not None:
            return EventType.SUBSCRIPTION_CANCELED, _time(value, f"data.object.{field}", delivery)
    return EventType.SUBSCRIPTION_CANCELED, None


def _updated(
    subscription: _Subscription, previous: Mapping[str, Any], delivery: Delivery
) -> EventType:
    if "plan" not in previous:
        return EventType.SUBSCRIPTION_UPDATED
    old = _plan_id(previous["plan"], "data.previous_attributes.plan", delivery)
    new = _plan_id(subscription.plan, "data.object.plan", delivery)
    if old is not None and new is not None and old != new:
        return EventType.SUBSCRIPTION_PLAN_CHANGED
    return EventType.SUBSCRIPTION_UPDATED


def _plan_id(value: object, field: str, delivery: Delivery) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.get("id")
    if not isinstance(value, str) or not value:
        raise delivery.malformed(f"{field} is neither a plan id nor an object with one")
    return value


def _time(value: object, field: str, delivery: Delivery) -> datetime:
    """Unix seconds, or an ISO 8601 time with an offset (Paylera's API writes ``expires_at``
    so); anything else is malformed."""
    if isinstance(value, str):
        return delivery.iso_time(value, field)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return delivery.unix_time(value, field)
    raise delivery.malformed(f"{field} is not a unix time nor an ISO 8601 time")


def _ids(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The customer and subscription an event's object names (read leniently: an event
    outside the table is kept whatever its object holds)."""
    if obj.get("object") == "customer":
        return _text(obj.get("id")), None
    customer = _text(obj.get("customer_id")) or _text(obj.get("customer"))
    return customer, _text(obj.get("subscription_id")) or _text(obj.get("subscription"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


WEBHOOKS = VendorWebhooks(
    provider="paylera",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
