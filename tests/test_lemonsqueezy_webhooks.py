"""Lemon Squeezy webhooks, what the shared suites cannot say: the signature computed by hand
with ``hmac`` (an independent check of the declared scheme against Lemon Squeezy's "Signing
requests" page, which publishes code but no test vector), the event name read from the signed
body and never from the ``X-Event-Name`` header, the digest as the event id, the resource's
``updated_at`` as the event time, and the integer ids read as the adapter's digit strings."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from _webhook_cases import NOW, cases

from portalkit import EventType, Webhooks, errors, get_vendor_webhooks
from portalkit.errors import RejectionReason
from portalkit.providers.lemonsqueezy import NUMERIC_ID
from portalkit.providers.lemonsqueezy_webhooks import EVENTS, SIGNATURE, WEBHOOKS

SECRET = "ls_signing_secret_0123"  # a made-up secret within Lemon Squeezy's 6 to 40 characters
CASES = {case.name: case for case in cases("lemonsqueezy")}


def hooks() -> Webhooks:
    return Webhooks("lemonsqueezy", secrets=[SECRET])


def by_hand(body: bytes, secret: str = SECRET) -> str:
    """Lemon Squeezy's "Signing requests": an HMAC hex digest of the raw body, keyed with the
    signing secret (its Node example: createHmac("sha256", secret).update(body).digest("hex"))."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def parse(payload: dict[str, Any], **headers: str) -> Any:
    body = body_of(payload)
    return hooks().parse({"X-Signature": by_hand(body), **headers}, body, now=NOW)


def malformed(payload: dict[str, Any]) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload)
    assert caught.value.reason is RejectionReason.MALFORMED
    return caught.value


def payload_of(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(CASES[name].payload))


# --- the scheme, by hand --------------------------------------------------------------


def test_the_declared_scheme_is_the_one_registered() -> None:
    assert get_vendor_webhooks("lemonsqueezy") is WEBHOOKS
    assert WEBHOOKS.signature is SIGNATURE
    assert SIGNATURE.signs_body
    assert not SIGNATURE.has_timestamp  # nothing but the body is signed: no replay window


def test_a_signature_made_by_hand_is_accepted_and_is_portalkits() -> None:
    case = CASES["subscription_cancelled"]
    expected = by_hand(case.body)
    assert hooks().sign(case.body, timestamp=NOW) == {"X-Signature": expected}
    event = hooks().parse(
        {"X-Event-Name": "subscription_cancelled", "X-Signature": expected}, case.body, now=NOW
    )
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (lambda body: by_hand(body).upper(), RejectionReason.SIGNATURE_MISMATCH),  # as text
        (lambda body: by_hand(body, "another_secret"), RejectionReason.SIGNATURE_MISMATCH),
        (lambda body: by_hand(body + b"\n"), RejectionReason.SIGNATURE_MISMATCH),
        (lambda body: "sha256=" + by_hand(body), RejectionReason.SIGNATURE_MISMATCH),
        (lambda body: "", RejectionReason.MISSING_SIGNATURE),
    ],
)
def test_signatures_lemon_squeezy_would_not_send_are_refused(
    signature: Any, reason: RejectionReason
) -> None:
    case = CASES["subscription_updated"]
    with pytest.raises(errors.WebhookRejected) as caught:
        hooks().parse({"X-Signature": signature(case.body)}, case.body, now=NOW)
    assert caught.value.reason is reason


def test_a_replay_verifies_at_any_time_and_keeps_its_id() -> None:
    """No timestamp is signed: a captured delivery verifies a year later. The app's defence
    is the id, which a redelivery repeats."""
    case = CASES["subscription_expired"]
    headers = {"X-Signature": by_hand(case.body)}
    first = hooks().parse(headers, case.body, now=NOW)
    later = hooks().parse(headers, case.body, now=NOW + 365 * 86_400)
    assert later.id == first.id


# --- the event ------------------------------------------------------------------------


def test_the_event_name_is_read_from_the_signed_body_not_the_header() -> None:
    payload = payload_of("subscription_cancelled")
    lying = parse(payload, **{"X-Event-Name": "subscription_expired"})
    assert (lying.vendor_type, lying.type) == (
        "subscription_cancelled",
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
    )
    assert parse(payload).type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED  # no header at all


