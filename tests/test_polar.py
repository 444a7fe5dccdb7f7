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

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
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
from _mock import (
    POLAR_DOC_CUSTOMER,
    POLAR_DOC_EMAIL,
    POLAR_DOC_EXTERNAL_ID,
    POLAR_DOC_PORTAL_URL,
    POLAR_DOC_RESPONSE,
    POLAR_DOC_TOKEN,
    Script,
    both_modes,
    mint,
    raise_,
    record_sleeps,
    reply,
)
from _vendors import twin

from bench._vendor import SdkTarget, VendorBench
from portalkit import (
    Action,
    AsyncPortal,
    CustomerIdKind,
    Flow,
    MigrationRouter,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RetryPolicy,
    Route,
    errors,
    provider_from_env,
)
from portalkit._http import httpx
from portalkit._redact import redact_url
from portalkit.providers.paddle import Paddle
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


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Polar adapter, through Portal and AsyncPortal over httpx.MockTransport.
#
# The contract is shared/provider-docs/polar.md and Polar's own schema (server/polar/
# customer_session/): POST /v1/customer-sessions/ with the customer named by Polar's UUID4 or
# by the app's own id (external_customer_id), an optional return_url; 201 with the portal URL
# (token and e-mail in its query), one-hour expiry and the customer object; 422 validation
# lists (an unknown customer among them), 409 for an ambiguous external id.

ACCESS_TOKEN = "polar_oat_do_not_leak_0123456789abcdefABCDEF"
CUSTOMER = POLAR_DOC_CUSTOMER
EXTERNAL = POLAR_DOC_EXTERNAL_ID
DOC_RETURN_URL = "https://app.example.com/account"
ONCE = RetryPolicy(max_attempts=1)
FAST = RetryPolicy(backoff_initial=0, retry_after_cap=0)
ENCODED_EMAIL = "jane.roe%40mail.example.org"


def polar(**options: Any) -> Polar:
    return Polar(access_token=ACCESS_TOKEN, **options)


def session(**changes: Any) -> dict[str, Any]:
    """The documented 201 body, with ``changes`` applied (``customer`` merged)."""
    body = {**POLAR_DOC_RESPONSE, "customer": dict(POLAR_DOC_RESPONSE["customer"])}
    customer = changes.pop("customer", None)
    body.update(changes)
    if isinstance(customer, dict):
        body["customer"].update(customer)
    elif customer is not None:
        body["customer"] = customer
    return body


def created(**changes: Any) -> Script:
    return Script(reply(201, session(**changes)))


def mentions_personal_data(text: str) -> bool:
    lowered = text.lower()
    return any(
        secret.lower() in lowered
        for secret in (POLAR_DOC_TOKEN, POLAR_DOC_EMAIL, ENCODED_EMAIL, "jane.roe", ACCESS_TOKEN)
    )


# -- the request on the wire ---------------------------------------------------------------


@both_modes
def test_request_naming_polars_customer_id(mode: str) -> None:
    script = created()
    link = mint(mode, polar(), script, PortalRequest(CUSTOMER))

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.polar.sh/v1/customer-sessions/"  # trailing slash
    assert sent.json() == {"customer_id": CUSTOMER}
    assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert sent.headers["Polar-Version"] == "2026-10"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Accept"] == "application/json"
    assert "Polar-Organization" not in sent.headers
    # Polar has no idempotency keys: none is made up, none is sent.
    assert "Idempotency-Key" not in sent.headers
    assert link.idempotency_key is None


@both_modes
@pytest.mark.parametrize(
    "request_",
    [
        PortalRequest.for_external_id(EXTERNAL),
        PortalRequest(EXTERNAL, customer_id_kind=CustomerIdKind.EXTERNAL),
        PortalRequest(EXTERNAL, customer_id_kind="external"),
    ],
    ids=["for_external_id", "enum", "string"],
)
def test_request_naming_the_apps_own_id(mode: str, request_: PortalRequest) -> None:
    script = created()
    link = mint(mode, polar(), script, request_)

    assert script.only.json() == {"external_customer_id": EXTERNAL}
    # The link names Polar's customer, as Polar answered: the app's id is what it asked with.
    assert link.customer_id == CUSTOMER
    assert link.ignored_fields == ()


