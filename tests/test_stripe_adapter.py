"""Stripe adapter, through Portal and AsyncPortal over httpx.MockTransport, and its
multi-request exchange (managed configurations) driven by hand.

The contract is shared/provider-docs/stripe.md and the official ``stripe`` package (its
parity test is tests/test_stripe_sdk_parity.py): POST /v1/billing_portal/sessions,
form-encoded in bracket notation, Bearer key, Idempotency-Key, pinned Stripe-Version.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from _mock import Script, Sent, both_modes, mint, record_sleeps, reply

from portalkit import (
    Action,
    AfterCompletion,
    Feature,
    Flow,
    FlowDiscount,
    FlowItem,
    PortalConfiguration,
    PortalRequest,
    ProviderEnv,
    RetentionOffer,
    RetryPolicy,
    errors,
)
from portalkit._http import httpx
from portalkit.providers import stripe as stripe_module
from portalkit.providers.paddle import Paddle
from portalkit.providers.stripe import STRIPE_VERSION, Stripe, form_body, stripe_locale

API_KEY = "sk_test_51Hparity0do0not0leak"
CUSTOMER = "cus_NeZwdNtLEOXuvB"
SUB = "sub_1MowQVLkdIwHu7ixeRlqHVzs"
RETURN_URL = "https://example.com/account"
PORTAL_URL = "https://billing.stripe.com/p/session/test_YWNjdF8xTTJKVGtMa2RJd0h1N2l4"
ONCE = RetryPolicy(max_attempts=1)


def session(**fields: Any) -> dict[str, Any]:
    """Stripe's documented billing_portal.session example (API reference)."""
    return {
        "id": "bps_1MrSjzLkdIwHu7ixex0IvU9b",
        "object": "billing_portal.session",
        "configuration": "bpc_1MAhNDLkdIwHu7ixckACO1Jq",
        "created": 1680210639,
        "customer": CUSTOMER,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": RETURN_URL,
        "url": PORTAL_URL,
        **fields,
    }


def created(**fields: Any) -> Script:
    return Script(reply(200, session(**fields), headers={"Request-Id": "req_s1"}))


def form(sent: Sent | httpx.Request) -> dict[str, str]:
    pairs = parse_qsl(sent.content.decode(), keep_blank_values=True)
    fields = dict(pairs)
    assert len(fields) == len(pairs), "a field was sent twice"
    return fields


def stripe(**options: Any) -> Stripe:
    return Stripe(api_key=API_KEY, **options)


def flow_echo(flow_type: str) -> dict[str, Any]:
    return {"type": flow_type, "after_completion": {"type": "portal_homepage"}}


@pytest.fixture(autouse=True)
def _fresh_configuration_cache() -> Iterator[None]:
    stripe_module.forget_managed_configurations()
    yield
    stripe_module.forget_managed_configurations()


# -- the request on the wire ---------------------------------------------------------------


@both_modes
def test_the_request_is_what_stripe_documents(mode: str) -> None:
    script = created()
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER, return_url=RETURN_URL))

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.stripe.com/v1/billing_portal/sessions"
    assert form(sent) == {"customer": CUSTOMER, "return_url": RETURN_URL}
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Stripe-Version"] == STRIPE_VERSION == "2026-10-28.endive"
    assert sent.headers["Idempotency-Key"] == link.idempotency_key
    assert link.idempotency_key
    assert "Stripe-Account" not in sent.headers


@both_modes
def test_only_the_customer_is_required(mode: str) -> None:
    script = created(return_url=None)
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER, idempotency_key="order-7"))
    assert form(script.only) == {"customer": CUSTOMER}
    assert script.only.headers["Idempotency-Key"] == "order-7"
    assert link.return_url is None


@both_modes
def test_version_account_base_url_and_configuration_settings(mode: str) -> None:
    adapter = stripe(
        stripe_version="2025-03-31.basil",
        stripe_account="acct_1Connected",
        configuration="bpc_1Base",
        base_url="http://127.0.0.1:9100/",
    )
    script = created()
    mint(mode, adapter, script, PortalRequest(CUSTOMER, on_behalf_of="acct_1Settles"))
    sent = script.only
    assert str(sent.url) == "http://127.0.0.1:9100/v1/billing_portal/sessions"
    assert sent.headers["Stripe-Version"] == "2025-03-31.basil"
    assert sent.headers["Stripe-Account"] == "acct_1Connected"  # act as the connected account
    assert form(sent) == {
        "customer": CUSTOMER,
        "on_behalf_of": "acct_1Settles",  # a body field: the settlement merchant's branding
        "configuration": "bpc_1Base",
    }


