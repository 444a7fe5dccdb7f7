"""Parity with Polar's official verifier, ``polar-sdk``'s ``validate_event``, and with the
generic Standard Webhooks library, ``standardwebhooks.Webhook``.

Verifiers that nobody here wrote are the referees: for each delivery below, the SDK's
``polar.v2026_10.webhooks.validate_event(body, headers, secret)`` and portalkit's
``Webhooks("polar", ...).parse`` must both accept it or both refuse it, at the same ``now``.
The SDK reads the clock as ``time.time()`` in ``polar.webhooks`` (which every versioned
``validate_event`` calls); that module's ``time`` is patched, so both sides see the same
instant without sleeping. The SDK raises ``PolarWebhookVerificationError`` for a delivery it
refuses; the typed payload it returns otherwise is checked too (every case payload is one
the SDK loads).

The SDK takes one secret; a rotation (portalkit given two) is compared with the SDK tried
with each in turn. ``standardwebhooks`` base64-decodes any secret it is given: it agrees with
Polar and portalkit when given Polar's secret base64-encoded (what Polar's docs tell custom
verifiers to do), and not when given the secret as is; both are asserted below.

Each row also says what all must do, so a change that made them all wrong would fail too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import types
from datetime import UTC, datetime, tzinfo

import attrs
import polar.webhooks as polar_webhooks
import pytest
import standardwebhooks.webhooks as sw_module
from _webhook_cases import NOW, Case, cases
from polar.v2026_10.webhooks import PolarWebhookVerificationError, validate_event
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from portalkit import Webhooks, errors
from portalkit.providers.polar_webhooks import polar_signing_keys

SECRET = "polar_whs_k3Jd9QfX2mLpV7tB0nRyZ4cH8wGs1aEu6oTiYqUb5Nx"
OTHER = "polar_whs_Q8vN2cLx5RtY7bK0mJ4hG1sD9fA3eW6uZpT2iO8nMq"
THIRD = "polar_whs_Z1xC3vB5nM7aS9dF2gH4jK6lQ8wE0rT5yU7iO9pL1kJ"
#: A Standard Webhooks secret (the specification's test secret): base64 after "whsec_".
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DELIVERY = "msg_2Lk7QbVv0x3Yt9NcGd5FhJ1sWpR"


def sig(body: bytes, *, key: bytes, timestamp: int | str = NOW, delivery: str = DELIVERY) -> str:
    signed = f"{delivery}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def flip(text: str) -> str:
    """A base64 signature with one character of its digest changed."""
    index = len(text) - 3  # before the padding, inside the digest
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def the_case() -> Case:
    return next(c for c in cases("polar") if c.name == "subscription_canceled_at_period_end")


BODY = the_case().body
TAMPERED = json.dumps({**the_case().payload, "type": "subscription.uncanceled"}).encode()
RAW = SECRET.encode()
WHSEC_DECODED = base64.b64decode(WHSEC.removeprefix("whsec_"))


@attrs.frozen
class Row:
    name: str
    headers: dict[str, str]
    accepted: bool
    body: bytes = BODY
    secrets: tuple[str, ...] = (SECRET,)


def signed(
    *,
    key: bytes = RAW,
    timestamp: int = NOW,
    delivery: str = DELIVERY,
    signature: str | None = None,
    body: bytes = BODY,
    **changes: str | None,
) -> dict[str, str]:
    headers = {
        "webhook-id": delivery,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature
        if signature is not None
        else sig(body, key=key, timestamp=timestamp, delivery=delivery),
    }
    for name, value in changes.items():
        header = name.replace("_", "-")
        if value is None:
            headers.pop(header)
        else:
            headers[header] = value
    return headers


ROWS = [
    Row("valid", signed(), True),
    Row("tampered body", signed(), False, body=TAMPERED),
    Row("one more byte", signed(), False, body=BODY + b"\n"),
    Row("tampered signature", signed(signature=flip(sig(BODY, key=RAW))), False),
    Row("wrong secret", signed(key=OTHER.encode()), False),
    Row("rotation: the second of two secrets signed", signed(), True, secrets=(OTHER, SECRET)),
    Row(
        "rotation: neither secret signed",
        signed(key=THIRD.encode()),
        False,
        secrets=(OTHER, SECRET),
    ),
    Row(
        "two signatures, the second valid",
        signed(signature=f"{sig(BODY, key=OTHER.encode())} {sig(BODY, key=RAW)}"),
        True,
    ),
    Row(
        "whsec secret, signed with its decoded key",
        signed(key=WHSEC_DECODED),
        True,
        secrets=(WHSEC,),
    ),
    Row(
        "whsec secret, signed with its own bytes",
        signed(key=WHSEC.encode()),
        True,
        secrets=(WHSEC,),
    ),
    Row("5 minutes old", signed(timestamp=NOW - 300), True),
    Row("stale: 301 s old", signed(timestamp=NOW - 301), False),
    Row("a day old", signed(timestamp=NOW - 86_400), False),
    Row("5 minutes ahead", signed(timestamp=NOW + 300), True),
    Row("future: 301 s ahead", signed(timestamp=NOW + 301), False),
    Row("signed at another time", signed(signature=sig(BODY, key=RAW, timestamp=NOW - 1)), False),
    Row("signed with another id", signed(signature=sig(BODY, key=RAW, delivery="msg_x")), False),
    Row("missing webhook-id", signed(webhook_id=None), False),
    Row("missing webhook-timestamp", signed(webhook_timestamp=None), False),
    Row("missing webhook-signature", signed(webhook_signature=None), False),
    Row("empty webhook-signature", signed(webhook_signature=""), False),
    Row("timestamp not a number", signed(webhook_timestamp="now"), False),
    Row("signature not base64", signed(signature="v1,@@not-base64@@"), False),
    Row("signature without version", signed(signature=sig(BODY, key=RAW)[3:]), False),
    Row("signature of another version", signed(signature="v2," + sig(BODY, key=RAW)[3:]), False),
    Row("signature without padding", signed(signature=sig(BODY, key=RAW).rstrip("=")), False),
]


def frozen_now() -> types.SimpleNamespace:
    return types.SimpleNamespace(time=lambda: float(NOW))


def sdk_accepts(headers: dict[str, str], body: bytes, secret: str) -> bool:
    try:
        validate_event(body, headers, secret)
    except PolarWebhookVerificationError:
        return False
    return True


def portalkit_accepts(row: Row) -> bool:
    try:
        Webhooks("polar", list(row.secrets)).parse(row.headers, row.body, now=NOW)
    except errors.WebhookRejected:
        return False
    return True


@pytest.fixture
def sdk_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(polar_webhooks, "time", frozen_now())


@pytest.mark.usefixtures("sdk_clock")
@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_the_sdk_and_portalkit_agree(row: Row) -> None:
    sdk = any(sdk_accepts(row.headers, row.body, secret) for secret in row.secrets)
    ours = portalkit_accepts(row)
    assert sdk == ours, f"{row.name}: SDK {'accepts' if sdk else 'refuses'}, portalkit not"
    assert ours == row.accepted, row.name


def test_the_table_has_both_answers() -> None:
    assert {row.accepted for row in ROWS} == {True, False}


def test_the_clock_patch_reaches_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The valid row, read an hour later by the patched clock, is refused: the rows above
    are checked at the patched time, not the machine's."""
    later = types.SimpleNamespace(time=lambda: float(NOW + 3600))
    monkeypatch.setattr(polar_webhooks, "time", later)
    assert not sdk_accepts(ROWS[0].headers, BODY, SECRET)


