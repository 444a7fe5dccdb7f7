"""Chargebee through Portal: cassette scenarios replayed from cassettes/chargebee/, and the
sandbox twin (providers/chargebee_sandbox.py) on the wire.

The cassettes were recorded against portalkit.sandbox over loopback HTTP (or against a
Chargebee test site, with its credentials set): docs/cassettes.md. In replay there is no
server and sockets are blocked. The twin tests start the sandbox on 127.0.0.1.
"""

from __future__ import annotations

import base64
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

from portalkit import AsyncPortal, Flow, Portal, PortalRequest, errors
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
