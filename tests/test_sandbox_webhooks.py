"""The sandbox sends webhooks: subscriptions' states and their changes, deliveries at least
once (retries, backoff, the delivery log), scripted delivery faults, the portal page's
buttons, the control endpoints -- first with a fake ``TwinWebhooks`` (so the machinery is
tested apart from any vendor's twin), then against every registered twin that sends webhooks,
received by portalkit's own webhook view on a real socket.

Every server here is on 127.0.0.1 and started by the test; nothing touches the network.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import attrs
import pytest
from _vendors import twin
from _web_server import bind_loopback, serve
from _webhook_receiver import Receiver

from portalkit import EventType, Portal, PortalConfiguration, PortalRequest, Webhooks
from portalkit._http import httpx
from portalkit.sandbox import (
    DeliveryFault,
    DeliveryPolicy,
    Fault,
    Sandbox,
    SubscriptionState,
    TwinWebhooks,
    load_twins,
)
from portalkit.sandbox._subscriptions import AGE, PERIOD

RETURN_URL = "https://app.example/account"
#: Fast enough for a test, and still a real backoff between attempts.
FAST = DeliveryPolicy(max_attempts=3, backoff=0.02, timeout=5.0)
LANE_THREAD = "portalkit-sandbox-webhooks-"

# -- a fake twin's webhooks -----------------------------------------------------------------
#
# Paylera-shaped events signed with portalkit's own Paylera signer: the point here is the
# sandbox's machinery, so the fake may borrow what a real twin must restate independently,
# and portalkit's view can verify and read what it sends.

FAKE_SECRET = "whsec_fake_machinery_secret"
_event_numbers = itertools.count(1)


def fake_sign(
    body: bytes, payload: Any, secret: str, timestamp: int, delivery_id: str
) -> dict[str, str]:
    signed = Webhooks("paylera", secrets=[secret]).sign(body, timestamp=timestamp)
    return {**signed, "X-Fake-Delivery-Id": delivery_id, "X-Fake-Timestamp": str(timestamp)}


def _subscription(state: SubscriptionState) -> dict[str, Any]:
    return {
        "id": state.id,
        "object": "subscription",
        "customer_id": state.customer_id,
        "status": state.status,
        "cancel_at_period_end": state.cancel_at_period_end and state.status != "canceled",
        "current_period_end": int(state.current_period_end),
        "ended_at": None if state.ended_at is None else int(state.ended_at),
        "plan": {"id": state.plan},
        "version": state.version,
    }


def fake_events(
    change: EventType, before: SubscriptionState, after: SubscriptionState, now: float
) -> list[dict[str, Any]]:
    def event(kind: str, obj: dict[str, Any], previous: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        number = next(_event_numbers)
        return {"id": f"evt_fake_{number}", "type": kind, "created": int(now), "data": data}

    sub = _subscription(after)
    if change is EventType.SUBSCRIPTION_CANCEL_SCHEDULED:
        return [event("subscription.canceled", sub)]
    if change is EventType.SUBSCRIPTION_UNCANCELED:
        return [event("subscription.reactivated", sub)]
    if change is EventType.SUBSCRIPTION_CANCELED:  # two events: their order is the vendor's
        return [
            event("subscription.updated", sub, {"status": before.status}),
            event("subscription.canceled", sub),
        ]
    if change is EventType.SUBSCRIPTION_PLAN_CHANGED:
        return [event("subscription.updated", sub, {"plan": {"id": before.plan}})]
    if change is EventType.PAYMENT_METHOD_UPDATED:
        method = {"id": after.payment_method, "object": "payment_method"}
        return [
            event("customer.payment_method_attached", {**method, "customer_id": after.customer_id})
        ]
    return [event("subscription.updated", sub, {"quantity": 1})]


FAKE_HOOKS = TwinWebhooks(
    secret=FAKE_SECRET,
    env={"PAYLERA_WEBHOOK_SECRET": FAKE_SECRET},
    sign=fake_sign,
    events=fake_events,
    changes=frozenset(
        {
            EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
            EventType.SUBSCRIPTION_UNCANCELED,
            EventType.SUBSCRIPTION_CANCELED,
            EventType.SUBSCRIPTION_PLAN_CHANGED,
            EventType.PAYMENT_METHOD_UPDATED,
            EventType.SUBSCRIPTION_UPDATED,
        }
    ),
    action_changes={
        "cancel_subscription": EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "update_subscription": EventType.SUBSCRIPTION_PLAN_CHANGED,
        "update_payment_method": EventType.PAYMENT_METHOD_UPDATED,
    },
    plans=("plan_fake_basic", "plan_fake_pro"),
    payment_method_id=lambda now: f"pm_fake_{secrets.token_hex(4)}",
    delivery_id=lambda now: f"msg_fake_{secrets.token_hex(6)}",
)
#: The Paylera twin (its API and pages) sending the fake's webhooks, and the Paddle twin
#: sending none.
FAKE = attrs.evolve(twin("paylera"), webhooks=FAKE_HOOKS)
QUIET = attrs.evolve(twin("paddle"), webhooks=None)
FAKE_ENV = {"PORTALKIT_PROVIDER": "paylera", "PAYLERA_WEBHOOK_SECRET": FAKE_SECRET}


def fake_sandbox(**options: Any) -> Sandbox:
    options.setdefault("delivery_policy", FAST)
    return Sandbox(twins=[FAKE, QUIET], **options)


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    """Every test ends with no delivery thread running (a lane's thread ends when its queue
    is empty; stop() joins them): nothing leaks into the next test."""
    yield
    deadline = time.monotonic() + 2.0
    while any(t.name.startswith(LANE_THREAD) for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a webhook delivery thread outlived its test"
        time.sleep(0.01)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    """The receiving app (``/hooks/paylera`` verifying the fake's deliveries, ``/raw``),
    served on 127.0.0.1 for one test."""
    app = Receiver({"paylera": FAKE_ENV})
    with serve(app.app(), bind_loopback()) as url:
        yield app, url


@pytest.fixture(scope="module")
def served_fake() -> Iterator[Sandbox]:
    sandbox = fake_sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served_fake: Sandbox) -> Iterator[Sandbox]:
    served_fake.reset()
    yield served_fake
    served_fake.reset()
    served_fake.remove_webhook_endpoint("paylera")


def first_subscription(sandbox: Sandbox, vendor: str) -> tuple[str, str]:
    customer = next(c for c in sandbox.customers(vendor) if sandbox.subscriptions(vendor, c))
    return customer, sandbox.subscriptions(vendor, customer)[0]


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- subscriptions' states ------------------------------------------------------------------


def test_a_subscription_state_is_made_on_first_use_and_reset_forgets_it() -> None:
    sandbox = fake_sandbox()
    customer, sub = first_subscription(sandbox, "paylera")
    now = sandbox.now().timestamp()
    state = sandbox.subscription("paylera", sub)
    assert (state.id, state.customer_id, state.status) == (sub, customer, "active")
    assert state.current_period_start == pytest.approx(now - AGE, abs=5)
    assert state.current_period_end == state.current_period_start + PERIOD
    assert state.created_at == state.current_period_start
    assert state.plan == "plan_fake_basic"
    assert state.payment_method.startswith("pm_fake_")
    assert (state.version, state.cancel_at_period_end, state.canceled_at) == (1, False, None)
    assert sandbox.subscription("paylera", sub) == state  # made once, then kept

    added = sandbox.add_subscription("paylera", customer)
    assert sandbox.subscription("paylera", added).customer_id == customer
    with pytest.raises(KeyError, match="sub_nobody"):
        sandbox.subscription("paylera", "sub_nobody")
    with pytest.raises(ValueError, match="paddle: the twin sends no webhooks"):
        sandbox.subscription(
            "paddle", sandbox.subscriptions("paddle", sandbox.customers("paddle")[0])[0]
        )

    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED, subscription_id=sub)
    assert sandbox.subscription("paylera", sub).version == 2
    sandbox.reset()
    assert sandbox.subscription("paylera", sub).version == 1


def test_each_change_moves_the_state_and_bumps_its_version() -> None:
    clock = itertools.count(1_800_000_000, 60)  # every reading a minute later
    sandbox = fake_sandbox(clock=lambda: float(next(clock)))
    _, sub = first_subscription(sandbox, "paylera")

    def trigger(change: EventType) -> SubscriptionState:
        applied = sandbox.trigger("paylera", change, subscription_id=sub)
        assert applied.after.version == applied.before.version + 1
        assert applied.after.updated_at > applied.before.updated_at
        assert applied.after == sandbox.subscription("paylera", sub)
        return applied.after

    first = sandbox.subscription("paylera", sub)
    scheduled = trigger(EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    assert scheduled.cancel_at_period_end
    assert scheduled.canceled_at == scheduled.updated_at
    assert scheduled.status == "active"
    withdrawn = trigger(EventType.SUBSCRIPTION_UNCANCELED)
    assert (withdrawn.cancel_at_period_end, withdrawn.canceled_at) == (False, None)
    assert trigger(EventType.SUBSCRIPTION_PLAN_CHANGED).plan == "plan_fake_pro"
    assert trigger(EventType.SUBSCRIPTION_PLAN_CHANGED).plan == "plan_fake_basic"  # cyclic
    moved = trigger(EventType.PAYMENT_METHOD_UPDATED)
    assert moved.payment_method != first.payment_method
    updated = trigger(EventType.SUBSCRIPTION_UPDATED)
    assert attrs.evolve(updated, version=moved.version, updated_at=moved.updated_at) == moved
    trigger(EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    ended = trigger(EventType.SUBSCRIPTION_CANCELED)
    assert (ended.status, ended.ended_at) == ("canceled", ended.updated_at)
    assert ended.canceled_at is not None
    assert ended.canceled_at < ended.ended_at  # asked for before it ended
    assert ended.version == 9


@pytest.mark.parametrize(
    ("steps", "refused", "reason"),
    [
        ([], EventType.SUBSCRIPTION_UNCANCELED, "no cancellation scheduled"),
        (
            [EventType.SUBSCRIPTION_CANCEL_SCHEDULED],
            EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
            "already has a cancellation scheduled",
        ),
        ([EventType.SUBSCRIPTION_CANCELED], EventType.SUBSCRIPTION_CANCELED, "has ended"),
        ([EventType.SUBSCRIPTION_CANCELED], EventType.SUBSCRIPTION_CANCEL_SCHEDULED, "has ended"),
        ([EventType.SUBSCRIPTION_CANCELED], EventType.PAYMENT_METHOD_UPDATED, "has ended"),
    ],
)
def test_an_impossible_change_is_refused_and_changes_nothing(
    steps: list[EventType], refused: EventType, reason: str
) -> None:
    sandbox = fake_sandbox()
    _, sub = first_subscription(sandbox, "paylera")
    for step in steps:
        sandbox.trigger("paylera", step, subscription_id=sub)
    before = sandbox.subscription("paylera", sub)
    with pytest.raises(ValueError, match=reason):
        sandbox.trigger("paylera", refused, subscription_id=sub)
    assert sandbox.subscription("paylera", sub) == before


def test_trigger_names_what_it_refuses() -> None:
    narrow = attrs.evolve(
        FAKE,
        webhooks=attrs.evolve(FAKE_HOOKS, changes=frozenset({EventType.SUBSCRIPTION_CANCELED})),
    )
    sandbox = Sandbox(twins=[narrow, QUIET])
    first, second = sandbox.customers("paylera")[:2]
    theirs = sandbox.subscriptions("paylera", second)[0]
    with pytest.raises(
        ValueError,
        match=r"no events for subscription_plan_changed \(it has: subscription_canceled\)",
    ):
        sandbox.trigger("paylera", EventType.SUBSCRIPTION_PLAN_CHANGED)
    with pytest.raises(ValueError, match="unknown change 'subscription_exploded'"):
        sandbox.trigger("paylera", "subscription_exploded")
    with pytest.raises(KeyError, match="cus_nobody"):
        sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED, customer_id="cus_nobody")
    with pytest.raises(KeyError, match="sub_nobody"):
        sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED, subscription_id="sub_nobody")
    with pytest.raises(
        ValueError, match=f"{theirs!r} belongs to customer {second!r}, not {first!r}"
    ):
        sandbox.trigger(
            "paylera", EventType.SUBSCRIPTION_CANCELED, customer_id=first, subscription_id=theirs
        )
    empty = sandbox.customers("paylera")[2]
    with pytest.raises(ValueError, match=f"customer {empty!r} has no subscription"):
        sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED, customer_id=empty)
    with pytest.raises(
        ValueError, match=r"paddle: the twin sends no webhooks \(twins that do: paylera\)"
    ):
        sandbox.trigger("paddle", EventType.SUBSCRIPTION_CANCELED)
    with pytest.raises(ValueError, match="unknown vendor 'acme'"):
        sandbox.trigger("acme", EventType.SUBSCRIPTION_CANCELED)
    # By its value too; with no ids, the first customer's first subscription.
    applied = sandbox.trigger("paylera", "subscription_canceled")
    assert applied.after.id == sandbox.subscriptions("paylera", first)[0]
    assert [e["type"] for e in applied.events] == ["subscription.updated", "subscription.canceled"]
    assert applied.deliveries == 0  # no endpoint: the events go nowhere


# -- deliveries -------------------------------------------------------------------------------


def test_a_trigger_is_delivered_signed_and_read_by_portalkit(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/hooks/paylera")
    assert sandbox.webhook_env("paylera") == FAKE_ENV
    customer, sub = first_subscription(sandbox, "paylera")
    applied = sandbox.trigger(
        "paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED, customer_id=customer
    )
    assert applied.deliveries == 1
    (delivery,) = sandbox.wait_for_deliveries("paylera", 1)

    (event,) = app.events["paylera"]
    assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert (event.customer_id, event.subscription_id) == (customer, sub)
    assert event.ends_at is not None
    assert event.ends_at.timestamp() == int(applied.after.current_period_end)

    (payload,) = applied.events
    assert delivery.state == "delivered"
    assert delivery.delivered
    assert delivery.finished
    assert delivery.body == json.dumps(payload, separators=(",", ":")).encode()
    assert delivery.json() == payload
    assert (delivery.event_type, delivery.event_id) == ("subscription.canceled", payload["id"])
    assert delivery.id.startswith("msg_fake_")
    assert (delivery.url, delivery.subscription_id) == (f"{url}/hooks/paylera", sub)
    assert delivery.change is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
    assert delivery.faults == ()
    (attempt,) = delivery.attempts
    assert (attempt.number, attempt.status_code, attempt.error, attempt.fault) == (
        1,
        200,
        None,
        None,
    )
    assert attempt.headers["Content-Type"] == "application/json"
    assert attempt.headers["User-Agent"] == "portalkit-sandbox (Paylera twin webhooks)"
    assert attempt.headers["X-Fake-Delivery-Id"] == delivery.id
    assert attempt.headers["X-Fake-Timestamp"] == str(attempt.timestamp)
    assert abs(attempt.timestamp - time.time()) < 5  # the real clock, as receivers check


def test_a_changes_events_go_in_order_one_at_a_time(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/raw")
    app.delays.extend([0.2])  # the first is slow: the second still waits its turn
    customer, sub = first_subscription(sandbox, "paylera")
    other = sandbox.subscriptions("paylera", customer)[1]
    first = sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED, subscription_id=sub)
    second = sandbox.trigger("paylera", EventType.PAYMENT_METHOD_UPDATED, subscription_id=other)
    sandbox.wait_for_deliveries("paylera", 3)
    sent = [*first.events, *second.events]
    assert [json.loads(hit.body) for hit in app.raw] == sent
    assert [d.json() for d in sandbox.deliveries("paylera")] == sent
    starts = [d.attempts[0].at for d in sandbox.deliveries("paylera")]
    assert (starts[1] - starts[0]).total_seconds() >= 0.2  # not sent before the first ended


def test_a_refused_delivery_is_retried_with_the_same_body_and_id_signed_anew(
    receiver: tuple[Receiver, str],
) -> None:
    app, url = receiver
    clock = itertools.count(1_800_000_000, 10)  # each reading ten seconds later
    sandbox = fake_sandbox(clock=lambda: float(next(clock)))
    sandbox.add_webhook_endpoint("paylera", f"{url}/raw")
    app.statuses.extend([500, 503])
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    (delivery,) = sandbox.wait_for_deliveries("paylera", 1)
    assert [a.status_code for a in delivery.attempts] == [500, 503, 200]
    assert delivery.state == "delivered"
    assert [hit.body for hit in app.raw] == [delivery.body] * 3
    assert {hit.headers["x-fake-delivery-id"] for hit in app.raw} == {delivery.id}
    stamps = [int(hit.headers["x-fake-timestamp"]) for hit in app.raw]
    assert stamps == [a.timestamp for a in delivery.attempts]
    assert stamps == sorted(set(stamps))  # a new timestamp, and signature, at each attempt
    signatures = {hit.headers["paylera-signature"] for hit in app.raw}
    assert len(signatures) == 3


def test_an_endpoint_that_never_answers_is_given_up_after_the_last_attempt(
    receiver: tuple[Receiver, str],
) -> None:
    sandbox = fake_sandbox(delivery_policy=DeliveryPolicy(max_attempts=4, backoff=0.05))
    sandbox.add_webhook_endpoint("paylera", f"http://127.0.0.1:{closed_port()}/hooks")
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    (delivery,) = sandbox.wait_for_deliveries("paylera", 1)
    assert delivery.state == "failed"
    assert not delivery.delivered
    assert [a.number for a in delivery.attempts] == [1, 2, 3, 4]
    for attempt in delivery.attempts:
        assert attempt.status_code is None
        assert str(attempt.error).startswith("ConnectError")
    # Exponential backoff: 0.05, 0.1, 0.2 s between attempts (a lower bound, not a speed test).
    gaps = [
        (later.at - earlier.at).total_seconds()
        for earlier, later in itertools.pairwise(delivery.attempts)
    ]
    for gap, wanted in zip(gaps, [0.05, 0.1, 0.2], strict=True):
        assert gap >= wanted * 0.9


def test_a_timeout_is_no_answer_and_is_retried(receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    sandbox = fake_sandbox(
        delivery_policy=DeliveryPolicy(max_attempts=3, backoff=0.01, timeout=0.2)
    )
    sandbox.add_webhook_endpoint("paylera", f"{url}/raw")
    app.delays.append(1.0)
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    (delivery,) = sandbox.wait_for_deliveries("paylera", 1)
    first, second = delivery.attempts
    assert first.status_code is None
    assert "Timeout" in str(first.error)
    assert second.status_code == 200


def test_every_endpoint_gets_every_event(sandbox: Sandbox, receiver: tuple[Receiver, str]) -> None:
    app, url = receiver
    hooks, raw = f"{url}/hooks/paylera", f"{url}/raw"
    sandbox.add_webhook_endpoint("paylera", hooks)
    sandbox.add_webhook_endpoint("paylera", raw)
    sandbox.add_webhook_endpoint("paylera", raw)  # once is enough
    assert sandbox.webhook_endpoints("paylera") == [hooks, raw]
    applied = sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED)
    assert applied.deliveries == 4
    deliveries = sandbox.wait_for_deliveries("paylera", 4)
    assert [d.url for d in deliveries] == [hooks, raw, hooks, raw]
    assert deliveries[0].id == deliveries[1].id  # one id per event, whichever endpoint
    assert deliveries[0].id != deliveries[2].id
    assert len(app.raw) == 2
    assert [e.type for e in app.events["paylera"]] == [
        EventType.SUBSCRIPTION_UPDATED,
        EventType.SUBSCRIPTION_CANCELED,
    ]
    sandbox.remove_webhook_endpoint("paylera", raw)
    assert sandbox.webhook_endpoints("paylera") == [hooks]
    sandbox.remove_webhook_endpoint("paylera")
    assert sandbox.webhook_endpoints("paylera") == []


@pytest.mark.parametrize(
    "url", ["", "ftp://127.0.0.1/hooks", "/hooks/relative", "http:///no-host", "http://a b/"]
)
def test_an_endpoint_must_be_an_http_url(url: str) -> None:
    with pytest.raises(ValueError, match="webhook endpoint"):
        fake_sandbox().add_webhook_endpoint("paylera", url)


def test_a_twin_without_webhooks_has_no_webhook_api() -> None:
    sandbox = fake_sandbox()
    for call in (
        lambda: sandbox.webhook_env("paddle"),
        lambda: sandbox.add_webhook_endpoint("paddle", "http://127.0.0.1:1/x"),
        lambda: sandbox.script_deliveries("paddle", DeliveryFault.duplicate()),
    ):
        with pytest.raises(ValueError, match="paddle: the twin sends no webhooks"):
            call()
    with pytest.raises(TypeError, match="DeliveryFault values, not Fault"):
        sandbox.script_deliveries("paylera", Fault.drop())  # type: ignore[arg-type]


# -- scripted delivery faults -------------------------------------------------------------------


def test_duplicate_is_delivered_twice_and_handled_once(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/hooks/paylera")
    sandbox.script_deliveries("paylera", DeliveryFault.duplicate())
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    original, copy = sandbox.wait_for_deliveries("paylera", 2)
    assert (copy.id, copy.body) == (original.id, original.body)
    assert (original.faults, copy.faults) == ((), ("duplicate",))
    assert original.delivered  # the view answers a duplicate 200 without the handler
    assert copy.delivered
    assert app.handler_calls["paylera"] == 1
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_UNCANCELED)  # the fault was used up
    assert len(sandbox.wait_for_deliveries("paylera", 3)) == 3


def test_out_of_order_swaps_the_next_two_events_even_across_changes(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/hooks/paylera")
    sandbox.script_deliveries("paylera", DeliveryFault.out_of_order(), DeliveryFault.out_of_order())
    scheduled = sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    with pytest.raises(
        TimeoutError, match=r"1 event\(s\) held back by DeliveryFault\.out_of_order"
    ):
        sandbox.wait_for_deliveries("paylera", 1, timeout=0.1)
    withdrawn = sandbox.trigger("paylera", EventType.SUBSCRIPTION_UNCANCELED)
    ended = sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED)  # two events: swapped
    deliveries = sandbox.wait_for_deliveries("paylera", 4)
    sent = [withdrawn.events[0], scheduled.events[0], ended.events[1], ended.events[0]]
    assert [d.json() for d in deliveries] == sent
    assert [dict(e.raw) for e in app.events["paylera"]] == sent
    assert all(d.faults == ("out_of_order",) for d in deliveries)
    assert [d.change for d in deliveries] == [  # each logged under its own change
        EventType.SUBSCRIPTION_UNCANCELED,
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        EventType.SUBSCRIPTION_CANCELED,
        EventType.SUBSCRIPTION_CANCELED,
    ]
    assert (scheduled.deliveries, withdrawn.deliveries, ended.deliveries) == (0, 2, 2)
    # Why an app orders by occurred_at or a resource version: the last to arrive is older.
    versions = [e.raw["data"]["object"]["version"] for e in app.events["paylera"]]
    assert versions == [3, 2, 4, 4]


def test_late_is_signed_an_hour_ago_and_refused_by_the_view(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/hooks/paylera")
    sandbox.script_deliveries("paylera", DeliveryFault.late())
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    (late,) = sandbox.wait_for_deliveries("paylera", 1)
    assert late.state == "failed"
    assert [a.status_code for a in late.attempts] == [400] * FAST.max_attempts
    for attempt in late.attempts:
        assert attempt.fault == "late"
        assert attempt.timestamp == pytest.approx(attempt.at.timestamp() - 3600, abs=1)
    assert app.handler_calls["paylera"] == 0
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_UNCANCELED)  # the next is on time
    assert sandbox.wait_for_deliveries("paylera", 2)[1].delivered


def test_bad_signature_is_refused_by_the_view(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/hooks/paylera")
    sandbox.script_deliveries("paylera", DeliveryFault.bad_signature(), DeliveryFault.duplicate())
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_UNCANCELED)
    forged, original, copy = sandbox.wait_for_deliveries("paylera", 3)
    assert forged.faults == ("bad_signature",)
    assert forged.state == "failed"
    assert {a.status_code for a in forged.attempts} == {400}
    expected = Webhooks("paylera", FAKE_SECRET + "-wrong").sign(
        forged.body, timestamp=forged.attempts[0].timestamp
    )
    assert forged.attempts[0].headers["Paylera-Signature"] == expected["Paylera-Signature"]
    assert (original.faults, copy.faults) == ((), ("duplicate",))  # one fault per event
    assert [e.type for e in app.events["paylera"]] == [EventType.SUBSCRIPTION_UNCANCELED]


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"max_attempts": 2.5}, {"backoff": -1}, {"timeout": 0}],
)
def test_a_delivery_policy_is_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="DeliveryPolicy: "):
        DeliveryPolicy(**options)


def test_the_default_policy_doubles_from_a_twentieth_of_a_second() -> None:
    policy = DeliveryPolicy()
    assert (policy.max_attempts, policy.timeout) == (5, 5.0)
    assert [policy.delay(n) for n in range(1, 5)] == [0.05, 0.1, 0.2, 0.4]


def test_delivery_faults_as_json() -> None:
    faults = [
        DeliveryFault.duplicate(),
        DeliveryFault.out_of_order(),
        DeliveryFault.late(),
        DeliveryFault.late(seconds=90),
        DeliveryFault.bad_signature(),
    ]
    assert [DeliveryFault.from_json(f.to_json()) for f in faults] == faults
    assert DeliveryFault.late().to_json() == {"kind": "late", "seconds": 3600.0}
    assert DeliveryFault.duplicate().describe() == '{"kind":"duplicate"}'
    for bad, message in [
        ("duplicate", "JSON object"),
        ({"kind": "lost"}, "unknown delivery fault kind 'lost'"),
        ({"kind": "late", "seconds": "soon"}, "'seconds' must be a number"),
        ({"kind": "late", "seconds": -1}, "must not be negative"),
    ]:
        with pytest.raises(ValueError, match=message):
            DeliveryFault.from_json(bad)


# -- lifecycle ----------------------------------------------------------------------------------


def test_reset_drops_deliveries_faults_and_states_but_keeps_endpoints(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    endpoint = f"{url}/hooks/paylera"
    sandbox.add_webhook_endpoint("paylera", endpoint)
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    sandbox.wait_for_deliveries("paylera", 1)
    sandbox.script_deliveries("paylera", DeliveryFault.bad_signature())
    httpx.post(f"{sandbox.url}/_sandbox/reset", headers={"content-type": "application/json"})
    assert sandbox.deliveries("paylera") == []
    assert sandbox.webhook_endpoints("paylera") == [endpoint]
    _, sub = first_subscription(sandbox, "paylera")
    assert sandbox.subscription("paylera", sub).version == 1
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    (delivery,) = sandbox.wait_for_deliveries("paylera", 1)
    assert delivery.delivered
    assert delivery.faults == ()  # the scripted fault went with the reset


def test_leaving_serve_abandons_what_is_left_without_waiting_for_the_backoff() -> None:
    sandbox = fake_sandbox(delivery_policy=DeliveryPolicy(max_attempts=5, backoff=30))
    sandbox.add_webhook_endpoint("paylera", f"http://127.0.0.1:{closed_port()}/hooks")
    with sandbox.serve():
        sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED)
        deadline = time.monotonic() + 5
        while not sandbox.deliveries("paylera")[0].attempts:  # the first attempt is made
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.monotonic()
    assert time.monotonic() - started < 5  # not 30 s of backoff
    first, second = sandbox.deliveries("paylera")
    assert (first.state, len(first.attempts)) == ("abandoned", 1)
    assert (second.state, second.attempts) == ("abandoned", ())
    assert not any(t.name.startswith(LANE_THREAD) for t in threading.enumerate())


def test_an_idle_sandbox_runs_no_delivery_thread(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/raw")
    app.delays.append(0.3)  # the lane is surely busy when looked at
    sandbox.trigger("paylera", EventType.SUBSCRIPTION_CANCELED)
    assert [t.name for t in threading.enumerate() if t.name.startswith(LANE_THREAD)] == [
        f"{LANE_THREAD}paylera"
    ]
    sandbox.wait_for_deliveries("paylera", 2)
    # no_thread_left (autouse) checks the lane's thread is gone once its queue is empty.


# -- the portal page ---------------------------------------------------------------------------


def open_portal(client: httpx.Client, vendor: str, url: str) -> httpx.Response:
    """Open a minted link as a browser does (a ``#t=`` token traded at ``<link>/exchange``),
    keeping the portal cookie in ``client``; the portal page."""
    parts = urlsplit(url)
    page = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
    response = client.get(page)
    tokens = [pair[2:] for pair in parts.fragment.split("&") if pair.startswith("t=")]
    if tokens:
        assert client.post(f"{page}/exchange", json={"token": tokens[0]}).status_code == 204
        response = client.get(f"/{vendor}/session")
    assert response.status_code == 200, response.text
    return response


def status_of(page: str, sub: str) -> tuple[str, str]:
    found = re.search(
        rf'<span id="subscription-status-{re.escape(sub)}" data-status="([^"]+)">([^<]*)</span>',
        page,
    )
    assert found is not None, page
    return found.group(1), found.group(2)


def buttons(page: str, sub: str) -> list[str]:
    return re.findall(rf'<form id="act-([a-z_]+)-{re.escape(sub)}"', page)


def test_the_portal_buttons_change_the_subscription_and_send_its_events(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    sandbox.add_webhook_endpoint("paylera", f"{url}/hooks/paylera")
    customer, sub = first_subscription(sandbox, "paylera")
    with Portal(sandbox.provider("paylera")) as portal:
        link = portal.create_link(PortalRequest(customer, return_url=RETURN_URL))
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        page = open_portal(client, "paylera", link.url).text
        assert status_of(page, sub) == ("active", "Active")
        assert f'id="subscription-plan-{sub}" data-plan="plan_fake_basic"' in page
        assert buttons(page, sub) == [
            "update_subscription",
            "cancel_subscription",
            "update_payment_method",
        ]
        form = re.search(rf'<form id="act-cancel_subscription-{sub}"[^>]*>.*?</form>', page)
        assert form is not None
        assert 'action="/paylera/session/act"' in form.group(0)
        assert f'data-action="cancel_subscription" data-subscription-id="{sub}"' in form.group(0)

        cancel = {"action": "cancel_subscription", "subscription_id": sub}
        answer = client.post("/paylera/session/act", data=cancel)
        assert (answer.status_code, answer.headers["location"]) == (303, "/paylera/session")
        state = sandbox.subscription("paylera", sub)
        assert state.cancel_at_period_end
        page = client.get("/paylera/session").text
        ends = time.strftime("%Y-%m-%d", time.gmtime(state.current_period_end))
        assert status_of(page, sub) == ("cancel_scheduled", f"Ends on {ends}")
        assert buttons(page, sub) == [
            "update_subscription",
            "update_payment_method",
            "withdraw_cancellation",
        ]
        assert client.post("/paylera/session/act", data=cancel).status_code == 409  # not again

        withdraw = {"action": "withdraw_cancellation", "subscription_id": sub}
        assert client.post("/paylera/session/act", data=withdraw).status_code == 303
        change_plan = {"action": "update_subscription", "subscription_id": sub}
        assert client.post("/paylera/session/act", data=change_plan).status_code == 303
        page = client.get("/paylera/session").text
        assert status_of(page, sub) == ("active", "Active")
        assert 'data-plan="plan_fake_pro"' in page

    sandbox.wait_for_deliveries("paylera", 3)
    assert [e.type for e in app.events["paylera"]] == [
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        EventType.SUBSCRIPTION_UNCANCELED,
        EventType.SUBSCRIPTION_PLAN_CHANGED,
    ]
    assert {e.subscription_id for e in app.events["paylera"]} == {sub}


def test_the_portal_offers_only_what_the_session_allows(sandbox: Sandbox) -> None:
    customer, sub = first_subscription(sandbox, "paylera")
    config = PortalConfiguration(cancel_subscription=False)
    with Portal(sandbox.provider("paylera")) as portal:
        link = portal.create_link(PortalRequest(customer, configuration=config))
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        page = open_portal(client, "paylera", link.url).text
        assert "cancel_subscription" not in buttons(page, sub)
        refused = client.post(
            "/paylera/session/act", data={"action": "cancel_subscription", "subscription_id": sub}
        )
        assert refused.status_code == 409
        assert 'id="action-refused"' in refused.text
    assert not sandbox.subscription("paylera", sub).cancel_at_period_end


def test_the_act_endpoint_refuses_what_the_page_would_not_send(sandbox: Sandbox) -> None:
    customer, sub = first_subscription(sandbox, "paylera")
    other = sandbox.subscriptions("paylera", sandbox.customers("paylera")[1])[0]
    cancel = {"action": "cancel_subscription", "subscription_id": sub}
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        assert client.post("/paylera/session/act", data=cancel).status_code == 401  # no cookie
        with Portal(sandbox.provider("paylera")) as portal:
            open_portal(client, "paylera", portal.create_link(PortalRequest(customer)).url)
        theirs = {"action": "cancel_subscription", "subscription_id": other}
        assert client.post("/paylera/session/act", data=theirs).status_code == 404
        assert client.post("/paylera/session/act", data={"action": "x"}).status_code == 400
        for elsewhere in (
            {"origin": "http://127.0.0.1:1"},
            {"origin": "null", "sec-fetch-site": "same-site"},  # another port's page
            {"sec-fetch-site": "cross-site"},
        ):
            answer = client.post("/paylera/session/act", data=cancel, headers=elsewhere)
            assert answer.status_code == 403, elsewhere
            assert 'id="cross-origin"' in answer.text
        assert client.post("/paddle/session/act", data=cancel).status_code in (404, 405)
    assert sandbox.subscription("paylera", sub).version == 1
    assert not sandbox.subscription("paylera", other).cancel_at_period_end


def test_a_twin_without_webhooks_shows_its_subscriptions_as_before(sandbox: Sandbox) -> None:
    customer, sub = first_subscription(sandbox, "paddle")
    with Portal(sandbox.provider("paddle")) as portal:
        link = portal.create_link(PortalRequest(customer))
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        page = open_portal(client, "paddle", link.url).text
    assert f'<li id="subscription-{sub}" data-subscription-id="{sub}">{sub}</li>' in page
    assert "<form" not in page


# -- control endpoints ------------------------------------------------------------------------


def test_the_control_endpoints_drive_webhooks_from_another_process(
    sandbox: Sandbox, receiver: tuple[Receiver, str]
) -> None:
    app, url = receiver
    endpoint = f"{url}/hooks/paylera"
    with httpx.Client(base_url=f"{sandbox.url}/_sandbox", timeout=5) as http:
        added = http.post("/paylera/webhooks/endpoints", json={"url": endpoint})
        assert (added.status_code, added.json()) == (201, {"endpoints": [endpoint]})
        queued = http.post("/paylera/webhooks/faults", json={"faults": [{"kind": "duplicate"}]})
        assert queued.json() == {"queued": 1}
        overview = http.get("/paylera/webhooks").json()
        assert overview["env"] == FAKE_ENV
        assert overview["endpoints"] == [endpoint]
        assert overview["pending_faults"] == [{"kind": "duplicate"}]
        assert "subscription_cancel_scheduled" in overview["changes"]
        vendors = http.get(f"{sandbox.url}/_sandbox").json()["vendors"]
        assert vendors["paylera"]["webhooks"] == FAKE_ENV
        assert vendors["paddle"]["webhooks"] is None

        _, sub = first_subscription(sandbox, "paylera")
        triggered = http.post(
            "/paylera/webhooks/trigger",
            json={"change": "subscription_cancel_scheduled", "subscription_id": sub},
        )
        assert triggered.status_code == 202
        body = triggered.json()
        assert (body["change"], body["deliveries"]) == ("subscription_cancel_scheduled", 2)
        assert body["after"]["cancel_at_period_end"] is True
        assert body["events"][0]["type"] == "subscription.canceled"
        sandbox.wait_for_deliveries("paylera", 2)
        listed = http.get("/paylera/webhooks/deliveries").json()["deliveries"]
        assert [d["faults"] for d in listed] == [[], ["duplicate"]]
        assert [d["state"] for d in listed] == ["delivered", "delivered"]
        assert listed[0]["attempts"][0]["status_code"] == 200
        assert json.loads(listed[0]["body"]) == body["events"][0]
        state = http.get(f"/paylera/subscriptions/{sub}").json()
        assert (state["id"], state["cancel_at_period_end"], state["version"]) == (sub, True, 2)

        for path, payload, status, message in [
            (
                "/paylera/webhooks/trigger",
                {"change": "subscription_exploded"},
                400,
                "unknown change",
            ),
            ("/paylera/webhooks/trigger", {}, 400, "'change' is required"),
            (
                "/paylera/webhooks/trigger",
                {"change": "subscription_canceled", "subscription_id": "sub_nobody"},
                404,
                "sub_nobody",
            ),
            ("/paylera/webhooks/endpoints", {"url": "ftp://x"}, 400, "http(s) URL"),
            ("/paylera/webhooks/faults", {"faults": [{"kind": "lost"}]}, 400, "'lost'"),
            ("/paddle/webhooks/trigger", {"change": "subscription_canceled"}, 404, "no webhooks"),
            ("/acme/webhooks/trigger", {"change": "subscription_canceled"}, 404, "unknown vendor"),
        ]:
            answer = http.post(path, json=payload)
            assert answer.status_code == status, (path, answer.text)
            assert message in answer.json()["error"]
        assert http.get("/paylera/subscriptions/sub_nobody").status_code == 404
        form = http.post("/paylera/webhooks/trigger", data={"change": "subscription_canceled"})
        assert form.status_code == 415  # a web page's simple form post cannot trigger
        assert http.delete("/paylera/webhooks/endpoints").status_code == 204
    assert sandbox.webhook_endpoints("paylera") == []
    assert app.handler_calls["paylera"] == 1


# -- every registered twin that sends webhooks ------------------------------------------------

WEBHOOK_VENDORS = tuple(t.name for t in load_twins() if t.webhooks is not None)


def test_the_built_in_twins_send_webhooks() -> None:
    # The registry-parametrized tests below run for each of them: never silently for none.
    assert len(WEBHOOK_VENDORS) >= 1


@pytest.fixture(scope="module")
def real() -> Iterator[Sandbox]:
    sandbox = Sandbox(delivery_policy=FAST)
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def to_app(real: Sandbox, request: pytest.FixtureRequest) -> Iterator[tuple[Sandbox, Receiver]]:
    """The real sandbox, reset, forwarding the test's vendor's webhooks to portalkit's view in
    an app served for this test (a fresh event log each time)."""
    vendor: str = request.node.callspec.params["vendor"]
    real.reset()
    app = Receiver({vendor: real.webhook_env(vendor)})
    with serve(app.app(), bind_loopback()) as url:
        real.add_webhook_endpoint(vendor, f"{url}/hooks/{vendor}")
        yield real, app
        real.remove_webhook_endpoint(vendor)
        real.reset()


def second_change(sandbox: Sandbox, vendor: str) -> EventType:
    """After a scheduled cancellation: withdrawing it where the vendor has an event for
    that, else ending the subscription."""
    changes = sandbox.twin(vendor).webhooks.changes  # type: ignore[union-attr]
    if EventType.SUBSCRIPTION_UNCANCELED in changes:
        return EventType.SUBSCRIPTION_UNCANCELED
    return EventType.SUBSCRIPTION_CANCELED


def normalized(payload: Any) -> Any:
    return json.loads(json.dumps(payload))


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_events_reach_the_app_as_billing_events(
    vendor: str, to_app: tuple[Sandbox, Receiver]
) -> None:
    sandbox, app = to_app
    customer, sub = first_subscription(sandbox, vendor)
    scheduled = sandbox.trigger(
        vendor,
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        customer_id=customer,
        subscription_id=sub,
    )
    deliveries = sandbox.wait_for_deliveries(vendor, scheduled.deliveries)
    assert all(d.delivered for d in deliveries), [d.attempts for d in deliveries]
    # The log reads the vendor's event name as portalkit's reader does, whoever the vendor.
    assert [d.event_type for d in deliveries] == [e.vendor_type for e in app.events[vendor]]
    types = [e.type for e in app.events[vendor]]
    assert EventType.SUBSCRIPTION_CANCEL_SCHEDULED in types, types
    for event in app.events[vendor]:
        assert event.provider == vendor
        assert event.subscription_id in (None, sub)

    ended = sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCELED, subscription_id=sub)
    sandbox.wait_for_deliveries(vendor, scheduled.deliveries + ended.deliveries)
    later = [e.type for e in app.events[vendor][len(types) :]]
    assert EventType.SUBSCRIPTION_CANCELED in later, later
    assert sandbox.subscription(vendor, sub).status == "canceled"


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_delivery_is_retried_after_a_500(
    vendor: str, to_app: tuple[Sandbox, Receiver]
) -> None:
    sandbox, app = to_app
    app.fail_next[vendor] = 1  # the handler raises once: portalkit's view answers 500
    applied = sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    first, *rest = sandbox.wait_for_deliveries(vendor, applied.deliveries)
    assert [a.status_code for a in first.attempts] == [500, 200]
    assert first.attempts[0].timestamp <= first.attempts[1].timestamp
    assert all([a.status_code for a in d.attempts] == [200] for d in rest)
    assert app.handler_calls[vendor] == len(applied.events) + 1
    assert len(app.events[vendor]) == len(applied.events)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_duplicate_is_handled_once(vendor: str, to_app: tuple[Sandbox, Receiver]) -> None:
    sandbox, app = to_app
    sandbox.script_deliveries(vendor, DeliveryFault.duplicate())
    applied = sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    deliveries = sandbox.wait_for_deliveries(vendor, len(applied.events) + 1)
    original, copy = deliveries[:2]
    assert (copy.id, copy.body, copy.faults) == (original.id, original.body, ("duplicate",))
    assert all(d.delivered for d in deliveries)
    assert app.handler_calls[vendor] == len(applied.events)  # once per event


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_events_can_arrive_out_of_order(
    vendor: str, to_app: tuple[Sandbox, Receiver]
) -> None:
    sandbox, app = to_app
    sandbox.script_deliveries(vendor, DeliveryFault.out_of_order())
    _, sub = first_subscription(sandbox, vendor)
    first = sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED, subscription_id=sub)
    second = sandbox.trigger(vendor, second_change(sandbox, vendor), subscription_id=sub)
    events = [*first.events, *second.events]
    sandbox.wait_for_deliveries(vendor, len(events))
    swapped = [events[1], events[0], *events[2:]]
    assert [normalized(dict(e.raw)) for e in app.events[vendor]] == normalized(swapped)


def rejects_an_hour_old_timestamp(vendor: str, sandbox: Sandbox) -> bool:
    """Whether portalkit's receiver for ``vendor`` refuses a signature an hour old: only a
    scheme with a signed timestamp and a window shorter than that."""
    signature: Any = Webhooks.from_env(sandbox.webhook_env(vendor)).vendor.signature
    tolerance = getattr(signature, "tolerance", None)
    return bool(signature.has_timestamp and tolerance is not None and tolerance < 3600)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_late_delivery_is_refused_where_its_signature_has_a_time(
    vendor: str, to_app: tuple[Sandbox, Receiver]
) -> None:
    sandbox, app = to_app
    sandbox.script_deliveries(vendor, DeliveryFault.late(seconds=3600))
    applied = sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    late, *rest = sandbox.wait_for_deliveries(vendor, len(applied.events))
    assert late.faults == ("late",)
    if rejects_an_hour_old_timestamp(vendor, sandbox):
        assert late.state == "failed"
        assert [a.status_code for a in late.attempts] == [400] * FAST.max_attempts
        assert app.handler_calls[vendor] == len(applied.events) - 1
    else:  # nothing signed carries a time (Basic credentials, a bare body HMAC)
        assert late.delivered
        assert app.handler_calls[vendor] == len(applied.events)
    assert all(d.delivered for d in rest)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_bad_signature_is_refused(vendor: str, to_app: tuple[Sandbox, Receiver]) -> None:
    sandbox, app = to_app
    sandbox.script_deliveries(vendor, DeliveryFault.bad_signature())
    applied = sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
    forged, *rest = sandbox.wait_for_deliveries(vendor, len(applied.events))
    assert forged.state == "failed"
    assert [a.status_code for a in forged.attempts] == [400] * FAST.max_attempts
    assert all(d.delivered for d in rest)
    assert app.handler_calls[vendor] == len(applied.events) - 1


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_vendors_portal_cancel_button_sends_its_events(
    vendor: str, to_app: tuple[Sandbox, Receiver]
) -> None:
    sandbox, app = to_app
    hooks = sandbox.twin(vendor).webhooks
    assert hooks is not None
    cancels = (EventType.SUBSCRIPTION_CANCEL_SCHEDULED, EventType.SUBSCRIPTION_CANCELED)
    action, change = next((a, c) for a, c in hooks.action_changes.items() if c in cancels)
    customer, sub = first_subscription(sandbox, vendor)
    with Portal(sandbox.provider(vendor)) as portal:
        link = portal.create_link(PortalRequest(customer, return_url=RETURN_URL))
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        page = open_portal(client, vendor, link.url).text
        assert action in buttons(page, sub)
        answer = client.post(
            f"/{vendor}/session/act", data={"action": action, "subscription_id": sub}
        )
        assert (answer.status_code, answer.headers["location"]) == (303, f"/{vendor}/session")
        page = client.get(f"/{vendor}/session").text
    wanted = "cancel_scheduled" if change is EventType.SUBSCRIPTION_CANCEL_SCHEDULED else "canceled"
    assert status_of(page, sub)[0] == wanted
    queued = len(sandbox.deliveries(vendor))  # queued before the 303 was answered
    assert queued >= 1
    assert all(d.delivered for d in sandbox.wait_for_deliveries(vendor, queued))
    assert change in [e.type for e in app.events[vendor]]
    assert {e.subscription_id for e in app.events[vendor]} <= {sub, None}
