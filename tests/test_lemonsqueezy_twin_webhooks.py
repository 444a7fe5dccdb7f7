"""The Lemon Squeezy twin's webhooks, read by portalkit's receiver; and its subscription read,
which renders the same state the webhooks carry.

Lemon Squeezy has no official Python SDK, so the signature is checked against the docs'
scheme computed here by hand (the hex HMAC-SHA256 of the raw body), and the payload against
portalkit's receiver and the subscription object's documented fields.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from _twin_deliveries import NOW, TwinDeliveries, at
from starlette.datastructures import Headers

from portalkit import EventType, errors
from portalkit.errors import RejectionReason
from portalkit.providers import lemonsqueezy_sandbox
from portalkit.providers.lemonsqueezy_sandbox import TWIN, retrieve_subscription
from portalkit.sandbox._store import Store, TwinStore
from portalkit.sandbox.twin import Call, Change

# The seeded subscription, each change's deliveries and the receiver (tests/_twin_deliveries.py).
seeded = TwinDeliveries(TWIN, scheduled_ago=3600)
#: The subscription object's attributes (API reference, "The subscription object").
DOCUMENTED = {
    "store_id",
    "customer_id",
    "order_id",
    "order_item_id",
    "product_id",
    "variant_id",
    "product_name",
    "variant_name",
    "user_name",
    "user_email",
    "status",
    "status_formatted",
    "card_brand",
    "card_last_four",
    "payment_processor",
    "pause",
    "cancelled",
    "trial_ends_at",
    "billing_anchor",
    "first_subscription_item",
    "urls",
    "renews_at",
    "ends_at",
    "created_at",
    "updated_at",
    "test_mode",
}


# How portalkit reads each change: [(Lemon Squeezy's event name, EventType)].
EXPECTED = {
    Change.SUBSCRIPTION_CANCEL_SCHEDULED: [
        ("subscription_cancelled", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    ],
    Change.SUBSCRIPTION_UNCANCELED: [("subscription_resumed", EventType.SUBSCRIPTION_UNCANCELED)],
    Change.SUBSCRIPTION_CANCELED: [("subscription_expired", EventType.SUBSCRIPTION_CANCELED)],
    # Lemon Squeezy has no plan-change or payment-method event: subscription_updated, which
    # says nothing of what changed, so portalkit reads SUBSCRIPTION_UPDATED.
    Change.SUBSCRIPTION_PLAN_CHANGED: [("subscription_updated", EventType.SUBSCRIPTION_UPDATED)],
    Change.PAYMENT_METHOD_UPDATED: [("subscription_updated", EventType.SUBSCRIPTION_UPDATED)],
    Change.SUBSCRIPTION_UPDATED: [("subscription_updated", EventType.SUBSCRIPTION_UPDATED)],
}


def test_the_twin_declares_its_webhooks() -> None:
    assert set(EXPECTED) == seeded.hooks.changes
    assert seeded.hooks.env == {"LEMONSQUEEZY_WEBHOOK_SECRET": seeded.hooks.secret}
    assert 6 <= len(seeded.hooks.secret) <= 40  # "a signing secret of 6 to 40 characters"
    assert set(seeded.hooks.action_changes) <= {action for action, _ in TWIN.actions}
    assert set(seeded.hooks.action_changes.values()) <= seeded.hooks.changes
    assert (
        seeded.hooks.action_changes["cancel_subscription"] is Change.SUBSCRIPTION_CANCEL_SCHEDULED
    )
    assert all(plan.isdigit() for plan in seeded.hooks.plans)  # variant ids
    assert len(set(seeded.hooks.plans)) >= 2
    first, second = seeded.hooks.payment_method_id(NOW), seeded.hooks.payment_method_id(NOW)
    assert first != second
    assert first.isdigit()
    assert len(first) == 4  # a card's last four: all Lemon Squeezy shows of it


@pytest.mark.parametrize("change", sorted(EXPECTED), ids=str)
def test_portalkit_reads_each_change(change: Change) -> None:
    before = seeded.before_of(change)
    sent = seeded.delivered(change, before)
    read = [seeded.receiver().parse(headers, body, now=NOW) for _, headers, body in sent]
    assert [(event.vendor_type, event.type) for event in read] == EXPECTED[change]
    for (payload, headers, _), event in zip(sent, read, strict=True):
        assert headers["X-Event-Name"] == payload["meta"]["event_name"] == event.vendor_type
        assert event.id.startswith("sha256:")  # no event id: the body's digest
        assert event.customer_id == seeded.customer
        assert event.subscription_id == seeded.subscription
        assert event.occurred_at == at(NOW)  # the subscription's updated_at
        if change is Change.SUBSCRIPTION_CANCEL_SCHEDULED:
            assert event.ends_at == at(before.current_period_end)
        elif change is Change.SUBSCRIPTION_CANCELED:
            assert event.ends_at == at(NOW)
        else:
            assert event.ends_at is None


def test_the_subscription_says_what_changed() -> None:
    [(cancelled, _, _)] = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED)
    attributes = cancelled["data"]["attributes"]
    assert (attributes["status"], attributes["cancelled"]) == ("cancelled", True)
    assert attributes["ends_at"] == attributes["renews_at"] == "2026-01-21T00:00:00.000000Z"
    [(resumed, _, _)] = seeded.delivered(Change.SUBSCRIPTION_UNCANCELED)
    attributes = resumed["data"]["attributes"]
    assert (attributes["status"], attributes["cancelled"], attributes["ends_at"]) == (
        "active",
        False,
        None,
    )
    [(expired, _, _)] = seeded.delivered(Change.SUBSCRIPTION_CANCELED)
    attributes = expired["data"]["attributes"]
    assert (attributes["status"], attributes["status_formatted"]) == ("expired", "Expired")
    [(changed, _, _)] = seeded.delivered(Change.SUBSCRIPTION_PLAN_CHANGED)
    assert changed["data"]["attributes"]["variant_id"] == int(seeded.hooks.plans[1])
    assert changed["data"]["attributes"]["variant_name"] != "Monthly"
    [(card, _, _)] = seeded.delivered(Change.PAYMENT_METHOD_UPDATED)
    assert card["data"]["attributes"]["card_last_four"] != seeded.state().payment_method


def test_the_shape_is_lemon_squeezys() -> None:
    for change in EXPECTED:
        for payload, _, _ in seeded.delivered(change):
            assert set(payload) == {"meta", "data"}
            meta = payload["meta"]
            assert set(meta) == {"event_name", "test_mode", "webhook_id"}
            assert meta["test_mode"] is True
            data = payload["data"]
            assert (data["type"], data["id"]) == ("subscriptions", seeded.subscription)
            assert set(data["attributes"]) == DOCUMENTED
            assert isinstance(data["attributes"]["customer_id"], int)  # integers on the wire
            urls = data["attributes"]["urls"]
            assert urls["customer_portal"].startswith("https://portalkit-sandbox.lemonsqueezy.com/")


def test_the_signature_is_the_hex_hmac_of_the_body() -> None:
    for change in EXPECTED:
        for _, headers, body in seeded.delivered(change):
            expected = hmac.new(seeded.hooks.secret.encode(), body, hashlib.sha256).hexdigest()
            assert headers["X-Signature"] == expected


def test_a_wrong_secret_is_refused() -> None:
    for change in EXPECTED:
        for _, headers, body in seeded.delivered(change, secret="another-secret"):
            with pytest.raises(errors.WebhookRejected) as caught:
                seeded.receiver().parse(headers, body, now=NOW)
            assert caught.value.reason is RejectionReason.SIGNATURE_MISMATCH


def test_a_late_delivery_is_the_same_delivery() -> None:
    # No timestamp is signed: days later, the same bytes still verify.
    [(_, headers, body)] = seeded.delivered(Change.SUBSCRIPTION_CANCEL_SCHEDULED)
    assert seeded.receiver().parse(headers, body, now=NOW + 3 * 86400).id == (
        seeded.receiver().parse(headers, body, now=NOW).id
    )


def _read(store: Store, subscription_id: str) -> dict[str, Any]:
    """``GET /v1/subscriptions/{id}`` through the twin's handler, on ``store``."""
    api_key = TWIN.credentials["valid"]["api_key"]
    call = Call(
        vendor="lemonsqueezy",
        request_id="req",
        method="GET",
        path=f"/v1/subscriptions/{subscription_id}",
        route="/v1/subscriptions/{id}",
        path_params={"id": subscription_id},
        query={},
        headers=Headers({"authorization": f"Bearer {api_key}"}),
        body=b"",
        base_url="http://127.0.0.1:9",
        now=store.now(),
        wall_now=store.now(),
        store=TwinStore(store, "lemonsqueezy"),
    )
    reply = retrieve_subscription(call)
    assert reply.status == 200
    return dict(reply.payload["data"]["attributes"])


