"""Parity with Stripe's official verifier: ``stripe.Webhook.construct_event(payload,
sig_header, secret, tolerance=300)`` (stripe/_webhook.py).

A table of deliveries: for each, the SDK and ``Webhooks("stripe", ...).parse`` must both
accept or both refuse, at the same ``now`` (the SDK's clock is its module's ``time``,
patched). ``construct_event`` takes one secret; an app rotating secrets calls it with each
in turn and accepts the delivery if any accepts it, so that is the SDK's side of a rotation
row. The expected outcome of every row is written down too, so a row where both sides
happen to agree on the wrong answer still fails.

The bodies are Stripe's own example payloads (tests/webhook_events/stripe/).
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Sequence

import attrs
import pytest
import stripe as stripe_sdk
from _webhook_cases import NOW, cases
from stripe import _webhook as sdk_webhook

from portalkit import Webhooks, errors

SECRET = "whsec_ZVx9p2mK7qLr4T8wYb3nC6dF"  # made up
NEXT_SECRET = "whsec_Q3hT7vN1bX8kR2mW5zL9pJ4s"  # made up: the one a rotation moves to
OTHER_SECRET = "whsec_A1b2C3d4E5f6G7h8J9k0L1m2"  # made up: nobody's
TOLERANCE = 300

BODY = json.dumps(
    {case.name: case for case in cases("stripe")}[
        "subscription_updated_cancel_at_period_end"
    ].payload
).encode()


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The header as Stripe sends it, made by the SDK's own helper."""
    return stripe_sdk.WebhookSignature.generate_signature_header(
        body.decode("utf-8"), secret, timestamp
    )


def signature_of(header: str) -> str:
    return header.split("v1=", 1)[1]


@attrs.frozen
class Delivery:
    name: str
    header: str | None
    body: bytes
    secrets: Sequence[str]
    accepted: bool  # what both must say


def _valid() -> str:
    return sign(BODY, SECRET, NOW)


