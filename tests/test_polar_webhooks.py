"""Polar's webhooks, the parts the shared suites cannot express: the Standard Webhooks
signature computed by hand with ``hmac`` and ``base64`` (an independent check of the
declared scheme), the specification's own test vector, Polar's secret handling (its raw
UTF-8 bytes, or a ``whsec_`` base64 secret decoded), the delivery id as the event id, the
five-minute window on both sides, and the conditional reading of ``subscription.canceled``.

The cases are in tests/webhook_events/polar/ (see _webhook_cases.py)."""

from __future__ import annotations

import base64
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
from portalkit.providers.polar_webhooks import SIGNATURE, WEBHOOKS, polar_signing_keys

#: A made-up secret in Polar's form: not base64 (the underscores), so only its own bytes key.
SECRET = "polar_whs_k3Jd9QfX2mLpV7tB0nRyZ4cH8wGs1aEu6oTiYqUb5Nx"
OTHER_SECRET = "polar_whs_Q8vN2cLx5RtY7bK0mJ4hG1sD9fA3eW6uZpT2iO8nMq"
DELIVERY = "msg_2Lk7QbVv0x3Yt9NcGd5FhJ1sWpR"

# Standard Webhooks' test vector (the specification and every reference library's tests):
# a whsec_ secret whose base64 remainder is the key.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def case_payload(name: str) -> dict[str, Any]:
    found = [case for case in cases("polar") if case.name == name]
    assert found, name
    return copy.deepcopy(dict(found[0].payload))


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def by_hand(
    body: bytes, *, delivery: str = DELIVERY, timestamp: int = NOW, key: bytes | None = None
) -> str:
    """One Standard Webhooks signature, as the specification describes it."""
    key = SECRET.encode() if key is None else key
    signed = f"{delivery}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers_for(
    body: bytes, *, delivery: str = DELIVERY, timestamp: int = NOW, signature: str | None = None
) -> dict[str, str]:
    return {
        "webhook-id": delivery,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature
        if signature is not None
        else by_hand(body, delivery=delivery, timestamp=timestamp),
    }


def parse(
    payload: dict[str, Any] | bytes,
    headers: dict[str, str] | None = None,
    *,
    secret: str = SECRET,
    **options: Any,
) -> BillingEvent:
    body = payload if isinstance(payload, bytes) else body_of(payload)
    headers = headers_for(body) if headers is None else headers
    return Webhooks("polar", secret, **options).parse(headers, body, now=NOW)


def refused(
    payload: dict[str, Any] | bytes, headers: dict[str, str] | None = None, **options: Any
) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload, headers, **options)
    return caught.value


# -- the signature ----------------------------------------------------------------------------


def test_the_specifications_vector_verifies() -> None:
    signed = SIGNATURE.verify(
        {
            "webhook-id": SPEC_ID,
            "webhook-timestamp": str(SPEC_TIMESTAMP),
            "webhook-signature": SPEC_SIGNATURE,
        },
        SPEC_BODY,
        [SPEC_SECRET],
        now=SPEC_TIMESTAMP,
        tolerance=None,
        provider="polar",
    )
    assert (signed.timestamp, signed.delivery_id) == (SPEC_TIMESTAMP, SPEC_ID)


def test_a_signature_computed_by_hand_with_the_secrets_own_bytes_is_accepted() -> None:
    payload = case_payload("subscription_canceled_at_period_end")
    event = parse(payload, headers_for(body_of(payload)))
    assert event.id == DELIVERY


def test_portalkits_own_signing_matches_the_hand_computed_one() -> None:
    body = body_of(case_payload("subscription_updated"))
    signed = Webhooks("polar", SECRET).sign(body, timestamp=NOW, delivery_id=DELIVERY)
    assert signed == {
        "webhook-id": DELIVERY,
        "webhook-timestamp": str(NOW),
        "webhook-signature": by_hand(body),
    }


def test_polars_secret_is_not_base64_decoded() -> None:
    """A Polar secret is used as its bytes: a verifier that base64-decodes it (as a generic
    Standard Webhooks library does with any secret) signs with another key."""
    assert polar_signing_keys(SECRET) == (SECRET.encode(),)
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    lenient = base64.b64decode(SECRET + "==")  # non-alphabet characters dropped
    headers = headers_for(body, signature=by_hand(body, key=lenient))
    assert refused(payload, headers).reason is RejectionReason.SIGNATURE_MISMATCH


def test_a_whsec_secret_keys_with_both_its_bytes_and_its_decoded_remainder() -> None:
    decoded = base64.b64decode(SPEC_SECRET.removeprefix("whsec_"))
    assert polar_signing_keys(SPEC_SECRET) == (SPEC_SECRET.encode(), decoded)
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    for key in (SPEC_SECRET.encode(), decoded):
        headers = headers_for(body, signature=by_hand(body, key=key))
        assert parse(payload, headers, secret=SPEC_SECRET).id == DELIVERY


