"""Paddle's webhooks, the parts the shared suites cannot express: the signature computed by
hand with ``hmac`` from Paddle's description (an independent check of the declared scheme),
the SDK's own test vector, the header's strict keys, the 5-second window on both sides, the
conditional reading of ``subscription.updated``, and the fields the reader needs.

The cases are in tests/webhook_events/paddle/ (see _webhook_cases.py)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from _webhook_cases import NOW, cases

from portalkit import BillingEvent, EventType, Webhooks, errors
from portalkit.errors import RejectionReason
from portalkit.providers.paddle_webhooks import SIGNATURE, WEBHOOKS

SECRET = "pdl_ntfset_01hv8x0q7a2b3c4d5e6f7g8h9j_TestOnlyKey0123456789abcdEFGH"
OTHER_SECRET = "pdl_ntfset_01hv8x0q7a2b3c4d5e6f7g8h9j_AnotherTestKey9876543210zyxWV"

# paddle-python-sdk tests/Unit/Notification/test_Verifier.py: the SDK's own vector (its
# Verifier(0) skips the time check; two h1 values, the first a dummy; the last secret is
# the one that signed).
SDK_VECTOR_HEADER = (
    "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"
)
SDK_VECTOR_BODY = b"hello-world"
SDK_VECTOR_SECRET = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"
SDK_VECTOR_WRONG = (
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
)


def case_payload(name: str) -> dict[str, Any]:
    found = [case for case in cases("paddle") if case.name == name]
    assert found, name
    return copy.deepcopy(dict(found[0].payload))


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def by_hand(body: bytes, *, timestamp: int = NOW, secret: str = SECRET, sep: str = ":") -> str:
    """Paddle's signature as its docs describe it, with nothing from portalkit."""
    signed = f"{timestamp}{sep}".encode() + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def parse(
    payload: dict[str, Any] | bytes, header: str | None = None, **options: Any
) -> BillingEvent:
    body = payload if isinstance(payload, bytes) else body_of(payload)
    if header is None:
        header = f"ts={NOW};h1={by_hand(body)}"
    return Webhooks("paddle", SECRET, **options).parse({"Paddle-Signature": header}, body, now=NOW)


def refused(payload: dict[str, Any] | bytes, header: str | None = None) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload, header)
    return caught.value


# -- the signature ----------------------------------------------------------------------------


def test_the_sdks_own_vector_verifies() -> None:
    signed = SIGNATURE.verify(
        {"paddle-signature": SDK_VECTOR_HEADER},
        SDK_VECTOR_BODY,
        [*SDK_VECTOR_WRONG, SDK_VECTOR_SECRET],
        now=1696195954,
        tolerance=None,
        provider="paddle",
    )
    assert signed.timestamp == 1696195954
    with pytest.raises(errors.WebhookRejected) as caught:
        SIGNATURE.verify(
            {"paddle-signature": SDK_VECTOR_HEADER},
            SDK_VECTOR_BODY,
            list(SDK_VECTOR_WRONG),
            now=1696195954,
            tolerance=None,
            provider="paddle",
        )
    assert caught.value.reason is RejectionReason.SIGNATURE_MISMATCH


def test_a_signature_computed_by_hand_is_accepted() -> None:
    payload = case_payload("subscription_updated")
    event = parse(payload, f"ts={NOW};h1={by_hand(body_of(payload))}")
    assert event.id == payload["event_id"]


def test_portalkits_own_signing_matches_the_hand_computed_one() -> None:
    body = body_of(case_payload("subscription_updated"))
    signed = Webhooks("paddle", SECRET).sign(body, timestamp=NOW)
    assert signed == {"Paddle-Signature": f"ts={NOW};h1={by_hand(body)}"}


def test_the_signed_string_joins_with_a_colon_not_a_dot() -> None:
    payload = case_payload("subscription_updated")
    stripe_style = by_hand(body_of(payload), sep=".")
    assert refused(payload, f"ts={NOW};h1={stripe_style}").reason is (
        RejectionReason.SIGNATURE_MISMATCH
    )


def test_the_key_is_the_secret_as_given() -> None:
    payload = case_payload("subscription_updated")
    # A secret trimmed of its prefix, or lower-cased, is another key.
    for other in (SECRET.removeprefix("pdl_ntfset_"), SECRET.lower()):
        header = f"ts={NOW};h1={by_hand(body_of(payload), secret=other)}"
        assert refused(payload, header).reason is RejectionReason.SIGNATURE_MISMATCH


def test_any_h1_may_match_and_order_does_not_matter() -> None:
    payload = case_payload("subscription_updated")
    good = by_hand(body_of(payload))
    bad = by_hand(body_of(payload), secret=OTHER_SECRET)
    for header in (f"ts={NOW};h1={bad};h1={good}", f"h1={good};ts={NOW}"):
        assert parse(payload, header).id == payload["event_id"]


