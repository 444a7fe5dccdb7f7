"""Stripe through Portal, replayed from cassettes/stripe/, and the Stripe twin itself.

The cassette tests were recorded by running them against portalkit.sandbox over loopback
HTTP (or against Stripe's test mode, with STRIPE_API_KEY set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

The twin tests below them run against a sandbox this module starts on 127.0.0.1: Stripe's
strictness, its error envelope, idempotency, the configuration store and the hosted page
carrying out a flow's after-completion behaviour.

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

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
from _mock import Script, Sent, both_modes, mint, record_sleeps, reply

from bench._vendor import SdkTarget, VendorBench
from portalkit import (
    Action,
    AfterCompletion,
    Feature,
    Flow,
    FlowDiscount,
    FlowItem,
    Portal,
    PortalConfiguration,
    PortalRequest,
    ProviderEnv,
    RetentionOffer,
    RetryPolicy,
    errors,
)
from portalkit._http import httpx
from portalkit.providers import stripe as stripe_module
from portalkit.providers.paddle import Paddle
from portalkit.providers.stripe import STRIPE_VERSION, Stripe, forget_managed_configurations
from portalkit.providers.stripe_locales import LOCALES, stripe_locale
from portalkit.providers.stripe_sandbox import (
    CREDENTIALS,
    DEFAULT_CONFIGURATION,
    SEEDED_PRODUCT,
    TWIN,
)
from portalkit.providers.stripe_wire import form_body
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


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Stripe adapter, through Portal and AsyncPortal over httpx.MockTransport, and its
# multi-request exchange (managed configurations) driven by hand.
#
# The contract is shared/provider-docs/stripe.md and the official ``stripe`` package (its
# parity test is tests/test_stripe_sdk_parity.py): POST /v1/billing_portal/sessions,
# form-encoded in bracket notation, Bearer key, Idempotency-Key, pinned Stripe-Version.

API_KEY = "sk_test_51Hparity0do0not0leak"
DOC_CUSTOMER = "cus_NeZwdNtLEOXuvB"
DOC_SUB = "sub_1MowQVLkdIwHu7ixeRlqHVzs"
DOC_RETURN_URL = "https://example.com/account"
PORTAL_URL = "https://billing.stripe.com/p/session/test_YWNjdF8xTTJKVGtMa2RJd0h1N2l4"
ONCE = RetryPolicy(max_attempts=1)


def doc_session(**fields: Any) -> dict[str, Any]:
    """Stripe's documented billing_portal.session example (API reference)."""
    return {
        "id": "bps_1MrSjzLkdIwHu7ixex0IvU9b",
        "object": "billing_portal.session",
        "configuration": "bpc_1MAhNDLkdIwHu7ixckACO1Jq",
        "created": 1680210639,
        "customer": DOC_CUSTOMER,
        "flow": None,
        "livemode": False,
        "locale": None,
        "on_behalf_of": None,
        "return_url": DOC_RETURN_URL,
        "url": PORTAL_URL,
        **fields,
    }


def created(**fields: Any) -> Script:
    return Script(reply(200, doc_session(**fields), headers={"Request-Id": "req_s1"}))


def sent_form(sent: Sent | httpx.Request) -> dict[str, str]:
    pairs = parse_qsl(sent.content.decode(), keep_blank_values=True)
    fields = dict(pairs)
    assert len(fields) == len(pairs), "a field was sent twice"
    return fields


def stripe(**options: Any) -> Stripe:
    return Stripe(api_key=API_KEY, **options)


def flow_echo(flow_type: str) -> dict[str, Any]:
    return {"type": flow_type, "after_completion": {"type": "portal_homepage"}}


@pytest.fixture(autouse=True)
def _fresh_configuration_cache() -> Iterator[None]:
    stripe_module.forget_managed_configurations()
    yield
    stripe_module.forget_managed_configurations()


# -- the request on the wire ---------------------------------------------------------------


@both_modes
def test_the_request_is_what_stripe_documents(mode: str) -> None:
    script = created()
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER, return_url=DOC_RETURN_URL))

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.stripe.com/v1/billing_portal/sessions"
    assert sent_form(sent) == {"customer": DOC_CUSTOMER, "return_url": DOC_RETURN_URL}
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.headers["Stripe-Version"] == STRIPE_VERSION == "2026-10-28.endive"
    assert sent.headers["Idempotency-Key"] == link.idempotency_key
    assert link.idempotency_key
    assert "Stripe-Account" not in sent.headers


@both_modes
def test_only_the_customer_is_required(mode: str) -> None:
    script = created(return_url=None)
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER, idempotency_key="order-7"))
    assert sent_form(script.only) == {"customer": DOC_CUSTOMER}
    assert script.only.headers["Idempotency-Key"] == "order-7"
    assert link.return_url is None


