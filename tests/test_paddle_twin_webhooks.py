"""The Paddle twin's webhooks, checked by Paddle's official SDK and by portalkit's receiver.

The twin restates Paddle's notifications and ``Paddle-Signature`` from Paddle's docs (its
``# -- webhooks --`` section). The referees nobody here wrote: paddle-python-sdk's
``Verifier().verify(request, Secret(...))`` must accept each delivery (and refuse it signed
with another secret), and its ``NotificationEvent.from_dict`` must read the payload into the
SDK's typed entities (``Subscription``, ``PaymentMethod``), not its ``UndefinedEntity``
fallback. portalkit's receiver must then read each event as the expected ``EventType``.

The SDK reads the clock as ``time()`` imported into its Verifier module; that name is patched
to NOW, so the SDK and portalkit see the same instant.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from _twin_deliveries import NOW, TwinDeliveries, at
from paddle_billing.Entities.Notifications.NotificationEvent import NotificationEvent
from paddle_billing.Notifications import Secret, Verifier
from paddle_billing.Notifications.Entities.PaymentMethod import PaymentMethod
from paddle_billing.Notifications.Entities.Subscription import Subscription

from portalkit import EventType, errors
from portalkit.errors import RejectionReason
from portalkit.providers import paddle_sandbox
from portalkit.providers.paddle_sandbox import TWIN
from portalkit.sandbox.twin import Change

# The seeded subscription, each change's deliveries and the receiver (tests/_twin_deliveries.py).
seeded = TwinDeliveries(TWIN)
OTHER_SECRET = "pdl_ntfset_01hzseed000000000000000009_AnotherNotificationSecretKey9"
# The module, not the class the package re-exports under the same name.
VERIFIER_MODULE = importlib.import_module("paddle_billing.Notifications.Verifier")


@attrs.frozen
class Request:
    """What the SDK's ``Request`` protocol asks for: ``headers.get`` and the raw ``body``."""

    headers: Mapping[str, str]
    body: bytes


@pytest.fixture(autouse=True)
def _sdk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(VERIFIER_MODULE, "time", lambda: float(NOW))


# How portalkit reads each change: [(Paddle's event type, EventType)]. Paddle sends no previous
# values: a withdrawn cancellation and a plan change are plain updates.
EXPECTED = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: [
        ("subscription.updated", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    ],
    Change.SUBSCRIPTION_UNCANCELED: [("subscription.updated", EventType.SUBSCRIPTION_UPDATED)],
    Change.SUBSCRIPTION_CANCELED: [("subscription.canceled", EventType.SUBSCRIPTION_CANCELED)],
    Change.SUBSCRIPTION_PLAN_CHANGED: [("subscription.updated", EventType.SUBSCRIPTION_UPDATED)],
    Change.SUBSCRIPTION_UPDATED: [("subscription.updated", EventType.SUBSCRIPTION_UPDATED)],
    Change.PAYMENT_METHOD_UPDATED: [("payment_method.saved", EventType.PAYMENT_METHOD_UPDATED)],
}


def test_the_twin_declares_its_webhooks() -> None:
    assert set(EXPECTED) == seeded.hooks.changes
    assert seeded.hooks.env == {"PADDLE_WEBHOOK_SECRET": seeded.hooks.secret}
    assert seeded.hooks.secret.startswith("pdl_ntfset_01")
    action_ids = {action for action, _ in TWIN.actions}
    assert set(seeded.hooks.action_changes) <= action_ids
    assert dict(seeded.hooks.action_changes) == {
        "cancel_subscription": Change.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": Change.PAYMENT_METHOD_UPDATED,
    }
    assert len(set(seeded.hooks.plans)) == 2
    assert all(plan.startswith("pri_") and len(plan) == 30 for plan in seeded.hooks.plans)
    assert seeded.hooks.payment_method_id(NOW).startswith("paymtd_")
    assert seeded.hooks.payment_method_id(NOW) != seeded.hooks.payment_method_id(NOW)
    assert seeded.hooks.delivery_id is None  # Paddle sends no delivery id header


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_paddle_sdk_verifies_and_parses_each_delivery(change: Change) -> None:
    for payload, headers, body in seeded.delivered(change):
        assert Verifier().verify(Request(headers, body), Secret(seeded.hooks.secret)) is True
        event = NotificationEvent.from_dict(payload)
        assert event.event_id == payload["event_id"]
        assert event.notification_id == payload["notification_id"]
        assert event.occurred_at == at(NOW)
        expected = (
            PaymentMethod if payload["event_type"].startswith("payment_method.") else Subscription
        )
        assert isinstance(event.data, expected), payload["event_type"]


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_portalkit_reads_each_change(change: Change) -> None:
    sent = seeded.delivered(change)
    read = [seeded.receiver().parse(headers, body, now=NOW) for _, headers, body in sent]
    assert [(event.vendor_type, event.type) for event in read] == EXPECTED[change]
    for (payload, _, _), event in zip(sent, read, strict=True):
        assert event.id == payload["event_id"]
        assert event.id.startswith("evt_")
        assert payload["notification_id"].startswith("ntf_")
        assert event.occurred_at == at(NOW)
        assert event.customer_id == seeded.customer
        is_payment_method = change is Change.PAYMENT_METHOD_UPDATED
        assert event.subscription_id == (None if is_payment_method else seeded.subscription)


