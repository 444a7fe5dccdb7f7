"""Parity with Stripe's official Python SDK (``stripe``, its ``StripeClient``).

A client nobody here wrote is the referee: for the same inputs, portalkit must put the same
method, URL, form fields (parsed), credentials, Stripe-Version, Stripe-Account and
Idempotency-Key handling on the wire as ``client.v1.billing_portal.sessions.create(...)``,
and read the same answer into the same id, url, customer and created time.

No network: the SDK gets an ``http_client`` of our own, a ``stripe.HTTPClient`` subclass
that records what ``request()`` is handed and answers from memory. Everything the SDK does
before its transport (encoding, headers, idempotency keys, the pinned version) runs as
shipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import attrs
import pytest
import stripe as stripe_sdk
from _mock import Script, both_modes, mint, reply

from portalkit import (
    Action,
    AfterCompletion,
    Flow,
    FlowDiscount,
    FlowItem,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RetentionOffer,
    RetryPolicy,
    errors,
)
from portalkit._http import httpx
from portalkit.providers import stripe as stripe_module
from portalkit.providers.stripe import STRIPE_VERSION, Stripe

API_KEY = "sk_test_51Hparity0sdk0key"
CUSTOMER = "cus_NeZwdNtLEOXuvB"
SUB = "sub_1MowQVLkdIwHu7ixeRlqHVzs"
SESSION: dict[str, Any] = {
    "id": "bps_1MrSjzLkdIwHu7ixex0IvU9b",
    "object": "billing_portal.session",
    "configuration": "bpc_1MAhNDLkdIwHu7ixckACO1Jq",
    "created": 1680210639,
    "customer": CUSTOMER,
    "flow": None,
    "livemode": False,
    "locale": None,
    "on_behalf_of": None,
    "return_url": "https://example.com/account",
    "url": "https://billing.stripe.com/p/session/test_YWNjdF8xTTJKVGtMa2RJd0h1N2l4",
}


@attrs.define
class Captured:
    method: str
    url: str
    headers: dict[str, str]
    body: str | None


class RecordingClient(stripe_sdk.HTTPClient):
    """The SDK's transport, replaced: keeps each request, answers with one canned reply."""

    name = "recording"

    def __init__(
        self, status: int = 200, body: Any = None, headers: Mapping[str, str] | None = None
    ):
        super().__init__()
        self.status = status
        self.body = SESSION if body is None else body
        self.reply_headers = dict(headers or {"request-id": "req_sdk"})
        self.sent: list[Captured] = []

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        self.sent.append(Captured(method, url, dict(headers or {}), post_data))
        return json.dumps(self.body), self.status, self.reply_headers

    def close(self) -> None:
        pass


def sdk(recorder: RecordingClient) -> stripe_sdk.StripeClient:
    return stripe_sdk.StripeClient(API_KEY, http_client=recorder, max_network_retries=0)


def fields(body: str | bytes | None) -> list[tuple[str, str]]:
    text = body.decode() if isinstance(body, bytes) else (body or "")
    return sorted(parse_qsl(text, keep_blank_values=True))


