"""The Paylera twin's webhooks: for every change the twin has events for, portalkit's
receiver reads its signed deliveries into the expected ``EventType``; a wrong secret and a
stale timestamp are refused. Paylera documents neither a scheme nor a payload and ships no
SDK: the twin restates portalkit's declared assumption (Stripe's convention,
``Paylera-Signature``), so these tests check it against the assumption's own statement
(the HMAC computed here by hand) and against the example deliveries portalkit's receiver
was written for (tests/webhook_events/paylera/): the same envelope, the same fields."""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from portalkit import EventType, Webhooks, errors
from portalkit.providers import paylera_sandbox
from portalkit.providers.paylera_sandbox import TWIN
from portalkit.sandbox.twin import SubscriptionState, TwinWebhooks

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
WRONG_SECRET = "whsec_not_the_sandbox_endpoints"  # made up: nobody's
HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "webhook_events" / "paylera"


def webhooks() -> TwinWebhooks:
    assert TWIN.webhooks is not None
    return TWIN.webhooks


def fresh() -> SubscriptionState:
    hooks = webhooks()
    return SubscriptionState(
        id="sub_sandbox0101",
        customer_id="cus_sandbox0001",
        current_period_start=NOW - 10 * DAY,
        current_period_end=NOW + 21 * DAY,
        plan=hooks.plans[0],
        payment_method=hooks.payment_method_id(NOW - 10 * DAY),
        created_at=NOW - 40 * DAY,
        updated_at=NOW - 10 * DAY,
    )


def apply(change: EventType, state: SubscriptionState, now: float) -> SubscriptionState:
    """The sandbox's state transitions, restated (issue 23); a portal session's end changes
    nothing."""
    if change is EventType.PORTAL_SESSION_COMPLETED:
        return state
    bumped = attrs.evolve(state, updated_at=now, version=state.version + 1)
    if change is EventType.SUBSCRIPTION_CANCEL_SCHEDULED:
        return attrs.evolve(bumped, cancel_at_period_end=True, canceled_at=now)
    if change is EventType.SUBSCRIPTION_UNCANCELED:
        return attrs.evolve(bumped, cancel_at_period_end=False, canceled_at=None)
    if change is EventType.SUBSCRIPTION_CANCELED:
        canceled_at = state.canceled_at if state.canceled_at is not None else now
        return attrs.evolve(bumped, status="canceled", ended_at=now, canceled_at=canceled_at)
    if change is EventType.SUBSCRIPTION_PLAN_CHANGED:
        plans = webhooks().plans
        return attrs.evolve(bumped, plan=plans[(plans.index(state.plan) + 1) % len(plans)])
    if change is EventType.PAYMENT_METHOD_UPDATED:
        return attrs.evolve(bumped, payment_method=webhooks().payment_method_id(now))
    return bumped


def scheduled() -> SubscriptionState:
    return apply(EventType.SUBSCRIPTION_CANCEL_SCHEDULED, fresh(), NOW - DAY)


@attrs.frozen
class Case:
    name: str
    change: EventType
    before: SubscriptionState
    vendor_type: str
    expected: EventType
    #: The example delivery (tests/webhook_events/paylera/) with the same shape.
    example: str


CASES = {
    case.name: case
    for case in [
        Case(
            "cancel_scheduled",
            EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
            fresh(),
            "subscription.canceled",
            EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
            "subscription_canceled_at_period_end",
        ),
        Case(
            "uncanceled",
            EventType.SUBSCRIPTION_UNCANCELED,
            scheduled(),
            "subscription.reactivated",
            EventType.SUBSCRIPTION_UNCANCELED,
            "subscription_reactivated",
        ),
        Case(
            "canceled_at_period_end",
            EventType.SUBSCRIPTION_CANCELED,
            scheduled(),
            "subscription.canceled",
            EventType.SUBSCRIPTION_CANCELED,
            "subscription_canceled_immediately",
        ),
        Case(
            "canceled_at_once",
            EventType.SUBSCRIPTION_CANCELED,
            fresh(),
            "subscription.canceled",
            EventType.SUBSCRIPTION_CANCELED,
            "subscription_canceled_immediately",
        ),
        Case(
            "plan_changed",
            EventType.SUBSCRIPTION_PLAN_CHANGED,
            fresh(),
            "subscription.updated",
            EventType.SUBSCRIPTION_PLAN_CHANGED,
            "subscription_updated_plan_changed",
        ),
        Case(
            "updated",
            EventType.SUBSCRIPTION_UPDATED,
            fresh(),
            "subscription.updated",
            EventType.SUBSCRIPTION_UPDATED,
            "subscription_updated_quantity",
        ),
        Case(
            "payment_method_updated",
            EventType.PAYMENT_METHOD_UPDATED,
            fresh(),
            "customer.payment_method_attached",
            EventType.PAYMENT_METHOD_UPDATED,
            "customer_payment_method_attached",
        ),
        Case(
            "portal_session_completed",
            EventType.PORTAL_SESSION_COMPLETED,
            fresh(),
            "portal.session.completed",
            EventType.PORTAL_SESSION_COMPLETED,
            "portal_session_completed",
        ),
    ]
}