@both_modes
def test_version_account_base_url_and_configuration_settings(mode: str) -> None:
    adapter = stripe(
        stripe_version="2025-03-31.basil",
        stripe_account="acct_1Connected",
        configuration="bpc_1Base",
        base_url="http://127.0.0.1:9100/",
    )
    script = created()
    mint(mode, adapter, script, PortalRequest(DOC_CUSTOMER, on_behalf_of="acct_1Settles"))
    sent = script.only
    assert str(sent.url) == "http://127.0.0.1:9100/v1/billing_portal/sessions"
    assert sent.headers["Stripe-Version"] == "2025-03-31.basil"
    assert sent.headers["Stripe-Account"] == "acct_1Connected"  # act as the connected account
    assert sent_form(sent) == {
        "customer": DOC_CUSTOMER,
        "on_behalf_of": "acct_1Settles",  # a body field: the settlement merchant's branding
        "configuration": "bpc_1Base",
    }


@both_modes
def test_provider_options_per_request(mode: str) -> None:
    options = {
        "stripe": {
            "configuration": "bpc_1PerSession",
            "stripe_account": "acct_1PerSession",
            "expand": ["configuration"],
        },
        "paddle": {"ignored": True},
    }
    script = created()
    mint(
        mode,
        stripe(configuration="bpc_1Default"),
        script,
        PortalRequest(DOC_CUSTOMER, provider_options=options),
    )
    assert sent_form(script.only) == {
        "customer": DOC_CUSTOMER,
        "expand[0]": "configuration",
        "configuration": "bpc_1PerSession",
    }
    assert script.only.headers["Stripe-Account"] == "acct_1PerSession"


FLOWS = [
    pytest.param(
        Flow(Action.CANCEL_SUBSCRIPTION, DOC_SUB),
        {
            "flow_data[type]": "subscription_cancel",
            "flow_data[subscription_cancel][subscription]": DOC_SUB,
        },
        id="cancel",
    ),
    pytest.param(
        Flow(
            Action.CANCEL_SUBSCRIPTION,
            DOC_SUB,
            retention=RetentionOffer("STAY20"),
            after_completion=AfterCompletion.redirect("https://example.com/stayed"),
        ),
        {
            "flow_data[type]": "subscription_cancel",
            "flow_data[subscription_cancel][subscription]": DOC_SUB,
            "flow_data[subscription_cancel][retention][type]": "coupon_offer",
            "flow_data[subscription_cancel][retention][coupon_offer][coupon]": "STAY20",
            "flow_data[after_completion][type]": "redirect",
            "flow_data[after_completion][redirect][return_url]": "https://example.com/stayed",
        },
        id="cancel-retention-redirect",
    ),
    pytest.param(
        Flow(Action.UPDATE_SUBSCRIPTION, DOC_SUB, after_completion=AfterCompletion.portal_home()),
        {
            "flow_data[type]": "subscription_update",
            "flow_data[subscription_update][subscription]": DOC_SUB,
            "flow_data[after_completion][type]": "portal_homepage",
        },
        id="update",
    ),
    pytest.param(
        Flow(
            Action.UPDATE_SUBSCRIPTION,
            DOC_SUB,
            items=[FlowItem("si_OVoDdJy6SQnfNh", price_id="price_1Pro", quantity=3)],
            discounts=[FlowDiscount(coupon="LAUNCH"), FlowDiscount(promotion_code="promo_1Spring")],
            after_completion=AfterCompletion.confirmation("You are on Pro now."),
        ),
        {
            "flow_data[type]": "subscription_update_confirm",
            "flow_data[subscription_update_confirm][subscription]": DOC_SUB,
            "flow_data[subscription_update_confirm][items][0][id]": "si_OVoDdJy6SQnfNh",
            "flow_data[subscription_update_confirm][items][0][price]": "price_1Pro",
            "flow_data[subscription_update_confirm][items][0][quantity]": "3",
            "flow_data[subscription_update_confirm][discounts][0][coupon]": "LAUNCH",
            "flow_data[subscription_update_confirm][discounts][1][promotion_code]": "promo_1Spring",
            "flow_data[after_completion][type]": "hosted_confirmation",
            "flow_data[after_completion][hosted_confirmation][custom_message]": (
                "You are on Pro now."
            ),
        },
        id="confirm-update",
    ),
    pytest.param(
        Flow(Action.UPDATE_PAYMENT_METHOD, after_completion=AfterCompletion.confirmation()),
        {
            "flow_data[type]": "payment_method_update",
            "flow_data[after_completion][type]": "hosted_confirmation",
        },
        id="payment-method",
    ),
    pytest.param(
        Flow(Action.UPDATE_CUSTOMER_DETAILS),
        {"flow_data[type]": "customer_update"},
        id="customer-details",
    ),
    pytest.param(Flow(Action.OVERVIEW), {}, id="overview-is-no-flow"),
]


