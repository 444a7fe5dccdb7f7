"""Stripe webhooks, what the shared suites cannot say: the signature computed by hand (an
independent check of the declared scheme against Stripe's docs and stripe-python's test
vector), the conditional mappings of ``customer.subscription.updated`` and
``customer.updated``, the API-version quirks (basil's item-level periods), and ordering."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import stripe as stripe_sdk
from _webhook_cases import NOW, cases

from portalkit import EventType, Webhooks, errors, get_vendor_webhooks
from portalkit.errors import RejectionReason
from portalkit.providers.stripe_webhooks import EVENTS, SIGNATURE, WEBHOOKS

SECRET = "whsec_test_secret"  # stripe-python's tests/test_webhook.py DUMMY_WEBHOOK_SECRET
# stripe-python's tests/test_webhook.py DUMMY_WEBHOOK_PAYLOAD, byte for byte.
SDK_PAYLOAD = """{
  "id": "evt_test_webhook",
  "object": "event",
  "data": { "object": { "id": "rdr_123", "object": "terminal.reader" } }
}"""

CASES = {case.name: case for case in cases("stripe")}


def hooks(**options: Any) -> Webhooks:
    return Webhooks("stripe", secrets=[SECRET], **options)


def by_hand(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """Stripe's docs, "Verify signatures manually": HMAC-SHA256 of "{t}.{body}" with the
    endpoint's secret, hex."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def parse(payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    header = f"t={NOW},v1={by_hand(body, NOW)}"
    return hooks().parse({"Stripe-Signature": header}, body, now=NOW)


def malformed(payload: dict[str, Any]) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload)
    assert caught.value.reason is RejectionReason.MALFORMED
    return caught.value


def payload_of(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(CASES[name].payload))


def at(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


# --- the scheme, by hand --------------------------------------------------------------


def test_the_declared_scheme_is_the_one_registered() -> None:
    assert get_vendor_webhooks("stripe") is WEBHOOKS
    assert WEBHOOKS.signature is SIGNATURE
    assert SIGNATURE.tolerance == 300
    assert SIGNATURE.future_tolerance is None  # stripe-python never looks ahead


def test_a_header_made_by_hand_is_accepted() -> None:
    body = json.dumps(CASES["subscription_updated_cancel_at_period_end"].payload).encode()
    header = f"t={NOW},v1={by_hand(body, NOW)}"
    event = hooks().parse({"stripe-signature": header}, body, now=NOW)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED


def test_stripe_pythons_vector_hand_sdk_and_portalkit_agree() -> None:
    """stripe-python's own test payload and secret at a fixed time: the hand-computed
    signature, the SDK's header and portalkit's ``sign`` are the same bytes."""
    timestamp = 1_767_225_600
    body = SDK_PAYLOAD.encode()
    expected = by_hand(body, timestamp)
    sdk_header = stripe_sdk.WebhookSignature.generate_signature_header(
        SDK_PAYLOAD, SECRET, timestamp
    )
    assert sdk_header == f"t={timestamp},v1={expected}"
    assert hooks().sign(body, timestamp=timestamp) == {"Stripe-Signature": sdk_header}
    # The signature holds; the SDK's dummy event has no type nor created, which portalkit's
    # reader needs: refused as malformed, after verification, not as a mismatch.
    with pytest.raises(errors.WebhookRejected) as caught:
        hooks().parse({"Stripe-Signature": sdk_header}, body, now=timestamp)
    assert caught.value.reason is RejectionReason.MALFORMED
    assert "type" in caught.value.message


def test_the_key_is_the_secrets_text_not_a_decoding_of_it() -> None:
    body = SDK_PAYLOAD.encode()
    signed = str(NOW).encode() + b"." + body
    # Standard Webhooks decodes the part after the prefix as base64; Stripe does not.
    decoded_key = SECRET.removeprefix("whsec_").encode()
    wrong = hmac.new(decoded_key, signed, hashlib.sha256).hexdigest()
    with pytest.raises(errors.WebhookRejected) as caught:
        hooks().parse({"Stripe-Signature": f"t={NOW},v1={wrong}"}, body, now=NOW)
    assert caught.value.reason is RejectionReason.SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    ("template", "accepted"),
    [
        ("t={t},v1={good}", True),
        ("t={t},v1={bad},v1={good}", True),  # Stripe signs with each secret while it rolls
        ("t={t},v1={good},v0={good}", True),
        ("t={t},v0={good}", False),  # v0 is test mode's legacy scheme: ignored
        ("v1={good},t={t}", True),  # order does not matter
        ("t={t}, v1={good}", False),  # " v1" is no key Stripe's parser knows
        ("t={t},v1={upper}", False),  # compared as sent, as stripe-python does
    ],
)
def test_header_forms(template: str, accepted: bool) -> None:
    body = json.dumps(CASES["payment_method_attached"].payload).encode()
    good = by_hand(body, NOW)
    header = template.format(t=NOW, good=good, bad="0" * 64, upper=good.upper())
    if accepted:
        assert hooks().parse({"Stripe-Signature": header}, body, now=NOW)
    else:
        with pytest.raises(errors.WebhookRejected) as caught:
            hooks().parse({"Stripe-Signature": header}, body, now=NOW)
        assert caught.value.reason in {
            RejectionReason.SIGNATURE_MISMATCH,
            RejectionReason.MISSING_SIGNATURE,
        }