@attrs.frozen
class Sent:
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]


def delivery(
    case: Case, *, secret: str | None = None, timestamp: int = NOW
) -> tuple[SubscriptionState, Sent]:
    hooks = webhooks()
    after = apply(case.change, case.before, NOW)
    (payload,) = hooks.events(case.change, case.before, after, NOW)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = hooks.sign(body, payload, secret or hooks.secret, timestamp, "unused")
    return after, Sent(payload, body, headers)


def receiver() -> Webhooks:
    return Webhooks.from_env(webhooks().env, provider="paylera")


def example(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())["payload"]
    return payload


# -- what the twin declares ------------------------------------------------------------------


def test_every_change_has_a_case() -> None:
    assert {case.change for case in CASES.values()} == webhooks().changes | {
        EventType.PORTAL_SESSION_COMPLETED
    }
    # Leaving the portal is no change to a subscription (the sandbox's trigger refuses it);
    # its event is rendered all the same, for the sandbox to send when the customer leaves.
    assert EventType.PORTAL_SESSION_COMPLETED not in webhooks().changes


def test_the_declaration() -> None:
    hooks = webhooks()
    assert hooks.env == {"PAYLERA_WEBHOOK_SECRET": hooks.secret}
    assert hooks.plans == ("plan_pro_monthly", "plan_team_monthly")
    assert re.fullmatch(r"pm_[A-Za-z0-9]{12}", hooks.payment_method_id(NOW))
    assert hooks.delivery_id is None
    # The page: a customer may un-cancel "before period end", so a cancellation is scheduled.
    assert dict(hooks.action_changes) == {
        "update_subscription": EventType.SUBSCRIPTION_PLAN_CHANGED,
        "cancel_subscription": EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": EventType.PAYMENT_METHOD_UPDATED,
    }
    assert set(hooks.action_changes) <= {action for action, _ in TWIN.actions}
    assert set(hooks.action_changes.values()) <= hooks.changes


def test_the_signature_is_the_assumed_scheme_computed_by_hand() -> None:
    """HMAC-SHA256 of "{t}.{body}" keyed with the secret's UTF-8 bytes, hex, in
    ``Paylera-Signature: t=<unix>,v1=<hex>``."""
    _, sent = delivery(CASES["cancel_scheduled"])
    expected = hmac.new(
        webhooks().secret.encode(), f"{NOW}.".encode() + sent.body, hashlib.sha256
    ).hexdigest()
    assert sent.headers == {"Paylera-Signature": f"t={NOW},v1={expected}"}


# -- each change: portalkit reads the twin's delivery ----------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_portalkit_reads_each_delivery(name: str) -> None:
    case = CASES[name]
    after, sent = delivery(case)
    assert sent.payload["type"] == case.vendor_type
    assert re.fullmatch(r"evt_[A-Za-z0-9]{16}", sent.payload["id"])
    read = receiver().parse(sent.headers, sent.body, now=NOW)
    assert read.type is case.expected
    assert read.id == sent.payload["id"]
    assert read.vendor_type == case.vendor_type
    assert read.occurred_at == datetime.fromtimestamp(NOW, UTC)
    assert read.customer_id == case.before.customer_id
    about_subscription = case.vendor_type.startswith("subscription.")
    assert read.subscription_id == (case.before.id if about_subscription else None)
    if case.expected is EventType.SUBSCRIPTION_CANCEL_SCHEDULED:
        assert read.ends_at == datetime.fromtimestamp(after.current_period_end, UTC)
    elif case.expected is EventType.SUBSCRIPTION_CANCELED:
        assert read.ends_at == datetime.fromtimestamp(NOW, UTC)
    else:
        assert read.ends_at is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_delivery_has_the_examples_shape(name: str) -> None:
    """The twin and the receiver's examples state one assumption: the same envelope, and
    every field of the example's object (the twin adds ``metadata`` to subscriptions)."""
    case = CASES[name]
    _, sent = delivery(case)
    shown = example(case.example)
    assert sent.payload.keys() == shown.keys()
    assert sent.payload["object"] == "event"
    assert sent.payload["livemode"] is False
    assert sent.payload["data"].keys() == shown["data"].keys()
    obj, shown_obj = sent.payload["data"]["object"], shown["data"]["object"]
    assert obj.keys() >= shown_obj.keys()
    assert set(obj) - set(shown_obj) <= {"metadata"}
    for key, value in shown_obj.items():
        assert type(obj[key]) is type(value) or value is None or obj[key] is None, key