@both_modes
@pytest.mark.parametrize(("flow", "fields"), FLOWS)
def test_flows_become_flow_data(mode: str, flow: Flow, fields: dict[str, str]) -> None:
    echo = None if not fields else flow_echo(fields["flow_data[type]"])
    script = created(flow=echo)
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER, flow=flow))

    assert sent_form(script.only) == {"customer": DOC_CUSTOMER, **fields}
    assert link.ignored_fields == ()
    if fields:
        # The session URL opens the flow: the same deep-link vocabulary as Paddle's.
        assert link.deep_link(flow.action, flow.subscription_id) == PORTAL_URL
    else:
        assert link.deep_links == ()


@pytest.mark.parametrize(
    ("tag", "sent"),
    [
        ("fr", "fr"),
        ("pt-BR", "pt-BR"),
        ("pt_br", "pt-BR"),
        ("FR-ca", "fr-CA"),
        ("en-US", "en"),
        ("en-GB", "en-GB"),
        ("es-ES", "es"),
        ("es-MX", "es-419"),
        ("es-419", "es-419"),
        ("pt-PT", "pt"),
        ("de-CH", "de"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-Hant", "zh-TW"),
        ("zh-Hant-HK", "zh-HK"),
        ("zh-MO", "zh-HK"),
        ("no", "nb"),
        ("nb-NO", "nb"),
        ("tl", "fil"),
    ],
)
def test_locale_mapping(tag: str, sent: str) -> None:
    assert stripe_locale(tag) == sent
    script = created()
    mint("sync", stripe(), script, PortalRequest(DOC_CUSTOMER, locale=tag))
    assert sent_form(script.only)["locale"] == sent


def test_every_stripe_locale_maps_to_itself() -> None:
    assert len(LOCALES) == 47  # 46 tags and auto
    # "auto" is not a language tag, so no PortalRequest carries it: leaving locale out is
    # the same on Stripe ("blank or auto": the customer's preferred_locales or browser).
    with pytest.raises(errors.InvalidRequest):
        PortalRequest(DOC_CUSTOMER, locale="auto")
    for tag in LOCALES:
        assert stripe_locale(tag) == tag


@both_modes
@pytest.mark.parametrize("tag", ["ar", "he-IL", "uk", "sw"])
def test_a_locale_stripe_lacks_is_dropped_never_sent(mode: str, tag: str) -> None:
    script = created()
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER, locale=tag))
    assert "locale" not in sent_form(script.only)
    assert link.ignored_fields == ("locale",)


@both_modes
def test_a_locale_stripe_lacks_is_refused_when_strict(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER, locale="ar"), strict=True)
    assert caught.value.field == "locale"
    assert script.sent == []


