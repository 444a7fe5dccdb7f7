"""Chargebee adapter, through Portal and AsyncPortal over httpx.MockTransport.

The contract is shared/provider-docs/chargebee.md and Chargebee's API reference (Portal
sessions): POST https://{site}.chargebee.com/api/v2/portal_sessions, HTTP Basic with the key
as user name, form-encoded customer[id] / redirect_url / forward_url, the
chargebee-idempotency-key header, and POST .../portal_sessions/{id}/logout to end a session.
"""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from _mock import Script, both_modes, mint, record_sleeps, reply
from _mock import end_session as end

from portalkit import (
    Feature,
    Flow,
    PortalLink,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit.providers.chargebee import Chargebee

SITE = "acme-test"
API_KEY = "test_cbKeyDoNotLeak42"
BASIC = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
ONCE = RetryPolicy(max_attempts=1)

#: Chargebee API reference -> Portal sessions -> the sample portal session, verbatim.
DOC_CUSTOMER = "__test__KyVnHhSBWm8kA2sT"
DOC_TOKEN = "__test__cdBbQgJg5fPSTw9qBPDIaQiVEEx0Gsrrc"
DOC_ACCESS_URL = f"https://yourapp.chargebeeportal.com/portal/access/{DOC_TOKEN}"
DOC_SESSION_ID = "portal___test__KyVnHhSBWm8l82sV"
DOC_REDIRECT_URL = "https://yourdomain.com/users/3490343"
DOC_SESSION: dict[str, Any] = {
    "access_url": DOC_ACCESS_URL,
    "created_at": 1517505973,
    "customer_id": DOC_CUSTOMER,
    "expires_at": 1517509573,
    "id": DOC_SESSION_ID,
    "linked_customers": [
        {
            "customer_id": DOC_CUSTOMER,
            "has_active_subscription": False,
            "has_billing_address": False,
            "has_payment_method": False,
            "object": "linked_customer",
        }
    ],
    "object": "portal_session",
    "redirect_url": DOC_REDIRECT_URL,
    "status": "created",
    "token": DOC_TOKEN,
}
DOC_RESPONSE: dict[str, Any] = {"portal_session": DOC_SESSION}
LOGGED_OUT: dict[str, Any] = {
    "portal_session": {**DOC_SESSION, "status": "logged_out", "logout_at": 1517506000}
}


def chargebee(**options: Any) -> Chargebee:
    return Chargebee(site=SITE, api_key=API_KEY, **options)


def created() -> Script:
    return Script(reply(200, DOC_RESPONSE))


def request(**fields: Any) -> PortalRequest:
    return PortalRequest(DOC_CUSTOMER, return_url=DOC_REDIRECT_URL, **fields)


def form(content: bytes) -> dict[str, str]:
    pairs = parse_qsl(content.decode("ascii"), keep_blank_values=True, strict_parsing=True)
    assert len(pairs) == len(dict(pairs)), "a form field was sent twice"
    return dict(pairs)


def error_body(code: str, *, status: int, param: str | None = None, **extra: Any) -> Any:
    body = {
        "message": f"simulated {code}",
        "type": extra.pop("type", "invalid_request"),
        "api_error_code": code,
        "error_code": code,
        "error_msg": f"simulated {code}",
        "http_status_code": status,
        **extra,
    }
    if param is not None:
        body["param"] = param
    return reply(status, body)


def minted_link(**changes: Any) -> PortalLink:
    fields: dict[str, Any] = {
        "provider": "chargebee",
        "session_id": DOC_SESSION_ID,
        "customer_id": DOC_CUSTOMER,
        "url": DOC_ACCESS_URL,
    }
    return PortalLink(**{**fields, **changes})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


# -- the request on the wire ---------------------------------------------------------------


def test_is_a_portal_provider_that_ends_sessions() -> None:
    adapter = chargebee()
    assert isinstance(adapter, PortalProvider)
    assert Feature.END_SESSION in adapter.features
    assert adapter.portal_hosts == ("*.chargebeeportal.com",)


@both_modes
def test_request_is_what_chargebee_documents(mode: str) -> None:
    script = created()
    link = mint(mode, chargebee(), script, request())

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == "https://acme-test.chargebee.com/api/v2/portal_sessions"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Accept"] == "application/json"
    assert form(sent.content) == {"customer[id]": DOC_CUSTOMER, "redirect_url": DOC_REDIRECT_URL}
    assert sent.headers["Authorization"] == BASIC
    assert base64.b64decode(sent.headers["Authorization"].split()[1]) == f"{API_KEY}:".encode()
    assert sent.headers["chargebee-idempotency-key"] == link.idempotency_key
    assert link.idempotency_key
    # The SDK adds these; portalkit does not reveal the host's platform.
    assert "OS-Version" not in sent.headers
    assert "Lang-Version" not in sent.headers


@both_modes
def test_every_create_gets_its_own_key_unless_given_one(mode: str) -> None:
    first, second, given = created(), created(), created()
    mint(mode, chargebee(), first, request())
    mint(mode, chargebee(), second, request())
    link = mint(mode, chargebee(), given, request(idempotency_key="order-7-portal"))

    keys = {s.only.headers["chargebee-idempotency-key"] for s in (first, second)}
    assert len(keys) == 2
    assert given.only.headers["chargebee-idempotency-key"] == "order-7-portal"
    assert link.idempotency_key == "order-7-portal"


@both_modes
def test_return_url_is_optional(mode: str) -> None:
    script = created()
    mint(mode, chargebee(), script, PortalRequest(DOC_CUSTOMER))
    assert form(script.only.content) == {"customer[id]": DOC_CUSTOMER}


@both_modes
def test_base_url_replaces_the_site_origin(mode: str) -> None:
    script = created()
    adapter = chargebee(base_url="http://127.0.0.1:9100/chargebee/acme-test/")
    mint(mode, adapter, script, request())
    assert (
        str(script.only.url) == "http://127.0.0.1:9100/chargebee/acme-test/api/v2/portal_sessions"
    )
    assert script.only.headers["Authorization"] == BASIC


@both_modes
def test_update_subscription_flow_becomes_the_documented_forward_url(mode: str) -> None:
    script = created()
    flow = Flow("update_subscription", "HvDPsACPqEnmg7TA")
    link = mint(mode, chargebee(), script, request(flow=flow))

    assert form(script.only.content) == {
        "customer[id]": DOC_CUSTOMER,
        "redirect_url": DOC_REDIRECT_URL,
        "forward_url": (
            "https://acme-test.chargebeeportal.com/portal/permalink/subscriptions/"
            "HvDPsACPqEnmg7TA/edit"
        ),
    }
    assert link.ignored_fields == ()


@both_modes
def test_forward_url_follows_a_custom_portal_domain(mode: str) -> None:
    script = created()
    adapter = chargebee(portal_url="https://billing.acme.example/")
    mint(mode, adapter, script, request(flow=Flow("update_subscription", "sub_1")))
    assert form(script.only.content)["forward_url"] == (
        "https://billing.acme.example/portal/permalink/subscriptions/sub_1/edit"
    )


@both_modes
def test_overview_flow_opens_the_portal_home(mode: str) -> None:
    script = created()
    link = mint(mode, chargebee(), script, request(flow=Flow("overview")))
    assert "forward_url" not in form(script.only.content)
    assert link.ignored_fields == ()


@both_modes
@pytest.mark.parametrize(
    "flow",
    [
        Flow("cancel_subscription", "sub_1"),
        Flow("update_payment_method"),
        Flow("update_payment_method", "sub_1"),
        Flow("view_invoices"),
        Flow("update_subscription"),  # the permalink needs a subscription
        Flow("overview", "sub_1"),
    ],
)
def test_flows_without_a_documented_page_are_dropped_or_refused_when_strict(
    mode: str, flow: Flow
) -> None:
    # The page the portal opens at is a cosmetic hint: dropped and listed...
    script = created()
    link = mint(mode, chargebee(), script, request(flow=flow))
    assert "forward_url" not in form(script.only.content)
    assert link.ignored_fields == ("flow",)
    # ... and refused before sending under strict=True.
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, chargebee(), script, request(flow=flow), strict=True)
    assert caught.value.feature == "flow"
    assert caught.value.field == "flow"
    assert caught.value.provider == "chargebee"
    assert script.sent == []