@both_modes
@pytest.mark.parametrize("external", [False, True])
def test_return_url_is_sent_and_echoed(mode: str, external: bool) -> None:
    script = created()
    request = (
        PortalRequest.for_external_id(EXTERNAL, return_url=DOC_RETURN_URL)
        if external
        else PortalRequest(CUSTOMER, return_url=DOC_RETURN_URL)
    )
    link = mint(mode, polar(), script, request)
    key = "external_customer_id" if external else "customer_id"
    assert script.only.json() == {
        key: EXTERNAL if external else CUSTOMER,
        "return_url": DOC_RETURN_URL,
    }
    assert link.return_url == DOC_RETURN_URL


@both_modes
@pytest.mark.parametrize(
    ("options", "root"),
    [
        ({}, "https://api.polar.sh"),
        ({"environment": "production"}, "https://api.polar.sh"),
        ({"environment": "sandbox"}, "https://sandbox-api.polar.sh"),
        ({"environment": "sandbox", "base_url": "http://127.0.0.1:8702/"}, "http://127.0.0.1:8702"),
    ],
)
def test_environment_picks_the_host(mode: str, options: dict[str, Any], root: str) -> None:
    script = created()
    mint(mode, polar(**options), script, PortalRequest(CUSTOMER))
    assert str(script.only.url) == f"{root}/v1/customer-sessions/"


@both_modes
def test_organization_id_is_sent_as_polar_organization(mode: str) -> None:
    org = "1dbfc517-0bbf-4301-9ba8-555ca42b9737"
    script = created()
    mint(mode, polar(organization_id=org), script, PortalRequest(CUSTOMER))
    assert script.only.headers["Polar-Organization"] == org


@both_modes
def test_provider_options_add_polar_fields(mode: str) -> None:
    member = "0b6a4f0e-7a61-4d8e-9a3b-2f6f3b1c9d10"
    script = created()
    mint(
        mode,
        polar(),
        script,
        PortalRequest(CUSTOMER, provider_options={"polar": {"member_id": member}}),
    )
    assert script.only.json() == {"customer_id": CUSTOMER, "member_id": member}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"environment": "staging"}, "environment"),
        ({"access_token": "  "}, "access_token"),
        ({"access_token": "polar_oat_ab cd"}, "access_token"),
        ({"access_token": "polar_oat_ab\ncd"}, "access_token"),
        ({"organization_id": "acme"}, "organization_id"),
        ({"base_url": "http://api.polar.example"}, "base_url"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, Any], field: str) -> None:
    values = {"access_token": ACCESS_TOKEN, **options}
    with pytest.raises(errors.InvalidRequest) as caught:
        Polar(**values)
    assert caught.value.field == field
    assert ACCESS_TOKEN not in str(caught.value)


def test_the_access_token_is_not_in_the_repr() -> None:
    assert ACCESS_TOKEN not in repr(polar())


def test_from_env() -> None:
    provider = provider_from_env(
        {
            "PORTALKIT_PROVIDER": "polar",
            "POLAR_ACCESS_TOKEN": ACCESS_TOKEN,
            "POLAR_ENVIRONMENT": "sandbox",
            "POLAR_BASE_URL": "http://127.0.0.1:8702",
            "POLAR_ORGANIZATION_ID": "1dbfc517-0bbf-4301-9ba8-555ca42b9737",
        }
    )
    assert provider == Polar(
        access_token=ACCESS_TOKEN,
        environment="sandbox",
        base_url="http://127.0.0.1:8702",
        organization_id="1dbfc517-0bbf-4301-9ba8-555ca42b9737",
    )
    defaults = provider_from_env({"POLAR_ACCESS_TOKEN": ACCESS_TOKEN}, name="polar")
    assert defaults == Polar(access_token=ACCESS_TOKEN)
    assert isinstance(defaults, Polar)
    assert defaults.api_root == "https://api.polar.sh"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "POLAR_ACCESS_TOKEN"),
        ({"POLAR_ACCESS_TOKEN": ACCESS_TOKEN, "POLAR_ENVIRONMENT": "staging"}, "POLAR_ENVIRONMENT"),
        ({"POLAR_ACCESS_TOKEN": ACCESS_TOKEN, "POLAR_BASE_URL": "ftp://x"}, "POLAR_BASE_URL"),
    ],
)
def test_from_env_names_the_bad_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env(environ, name="polar")
    assert caught.value.variable == variable
    assert ACCESS_TOKEN not in str(caught.value)


# -- the documented answer -----------------------------------------------------------------


