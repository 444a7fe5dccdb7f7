"""One security suite for every registered vendor's webhooks (django-anymail's shared
webhook test case, run over the registry): tampered bodies and headers, wrong and rotated
secrets, stale and future timestamps, other vendors' deliveries, oversized and non-JSON
bodies, and no secret, signature or body in any message. No vendor is named here."""

from __future__ import annotations

import json

import pytest
from _webhook_cases import (
    NOW,
    WEBHOOK_VENDORS,
    Case,
    cases,
    hooks,
    made_up_env,
    signed_headers,
)

from portalkit import BillingEvent, Webhooks, errors, get_vendor_webhooks
from portalkit.errors import RejectionReason

REFUSED_CREDENTIALS = {RejectionReason.SIGNATURE_MISMATCH, RejectionReason.WRONG_CREDENTIALS}


def first_case(vendor: str) -> Case:
    found = cases(vendor)
    assert found, f"{vendor} has no webhook cases in tests/webhook_events/{vendor}/"
    return found[0]


def scheme(vendor: str):  # type: ignore[no-untyped-def]
    return get_vendor_webhooks(vendor).signature


def rejected(
    vendor: str, headers: dict[str, str], body: bytes, **options: object
) -> errors.WebhookRejected:
    receiver = hooks(vendor, **options)  # type: ignore[arg-type]
    with pytest.raises(errors.WebhookRejected) as caught:
        receiver.parse(headers, body, now=NOW)
    error = caught.value
    assert error.provider == vendor
    assert isinstance(error.reason, RejectionReason)
    assert_nothing_secret(vendor, error, headers, body)
    return error


def assert_nothing_secret(
    vendor: str, error: errors.PortalError, headers: dict[str, str], body: bytes
) -> None:
    text = f"{error} {error!r} {error.message}"
    for value in [*made_up_env(vendor).values(), *made_up_env(vendor, "-other").values()]:
        assert value not in text
    for value in headers.values():
        if len(value) >= 8:  # signatures, timestamps' signed parts, credentials
            assert value not in text
    decoded = body.decode("utf-8", "replace")
    for chunk in (decoded[i : i + 16] for i in range(0, max(len(decoded) - 16, 1), 16)):
        if len(chunk.strip()) >= 12:
            assert chunk not in text


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_signed_delivery_is_accepted_with_any_header_case(vendor: str) -> None:
    case = first_case(vendor)
    headers = signed_headers(case)
    for variant in (
        headers,
        {k.lower(): v for k, v in headers.items()},
        {k.upper(): v for k, v in headers.items()},
    ):
        assert isinstance(hooks(vendor).parse(variant, case.body, now=NOW), BillingEvent)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_tampered_body_is_refused(vendor: str) -> None:
    case = first_case(vendor)
    headers = signed_headers(case)
    payload = json.loads(case.body)
    payload["portalkit_tampered"] = True
    tampered = json.dumps(payload, separators=(",", ":")).encode()
    if scheme(vendor).signs_body:
        assert rejected(vendor, headers, tampered).reason is RejectionReason.SIGNATURE_MISMATCH
        # One byte of whitespace is a different body too: verify the raw bytes, never a
        # re-serialization (the usual cause of signatures failing behind a framework).
        assert rejected(vendor, headers, case.body + b"\n").reason is (
            RejectionReason.SIGNATURE_MISMATCH
        )
    else:
        # A vendor that signs nothing (Basic credentials) cannot tell: documented.
        assert hooks(vendor).parse(headers, tampered, now=NOW)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_each_tampered_signed_header_is_refused(vendor: str) -> None:
    case = first_case(vendor)
    headers = signed_headers(case)
    for name in set(headers) - set(case.headers):
        value = headers[name]
        flipped = value[:-1] + ("A" if value[-1] != "A" else "B")
        error = rejected(vendor, {**headers, name: flipped}, case.body)
        assert error.reason in {
            *REFUSED_CREDENTIALS,
            RejectionReason.MALFORMED,
            RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE,
        }, name


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_missing_signature_headers_are_refused(vendor: str) -> None:
    case = first_case(vendor)
    headers = signed_headers(case)
    unsigned = {k: v for k, v in headers.items() if k in case.headers}
    assert rejected(vendor, unsigned, case.body).reason is RejectionReason.MISSING_SIGNATURE
    for name in set(headers) - set(case.headers):
        without = {k: v for k, v in headers.items() if k != name}
        assert rejected(vendor, without, case.body).reason in {
            RejectionReason.MISSING_SIGNATURE,
            RejectionReason.SIGNATURE_MISMATCH,
        }


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_the_wrong_secret_is_refused(vendor: str) -> None:
    case = first_case(vendor)
    headers = signed_headers(case, suffix="-other")
    assert rejected(vendor, headers, case.body).reason in REFUSED_CREDENTIALS


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_second_secret_during_rotation(vendor: str) -> None:
    case = first_case(vendor)
    old = hooks(vendor)
    new = hooks(vendor, "-other")
    fields = get_vendor_webhooks(vendor).signature.fields
    secrets = [old._secrets[0], new._secrets[0]]
    assert len(fields) >= 1
    rotating = Webhooks(vendor, secrets=secrets)
    for suffix in ("", "-other"):
        assert rotating.parse(signed_headers(case, suffix=suffix), case.body, now=NOW)
    third = signed_headers(case, suffix="-third")
    with pytest.raises(errors.WebhookRejected):
        rotating.parse(third, case.body, now=NOW)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_stale_and_future_timestamps(vendor: str) -> None:
    signature = scheme(vendor)
    case = first_case(vendor)
    if not signature.has_timestamp:
        # No timestamp is signed: a replay cannot be told by time (documented per vendor).
        assert hooks(vendor).parse(signed_headers(case, timestamp=NOW - 86_400), case.body, now=NOW)
        return
    past = signature.tolerance
    assert past is not None
    assert past > 0
    within = signed_headers(case, timestamp=NOW - int(past))
    assert hooks(vendor).parse(within, case.body, now=NOW)
    stale = signed_headers(case, timestamp=NOW - int(past) - 1)
    assert rejected(vendor, stale, case.body).reason is RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE
    ahead = signed_headers(case, timestamp=NOW + 3600)
    if signature.future_tolerance is None:
        assert hooks(vendor).parse(ahead, case.body, now=NOW)  # the vendor's verifier allows it
    else:
        assert rejected(vendor, ahead, case.body).reason is (
            RejectionReason.TIMESTAMP_OUT_OF_TOLERANCE
        )
    # The window is configurable: a wider one takes the stale delivery.
    assert hooks(vendor, tolerance=past + 10).parse(stale, case.body, now=NOW)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