def test_the_adapter_itself_refuses_a_flow_without_a_page() -> None:
    # The backstop behind the feature policy: build_request never sends a guessed page.
    with pytest.raises(errors.UnsupportedFeature):
        chargebee().build_request(
            PortalRequest(DOC_CUSTOMER, idempotency_key="k", flow=Flow("view_invoices"))
        )


@both_modes
@pytest.mark.parametrize(
    ("fields", "dropped"),
    [
        ({"locale": "fr"}, ("locale",)),
        ({"subscription_ids": ["sub_1"]}, ("subscription_ids",)),
    ],
)
def test_cosmetic_hints_chargebee_lacks_are_dropped_and_listed(
    mode: str, fields: dict[str, Any], dropped: tuple[str, ...]
) -> None:
    script = created()
    link = mint(mode, chargebee(), script, request(**fields))
    assert form(script.only.content) == {
        "customer[id]": DOC_CUSTOMER,
        "redirect_url": DOC_REDIRECT_URL,
    }
    assert link.ignored_fields == dropped


@both_modes
@pytest.mark.parametrize(
    "fields",
    [
        {"on_behalf_of": "acct_1"},
        {"provider_options": {"chargebee": {"embed": "true"}}},
    ],
)
def test_what_chargebee_cannot_do_is_refused_before_sending(
    mode: str, fields: dict[str, Any]
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature):
        mint(mode, chargebee(), script, request(**fields))
    assert script.sent == []