def test_the_hex_is_compared_as_sent() -> None:
    payload = case_payload("subscription_updated")
    upper = by_hand(body_of(payload)).upper()
    assert refused(payload, f"ts={NOW};h1={upper}").reason is RejectionReason.SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    "extra",
    ["h2=abc", "v1=abc", " h1=abc", "=abc", "H1=abc", "h1=a=b"],
    ids=[
        "another-algorithm",
        "stripe-key",
        "spaced-key",
        "empty-key",
        "upper-case-key",
        "two-equals",
    ],
)
def test_a_key_other_than_ts_and_h1_is_malformed(extra: str) -> None:
    """paddle_billing's ``PaddleSignature.parse`` raises "Unrecognized Paddle-Signature key"
    for any other key, and cannot unpack an item with two ``=``, even beside a valid
    signature: so does portalkit."""
    payload = case_payload("subscription_updated")
    header = f"ts={NOW};h1={by_hand(body_of(payload))};{extra}"
    assert refused(payload, header).reason is RejectionReason.MALFORMED


def test_an_item_without_an_equals_sign_is_skipped_as_the_sdk_does() -> None:
    payload = case_payload("subscription_updated")
    header = f"ts={NOW};junk;h1={by_hand(body_of(payload))};"
    assert parse(payload, header).id == payload["event_id"]


def test_a_header_without_a_signature_or_timestamp_is_refused() -> None:
    payload = case_payload("subscription_updated")
    assert refused(payload, f"ts={NOW}").reason is RejectionReason.MISSING_SIGNATURE
    assert refused(payload, f"h1={by_hand(body_of(payload))}").reason is (
        RejectionReason.MISSING_SIGNATURE
    )
    assert refused(payload, f"ts=soon;h1={by_hand(body_of(payload))}").reason is (
        RejectionReason.MALFORMED
    )


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-5, True), (-6, False), (5, True), (6, False), (0, True)],
)
def test_five_seconds_either_way(offset: int, accepted: bool) -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    header = f"ts={NOW + offset};h1={by_hand(body, timestamp=NOW + offset)}"
    if accepted:
        assert parse(body, header).id == payload["event_id"]
    else:
        assert refused(body, header).reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def test_a_configured_tolerance_widens_both_sides() -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    for offset in (-30, 30):
        header = f"ts={NOW + offset};h1={by_hand(body, timestamp=NOW + offset)}"
        assert parse(body, header, tolerance=30).id == payload["event_id"]
    late = f"ts={NOW - 31};h1={by_hand(body, timestamp=NOW - 31)}"
    with pytest.raises(errors.WebhookRejected):
        parse(body, late, tolerance=30)


def test_a_forged_signature_is_a_mismatch_whatever_its_timestamp() -> None:
    payload = case_payload("subscription_updated")
    forged = f"ts={NOW - 3600};h1={by_hand(body_of(payload), secret=OTHER_SECRET)}"
    assert refused(payload, forged).reason is RejectionReason.SIGNATURE_MISMATCH


# -- reading ----------------------------------------------------------------------------------


def test_a_scheduled_cancellation_ends_at_its_effective_at() -> None:
    payload = case_payload("subscription_updated_cancel_scheduled")
    event = parse(payload)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert event.ends_at == datetime(2024, 5, 12, 10, 37, 59, 556997, tzinfo=UTC)
    assert event.ends_at == datetime.fromisoformat(
        payload["data"]["scheduled_change"]["effective_at"]
    )


def test_a_withdrawn_cancellation_is_an_update_never_guessed() -> None:
    """Withdrawing sets scheduled_change back to null: the same notification as any other
    update, with no previous values to tell it by."""
    scheduled = case_payload("subscription_updated_cancel_scheduled")
    withdrawn = copy.deepcopy(scheduled)
    withdrawn["event_id"] = "evt_01hv8y9r2t4v6x8z0b2d4f6h8k"
    withdrawn["data"]["scheduled_change"] = None
    withdrawn["data"]["next_billed_at"] = withdrawn["data"]["current_billing_period"]["ends_at"]
    event = parse(withdrawn)
    assert event.type is EventType.SUBSCRIPTION_UPDATED
    assert event.ends_at is None
    assert parse(case_payload("subscription_updated")).type is EventType.SUBSCRIPTION_UPDATED


@pytest.mark.parametrize("action", ["pause", "resume"])
def test_other_scheduled_changes_are_updates(action: str) -> None:
    payload = case_payload("subscription_updated_cancel_scheduled")
    payload["data"]["scheduled_change"]["action"] = action
    event = parse(payload)
    assert event.type is EventType.SUBSCRIPTION_UPDATED
    assert event.ends_at is None