# -- refused locally: nothing is sent -------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("request_", "field", "error"),
    [
        (PortalRequest("ctm_01abc"), "customer_id", errors.InvalidRequest),
        (PortalRequest(DOC_CUSTOMER, on_behalf_of="acc_1"), "on_behalf_of", errors.InvalidRequest),
        (
            PortalRequest(DOC_CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION, "sub-1")),
            "flow.subscription_id",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(DOC_CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(DOC_CUSTOMER, flow=Flow(Action.UPDATE_PAYMENT_METHOD, DOC_SUB)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(DOC_CUSTOMER, flow=Flow(Action.VIEW_INVOICES)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(DOC_CUSTOMER, flow=Flow(Action.OVERVIEW, DOC_SUB)),
            "flow",
            errors.UnsupportedFeature,
        ),
        (
            PortalRequest(
                DOC_CUSTOMER,
                flow=Flow(
                    Action.UPDATE_SUBSCRIPTION,
                    DOC_SUB,
                    items=[FlowItem("si_1", quantity=1), FlowItem("si_2", quantity=2)],
                ),
            ),
            "flow.items",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(
                DOC_CUSTOMER,
                flow=Flow(
                    Action.UPDATE_SUBSCRIPTION, DOC_SUB, items=[FlowItem("item_1", quantity=1)]
                ),
            ),
            "flow.items[0].subscription_item_id",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(
                DOC_CUSTOMER,
                flow=Flow(
                    Action.UPDATE_SUBSCRIPTION,
                    DOC_SUB,
                    items=[FlowItem("si_1", quantity=1)],
                    discounts=[FlowDiscount(promotion_code="SPRING")],
                ),
            ),
            "flow.discounts[0].promotion_code",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(DOC_CUSTOMER, provider_options={"stripe": {"configuration": "cfg_1"}}),
            "provider_options['stripe'].configuration",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(DOC_CUSTOMER, provider_options={"stripe": {"stripe_account": "cus_1"}}),
            "provider_options['stripe'].stripe_account",
            errors.InvalidRequest,
        ),
        (
            PortalRequest(DOC_CUSTOMER, provider_options={"stripe": {"customer": "cus_other"}}),
            "provider_options['stripe'].customer",
            errors.InvalidRequest,
        ),
    ],
)
def test_refused_locally(
    mode: str, request_: PortalRequest, field: str, error: type[errors.PortalError]
) -> None:
    script = Script()
    with pytest.raises(error) as caught:
        mint(mode, stripe(), script, request_)
    assert isinstance(caught.value, errors.InvalidRequest)
    assert caught.value.field == field
    assert caught.value.provider == "stripe"
    assert script.sent == []


@pytest.mark.parametrize(
    "key", ["pk_test_abc", "sk_prod_abc", "sk_test_", "whsec_abc", "sk_test_abc def", "", None]
)
def test_the_key_format_is_checked_and_never_shown(key: Any) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        Stripe(api_key=key)
    assert caught.value.field == "api_key"
    if key and key != "sk_test_":  # a bare prefix is part of the rule itself
        assert key not in str(caught.value)


@pytest.mark.parametrize(
    "key", ["sk_live_abc123", "sk_test_abc123", "rk_live_abc123", "rk_test_abc"]
)
def test_secret_and_restricted_keys_are_accepted(key: str) -> None:
    assert Stripe(api_key=key).api_key == key
    assert key not in repr(Stripe(api_key=key))


def test_settings_are_checked() -> None:
    with pytest.raises(errors.InvalidRequest, match="stripe_account"):
        stripe(stripe_account="acc_1")
    with pytest.raises(errors.InvalidRequest, match="configuration"):
        stripe(configuration="cfg_1")
    with pytest.raises(errors.InvalidRequest, match="base_url"):
        stripe(base_url="http://api.example.com")


def test_from_env() -> None:
    env = ProviderEnv(
        "stripe",
        {
            "STRIPE_API_KEY": API_KEY,
            "STRIPE_BASE_URL": "http://127.0.0.1:9999",
            "STRIPE_API_VERSION": "2025-01-27.acacia",
        },
    )
    adapter = Stripe.from_env(env)
    assert adapter.base_url == "http://127.0.0.1:9999"
    assert adapter.stripe_version == "2025-01-27.acacia"
    assert Stripe.from_env(ProviderEnv("stripe", {"STRIPE_API_KEY": API_KEY})).base_url == (
        "https://api.stripe.com"
    )
    with pytest.raises(errors.ConfigurationError) as caught:
        Stripe.from_env(ProviderEnv("stripe", {"STRIPE_API_KEY": "pk_test_publishable"}))
    assert caught.value.variable == "STRIPE_API_KEY"
    assert "pk_test_publishable" not in str(caught.value)


# -- the answer -----------------------------------------------------------------------------


@both_modes
def test_the_documented_answer(mode: str) -> None:
    link = mint(mode, stripe(), created(), PortalRequest(DOC_CUSTOMER, return_url=DOC_RETURN_URL))
    assert link.provider == "stripe"
    assert link.session_id == "bps_1MrSjzLkdIwHu7ixex0IvU9b"
    assert link.customer_id == DOC_CUSTOMER
    assert link.url == PORTAL_URL
    assert link.created_at == datetime(2023, 3, 30, 21, 10, 39, tzinfo=UTC)
    assert link.expires_at is None  # Stripe reports none: never invented
    assert link.return_url == DOC_RETURN_URL
    assert link.request_id == "req_s1"
    assert link.raw == doc_session()
    assert PORTAL_URL not in repr(link)
    assert urlsplit(link.url).hostname in Stripe.portal_hosts


@both_modes
@pytest.mark.parametrize(
    ("body", "what"),
    [
        (doc_session(url=None), "url"),
        (doc_session(id=None), "id"),
        (doc_session(created="2023-03-30"), "created"),
        (doc_session(created=True), "created"),
        ({k: v for k, v in doc_session().items() if k != "customer"}, "customer"),
        ({"data": doc_session()}, "id"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any, what: str) -> None:
    script = Script(reply(200, body, headers={"Request-Id": "req_bad"}))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER), retry=ONCE)
    assert caught.value.request_id == "req_bad"
    assert what in str(caught.value)


@both_modes
@pytest.mark.parametrize("echo", [None, flow_echo("subscription_update")])
def test_a_session_that_does_not_open_the_flow_is_refused(mode: str, echo: Any) -> None:
    script = created(flow=echo)
    with pytest.raises(errors.InvalidResponse, match="flow"):
        mint(
            mode,
            stripe(),
            script,
            PortalRequest(DOC_CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION, DOC_SUB)),
            retry=ONCE,
        )


# -- errors ---------------------------------------------------------------------------------