# -- local checks: nothing is sent -----------------------------------------------------------


@pytest.mark.parametrize(
    "site", ["", "acme.test", "acme_test", "-acme", "acme-", "a" * 64, "acme/x", "acmé", "a b"]
)
def test_site_is_checked_at_construction(site: str) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        Chargebee(site=site, api_key=API_KEY)
    assert caught.value.field == "site"
    assert "letters, digits and hyphens" in str(caught.value)


@pytest.mark.parametrize("site", ["acme-test", "ACME", "a", "a1-b2-c3", "x" * 63])
def test_valid_site_names(site: str) -> None:
    assert Chargebee(site=site, api_key=API_KEY).api_root == f"https://{site}.chargebee.com"


@pytest.mark.parametrize("api_key", ["", "   ", "key:with-colon", "key with space", "kéy"])
def test_api_key_is_checked_and_never_shown(api_key: str) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        Chargebee(site=SITE, api_key=api_key)
    assert caught.value.field == "api_key"
    if api_key.strip():
        assert api_key not in str(caught.value)


def test_the_key_is_not_in_the_repr() -> None:
    assert API_KEY not in repr(chargebee())
    assert BASIC.split()[1] not in repr(chargebee())


def test_base_url_must_be_https() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        chargebee(base_url="http://proxy.example")
    assert caught.value.field == "base_url"
    chargebee(base_url="http://proxy.example", allow_insecure_base_url=True)


@both_modes
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"customer_id": "c" * 51}, "customer_id"),
        (
            {"customer_id": DOC_CUSTOMER, "return_url": "https://a.example/" + "x" * 240},
            "return_url",
        ),
        (
            {"customer_id": DOC_CUSTOMER, "flow": Flow("update_subscription", "s" * 51)},
            "flow.subscription_id",
        ),
    ],
)
def test_chargebee_limits_are_checked_before_sending(
    mode: str, fields: dict[str, Any], field: str
) -> None:
    script = Script()
    fields = dict(fields)  # the parameters are shared by both modes
    customer = fields.pop("customer_id")
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, chargebee(), script, PortalRequest(customer, **fields))
    assert caught.value.field == field
    assert "at most" in str(caught.value)
    assert script.sent == []


@both_modes
def test_a_forward_url_over_250_characters_is_refused(mode: str) -> None:
    script = Script()
    adapter = chargebee(
        portal_url="https://" + "p" * 60 + "." + "q" * 60 + "." + "r" * 60 + ".example"
    )
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, adapter, script, request(flow=Flow("update_subscription", "s" * 50)))
    assert caught.value.field == "flow"
    assert script.sent == []


def test_from_env() -> None:
    env = ProviderEnv(
        "chargebee",
        {
            "CHARGEBEE_SITE": "acme-test",
            "CHARGEBEE_API_KEY": API_KEY,
            "CHARGEBEE_BASE_URL": "http://127.0.0.1:9100/chargebee/acme-test",
        },
    )
    adapter = Chargebee.from_env(env)
    assert adapter.site == "acme-test"
    assert adapter.api_root == "http://127.0.0.1:9100/chargebee/acme-test"
    assert adapter.portal_root == "https://acme-test.chargebeeportal.com"