@both_modes
def test_provider_options_per_request(mode: str) -> None:
    options = {
        "stripe": {
            "configuration": "bpc_1PerSession",
            "stripe_account": "acct_1PerSession",
            "expand": ["configuration"],
        },
        "paddle": {"ignored": True},
    }
    script = created()
    mint(
        mode,
        stripe(configuration="bpc_1Default"),
        script,
        PortalRequest(CUSTOMER, provider_options=options),
    )
    assert form(script.only) == {
        "customer": CUSTOMER,
        "expand[0]": "configuration",
        "configuration": "bpc_1PerSession",
    }
    assert script.only.headers["Stripe-Account"] == "acct_1PerSession"


FLOWS = [
    pytest.param(
        Flow(Action.CANCEL_SUBSCRIPTION, SUB),
        {
            "flow_data[type]": "subscription_cancel",
            "flow_data[subscription_cancel][subscription]": SUB,
        },
        id="cancel",
    ),
    pytest.param(
        Flow(
            Action.CANCEL_SUBSCRIPTION,
            SUB,
            retention=RetentionOffer("STAY20"),
            after_completion=AfterCompletion.redirect("https://example.com/stayed"),
        ),
        {
            "flow_data[type]": "subscription_cancel",
            "flow_data[subscription_cancel][subscription]": SUB,
            "flow_data[subscription_cancel][retention][type]": "coupon_offer",
            "flow_data[subscription_cancel][retention][coupon_offer][coupon]": "STAY20",
            "flow_data[after_completion][type]": "redirect",
            "flow_data[after_completion][redirect][return_url]": "https://example.com/stayed",
        },
        id="cancel-retention-redirect",
    ),
    pytest.param(
        Flow(Action.UPDATE_SUBSCRIPTION, SUB, after_completion=AfterCompletion.portal_home()),
        {
            "flow_data[type]": "subscription_update",
            "flow_data[subscription_update][subscription]": SUB,
            "flow_data[after_completion][type]": "portal_homepage",
        },
        id="update",
    ),
    pytest.param(
        Flow(
            Action.UPDATE_SUBSCRIPTION,
            SUB,
            items=[FlowItem("si_OVoDdJy6SQnfNh", price_id="price_1Pro", quantity=3)],
            discounts=[FlowDiscount(coupon="LAUNCH"), FlowDiscount(promotion_code="promo_1Spring")],
            after_completion=AfterCompletion.confirmation("You are on Pro now."),
        ),
        {
            "flow_data[type]": "subscription_update_confirm",
            "flow_data[subscription_update_confirm][subscription]": SUB,
            "flow_data[subscription_update_confirm][items][0][id]": "si_OVoDdJy6SQnfNh",
            "flow_data[subscription_update_confirm][items][0][price]": "price_1Pro",
            "flow_data[subscription_update_confirm][items][0][quantity]": "3",
            "flow_data[subscription_update_confirm][discounts][0][coupon]": "LAUNCH",
            "flow_data[subscription_update_confirm][discounts][1][promotion_code]": "promo_1Spring",
            "flow_data[after_completion][type]": "hosted_confirmation",
            "flow_data[after_completion][hosted_confirmation][custom_message]": (
                "You are on Pro now."
            ),
        },
        id="confirm-update",
    ),
    pytest.param(
        Flow(Action.UPDATE_PAYMENT_METHOD, after_completion=AfterCompletion.confirmation()),
        {
            "flow_data[type]": "payment_method_update",
            "flow_data[after_completion][type]": "hosted_confirmation",
        },
        id="payment-method",
    ),
    pytest.param(
        Flow(Action.UPDATE_CUSTOMER_DETAILS),
        {"flow_data[type]": "customer_update"},
        id="customer-details",
    ),
    pytest.param(Flow(Action.OVERVIEW), {}, id="overview-is-no-flow"),
]


@both_modes
@pytest.mark.parametrize(("flow", "fields"), FLOWS)
def test_flows_become_flow_data(mode: str, flow: Flow, fields: dict[str, str]) -> None:
    echo = None if not fields else flow_echo(fields["flow_data[type]"])
    script = created(flow=echo)
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER, flow=flow))

    assert form(script.only) == {"customer": CUSTOMER, **fields}
    assert link.ignored_fields == ()
    if fields:
        # The session URL opens the flow: the same deep-link vocabulary as Paddle's.
        assert link.deep_link(flow.action, flow.subscription_id) == PORTAL_URL
    else:
        assert link.deep_links == ()


