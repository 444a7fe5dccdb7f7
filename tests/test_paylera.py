"""Paylera through Portal, replayed from cassettes/paylera/.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Paylera itself, with its credentials set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

Paylera's page documents no error codes, so these tests assert statuses and error classes
(portalkit's contract), not the sandbox's codes: a live recording must pass them too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

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

from portalkit import AsyncPortal, Portal, PortalConfiguration, PortalRequest, errors
from portalkit.sandbox import Fault

VENDOR = "paylera"
#: The ids the cassettes hold (a live recording maps the real ones onto them).
CASSETTE_IDS = Ids(customer="cus_cassette01", unknown_customer="cus_unknown000")
pytestmark = [pytest.mark.vcr, pytest.mark.block_network]

RETURN_URL = "https://yourapp.example/account/billing"


def test_mints_a_link_with_only_the_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "paylera"
    assert link.session_id.startswith("ps_")
    assert link.customer_id == recording.ids.customer
    assert "/p/" in link.url  # the path is the bearer token
    assert link.expires_at is not None
    assert link.expires_at.tzinfo is not None
    assert link.created_at is None  # Paylera does not say; never invented
    assert link.return_url is None
    assert link.ignored_fields == ()

    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == "/v1/portal/sessions"
    assert json.loads(request.body) == {"customer_id": recording.recorded_ids.customer}
    assert header(request, "Idempotency-Key")
    assert header(request, "Authorization") == "Bearer scrubbed"  # scrubbed when recorded
    assert_cassette_played(vcr, 1)


def test_mints_a_link_with_every_optional_field(recording: Recording, vcr: Any) -> None:
    configuration = PortalConfiguration(
        cancel_subscription=False, update_subscription=False, update_payment_method=True
    )
    with Portal(recording.provider()) as portal:
        link = portal.create_link(
            PortalRequest(
                recording.ids.customer,
                return_url=RETURN_URL,
                locale="fr",
                configuration=configuration,
                idempotency_key="portalkit-cassette-optional-1",
            )
        )

    assert link.return_url == RETURN_URL
    assert link.ignored_fields == ()
    assert link.idempotency_key == "portalkit-cassette-optional-1"

    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {
        "customer_id": recording.recorded_ids.customer,
        "return_url": RETURN_URL,
        "locale": "fr",
        "configuration": {
            "subscription_cancel_enabled": False,
            "subscription_update_enabled": False,
            "payment_method_update_enabled": True,
        },
    }
    assert header(request, "Idempotency-Key") == "portalkit-cassette-optional-1"
    assert_cassette_played(vcr, 1)


async def test_async_portal_mints_a_link(recording: Recording, vcr: Any) -> None:
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(
            PortalRequest(recording.ids.customer, return_url=RETURN_URL)
        )

    assert link.session_id.startswith("ps_")
    assert_cassette_played(vcr, 1)


def test_same_idempotency_key_and_body_returns_the_same_session(
    recording: Recording, vcr: Any
) -> None:
    request = PortalRequest(
        recording.ids.customer, return_url=RETURN_URL, idempotency_key="portalkit-cassette-same-1"
    )
    with Portal(recording.provider()) as portal:
        first = portal.create_link(request)
        second = portal.create_link(request)

    assert second.session_id == first.session_id
    assert_cassette_played(vcr, 2)


# -- error statuses --------------------------------------------------------------------------


def test_400_for_an_unknown_parameter_sent_through_provider_options(
    recording: Recording, vcr: Any
) -> None:
    """The escape hatch sends what portalkit cannot judge; Paylera judges it."""
    request = PortalRequest(recording.ids.customer, provider_options={"paylera": {"theme": "dark"}})
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(request)

    assert caught.value.status == 400
    # Paylera documents no error codes; the sandbox answers parameter_unknown, naming it.
    assert caught.value.code
    assert caught.value.vendor_message
    (recorded,) = recorded_requests(vcr)
    assert json.loads(recorded.body) == {
        "customer_id": recording.recorded_ids.customer,
        "theme": "dark",
    }
    assert_cassette_played(vcr, 1)


def test_401_for_a_wrong_key(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 401
    assert caught.value.request_id
    assert_cassette_played(vcr, 1)


@pytest.mark.live_needs("PAYLERA_NO_SCOPE_API_KEY")
def test_403_for_a_key_without_the_portal_permission(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert_cassette_played(vcr, 1)


def test_404_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 404
    assert_cassette_played(vcr, 1)


def test_409_for_an_idempotency_key_reused_with_another_body(
    recording: Recording, vcr: Any
) -> None:
    key = "portalkit-cassette-conflict-1"
    with Portal(recording.provider()) as portal:
        portal.create_link(PortalRequest(recording.ids.customer, idempotency_key=key))
        with pytest.raises(errors.IdempotencyConflict) as caught:
            portal.create_link(
                PortalRequest(recording.ids.customer, locale="de", idempotency_key=key)
            )

    assert caught.value.status == 409
    assert_cassette_played(vcr, 2)


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
        link = portal.create_link(PortalRequest(recording.ids.customer, return_url=RETURN_URL))

    assert [attempt.headers["Idempotency-Key"] for attempt in sent] == [link.idempotency_key] * 2
    first, second = recorded_requests(vcr)
    assert header(first, "Idempotency-Key") == header(second, "Idempotency-Key")
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (status, 201)
    if status == 429:
        assert header(failed["headers"], "Retry-After")
    assert recording.as_recorded(link.session_id) == json.loads(created["body"]["string"])["id"]
    assert_cassette_played(vcr, 2)
