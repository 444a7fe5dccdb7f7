"""The Polar twin's webhooks, checked by Polar's official SDK and by portalkit's receiver.

The twin restates Polar's payloads and Standard Webhooks signature from Polar's docs and
server (portalkit/providers/polar_twin_webhooks.py). The referee nobody here wrote:
polar-sdk's ``polar.v2027_01.webhooks.validate_event(body, headers, secret)`` must verify each
delivery AND load it into its typed payloads (every field its ``Subscription`` model requires),
and refuse it signed with another secret. portalkit's receiver must then read each event as
the expected ``EventType``.

The SDK reads the clock as ``time.time()`` in ``polar.webhooks``; that module's ``time`` is
patched to NOW, so the SDK and portalkit see the same instant.
"""

from __future__ import annotations

import ast
import types
from pathlib import Path

import polar.webhooks as polar_webhooks
import pytest
from _twin_deliveries import NOW, TwinDeliveries, at
from polar.v2027_01.outputs import Subscription
from polar.v2027_01.webhooks import (
    PolarWebhookVerificationError,
    WebhookSubscriptionCanceledPayload,
    WebhookSubscriptionRevokedPayload,
    WebhookSubscriptionUncanceledPayload,
    WebhookSubscriptionUpdatedPayload,
    validate_event,
)

from portalkit import EventType, errors
from portalkit.errors import RejectionReason
from portalkit.providers import polar_sandbox, polar_twin_webhooks
from portalkit.providers.polar_sandbox import TWIN
from portalkit.sandbox.twin import Change

# The seeded subscription, each change's deliveries and the receiver (tests/_twin_deliveries.py).
seeded = TwinDeliveries(TWIN)
OTHER_SECRET = "polar_whs_AnotherEndpointSecretQ8vN2cLx5RtY7bK0mJ4hG1sD9"
PAYLOADS = {
    "subscription.updated": WebhookSubscriptionUpdatedPayload,
    "subscription.canceled": WebhookSubscriptionCanceledPayload,
    "subscription.uncanceled": WebhookSubscriptionUncanceledPayload,
    "subscription.revoked": WebhookSubscriptionRevokedPayload,
}


@pytest.fixture(autouse=True)
def _sdk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polar_webhooks, "time", types.SimpleNamespace(time=lambda: float(NOW)))


# How portalkit reads each change: [(Polar's event type, EventType)], in the order Polar's
# server sends them (subscription.updated first).
EXPECTED = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: [
        ("subscription.updated", EventType.SUBSCRIPTION_UPDATED),
        ("subscription.canceled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED),
    ],
    Change.SUBSCRIPTION_UNCANCELED: [
        ("subscription.updated", EventType.SUBSCRIPTION_UPDATED),
        ("subscription.uncanceled", EventType.SUBSCRIPTION_UNCANCELED),
    ],
    Change.SUBSCRIPTION_CANCELED: [
        ("subscription.updated", EventType.SUBSCRIPTION_UPDATED),
        ("subscription.canceled", EventType.SUBSCRIPTION_CANCELED),
        ("subscription.revoked", EventType.SUBSCRIPTION_CANCELED),
    ],
    Change.SUBSCRIPTION_PLAN_CHANGED: [("subscription.updated", EventType.SUBSCRIPTION_UPDATED)],
    Change.SUBSCRIPTION_UPDATED: [("subscription.updated", EventType.SUBSCRIPTION_UPDATED)],
}


def test_the_twin_declares_its_webhooks() -> None:
    assert set(EXPECTED) == seeded.hooks.changes
    assert seeded.hooks.env == {"POLAR_WEBHOOK_SECRET": seeded.hooks.secret}
    assert seeded.hooks.secret.startswith("polar_whs_")
    action_ids = {action for action, _ in TWIN.actions}
    assert set(seeded.hooks.action_changes) <= action_ids
    assert dict(seeded.hooks.action_changes) == {
        "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_subscription": Change.SUBSCRIPTION_PLAN_CHANGED,
    }
    assert len(set(seeded.hooks.plans)) == 2
    assert all(polar_sandbox.UUID4.fullmatch(plan) for plan in seeded.hooks.plans)
    assert polar_sandbox.UUID4.fullmatch(seeded.hooks.payment_method_id(NOW))
    assert seeded.hooks.delivery_id is not None
    assert seeded.hooks.delivery_id(NOW) != seeded.hooks.delivery_id(NOW)


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_polar_sdk_verifies_and_loads_each_delivery(change: Change) -> None:
    for payload, headers, body in seeded.delivered(change):
        loaded = validate_event(body, headers, seeded.hooks.secret)
        assert isinstance(loaded, PAYLOADS[payload["type"]])
        assert isinstance(loaded.data, Subscription)
        assert (loaded.data.id, loaded.data.customer_id) == (seeded.subscription, seeded.customer)
        assert loaded.data.customer.id == seeded.customer
        assert loaded.api_version == polar_twin_webhooks.API_VERSION


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_portalkit_reads_each_change(change: Change) -> None:
    sent = seeded.delivered(change)  # an end at once; the end of a scheduled one is below
    read = [seeded.receiver().parse(headers, body, now=NOW) for _, headers, body in sent]
    assert [(event.vendor_type, event.type) for event in read] == EXPECTED[change]
    for (_, headers, _), event in zip(sent, read, strict=True):
        assert event.id == headers["webhook-id"]
        assert event.occurred_at == at(NOW)
        assert (event.customer_id, event.subscription_id) == (seeded.customer, seeded.subscription)