@pytest.mark.parametrize(
    ("tag", "sent"),
    [
        ("fr", "fr"),
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("FR-ca", "fr-CA"),
        ("en-US", "en"),
        ("en-GB", "en-GB"),
        ("es-ES", "es"),
        ("es-MX", "es-419"),
        ("es-419", "es-419"),
        ("pt-PT", "pt"),
        ("de-CH", "de"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-Hant", "zh-TW"),
        ("zh-Hant-HK", "zh-HK"),
        ("zh-MO", "zh-HK"),
        ("no", "nb"),
        ("nb-NO", "nb"),
        ("tl", "fil"),
    ],
)
def test_locale_mapping(tag: str, sent: str) -> None:
    assert stripe_locale(tag) == sent
    script = created()
    mint("sync", stripe(), script, PortalRequest(CUSTOMER, locale=tag))
    assert form(script.only)["locale"] == sent


def test_every_stripe_locale_maps_to_itself() -> None:
    assert len(stripe_module.LOCALES) == 47  # 46 tags and auto
    # "auto" is not a language tag, so no PortalRequest carries it: leaving locale out is
    # the same on Stripe ("blank or auto": the customer's preferred_locales or browser).
    with pytest.raises(errors.InvalidRequest):
        PortalRequest(CUSTOMER, locale="auto")
    for tag in stripe_module.LOCALES:
        assert stripe_locale(tag) == tag


@both_modes
@pytest.mark.parametrize("tag", ["ar", "he-IL", "uk", "sw"])
def test_a_locale_stripe_lacks_is_dropped_never_sent(mode: str, tag: str) -> None:
    script = created()
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER, locale=tag))
    assert "locale" not in form(script.only)
    assert link.ignored_fields == ("locale",)


@both_modes
def test_a_locale_stripe_lacks_is_refused_when_strict(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, stripe(), script, PortalRequest(CUSTOMER, locale="ar"), strict=True)
    assert caught.value.field == "locale"
    assert script.sent == []


