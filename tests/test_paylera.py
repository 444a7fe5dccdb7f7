"""Paylera through Portal, replayed from cassettes/paylera/.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Paylera itself, with its credentials set): docs/cassettes.md. In replay
there is no server and sockets are blocked; every exchange comes from the cassette.

Paylera's page documents no error codes, so these tests assert statuses and error classes
(portalkit's contract), not the sandbox's codes: a live recording must pass them too.

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from _cassettes import (
    FAST_RETRY,
    Ids,
    Recording,
    assert_cassette_played,
    header,
    recorded_requests,
    recorded_responses,
)
from _mock import PAYLERA_DOC_RESPONSE, Script, both_modes, mint, reply

from bench._vendor import VendorBench
from portalkit import (
    Action,
    AsyncPortal,
    Flow,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit.providers.paylera import Paylera
from portalkit.sandbox import Fault

VENDOR = "paylera"
#: The ids the cassettes hold (a live recording maps the real ones onto them).
CASSETTE_IDS = Ids(customer="cus_cassette01", unknown_customer="cus_unknown000")

RETURN_URL = "https://yourapp.example/account/billing"


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_a_link_with_only_the_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "paylera"
    assert link.session_id.startswith("ps_")
    assert link.customer_id == recording.ids.customer
    assert "/p/" in link.url  # the path is the bearer token
    assert link.expires_at is not None
    assert link.expires_at.tzinfo is not None
    assert link.created_at is None  # Paylera does not say; never invented
    assert link.return_url is None
    assert link.ignored_fields == ()

    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == "/v1/portal/sessions"
    assert json.loads(request.body) == {"customer_id": recording.recorded_ids.customer}
    assert header(request, "Idempotency-Key")
    assert header(request, "Authorization") == "Bearer scrubbed"  # scrubbed when recorded
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_a_link_with_every_optional_field(recording: Recording, vcr: Any) -> None:
    configuration = PortalConfiguration(
        cancel_subscription=False, update_subscription=False, update_payment_method=True
    )
    with Portal(recording.provider()) as portal:
        link = portal.create_link(
            PortalRequest(
                recording.ids.customer,
                return_url=RETURN_URL,
                locale="fr",
                configuration=configuration,
                idempotency_key="portalkit-cassette-optional-1",
            )
        )

    assert link.return_url == RETURN_URL
    assert link.ignored_fields == ()
    assert link.idempotency_key == "portalkit-cassette-optional-1"

    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {
        "customer_id": recording.recorded_ids.customer,
        "return_url": RETURN_URL,
        "locale": "fr",
        "configuration": {
            "subscription_cancel_enabled": False,
            "subscription_update_enabled": False,
            "payment_method_update_enabled": True,
        },
    }
    assert header(request, "Idempotency-Key") == "portalkit-cassette-optional-1"
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
async def test_async_portal_mints_a_link(recording: Recording, vcr: Any) -> None:
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(
            PortalRequest(recording.ids.customer, return_url=RETURN_URL)
        )

    assert link.session_id.startswith("ps_")
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_same_idempotency_key_and_body_returns_the_same_session(
    recording: Recording, vcr: Any
) -> None:
    request = PortalRequest(
        recording.ids.customer, return_url=RETURN_URL, idempotency_key="portalkit-cassette-same-1"
    )
    with Portal(recording.provider()) as portal:
        first = portal.create_link(request)
        second = portal.create_link(request)

    assert second.session_id == first.session_id
    assert_cassette_played(vcr, 2)


# -- error statuses --------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
def test_400_for_an_unknown_parameter_sent_through_provider_options(
    recording: Recording, vcr: Any
) -> None:
    """The escape hatch sends what portalkit cannot judge; Paylera judges it."""
    request = PortalRequest(recording.ids.customer, provider_options={"paylera": {"theme": "dark"}})
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(request)

    assert caught.value.status == 400
    # Paylera documents no error codes; the sandbox answers parameter_unknown, naming it.
    assert caught.value.code
    assert caught.value.vendor_message
    (recorded,) = recorded_requests(vcr)
    assert json.loads(recorded.body) == {
        "customer_id": recording.recorded_ids.customer,
        "theme": "dark",
    }
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
@pytest.mark.live_needs("PAYLERA_NO_SCOPE_API_KEY")
def test_403_for_a_key_without_the_portal_permission(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_404_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 404
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_409_for_an_idempotency_key_reused_with_another_body(
    recording: Recording, vcr: Any
) -> None:
    key = "portalkit-cassette-conflict-1"
    with Portal(recording.provider()) as portal:
        portal.create_link(PortalRequest(recording.ids.customer, idempotency_key=key))
        with pytest.raises(errors.IdempotencyConflict) as caught:
            portal.create_link(
                PortalRequest(recording.ids.customer, locale="de", idempotency_key=key)
            )

    assert caught.value.status == 409
    assert_cassette_played(vcr, 2)


# -- retries recorded against the sandbox's fault injection -------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, 1), (429, "date"), (503, None)],
    ids=["429-seconds", "429-http-date", "503"],
)
def test_retry_then_201_reuses_the_idempotency_key(
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
        link = portal.create_link(PortalRequest(recording.ids.customer, return_url=RETURN_URL))

    assert [attempt.headers["Idempotency-Key"] for attempt in sent] == [link.idempotency_key] * 2
    first, second = recorded_requests(vcr)
    assert header(first, "Idempotency-Key") == header(second, "Idempotency-Key")
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (status, 201)
    if status == 429:
        assert header(failed["headers"], "Retry-After")
    assert recording.as_recorded(link.session_id) == json.loads(created["body"]["string"])["id"]
    assert_cassette_played(vcr, 2)


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Paylera adapter, through Portal and AsyncPortal over httpx.MockTransport.
#
# The contract is shared/provider-docs/paylera-customer-portal.txt: POST /v1/portal/sessions
# with an Idempotency-Key, snake_case body with optional locale and per-session configuration,
# answer {id, url, expires_at}. The host, the auth header and the error envelope are
# assumptions (docs/providers/paylera.md).

API_KEY = "pl_test_sk_do_not_leak_51c2"
CUSTOMER = "cus_8f14e45fceea167a"
ONCE = RetryPolicy(max_attempts=1)


def paylera(**options: Any) -> Paylera:
    return Paylera(api_key=API_KEY, **options)


def created(headers: dict[str, str] | None = None) -> Script:
    return Script(reply(201, PAYLERA_DOC_RESPONSE, headers=headers or {"Request-Id": "req_p1"}))


def request(**fields: Any) -> PortalRequest:
    return PortalRequest(CUSTOMER, return_url=RETURN_URL, **fields)


# -- the request on the wire ---------------------------------------------------------------


@both_modes
def test_request_is_what_paylera_documents(mode: str) -> None:
    script = created()
    link = mint(mode, paylera(), script, request())

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == "https://api.paylera.io/v1/portal/sessions"
    assert sent.json() == {"customer_id": CUSTOMER, "return_url": RETURN_URL}
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Idempotency-Key"] == link.idempotency_key
    assert link.idempotency_key


@both_modes
def test_return_url_is_optional(mode: str) -> None:
    script = created()
    link = mint(mode, paylera(), script, PortalRequest(CUSTOMER))

    assert script.only.json() == {"customer_id": CUSTOMER}
    assert link.return_url is None
    assert link.ignored_fields == ()


@both_modes
def test_locale_and_configuration_are_sent(mode: str) -> None:
    configuration = PortalConfiguration(
        cancel_subscription=False, update_subscription=False, update_payment_method=True
    )
    script = created()
    link = mint(
        mode,
        paylera(),
        script,
        request(locale="fr", configuration=configuration, idempotency_key="pay-fail-7"),
    )

    # The documented "update card" example, verbatim, plus the locale override.
    assert script.only.json() == {
        "customer_id": CUSTOMER,
        "return_url": RETURN_URL,
        "locale": "fr",
        "configuration": {
            "subscription_cancel_enabled": False,
            "subscription_update_enabled": False,
            "payment_method_update_enabled": True,
        },
    }
    assert script.only.headers["Idempotency-Key"] == "pay-fail-7"
    assert link.idempotency_key == "pay-fail-7"
    assert link.ignored_fields == ()


@both_modes
@pytest.mark.parametrize(
    ("configuration", "sent"),
    [
        (PortalConfiguration(cancel_subscription=False), {"subscription_cancel_enabled": False}),
        (PortalConfiguration(update_subscription=True), {"subscription_update_enabled": True}),
        (
            PortalConfiguration(update_payment_method=False),
            {"payment_method_update_enabled": False},
        ),
        (PortalConfiguration(), {}),  # nothing overridden: workspace defaults
    ],
)
def test_only_explicit_overrides_are_sent(
    mode: str, configuration: PortalConfiguration, sent: dict[str, bool]
) -> None:
    script = created()
    mint(mode, paylera(), script, request(configuration=configuration))
    assert script.only.json()["configuration"] == sent


@both_modes
def test_provider_options_for_paylera_are_added_to_the_body(mode: str) -> None:
    options = {"paylera": {"theme": "dark"}, "plugipay": {"ignored": True}}
    script = created()
    link = mint(mode, paylera(), script, request(provider_options=options))

    assert script.only.json() == {
        "customer_id": CUSTOMER,
        "return_url": RETURN_URL,
        "theme": "dark",
    }
    assert link.ignored_fields == ()


@both_modes
def test_provider_options_cannot_replace_a_field_portalkit_sets(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(
            mode,
            paylera(),
            script,
            request(provider_options={"paylera": {"customer_id": "cus_someoneelse"}}),
        )
    assert caught.value.field == "provider_options['paylera'].customer_id"
    assert script.sent == []


@both_modes
def test_base_url_override(mode: str) -> None:
    script = created()
    mint(mode, paylera(base_url="http://127.0.0.1:9100/"), script, request())
    assert str(script.only.url) == "http://127.0.0.1:9100/v1/portal/sessions"


# -- the documented answer -----------------------------------------------------------------


@both_modes
@pytest.mark.parametrize("header", ["Request-Id", "X-Request-Id"])
def test_parses_the_documented_response(mode: str, header: str) -> None:
    script = created(headers={header: "req_doc"})
    link = mint(mode, paylera(), script, request())

    assert link.provider == "paylera"
    assert link.session_id == "ps_…"
    assert link.url == "https://portal.paylera.io/p/ps_%E2%80%A6"
    assert link.expires_at == datetime(2026, 5, 6, 13, 34, tzinfo=UTC)
    assert link.expires_at is not None
    assert link.expires_at.tzinfo is UTC
    assert link.created_at is None  # Paylera does not say: never invented
    # Paylera echoes neither: the link says what was sent.
    assert link.customer_id == CUSTOMER
    assert link.return_url == RETURN_URL
    assert link.deep_links == ()
    assert link.request_id == "req_doc"
    assert link.raw == PAYLERA_DOC_RESPONSE


@both_modes
@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({"id": "ps_1", "expires_at": "2026-05-06T13:34:00Z"}, "url"),
        ({"url": "https://portal.paylera.io/p/ps_1", "expires_at": "2026-05-06T13:34:00Z"}, "id"),
        ({"id": "ps_1", "url": "https://portal.paylera.io/p/ps_1"}, "expires_at"),
        ({**PAYLERA_DOC_RESPONSE, "url": None}, "url"),
        ({**PAYLERA_DOC_RESPONSE, "id": 7}, "id"),
        ({**PAYLERA_DOC_RESPONSE, "expires_at": None}, "expires_at"),
        ({**PAYLERA_DOC_RESPONSE, "expires_at": "2026-05-06 13:34"}, "expires_at"),
        ({"data": PAYLERA_DOC_RESPONSE}, "id"),  # an envelope Paylera does not use
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any, what: str) -> None:
    script = Script(reply(201, body, headers={"Request-Id": "req_bad"}))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, paylera(), script, request(), retry=ONCE)
    assert caught.value.provider == "paylera"
    assert caught.value.status == 201
    assert caught.value.request_id == "req_bad"
    assert what in str(caught.value)


# -- errors, by status (Paylera documents no error codes) ----------------------------------


@both_modes
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.InvalidRequest),
        (401, errors.AuthenticationFailed),
        (403, errors.PermissionDenied),
        (404, errors.CustomerNotFound),
        (408, errors.ProviderUnavailable),
        (409, errors.IdempotencyConflict),
        (422, errors.InvalidRequest),
        (429, errors.RateLimited),
        (500, errors.ProviderUnavailable),
        (502, errors.ProviderUnavailable),
        (503, errors.ProviderUnavailable),
    ],
)
def test_errors_by_status(mode: str, status: int, error: type[errors.PortalError]) -> None:
    body = {"error": {"type": "api_error", "code": f"code_{status}", "message": "nope"}}
    headers = {"Request-Id": "req_e", "Retry-After": "3"}
    script = Script(reply(status, body, headers=headers))
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, paylera(), script, request(), retry=ONCE)

    exc = caught.value
    assert type(exc) is error
    assert (exc.provider, exc.status, exc.code) == ("paylera", status, f"code_{status}")
    assert exc.vendor_message == "nope"
    assert exc.request_id == "req_e"
    assert API_KEY not in str(exc)
    assert len(script.sent) == 1
    if isinstance(exc, errors.RateLimited):
        assert exc.retry_after == 3.0


@both_modes
def test_error_type_stands_in_for_a_missing_code(mode: str) -> None:
    body = {"error": {"type": "invalid_request_error", "message": "customer_id is unknown"}}
    script = Script(reply(404, body, headers={"X-Request-Id": "req_x"}))
    with pytest.raises(errors.CustomerNotFound) as caught:
        mint(mode, paylera(), script, request())
    assert caught.value.code == "invalid_request_error"
    assert caught.value.vendor_message == "customer_id is unknown"
    assert caught.value.request_id == "req_x"


# -- refused locally: nothing is sent ------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    "customer_id", ["ctm_01grnn4zta5a1mf02jjze7y2ys", "cus_", "customer_42", "cus_a-b"]
)
def test_customer_id_format_is_checked_before_sending(mode: str, customer_id: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, paylera(), script, PortalRequest(customer_id))
    assert caught.value.field == "customer_id"
    assert "cus_" in (caught.value.rule or "")
    assert script.sent == []


def test_api_key_is_required() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        Paylera(api_key="")
    assert caught.value.field == "api_key"


def test_base_url_must_be_https() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        paylera(base_url="http://api.paylera.io")
    assert caught.value.field == "base_url"


# -- what Paylera cannot do ----------------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("fields", "feature", "field"),
    [
        (
            {"configuration": PortalConfiguration(view_invoices=False)},
            "configure_view_invoices",
            "configuration.view_invoices",
        ),
        (
            {"configuration": PortalConfiguration(cancel_subscription=False, view_invoices=True)},
            "configure_view_invoices",
            "configuration.view_invoices",
        ),
        ({"on_behalf_of": "acc_merchant1"}, "on_behalf_of", "on_behalf_of"),
    ],
)
def test_unsupported_rights_are_refused_before_sending(
    mode: str, fields: dict[str, Any], feature: str, field: str
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, paylera(), script, request(**fields))
    assert caught.value.feature == feature
    assert caught.value.field == field
    assert caught.value.provider == "paylera"
    assert script.sent == []


@both_modes
@pytest.mark.parametrize(
    ("fields", "ignored"),
    [
        ({"subscription_ids": ["sub_1", "sub_2"]}, ("subscription_ids",)),
        ({"flow": Flow(Action.UPDATE_PAYMENT_METHOD)}, ("flow",)),
    ],
)
def test_cosmetic_hints_are_dropped_and_listed(
    mode: str, fields: dict[str, Any], ignored: tuple[str, ...]
) -> None:
    script = created()
    link = mint(mode, paylera(), script, request(**fields))
    assert link.ignored_fields == ignored
    assert script.only.json() == {"customer_id": CUSTOMER, "return_url": RETURN_URL}


@both_modes
def test_strict_refuses_a_dropped_hint(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, paylera(), script, request(subscription_ids=["sub_1"]), strict=True)
    assert caught.value.field == "subscription_ids"
    assert script.sent == []


@both_modes
def test_strict_allows_everything_paylera_supports(mode: str) -> None:
    script = created()
    link = mint(
        mode,
        paylera(),
        script,
        request(
            locale="pt-BR",
            configuration=PortalConfiguration(cancel_subscription=False),
            provider_options={"paylera": {"theme": "dark"}},
        ),
        strict=True,
    )
    assert script.only.json()["locale"] == "pt-BR"
    assert link.ignored_fields == ()


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Paylera: the answer recorded in
# cassettes/paylera/test_mints_a_link_with_only_the_customer.yaml (its URL unscrubbed).

BENCH = VendorBench(
    credentials={"api_key": "pl_test_bench_0123456789"},
    customer_id="cus_bench01",
    status=201,
    answer={
        "id": "ps_01hbench0session",
        "url": "https://portal.paylera.io/p/ps_01hbench0session",
        "expires_at": "2026-11-21T05:55:27Z",
    },
    url_at=("url",),
)