CASES = [
    pytest.param({}, PortalRequest(CUSTOMER), {}, id="customer-only"),
    pytest.param(
        {"return_url": "https://example.com/account", "locale": "pt-BR"},
        PortalRequest(CUSTOMER, return_url="https://example.com/account", locale="pt-BR"),
        {},
        id="return-url-locale",
    ),
    pytest.param(
        {"on_behalf_of": "acct_1Settles", "configuration": "bpc_1Custom"},
        PortalRequest(
            CUSTOMER,
            on_behalf_of="acct_1Settles",
            provider_options={"stripe": {"configuration": "bpc_1Custom"}},
        ),
        {},
        id="on-behalf-of-configuration",
    ),
    pytest.param(
        {},
        PortalRequest(CUSTOMER, provider_options={"stripe": {"stripe_account": "acct_1Conn"}}),
        {"stripe_account": "acct_1Conn"},
        id="stripe-account",
    ),
    pytest.param(
        {
            "flow_data": {
                "type": "subscription_cancel",
                "subscription_cancel": {
                    "subscription": SUB,
                    "retention": {"type": "coupon_offer", "coupon_offer": {"coupon": "STAY20"}},
                },
                "after_completion": {
                    "type": "redirect",
                    "redirect": {"return_url": "https://example.com/done"},
                },
            }
        },
        PortalRequest(
            CUSTOMER,
            flow=Flow(
                Action.CANCEL_SUBSCRIPTION,
                SUB,
                retention=RetentionOffer("STAY20"),
                after_completion=AfterCompletion.redirect("https://example.com/done"),
            ),
        ),
        {},
        id="cancel-retention-redirect",
    ),
    pytest.param(
        {
            "flow_data": {
                "type": "subscription_update",
                "subscription_update": {"subscription": SUB},
            }
        },
        PortalRequest(CUSTOMER, flow=Flow(Action.UPDATE_SUBSCRIPTION, SUB)),
        {},
        id="update",
    ),
    pytest.param(
        {
            "flow_data": {
                "type": "subscription_update_confirm",
                "subscription_update_confirm": {
                    "subscription": SUB,
                    "items": [{"id": "si_OVoDdJy6SQnfNh", "price": "price_1Pro", "quantity": 2}],
                    "discounts": [{"coupon": "LAUNCH"}, {"promotion_code": "promo_1Spring"}],
                },
                "after_completion": {
                    "type": "hosted_confirmation",
                    "hosted_confirmation": {"custom_message": "Welcome to Pro."},
                },
            }
        },
        PortalRequest(
            CUSTOMER,
            flow=Flow(
                Action.UPDATE_SUBSCRIPTION,
                SUB,
                items=[FlowItem("si_OVoDdJy6SQnfNh", price_id="price_1Pro", quantity=2)],
                discounts=[
                    FlowDiscount(coupon="LAUNCH"),
                    FlowDiscount(promotion_code="promo_1Spring"),
                ],
                after_completion=AfterCompletion.confirmation("Welcome to Pro."),
            ),
        ),
        {},
        id="confirm-update",
    ),
    pytest.param(
        {
            "flow_data": {
                "type": "payment_method_update",
                "after_completion": {"type": "portal_homepage"},
            }
        },
        PortalRequest(
            CUSTOMER,
            flow=Flow(Action.UPDATE_PAYMENT_METHOD, after_completion=AfterCompletion.portal_home()),
        ),
        {},
        id="payment-method",
    ),
    pytest.param(
        {"flow_data": {"type": "customer_update"}},
        PortalRequest(CUSTOMER, flow=Flow(Action.UPDATE_CUSTOMER_DETAILS)),
        {},
        id="customer-update",
    ),
]


def echo_for(params: Mapping[str, Any]) -> dict[str, Any]:
    flow = params.get("flow_data")
    return {**SESSION, "flow": {"type": flow["type"]} if flow else None}


@both_modes
@pytest.mark.parametrize(("params", "request_", "sdk_options"), CASES)
def test_portalkit_sends_what_the_sdk_sends(
    mode: str, params: dict[str, Any], request_: PortalRequest, sdk_options: dict[str, Any]
) -> None:
    recorder = RecordingClient(body=echo_for(params))
    sdk(recorder).v1.billing_portal.sessions.create(
        params={"customer": CUSTOMER, **params}, options=sdk_options or None
    )
    [theirs] = recorder.sent

    script = Script(reply(200, echo_for(params)))
    link = mint(mode, Stripe(api_key=API_KEY), script, request_)
    ours = script.only

    assert ours.method == theirs.method.upper() == "POST"
    assert str(ours.url) == theirs.url == "https://api.stripe.com/v1/billing_portal/sessions"
    assert fields(ours.content) == fields(theirs.body)
    assert ours.content.decode() == theirs.body  # even the order and the bracket spelling
    for header in ("Authorization", "Content-Type", "Stripe-Version"):
        assert ours.headers[header] == theirs.headers[header], header
    assert ours.headers["Stripe-Version"] == STRIPE_VERSION
    assert ours.headers.get("Stripe-Account") == theirs.headers.get("Stripe-Account")
    # Both make a key for every create when the caller gives none.
    assert ours.headers["Idempotency-Key"] == link.idempotency_key
    assert theirs.headers["Idempotency-Key"]