@both_modes
def test_parses_the_documented_answer(mode: str) -> None:
    script = Script(reply(201, POLAR_DOC_RESPONSE, headers={"X-Request-Id": "req-201"}))
    link = mint(mode, polar(), script, PortalRequest(CUSTOMER, return_url=DOC_RETURN_URL))

    assert link.provider == "polar"
    assert link.session_id == "3f0f9b1c-6a57-4b7e-9d0e-6c1d2a3b4c5d"
    assert link.customer_id == CUSTOMER
    assert link.url == POLAR_DOC_PORTAL_URL
    assert link.expires_at == datetime(2026, 12, 2, 11, 42, tzinfo=UTC)
    assert link.created_at == datetime(2026, 12, 2, 10, 42, tzinfo=UTC)
    assert link.expires_at is not None
    assert link.expires_at.tzinfo is UTC
    assert link.return_url == DOC_RETURN_URL
    assert link.deep_links == ()
    assert link.request_id == "req-201"
    assert link.raw == POLAR_DOC_RESPONSE
    assert link.raw["customer"]["email"] == POLAR_DOC_EMAIL  # documented: raw holds it
    assert link.ignored_fields == ()


@both_modes
def test_without_a_request_id_header_the_request_id_is_none(mode: str) -> None:
    link = mint(mode, polar(), created(return_url=None), PortalRequest(CUSTOMER))
    assert link.request_id is None
    assert link.return_url is None


# -- personal data: the URL carries the customer's e-mail ----------------------------------


@both_modes
def test_no_repr_shows_the_token_or_the_e_mail(mode: str) -> None:
    link = mint(mode, polar(), created(), PortalRequest.for_external_id(EXTERNAL))
    assert POLAR_DOC_TOKEN in link.url
    assert ENCODED_EMAIL in link.url
    for text in (repr(link), str(link), f"{link}", repr([link])):
        assert not mentions_personal_data(text), text
        assert "https://polar.sh/<redacted>" in text


@pytest.mark.parametrize(
    "url",
    [
        POLAR_DOC_PORTAL_URL,
        "https://polar.sh?email=jane.roe@mail.example.org&customer_session_token=x",
        "https://polar.sh/acme/portal#email=jane.roe@mail.example.org",
        "https://jane.roe@polar.sh/acme/portal",  # user info is not host
        "not a url jane.roe@mail.example.org",
    ],
)
def test_redact_url_keeps_only_scheme_and_host(url: str) -> None:
    shown = redact_url(url)
    assert "jane.roe" not in shown
    assert "customer_session_token" not in shown
    assert POLAR_DOC_TOKEN not in shown


@both_modes
def test_logs_hold_neither_token_nor_e_mail(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="portalkit")
    mint(mode, polar(), created(), PortalRequest(CUSTOMER))
    assert caplog.records, "portalkit logged nothing: the check would be empty"
    assert not mentions_personal_data(caplog.text)


# -- answers that break the documented shape ----------------------------------------------


def _without(*path: str) -> dict[str, Any]:
    body = session()
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


@both_modes
@pytest.mark.parametrize(
    ("body", "what"),
    [
        (_without("id"), "id"),
        (_without("customer_portal_url"), "customer_portal_url"),
        (_without("customer_id"), "customer_id"),
        (_without("expires_at"), "expires_at"),
        (_without("created_at"), "created_at"),
        (_without("customer"), "customer"),
        (_without("customer", "id"), "customer.id"),
        (session(customer_portal_url=None), "customer_portal_url"),
        (session(customer_id=42), "customer_id"),
        (session(expires_at="in an hour"), "expires_at"),
        (session(expires_at="2026-12-02T11:42:00"), "expires_at"),  # no offset
        (session(customer="nobody"), "customer"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any, what: str) -> None:
    script = Script(reply(201, body))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER), retry=ONCE)
    assert caught.value.provider == "polar"
    assert caught.value.status == 201
    assert what in str(caught.value)
    assert not mentions_personal_data(str(caught.value))


@both_modes
def test_a_customer_object_for_another_customer_is_refused(mode: str) -> None:
    other = "5d1c8a7e-3b2f-4c6d-9e0f-1a2b3c4d5e6f"
    script = Script(reply(201, session(customer={"id": other})))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER), retry=ONCE)
    assert other not in str(caught.value)
    assert not mentions_personal_data(str(caught.value))