# -- refused locally: nothing is sent -------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("request_", "field", "error"),
    [
        (PortalRequest("ctm_01abc"), "customer_id", errors.InvalidRequest),
        (PortalRequest(CUSTOMER, on_behalf_of="acc_1"), "on_behalf_of", errors.InvalidRequest),
        (
            PortalRequest(CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION, "sub-1")),
            "flow.subscription_id",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(CUSTOMER, flow=Flow(Action.UPDATE_PAYMENT_METHOD, SUB)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(CUSTOMER, flow=Flow(Action.VIEW_INVOICES)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(CUSTOMER, flow=Flow(Action.OVERVIEW, SUB)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(
                CUSTOMER,
                flow=Flow(
                    Action.UPDATE_SUBSCRIPTION,
                    SUB,
                    items=[FlowItem("si_1", quantity=1), FlowItem("si_2", quantity=2)],
                ),
            ),
            "flow.items",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(
                CUSTOMER,
                flow=Flow(Action.UPDATE_SUBSCRIPTION, SUB, items=[FlowItem("item_1", quantity=1)]),
            ),
            "flow.items[0].subscription_item_id",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(
                CUSTOMER,
                flow=Flow(
                    Action.UPDATE_SUBSCRIPTION,
                    SUB,
                    items=[FlowItem("si_1", quantity=1)],
                    discounts=[FlowDiscount(promotion_code="SPRING")],
                ),
            ),
            "flow.discounts[0].promotion_code",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(CUSTOMER, provider_options={"stripe": {"configuration": "cfg_1"}}),
            "provider_options['stripe'].configuration",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(CUSTOMER, provider_options={"stripe": {"stripe_account": "cus_1"}}),
            "provider_options['stripe'].stripe_account",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(CUSTOMER, provider_options={"stripe": {"customer": "cus_other"}}),
            "provider_options['stripe'].customer",
            errors.InvalidRequest,
        ),
    ],
)
def test_refused_locally(
    mode: str, request_: PortalRequest, field: str, error: type[errors.PortalError]
) -> None:
    script = Script()
    with pytest.raises(error) as caught:
        mint(mode, stripe(), script, request_)
    assert isinstance(caught.value, errors.InvalidRequest)
    assert caught.value.field == field
    assert caught.value.provider == "stripe"
    assert script.sent == []


@pytest.mark.parametrize(
    "key", ["pk_test_abc", "sk_prod_abc", "sk_test_", "whsec_abc", "sk_test_abc def", "", None]
)
def test_the_key_format_is_checked_and_never_shown(key: Any) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        Stripe(api_key=key)
    assert caught.value.field == "api_key"
    if key and key != "sk_test_":  # a bare prefix is part of the rule itself
        assert key not in str(caught.value)


@pytest.mark.parametrize(
    "key", ["sk_live_abc123", "sk_test_abc123", "rk_live_abc123", "rk_test_abc"]
)
def test_secret_and_restricted_keys_are_accepted(key: str) -> None:
    assert Stripe(api_key=key).api_key == key
    assert key not in repr(Stripe(api_key=key))


def test_settings_are_checked() -> None:
    with pytest.raises(errors.InvalidRequest, match="stripe_account"):
        stripe(stripe_account="acc_1")
    with pytest.raises(errors.InvalidRequest, match="configuration"):
        stripe(configuration="cfg_1")
    with pytest.raises(errors.InvalidRequest, match="base_url"):
        stripe(base_url="http://api.example.com")


def test_from_env() -> None:
    env = ProviderEnv(
        "stripe",
        {
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_BASE_URL": "http://127.0.0.1:9999",
            "STRIPE_API_VERSION": "2025-01-27.acacia",
        },
    )
    adapter = Stripe.from_env(env)
    assert adapter.base_url == "http://127.0.0.1:9999"
    assert adapter.stripe_version == "2025-01-27.acacia"
    assert Stripe.from_env(ProviderEnv("stripe", {"STRIPE_API_KEY": API_KEY})).base_url == (
        "https://api.stripe.com"
    )
    with pytest.raises(errors.ConfigurationError) as caught:
        Stripe.from_env(ProviderEnv("stripe", {"STRIPE_API_KEY": "pk_test_publishable"}))
    assert caught.value.variable == "STRIPE_API_KEY"
    assert "pk_test_publishable" not in str(caught.value)


# -- the answer -----------------------------------------------------------------------------


@both_modes
def test_the_documented_answer(mode: str) -> None:
    link = mint(mode, stripe(), created(), PortalRequest(CUSTOMER, return_url=RETURN_URL))
    assert link.provider == "stripe"
    assert link.session_id == "bps_1MrSjzLkdIwHu7ixex0IvU9b"
    assert link.customer_id == CUSTOMER
    assert link.url == PORTAL_URL
    assert link.created_at == datetime(2023, 3, 30, 21, 10, 39, tzinfo=UTC)
    assert link.expires_at is None  # Stripe reports none: never invented
    assert link.return_url == RETURN_URL
    assert link.request_id == "req_s1"
    assert link.raw == session()
    assert PORTAL_URL not in repr(link)
    assert urlsplit(link.url).hostname in Stripe.portal_hosts


@both_modes
@pytest.mark.parametrize(
    ("body", "what"),
    [
        (session(url=None), "url"),
        (session(id=None), "id"),
        (session(created="2023-03-30"), "created"),
        (session(created=True), "created"),
        ({k: v for k, v in session().items() if k != "customer"}, "customer"),
        ({"data": session()}, "id"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any, what: str) -> None:
    script = Script(reply(200, body, headers={"Request-Id": "req_bad"}))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, stripe(), script, PortalRequest(CUSTOMER), retry=ONCE)
    assert caught.value.request_id == "req_bad"
    assert what in str(caught.value)


@both_modes
@pytest.mark.parametrize("echo", [None, flow_echo("subscription_update")])
def test_a_session_that_does_not_open_the_flow_is_refused(mode: str, echo: Any) -> None:
    script = created(flow=echo)
    with pytest.raises(errors.InvalidResponse, match="flow"):
        mint(
            mode,
            stripe(),
            script,
            PortalRequest(CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION, SUB)),
            retry=ONCE,
        )


# -- errors ---------------------------------------------------------------------------------


def stripe_error(kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "type": kind,
            "code": code,
            "param": param,
            "message": f"{kind} for the test",
            "doc_url": f"https://docs.stripe.com/error-codes/{code}" if code else None,
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_e1",
        }
    }