def stripe_error(kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {
        "error": {
            "type": kind,
            "code": code,
            "param": param,
            "message": f"{kind} for the test",
            "doc_url": f"https://docs.stripe.com/error-codes/{code}" if code else None,
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_e1",
        }
    }


@both_modes
@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            400,
            stripe_error("invalid_request_error", "resource_missing", "customer"),
            errors.CustomerNotFound,
            "resource_missing",
        ),
        (
            404,
            stripe_error("invalid_request_error", "resource_missing", "customer"),
            errors.CustomerNotFound,
            "resource_missing",
        ),
        (
            404,
            stripe_error("invalid_request_error", "resource_missing", "configuration"),
            errors.InvalidRequest,
            "resource_missing",
        ),
        (
            400,
            stripe_error("invalid_request_error", "parameter_unknown", "flow_data[foo]"),
            errors.InvalidRequest,
            "parameter_unknown",
        ),
        (400, stripe_error("idempotency_error"), errors.IdempotencyConflict, "idempotency_error"),
        (409, stripe_error("idempotency_error"), errors.IdempotencyConflict, "idempotency_error"),
        (
            401,
            stripe_error("invalid_request_error"),
            errors.AuthenticationFailed,
            "invalid_request_error",
        ),
        (
            403,
            stripe_error("invalid_request_error", "secret_key_required"),
            errors.PermissionDenied,
            "secret_key_required",
        ),
        (
            429,
            stripe_error("invalid_request_error", "rate_limit"),
            errors.RateLimited,
            "rate_limit",
        ),
        (
            400,
            stripe_error("invalid_request_error", "rate_limit"),
            errors.RateLimited,
            "rate_limit",
        ),
        (500, stripe_error("api_error"), errors.ProviderUnavailable, "api_error"),
        (502, None, errors.ProviderUnavailable, None),
    ],
)
def test_errors(
    mode: str, status: int, body: Any, error: type[errors.PortalError], code: str | None
) -> None:
    script = Script(reply(status, body, headers={"Request-Id": "req_e1"}))
    with pytest.raises(error) as caught:
        mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER), retry=ONCE)
    found = caught.value
    assert type(found) is error
    assert found.provider == "stripe"
    assert found.status == status
    assert found.code == code
    assert found.request_id == "req_e1"
    if body is not None:
        assert found.vendor_message == body["error"]["message"]
        param = body["error"]["param"]
        if param and isinstance(found, errors.InvalidRequest):
            assert found.field == param
    assert API_KEY not in str(found)
    assert "dashboard.stripe.com" not in str(found)


@both_modes
def test_an_unrecognized_url_is_unexpected_endpoint_not_customer_not_found(mode: str) -> None:
    """Stripe's own answer to a path it does not have (a base URL with a stray /v1): its
    envelope, a 404, and no code. The URL is wrong, not the customer (issue 24)."""
    body = {
        "error": {
            "message": "Unrecognized request URL (POST: /v1/v1/billing_portal/sessions)."
            " Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
            "type": "invalid_request_error",
        }
    }
    script = Script(reply(404, body, headers={"Request-Id": "req_url"}))
    with pytest.raises(errors.UnexpectedEndpoint) as caught:
        mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER), retry=ONCE)
    found = caught.value
    assert (found.status, found.request_id, found.retryable) == (404, "req_url", False)
    assert "a URL stripe's API does not know" in str(found)
    assert found.host == "api.stripe.com"
    assert DOC_CUSTOMER not in str(found)
    assert "/billing_portal" not in str(found)  # neither the path nor Stripe's words
    assert len(script.sent) == 1


@both_modes
def test_retries_reuse_the_idempotency_key(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    script = Script(
        reply(500, stripe_error("api_error")),
        reply(429, stripe_error("invalid_request_error", "rate_limit")),
        reply(200, doc_session()),
    )
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER))
    keys = {sent.headers["Idempotency-Key"] for sent in script.sent}
    assert len(script.sent) == 3
    assert keys == {link.idempotency_key}
    assert {sent.content for sent in script.sent} == {script.sent[0].content}


@both_modes
def test_should_retry_false_stops_a_5xx_retry(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    script = Script(reply(500, stripe_error("api_error"), headers={"Stripe-Should-Retry": "false"}))
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER))
    assert caught.value.retryable is False
    assert len(script.sent) == 1


@both_modes
def test_should_retry_true_retries_a_409(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    record_sleeps(monkeypatch)
    lock_timeout = stripe_error("invalid_request_error", "lock_timeout")
    script = Script(
        reply(409, lock_timeout, headers={"Stripe-Should-Retry": "true"}), reply(200, doc_session())
    )
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER))
    assert len(script.sent) == 2
    assert link.session_id == "bps_1MrSjzLkdIwHu7ixex0IvU9b"
    # Without the hint a 409 is not retried.
    script = Script(reply(409, lock_timeout))
    with pytest.raises(errors.IdempotencyConflict):
        mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER))
    assert len(script.sent) == 1


# -- the feature policy for every other vendor ----------------------------------------------


