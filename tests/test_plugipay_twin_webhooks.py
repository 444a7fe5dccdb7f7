"""The Plugipay twin's webhooks, read by portalkit's receiver.

Plugipay documents the names of the events its portal fires but no signature scheme, envelope
or payload (see the twin's ``# -- webhooks --`` section): both the twin and portalkit's
receiver restate the same ASSUMPTION, independently. There is no official verifier to be the
referee, so this checks the twin's deliveries against portalkit's receiver and against the
assumed scheme computed here by hand, and that the twin imports nothing of the receiver.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
from pathlib import Path

import attrs
import pytest
from _twin_deliveries import NOW, TwinDeliveries, at

from portalkit import EventType, errors
from portalkit.errors import RejectionReason
from portalkit.providers import plugipay_sandbox
from portalkit.providers.plugipay_sandbox import TWIN
from portalkit.sandbox.twin import Change, SubscriptionState

# The seeded subscription, each change's deliveries and the receiver (tests/_twin_deliveries.py).
seeded = TwinDeliveries(
    TWIN, transition=lambda before, change, _hooks, now: apply(change, before, now)
)


def apply(change: Change, before: SubscriptionState, now: float) -> SubscriptionState:
    """The sandbox's state transitions (restated from ``_twin_events``' contract)."""
    after = attrs.evolve(before, version=before.version + 1, updated_at=now)
    if change is Change.SUBSCRIPTION_CANCEL_SCHEDULED:
        return attrs.evolve(after, cancel_at_period_end=True, canceled_at=now)
    if change is Change.SUBSCRIPTION_UNCANCELED:
        return attrs.evolve(after, cancel_at_period_end=False, canceled_at=None)
    if change is Change.SUBSCRIPTION_CANCELED:
        canceled_at = now if before.canceled_at is None else before.canceled_at
        return attrs.evolve(after, status="canceled", ended_at=now, canceled_at=canceled_at)
    if change is Change.SUBSCRIPTION_PLAN_CHANGED:
        plans = seeded.hooks.plans
        return attrs.evolve(after, plan=plans[(plans.index(before.plan) + 1) % len(plans)])
    if change is Change.PAYMENT_METHOD_UPDATED:
        return attrs.evolve(after, payment_method=seeded.hooks.payment_method_id(now))
    return after


# The events portalkit reads each change as: (change, [(vendor type, EventType)]).
EXPECTED = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: [
        ("subscription.cancelled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    ],
    Change.SUBSCRIPTION_CANCELED: [("subscription.cancelled", EventType.SUBSCRIPTION_CANCELED)],
    Change.PAYMENT_METHOD_UPDATED: [("payment_method.attached", EventType.PAYMENT_METHOD_UPDATED)],
}


def test_the_twin_declares_its_webhooks() -> None:
    assert set(EXPECTED) == seeded.hooks.changes
    assert set(seeded.hooks.env) == {"PLUGIPAY_WEBHOOK_SECRET"}
    assert seeded.hooks.env["PLUGIPAY_WEBHOOK_SECRET"] == seeded.hooks.secret
    action_ids = {action for action, _ in TWIN.actions}
    assert set(seeded.hooks.action_changes) <= action_ids
    assert set(seeded.hooks.action_changes.values()) <= seeded.hooks.changes
    assert (
        seeded.hooks.action_changes["cancel_subscription"] is Change.SUBSCRIPTION_CANCEL_SCHEDULED
    )
    assert all(plan.startswith("plan_") and len(plan) == 31 for plan in seeded.hooks.plans)
    assert seeded.hooks.payment_method_id(NOW).startswith("pm_")
    assert seeded.hooks.payment_method_id(NOW) != seeded.hooks.payment_method_id(NOW)


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_portalkit_reads_each_change(change: Change) -> None:
    sent = seeded.delivered(change)
    read = [seeded.receiver().parse(headers, body, now=NOW) for _, headers, body in sent]
    assert [(event.vendor_type, event.type) for event in read] == EXPECTED[change]
    for (payload, _, _), event in zip(sent, read, strict=True):
        assert event.id == payload["id"]
        assert event.id.startswith("evt_")
        assert len(event.id) == 30
        assert event.customer_id == seeded.customer
        assert event.occurred_at == at(NOW)
        if change is Change.PAYMENT_METHOD_UPDATED:
            assert event.subscription_id is None
            assert payload["data"]["object"]["id"].startswith("pm_")
        else:
            assert event.subscription_id == seeded.subscription
        if change is Change.SUBSCRIPTION_CANCEL_SCHEDULED:
            assert event.ends_at == at(seeded.state().current_period_end)
        else:
            assert event.ends_at is None


def test_a_scheduled_cancellation_that_ends_reads_as_canceled() -> None:
    asked_earlier = apply(Change.SUBSCRIPTION_CANCEL_SCHEDULED, seeded.state(), NOW - 60)
    [(payload, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_CANCELED, asked_earlier)
    event = seeded.receiver().parse(headers, body, now=NOW)
    assert event.type is EventType.SUBSCRIPTION_CANCELED
    obj = payload["data"]["object"]
    assert (obj["status"], obj["cancelAtPeriodEnd"]) == ("cancelled", False)
    assert obj["cancelledAt"] == "2025-12-31T23:59:00.000Z"  # when the customer asked


def test_the_shape_is_the_assumed_one() -> None:
    [(payload, _headers, _body)] = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED)
    assert set(payload) == {"id", "type", "createdAt", "data"}
    assert payload["createdAt"] == "2026-01-01T00:00:00.000Z"
    obj = payload["data"]["object"]
    assert obj["status"] == "active"  # still active until the period ends
    assert obj["cancelAtPeriodEnd"] is True
    assert obj["planId"] == seeded.hooks.plans[0]
    assert (
        obj["arn"] == f"arn:plugipay:{plugipay_sandbox.ACCOUNT}:subscription/{seeded.subscription}"
    )
    assert all("_" not in key for key in obj)  # camelCase, as Plugipay's API


def test_the_signature_is_the_assumed_scheme_by_hand() -> None:
    for change in EXPECTED:
        for _, headers, body in seeded.delivered(change):
            assert headers["X-Plugipay-Timestamp"] == str(NOW)
            signed = f"{NOW}.".encode() + body
            expected = hmac.new(seeded.hooks.secret.encode(), signed, hashlib.sha256).hexdigest()
            assert headers["X-Plugipay-Signature"] == f"v1={expected}"


def test_a_wrong_secret_is_refused() -> None:
    for change in EXPECTED:
        for _, headers, body in seeded.delivered(change, secret="another-secret"):
            with pytest.raises(errors.WebhookRejected) as caught:
                seeded.receiver().parse(headers, body, now=NOW)
            assert caught.value.reason is RejectionReason.SIGNATURE_MISMATCH


def test_a_late_delivery_is_refused() -> None:
    [(_, headers, body)] = seeded.delivered(Change.PAYMENT_METHOD_UPDATED)
    with pytest.raises(errors.WebhookRejected) as caught:
        seeded.receiver().parse(headers, body, now=NOW + 301)
    assert caught.value.reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def test_no_event_for_what_plugipay_does_not_name() -> None:
    for change in (Change.SUBSCRIPTION_UNCANCELED, Change.SUBSCRIPTION_PLAN_CHANGED):
        assert change not in seeded.hooks.changes
        assert seeded.delivered(change) == []


def test_the_twin_imports_nothing_of_the_receiver() -> None:
    tree = ast.parse(Path(plugipay_sandbox.__file__).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not any(name.endswith("_webhooks") or "_signatures" in name for name in imported)