@both_modes
@pytest.mark.parametrize("echoed", ["usr_other", None])
def test_an_external_id_polar_did_not_echo_is_refused(mode: str, echoed: str | None) -> None:
    # The adapter's half of the customer binding: for an external id, the link's customer is
    # the one whose external_id is the app's id.
    script = Script(reply(201, session(customer={"external_id": echoed})))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, polar(), script, PortalRequest.for_external_id(EXTERNAL), retry=ONCE)
    assert "external_id" in str(caught.value)
    assert "usr_other" not in str(caught.value)
    assert not mentions_personal_data(str(caught.value))


def test_the_core_binding_rule_skips_external_ids() -> None:
    # What the core compares the link's customer_id with (portalkit/_call.py): the vendor id
    # the request named, or nothing when the request named the app's id.
    assert PortalRequest(CUSTOMER).vendor_customer_id == CUSTOMER
    assert PortalRequest.for_external_id(EXTERNAL).vendor_customer_id is None


# -- what Polar cannot do, and local refusals: nothing is sent -----------------------------


@both_modes
@pytest.mark.parametrize(
    "customer_id",
    [
        "cus_01HXAB",  # another vendor's id
        "992FAE2A-2A17-4B7A-8D9E-E287CF90131B",  # uppercase: not the form Polar echoes
        "992fae2a2a174b7a8d9ee287cf90131b",  # no hyphens
        "992fae2a-2a17-1b7a-8d9e-e287cf90131b",  # a version-1 UUID (Polar's schema: UUID4)
        "992fae2a-2a17-4b7a-cd9e-e287cf90131b",  # not the RFC 4122 variant
        "992fae2a-2a17-4b7a-8d9e-e287cf90131b0",  # too long
        EXTERNAL,  # the app's id, not marked as such
    ],
)
def test_polar_customer_ids_are_uuid4_checked_before_sending(mode: str, customer_id: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, polar(), script, PortalRequest(customer_id))
    assert type(caught.value) is errors.InvalidRequest
    assert caught.value.field == "customer_id"
    assert caught.value.rule is not None
    assert "UUID4" in caught.value.rule
    assert caught.value.provider == "polar"
    assert script.sent == []


@both_modes
@pytest.mark.parametrize(
    ("fields", "ignored"),
    [
        ({"locale": "fr"}, ("locale",)),
        ({"subscription_ids": ["sub_1"]}, ("subscription_ids",)),
        ({"flow": Flow(Action.CANCEL_SUBSCRIPTION, "sub_1")}, ("flow",)),
        ({"idempotency_key": "mine-1"}, ("idempotency_key",)),
        ({"provider_options": {"paddle": {"x": 1}}}, ()),  # another vendor's
    ],
)
def test_cosmetic_hints_are_dropped_and_listed(
    mode: str, fields: dict[str, Any], ignored: tuple[str, ...]
) -> None:
    script = created()
    link = mint(mode, polar(), script, PortalRequest(CUSTOMER, **fields))
    assert link.ignored_fields == ignored
    assert script.only.json() == {"customer_id": CUSTOMER}
    assert "Idempotency-Key" not in script.only.headers


@both_modes
@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        (
            {"configuration": PortalConfiguration(cancel_subscription=False)},
            "configure_cancel_subscription",
        ),
        ({"configuration": PortalConfiguration(view_invoices=True)}, "configure_view_invoices"),
        ({"on_behalf_of": "acc_merchant1"}, "on_behalf_of"),
    ],
)
def test_unsupported_rights_are_refused_before_sending(
    mode: str, fields: dict[str, Any], feature: str
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER, **fields))
    assert caught.value.feature == feature
    assert script.sent == []


@both_modes
@pytest.mark.parametrize(
    "key", ["customer_id", "external_customer_id", "customer_external_id", "return_url"]
)
def test_provider_options_cannot_name_the_customer_again(mode: str, key: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER, provider_options={"polar": {key: "x"}}))
    assert caught.value.field == f"provider_options['polar'].{key}"
    assert script.sent == []


@both_modes
def test_strict_refuses_what_would_be_dropped(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER, locale="fr"), strict=True)
    assert caught.value.field == "locale"
    assert script.sent == []


# -- errors ---------------------------------------------------------------------------------


def validation(*items: tuple[list[Any], str, str]) -> dict[str, Any]:
    """FastAPI's 422 body, with each item's ``input`` (the value sent) as Polar echoes it."""
    return {
        "detail": [
            {
                "loc": loc,
                "msg": msg,
                "type": kind,
                "input": "ECHOED-INPUT-jane.roe@mail.example.org",
            }
            for loc, msg, kind in items
        ]
    }