@both_modes
@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            400,
            stripe_error("invalid_request_error", "resource_missing", "customer"),
            errors.CustomerNotFound,
            "resource_missing",
        ),
        (
            404,
            stripe_error("invalid_request_error", "resource_missing", "customer"),
            errors.CustomerNotFound,
            "resource_missing",
        ),
        (
            404,
            stripe_error("invalid_request_error", "resource_missing", "configuration"),
            errors.InvalidRequest,
            "resource_missing",
        ),
        (
            400,
            stripe_error("invalid_request_error", "parameter_unknown", "flow_data[foo]"),
            errors.InvalidRequest,
            "parameter_unknown",
        ),
        (400, stripe_error("idempotency_error"), errors.IdempotencyConflict, "idempotency_error"),
        (409, stripe_error("idempotency_error"), errors.IdempotencyConflict, "idempotency_error"),
        (
            401,
            stripe_error("invalid_request_error"),
            errors.AuthenticationFailed,
            "invalid_request_error",
        ),
        (
            403,
            stripe_error("invalid_request_error", "secret_key_required"),
            errors.PermissionDenied,
            "secret_key_required",
        ),
        (
            429,
            stripe_error("invalid_request_error", "rate_limit"),
            errors.RateLimited,
            "rate_limit",
        ),
        (
            400,
            stripe_error("invalid_request_error", "rate_limit"),
            errors.RateLimited,
            "rate_limit",
        ),
        (500, stripe_error("api_error"), errors.ProviderUnavailable, "api_error"),
        (502, None, errors.ProviderUnavailable, None),
    ],
)
def test_errors(
    mode: str, status: int, body: Any, error: type[errors.PortalError], code: str | None
) -> None:
    script = Script(reply(status, body, headers={"Request-Id": "req_e1"}))
    with pytest.raises(error) as caught:
        mint(mode, stripe(), script, PortalRequest(CUSTOMER), retry=ONCE)
    found = caught.value
    assert type(found) is error
    assert found.provider == "stripe"
    assert found.status == status
    assert found.code == code
    assert found.request_id == "req_e1"
    if body is not None:
        assert found.vendor_message == body["error"]["message"]
        param = body["error"]["param"]
        if param and isinstance(found, errors.InvalidRequest):
            assert found.field == param
    assert API_KEY not in str(found)
    assert "dashboard.stripe.com" not in str(found)


@both_modes
def test_retries_reuse_the_idempotency_key(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    script = Script(
        reply(500, stripe_error("api_error")),
        reply(429, stripe_error("invalid_request_error", "rate_limit")),
        reply(200, session()),
    )
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER))
    keys = {sent.headers["Idempotency-Key"] for sent in script.sent}
    assert len(script.sent) == 3
    assert keys == {link.idempotency_key}
    assert {sent.content for sent in script.sent} == {script.sent[0].content}


@both_modes
def test_should_retry_false_stops_a_5xx_retry(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    script = Script(reply(500, stripe_error("api_error"), headers={"Stripe-Should-Retry": "false"}))
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, stripe(), script, PortalRequest(CUSTOMER))
    assert caught.value.retryable is False
    assert len(script.sent) == 1


@both_modes
def test_should_retry_true_retries_a_409(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    lock_timeout = stripe_error("invalid_request_error", "lock_timeout")
    script = Script(
        reply(409, lock_timeout, headers={"Stripe-Should-Retry": "true"}), reply(200, session())
    )
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER))
    assert len(script.sent) == 2
    assert link.session_id == "bps_1MrSjzLkdIwHu7ixex0IvU9b"
    # Without the hint a 409 is not retried.
    script = Script(reply(409, lock_timeout))
    with pytest.raises(errors.IdempotencyConflict):
        mint(mode, stripe(), script, PortalRequest(CUSTOMER))
    assert len(script.sent) == 1


# -- the feature policy for every other vendor ----------------------------------------------