def test_a_scheduled_cancellation_ends_at_the_period_end() -> None:
    before = seeded.state()
    [(payload, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED, before)
    change = payload["data"]["scheduled_change"]
    assert change["action"] == "cancel"
    assert change["resume_at"] is None
    assert payload["data"]["status"] == "active"
    assert payload["data"]["next_billed_at"] is None
    event = seeded.receiver().parse(headers, body, now=NOW)
    assert event.ends_at == at(before.current_period_end)


def test_a_withdrawn_cancellation_clears_the_scheduled_change() -> None:
    [(payload, _, _)] = seeded.delivered(Change.SUBSCRIPTION_UNCANCELED, seeded.scheduled())
    assert payload["data"]["scheduled_change"] is None
    assert payload["data"]["next_billed_at"] is not None


@pytest.mark.parametrize(
    "before", [seeded.state, seeded.scheduled], ids=["at once", "at period end"]
)
def test_the_end_is_a_canceled_subscription(before: Any) -> None:
    [(payload, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_CANCELED, before())
    data = payload["data"]
    assert (data["status"], data["scheduled_change"], data["next_billed_at"]) == (
        "canceled",
        None,
        None,
    )
    event = seeded.receiver().parse(headers, body, now=NOW)
    assert event.ends_at == at(NOW)  # canceled_at: when it became canceled


def test_a_plan_change_moves_the_item_to_the_next_price() -> None:
    [(payload, _, _)] = seeded.delivered(Change.SUBSCRIPTION_PLAN_CHANGED)
    assert [item["price"]["id"] for item in payload["data"]["items"]] == [seeded.hooks.plans[1]]


def test_a_saved_payment_method_is_the_new_one() -> None:
    before = seeded.state()
    [(payload, _, _)] = seeded.delivered(Change.PAYMENT_METHOD_UPDATED, before)
    assert payload["data"]["id"].startswith("paymtd_")
    assert payload["data"]["id"] != before.payment_method


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_a_wrong_secret_is_refused_by_both(change: Change) -> None:
    for _, headers, body in seeded.delivered(change, secret=OTHER_SECRET):
        assert Verifier().verify(Request(headers, body), Secret(seeded.hooks.secret)) is False
        with pytest.raises(errors.WebhookRejected) as caught:
            seeded.receiver().parse(headers, body, now=NOW)
        assert caught.value.reason is RejectionReason.SIGNATURE_MISMATCH


def test_a_late_delivery_is_refused_by_both() -> None:
    [(payload, _, body)] = seeded.delivered(Change.SUBSCRIPTION_UPDATED)
    headers = seeded.hooks.sign(body, payload, seeded.hooks.secret, NOW - 60, "unused")
    assert Verifier().verify(Request(headers, body), Secret(seeded.hooks.secret)) is False
    with pytest.raises(errors.WebhookRejected) as caught:
        seeded.receiver().parse(headers, body, now=NOW)
    assert caught.value.reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def imported_modules(source: str) -> set[str]:
    """The modules ``source`` imports (``from .x import y`` as ``.x`` and ``.x.y``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_twin_imports_nothing_of_the_receiver() -> None:
    names = imported_modules(Path(str(paddle_sandbox.__file__)).read_text())
    assert "portalkit.sandbox.twin" in names  # the reading works
    forbidden = {"paddle_webhooks", "_signatures"}
    assert not [name for name in names if forbidden & set(name.split("."))]