@both_modes
def test_an_explicit_idempotency_key_is_sent_as_the_sdk_sends_it(mode: str) -> None:
    recorder = RecordingClient()
    sdk(recorder).v1.billing_portal.sessions.create(
        params={"customer": CUSTOMER}, options={"idempotency_key": "order-42-portal"}
    )
    script = Script(reply(200, SESSION))
    mint(
        mode,
        Stripe(api_key=API_KEY),
        script,
        PortalRequest(CUSTOMER, idempotency_key="order-42-portal"),
    )
    assert script.only.headers["Idempotency-Key"] == recorder.sent[0].headers["Idempotency-Key"]


def test_the_sdk_capture_is_real() -> None:
    """The referee is awake: a different input changes what the SDK sends."""
    recorder = RecordingClient()
    client = sdk(recorder)
    client.v1.billing_portal.sessions.create(params={"customer": CUSTOMER, "locale": "fr"})
    client.v1.billing_portal.sessions.create(params={"customer": CUSTOMER})
    first, second = recorder.sent
    assert fields(first.body) == [("customer", CUSTOMER), ("locale", "fr")]
    assert fields(second.body) == [("customer", CUSTOMER)]
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]


@both_modes
def test_the_answer_reads_the_same(mode: str) -> None:
    recorder = RecordingClient()
    theirs = sdk(recorder).v1.billing_portal.sessions.create(params={"customer": CUSTOMER})
    ours = mint(mode, Stripe(api_key=API_KEY), Script(reply(200, SESSION)), PortalRequest(CUSTOMER))

    assert ours.session_id == theirs.id
    assert ours.url == theirs.url
    assert ours.customer_id == theirs.customer
    assert ours.created_at == datetime.fromtimestamp(theirs.created, UTC)
    assert ours.return_url == theirs.return_url
    assert ours.expires_at is None
    assert not hasattr(theirs, "expires_at")  # the SDK has no expiry either


@both_modes
@pytest.mark.parametrize(
    ("status", "error", "sdk_error"),
    [
        (404, errors.CustomerNotFound, stripe_sdk.InvalidRequestError),
        (401, errors.AuthenticationFailed, stripe_sdk.AuthenticationError),
        (403, errors.PermissionDenied, stripe_sdk.PermissionError),
        (429, errors.RateLimited, stripe_sdk.RateLimitError),
    ],
)
def test_an_error_reads_the_same(
    mode: str, status: int, error: type[errors.PortalError], sdk_error: type[Exception]
) -> None:
    body = {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing"
            if status == 404
            else "rate_limit"
            if status == 429
            else None,
            "param": "customer" if status == 404 else None,
            "message": "No such customer: 'cus_NeZwdNtLEOXuvB'",
            "doc_url": "https://docs.stripe.com/error-codes/resource-missing",
        }
    }
    recorder = RecordingClient(status, body, {"request-id": "req_err1"})
    with pytest.raises(sdk_error) as sdk_caught:
        sdk(recorder).v1.billing_portal.sessions.create(params={"customer": CUSTOMER})
    theirs: Any = sdk_caught.value

    with pytest.raises(error) as caught:
        mint(
            mode,
            Stripe(api_key=API_KEY),
            Script(reply(status, body, headers={"Request-Id": "req_err1"})),
            PortalRequest(CUSTOMER),
            retry=RetryPolicy(max_attempts=1),
        )
    ours = caught.value
    assert ours.request_id == theirs.request_id == "req_err1"
    assert ours.vendor_message == theirs.user_message
    if theirs.code:
        assert ours.code == theirs.code
    if isinstance(ours, errors.InvalidRequest) and getattr(theirs, "param", None):
        assert ours.field == theirs.param


# -- managed configurations: the calls portalkit adds, as the SDK would make them ----------