def _flip_last(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


ROWS: list[Callable[[], Delivery]] = [
    lambda: Delivery("valid", _valid(), BODY, [SECRET], True),
    lambda: Delivery(
        "tampered body", _valid(), BODY.replace(b"true", b"false", 1), [SECRET], False
    ),
    lambda: Delivery("one byte more", _valid(), BODY + b" ", [SECRET], False),
    lambda: Delivery("tampered signature", _flip_last(_valid()), BODY, [SECRET], False),
    lambda: Delivery(
        "tampered timestamp", _valid().replace(f"t={NOW}", f"t={NOW - 1}"), BODY, [SECRET], False
    ),
    lambda: Delivery("wrong secret", sign(BODY, OTHER_SECRET, NOW), BODY, [SECRET], False),
    lambda: Delivery(
        "rotation: signed with the new secret",
        sign(BODY, NEXT_SECRET, NOW),
        BODY,
        [SECRET, NEXT_SECRET],
        True,
    ),
    lambda: Delivery(
        "rotation: signed with the old secret", _valid(), BODY, [NEXT_SECRET, SECRET], True
    ),
    lambda: Delivery(
        "rotation: neither secret",
        sign(BODY, OTHER_SECRET, NOW),
        BODY,
        [SECRET, NEXT_SECRET],
        False,
    ),
    lambda: Delivery(
        "Stripe rolling its secret: two v1, one ours",
        f"{sign(BODY, OTHER_SECRET, NOW)},v1={signature_of(_valid())}",
        BODY,
        [SECRET],
        True,
    ),
    lambda: Delivery(
        "stale by one second", sign(BODY, SECRET, NOW - TOLERANCE - 1), BODY, [SECRET], False
    ),
    lambda: Delivery("stale by a day", sign(BODY, SECRET, NOW - 86_400), BODY, [SECRET], False),
    lambda: Delivery(
        "exactly at the tolerance", sign(BODY, SECRET, NOW - TOLERANCE), BODY, [SECRET], True
    ),
    lambda: Delivery(
        "future by an hour (no future bound)", sign(BODY, SECRET, NOW + 3600), BODY, [SECRET], True
    ),
    lambda: Delivery(
        "future by a year", sign(BODY, SECRET, NOW + 31_536_000), BODY, [SECRET], True
    ),
    lambda: Delivery(
        "stale and forged", sign(BODY, OTHER_SECRET, NOW - 86_400), BODY, [SECRET], False
    ),
    lambda: Delivery("missing header", None, BODY, [SECRET], False),
    lambda: Delivery("empty header", "", BODY, [SECRET], False),
    lambda: Delivery(
        "not a signature header", "i'm not even a real signature header", BODY, [SECRET], False
    ),
    lambda: Delivery("no timestamp", f"v1={signature_of(_valid())}", BODY, [SECRET], False),
    lambda: Delivery(
        "timestamp not a number", f"t=soon,v1={signature_of(_valid())}", BODY, [SECRET], False
    ),
    lambda: Delivery("no v1, only v0", _valid().replace("v1=", "v0="), BODY, [SECRET], False),
    lambda: Delivery("a space after the comma", _valid().replace(",", ", "), BODY, [SECRET], False),
    lambda: Delivery(
        "uppercase hex", f"t={NOW},v1={signature_of(_valid()).upper()}", BODY, [SECRET], False
    ),
    lambda: Delivery("empty v1", f"t={NOW},v1=", BODY, [SECRET], False),
    lambda: Delivery(
        "items reordered", f"v1={signature_of(_valid())},t={NOW}", BODY, [SECRET], True
    ),
]


def sdk_accepts(delivery: Delivery, monkeypatch: pytest.MonkeyPatch) -> bool:
    monkeypatch.setattr(sdk_webhook, "time", types.SimpleNamespace(time=lambda: float(NOW)))
    for secret in delivery.secrets:  # an app's rotation: any secret will do
        try:
            stripe_sdk.Webhook.construct_event(
                delivery.body, delivery.header, secret, tolerance=TOLERANCE
            )
        except stripe_sdk.SignatureVerificationError:
            continue
        return True
    return False


def portalkit_accepts(delivery: Delivery) -> bool:
    headers = {} if delivery.header is None else {"Stripe-Signature": delivery.header}
    receiver = Webhooks("stripe", secrets=list(delivery.secrets), tolerance=TOLERANCE)
    try:
        receiver.parse(headers, delivery.body, now=NOW)
    except errors.WebhookRejected:
        return False
    return True


@pytest.mark.parametrize("make", ROWS, ids=lambda make: make().name)
def test_the_sdk_and_portalkit_agree(
    make: Callable[[], Delivery], monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = make()
    assert sdk_accepts(delivery, monkeypatch) is delivery.accepted, "the SDK"
    assert portalkit_accepts(delivery) is delivery.accepted, "portalkit"


def test_the_table_has_both_outcomes_and_covers_the_brief() -> None:
    names = {make().name: make().accepted for make in ROWS}
    assert set(names.values()) == {True, False}
    for needed in (
        "valid",
        "tampered body",
        "tampered signature",
        "wrong secret",
        "rotation: signed with the new secret",
        "stale by one second",
        "future by an hour (no future bound)",
        "missing header",
        "not a signature header",
    ):
        assert needed in names


def test_the_sdk_clock_is_the_patched_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that the patch reaches the SDK: the same delivery is stale at a later now."""
    delivery = Delivery("fresh", sign(BODY, SECRET, NOW), BODY, [SECRET], True)
    assert sdk_accepts(delivery, monkeypatch)
    monkeypatch.setattr(sdk_webhook, "time", types.SimpleNamespace(time=lambda: float(NOW + 301)))
    with pytest.raises(stripe_sdk.SignatureVerificationError):
        stripe_sdk.Webhook.construct_event(BODY, delivery.header, SECRET, tolerance=TOLERANCE)


@pytest.mark.parametrize(
    ("name", "header", "sdk", "portalkit"),
    [
        # stripe-python splits each item on "=" at most twice and keeps the second part:
        # "v1=<sig>=x" is <sig> to it, and "<sig>=x" (no match) to portalkit.
        ("a suffix after the signature", "t={t},v1={sig}=x", True, False),
        # stripe-python reads i[1] of every "t"/"v1" item and fails on one without "=";
        # portalkit skips an item that is not key=value, as for any other key.
        ("a bare v1 item beside a good one", "t={t},v1,v1={sig}", False, True),
        # Two timestamps: stripe-python takes the first, portalkit the last; each then needs
        # the signature over the one it took.
        ("a second, unsigned timestamp after", "t={t},t=5,v1={sig}", True, False),
        # int() takes a sign; portalkit's timestamp is digits only.
        ("a plus sign on the timestamp", "t=+{t},v1={sig}", True, False),
    ],
)
def test_known_differences_in_odd_headers(
    name: str, header: str, sdk: bool, portalkit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers Stripe never sends, where the two parsers differ: written down so a change on
    either side is seen. None lets a forged body through: each side still needs a valid
    signature over the timestamp it read."""
    text = header.format(t=NOW, sig=signature_of(_valid()))
    delivery = Delivery(name, text, BODY, [SECRET], sdk)
    assert sdk_accepts(delivery, monkeypatch) is sdk
    assert portalkit_accepts(delivery) is portalkit
