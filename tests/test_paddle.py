"""Paddle through Portal, replayed from cassettes/paddle/.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Paddle's sandbox environment, with PADDLE_API_KEY set): docs/cassettes.md.
In replay there is no server and sockets are blocked; every exchange comes from the cassette.

Paddle has no idempotency keys: a retried create simply mints again (harmless: a portal
session grants nothing but a fresh short-lived token), so the retry tests show both attempts
were the same request, with no key at all.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

from portalkit import Action, AsyncPortal, Flow, Portal, PortalRequest, errors
from portalkit.sandbox import Fault

VENDOR = "paddle"
#: The ids the cassettes hold (a live recording maps the real ones onto them):
#: ^ctm_[a-z\d]{26}$ and ^sub_[a-z\d]{26}$.
CASSETTE_IDS = Ids(
    customer="ctm_01j9cassette00000000paddle",
    subscriptions=(
        "sub_01j9cassette0000000000sub1",
        "sub_01j9cassette0000000000sub2",
        "sub_01j9cassette0000000000sub3",
    ),
    unknown_customer="ctm_01j9unknown000000000000000",
)
pytestmark = [pytest.mark.vcr, pytest.mark.block_network]

#: A subscription of another customer (added to the sandbox when recording).
OTHER_CUSTOMER = "ctm_01j9cassette000000000other"
OTHER_SUBSCRIPTION = "sub_01j9cassette00000000other1"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_mints_an_overview_link_without_subscriptions(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "paddle"
    assert link.session_id.startswith("cpls_")
    assert link.customer_id == recording.ids.customer
    assert _query(link.url)["action"] == ["overview"]
    assert "token" in _query(link.url)
    assert [(d.action, d.subscription_id) for d in link.deep_links] == [(Action.OVERVIEW, None)]
    assert link.expires_at is None  # Paddle reports none; never invented
    assert link.created_at is not None
    assert link.idempotency_key is None
    assert link.request_id

    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == f"/customers/{recording.recorded_ids.customer}/portal-sessions"
    assert json.loads(request.body) == {}
    assert header(request, "Idempotency-Key") is None
    assert_cassette_played(vcr, 1)


def test_deep_links_for_several_subscriptions(recording: Recording, vcr: Any) -> None:
    """With the optional fields too: Paddle takes no return URL or locale, so they are
    dropped before sending and listed on the link."""
    subscriptions = recording.ids.subscriptions
    with Portal(recording.provider()) as portal:
        link = portal.create_link(
            PortalRequest(
                recording.ids.customer,
                subscription_ids=subscriptions,
                return_url="https://app.example.com/account",
                locale="fr",
            )
        )

    assert len(subscriptions) == 3
    assert link.ignored_fields == ("return_url", "locale")
    assert link.return_url is None
    assert len(link.deep_links) == 1 + 2 * len(subscriptions)
    for subscription in subscriptions:
        cancel = _query(link.deep_link(Action.CANCEL_SUBSCRIPTION, subscription))
        assert cancel["action"] == ["cancel_subscription"]
        assert cancel["subscription_id"] == [subscription]
        payment = _query(link.deep_link(Action.UPDATE_PAYMENT_METHOD, subscription))
        assert payment["action"] == ["update_subscription_payment_method"]
        assert payment["subscription_id"] == [subscription]
    with pytest.raises(errors.DeepLinkNotFound):
        link.deep_link(Action.UPDATE_SUBSCRIPTION, subscriptions[0])

    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {
        "subscription_ids": list(recording.recorded_ids.subscriptions)
    }
    assert_cassette_played(vcr, 1)


async def test_async_portal_opens_a_flow_at_cancel(recording: Recording, vcr: Any) -> None:
    """A Flow becomes Paddle's deep link: the link's url opens the cancel form."""
    subscription = recording.ids.subscriptions[1]
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(
            PortalRequest(
                recording.ids.customer, flow=Flow(Action.CANCEL_SUBSCRIPTION, subscription)
            )
        )

    assert link.url == link.deep_link(Action.CANCEL_SUBSCRIPTION, subscription)
    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {
        "subscription_ids": [recording.recorded_ids.subscriptions[1]]
    }
    assert_cassette_played(vcr, 1)


# -- error statuses ------------------------------------------------------------------------------


@pytest.mark.sandbox_only
def test_400_invalid_field_for_another_customers_subscription(
    recording: Recording, vcr: Any
) -> None:
    if recording.sandbox is not None:
        recording.sandbox.add_customer("paddle", OTHER_CUSTOMER)
        recording.sandbox.add_subscription("paddle", OTHER_CUSTOMER, OTHER_SUBSCRIPTION)
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(
            PortalRequest(recording.ids.customer, subscription_ids=[OTHER_SUBSCRIPTION])
        )

    assert caught.value.status == 400
    assert caught.value.code == "invalid_field"
    # Paddle's per-field errors are kept in the message.
    assert "subscription_ids[0]" in (caught.value.vendor_message or "")
    assert caught.value.request_id
    assert_cassette_played(vcr, 1)


def test_401_for_a_wrong_key(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 401
    assert caught.value.code
    assert_cassette_played(vcr, 1)


@pytest.mark.live_needs("PADDLE_NO_SCOPE_API_KEY")
def test_403_for_a_key_without_the_portal_permission(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert caught.value.code  # Paddle's page lists no codes (the sandbox says "forbidden")
    assert_cassette_played(vcr, 1)


def test_404_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 404
    assert caught.value.code  # Paddle's page lists no codes (the sandbox says "not_found")
    assert_cassette_played(vcr, 1)


# -- retries recorded against the sandbox's fault injection -------------------------------------


@pytest.mark.sandbox_only
@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (503, None)], ids=["429", "503"])
def test_retry_then_201_sends_the_same_request_again(
    recording: Recording, vcr: Any, status: int, retry_after: Any
) -> None:
    recording.script(Fault.status(status, retry_after=retry_after))
    subscriptions = recording.ids.subscriptions[:2]
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(
            PortalRequest(recording.ids.customer, subscription_ids=subscriptions)
        )

    assert len(sent) == 2
    assert all("Idempotency-Key" not in attempt.headers for attempt in sent)
    first, second = recorded_requests(vcr)
    assert (first.path, json.loads(first.body)) == (second.path, json.loads(second.body))
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (status, 201)
    assert (
        recording.as_recorded(link.session_id)
        == json.loads(created["body"]["string"])["data"]["id"]
    )
    assert len(link.deep_links) == 1 + 2 * len(subscriptions)
    assert_cassette_played(vcr, 2)
