"""What the vendors' webhooks said about each subscription: the way back from the portal.

The customer cancels (or withdraws a cancellation) in the vendor's hosted portal; the vendor
tells the app with a webhook, which ``portalkit.web.starlette.webhook_view`` verifies and
normalizes into a ``BillingEvent``; ``SubscriptionEvents.apply`` keeps what it said, per
(vendor, subscription), and the account page shows it.

Deliveries may come late, twice or out of order. The view hands each event to ``apply`` once
(its event log); ``apply`` keeps an event only when it is not older than the one it holds:
``resource_version`` orders two events where both carry one (Chargebee), ``occurred_at``
otherwise. Two events of the same instant (vendors that count in whole seconds) are taken in
the order they arrive, which is the order the vendor sent them. A ``SUBSCRIPTION_UPDATED``
(an event that cannot say what changed: Paddle's withdrawn cancellation) replaces only what
is strictly older, and never an ended subscription.

Kept in this process's memory, as befits an example: a real app stores it beside the
subscription in its database.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Literal

import attrs

from portalkit import BillingEvent, EventType

#: ``unknown``: no event yet; ``updated``: the latest event says something changed, not what.
State = Literal["unknown", "active", "cancel_scheduled", "canceled", "updated"]

_STATES: dict[EventType, State] = {
    EventType.SUBSCRIPTION_CANCEL_SCHEDULED: "cancel_scheduled",
    EventType.SUBSCRIPTION_UNCANCELED: "active",
    EventType.SUBSCRIPTION_CANCELED: "canceled",
    EventType.SUBSCRIPTION_UPDATED: "updated",
}


@attrs.frozen
class SubscriptionNews:
    """A subscription as its latest applied event left it."""

    state: State
    #: When it ends (cancel scheduled) or ended (canceled), as the event said.
    ends_at: datetime | None
    #: The event that said so: portalkit's type, the vendor's own name, and its order.
    type: EventType
    vendor_type: str
    occurred_at: datetime
    resource_version: int | None = None


def _order(event: BillingEvent, held: SubscriptionNews) -> int:
    """-1, 0 or 1: the event is older than, as old as, or newer than what is held."""
    if event.resource_version is not None and held.resource_version is not None:
        return (event.resource_version > held.resource_version) - (
            event.resource_version < held.resource_version
        )
    return (event.occurred_at > held.occurred_at) - (event.occurred_at < held.occurred_at)


class SubscriptionEvents:
    """Per (vendor, subscription), what the newest event said. Thread-safe: the webhook view
    runs a plain ``def`` handler in Starlette's thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._news: dict[tuple[str, str], SubscriptionNews] = {}

    def apply(self, event: BillingEvent) -> bool:
        """The webhook handler: keep what ``event`` says of its subscription when it is
        newer than what is held. False for an event that changes nothing shown (no
        subscription, a payment method, a plan change) or an older one that came late."""
        state = _STATES.get(event.type)
        if state is None or event.subscription_id is None:
            return False
        key = (event.provider, event.subscription_id)
        with self._lock:
            held = self._news.get(key)
            if held is not None:
                order = _order(event, held)
                if order < 0:
                    return False  # late: what is held already says more
                if state == "updated" and (order == 0 or held.state == "canceled"):
                    return False  # says less than a decisive event of the same instant
            self._news[key] = SubscriptionNews(
                state=state,
                ends_at=event.ends_at,
                type=event.type,
                vendor_type=event.vendor_type,
                occurred_at=event.occurred_at,
                resource_version=event.resource_version,
            )
        return True

    def get(self, vendor: str, subscription_id: str) -> SubscriptionNews | None:
        """What the events said of the subscription; None before any."""
        with self._lock:
            return self._news.get((vendor, subscription_id))
