"""Parity with Paddle's official verifier: ``paddle_billing.Notifications.Verifier`` from
``paddle-python-sdk``.

A verifier that nobody here wrote is the referee: for each delivery below, the SDK's
``Verifier().verify(request, secrets)`` and portalkit's ``Webhooks("paddle", ...).parse``
must both accept it or both refuse it, at the same ``now``. The SDK reads the clock through
``time()`` imported into its Verifier module; that name is patched, so both sides see the
same instant without sleeping. The SDK answers ``True``/``False`` for one secret, and raises
``ConnectionRefusedError`` when a list of secrets all fail, or ``ValueError`` for a header it
cannot parse: all of those but ``True`` are a refusal.

Each row also says what both must do, so a change that made both wrong would fail too.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from _webhook_cases import NOW, Case, cases
from paddle_billing.Notifications import Secret, Verifier

from portalkit import Webhooks, errors

SECRET = "pdl_ntfset_01hv8x0q7a2b3c4d5e6f7g8h9j_TestOnlyKey0123456789abcdEFGH"
OTHER = "pdl_ntfset_01hv8x0q7a2b3c4d5e6f7g8h9j_AnotherTestKey9876543210zyxWV"
THIRD = "pdl_ntfset_01hv8x0q7a2b3c4d5e6f7g8h9j_YetAnotherTestKey13579bdfhjl"

# The module, not the class the package re-exports under the same name.
VERIFIER_MODULE = importlib.import_module("paddle_billing.Notifications.Verifier")


@attrs.frozen
class Request:
    """What the SDK's ``Request`` protocol asks for: ``headers.get`` and the raw ``body``."""

    headers: Mapping[str, str]
    body: bytes