@pytest.mark.parametrize("other", WEBHOOK_VENDORS)
def test_a_delivery_for_another_vendor_is_refused(vendor: str, other: str) -> None:
    if vendor == other:
        return
    case = first_case(other)
    headers = signed_headers(case)
    error = rejected(vendor, headers, case.body)
    assert error.reason in {
        RejectionReason.MISSING_SIGNATURE,
        *REFUSED_CREDENTIALS,
        RejectionReason.MALFORMED,
    }


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_an_oversized_body_is_refused_before_verification(vendor: str) -> None:
    case = first_case(vendor)
    body = case.body + b" " * (1024 * 1024)
    headers = signed_headers(case, body=body)  # validly signed, still too large
    assert rejected(vendor, headers, body).reason is RejectionReason.TOO_LARGE
    small = hooks(vendor, max_body_bytes=len(case.body) - 1)
    with pytest.raises(errors.WebhookRejected) as caught:
        small.parse(signed_headers(case), case.body, now=NOW)
    assert caught.value.reason is RejectionReason.TOO_LARGE


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"", b"\xff\xfe{}", b"[" * 100_000])
def test_a_signed_body_that_is_not_a_json_object_is_malformed(vendor: str, body: bytes) -> None:
    case = first_case(vendor)
    headers = signed_headers(case, body=body)
    assert rejected(vendor, headers, body).reason is RejectionReason.MALFORMED


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_a_signed_json_object_of_the_wrong_shape_is_malformed(vendor: str) -> None:
    case = first_case(vendor)
    for payload in ({}, {"data": "x"}, {"id": 1, "type": 2, "data": [], "meta": 3}):
        body = json.dumps(payload).encode()
        assert rejected(vendor, signed_headers(case, body=body), body).reason is (
            RejectionReason.MALFORMED
        )


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_missing_variables_are_named_never_shown(vendor: str) -> None:
    env = made_up_env(vendor)
    for variable in env:
        partial = {k: v for k, v in env.items() if k != variable}
        with pytest.raises(errors.ConfigurationError) as caught:
            Webhooks.from_env(partial, provider=vendor)
        assert caught.value.variable == variable
        assert variable in str(caught.value)
        for value in partial.values():
            assert value not in str(caught.value)


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
def test_from_env_reads_portalkit_provider_and_no_api_credentials(vendor: str) -> None:
    env = {"PORTALKIT_PROVIDER": vendor.upper(), **made_up_env(vendor)}
    receiver = Webhooks.from_env(env)
    assert receiver.provider == vendor
    case = first_case(vendor)
    assert receiver.parse(signed_headers(case), case.body, now=NOW)
    assert made_up_env(vendor)[next(iter(env.keys() - {"PORTALKIT_PROVIDER"}))] not in repr(
        receiver
    )