def test_a_redelivery_has_the_same_id_and_a_far_future_timestamp_is_accepted() -> None:
    body = json.dumps(CASES["payment_method_attached"].payload).encode()
    first = hooks().parse({"Stripe-Signature": f"t={NOW},v1={by_hand(body, NOW)}"}, body, now=NOW)
    later = NOW + 86_400
    again = hooks().parse(
        {"Stripe-Signature": f"t={later},v1={by_hand(body, later)}"}, body, now=NOW
    )
    assert first.id == again.id == "evt_1MqUQ3LgUG5tbmjcSbyhDqz4"


# --- the table ------------------------------------------------------------------------


def test_every_row_is_a_stripe_event_type_with_its_condition() -> None:
    rows = {(row.vendor_type, row.type) for row in EVENTS}
    assert ("customer.subscription.deleted", EventType.SUBSCRIPTION_CANCELED) in rows
    updated = [row for row in EVENTS if row.vendor_type == "customer.subscription.updated"]
    assert {row.type for row in updated} == {
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        EventType.SUBSCRIPTION_UNCANCELED,
        EventType.SUBSCRIPTION_PLAN_CHANGED,
        EventType.SUBSCRIPTION_UPDATED,
    }
    assert all(row.when for row in updated)


def test_period_end_cancellation_under_basil_without_cancel_at_reads_the_items_period() -> None:
    payload = payload_of("subscription_updated_cancel_at_period_end_basil")
    obj = payload["data"]["object"]
    obj["cancel_at"] = None
    del payload["data"]["previous_attributes"]["cancel_at"]
    later = dict(obj["items"]["data"][0], id="si_Na0zHIgU9lAZjd", current_period_end=1_770_940_800)
    obj["items"]["data"].append(later)
    event = parse(payload)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert event.ends_at == datetime(2026, 2, 13, tzinfo=UTC)  # the latest item's period end


def test_a_period_end_cancellation_with_no_end_anywhere_is_malformed() -> None:
    payload = payload_of("subscription_updated_cancel_at_period_end_basil")
    obj = payload["data"]["object"]
    obj["cancel_at"] = None
    for item in obj["items"]["data"]:
        del item["current_period_end"]
    error = malformed(payload)
    assert "cancel_at" in error.message
    assert "current_period_end" in error.message


def test_cancel_at_a_date_is_scheduled_at_that_date() -> None:
    payload = payload_of("subscription_updated_uncanceled")
    payload["data"]["object"]["cancel_at"] = 1_769_904_000
    payload["data"]["previous_attributes"] = {"cancel_at": None}
    event = parse(payload)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert event.ends_at == datetime(2026, 2, 1, tzinfo=UTC)


def test_a_moved_cancellation_is_scheduled_at_the_new_time() -> None:
    payload = payload_of("subscription_updated_cancel_at_period_end_basil")
    payload["data"]["object"]["cancel_at"] = 1_769_904_000
    payload["data"]["previous_attributes"] = {"cancel_at": 1_768_262_400}
    event = parse(payload)
    assert (event.type, event.ends_at) == (
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        datetime(2026, 2, 1, tzinfo=UTC),
    )


def test_withdrawal_under_newer_versions_clears_cancel_at_too() -> None:
    payload = payload_of("subscription_updated_cancel_at_period_end_basil")
    obj = payload["data"]["object"]
    obj.update(cancel_at=None, cancel_at_period_end=False, canceled_at=None)
    payload["data"]["previous_attributes"] = {
        "cancel_at": 1_768_262_400,
        "cancel_at_period_end": True,
        "canceled_at": 1_767_139_200,
    }
    event = parse(payload)
    assert (event.type, event.ends_at) == (EventType.SUBSCRIPTION_UNCANCELED, None)


