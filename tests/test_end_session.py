"""Ending a session early, vendor-neutral: ``Portal.end_session(link)`` and
``await AsyncPortal.end_session(link)``.

Providers that do not declare ``Feature.END_SESSION`` refuse it before anything is sent; so
does every provider for a link another provider minted. A third-party provider that declares
it gets the shells' retries with no core change; a ``MigrationRouter`` sends the call to the
provider named on the link.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from _mock import Script, both_modes, end_session, record_sleeps, reply

from portalkit import (
    Feature,
    MigrationRouter,
    PortalLink,
    PortalRequest,
    RetryPolicy,
    SessionEndingProvider,
    errors,
)
from portalkit._http import httpx
from portalkit.providers.chargebee import Chargebee
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay

CHARGEBEE = Chargebee(site="acme-test", api_key="test_key")
OTHERS = [
    pytest.param(Paddle(api_key="pdl_key"), id="paddle"),
    pytest.param(Paylera(api_key="pl_key"), id="paylera"),
    pytest.param(Plugipay(key_id="kid", key_secret="sec"), id="plugipay"),
]


def link_of(provider: str, session_id: str = "portal_1") -> PortalLink:
    return PortalLink(
        provider=provider,
        session_id=session_id,
        customer_id="cus_1",
        url="https://acme-test.chargebeeportal.com/portal/access/tok",
    )


def logged_out(session_id: str = "portal_1") -> Any:
    return reply(
        200,
        {
            "portal_session": {
                "id": session_id,
                "access_url": "https://acme-test.chargebeeportal.com/portal/access/tok",
                "customer_id": "cus_1",
                "status": "logged_out",
                "created_at": 1517505973,
            }
        },
    )


@both_modes
@pytest.mark.parametrize("provider", OTHERS)
def test_providers_without_it_refuse_before_sending(mode: str, provider: Any) -> None:
    assert Feature.END_SESSION not in provider.features
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        end_session(mode, provider, script, link_of(provider.name))
    assert caught.value.feature == "end_session"
    assert caught.value.provider == provider.name
    assert provider.name in str(caught.value)
    assert script.sent == []


@both_modes
def test_a_link_from_another_provider_is_refused_before_sending(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        end_session(mode, CHARGEBEE, script, link_of("paddle"))
    assert caught.value.feature == "end_session"
    assert caught.value.field == "link.provider"
    assert script.sent == []


@both_modes
def test_not_a_link(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        end_session(mode, CHARGEBEE, script, "portal_1")  # type: ignore[arg-type]
    assert caught.value.field == "link"
    assert script.sent == []


class Ender:
    """A third-party adapter that can end sessions: the core needs no change for it."""

    name: ClassVar[str] = "ender"
    features: ClassVar[frozenset[Feature]] = frozenset({Feature.END_SESSION})

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def build_request(self, request: PortalRequest) -> httpx.Request:
        raise AssertionError("not used")

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        raise AssertionError("not used")

    def parse_error(self, response: httpx.Response) -> errors.PortalError:
        return errors.error_class_for_status(response.status_code)("ender failed", provider="ender")

    def build_end_session(self, link: PortalLink) -> httpx.Request:
        return httpx.Request("DELETE", f"https://api.ender.example/sessions/{link.session_id}")

    def parse_end_session(self, response: httpx.Response, link: PortalLink) -> None:
        self.parsed.append(link.session_id)


@both_modes
def test_a_plugin_provider_gets_the_shells_retries(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = record_sleeps(monkeypatch)
    ender = Ender()
    assert isinstance(ender, SessionEndingProvider)
    script = Script(reply(502), reply(500), reply(204))
    end_session(mode, ender, script, link_of("ender", "s_9"), retry=RetryPolicy(deadline=30.0))
    assert [s.method for s in script.sent] == ["DELETE"] * 3
    assert ender.parsed == ["s_9"]
    assert len(sleeps) == 2


@both_modes
def test_a_plugin_provider_that_declares_it_but_lacks_the_methods_is_refused(mode: str) -> None:
    class Pretender:
        name: ClassVar[str] = "pretender"
        features: ClassVar[frozenset[Feature]] = frozenset({Feature.END_SESSION})

        def build_request(self, request: PortalRequest) -> httpx.Request:
            raise AssertionError("not used")

        def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
            raise AssertionError("not used")

        def parse_error(self, response: httpx.Response) -> errors.PortalError:
            raise AssertionError("not used")

    script = Script()
    with pytest.raises(errors.UnsupportedFeature):
        end_session(mode, Pretender(), script, link_of("pretender"))
    assert script.sent == []


def _route(request: PortalRequest) -> tuple[str, str]:
    return ("paddle", request.customer_id)


@both_modes
def test_a_router_sends_it_to_the_provider_named_on_the_link(mode: str) -> None:
    router = MigrationRouter([Paddle(api_key="pdl_key"), CHARGEBEE], _route)
    script = Script(logged_out())
    end_session(mode, router, script, link_of("chargebee"))
    assert script.only.url.host == "acme-test.chargebee.com"
    assert script.only.url.path == "/api/v2/portal_sessions/portal_1/logout"


@both_modes
def test_a_router_by_name_uses_its_own_keys_first(mode: str) -> None:
    eu = Chargebee(site="acme-eu", api_key="test_key")
    router = MigrationRouter({"chargebee": eu, "paddle": Paddle(api_key="pdl_key")}, _route)
    script = Script(logged_out())
    end_session(mode, router, script, link_of("chargebee"))
    assert script.only.url.host == "acme-eu.chargebee.com"


@both_modes
def test_a_router_refuses_a_provider_it_does_not_have(mode: str) -> None:
    router = MigrationRouter([Paddle(api_key="pdl_key")], _route)
    script = Script()
    with pytest.raises(errors.UnsupportedFeature):  # paddle's own refusal: wrong provider
        end_session(mode, router, script, link_of("paddle"))
    with pytest.raises(errors.ConfigurationError):
        end_session(mode, router, script, link_of("chargebee"))
    assert script.sent == []


@both_modes
def test_a_router_with_two_accounts_of_one_vendor_is_ambiguous(mode: str) -> None:
    router = MigrationRouter(
        {
            "cb-us": Chargebee(site="acme-us", api_key="k1"),
            "cb-eu": Chargebee(site="acme-eu", api_key="k2"),
        },
        _route,
    )
    script = Script()
    with pytest.raises(errors.ConfigurationError) as caught:
        end_session(mode, router, script, link_of("chargebee"))
    assert "more than one" in str(caught.value)
    assert script.sent == []
