"""Parity with Chargebee's official Python package (``chargebee`` 3.x).

A client nobody here wrote is the referee: for the same inputs, portalkit must put the same
method, URL, form fields (parsed) and credentials on the wire as the SDK's
``Chargebee(...).PortalSession.create(...)`` and ``.logout(id)``, and read the documented
answer into the same session id, access URL, customer, times and status.

The SDK sends through httpx: ``chargebee.http_request`` opens an ``httpx.Client`` (or
``AsyncClient``) per request. The test swaps that module's ``httpx`` name for one whose
clients run over an ``httpx.MockTransport`` that records each request and answers from
memory, so everything the SDK does before the transport (serializing ``customer[id]``,
form encoding, Basic auth, headers, the URL from the site) runs as shipped; no network.
"""

from __future__ import annotations

import asyncio
import types
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import chargebee
import chargebee.http_request
import httpx
import pytest
from _mock import Script, both_modes, mint, reply
from _mock import end_session as end
from test_chargebee_adapter import DOC_CUSTOMER, DOC_RESPONSE, DOC_SESSION_ID, LOGGED_OUT

from portalkit import Flow, PortalRequest, RetryPolicy, errors
from portalkit.providers.chargebee import Chargebee

SITE = "acme-test"
API_KEY = "test_cbParityKey9"
KEY = "0b6c1d2e-parity-key"
REDIRECT = "https://app.example.com/account/billing?tab=plan&next=%2Fhome"
ONCE = RetryPolicy(max_attempts=1)


