"""docs/webhooks.md is true: every Python snippet runs as printed (in order, as a reader
would paste them, against made-up secrets), and the page names every ``EventType`` and every
``RejectionReason`` the code has."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from _webhook_cases import NOW

from portalkit import EventType, Webhooks
from portalkit.errors import RejectionReason

PAGE = Path(__file__).resolve().parents[1] / "docs" / "webhooks.md"
TEXT = PAGE.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
SECRET = "whsec_docs_page_secret_5e1d"
CANCEL = json.dumps(
    {
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "type": "customer.subscription.deleted",
        "created": 1767225600,
        "data": {
            "object": {
                "id": "sub_1MowQVLkdIwHu7ixeRlqHVzs",
                "object": "subscription",
                "customer": "cus_NffrFeUfNV2Hib",
                "status": "canceled",
                "ended_at": 1767225600,
                "cancel_at_period_end": False,
            }
        },
    },
    separators=(",", ":"),
).encode()


@pytest.fixture
def page_namespace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    monkeypatch.setenv("PORTALKIT_PROVIDER", "stripe")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.chdir(tmp_path)  # the SQLite file of the event-log snippet
    namespace: dict[str, Any] = {"__name__": "docs_webhooks"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for number, block in enumerate(BLOCKS):
            exec(compile(block, f"docs/webhooks.md#{number}", "exec"), namespace)  # noqa: S102
    return namespace


def test_every_snippet_runs_and_the_app_receives(page_namespace: dict[str, Any]) -> None:
    from starlette.testclient import TestClient

    signer = Webhooks("stripe", secrets=[SECRET])
    assert page_namespace["on_delivery"](signer.sign(CANCEL), CANCEL) == 200
    assert page_namespace["on_delivery"](signer.sign(CANCEL), CANCEL + b" ") == 400
    with TestClient(page_namespace["app"]) as client:
        answer = client.post("/hooks/billing", content=CANCEL, headers=signer.sign(CANCEL))
        assert answer.status_code == 200
        again = client.post("/hooks/billing", content=CANCEL, headers=signer.sign(CANCEL))
        assert again.status_code == 200  # the duplicate, answered from the SQL log
    assert (Path.cwd() / "webhook-events.db").exists()


def test_the_ordering_snippet_keeps_the_newest(page_namespace: dict[str, Any]) -> None:
    is_newer = page_namespace["is_newer"]
    signer = Webhooks("stripe", secrets=[SECRET])
    newer = signer.parse(signer.sign(CANCEL, timestamp=NOW), CANCEL, now=NOW)
    older_body = CANCEL.replace(b'"created":1767225600', b'"created":1767225000')
    older = signer.parse(signer.sign(older_body, timestamp=NOW), older_body, now=NOW)
    assert is_newer(newer)
    assert not is_newer(older)  # arrived late
    assert is_newer(newer)  # the same second again: applied in arrival order


def test_the_page_names_every_event_type_and_reason() -> None:
    for member in EventType:
        assert f"`{member.name}`" in TEXT, member
    for reason in RejectionReason:
        assert f"`{reason.name}`" in TEXT, reason
