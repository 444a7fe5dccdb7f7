"""The app's own id for a customer (``CustomerIdKind.EXTERNAL``), in vendor-neutral terms.

A request can name the customer by the app's id instead of the vendor's. It is never a
cosmetic hint: a vendor that cannot look a customer up that way would read the app's id as
one of its own, so every such vendor refuses it before anything is sent, strict or not.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from _mock import Script, both_modes, mint

from portalkit import (
    COSMETIC_FEATURES,
    CustomerIdKind,
    Feature,
    PortalProvider,
    PortalRequest,
    Route,
    errors,
)
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay
from portalkit.providers.polar import Polar


def test_the_default_is_the_vendors_id() -> None:
    request = PortalRequest("cus_1")
    assert request.customer_id_kind is CustomerIdKind.VENDOR
    assert request.vendor_customer_id == "cus_1"


@pytest.mark.parametrize("kind", [CustomerIdKind.EXTERNAL, "external"])
def test_a_request_names_the_apps_id(kind: Any) -> None:
    request = PortalRequest("usr_1", customer_id_kind=kind, return_url="https://app.example.com/")
    assert request == PortalRequest.for_external_id("usr_1", return_url="https://app.example.com/")
    assert request.customer_id_kind is CustomerIdKind.EXTERNAL
    assert request.vendor_customer_id is None
    # evolve keeps the kind (the router's evolve sets it from the route)
    assert attrs.evolve(request, locale="fr").customer_id_kind is CustomerIdKind.EXTERNAL


@pytest.mark.parametrize("kind", ["app", "EXTERNAL", "", None, 1])
def test_an_unknown_kind_is_refused_naming_the_field(kind: Any) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        PortalRequest("usr_1", customer_id_kind=kind)
    assert caught.value.field == "customer_id_kind"
    assert caught.value.rule is not None
    assert "vendor" in caught.value.rule
    assert "external" in caught.value.rule


def test_the_apps_id_follows_the_identifier_rules() -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        PortalRequest.for_external_id("usr/1")
    assert caught.value.field == "customer_id"


def test_it_is_not_cosmetic() -> None:
    assert Feature.EXTERNAL_CUSTOMER_ID not in COSMETIC_FEATURES


def test_route_kinds() -> None:
    assert Route("polar", "usr_1").customer_id_kind is CustomerIdKind.VENDOR
    assert Route("polar", "usr_1", customer_id_kind="external").customer_id_kind is (
        CustomerIdKind.EXTERNAL
    )
    with pytest.raises(errors.InvalidRequest):
        Route("polar", "usr_1", customer_id_kind="app")


WITHOUT = [
    pytest.param(Plugipay(key_id="key_1", key_secret="secret-secret"), id="plugipay"),
    pytest.param(Paylera(api_key="pk_test_1"), id="paylera"),
    pytest.param(Paddle(api_key="pdl_sdbx_apikey_1"), id="paddle"),
]


@both_modes
@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("provider", WITHOUT)
def test_vendors_without_it_refuse_it_before_sending(
    mode: str, provider: PortalProvider, strict: bool
) -> None:
    assert Feature.EXTERNAL_CUSTOMER_ID not in provider.features
    script = Script()
    with pytest.raises(errors.UnsupportedFeature) as caught:
        mint(mode, provider, script, PortalRequest.for_external_id("usr_1"), strict=strict)
    exc = caught.value
    assert exc.feature == "external_customer_id"
    assert exc.field == "customer_id_kind"
    assert exc.provider == provider.name
    assert "changes what the customer may do" in str(exc)
    assert script.sent == []


def test_polar_declares_it() -> None:
    assert Feature.EXTERNAL_CUSTOMER_ID in Polar.features
