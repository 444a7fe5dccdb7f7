"""The Chargebee twin's webhooks: read by portalkit's receiver, and parsed by Chargebee's own
package.

Chargebee signs nothing (HTTP Basic on the webhook URL) and ``chargebee`` has no verifier, so
the official package is the referee of the shape: ``Event.deserialize`` reads each delivery,
and every field the twin sends in the event, the subscription, the customer and the payment
source is one that chargebee-python's models name (with its enums' values).
"""

from __future__ import annotations

import ast
import base64
import dataclasses
from enum import Enum
from pathlib import Path
from typing import Any

import chargebee
import pytest
from _twin_deliveries import NOW, TwinDeliveries, at
from chargebee.models.customer.operations import Customer
from chargebee.models.customer.responses import CustomerResponse, PaymentMethodResponse
from chargebee.models.enums import EventType as ChargebeeEventType
from chargebee.models.enums import Source
from chargebee.models.event.operations import Event
from chargebee.models.event.responses import EventResponse
from chargebee.models.payment_source.operations import PaymentSource
from chargebee.models.payment_source.responses import CardResponse, PaymentSourceResponse
from chargebee.models.subscription.operations import Subscription
from chargebee.models.subscription.responses import (
    SubscriptionItemResponse,
    SubscriptionResponse,
)

from portalkit import EventType, errors
from portalkit.errors import RejectionReason
from portalkit.providers import chargebee_sandbox
from portalkit.providers.chargebee_sandbox import TWIN
from portalkit.sandbox.twin import Change

# The seeded subscription, each change's deliveries and the receiver (tests/_twin_deliveries.py).
seeded = TwinDeliveries(TWIN, scheduled_ago=3600)


# How portalkit reads each change: [(Chargebee's event type, EventType)].
EXPECTED = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: [
        ("subscription_cancellation_scheduled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    ],
    Change.SUBSCRIPTION_UNCANCELED: [
        ("subscription_scheduled_cancellation_removed", EventType.SUBSCRIPTION_UNCANCELED)
    ],
    Change.SUBSCRIPTION_CANCELED: [("subscription_cancelled", EventType.SUBSCRIPTION_CANCELED)],
    # Chargebee's subscription_changed does not say what changed: portalkit reads UPDATED.
    Change.SUBSCRIPTION_PLAN_CHANGED: [("subscription_changed", EventType.SUBSCRIPTION_UPDATED)],
    Change.SUBSCRIPTION_UPDATED: [("subscription_changed", EventType.SUBSCRIPTION_UPDATED)],
    Change.PAYMENT_METHOD_UPDATED: [("payment_source_added", EventType.PAYMENT_METHOD_UPDATED)],
}


def test_the_twin_declares_its_webhooks() -> None:
    assert set(EXPECTED) == seeded.hooks.changes
    user, _, password = seeded.hooks.secret.partition(":")
    assert seeded.hooks.env == {
        "CHARGEBEE_WEBHOOK_USERNAME": user,
        "CHARGEBEE_WEBHOOK_PASSWORD": password,
    }
    assert user
    assert password
    assert ":" not in user
    assert set(seeded.hooks.action_changes) <= {action for action, _ in TWIN.actions}
    assert set(seeded.hooks.action_changes.values()) <= seeded.hooks.changes
    assert (
        seeded.hooks.action_changes["cancel_subscription"] is Change.SUBSCRIPTION_CANCEL_SCHEDULED
    )
    assert seeded.hooks.action_changes["update_subscription"] is Change.SUBSCRIPTION_PLAN_CHANGED
    assert len(seeded.hooks.plans) >= 2
    new = seeded.hooks.payment_method_id(NOW)
    assert new.startswith("pm___test__")
    assert new != seeded.hooks.payment_method_id(NOW)


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_portalkit_reads_each_change(change: Change) -> None:
    before = seeded.before_of(change)
    sent = seeded.delivered(change, before)
    read = [seeded.receiver().parse(headers, body, now=NOW) for _, headers, body in sent]
    assert [(event.vendor_type, event.type) for event in read] == EXPECTED[change]
    for (payload, _, _), event in zip(sent, read, strict=True):
        assert event.id == payload["id"]
        assert event.id.startswith("ev___test__")
        assert event.customer_id == seeded.customer
        assert event.occurred_at == at(NOW)
        assert event.resource_version is not None
        assert event.resource_version > int(before.updated_at) * 1000
        if change is Change.PAYMENT_METHOD_UPDATED:
            assert event.subscription_id is None
        else:
            assert event.subscription_id == seeded.subscription
        if change is Change.SUBSCRIPTION_CANCEL_SCHEDULED:
            assert event.ends_at == at(before.current_period_end)
        elif change is Change.SUBSCRIPTION_CANCELED:
            assert event.ends_at == at(NOW)
        else:
            assert event.ends_at is None


def test_the_subscription_says_what_changed() -> None:
    [(scheduling, _, _)] = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED)
    sub = scheduling["content"]["subscription"]
    assert sub["status"] == "non_renewing"  # Chargebee: will be cancelled at the term's end
    assert sub["cancelled_at"] == sub["current_term_end"] == int(seeded.state().current_period_end)
    assert sub["cancel_schedule_created_at"] == NOW
    assert "next_billing_at" not in sub
    [(removed, _, _)] = seeded.delivered(Change.SUBSCRIPTION_UNCANCELED)
    sub = removed["content"]["subscription"]
    assert sub["status"] == "active"
    assert "cancelled_at" not in sub
    assert sub["next_billing_at"] == sub["current_term_end"]
    [(ended, _, _)] = seeded.delivered(Change.SUBSCRIPTION_CANCELED)
    sub = ended["content"]["subscription"]
    assert (sub["status"], sub["cancelled_at"]) == ("cancelled", NOW)
    [(changed, _, _)] = seeded.delivered(Change.SUBSCRIPTION_PLAN_CHANGED)
    items = changed["content"]["subscription"]["subscription_items"]
    assert [item["item_price_id"] for item in items] == [seeded.hooks.plans[1]]
    [(added, _, _)] = seeded.delivered(Change.PAYMENT_METHOD_UPDATED)
    source = added["content"]["payment_source"]
    assert added["content"]["customer"]["primary_payment_source_id"] == source["id"]
    assert source["id"] != seeded.state().payment_method


