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
from test_chargebee import DOC_CUSTOMER, DOC_RESPONSE, DOC_SESSION_ID, LOGGED_OUT

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


# -- the SDK against the sandbox twin ---------------------------------------------------------
#
# The SDK's only endpoint setting is ``Chargebee(..., chargebee_domain=, protocol=)``: its URL
# is always ``{protocol}://{site}.{chargebee_domain}/api/v2`` (chargebee/environment.py), so
# the site is a host label and no path prefix can be set. Pointing it at the sandbox takes
# two things this test supplies, and nothing else of the SDK is touched:
#
# - a host name ``acme-test.localhost`` that reaches 127.0.0.1. RFC 6761 reserves
#   ``*.localhost`` for loopback and browsers resolve it so, but this machine's resolver
#   (glibc, /etc/hosts) knows only ``localhost``: the SDK's httpx clients get a transport that
#   connects ``*.localhost`` to 127.0.0.1, as a hosts-file line would, keeping the ``Host``
#   header (the twin reads the site from it);
# - plain http: ``protocol="http"`` sets ``verify_ca_certs = False`` on the *instance*, while
#   ``chargebee.http_request`` reads the *class* attribute, so the SDK (3.29) still speaks
#   https unless ``Chargebee.verify_ca_certs`` is cleared on the class (an SDK bug).


def _to_loopback(request: httpx.Request) -> None:
    if request.url.host.endswith(".localhost"):
        request.url = request.url.copy_with(host="127.0.0.1")


class _LoopbackTransport(httpx.HTTPTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _to_loopback(request)
        return super().handle_request(request)


class _AsyncLoopbackTransport(httpx.AsyncHTTPTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _to_loopback(request)
        return await super().handle_async_request(request)


@pytest.fixture(scope="module")
def served() -> Any:
    from portalkit.sandbox import Sandbox

    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def twin_sdk(served: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``make(mode, key=...)``: the official SDK aimed at the sandbox through its own
    ``chargebee_domain``/``protocol`` settings."""
    served.reset()
    monkeypatch.setattr(chargebee.Chargebee, "verify_ca_certs", False)
    module = types.SimpleNamespace(
        Client=lambda **options: httpx.Client(transport=_LoopbackTransport(), **options),
        AsyncClient=lambda **options: httpx.AsyncClient(
            transport=_AsyncLoopbackTransport(), **options
        ),
        Timeout=httpx.Timeout,
        Response=httpx.Response,
    )
    monkeypatch.setattr(chargebee.http_request, "httpx", module)
    port = httpx.URL(served.url).port

    def make(mode: str, key: str = "valid") -> Any:
        return chargebee.Chargebee(
            api_key=served.credentials("chargebee", key)["api_key"],
            site="acme-test",
            chargebee_domain=f"localhost:{port}",
            protocol="http",
            use_async_client=mode == "async",
        )

    return make


def _open(url: str) -> int:
    with httpx.Client(transport=_LoopbackTransport()) as client:
        return client.get(url).status_code


@both_modes
def test_the_sdk_creates_replays_retrieves_and_logs_out_against_the_twin(
    mode: str, served: Any, twin_sdk: Any
) -> None:
    client = twin_sdk(mode)
    customer = served.customers("chargebee")[0]
    subscription = served.subscriptions("chargebee", customer)[0]
    params = {
        "customer": {"id": customer},
        "redirect_url": REDIRECT,
        "forward_url": "https://acme-test.chargebeeportal.com/portal/permalink/subscriptions/"
        f"{subscription}/edit",
    }
    headers = {"chargebee-idempotency-key": KEY}
    created = run(mode, client.PortalSession.create(params, headers))
    session = created.portal_session
    assert created.is_idempotency_replayed is False
    assert session.id.startswith("portal_")
    assert session.status == "created"
    assert session.customer_id == customer
    assert session.redirect_url == REDIRECT
    assert session.expires_at - session.created_at == 3600
    # Built from the address the sandbox is bound to, never the request's Host header
    # (the hardening rule: a Host header must not choose where links point).
    assert session.access_url.startswith(f"{served.url}/chargebee/acme-test/portal/access/")
    assert session.linked_customers[0].customer_id == customer

    replayed = run(mode, client.PortalSession.create(params, headers))
    assert replayed.is_idempotency_replayed is True
    assert replayed.portal_session.id == session.id
    [received] = [r for r in served.received("chargebee") if r.method == "POST"][:1]
    assert received.path == "/api/v2/portal_sessions"  # the SDK's own URL, site in the host

    read = run(mode, client.PortalSession.retrieve(session.id))
    assert read.portal_session.status == "created"
    ended = run(mode, client.PortalSession.logout(session.id))
    assert ended.portal_session.status == "logged_out"
    assert ended.portal_session.logout_at is not None
    assert run(mode, client.PortalSession.retrieve(session.id)).portal_session.status == (
        "logged_out"
    )
    assert _open(session.access_url) == 410  # never used, and still gone


@both_modes
def test_the_sdk_and_portalkit_share_the_twins_sessions(
    mode: str, served: Any, twin_sdk: Any
) -> None:
    """portalkit mints; the SDK reads that session alike and ends it; the link is gone."""
    from portalkit import Portal

    with Portal(served.provider("chargebee")) as portal:
        link = portal.create_link(PortalRequest(served.customers("chargebee")[0]))
    theirs = run(mode, twin_sdk(mode).PortalSession.retrieve(link.session_id)).portal_session
    assert theirs.id == link.session_id
    assert theirs.access_url == link.url
    assert theirs.customer_id == link.customer_id
    assert datetime.fromtimestamp(theirs.expires_at, UTC) == link.expires_at
    run(mode, twin_sdk(mode).PortalSession.logout(link.session_id))
    assert httpx.get(link.url).status_code == 410


@both_modes
def test_the_sdk_reads_the_twins_errors(mode: str, served: Any, twin_sdk: Any) -> None:
    with pytest.raises(chargebee.APIError) as wrong:
        run(mode, twin_sdk(mode, "wrong").PortalSession.create({"customer": {"id": "x"}}))
    assert (wrong.value.http_status_code, wrong.value.api_error_code) == (
        401,
        "api_authentication_failed",
    )
    with pytest.raises(chargebee.APIError) as no_scope:
        run(mode, twin_sdk(mode, "no_scope").PortalSession.create({"customer": {"id": "x"}}))
    assert no_scope.value.api_error_code == "api_authorization_failed"
    with pytest.raises(chargebee.InvalidRequestError) as unknown:
        run(mode, twin_sdk(mode).PortalSession.create({"customer": {"id": "__test__nobody"}}))
    assert (unknown.value.http_status_code, unknown.value.api_error_code) == (
        404,
        "resource_not_found",
    )
    with pytest.raises(chargebee.InvalidRequestError) as too_long:
        run(mode, twin_sdk(mode).PortalSession.create({"customer": {"id": "x" * 51}}))
    assert too_long.value.param == "customer[id]"
    assert too_long.value.api_error_code == "param_wrong_value"
