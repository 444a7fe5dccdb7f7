"""The Stripe twin's webhooks, witnessed from both sides: for every change the twin has
events for, its deliveries are verified and parsed by stripe-python's
``stripe.Webhook.construct_event`` (typed into ``stripe.Subscription``, ``PaymentMethod``,
``Customer``) and read by portalkit's receiver into the expected ``EventType``; a wrong
secret and a stale timestamp are refused by both. The twin restates Stripe's scheme and
payloads itself: it imports neither portalkit's Stripe webhook code nor ``_signatures``."""

from __future__ import annotations

import ast
import json
import re
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import stripe
from stripe import _webhook as sdk_webhook

from portalkit import EventType, Webhooks, errors
from portalkit.providers import stripe_sandbox, stripe_twin_webhooks
from portalkit.providers.stripe_sandbox import TWIN
from portalkit.sandbox._subscriptions import transition
from portalkit.sandbox.twin import SubscriptionState, TwinWebhooks

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
WRONG_SECRET = "whsec_NotTheSandboxEndpointsSecret00"  # made up: nobody's
PROVIDERS = Path(__file__).resolve().parent.parent / "providers"


def webhooks() -> TwinWebhooks:
    assert TWIN.webhooks is not None
    return TWIN.webhooks


@pytest.fixture(autouse=True)
def sdk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """stripe-python checks the timestamp against its module's ``time``: the same ``NOW``."""
    monkeypatch.setattr(sdk_webhook, "time", types.SimpleNamespace(time=lambda: NOW))


def fresh() -> SubscriptionState:
    """A seeded subscription, mid-period, on the first plan."""
    hooks = webhooks()
    return SubscriptionState(
        id="sub_1PkSandboxSub0101",
        customer_id="cus_PkSandboxCust01",
        current_period_start=NOW - 10 * DAY,
        current_period_end=NOW + 21 * DAY,
        plan=hooks.plans[0],
        payment_method=hooks.payment_method_id(NOW - 10 * DAY),
        created_at=NOW - 40 * DAY,
        updated_at=NOW - 10 * DAY,
    )


def apply(change: EventType, state: SubscriptionState, now: float) -> SubscriptionState:
    """The sandbox's own state transition (``portalkit.sandbox._subscriptions``)."""
    return transition(state, change, webhooks(), now)


def scheduled() -> SubscriptionState:
    return apply(EventType.SUBSCRIPTION_CANCEL_SCHEDULED, fresh(), NOW - DAY)


@attrs.frozen
class Case:
    name: str
    change: EventType
    before: SubscriptionState
    #: (Stripe's event type, what portalkit reads it as), in the order sent.
    expected: tuple[tuple[str, EventType], ...]


def cases() -> list[Case]:
    updated = "customer.subscription.updated"
    return [
        Case(
            "cancel_scheduled",
            EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
            fresh(),
            ((updated, EventType.SUBSCRIPTION_CANCEL_SCHEDULED),),
        ),
        Case(
            "uncanceled",
            EventType.SUBSCRIPTION_UNCANCELED,
            scheduled(),
            ((updated, EventType.SUBSCRIPTION_UNCANCELED),),
        ),
        Case(
            "canceled_at_period_end",
            EventType.SUBSCRIPTION_CANCELED,
            scheduled(),
            (("customer.subscription.deleted", EventType.SUBSCRIPTION_CANCELED),),
        ),
        Case(
            "canceled_at_once",
            EventType.SUBSCRIPTION_CANCELED,
            fresh(),
            (("customer.subscription.deleted", EventType.SUBSCRIPTION_CANCELED),),
        ),
        Case(
            "plan_changed",
            EventType.SUBSCRIPTION_PLAN_CHANGED,
            fresh(),
            ((updated, EventType.SUBSCRIPTION_PLAN_CHANGED),),
        ),
        Case(
            "updated",
            EventType.SUBSCRIPTION_UPDATED,
            fresh(),
            ((updated, EventType.SUBSCRIPTION_UPDATED),),
        ),
        Case(
            "payment_method_updated",
            EventType.PAYMENT_METHOD_UPDATED,
            fresh(),
            (
                ("payment_method.attached", EventType.PAYMENT_METHOD_UPDATED),
                ("customer.updated", EventType.PAYMENT_METHOD_UPDATED),
            ),
        ),
    ]


CASES = {case.name: case for case in cases()}


@attrs.frozen
class Sent:
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]


def deliveries(
    case: Case, *, secret: str | None = None, timestamp: int = NOW
) -> tuple[SubscriptionState, list[Sent]]:
    """What the sandbox sends for the case: each payload serialized and signed."""
    hooks = webhooks()
    after = apply(case.change, case.before, NOW)
    sent = []
    for payload in hooks.events(case.change, case.before, after, NOW):
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = hooks.sign(body, payload, secret or hooks.secret, timestamp, "unused")
        sent.append(Sent(payload, body, headers))
    return after, sent