def hexsig(body: bytes, timestamp: int | str, secret: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def flip(text: str) -> str:
    """``text`` with its last character changed (to another hex digit)."""
    return text[:-1] + ("1" if text[-1] != "1" else "2")


def the_case() -> Case:
    return next(c for c in cases("paddle") if c.name == "subscription_updated_cancel_scheduled")


BODY = the_case().body
TAMPERED = json.dumps({**the_case().payload, "event_type": "subscription.canceled"}).encode()


@attrs.frozen
class Row:
    name: str
    header: str | None  # None: no Paddle-Signature header at all
    accepted: bool
    body: bytes = BODY
    secrets: tuple[str, ...] = (SECRET,)


ROWS = [
    Row("valid", f"ts={NOW};h1={hexsig(BODY, NOW, SECRET)}", True),
    Row("tampered body", f"ts={NOW};h1={hexsig(BODY, NOW, SECRET)}", False, body=TAMPERED),
    Row("one more byte", f"ts={NOW};h1={hexsig(BODY, NOW, SECRET)}", False, body=BODY + b" "),
    Row("tampered signature", f"ts={NOW};h1={flip(hexsig(BODY, NOW, SECRET))}", False),
    Row("wrong secret", f"ts={NOW};h1={hexsig(BODY, NOW, OTHER)}", False),
    Row(
        "rotation: the second of two secrets signed",
        f"ts={NOW};h1={hexsig(BODY, NOW, SECRET)}",
        True,
        secrets=(OTHER, SECRET),
    ),
    Row(
        "rotation: neither of two secrets signed",
        f"ts={NOW};h1={hexsig(BODY, NOW, THIRD)}",
        False,
        secrets=(OTHER, SECRET),
    ),
    Row(
        "two h1, the second valid",
        f"ts={NOW};h1={hexsig(BODY, NOW, OTHER)};h1={hexsig(BODY, NOW, SECRET)}",
        True,
    ),
    Row("5 s old", f"ts={NOW - 5};h1={hexsig(BODY, NOW - 5, SECRET)}", True),
    Row("stale: 6 s old", f"ts={NOW - 6};h1={hexsig(BODY, NOW - 6, SECRET)}", False),
    Row("an hour old", f"ts={NOW - 3600};h1={hexsig(BODY, NOW - 3600, SECRET)}", False),
    Row("5 s ahead", f"ts={NOW + 5};h1={hexsig(BODY, NOW + 5, SECRET)}", True),
    Row("future: 6 s ahead", f"ts={NOW + 6};h1={hexsig(BODY, NOW + 6, SECRET)}", False),
    Row("signed at another time", f"ts={NOW};h1={hexsig(BODY, NOW - 1, SECRET)}", False),
    Row("missing header", None, False),
    Row("empty header", "", False),
    Row("no timestamp", f"h1={hexsig(BODY, NOW, SECRET)}", False),
    Row("no signature", f"ts={NOW}", False),
    Row("timestamp not a number", f"ts=now;h1={hexsig(BODY, NOW, SECRET)}", False),
    Row("unknown key", f"ts={NOW};h1={hexsig(BODY, NOW, SECRET)};h2=abc", False),
    Row("spaces after separators", f"ts={NOW}; h1={hexsig(BODY, NOW, SECRET)}", False),
    Row("comma separated", f"ts={NOW},h1={hexsig(BODY, NOW, SECRET)}", False),
    Row("upper-case hex", f"ts={NOW};h1={hexsig(BODY, NOW, SECRET).upper()}", False),
    Row("skipped junk item", f"ts={NOW};junk;h1={hexsig(BODY, NOW, SECRET)}", True),
    # The SDK splits each item on every "=": a second one is an error, even beside a valid h1.
    Row("an item with two '='", f"ts={NOW};h1=a=b;h1={hexsig(BODY, NOW, SECRET)}", False),
]


def sdk_accepts(row: Row, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.delenv("TEST_MODE", raising=False)  # the SDK's switch to skip the time check
    monkeypatch.setattr(VERIFIER_MODULE, "time", lambda: float(NOW))
    headers = {} if row.header is None else {"Paddle-Signature": row.header}
    secrets: Any = [Secret(s) for s in row.secrets] if len(row.secrets) > 1 else Secret(SECRET)
    try:
        return Verifier().verify(Request(headers, row.body), secrets) is True
    except (ValueError, ConnectionRefusedError):
        return False


def portalkit_accepts(row: Row) -> bool:
    headers = {} if row.header is None else {"Paddle-Signature": row.header}
    try:
        Webhooks("paddle", list(row.secrets)).parse(headers, row.body, now=NOW)
    except errors.WebhookRejected:
        return False
    return True


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_the_sdk_and_portalkit_agree(row: Row, monkeypatch: pytest.MonkeyPatch) -> None:
    sdk = sdk_accepts(row, monkeypatch)
    ours = portalkit_accepts(row)
    assert sdk == ours, f"{row.name}: SDK {'accepts' if sdk else 'refuses'}, portalkit not"
    assert ours == row.accepted, row.name


def test_the_table_has_both_answers() -> None:
    assert {row.accepted for row in ROWS} == {True, False}


def test_the_clock_patch_reaches_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the patch the SDK would read the real clock: the same valid row, an hour
    later by the patched clock, must be refused, so the rows above test the patched time."""
    late = Row("valid, read an hour later", ROWS[0].header, False)
    monkeypatch.delenv("TEST_MODE", raising=False)
    monkeypatch.setattr(VERIFIER_MODULE, "time", lambda: float(NOW + 3600))
    assert (
        Verifier().verify(Request({"Paddle-Signature": late.header or ""}, BODY), Secret(SECRET))
        is False
    )


@pytest.mark.parametrize("case", cases("paddle"), ids=lambda c: c.name)
def test_every_case_as_portalkit_signs_it_passes_the_sdk(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = Webhooks("paddle", SECRET).sign(case.body, timestamp=NOW)
    row = Row(case.name, signed["Paddle-Signature"], True, body=case.body)
    assert sdk_accepts(row, monkeypatch)
    assert portalkit_accepts(row)
