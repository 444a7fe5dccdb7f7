"""Chargebee through Portal: cassette scenarios replayed from cassettes/chargebee/, and the
sandbox twin (providers/chargebee_sandbox.py) on the wire.

The cassettes were recorded against portalkit.sandbox over loopback HTTP (or against a
Chargebee test site, with its credentials set): docs/cassettes.md. In replay there is no
server and sockets are blocked. The twin tests start the sandbox on 127.0.0.1.

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

import pytest
from _cassettes import (
    FAST_RETRY,
    Ids,
    Recording,
    Scrubber,
    assert_cassette_played,
    find_secrets,
    header,
    recorded_requests,
    recorded_responses,
)
from _mock import Script, both_modes, mint, record_sleeps, reply
from _mock import end_session as end

from bench._vendor import SdkTarget, VendorBench
from portalkit import (
    Action,
    AsyncPortal,
    DeepLink,
    Feature,
    Flow,
    Portal,
    PortalLink,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit.providers.chargebee import Chargebee
from portalkit.sandbox import Fault, Sandbox

VENDOR = "chargebee"
#: The ids the cassettes hold (a live recording maps the real ones onto them).
CASSETTE_IDS = Ids(
    customer="__test__cbCassette01",
    subscriptions=("__test__cbCassetteSub01",),
    unknown_customer="__test__cbUnknown0001",
)
RETURN_URL = "https://yourapp.example/account/billing"
API = "/chargebee/acme-test/api/v2/portal_sessions"
F = TypeVar("F", bound=Callable[..., Any])


def cassette(test: F) -> F:
    """A cassette scenario: replayed with the network blocked (recorded with PORTALKIT_RECORD)."""
    marked: F = pytest.mark.vcr(pytest.mark.block_network(test))
    return marked


def form(body: Any) -> dict[str, str]:
    text = body.decode() if isinstance(body, bytes) else str(body)
    return dict(parse_qsl(text, keep_blank_values=True))


# -- cassette scenarios ------------------------------------------------------------------------


@cassette
def test_mints_a_link_with_only_the_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "chargebee"
    assert link.session_id.startswith("portal_")
    assert link.customer_id == recording.ids.customer
    assert "/portal/access/" in link.url  # the path is the bearer token
    assert link.status == "created"
    assert link.created_at is not None
    assert link.expires_at is not None
    assert link.expires_at - link.created_at == timedelta(hours=1)
    assert link.ignored_fields == ()
    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == API
    assert form(request.body) == {"customer[id]": recording.recorded_ids.customer}
    assert header(request, "chargebee-idempotency-key")
    assert header(request, "Authorization") == "Basic scrubbed"
    assert header(request, "Content-Type") == "application/x-www-form-urlencoded"
    assert_cassette_played(vcr, 1)


@cassette
def test_mints_a_deep_link_to_the_edit_subscription_page(recording: Recording, vcr: Any) -> None:
    subscription = recording.ids.subscriptions[0]
    request = PortalRequest(
        recording.ids.customer,
        return_url=RETURN_URL,
        flow=Flow("update_subscription", subscription),
    )
    with Portal(recording.provider()) as portal:
        link = portal.create_link(request)

    assert link.return_url == RETURN_URL
    assert link.ignored_fields == ()
    assert link.deep_link(Action.UPDATE_SUBSCRIPTION, subscription) == link.url
    (sent,) = recorded_requests(vcr)
    assert form(sent.body) == {
        "customer[id]": recording.recorded_ids.customer,
        "redirect_url": RETURN_URL,
        "forward_url": "https://acme-test.chargebeeportal.com/portal/permalink/subscriptions/"
        f"{recording.recorded_ids.subscriptions[0]}/edit",
    }
    assert_cassette_played(vcr, 1)


@cassette
async def test_async_portal_mints_and_ends_a_session(recording: Recording, vcr: Any) -> None:
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(PortalRequest(recording.ids.customer))
        await portal.end_session(link)

    _, logout = recorded_requests(vcr)
    assert logout.method == "POST"
    assert logout.path == f"{API}/{recording.as_recorded(link.session_id)}/logout"
    assert not logout.body
    assert header(logout, "chargebee-idempotency-key") is None
    _, answer = recorded_responses(vcr)
    assert '"status":"logged_out"' in answer["body"]["string"].decode()
    assert_cassette_played(vcr, 2)


@cassette
def test_same_idempotency_key_and_body_returns_the_same_session(
    recording: Recording, vcr: Any
) -> None:
    request = PortalRequest(recording.ids.customer, idempotency_key="portalkit-cassette-same-1")
    with Portal(recording.provider()) as portal:
        first = portal.create_link(request)
        second = portal.create_link(request)

    assert second.session_id == first.session_id
    _, replayed = recorded_responses(vcr)
    assert header(replayed["headers"], "chargebee-idempotency-replayed") == "true"
    assert_cassette_played(vcr, 2)


@cassette
def test_409_for_an_idempotency_key_reused_with_another_body(
    recording: Recording, vcr: Any
) -> None:
    key = "portalkit-cassette-conflict-1"
    with Portal(recording.provider()) as portal:
        portal.create_link(PortalRequest(recording.ids.customer, idempotency_key=key))
        with pytest.raises(errors.IdempotencyConflict) as caught:
            portal.create_link(
                PortalRequest(recording.ids.customer, return_url=RETURN_URL, idempotency_key=key)
            )

    assert caught.value.status == 409
    assert_cassette_played(vcr, 2)


@cassette
def test_401_for_a_wrong_key(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 401
    assert caught.value.code == "api_authentication_failed"
    assert_cassette_played(vcr, 1)


@cassette
@pytest.mark.live_needs("CHARGEBEE_NO_SCOPE_API_KEY")
def test_403_for_a_key_without_the_portal_permission(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert caught.value.code == "api_authorization_failed"
    assert_cassette_played(vcr, 1)


@cassette
def test_404_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 404
    assert caught.value.code == "resource_not_found"
    assert_cassette_played(vcr, 1)


@cassette
@pytest.mark.sandbox_only
@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, 1), (429, "date"), (503, None)],
    ids=["429-seconds", "429-http-date", "503"],
)
def test_retry_then_200_reuses_the_idempotency_key(
    recording: Recording, vcr: Any, status: int, retry_after: Any
) -> None:
    if retry_after == "date":  # an HTTP-date one second ahead (in the past once replayed)
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)
    recording.script(Fault.status(status, retry_after=retry_after))
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(PortalRequest(recording.ids.customer))

    keys = [attempt.headers["chargebee-idempotency-key"] for attempt in sent]
    assert keys == [link.idempotency_key] * 2
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (status, 200)
    assert_cassette_played(vcr, 2)


# -- the twin on the wire ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Sandbox:
    served.reset()
    return served


def basic(key: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{key}:{password}".encode()).decode()


def post(
    sandbox: Sandbox,
    path: str = API,
    fields: dict[str, str] | None = None,
    *,
    key: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    key = key if key is not None else sandbox.credentials(VENDOR)["api_key"]
    return httpx.post(
        sandbox.url + path,
        content=urlencode(fields or {}).encode(),
        headers={
            "Authorization": basic(key),
            "Content-Type": "application/x-www-form-urlencoded",
            **(headers or {}),
        },
    )


def customer(sandbox: Sandbox) -> str:
    return sandbox.customers(VENDOR)[0]


def test_the_adapter_points_at_the_site_in_the_path(sandbox: Sandbox) -> None:
    provider = sandbox.provider(VENDOR)
    assert isinstance(provider, Chargebee)
    assert provider.site == "acme-test"
    assert provider.base_url == f"{sandbox.url}/chargebee/acme-test"
    made = Chargebee(
        site="acme-test",
        api_key="test_portalkitSandboxFullAccess01",
        base_url=f"{sandbox.url}/chargebee/acme-test",
    )
    with Portal(made) as portal:
        assert portal.create_link(PortalRequest(customer(sandbox))).status == "created"


def test_success_shape(sandbox: Sandbox) -> None:
    answer = post(sandbox, fields={"customer[id]": customer(sandbox), "redirect_url": RETURN_URL})
    assert answer.status_code == 200
    session = answer.json()["portal_session"]
    assert set(session) >= {
        "id", "token", "access_url", "redirect_url", "status", "created_at", "expires_at",
        "customer_id", "linked_customers", "object",
    }  # fmt: skip
    assert session["object"] == "portal_session"
    assert session["status"] == "created"
    assert session["expires_at"] - session["created_at"] == 3600
    assert session["access_url"] == (
        f"{sandbox.url}/chargebee/acme-test/portal/access/{session['token']}"
    )
    assert session["linked_customers"][0]["customer_id"] == customer(sandbox)
    assert answer.headers.get("chargebee-idempotency-replayed") is None


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (None, 401, "api_authentication_failed"),
        ("Bearer test_portalkitSandboxFullAccess01", 401, "api_authentication_failed"),
        (basic("test_portalkitSandboxWrongKey0001"), 401, "api_authentication_failed"),
        (basic("test_portalkitSandboxFullAccess01", "pw"), 401, "api_authentication_failed"),
        ("Basic !!!", 401, "api_authentication_failed"),
        (basic("test_portalkitSandboxReadOnly0001"), 403, "api_authorization_failed"),
    ],
    ids=["none", "bearer", "wrong-key", "password", "malformed", "no-scope"],
)
def test_auth(sandbox: Sandbox, authorization: str | None, status: int, code: str) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = httpx.post(
        sandbox.url + API, content=f"customer[id]={customer(sandbox)}", headers=headers
    )
    assert answer.status_code == status
    body = answer.json()
    assert body["api_error_code"] == body["error_code"] == code
    assert body["http_status_code"] == status
    assert body["message"] == body["error_msg"]


def test_an_unknown_site(sandbox: Sandbox) -> None:
    answer = post(sandbox, "/chargebee/other-site/api/v2/portal_sessions",
                  {"customer[id]": customer(sandbox)})  # fmt: skip
    assert (answer.status_code, answer.json()["api_error_code"]) == (404, "site_not_found")


@pytest.mark.parametrize(
    ("fields", "status", "code", "param"),
    [
        ({}, 400, "param_wrong_value", "customer[id]"),
        ({"customer[id]": "x" * 51}, 400, "param_wrong_value", "customer[id]"),
        ({"customer[id]": "__test__nobody"}, 404, "resource_not_found", None),
        ({"redirect_url": "https://a.example/" + "x" * 240}, 400, "param_wrong_value",
         "redirect_url"),
        ({"redirect_url": "not a url"}, 400, "param_wrong_value", "redirect_url"),
        ({"forward_url": "https://a.example/" + "x" * 240}, 400, "param_wrong_value",
         "forward_url"),
        ({"embed": "true"}, 400, "invalid_request", "embed"),
    ],
    ids=["no-customer", "long-customer", "unknown-customer", "long-redirect", "bad-redirect",
         "long-forward", "unknown-param"],
)  # fmt: skip
def test_validation(
    sandbox: Sandbox, fields: dict[str, str], status: int, code: str, param: str | None
) -> None:
    if "customer[id]" not in fields and fields:
        fields = {"customer[id]": customer(sandbox), **fields}
    answer = post(sandbox, fields=fields)
    assert answer.status_code == status
    body = answer.json()
    assert body["api_error_code"] == code
    assert body.get("param") == param
    assert body["type"] == "invalid_request"


def test_the_adapter_reads_the_twins_404_with_the_request_id(sandbox: Sandbox) -> None:
    with (
        Portal(sandbox.provider(VENDOR)) as portal,
        pytest.raises(errors.CustomerNotFound) as caught,
    ):
        portal.create_link(PortalRequest("__test__nobody"))
    assert caught.value.code == "resource_not_found"
    assert caught.value.request_id  # the sandbox's X-Request-Id


def test_idempotency_key_replay_conflict_and_limit(sandbox: Sandbox) -> None:
    fields = {"customer[id]": customer(sandbox)}
    key = {"chargebee-idempotency-key": "k-1"}
    first = post(sandbox, fields=fields, headers=key)
    again = post(sandbox, fields=fields, headers=key)
    assert again.json() == first.json()
    assert again.headers["chargebee-idempotency-replayed"] == "true"
    assert "idempotent-replayed" not in again.headers
    other = post(sandbox, fields={**fields, "redirect_url": RETURN_URL}, headers=key)
    assert other.status_code == 409
    assert other.json()["api_error_code"] == "idempotency_key_reused"
    long_key = post(sandbox, fields=fields, headers={"chargebee-idempotency-key": "k" * 101})
    assert long_key.status_code == 400
    assert len(sandbox.sessions(VENDOR)) == 1


def test_the_access_url_opens_once_and_expires_after_an_hour(sandbox: Sandbox) -> None:
    url = post(sandbox, fields={"customer[id]": customer(sandbox)}).json()["portal_session"][
        "access_url"
    ]
    assert httpx.head(url).status_code == 200  # a probe does not use it up
    first = httpx.get(url)
    assert first.status_code == 200
    assert 'id="customer-id"' in first.text
    assert "portalkit_sandbox_portal" in first.headers["set-cookie"]
    assert httpx.get(url).status_code == 410
    late = post(sandbox, fields={"customer[id]": customer(sandbox)}).json()["portal_session"]
    sandbox.advance(3600)
    assert httpx.get(late["access_url"]).status_code == 410
    assert httpx.get(url.rsplit("/", 1)[0] + "/nosuchtoken").status_code == 404


def test_forward_url_preopens_the_edit_subscription_page(sandbox: Sandbox) -> None:
    cid = customer(sandbox)
    subscription = sandbox.subscriptions(VENDOR, cid)[1]
    other = sandbox.subscriptions(VENDOR, sandbox.customers(VENDOR)[1])[0]
    permalink = "https://acme-test.chargebeeportal.com/portal/permalink/subscriptions/{}/edit"

    def page(forward_url: str) -> str:
        fields = {"customer[id]": cid, "forward_url": forward_url}
        session = post(sandbox, fields=fields).json()["portal_session"]
        return httpx.get(session["access_url"]).text

    assert f'data-subscription-id="{subscription}"' in page(permalink.format(subscription))
    assert 'data-action="update_subscription"' in page(permalink.format(subscription))
    # Another customer's subscription, or another page: the portal's home page.
    assert 'id="preopened-action"' not in page(permalink.format(other))
    assert 'id="preopened-action"' not in page("https://acme-test.chargebeeportal.com/portal")


def test_logout_ends_the_link_even_unused_and_retrieve_reports_it(sandbox: Sandbox) -> None:
    session = post(sandbox, fields={"customer[id]": customer(sandbox)}).json()["portal_session"]
    path = f"{API}/{session['id']}"
    key = sandbox.credentials(VENDOR)["api_key"]
    read = httpx.get(sandbox.url + path, headers={"Authorization": basic(key)})
    assert read.json()["portal_session"]["status"] == "created"
    ended = post(sandbox, f"{path}/logout")
    assert ended.status_code == 200
    body = ended.json()["portal_session"]
    assert body["status"] == "logged_out"
    assert isinstance(body["logout_at"], int)
    assert httpx.get(session["access_url"]).status_code == 410
    read = httpx.get(sandbox.url + path, headers={"Authorization": basic(key)})
    assert read.json()["portal_session"]["status"] == "logged_out"
    assert (
        post(sandbox, f"{path}/logout").json()["portal_session"]["logout_at"] == body["logout_at"]
    )
    missing = post(sandbox, f"{API}/portal___test__nosuchsession/logout")
    assert (missing.status_code, missing.json()["api_error_code"]) == (404, "resource_not_found")
    refused = post(sandbox, f"{path}/logout", key="test_portalkitSandboxWrongKey0001")
    assert refused.status_code == 401


def test_retrieve_reports_a_used_link_as_logged_in(sandbox: Sandbox) -> None:
    session = post(sandbox, fields={"customer[id]": customer(sandbox)}).json()["portal_session"]
    httpx.get(session["access_url"])
    key = sandbox.credentials(VENDOR)["api_key"]
    read = httpx.get(f"{sandbox.url}{API}/{session['id']}", headers={"Authorization": basic(key)})
    assert read.json()["portal_session"]["status"] == "logged_in"


def test_end_session_through_portal(sandbox: Sandbox) -> None:
    with Portal(sandbox.provider(VENDOR)) as portal:
        link = portal.create_link(PortalRequest(customer(sandbox)))
        portal.end_session(link)
        assert httpx.get(link.url).status_code == 410
        with (
            pytest.raises(errors.AuthenticationFailed),
            Portal(sandbox.provider(VENDOR, "wrong")) as wrong,
        ):
            wrong.end_session(link)


def test_the_site_can_come_from_the_host_header(sandbox: Sandbox) -> None:
    key = sandbox.credentials(VENDOR)["api_key"]
    for host, status in (("acme-test.localhost", 200), ("other.localhost", 404)):
        answer = httpx.post(
            sandbox.url + "/api/v2/portal_sessions",
            content=f"customer[id]={customer(sandbox)}".encode(),
            headers={"Authorization": basic(key), "Host": host,
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        assert answer.status_code == status, host


def test_the_cassette_scan_catches_an_access_url_token() -> None:
    """The dirty sample: a Chargebee access URL left in a cassette is flagged; scrubbed, not."""
    token = "__test__cdBbQgJg5fPSTw9qBPDIaQiVEEx0Gsrrc"
    dirty = f'"access_url": "http://127.0.0.1:9/chargebee/acme-test/portal/access/{token}"'
    assert any("portal URL token" in problem for problem in find_secrets(dirty))
    scrubbed = Scrubber().text(dirty)
    assert token not in scrubbed
    assert find_secrets(scrubbed) == []


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Chargebee adapter, through Portal and AsyncPortal over httpx.MockTransport.
#
# The contract is shared/provider-docs/chargebee.md and Chargebee's API reference (Portal
# sessions): POST https://{site}.chargebee.com/api/v2/portal_sessions, HTTP Basic with the key
# as user name, form-encoded customer[id] / redirect_url / forward_url, the
# chargebee-idempotency-key header, and POST .../portal_sessions/{id}/logout to end a session.

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


def sent_form(content: bytes) -> dict[str, str]:
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
    assert sent_form(sent.content) == {
        "customer[id]": DOC_CUSTOMER,
        "redirect_url": DOC_REDIRECT_URL,
    }
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
    assert sent_form(script.only.content) == {"customer[id]": DOC_CUSTOMER}


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

    assert sent_form(script.only.content) == {
        "customer[id]": DOC_CUSTOMER,
        "redirect_url": DOC_REDIRECT_URL,
        "forward_url": (
            "https://acme-test.chargebeeportal.com/portal/permalink/subscriptions/"
            "HvDPsACPqEnmg7TA/edit"
        ),
    }
    assert link.ignored_fields == ()
    # The page the flow opens is the link's deep link, as a Stripe flow's is.
    assert link.deep_links == (DeepLink(Action.UPDATE_SUBSCRIPTION, "HvDPsACPqEnmg7TA", link.url),)
    assert link.deep_link("update_subscription", "HvDPsACPqEnmg7TA") == link.url


@both_modes
def test_forward_url_follows_a_custom_portal_domain(mode: str) -> None:
    script = created()
    adapter = chargebee(portal_url="https://billing.acme.example/")
    mint(mode, adapter, script, request(flow=Flow("update_subscription", "sub_1")))
    assert sent_form(script.only.content)["forward_url"] == (
        "https://billing.acme.example/portal/permalink/subscriptions/sub_1/edit"
    )


@both_modes
def test_overview_flow_opens_the_portal_home(mode: str) -> None:
    script = created()
    link = mint(mode, chargebee(), script, request(flow=Flow("overview")))
    assert "forward_url" not in sent_form(script.only.content)
    assert link.ignored_fields == ()
    assert link.deep_links == ()  # the access URL's own page: no deep link of a flow


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
    assert "forward_url" not in sent_form(script.only.content)
    assert link.ignored_fields == ("flow",)
    assert link.deep_links == ()  # a dropped flow opens no page: no deep link for it
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
    assert sent_form(script.only.content) == {
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
    ("body", "expected"),
    [
        # Chargebee's envelope with malformed fields: still its verdict, read leniently.
        pytest.param(
            b'{"message": 5, "api_error_code": ["x"], "http_status_code": "400"}',
            errors.InvalidRequest,
            id="odd",
        ),
        # Not Chargebee's envelope at all: no verdict of Chargebee's (issue 24).
        pytest.param(b"<html>502 Bad Gateway</html>", errors.UnexpectedEndpoint, id="html"),
        pytest.param(b"[]", errors.UnexpectedEndpoint, id="array"),
        pytest.param(b'{"message": "Not Found"}', errors.UnexpectedEndpoint, id="gateway"),
    ],
)
def test_malformed_error_bodies_fall_back_to_the_status(
    mode: str, body: bytes, expected: type[errors.PortalError]
) -> None:
    script = Script(reply(400, content=body, headers={"Content-Type": "application/json"}))
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, chargebee(), script, request(), retry=ONCE)
    assert type(caught.value) is expected
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


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Chargebee: its documented ``portal_session`` (API reference: Create a portal session), sent
# as a form with HTTP Basic auth; the official ``chargebee`` package (v3, on httpx) minting the
# same session. The SDK is pointed at the server through its own environment's
# ``api_endpoint``, the attribute its requests are built from, and told to speak plain http
# with ``protocol="http"``; chargebee 3.x's ``update_protocol`` sets ``verify_ca_certs`` on the
# instance while ``http_request`` reads it from the class, so the class attribute is cleared
# too (in the bench process only: it only picks the URL scheme). The answer is the adapter
# tests' DOC_RESPONSE above.


def bench_sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    import chargebee

    client = chargebee.Chargebee(
        api_key=target.credentials["api_key"], site=target.credentials["site"], protocol="http"
    )
    chargebee.Chargebee.verify_ca_certs = False
    client.env.api_endpoint = target.base_url + "/api/v2"
    params = {"customer": {"id": target.customer_id}}

    def create() -> object:
        return client.PortalSession.create(params)

    return create, lambda: None


BENCH = VendorBench(
    credentials={"site": "acme-test", "api_key": "test_cbBenchKey0123456789"},
    customer_id=DOC_CUSTOMER,
    answer=DOC_RESPONSE,
    url_at=("portal_session", "access_url"),
    sdk=bench_sdk,
    sdk_name="chargebee",
)
