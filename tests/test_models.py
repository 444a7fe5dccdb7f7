"""PortalRequest validation, PortalLink.deep_link, redaction of links, and how errors read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from portalkit import (
    Action,
    AfterCompletion,
    AfterCompletionKind,
    DeepLink,
    Flow,
    FlowDiscount,
    FlowItem,
    PortalConfiguration,
    PortalLink,
    PortalRequest,
    RetentionOffer,
    errors,
)

# -- PortalRequest: checked at construction ------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"customer_id": ""}, "customer_id", "empty"),
        ({"customer_id": 42}, "customer_id", "string"),
        ({"customer_id": "cus_1/../admin"}, "customer_id", "'/'"),
        ({"customer_id": "cus 1"}, "customer_id", "spaces"),
        ({"customer_id": "cus_1%2F"}, "customer_id", "'%'"),
        ({"customer_id": "cus_\u0131"}, "customer_id", "ASCII"),  # a dotless-i look-alike
        ({"customer_id": "c" * 256}, "customer_id", "at most 255"),
        ({"return_url": "http://app.example.com/billing"}, "return_url", "https"),
        ({"return_url": "ftp://app.example.com/"}, "return_url", "https"),
        ({"return_url": "/account/billing"}, "return_url", "absolute"),
        ({"return_url": "https://app.example.com/#top"}, "return_url", "fragment"),
        ({"return_url": "https://user:pw@app.example.com/"}, "return_url", "user info"),
        ({"return_url": "https://app.example.com/a b"}, "return_url", "whitespace"),
        ({"return_url": "https://app.example.com/\n"}, "return_url", "whitespace"),
        ({"return_url": "https://bücher.example/"}, "return_url", "ASCII"),
        ({"return_url": "https://app.example.com:99999/"}, "return_url", "well-formed"),
        ({"return_url": "https://" + "a" * 2050}, "return_url", "at most 2048"),
        ({"subscription_ids": ["sub_1", "sub_1"]}, "subscription_ids", "repeat"),
        ({"subscription_ids": ["sub_1", ""]}, "subscription_ids[1]", "empty"),
        ({"subscription_ids": ["sub/1"]}, "subscription_ids[0]", "'/'"),
        ({"configuration": {"cancel_subscription": False}}, "configuration", "PortalConfiguration"),
        ({"flow": "cancel_subscription"}, "flow", "Flow"),
        ({"locale": "french!"}, "locale", "language tag"),
        ({"locale": ""}, "locale", "empty"),
        ({"on_behalf_of": "acc 1"}, "on_behalf_of", "spaces"),
        ({"idempotency_key": "key with spaces"}, "idempotency_key", "printable ASCII"),
        ({"idempotency_key": "k\r\nX-Evil: 1"}, "idempotency_key", "control"),
    ],
)
def test_invalid_fields_name_the_field_and_the_rule(
    fields: dict[str, Any], field: str, rule: str
) -> None:
    values: dict[str, Any] = {"customer_id": "cus_1", **fields}
    with pytest.raises(errors.InvalidRequest) as caught:
        PortalRequest(**values)
    assert type(caught.value) is errors.InvalidRequest
    assert caught.value.field == field
    assert rule in (caught.value.rule or "")
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    "return_url",
    [
        "https://app.example.com/account/billing?tab=plan",
        "http://localhost:3000/billing",  # local development
        "http://127.0.0.1:8000/billing",
        "https://xn--bcher-kva.example/",
    ],
)
def test_valid_return_urls(return_url: str) -> None:
    assert PortalRequest("cus_1", return_url=return_url).return_url == return_url


def test_a_minimal_request() -> None:
    request = PortalRequest("cus_1")
    assert request.return_url is None
    assert request.subscription_ids == ()
    assert request.configuration is None
    assert request.flow is None
    assert request.idempotency_key is None
    assert dict(request.provider_options) == {}


def test_subscription_ids_become_a_tuple_and_a_lone_id_is_not_split() -> None:
    assert PortalRequest("cus_1", subscription_ids=["sub_1", "sub_2"]).subscription_ids == (
        "sub_1",
        "sub_2",
    )
    assert PortalRequest("cus_1", subscription_ids="sub_1").subscription_ids == ("sub_1",)


def test_requests_are_frozen_all_the_way_down() -> None:
    request = PortalRequest("cus_1", provider_options={"paylera": {"theme": "dark"}})
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        request.customer_id = "cus_2"  # type: ignore[misc]
    with pytest.raises(TypeError):
        request.provider_options["paylera"]["theme"] = "light"  # type: ignore[index]
    with pytest.raises(TypeError):
        request.provider_options["plugipay"] = {}  # type: ignore[index]


def test_options_for_a_provider() -> None:
    request = PortalRequest("cus_1", provider_options={"paylera": {"theme": "dark"}})
    assert dict(request.options_for("paylera")) == {"theme": "dark"}
    assert dict(request.options_for("paddle")) == {}


def test_evolve_revalidates() -> None:
    request = PortalRequest("cus_1")
    with pytest.raises(errors.InvalidRequest):
        attrs.evolve(request, return_url="http://evil.example/")


def test_configuration_overrides_only_what_was_set() -> None:
    configuration = PortalConfiguration(cancel_subscription=False, view_invoices=True)
    assert configuration.overrides() == {
        Action.CANCEL_SUBSCRIPTION: False,
        Action.VIEW_INVOICES: True,
    }
    assert PortalConfiguration().overrides() == {}


def test_flow() -> None:
    assert Flow("cancel_subscription", "sub_1") == Flow(Action.CANCEL_SUBSCRIPTION, "sub_1")
    assert Flow(Action.OVERVIEW).subscription_id is None
    with pytest.raises(errors.InvalidRequest) as caught:
        Flow(Action.CANCEL_SUBSCRIPTION, "sub/1")
    assert caught.value.field == "flow.subscription_id"
    with pytest.raises(errors.InvalidRequest) as unknown:
        Flow("pause_subscription")
    assert unknown.value.field == "flow.action"
    assert "cancel_subscription" in (unknown.value.rule or "")


# -- PortalLink ----------------------------------------------------------------------------

PLUGIPAY_URL = "https://plugipay.com/portal/ps_01HX#t=eyJhbGciOiJIUzI1NiJ9.secret"
PADDLE_URL = "https://customer-portal.paddle.com/cpl_01j7?action=overview&token=pga_secret"
PADDLE_CANCEL = (
    "https://customer-portal.paddle.com/cpl_01j7?action=cancel_subscription"
    "&subscription_id=sub_1&token=pga_secret"
)
PAYLERA_URL = "https://portal.paylera.io/p/ps_secretpathtoken"


def link(url: str = PADDLE_URL, **fields: Any) -> PortalLink:
    return PortalLink(
        provider="paddle", session_id="cpls_1", customer_id="ctm_1", url=url, **fields
    )


def test_deep_link_by_action_and_subscription() -> None:
    minted = link(
        deep_links=(
            DeepLink(Action.OVERVIEW, None, PADDLE_URL),
            DeepLink(Action.CANCEL_SUBSCRIPTION, "sub_1", PADDLE_CANCEL),
        )
    )
    assert minted.deep_link(Action.OVERVIEW) == PADDLE_URL
    assert minted.deep_link(Action.CANCEL_SUBSCRIPTION, "sub_1") == PADDLE_CANCEL
    assert minted.deep_link("cancel_subscription", "sub_1") == PADDLE_CANCEL


@pytest.mark.parametrize(
    ("action", "subscription_id", "target"),
    [
        (Action.CANCEL_SUBSCRIPTION, "sub_2", "subscription 'sub_2'"),
        (Action.CANCEL_SUBSCRIPTION, None, "the account"),
        (Action.UPDATE_PAYMENT_METHOD, "sub_1", "subscription 'sub_1'"),
    ],
)
def test_deep_link_not_minted(action: Action, subscription_id: str | None, target: str) -> None:
    minted = link(deep_links=(DeepLink(Action.CANCEL_SUBSCRIPTION, "sub_1", PADDLE_CANCEL),))
    with pytest.raises(errors.DeepLinkNotFound) as caught:
        minted.deep_link(action, subscription_id)
    assert isinstance(caught.value, LookupError)
    assert caught.value.provider == "paddle"
    assert action.value in str(caught.value)
    assert target in str(caught.value)
    assert "pga_secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown", "secret"),
    [
        (PLUGIPAY_URL, "https://plugipay.com/<redacted>", "eyJhbGciOiJIUzI1NiJ9"),  # fragment
        (PADDLE_URL, "https://customer-portal.paddle.com/<redacted>", "pga_secret"),  # query
        (PAYLERA_URL, "https://portal.paylera.io/<redacted>", "ps_secretpathtoken"),  # path
        ("http://127.0.0.1:8700/p/tok", "http://127.0.0.1:8700/<redacted>", "tok"),
        ("not a url at all", "<redacted>", "not a url"),
        ("https://[::1/oops", "<redacted>", "oops"),
    ],
)
def test_repr_and_str_never_show_the_token(url: str, shown: str, secret: str) -> None:
    minted = link(
        url,
        deep_links=(DeepLink(Action.OVERVIEW, None, url),),
        raw={"data": {"url": url}},
        created_at=datetime(2024, 10, 25, tzinfo=UTC),
    )
    for text in (repr(minted), str(minted), repr(minted.deep_links[0]), str(minted.deep_links)):
        assert secret not in text
        assert shown in text
    assert "raw" not in repr(minted)
    assert minted.url == url  # the value itself is intact


def test_links_compare_without_the_raw_body() -> None:
    assert link(raw={"a": 1}) == link(raw={"b": 2})


# -- how errors read -----------------------------------------------------------------------


def test_error_str_quotes_what_support_needs() -> None:
    error = errors.CustomerNotFound(
        "plugipay refused the request with HTTP 404",
        provider="plugipay",
        status=404,
        code="not_found",
        vendor_message="No such customer",
        request_id="req_123",
    )
    assert str(error) == (
        "plugipay refused the request with HTTP 404: No such customer "
        "(provider=plugipay, status=404, code=not_found, request_id=req_123)"
    )
    assert repr(error) == f"CustomerNotFound({str(error)!r})"
    assert (error.provider, error.status, error.code) == ("plugipay", 404, "not_found")
    assert (error.vendor_message, error.request_id) == ("No such customer", "req_123")


def test_error_str_without_details() -> None:
    assert str(errors.PortalError("plain")) == "plain"
    repeated = errors.PortalError("boom: details", vendor_message="details")
    assert str(repeated) == "boom: details"  # the vendor's words are not said twice


def test_rate_limited_says_when_to_retry() -> None:
    error = errors.RateLimited("too many", provider="paddle", status=429, retry_after=2.5)
    assert error.retry_after == 2.5
    assert str(error) == "too many (provider=paddle, status=429); retry after 2.5s"
    assert str(errors.RateLimited("too many")) == "too many"


def test_local_validation_errors() -> None:
    error = errors.InvalidRequest.local("return_url", "must use https://", provider="paylera")
    assert (error.field, error.rule, error.provider) == (
        "return_url",
        "must use https://",
        "paylera",
    )
    assert error.status is None
    assert str(error) == "return_url: must use https:// (provider=paylera)"


def test_unsupported_feature_is_an_invalid_request() -> None:
    error = errors.UnsupportedFeature("no", feature="locale", field="locale", provider="paddle")
    assert isinstance(error, errors.InvalidRequest)
    assert (error.feature, error.field) == ("locale", "locale")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.InvalidRequest),
        (401, errors.AuthenticationFailed),
        (403, errors.PermissionDenied),
        (404, errors.CustomerNotFound),
        (408, errors.ProviderUnavailable),
        (409, errors.IdempotencyConflict),
        (410, errors.PortalError),
        (422, errors.InvalidRequest),
        (429, errors.RateLimited),
        (500, errors.ProviderUnavailable),
        (599, errors.ProviderUnavailable),
    ],
)
def test_error_class_for_status(status: int, error: type[errors.PortalError]) -> None:
    assert errors.error_class_for_status(status) is error


def test_only_transient_errors_are_retryable() -> None:
    retryable = {
        name
        for name in errors.__all__
        if isinstance(cls := getattr(errors, name), type)
        and issubclass(cls, errors.PortalError)
        and cls.retryable
    }
    assert retryable == {"InvalidResponse", "ProviderUnavailable", "RateLimited"}


# -- the flow parts Stripe brought: checked when built, naming the field ------------------


def _flow(**parts: Any) -> Flow:
    return Flow(**parts)


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: AfterCompletion.redirect("http://example.com/x"), "flow.after_completion.url"),
        (lambda: AfterCompletion("redirect"), "flow.after_completion.url"),
        (
            lambda: AfterCompletion("portal_home", url="https://a.example"),
            "flow.after_completion.url",
        ),
        (lambda: AfterCompletion.confirmation("x" * 501), "flow.after_completion.message"),
        (lambda: AfterCompletion.confirmation("bell\x07"), "flow.after_completion.message"),
        (lambda: AfterCompletion("portal_home", message="hi"), "flow.after_completion.message"),
        (lambda: FlowItem("si_1"), "flow.items"),
        (lambda: FlowItem("si/1", quantity=1), "flow.items.subscription_item_id"),
        (lambda: FlowItem("si_1", quantity=-1), "flow.items.quantity"),
        (lambda: FlowItem("si_1", quantity=True), "flow.items.quantity"),
        (lambda: FlowDiscount(), "flow.discounts"),
        (lambda: FlowDiscount(coupon="A", promotion_code="promo_1"), "flow.discounts"),
        (lambda: RetentionOffer("bad coupon"), "flow.retention.coupon"),
        (
            lambda: _flow(action="cancel_subscription", items=[FlowItem("si_1", quantity=1)]),
            "flow.items",
        ),
        (
            lambda: _flow(action="update_subscription", items=[FlowItem("si_1", quantity=1)]),
            "flow.items",
        ),
        (
            lambda: _flow(
                action="update_subscription",
                subscription_id="sub_1",
                items=[FlowItem("si_1", quantity=1), FlowItem("si_1", quantity=2)],
            ),
            "flow.items",
        ),
        (
            lambda: _flow(
                action="update_subscription",
                subscription_id="sub_1",
                discounts=[FlowDiscount(coupon="A")],
            ),
            "flow.discounts",
        ),
        (
            lambda: _flow(
                action="update_subscription", subscription_id="sub_1", retention=RetentionOffer("A")
            ),
            "flow.retention",
        ),
        (
            lambda: _flow(action="overview", after_completion=AfterCompletion.portal_home()),
            "flow.after_completion",
        ),
        (lambda: _flow(action="cancel_subscription", retention="A"), "flow.retention"),
    ],
)
def test_flow_parts_are_checked_when_built(build: Any, field: str) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        build()
    assert caught.value.field == field
    assert caught.value.rule


def test_flow_parts_that_hold() -> None:
    flow = Flow(
        Action.UPDATE_SUBSCRIPTION,
        "sub_1",
        items=FlowItem("si_1", price_id="price_2", quantity=0),
        discounts=FlowDiscount(promotion_code="promo_1"),
        after_completion=AfterCompletion.confirmation("Line one\nLine two"),
    )
    assert flow.items == (FlowItem("si_1", price_id="price_2", quantity=0),)
    assert flow.discounts == (FlowDiscount(promotion_code="promo_1"),)
    assert flow.after_completion == AfterCompletion(
        AfterCompletionKind.CONFIRMATION, message="Line one\nLine two"
    )
    assert AfterCompletion.redirect("https://a.example/done").url == "https://a.example/done"
    assert AfterCompletion.portal_home().kind is AfterCompletionKind.PORTAL_HOME
    assert Flow(Action.UPDATE_CUSTOMER_DETAILS).action == "update_customer_details"


def test_unchecked_copy_is_evolve_without_the_checks() -> None:
    # Portal's own changes (the generated idempotency key, the ignored-field names) are
    # copied in without re-running every validator; the result is what evolve() makes.
    from portalkit._models import unchecked_copy

    request = PortalRequest(
        "cus_1",
        return_url="https://app.example/account",
        subscription_ids=["sub_1"],
        flow=Flow(Action.CANCEL_SUBSCRIPTION, "sub_1"),
        provider_options={"stripe": {"x": 1}},
    )
    copy = unchecked_copy(request, idempotency_key="key-1")
    assert copy == attrs.evolve(request, idempotency_key="key-1")
    assert copy is not request
    assert request.idempotency_key is None
    assert type(copy) is PortalRequest
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        copy.idempotency_key = "key-2"  # type: ignore[misc]