def test_from_env_names_a_bad_site_by_its_variable() -> None:
    import portalkit

    with pytest.raises(errors.ConfigurationError) as caught:
        portalkit.provider_from_env(
            {
                "PORTALKIT_PROVIDER": "chargebee",
                "CHARGEBEE_SITE": "acme.evil",
                "CHARGEBEE_API_KEY": "k",
            }
        )
    assert caught.value.variable == "CHARGEBEE_SITE"
    assert "acme.evil" not in str(caught.value)
    with pytest.raises(errors.ConfigurationError) as missing:
        portalkit.provider_from_env({"PORTALKIT_PROVIDER": "chargebee", "CHARGEBEE_API_KEY": "k"})
    assert missing.value.variable == "CHARGEBEE_SITE"


# -- the answer ------------------------------------------------------------------------------


@both_modes
def test_parses_the_documented_response(mode: str) -> None:
    link = mint(mode, chargebee(), created(), request())

    assert link.provider == "chargebee"
    assert link.session_id == DOC_SESSION_ID
    assert link.customer_id == DOC_CUSTOMER
    assert link.url == DOC_ACCESS_URL
    assert link.created_at == datetime(2018, 2, 1, 17, 26, 13, tzinfo=UTC)
    assert link.expires_at == datetime(2018, 2, 1, 18, 26, 13, tzinfo=UTC)
    assert link.status == "created"
    assert link.return_url == DOC_REDIRECT_URL
    assert link.raw == DOC_RESPONSE
    assert DOC_TOKEN not in repr(link)


@both_modes
def test_a_session_without_expiry_keeps_none(mode: str) -> None:
    body = copy.deepcopy(DOC_RESPONSE)
    del body["portal_session"]["expires_at"]
    del body["portal_session"]["redirect_url"]
    link = mint(mode, chargebee(), Script(reply(200, body)), PortalRequest(DOC_CUSTOMER))
    assert link.expires_at is None
    assert link.return_url is None


def _broken(**changes: Any) -> dict[str, Any]:
    session = {**DOC_SESSION, **changes}
    return {"portal_session": {k: v for k, v in session.items() if v is not ...}}


@both_modes
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-envelope"),
        pytest.param({"portal_session": "x"}, id="envelope-not-object"),
        pytest.param(_broken(access_url=...), id="no-access-url"),
        pytest.param(_broken(access_url=None), id="null-access-url"),
        pytest.param(_broken(id=...), id="no-id"),
        pytest.param(_broken(customer_id=...), id="no-customer"),
        pytest.param(_broken(status=...), id="no-status"),
        pytest.param(_broken(created_at="1517505973"), id="time-as-string"),
        pytest.param(_broken(created_at=True), id="time-as-bool"),
        pytest.param(_broken(expires_at=1.5), id="time-as-float"),
        pytest.param(_broken(expires_at=10**20), id="time-out-of-range"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any) -> None:
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, chargebee(), Script(reply(200, body)), request(), retry=ONCE)
    assert caught.value.provider == "chargebee"
    assert DOC_TOKEN not in str(caught.value)


@both_modes
def test_a_body_that_is_not_json(mode: str) -> None:
    script = Script(reply(200, content=b"<html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(errors.InvalidResponse):
        mint(mode, chargebee(), script, request(), retry=ONCE)


# -- errors ----------------------------------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("resource_not_found", 404, errors.CustomerNotFound),
        ("api_authentication_failed", 401, errors.AuthenticationFailed),
        ("api_authorization_failed", 403, errors.PermissionDenied),
        ("api_request_limit_exceeded", 429, errors.RateLimited),
        ("site_not_found", 404, errors.AuthenticationFailed),
        ("invalid_state_for_request", 409, errors.InvalidRequest),
        ("internal_error", 500, errors.ProviderUnavailable),
        ("internal_temporary_error", 503, errors.ProviderUnavailable),
        # A 5xx is unavailable whatever its code says.
        ("resource_not_found", 503, errors.ProviderUnavailable),
    ],
)
def test_errors_by_code(mode: str, code: str, status: int, error: type[errors.PortalError]) -> None:
    script = Script(error_body(code, status=status, type="operation_failed"))
    with pytest.raises(error) as caught:
        mint(mode, chargebee(), script, request(), retry=ONCE)
    assert type(caught.value) is error
    assert caught.value.code == code
    assert caught.value.status == status
    assert caught.value.vendor_message == f"simulated {code}"
    assert caught.value.provider == "chargebee"


