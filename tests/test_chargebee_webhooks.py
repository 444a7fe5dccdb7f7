"""Chargebee webhooks, what the shared suites cannot say: the Basic header made by hand (the
scheme Chargebee's webhook settings describe, and its Node SDK's ``basicAuthValidator``
checks), that a changed body is ACCEPTED because nothing is signed (and the docs say so), the
fields read as chargebee-python's own models read them, ``resource_version`` for ordering,
and the end of a scheduled cancellation."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import chargebee
import pytest
from _webhook_cases import NOW, Case, cases
from chargebee.models.customer.responses import CustomerResponse
from chargebee.models.enums import EventType as ChargebeeEventType
from chargebee.models.subscription.responses import SubscriptionResponse

from portalkit import BasicPair, EventType, Webhooks, errors, get_vendor_webhooks
from portalkit.errors import RejectionReason
from portalkit.providers.chargebee_webhooks import EVENTS, SIGNATURE, WEBHOOKS

USER, PASSWORD = "cb_hooks", "s3cret:with:colons"  # a password may hold ':' (RFC 7617)
CASES = {case.name: case for case in cases("chargebee")}
DOCS = Path(__file__).resolve().parents[1] / "docs" / "providers" / "chargebee.md"


def hooks() -> Webhooks:
    return Webhooks("chargebee", secrets=[BasicPair(USER, PASSWORD)])


def basic(user: str = USER, password: str = PASSWORD) -> str:
    """What Chargebee sends for a webhook URL "protected by basic authentication"."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def parse(payload: dict[str, Any]) -> Any:
    return hooks().parse({"Authorization": basic()}, json.dumps(payload).encode(), now=NOW)


def malformed(payload: dict[str, Any]) -> errors.WebhookRejected:
    with pytest.raises(errors.WebhookRejected) as caught:
        parse(payload)
    assert caught.value.reason is RejectionReason.MALFORMED
    return caught.value


def payload_of(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(CASES[name].payload))


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


# --- the credentials --------------------------------------------------------------------


def test_the_declared_scheme_is_the_one_registered() -> None:
    assert get_vendor_webhooks("chargebee") is WEBHOOKS
    assert WEBHOOKS.signature is SIGNATURE
    assert not SIGNATURE.signs_body
    assert not SIGNATURE.has_timestamp


def test_the_variables_are_the_ones_chargebees_node_sdk_reads() -> None:
    receiver = Webhooks.from_env(
        {"CHARGEBEE_WEBHOOK_USERNAME": USER, "CHARGEBEE_WEBHOOK_PASSWORD": PASSWORD},
        provider="chargebee",
    )
    case = CASES["subscription_cancellation_scheduled"]
    event = receiver.parse({"authorization": basic()}, case.body, now=NOW)
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert receiver.sign(case.body) == {"Authorization": basic()}  # the header, by hand


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (basic(password="wrong"), RejectionReason.WRONG_CREDENTIALS),
        (basic(user="someone"), RejectionReason.WRONG_CREDENTIALS),
        (basic(password=PASSWORD.split(":")[0]), RejectionReason.WRONG_CREDENTIALS),
        (basic().replace("Basic", "Bearer"), RejectionReason.MALFORMED),
        ("Basic " + base64.b64encode(b"no colon").decode(), RejectionReason.MALFORMED),
        ("Basic !!!", RejectionReason.MALFORMED),
    ],
)
def test_credentials_chargebee_would_not_send_are_refused(
    authorization: str, reason: RejectionReason
) -> None:
    case = CASES["subscription_changed"]
    with pytest.raises(errors.WebhookRejected) as caught:
        hooks().parse({"Authorization": authorization}, case.body, now=NOW)
    assert caught.value.reason is reason


def test_a_changed_body_is_accepted_because_nothing_is_signed() -> None:
    """The shared security suite expects it; the docs must say it plainly."""
    forged = payload_of("subscription_cancelled")
    forged["content"]["subscription"]["id"] = "someone_elses_subscription"
    body = json.dumps(forged).encode()
    event = hooks().parse({"Authorization": basic()}, body, now=NOW)
    assert event.subscription_id == "someone_elses_subscription"  # believed: use https
    webhooks = DOCS.read_text(encoding="utf-8").split("## Webhooks", 1)[1]
    assert "nothing is signed" in webhooks.lower()
    assert "https" in webhooks
    assert "Retrieve an event" in webhooks  # Chargebee's own advice: re-read it by id


