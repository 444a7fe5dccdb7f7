"""Plugipay through Portal, replayed from cassettes/plugipay/.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Plugipay itself, with its credentials set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.
"""

from __future__ import annotations

import json
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

from portalkit import AsyncPortal, Portal, PortalRequest, RetryPolicy, errors
from portalkit.sandbox import Fault

VENDOR = "plugipay"
#: The ids the cassettes hold (a live recording maps the real ones onto them): cus_ + a
#: 26-character ULID.
CASSETTE_IDS = Ids(
    customer="cus_01J9CASSETTE0000000000PGAY",
    unknown_customer="cus_01J9NKN0WN0000000000000000",
)
pytestmark = [pytest.mark.vcr, pytest.mark.block_network]

RETURN_URL = "https://app.example.com/account/billing"
OTHER_RETURN_URL = "https://app.example.com/settings"
#: A merchant account for the on-behalf-of header (the sandbox accepts any acc_ id).
MERCHANT = "acc_01J9MERCHANT0000000000000"


def _request(recording: Recording, **fields: Any) -> PortalRequest:
    fields.setdefault("return_url", RETURN_URL)
    return PortalRequest(recording.ids.customer, **fields)


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


def test_mints_a_link_with_every_optional_field(recording: Recording, vcr: Any) -> None:
    """On behalf of a merchant, with the caller's own idempotency key, and a locale that
    Plugipay cannot honour (dropped and listed, never sent: the schema is strict)."""
    with Portal(recording.provider()) as portal:
        link = portal.create_link(
            _request(
                recording,
                on_behalf_of=MERCHANT,
                locale="fr",
                idempotency_key="portalkit-cassette-optional-1",
            )
        )

    assert link.ignored_fields == ("locale",)
    assert link.idempotency_key == "portalkit-cassette-optional-1"
    assert link.raw["data"]["accountId"] == MERCHANT

    (request,) = recorded_requests(vcr)
    assert header(request, "X-Plugipay-On-Behalf-Of") == MERCHANT
    assert header(request, "Idempotency-Key") == "portalkit-cassette-optional-1"
    assert set(json.loads(request.body)) == {"customerId", "returnUrl"}
    assert_cassette_played(vcr, 1)


async def test_async_portal_mints_a_link(recording: Recording, vcr: Any) -> None:
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(_request(recording))

    assert link.session_id.startswith("ps_")
    assert link.customer_id == recording.ids.customer
    assert_cassette_played(vcr, 1)


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


def test_401_invalid_key_for_an_unknown_key_id(recording: Recording, vcr: Any) -> None:
    provider = attrs.evolve(recording.provider(), key_id="pk_portalkit_unknown")
    with Portal(provider) as portal, pytest.raises(errors.AuthenticationFailed) as caught:
        portal.create_link(_request(recording))

    assert caught.value.code == "invalid_key"
    assert_cassette_played(vcr, 1)


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


def test_404_not_found_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer, return_url=RETURN_URL))

    assert caught.value.status == 404
    assert caught.value.code == "not_found"
    assert_cassette_played(vcr, 1)


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
