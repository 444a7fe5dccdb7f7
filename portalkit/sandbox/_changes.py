"""A change to a subscription, from wherever it comes (``Sandbox.trigger``, a button on the
portal page, ``POST /_sandbox/{vendor}/webhooks/trigger``): checked, applied to the store,
and its events -- the twin's, in its vendor's words -- queued for delivery.

The one lock here keeps "apply, then queue the events" whole: two changes queue their events
in the order they were applied, so an app sees them in that order (faults aside).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._deliveries import Deliveries
from ._store import Session, Store
from ._subscriptions import refusal
from ._twin_events import Change, SubscriptionState, TwinWebhooks

if TYPE_CHECKING:
    from .twin import Twin

#: The portal page's own action for a scheduled cancellation, when the twin's actions have
#: none that withdraws it.
WITHDRAW = "withdraw_cancellation"
WITHDRAW_LABEL = "Withdraw cancellation"


@attrs.frozen
class AppliedChange:
    """What a change did: the subscription before and after, the vendor's events for it (as
    the twin built them), and how many deliveries were queued (events x endpoints, a scripted
    duplicate included; 0 with no endpoint registered; an event a scripted out_of_order holds
    back counts with the change that releases it)."""

    vendor: str
    change: Change
    before: SubscriptionState
    after: SubscriptionState
    events: tuple[Mapping[str, Any], ...] = attrs.field(repr=False)
    deliveries: int

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "change": self.change.value,
            "before": attrs.asdict(self.before),
            "after": attrs.asdict(self.after),
            "events": [dict(event) for event in self.events],
            "deliveries": self.deliveries,
        }


@attrs.frozen
class PortalAction:
    """A button the portal page shows for one subscription: the action's id and label (the
    twin's), and the change it applies."""

    id: str
    label: str
    change: Change


def portal_actions(
    twin: Twin, allowed: Sequence[tuple[str, str]], state: SubscriptionState
) -> list[PortalAction]:
    """The buttons for ``state``: each allowed action the twin maps to a change its vendor has
    events for and that ``state`` can go through, then "Withdraw cancellation" for a scheduled
    cancellation (when the vendor has an event for it and no action of the twin's does it)."""
    hooks = twin.webhooks
    if hooks is None:
        return []
    actions = [
        PortalAction(action, label, hooks.action_changes[action])
        for action, label in allowed
        if action in hooks.action_changes
        and hooks.action_changes[action] in hooks.changes
        and refusal(state, hooks.action_changes[action], hooks) is None
    ]
    uncancel = Change.SUBSCRIPTION_UNCANCELED
    if (
        uncancel in hooks.changes
        and refusal(state, uncancel, hooks) is None
        and all(a.change is not uncancel for a in actions)
    ):
        actions.append(PortalAction(WITHDRAW, WITHDRAW_LABEL, uncancel))
    return actions


def as_change(value: object) -> Change:
    """``value`` as a change (an ``EventType``, or its value as a string)."""
    if isinstance(value, Change):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError
        return Change(value)
    except ValueError:
        known = ", ".join(c.value for c in Change)
        raise ValueError(f"unknown change {value!r}; expected one of {known}") from None


class Changes:
    def __init__(self, twins: Sequence[Twin], store: Store, deliveries: Deliveries) -> None:
        self._twins = {twin.name: twin for twin in twins}
        self._store = store
        self._deliveries = deliveries
        self._lock = threading.Lock()

    def hooks(self, vendor: str) -> TwinWebhooks:
        """The twin's webhooks; ValueError for a twin that sends none."""
        hooks = self._twins[vendor].webhooks
        if hooks is None:
            with_hooks = [name for name, twin in self._twins.items() if twin.webhooks]
            raise ValueError(
                f"{vendor}: the twin sends no webhooks (twins that do: "
                f"{', '.join(with_hooks) or 'none'})"
            )
        return hooks

    def trigger(
        self,
        vendor: str,
        change: Change | str,
        customer_id: str | None = None,
        subscription_id: str | None = None,
    ) -> AppliedChange:
        """Apply ``change`` to a subscription and queue its events, as ``stripe trigger``
        does. With no subscription, the customer's first; with no customer either, the first
        customer's that has one. ValueError for a change the vendor has no events for, a
        subscription of another customer, or an impossible change; KeyError for an unknown
        customer or subscription."""
        hooks = self.hooks(vendor)
        wanted = as_change(change)
        if wanted not in hooks.changes:
            offered = ", ".join(sorted(c.value for c in hooks.changes))
            raise ValueError(
                f"{vendor}: the twin has no events for {wanted.value} (it has: {offered})"
            )
        subscription_id = self._subscription(vendor, customer_id, subscription_id)
        return self._apply(vendor, wanted, subscription_id)

    def act(self, twin: Twin, session: Session, action: str, subscription_id: str) -> AppliedChange:
        """A customer's click on the portal page: ``action`` (one of the buttons the page
        shows ``session`` for ``subscription_id``). ValueError when the page shows no such
        button (an action not allowed, a change that is no longer possible); KeyError for a
        subscription that is not the session's customer's."""
        if subscription_id not in self._store.subscriptions(twin.name, session.customer_id):
            raise KeyError(f"no subscription {subscription_id!r} for this customer")
        state = self._store.subscription_state(twin.name, subscription_id)
        allowed = twin.allowed_actions(session, twin.actions)
        for offered in portal_actions(twin, allowed, state):
            if offered.id == action:
                return self._apply(twin.name, offered.change, subscription_id)
        raise ValueError(f"the portal offers no {action!r} for subscription {subscription_id}")

    def _subscription(
        self, vendor: str, customer_id: str | None, subscription_id: str | None
    ) -> str:
        store = self._store
        if customer_id is not None:
            subscriptions = store.subscriptions(vendor, customer_id)  # KeyError: unknown
            if subscription_id is None:
                if not subscriptions:
                    raise ValueError(f"{vendor}: customer {customer_id!r} has no subscription")
                return subscriptions[0]
            owner = store.owner(vendor, subscription_id)  # KeyError: unknown
            if owner != customer_id:
                raise ValueError(
                    f"{vendor}: subscription {subscription_id!r} belongs to customer"
                    f" {owner!r}, not {customer_id!r}"
                )
            return subscription_id
        if subscription_id is not None:
            store.owner(vendor, subscription_id)  # KeyError: unknown
            return subscription_id
        for customer in store.customers(vendor):
            subscriptions = store.subscriptions(vendor, customer)
            if subscriptions:
                return subscriptions[0]
        raise ValueError(f"{vendor}: no customer has a subscription")

    def _apply(self, vendor: str, change: Change, subscription_id: str) -> AppliedChange:
        hooks = self.hooks(vendor)
        with self._lock:
            now = self._store.now()
            before, after = self._store.apply(vendor, subscription_id, change, now)
            events = tuple(hooks.events(change, before, after, now))
            queued = self._deliveries.send(vendor, change, subscription_id, events, now)
        return AppliedChange(vendor, change, before, after, events, queued)