def test_the_id_is_the_digest_of_the_body() -> None:
    payload = payload_of("subscription_updated")
    payload["meta"]["webhook_id"] = "0b7a1f38-5bbd-4c4a-9d62-1c1e4c3a8b10"  # the webhook's
    body = body_of(payload)
    event = parse(payload)
    assert event.id == "sha256:" + hashlib.sha256(body).hexdigest()
    payload["data"]["attributes"]["updated_at"] = "2021-08-11T13:54:20.000000Z"
    assert parse(payload).id != event.id  # another change, another event


def test_occurred_at_is_the_resources_last_change() -> None:
    payload = payload_of("subscription_resumed")
    payload["data"]["attributes"]["updated_at"] = "2022-10-30T18:02:44.000000+02:00"
    assert parse(payload).occurred_at.isoformat() == "2022-10-30T16:02:44+00:00"
    payload["data"]["attributes"]["updated_at"] = "2022-10-30T16:02:44"  # no offset
    assert "updated_at" in malformed(payload).message
    del payload["data"]["attributes"]["updated_at"]
    assert "updated_at" in malformed(payload).message


def test_customer_ids_are_the_adapters_digit_strings() -> None:
    event = parse(payload_of("subscription_updated"))
    assert event.customer_id == "1"
    assert NUMERIC_ID.fullmatch(event.customer_id)  # what LemonSqueezy(...) takes back
    for wrong in ("1", True, 1.5):
        payload = payload_of("subscription_updated")
        payload["data"]["attributes"]["customer_id"] = wrong
        assert "customer_id" in malformed(payload).message


@pytest.mark.parametrize(
    ("data_type", "attributes", "expected"),
    [
        ("subscriptions", {}, "7"),
        ("subscription-invoices", {"subscription_id": 9}, "9"),
        ("orders", {"subscription_id": 9}, None),  # not a field of an order: not read
        ("license-keys", {}, None),
    ],
)
def test_which_id_is_the_subscriptions(
    data_type: str, attributes: dict[str, Any], expected: str | None
) -> None:
    payload = payload_of("subscription_payment_success_unknown")
    payload["meta"]["event_name"] = "order_created" if data_type == "orders" else "x_event"
    payload["data"] = {
        "type": data_type,
        "id": "7",
        "attributes": {"customer_id": 3, "updated_at": "2023-01-18T12:16:24.000000Z", **attributes},
    }
    event = parse(payload)
    assert event.type is EventType.UNKNOWN
    assert (event.subscription_id, event.customer_id) == (expected, "3")


def test_a_cancellation_without_its_end_is_malformed() -> None:
    payload = payload_of("subscription_cancelled")
    payload["data"]["attributes"]["ends_at"] = None
    assert "ends_at" in malformed(payload).message
    payload["data"]["attributes"]["ends_at"] = "soon"
    assert "ends_at" in malformed(payload).message


def test_an_ended_subscription_says_when() -> None:
    event = parse(payload_of("subscription_expired"))
    assert event.type is EventType.SUBSCRIPTION_CANCELED
    assert event.ends_at is not None
    assert event.ends_at.isoformat() == "2022-11-12T00:00:00+00:00"


def test_an_update_says_nothing_more_than_updated() -> None:
    """subscription_updated is the catch-all: a plan change, a new card and a renewal date all
    arrive as it, with no previous values. It maps to SUBSCRIPTION_UPDATED whatever changed."""
    assert {row.vendor_type: row.type for row in EVENTS}["subscription_updated"] is (
        EventType.SUBSCRIPTION_UPDATED
    )
    payload = payload_of("subscription_updated")
    payload["data"]["attributes"]["variant_id"] = 2  # another plan
    payload["data"]["attributes"]["card_last_four"] = "0005"  # another card
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


@pytest.mark.parametrize(
    "payload",
    [
        {
            "meta": {"event_name": ""},
            "data": {
                "type": "subscriptions",
                "id": "1",
                "attributes": {"updated_at": "2022-01-01T00:00:00Z"},
            },
        },
        {"meta": {"event_name": "subscription_updated"}},
        {"meta": {"event_name": 5}, "data": {}},
        {"meta": {}, "data": {"type": "subscriptions", "id": 1, "attributes": {}}},
    ],
)
def test_payloads_missing_what_the_reader_needs(payload: dict[str, Any]) -> None:
    malformed(payload)