def receiver() -> Webhooks:
    return Webhooks.from_env(webhooks().env, provider="stripe")


def construct(sent: Sent) -> stripe.Event:
    event = stripe.Webhook.construct_event(
        sent.body, sent.headers["Stripe-Signature"], webhooks().secret
    )
    assert isinstance(event, stripe.Event)
    return event


# -- what the twin declares ------------------------------------------------------------------


def test_every_change_has_a_case() -> None:
    assert {case.change for case in cases()} == webhooks().changes


def test_the_declaration() -> None:
    hooks = webhooks()
    assert re.fullmatch(r"whsec_[A-Za-z0-9]{32}", hooks.secret)
    assert hooks.env == {"STRIPE_WEBHOOK_SECRET": hooks.secret}
    # The prices a portal plan change moves between: the seeded configuration's.
    assert hooks.plans == stripe_sandbox.SEEDED_PRICES
    assert all(re.fullmatch(r"price_[A-Za-z0-9]+", plan) for plan in hooks.plans)
    assert re.fullmatch(r"pm_1[A-Za-z0-9]{23}", hooks.payment_method_id(NOW))
    assert hooks.delivery_id is None  # Stripe sends none: the event id is the key
    # Stripe's portal cancels at the period's end by default.
    assert dict(hooks.action_changes) == {
        "update_subscription": EventType.SUBSCRIPTION_PLAN_CHANGED,
        "cancel_subscription": EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_payment_method": EventType.PAYMENT_METHOD_UPDATED,
    }
    assert set(hooks.action_changes) <= {action for action, _ in TWIN.actions}
    assert set(hooks.action_changes.values()) <= hooks.changes


def test_the_api_version_is_the_one_stripe_python_pins() -> None:
    assert stripe_twin_webhooks.API_VERSION == stripe.api_version == "2026-10-28.endive"


def test_the_header_is_the_one_stripes_own_helper_makes() -> None:
    _, (sent,) = deliveries(CASES["cancel_scheduled"])
    expected = stripe.WebhookSignature.generate_signature_header(
        sent.body.decode(), webhooks().secret, NOW
    )
    assert sent.headers["Stripe-Signature"] == expected
    assert sent.headers["User-Agent"].startswith("Stripe/1.0")


# -- each change: the SDK and portalkit read the twin's deliveries ---------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_sdk_and_portalkit_read_each_delivery(name: str) -> None:
    case = CASES[name]
    after, sent = deliveries(case)
    assert [s.payload["type"] for s in sent] == [vendor for vendor, _ in case.expected]
    assert len({s.payload["id"] for s in sent}) == len(sent)
    for one, (vendor_type, expected) in zip(sent, case.expected, strict=True):
        event = construct(one)
        assert event.id == one.payload["id"]
        assert re.fullmatch(r"evt_1[A-Za-z0-9]{23}", event.id)
        assert event.type == vendor_type
        assert event.api_version == stripe.api_version
        assert event.created == NOW
        assert event.livemode is False

        read = receiver().parse(one.headers, one.body, now=NOW)
        assert read.type is expected
        assert read.id == event.id
        assert read.vendor_type == vendor_type
        assert read.occurred_at == datetime.fromtimestamp(NOW, UTC)
        assert read.customer_id == case.before.customer_id
        if vendor_type.startswith("customer.subscription."):
            assert read.subscription_id == case.before.id
        else:
            assert read.subscription_id is None
        if expected is EventType.SUBSCRIPTION_CANCEL_SCHEDULED:
            assert read.ends_at == datetime.fromtimestamp(after.current_period_end, UTC)
        elif expected is EventType.SUBSCRIPTION_CANCELED:
            assert read.ends_at == datetime.fromtimestamp(NOW, UTC)
        else:
            assert read.ends_at is None


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_sdk_types_each_object(name: str) -> None:
    """The SDK builds its typed resources from the twin's objects."""
    case = CASES[name]
    after, sent = deliveries(case)
    for one in sent:
        obj = construct(one).data.object
        if one.payload["type"] == "payment_method.attached":
            assert isinstance(obj, stripe.PaymentMethod)
            assert obj.id == after.payment_method
            assert obj.customer == after.customer_id
            assert obj.card is not None
            assert obj.card.last4 == "4242"
        elif one.payload["type"] == "customer.updated":
            assert isinstance(obj, stripe.Customer)
            assert obj.id == after.customer_id
            assert obj.invoice_settings is not None
            assert obj.invoice_settings.default_payment_method == after.payment_method
        else:
            assert isinstance(obj, stripe.Subscription)
            assert obj.id == after.id
            assert obj.customer == after.customer_id
            assert obj.status == after.status
            (item,) = obj["items"].data
            assert isinstance(item, stripe.SubscriptionItem)
            assert item.price.id == after.plan
            assert item.current_period_end == after.current_period_end


