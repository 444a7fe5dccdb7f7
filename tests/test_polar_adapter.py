"""Polar adapter, through Portal and AsyncPortal over httpx.MockTransport.

The contract is shared/provider-docs/polar.md and Polar's own schema (server/polar/
customer_session/): POST /v1/customer-sessions/ with the customer named by Polar's UUID4 or
by the app's own id (external_customer_id), an optional return_url; 201 with the portal URL
(token and e-mail in its query), one-hour expiry and the customer object; 422 validation
lists (an unknown customer among them), 409 for an ambiguous external id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest
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

from portalkit import (
    Action,
    CustomerIdKind,
    Flow,
    MigrationRouter,
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

ACCESS_TOKEN = "polar_oat_do_not_leak_0123456789abcdefABCDEF"
CUSTOMER = POLAR_DOC_CUSTOMER
EXTERNAL = POLAR_DOC_EXTERNAL_ID
RETURN_URL = "https://app.example.com/account"
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
        PortalRequest.for_external_id(EXTERNAL, return_url=RETURN_URL)
        if external
        else PortalRequest(CUSTOMER, return_url=RETURN_URL)
    )
    link = mint(mode, polar(), script, request)
    key = "external_customer_id" if external else "customer_id"
    assert script.only.json() == {key: EXTERNAL if external else CUSTOMER, "return_url": RETURN_URL}
    assert link.return_url == RETURN_URL


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
    link = mint(mode, polar(), script, PortalRequest(CUSTOMER, return_url=RETURN_URL))

    assert link.provider == "polar"
    assert link.session_id == "3f0f9b1c-6a57-4b7e-9d0e-6c1d2a3b4c5d"
    assert link.customer_id == CUSTOMER
    assert link.url == POLAR_DOC_PORTAL_URL
    assert link.expires_at == datetime(2026, 12, 2, 11, 42, tzinfo=UTC)
    assert link.created_at == datetime(2026, 12, 2, 10, 42, tzinfo=UTC)
    assert link.expires_at is not None
    assert link.expires_at.tzinfo is UTC
    assert link.return_url == RETURN_URL
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
        None,  # no body: still the documented 409
    ],
)
def test_an_ambiguous_external_id_is_its_own_error(mode: str, body: Any) -> None:
    script = Script(reply(409, body))
    with pytest.raises(errors.AmbiguousCustomer) as caught:
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
