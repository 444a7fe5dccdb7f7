"""Stripe through Portal, replayed from cassettes/stripe/, and the Stripe twin itself.

The cassette tests were recorded by running them against portalkit.sandbox over loopback
HTTP (or against Stripe's test mode, with STRIPE_API_KEY set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

The twin tests below them run against a sandbox this module starts on 127.0.0.1: Stripe's
strictness, its error envelope, idempotency, the configuration store and the hosted page
carrying out a flow's after-completion behaviour.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from _cassettes import (
    FAST_RETRY,
    Ids,
    Recording,
    assert_cassette_played,
    find_secrets,
    header,
    recorded_requests,
    recorded_responses,
)

from portalkit import (
    Action,
    AfterCompletion,
    Flow,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RetentionOffer,
    errors,
)
from portalkit._http import httpx
from portalkit.providers.stripe import forget_managed_configurations
from portalkit.providers.stripe_sandbox import (
    CREDENTIALS,
    DEFAULT_CONFIGURATION,
    SEEDED_PRODUCT,
    TWIN,
)
from portalkit.sandbox import Fault, Sandbox

VENDOR = "stripe"
#: The ids the cassettes hold (a live recording maps the real ones onto them).
CASSETTE_IDS = Ids(
    customer="cus_CassetteCust01",
    subscriptions=("sub_1CassetteSub0001", "sub_1CassetteSub0002"),
    unknown_customer="cus_UnknownCust000",
)

RETURN_URL = "https://yourapp.example/account/billing"
BYE_URL = "https://yourapp.example/goodbye"


def form(body: bytes | str) -> dict[str, str]:
    text = body.decode() if isinstance(body, bytes) else body
    return dict(parse_qsl(text, keep_blank_values=True))


# -- cassettes ---------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_a_link_with_only_the_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "stripe"
    assert link.session_id.startswith("bps_")
    assert link.customer_id == recording.ids.customer
    assert link.expires_at is None  # Stripe reports none; never invented
    assert link.created_at is not None
    assert link.raw["object"] == "billing_portal.session"
    assert link.raw["configuration"].startswith("bpc_")
    assert link.request_id
    assert link.request_id.startswith("req_")

    (request,) = recorded_requests(vcr)
    assert (request.method, request.path) == ("POST", "/v1/billing_portal/sessions")
    assert form(request.body) == {"customer": recording.recorded_ids.customer}
    assert header(request, "Authorization") == "Bearer scrubbed"
    assert header(request, "Idempotency-Key")
    assert header(request, "Stripe-Version")
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_cancel_flow_with_a_redirect_after_completion(recording: Recording, vcr: Any) -> None:
    subscription = recording.ids.subscriptions[0]
    request = PortalRequest(
        recording.ids.customer,
        return_url=RETURN_URL,
        locale="fr-FR",
        flow=Flow(
            Action.CANCEL_SUBSCRIPTION,
            subscription,
            retention=RetentionOffer(coupon="STAY20"),
            after_completion=AfterCompletion.redirect(BYE_URL),
        ),
    )
    with Portal(recording.provider()) as portal:
        link = portal.create_link(request)

    assert link.deep_link(Action.CANCEL_SUBSCRIPTION, subscription) == link.url
    assert link.return_url == RETURN_URL
    flow = link.raw["flow"]
    assert flow["type"] == "subscription_cancel"
    assert flow["after_completion"] == {
        "type": "redirect",
        "redirect": {"return_url": BYE_URL},
        "hosted_confirmation": None,
    }
    assert flow["subscription_cancel"]["retention"]["coupon_offer"] == {"coupon": "STAY20"}
    (recorded,) = recorded_requests(vcr)
    sent = form(recorded.body)
    assert sent["flow_data[type]"] == "subscription_cancel"
    assert sent["flow_data[after_completion][redirect][return_url]"] == BYE_URL
    assert sent["locale"] == "fr"  # Stripe has no fr-FR
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_no_cancel_configuration_is_made_once_and_used(recording: Recording, vcr: Any) -> None:
    """A "no cancel" session: portalkit finds the default configuration, makes one with
    cancelling off, and mints the session with it."""
    forget_managed_configurations()  # this process may hold one from another test
    request = PortalRequest(
        recording.ids.customer, configuration=PortalConfiguration(cancel_subscription=False)
    )
    with Portal(recording.provider()) as portal:
        link = portal.create_link(request)
    forget_managed_configurations()

    listed, created, session = recorded_requests(vcr)
    assert (listed.method, listed.path) == ("GET", "/v1/billing_portal/configurations")
    assert (created.method, created.path) == ("POST", "/v1/billing_portal/configurations")
    made = form(created.body)
    assert made["features[subscription_cancel][enabled]"] == "false"
    assert made["features[invoice_history][enabled]"] == "true"  # the default's, kept
    _, created_answer, _ = recorded_responses(vcr)
    assert created_answer["status"]["code"] == 200
    assert form(session.body)["configuration"] == link.raw["configuration"]
    assert link.raw["configuration"] != DEFAULT_CONFIGURATION
    assert_cassette_played(vcr, 3)


@pytest.mark.vcr
@pytest.mark.block_network
def test_same_idempotency_key_and_body_returns_the_same_session(
    recording: Recording, vcr: Any
) -> None:
    request = PortalRequest(recording.ids.customer, idempotency_key="portalkit-cassette-same-1")
    with Portal(recording.provider()) as portal:
        first = portal.create_link(request)
        second = portal.create_link(request)

    assert second.session_id == first.session_id
    _, replayed = recorded_responses(vcr)
    assert header(replayed["headers"], "Idempotent-Replayed") == "true"
    assert_cassette_played(vcr, 2)


@pytest.mark.vcr
@pytest.mark.block_network
def test_400_idempotency_error_for_a_key_reused_with_other_parameters(
    recording: Recording, vcr: Any
) -> None:
    key = "portalkit-cassette-conflict-1"
    with Portal(recording.provider()) as portal:
        portal.create_link(PortalRequest(recording.ids.customer, idempotency_key=key))
        with pytest.raises(errors.IdempotencyConflict) as caught:
            portal.create_link(
                PortalRequest(recording.ids.customer, locale="de", idempotency_key=key)
            )

    assert caught.value.status == 400  # Stripe's status for idempotency_error
    assert caught.value.request_id
    assert_cassette_played(vcr, 2)


@pytest.mark.vcr
@pytest.mark.block_network
def test_400_names_an_unknown_parameter(recording: Recording, vcr: Any) -> None:
    request = PortalRequest(recording.ids.customer, provider_options={"stripe": {"theme": "dark"}})
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(request)

    assert caught.value.status == 400
    assert caught.value.code == "parameter_unknown"
    assert caught.value.field == "theme"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_unknown_customer_is_customer_not_found(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 400  # a body parameter naming a missing resource
    assert caught.value.code == "resource_missing"
    assert caught.value.request_id
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_401_for_a_wrong_key(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("wrong")) as portal,
        pytest.raises(errors.AuthenticationFailed) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 401
    assert caught.value.request_id
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.live_needs("STRIPE_NO_SCOPE_API_KEY")
def test_403_for_a_restricted_key_without_the_permission(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
def test_503_then_200_reuses_the_idempotency_key(recording: Recording, vcr: Any) -> None:
    recording.script(Fault.status(503))
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert [attempt.headers["Idempotency-Key"] for attempt in sent] == [link.idempotency_key] * 2
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (503, 200)
    assert_cassette_played(vcr, 2)


# -- the twin, on a sandbox of this module's own ------------------------------------------------

KEY = CREDENTIALS["valid"]["api_key"]
CUSTOMER, SECOND, THIRD = TWIN.customers
SUB = TWIN.customers[CUSTOMER][0]


@pytest.fixture(scope="module")
def served() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


@pytest.fixture
def sandbox(served: Sandbox) -> Sandbox:
    served.reset()
    return served


def post(sandbox: Sandbox, path: str, data: str, key: str = KEY, **headers: str) -> httpx.Response:
    return httpx.post(
        sandbox.url + path,
        content=data.encode(),
        headers={
            **({"Authorization": f"Bearer {key}"} if key else {}),
            "Content-Type": "application/x-www-form-urlencoded",
            **headers,
        },
    )


def session(sandbox: Sandbox, data: str, **headers: str) -> httpx.Response:
    return post(sandbox, "/v1/billing_portal/sessions", data, **headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["Request-Id"].startswith("req_")
    error: dict[str, Any] = response.json()["error"]
    return error


def test_seeds_follow_the_convention() -> None:
    assert [len(subs) for subs in TWIN.customers.values()] == [2, 1, 0]
    assert all(TWIN.customer_id.pattern.fullmatch(c) for c in TWIN.customers)


@pytest.mark.parametrize(
    ("data", "param"),
    [
        (f"customer={CUSTOMER}&theme=dark", "theme"),
        (f"customer={CUSTOMER}&flow_data[type]=customer_update&flow_data[colour]=x", None),
        (
            f"customer={CUSTOMER}&flow_data[type]=subscription_cancel"
            f"&flow_data[subscription_cancel][subscription]={SUB}"
            "&flow_data[subscription_cancel][when]=now",
            "flow_data[subscription_cancel][when]",
        ),
    ],
)
def test_an_unknown_parameter_is_named_in_param(
    sandbox: Sandbox, data: str, param: str | None
) -> None:
    answer = session(sandbox, data)
    assert answer.status_code == 400
    error = error_of(answer)
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "parameter_unknown"
    assert error["param"] == (param or "flow_data[colour]")
    assert error["message"] == f"Received unknown parameter: {error['param']}"
    assert error["doc_url"] == "https://stripe.com/docs/error-codes/parameter-unknown"


@pytest.mark.parametrize(
    ("data", "status", "param", "code"),
    [
        ("", 400, "customer", "parameter_missing"),
        (f"customer={THIRD}&locale=en-US", 400, "locale", None),
        (f"customer={CUSTOMER}&flow_data[type]=subscription_pause", 400, "flow_data[type]", None),
        (
            f"customer={CUSTOMER}&flow_data[type]=subscription_cancel",
            400,
            "flow_data[subscription_cancel]",
            "parameter_missing",
        ),
        (  # a subscription of another customer
            f"customer={SECOND}&flow_data[type]=subscription_cancel"
            f"&flow_data[subscription_cancel][subscription]={SUB}",
            400,
            "flow_data[subscription_cancel][subscription]",
            None,
        ),
        (
            f"customer={CUSTOMER}&flow_data[type]=subscription_update"
            "&flow_data[subscription_update][subscription]=sub_1NoSuchSub",
            400,
            "flow_data[subscription_update][subscription]",
            "resource_missing",
        ),
        (
            f"customer={CUSTOMER}&flow_data[type]=customer_update"
            "&flow_data[after_completion][type]=redirect",
            400,
            "flow_data[after_completion][redirect][return_url]",
            "parameter_missing",
        ),
        (
            f"customer={CUSTOMER}&flow_data[type]=customer_update"
            "&flow_data[after_completion][type]=hosted_confirmation"
            f"&flow_data[after_completion][hosted_confirmation][custom_message]={'x' * 501}",
            400,
            "flow_data[after_completion][hosted_confirmation][custom_message]",
            None,
        ),
        (
            f"customer={CUSTOMER}&flow_data[type]=customer_update"
            "&flow_data[after_completion][type]=portal_homepage"
            f"&flow_data[after_completion][redirect][return_url]={BYE_URL}",
            400,
            "flow_data[after_completion][redirect]",
            None,
        ),
        (
            f"customer={CUSTOMER}&configuration=bpc_1NoSuchConfig",
            400,
            "configuration",
            "resource_missing",
        ),
        ("customer=cus_NoSuchCustomer1", 400, "customer", "resource_missing"),
    ],
)
def test_refusals_name_the_parameter(
    sandbox: Sandbox, data: str, status: int, param: str, code: str | None
) -> None:
    answer = session(sandbox, data)
    assert answer.status_code == status
    error = error_of(answer)
    assert error["param"] == param
    assert error.get("code") == code, error["message"]
    assert sandbox.sessions("stripe") == []


def test_a_500_character_confirmation_message_is_taken(sandbox: Sandbox) -> None:
    answer = session(
        sandbox,
        f"customer={CUSTOMER}&flow_data[type]=payment_method_update"
        "&flow_data[after_completion][type]=hosted_confirmation"
        f"&flow_data[after_completion][hosted_confirmation][custom_message]={'x' * 500}",
    )
    assert answer.status_code == 200
    assert answer.json()["flow"]["after_completion"]["hosted_confirmation"] == {
        "custom_message": "x" * 500
    }


@pytest.mark.parametrize(
    ("key", "status", "fragment"),
    [
        (CREDENTIALS["wrong"]["api_key"], 401, "Invalid API Key provided: sk_test_"),
        (CREDENTIALS["no_scope"]["api_key"], 403, "rak_billing_portal_session_write"),
        ("", 401, "You did not provide an API key"),
    ],
)
def test_auth_errors_in_stripes_envelope(
    sandbox: Sandbox, key: str, status: int, fragment: str
) -> None:
    answer = session(sandbox, f"customer={CUSTOMER}", key=key)
    assert answer.status_code == status
    error = error_of(answer)
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"]
    assert key not in error["message"] or not key  # masked, never echoed whole


def test_idempotency_replays_and_conflicts_as_stripe(sandbox: Sandbox) -> None:
    first = session(sandbox, f"customer={CUSTOMER}", **{"Idempotency-Key": "k-1"})
    again = session(sandbox, f"customer={CUSTOMER}", **{"Idempotency-Key": "k-1"})
    other = session(sandbox, f"customer={CUSTOMER}&locale=de", **{"Idempotency-Key": "k-1"})

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Request-Id"] != first.headers["Request-Id"]
    assert "Idempotent-Replayed" not in first.headers
    assert other.status_code == 400
    assert error_of(other)["type"] == "idempotency_error"
    assert len(sandbox.sessions("stripe")) == 1
    too_long = session(sandbox, f"customer={CUSTOMER}", **{"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 400


def test_configurations_list_create_and_use(sandbox: Sandbox) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    listed = httpx.get(
        f"{sandbox.url}/v1/billing_portal/configurations?active=true&limit=100", headers=auth
    )
    assert listed.status_code == 200
    page = listed.json()
    assert (page["object"], page["has_more"]) == ("list", False)
    (default,) = page["data"]
    assert default["id"] == DEFAULT_CONFIGURATION
    assert default["is_default"] is True
    assert default["features"]["subscription_cancel"]["enabled"] is True

    created = post(
        sandbox,
        "/v1/billing_portal/configurations",
        "features[subscription_cancel][enabled]=false&features[invoice_history][enabled]=true"
        "&features[subscription_update][enabled]=true"
        f"&features[subscription_update][products][0][product]={SEEDED_PRODUCT}"
        "&features[subscription_update][products][0][prices][0]=price_1X"
        "&metadata[team]=billing&name=No%20cancel",
    )
    assert created.status_code == 200
    made = created.json()
    assert made["id"].startswith("bpc_")
    assert (made["name"], made["metadata"], made["is_default"]) == (
        "No cancel",
        {"team": "billing"},
        False,
    )
    assert made["features"]["subscription_cancel"]["enabled"] is False
    assert made["features"]["subscription_cancel"]["mode"] == "at_period_end"  # a default

    listed = httpx.get(f"{sandbox.url}/v1/billing_portal/configurations?limit=1", headers=auth)
    assert [c["id"] for c in listed.json()["data"]] == [made["id"]]  # newest first
    assert listed.json()["has_more"] is True
    defaults = httpx.get(
        f"{sandbox.url}/v1/billing_portal/configurations?is_default=true", headers=auth
    )
    assert [c["id"] for c in defaults.json()["data"]] == [DEFAULT_CONFIGURATION]
    retrieved = httpx.get(
        f"{sandbox.url}/v1/billing_portal/configurations/{made['id']}", headers=auth
    )
    assert retrieved.json() == made

    # The configuration in a session: the page offers no cancel, and no cancel flow is minted.
    minted = session(sandbox, f"customer={CUSTOMER}&configuration={made['id']}")
    assert minted.json()["configuration"] == made["id"]
    page_html = httpx.get(minted.json()["url"]).text
    assert 'id="action-view_invoices"' in page_html
    assert 'id="action-cancel_subscription"' not in page_html
    refused = session(
        sandbox,
        f"customer={CUSTOMER}&configuration={made['id']}&flow_data[type]=subscription_cancel"
        f"&flow_data[subscription_cancel][subscription]={SUB}",
    )
    assert refused.status_code == 400
    assert error_of(refused)["param"] == "flow_data[type]"


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ("name=x", "features"),
        ("features[subscription_cancel][mode]=later", "features[subscription_cancel][mode]"),
        ("features[invoice_history][enabled]=yes", "features[invoice_history][enabled]"),
        ("features[subscription_update][enabled]=true", "features[subscription_update][products]"),
        ("features[invoice_history][enabled]=true&colour=red", "colour"),
    ],
)
def test_configuration_create_is_strict(sandbox: Sandbox, data: str, param: str) -> None:
    answer = post(sandbox, "/v1/billing_portal/configurations", data)
    assert answer.status_code == 400
    assert error_of(answer)["param"] == param


def test_list_refuses_an_unknown_query_parameter(sandbox: Sandbox) -> None:
    answer = httpx.get(
        f"{sandbox.url}/v1/billing_portal/configurations?colour=red",
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert answer.status_code == 400
    assert error_of(answer)["param"] == "colour"


def _flow_session(sandbox: Sandbox, after: str) -> dict[str, Any]:
    answer = session(
        sandbox,
        f"customer={CUSTOMER}&return_url={RETURN_URL}&flow_data[type]=subscription_cancel"
        f"&flow_data[subscription_cancel][subscription]={SUB}{after}",
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _open_and_confirm(url: str, client: httpx.Client) -> tuple[httpx.Response, httpx.Response, str]:
    opened = client.get(url)
    assert opened.status_code == 200
    assert 'data-action="cancel_subscription"' in opened.text
    assert f'data-subscription-id="{SUB}"' in opened.text
    action = re.search(r'<form id="flow-form" method="post" action="([^"]+)"', opened.text)
    secret = re.search(r'name="flow_secret" value="([^"]+)"', opened.text)
    assert action
    assert secret
    done = client.post(
        action[1],
        content=f"flow_secret={secret[1]}".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return opened, done, action[1]


@pytest.mark.parametrize(
    ("after", "location", "message"),
    [
        (
            f"&flow_data[after_completion][type]=redirect"
            f"&flow_data[after_completion][redirect][return_url]={BYE_URL}",
            BYE_URL,
            None,
        ),
        (
            "&flow_data[after_completion][type]=hosted_confirmation"
            "&flow_data[after_completion][hosted_confirmation][custom_message]=See%20you%21",
            None,
            "See you!",
        ),
        (
            "&flow_data[after_completion][type]=hosted_confirmation",
            None,
            "Your subscription has been canceled.",
        ),
        ("&flow_data[after_completion][type]=portal_homepage", "/stripe/session", None),
        ("", "/stripe/session", None),  # Stripe's default: the portal's home page
    ],
)
def test_the_hosted_page_carries_out_after_completion(
    sandbox: Sandbox, after: str, location: str | None, message: str | None
) -> None:
    minted = _flow_session(sandbox, after)
    assert minted["url"].startswith(f"{sandbox.url}/stripe/p/test_")
    with httpx.Client(base_url=sandbox.url) as client:
        _opened, done, action = _open_and_confirm(minted["url"], client)
        if location is not None:
            assert done.status_code == 303
            assert done.headers["location"] == location
        else:
            assert done.status_code == 200
            assert message is not None
            assert f'<p id="confirmation-message">{message}</p>' in done.text
        if location == "/stripe/session":  # the cookie the link set opens the home page
            home = client.get("/stripe/session")
            assert home.status_code == 200
            assert 'id="action-cancel_subscription"' in home.text
        # The flow is done once, and the link was single-use.
        again = client.post(action, content=b"flow_secret=x")
        assert again.status_code in (403, 410)
        assert client.get(minted["url"]).status_code == 410


def test_the_flow_page_refuses_a_forged_confirmation(sandbox: Sandbox) -> None:
    minted = _flow_session(sandbox, "")
    with httpx.Client() as client:
        client.get(minted["url"])
        token_path = minted["url"].split("/stripe/p/", 1)[1]
        forged = client.post(
            f"{sandbox.url}/stripe/p/{token_path}/complete", content=b"flow_secret=guess"
        )
    assert forged.status_code == 403


def test_the_page_redirect_is_allowed_by_its_csp(sandbox: Sandbox) -> None:
    after = (
        "&flow_data[after_completion][type]=redirect"
        f"&flow_data[after_completion][redirect][return_url]={BYE_URL}"
    )
    opened = httpx.get(_flow_session(sandbox, after)["url"])
    assert "form-action 'self' https://yourapp.example" in opened.headers["content-security-policy"]


def test_a_fault_answers_in_stripes_envelope(sandbox: Sandbox) -> None:
    sandbox.script("stripe", Fault.status(429))
    answer = session(sandbox, f"customer={CUSTOMER}")
    assert answer.status_code == 429
    error = error_of(answer)
    assert (error["type"], error["code"]) == ("invalid_request_error", "rate_limit")


# -- the cassette scan knows Stripe's portal URLs -------------------------------------------------


def test_the_scan_catches_a_stripe_portal_token() -> None:
    dirty = '{"url": "http://127.0.0.1:9/stripe/p/test_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"}'
    assert any("portal" in problem for problem in find_secrets(dirty))
    clean = '{"url": "http://127.0.0.1:9/stripe/p/test_scrubbed1"}'
    assert find_secrets(clean) == []