@both_modes
@pytest.mark.parametrize(
    ("request_", "loc"),
    [
        (PortalRequest(CUSTOMER), ["body", "customer_id"]),
        (PortalRequest.for_external_id(EXTERNAL), ["body", "external_customer_id"]),
    ],
    ids=["customer_id", "external_customer_id"],
)
def test_customer_does_not_exist_is_customer_not_found(
    mode: str, request_: PortalRequest, loc: list[str]
) -> None:
    body = validation((loc, "Customer does not exist.", "value_error"))
    script = Script(reply(422, body, headers={"X-Request-Id": "req-422"}))
    with pytest.raises(errors.CustomerNotFound) as caught:
        mint(mode, polar(), script, request_)

    exc = caught.value
    assert (exc.provider, exc.status, exc.code) == ("polar", 422, "value_error")
    assert exc.vendor_message == f"{loc[1]}: Customer does not exist."
    assert exc.request_id == "req-422"
    assert "ECHOED-INPUT" not in str(exc)  # Polar's echo of the value never reaches a message
    assert not mentions_personal_data(str(exc))
    assert len(script.sent) == 1  # not retried


@both_modes
@pytest.mark.parametrize(
    ("items", "field", "rule"),
    [
        (
            [(["body", "return_url"], "Input should be a valid URL", "url_parsing")],
            "return_url",
            "Input should be a valid URL",
        ),
        (
            [(["body", "member_id"], "member_id is required for team customers.", "value_error")],
            "member_id",
            "member_id is required for team customers.",
        ),
        (
            [(["body", "customer_id"], "UUID version 4 expected", "uuid_version")],
            "customer_id",
            "UUID version 4 expected",
        ),
        (
            [
                (["body", "return_url"], "URL too long", "url_too_long"),
                (["body", "metadata", "tags", 0], "bad tag", "value_error"),
            ],
            "return_url",
            "URL too long",
        ),
        ([(["body"], "Field required", "missing")], None, "Field required"),
    ],
)
def test_other_field_errors_are_invalid_request_naming_the_field(
    mode: str, items: list[tuple[list[Any], str, str]], field: str | None, rule: str
) -> None:
    script = Script(reply(422, validation(*items)))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER))

    exc = caught.value
    assert type(exc) is errors.InvalidRequest
    assert exc.field == field
    assert exc.rule == rule
    assert exc.code == items[0][2]
    assert exc.vendor_message is not None
    for _loc, msg, _ in items:
        assert msg in exc.vendor_message
    if len(items) == 2:
        assert "metadata.tags[0]: bad tag" in exc.vendor_message
    assert "ECHOED-INPUT" not in str(exc)


@both_modes
def test_the_not_found_item_wins_among_several(mode: str) -> None:
    body = validation(
        (["body", "return_url"], "URL too long", "url_too_long"),
        (["body", "customer_id"], "Customer does not exist.", "value_error"),
    )
    with pytest.raises(errors.CustomerNotFound) as caught:
        mint(mode, polar(), Script(reply(422, body)), PortalRequest(CUSTOMER))
    assert caught.value.code == "value_error"


@both_modes
@pytest.mark.parametrize(
    "body",
    [
        {"detail": []},
        {"detail": [{"loc": ["body", "customer_id"], "msg": 3}]},
        {"detail": [{"loc": "body.customer_id", "msg": "Customer does not exist."}]},
        {"detail": ["nonsense"]},
    ],
)
def test_an_unreadable_validation_list_is_still_invalid_request(mode: str, body: Any) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, polar(), Script(reply(422, body)), PortalRequest(CUSTOMER))
    assert type(caught.value) is errors.InvalidRequest
    assert caught.value.status == 422


@both_modes
@pytest.mark.parametrize(
    "body",
    [
        {
            "error": "AmbiguousExternalCustomerID",
            "detail": "External customer ID usr_1337 matches several customers.",
        },
        None,  # no body: not Polar's answer, so no verdict of Polar's (issue 24)
    ],
)
def test_an_ambiguous_external_id_is_its_own_error(mode: str, body: Any) -> None:
    script = Script(reply(409, body))
    expected = errors.AmbiguousCustomer if body is not None else errors.UnexpectedEndpoint
    with pytest.raises(expected) as caught:
        mint(mode, polar(), script, PortalRequest.for_external_id(EXTERNAL))
    exc = caught.value
    assert (exc.provider, exc.status) == ("polar", 409)
    assert not isinstance(exc, errors.IdempotencyConflict | errors.CustomerNotFound)
    if body is not None:
        assert exc.code == "AmbiguousExternalCustomerID"
    assert len(script.sent) == 1  # the same request gets the same answer: not retried