def test_a_read_of_the_subscription_shows_its_state_after_a_change() -> None:
    store = Store([TWIN], clock=lambda: float(NOW))
    fresh = _read(store, seeded.subscription)
    assert (fresh["status"], fresh["cancelled"], fresh["ends_at"]) == ("active", False, None)
    assert fresh["urls"]["customer_portal"].startswith("http://127.0.0.1:9/lemonsqueezy/")

    before, after = store.apply(
        "lemonsqueezy", seeded.subscription, Change.SUBSCRIPTION_CANCEL_SCHEDULED
    )
    read = _read(store, seeded.subscription)
    assert (read["status"], read["cancelled"]) == ("cancelled", True)
    [event] = seeded.hooks.events(Change.SUBSCRIPTION_CANCEL_SCHEDULED, before, after, NOW)
    sent = event["data"]["attributes"]
    # The read and the webhook render one state; only the links' host differs.
    assert {k: v for k, v in read.items() if k != "urls"} == {
        k: v for k, v in sent.items() if k != "urls"
    }
    assert read["ends_at"] == sent["ends_at"] is not None
    assert read["urls"]["customer_portal"] is not None  # the portal link is still read here

    store.apply("lemonsqueezy", seeded.subscription, Change.SUBSCRIPTION_PLAN_CHANGED)
    assert _read(store, seeded.subscription)["variant_id"] == int(seeded.hooks.plans[1])
    store.apply("lemonsqueezy", seeded.subscription, Change.SUBSCRIPTION_CANCELED)
    assert _read(store, seeded.subscription)["status"] == "expired"
    other = TWIN.customers[seeded.customer][1]
    assert _read(store, other)["status"] == "active"  # each subscription has its own state


def test_the_twin_imports_nothing_of_the_receiver() -> None:
    tree = ast.parse(Path(lemonsqueezy_sandbox.__file__).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not any(name.endswith("_webhooks") or "_signatures" in name for name in imported)