# --- the event, as chargebee-python reads it ----------------------------------------------


@pytest.mark.parametrize("case", list(CASES.values()), ids=lambda c: c.name)
def test_fields_agree_with_chargebee_pythons_models(case: Case) -> None:
    sdk = chargebee.Chargebee(api_key="test_not_used", site="acme-test")
    sdk_event = sdk.Event.deserialize(case.body.decode())
    event = hooks().parse({"Authorization": basic()}, case.body, now=NOW)
    assert (event.id, event.vendor_type) == (sdk_event.id, sdk_event.event_type)
    assert event.occurred_at == at(sdk_event.occurred_at)
    content = sdk_event.content
    if "subscription" in content:
        subscription = SubscriptionResponse.construct(content["subscription"])
        assert event.subscription_id == subscription.id
        assert event.resource_version == subscription.resource_version
        customer_id = subscription.customer_id
    else:
        customer = CustomerResponse.construct(content["customer"])
        assert event.subscription_id is None
        assert event.resource_version == customer.resource_version
        customer_id = customer.id
    assert event.customer_id == customer_id


# --- mapping, ends and ordering -------------------------------------------------------


def test_every_row_is_a_chargebee_event_type() -> None:
    known = {member.value for member in ChargebeeEventType}
    assert {row.vendor_type for row in EVENTS} <= known


def test_the_end_of_a_scheduled_cancellation() -> None:
    payload = payload_of("subscription_cancellation_scheduled")
    subscription = payload["content"]["subscription"]
    assert parse(payload).ends_at == at(subscription["cancelled_at"])
    del subscription["cancelled_at"]
    subscription["current_term_end"] = 1_349_700_000
    assert parse(payload).ends_at == at(1_349_700_000)  # "at the end of the term"
    del subscription["current_term_end"]
    assert "cancelled_at" in malformed(payload).message
    del payload["content"]["subscription"]
    assert "cancelled_at" in malformed(payload).message


def test_a_cancellation_ends_when_it_was_cancelled() -> None:
    event = parse(payload_of("subscription_cancelled"))
    assert event.type is EventType.SUBSCRIPTION_CANCELED
    assert event.ends_at == at(1_601_524_835)


def test_changes_cannot_be_told_apart_so_none_is_a_plan_change() -> None:
    """v2 events carry the subscription as it is now, never its previous values: a plan,
    quantity or add-on change are the same subscription_changed."""
    assert EventType.SUBSCRIPTION_PLAN_CHANGED not in {row.type for row in EVENTS}
    payload = payload_of("subscription_changed")
    payload["content"]["subscription"]["plan_id"] = "another_plan"
    assert parse(payload).type is EventType.SUBSCRIPTION_UPDATED


def test_resource_version_orders_deliveries_that_arrive_out_of_order() -> None:
    scheduled = hooks().parse(
        {"Authorization": basic()}, CASES["subscription_cancellation_scheduled"].body, now=NOW
    )
    removed = hooks().parse(
        {"Authorization": basic()},
        CASES["subscription_scheduled_cancellation_removed"].body,
        now=NOW,
    )
    assert scheduled.subscription_id == removed.subscription_id
    arrived = [removed, scheduled]  # the later change first
    latest = max(arrived, key=lambda event: event.resource_version or 0)
    assert latest.type is EventType.SUBSCRIPTION_UNCANCELED  # still subscribed


def test_the_customer_of_an_event_without_a_customer_object() -> None:
    payload = payload_of("subscription_changes_scheduled")
    del payload["content"]["customer"]
    event = parse(payload)
    assert event.customer_id == "169mBgSIh5VD5qka"  # the subscription's customer_id
    assert event.resource_version == 1_607_533_916_854


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("occurred_at",), "1349120451"),
        (("occurred_at",), True),
        (("occurred_at",), 1349120451.5),
        (("content", "subscription", "resource_version"), "1349120451000"),
        (("content", "subscription", "id"), 3),
        (("content",), []),
        (("content",), "x"),
        (("content", "customer"), "3Nl7oGgQqGFprj9"),
        (("event_type",), ""),
        (("id",), ""),
    ],
)
def test_fields_of_the_wrong_type_are_malformed(path: tuple[str, ...], value: Any) -> None:
    # An event outside the table: nothing but the shape can make it malformed.
    payload = payload_of("subscription_scheduled_pause_removed_unknown")
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert path[-1] in malformed(payload).message
