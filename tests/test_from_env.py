"""Portal.from_env / AsyncPortal.from_env: the vendor and its credentials from environment
variables, so an app switches vendor by changing its environment only."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _vendor_world import (
    PADDLE_CUSTOMER,
    PAYLERA_CUSTOMER,
    PLUGIPAY_CUSTOMER,
    VendorWorld,
)

import portalkit
from portalkit import AsyncPortal, Portal, PortalLink, PortalRequest, errors, provider_from_env
from portalkit._http import httpx
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay

SECRET = "sk_live_do_not_show_me"
RETURN_URL = "https://app.example.com/account"

ENVIRONMENTS: dict[str, dict[str, str]] = {
    "paddle": {
        "PORTALKIT_PROVIDER": "paddle",
        "PADDLE_API_KEY": SECRET,
        "PADDLE_ENVIRONMENT": "sandbox",
    },
    "paylera": {"PORTALKIT_PROVIDER": "paylera", "PAYLERA_API_KEY": SECRET},
    "plugipay": {
        "PORTALKIT_PROVIDER": "plugipay",
        "PLUGIPAY_KEY_ID": "key_123",
        "PLUGIPAY_KEY_SECRET": SECRET,
    },
}
# The app's own mapping from its user to the customer id at whichever vendor bills it.
CUSTOMER_AT = {
    "paddle": PADDLE_CUSTOMER,
    "paylera": PAYLERA_CUSTOMER,
    "plugipay": PLUGIPAY_CUSTOMER,
}
HOST_OF = {"paddle": "sandbox-api.paddle.com", "paylera": "api.paylera.io"}
HOST_OF["plugipay"] = "api.plugipay.com"


def manage_billing(environ: dict[str, str], world: VendorWorld) -> PortalLink:
    """An app's "Manage billing" handler: the same code whatever the vendor."""
    vendor = environ["PORTALKIT_PROVIDER"]
    with (
        httpx.Client(transport=httpx.MockTransport(world)) as client,
        Portal.from_env(environ, http_client=client) as portal,
    ):
        return portal.create_link(PortalRequest(CUSTOMER_AT[vendor], return_url=RETURN_URL))


@pytest.mark.parametrize("vendor", sorted(ENVIRONMENTS))
def test_switching_vendor_is_changing_environment_variables(vendor: str) -> None:
    world = VendorWorld(customers={vendor: [CUSTOMER_AT[vendor]]})
    link = manage_billing(ENVIRONMENTS[vendor], world)
    assert link.provider == vendor
    assert link.customer_id == CUSTOMER_AT[vendor]
    (hit,) = world.hits
    assert (hit.vendor, hit.host) == (vendor, HOST_OF[vendor])
    # The credential from the environment is the one that went out.
    if vendor == "plugipay":
        assert hit.headers["X-Plugipay-Key-Id"] == "key_123"
    else:
        assert hit.headers["Authorization"] == f"Bearer {SECRET}"


def test_each_vendor_is_built_with_its_own_variables() -> None:
    paddle = provider_from_env(ENVIRONMENTS["paddle"])
    assert paddle == Paddle(api_key=SECRET, environment="sandbox")
    assert provider_from_env(ENVIRONMENTS["paylera"]) == Paylera(api_key=SECRET)
    plugipay = provider_from_env(
        {**ENVIRONMENTS["plugipay"], "PLUGIPAY_ON_BEHALF_OF": "acc_01HXmerchant"}
    )
    assert isinstance(plugipay, Plugipay)
    assert (plugipay.key_id, plugipay.key_secret) == ("key_123", SECRET)
    assert plugipay.on_behalf_of == "acc_01HXmerchant"


def test_on_behalf_of_from_the_environment_reaches_the_wire() -> None:
    environ = {**ENVIRONMENTS["plugipay"], "PLUGIPAY_ON_BEHALF_OF": "acc_01HXmerchant"}
    world = VendorWorld(customers={"plugipay": [PLUGIPAY_CUSTOMER]})
    manage_billing(environ, world)
    assert world.hits[0].headers["X-Plugipay-On-Behalf-Of"] == "acc_01HXmerchant"


def test_paddle_environment_defaults_to_production() -> None:
    environ = {"PORTALKIT_PROVIDER": "paddle", "PADDLE_API_KEY": SECRET}
    provider = provider_from_env(environ)
    assert isinstance(provider, Paddle)
    assert provider.api_root == "https://api.paddle.com"


@pytest.mark.parametrize(
    ("vendor", "base_url"),
    [
        ("paddle", "http://127.0.0.1:8765/paddle"),
        ("paylera", "https://paylera.internal.example/"),
        ("plugipay", "http://localhost:9000"),
    ],
)
def test_base_url_variable_points_the_vendor_elsewhere(vendor: str, base_url: str) -> None:
    environ = {**ENVIRONMENTS[vendor], f"{vendor.upper()}_BASE_URL": base_url}
    world = VendorWorld(customers={vendor: [CUSTOMER_AT[vendor]]})
    manage_billing(environ, world)
    sent = httpx.URL(base_url)
    assert world.hits[0].host == sent.host


def test_names_and_values_are_forgiving_about_case_and_surrounding_whitespace() -> None:
    environ = {
        "PORTALKIT_PROVIDER": " Paddle\n",
        "PADDLE_API_KEY": f"{SECRET}\n",  # as from PADDLE_API_KEY=$(cat key.txt)
        "PADDLE_ENVIRONMENT": "SANDBOX",
    }
    assert provider_from_env(environ) == Paddle(api_key=SECRET, environment="sandbox")


