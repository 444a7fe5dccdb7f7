"""Polar through Portal, replayed from cassettes/polar/, and Polar's sandbox twin itself.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Polar's sandbox environment, with POLAR_ACCESS_TOKEN set): docs/cassettes.md.
In replay there is no server and sockets are blocked; every exchange comes from the cassette.
Polar's portal URL carries the customer's e-mail address next to the session token: both are
scrubbed when recorded, and each cassette test checks what the cassette holds in their place.

Polar has no idempotency key: a retried create mints a second session (harmless), so the
retry test shows both attempts were the same request.

The twin's own tests (the hosted page, the validation list, organizations) run against the
sandbox served on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from _cassettes import (
    FAST_RETRY,
    PLACEHOLDER,
    Ids,
    Recording,
    Scrubber,
    assert_cassette_played,
    find_secrets,
    header,
    recorded_requests,
    recorded_responses,
)
from _vendors import twin

from portalkit import AsyncPortal, Portal, PortalRequest, errors
from portalkit._http import httpx
from portalkit.providers.polar import Polar
from portalkit.sandbox import Fault, Sandbox

VENDOR = "polar"
#: The ids the cassettes hold (a live recording maps the real ones onto them): lowercase
#: UUID4s, as Polar gives them out.
CASSETTE_IDS = Ids(
    customer="c0ffee00-cafe-4bad-9e55-0ca55e770001",
    unknown_customer="00000000-0000-4000-8000-00000000dead",
)
#: A seeded external id (the twin's first customer, ``usr_alice``) and the one two seeded
#: customers share in two organizations: sandbox recordings only.
EXTERNAL_ID = "usr_alice"
SHARED_EXTERNAL_ID = "usr_shared"
UNKNOWN_EXTERNAL_ID = "usr_portalkit_nobody"
RETURN_URL = "https://app.example.com/account/billing"
#: The e-mail placeholder the recording hooks leave (``scrubbed<N>%40example.invalid``).
SCRUBBED_EMAIL = re.compile(rf"{PLACEHOLDER}\d+%40example\.invalid")


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _body(response: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response["body"]["string"])
    return body


# -- cassettes -----------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_a_link_by_polar_customer_id(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer, return_url=RETURN_URL))

    assert link.provider == "polar"
    assert link.customer_id == recording.ids.customer
    assert link.return_url == RETURN_URL
    assert link.expires_at is not None
    assert link.created_at is not None
    assert (link.expires_at - link.created_at).total_seconds() == 3600  # one-hour sessions
    assert urlsplit(link.url).path.endswith("/portal")
    query = _query(link.url)
    assert set(query) == {"customer_session_token", "email"}
    assert link.raw["token"] == query["customer_session_token"][0]
    assert link.raw["customer"]["id"] == link.customer_id
    assert link.ignored_fields == ()

    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == "/v1/customer-sessions/"
    assert json.loads(request.body) == {
        "customer_id": recording.recorded_ids.customer,
        "return_url": RETURN_URL,
    }
    assert header(request, "Authorization") == "Bearer scrubbed"
    assert header(request, "Polar-Version") == Polar.api_version
    # What the cassette holds in place of the token and the customer's e-mail address.
    (response,) = recorded_responses(vcr)
    recorded = _body(response)
    recorded_query = _query(recorded["customer_portal_url"])
    assert recorded_query["customer_session_token"][0].startswith(f"polar_{PLACEHOLDER}")
    assert recorded["token"] == recorded_query["customer_session_token"][0]
    assert SCRUBBED_EMAIL.fullmatch(recorded_query["email"][0].replace("@", "%40"))
    assert recorded["customer"]["email"].endswith("@example.invalid")
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only  # the twin's seeded external id; a live account has its own
def test_mints_a_link_by_the_apps_own_id(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest.for_external_id(EXTERNAL_ID))

    assert link.raw["customer"]["external_id"] == EXTERNAL_ID
    assert link.customer_id == link.raw["customer"]["id"]
    assert link.return_url is None
    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {"external_customer_id": EXTERNAL_ID}
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
async def test_async_portal_mints_a_link(recording: Recording, vcr: Any) -> None:
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(PortalRequest(recording.ids.customer))

    assert link.customer_id == recording.ids.customer
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_401_for_a_wrong_token(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 401
    assert caught.value.code == "Unauthorized"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.live_needs("POLAR_NO_SCOPE_ACCESS_TOKEN")
def test_403_for_a_token_without_customer_sessions_write(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert caught.value.code == "NotPermitted"
    assert "customer_sessions:write" in (caught.value.vendor_message or "")
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_422_customer_does_not_exist_is_customer_not_found(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 422
    assert caught.value.code == "value_error"
    assert caught.value.vendor_message == "customer_id: Customer does not exist."
    (response,) = recorded_responses(vcr)
    [item] = _body(response)["detail"]
    assert item["loc"] == ["body", "customer_id"]
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_422_for_an_unknown_external_id(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest.for_external_id(UNKNOWN_EXTERNAL_ID))

    assert caught.value.vendor_message == "external_customer_id: Customer does not exist."
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only  # needs one external id in two organizations
def test_409_for_an_external_id_of_several_customers(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider()) as portal,
        pytest.raises(errors.AmbiguousCustomer) as caught,
    ):
        portal.create_link(PortalRequest.for_external_id(SHARED_EXTERNAL_ID))

    assert caught.value.status == 409
    assert caught.value.code == "AmbiguousExternalCustomerID"
    assert_cassette_played(vcr, 1)  # not retried


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
def test_retry_after_503_mints_again_with_the_same_request(recording: Recording, vcr: Any) -> None:
    recording.script(Fault.status(503))
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert len(sent) == 2
    assert all("Idempotency-Key" not in attempt.headers for attempt in sent)
    first, second = recorded_requests(vcr)
    assert json.loads(first.body) == json.loads(second.body)
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (503, 201)
    assert recording.as_recorded(link.session_id) == _body(created)["id"]
    assert_cassette_played(vcr, 2)


# -- the scrubbing of Polar's URLs ---------------------------------------------------------------

DIRTY_URL = (
    "http://127.0.0.1:41234/polar/portalkit-sandbox/portal"
    "?customer_session_token=polar_cst_R3alT0kenR3alT0ken&email=carol%2Bbilling%40example.com"
)


def test_the_scan_finds_a_polar_token_and_a_percent_encoded_address() -> None:
    # The twin's url_secrets: the token is flagged where the twin says links carry it.
    [pattern] = twin(VENDOR).url_secrets
    assert re.search(pattern, DIRTY_URL)
    problems = find_secrets(f'{{"customer_portal_url": "{DIRTY_URL}"}}')
    assert any(problem.startswith("portal URL token") for problem in problems), problems
    # jane%2Bbilling%40... is jane+billing@... as a URL's query writes it.
    assert any(problem.startswith("e-mail address") for problem in problems), problems


def test_the_hooks_scrub_a_polar_answer_to_nothing_the_scan_finds() -> None:
    answer = json.dumps(
        {
            "token": "polar_cst_R3alT0kenR3alT0ken",
            "customer_portal_url": DIRTY_URL,
            "customer": {"email": "carol+billing@example.com"},
        }
    )
    clean = Scrubber().text(answer)
    assert find_secrets(clean) == []
    assert "R3alT0ken" not in clean
    assert "carol" not in clean
    scrubbed = json.loads(clean)
    # The token is one placeholder everywhere; the address one placeholder in both forms.
    assert scrubbed["token"] == _query(scrubbed["customer_portal_url"])["customer_session_token"][0]
    email = _query(scrubbed["customer_portal_url"])["email"][0]
    assert email == scrubbed["customer"]["email"] == "scrubbed1@example.invalid"


# -- the twin, served on 127.0.0.1 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Iterator[Sandbox]:
    served.reset()
    yield served
    served.reset()


def _post(
    sandbox: Sandbox, body: Any, *, key: str = "valid", headers: dict[str, str] | None = None
) -> httpx.Response:
    token = sandbox.credentials(VENDOR, key)["access_token"]  # type: ignore[arg-type]
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with httpx.Client() as client:
        return client.post(
            f"{sandbox.url}/v1/customer-sessions/",
            content=content,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )


def _customer(sandbox: Sandbox, index: int = 0) -> str:
    return sandbox.customers(VENDOR)[index]


def test_seeded_customers_follow_the_convention(sandbox: Sandbox) -> None:
    customers = sandbox.customers(VENDOR)
    assert [len(sandbox.subscriptions(VENDOR, c)) for c in customers[:3]] == [2, 1, 0]
    uuid4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    assert all(uuid4.fullmatch(c) for c in customers)


def test_the_older_alias_customer_external_id_names_the_customer(sandbox: Sandbox) -> None:
    answer = _post(sandbox, {"customer_external_id": EXTERNAL_ID})
    assert answer.status_code == 201
    assert answer.json()["customer"]["external_id"] == EXTERNAL_ID
    assert answer.json()["customer_id"] == _customer(sandbox)


def test_polar_organization_narrows_an_ambiguous_external_id(sandbox: Sandbox) -> None:
    assert _post(sandbox, {"external_customer_id": SHARED_EXTERNAL_ID}).status_code == 409
    organizations = {_post_org(sandbox, org) for org in _organization_ids(sandbox)}
    assert len(organizations) == 2  # one customer in each organization


def _organization_ids(sandbox: Sandbox) -> list[str]:
    ids = []
    for customer in sandbox.customers(VENDOR):
        answer = _post(sandbox, {"customer_id": customer})
        ids.append(answer.json()["customer"]["organization_id"])
    return sorted(set(ids))


def _post_org(sandbox: Sandbox, organization: str) -> str:
    answer = _post(
        sandbox,
        {"external_customer_id": SHARED_EXTERNAL_ID},
        headers={"Polar-Organization": organization},
    )
    assert answer.status_code == 201
    assert answer.json()["customer"]["organization_id"] == organization
    return str(answer.json()["customer_id"])


def test_401_and_403_in_polars_error_shape(sandbox: Sandbox) -> None:
    wrong = _post(sandbox, {"customer_id": _customer(sandbox)}, key="wrong")
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "Unauthorized", "detail": "Unauthorized"}
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    no_scope = _post(sandbox, {"customer_id": _customer(sandbox)}, key="no_scope")
    assert no_scope.status_code == 403
    assert no_scope.json()["error"] == "NotPermitted"
    assert "customer_sessions:write" in no_scope.json()["detail"]
    assert sandbox.sessions(VENDOR) == []


@pytest.mark.parametrize(
    ("body", "field", "type_"),
    [
        ({"customer_id": "not-a-uuid"}, "customer_id", "uuid_parsing"),
        ({"customer_id": "4f1d2c3b-5a69-1e78-8f90-a1b2c3d4e501"}, "customer_id", "uuid_version"),
        ({"customer_id": 42}, "customer_id", "uuid_type"),
        ({"external_customer_id": 42}, "external_customer_id", "string_type"),
        ({"external_customer_id": "usr_alice", "return_url": "nope"}, "return_url", "url_parsing"),
        ({"return_url": "https://app.example.com/"}, "customer_id", "missing"),
    ],
)
def test_422_validation_list_for_malformed_fields(
    sandbox: Sandbox, body: dict[str, Any], field: str, type_: str
) -> None:
    answer = _post(sandbox, body)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert all(set(item) >= {"loc", "msg", "type", "input"} for item in detail)
    # pydantic tags each union member's errors with its schema name.
    assert {item["loc"][1] for item in detail} <= {
        "CustomerSessionCustomerIDCreate",
        "CustomerSessionCustomerExternalIDCreate",
    }
    assert any(item["loc"][-1] == field and item["type"] == type_ for item in detail), detail
    # ... and the adapter reads it as InvalidRequest naming the field (not CustomerNotFound).
    error = Polar(access_token="polar_oat_x").parse_error(answer)
    assert isinstance(error, errors.InvalidRequest)
    # The union tag is not part of the field; every Polar field naming the customer is
    # portalkit's customer_id.
    assert error.field == ("return_url" if field == "return_url" else "customer_id")
    assert error.code == type_
    assert sandbox.sessions(VENDOR) == []


def test_422_for_a_body_that_is_not_json(sandbox: Sandbox) -> None:
    answer = _post(sandbox, b"{nope")
    assert answer.status_code == 422
    [item] = answer.json()["detail"]
    assert item["type"] == "json_invalid"


def test_the_hosted_page_opens_once_then_410(sandbox: Sandbox) -> None:
    customer = _customer(sandbox)
    answer = _post(sandbox, {"customer_id": customer, "return_url": RETURN_URL})
    url = answer.json()["customer_portal_url"]
    assert url.startswith(f"{sandbox.url}/polar/portalkit-sandbox/portal?")
    assert _query(url)["email"] == [answer.json()["customer"]["email"]]
    assert answer.json()["customer"]["email"].endswith(("@example.com", "@example.org"))
    with httpx.Client() as browser:
        assert browser.head(url).status_code == 200  # a probe does not use the link up
        first = browser.get(url)
        assert first.status_code == 200
        assert f'id="customer-id">{customer}<' in first.text.replace("\n", "")
        assert f'href="{RETURN_URL}"' in first.text  # the back link
        assert "portalkit_sandbox_portal" in first.headers["set-cookie"]
        second = browser.get(url)
        assert second.status_code == 410
        assert 'data-reason="used"' in second.text


def test_the_hosted_page_refuses_a_wrong_token_org_or_an_expired_link(sandbox: Sandbox) -> None:
    url = _post(sandbox, {"customer_id": _customer(sandbox)}).json()["customer_portal_url"]
    parts = urlsplit(url)
    with httpx.Client() as browser:
        wrong_token = re.sub(r"customer_session_token=[^&]+", "customer_session_token=x", url)
        assert browser.get(wrong_token).status_code == 404
        other_org = url.replace("/portalkit-sandbox/", "/portalkit-sandbox-eu/")
        assert browser.get(other_org).status_code == 404
        assert browser.get(f"{parts.scheme}://{parts.netloc}{parts.path}").status_code == 404
        sandbox.advance(3600)  # one hour: the session has expired
        gone = browser.get(url)
        assert gone.status_code == 410
        assert 'data-reason="expired"' in gone.text
