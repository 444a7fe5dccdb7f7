"""docs/sandbox.md's table of what each twin's portal page lets a customer do, and the events
each button sends, is the one the twins make (portalkit/sandbox/_docs.py, written by
scripts/gen_capabilities.py) -- and what the served page and ``Sandbox.trigger`` really do."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from test_sandbox_webhooks import RETURN_URL, buttons, open_portal

from portalkit import EventType, Portal, PortalRequest, Webhooks
from portalkit._http import httpx
from portalkit.sandbox import Sandbox
from portalkit.sandbox._deliveries import _TYPE_PATHS, _read, json_body
from portalkit.sandbox._docs import (
    BLOCK,
    builtin_twins,
    generated_sandbox_pages,
    portal_rows,
    render_portal_actions,
)
from portalkit.sandbox._twin_events import Change

DOCS = Path(__file__).resolve().parents[1] / "docs"
TWINS = builtin_twins()
WITH_WEBHOOKS = [twin.name for twin in TWINS if twin.webhooks is not None]


def test_the_sandbox_page_matches_the_twins() -> None:
    ((page, wanted),) = generated_sandbox_pages(DOCS).items()
    assert page == DOCS / "sandbox.md"
    assert page.read_text(encoding="utf-8") == wanted, (
        "docs/sandbox.md is out of date: run scripts/gen_capabilities.py"
    )
    # Every built-in twin is in it, each of its actions on a row of its own.
    table = wanted.split(f"<!-- generated:{BLOCK}:begin", 1)[1].split(f"{BLOCK}:end", 1)[0]
    for twin in TWINS:
        for action, label in twin.actions:
            assert f'| {twin.title} | "{label}" (`{action}`) |' in table


def test_a_changed_twin_is_drift() -> None:
    paddle = next(twin for twin in TWINS if twin.name == "paddle")
    assert paddle.webhooks is not None
    before = render_portal_actions([paddle])
    # A plan-change button on Paddle's page (today its "Manage subscriptions" is listed only).
    hooks = attrs.evolve(
        paddle.webhooks,
        action_changes={
            **paddle.webhooks.action_changes,
            "update_subscription": Change.SUBSCRIPTION_PLAN_CHANGED,
        },
    )
    assert render_portal_actions([attrs.evolve(paddle, webhooks=hooks)]) != before
    # An action the page no longer lists.
    fewer = attrs.evolve(paddle, actions=paddle.actions[1:])
    assert render_portal_actions([fewer]) != before
    # A twin without webhooks lists its actions, no button.
    quiet = render_portal_actions([attrs.evolve(paddle, webhooks=None)])
    assert quiet.count("none: listed only") == len(paddle.actions)


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.mark.parametrize("vendor", WITH_WEBHOOKS)
def test_the_page_offers_what_the_table_says(vendor: str, served: Sandbox) -> None:
    """The served page lists the twin's actions, shows a button for each row with one (the
    withdrawal once a cancellation is scheduled), and pressing "Cancel subscription" makes
    the change the table names."""
    sandbox = served
    sandbox.reset()
    twin = sandbox.twin(vendor)
    rows = portal_rows(twin)
    customer = sandbox.customers(vendor)[0]
    sub = sandbox.subscriptions(vendor, customer)[0]
    with Portal(sandbox.provider(vendor)) as portal:
        link = portal.create_link(PortalRequest(customer, return_url=RETURN_URL))
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        page = open_portal(client, vendor, link.url).text
        listed = re.findall(r'id="action-([a-z_]+)"', page)
        assert listed == [action for action, _ in twin.actions]
        at_first = [row.action for row in rows if row.change is not None and not row.only_when]
        assert buttons(page, sub) == at_first
        cancel = next(row for row in rows if row.action == "cancel_subscription")
        assert cancel.change is Change.SUBSCRIPTION_CANCEL_SCHEDULED
        pressed = {"action": "cancel_subscription", "subscription_id": sub}
        assert client.post(f"/{vendor}/session/act", data=pressed).status_code == 303
        assert sandbox.subscription(vendor, sub).cancel_at_period_end
        page = client.get(f"/{vendor}/session").text
        scheduled = [
            row.action
            for row in rows
            if row.change is not None
            and row.change is not Change.SUBSCRIPTION_CANCEL_SCHEDULED
            and row.change is not Change.SUBSCRIPTION_CANCELED
        ]
        assert buttons(page, sub) == scheduled


@pytest.mark.parametrize("vendor", WITH_WEBHOOKS)
def test_each_button_sends_the_events_the_table_says(vendor: str) -> None:
    """``Sandbox.trigger`` (what a button does) sends, for each row's change, the vendor
    events the table names, and ``portalkit.Webhooks`` reads each as it says."""
    sandbox = Sandbox()
    verifier = Webhooks.from_env(sandbox.webhook_env(vendor))
    hooks = sandbox.twin(vendor).webhooks
    assert hooks is not None
    for row in portal_rows(sandbox.twin(vendor)):
        if row.change is None:
            continue
        sandbox.reset()
        if row.only_when:  # the withdrawal: a cancellation first
            sandbox.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
        applied = sandbox.trigger(vendor, row.change)
        sent = []
        for payload in applied.events:
            body = json_body(payload)
            headers = hooks.sign(body, payload, hooks.secret, 1_780_000_000, "whd_test")
            kind = verifier.parse(headers, body, now=1_780_000_000).type.name
            sent.append((_read(payload, _TYPE_PATHS), kind))
        assert tuple(sent) == row.events, (vendor, row.action)
        assert row.events, (vendor, row.action)