@both_modes
@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": "Unauthorized", "detail": "Invalid token"}, errors.AuthenticationFailed),
        (
            403,
            {"error": "InsufficientScope", "detail": "customer_sessions:write"},
            errors.PermissionDenied,
        ),
        (401, {"type": "Unauthorized", "detail": "Invalid token"}, errors.AuthenticationFailed),
        (429, {"detail": "Rate limit exceeded"}, errors.RateLimited),
        (500, {"error": "InternalServerError", "detail": "oops"}, errors.ProviderUnavailable),
        (503, None, errors.ProviderUnavailable),
    ],
)
def test_errors_as_for_every_vendor(
    mode: str, status: int, body: Any, error: type[errors.PortalError]
) -> None:
    headers = {"Retry-After": "7", "X-Request-Id": f"req-{status}"}
    script = Script(reply(status, body, headers=headers))
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, polar(), script, PortalRequest(CUSTOMER), retry=ONCE)

    exc = caught.value
    assert type(exc) is error
    assert (exc.provider, exc.status, exc.request_id) == ("polar", status, f"req-{status}")
    if isinstance(body, dict):
        assert exc.vendor_message == body["detail"]
        assert exc.code == (body.get("error") or body.get("type"))
    assert ACCESS_TOKEN not in str(exc)
    if isinstance(exc, errors.RateLimited):
        assert exc.retry_after == 7.0


@both_modes
def test_a_vendor_message_repeating_the_token_is_scrubbed(mode: str) -> None:
    body = {"error": "Unauthorized", "detail": f"token {ACCESS_TOKEN} is revoked"}
    with pytest.raises(errors.AuthenticationFailed) as caught:
        mint(mode, polar(), Script(reply(401, body)), PortalRequest(CUSTOMER))
    assert ACCESS_TOKEN not in str(caught.value)


# -- retries: no idempotency key, so a retried create may mint a second session ------------


@both_modes
@pytest.mark.parametrize(
    "failure",
    [
        reply(503, {"detail": "unavailable"}),
        reply(502, content=b"<html>bad gateway</html>", headers={"Content-Type": "text/html"}),
        raise_(httpx.ConnectError),
        raise_(httpx.ReadTimeout),
    ],
    ids=["503", "502-html", "connect-error", "read-timeout"],
)
def test_transient_failures_are_retried_with_the_same_request(mode: str, failure: Any) -> None:
    script = Script(failure, reply(201, session()))
    link = mint(mode, polar(), script, PortalRequest.for_external_id(EXTERNAL), retry=FAST)

    assert link.url == POLAR_DOC_PORTAL_URL
    first, second = script.sent
    assert first.content == second.content
    assert first.json() == {"external_customer_id": EXTERNAL}
    assert "Idempotency-Key" not in second.headers
    assert second.headers["Polar-Version"] == "2026-10"