@pytest.mark.parametrize(
    ("secret", "keys"),
    [
        ("abcd", (b"abcd", b"i\xb7\x1d")),  # base64 itself: both
        ("whsec_", (b"whsec_",)),  # nothing after the prefix decodes to nothing
        ("whsec_abc", (b"whsec_abc", b"i\xb7")),  # unpadded: padded, as the SDK does
        ("whsec_abcde", (b"whsec_abcde",)),  # 5 characters cannot be base64
        ("p\u00e4ss", ("p\u00e4ss".encode(),)),  # not ASCII: its UTF-8 bytes only
    ],
)
def test_signing_keys_follow_the_sdk(secret: str, keys: tuple[bytes, ...]) -> None:
    assert polar_signing_keys(secret) == keys


def test_any_v1_signature_may_match_and_others_are_ignored() -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    good = by_hand(body)
    stale = by_hand(body, key=OTHER_SECRET.encode())
    for signature in (
        f"{stale} {good}",
        f"{good} {stale}",
        f"v2,{good[3:]} {good}",
        f"v1,not-base64!! {good}",
        f"  {good}  ",
    ):
        assert parse(payload, headers_for(body, signature=signature)).id == DELIVERY
    for signature in (f"v2,{good[3:]}", good[3:], f"v1a,{good[3:]}", f"V1,{good[3:]}"):
        error = refused(payload, headers_for(body, signature=signature))
        assert error.reason in {
            RejectionReason.SIGNATURE_MISMATCH,
            RejectionReason.MISSING_SIGNATURE,
        }


def test_the_id_and_timestamp_are_signed() -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    signature = by_hand(body)
    for headers in (
        headers_for(body, delivery="msg_2Lk7QbVv0x3Yt9NcGd5FhJ1sWpS", signature=signature),
        headers_for(body, timestamp=NOW - 1, signature=signature),
    ):
        assert refused(payload, headers).reason is RejectionReason.SIGNATURE_MISMATCH


def test_each_header_is_required() -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = {k: v for k, v in headers_for(body).items() if k != name}
        assert refused(payload, headers).reason is RejectionReason.MISSING_SIGNATURE, name


def test_a_timestamp_that_is_not_whole_seconds_is_malformed() -> None:
    """Standard Webhooks sends whole seconds. polar-sdk and standardwebhooks parse the header
    with float() and sign its floor, so they would take "1767225600.5"; portalkit refuses it
    as malformed (documented: no sender emits one)."""
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    headers = {**headers_for(body), "webhook-timestamp": f"{NOW}.5"}
    assert refused(payload, headers).reason is RejectionReason.MALFORMED


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-300, True), (-301, False), (300, True), (301, False), (0, True)],
)
def test_five_minutes_either_way(offset: int, accepted: bool) -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    headers = headers_for(body, timestamp=NOW + offset)
    if accepted:
        assert parse(body, headers).id == DELIVERY
    else:
        assert refused(body, headers).reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def test_a_configured_tolerance_replaces_both_sides() -> None:
    payload = case_payload("subscription_updated")
    body = body_of(payload)
    for offset in (-900, 900):
        assert parse(body, headers_for(body, timestamp=NOW + offset), tolerance=900)
    with pytest.raises(errors.WebhookRejected):
        parse(body, headers_for(body, timestamp=NOW - 60), tolerance=30)


# -- reading ----------------------------------------------------------------------------------


def test_the_event_id_is_the_delivery_id_which_retries_keep() -> None:
    """Polar's body has no id; the webhook-id is the same on every attempt (its timestamp
    and signature are new), so a retry reads as the same event."""
    payload = case_payload("subscription_uncanceled")
    body = body_of(payload)
    first = parse(body, headers_for(body, timestamp=NOW - 120))
    retry = parse(body, headers_for(body, timestamp=NOW))
    assert first.id == retry.id == DELIVERY
    assert first == retry
    other = parse(body, headers_for(body, delivery="msg_2Lm3TfUq8Zb1Wc6NyHd0KsE4vGq"))
    assert other.id != first.id


def test_a_cancellation_at_period_end_ends_at_ends_at() -> None:
    payload = case_payload("subscription_canceled_at_period_end")
    event = parse(payload)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert event.ends_at == datetime(2026, 1, 3, 9, 15, 7, 460813, tzinfo=UTC)


