"""Paddle through Portal, replayed from cassettes/paddle/.

The cassettes were recorded by running these tests against portalkit.sandbox over loopback
HTTP (or against Paddle's sandbox environment, with PADDLE_API_KEY set): docs/cassettes.md.
In replay there is no server and sockets are blocked; every exchange comes from the cassette.

Paddle has no idempotency keys: a retried create simply mints again (harmless: a portal
session grants nothing but a fresh short-lived token), so the retry tests show both attempts
were the same request, with no key at all.

The same module holds the adapter's own tests, over httpx.MockTransport (no cassettes,
no sandbox), and the bench's declaration of the vendor, ``BENCH`` (read by
``bench._vendor.declaration``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
from _mock import (
    PADDLE_DOC_CANCEL,
    PADDLE_DOC_CUSTOMER,
    PADDLE_DOC_OVERVIEW,
    PADDLE_DOC_REQUEST,
    PADDLE_DOC_RESPONSE,
    PADDLE_DOC_SUBSCRIPTION,
    PADDLE_DOC_TOKEN,
    PADDLE_DOC_UPDATE_PAYMENT,
    Script,
    both_modes,
    mint,
    reply,
)

from bench._vendor import SdkTarget, VendorBench
from portalkit import (
    Action,
    AsyncPortal,
    DeepLink,
    Flow,
    Portal,
    PortalConfiguration,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit.providers.paddle import Paddle
from portalkit.sandbox import Fault

VENDOR = "paddle"
#: The ids the cassettes hold (a live recording maps the real ones onto them):
#: ^ctm_[a-z\d]{26}$ and ^sub_[a-z\d]{26}$.
CASSETTE_IDS = Ids(
    customer="ctm_01j9cassette00000000paddle",
    subscriptions=(
        "sub_01j9cassette0000000000sub1",
        "sub_01j9cassette0000000000sub2",
        "sub_01j9cassette0000000000sub3",
    ),
    unknown_customer="ctm_01j9unknown000000000000000",
)

#: A subscription of another customer (added to the sandbox when recording).
OTHER_CUSTOMER = "ctm_01j9cassette000000000other"
OTHER_SUBSCRIPTION = "sub_01j9cassette00000000other1"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.mark.vcr
@pytest.mark.block_network
def test_mints_an_overview_link_without_subscriptions(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal:
        link = portal.create_link(PortalRequest(recording.ids.customer))

    assert link.provider == "paddle"
    assert link.session_id.startswith("cpls_")
    assert link.customer_id == recording.ids.customer
    assert _query(link.url)["action"] == ["overview"]
    assert "token" in _query(link.url)
    assert [(d.action, d.subscription_id) for d in link.deep_links] == [(Action.OVERVIEW, None)]
    assert link.expires_at is None  # Paddle reports none; never invented
    assert link.created_at is not None
    assert link.idempotency_key is None
    assert link.request_id

    (request,) = recorded_requests(vcr)
    assert request.method == "POST"
    assert request.path == f"/customers/{recording.recorded_ids.customer}/portal-sessions"
    assert json.loads(request.body) == {}
    assert header(request, "Idempotency-Key") is None
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_deep_links_for_several_subscriptions(recording: Recording, vcr: Any) -> None:
    """With the optional fields too: Paddle takes no return URL or locale, so they are
    dropped before sending and listed on the link."""
    subscriptions = recording.ids.subscriptions
    with Portal(recording.provider()) as portal:
        link = portal.create_link(
            PortalRequest(
                recording.ids.customer,
                subscription_ids=subscriptions,
                return_url="https://app.example.com/account",
                locale="fr",
            )
        )

    assert len(subscriptions) == 3
    assert link.ignored_fields == ("return_url", "locale")
    assert link.return_url is None
    assert len(link.deep_links) == 1 + 2 * len(subscriptions)
    for subscription in subscriptions:
        cancel = _query(link.deep_link(Action.CANCEL_SUBSCRIPTION, subscription))
        assert cancel["action"] == ["cancel_subscription"]
        assert cancel["subscription_id"] == [subscription]
        payment = _query(link.deep_link(Action.UPDATE_PAYMENT_METHOD, subscription))
        assert payment["action"] == ["update_subscription_payment_method"]
        assert payment["subscription_id"] == [subscription]
    with pytest.raises(errors.DeepLinkNotFound):
        link.deep_link(Action.UPDATE_SUBSCRIPTION, subscriptions[0])

    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {
        "subscription_ids": list(recording.recorded_ids.subscriptions)
    }
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
async def test_async_portal_opens_a_flow_at_cancel(recording: Recording, vcr: Any) -> None:
    """A Flow becomes Paddle's deep link: the link's url opens the cancel form."""
    subscription = recording.ids.subscriptions[1]
    async with AsyncPortal(recording.provider()) as portal:
        link = await portal.create_link(
            PortalRequest(
                recording.ids.customer, flow=Flow(Action.CANCEL_SUBSCRIPTION, subscription)
            )
        )

    assert link.url == link.deep_link(Action.CANCEL_SUBSCRIPTION, subscription)
    (request,) = recorded_requests(vcr)
    assert json.loads(request.body) == {
        "subscription_ids": [recording.recorded_ids.subscriptions[1]]
    }
    assert_cassette_played(vcr, 1)


# -- error statuses ------------------------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
def test_400_invalid_field_for_another_customers_subscription(
    recording: Recording, vcr: Any
) -> None:
    if recording.sandbox is not None:
        recording.sandbox.add_customer("paddle", OTHER_CUSTOMER)
        recording.sandbox.add_subscription("paddle", OTHER_CUSTOMER, OTHER_SUBSCRIPTION)
    with Portal(recording.provider()) as portal, pytest.raises(errors.InvalidRequest) as caught:
        portal.create_link(
            PortalRequest(recording.ids.customer, subscription_ids=[OTHER_SUBSCRIPTION])
        )

    assert caught.value.status == 400
    assert caught.value.code == "invalid_field"
    # Paddle's per-field errors are kept in the message.
    assert "subscription_ids[0]" in (caught.value.vendor_message or "")
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
    assert caught.value.code
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.live_needs("PADDLE_NO_SCOPE_API_KEY")
def test_403_for_a_key_without_the_portal_permission(recording: Recording, vcr: Any) -> None:
    with (
        Portal(recording.provider("no_scope")) as portal,
        pytest.raises(errors.PermissionDenied) as caught,
    ):
        portal.create_link(PortalRequest(recording.ids.customer))

    assert caught.value.status == 403
    assert caught.value.code  # Paddle's page lists no codes (the sandbox says "forbidden")
    assert_cassette_played(vcr, 1)


@pytest.mark.vcr
@pytest.mark.block_network
def test_404_for_an_unknown_customer(recording: Recording, vcr: Any) -> None:
    with Portal(recording.provider()) as portal, pytest.raises(errors.CustomerNotFound) as caught:
        portal.create_link(PortalRequest(recording.ids.unknown_customer))

    assert caught.value.status == 404
    assert caught.value.code  # Paddle's page lists no codes (the sandbox says "not_found")
    assert_cassette_played(vcr, 1)


# -- retries recorded against the sandbox's fault injection -------------------------------------


@pytest.mark.vcr
@pytest.mark.block_network
@pytest.mark.sandbox_only
@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (503, None)], ids=["429", "503"])
def test_retry_then_201_sends_the_same_request_again(
    recording: Recording, vcr: Any, status: int, retry_after: Any
) -> None:
    recording.script(Fault.status(status, retry_after=retry_after))
    subscriptions = recording.ids.subscriptions[:2]
    sent: list[Any] = []
    with (
        recording.client(sent) as client,
        Portal(recording.provider(), http_client=client, retry=FAST_RETRY) as portal,
    ):
        link = portal.create_link(
            PortalRequest(recording.ids.customer, subscription_ids=subscriptions)
        )

    assert len(sent) == 2
    assert all("Idempotency-Key" not in attempt.headers for attempt in sent)
    first, second = recorded_requests(vcr)
    assert (first.path, json.loads(first.body)) == (second.path, json.loads(second.body))
    failed, created = recorded_responses(vcr)
    assert (failed["status"]["code"], created["status"]["code"]) == (status, 201)
    assert (
        recording.as_recorded(link.session_id)
        == json.loads(created["body"]["string"])["data"]["id"]
    )
    assert len(link.deep_links) == 1 + 2 * len(subscriptions)
    assert_cassette_played(vcr, 2)


# -- the adapter, over httpx.MockTransport (no cassettes) ---------------------------------------
# Paddle adapter, through Portal and AsyncPortal over httpx.MockTransport.
#
# The contract is shared/provider-docs/paddle-create-portal-session.txt: the customer in the
# path, optional subscription_ids, 201 with deep links per subscription and no expiry; no
# return URL, locale, per-session configuration or idempotency key.

API_KEY = "pdl_sdbx_apikey_do_not_leak_01h"
CUSTOMER = PADDLE_DOC_CUSTOMER
SUB_A = PADDLE_DOC_SUBSCRIPTION
SUB_B = "sub_01h04vsc0qhwtsbsxh3422wjs5"
PORTAL = "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"
ONCE = RetryPolicy(max_attempts=1)


def paddle(**options: Any) -> Paddle:
    return Paddle(api_key=API_KEY, **options)


def session(*subscription_ids: str, customer_id: str = CUSTOMER) -> dict[str, Any]:
    """A 201 body shaped like the documented example, with deep links for these ids."""
    return {
        "data": {
            "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
            "customer_id": customer_id,
            "urls": {
                "general": {"overview": f"{PORTAL}?action=overview&token=pga_T"},
                "subscriptions": [
                    {
                        "id": sub,
                        "cancel_subscription": (
                            f"{PORTAL}?action=cancel_subscription&subscription_id={sub}&token=pga_T"
                        ),
                        "update_subscription_payment_method": (
                            f"{PORTAL}?action=update_subscription_payment_method"
                            f"&subscription_id={sub}&token=pga_T"
                        ),
                    }
                    for sub in subscription_ids
                ],
            },
            "created_at": "2024-10-12T07:20:50.52Z",
        },
        "meta": {"request_id": "b15ec92e-8688-40d4-a04d-f44cbec93355"},
    }


def created(*subscription_ids: str) -> Script:
    return Script(reply(201, session(*subscription_ids)))


# -- the request on the wire ---------------------------------------------------------------


@both_modes
def test_request_without_subscriptions(mode: str) -> None:
    script = created()
    link = mint(mode, paddle(), script, PortalRequest(CUSTOMER))

    sent = script.only
    assert sent.method == "POST"
    assert str(sent.url) == f"https://api.paddle.com/customers/{CUSTOMER}/portal-sessions"
    assert sent.content == b"{}"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    # Paddle has no idempotency keys: none is made up, none is sent.
    assert "Idempotency-Key" not in sent.headers
    assert link.idempotency_key is None


@both_modes
def test_request_with_the_documented_subscription_ids(mode: str) -> None:
    script = created(SUB_A)
    mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=[SUB_A]))
    assert script.only.json() == PADDLE_DOC_REQUEST


@both_modes
def test_subscription_ids_keep_their_order(mode: str) -> None:
    script = created(SUB_B, SUB_A)
    mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=[SUB_B, SUB_A]))
    assert script.only.json() == {"subscription_ids": [SUB_B, SUB_A]}


@both_modes
@pytest.mark.parametrize(
    ("options", "root"),
    [
        ({}, "https://api.paddle.com"),
        ({"environment": "production"}, "https://api.paddle.com"),
        ({"environment": "sandbox"}, "https://sandbox-api.paddle.com"),
        ({"environment": "sandbox", "base_url": "http://127.0.0.1:8701/"}, "http://127.0.0.1:8701"),
    ],
)
def test_environment_picks_the_host(mode: str, options: dict[str, Any], root: str) -> None:
    script = created()
    mint(mode, paddle(**options), script, PortalRequest(CUSTOMER))
    assert str(script.only.url) == f"{root}/customers/{CUSTOMER}/portal-sessions"


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        paddle(environment="staging")
    assert caught.value.field == "environment"


def test_api_key_is_required() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        Paddle(api_key="  ")
    assert caught.value.field == "api_key"


# -- the documented answer -----------------------------------------------------------------


@both_modes
def test_parses_the_documented_example(mode: str) -> None:
    script = Script(reply(201, PADDLE_DOC_RESPONSE))
    link = mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=[SUB_A]))

    assert link.provider == "paddle"
    assert link.session_id == "cpls_01h4ge9r64c22exjsx0fy8b48b"
    assert link.customer_id == "ctm_01gysfvfy7vqhpzkq8rjmrq7an"  # as Paddle answered
    assert link.url == PADDLE_DOC_OVERVIEW
    assert link.deep_links == (
        DeepLink(Action.OVERVIEW, None, PADDLE_DOC_OVERVIEW),
        DeepLink(Action.CANCEL_SUBSCRIPTION, SUB_A, PADDLE_DOC_CANCEL),
        DeepLink(Action.UPDATE_PAYMENT_METHOD, SUB_A, PADDLE_DOC_UPDATE_PAYMENT),
    )
    assert link.deep_link(Action.OVERVIEW) == PADDLE_DOC_OVERVIEW
    assert link.deep_link(Action.CANCEL_SUBSCRIPTION, SUB_A) == PADDLE_DOC_CANCEL
    assert link.deep_link("update_payment_method", SUB_A) == PADDLE_DOC_UPDATE_PAYMENT
    with pytest.raises(errors.DeepLinkNotFound):
        link.deep_link(Action.UPDATE_SUBSCRIPTION, SUB_A)
    assert link.created_at == datetime(2024, 10, 25, 6, 53, 58, tzinfo=UTC)
    assert link.created_at is not None
    assert link.created_at.tzinfo is UTC
    assert link.expires_at is None  # Paddle reports no expiry: never invented
    assert link.return_url is None
    assert link.request_id == "fa176777-4bca-49ec-aa1e-f53885333cb7"
    assert link.raw == PADDLE_DOC_RESPONSE
    assert link.ignored_fields == ()
    # The token is in every URL's query string; no repr shows it.
    assert PADDLE_DOC_TOKEN not in repr(link)
    assert PADDLE_DOC_TOKEN not in str(link)


@both_modes
def test_fractional_created_at_from_the_field_example(mode: str) -> None:
    link = mint(mode, paddle(), created(), PortalRequest(CUSTOMER))
    assert link.created_at == datetime(2024, 10, 12, 7, 20, 50, 520000, tzinfo=UTC)
    assert link.deep_links == (DeepLink(Action.OVERVIEW, None, link.url),)


@both_modes
def test_subscriptions_may_be_absent_from_the_answer(mode: str) -> None:
    body = session()
    del body["data"]["urls"]["subscriptions"]
    del body["meta"]
    link = mint(mode, paddle(), Script(reply(201, body)), PortalRequest(CUSTOMER))
    assert [d.action for d in link.deep_links] == [Action.OVERVIEW]
    assert link.request_id is None


def _without(path: tuple[str | int, ...]) -> dict[str, Any]:
    body = session(SUB_A)
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


def _with(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    body = session(SUB_A)
    node: Any = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


@both_modes
@pytest.mark.parametrize(
    ("body", "what"),
    [
        (_without(("data",)), "data"),
        (_without(("data", "id")), "data.id"),
        (_without(("data", "urls")), "data.urls"),
        (_without(("data", "urls", "general")), "urls.general"),
        (_without(("data", "urls", "general", "overview")), "overview"),
        (_without(("data", "urls", "subscriptions", 0, "cancel_subscription")), "cancel"),
        (_without(("data", "created_at")), "created_at"),
        (_with(("data", "urls", "general", "overview"), None), "overview"),
        (_with(("data", "urls", "subscriptions"), "sub_x"), "subscriptions"),
        (_with(("data", "customer_id"), 42), "customer_id"),
        (_with(("data", "created_at"), "yesterday"), "created_at"),
        (_with(("data",), [1, 2]), "data"),
    ],
)
def test_bodies_that_break_the_documented_shape(mode: str, body: Any, what: str) -> None:
    script = Script(reply(201, body))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=[SUB_A]), retry=ONCE)
    assert caught.value.provider == "paddle"
    assert caught.value.status == 201
    assert what in str(caught.value)
    assert "pga_T" not in str(caught.value)


# -- flows: open the portal at one action --------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("flow", "subscription_ids", "sent", "url"),
    [
        (
            Flow(Action.CANCEL_SUBSCRIPTION, SUB_A),
            [],
            [SUB_A],
            f"{PORTAL}?action=cancel_subscription&subscription_id={SUB_A}&token=pga_T",
        ),
        (
            Flow(Action.UPDATE_PAYMENT_METHOD, SUB_B),
            [SUB_A],
            [SUB_A, SUB_B],
            f"{PORTAL}?action=update_subscription_payment_method"
            f"&subscription_id={SUB_B}&token=pga_T",
        ),
        (
            Flow(Action.CANCEL_SUBSCRIPTION, SUB_A),
            [SUB_A, SUB_B],
            [SUB_A, SUB_B],  # already asked for: not sent twice
            f"{PORTAL}?action=cancel_subscription&subscription_id={SUB_A}&token=pga_T",
        ),
        (Flow(Action.OVERVIEW), [], None, f"{PORTAL}?action=overview&token=pga_T"),
    ],
)
def test_flow_makes_the_deep_link_the_url(
    mode: str, flow: Flow, subscription_ids: list[str], sent: list[str] | None, url: str
) -> None:
    script = Script(reply(201, session(*(sent or []))))
    link = mint(
        mode,
        paddle(),
        script,
        PortalRequest(CUSTOMER, subscription_ids=subscription_ids, flow=flow),
    )

    assert script.only.json() == ({"subscription_ids": sent} if sent else {})
    assert link.url == url
    assert link.ignored_fields == ()


@both_modes
@pytest.mark.parametrize(
    "flow",
    [
        Flow(Action.UPDATE_SUBSCRIPTION, SUB_A),  # Paddle mints no change-plan deep link
        Flow(Action.VIEW_INVOICES),
        Flow(Action.VIEW_INVOICES, SUB_A),
        Flow(Action.CANCEL_SUBSCRIPTION),  # which subscription?
        Flow(Action.OVERVIEW, SUB_A),
    ],
)
def test_a_flow_paddle_cannot_open_is_refused_before_sending(mode: str, flow: Flow) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER, flow=flow))
    assert caught.value.feature == "flow"
    assert caught.value.field == "flow"
    assert script.sent == []


@both_modes
def test_an_answer_without_the_flows_deep_link_is_invalid(mode: str) -> None:
    script = Script(reply(201, session()))  # Paddle left the subscription out
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(
            mode,
            paddle(),
            script,
            PortalRequest(CUSTOMER, flow=Flow(Action.CANCEL_SUBSCRIPTION, SUB_A)),
            retry=ONCE,
        )
    assert caught.value.request_id == "b15ec92e-8688-40d4-a04d-f44cbec93355"


# -- what Paddle cannot do -----------------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("fields", "ignored"),
    [
        ({"return_url": "https://app.example.com/billing"}, ("return_url",)),
        ({"locale": "fr"}, ("locale",)),
        (
            {"return_url": "https://app.example.com/billing", "locale": "fr"},
            ("return_url", "locale"),
        ),
        ({"idempotency_key": "mine-1"}, ("idempotency_key",)),
        ({"provider_options": {"paylera": {"theme": "dark"}}}, ()),  # another vendor's
    ],
)
def test_cosmetic_hints_are_dropped_and_listed(
    mode: str, fields: dict[str, Any], ignored: tuple[str, ...]
) -> None:
    script = created(SUB_A)
    link = mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=[SUB_A], **fields))

    assert link.ignored_fields == ignored
    assert script.only.json() == {"subscription_ids": [SUB_A]}
    assert "Idempotency-Key" not in script.only.headers
    assert link.return_url is None
    assert link.idempotency_key is None


@both_modes
@pytest.mark.parametrize(
    ("fields", "feature"),
    [
        (
            {"configuration": PortalConfiguration(cancel_subscription=False)},
            "configure_cancel_subscription",
        ),
        (
            {"configuration": PortalConfiguration(update_payment_method=True)},
            "configure_update_payment_method",
        ),
        ({"on_behalf_of": "acc_merchant1"}, "on_behalf_of"),
        ({"provider_options": {"paddle": {"custom": 1}}}, "provider_options"),
    ],
)
def test_unsupported_rights_are_refused_before_sending(
    mode: str, fields: dict[str, Any], feature: str
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER, **fields))
    assert caught.value.feature == feature
    assert caught.value.provider == "paddle"
    assert script.sent == []


@both_modes
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"return_url": "https://app.example.com/billing"}, "return_url"),
        ({"locale": "fr"}, "locale"),
        ({"idempotency_key": "mine-1"}, "idempotency_key"),
    ],
)
def test_strict_refuses_what_would_be_dropped(
    mode: str, fields: dict[str, Any], field: str
) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER, **fields), strict=True)
    assert caught.value.field == field
    assert script.sent == []


# -- refused locally: nothing is sent ------------------------------------------------------


@both_modes
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"customer_id": "cus_01grnn4zta5a1mf02jjze7y2ys"}, "customer_id"),
        ({"customer_id": "ctm_01GRNN4ZTA5A1MF02JJZE7Y2YS"}, "customer_id"),  # lowercase only
        ({"customer_id": "ctm_01grnn4zta5a1mf02jjze7y2y"}, "customer_id"),  # 25 characters
        ({"customer_id": "ctm_01grnn4zta5a1mf02jjze7y2ys:x"}, "customer_id"),
        ({"subscription_ids": ["sub_123"]}, "subscription_ids[0]"),
        ({"subscription_ids": [SUB_A, "sub_01H04VSC0QHWTSBSXH3422WJS4"]}, "subscription_ids[1]"),
        ({"subscription_ids": [f"sub_{i:026d}" for i in range(26)]}, "subscription_ids"),
        ({"flow": Flow(Action.CANCEL_SUBSCRIPTION, "sub_123")}, "flow.subscription_id"),
    ],
)
def test_paddle_id_rules_are_checked_before_sending(
    mode: str, fields: dict[str, Any], field: str
) -> None:
    values: dict[str, Any] = {"customer_id": CUSTOMER, **fields}
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, paddle(), script, PortalRequest(**values))
    assert type(caught.value) is errors.InvalidRequest
    assert caught.value.field == field
    assert caught.value.rule
    assert script.sent == []


@pytest.mark.parametrize(
    ("customer_id", "hint"),
    [
        # Plugipay's cus_ + ULID, Paylera's cus_..., Stripe's cus_...: another vendor's id.
        ("cus_01HXA5B2C3D4E5F6G7H8J9K0MN", True),
        ("cus_42", True),
        ("ctm_short", False),
        ("CTM_01grnn4zta5a1mf02jjze7y2ys", False),
    ],
)
def test_the_id_rule_is_in_words_and_names_whose_cus_ids_are(customer_id: str, hint: bool) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        paddle().build_request(PortalRequest(customer_id))
    rule = caught.value.rule or ""
    assert rule.startswith("must match ctm_ followed by 26 lowercase letters and digits")
    assert "[" not in rule  # no regex
    assert ("Plugipay, Paylera and Stripe, not Paddle's" in rule) is hint
    assert customer_id not in str(caught.value)  # the caller's value is not echoed
    with pytest.raises(errors.InvalidRequest) as sub:
        paddle().build_request(PortalRequest(CUSTOMER, subscription_ids=["sub_X"]))
    assert sub.value.rule == "must match sub_ followed by 26 lowercase letters and digits"


@both_modes
def test_twenty_five_subscriptions_are_allowed(mode: str) -> None:
    ids = [f"sub_{i:026d}" for i in range(25)]
    script = created(*ids)
    link = mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=ids))
    assert script.only.json() == {"subscription_ids": ids}
    assert len(link.deep_links) == 1 + 2 * 25


# -- errors, by status, with Paddle's envelope ---------------------------------------------


def paddle_error(code: str, detail: str, *field_errors: tuple[str, str]) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": "request_error",
        "code": code,
        "detail": detail,
        "documentation_url": f"https://developer.paddle.com/v1/errors/shared/{code}",
    }
    if field_errors:
        error["errors"] = [{"field": f, "message": m} for f, m in field_errors]
    return {"error": error, "meta": {"request_id": f"req-{code}"}}


@both_modes
@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "bad_request", errors.InvalidRequest),
        (401, "authentication_malformed", errors.AuthenticationFailed),
        (403, "forbidden", errors.PermissionDenied),
        (404, "entity_not_found", errors.CustomerNotFound),
        (409, "conflict", errors.IdempotencyConflict),
        (422, "invalid_field", errors.InvalidRequest),
        (429, "too_many_requests", errors.RateLimited),
        (500, "internal_error", errors.ProviderUnavailable),
        (503, "service_unavailable", errors.ProviderUnavailable),
    ],
)
def test_errors_by_status(
    mode: str, status: int, code: str, error: type[errors.PortalError]
) -> None:
    script = Script(
        reply(status, paddle_error(code, f"detail of {code}"), headers={"Retry-After": "12"})
    )
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER), retry=ONCE)

    exc = caught.value
    assert type(exc) is error
    assert (exc.provider, exc.status, exc.code) == ("paddle", status, code)
    assert exc.vendor_message == f"detail of {code}"
    assert exc.request_id == f"req-{code}"
    assert API_KEY not in str(exc)
    assert len(script.sent) == 1
    if isinstance(exc, errors.RateLimited):
        assert exc.retry_after == 12.0


@both_modes
def test_field_errors_are_in_the_message(mode: str) -> None:
    body = paddle_error(
        "invalid_field",
        "Invalid request.",
        ("subscription_ids[0]", "subscription not found"),
        ("subscription_ids[1]", "subscription belongs to another customer"),
    )
    script = Script(reply(400, body))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER, subscription_ids=[SUB_A, SUB_B]))

    exc = caught.value
    assert exc.code == "invalid_field"
    assert exc.vendor_message == (
        "Invalid request.; subscription_ids[0]: subscription not found; "
        "subscription_ids[1]: subscription belongs to another customer"
    )
    assert "subscription_ids[1]: subscription belongs to another customer" in str(exc)


@both_modes
def test_request_id_from_the_header_when_meta_is_missing(mode: str) -> None:
    body = paddle_error("forbidden", "no")
    del body["meta"]
    script = Script(reply(403, body, headers={"X-Request-Id": "hdr-1"}))
    with pytest.raises(errors.PermissionDenied) as caught:
        mint(mode, paddle(), script, PortalRequest(CUSTOMER))
    assert caught.value.request_id == "hdr-1"


# -- the bench declaration (bench/_vendor.py reads BENCH) --------------------------------------
# Paddle: its documented 201 to ``POST /customers/{id}/portal-sessions`` (no subscriptions),
# and paddle-python-sdk (on ``requests``) minting the same session.

BENCH_CUSTOMER = "ctm_01grnn4zta5a1mf02jjze7y2ys"
BENCH_PORTAL = "https://customer-portal.paddle.com/cpl_01j7zbyqs3vah3aafp4jf62qaw"
BENCH_TOKEN = "pga_eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdG1fYmVuY2gifQ.c2lnbmF0dXJl"


class _BenchEnvironment:
    """Stands in for ``paddle_billing.Environment``: the SDK only reads ``base_url`` from it
    (``urljoin(self.options.environment.base_url, url)``), so this points the official
    client at a local server without patching anything."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def bench_sdk(target: SdkTarget) -> tuple[Callable[[], object], Callable[[], None]]:
    from paddle_billing import Client, Options
    from paddle_billing.Resources.CustomerPortalSessions.Operations import (
        CreateCustomerPortalSession,
    )

    client = Client(
        target.credentials["api_key"],
        options=Options(environment=_BenchEnvironment(target.base_url)),
    )
    customer_id = target.customer_id

    def create() -> object:
        return client.customer_portal_sessions.create(customer_id, CreateCustomerPortalSession())

    return create, client.client.close