@both_modes
def test_rate_limits_honour_retry_after(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sleeps = record_sleeps(monkeypatch)
    script = Script(
        reply(429, {"detail": "Rate limit exceeded"}, headers={"Retry-After": "2"}),
        reply(201, session()),
    )
    link = mint(mode, polar(), script, PortalRequest(CUSTOMER))
    assert link.session_id == POLAR_DOC_RESPONSE["id"]
    assert len(script.sent) == 2
    assert sleeps == [2.0]


@both_modes
@pytest.mark.parametrize("status", [401, 403, 409, 422])
def test_refusals_are_not_retried(mode: str, status: int) -> None:
    script = Script(reply(status, {"detail": "no"}), reply(201, session()))
    with pytest.raises(errors.PortalError):
        mint(mode, polar(), script, PortalRequest(CUSTOMER), retry=FAST)
    assert len(script.sent) == 1


# -- MigrationRouter: the app's id is the key both vendors share ---------------------------

PADDLE_CUSTOMER = "ctm_01gysfvfy7vqhpzkq8rjmrq7an"
PADDLE_PORTAL = "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"


def paddle_session() -> dict[str, Any]:
    return {
        "data": {
            "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
            "customer_id": PADDLE_CUSTOMER,
            "urls": {"general": {"overview": f"{PADDLE_PORTAL}?action=overview&token=pga_T"}},
            "created_at": "2024-10-12T07:20:50.52Z",
        }
    }


def migrating(route: Any, *, fallback: bool = False) -> MigrationRouter:
    return MigrationRouter(
        [Paddle(api_key="pdl_sdbx_apikey_router"), polar()], route, fallback=fallback
    )


@both_modes
def test_a_route_can_name_polars_customer_by_the_apps_id(mode: str) -> None:
    router = migrating(
        lambda request: Route("polar", request.customer_id, customer_id_kind="external")
    )
    script = created()
    link = mint(mode, router, script, PortalRequest(EXTERNAL))

    assert script.only.json() == {"external_customer_id": EXTERNAL}
    assert str(script.only.url) == "https://api.polar.sh/v1/customer-sessions/"
    assert (link.provider, link.customer_id) == ("polar", CUSTOMER)


@both_modes
def test_a_vendor_route_stays_a_vendor_id_whatever_the_request_said(mode: str) -> None:
    # The route says what the id is at its vendor: a (provider, id) pair names the vendor's.
    router = migrating(lambda request: ("polar", CUSTOMER))
    script = created()
    mint(mode, router, script, PortalRequest.for_external_id(EXTERNAL))
    assert script.only.json() == {"customer_id": CUSTOMER}


@both_modes
def test_a_vendor_that_cannot_look_up_the_apps_id_refuses_the_route(mode: str) -> None:
    router = migrating(
        lambda request: Route("paddle", request.customer_id, customer_id_kind="external")
    )
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, router, script, PortalRequest(EXTERNAL))
    assert caught.value.feature == "external_customer_id"
    assert caught.value.field == "customer_id_kind"
    assert caught.value.provider == "paddle"
    assert script.sent == []


@both_modes
def test_polars_unknown_customer_falls_back_to_the_old_vendor(mode: str) -> None:
    # Cut-over: the customer is not at Polar yet (Polar's 422 "Customer does not exist").
    def route(request: PortalRequest) -> Route:
        return Route(
            "polar",
            request.customer_id,
            customer_id_kind=CustomerIdKind.EXTERNAL,
            fallback=Route("paddle", PADDLE_CUSTOMER),
        )

    not_found = validation(
        (["body", "external_customer_id"], "Customer does not exist.", "value_error")
    )
    script = Script(reply(422, not_found), reply(201, paddle_session()))
    link = mint(mode, migrating(route, fallback=True), script, PortalRequest(EXTERNAL))

    polar_attempt, paddle_attempt = script.sent
    assert polar_attempt.json() == {"external_customer_id": EXTERNAL}
    assert str(paddle_attempt.url).endswith(f"/customers/{PADDLE_CUSTOMER}/portal-sessions")
    assert (link.provider, link.customer_id) == ("paddle", PADDLE_CUSTOMER)


@both_modes
def test_an_ambiguous_customer_does_not_fall_back(mode: str) -> None:
    def route(request: PortalRequest) -> Route:
        return Route(
            "polar",
            request.customer_id,
            customer_id_kind="external",
            fallback=Route("paddle", PADDLE_CUSTOMER),
        )

    script = Script(reply(409, {"error": "AmbiguousExternalCustomerID", "detail": "several"}))
    with pytest.raises(errors.AmbiguousCustomer):
        mint(mode, migrating(route, fallback=True), script, PortalRequest(EXTERNAL))
    assert len(script.sent) == 1


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Polar: its documented 201 to ``POST /v1/customer-sessions/`` (a customer session with the
# customer object), and polar-sdk (on httpx) minting the same session. The answer is
# POLAR_DOC_RESPONSE (tests/_mock.py), as the adapter tests use it.


def bench_sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    from polar.v2026_10 import Polar

    client = Polar(target.credentials["access_token"], base_url=target.base_url)
    customer = target.customer_id

    def create() -> object:
        return client.customer_sessions.create(customer_id=customer)

    return create, client._client._client.close


BENCH = VendorBench(
    credentials={"access_token": "polar_oat_bench0do0not0leak0123456789"},
    customer_id=POLAR_DOC_CUSTOMER,
    status=201,
    answer=POLAR_DOC_RESPONSE,
    url_at=("customer_portal_url",),
    sdk=bench_sdk,
    sdk_name="polar-sdk",
)