def test_a_cancellation_runs_to_the_periods_end_and_an_end_ends() -> None:
    after, sent = delivery(CASES["cancel_scheduled"])
    obj = sent.payload["data"]["object"]
    assert (obj["status"], obj["cancel_at_period_end"]) == ("active", True)
    assert (obj["canceled_at"], obj["ended_at"]) == (NOW, None)
    assert obj["current_period_end"] == after.current_period_end
    # When it ends, nothing is pending any more: not read as another scheduled cancellation.
    case = CASES["canceled_at_period_end"]
    _, ended = delivery(case)
    obj = ended.payload["data"]["object"]
    assert (obj["status"], obj["cancel_at_period_end"]) == ("canceled", False)
    assert (obj["canceled_at"], obj["ended_at"]) == (case.before.canceled_at, NOW)


def test_a_plan_change_names_the_old_plan() -> None:
    case = CASES["plan_changed"]
    after, sent = delivery(case)
    data = sent.payload["data"]
    assert data["object"]["plan"]["id"] == after.plan != case.before.plan
    assert data["previous_attributes"] == {
        "plan": {**data["object"]["plan"], "id": case.before.plan, "amount": 4900}
    }


def test_a_portal_sessions_end_summarizes_what_changed() -> None:
    hooks = webhooks()
    before = fresh()
    after = apply(EventType.SUBSCRIPTION_PLAN_CHANGED, before, NOW - 60)
    after = apply(EventType.PAYMENT_METHOD_UPDATED, after, NOW - 30)
    after = apply(EventType.SUBSCRIPTION_CANCEL_SCHEDULED, after, NOW - 10)
    (payload,) = hooks.events(EventType.PORTAL_SESSION_COMPLETED, before, after, NOW)
    session = payload["data"]["object"]
    assert re.fullmatch(r"ps_[A-Za-z0-9]{32}", session["id"])
    assert session["customer_id"] == before.customer_id
    assert session["completed_at"] == NOW
    assert session["actions"] == [
        {"type": "customer.payment_method_attached", "object_id": after.payment_method},
        {"type": "subscription.updated", "object_id": before.id},
        {"type": "subscription.canceled", "object_id": before.id},
    ]
    # Nothing done: an empty summary.
    _, untouched = delivery(CASES["portal_session_completed"])
    assert untouched.payload["data"]["object"]["actions"] == []


# -- refused: a wrong secret, a late or early delivery ---------------------------------------


def every_delivery(**options: Any) -> Iterator[Sent]:
    for case in CASES.values():
        yield delivery(case, **options)[1]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"secret": WRONG_SECRET}, errors.RejectionReason.SIGNATURE_MISMATCH),
        ({"timestamp": NOW - 301}, errors.RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE),
        ({"timestamp": NOW + 301}, errors.RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE),
    ],
)
def test_portalkit_refuses(options: dict[str, Any], reason: errors.RejectionReason) -> None:
    for sent in every_delivery(**options):
        with pytest.raises(errors.WebhookRejected) as caught:
            receiver().parse(sent.headers, sent.body, now=NOW)
        assert caught.value.reason is reason


def test_portalkit_accepts_within_the_window() -> None:
    for timestamp in (NOW - 299, NOW + 299):
        for sent in every_delivery(timestamp=timestamp):
            assert receiver().parse(sent.headers, sent.body, now=NOW).id == sent.payload["id"]


# -- the independent witness -----------------------------------------------------------------

FORBIDDEN = re.compile(
    r"(stripe|paddle|polar|lemonsqueezy|chargebee|paylera|plugipay)_webhooks|_webhooks|_signatures"
)


def imported_modules(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_twin_imports_no_webhook_code_of_portalkit() -> None:
    modules = imported_modules(Path(paylera_sandbox.__file__).read_text())
    assert "portalkit.sandbox.twin" in modules  # the walk found the imports
    for module in modules:
        assert not any(FORBIDDEN.fullmatch(part) for part in module.split(".")), module
    assert FORBIDDEN.fullmatch("paylera_webhooks")
    assert FORBIDDEN.fullmatch("_signatures")