def test_without_ends_at_the_period_end_is_used() -> None:
    payload = case_payload("subscription_canceled_at_period_end")
    payload["data"]["ends_at"] = None
    payload["data"]["current_period_end"] = "2026-02-03T09:15:07.460813Z"
    assert parse(payload).ends_at == datetime(2026, 2, 3, 9, 15, 7, 460813, tzinfo=UTC)
    payload["data"]["current_period_end"] = None
    error = refused(payload)
    assert error.reason is RejectionReason.MALFORMED
    assert "current_period_end" in str(error)


def test_an_immediate_cancellation_has_ended() -> None:
    event = parse(case_payload("subscription_canceled_immediately"))
    assert event.type is EventType.SUBSCRIPTION_CANCELED
    assert event.ends_at == datetime(2025, 12, 20, 13, 5, 44, 276538, tzinfo=UTC)


def test_revoked_is_canceled_and_ended_at_ended_at() -> None:
    event = parse(case_payload("subscription_revoked"))
    assert event.type is EventType.SUBSCRIPTION_CANCELED
    assert event.ends_at == datetime(2026, 1, 3, 9, 15, 12, 7415, tzinfo=UTC)
    payload = case_payload("subscription_revoked")
    payload["data"]["ended_at"] = None
    assert parse(payload).ends_at is None


def test_updated_is_always_an_update_never_a_guessed_plan_change() -> None:
    for name in ("subscription_updated", "subscription_updated_cancel_at_period_end"):
        event = parse(case_payload(name))
        assert event.type is EventType.SUBSCRIPTION_UPDATED
        assert event.ends_at is None
    # Another product: still an update, as Polar's event does not say what changed.
    payload = case_payload("subscription_updated")
    payload["data"]["product_id"] = "0c2e4a6b-8d1f-4e3a-b5c7-9d1e3f5a7b9c"
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED
    assert {row.type for row in WEBHOOKS.events} >= {EventType.SUBSCRIPTION_UPDATED}
    assert EventType.SUBSCRIPTION_PLAN_CHANGED not in {row.type for row in WEBHOOKS.events}


def test_an_unknown_event_keeps_what_it_names() -> None:
    event = parse(case_payload("subscription_migrated_unknown"))
    assert event.type is EventType.UNKNOWN
    assert event.subscription_id == "5d3f1c3e-8b4a-4f7e-9a2c-6e0b7d81f4a3"
    # An order names its subscription in subscription_id (read leniently).
    order = {
        "type": "order.paid",
        "timestamp": "2025-12-03T09:15:11.908341Z",
        "data": {
            "id": "7f2b9d4e-1c3a-4e5f-8a6b-0d2c4e6f8a1b",
            "customer_id": "992fae2a-2a17-4b7a-8d9e-e287cf90131b",
            "subscription_id": "5d3f1c3e-8b4a-4f7e-9a2c-6e0b7d81f4a3",
        },
    }
    event = parse(order)
    assert (event.type, event.customer_id, event.subscription_id) == (
        EventType.UNKNOWN,
        "992fae2a-2a17-4b7a-8d9e-e287cf90131b",
        "5d3f1c3e-8b4a-4f7e-9a2c-6e0b7d81f4a3",
    )
    order["data"] = {"customer_id": 3, "subscription_id": None}
    assert (parse(order).customer_id, parse(order).subscription_id) == (None, None)


def test_occurred_at_is_the_events_timestamp_in_utc() -> None:
    payload = case_payload("subscription_uncanceled")
    payload["timestamp"] = "2025-12-16T09:41:27.640281+01:00"
    event = parse(payload)
    assert event.occurred_at == datetime(2025, 12, 16, 8, 41, 27, 640281, tzinfo=UTC)
    assert event.resource_version is None  # Polar has no version counter


@pytest.mark.parametrize(
    ("name", "change", "field"),
    [
        ("subscription_updated", {"type": 5}, "type"),
        ("subscription_updated", {"type": ""}, "type"),
        ("subscription_updated", {"timestamp": "2025-12-18 10:27"}, "timestamp"),
        ("subscription_updated", {"timestamp": "2025-12-18T10:27:03"}, "timestamp"),
        ("subscription_updated", {"data": "5d3f1c3e-8b4a-4f7e-9a2c-6e0b7d81f4a3"}, "data"),
        ("subscription_updated", {"data.customer_id": None}, "customer_id"),
        (
            "subscription_canceled_at_period_end",
            {"data.cancel_at_period_end": "true"},
            "cancel_at_period_end",
        ),
        ("subscription_canceled_at_period_end", {"data.ends_at": "soon"}, "ends_at"),
        ("subscription_revoked", {"data.ended_at": "2026-01-03"}, "ended_at"),
        ("subscription_uncanceled", {"data.id": ["5d3f1c3e"]}, "id"),
    ],
)
def test_a_malformed_event_names_the_field_never_the_value(
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
        if isinstance(value, str) and len(value) > 4:
            assert value not in str(error)