@pytest.mark.parametrize(
    ("flow", "feature"),
    [
        (
            Flow(Action.CANCEL_SUBSCRIPTION, SUB, retention=RetentionOffer("STAY")),
            Feature.FLOW_RETENTION_OFFER,
        ),
        (
            Flow(Action.UPDATE_SUBSCRIPTION, SUB, items=[FlowItem("si_1", price_id="price_2")]),
            Feature.FLOW_ITEMS,
        ),
    ],
)
def test_a_vendor_without_them_refuses_plan_changes_and_offers(
    flow: Flow, feature: Feature
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint("sync", Paddle(api_key="pdl_k"), script, PortalRequest("ctm_01abc", flow=flow))
    assert caught.value.feature == feature.value
    assert script.sent == []


def test_a_vendor_without_it_drops_after_completion() -> None:
    from _mock import PADDLE_DOC_CUSTOMER, PADDLE_DOC_RESPONSE, PADDLE_DOC_SUBSCRIPTION

    flow = Flow(
        Action.CANCEL_SUBSCRIPTION,
        PADDLE_DOC_SUBSCRIPTION,
        after_completion=AfterCompletion.confirmation("Bye"),
    )
    script = Script(reply(201, PADDLE_DOC_RESPONSE))
    link = mint(
        "sync",
        Paddle(api_key="pdl_k"),
        script,
        PortalRequest(PADDLE_DOC_CUSTOMER, flow=flow),
    )
    assert link.ignored_fields == ("flow.after_completion",)
    with pytest.raises(errors.UnsupportedFeature):
        mint(
            "sync",
            Paddle(api_key="pdl_k"),
            Script(),
            PortalRequest(PADDLE_DOC_CUSTOMER, flow=flow),
            strict=True,
        )


# -- managed configurations: the exchange, by hand -----------------------------------------

DEFAULT_CONFIGURATION: dict[str, Any] = {
    "id": "bpc_1Default",
    "object": "billing_portal.configuration",
    "active": True,
    "is_default": True,
    "updated": 1700000000,
    "created": 1690000000,
    "livemode": False,
    "metadata": {},
    "name": None,
    "application": None,
    "default_return_url": None,
    "business_profile": {
        "headline": "Acme",
        "privacy_policy_url": None,
        "terms_of_service_url": None,
    },
    "login_page": {"enabled": False, "url": None},
    "features": {
        "customer_update": {"allowed_updates": ["email", "address"], "enabled": True},
        "invoice_history": {"enabled": True},
        "payment_method_update": {"enabled": True, "payment_method_configuration": None},
        "subscription_cancel": {
            "cancellation_reason": {"enabled": False, "options": []},
            "enabled": True,
            "mode": "at_period_end",
            "proration_behavior": "none",
        },
        "subscription_update": {
            "default_allowed_updates": ["price"],
            "enabled": True,
            "products": [{"prices": ["price_1A", "price_1B"], "product": "prod_1"}],
            "proration_behavior": "create_prorations",
            "schedule_at_period_end": {"conditions": []},
            "billing_cycle_anchor": None,
            "trial_update_behavior": "end_trial",
        },
    },
}
NO_CANCEL = PortalConfiguration(cancel_subscription=False)


def ok(body: Any, request_id: str = "req_x") -> httpx.Response:
    return httpx.Response(200, json=body, headers={"Request-Id": request_id})


def page(*configurations: dict[str, Any], has_more: bool = False) -> httpx.Response:
    return ok({"object": "list", "data": list(configurations), "has_more": has_more})


def managed_request(**fields: Any) -> PortalRequest:
    fields.setdefault("configuration", NO_CANCEL)
    return PortalRequest(CUSTOMER, idempotency_key="sess-key-1", **fields)


def test_exchange_reads_the_default_creates_a_configuration_and_uses_it() -> None:
    adapter = stripe()
    exchange = adapter.exchange(managed_request(return_url=RETURN_URL))

    listing = next(exchange)
    assert listing.method == "GET"
    assert listing.url.path == "/v1/billing_portal/configurations"
    assert dict(listing.url.params) == {"active": "true", "limit": "100"}
    assert listing.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "Idempotency-Key" not in listing.headers

    create = exchange.send(page(DEFAULT_CONFIGURATION))
    assert create.method == "POST"
    assert create.url.path == "/v1/billing_portal/configurations"
    fields = form(create)
    fingerprint = fields["metadata[portalkit_fingerprint]"]
    assert create.headers["Idempotency-Key"] == f"portalkit-bpc-{fingerprint}"
    assert fields == {
        # the default's features, as its create call takes them ...
        "business_profile[headline]": "Acme",
        "features[customer_update][allowed_updates][0]": "email",
        "features[customer_update][allowed_updates][1]": "address",
        "features[customer_update][enabled]": "true",
        "features[invoice_history][enabled]": "true",
        "features[payment_method_update][enabled]": "true",
        "features[subscription_cancel][cancellation_reason][enabled]": "false",
        "features[subscription_cancel][cancellation_reason][options]": "",
        # ... with the toggle applied ...
        "features[subscription_cancel][enabled]": "false",
        "features[subscription_cancel][mode]": "at_period_end",
        "features[subscription_cancel][proration_behavior]": "none",
        "features[subscription_update][default_allowed_updates][0]": "price",
        "features[subscription_update][enabled]": "true",
        "features[subscription_update][products][0][prices][0]": "price_1A",
        "features[subscription_update][products][0][prices][1]": "price_1B",
        "features[subscription_update][products][0][product]": "prod_1",
        "features[subscription_update][proration_behavior]": "create_prorations",
        "features[subscription_update][schedule_at_period_end][conditions]": "",
        "features[subscription_update][trial_update_behavior]": "end_trial",
        "login_page[enabled]": "false",
        # ... named and marked as portalkit's.
        "name": "portalkit: bpc_1Default with cancel_subscription=false",
        "metadata[portalkit_fingerprint]": fingerprint,
        "metadata[portalkit_base]": "bpc_1Default",
    }

    session_request = exchange.send(
        ok({**DEFAULT_CONFIGURATION, "id": "bpc_1Managed", "is_default": False})
    )
    assert session_request.url.path == "/v1/billing_portal/sessions"
    assert session_request.headers["Idempotency-Key"] == "sess-key-1"
    assert form(session_request) == {
        "customer": CUSTOMER,
        "return_url": RETURN_URL,
        "configuration": "bpc_1Managed",
    }
    with pytest.raises(StopIteration) as done:
        exchange.send(ok(session(configuration="bpc_1Managed"), "req_last"))
    link = done.value.value
    assert link.url == PORTAL_URL
    assert link.request_id == "req_last"

    # The same toggles again in this process: one request, the cached configuration.
    again = adapter.exchange(managed_request())
    assert form(next(again)) == {"customer": CUSTOMER, "configuration": "bpc_1Managed"}
    # ... and today's one-request shell can use it too.
    assert form(adapter.build_request(managed_request()))["configuration"] == "bpc_1Managed"


def test_the_configuration_key_depends_on_the_toggles_and_the_base() -> None:
    def create_key(configuration: PortalConfiguration, base: dict[str, Any]) -> str:
        stripe_module.forget_managed_configurations()
        exchange = stripe().exchange(
            PortalRequest(CUSTOMER, idempotency_key="k", configuration=configuration)
        )
        next(exchange)
        return exchange.send(page(base)).headers["Idempotency-Key"]

    first = create_key(NO_CANCEL, DEFAULT_CONFIGURATION)
    assert create_key(NO_CANCEL, DEFAULT_CONFIGURATION) == first  # deterministic
    assert create_key(PortalConfiguration(cancel_subscription=True), DEFAULT_CONFIGURATION) != first
    both = PortalConfiguration(cancel_subscription=False, view_invoices=False)
    assert create_key(both, DEFAULT_CONFIGURATION) != first
    assert create_key(NO_CANCEL, {**DEFAULT_CONFIGURATION, "updated": 1700000001}) != first
    assert create_key(NO_CANCEL, {**DEFAULT_CONFIGURATION, "id": "bpc_1Other"}) != first
    assert len(first) <= 255


def test_a_configuration_made_before_is_found_not_made_again() -> None:
    exchange = stripe().exchange(managed_request())
    next(exchange)
    create = exchange.send(page(DEFAULT_CONFIGURATION))
    fingerprint = form(create)["metadata[portalkit_fingerprint]"]
    stripe_module.forget_managed_configurations()  # a new process

    exchange = stripe().exchange(managed_request())
    first = next(exchange)
    made_before = {
        **DEFAULT_CONFIGURATION,
        "id": "bpc_1MadeBefore",
        "is_default": False,
        "metadata": {"portalkit_fingerprint": fingerprint},
    }
    second = exchange.send(page(DEFAULT_CONFIGURATION, made_before, has_more=True))
    assert second.method == "GET"  # has_more: the next page
    assert dict(second.url.params)["starting_after"] == "bpc_1MadeBefore"
    assert first.url.params.get("starting_after") is None
    session_request = exchange.send(page())
    assert form(session_request)["configuration"] == "bpc_1MadeBefore"


def test_toggles_apply_to_an_explicit_base_configuration() -> None:
    base = {**DEFAULT_CONFIGURATION, "id": "bpc_1Base", "is_default": False}
    exchange = stripe(configuration="bpc_1Base").exchange(
        managed_request(configuration=PortalConfiguration(view_invoices=False))
    )
    next(exchange)
    create = exchange.send(page(DEFAULT_CONFIGURATION, base))
    fields = form(create)
    assert fields["metadata[portalkit_base]"] == "bpc_1Base"
    assert fields["features[invoice_history][enabled]"] == "false"
    assert fields["features[subscription_cancel][enabled]"] == "true"  # None keeps the base


def test_an_account_without_a_default_configuration() -> None:
    exchange = stripe().exchange(managed_request())
    next(exchange)
    with pytest.raises(errors.InvalidRequest) as caught:
        exchange.send(page({**DEFAULT_CONFIGURATION, "is_default": False}))
    assert caught.value.field == "configuration"
    assert "default portal configuration" in str(caught.value)


def test_a_cached_configuration_gone_since_is_made_again() -> None:
    adapter = stripe()
    exchange = adapter.exchange(managed_request())
    next(exchange)
    exchange.send(page(DEFAULT_CONFIGURATION))
    exchange.send(ok({"id": "bpc_1Old"}))
    with pytest.raises(StopIteration):
        exchange.send(ok(session()))

    exchange = adapter.exchange(managed_request())
    assert form(next(exchange))["configuration"] == "bpc_1Old"
    gone = adapter.parse_error(
        httpx.Response(
            400,
            json=stripe_error("invalid_request_error", "resource_missing", "configuration"),
        )
    )
    listing = exchange.throw(gone)
    assert listing.method == "GET"
    exchange.send(page(DEFAULT_CONFIGURATION))
    session_request = exchange.send(ok({"id": "bpc_1New"}))
    assert form(session_request)["configuration"] == "bpc_1New"


def test_another_error_thrown_into_the_exchange_propagates() -> None:
    adapter = stripe()
    exchange = adapter.exchange(managed_request())
    next(exchange)
    denied = adapter.parse_error(httpx.Response(403, json=stripe_error("invalid_request_error")))
    with pytest.raises(errors.PermissionDenied):
        exchange.throw(denied)


def test_a_request_without_toggles_is_one_step() -> None:
    exchange = stripe().exchange(PortalRequest(CUSTOMER, idempotency_key="k"))
    only = next(exchange)
    assert only.url.path == "/v1/billing_portal/sessions"
    with pytest.raises(StopIteration) as done:
        exchange.send(ok(session()))
    assert done.value.value.session_id == "bps_1MrSjzLkdIwHu7ixex0IvU9b"


def test_exchange_checks_everything_before_the_first_request() -> None:
    exchange = stripe().exchange(
        PortalRequest("cus_bad-id", idempotency_key="k", configuration=NO_CANCEL)
    )
    with pytest.raises(errors.InvalidRequest) as caught:
        next(exchange)
    assert caught.value.field == "customer_id"


@both_modes
def test_toggles_through_portal_make_the_configuration_once_then_reuse_it(mode: str) -> None:
    """Through Portal and AsyncPortal: a 'no cancel' session reads the configurations,
    creates one with cancelling off, and mints with it; the next one in this process reuses
    it. A 'no cancel' session on Stripe never silently allows cancelling."""
    stripe_module.forget_managed_configurations()
    managed = {**DEFAULT_CONFIGURATION, "id": "bpc_1Managed", "is_default": False}
    script = Script(
        reply(200, {"object": "list", "data": [DEFAULT_CONFIGURATION], "has_more": False}),
        reply(200, managed),
        reply(200, session(configuration="bpc_1Managed")),
    )
    link = mint(mode, stripe(), script, PortalRequest(CUSTOMER, configuration=NO_CANCEL))
    assert link.url == PORTAL_URL
    assert [(sent.method, sent.url.path) for sent in script.sent] == [
        ("GET", "/v1/billing_portal/configurations"),
        ("POST", "/v1/billing_portal/configurations"),
        ("POST", "/v1/billing_portal/sessions"),
    ]
    assert form(script.sent[1])["features[subscription_cancel][enabled]"] == "false"
    assert form(script.sent[2])["configuration"] == "bpc_1Managed"

    again = Script(reply(200, session(configuration="bpc_1Managed")))
    mint(mode, stripe(), again, PortalRequest(CUSTOMER, configuration=NO_CANCEL))
    (only,) = again.sent
    assert form(only)["configuration"] == "bpc_1Managed"
    stripe_module.forget_managed_configurations()


def test_form_body_matches_stripe_encoding_rules() -> None:
    body = form_body(
        {"a": {"b": [{"c": True}, {"c": False}], "d": None, "e": []}, "f": 3, "g": "x y&z"}
    )
    assert body == b"a[b][0][c]=true&a[b][1][c]=false&f=3&g=x+y%26z"
