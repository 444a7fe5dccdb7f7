"""Plugipay through Portal, replayed from cassettes/plugipay/.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Plugipay itself, with its credentials set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import attrs
import pytest
from _cassettes import (
    FAST_RETRY,
    Ids,
    Recording,
    assert_cassette_played,
    header,
    recorded_requests,
    recorded_responses,
)
from _mock import (
    PLUGIPAY_DOC_CUSTOMER,
    PLUGIPAY_DOC_RETURN_URL,
    PLUGIPAY_DOC_SESSION,
    Script,
    both_modes,
    mint,
    record_sleeps,
    reply,
)

from bench._vendor import VendorBench
from portalkit import (
    Action,
    AsyncPortal,
    Flow,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit.providers.plugipay import Plugipay, sign
from portalkit.sandbox import Fault

VENDOR = "plugipay"
#: The ids the cassettes hold (a live recording maps the real ones onto them): cus_ + a
#: 26-character ULID.
CASSETTE_IDS = Ids(
    customer="cus_01J9CASSETTE0000000000PGAY",
    unknown_customer="cus_01J9NKN0WN0000000000000000",
)

RETURN_URL = "https://app.example.com/account/billing"
OTHER_RETURN_URL = "https://app.example.com/settings"
#: A merchant account for the on-behalf-of header (the sandbox accepts any acc_ id).
CASSETTE_MERCHANT = "acc_01J9MERCHANT0000000000000"


def _request(recording: Recording, **fields: Any) -> PortalRequest:
    fields.setdefault("return_url", RETURN_URL)
    return PortalRequest(recording.ids.customer, **fields)


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_a_link(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(_request(recording))

    assert link.provider == "plugipay"
    assert link.session_id.startswith("ps_")
    assert link.customer_id == recording.ids.customer
    assert link.return_url == RETURN_URL
    assert "#t=" in link.url  # the token rides in the fragment
    assert link.created_at is not None
    assert link.expires_at is not None
    assert link.expires_at - link.created_at == timedelta(minutes=15)
    assert link.request_id
    assert link.request_id.startswith("req_")
    assert link.deep_links == ()
    assert link.ignored_fields == ()

    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == "/v1/portal-sessions"
    # The schema is strict: exactly these two keys, camelCase.
    assert json.loads(request.body) == {
        "customerId": recording.recorded_ids.customer,
        "returnUrl": RETURN_URL,
    }
    assert header(request, "Idempotency-Key")
    assert header(request, "X-Plugipay-Timestamp")
    assert header(request, "X-Plugipay-On-Behalf-Of") is None
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_a_link_with_every_optional_field(recording: Recording, vcr: Any) -> None:
    """On behalf of a merchant, with the caller's own idempotency key, and a locale that
    Plugipay cannot honour (dropped and listed, never sent: the schema is strict)."""
    with Portal(recording.provider()) as portal:
        link = portal.create_link(
            _request(
                recording,
                on_behalf_of=CASSETTE_MERCHANT,
                locale="fr",
                idempotency_key="portalkit-cassette-optional-1",
            )
        )

    assert link.ignored_fields == ("locale",)
    assert link.idempotency_key == "portalkit-cassette-optional-1"
    assert link.raw["data"]["accountId"] == CASSETTE_MERCHANT

    (request,) = recorded_requests(vcr)
    assert header(request, "X-Plugipay-On-Behalf-Of") == CASSETTE_MERCHANT
    assert header(request, "Idempotency-Key") == "portalkit-cassette-optional-1"
    assert set(json.loads(request.body)) == {"customerId", "returnUrl"}
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
async def test_async_portal_mints_a_link(recording: Recording, vcr: Any) -> None:
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(_request(recording))

    assert link.session_id.startswith("ps_")
    assert link.customer_id == recording.ids.customer
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_same_idempotency_key_and_body_returns_the_same_session(
    recording: Recording, vcr: Any
) -> None:
    request = _request(recording, idempotency_key="portalkit-cassette-replayed-1")
    with Portal(recording.provider()) as portal:
        first = portal.create_link(request)
        second = portal.create_link(request)

    assert second.session_id == first.session_id
    assert header(recorded_responses(vcr)[1]["headers"], "Idempotent-Replayed") == "true"
    assert_cassette_played(vcr, 2)


# -- every documented error status --------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
@pytest.mark.parametrize("code", ["VALIDATION_ERROR", "validation_error"])
def test_400_validation_error_in_either_spelling(recording: Recording, vcr: Any, code: str) -> None:
    """portalkit validates what Plugipay validates before sending, so a 400 is scripted: the
    REST page spells the code VALIDATION_ERROR, the SDK pages validation_error."""
    recording.script(
        Fault.status(400, body={"error": {"code": code, "message": "returnUrl must be https://."}})
    )
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(_request(recording))

    assert caught.value.status == 400
    assert caught.value.code == code
    assert caught.value.vendor_message == "returnUrl must be https://."
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_401_invalid_signature_for_a_wrong_secret(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(_request(recording))

    assert caught.value.status == 401
    assert caught.value.code == "invalid_signature"
    assert caught.value.request_id
    assert_cassette_played(vcr, 1)  # a 401 is never retried


@pytest.mark.vcr
@pytest.mark.block_network
def test_401_invalid_key_for_an_unknown_key_id(recording: Recording, vcr: Any) -> None:
    provider = attrs.evolve(recording.provider(), key_id="pk_portalkit_unknown")
    with Portal(provider) as portal, pytest.raises(errors.AuthenticationFailed) as caught:
        portal.create_link(_request(recording))

    assert caught.value.code == "invalid_key"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.live_needs("PLUGIPAY_NO_SCOPE_KEY_ID", "PLUGIPAY_NO_SCOPE_KEY_SECRET")
def test_403_insufficient_scope(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(_request(recording))

    assert caught.value.status == 403
    assert caught.value.code == "insufficient_scope"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_404_not_found_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer, return_url=RETURN_URL))

    assert caught.value.status == 404
    assert caught.value.code == "not_found"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_409_idempotency_key_reused_with_another_body(recording: Recording, vcr: Any) -> None:
    key = "portalkit-cassette-conflict-1"
    with Portal(recording.provider()) as portal:
        portal.create_link(_request(recording, idempotency_key=key))
        with pytest.raises(errors.IdempotencyConflict) as caught:
            portal.create_link(
                _request(recording, idempotency_key=key, return_url=OTHER_RETURN_URL)
            )

    assert caught.value.status == 409
    assert caught.value.code == "idempotency_key_reused"
    assert_cassette_played(vcr, 2)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
def test_429_longer_than_the_deadline_is_raised_at_once(recording: Recording, vcr: Any) -> None:
    recording.script(Fault.status(429, retry_after=60))
    with (
        Portal(recording.provider(), retry=RetryPolicy(deadline=5)) as portal,
        pytest.raises(errors.RateLimited) as caught,
    ):
        portal.create_link(_request(recording))

    assert caught.value.retry_after == 60
    assert_cassette_played(vcr, 1)  # no second attempt: the wait would outlast the deadline


# -- retries recorded against the sandbox's fault injection -------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, 1), (429, "date"), (503, None)],
    ids=["429-seconds", "429-http-date", "503"],
)
def test_retry_then_201_reuses_the_idempotency_key(
    recording: Recording, vcr: Any, status: int, retry_after: Any
) -> None:
    if retry_after == "date":  # an HTTP-date one second ahead (in the past once replayed)
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    recording.script(Fault.status(status, retry_after=retry_after))
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(_request(recording))

    # This run: two attempts under one key, the key the link reports.
    assert [attempt.headers["Idempotency-Key"] for attempt in sent] == [link.idempotency_key] * 2
    # The cassette, as the sandbox answered: the fault, then 201, to two requests that
    # carried the same idempotency key and the same signed body.
    first, second = recorded_requests(vcr)
    assert header(first, "Idempotency-Key") == header(second, "Idempotency-Key")
    assert json.loads(first.body) == json.loads(second.body)
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (status, 201)
    if status == 429:
        assert header(failed["headers"], "Retry-After")
    assert (
        recording.as_recorded(link.session_id)
        == json.loads(created["body"]["string"])["data"]["id"]
    )
    assert_cassette_played(vcr, 2)


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Plugipay adapter, through Portal and AsyncPortal over httpx.MockTransport.
#
# The contract is shared/provider-docs/plugipay-rest-api.txt (the REST page wins over the SDK
# pages): POST /v1/portal-sessions, body exactly {customerId, returnUrl}, 201 inside a
# ``data`` envelope, the documented error codes.

KEY_ID = "pk_test_8Jq2"
SECRET = "sk_test_do_not_leak_7f3a9c"
NOW = 1_778_582_520  # the signature clock, pinned
CUSTOMER = "cus_01HXZ5K3M9Q7R2T4V6W8Y0ABCD"
MERCHANT = "acc_01HXMERCHANT0000000000000"
ONCE = RetryPolicy(max_attempts=1)


def plugipay(**options: Any) -> Plugipay:
    return Plugipay(key_id=KEY_ID, key_secret=SECRET, clock=lambda: NOW, **options)


def session(**overrides: Any) -> dict[str, Any]:
    """A 201 body for CUSTOMER: the documented object with our ids."""
    return {
        "data": {
            **PLUGIPAY_DOC_SESSION,
            "customerId": CUSTOMER,
            "returnUrl": RETURN_URL,
            **overrides,
        }
    }


def created(**overrides: Any) -> Script:
    return Script(reply(201, session(**overrides), headers={"X-Request-Id": "req_1"}))


def request(**fields: Any) -> PortalRequest:
    return PortalRequest(CUSTOMER, return_url=RETURN_URL, **fields)


# -- the request on the wire ---------------------------------------------------------------


@both_modes
def test_request_is_exactly_what_plugipay_documents(mode: str) -> None:
    script = created()
    link = mint(mode, plugipay(), script, request())

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.plugipay.com/v1/portal-sessions"
    # The schema is strict: these two keys and nothing else.
    assert sent.json() == {"customerId": CUSTOMER, "returnUrl": RETURN_URL}
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Idempotency-Key"] == link.idempotency_key
    assert link.idempotency_key
    assert sent.headers["X-Plugipay-Key-Id"] == KEY_ID
    assert sent.headers["X-Plugipay-Timestamp"] == str(NOW)
    assert "X-Plugipay-On-Behalf-Of" not in sent.headers
    assert "Authorization" not in sent.headers
    # The secret signs; it never travels.
    assert all(SECRET not in value for value in sent.headers.values())
    assert SECRET.encode() not in sent.content


@both_modes
def test_signature_verifies_with_plugipay_sign(mode: str) -> None:
    script = created()
    mint(mode, plugipay(), script, request())

    sent = script.only
    expected = sign(
        SECRET,
        timestamp=sent.headers["X-Plugipay-Timestamp"],
        method="POST",
        path="/v1/portal-sessions",
        body=sent.content,
    )
    assert sent.headers["X-Plugipay-Signature"].startswith("v1=")
    assert hmac.compare_digest(sent.headers["X-Plugipay-Signature"], expected)
    # ...and the check is meaningful: another body, key or time would not verify.
    tampered = json.dumps({"customerId": CUSTOMER, "returnUrl": "https://evil.example/"})
    for other in (
        sign(SECRET, timestamp=str(NOW), method="POST", path=sent.url.path, body=tampered.encode()),
        sign(
            "another-secret",
            timestamp=str(NOW),
            method="POST",
            path=sent.url.path,
            body=sent.content,
        ),
        sign(SECRET, timestamp=str(NOW + 1), method="POST", path=sent.url.path, body=sent.content),
    ):
        assert other != sent.headers["X-Plugipay-Signature"]


@both_modes
def test_base_url_prefix_is_signed_with_the_path_actually_sent(mode: str) -> None:
    script = created()
    mint(mode, plugipay(base_url="http://127.0.0.1:8787/plugipay/"), script, request())

    sent = script.only
    assert str(sent.url) == "http://127.0.0.1:8787/plugipay/v1/portal-sessions"
    assert sent.headers["X-Plugipay-Signature"] == sign(
        SECRET,
        timestamp=str(NOW),
        method="POST",
        path="/plugipay/v1/portal-sessions",
        body=sent.content,
    )


def test_base_url_must_be_https_except_loopback_or_explicit_opt_out() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        plugipay(base_url="http://sandbox.example.com")
    assert caught.value.field == "base_url"
    assert "https" in (caught.value.rule or "")
    assert plugipay(base_url="http://localhost:9000").base_url == "http://localhost:9000"
    insecure = plugipay(base_url="http://sandbox.example.com", allow_insecure_base_url=True)
    assert insecure.base_url == "http://sandbox.example.com"


@both_modes
def test_explicit_idempotency_key_is_sent_verbatim(mode: str) -> None:
    script = created()
    link = mint(mode, plugipay(), script, request(idempotency_key="order-42-portal"))

    assert script.only.headers["Idempotency-Key"] == "order-42-portal"
    assert link.idempotency_key == "order-42-portal"


@both_modes
@pytest.mark.parametrize(
    ("provider", "fields"),
    [
        pytest.param(plugipay().for_merchant(MERCHANT), {}, id="for_merchant"),
        pytest.param(plugipay(on_behalf_of=MERCHANT), {}, id="constructor"),
        pytest.param(plugipay(), {"on_behalf_of": MERCHANT}, id="PortalRequest.on_behalf_of"),
        pytest.param(
            plugipay().for_merchant("acc_01HXOTHER"),
            {"on_behalf_of": MERCHANT},
            id="request-overrides-for_merchant",
        ),
    ],
)
def test_on_behalf_of_header(mode: str, provider: Plugipay, fields: dict[str, Any]) -> None:
    script = created(accountId=MERCHANT)
    link = mint(mode, provider, script, request(**fields))

    sent = script.only
    assert sent.headers["X-Plugipay-On-Behalf-Of"] == MERCHANT
    assert sent.json() == {"customerId": CUSTOMER, "returnUrl": RETURN_URL}
    assert link.ignored_fields == ()


def test_for_merchant_returns_a_copy_and_checks_the_account() -> None:
    platform = plugipay()
    merchant = platform.for_merchant(MERCHANT)
    assert platform.on_behalf_of is None
    assert merchant.on_behalf_of == MERCHANT
    with pytest.raises(errors.InvalidRequest) as caught:
        platform.for_merchant("merchant-123")
    assert caught.value.field == "on_behalf_of"


# -- the documented answer -----------------------------------------------------------------


@both_modes
def test_parses_the_documented_session_object(mode: str) -> None:
    envelope = {"data": PLUGIPAY_DOC_SESSION}
    script = Script(reply(201, envelope, headers={"X-Request-Id": "req_doc"}))
    link = mint(
        mode,
        plugipay(),
        script,
        PortalRequest(PLUGIPAY_DOC_CUSTOMER, return_url=PLUGIPAY_DOC_RETURN_URL),
    )

    assert link.provider == "plugipay"
    assert link.session_id == "ps_01HXxxxxxxxxxxxxxxxxxxxxxx"
    assert link.customer_id == PLUGIPAY_DOC_CUSTOMER
    assert link.url == "https://plugipay.com/portal/ps_01HXxx...#t=eyJhbGciOi..."
    assert link.return_url == "https://app.acme.com/account"
    assert link.expires_at == datetime(2026, 5, 12, 10, 57, tzinfo=UTC)
    assert link.created_at == datetime(2026, 5, 12, 10, 42, tzinfo=UTC)
    for moment in (link.expires_at, link.created_at):
        assert moment is not None
        assert moment.tzinfo is UTC
    assert link.deep_links == ()  # Plugipay mints no deep links
    assert link.request_id == "req_doc"
    assert link.raw == envelope
    assert link.ignored_fields == ()


@both_modes
def test_timestamps_with_an_offset_become_utc(mode: str) -> None:
    script = created(expiresAt="2026-05-12T12:57:00+02:00", createdAt="2026-05-12T12:42:00+02:00")
    link = mint(mode, plugipay(), script, request())

    assert link.expires_at == datetime(2026, 5, 12, 10, 57, tzinfo=UTC)
    assert link.expires_at is not None
    assert link.expires_at.tzinfo is UTC


@both_modes
@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"data": {k: v for k, v in PLUGIPAY_DOC_SESSION.items() if k != "url"}}, "url"),
        ({"data": {k: v for k, v in PLUGIPAY_DOC_SESSION.items() if k != "id"}}, "id"),
        ({"data": {k: v for k, v in PLUGIPAY_DOC_SESSION.items() if k != "expiresAt"}}, "expires"),
        ({"data": {k: v for k, v in PLUGIPAY_DOC_SESSION.items() if k != "createdAt"}}, "created"),
        (PLUGIPAY_DOC_SESSION, "data"),  # no envelope
        ({"data": [PLUGIPAY_DOC_SESSION]}, "data"),
        ({"data": {**PLUGIPAY_DOC_SESSION, "url": None}}, "url"),
        ({"data": {**PLUGIPAY_DOC_SESSION, "url": 12345}}, "url"),
        ({"data": {**PLUGIPAY_DOC_SESSION, "customerId": {"id": "cus_x"}}}, "customer"),
        ({"data": {**PLUGIPAY_DOC_SESSION, "expiresAt": "in 15 minutes"}}, "expiresAt"),
        ({"data": {**PLUGIPAY_DOC_SESSION, "expiresAt": "2026-05-12T10:57:00"}}, "expiresAt"),
        ({"data": {**PLUGIPAY_DOC_SESSION, "createdAt": None}}, "created"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any, what: str) -> None:
    script = Script(reply(201, body, headers={"X-Request-Id": "req_bad"}))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(
            mode,
            plugipay(),
            script,
            PortalRequest(PLUGIPAY_DOC_CUSTOMER, return_url=RETURN_URL),
            retry=ONCE,
        )
    assert caught.value.provider == "plugipay"
    assert caught.value.status == 201
    assert what.lower() in str(caught.value).lower()
    assert "eyJhbGciOi" not in str(caught.value)  # the token never reaches a message


# -- every documented error ----------------------------------------------------------------

ERRORS = [
    # (status, code, portalkit error) -- REST page, then SDK pages (VALIDATION_ERROR vs
    # validation_error: both spellings are accepted).
    (400, "VALIDATION_ERROR", errors.InvalidRequest),
    (400, "validation_error", errors.InvalidRequest),
    (401, "invalid_signature", errors.AuthenticationFailed),
    (401, "invalid_key", errors.AuthenticationFailed),
    (403, "insufficient_scope", errors.PermissionDenied),
    (404, "not_found", errors.CustomerNotFound),
    (409, "idempotency_key_reused", errors.IdempotencyConflict),
    (429, "rate_limited", errors.RateLimited),
    (500, "internal_error", errors.ProviderUnavailable),
    (503, "unavailable", errors.ProviderUnavailable),
]


@both_modes
@pytest.mark.parametrize(("status", "code", "error"), ERRORS)
def test_documented_errors(
    mode: str, status: int, code: str, error: type[errors.PortalError]
) -> None:
    body = {"error": {"code": code, "message": f"vendor says {code}"}}
    headers = {"X-Request-Id": "req_err", "Retry-After": "7"}
    script = Script(reply(status, body, headers=headers))
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, plugipay(), script, request(), retry=ONCE)

    exc = caught.value
    assert type(exc) is error
    assert exc.provider == "plugipay"
    assert exc.status == status
    assert exc.code == code
    assert exc.vendor_message == f"vendor says {code}"
    assert exc.request_id == "req_err"
    assert f"vendor says {code}" in str(exc)
    assert SECRET not in str(exc)
    assert len(script.sent) == 1
    if isinstance(exc, errors.RateLimited):
        assert exc.retry_after == 7.0


@both_modes
@pytest.mark.parametrize(("status", "code", "error"), [e for e in ERRORS if e[0] < 429])
def test_documented_client_errors_are_never_retried(
    mode: str,
    status: int,
    code: str,
    error: type[errors.PortalError],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sleeps = record_sleeps(monkeypatch)
    script = Script(reply(status, {"error": {"code": code, "message": "no"}}))
    with pytest.raises(error):
        mint(mode, plugipay(), script, request())  # the default policy: 4 attempts
    assert len(script.sent) == 1
    assert sleeps == []


@both_modes
def test_request_id_from_the_error_body_when_no_header(mode: str) -> None:
    body = {"error": {"code": "not_found", "message": "no such customer", "requestId": "req_b"}}
    script = Script(reply(404, body))
    with pytest.raises(errors.CustomerNotFound) as caught:
        mint(mode, plugipay(), script, request())
    assert caught.value.request_id == "req_b"


@both_modes
def test_an_error_page_that_is_not_json_keeps_the_status(mode: str) -> None:
    script = Script(
        reply(502, content=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, plugipay(), script, request(), retry=ONCE)
    assert type(caught.value) is errors.ProviderUnavailable
    assert caught.value.status == 502
    assert caught.value.code is None


# -- refused locally: nothing is sent ------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"customer_id": "cus_123"}, "customer_id", "ULID"),
        ({"customer_id": "ctm_01grnn4zta5a1mf02jjze7y2ys"}, "customer_id", "ULID"),
        ({"customer_id": "cus_01HXZ5K3M9Q7R2T4V6W8Y0ABCU"}, "customer_id", "ULID"),  # no U
        ({"return_url": None}, "return_url", "required"),
        ({"on_behalf_of": "merchant-1"}, "on_behalf_of", "acc_"),
    ],
)
def test_local_validation_sends_nothing(
    mode: str, fields: dict[str, Any], field: str, rule: str
) -> None:
    values: dict[str, Any] = {"customer_id": CUSTOMER, "return_url": RETURN_URL, **fields}
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, plugipay(), script, PortalRequest(**values))
    assert type(caught.value) is errors.InvalidRequest
    assert caught.value.field == field
    assert rule in (caught.value.rule or "")
    assert field in str(caught.value)
    assert script.sent == []


@pytest.mark.parametrize("field", ["key_id", "key_secret"])
def test_credentials_are_required(field: str) -> None:
    credentials = {"key_id": KEY_ID, "key_secret": SECRET, field: " "}
    with pytest.raises(errors.InvalidRequest) as caught:
        Plugipay(**credentials)
    assert caught.value.field == field


# -- what Plugipay cannot do ---------------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("fields", "feature", "field"),
    [
        (
            {"configuration": PortalConfiguration(cancel_subscription=False)},
            "configure_cancel_subscription",
            "configuration.cancel_subscription",
        ),
        (
            {"configuration": PortalConfiguration(view_invoices=True)},
            "configure_view_invoices",
            "configuration.view_invoices",
        ),
        (
            {"provider_options": {"plugipay": {"theme": "dark"}}},
            "provider_options",
            "provider_options['plugipay']",
        ),
    ],
)
def test_what_would_change_the_customers_rights_is_refused_before_sending(
    mode: str, fields: dict[str, Any], feature: str, field: str
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, plugipay(), script, request(**fields))
    assert caught.value.feature == feature
    assert caught.value.field == field
    assert caught.value.provider == "plugipay"
    assert script.sent == []


@both_modes
@pytest.mark.parametrize(
    ("fields", "ignored"),
    [
        ({"locale": "fr"}, ("locale",)),
        ({"subscription_ids": ["sub_1"]}, ("subscription_ids",)),
        ({"flow": Flow(Action.CANCEL_SUBSCRIPTION, "sub_1")}, ("flow",)),
        ({"locale": "de", "flow": Flow(Action.OVERVIEW)}, ("locale", "flow")),
        ({"provider_options": {"paylera": {"theme": "dark"}}}, ()),  # another vendor's
    ],
)
def test_cosmetic_hints_are_dropped_and_listed(
    mode: str, fields: dict[str, Any], ignored: tuple[str, ...]
) -> None:
    script = created()
    link = mint(mode, plugipay(), script, request(**fields))

    assert link.ignored_fields == ignored
    assert script.only.json() == {"customerId": CUSTOMER, "returnUrl": RETURN_URL}


@both_modes
@pytest.mark.parametrize(
    "fields",
    [
        {"locale": "fr"},
        {"subscription_ids": ["sub_1"]},
        {"flow": Flow(Action.OVERVIEW)},
    ],
)
def test_strict_refuses_every_unsupported_field(mode: str, fields: dict[str, Any]) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature):
        mint(mode, plugipay(), script, request(**fields), strict=True)
    assert script.sent == []


@both_modes
def test_strict_allows_what_plugipay_supports(mode: str) -> None:
    script = created(accountId=MERCHANT)
    link = mint(
        mode,
        plugipay(),
        script,
        request(on_behalf_of=MERCHANT, idempotency_key="k-1"),
        strict=True,
    )
    assert link.idempotency_key == "k-1"
    assert script.only.headers["X-Plugipay-On-Behalf-Of"] == MERCHANT


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Plugipay: the answer recorded in cassettes/plugipay/test_mints_a_link.yaml. A hand-written
# integration signs every request (HMAC-SHA256 over timestamp, method, path and body hash; see
# docs/providers/plugipay.md), so the raw side does too.

BENCH_CUSTOMER = "cus_01J9CASSETTE0000000000PGAY"
BENCH_SESSION = "ps_01M7Y7B58ZRMHVW6KTVESW1PNS"
BENCH_ACCOUNT = "acc_01HZSEED00000000000000ACCT"


def bench_sign(
    credentials: Mapping[str, str], method: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    timestamp = str(int(time.time()))
    message = f"{timestamp}\n{method}\n{path}\n{hashlib.sha256(body).hexdigest()}"
    secret = credentials["key_secret"].encode()
    headers["X-Plugipay-Timestamp"] = timestamp
    headers["X-Plugipay-Signature"] = (
        "v1=" + hmac.new(secret, message.encode(), hashlib.sha256).hexdigest()
    )


BENCH = VendorBench(
    credentials={"key_id": "pk_bench_key_01", "key_secret": "sk_bench_secret_0123456789"},
    customer_id=BENCH_CUSTOMER,
    request={"return_url": "https://app.example.com/account/billing"},
    status=201,
    answer={
        "data": {
            "id": BENCH_SESSION,
            "arn": f"arn:plugipay:{BENCH_ACCOUNT}:portal-session/{BENCH_SESSION}",
            "accountId": BENCH_ACCOUNT,
            "customerId": BENCH_CUSTOMER,
            "url": f"https://plugipay.com/portal/{BENCH_SESSION}#t=tok_bench_0123456789",
            "returnUrl": "https://app.example.com/account/billing",
            "expiresAt": "2026-11-21T05:10:26.751Z",
            "createdAt": "2026-11-21T04:55:26.751Z",
        }
    },
    url_at=("data", "url"),
    sign=bench_sign,
)
