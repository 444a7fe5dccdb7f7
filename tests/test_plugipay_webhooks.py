"""Plugipay webhooks, what the shared suites cannot say. Plugipay documents no webhook scheme
and no payload, so everything here checks portalkit's ASSUMPTION (declared once, in
providers/plugipay_webhooks.py) against itself computed independently: the signature by hand
with ``hmac`` over ``"{timestamp}.{body}"``, the 300-second window on both sides, and the
conditional mapping of ``subscription.cancelled``."""

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
from portalkit.providers.plugipay_webhooks import EVENTS, SIGNATURE, WEBHOOKS

SECRET = "whsec_plugipay_made_up_7f3a"
CASES = {case.name: case for case in cases("plugipay")}


def hooks(**options: Any) -> Webhooks:
    return Webhooks("plugipay", secrets=[SECRET], **options)


def by_hand(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """The assumed scheme: HMAC-SHA256 of "{timestamp}.{raw body}", hex, after "v1="."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def headers(body: bytes, timestamp: int = NOW, signature: str | None = None) -> dict[str, str]:
    return {
        "X-Plugipay-Timestamp": str(timestamp),
        "X-Plugipay-Signature": signature or f"v1={by_hand(body, timestamp)}",
    }


def parse(payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return hooks().parse(headers(body), body, now=NOW)


def refused(headers_: dict[str, str], body: bytes, **options: Any) -> RejectionReason:
    with pytest.raises(errors.WebhookRejected) as caught:
        hooks(**options).parse(headers_, body, now=NOW)
    return caught.value.reason


def malformed(payload: dict[str, Any]) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload)
    assert caught.value.reason is RejectionReason.MALFORMED
    return caught.value


def payload_of(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(CASES[name].payload))


# --- the assumed scheme, by hand ---------------------------------------------------------


def test_the_assumption_is_declared_once_and_registered() -> None:
    assert get_vendor_webhooks("plugipay") is WEBHOOKS
    assert WEBHOOKS.signature is SIGNATURE
    assert (SIGNATURE.header, SIGNATURE.timestamp_header) == (
        "X-Plugipay-Signature",
        "X-Plugipay-Timestamp",  # the headers portalkit assumes for API request signing
    )
    assert (SIGNATURE.tolerance, SIGNATURE.future_tolerance) == (300, 300)


def test_a_signature_made_by_hand_is_accepted_and_is_portalkits() -> None:
    case = CASES["subscription_cancelled_at_period_end"]
    expected = headers(case.body)
    assert hooks().sign(case.body, timestamp=NOW) == expected
    assert hooks().parse(expected, case.body, now=NOW).type is (
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    )


@pytest.mark.parametrize(
    ("signature", "accepted"),
    [
        ("v1={good}", True),
        ("v1={bad},v1={good}", True),  # two secrets while Plugipay rotates
        ("v1={good},v0={bad}", True),
        ("v0={good}", False),
        ("{good}", False),  # the bare hex, without its version
        ("v1={good_over_body_only}", False),  # the timestamp is part of what is signed
        ("v1={upper}", False),
    ],
)
def test_signature_header_forms(signature: str, accepted: bool) -> None:
    case = CASES["payment_method_attached"]
    good = by_hand(case.body, NOW)
    value = signature.format(
        good=good,
        bad=by_hand(case.body, NOW, "another_secret"),
        good_over_body_only=hmac.new(SECRET.encode(), case.body, hashlib.sha256).hexdigest(),
        upper=good.upper(),
    )
    sent = headers(case.body, signature=value)
    if accepted:
        assert hooks().parse(sent, case.body, now=NOW).type is EventType.PAYMENT_METHOD_UPDATED
    else:
        assert refused(sent, case.body) in {
            RejectionReason.SIGNATURE_MISMATCH,
            RejectionReason.MISSING_SIGNATURE,
        }


def test_the_timestamp_header_is_signed() -> None:
    case = CASES["payment_method_attached"]
    sent = headers(case.body, NOW - 10)
    sent["X-Plugipay-Timestamp"] = str(NOW)  # still in the window, not what was signed
    assert refused(sent, case.body) is RejectionReason.SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-300, True), (-301, False), (300, True), (301, False), (0, True)],
)
def test_the_window_is_300_seconds_on_both_sides(offset: int, accepted: bool) -> None:
    case = CASES["invoice_paid_unknown"]
    sent = headers(case.body, NOW + offset)
    if accepted:
        assert hooks().parse(sent, case.body, now=NOW)
    else:
        assert refused(sent, case.body) is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE
        assert hooks(tolerance=301).parse(sent, case.body, now=NOW)  # a wider window


# --- the assumed envelope ------------------------------------------------------------


def test_subscription_cancelled_means_two_things() -> None:
    rows = [row for row in EVENTS if row.vendor_type == "subscription.cancelled"]
    assert {row.type for row in rows} == {
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        EventType.SUBSCRIPTION_CANCELED,
    }
    payload = payload_of("subscription_cancelled_at_period_end")
    scheduled = parse(payload)
    assert scheduled.ends_at is not None
    assert scheduled.ends_at.isoformat() == "2026-01-12T10:42:00+00:00"  # currentPeriodEnd
    payload["data"]["object"]["cancelAtPeriodEnd"] = False
    assert parse(payload).type is EventType.SUBSCRIPTION_CANCELED
    del payload["data"]["object"]["cancelAtPeriodEnd"]
    now = parse(payload)
    assert (now.type, now.ends_at) == (EventType.SUBSCRIPTION_CANCELED, None)


@pytest.mark.parametrize("value", ["true", 1, "false"])
def test_cancel_at_period_end_must_be_a_boolean(value: object) -> None:
    payload = payload_of("subscription_cancelled_at_period_end")
    payload["data"]["object"]["cancelAtPeriodEnd"] = value
    # Named as portalkit's wire class names it (cancel_at_period_end), never its value.
    assert "cancel_at_period_end" in malformed(payload).message


def test_a_cancellation_at_period_end_needs_the_period_end() -> None:
    payload = payload_of("subscription_cancelled_at_period_end")
    del payload["data"]["object"]["currentPeriodEnd"]
    assert "currentPeriodEnd" in malformed(payload).message
    payload["data"]["object"]["currentPeriodEnd"] = "2026-01-12 10:42"  # no offset
    assert "currentPeriodEnd" in malformed(payload).message


def test_fields_are_read_camel_case() -> None:
    """Plugipay's API is camelCase, so its events are assumed to be: a snake_case field is
    not Plugipay's and is not read."""
    payload = payload_of("payment_method_attached")
    obj = payload["data"]["object"]
    obj["customer_id"] = obj.pop("customerId")
    assert parse(payload).customer_id is None
    payload["created_at"] = payload.pop("createdAt")
    assert "created_at" in malformed(payload).message  # createdAt, in portalkit's name


def test_which_id_is_the_subscriptions() -> None:
    assert parse(payload_of("subscription_cancelled_at_once")).subscription_id == (
        "sub_01JGZ8W4N6P8R0T2V4X6Z8B0CD"  # the object is the subscription
    )
    invoice = parse(payload_of("invoice_paid_unknown"))
    assert (invoice.type, invoice.subscription_id) == (
        EventType.UNKNOWN,
        "sub_01JGZ8W4N6P8R0T2V4X6Z8B0CD",  # an invoice's subscriptionId
    )
    assert parse(payload_of("payment_method_attached")).subscription_id is None


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "evt_1", "type": "invoice.paid", "createdAt": "2026-01-01T00:00:00Z"},
        {
            "id": "",
            "type": "invoice.paid",
            "createdAt": "2026-01-01T00:00:00Z",
            "data": {"object": {}},
        },
        {"id": "evt_1", "type": "", "createdAt": "2026-01-01T00:00:00Z", "data": {"object": {}}},
        {"id": "evt_1", "type": "invoice.paid", "createdAt": 1767225600, "data": {"object": {}}},
        {
            "id": "evt_1",
            "type": "invoice.paid",
            "createdAt": "2026-01-01T00:00:00Z",
            "data": {"object": []},
        },
        {
            "id": "evt_1",
            "type": "invoice.paid",
            "createdAt": "2026-01-01T00:00:00Z",
            "data": {"object": "in_1"},
        },
        {
            "id": "evt_1",
            "type": "invoice.paid",
            "createdAt": "2026-01-01T00:00:00Z",
            "data": {"object": {"customerId": "cus_1"}},
        },  # an object without its id
    ],
)
def test_payloads_missing_what_the_reader_needs(payload: dict[str, Any]) -> None:
    malformed(payload)
