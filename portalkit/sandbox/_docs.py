"""The sandbox page's generated table: what each twin's hosted portal page lets a customer
do, and the events each of its buttons sends.

Read from what the page itself runs: the twin's ``actions`` (what the page lists), the
buttons ``portal_actions`` gives a subscription (before and after a scheduled cancellation),
the change each button applies, the twin's events for that change (``TwinWebhooks.events``)
and how ``portalkit.Webhooks`` reads each, delivered as the twin signs it.
``scripts/gen_capabilities.py`` writes it into docs/sandbox.md between markers;
tests/test_sandbox_actions_doc.py fails when the page and the twins disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from .._capability_docs import with_block
from .._registry import SANDBOX_GROUP, entry_points
from .._webhooks import Webhooks
from ._changes import PortalAction, portal_actions
from ._deliveries import _TYPE_PATHS, _read, json_body
from ._describe import webhook_env
from ._subscriptions import new_state, refusal, transition
from ._twin_events import Change, SubscriptionState, TwinWebhooks
from ._twins import load_twins
from .twin import Twin, _all_actions

#: The generated block in docs/sandbox.md.
BLOCK = "sandbox-portal-actions"
#: The sandbox time the example events are built at (any fixed time: only their types show).
NOW = 1_780_000_000.0


@attrs.frozen
class ActionRow:
    """One thing a twin's portal page offers: its label and action id, the change its button
    applies (None: listed, no button), when the button shows, and the events it sends, each
    as ``(vendor event, EventType name)``."""

    label: str
    action: str
    change: Change | None = None
    only_when: str = ""
    events: tuple[tuple[str, str], ...] = ()


def portal_rows(twin: Twin) -> list[ActionRow]:
    """What ``twin``'s page offers a customer, in the page's order, then the buttons that are
    not among its listed actions ("Withdraw cancellation")."""
    hooks = twin.webhooks
    if hooks is None:
        return [ActionRow(label, action) for action, label in twin.actions]
    # Any subscription will do: only the types of the events it sends show.
    fresh = new_state(hooks, twin.subscription_id.new(NOW), twin.customer_id.new(NOW), NOW)
    states = [("", fresh)]
    if refusal(fresh, Change.SUBSCRIPTION_CANCEL_SCHEDULED, hooks) is None:
        scheduled = transition(fresh, Change.SUBSCRIPTION_CANCEL_SCHEDULED, hooks, NOW)
        states.append(("while a cancellation is scheduled", scheduled))
    buttons: dict[str, tuple[PortalAction, str, SubscriptionState]] = {}
    for when, state in states:
        for button in portal_actions(twin, twin.actions, state):
            buttons.setdefault(button.id, (button, when, state))
    verifier = Webhooks.from_env(webhook_env(twin))
    rows = [
        _button_row(hooks, verifier, *buttons.pop(action))
        if action in buttons
        else ActionRow(label, action)
        for action, label in twin.actions
    ]
    return rows + [_button_row(hooks, verifier, *found) for found in buttons.values()]


def _button_row(
    hooks: TwinWebhooks,
    verifier: Webhooks,
    button: PortalAction,
    when: str,
    before: SubscriptionState,
) -> ActionRow:
    """The row of one button: the events its change sends, as the twin signs them and
    ``verifier`` (``portalkit.Webhooks`` with the twin's secret) reads them."""
    after = transition(before, button.change, hooks, NOW)
    events = []
    for payload in hooks.events(button.change, before, after, NOW):
        body = json_body(payload)
        delivery_id = hooks.delivery_id(NOW) if hooks.delivery_id is not None else "whd_docs"
        headers = hooks.sign(body, payload, hooks.secret, int(NOW), delivery_id)
        read = verifier.parse(headers, body, now=NOW)
        events.append((_read(payload, _TYPE_PATHS) or "", read.type.name))
    return ActionRow(button.label, button.id, button.change, when, tuple(events))


def render_portal_actions(twins: Sequence[Twin]) -> str:
    """One row per thing a twin's page offers: its button's change and the events it sends."""
    lines = [
        "| Vendor | The page offers | The change its button makes | Events sent → `EventType` |",
        "| --- | --- | --- | --- |",
    ]
    for twin in twins:
        for row in portal_rows(twin):
            offers = f'"{row.label}" (`{row.action}`)'
            if row.change is None:
                button, sent = "none: listed only", ""
            else:
                button = f"`{row.change.value}`" + (f", {row.only_when}" if row.only_when else "")
                events = [f"`{event}` → `{kind}`" for event, kind in row.events]
                sent = ", then ".join(events) or "none"
            lines.append(f"| {twin.title} | {offers} | {button} | {sent} |")
    narrowing = [twin.title for twin in twins if twin.allowed_actions is not _all_actions]
    lines += [
        "",
        "A session's `configuration` narrows the page (`Twin.allowed_actions`) at: "
        + (", ".join(narrowing) or "no twin")
        + "; every other twin's page offers all of the above to every session.",
    ]
    return "\n".join(lines) + "\n"


def builtin_twins() -> list[Twin]:
    """The twins portalkit ships, in the sandbox's order (plug-ins installed beside portalkit
    are not part of its docs)."""
    builtin = {
        entry_point.name
        for entry_point in entry_points(group=SANDBOX_GROUP)
        if entry_point.value.startswith("portalkit.providers.")
    }
    return [twin for twin in load_twins() if twin.name in builtin]


def generated_sandbox_pages(docs: Path, twins: Sequence[Twin] | None = None) -> dict[Path, str]:
    """docs/sandbox.md with its generated block as ``twins`` (the built-in ones) make it."""
    page = docs / "sandbox.md"
    text = page.read_text(encoding="utf-8")
    found = builtin_twins() if twins is None else twins
    return {page: with_block(text, BLOCK, render_portal_actions(found))}