BENCH = VendorBench(
    credentials={"api_key": "pdl_bench_apikey_01hbenchmark"},
    customer_id=BENCH_CUSTOMER,
    status=201,
    answer={
        "data": {
            "id": "cpls_01h4ge9r64c22exjsx0fy8b48b",
            "customer_id": BENCH_CUSTOMER,
            "urls": {
                "general": {"overview": f"{BENCH_PORTAL}?action=overview&token={BENCH_TOKEN}"},
                "subscriptions": [],
            },
            "created_at": "2024-10-25T06:53:58Z",
        },
        "meta": {"request_id": "fa176777-4bca-49ec-aa1e-f53885333cb7"},
    },
    url_at=("data", "urls", "general", "overview"),
    sdk=bench_sdk,
    sdk_name="paddle-python-sdk",
)

#: The same create with a subscription asked for, answered by Paddle's documented response,
#: which carries that subscription's deep links: tests/_answers.py takes it instead of BENCH
#: so that the hardening tests check deep links too (the bench keeps the plain create).
HARDENING_BENCH = dataclasses.replace(
    BENCH,
    customer_id=PADDLE_DOC_CUSTOMER,
    answer=PADDLE_DOC_RESPONSE,
    request={"subscription_ids": [PADDLE_DOC_SUBSCRIPTION]},
)