@both_modes
@pytest.mark.parametrize(
    ("code", "param", "field"),
    [
        ("param_wrong_value", "customer[id]", "customer_id"),
        ("param_wrong_value", "redirect_url", "return_url"),
        ("invalid_request", "forward_url", "flow"),
        ("param_wrong_value", "some_new_param", "some_new_param"),
    ],
)
def test_invalid_requests_name_the_parameter(mode: str, code: str, param: str, field: str) -> None:
    script = Script(error_body(code, status=400, param=param))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, chargebee(), script, request(), retry=ONCE)
    assert type(caught.value) is errors.InvalidRequest
    assert caught.value.field == field
    assert caught.value.code == code
    assert f"(parameter {param})" in str(caught.value)


@both_modes
def test_a_param_that_is_not_a_plain_name_is_not_echoed(mode: str) -> None:
    script = Script(error_body("param_wrong_value", status=400, param="https://evil.example/x?t=1"))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, chargebee(), script, request(), retry=ONCE)
    assert caught.value.field is None
    assert "evil" not in str(caught.value)


@both_modes
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>502 Bad Gateway</html>", id="html"),
        pytest.param(
            b'{"message": 5, "api_error_code": ["x"], "http_status_code": "400"}', id="odd"
        ),
        pytest.param(b"[]", id="array"),
    ],
)
def test_malformed_error_bodies_fall_back_to_the_status(mode: str, body: bytes) -> None:
    script = Script(reply(400, content=body, headers={"Content-Type": "application/json"}))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, chargebee(), script, request(), retry=ONCE)
    assert caught.value.code is None
    assert caught.value.status == 400


@both_modes
def test_rate_limit_honours_retry_after(mode: str, sleeps: list[float]) -> None:
    script = Script(
        lambda r: httpx.Response(
            429,
            headers={"Retry-After": "2"},
            json={
                "message": "Sorry, access has been blocked temporarily",
                "type": "operation_failed",
                "api_error_code": "api_request_limit_exceeded",
                "http_status_code": 429,
            },
        ),
        reply(200, DOC_RESPONSE),
    )
    mint(mode, chargebee(), script, request(), retry=RetryPolicy(deadline=30.0))
    assert sleeps == [2.0]


@both_modes
def test_retries_reuse_the_idempotency_key(mode: str, sleeps: list[float]) -> None:
    script = Script(
        error_body("internal_temporary_error", status=503),
        lambda r: (_ for _ in ()).throw(httpx.ConnectError("simulated", request=r)),
        reply(200, DOC_RESPONSE, headers={"chargebee-idempotency-replayed": "true"}),
    )
    link = mint(mode, chargebee(), script, request(), retry=RetryPolicy(deadline=30.0))

    assert len(script.sent) == 3
    keys = {sent.headers["chargebee-idempotency-key"] for sent in script.sent}
    assert keys == {link.idempotency_key}
    assert {sent.content for sent in script.sent} == {script.sent[0].content}
    assert len(sleeps) == 2


@both_modes
def test_errors_are_not_retried_when_they_are_final(mode: str, sleeps: list[float]) -> None:
    script = Script(error_body("api_authentication_failed", status=401))
    with pytest.raises(errors.AuthenticationFailed):
        mint(mode, chargebee(), script, request())
    assert len(script.sent) == 1
    assert sleeps == []


# -- ending a session early ------------------------------------------------------------------


@both_modes
def test_end_session_logs_the_session_out(mode: str) -> None:
    script = Script(reply(200, LOGGED_OUT))
    end(mode, chargebee(), script, minted_link())

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == (
        f"https://acme-test.chargebee.com/api/v2/portal_sessions/{DOC_SESSION_ID}/logout"
    )
    assert sent.headers["Authorization"] == BASIC
    assert sent.content == b""
    assert "chargebee-idempotency-key" not in sent.headers


