"""Lemon Squeezy through Portal, replayed from cassettes/lemonsqueezy/, and its sandbox twin.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Lemon Squeezy, with LEMONSQUEEZY_API_KEY set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

Lemon Squeezy mints nothing: a link is a GET of the customer, then of each subscription asked
for. Every request is a GET, retried without an idempotency key. The twin's own behaviour
(JSON:API documents, signed reusable pages, faults on the second request of an exchange) is
tested against a sandbox started here, on 127.0.0.1.

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
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
from _mock import Script, both_modes, mint, raise_, record_sleeps, reply

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
from portalkit._http import httpx
from portalkit.providers.lemonsqueezy import LemonSqueezy
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


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Lemon Squeezy adapter, through Portal and AsyncPortal over httpx.MockTransport.
#
# The contract is shared/provider-docs/lemonsqueezy.md and Lemon Squeezy's API reference: the
# signed portal link is read from the customer (GET /v1/customers/{id}), the deep links from
# each subscription (GET /v1/subscriptions/{id}); JSON:API documents, bearer key, numeric ids;
# 24-hour links whose ``expires`` parameter is the expiry; JSON:API error documents. Bodies
# below are the documentation's examples ("Retrieve a customer", "Retrieve a subscription").

API_KEY = "lmsq_test_key_do_not_leak_0123456789"
ROOT = "https://api.lemonsqueezy.com"
ONCE = RetryPolicy(max_attempts=1)
EXPIRES = 1666869343  # the docs' examples
EXPIRES_AT = datetime.fromtimestamp(EXPIRES, UTC)
SIGNATURE = "82ae290ceac8edd4190c82825dd73a8743346d894a8ddbc4898b97eb96d105a5"
PORTAL = f"https://my-store.lemonsqueezy.com/billing?expires={EXPIRES}&signature={SIGNATURE}"

#: Retrieve a customer -> Returns (abridged to what matters, ids as documented).
DOC_CUSTOMER: dict[str, Any] = {
    "jsonapi": {"version": "1.0"},
    "links": {"self": "https://api.lemonsqueezy.com/v1/customers/1"},
    "data": {
        "type": "customers",
        "id": "1",
        "attributes": {
            "store_id": 1,
            "name": "John Doe",
            "email": "johndoe@example.com",
            "status": "subscribed",
            "city": None,
            "region": None,
            "country": "US",
            "total_revenue_currency": 84332,
            "mrr": 1999,
            "status_formatted": "Subscribed",
            "country_formatted": "United States",
            "total_revenue_currency_formatted": "$843.32",
            "mrr_formatted": "$19.99",
            "urls": {"customer_portal": PORTAL},
            "created_at": "2022-12-01T13:01:07.000000Z",
            "updated_at": "2022-12-09T09:05:21.000000Z",
            "test_mode": False,
        },
        "relationships": {
            "store": {
                "links": {
                    "related": "https://api.lemonsqueezy.com/v1/customers/1/store",
                    "self": "https://api.lemonsqueezy.com/v1/customers/1/relationships/store",
                }
            }
        },
    },
}

PAYMENT = (
    f"https://my-store.lemonsqueezy.com/subscription/1/payment-details?expires={EXPIRES}"
    "&signature=9985e3bf9007840aeb3951412be475abc17439c449c1af3e56e08e45e1345413"
)
UPDATE = (
    f"https://my-store.lemonsqueezy.com/billing/1/update?expires={EXPIRES}"
    "&signature=e4fabc7ee703664d644bba9e79a9cd3dd00622308b335f3c166787f0b18999f2"
)


def doc_subscription(
    subscription_id: str = "1", customer_id: int = 1, *, with_update: bool = True
) -> dict[str, Any]:
    """Retrieve a subscription -> Returns (abridged), for this id and owner."""
    urls = {
        "update_payment_method": PAYMENT.replace("/1/", f"/{subscription_id}/"),
        "customer_portal": PORTAL,
    }
    if with_update:
        urls["customer_portal_update_subscription"] = UPDATE.replace("/1/", f"/{subscription_id}/")
    return {
        "jsonapi": {"version": "1.0"},
        "links": {"self": f"https://api.lemonsqueezy.com/v1/subscriptions/{subscription_id}"},
        "data": {
            "type": "subscriptions",
            "id": subscription_id,
            "attributes": {
                "store_id": 1,
                "customer_id": customer_id,
                "order_id": 1,
                "product_name": "Lemonade",
                "variant_name": "Citrus Blast",
                "status": "active",
                "cancelled": False,
                "urls": urls,
                "renews_at": "2022-11-12T00:00:00.000000Z",
                "ends_at": None,
                "test_mode": False,
            },
        },
    }


def jsonapi(status: int, body: dict[str, Any], **headers: str) -> Any:
    return reply(status, body, headers={"Content-Type": "application/vnd.api+json", **headers})


def customer_reply(**headers: str) -> Any:
    return jsonapi(200, DOC_CUSTOMER, **headers)


def error_document(status: int, title: str, detail: str) -> dict[str, Any]:
    return {
        "jsonapi": {"version": "1.0"},
        "errors": [{"detail": detail, "status": str(status), "title": title}],
    }


def lemon(**options: Any) -> LemonSqueezy:
    return LemonSqueezy(api_key=API_KEY, **options)


# -- the customer's portal link ----------------------------------------------------------


@both_modes
def test_customer_only_reads_the_customer(mode: str) -> None:
    script = Script(customer_reply(**{"X-Ratelimit-Limit": "300"}))
    link = mint(mode, lemon(), script, PortalRequest("1"))
    sent = script.only
    assert sent.method == "GET"
    assert str(sent.url) == f"{ROOT}/v1/customers/1"
    assert sent.headers["Accept"] == "application/vnd.api+json"
    assert sent.headers["Content-Type"] == "application/vnd.api+json"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.content == b""
    assert "Idempotency-Key" not in sent.headers
    assert link.provider == "lemonsqueezy"
    assert link.url == PORTAL
    assert link.customer_id == "1"
    assert link.expires_at == EXPIRES_AT  # from the signed URL's expires parameter
    assert link.created_at is None  # a read link has no minting time
    assert link.idempotency_key is None
    assert link.session_id == "customers/1"
    assert link.deep_link(Action.OVERVIEW) == PORTAL
    assert link.raw["customer"] == DOC_CUSTOMER
    assert SIGNATURE not in repr(link)


@both_modes
def test_base_url_picks_the_host(mode: str) -> None:
    script = Script(customer_reply())
    mint(mode, lemon(base_url="http://127.0.0.1:9999/"), script, PortalRequest("1"))
    assert str(script.only.url) == "http://127.0.0.1:9999/v1/customers/1"


def test_from_env_reads_the_key_and_base_url() -> None:
    from portalkit import provider_from_env

    provider = provider_from_env(
        {
            "PORTALKIT_PROVIDER": "lemonsqueezy",
            "LEMONSQUEEZY_API_KEY": API_KEY,
            "LEMONSQUEEZY_BASE_URL": "https://ls.example.test",
        }
    )
    assert isinstance(provider, LemonSqueezy)
    assert provider.api_root == "https://ls.example.test"
    assert API_KEY not in repr(provider)
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env({"PORTALKIT_PROVIDER": "lemonsqueezy"})
    assert caught.value.variable == "LEMONSQUEEZY_API_KEY"


def test_the_adapter_declares_its_capabilities() -> None:
    assert LemonSqueezy.portal_hosts == ("*.lemonsqueezy.com",)
    assert {feature.value for feature in LemonSqueezy.features} == {
        "subscription_deep_links",
        "flow",
    }
    with pytest.raises(errors.InvalidRequest):
        LemonSqueezy(api_key=" ")


@both_modes
def test_a_customer_without_a_portal_yet(mode: str) -> None:
    body = copy.deepcopy(DOC_CUSTOMER)
    body["data"]["attributes"]["urls"]["customer_portal"] = None
    script = Script(jsonapi(200, body))
    with pytest.raises(errors.NoPortalYet) as caught:
        mint(mode, lemon(), script, PortalRequest("1"), retry=RetryPolicy(max_attempts=3))
    error = caught.value
    assert not error.retryable
    assert "no customer portal" in error.message
    assert "subscription" in error.message
    assert len(script.sent) == 1  # not retried


@both_modes
def test_a_customer_without_a_portal_reads_no_subscription(mode: str) -> None:
    body = copy.deepcopy(DOC_CUSTOMER)
    body["data"]["attributes"]["urls"]["customer_portal"] = None
    script = Script(jsonapi(200, body))
    with pytest.raises(errors.NoPortalYet):
        mint(mode, lemon(), script, PortalRequest("1", subscription_ids=["1"]))
    assert [s.url.path for s in script.sent] == ["/v1/customers/1"]


@both_modes
def test_an_expires_parameter_that_is_not_unix_seconds_is_refused(mode: str) -> None:
    body = copy.deepcopy(DOC_CUSTOMER)
    body["data"]["attributes"]["urls"]["customer_portal"] = PORTAL.replace(str(EXPIRES), "tomorrow")
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, lemon(), Script(jsonapi(200, body)), PortalRequest("1"), retry=ONCE)
    assert "expires" in caught.value.message
    assert SIGNATURE not in str(caught.value)


@both_modes
@pytest.mark.parametrize(
    ("mutate", "what"),
    [
        (lambda b: b.pop("data"), "data"),
        (lambda b: b["data"]["attributes"].pop("urls"), "urls"),
        (lambda b: b["data"]["attributes"]["urls"].update(customer_portal=42), "customer_portal"),
        (lambda b: b["data"].update(id=1), "id"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, mutate: Any, what: str) -> None:
    body = copy.deepcopy(DOC_CUSTOMER)
    mutate(body)
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, lemon(), Script(jsonapi(200, body)), PortalRequest("1"), retry=ONCE)
    assert what in caught.value.message


# -- subscriptions: flows and deep links -------------------------------------------------


@both_modes
def test_deep_links_read_each_subscription_in_its_own_request(mode: str) -> None:
    script = Script(
        customer_reply(),
        jsonapi(200, doc_subscription("1")),
        jsonapi(200, doc_subscription("7", with_update=False), **{"X-Request-Id": "req_7"}),
    )
    link = mint(mode, lemon(), script, PortalRequest("1", subscription_ids=["1", "7"]))
    assert [s.url.path for s in script.sent] == [
        "/v1/customers/1",
        "/v1/subscriptions/1",
        "/v1/subscriptions/7",
    ]
    assert all(s.headers["Authorization"] == f"Bearer {API_KEY}" for s in script.sent)
    assert link.url == PORTAL  # no flow: the customer's portal
    assert link.deep_link(Action.UPDATE_PAYMENT_METHOD, "1") == PAYMENT
    assert link.deep_link(Action.UPDATE_SUBSCRIPTION, "1") == UPDATE
    assert link.deep_link(Action.OVERVIEW, "7") == PORTAL
    assert "/subscription/7/payment-details" in link.deep_link(Action.UPDATE_PAYMENT_METHOD, "7")
    with pytest.raises(errors.DeepLinkNotFound):  # the older answer has no update link
        link.deep_link(Action.UPDATE_SUBSCRIPTION, "7")
    assert link.request_id == "req_7"  # the last response's
    assert set(link.raw["subscriptions"]) == {"1", "7"}


@both_modes
@pytest.mark.parametrize(
    ("action", "url"),
    [
        (Action.UPDATE_PAYMENT_METHOD, PAYMENT),
        (Action.UPDATE_SUBSCRIPTION, UPDATE),
        (Action.OVERVIEW, PORTAL),
    ],
)
def test_a_flow_opens_that_subscriptions_link(mode: str, action: Action, url: str) -> None:
    script = Script(customer_reply(), jsonapi(200, doc_subscription("1")))
    link = mint(mode, lemon(), script, PortalRequest("1", flow=Flow(action, "1")))
    assert [s.url.path for s in script.sent] == ["/v1/customers/1", "/v1/subscriptions/1"]
    assert link.url == url
    assert link.session_id == "subscriptions/1"
    assert link.expires_at == EXPIRES_AT
    assert link.customer_id == "1"


@both_modes
def test_a_flow_and_deep_links_read_a_shared_subscription_once(mode: str) -> None:
    script = Script(customer_reply(), jsonapi(200, doc_subscription("1")))
    request = PortalRequest(
        "1", subscription_ids=["1"], flow=Flow(Action.UPDATE_PAYMENT_METHOD, "1")
    )
    link = mint(mode, lemon(), script, request)
    assert len(script.sent) == 2
    assert link.url == PAYMENT


@both_modes
def test_the_overview_flow_needs_no_subscription(mode: str) -> None:
    script = Script(customer_reply())
    link = mint(mode, lemon(), script, PortalRequest("1", flow=Flow(Action.OVERVIEW)))
    assert link.url == PORTAL


@both_modes
def test_the_update_flow_without_its_link_in_the_answer_is_invalid(mode: str) -> None:
    script = Script(customer_reply(), jsonapi(200, doc_subscription("1", with_update=False)))
    request = PortalRequest("1", flow=Flow(Action.UPDATE_SUBSCRIPTION, "1"))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, lemon(), script, request, retry=ONCE)
    assert "update_subscription" in caught.value.message


@both_modes
def test_another_customers_subscription_in_a_flow_is_refused(mode: str) -> None:
    script = Script(customer_reply(), jsonapi(200, doc_subscription("9", customer_id=2)))
    request = PortalRequest("1", flow=Flow(Action.UPDATE_PAYMENT_METHOD, "9"))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, lemon(), script, request, retry=RetryPolicy(max_attempts=3))
    error = caught.value
    assert error.field == "flow.subscription_id"
    assert "'9' does not belong to customer '1'" in error.message
    text = f"{error} {error!r} {error.vendor_message}"
    assert "payment-details" not in text
    assert "signature" not in text
    assert "'2'" not in text  # nor whose it is
    assert len(script.sent) == 2  # not retried


@both_modes
def test_another_customers_subscription_in_deep_links_is_refused(mode: str) -> None:
    script = Script(
        customer_reply(),
        jsonapi(200, doc_subscription("1")),
        jsonapi(200, doc_subscription("9", customer_id=2)),
    )
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, lemon(), script, PortalRequest("1", subscription_ids=["1", "9"]))
    assert caught.value.field == "subscription_ids[1]"


@both_modes
def test_an_unknown_subscription_is_a_refusal_naming_it(mode: str) -> None:
    script = Script(
        customer_reply(),
        jsonapi(
            404,
            error_document(404, "Not Found", "The resource could not be found."),
            **{"X-Request-Id": "req_404"},
        ),
    )
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, lemon(), script, PortalRequest("1", subscription_ids=["5"]))
    error = caught.value
    assert not isinstance(error, errors.CustomerNotFound)  # the customer exists
    assert "subscription '5'" in error.message
    assert error.field == "subscription_ids[0]"
    assert (error.status, error.request_id) == (404, "req_404")
    assert error.vendor_message == "Not Found; The resource could not be found."
    assert len(script.sent) == 2


@both_modes
@pytest.mark.parametrize(
    "flow",
    [
        Flow(Action.CANCEL_SUBSCRIPTION, "1"),
        Flow(Action.VIEW_INVOICES),
        Flow(Action.UPDATE_PAYMENT_METHOD),
    ],
)
def test_a_flow_lemon_squeezy_cannot_open_is_dropped_or_refused_when_strict(
    mode: str, flow: Flow
) -> None:
    # The page the portal opens at is a cosmetic hint: dropped and listed, the customer
    # lands on the overview (where cancelling and the invoices are), and only the customer
    # is read -- the flow's subscription is not...
    script = Script(customer_reply())
    link = mint(mode, lemon(), script, PortalRequest("1", flow=flow))
    assert link.ignored_fields == ("flow",)
    assert link.url == DOC_CUSTOMER["data"]["attributes"]["urls"]["customer_portal"]
    assert [request.url.path for request in script.sent] == ["/v1/customers/1"]
    # ... and refused before sending under strict=True.
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, lemon(), script, PortalRequest("1", flow=flow), strict=True)
    assert caught.value.feature == "flow"
    assert caught.value.field == "flow"
    assert script.sent == []


def test_the_adapter_itself_refuses_a_flow_without_a_page() -> None:
    # The backstop behind the feature policy: the exchange never opens a guessed page.
    with pytest.raises(errors.UnsupportedFeature):
        next(lemon().exchange(PortalRequest("1", flow=Flow(Action.CANCEL_SUBSCRIPTION, "1"))))


@both_modes
@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (PortalRequest("cus_1"), "customer_id"),
        (PortalRequest("01"), "customer_id"),
        (PortalRequest("1", subscription_ids=["1", "sub_2"]), "subscription_ids[1]"),
        (PortalRequest("1", flow=Flow(Action.UPDATE_PAYMENT_METHOD, "x")), "flow.subscription_id"),
        (PortalRequest("1", subscription_ids=[str(n) for n in range(1, 12)]), "subscription_ids"),
    ],
)
def test_ids_are_checked_before_sending(mode: str, request_: PortalRequest, field: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, lemon(), script, request_)
    assert caught.value.field == field
    assert script.sent == []


@both_modes
def test_cosmetic_hints_are_dropped_and_rights_refused(mode: str) -> None:
    script = Script(customer_reply())
    link = mint(
        mode,
        lemon(),
        script,
        PortalRequest("1", return_url="https://app.example/account", locale="fr"),
    )
    assert set(link.ignored_fields) == {"return_url", "locale"}
    with pytest.raises(errors.UnsupportedFeature):
        mint(
            mode,
            lemon(),
            Script(),
            PortalRequest("1", configuration=PortalConfiguration(cancel_subscription=False)),
        )


# -- errors --------------------------------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("status", "title", "expected"),
    [
        (401, "Unauthorized", errors.AuthenticationFailed),
        (404, "Not Found", errors.CustomerNotFound),
        (422, "Unprocessable Entity", errors.InvalidRequest),
        (403, "Forbidden", errors.PermissionDenied),
    ],
)
def test_errors_on_the_customer_read(
    mode: str, status: int, title: str, expected: type[errors.PortalError]
) -> None:
    detail = f"Rejected, key {API_KEY} was sent"  # a vendor repeating the key
    script = Script(jsonapi(status, error_document(status, title, detail)))
    with pytest.raises(expected) as caught:
        mint(mode, lemon(), script, PortalRequest("1", subscription_ids=["1"]), retry=ONCE)
    error = caught.value
    assert type(error) is expected
    assert error.status == status
    assert error.provider == "lemonsqueezy"
    assert error.vendor_message is not None
    assert title in error.vendor_message
    assert API_KEY not in str(error)
    assert len(script.sent) == 1  # the subscription is never read


@both_modes
def test_rate_limited_names_its_limit(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps = record_sleeps(monkeypatch)
    limited = jsonapi(
        429,
        error_document(429, "Too Many Requests", "Too Many Attempts."),
        **{"Retry-After": "2", "X-Ratelimit-Limit": "300", "X-Ratelimit-Remaining": "0"},
    )
    script = Script(limited, limited)
    with pytest.raises(errors.RateLimited) as caught:
        mint(mode, lemon(), script, PortalRequest("1"), retry=RetryPolicy(max_attempts=2))
    assert caught.value.retry_after == 2.0
    assert "limit: 300 calls a minute" in str(caught.value)
    assert sleeps == [2.0]


@both_modes
def test_an_error_without_a_json_api_document(mode: str) -> None:
    html = reply(502, content=b"<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, lemon(), Script(html), PortalRequest("1"), retry=ONCE)
    assert caught.value.status == 502
    assert caught.value.vendor_message is None


# -- retries and the deadline ---------------------------------------------------------------


@both_modes
def test_a_get_is_retried_on_each_step(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    script = Script(
        raise_(httpx.ConnectError),
        customer_reply(),
        jsonapi(503, error_document(503, "Service Unavailable", "Try again.")),
        jsonapi(200, doc_subscription("1")),
    )
    request = PortalRequest("1", flow=Flow(Action.UPDATE_PAYMENT_METHOD, "1"))
    link = mint(mode, lemon(), script, request, retry=RetryPolicy(max_attempts=3))
    assert [s.url.path for s in script.sent] == [
        "/v1/customers/1",
        "/v1/customers/1",
        "/v1/subscriptions/1",
        "/v1/subscriptions/1",
    ]
    assert link.url == PAYMENT
    assert all("Idempotency-Key" not in s.headers for s in script.sent)


@both_modes
def test_the_deadline_covers_the_customer_and_the_subscription(mode: str) -> None:
    def slow(answer: Any) -> Any:
        def respond(request: httpx.Request) -> Any:
            if mode == "sync":
                time.sleep(0.6)
                return answer(request)

            async def later() -> httpx.Response:
                await asyncio.sleep(0.6)
                return answer(request)

            return later()

        return respond

    script = Script(
        slow(customer_reply()),
        slow(jsonapi(200, doc_subscription("1"))),
        slow(jsonapi(200, doc_subscription("2"))),
    )
    request = PortalRequest("1", subscription_ids=["1", "2"])
    policy = RetryPolicy(deadline=1.0, backoff_initial=0.0)
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, lemon(), script, request, retry=policy)
    assert "timed out" in caught.value.message
    # Never a third request: the deadline is the exchange's, not each step's.
    assert [s.url.path for s in script.sent] == ["/v1/customers/1", "/v1/subscriptions/1"]


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Lemon Squeezy: "Retrieve a customer" as its API reference shows it. With no subscription
# or flow asked, the adapter's exchange is this one GET, and its link is the customer's
# ``urls.customer_portal``. The answer is the adapter tests' DOC_CUSTOMER above.


BENCH = VendorBench(
    credentials={"api_key": "lmsq_test_key_bench_0123456789"},
    customer_id="1",
    content_type="application/vnd.api+json",
    answer=DOC_CUSTOMER,
    url_at=("data", "attributes", "urls", "customer_portal"),
)
