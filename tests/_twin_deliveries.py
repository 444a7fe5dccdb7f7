"""A twin's webhooks for its test module: a seeded subscription, the state a change leaves,
and each delivery the twin would send for it, signed as the twin signs.

Every ``tests/test_<vendor>_twin_webhooks.py`` that reads its twin through the sandbox's own
state machine (``portalkit.sandbox._subscriptions.transition``) starts from the same seed
and sends the same way; Paylera's and Plugipay's pass their own ``transition``, which builds
events for changes the machine refuses on purpose.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs

from portalkit import Webhooks
from portalkit.sandbox._subscriptions import transition as sandbox_transition
from portalkit.sandbox.twin import Change, SubscriptionState, Twin, TwinWebhooks

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400

Transition = Callable[[SubscriptionState, Change, TwinWebhooks, float], SubscriptionState]
#: (payload, headers, body) of one delivery.
Sent = tuple[dict[str, Any], dict[str, str], bytes]


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@attrs.frozen
class TwinDeliveries:
    twin: Twin
    #: How long before NOW a scheduled cancellation was asked for (the state an
    #: uncancellation starts from).
    scheduled_ago: float = DAY
    transition: Transition = sandbox_transition

    @property
    def hooks(self) -> TwinWebhooks:
        assert self.twin.webhooks is not None
        return self.twin.webhooks

    @property
    def customer(self) -> str:
        return next(customer for customer, subs in self.twin.customers.items() if subs)

    @property
    def subscription(self) -> str:
        return self.twin.customers[self.customer][0]

    def state(self) -> SubscriptionState:
        """A seeded subscription, ten days into its period."""
        start = NOW - 10 * DAY
        return SubscriptionState(
            id=self.subscription,
            customer_id=self.customer,
            current_period_start=start,
            current_period_end=start + 30 * DAY,
            plan=self.hooks.plans[0],
            payment_method=self.hooks.payment_method_id(start - 40 * DAY),
            created_at=start - 40 * DAY,
            updated_at=start - 40 * DAY,
        )

    def apply(self, change: Change, before: SubscriptionState, now: float) -> SubscriptionState:
        return self.transition(before, change, self.hooks, now)

    def scheduled(self) -> SubscriptionState:
        """The seeded subscription with a cancellation asked for ``scheduled_ago`` before."""
        return self.apply(
            Change.SUBSCRIPTION_CANCEL_SCHEDULED, self.state(), NOW - self.scheduled_ago
        )

    def before_of(self, change: Change) -> SubscriptionState:
        """The state a change starts from: a withdrawal needs a scheduled cancellation."""
        return self.scheduled() if change is Change.SUBSCRIPTION_UNCANCELED else self.state()

    def delivered(
        self,
        change: Change,
        before: SubscriptionState | None = None,
        secret: str | None = None,
        timestamp: int = NOW,
    ) -> list[Sent]:
        """Each event the twin sends for ``change`` at NOW, signed at ``timestamp`` with
        ``secret`` (the twin's own by default)."""
        hooks = self.hooks
        before = before or self.before_of(change)
        after = self.apply(change, before, NOW)
        sent = []
        for payload in hooks.events(change, before, after, NOW):
            body = json.dumps(payload, separators=(",", ":")).encode()
            delivery = "unused" if hooks.delivery_id is None else hooks.delivery_id(NOW)
            headers = hooks.sign(body, payload, secret or hooks.secret, timestamp, delivery)
            sent.append((payload, headers, body))
        return sent

    def receiver(self) -> Webhooks:
        return Webhooks.from_env(self.hooks.env, provider=self.twin.name)
