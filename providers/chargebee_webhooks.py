"""Chargebee webhooks: HTTP Basic credentials on the webhook URL, and an event object.

Vendor docs: https://apidocs.chargebee.com/docs/api/events (the event object, webhooks,
retries, duplicates, ordering by ``resource_version``, and "you can ensure the integrity of
the event data by fetching it again using the Retrieve an Event API call"), each event's page
under .../docs/api/events/webhook/<event_type>, and Chargebee's webhook settings (a user name
and password "protected by basic authentication"). The official ``chargebee`` package has no
verifier (``Event.deserialize`` only parses); its ``EventResponse`` and content models name
the fields read here. What portalkit decided where the docs are silent is in
docs/providers/chargebee.md ("Webhooks").

Wire shape::

    POST <your webhook URL>
    Authorization: Basic base64("<user name>:<password>")   set with the webhook URL
    Content-Type: application/json

    {"id": "ev_...", "occurred_at": 1349120451,              unix seconds
     "source": "portal", "object": "event", "api_version": "v2",
     "event_type": "subscription_cancellation_scheduled", "webhook_status": "...",
     "content": {"subscription": {"id": "...", "customer_id": "...", "status": "non_renewing",
                                  "cancelled_at": 1349638824, "current_term_end": 1349638824,
                                  "resource_version": 1349120451000, ...},
                 "customer": {"id": "...", "resource_version": 1349120450000, ...}}}

NOTHING IS SIGNED. The credentials prove only that the sender knows them; the body, the event
type and the times are as trustworthy as the transport (use an https URL). There is no
timestamp, so no replay window: deduplicate on ``event.id``, and when an event matters
(money, access), re-read it by id through Chargebee's API, as Chargebee advises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from portalkit._events import BillingEvent, EventType
from portalkit._signatures import BasicCredentials
from portalkit._webhooks import Delivery, EventMapping, VendorWebhooks
from portalkit._wire import json_converter

if TYPE_CHECKING:
    pass

DOCS_URL = "https://apidocs.chargebee.com/docs/api/events"

#: How Chargebee authenticates a delivery: the user name and password configured with the
#: webhook URL, as HTTP Basic (``CHARGEBEE_WEBHOOK_USERNAME``, ``CHARGEBEE_WEBHOOK_PASSWORD``,
#: the names Chargebee's own Node SDK reads).
SIGNATURE = BasicCredentials()

#: Chargebee's events (its catalogue: ``chargebee.models.enums.EventType``) that portalkit
#: names; every other is UNKNOWN. v2 events carry the resources as they are now, never their
#: previous values, so a change cannot be told apart: subscription_changed fires for any
#: change made through "update subscription" (plan, quantity, add-ons, coupons, billing
#: cycle...) and subscription_changes_scheduled for any change deferred to the term's end.
EVENTS: tuple[EventMapping, ...] = (
    EventMapping("subscription_cancellation_scheduled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED),
    EventMapping("subscription_scheduled_cancellation_removed", EventType.SUBSCRIPTION_UNCANCELED),
    EventMapping("subscription_cancelled", EventType.SUBSCRIPTION_CANCELED),
    EventMapping("subscription_changed", EventType.SUBSCRIPTION_UPDATED),
    EventMapping("subscription_changes_scheduled", EventType.SUBSCRIPTION_UPDATED),
    EventMapping("payment_source_added", EventType.PAYMENT_METHOD_UPDATED),
    EventMapping("payment_source_updated", EventType.PAYMENT_METHOD_UPDATED),
    EventMapping("payment_source_deleted", EventType.PAYMENT_METHOD_UPDATED),
)
_TYPES = {row.vendor_type: row.type for row in EVENTS}


# The wire shapes are decoded once and read: never compared or printed, so attrs is not asked
# for __repr__ or __eq__, nor for __slots__ (as in the adapters; issue 17). Only the fields
# portalkit reads: the rest of the content stays in ``event.raw``.
@attrs.frozen(repr=False, eq=False, slots=False)
class _Subscription:
    id: str
    customer_id: str | None = None
    # Milliseconds, updated on every change to the subscription: Chargebee's ordering key.
    resource_version: int | None = None
    # On a non_renewing subscription, when the scheduled cancellation takes effect; on a
    # cancelled one, when it was cancelled.
    cancelled_at: int | None = None
    current_term_end: int | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Customer:
    id: str
    resource_version: int | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Content:
    subscription: _Subscription | None = None
    customer: _Customer | None = None


@attrs.frozen(repr=False, eq=False, slots=False)
class _Event:
    id: str
    occurred_at: int
    event_type: str
    content: _Content


# Strict JSON types: a "false" is not true, a "17" is not a time (portalkit._wire).
_converter = json_converter()


def read_event(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    """A Chargebee delivery, its credentials checked, as a ``BillingEvent``."""
    # Every field of the content is optional, so the converter would take any value for
    # it: a content that is not an object is refused here.
    if not isinstance(payload.get("content"), dict):
        raise delivery.malformed("content is missing or not an object")
    event = delivery.structure(_converter, payload, _Event)
    if not event.id:
        raise delivery.malformed("id is empty")
    if not event.event_type:
        raise delivery.malformed("event_type is empty")
    subscription = event.content.subscription
    customer = event.content.customer
    event_type = _TYPES.get(event.event_type, EventType.UNKNOWN)
    ends_at = None
    if event_type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED:
        # cancelled_at is the scheduled date; current_term_end, where a cancellation "at the
        # end of the term" leaves it out, the same date by another name.
        if subscription is not None and subscription.cancelled_at is not None:
            ends_at = delivery.unix_time(
                subscription.cancelled_at, "content.subscription.cancelled_at"
            )
        elif subscription is not None and subscription.current_term_end is not None:
            ends_at = delivery.unix_time(
                subscription.current_term_end, "content.subscription.current_term_end"
            )
        else:
            raise delivery.malformed(
                "subscription_cancellation_scheduled has no content.subscription.cancelled_at"
                " nor current_term_end"
            )
    elif (
        event_type is EventType.SUBSCRIPTION_CANCELED
        and subscription is not None
        and subscription.cancelled_at is not None
    ):
        ends_at = delivery.unix_time(subscription.cancelled_at, "content.subscription.cancelled_at")
    # The resource the event is about orders it: the subscription's version when the event
    # carries one, else the customer's (payment sources' events carry only the customer).
    if subscription is not None:
        resource_version = subscription.resource_version
    else:
        resource_version = None if customer is None else customer.resource_version
    customer_id = customer.id if customer is not None else None
    if not customer_id and subscription is not None:
        customer_id = subscription.customer_id
    return delivery.event(
        payload,
        id=event.id,
        type=event_type,
        vendor_type=event.event_type,
        occurred_at=delivery.unix_time(event.occurred_at, "occurred_at"),
        customer_id=customer_id,
        subscription_id=None if subscription is None else subscription.id,
        ends_at=ends_at,
        resource_version=resource_version,
    )


WEBHOOKS = VendorWebhooks(
    provider="chargebee",
    signature=SIGNATURE,
    read=read_event,
    events=EVENTS,
    docs_url=DOCS_URL,
)
