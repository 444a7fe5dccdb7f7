"""A subscription's life in the sandbox: its first state, and what each change does to it.

Pure: a ``SubscriptionState`` and a change in, the next state out, or a ``ValueError`` that
says why the change is impossible (the portal page hides such an action, ``trigger`` refuses
it). The store keeps the states; each twin renders them in its vendor's words.
"""

from __future__ import annotations

import attrs

from ._twin_events import Change, SubscriptionState, TwinWebhooks

DAY = 24 * 3600.0
#: A subscription first seen is this far into its period: the period started in the past and a
#: cancellation scheduled now has a date well in the future, as for a customer mid-month.
AGE = 10 * DAY
#: A billing period: a month, as most of the vendors' test plans are.
PERIOD = 30 * DAY

#: The changes a subscription can go through (the rest of ``EventType`` changes nothing).
CHANGES = frozenset(
    {
        Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        Change.SUBSCRIPTION_UNCANCELED,
        Change.SUBSCRIPTION_CANCELED,
        Change.SUBSCRIPTION_PLAN_CHANGED,
        Change.PAYMENT_METHOD_UPDATED,
        Change.SUBSCRIPTION_UPDATED,
    }
)


def new_state(
    hooks: TwinWebhooks, subscription_id: str, customer_id: str, now: float
) -> SubscriptionState:
    """A subscription as first seen: active, on the twin's first plan, ``AGE`` into a period
    of ``PERIOD``, with a payment method."""
    start = now - AGE
    return SubscriptionState(
        id=subscription_id,
        customer_id=customer_id,
        current_period_start=start,
        current_period_end=start + PERIOD,
        plan=hooks.plans[0],
        payment_method=hooks.payment_method_id(now),
        created_at=start,
        updated_at=start,
    )


def refusal(state: SubscriptionState, change: Change, hooks: TwinWebhooks) -> str | None:
    """Why ``change`` cannot happen to ``state`` (a sentence), or None when it can."""
    if change not in CHANGES:
        return f"{change.value} is not a change to a subscription"
    if state.status == "canceled":
        return f"subscription {state.id} has ended"
    if change is Change.SUBSCRIPTION_CANCEL_SCHEDULED and state.cancel_at_period_end:
        return f"subscription {state.id} already has a cancellation scheduled"
    if change is Change.SUBSCRIPTION_UNCANCELED and not state.cancel_at_period_end:
        return f"subscription {state.id} has no cancellation scheduled to withdraw"
    if change is Change.SUBSCRIPTION_PLAN_CHANGED and len(set(hooks.plans)) < 2:
        return "the twin declares one plan only: there is no other plan to change to"
    return None


def transition(
    state: SubscriptionState, change: Change, hooks: TwinWebhooks, now: float
) -> SubscriptionState:
    """The state after ``change`` at sandbox time ``now``; ValueError when impossible.

    Every change bumps ``version`` and ``updated_at``: a vendor's resource version, and the
    time its events carry, come from them, so a receiver can order what arrives out of order.
    """
    reason = refusal(state, change, hooks)
    if reason is not None:
        raise ValueError(reason)
    after = attrs.evolve(state, version=state.version + 1, updated_at=now)
    if change is Change.SUBSCRIPTION_CANCEL_SCHEDULED:
        return attrs.evolve(after, cancel_at_period_end=True, canceled_at=now)
    if change is Change.SUBSCRIPTION_UNCANCELED:
        return attrs.evolve(after, cancel_at_period_end=False, canceled_at=None)
    if change is Change.SUBSCRIPTION_CANCELED:
        # A scheduled cancellation that now ends at once keeps when it was asked for.
        canceled_at = now if state.canceled_at is None else state.canceled_at
        return attrs.evolve(after, status="canceled", ended_at=now, canceled_at=canceled_at)
    if change is Change.SUBSCRIPTION_PLAN_CHANGED:
        return attrs.evolve(after, plan=_next_plan(hooks.plans, state.plan))
    if change is Change.PAYMENT_METHOD_UPDATED:
        return attrs.evolve(after, payment_method=hooks.payment_method_id(now))
    return after  # SUBSCRIPTION_UPDATED: a change the state does not show (a quantity, ...)


def _next_plan(plans: tuple[str, ...], current: str) -> str:
    """The plan after ``current`` in ``plans``, cyclically, skipping a repeat of it."""
    start = plans.index(current) if current in plans else -1
    for step in range(1, len(plans) + 1):
        candidate = plans[(start + step) % len(plans)]
        if candidate != current:
            return candidate
    return current  # unreachable: refusal() requires two distinct plans