@both_modes
def test_end_session_of_a_minted_link(mode: str) -> None:
    link = mint(mode, chargebee(), created(), request())
    script = Script(reply(200, LOGGED_OUT))
    end(mode, chargebee(), script, link)
    assert script.only.url.path == f"/api/v2/portal_sessions/{DOC_SESSION_ID}/logout"


@both_modes
def test_end_session_goes_to_base_url(mode: str) -> None:
    script = Script(reply(200, LOGGED_OUT))
    end(
        mode, chargebee(base_url="http://127.0.0.1:9100/chargebee/acme-test"), script, minted_link()
    )
    assert str(script.only.url) == (
        f"http://127.0.0.1:9100/chargebee/acme-test/api/v2/portal_sessions/{DOC_SESSION_ID}/logout"
    )


@both_modes
def test_end_session_is_retried_like_a_create(mode: str, sleeps: list[float]) -> None:
    script = Script(
        error_body("internal_temporary_error", status=503),
        lambda r: httpx.Response(429, headers={"Retry-After": "1"}),
        reply(200, LOGGED_OUT),
    )
    end(mode, chargebee(), script, minted_link(), retry=RetryPolicy(deadline=30.0))
    assert len(script.sent) == 3
    assert {str(s.url) for s in script.sent} == {str(script.sent[0].url)}
    assert sleeps[1] == 1.0


@both_modes
def test_end_session_honours_the_deadline(mode: str, sleeps: list[float]) -> None:
    script = Script(error_body("internal_error", status=500))
    with pytest.raises(errors.ProviderUnavailable):
        end(mode, chargebee(), script, minted_link(), retry=RetryPolicy(deadline=1e-9))
    assert len(script.sent) == 1
    assert sleeps == []


@both_modes
def test_end_session_holds_the_body_limit(mode: str) -> None:
    huge = b"{" + b" " * 4096 + b"}"
    script = Script(reply(200, content=huge, headers={"Content-Type": "application/json"}))
    with pytest.raises(errors.InvalidResponse) as caught:
        end(mode, chargebee(), script, minted_link(), retry=ONCE, max_response_bytes=1024)
    assert "limit" in str(caught.value)


@both_modes
@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("resource_not_found", 404, errors.CustomerNotFound),
        ("api_authentication_failed", 401, errors.AuthenticationFailed),
    ],
)
def test_end_session_errors_go_through_parse_error(
    mode: str, code: str, status: int, error: type[errors.PortalError]
) -> None:
    script = Script(error_body(code, status=status))
    with pytest.raises(error) as caught:
        end(mode, chargebee(), script, minted_link(), retry=ONCE)
    assert caught.value.code == code


@both_modes
@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"portal_session": {**DOC_SESSION, "status": "logged_in"}}, id="still-in"),
        pytest.param(
            {"portal_session": {**DOC_SESSION, "id": "portal_other", "status": "logged_out"}},
            id="other",
        ),
        pytest.param({}, id="empty"),
    ],
)
def test_an_answer_that_does_not_show_the_session_ended(mode: str, body: Any) -> None:
    with pytest.raises(errors.InvalidResponse):
        end(mode, chargebee(), Script(reply(200, body)), minted_link(), retry=ONCE)


@both_modes
@pytest.mark.parametrize("session_id", ["../customers/x", "portal/x", "a%2Fb", "p" * 71])
def test_a_session_id_unfit_for_the_path_is_refused_before_sending(
    mode: str, session_id: str
) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        end(mode, chargebee(), script, minted_link(session_id=session_id))
    assert caught.value.field == "link.session_id"
    assert caught.value.provider == "chargebee"
    assert script.sent == []


@both_modes
def test_a_vendor_message_echoing_the_key_is_scrubbed(mode: str) -> None:
    # Basic auth sends the key base64-encoded; the key Chargebee could repeat is the plain one.
    script = Script(
        reply(
            401,
            {
                "message": f"api key {API_KEY} is invalid",
                "type": "operation_failed",
                "api_error_code": "api_authentication_failed",
                "http_status_code": 401,
            },
        )
    )
    with pytest.raises(errors.AuthenticationFailed) as caught:
        mint(mode, chargebee(), script, request(), retry=ONCE)
    assert API_KEY not in str(caught.value)
    assert API_KEY not in (caught.value.vendor_message or "")
    assert "is invalid" in str(caught.value)