@pytest.mark.parametrize(
    ("flow", "feature"),
    [
        (
            Flow(Action.CANCEL_SUBSCRIPTION, DOC_SUB, retention=RetentionOffer("STAY")),
            Feature.FLOW_RETENTION_OFFER,
        ),
        (
            Flow(Action.UPDATE_SUBSCRIPTION, DOC_SUB, items=[FlowItem("si_1", price_id="price_2")]),
            Feature.FLOW_ITEMS,
        ),
    ],
)
def test_a_vendor_without_them_refuses_plan_changes_and_offers(
    flow: Flow, feature: Feature
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint("sync", Paddle(api_key="pdl_k"), script, PortalRequest("ctm_01abc", flow=flow))
    assert caught.value.feature == feature.value
    assert script.sent == []


def test_a_vendor_without_it_drops_after_completion() -> None:
    from _mock import PADDLE_DOC_CUSTOMER, PADDLE_DOC_RESPONSE, PADDLE_DOC_SUBSCRIPTION

    flow = Flow(
        Action.CANCEL_SUBSCRIPTION,
        PADDLE_DOC_SUBSCRIPTION,
        after_completion=AfterCompletion.confirmation("Bye"),
    )
    script = Script(reply(201, PADDLE_DOC_RESPONSE))
    link = mint(
        "sync",
        Paddle(api_key="pdl_k"),
        script,
        PortalRequest(PADDLE_DOC_CUSTOMER, flow=flow),
    )
    assert link.ignored_fields == ("flow.after_completion",)
    with pytest.raises(errors.UnsupportedFeature):
        mint(
            "sync",
            Paddle(api_key="pdl_k"),
            Script(),
            PortalRequest(PADDLE_DOC_CUSTOMER, flow=flow),
            strict=True,
        )


# -- managed configurations: the exchange, by hand -----------------------------------------

DEFAULT_CONFIGURATION_OBJECT: dict[str, Any] = {
    "id": "bpc_1Default",
    "object": "billing_portal.configuration",
    "active": True,
    "is_default": True,
    "updated": 1700000000,
    "created": 1690000000,
    "livemode": False,
    "metadata": {},
    "name": None,
    "application": None,
    "default_return_url": None,
    "business_profile": {
        "headline": "Acme",
        "privacy_policy_url": None,
        "terms_of_service_url": None,
    },
    "login_page": {"enabled": False, "url": None},
    "features": {
        "customer_update": {"allowed_updates": ["email", "address"], "enabled": True},
        "invoice_history": {"enabled": True},
        "payment_method_update": {"enabled": True, "payment_method_configuration": None},
        "subscription_cancel": {
            "cancellation_reason": {"enabled": False, "options": []},
            "enabled": True,
            "mode": "at_period_end",
            "proration_behavior": "none",
        },
        "subscription_update": {
            "default_allowed_updates": ["price"],
            "enabled": True,
            "products": [{"prices": ["price_1A", "price_1B"], "product": "prod_1"}],
            "proration_behavior": "create_prorations",
            "schedule_at_period_end": {"conditions": []},
            "billing_cycle_anchor": None,
            "trial_update_behavior": "end_trial",
        },
    },
}
NO_CANCEL = PortalConfiguration(cancel_subscription=False)


def ok(body: Any, request_id: str = "req_x") -> httpx.Response:
    return httpx.Response(200, json=body, headers={"Request-Id": request_id})


def page(*configurations: dict[str, Any], has_more: bool = False) -> httpx.Response:
    return ok({"object": "list", "data": list(configurations), "has_more": has_more})


def managed_request(**fields: Any) -> PortalRequest:
    fields.setdefault("configuration", NO_CANCEL)
    return PortalRequest(DOC_CUSTOMER, idempotency_key="sess-key-1", **fields)


def test_exchange_reads_the_default_creates_a_configuration_and_uses_it() -> None:
    adapter = stripe()
    exchange = adapter.exchange(managed_request(return_url=DOC_RETURN_URL))

    listing = next(exchange)
    assert listing.method == "GET"
    assert listing.url.path == "/v1/billing_portal/configurations"
    assert dict(listing.url.params) == {"active": "true", "limit": "100"}
    assert listing.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "Idempotency-Key" not in listing.headers

    create = exchange.send(page(DEFAULT_CONFIGURATION_OBJECT))
    assert create.method == "POST"
    assert create.url.path == "/v1/billing_portal/configurations"
    fields = sent_form(create)
    fingerprint = fields["metadata[portalkit_fingerprint]"]
    assert create.headers["Idempotency-Key"] == f"portalkit-bpc-{fingerprint}"
    assert fields == {
        # the default's features, as its create call takes them ...
        "business_profile[headline]": "Acme",
        "features[customer_update][allowed_updates][0]": "email",
        "features[customer_update][allowed_updates][1]": "address",
        "features[customer_update][enabled]": "true",
        "features[invoice_history][enabled]": "true",
        "features[payment_method_update][enabled]": "true",
        "features[subscription_cancel][cancellation_reason][enabled]": "false",
        "features[subscription_cancel][cancellation_reason][options]": "",
        # ... with the toggle applied ...
        "features[subscription_cancel][enabled]": "false",
        "features[subscription_cancel][mode]": "at_period_end",
        "features[subscription_cancel][proration_behavior]": "none",
        "features[subscription_update][default_allowed_updates][0]": "price",
        "features[subscription_update][enabled]": "true",
        "features[subscription_update][products][0][prices][0]": "price_1A",
        "features[subscription_update][products][0][prices][1]": "price_1B",
        "features[subscription_update][products][0][product]": "prod_1",
        "features[subscription_update][proration_behavior]": "create_prorations",
        "features[subscription_update][schedule_at_period_end][conditions]": "",
        "features[subscription_update][trial_update_behavior]": "end_trial",
        "login_page[enabled]": "false",
        # ... named and marked as portalkit's.
        "name": "portalkit: bpc_1Default with cancel_subscription=false",
        "metadata[portalkit_fingerprint]": fingerprint,
        "metadata[portalkit_base]": "bpc_1Default",
    }

    session_request = exchange.send(
        ok({**DEFAULT_CONFIGURATION_OBJECT, "id": "bpc_1Managed", "is_default": False})
    )
    assert session_request.url.path == "/v1/billing_portal/sessions"
    assert session_request.headers["Idempotency-Key"] == "sess-key-1"
    assert sent_form(session_request) == {
        "customer": DOC_CUSTOMER,
        "return_url": DOC_RETURN_URL,
        "configuration": "bpc_1Managed",
    }
    with pytest.raises(StopIteration) as done:
        exchange.send(ok(doc_session(configuration="bpc_1Managed"), "req_last"))
    link = done.value.value
    assert link.url == PORTAL_URL
    assert link.request_id == "req_last"

    # The same toggles again in this process: one request, the cached configuration.
    again = adapter.exchange(managed_request())
    assert sent_form(next(again)) == {"customer": DOC_CUSTOMER, "configuration": "bpc_1Managed"}
    # ... and today's one-request shell can use it too.
    assert sent_form(adapter.build_request(managed_request()))["configuration"] == "bpc_1Managed"


def test_the_configuration_key_depends_on_the_toggles_and_the_base() -> None:
    def create_key(configuration: PortalConfiguration, base: dict[str, Any]) -> str:
        stripe_module.forget_managed_configurations()
        exchange = stripe().exchange(
            PortalRequest(DOC_CUSTOMER, idempotency_key="k", configuration=configuration)
        )
        next(exchange)
        return exchange.send(page(base)).headers["Idempotency-Key"]

    first = create_key(NO_CANCEL, DEFAULT_CONFIGURATION_OBJECT)
    assert create_key(NO_CANCEL, DEFAULT_CONFIGURATION_OBJECT) == first  # deterministic
    assert (
        create_key(PortalConfiguration(cancel_subscription=True), DEFAULT_CONFIGURATION_OBJECT)
        != first
    )
    both = PortalConfiguration(cancel_subscription=False, view_invoices=False)
    assert create_key(both, DEFAULT_CONFIGURATION_OBJECT) != first
    assert create_key(NO_CANCEL, {**DEFAULT_CONFIGURATION_OBJECT, "updated": 1700000001}) != first
    assert create_key(NO_CANCEL, {**DEFAULT_CONFIGURATION_OBJECT, "id": "bpc_1Other"}) != first
    assert len(first) <= 255


def test_a_configuration_made_before_is_found_not_made_again() -> None:
    exchange = stripe().exchange(managed_request())
    next(exchange)
    create = exchange.send(page(DEFAULT_CONFIGURATION_OBJECT))
    fingerprint = sent_form(create)["metadata[portalkit_fingerprint]"]
    stripe_module.forget_managed_configurations()  # a new process

    exchange = stripe().exchange(managed_request())
    first = next(exchange)
    made_before = {
        **DEFAULT_CONFIGURATION_OBJECT,
        "id": "bpc_1MadeBefore",
        "is_default": False,
        "metadata": {"portalkit_fingerprint": fingerprint},
    }
    second = exchange.send(page(DEFAULT_CONFIGURATION_OBJECT, made_before, has_more=True))
    assert second.method == "GET"  # has_more: the next page
    assert dict(second.url.params)["starting_after"] == "bpc_1MadeBefore"
    assert first.url.params.get("starting_after") is None
    session_request = exchange.send(page())
    assert sent_form(session_request)["configuration"] == "bpc_1MadeBefore"


def test_toggles_apply_to_an_explicit_base_configuration() -> None:
    base = {**DEFAULT_CONFIGURATION_OBJECT, "id": "bpc_1Base", "is_default": False}
    exchange = stripe(configuration="bpc_1Base").exchange(
        managed_request(configuration=PortalConfiguration(view_invoices=False))
    )
    next(exchange)
    create = exchange.send(page(DEFAULT_CONFIGURATION_OBJECT, base))
    fields = sent_form(create)
    assert fields["metadata[portalkit_base]"] == "bpc_1Base"
    assert fields["features[invoice_history][enabled]"] == "false"
    assert fields["features[subscription_cancel][enabled]"] == "true"  # None keeps the base


def test_an_account_without_a_default_configuration() -> None:
    exchange = stripe().exchange(managed_request())
    next(exchange)
    with pytest.raises(errors.InvalidRequest) as caught:
        exchange.send(page({**DEFAULT_CONFIGURATION_OBJECT, "is_default": False}))
    assert caught.value.field == "configuration"
    assert "default portal configuration" in str(caught.value)


def test_a_cached_configuration_gone_since_is_made_again() -> None:
    adapter = stripe()
    exchange = adapter.exchange(managed_request())
    next(exchange)
    exchange.send(page(DEFAULT_CONFIGURATION_OBJECT))
    exchange.send(ok({"id": "bpc_1Old"}))
    with pytest.raises(StopIteration):
        exchange.send(ok(doc_session()))

    exchange = adapter.exchange(managed_request())
    assert sent_form(next(exchange))["configuration"] == "bpc_1Old"
    gone = adapter.parse_error(
        httpx.Response(
            400,
            json=stripe_error("invalid_request_error", "resource_missing", "configuration"),
        )
    )
    listing = exchange.throw(gone)
    assert listing.method == "GET"
    exchange.send(page(DEFAULT_CONFIGURATION_OBJECT))
    session_request = exchange.send(ok({"id": "bpc_1New"}))
    assert sent_form(session_request)["configuration"] == "bpc_1New"


def test_another_error_thrown_into_the_exchange_propagates() -> None:
    adapter = stripe()
    exchange = adapter.exchange(managed_request())
    next(exchange)
    denied = adapter.parse_error(httpx.Response(403, json=stripe_error("invalid_request_error")))
    with pytest.raises(errors.PermissionDenied):
        exchange.throw(denied)


def test_a_request_without_toggles_is_one_step() -> None:
    exchange = stripe().exchange(PortalRequest(DOC_CUSTOMER, idempotency_key="k"))
    only = next(exchange)
    assert only.url.path == "/v1/billing_portal/sessions"
    with pytest.raises(StopIteration) as done:
        exchange.send(ok(doc_session()))
    assert done.value.value.session_id == "bps_1MrSjzLkdIwHu7ixex0IvU9b"


def test_exchange_checks_everything_before_the_first_request() -> None:
    exchange = stripe().exchange(
        PortalRequest("cus_bad-id", idempotency_key="k", configuration=NO_CANCEL)
    )
    with pytest.raises(errors.InvalidRequest) as caught:
        next(exchange)
    assert caught.value.field == "customer_id"


@both_modes
def test_toggles_through_portal_make_the_configuration_once_then_reuse_it(mode: str) -> None:
    """Through Portal and AsyncPortal: a 'no cancel' session reads the configurations,
    creates one with cancelling off, and mints with it; the next one in this process reuses
    it. A 'no cancel' session on Stripe never silently allows cancelling."""
    stripe_module.forget_managed_configurations()
    managed = {**DEFAULT_CONFIGURATION_OBJECT, "id": "bpc_1Managed", "is_default": False}
    script = Script(
        reply(200, {"object": "list", "data": [DEFAULT_CONFIGURATION_OBJECT], "has_more": False}),
        reply(200, managed),
        reply(200, doc_session(configuration="bpc_1Managed")),
    )
    link = mint(mode, stripe(), script, PortalRequest(DOC_CUSTOMER, configuration=NO_CANCEL))
    assert link.url == PORTAL_URL
    assert [(sent.method, sent.url.path) for sent in script.sent] == [
        ("GET", "/v1/billing_portal/configurations"),
        ("POST", "/v1/billing_portal/configurations"),
        ("POST", "/v1/billing_portal/sessions"),
    ]
    assert sent_form(script.sent[1])["features[subscription_cancel][enabled]"] == "false"
    assert sent_form(script.sent[2])["configuration"] == "bpc_1Managed"

    again = Script(reply(200, doc_session(configuration="bpc_1Managed")))
    mint(mode, stripe(), again, PortalRequest(DOC_CUSTOMER, configuration=NO_CANCEL))
    (only,) = again.sent
    assert sent_form(only)["configuration"] == "bpc_1Managed"
    stripe_module.forget_managed_configurations()


def test_form_body_matches_stripe_encoding_rules() -> None:
    body = form_body(
        {"a": {"b": [{"c": True}, {"c": False}], "d": None, "e": []}, "f": 3, "g": "x y&z"}
    )
    assert body == b"a[b][0][c]=true&a[b][1][c]=false&f=3&g=x+y%26z"


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Stripe: its documented ``billing_portal.session`` (API reference), sent as a form; the
# official ``stripe`` package's ``StripeClient`` (on ``requests``, its default HTTP client)
# minting the same session. The answer is the adapter tests' doc_session() above.


def bench_sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    import stripe

    client = stripe.StripeClient(
        target.credentials["api_key"],
        base_addresses={"api": target.base_url},
        max_network_retries=0,
    )
    customer = target.customer_id
    sessions = client.v1.billing_portal.sessions

    def create() -> object:
        return sessions.create(params={"customer": customer})

    return create, lambda: None


BENCH = VendorBench(
    credentials={"api_key": "sk_test_51Hbench0do0not0leak"},
    customer_id=DOC_CUSTOMER,
    answer=doc_session(),
    url_at=("url",),
    sdk=bench_sdk,
    sdk_name="stripe",
)