def test_a_cancellation_at_period_end_shows_what_it_changed() -> None:
    """Stripe's portal: cancel_at_period_end, cancel_at (the period's end), canceled_at and
    the reason, with their old values in previous_attributes."""
    after, (sent,) = deliveries(CASES["cancel_scheduled"])
    data = sent.payload["data"]
    obj = data["object"]
    assert obj["cancel_at_period_end"] is True
    assert obj["cancel_at"] == after.current_period_end
    assert obj["canceled_at"] == NOW
    assert obj["cancellation_details"]["reason"] == "cancellation_requested"
    assert obj["status"] == "active"
    assert data["previous_attributes"] == {
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"reason": None},
    }


def test_withdrawing_it_shows_the_old_values() -> None:
    case = CASES["uncanceled"]
    _, (sent,) = deliveries(case)
    data = sent.payload["data"]
    assert data["object"]["cancel_at_period_end"] is False
    assert data["object"]["cancel_at"] is None
    assert data["previous_attributes"] == {
        "cancel_at": case.before.current_period_end,
        "cancel_at_period_end": True,
        "canceled_at": case.before.canceled_at,
        "cancellation_details": {"reason": "cancellation_requested"},
    }


def test_a_plan_change_lists_the_old_items() -> None:
    case = CASES["plan_changed"]
    after, (sent,) = deliveries(case)
    data = sent.payload["data"]
    assert set(data["previous_attributes"]) == {"items"}
    (old,) = data["previous_attributes"]["items"]["data"]
    (new,) = data["object"]["items"]["data"]
    assert (old["price"]["id"], new["price"]["id"]) == (case.before.plan, after.plan)
    assert old["id"] == new["id"]  # the same item, another price


def test_the_end_is_deleted_with_no_previous_attributes() -> None:
    _, (sent,) = deliveries(CASES["canceled_at_period_end"])
    assert "previous_attributes" not in sent.payload["data"]
    assert sent.payload["data"]["object"]["status"] == "canceled"
    assert sent.payload["data"]["object"]["ended_at"] == NOW


def test_a_new_payment_method_becomes_the_customers_default() -> None:
    case = CASES["payment_method_updated"]
    _, (_, customer) = deliveries(case)
    assert customer.payload["data"]["previous_attributes"] == {
        "invoice_settings": {"default_payment_method": case.before.payment_method}
    }


# -- refused: a wrong secret, a late delivery ------------------------------------------------


def every_delivery(**options: Any) -> Iterator[Sent]:
    for case in cases():
        yield from deliveries(case, **options)[1]


def test_a_wrong_secret_is_refused_by_both() -> None:
    for sent in every_delivery(secret=WRONG_SECRET):
        with pytest.raises(stripe.SignatureVerificationError):
            construct(sent)
        with pytest.raises(errors.WebhookRejected) as caught:
            receiver().parse(sent.headers, sent.body, now=NOW)
        assert caught.value.reason is errors.RejectionReason.SIGNATURE_MISMATCH


def test_a_late_delivery_is_refused_by_both() -> None:
    for sent in every_delivery(timestamp=NOW - 301):
        with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
            construct(sent)
        with pytest.raises(errors.WebhookRejected) as caught:
            receiver().parse(sent.headers, sent.body, now=NOW)
        assert caught.value.reason is errors.RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE


def test_a_delivery_on_time_is_accepted_by_both() -> None:
    """The other side of the two refusals above: the same deliveries, signed right, pass."""
    for sent in every_delivery(timestamp=NOW - 299):
        assert construct(sent).id == sent.payload["id"]
        assert receiver().parse(sent.headers, sent.body, now=NOW).id == sent.payload["id"]


# -- the independent witness -----------------------------------------------------------------


#: portalkit's receiving side: a vendor's webhook module, the core's, the signature schemes.
FORBIDDEN = re.compile(
    r"(stripe|paddle|polar|lemonsqueezy|chargebee|paylera|plugipay)_webhooks|_webhooks|_signatures"
)


def imported_modules(path: Path) -> set[str]:
    """Every dotted name the module imports (``from a import b`` gives ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


#: The twin's modules: providers/stripe_sandbox.py and its parts beside it.
TWIN_MODULES = ["stripe_sandbox.py", *sorted(p.name for p in PROVIDERS.glob("stripe_twin_*.py"))]


def test_the_twin_modules_are_all_listed() -> None:
    assert {"stripe_twin_webhooks.py", "stripe_twin_sessions.py"} <= set(TWIN_MODULES)


@pytest.mark.parametrize("name", TWIN_MODULES)
def test_the_twin_imports_no_webhook_code_of_portalkit(name: str) -> None:
    modules = imported_modules(PROVIDERS / name)
    assert "portalkit.sandbox.twin" in modules  # the walk found the imports
    for module in modules:
        assert not any(FORBIDDEN.fullmatch(part) for part in module.split(".")), module


def test_the_witness_check_would_catch_an_import() -> None:
    assert FORBIDDEN.fullmatch("stripe_webhooks")
    assert FORBIDDEN.fullmatch("_signatures")
    assert not FORBIDDEN.fullmatch("stripe_twin_webhooks")