def test_an_empty_optional_variable_counts_as_unset() -> None:
    environ = {**ENVIRONMENTS["paylera"], "PAYLERA_BASE_URL": ""}
    provider = provider_from_env(environ)
    assert isinstance(provider, Paylera)
    assert provider.base_url == "https://api.paylera.io"


def test_name_argument_overrides_portalkit_provider() -> None:
    environ = {**ENVIRONMENTS["paddle"], **ENVIRONMENTS["paylera"]}  # paylera is named
    assert isinstance(provider_from_env(environ, name="paddle"), Paddle)
    assert isinstance(provider_from_env(environ), Paylera)


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENVIRONMENTS["paylera"].items():
        monkeypatch.setenv(name, value)
    with Portal.from_env() as portal:
        assert portal.provider == Paylera(api_key=SECRET)


def test_portal_options_pass_through() -> None:
    world = VendorWorld(customers={"paddle": [PADDLE_CUSTOMER]})
    with (
        httpx.Client(transport=httpx.MockTransport(world)) as client,
        Portal.from_env(ENVIRONMENTS["paddle"], http_client=client, strict=True) as portal,
        pytest.raises(errors.UnsupportedFeature),
    ):
        portal.create_link(PortalRequest(PADDLE_CUSTOMER, locale="fr"))
    assert world.hits == []


def test_async_portal_from_env() -> None:
    world = VendorWorld(customers={"paylera": [PAYLERA_CUSTOMER]})

    async def run() -> PortalLink:
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(world)) as client,
            AsyncPortal.from_env(ENVIRONMENTS["paylera"], http_client=client) as portal,
        ):
            return await portal.create_link(PortalRequest(PAYLERA_CUSTOMER, locale="fr"))

    link = asyncio.run(run())
    assert link.provider == "paylera"
    assert world.hits[0].body["locale"] == "fr"


# -- Errors: they name the variable and never show its value ----------------------------


def configuration_error(environ: dict[str, str], **kwargs: Any) -> errors.ConfigurationError:
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env(environ, **kwargs)
    error = caught.value
    assert isinstance(error, errors.PortalError)
    for text in (str(error), repr(error), error.message):
        assert SECRET not in text
    return error


def test_missing_portalkit_provider() -> None:
    error = configuration_error({"PADDLE_API_KEY": SECRET})
    assert error.variable == "PORTALKIT_PROVIDER"
    assert "PORTALKIT_PROVIDER is not set" in str(error)
    assert ", ".join(portalkit.available_providers()) in str(error)  # says what it may be


def test_unknown_provider_names_the_variable_and_the_installed_ones() -> None:
    error = configuration_error({"PORTALKIT_PROVIDER": "nosuchvendor"})
    assert error.variable == "PORTALKIT_PROVIDER"
    assert "nosuchvendor" not in str(error)  # no value is ever shown, not even this one
    assert ", ".join(portalkit.available_providers()) in str(error)
    assert "paddle, paylera, plugipay" in str(error)


def test_a_secret_pasted_into_portalkit_provider_is_not_shown() -> None:
    error = configuration_error({"PORTALKIT_PROVIDER": SECRET})
    assert error.variable == "PORTALKIT_PROVIDER"


@pytest.mark.parametrize(
    ("vendor", "missing"),
    [
        ("paddle", "PADDLE_API_KEY"),
        ("paylera", "PAYLERA_API_KEY"),
        ("plugipay", "PLUGIPAY_KEY_ID"),
        ("plugipay", "PLUGIPAY_KEY_SECRET"),
    ],
)
def test_missing_credential_is_named(vendor: str, missing: str) -> None:
    environ = {k: v for k, v in ENVIRONMENTS[vendor].items() if k != missing}
    error = configuration_error(environ)
    assert error.variable == missing
    assert error.provider == vendor
    assert str(error).startswith(f"{missing} is not set")


def test_blank_credential_counts_as_missing() -> None:
    error = configuration_error({**ENVIRONMENTS["paylera"], "PAYLERA_API_KEY": "   "})
    assert error.variable == "PAYLERA_API_KEY"


@pytest.mark.parametrize(
    ("vendor", "variable", "value"),
    [
        ("paddle", "PADDLE_ENVIRONMENT", "staging"),
        ("paddle", "PADDLE_API_KEY", f"{SECRET} {SECRET}"),
        ("plugipay", "PLUGIPAY_KEY_SECRET", f"{SECRET}\n{SECRET}"),
        ("plugipay", "PLUGIPAY_ON_BEHALF_OF", "merchant/../x"),
        ("plugipay", "PLUGIPAY_ON_BEHALF_OF", "cus_not_an_account"),
        ("paylera", "PAYLERA_BASE_URL", "http://api.paylera.example"),
        ("paddle", "PADDLE_BASE_URL", "ftp://files.example"),
        ("plugipay", "PLUGIPAY_BASE_URL", f"https://u:{SECRET}@api.plugipay.example"),
    ],
)
def test_malformed_variable_is_named_without_its_value(
    vendor: str, variable: str, value: str
) -> None:
    error = configuration_error({**ENVIRONMENTS[vendor], variable: value})
    assert error.variable == variable
    assert str(error).startswith(variable)
    for text in (str(error), repr(error)):
        assert value not in text
    # Nothing chained that might hold the value.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_bad_provider_name_argument() -> None:
    error = configuration_error({}, name="Not A Name")
    assert "lowercase" in str(error)


def test_available_providers_lists_the_builtin_adapters() -> None:
    assert {"chargebee", "paddle", "paylera", "plugipay"} <= set(portalkit.available_providers())
    assert portalkit.get_provider_factory("paddle") is Paddle