def test_the_configuration_calls_match_the_sdk() -> None:
    stripe_module.forget_managed_configurations()
    base = {
        "id": "bpc_1Default",
        "object": "billing_portal.configuration",
        "is_default": True,
        "active": True,
        "updated": 1700000000,
        "metadata": {},
        "features": {
            "invoice_history": {"enabled": True},
            "subscription_cancel": {"enabled": True, "mode": "immediately"},
        },
        "login_page": {"enabled": False, "url": None},
    }
    exchange = Stripe(api_key=API_KEY).exchange(
        PortalRequest(
            CUSTOMER,
            idempotency_key="k",
            configuration=PortalConfiguration(cancel_subscription=False),
        )
    )
    our_list = next(exchange)
    our_create = exchange.send(
        httpx.Response(200, json={"object": "list", "data": [base], "has_more": False})
    )
    fingerprint = dict(parse_qsl(our_create.content.decode()))["metadata[portalkit_fingerprint]"]

    recorder = RecordingClient(body={"object": "list", "data": [], "has_more": False})
    client = sdk(recorder)
    client.v1.billing_portal.configurations.list(params={"active": True, "limit": 100})
    recorder.body = {**base, "id": "bpc_1Managed", "is_default": False}
    client.v1.billing_portal.configurations.create(
        params={
            "features": {
                "invoice_history": {"enabled": True},
                "subscription_cancel": {"enabled": False, "mode": "immediately"},
            },
            "login_page": {"enabled": False},
            "name": "portalkit: bpc_1Default with cancel_subscription=false",
            "metadata": {"portalkit_fingerprint": fingerprint, "portalkit_base": "bpc_1Default"},
        },
        options={"idempotency_key": f"portalkit-bpc-{fingerprint}"},
    )
    sdk_list, sdk_create = recorder.sent

    assert our_list.method == sdk_list.method.upper() == "GET"
    assert str(our_list.url) == sdk_list.url
    assert our_list.headers["Authorization"] == sdk_list.headers["Authorization"]
    assert our_create.method == sdk_create.method.upper() == "POST"
    assert str(our_create.url) == sdk_create.url
    assert fields(our_create.content) == fields(sdk_create.body)
    assert our_create.headers["Idempotency-Key"] == sdk_create.headers["Idempotency-Key"]
    assert our_create.headers["Stripe-Version"] == sdk_create.headers["Stripe-Version"]
    stripe_module.forget_managed_configurations()


# -- the SDK against the sandbox twin -----------------------------------------------------------
# stripe-python, pointed at the sandbox on 127.0.0.1 (its own HTTP client, its own retries
# off), cannot tell the twin from Stripe for the calls portalkit makes: it creates sessions
# and lists and creates configurations, and reads every answer into its own models.


@pytest.fixture(scope="module")
def twin_sandbox() -> Any:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


@pytest.fixture
def against_twin(twin_sandbox: Any) -> tuple[Any, stripe_sdk.StripeClient]:
    twin_sandbox.reset()
    key = twin_sandbox.credentials("stripe")["api_key"]
    client = stripe_sdk.StripeClient(
        key, base_addresses={"api": twin_sandbox.url}, max_network_retries=0
    )
    return twin_sandbox, client


def test_sdk_creates_a_session_on_the_twin(against_twin: tuple[Any, Any]) -> None:
    sandbox, client = against_twin
    customer = sandbox.customers("stripe")[0]
    subscription = sandbox.subscriptions("stripe", customer)[0]
    created = client.v1.billing_portal.sessions.create(
        {
            "customer": customer,
            "return_url": "https://example.com/account",
            "locale": "fr",
            "flow_data": {
                "type": "subscription_cancel",
                "subscription_cancel": {"subscription": subscription},
                "after_completion": {
                    "type": "redirect",
                    "redirect": {"return_url": "https://example.com/bye"},
                },
            },
        }
    )
    assert isinstance(created, stripe_sdk.billing_portal.Session)
    assert created.id.startswith("bps_")
    assert created.customer == customer
    assert created.url.startswith(f"{sandbox.url}/stripe/p/")
    assert created.flow is not None
    assert created.flow.type == "subscription_cancel"
    assert created.flow.subscription_cancel is not None
    assert created.flow.subscription_cancel.subscription == subscription
    assert created.flow.after_completion.redirect is not None
    assert created.flow.after_completion.redirect.return_url == "https://example.com/bye"
    assert created.last_response is not None
    assert created.last_response.request_id.startswith("req_")
    (minted,) = sandbox.sessions("stripe")
    assert minted.id == created.id
    # The SDK made an idempotency key of its own for the POST; the twin kept it.
    assert minted.idempotency_key