class Recorder:
    """Stands in for ``httpx`` inside ``chargebee.http_request``: its clients record each
    request and answer with ``status``/``body``."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.sent: list[httpx.Request] = []
        self.module = types.SimpleNamespace(
            Client=self._client,
            AsyncClient=self._async_client,
            Timeout=httpx.Timeout,
            Response=httpx.Response,
        )

    def _answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.sent.append(request)
        return httpx.Response(self.status, json=self.body)

    def _client(self, **options: Any) -> httpx.Client:
        options.pop("verify", None)  # the SDK's pinned CA bundle: no TLS happens here
        return httpx.Client(transport=httpx.MockTransport(self._answer), **options)

    def _async_client(self, **options: Any) -> httpx.AsyncClient:
        options.pop("verify", None)
        return httpx.AsyncClient(transport=httpx.MockTransport(self._answer), **options)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(status: int, body: Any) -> Recorder:
        recording = Recorder(status, body)
        monkeypatch.setattr(chargebee.http_request, "httpx", recording.module)
        return recording

    return install


def sdk(mode: str) -> Any:
    return chargebee.Chargebee(api_key=API_KEY, site=SITE, use_async_client=mode == "async")


def run(mode: str, result: Any) -> Any:
    return asyncio.run(result) if mode == "async" else result


def fields(content: bytes) -> list[tuple[str, str]]:
    return sorted(parse_qsl(content.decode("ascii"), keep_blank_values=True))


CASES = [
    pytest.param({}, {}, id="customer-only"),
    pytest.param({"redirect_url": REDIRECT}, {"return_url": REDIRECT}, id="redirect"),
    pytest.param(
        {
            "redirect_url": REDIRECT,
            "forward_url": (
                "https://acme-test.chargebeeportal.com/portal/permalink/subscriptions/"
                "HvDPsACPqEnmg7TA/edit"
            ),
        },
        {"return_url": REDIRECT, "flow": Flow("update_subscription", "HvDPsACPqEnmg7TA")},
        id="redirect-and-forward",
    ),
]


@both_modes
@pytest.mark.parametrize(("sdk_params", "request_fields"), CASES)
def test_create_sends_what_the_sdk_sends(
    mode: str, recorder: Any, sdk_params: dict[str, str], request_fields: dict[str, Any]
) -> None:
    recording = recorder(200, DOC_RESPONSE)
    params = {"customer": {"id": DOC_CUSTOMER}, **sdk_params}
    run(mode, sdk(mode).PortalSession.create(params, {"chargebee-idempotency-key": KEY}))
    [theirs] = recording.sent

    script = Script(reply(200, DOC_RESPONSE))
    request = PortalRequest(DOC_CUSTOMER, idempotency_key=KEY, **request_fields)
    mint(mode, Chargebee(site=SITE, api_key=API_KEY), script, request)
    ours = script.only

    assert ours.method == theirs.method == "POST"
    assert (
        str(ours.url) == str(theirs.url) == f"https://{SITE}.chargebee.com/api/v2/portal_sessions"
    )
    assert fields(ours.content) == fields(theirs.content)
    assert ("customer[id]", DOC_CUSTOMER) in fields(ours.content)
    for header in ("Authorization", "Content-Type", "Accept", "chargebee-idempotency-key"):
        assert ours.headers[header] == theirs.headers[header], header
    # The SDK also reveals the host's platform; portalkit does not.
    assert "OS-Version" in theirs.headers
    assert "OS-Version" not in ours.headers


@both_modes
def test_logout_sends_what_the_sdk_sends(mode: str, recorder: Any) -> None:
    recording = recorder(200, LOGGED_OUT)
    answer = run(mode, sdk(mode).PortalSession.logout(DOC_SESSION_ID))
    [theirs] = recording.sent
    assert answer.portal_session.status == "logged_out"

    link = mint(
        mode,
        Chargebee(site=SITE, api_key=API_KEY),
        Script(reply(200, DOC_RESPONSE)),
        PortalRequest(DOC_CUSTOMER),
    )
    script = Script(reply(200, LOGGED_OUT))
    end(mode, Chargebee(site=SITE, api_key=API_KEY), script, link)
    ours = script.only

    assert ours.method == theirs.method == "POST"
    assert str(ours.url) == str(theirs.url)
    assert ours.url.path == f"/api/v2/portal_sessions/{DOC_SESSION_ID}/logout"
    assert fields(ours.content) == fields(theirs.content) == []
    assert ours.headers["Authorization"] == theirs.headers["Authorization"]
    # Without retries configured the SDK sends no key on logout, and neither does portalkit.
    assert "chargebee-idempotency-key" not in theirs.headers
    assert "chargebee-idempotency-key" not in ours.headers


@both_modes
def test_both_read_the_documented_answer_alike(mode: str, recorder: Any) -> None:
    recorder(200, DOC_RESPONSE)
    result = run(mode, sdk(mode).PortalSession.create({"customer": {"id": DOC_CUSTOMER}}))
    theirs = result.portal_session

    link = mint(
        mode,
        Chargebee(site=SITE, api_key=API_KEY),
        Script(reply(200, DOC_RESPONSE)),
        PortalRequest(DOC_CUSTOMER),
    )

    assert link.session_id == theirs.id
    assert link.url == theirs.access_url
    assert link.customer_id == theirs.customer_id
    assert link.status == theirs.status == "created"
    assert link.created_at == datetime.fromtimestamp(theirs.created_at, UTC)
    assert link.expires_at == datetime.fromtimestamp(theirs.expires_at, UTC)
    assert link.return_url == theirs.redirect_url


@both_modes
@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            {
                "message": "customer[id] : invalid value",
                "type": "invalid_request",
                "api_error_code": "param_wrong_value",
                "param": "customer[id]",
                "error_code": "param_wrong_value",
                "http_status_code": 400,
            },
            errors.InvalidRequest,
        ),
        (
            {
                "message": "Sorry, we couldn't find that resource",
                "type": "invalid_request",
                "api_error_code": "resource_not_found",
                "error_code": "resource_not_found",
                "http_status_code": 404,
            },
            errors.CustomerNotFound,
        ),
    ],
)
def test_both_read_an_error_alike(
    mode: str, recorder: Any, body: dict[str, Any], error: type[errors.PortalError]
) -> None:
    status = body["http_status_code"]
    recorder(status, body)
    with pytest.raises(chargebee.InvalidRequestError) as sdk_error:
        run(mode, sdk(mode).PortalSession.create({"customer": {"id": DOC_CUSTOMER}}))

    with pytest.raises(error) as ours:
        mint(
            mode,
            Chargebee(site=SITE, api_key=API_KEY),
            Script(reply(status, body)),
            PortalRequest(DOC_CUSTOMER),
            retry=ONCE,
        )

    assert ours.value.code == sdk_error.value.api_error_code
    assert ours.value.status == sdk_error.value.http_status_code
    assert ours.value.vendor_message == str(sdk_error.value)
    if sdk_error.value.param is not None:
        assert isinstance(ours.value, errors.InvalidRequest)
        assert ours.value.field == "customer_id"  # Chargebee's customer[id], by portalkit's name
