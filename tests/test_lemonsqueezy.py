"""Lemon Squeezy through Portal, replayed from cassettes/lemonsqueezy/, and its sandbox twin.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Lemon Squeezy, with LEMONSQUEEZY_API_KEY set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

Lemon Squeezy mints nothing: a link is a GET of the customer, then of each subscription asked
for. Every request is a GET, retried without an idempotency key. The twin's own behaviour
(JSON:API documents, signed reusable pages, faults on the second request of an exchange) is
tested against a sandbox started here, on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _cassettes import (
    FAST_RETRY,
    Ids,
    Recording,
    assert_cassette_played,
    find_secrets,
    header,
    recorded_requests,
    recorded_responses,
)

from portalkit import Action, AsyncPortal, Flow, Portal, PortalRequest, RetryPolicy, errors
from portalkit._http import httpx
from portalkit.sandbox import Fault, Sandbox

VENDOR = "lemonsqueezy"
#: The ids the cassettes hold (a live recording maps the real ones onto them): numeric.
CASSETTE_IDS = Ids(
    customer="7101",
    subscriptions=("7201", "7202", "7203"),
    unknown_customer="7999999",
)
JSON_API = "application/vnd.api+json"

#: A subscription of another customer (added to the sandbox when recording).
OTHER_CUSTOMER = "7102"
OTHER_SUBSCRIPTION = "7299"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# -- cassettes -------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
def test_reads_the_customers_portal_link(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "lemonsqueezy"
    assert link.session_id == f"customers/{recording.ids.customer}"
    assert link.customer_id == recording.ids.customer
    assert urlsplit(link.url).path.endswith("/billing")
    assert {"expires", "signature"} <= set(_query(link.url))
    assert link.expires_at is not None
    assert int(link.expires_at.timestamp()) == int(_query(link.url)["expires"][0])
    assert [(d.action, d.subscription_id) for d in link.deep_links] == [(Action.OVERVIEW, None)]
    assert link.idempotency_key is None

    (request,) = recorded_requests(vcr)
    assert request.method == "GET"
    assert request.path == f"/v1/customers/{recording.recorded_ids.customer}"
    assert header(request, "Accept") == JSON_API
    assert header(request, "Idempotency-Key") is None
    (response,) = recorded_responses(vcr)
    body = json.loads(response["body"]["string"])
    assert body["data"]["type"] == "customers"
    assert body["jsonapi"] == {"version": "1.0"}
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_deep_links_read_each_subscription(recording: Recording, vcr: Any) -> None:
    """Return URL and locale are dropped (Lemon Squeezy takes neither) and listed."""
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

    assert link.ignored_fields == ("return_url", "locale")
    assert len(link.deep_links) == 1 + 3 * len(subscriptions)
    for subscription in subscriptions:
        payment = urlsplit(link.deep_link(Action.UPDATE_PAYMENT_METHOD, subscription)).path
        assert payment.endswith(f"/subscription/{subscription}/payment-details")
        update = urlsplit(link.deep_link(Action.UPDATE_SUBSCRIPTION, subscription)).path
        assert update.endswith(f"/billing/{subscription}/update")
    with pytest.raises(errors.DeepLinkNotFound):
        link.deep_link(Action.CANCEL_SUBSCRIPTION, subscriptions[0])

    paths = [request.path for request in recorded_requests(vcr)]
    assert paths == [
        f"/v1/customers/{recording.recorded_ids.customer}",
        *(f"/v1/subscriptions/{s}" for s in recording.recorded_ids.subscriptions),
    ]
    assert_cassette_played(vcr, 4)


@pytest.mark.vcr
@pytest.mark.block_network
async def test_async_portal_opens_a_flow_at_update_payment_method(
    recording: Recording, vcr: Any
) -> None:
    subscription = recording.ids.subscriptions[1]
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(
            PortalRequest(
                recording.ids.customer, flow=Flow(Action.UPDATE_PAYMENT_METHOD, subscription)
            )
        )

    assert link.url == link.deep_link(Action.UPDATE_PAYMENT_METHOD, subscription)
    assert link.session_id == f"subscriptions/{subscription}"
    assert [r.path for r in recorded_requests(vcr)][1] == (
        f"/v1/subscriptions/{recording.recorded_ids.subscriptions[1]}"
    )
    assert_cassette_played(vcr, 2)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
def test_another_customers_subscription_is_refused(recording: Recording, vcr: Any) -> None:
    if recording.sandbox is not None:
        recording.sandbox.add_customer(VENDOR, OTHER_CUSTOMER)
        recording.sandbox.add_subscription(VENDOR, OTHER_CUSTOMER, OTHER_SUBSCRIPTION)
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(
            PortalRequest(
                recording.ids.customer, flow=Flow(Action.UPDATE_PAYMENT_METHOD, OTHER_SUBSCRIPTION)
            )
        )

    assert caught.value.field == "flow.subscription_id"
    assert OTHER_CUSTOMER not in str(caught.value)
    assert "http" not in str(caught.value)
    assert_cassette_played(vcr, 2)


@pytest.mark.vcr
@pytest.mark.block_network
def test_401_for_a_wrong_key(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 401
    assert caught.value.vendor_message
    (response,) = recorded_responses(vcr)
    assert json.loads(response["body"]["string"])["errors"][0]["status"] == "401"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.live_needs("LEMONSQUEEZY_NO_SCOPE_API_KEY")
def test_403_for_a_key_of_another_store(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_404_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 404
    assert "Not Found" in (caught.value.vendor_message or "")
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (503, None)], ids=["429", "503"])
def test_a_failed_subscription_read_is_retried_alone(
    recording: Recording, vcr: Any, status: int, retry_after: Any
) -> None:
    """The customer read succeeds, the subscription read fails once and is retried: the
    customer is not read again."""
    recording.script(Fault.delay(0), Fault.status(status, retry_after=retry_after))
    subscription = recording.ids.subscriptions[0]
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(
            PortalRequest(recording.ids.customer, subscription_ids=[subscription])
        )

    assert len(sent) == 3
    customer, failed, retried = recorded_requests(vcr)
    assert customer.path.startswith("/v1/customers/")
    assert (
        failed.path
        == retried.path
        == f"/v1/subscriptions/{recording.recorded_ids.subscriptions[0]}"
    )
    codes = [r["status"]["code"] for r in recorded_responses(vcr)]
    assert codes == [200, status, 200]
    assert len(link.deep_links) == 4
    assert_cassette_played(vcr, 3)


# -- the twin, served here ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Iterator[Sandbox]:
    served.reset()
    yield served
    served.reset()


def _get(sandbox: Sandbox, path: str, key: str = "valid", **headers: str) -> httpx.Response:
    api_key = sandbox.credentials(VENDOR, key)["api_key"]  # type: ignore[arg-type]
    sent = {"Accept": JSON_API, "Authorization": f"Bearer {api_key}", **headers}
    return httpx.get(f"{sandbox.url}{path}", headers=sent)


def test_the_twin_seeds_two_one_and_no_subscriptions(sandbox: Sandbox) -> None:
    first, second, third = sandbox.customers(VENDOR)
    assert [len(sandbox.subscriptions(VENDOR, c)) for c in (first, second, third)] == [2, 1, 0]
    assert all(c.isdigit() for c in (first, second, third))


def test_a_customer_is_a_json_api_document(sandbox: Sandbox) -> None:
    response = _get(sandbox, "/v1/customers/1")
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_API
    assert response.headers["x-ratelimit-limit"] == "300"
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["jsonapi"] == {"version": "1.0"}
    assert body["links"]["self"].endswith("/v1/customers/1")
    data = body["data"]
    assert (data["type"], data["id"]) == ("customers", "1")
    assert {"store", "orders", "subscriptions"} <= set(data["relationships"])
    portal = data["attributes"]["urls"]["customer_portal"]
    assert urlsplit(portal).path == "/lemonsqueezy/portalkit-sandbox/billing"
    query = _query(portal)
    assert query["user"] == ["1"]
    assert int(query["expires"][0]) == pytest.approx(time.time() + 24 * 3600, abs=5)
    assert len(query["signature"][0]) == 64


def test_each_read_signs_the_links_afresh(sandbox: Sandbox) -> None:
    first = _get(sandbox, "/v1/customers/1").json()["data"]["attributes"]["urls"]
    sandbox.advance(60)
    again = _get(sandbox, "/v1/customers/1").json()["data"]["attributes"]["urls"]
    assert first["customer_portal"] != again["customer_portal"]
    assert len(sandbox.sessions(VENDOR)) == 2  # each read is one signed link handed out


def test_a_customer_without_subscriptions_has_no_portal(sandbox: Sandbox) -> None:
    third = sandbox.customers(VENDOR)[2]
    body = _get(sandbox, f"/v1/customers/{third}").json()
    assert body["data"]["attributes"]["urls"]["customer_portal"] is None
    assert sandbox.sessions(VENDOR) == []


def test_a_subscription_says_whose_it_is(sandbox: Sandbox) -> None:
    body = _get(sandbox, "/v1/subscriptions/3").json()
    attributes = body["data"]["attributes"]
    assert (body["data"]["type"], body["data"]["id"]) == ("subscriptions", "3")
    assert attributes["customer_id"] == 2
    urls = attributes["urls"]
    assert urlsplit(urls["update_payment_method"]).path.endswith("/subscription/3/payment-details")
    assert _query(urls["customer_portal"])["user"] == ["2"]
    assert urlsplit(urls["customer_portal_update_subscription"]).path.endswith("/billing/3/update")


@pytest.mark.parametrize(
    ("path", "key", "headers", "status", "title"),
    [
        ("/v1/customers/1", "wrong", {}, 401, "Unauthorized"),
        ("/v1/customers/1", "no_scope", {}, 403, "Forbidden"),
        ("/v1/customers/424242", "valid", {}, 404, "Not Found"),
        ("/v1/customers/abc", "valid", {}, 404, "Not Found"),
        ("/v1/subscriptions/424242", "valid", {}, 404, "Not Found"),
        ("/v1/customers/1", "valid", {"Accept": "text/html"}, 406, "Not Acceptable"),
    ],
)
def test_refusals_are_json_api_error_documents(
    sandbox: Sandbox, path: str, key: str, headers: dict[str, str], status: int, title: str
) -> None:
    response = _get(sandbox, path, key, **headers)
    assert response.status_code == status
    assert response.headers["content-type"] == JSON_API
    (error,) = response.json()["errors"]
    assert (error["status"], error["title"]) == (str(status), title)
    assert error["detail"]


def test_a_missing_key_is_401(sandbox: Sandbox) -> None:
    response = httpx.get(f"{sandbox.url}/v1/customers/1", headers={"Accept": JSON_API})
    assert response.status_code == 401


def test_429_carries_the_rate_limit_the_adapter_reads(sandbox: Sandbox) -> None:
    sandbox.script(VENDOR, Fault.status(429, retry_after=3))
    with (
        Portal(sandbox.provider(VENDOR), retry=RetryPolicy(max_attempts=1)) as portal,
        pytest.raises(errors.RateLimited) as caught,
    ):
        portal.create_link(PortalRequest("1"))
    assert caught.value.retry_after == 3
    assert "300 calls a minute" in str(caught.value)
    (received,) = sandbox.received(VENDOR)
    assert received.path == "/v1/customers/1"


def test_a_fault_reaches_the_second_request_of_an_exchange(sandbox: Sandbox) -> None:
    """Faults apply to the next requests to any of the vendor's routes: the customer read
    passes (a zero delay), the subscription read gets a 503, and its retry succeeds."""
    sandbox.script(VENDOR, Fault.delay(0), Fault.status(503))
    with Portal(sandbox.provider(VENDOR), retry=FAST_RETRY) as portal:
        link = portal.create_link(PortalRequest("1", flow=Flow(Action.UPDATE_PAYMENT_METHOD, "2")))
    assert [r.path for r in sandbox.received(VENDOR)] == [
        "/v1/customers/1",
        "/v1/subscriptions/2",
        "/v1/subscriptions/2",
    ]
    assert urlsplit(link.url).path.endswith("/subscription/2/payment-details")


# -- the hosted pages ---------------------------------------------------------------------------


def _link(sandbox: Sandbox, request: PortalRequest) -> str:
    with Portal(sandbox.provider(VENDOR)) as portal:
        return portal.create_link(request).url


def test_the_signed_link_opens_the_customers_portal_any_number_of_times(sandbox: Sandbox) -> None:
    url = _link(sandbox, PortalRequest("2"))
    for _ in range(3):  # reusable until it expires, as Lemon Squeezy's are
        page = httpx.get(url)
        assert page.status_code == 200
        assert '<dd id="customer-id">2</dd>' in page.text
        assert 'id="preopened-action"' not in page.text
        assert 'id="subscription-3"' in page.text


def test_a_tampered_link_is_403_and_an_expired_one_410(sandbox: Sandbox) -> None:
    url = _link(sandbox, PortalRequest("1"))
    other_user = url.replace("user=1", "user=2")
    assert httpx.get(other_user).status_code == 403  # the signature covers the customer
    signature = _query(url)["signature"][0]
    assert httpx.get(url.replace(signature, "0" * 64)).status_code == 403
    sandbox.advance(24 * 3600 + 1)
    expired = httpx.get(url)
    assert expired.status_code == 410
    assert 'data-reason="expired"' in expired.text


def test_the_unsigned_billing_page_asks_to_sign_in(sandbox: Sandbox) -> None:
    page = httpx.get(f"{sandbox.url}/lemonsqueezy/portalkit-sandbox/billing")
    assert page.status_code == 401
    assert 'id="sign-in"' in page.text
    assert httpx.get(f"{sandbox.url}/lemonsqueezy/another-store/billing").status_code == 404


@pytest.mark.parametrize(
    ("action", "opened"),
    [
        (Action.UPDATE_PAYMENT_METHOD, "update_payment_method"),
        (Action.UPDATE_SUBSCRIPTION, "update_subscription"),
    ],
)
def test_a_deep_link_pre_opens_its_action(sandbox: Sandbox, action: Action, opened: str) -> None:
    url = _link(sandbox, PortalRequest("1", flow=Flow(action, "2")))
    page = httpx.get(url)
    assert page.status_code == 200
    assert '<dd id="customer-id">1</dd>' in page.text
    assert f'data-action="{opened}" data-subscription-id="2"' in page.text


def test_the_path_of_a_deep_link_is_signed_too(sandbox: Sandbox) -> None:
    urls = _get(sandbox, "/v1/subscriptions/3").json()["data"]["attributes"]["urls"]
    forged = urls["customer_portal_update_subscription"].replace("/billing/3/", "/billing/1/")
    assert httpx.get(forged).status_code == 403  # the path is signed too
    assert httpx.get(urls["customer_portal_update_subscription"]).status_code == 200


# -- cassette hygiene: the scan knows this twin's token ---------------------------------------


def test_the_cassette_scan_catches_a_signature_left_in_place() -> None:
    signature = "9985e3bf9007840aeb3951412be475abc17439c44f2b8a7c1d3e5f60718293a4"
    dirty = (
        '{"customer_portal": "https://my-store.lemonsqueezy.com/billing?expires=1666869343'
        f'&user=1&signature={signature}"}}'
    )
    assert any("portal URL token" in problem for problem in find_secrets(dirty))
    clean = dirty.replace(signature, "scrubbed1")
    assert find_secrets(clean) == []