def test_resource_versions_grow_at_every_change_even_within_a_second() -> None:
    first = seeded.apply(Change.SUBSCRIPTION_CANCEL_SCHEDULED, seeded.state(), NOW)
    second = seeded.apply(Change.SUBSCRIPTION_UNCANCELED, first, NOW + 0.2)
    versions = [
        seeded.hooks.events(change, before, after, after.updated_at)[0]["content"]["subscription"][
            "resource_version"
        ]
        for change, before, after in (
            (Change.SUBSCRIPTION_CANCEL_SCHEDULED, seeded.state(), first),
            (Change.SUBSCRIPTION_UNCANCELED, first, second),
        )
    ]
    assert versions[0] < versions[1]


def _fields(model: type) -> set[str]:
    # Chargebee sends each resource's "object" name; its models keep it in raw_data only.
    return {field.name for field in dataclasses.fields(model)} | {"object"}


def _values(enum: type[Enum]) -> set[Any]:
    return {member.value for member in enum}


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_chargebee_python_parses_every_delivery(change: Change) -> None:
    client = chargebee.Chargebee(api_key="test_unused", site=chargebee_sandbox.SITE)
    for payload, _, body in seeded.delivered(change):
        event = client.Event.deserialize(body.decode())
        assert isinstance(event, EventResponse)
        assert (event.id, event.event_type) == (payload["id"], payload["event_type"])
        assert set(payload) <= _fields(EventResponse)
        assert event.event_type in _values(ChargebeeEventType)
        assert event.source in _values(Source)
        assert event.webhook_status in _values(Event.WebhookStatus)
        content = event.content
        if "subscription" in content:
            sub = SubscriptionResponse.construct(content["subscription"])
            assert set(content["subscription"]) <= _fields(SubscriptionResponse)
            assert sub.status in _values(Subscription.Status)
            assert sub.id == seeded.subscription
            assert sub.customer_id == seeded.customer
            for item in content["subscription"]["subscription_items"]:
                assert set(item) <= _fields(SubscriptionItemResponse)
        customer = CustomerResponse.construct(content["customer"])
        assert set(content["customer"]) <= _fields(CustomerResponse)
        assert set(content["customer"]["payment_method"]) <= _fields(PaymentMethodResponse)
        assert customer.card_status in _values(Customer.CardStatus)
        assert customer.id == seeded.customer
        if "payment_source" in content:
            source = PaymentSourceResponse.construct(content["payment_source"])
            assert set(content["payment_source"]) <= _fields(PaymentSourceResponse)
            assert set(content["payment_source"]["card"]) <= _fields(CardResponse)
            assert source.status in _values(PaymentSource.Status)
            assert source.card.brand in _values(PaymentSource.CardBrand)
            assert source.customer_id == seeded.customer


def test_the_credentials_are_http_basic() -> None:
    for change in EXPECTED:
        for _, headers, _ in seeded.delivered(change):
            scheme, _, token = headers["Authorization"].partition(" ")
            assert scheme == "Basic"
            assert base64.b64decode(token).decode() == seeded.hooks.secret


@pytest.mark.parametrize("wrong", ["portalkit-sandbox:another-password", "someone:else", "x"])
def test_other_credentials_are_refused(wrong: str) -> None:
    for change in EXPECTED:
        for _, headers, body in seeded.delivered(change, secret=wrong):
            with pytest.raises(errors.WebhookRejected) as caught:
                seeded.receiver().parse(headers, body, now=NOW)
            assert caught.value.reason is RejectionReason.WRONG_CREDENTIALS


def test_a_late_delivery_is_accepted() -> None:
    # Nothing is signed, no timestamp: a delivery days late is the same delivery.
    [(_, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED)
    assert seeded.receiver().parse(headers, body, now=NOW + 3 * 86400)


def test_the_twin_imports_nothing_of_the_receiver() -> None:
    tree = ast.parse(Path(chargebee_sandbox.__file__).read_text())
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not any(name.endswith("_webhooks") or "_signatures" in name for name in imported)
