"""Paylera webhooks, what the shared suites cannot say. Paylera documents no scheme and no
payload (its customer-portal page lists the events only): the scheme and the envelope are
portalkit's declared assumption (providers/paylera_webhooks.py), and these tests pin that
declaration by computing signatures by hand, and pin the conditional mappings and the
assumed shapes' edges. There is no Paylera SDK to compare with."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from _webhook_cases import NOW, cases

from portalkit import EventType, Webhooks, errors, get_vendor_webhooks
from portalkit.errors import RejectionReason
from portalkit.providers.paylera_webhooks import EVENTS, SIGNATURE, WEBHOOKS

SECRET = "plwhsec_7Kq2Vn9Xz4Lb1Rt8"  # made up
CASES = {case.name: case for case in cases("paylera")}


def hooks(**options: Any) -> Webhooks:
    return Webhooks("paylera", secrets=[SECRET], **options)


def by_hand(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """The assumed scheme, written out: HMAC-SHA256 of "{t}.{body}" keyed with the secret's
    UTF-8 bytes, hex."""
    return hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()


def parse(payload: dict[str, Any], *, timestamp: int = NOW, now: int = NOW) -> Any:
    body = json.dumps(payload).encode()
    header = f"t={timestamp},v1={by_hand(body, timestamp)}"
    return hooks().parse({"Paylera-Signature": header}, body, now=now)


def refused(payload: dict[str, Any], **options: int) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload, **options)
    return caught.value


def payload_of(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(CASES[name].payload))


# --- the assumed scheme, declared once --------------------------------------------------


def test_the_scheme_is_declared_once_and_registered() -> None:
    assert get_vendor_webhooks("paylera") is WEBHOOKS
    assert WEBHOOKS.signature is SIGNATURE
    assert (SIGNATURE.header, SIGNATURE.signed, SIGNATURE.encoding) == (
        "Paylera-Signature",
        "{timestamp}.{body}",
        "hex",
    )
    assert (SIGNATURE.tolerance, SIGNATURE.future_tolerance) == (300, 300)


def test_a_header_made_by_hand_is_accepted_and_matches_sign() -> None:
    body = json.dumps(CASES["subscription_canceled_at_period_end"].payload).encode()
    header = f"t={NOW},v1={by_hand(body, NOW)}"
    assert hooks().sign(body, timestamp=NOW) == {"Paylera-Signature": header}
    event = hooks().parse({"paylera-signature": header}, body, now=NOW)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED


def test_any_v1_may_match_and_other_keys_are_ignored() -> None:
    body = json.dumps(CASES["subscription_reactivated"].payload).encode()
    good = by_hand(body, NOW)
    header = f"t={NOW},v1={'0' * 64},v0={good},v1={good}"
    assert hooks().parse({"Paylera-Signature": header}, body, now=NOW)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-300, True), (-301, False), (300, True), (301, False)],
)
def test_the_timestamp_is_bounded_both_ways(offset: int, accepted: bool) -> None:
    payload = payload_of("subscription_reactivated")
    if accepted:
        assert parse(payload, timestamp=NOW + offset)
    else:
        error = refused(payload, timestamp=NOW + offset)
        assert error.reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def test_a_wider_tolerance_widens_both_sides() -> None:
    body = json.dumps(CASES["subscription_reactivated"].payload).encode()
    wide = hooks(tolerance=3600)
    for timestamp in (NOW - 3600, NOW + 3600):
        header = {"Paylera-Signature": f"t={timestamp},v1={by_hand(body, timestamp)}"}
        assert wide.parse(header, body, now=NOW)


def test_a_stripe_header_is_not_a_paylera_one() -> None:
    body = json.dumps(CASES["subscription_reactivated"].payload).encode()
    header = {"Stripe-Signature": f"t={NOW},v1={by_hand(body, NOW)}"}
    with pytest.raises(errors.WebhookRejected) as caught:
        hooks().parse(header, body, now=NOW)
    assert caught.value.reason is RejectionReason.MISSING_SIGNATURE


# --- the table and the assumed shapes ------------------------------------------------------


def test_the_table_names_the_pages_events_only() -> None:
    listed = {
        "subscription.updated",
        "subscription.canceled",
        "subscription.reactivated",
        "customer.payment_method_attached",
        "customer.payment_method_detached",
        "customer.updated",
        "portal.session.completed",
    }
    assert {row.vendor_type for row in EVENTS} == listed


def test_every_case_says_it_is_an_assumption() -> None:
    for case in CASES.values():
        assert "assumption" in case.source
        assert "not a Paylera example" in case.source


def test_a_cancellation_prefers_cancel_at_to_the_period_end() -> None:
    payload = payload_of("subscription_canceled_at_period_end")
    payload["data"]["object"]["cancel_at"] = 1_769_904_000
    event = parse(payload)
    assert (event.type, event.ends_at) == (
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        datetime(2026, 2, 1, tzinfo=UTC),
    )


def test_a_period_end_cancellation_without_an_end_is_malformed() -> None:
    payload = payload_of("subscription_canceled_at_period_end")
    payload["data"]["object"]["current_period_end"] = None
    error = refused(payload)
    assert error.reason is RejectionReason.MALFORMED
    assert "current_period_end" in error.message


def test_a_cancellation_that_does_not_say_period_end_is_canceled() -> None:
    payload = payload_of("subscription_canceled_at_period_end")
    del payload["data"]["object"]["cancel_at_period_end"]
    payload["data"]["object"]["canceled_at"] = None
    event = parse(payload)
    # No end time given: ended, when unknown (never invented from the period).
    assert (event.type, event.ends_at) == (EventType.SUBSCRIPTION_CANCELED, None)


def test_times_may_be_iso_8601_as_paylera_writes_expires_at() -> None:
    payload = payload_of("subscription_canceled_at_period_end")
    payload["created"] = "2025-12-31T01:00:00+01:00"
    payload["data"]["object"]["current_period_end"] = "2026-01-13T00:00:00Z"
    event = parse(payload)
    assert event.occurred_at == datetime(2025, 12, 31, tzinfo=UTC)
    assert event.ends_at == datetime(2026, 1, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.update(created=True), "created"),
        (lambda p: p.update(created="yesterday"), "created"),
        (lambda p: p.update(created="2025-12-31T00:00:00"), "created"),  # no offset
        (lambda p: p.update(id=""), "id"),
        (lambda p: p.pop("type"), "type"),
        (lambda p: p["data"]["object"].update(cancel_at_period_end="true"), "cancel_at_period_end"),
        (lambda p: p["data"]["object"].update(current_period_end=[1]), "current_period_end"),
        (lambda p: p["data"]["object"].pop("id"), "id"),
    ],
)
def test_a_payload_of_the_wrong_shape_is_malformed_naming_the_field(
    change: Any, field: str
) -> None:
    payload = payload_of("subscription_canceled_at_period_end")
    change(payload)
    error = refused(payload)
    assert error.reason is RejectionReason.MALFORMED
    assert field in error.message
    assert "sub_7Hc2" not in error.message
    assert "cus_4f9K" not in error.message


def test_a_plan_change_is_told_only_by_a_different_previous_plan() -> None:
    payload = payload_of("subscription_updated_plan_changed")
    assert parse(payload).type is EventType.SUBSCRIPTION_PLAN_CHANGED
    payload["data"]["previous_attributes"]["plan"] = "plan_pro_monthly"  # an id alone
    assert parse(payload).type is EventType.SUBSCRIPTION_PLAN_CHANGED
    payload["data"]["previous_attributes"]["plan"] = payload["data"]["object"]["plan"]
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED
    del payload["data"]["previous_attributes"]
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_a_previous_plan_of_the_wrong_shape_is_malformed() -> None:
    payload = payload_of("subscription_updated_plan_changed")
    payload["data"]["previous_attributes"]["plan"] = {"name": "Pro"}
    error = refused(payload)
    assert error.reason is RejectionReason.MALFORMED
    assert "previous_attributes.plan" in error.message


def test_the_customer_may_be_named_customer_too() -> None:
    payload = payload_of("subscription_reactivated")
    obj = payload["data"]["object"]
    obj["customer"] = obj.pop("customer_id")
    assert parse(payload).customer_id == "cus_4f9Kq2LmZ8"


def test_customer_updated_is_unknown_whatever_changed() -> None:
    # The page says address or tax id; a default payment method is not guessed from it.
    payload = payload_of("customer_updated_address")
    payload["data"]["previous_attributes"] = {"invoice_settings": {"default_payment_method": None}}
    event = parse(payload)
    assert (event.type, event.customer_id) == (EventType.UNKNOWN, "cus_4f9Kq2LmZ8")


def test_the_portal_summary_is_kept_in_raw() -> None:
    event = parse(payload_of("portal_session_completed"))
    assert event.type is EventType.PORTAL_SESSION_COMPLETED
    actions = event.raw["data"]["object"]["actions"]
    assert [action["type"] for action in actions] == [
        "customer.payment_method_attached",
        "subscription.canceled",
    ]


def test_order_by_occurred_at_no_resource_version_and_a_stable_id() -> None:
    payload = payload_of("subscription_updated_quantity")
    first = parse(payload)
    again = parse(payload, timestamp=NOW - 60)  # a redelivery: new signature, same event
    assert first.id == again.id == "evt_3QnBGvKx2Wd9Lq2m"
    assert first.resource_version is None
    canceled = parse(payload_of("subscription_canceled_at_period_end"))
    reactivated = parse(payload_of("subscription_reactivated"))
    assert canceled.occurred_at < reactivated.occurred_at