def test_sdk_reads_the_twins_errors(against_twin: tuple[Any, Any]) -> None:
    sandbox, client = against_twin
    with pytest.raises(stripe_sdk.InvalidRequestError) as unknown:
        client.v1.billing_portal.sessions.create({"customer": "cus_NoSuchCustomer"})
    assert unknown.value.code == "resource_missing"
    assert unknown.value.param == "customer"
    assert unknown.value.http_status == 400
    assert unknown.value.request_id
    assert unknown.value.request_id.startswith("req_")

    with pytest.raises(stripe_sdk.InvalidRequestError) as extra:
        client.v1.billing_portal.sessions.create(
            {"customer": sandbox.customers("stripe")[0], "colour": "red"}  # type: ignore[typeddict-unknown-key]
        )
    assert extra.value.code == "parameter_unknown"
    assert extra.value.param == "colour"

    wrong = stripe_sdk.StripeClient(
        sandbox.credentials("stripe", "wrong")["api_key"],
        base_addresses={"api": sandbox.url},
        max_network_retries=0,
    )
    with pytest.raises(stripe_sdk.AuthenticationError) as refused:
        wrong.v1.billing_portal.sessions.create({"customer": sandbox.customers("stripe")[0]})
    assert refused.value.http_status == 401

    restricted = stripe_sdk.StripeClient(
        sandbox.credentials("stripe", "no_scope")["api_key"],
        base_addresses={"api": sandbox.url},
        max_network_retries=0,
    )
    with pytest.raises(stripe_sdk.PermissionError) as denied:
        restricted.v1.billing_portal.sessions.create({"customer": sandbox.customers("stripe")[0]})
    assert denied.value.http_status == 403


def test_sdk_idempotency_on_the_twin(against_twin: tuple[Any, Any]) -> None:
    sandbox, client = against_twin
    customer = sandbox.customers("stripe")[0]
    options: Any = {"idempotency_key": "sdk-twin-1"}
    first = client.v1.billing_portal.sessions.create({"customer": customer}, options)
    again = client.v1.billing_portal.sessions.create({"customer": customer}, options)
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    with pytest.raises(stripe_sdk.IdempotencyError):
        client.v1.billing_portal.sessions.create({"customer": customer, "locale": "de"}, options)


def test_sdk_lists_and_creates_configurations_on_the_twin(against_twin: tuple[Any, Any]) -> None:
    sandbox, client = against_twin
    listed = client.v1.billing_portal.configurations.list({"active": True, "limit": 100})
    (default,) = listed.data
    assert isinstance(default, stripe_sdk.billing_portal.Configuration)
    assert default.is_default is True
    assert default.features.subscription_cancel.enabled is True

    made = client.v1.billing_portal.configurations.create(
        {
            "features": {
                "subscription_cancel": {"enabled": False},
                "invoice_history": {"enabled": True},
                "customer_update": {"enabled": True, "allowed_updates": ["email", "address"]},
            },
            "metadata": {"portalkit": "sdk"},
            "name": "No cancel",
        }
    )
    assert isinstance(made, stripe_sdk.billing_portal.Configuration)
    assert made.id.startswith("bpc_")
    assert made.features.subscription_cancel.enabled is False
    assert made.features.customer_update.allowed_updates == ["email", "address"]
    assert made.metadata.to_dict() == {"portalkit": "sdk"}
    assert made.name == "No cancel"
    assert [c.id for c in client.v1.billing_portal.configurations.list().data] == [
        made.id,
        default.id,
    ]
    assert client.v1.billing_portal.configurations.retrieve(made.id).id == made.id

    session = client.v1.billing_portal.sessions.create(
        {"customer": sandbox.customers("stripe")[0], "configuration": made.id}
    )
    assert session.configuration == made.id
    with pytest.raises(stripe_sdk.InvalidRequestError) as unknown:
        client.v1.billing_portal.sessions.create(
            {"customer": sandbox.customers("stripe")[0], "configuration": "bpc_1Nope"}
        )
    assert (unknown.value.code, unknown.value.param) == ("resource_missing", "configuration")


def test_portalkit_and_the_sdk_agree_on_the_twin(against_twin: tuple[Any, Any]) -> None:
    """The same session, made by each client against the twin, reads the same way."""
    sandbox, client = against_twin
    customer = sandbox.customers("stripe")[0]
    with Portal(sandbox.provider("stripe")) as portal:
        link = portal.create_link(PortalRequest(customer, return_url="https://example.com/a"))
    replayed = client.v1.billing_portal.sessions.create(
        {"customer": customer, "return_url": "https://example.com/a"},
        {"idempotency_key": link.idempotency_key},  # type: ignore[typeddict-item]
    )
    assert replayed.id == link.session_id
    assert replayed.url == link.url
    assert replayed.customer == link.customer_id
    assert datetime.fromtimestamp(replayed.created, UTC) == link.created_at
