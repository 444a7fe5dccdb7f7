"""The sandbox over real loopback HTTP: each vendor's success shape and errors, signature and
scope checks, idempotency, expiry, the single-use hosted page, security headers, every
scripted fault as a client sees it, the control endpoints, and a clean shutdown."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from portalkit import (
    AsyncPortal,
    Portal,
    PortalConfiguration,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
)
from portalkit._http import httpx
from portalkit.errors import (
    AuthenticationFailed,
    CustomerNotFound,
    IdempotencyConflict,
    InvalidRequest,
    InvalidResponse,
    PermissionDenied,
    PortalError,
    ProviderUnavailable,
    RateLimited,
)
from portalkit.providers.plugipay import sign
from portalkit.sandbox import Fault, Sandbox

RETURN_URL = "https://app.example/account/billing"
ONE_TRY = RetryPolicy(max_attempts=1)
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Sandbox:
    served.reset()
    return served


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=5) as client:
        yield client


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("x-request-id")


# -- raw requests, one helper per vendor ---------------------------------------------------


def plugipay_post(
    http: httpx.Client,
    sandbox: Sandbox,
    payload: Any,
    *,
    key: str = "valid",
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    creds = sandbox.credentials("plugipay", key)  # type: ignore[arg-type]
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = sign(
        creds["key_secret"], timestamp=stamp, method="POST", path="/v1/portal-sessions", body=body
    )
    sent = {
        "Content-Type": "application/json",
        "X-Plugipay-Key-Id": creds["key_id"],
        "X-Plugipay-Timestamp": stamp,
        "X-Plugipay-Signature": signature,
        **(headers or {}),
    }
    return http.post("/v1/portal-sessions", content=body, headers=sent)


def paylera_post(
    http: httpx.Client,
    payload: Any,
    *,
    key: str = "sk_sandbox_paylera_portal",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {"Authorization": f"Bearer {key}", **(headers or {})}
    return http.post("/v1/portal/sessions", json=payload, headers=sent)


def paddle_post(
    http: httpx.Client,
    customer_id: str,
    payload: Any = None,
    *,
    key: str | None = "pdl_sdbx_apikey_portalkit_portal",
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http.post(
        f"/customers/{customer_id}/portal-sessions", json=payload or {}, headers=headers
    )


def create_error(
    provider: PortalProvider, request: PortalRequest, retry: RetryPolicy = ONE_TRY
) -> PortalError:
    """The error ``create_link`` raises (and a failure when it mints a link)."""
    with Portal(provider, retry=retry) as portal:
        try:
            portal.create_link(request)
        except PortalError as exc:
            return exc
    raise AssertionError("create_link minted a link")


def plugipay_request(sandbox: Sandbox, **kwargs: Any) -> PortalRequest:
    return PortalRequest(sandbox.customers("plugipay")[0], return_url=RETURN_URL, **kwargs)


# -- success shapes ------------------------------------------------------------------------


def test_plugipay_success_shape(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customers("plugipay")[0]
    response = plugipay_post(
        http,
        sandbox,
        {"customerId": customer, "returnUrl": RETURN_URL},
        headers={"Idempotency-Key": "k1"},
    )
    assert response.status_code == 201
    assert_security_headers(response)
    assert re.fullmatch(r"req_[0-9A-Z]{26}", response.headers["x-request-id"])
    data = response.json()["data"]
    assert set(data) == {
        "id", "arn", "accountId", "customerId", "url", "returnUrl", "expiresAt", "createdAt",
    }  # fmt: skip
    assert re.fullmatch(r"ps_[0-9A-HJKMNP-TV-Z]{26}", data["id"])
    assert data["customerId"] == customer
    assert data["returnUrl"] == RETURN_URL
    assert data["arn"] == f"arn:plugipay:{data['accountId']}:portal-session/{data['id']}"
    assert re.fullmatch(
        rf"{re.escape(sandbox.url)}/plugipay/portal/{data['id']}#t=[\w-]{{43}}", data["url"]
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", data["expiresAt"])
    session = sandbox.sessions("plugipay")[0]
    assert (session.expires_at - session.created_at).total_seconds() == 15 * 60
    assert session.idempotency_key == "k1"
    assert session.used is False


def test_plugipay_through_portal(sandbox: Sandbox) -> None:
    with Portal(sandbox.provider("plugipay")) as portal:
        link = portal.create_link(plugipay_request(sandbox))
    assert link.provider == "plugipay"
    assert link.session_id == sandbox.sessions("plugipay")[0].id
    assert link.request_id
    assert link.request_id.startswith("req_")
    assert link.expires_at is not None
    assert link.created_at is not None
    assert (link.expires_at - link.created_at).total_seconds() == 15 * 60
    assert link.url == sandbox.sessions("plugipay")[0].url


def test_paylera_success_shape_and_portal(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customers("paylera")[0]
    response = paylera_post(http, {"customer_id": customer, "return_url": RETURN_URL})
    assert response.status_code == 201
    assert_security_headers(response)
    body = response.json()
    assert set(body) == {"id", "url", "expires_at"}
    assert re.fullmatch(r"ps_[A-Za-z0-9]{32}", body["id"])
    assert body["url"] == f"{sandbox.url}/paylera/p/{body['id']}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expires_at"])

    with Portal(sandbox.provider("paylera")) as portal:
        link = portal.create_link(
            PortalRequest(customer, return_url=RETURN_URL, locale="fr", idempotency_key="p-1")
        )
    session = sandbox.sessions("paylera")[-1]
    assert link.session_id == session.id
    assert session.locale == "fr"
    assert session.idempotency_key == "p-1"
    assert (session.expires_at - session.created_at).total_seconds() == 60 * 60


def test_paddle_success_shape_and_deep_links(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customers("paddle")[0]
    subs = sandbox.subscriptions("paddle", customer)
    response = paddle_post(http, customer, {"subscription_ids": subs})
    assert response.status_code == 201
    assert_security_headers(response)
    body = response.json()
    assert body["meta"]["request_id"] == response.headers["x-request-id"]
    data = body["data"]
    assert set(data) == {"id", "customer_id", "urls", "created_at"}
    assert re.fullmatch(r"cpls_[a-z\d]{26}", data["id"])
    assert data["customer_id"] == customer
    overview = data["urls"]["general"]["overview"]
    assert re.fullmatch(
        rf"{re.escape(sandbox.url)}/paddle/cpl_[a-z\d]{{26}}\?action=overview&token=pga_[\w-]+",
        overview,
    )
    assert [s["id"] for s in data["urls"]["subscriptions"]] == subs
    first = data["urls"]["subscriptions"][0]
    assert (
        f"action=cancel_subscription&subscription_id={subs[0]}&token="
        in first["cancel_subscription"]
    )
    assert (
        "action=update_subscription_payment_method" in first["update_subscription_payment_method"]
    )

    with Portal(sandbox.provider("paddle")) as portal:
        link = portal.create_link(PortalRequest(customer, subscription_ids=subs))
    assert link.expires_at is None
    assert len(link.deep_links) == 1 + 2 * len(subs)
    assert link.request_id is not None


def test_paddle_without_subscriptions_answers_an_empty_list(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    response = paddle_post(http, sandbox.customers("paddle")[2])
    assert response.status_code == 201
    assert response.json()["data"]["urls"]["subscriptions"] == []


# -- errors --------------------------------------------------------------------------------


def plugipay_error(response: httpx.Response) -> tuple[int, str]:
    error = response.json()["error"]
    assert error["requestId"] == response.headers["x-request-id"]
    return response.status_code, error["code"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"customerId": "CUSTOMER", "returnUrl": RETURN_URL, "locale": "fr"}, "locale"),
        ({"returnUrl": RETURN_URL}, "customerId"),
        ({"customerId": "cus_nope", "returnUrl": RETURN_URL}, "customerId"),
        ({"customerId": "CUSTOMER"}, "returnUrl"),
        ({"customerId": "CUSTOMER", "returnUrl": "http://app.example/"}, "returnUrl"),
    ],
)
def test_plugipay_validation_errors(
    sandbox: Sandbox, http: httpx.Client, payload: dict[str, str], field: str
) -> None:
    if payload.get("customerId") == "CUSTOMER":
        payload = {**payload, "customerId": sandbox.customers("plugipay")[0]}
    response = plugipay_post(http, sandbox, payload)
    assert plugipay_error(response) == (400, "VALIDATION_ERROR")
    assert response.json()["error"]["field"] == field
    assert_security_headers(response)


def test_plugipay_accepts_a_localhost_return_url(sandbox: Sandbox, http: httpx.Client) -> None:
    payload = {
        "customerId": sandbox.customers("plugipay")[0],
        "returnUrl": "http://localhost:8000/",
    }
    assert plugipay_post(http, sandbox, payload).status_code == 201


def test_plugipay_auth_errors(sandbox: Sandbox, http: httpx.Client) -> None:
    payload = {"customerId": sandbox.customers("plugipay")[0], "returnUrl": RETURN_URL}
    wrong = plugipay_post(http, sandbox, payload, key="wrong")
    assert plugipay_error(wrong) == (401, "invalid_signature")
    stale = plugipay_post(http, sandbox, payload, timestamp=int(time.time()) - 301)
    assert plugipay_error(stale) == (401, "invalid_signature")
    unknown = plugipay_post(http, sandbox, payload, headers={"X-Plugipay-Key-Id": "pk_unknown"})
    assert plugipay_error(unknown) == (401, "invalid_key")
    tampered = plugipay_post(http, sandbox, payload, headers={"X-Plugipay-Signature": "v1=00"})
    assert plugipay_error(tampered) == (401, "invalid_signature")
    scopeless = plugipay_post(http, sandbox, payload, key="no_scope")
    assert plugipay_error(scopeless) == (403, "insufficient_scope")
    assert sandbox.sessions("plugipay") == []


def test_plugipay_signature_within_tolerance_and_after_advance(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    payload = {"customerId": sandbox.customers("plugipay")[0], "returnUrl": RETURN_URL}
    assert (
        plugipay_post(http, sandbox, payload, timestamp=int(time.time()) - 200).status_code == 201
    )
    # Signatures are checked against the real clock: advancing sandbox time does not
    # invalidate a freshly signed request.
    sandbox.advance(3600)
    assert plugipay_post(http, sandbox, payload).status_code == 201


def test_plugipay_errors_through_portal(sandbox: Sandbox) -> None:
    auth = create_error(sandbox.provider("plugipay", "wrong"), plugipay_request(sandbox))
    assert isinstance(auth, AuthenticationFailed)
    assert auth.code == "invalid_signature"
    assert auth.status == 401
    scope = create_error(sandbox.provider("plugipay", "no_scope"), plugipay_request(sandbox))
    assert isinstance(scope, PermissionDenied)
    missing = sandbox.add_customer("plugipay")
    sandbox.reset()  # the generated customer is gone again
    request = PortalRequest(missing, return_url=RETURN_URL)
    not_found = create_error(sandbox.provider("plugipay"), request)
    assert isinstance(not_found, CustomerNotFound)
    assert not_found.code == "not_found"
    assert not_found.request_id


def test_plugipay_on_behalf_of(sandbox: Sandbox, http: httpx.Client) -> None:
    with Portal(sandbox.provider("plugipay").for_merchant("acc_merchant42")) as portal:
        link = portal.create_link(plugipay_request(sandbox))
    assert link.raw["data"]["accountId"] == "acc_merchant42"
    payload = {"customerId": sandbox.customers("plugipay")[0], "returnUrl": RETURN_URL}
    bad = plugipay_post(http, sandbox, payload, headers={"X-Plugipay-On-Behalf-Of": "merchant"})
    assert plugipay_error(bad) == (400, "VALIDATION_ERROR")


def paylera_error(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    return response.status_code, error["type"], error["code"]


@pytest.mark.parametrize(
    ("payload", "expected", "param"),
    [
        ({"customer_id": "C", "theme": "dark"}, "parameter_unknown", "theme"),
        (
            {"customer_id": "C", "configuration": {"invoice_history_enabled": False}},
            "parameter_unknown",
            "configuration[invoice_history_enabled]",
        ),
        (
            {"customer_id": "C", "configuration": {"subscription_cancel_enabled": "no"}},
            "parameter_invalid",
            "configuration[subscription_cancel_enabled]",
        ),
        ({"customer_id": "C", "locale": "french!"}, "parameter_invalid", "locale"),
        ({"customer_id": "C", "return_url": "ftp://x.example/"}, "parameter_invalid", "return_url"),
        ({"customer_id": "customer 1"}, "parameter_invalid", "customer_id"),
        ({}, "parameter_missing", "customer_id"),
    ],
)
def test_paylera_validation_errors(
    sandbox: Sandbox, http: httpx.Client, payload: dict[str, Any], expected: str, param: str
) -> None:
    if payload.get("customer_id") == "C":
        payload = {**payload, "customer_id": sandbox.customers("paylera")[0]}
    response = paylera_post(http, payload)
    assert paylera_error(response) == (400, "invalid_request_error", expected)
    assert response.json()["error"]["param"] == param


def test_paylera_auth_and_not_found(sandbox: Sandbox, http: httpx.Client) -> None:
    payload = {"customer_id": sandbox.customers("paylera")[0]}
    wrong = paylera_post(http, payload, key=sandbox.credentials("paylera", "wrong")["api_key"])
    assert paylera_error(wrong) == (401, "authentication_error", "invalid_api_key")
    missing = http.post("/v1/portal/sessions", json=payload)
    assert paylera_error(missing) == (401, "authentication_error", "invalid_api_key")
    scopeless = paylera_post(
        http, payload, key=sandbox.credentials("paylera", "no_scope")["api_key"]
    )
    assert paylera_error(scopeless) == (403, "permission_error", "insufficient_permissions")
    unknown = paylera_post(http, {"customer_id": "cus_nobody"})
    assert paylera_error(unknown) == (404, "invalid_request_error", "resource_missing")
    assert_security_headers(unknown)


def paddle_error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["meta"]["request_id"] == response.headers["x-request-id"]
    error = body["error"]
    assert error["documentation_url"].endswith(error["code"])
    return response.status_code, error["code"]


def test_paddle_auth_and_not_found(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customers("paddle")[0]
    wrong = sandbox.credentials("paddle", "wrong")["api_key"]
    assert paddle_error(paddle_post(http, customer, key=wrong)) == (401, "invalid_token")
    assert paddle_error(paddle_post(http, customer, key=None)) == (401, "authentication_missing")
    scopeless = sandbox.credentials("paddle", "no_scope")["api_key"]
    assert paddle_error(paddle_post(http, customer, key=scopeless)) == (403, "forbidden")
    nobody = "ctm_" + "0" * 26
    assert paddle_error(paddle_post(http, nobody)) == (404, "not_found")
    assert paddle_error(paddle_post(http, "ctm_BAD")) == (404, "not_found")


def test_paddle_subscription_rules(sandbox: Sandbox, http: httpx.Client) -> None:
    first, second = sandbox.customers("paddle")[:2]
    own = sandbox.subscriptions("paddle", first)
    other = sandbox.subscriptions("paddle", second)[0]

    def fields(payload: dict[str, Any]) -> list[str]:
        response = paddle_post(http, first, payload)
        assert paddle_error(response) == (400, "invalid_field")
        return [e["field"] for e in response.json()["error"]["errors"]]

    assert fields({"subscription_ids": [own[0], other]}) == ["subscription_ids[1]"]
    assert fields({"subscription_ids": [own[0], own[0]]}) == ["subscription_ids[1]"]
    assert fields({"subscription_ids": ["sub_UPPER"]}) == ["subscription_ids[0]"]
    assert fields({"subscription_ids": "sub_x"}) == ["subscription_ids"]
    assert fields({"return_url": RETURN_URL}) == ["return_url"]
    many = [sandbox.add_subscription("paddle", first) for _ in range(26)]
    assert "subscription_ids" in fields({"subscription_ids": many})
    assert paddle_post(http, first, {"subscription_ids": many[:25]}).status_code == 201


def test_paddle_errors_through_portal(sandbox: Sandbox) -> None:
    customer = sandbox.customers("paddle")[0]
    auth = create_error(sandbox.provider("paddle", "wrong"), PortalRequest(customer))
    assert isinstance(auth, AuthenticationFailed)
    denied = create_error(sandbox.provider("paddle", "no_scope"), PortalRequest(customer))
    assert isinstance(denied, PermissionDenied)
    assert denied.code == "forbidden"
    assert denied.request_id
    other = sandbox.subscriptions("paddle", sandbox.customers("paddle")[1])
    request = PortalRequest(customer, subscription_ids=other)
    invalid = create_error(sandbox.provider("paddle"), request)
    assert isinstance(invalid, InvalidRequest)
    assert invalid.status == 400
    assert invalid.code == "invalid_field"


# -- idempotency ---------------------------------------------------------------------------


def test_plugipay_idempotency_replay_and_conflict(sandbox: Sandbox, http: httpx.Client) -> None:
    customers = sandbox.customers("plugipay")
    key = {"Idempotency-Key": "same-key"}
    payload = {"customerId": customers[0], "returnUrl": RETURN_URL}
    first = plugipay_post(http, sandbox, payload, headers=key)
    again = plugipay_post(http, sandbox, dict(reversed(payload.items())), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(sandbox.sessions("plugipay")) == 1
    other = plugipay_post(http, sandbox, {**payload, "customerId": customers[1]}, headers=key)
    assert plugipay_error(other) == (409, "idempotency_key_reused")
    # Without a key, every request mints.
    plugipay_post(http, sandbox, payload)
    plugipay_post(http, sandbox, payload)
    assert len(sandbox.sessions("plugipay")) == 3


def test_paylera_idempotency_replay_and_conflict(sandbox: Sandbox) -> None:
    customer = sandbox.customers("paylera")[0]
    with Portal(sandbox.provider("paylera"), retry=ONE_TRY) as portal:
        first = portal.create_link(PortalRequest(customer, idempotency_key="pk-1"))
        again = portal.create_link(PortalRequest(customer, idempotency_key="pk-1"))
        assert again.session_id == first.session_id
        assert again.url == first.url
        with pytest.raises(IdempotencyConflict) as conflict:
            portal.create_link(PortalRequest(customer, idempotency_key="pk-1", locale="fr"))
    assert conflict.value.status == 409
    assert conflict.value.code == "idempotency_key_reused"
    assert len(sandbox.sessions("paylera")) == 1


def test_idempotency_keys_are_forgotten_after_a_day(sandbox: Sandbox) -> None:
    customer = sandbox.customers("paylera")[0]
    with Portal(sandbox.provider("paylera")) as portal:
        first = portal.create_link(PortalRequest(customer, idempotency_key="day"))
        sandbox.advance(24 * 3600 + 1)
        later = portal.create_link(PortalRequest(customer, idempotency_key="day"))
    assert later.session_id != first.session_id


def test_paddle_has_no_idempotency(sandbox: Sandbox) -> None:
    with Portal(sandbox.provider("paddle")) as portal:
        customer = sandbox.customers("paddle")[0]
        assert (
            portal.create_link(PortalRequest(customer)).session_id
            != portal.create_link(PortalRequest(customer)).session_id
        )


# -- the hosted portal ---------------------------------------------------------------------


def test_paylera_link_opens_once(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customers("paylera")[0]
    with Portal(sandbox.provider("paylera")) as portal:
        link = portal.create_link(PortalRequest(customer, return_url=RETURN_URL))
    first = http.get(link.url)
    assert first.status_code == 200
    assert_security_headers(first)
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Path=/paylera/session" in cookie
    assert f'<dd id="customer-id">{customer}</dd>' in first.text
    assert f'id="back-to-merchant" href="{RETURN_URL}"' in first.text
    assert sandbox.sessions("paylera")[0].used is True

    second = http.get(link.url)  # the client sends its cookies: still gone
    assert second.status_code == 410
    assert_security_headers(second)
    assert 'data-reason="used"' in second.text

    page = http.get("/paylera/session")  # the cookie opens the portal itself
    assert page.status_code == 200
    assert customer in page.text
    assert httpx.get(f"{sandbox.url}/paylera/session").status_code == 401


def test_paylera_configuration_decides_the_actions(sandbox: Sandbox, http: httpx.Client) -> None:
    config = PortalConfiguration(cancel_subscription=False, update_payment_method=True)
    with Portal(sandbox.provider("paylera")) as portal:
        link = portal.create_link(
            PortalRequest(sandbox.customers("paylera")[0], configuration=config, locale="fr")
        )
    assert sandbox.sessions("paylera")[0].configuration == {
        "subscription_cancel_enabled": False,
        "payment_method_update_enabled": True,
    }
    page = http.get(link.url).text
    assert 'id="action-update_payment_method"' in page
    assert 'id="action-cancel_subscription"' not in page
    assert '<html lang="fr">' in page
    assert 'id="back-to-merchant"' not in page


def test_paddle_deep_link_preopens_its_action(sandbox: Sandbox, http: httpx.Client) -> None:
    customer = sandbox.customers("paddle")[0]
    sub = sandbox.subscriptions("paddle", customer)[1]
    with Portal(sandbox.provider("paddle")) as portal:
        link = portal.create_link(PortalRequest(customer, subscription_ids=[sub]))
    cancel = link.deep_link("cancel_subscription", sub)
    forged = cancel.replace("token=pga_", "token=pga_x")
    assert http.get(forged).status_code == 403  # a wrong token does not use the link up
    page = http.get(cancel)
    assert page.status_code == 200
    assert re.search(
        rf'id="preopened-action" data-action="cancel_subscription" data-subscription-id="{sub}"',
        page.text,
    )
    assert 'id="back-to-merchant"' not in page.text  # Paddle has no return URL
    assert http.get(link.url).status_code == 410  # one token for all of a session's links
    again = http.get("/paddle/session")
    assert again.status_code == 200
    assert 'data-action="cancel_subscription"' in again.text


def test_plugipay_page_exchanges_the_fragment_token(sandbox: Sandbox, http: httpx.Client) -> None:
    with Portal(sandbox.provider("plugipay")) as portal:
        link = portal.create_link(plugipay_request(sandbox))
    page_url, _, fragment = link.url.partition("#")
    token = fragment.removeprefix("t=")

    bootstrap = http.get(page_url)  # what a browser requests: the fragment stays behind
    assert bootstrap.status_code == 200
    assert_security_headers(bootstrap)
    assert "script-src 'self'" in bootstrap.headers["content-security-policy"]
    script_path = re.search(r'<script src="([^"]+)"', bootstrap.text)
    assert script_path is not None
    script = http.get(script_path.group(1))
    assert script.status_code == 200
    assert "/exchange" in script.text

    exchange = f"{page_url}/exchange"
    assert http.post(exchange, json={"token": "wrong"}).status_code == 403
    first = http.post(exchange, json={"token": token})
    assert first.status_code == 204
    assert "HttpOnly" in first.headers["set-cookie"]
    assert "Path=/plugipay/session" in first.headers["set-cookie"]
    portal_page = http.get("/plugipay/session")
    assert portal_page.status_code == 200
    assert 'id="action-cancel_subscription"' in portal_page.text
    assert http.post(exchange, json={"token": token}).status_code == 410
    assert http.get(page_url).status_code == 410


@pytest.mark.parametrize(
    ("vendor", "ttl"), [("plugipay", 15 * 60), ("paylera", 60 * 60), ("paddle", 15 * 60)]
)
def test_links_expire(sandbox: Sandbox, http: httpx.Client, vendor: str, ttl: int) -> None:
    def mint() -> str:
        customer = sandbox.customers(vendor)[0]
        return_url = None if vendor == "paddle" else RETURN_URL
        with Portal(sandbox.provider(vendor)) as portal:
            return portal.create_link(PortalRequest(customer, return_url=return_url)).url

    fresh, stale = mint(), mint()
    sandbox.advance(ttl - 5)
    assert http.get(fresh.partition("#")[0]).status_code == 200
    sandbox.advance(10)
    gone = http.get(stale.partition("#")[0])
    assert gone.status_code == 410
    assert 'data-reason="expired"' in gone.text


def test_pages_escape_what_clients_sent(sandbox: Sandbox, http: httpx.Client) -> None:
    hostile = 'https://app.example/?next="><script>alert(1)</script>'
    response = paylera_post(
        http, {"customer_id": sandbox.customers("paylera")[0], "return_url": hostile}
    )
    page = http.get(response.json()["url"]).text
    assert "<script>" not in page
    assert 'href="https://app.example/?next=&quot;&gt;&lt;script&gt;' in page


def test_unknown_links_and_routes(sandbox: Sandbox, http: httpx.Client) -> None:
    for path in ("/paylera/p/ps_nothing", "/plugipay/portal/ps_nothing", "/paddle/cpl_nothing"):
        response = http.get(path)
        assert response.status_code == 404
        assert_security_headers(response)
    assert_security_headers(http.get("/no/such/route"))


# -- faults as the client sees them ------------------------------------------------------


def test_429_then_201_reuses_the_idempotency_key(sandbox: Sandbox) -> None:
    sandbox.script("plugipay", Fault.status(429, retry_after=0), Fault.status(503))
    with Portal(sandbox.provider("plugipay"), retry=RetryPolicy(backoff_initial=0)) as portal:
        link = portal.create_link(plugipay_request(sandbox))
    received = sandbox.received("plugipay")
    assert len(received) == 3
    assert len({r.headers["idempotency-key"] for r in received}) == 1
    assert link.idempotency_key == received[0].headers["idempotency-key"]
    assert [s.id for s in sandbox.sessions("plugipay")] == [link.session_id]


def test_status_fault_headers_and_bodies(sandbox: Sandbox, http: httpx.Client) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    sandbox.script(
        "paddle",
        Fault.status(429, retry_after=2),
        Fault.status(503, retry_after=date),
        Fault.status(500, body={"custom": True}),
        Fault.status(504, body="not json"),
    )
    customer = sandbox.customers("paddle")[0]
    limited = paddle_post(http, customer)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert paddle_error(limited) == (429, "too_many_requests")
    assert_security_headers(limited)
    unavailable = paddle_post(http, customer)
    assert unavailable.headers["retry-after"] == date
    assert paddle_error(unavailable) == (503, "service_unavailable")
    assert paddle_post(http, customer).json() == {"custom": True}
    assert paddle_post(http, customer).content == b"not json"
    assert paddle_post(http, customer).status_code == 201  # the script is used up


def test_rate_limited_after_retries_keeps_retry_after(sandbox: Sandbox) -> None:
    sandbox.script("paylera", Fault.status(429, retry_after=120))
    with Portal(sandbox.provider("paylera")) as portal, pytest.raises(RateLimited) as limited:
        portal.create_link(PortalRequest(sandbox.customers("paylera")[0]))
    assert limited.value.retry_after == 120
    assert limited.value.code == "rate_limited"


def test_transport_faults(sandbox: Sandbox, http: httpx.Client) -> None:
    payload = {"customer_id": sandbox.customers("paylera")[0]}
    sandbox.script("paylera", Fault.drop(), Fault.reset())
    with pytest.raises(httpx.RemoteProtocolError):
        paylera_post(http, payload)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        paylera_post(http, payload)
    # reset runs the vendor first: the session exists, its answer was lost.
    assert len(sandbox.sessions("paylera")) == 1
    assert len(sandbox.received("paylera")) == 2
    assert paylera_post(http, payload).status_code == 201


def test_dropped_connection_is_retried_by_portal(sandbox: Sandbox) -> None:
    sandbox.script("paddle", Fault.drop(), Fault.reset())
    with Portal(sandbox.provider("paddle"), retry=RetryPolicy(backoff_initial=0)) as portal:
        link = portal.create_link(PortalRequest(sandbox.customers("paddle")[0]))
    assert len(sandbox.received("paddle")) == 3
    # Paddle has no idempotency key: the reset attempt had already minted a session.
    assert [s.id for s in sandbox.sessions("paddle")][-1] == link.session_id
    assert len(sandbox.sessions("paddle")) == 2


def test_hang_and_delay(sandbox: Sandbox) -> None:
    payload = {"customer_id": sandbox.customers("paylera")[0]}
    with httpx.Client(base_url=sandbox.url, timeout=0.3) as short:
        sandbox.script("paylera", Fault.hang(), Fault.delay(30))
        with pytest.raises(httpx.ReadTimeout):
            paylera_post(short, payload)
        with pytest.raises(httpx.ReadTimeout):
            paylera_post(short, payload)
        sandbox.reset()  # releases the hanging and the delayed request; they mint nothing
    sandbox.script("paylera", Fault.delay(0.01))
    with httpx.Client(base_url=sandbox.url, timeout=5) as patient:
        assert paylera_post(patient, payload).status_code == 201
    assert len(sandbox.sessions("paylera")) == 1


@pytest.mark.parametrize(
    ("fault", "status", "content_type", "minted"),
    [
        (Fault.malformed(), 201, "application/json", 0),
        (Fault.truncated(), 201, "application/json", 1),
        (Fault.html(), 502, "text/html; charset=utf-8", 0),
        (Fault.html(504), 504, "text/html; charset=utf-8", 0),
        (Fault.empty(), 201, "application/json", 0),
        (Fault.wrong_content_type(), 201, "text/plain; charset=utf-8", 1),
        (Fault.missing_fields(), 201, "application/json", 0),
    ],
    ids=lambda value: value.kind if isinstance(value, Fault) else None,
)
def test_body_faults_on_the_wire(
    sandbox: Sandbox,
    http: httpx.Client,
    fault: Fault,
    status: int,
    content_type: str,
    minted: int,
) -> None:
    sandbox.script("plugipay", fault)
    payload = {"customerId": sandbox.customers("plugipay")[0], "returnUrl": RETURN_URL}
    response = plugipay_post(http, sandbox, payload)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert_security_headers(response)
    assert len(sandbox.sessions("plugipay")) == minted
    if fault.kind == "empty":
        assert response.content == b""
    elif fault.kind == "missing_fields":
        assert set(response.json()["data"]) == {"id"}
    elif fault.kind == "wrong_content_type":
        assert response.json()["data"]["id"] == sandbox.sessions("plugipay")[0].id
    elif fault.kind == "html":
        assert response.text.startswith("<html>")
    else:  # malformed, truncated: not JSON
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|decode"):
            json.loads(response.content)


@pytest.mark.parametrize(
    "fault",
    [
        Fault.malformed(),
        Fault.truncated(),
        Fault.empty(),
        Fault.wrong_content_type(),
        Fault.missing_fields(),
        Fault.oversized(bytes=2_000_000),
        Fault.oversized(bytes=2_000_000, chunked=True),
    ],
    ids=lambda f: f"{f.kind}{'-chunked' if f.chunked else ''}",
)
def test_unreadable_answers_become_invalid_response(sandbox: Sandbox, fault: Fault) -> None:
    sandbox.script("paddle", fault)
    error = create_error(sandbox.provider("paddle"), PortalRequest(sandbox.customers("paddle")[0]))
    assert isinstance(error, InvalidResponse)


def test_oversized_body_is_valid_json_of_the_asked_size(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.script("paddle", Fault.oversized(bytes=300_000, chunked=True))
    response = paddle_post(http, sandbox.customers("paddle")[0])
    assert "content-length" not in response.headers
    assert len(response.content) == 300_000
    assert response.json()["data"]["id"].startswith("cpls_")


def test_html_502_is_retried_then_gives_up(sandbox: Sandbox) -> None:
    sandbox.script("paylera", Fault.html(), Fault.html())
    policy = RetryPolicy(max_attempts=2, backoff_initial=0)
    request = PortalRequest(sandbox.customers("paylera")[0])
    unavailable = create_error(sandbox.provider("paylera"), request, policy)
    assert isinstance(unavailable, ProviderUnavailable)
    assert unavailable.status == 502
    assert len(sandbox.received("paylera")) == 2


def test_faults_over_asgi_transport() -> None:
    sandbox = Sandbox()

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=sandbox.app)
        async with httpx.AsyncClient(transport=transport) as client:
            provider = sandbox.provider("plugipay", base_url="http://127.0.0.1")
            async with AsyncPortal(provider, http_client=client, retry=ONE_TRY) as portal:
                link = await portal.create_link(plugipay_request(sandbox))
                assert link.url.startswith("http://127.0.0.1/plugipay/portal/ps_")
                sandbox.script("plugipay", Fault.drop())
                with pytest.raises(ProviderUnavailable):
                    await portal.create_link(plugipay_request(sandbox))

    import asyncio

    asyncio.run(scenario())


# -- the Python API and the control endpoints --------------------------------------------


def test_seeds_and_customers(sandbox: Sandbox) -> None:
    assert sandbox.customers("plugipay") == [
        "cus_01HZSEED000000000000000001",
        "cus_01HZSEED000000000000000002",
        "cus_01HZSEED000000000000000003",
    ]
    assert sandbox.subscriptions("paddle", "ctm_01hzseed000000000000000002") == [
        "sub_01hzseed000000000000000201"
    ]
    assert sandbox.credentials("paylera") == {"api_key": "sk_sandbox_paylera_portal"}
    patterns = {
        "plugipay": (r"cus_[0-9A-Z]{26}", r"sub_[0-9A-Z]{26}"),
        "paylera": (r"cus_[A-Za-z0-9]+", r"sub_[A-Za-z0-9]+"),
        "paddle": (r"ctm_[a-z\d]{26}", r"sub_[a-z\d]{26}"),
    }
    for vendor, (customer_pattern, sub_pattern) in patterns.items():
        customer = sandbox.add_customer(vendor)
        assert re.fullmatch(customer_pattern, customer)
        sub = sandbox.add_subscription(vendor, customer)
        assert re.fullmatch(sub_pattern, sub)
        assert sandbox.subscriptions(vendor, customer) == [sub]
    assert sandbox.add_customer("paylera", "cus_mine") == "cus_mine"
    with pytest.raises(ValueError, match="not a valid customer id"):
        sandbox.add_customer("paddle", "ctm_UPPER")
    with pytest.raises(KeyError):
        sandbox.add_subscription("paddle", "ctm_" + "9" * 26)
    with pytest.raises(ValueError, match="unknown vendor"):
        sandbox.customers("nosuchvendor")
    sandbox.reset()
    assert "cus_mine" not in sandbox.customers("paylera")


def test_added_customer_can_be_served(sandbox: Sandbox) -> None:
    customer = sandbox.add_customer("paddle")
    sub = sandbox.add_subscription("paddle", customer)
    with Portal(sandbox.provider("paddle")) as portal:
        link = portal.create_link(PortalRequest(customer, subscription_ids=[sub]))
    assert link.deep_link("update_payment_method", sub)


def test_received_log(sandbox: Sandbox) -> None:
    with Portal(sandbox.provider("paddle")) as portal:
        portal.create_link(PortalRequest(sandbox.customers("paddle")[0]))
    (request,) = sandbox.received("paddle")
    assert request.method == "POST"
    assert request.path == f"/customers/{sandbox.customers('paddle')[0]}/portal-sessions"
    assert request.json() == {}
    assert request.headers["authorization"].startswith("Bearer ")
    assert "Bearer" not in repr(request)


def test_describe_lists_url_credentials_and_customers(sandbox: Sandbox) -> None:
    text = sandbox.describe()
    assert sandbox.url in text
    for vendor in sandbox.vendors:
        for value in sandbox.credentials(vendor).values():
            assert value in text
        for customer in sandbox.customers(vendor):
            assert customer in text
    assert "not serving" in Sandbox().describe()


def test_session_repr_hides_the_url(sandbox: Sandbox) -> None:
    with Portal(sandbox.provider("plugipay")) as portal:
        portal.create_link(plugipay_request(sandbox))
    session = sandbox.sessions("plugipay")[0]
    assert session.token not in repr(session)
    assert "#t=" not in repr(session)


def test_control_endpoints(sandbox: Sandbox, http: httpx.Client) -> None:
    overview = http.get("/_sandbox")
    assert overview.status_code == 200
    assert_security_headers(overview)
    vendors = overview.json()["vendors"]
    assert vendors["paddle"]["credentials"]["valid"] == sandbox.credentials("paddle")
    assert list(vendors["plugipay"]["customers"]) == sandbox.customers("plugipay")

    created = http.post("/_sandbox/paylera/customers", json={}).json()["customer_id"]
    assert created in sandbox.customers("paylera")
    sub = http.post(f"/_sandbox/paylera/customers/{created}/subscriptions", json={})
    assert sub.status_code == 201
    assert sandbox.subscriptions("paylera", created) == [sub.json()["subscription_id"]]

    faults = [{"kind": "status", "status": 429, "retry_after": 1}, {"kind": "drop"}]
    assert http.post("/_sandbox/paylera/faults", json={"faults": faults}).json() == {"queued": 2}
    response = paylera_post(http, {"customer_id": created})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert http.delete("/_sandbox/paylera/faults").status_code == 204
    assert paylera_post(http, {"customer_id": created}).status_code == 201

    sessions = http.get("/_sandbox/paylera/sessions").json()["sessions"]
    assert [s["customer_id"] for s in sessions] == [created]
    assert "url" not in sessions[0]
    assert "token" not in sessions[0]
    received = http.get("/_sandbox/paylera/received").json()["received"]
    assert {r["headers"]["authorization"] for r in received} == {"<redacted>"}

    assert http.post("/_sandbox/advance", json={"seconds": 3601}).status_code == 200
    assert http.get(sessions and f"/paylera/p/{sessions[0]['id']}").status_code == 410
    assert http.post("/_sandbox/reset", json={}).status_code == 204
    assert created not in sandbox.customers("paylera")


def test_control_endpoint_errors(sandbox: Sandbox, http: httpx.Client) -> None:
    assert http.get("/_sandbox/nosuchvendor/customers").status_code == 404
    bad = http.post("/_sandbox/paddle/faults", json={"faults": [{"kind": "explode"}]})
    assert bad.status_code == 400
    assert "unknown fault kind" in bad.json()["error"]
    assert http.post("/_sandbox/paddle/customers", json={"customer_id": "x"}).status_code == 400
    missing = http.post("/_sandbox/paddle/customers/ctm_nobody/subscriptions", json={})
    assert missing.status_code == 404
    assert http.post("/_sandbox/advance", json={"seconds": "soon"}).status_code == 400


def test_fault_json_round_trip() -> None:
    faults = [
        Fault.status(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT", body={"a": 1}),
        Fault.delay(0.5),
        Fault.drop(),
        Fault.reset(),
        Fault.malformed(),
        Fault.truncated(),
        Fault.html(503),
        Fault.empty(204),
        Fault.wrong_content_type(),
        Fault.missing_fields(),
        Fault.oversized(bytes=10, chunked=True),
        Fault.hang(),
    ]
    assert [Fault.from_json(f.to_json()) for f in faults] == faults
    with pytest.raises(ValueError, match="status"):
        Fault.status(99)
    with pytest.raises(TypeError):
        Sandbox().script("paddle", "drop")  # type: ignore[arg-type]


# -- serving -------------------------------------------------------------------------------


def test_serve_shuts_down_cleanly() -> None:
    sandbox = Sandbox()
    with pytest.raises(RuntimeError, match="not serving"):
        sandbox.url  # noqa: B018
    before = set(threading.enumerate())
    for _ in range(2):  # a sandbox can serve again after stopping
        with sandbox.serve() as served:
            port = int(served.url.rsplit(":", 1)[1])
            sandbox.script("paylera", Fault.hang())
            outcome: list[object] = []
            caller = threading.Thread(target=post_in_background, args=(served.url, outcome))
            caller.start()
            for _ in range(500):  # until the request is in (a few ms), at most 5 s
                if sandbox.received("paylera"):
                    break
                time.sleep(0.01)
        # Leaving the block released the hanging request and closed the socket.
        caller.join()
        assert isinstance(outcome[0], httpx.RemoteProtocolError)
        assert set(threading.enumerate()) <= before  # the server thread is gone
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        assert not sandbox.serving
        sandbox.reset()


def post_in_background(url: str, outcome: list[object]) -> None:
    with httpx.Client(base_url=url) as client:
        try:
            outcome.append(paylera_post(client, {"customer_id": "x"}))
        except httpx.HTTPError as exc:
            outcome.append(exc)


def test_serve_on_a_taken_port_fails_clearly(served: Sandbox) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    with pytest.raises(OSError, match="in use"), Sandbox().serve(port=port):
        pass


def test_a_twins_objects_are_copied_in_and_out() -> None:
    # A twin's objects (Stripe's portal configurations) are deep-copied on every put and
    # read, so a handler that edits what it read cannot change the stored object.
    from portalkit.sandbox._store import Store

    store = Store([])
    value = {"features": {"invoice_history": {"enabled": True}}, "ids": ["a", 1, None, 2.5]}
    store.put_object("stripe", "configuration", "bpc_1", value)
    value["features"]["invoice_history"]["enabled"] = False
    read = store.get_object("stripe", "configuration", "bpc_1")
    assert read == {"features": {"invoice_history": {"enabled": True}}, "ids": ["a", 1, None, 2.5]}
    read["ids"].append("b")
    ((object_id, listed),) = store.objects("stripe", "configuration")
    assert object_id == "bpc_1"
    assert listed["ids"] == ["a", 1, None, 2.5]
    listed["features"].clear()
    assert store.get_object("stripe", "configuration", "bpc_1") == read | {
        "ids": ["a", 1, None, 2.5]
    }