def test_a_cancellation_at_period_end_is_still_active() -> None:
    before = seeded.state()
    sent = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED, before)
    for payload, _, _ in sent:
        data = payload["data"]
        assert (data["status"], data["cancel_at_period_end"], data["ended_at"]) == (
            "active",
            True,
            None,
        )
    _, headers, body = sent[-1]
    event = seeded.receiver().parse(headers, body, now=NOW)
    assert event.ends_at == at(before.current_period_end)


def test_a_withdrawn_cancellation_clears_it() -> None:
    for payload, _, _ in seeded.delivered(Change.SUBSCRIPTION_UNCANCELED, seeded.scheduled()):
        data = payload["data"]
        assert (data["cancel_at_period_end"], data["canceled_at"], data["ends_at"]) == (
            False,
            None,
            None,
        )


def test_the_end_of_a_scheduled_cancellation() -> None:
    """Polar's cycle revokes it, keeps ``cancel_at_period_end`` true and, as the cancellation
    was scheduled, sends ``subscription.canceled`` again before ``subscription.revoked``
    (server/polar/subscription/service.py, ``_after_subscription_updated``)."""
    before = seeded.scheduled()
    sent = seeded.delivered(Change.SUBSCRIPTION_CANCELED, before)
    assert [payload["type"] for payload, _, _ in sent] == [
        "subscription.updated",
        "subscription.canceled",
        "subscription.revoked",
    ]
    for payload, _, _ in sent:
        data = payload["data"]
        assert (data["status"], data["cancel_at_period_end"]) == ("canceled", True)
        assert data["ended_at"] is not None
    _, headers, body = sent[-1]
    event = seeded.receiver().parse(headers, body, now=NOW)
    assert (event.type, event.ends_at) == (EventType.SUBSCRIPTION_CANCELED, at(NOW))


def test_an_immediate_end() -> None:
    sent = seeded.delivered(Change.SUBSCRIPTION_CANCELED, seeded.state())
    for payload, _, _ in sent:
        data = payload["data"]
        assert (data["status"], data["cancel_at_period_end"]) == ("canceled", False)
        assert data["ends_at"] == data["ended_at"]
    for _, headers, body in sent[1:]:
        assert seeded.receiver().parse(headers, body, now=NOW).ends_at == at(NOW)


def test_a_plan_change_moves_to_the_next_product() -> None:
    [(payload, _, _)] = seeded.delivered(Change.SUBSCRIPTION_PLAN_CHANGED)
    data = payload["data"]
    assert data["product_id"] == data["product"]["id"] == seeded.hooks.plans[1]
    assert [price["product_id"] for price in data["prices"]] == [seeded.hooks.plans[1]]


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_a_wrong_secret_is_refused_by_both(change: Change) -> None:
    for _, headers, body in seeded.delivered(change, secret=OTHER_SECRET):
        with pytest.raises(PolarWebhookVerificationError):
            validate_event(body, headers, seeded.hooks.secret)
        with pytest.raises(errors.WebhookRejected) as caught:
            seeded.receiver().parse(headers, body, now=NOW)
        assert caught.value.reason is RejectionReason.SIGNATURE_MISMATCH


def test_a_late_delivery_is_refused_by_both() -> None:
    [(_, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_UPDATED, timestamp=NOW - 301)
    with pytest.raises(PolarWebhookVerificationError):
        validate_event(body, headers, seeded.hooks.secret)
    with pytest.raises(errors.WebhookRejected) as caught:
        seeded.receiver().parse(headers, body, now=NOW)
    assert caught.value.reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def test_a_retry_keeps_the_delivery_id_and_signs_anew() -> None:
    [(payload, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_UPDATED)
    retry = seeded.hooks.sign(body, payload, seeded.hooks.secret, NOW + 60, headers["webhook-id"])
    assert retry["webhook-id"] == headers["webhook-id"]
    assert retry["webhook-signature"] != headers["webhook-signature"]
    assert seeded.receiver().parse(retry, body, now=NOW + 60).id == headers["webhook-id"]


def imported_modules(module: types.ModuleType) -> set[str]:
    """The modules ``module`` imports (``from .x import y`` as ``.x``), read from its source."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(Path(str(module.__file__)).read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("module", [polar_sandbox, polar_twin_webhooks], ids=lambda m: m.__name__)
def test_the_twin_imports_nothing_of_the_receiver(module: types.ModuleType) -> None:
    names = imported_modules(module)
    assert "portalkit.sandbox.twin" in names  # the reading works
    forbidden = {"polar_webhooks", "_signatures"}
    assert not [name for name in names if forbidden & set(name.split("."))]