def test_the_last_update_of_an_ended_subscription_is_an_update() -> None:
    """Paddle sends subscription.updated (status canceled) beside subscription.canceled when
    a cancellation takes effect: the latter is the one that means it ended."""
    payload = case_payload("subscription_canceled")
    payload["event_type"] = "subscription.updated"
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_a_canceled_subscription_ended_at_canceled_at() -> None:
    event = parse(case_payload("subscription_canceled"))
    assert event.type is EventType.SUBSCRIPTION_CANCELED
    assert event.ends_at == datetime(2024, 4, 12, 11, 24, 54, 868000, tzinfo=UTC)
    payload = case_payload("subscription_canceled")
    payload["data"]["canceled_at"] = None
    assert parse(payload).ends_at is None


def test_the_id_is_the_event_id_not_the_notification_id() -> None:
    """A replayed notification has a new notification_id and the same event: one id."""
    first = case_payload("subscription_updated")
    replay = copy.deepcopy(first)
    replay["notification_id"] = "ntf_01hv9a0b1c2d3e4f5g6h7j8k9m"
    assert parse(first).id == parse(replay).id == first["event_id"]


def test_occurred_at_is_utc_whatever_the_offset() -> None:
    payload = case_payload("subscription_updated")
    payload["occurred_at"] = "2024-04-12T12:49:39.038915+02:00"
    event = parse(payload)
    assert event.occurred_at == datetime(2024, 4, 12, 10, 49, 39, 38915, tzinfo=UTC)
    assert event.occurred_at.utcoffset() is not None


def test_events_order_by_occurred_at() -> None:
    scheduled = parse(case_payload("subscription_updated_cancel_scheduled"))
    canceled = parse(case_payload("subscription_canceled"))
    update = parse(case_payload("subscription_updated"))
    assert sorted([canceled, scheduled, update], key=lambda e: e.occurred_at) == [
        update,
        scheduled,
        canceled,
    ]
    assert scheduled.resource_version is None  # Paddle has no version counter


def test_an_unknown_event_keeps_what_it_names() -> None:
    payload = case_payload("transaction_completed_unknown")
    event = parse(payload)
    assert event.type is EventType.UNKNOWN
    assert (event.customer_id, event.subscription_id) == (
        "ctm_01hv6y1jedq4p1n0yqn5ba3ky4",
        "sub_01hv8x29kz0t586xy6zn1a62ny",
    )
    # Read leniently: an unknown event whose data holds other shapes is still kept.
    payload["data"]["customer_id"] = 42
    payload["data"]["subscription_id"] = {"id": "sub_x"}
    event = parse(payload)
    assert event.type is EventType.UNKNOWN
    assert (event.customer_id, event.subscription_id) == (None, None)


def test_another_subscription_event_is_unknown_with_its_ids() -> None:
    payload = case_payload("subscription_updated")
    payload["event_type"] = "subscription.activated"
    event = parse(payload)
    assert event.type is EventType.UNKNOWN
    assert event.subscription_id == "sub_01hv8x29kz0t586xy6zn1a62ny"
    assert WEBHOOKS.mapping_for("subscription.activated") == ()


def test_a_payment_method_event_names_the_customer_only() -> None:
    for name in ("payment_method_saved", "payment_method_deleted"):
        event = parse(case_payload(name))
        assert event.type is EventType.PAYMENT_METHOD_UPDATED
        assert event.customer_id == "ctm_01hv6y1jedq4p1n0yqn5ba3ky4"
        assert event.subscription_id is None


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("subscription_updated", {"event_id": 7}, "event_id"),
        ("subscription_updated", {"event_id": ""}, "event_id"),
        ("subscription_updated", {"event_type": None}, "event_type"),
        ("subscription_updated", {"occurred_at": "2024-04-12 10:49"}, "occurred_at"),
        ("subscription_updated", {"occurred_at": "2024-04-12T10:49:39"}, "occurred_at"),
        ("subscription_updated", {"data": ["sub_01hv8x29kz0t586xy6zn1a62ny"]}, "data"),
        ("subscription_updated", {"data.customer_id": None}, "customer_id"),
        ("subscription_updated", {"data.id": 12}, "id"),
        ("subscription_canceled", {"data.canceled_at": "yesterday"}, "canceled_at"),
        (
            "subscription_updated_cancel_scheduled",
            {"data.scheduled_change": {"action": "cancel", "effective_at": "next month"}},
            "scheduled_change.effective_at",
        ),
        (
            "subscription_updated_cancel_scheduled",
            {"data.scheduled_change": {"action": "cancel"}},
            "effective_at",
        ),
        (
            "payment_method_saved",
            {"data.customer_id": ["ctm_01hv6y1jedq4p1n0yqn5ba3ky4"]},
            "customer_id",
        ),
    ],
)
def test_a_malformed_notification_names_the_field_never_the_value(
    name: str, change: dict[str, Any], field: str
) -> None:
    payload = case_payload(name)
    for path, value in change.items():
        target = payload
        *parents, key = path.split(".")
        for parent in parents:
            target = target[parent]
        target[key] = value
    error = refused(payload)
    assert error.reason is RejectionReason.MALFORMED
    assert field in str(error)
    for value in change.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in str(error)
