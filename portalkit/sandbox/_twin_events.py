"""What a twin declares to send its vendor's webhooks: the vendor-free state of one
subscription, and ``TwinWebhooks``, the twin's knowledge of its vendor's events.

The sandbox's machinery (``_deliveries.py``) keeps each subscription's state, applies a
change to it (the customer acting in the hosted portal page, or ``Sandbox.trigger``), asks the
twin for the events its vendor sends for that change, signs each as the vendor signs it, and
delivers it at least once. The twin restates its vendor's payloads and signature scheme from
the vendor's docs; it never imports portalkit's webhook code for that vendor (the independent
witness): the official SDKs verifying a twin's deliveries is the proof.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .._events import EventType

__all__ = ["Change", "SubscriptionState", "TwinWebhooks"]

#: The changes a portal action or a trigger applies (a subset of ``EventType``).
Change = EventType


@attrs.frozen(kw_only=True)
class SubscriptionState:
    """One subscription as the twin's store keeps it, in the sandbox's own words: each twin
    renders it in its vendor's payload shape. Times are Unix seconds (sandbox time)."""

    id: str
    customer_id: str
    #: ``active`` until it ends; then ``canceled``.
    status: str = "active"
    #: A cancellation is scheduled for ``current_period_end``.
    cancel_at_period_end: bool = False
    current_period_start: float
    current_period_end: float
    #: The plan (price, variant, product) the subscription is on: one of ``TwinWebhooks.plans``.
    plan: str
    #: The default payment method's id, in the vendor's format.
    payment_method: str
    #: When the customer asked to cancel (scheduled or at once).
    canceled_at: float | None = None
    #: When it ended.
    ended_at: float | None = None
    created_at: float
    updated_at: float
    #: Grows by one at every change (a vendor's resource version is derived from it).
    version: int = 1


#: The vendor's payloads for one change: ``(change, before, after, now)`` to the events it
#: sends, in the order it sends them (each a JSON object).
EventBuilder = Callable[[Change, SubscriptionState, SubscriptionState, float], list[dict[str, Any]]]
#: The headers the vendor sends with ``body`` (``payload`` parsed), signed with ``secret`` at
#: ``timestamp`` (Unix seconds, set anew at each attempt), with the delivery's id (the same
#: across retries): ``(body, payload, secret, timestamp, delivery_id)``.
Signer = Callable[[bytes, Mapping[str, Any], str, int, str], dict[str, str]]


@attrs.frozen(kw_only=True)
class TwinWebhooks:
    """A twin's webhooks: its secret, how it signs, the events each change sends.

    - ``secret``: the secret the twin signs with (for Basic credentials, ``"user:password"``);
      ``env`` the variables, with their values, that portalkit's ``Webhooks.from_env`` needs
      to verify the twin's deliveries (``{"STRIPE_WEBHOOK_SECRET": secret}``).
    - ``sign``: the headers, signed as the vendor signs (``Signer``); the sandbox calls it
      with another secret to script a bad signature, and with an old timestamp for a late one.
    - ``events``: the vendor's payloads for a change (``EventBuilder``).
    - ``changes``: the changes the vendor has events for (``trigger`` refuses others).
    - ``action_changes``: the twin's portal actions (``Twin.actions`` ids) that change a
      subscription, and the change each applies (``"cancel_subscription"`` ->
      ``SUBSCRIPTION_CANCEL_SCHEDULED`` where the vendor cancels at period end).
    - ``plans``: the plans a subscription can be on; the first is a new subscription's, a
      plan change moves to the next.
    - ``payment_method_id``: a new payment method's id at ``now`` (vendor format).
    - ``delivery_id``: a new delivery's id at ``now`` (Standard Webhooks' ``msg_...``);
      default: a random one, where the vendor sends none.
    """

    secret: str
    env: Mapping[str, str]
    sign: Signer
    events: EventBuilder
    changes: frozenset[Change]
    action_changes: Mapping[str, Change] = attrs.field(factory=dict)
    plans: tuple[str, ...]
    payment_method_id: Callable[[float], str]
    delivery_id: Callable[[float], str] | None = None
