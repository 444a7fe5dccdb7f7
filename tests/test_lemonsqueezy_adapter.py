"""Lemon Squeezy adapter, through Portal and AsyncPortal over httpx.MockTransport.

The contract is shared/provider-docs/lemonsqueezy.md and Lemon Squeezy's API reference: the
signed portal link is read from the customer (GET /v1/customers/{id}), the deep links from
each subscription (GET /v1/subscriptions/{id}); JSON:API documents, bearer key, numeric ids;
24-hour links whose ``expires`` parameter is the expiry; JSON:API error documents. Bodies
below are the documentation's examples ("Retrieve a customer", "Retrieve a subscription").
"""

from __future__ import annotations

import asyncio
import copy
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from _mock import Script, both_modes, mint, raise_, record_sleeps, reply

from portalkit import (
    Action,
    Flow,
    PortalConfiguration,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit._http import httpx
from portalkit.providers.lemonsqueezy import LemonSqueezy

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
def test_deep_links_read_each_subscription(mode: str) -> None:
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
def test_another_customers_subscription_is_refused(mode: str) -> None:
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
def test_a_flow_lemon_squeezy_cannot_open_is_refused_before_sending(mode: str, flow: Flow) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, lemon(), script, PortalRequest("1", flow=flow))
    assert caught.value.feature == "flow"
    assert script.sent == []


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