@pytest.mark.parametrize(
    "secret",
    [SECRET, WHSEC, "abcd", "whsec_", "whsec_abc", "whsec_abcde", "p\u00e4ss", "a" * 64],
)
def test_the_declared_keys_are_the_sdks(secret: str) -> None:
    assert polar_signing_keys(secret) == polar_webhooks._signing_keys(secret)


@pytest.mark.usefixtures("sdk_clock")
@pytest.mark.parametrize("case", cases("polar"), ids=lambda c: c.name)
def test_every_case_as_portalkit_signs_it_is_the_sdks_typed_event(case: Case) -> None:
    headers = Webhooks("polar", SECRET).sign(case.body, timestamp=NOW, delivery_id=case.delivery_id)
    payload = validate_event(case.body, headers, SECRET)
    assert payload.type == case.payload["type"]
    assert type(payload).__name__.startswith("Webhook")
    event = Webhooks("polar", SECRET).parse(headers, case.body, now=NOW)
    assert event.vendor_type == payload.type
    assert event.subscription_id == payload.data.id
    assert event.customer_id == payload.data.customer_id


# -- standardwebhooks ------------------------------------------------------------------------


def frozen_datetime(now: int) -> type[datetime]:
    class Frozen(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(now, tz or UTC)

    return Frozen


@pytest.fixture
def sw_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sw_module, "datetime", frozen_datetime(NOW))


def standardwebhooks_accepts(headers: dict[str, str], body: bytes, secret: str) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def as_standardwebhooks_expects(secret: str) -> str:
    """What Polar's docs tell a custom verifier to pass: the secret, base64-encoded."""
    return base64.b64encode(secret.encode()).decode()


@pytest.mark.usefixtures("sw_clock")
@pytest.mark.parametrize(
    "row", [r for r in ROWS if not r.name.startswith("whsec")], ids=lambda r: r.name
)
def test_standardwebhooks_agrees_given_the_secret_base64_encoded(row: Row) -> None:
    sw = any(
        standardwebhooks_accepts(row.headers, row.body, as_standardwebhooks_expects(secret))
        for secret in row.secrets
    )
    assert sw == portalkit_accepts(row) == row.accepted, row.name


@pytest.mark.usefixtures("sw_clock")
def test_standardwebhooks_agrees_on_a_whsec_secret_signed_with_its_decoded_key() -> None:
    row = next(r for r in ROWS if r.name == "whsec secret, signed with its decoded key")
    assert standardwebhooks_accepts(row.headers, row.body, WHSEC)
    assert portalkit_accepts(row)


@pytest.mark.usefixtures("sw_clock")
def test_standardwebhooks_given_polars_secret_as_is_refuses_a_valid_delivery() -> None:
    """It base64-decodes the secret (dropping what is not base64), so it checks with another
    key than Polar signs with: why portalkit declares Polar's keys instead."""
    valid = ROWS[0]
    assert portalkit_accepts(valid)
    assert not standardwebhooks_accepts(valid.headers, valid.body, SECRET)


@pytest.mark.usefixtures("sw_clock")
def test_the_clock_patch_reaches_standardwebhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    valid = ROWS[0]
    assert standardwebhooks_accepts(valid.headers, valid.body, as_standardwebhooks_expects(SECRET))
    monkeypatch.setattr(sw_module, "datetime", frozen_datetime(NOW + 3600))
    assert not standardwebhooks_accepts(
        valid.headers, valid.body, as_standardwebhooks_expects(SECRET)
    )
