"""MigrationRouter: Paylera and Paddle live at once while an app moves its customers.

The app's customers are "user_1" (not moved: Paylera), "user_2" (moved: Paddle) and
"user_3" (being moved: its Paddle record is not there yet). Every test goes through the same
``create_link`` call, sync and async, over one MockTransport playing both vendors.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from _mock import mint
from _vendor_world import (
    MODES,
    PADDLE_CUSTOMER,
    PADDLE_CUSTOMER_2,
    PADDLE_SUBSCRIPTION,
    PAYLERA_CUSTOMER,
    PAYLERA_CUSTOMER_2,
    SECRET,
    VendorWorld,
)

from portalkit import (
    Action,
    MigrationRouter,
    Portal,
    PortalConfiguration,
    PortalRequest,
    Route,
    errors,
)
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera

RETURN_URL = "https://app.example.com/account"


class Customers:
    """The app's own table: each user's id at each vendor, and whether it has moved."""

    paylera_id: ClassVar[dict[str, str]] = {
        "user_1": PAYLERA_CUSTOMER,
        "user_3": PAYLERA_CUSTOMER_2,
    }
    paddle_id: ClassVar[dict[str, str]] = {"user_2": PADDLE_CUSTOMER, "user_3": PADDLE_CUSTOMER_2}

    @classmethod
    def route(cls, request: PortalRequest) -> Route:
        user = request.customer_id
        if user in cls.paddle_id:
            fallback = None
            if user in cls.paylera_id:  # moving: Paylera still has the customer
                fallback = Route("paylera", cls.paylera_id[user])
            return Route("paddle", cls.paddle_id[user], fallback=fallback)
        return Route("paylera", cls.paylera_id[user])


def world() -> VendorWorld:
    # Paddle does not know PADDLE_CUSTOMER_2 yet: user_3's import has not landed.
    return VendorWorld(
        customers={
            "paylera": [PAYLERA_CUSTOMER, PAYLERA_CUSTOMER_2],
            "paddle": [PADDLE_CUSTOMER],
        }
    )


def router(*, fallback: bool = False) -> MigrationRouter:
    return MigrationRouter(
        [Paylera(api_key="pl_key"), Paddle(api_key="pd_key")], Customers.route, fallback=fallback
    )


def request(user: str, **fields: object) -> PortalRequest:
    return PortalRequest(user, return_url=RETURN_URL, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_moved_and_unmoved_customers_take_the_same_code_path(mode: str) -> None:
    vendors = world()
    links = [mint(mode, router(), vendors, request(user)) for user in ("user_1", "user_2")]
    assert [link.provider for link in links] == ["paylera", "paddle"]
    assert [link.customer_id for link in links] == [PAYLERA_CUSTOMER, PADDLE_CUSTOMER]
    assert vendors.vendors_hit == ["paylera", "paddle"]
    assert [hit.customer_id for hit in vendors.hits] == [PAYLERA_CUSTOMER, PADDLE_CUSTOMER]
    # Each vendor got its own credentials.
    assert [hit.headers["Authorization"] for hit in vendors.hits] == [
        "Bearer pl_key",
        "Bearer pd_key",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_features_are_those_of_the_routed_vendor(mode: str) -> None:
    vendors = world()
    unmoved = mint(mode, router(), vendors, request("user_1", locale="fr"))
    moved = mint(mode, router(), vendors, request("user_2", locale="fr"))
    # Paylera takes a locale; Paddle has none, so it is dropped and listed on its link.
    assert vendors.hits[0].body["locale"] == "fr"
    assert unmoved.ignored_fields == ()
    assert moved.ignored_fields == ("return_url", "locale")
    # A per-session configuration: Paylera honours it, Paddle refuses before sending.
    no_cancel = PortalConfiguration(cancel_subscription=False)
    mint(mode, router(), vendors, request("user_1", configuration=no_cancel))
    assert vendors.hits[-1].body["configuration"] == {"subscription_cancel_enabled": False}
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, router(), vendors, request("user_2", configuration=no_cancel))
    assert caught.value.provider == "paddle"
    assert len(vendors.hits) == 3  # nothing sent to Paddle


@pytest.mark.parametrize("mode", MODES)
def test_strict_policy_applies_to_the_routed_vendor(mode: str) -> None:
    vendors = world()
    assert mint(mode, router(), vendors, request("user_1"), strict=True).provider == "paylera"
    with pytest.raises(errors.UnsupportedFeature):  # Paddle takes no return URL
        mint(mode, router(), vendors, request("user_2"), strict=True)


@pytest.mark.parametrize("mode", MODES)
def test_without_fallback_a_customer_missing_at_the_new_vendor_is_an_error(mode: str) -> None:
    vendors = world()
    with pytest.raises(errors.CustomerNotFound) as caught:
        mint(mode, router(fallback=False), vendors, request("user_3"))
    assert caught.value.provider == "paddle"
    assert vendors.vendors_hit == ["paddle"]


@pytest.mark.parametrize("mode", MODES)
def test_fallback_to_the_old_vendor_during_cut_over(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    vendors = world()
    caplog.set_level(logging.DEBUG, logger="portalkit")
    link = mint(mode, router(fallback=True), vendors, request("user_3", locale="fr"))
    assert link.provider == "paylera"
    assert link.customer_id == PAYLERA_CUSTOMER_2
    assert [(hit.vendor, hit.customer_id) for hit in vendors.hits] == [
        ("paddle", PADDLE_CUSTOMER_2),
        ("paylera", PAYLERA_CUSTOMER_2),
    ]
    # The fallback request gets the fallback vendor's features: Paylera sends the locale
    # that Paddle would have dropped.
    assert vendors.hits[1].body["locale"] == "fr"
    assert link.ignored_fields == ()
    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    message = warning.getMessage()
    for expected in ("paddle", PADDLE_CUSTOMER_2, "falling back to paylera", PAYLERA_CUSTOMER_2):
        assert expected in message
    for record in caplog.records:  # no portal URL, token or key in any log line
        text = record.getMessage()
        assert SECRET not in text
        assert "https://" not in text
        assert "pl_key" not in text
        assert "pd_key" not in text


@pytest.mark.parametrize("mode", MODES)
def test_fallback_is_not_used_for_customers_already_at_the_new_vendor(mode: str) -> None:
    vendors = world()
    link = mint(mode, router(fallback=True), vendors, request("user_2"))
    assert link.provider == "paddle"
    assert vendors.vendors_hit == ["paddle"]


@pytest.mark.parametrize("mode", MODES)
def test_fallback_only_on_customer_not_found(mode: str) -> None:
    vendors = world()
    vendors.fail["paddle"] = 401
    with pytest.raises(errors.AuthenticationFailed):
        mint(mode, router(fallback=True), vendors, request("user_3"))
    assert vendors.vendors_hit == ["paddle"]


@pytest.mark.parametrize("mode", MODES)
def test_when_neither_vendor_knows_the_customer_the_last_error_stands(mode: str) -> None:
    vendors = VendorWorld(customers={})
    with pytest.raises(errors.CustomerNotFound) as caught:
        mint(mode, router(fallback=True), vendors, request("user_3"))
    assert caught.value.provider == "paylera"
    assert isinstance(caught.value.__context__, errors.CustomerNotFound)
    assert caught.value.__context__.provider == "paddle"
    assert vendors.vendors_hit == ["paddle", "paylera"]


@pytest.mark.parametrize("mode", MODES)
def test_route_may_be_a_pair_and_may_replace_subscription_ids(mode: str) -> None:
    vendors = world()

    def route(request: PortalRequest) -> Route | tuple[str, str]:
        if request.customer_id == "user_1":
            return ("paylera", PAYLERA_CUSTOMER)
        return Route("paddle", PADDLE_CUSTOMER, subscription_ids=[PADDLE_SUBSCRIPTION])

    both = MigrationRouter({"old": Paylera(api_key="k"), "new": Paddle(api_key="k")}, route)
    with pytest.raises(errors.ConfigurationError, match=r"'paylera'.*has: old, new"):
        mint(mode, both, vendors, request("user_1"))
    renamed = MigrationRouter([Paylera(api_key="k"), Paddle(api_key="k")], route)
    assert mint(mode, renamed, vendors, request("user_1")).provider == "paylera"
    link = mint(mode, renamed, vendors, request("user_2", subscription_ids=["app_sub_9"]))
    assert vendors.hits[-1].body == {"subscription_ids": [PADDLE_SUBSCRIPTION]}
    assert link.deep_link(Action.CANCEL_SUBSCRIPTION, PADDLE_SUBSCRIPTION)


@pytest.mark.parametrize("mode", MODES)
def test_a_bad_route_is_a_configuration_error_and_sends_nothing(mode: str) -> None:
    vendors = world()
    to_stripe = MigrationRouter([Paddle(api_key="k")], lambda request: ("stripe", "cus_1"))
    with pytest.raises(errors.ConfigurationError, match="'stripe'"):
        mint(mode, to_stripe, vendors, request("user_1"))
    garbage = MigrationRouter([Paddle(api_key="k")], lambda request: "paddle")  # type: ignore[arg-type,return-value]
    with pytest.raises(errors.ConfigurationError, match="must return a Route"):
        mint(mode, garbage, vendors, request("user_1"))
    # The vendor's id is checked like any customer id before anything is sent.
    bad_id = MigrationRouter([Paddle(api_key="k")], lambda request: ("paddle", "ctm/../x"))
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, bad_id, vendors, request("user_1"))
    assert caught.value.field == "customer_id"
    assert vendors.hits == []


def test_async_route_functions_work_with_async_portal() -> None:
    vendors = world()

    async def route(request: PortalRequest) -> Route:
        await asyncio.sleep(0)  # e.g. an async database lookup
        return Customers.route(request)

    link = mint(
        "async",
        MigrationRouter([Paylera(api_key="k"), Paddle(api_key="k")], route),
        vendors,
        request("user_2"),
    )
    assert link.provider == "paddle"


@pytest.mark.filterwarnings("error")  # an un-awaited coroutine would warn
def test_async_route_function_with_sync_portal_is_refused() -> None:
    async def route(request: PortalRequest) -> Route:
        return Route("paddle", PADDLE_CUSTOMER)

    vendors = world()
    with pytest.raises(errors.ConfigurationError, match="AsyncPortal"):
        mint("sync", MigrationRouter([Paddle(api_key="k")], route), vendors, request("user_2"))
    assert vendors.hits == []


def test_router_construction_errors() -> None:
    with pytest.raises(errors.ConfigurationError, match="at least one"):
        MigrationRouter([], Customers.route)
    with pytest.raises(errors.ConfigurationError, match="two providers are named 'paddle'"):
        MigrationRouter([Paddle(api_key="a"), Paddle(api_key="b")], Customers.route)
    with pytest.raises(errors.ConfigurationError, match="not a PortalProvider"):
        MigrationRouter({"x": object()}, Customers.route)  # type: ignore[dict-item]
    # A lone id is one id, not its characters (as in PortalRequest).
    assert Route("paddle", "c", subscription_ids="sub_1").subscription_ids == ("sub_1",)
    with pytest.raises(errors.ConfigurationError, match="fallback of its own"):
        Route("paddle", "c", fallback=Route("paylera", "d", fallback=Route("x", "y")))


def test_two_accounts_of_one_vendor_by_name() -> None:
    vendors = VendorWorld(customers={"paddle": [PADDLE_CUSTOMER]})
    eu = Paddle(api_key="eu_key")
    us = Paddle(api_key="us_key")
    routed = MigrationRouter(
        {"paddle-eu": eu, "paddle-us": us}, lambda r: ("paddle-us", PADDLE_CUSTOMER)
    )
    with (
        httpx.Client(transport=httpx.MockTransport(vendors)) as client,
        Portal(routed, http_client=client) as portal,
    ):
        link = portal.create_link(request("user_2"))
    assert link.provider == "paddle"
    assert vendors.hits[0].headers["Authorization"] == "Bearer us_key"
    assert repr(routed) == "MigrationRouter(providers=['paddle-eu', 'paddle-us'], fallback=False)"


# -- The migration guide's code, run as written -------------------------------------------

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "migration.md"
GUIDE_MARKER = "<!-- tested: tests/test_router.py runs this block -->"


def guide_block() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    after = text[text.index(GUIDE_MARKER) + len(GUIDE_MARKER) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```\n", start)]


def test_the_migration_guide_code_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name, value in {
        "PORTALKIT_PROVIDER": "paylera",
        "PAYLERA_API_KEY": "pl_key",
        "PADDLE_API_KEY": "pd_key",
    }.items():
        monkeypatch.setenv(name, value)
    records = {
        "user_1": SimpleNamespace(
            paylera_customer_id=PAYLERA_CUSTOMER,
            paddle_customer_id=None,
            paddle_subscription_ids=None,
        ),
        "user_2": SimpleNamespace(
            paylera_customer_id=None,  # signed up after the move: Paddle only
            paddle_customer_id=PADDLE_CUSTOMER,
            paddle_subscription_ids=[PADDLE_SUBSCRIPTION],
        ),
        "user_3": SimpleNamespace(
            paylera_customer_id=PAYLERA_CUSTOMER_2,
            paddle_customer_id=PADDLE_CUSTOMER_2,  # marked moved; Paddle's import not landed
            paddle_subscription_ids=None,
        ),
    }
    namespace: dict[str, Any] = {"billing_record": records.__getitem__}
    exec(compile(guide_block(), str(GUIDE), "exec"), namespace)  # noqa: S102 -- our own docs
    namespace["portal"].close()  # swap its client for one that reaches the emulated vendors
    vendors = world()
    with (
        httpx.Client(transport=httpx.MockTransport(vendors)) as client,
        Portal(namespace["router"], http_client=client) as portal,
    ):
        namespace["portal"] = portal
        urls = [
            namespace["manage_billing_url"](SimpleNamespace(id=user, locale="fr"))
            for user in ("user_1", "user_2", "user_3")
        ]
    assert [(hit.vendor, hit.customer_id) for hit in vendors.hits] == [
        ("paylera", PAYLERA_CUSTOMER),
        ("paddle", PADDLE_CUSTOMER),
        ("paddle", PADDLE_CUSTOMER_2),
        ("paylera", PAYLERA_CUSTOMER_2),
    ]
    assert vendors.hits[1].body == {"subscription_ids": [PADDLE_SUBSCRIPTION]}
    assert [httpx.URL(url).host for url in urls] == [
        "portal.paylera.io",
        "customer-portal.paddle.com",
        "portal.paylera.io",
    ]
    assert "falling back to paylera" in caplog.text