def test_a_cancellation_field_unchanged_in_meaning_is_an_update() -> None:
    # canceled_at alone (no cancellation state change) is not in the conditions.
    payload = payload_of("subscription_updated_uncanceled")
    payload["data"]["previous_attributes"] = {"canceled_at": 1_767_052_800}
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_a_quantity_change_lists_items_with_the_same_price_and_is_an_update() -> None:
    payload = payload_of("subscription_updated_plan_changed")
    before = copy.deepcopy(payload["data"]["object"]["items"])
    before["data"][0]["quantity"] = 5
    payload["data"]["previous_attributes"] = {"items": before}
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_an_old_plan_alone_tells_a_plan_change() -> None:
    payload = payload_of("subscription_updated_plan_changed")
    del payload["data"]["previous_attributes"]["items"]
    assert parse(payload).type is EventType.SUBSCRIPTION_PLAN_CHANGED
    payload["data"]["previous_attributes"]["plan"] = payload["data"]["object"]["plan"]
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_previous_items_without_prices_are_not_guessed_a_plan_change() -> None:
    # API versions before 2017-05-25 sent only the changed elements of an array.
    payload = payload_of("subscription_updated_plan_changed")
    payload["data"]["previous_attributes"] = {"items": {"data": [{"quantity": 1}]}}
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_an_update_without_previous_attributes_is_an_update() -> None:
    payload = payload_of("subscription_updated_plan_changed")
    del payload["data"]["previous_attributes"]
    event = parse(payload)
    assert event.type is EventType.SUBSCRIPTION_UPDATED
    assert event.subscription_id == "sub_1MoqxHLgUG5tbmjcG8lOfx2N"


def test_a_cancellation_wins_over_a_listed_item_change() -> None:
    payload = payload_of("subscription_updated_cancel_at_period_end")
    payload["data"]["previous_attributes"]["items"] = copy.deepcopy(
        payload_of("subscription_updated_plan_changed")["data"]["previous_attributes"]["items"]
    )
    assert parse(payload).type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED


def test_customer_updated_with_the_legacy_default_source_is_a_payment_method_change() -> None:
    payload = payload_of("customer_updated_address")
    payload["data"]["previous_attributes"] = {"default_source": None}
    event = parse(payload)
    assert (event.type, event.customer_id) == (
        EventType.PAYMENT_METHOD_UPDATED,
        "cus_NZbFQAsc0ptasX",
    )


def test_customer_updated_with_other_invoice_settings_is_unknown() -> None:
    payload = payload_of("customer_updated_address")
    payload["data"]["previous_attributes"] = {"invoice_settings": {"footer": None}}
    assert parse(payload).type is EventType.UNKNOWN


def test_subscription_deleted_without_ended_at_has_no_ends_at() -> None:
    payload = payload_of("subscription_deleted")
    payload["data"]["object"]["ended_at"] = None
    event = parse(payload)
    assert (event.type, event.ends_at) == (EventType.SUBSCRIPTION_CANCELED, None)


def test_an_unknown_event_keeps_what_ids_it_can_and_never_fails_on_its_object() -> None:
    payload = payload_of("payment_intent_created_outside_table")
    payload["data"]["object"].update(customer={"id": "cus_NZbFQAsc0ptasX", "object": "customer"})
    event = parse(payload)
    assert (event.type, event.customer_id) == (EventType.UNKNOWN, "cus_NZbFQAsc0ptasX")
    payload["data"]["object"].update(customer=7, subscription=["x"])
    event = parse(payload)
    assert (event.type, event.customer_id, event.subscription_id) == (EventType.UNKNOWN, None, None)


# --- malformed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(created="1767139200"), "created"),
        (lambda p: p.update(created=True), "created"),
        (lambda p: p.update(id=""), "id"),
        (lambda p: p.update(type=""), "type"),
        (lambda p: p.pop("type"), "type"),
        (lambda p: p["data"].update(object="sub_1MoqxHLgUG5tbmjcG8lOfx2N"), "object"),
        (lambda p: p["data"]["object"].update(cancel_at_period_end="true"), "cancel_at_period_end"),
        (lambda p: p["data"]["object"].pop("customer"), "customer"),
        (lambda p: p["data"]["object"].update(cancel_at=1.5e9), "cancel_at"),
        (lambda p: p["data"]["previous_attributes"].update(cancel_at_period_end=0), "cancel_at"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_malformed_naming_the_field(
    change: Any, field: str
) -> None:
    payload = payload_of("subscription_updated_cancel_at_period_end")
    change(payload)
    error = malformed(payload)
    assert field in error.message
    assert "1767139200" not in error.message
    assert "sub_1Moqx" not in error.message


def test_a_thin_event_with_a_bad_time_is_malformed() -> None:
    payload = payload_of("thin_event_v2")
    payload["created"] = 1_644_884_865
    assert "created" in malformed(payload).message


# --- ordering ---------------------------------------------------------------------------


def test_order_is_by_created_and_stripe_has_no_resource_version() -> None:
    events = [parse(dict(case.payload)) for case in CASES.values()]
    assert all(event.resource_version is None for event in events)
    scheduled = parse(payload_of("subscription_updated_cancel_at_period_end"))
    withdrawn = parse(payload_of("subscription_updated_uncanceled"))
    assert scheduled.occurred_at < withdrawn.occurred_at
    assert scheduled.occurred_at.isoformat() == at(1_767_139_200)
