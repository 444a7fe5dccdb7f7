"""Every setting is checked where it is read (issue 24, item 3).

A value the vendor cannot accept -- in a required or an optional variable, an option of the
CLI, a variable of the example app -- fails where it is read, naming the variable (or the
option), never showing the value, and before anything is sent. A ``Portal`` used after
``close()`` says so with a ``PortalError``; a connection that cannot be made names the host.

Per vendor, the cases come from the registry (``available_providers``) and the variables
each adapter's ``from_env`` actually reads, so a new vendor or variable is covered as it
lands. Nothing here touches the network: "nothing sent" is a transport that fails the test
when called, and "cannot connect" is a loopback port bound but not listening.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from _environ import variables_read

import portalkit
from portalkit import (
    AsyncPortal,
    Feature,
    Portal,
    PortalLink,
    PortalRequest,
    ProviderEnv,
    RetryPolicy,
    Webhooks,
    available_webhook_providers,
    cli,
    errors,
    get_provider_factory,
    get_vendor_webhooks,
    provider_from_env,
)
from portalkit._http import httpx
from portalkit.sandbox import Sandbox

VENDORS = tuple(portalkit.available_providers())
#: The HTTP stacks installed here: both in .venv, httpx alone in .venv-httpx (scripts/test.sh).
INSTALLED_STACKS = [
    name for name in ("httpx2", "httpx") if importlib.util.find_spec(name) is not None
]
SANDBOX = Sandbox()  # its credentials and seeded ids only: it is never served here
#: A base URL nothing is sent to in these tests (port 1 on loopback).
UNUSED_BASE_URL = "http://127.0.0.1:1"
#: A marker in every bad value, so a test can see that no part of the value was echoed.
MARK = "zq7xv"


# -- helpers -------------------------------------------------------------------------------


def good_env(vendor: str) -> dict[str, str]:
    """Every variable a working ``Portal.from_env`` needs for ``vendor`` (the sandbox's)."""
    return {"PORTALKIT_PROVIDER": vendor, **SANDBOX.environment(vendor, base_url=UNUSED_BASE_URL)}


def vendor_variables(vendor: str) -> list[str]:
    """The variables the vendor's ``from_env`` reads, required and optional."""
    return variables_read(vendor, good_env(vendor))


def refusing_client() -> httpx.Client:
    """A client whose transport fails the test if anything is sent through it."""

    def handler(request: httpx.Request) -> httpx.Response:
        pytest.fail(f"a request was sent: {request.method} {request.url.host}")

    return httpx.Client(transport=httpx.MockTransport(handler))


def assert_names_variable_not_value(
    error: errors.ConfigurationError, variable: str, value: str
) -> None:
    assert error.variable == variable
    assert variable in str(error)
    for text in (str(error), repr(error), error.message):
        assert value not in text
        assert MARK not in text
    # Nothing chained that might hold the value.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def refused_from_env(environ: Mapping[str, str]) -> errors.ConfigurationError:
    """The error ``Portal.from_env`` raises, with a client that fails the test if used."""
    with refusing_client() as client, pytest.raises(errors.ConfigurationError) as caught:
        Portal.from_env(environ, http_client=client)
    return caught.value


def variable_cases() -> list[tuple[str, str]]:
    return [(vendor, variable) for vendor in VENDORS for variable in vendor_variables(vendor)]


# -- every variable a vendor reads -----------------------------------------------------------


@pytest.mark.parametrize(("vendor", "variable"), variable_cases())
def test_every_variable_read_refuses_a_value_with_a_line_break(vendor: str, variable: str) -> None:
    value = f"ok{MARK}\nSecond-Line: {MARK}"
    error = refused_from_env({**good_env(vendor), variable: value})
    assert_names_variable_not_value(error, variable, value)


BAD_BASE_URLS = [
    pytest.param(f"ftp://{MARK}.example", id="not-http"),
    pytest.param(f"{MARK}.example", id="no-scheme"),
    pytest.param(f"http://{MARK}.example", id="plain-http-off-loopback"),
    pytest.param(f"https://{MARK}.example:99999", id="port-out-of-range"),
    pytest.param(f"https://{MARK}.example:0", id="port-zero"),
    pytest.param(f"https://{MARK}.example:https", id="port-not-a-number"),
    pytest.param(f"https://{MARK}.exämple", id="non-ascii-host"),
    pytest.param(f"https://{MARK}.example/?key={MARK}", id="query"),
    pytest.param(f"https://{MARK}.example/#{MARK}", id="fragment"),
    pytest.param(f"https://user:{MARK}@api.example", id="user-info"),
]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("value", BAD_BASE_URLS)
def test_a_bad_base_url_variable_is_named_before_anything_is_sent(vendor: str, value: str) -> None:
    variable = ProviderEnv(vendor, {}).variable("base_url")
    assert variable in vendor_variables(vendor)
    error = refused_from_env({**good_env(vendor), variable: value})
    assert_names_variable_not_value(error, variable, value)


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("value", BAD_BASE_URLS)
def test_the_base_url_argument_is_held_to_the_same_rule(vendor: str, value: str) -> None:
    # The rule lives in the adapter, so a provider built in code gets it too.
    with pytest.raises(errors.InvalidRequest) as caught:
        SANDBOX.provider(vendor, base_url=value)
    assert caught.value.field == "base_url"
    assert MARK not in str(caught.value)


@pytest.mark.parametrize(
    "variable",
    [v for vendor in VENDORS for v in vendor_variables(vendor) if v.endswith("_ENVIRONMENT")],
)
def test_an_environment_that_is_not_one_of_the_vendors_is_named(variable: str) -> None:
    vendor = next(v for v in VENDORS if variable in vendor_variables(v))
    value = f"staging-{MARK}"
    error = refused_from_env({**good_env(vendor), variable: value})
    assert_names_variable_not_value(error, variable, value)


#: Each vendor's own optional settings, and values the vendor cannot accept.
VENDOR_SPECIFIC = [
    ("stripe", "STRIPE_API_VERSION", f"latest-{MARK}"),
    ("stripe", "STRIPE_API_VERSION", "2024-13-01"),  # no 13th month
    ("stripe", "STRIPE_API_VERSION", "2024-02-30.acacia"),  # no 30 February
    ("stripe", "STRIPE_API_VERSION", "20240620"),
    ("stripe", "STRIPE_API_VERSION", "2024-06-20.Acacia"),
    ("stripe", "STRIPE_API_VERSION", "2024-06-20;beta=v1"),
    ("stripe", "STRIPE_API_KEY", f"pk_test_{MARK}"),  # a publishable key
    ("polar", "POLAR_ORGANIZATION_ID", f"org_{MARK}"),
    ("polar", "POLAR_ORGANIZATION_ID", "1DC3FA2E-6B21-4A49-9C4E-7A0B5D8F3E11"),
    ("chargebee", "CHARGEBEE_SITE", f"acme.{MARK}.example"),
    ("chargebee", "CHARGEBEE_SITE", f"-{MARK}"),
    ("chargebee", "CHARGEBEE_PORTAL_URL", f"http://{MARK}.example"),
    ("chargebee", "CHARGEBEE_PORTAL_URL", f"https://{MARK}.example/portal"),
    ("chargebee", "CHARGEBEE_PORTAL_URL", f"https://{MARK}.example?x={MARK}"),
    ("chargebee", "CHARGEBEE_PORTAL_URL", f"https://{MARK}.example#{MARK}"),
    ("plugipay", "PLUGIPAY_ON_BEHALF_OF", f"cus_{MARK}"),
    ("plugipay", "PLUGIPAY_ON_BEHALF_OF", f"acc_{MARK}/../x"),
]


@pytest.mark.parametrize(("vendor", "variable", "value"), VENDOR_SPECIFIC)
def test_a_vendor_setting_the_vendor_cannot_accept_is_named(
    vendor: str, variable: str, value: str
) -> None:
    assert variable in vendor_variables(vendor)  # the case is about a variable the code reads
    error = refused_from_env({**good_env(vendor), variable: value})
    assert_names_variable_not_value(error, variable, value)


@pytest.mark.parametrize("version", ["2024-06-20", "2026-10-28.endive", "2025-04-30.preview"])
def test_a_stripe_api_version_as_stripe_names_them_is_accepted(version: str) -> None:
    provider = provider_from_env({**good_env("stripe"), "STRIPE_API_VERSION": version})
    assert getattr(provider, "stripe_version", None) == version


def test_stripes_own_pin_is_a_version_by_the_same_rule() -> None:
    stripe_module = importlib.import_module("portalkit.providers.stripe")
    sdk_version = importlib.import_module("stripe._api_version")._ApiVersion.CURRENT
    assert stripe_module.api_version_problem(sdk_version) is None
    assert stripe_module.api_version_problem(stripe_module.STRIPE_VERSION) is None


def test_the_stripe_version_argument_is_checked_too() -> None:
    factory: Any = get_provider_factory("stripe")
    with pytest.raises(errors.InvalidRequest) as caught:
        factory(api_key="sk_test_abc", stripe_version="latest")
    assert caught.value.field == "stripe_version"


def test_a_field_no_variable_holds_is_not_blamed_on_a_made_up_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plug-in whose constructor refuses a setting it did not read from a variable: the
    registry names the field and the rule, not ``<VENDOR>_<FIELD>``, which nobody set."""

    class Plugin:
        @classmethod
        def from_env(cls, env: ProviderEnv) -> Any:
            env.require("api_key")
            raise errors.InvalidRequest.local("api_version_header", "must be a date")

    from portalkit import _registry

    monkeypatch.setattr(_registry, "_load_factory", lambda name, installed: Plugin)
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env({"PORTALKIT_PROVIDER": "paddle", "PADDLE_API_KEY": "k"})
    assert caught.value.variable is None
    assert "PADDLE_API_VERSION_HEADER" not in str(caught.value)
    assert "api_version_header: must be a date" in str(caught.value)


@pytest.mark.parametrize("value", [f"sk_live_{MARK}", "Padle ", f"{MARK}\n"])
def test_a_bad_provider_variable_is_named_without_its_value(value: str) -> None:
    error = refused_from_env({"PORTALKIT_PROVIDER": value})
    assert error.variable == "PORTALKIT_PROVIDER"
    assert MARK not in str(error)
    assert value.strip() not in str(error)


# -- the webhook variables -------------------------------------------------------------------


def webhook_variable_cases() -> list[tuple[str, str]]:
    return [
        (vendor, ProviderEnv(vendor, {}).variable(field))
        for vendor in available_webhook_providers()
        for field in get_vendor_webhooks(vendor).signature.fields
    ]


def webhook_env(vendor: str) -> dict[str, str]:
    env = ProviderEnv(vendor, {})
    fields = get_vendor_webhooks(vendor).signature.fields
    return {env.variable(field): f"whsec_good{index}" for index, field in enumerate(fields)}


@pytest.mark.parametrize(("vendor", "variable"), webhook_variable_cases())
def test_every_webhook_variable_is_checked_where_it_is_read(vendor: str, variable: str) -> None:
    assert Webhooks.from_env(webhook_env(vendor), provider=vendor).provider == vendor
    for value in (f"{MARK}\n{MARK}", f"{MARK} {MARK}"):
        with pytest.raises(errors.ConfigurationError) as caught:
            Webhooks.from_env({**webhook_env(vendor), variable: value}, provider=vendor)
        assert_names_variable_not_value(caught.value, variable, value)
    with pytest.raises(errors.ConfigurationError) as caught:
        Webhooks.from_env({**webhook_env(vendor), variable: ""}, provider=vendor)
    assert caught.value.variable == variable


def test_a_basic_user_name_with_a_colon_names_its_variable() -> None:
    fields = get_vendor_webhooks("chargebee").signature.fields
    env = ProviderEnv("chargebee", {})
    user, password = (env.variable(field) for field in fields)
    value = f"{MARK}:{MARK}"
    with pytest.raises(errors.ConfigurationError) as caught:
        Webhooks.from_env({user: value, password: "pw"}, provider="chargebee")
    assert_names_variable_not_value(caught.value, user, value)


def test_a_bad_provider_variable_for_webhooks_is_named_without_its_value() -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        Webhooks.from_env({"PORTALKIT_PROVIDER": f"whsec_{MARK}"})
    assert caught.value.variable == "PORTALKIT_PROVIDER"
    assert MARK not in str(caught.value)


# -- the example app -------------------------------------------------------------------------


def example() -> Any:
    return importlib.import_module("examples.manage_billing.app")


def example_settings() -> Any:
    return importlib.import_module("examples.manage_billing.settings")


def example_billing() -> Any:
    return importlib.import_module("examples.manage_billing.billing")


BAD_EXAMPLE_SETTINGS = [
    ("PORTALKIT_EXAMPLE_PORT", "eighty"),
    ("PORTALKIT_EXAMPLE_PORT", "0"),
    ("PORTALKIT_EXAMPLE_PORT", "65536"),
    ("PORTALKIT_EXAMPLE_PORT", "-1"),
    ("PORTALKIT_EXAMPLE_PORT", "8000.5"),
    ("PORTALKIT_EXAMPLE_PORT", "٨٠٠٠"),  # digits, but not ASCII ones
    ("PORTALKIT_EXAMPLE_HOST", f"http://{MARK}.example"),
    ("PORTALKIT_EXAMPLE_HOST", "127.0.0.1:8000"),
    ("PORTALKIT_EXAMPLE_HOST", f"{MARK} host"),
    ("PORTALKIT_EXAMPLE_PUBLIC_URL", f"{MARK}.example"),
    ("PORTALKIT_EXAMPLE_PUBLIC_URL", f"ftp://{MARK}.example"),
    ("PORTALKIT_EXAMPLE_PUBLIC_URL", f"http://{MARK}.example"),  # return URLs need https
    ("PORTALKIT_EXAMPLE_PUBLIC_URL", f"https://{MARK}.example/?next={MARK}"),
    ("PORTALKIT_EXAMPLE_PUBLIC_URL", f"https://{MARK}.example/#{MARK}"),
    ("PORTALKIT_EXAMPLE_PUBLIC_URL", f"https://user:{MARK}@app.example"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_EXAMPLE_SETTINGS)
def test_the_example_apps_settings_are_checked(variable: str, value: str) -> None:
    with pytest.raises(example_billing().SetupError) as caught:
        example_settings().server_settings({variable: value})
    assert str(caught.value).startswith(variable)
    assert value not in str(caught.value)
    assert MARK not in str(caught.value)


def test_the_example_needs_a_public_url_when_it_listens_on_another_host() -> None:
    with pytest.raises(example_billing().SetupError, match=r"^PORTALKIT_EXAMPLE_PUBLIC_URL"):
        example_settings().server_settings({"PORTALKIT_EXAMPLE_HOST": "app.internal.example"})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ("127.0.0.1", 8000, "http://127.0.0.1:8000")),
        ({"PORTALKIT_EXAMPLE_PORT": " 8123 "}, ("127.0.0.1", 8123, "http://127.0.0.1:8123")),
        ({"PORTALKIT_EXAMPLE_HOST": "0.0.0.0"}, ("0.0.0.0", 8000, "http://127.0.0.1:8000")),  # noqa: S104
        ({"PORTALKIT_EXAMPLE_HOST": "::1"}, ("::1", 8000, "http://[::1]:8000")),
        ({"PORTALKIT_EXAMPLE_HOST": "localhost"}, ("localhost", 8000, "http://localhost:8000")),
        (
            {"PORTALKIT_EXAMPLE_PUBLIC_URL": "https://billing.example/app/"},
            ("127.0.0.1", 8000, "https://billing.example/app"),
        ),
    ],
)
def test_the_example_apps_good_settings_pass(
    environ: dict[str, str], expected: tuple[str, int, str]
) -> None:
    assert example_settings().server_settings(environ) == expected


@pytest.mark.parametrize(("variable", "value"), BAD_EXAMPLE_SETTINGS[:3])
def test_the_example_stops_before_anything_starts(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    def no_server(*args: object, **kwargs: object) -> None:
        pytest.fail("the server started")

    def no_sandbox(*args: object, **kwargs: object) -> None:
        pytest.fail("the sandbox started")

    monkeypatch.setattr(uvicorn, "run", no_server)
    monkeypatch.setattr(Sandbox, "serve", no_sandbox)
    with pytest.raises(SystemExit) as exited:
        example().main({variable: value})
    assert str(exited.value.code).startswith(f"examples.manage_billing: {variable}")
    assert value not in str(exited.value.code)


def test_the_examples_vendor_is_checked_before_the_sandbox_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_sandbox(*args: object, **kwargs: object) -> None:
        pytest.fail("the sandbox started")

    monkeypatch.setattr(Sandbox, "serve", no_sandbox)
    with pytest.raises(SystemExit) as exited:
        example().main({"PORTALKIT_PROVIDER": f"no-such-{MARK}"})
    assert "PORTALKIT_PROVIDER" in str(exited.value.code)
    assert MARK not in str(exited.value.code)


def live_example_env(vendor: str, **more: str) -> dict[str, str]:
    return {**good_env(vendor), **more}


def _a_subscription(vendor: str) -> str | None:
    customer = SANDBOX.customers(vendor)[0]
    subscriptions = SANDBOX.subscriptions(vendor, customer)
    return subscriptions[0] if subscriptions else None


@pytest.mark.parametrize("vendor", VENDORS)
def test_the_examples_customer_is_checked_at_start_up(vendor: str) -> None:
    billing = example_billing()
    for value in ("", f"{MARK}/../x", f"{MARK} {MARK}"):
        environ = live_example_env(vendor, PORTALKIT_EXAMPLE_CUSTOMER_ID=value)
        with pytest.raises(billing.SetupError) as caught:
            billing.live_account(vendor, environ)
        assert str(caught.value).startswith("PORTALKIT_EXAMPLE_CUSTOMER_ID")
        assert MARK not in str(caught.value)
    customer = SANDBOX.customers(vendor)[0]
    account = billing.live_account(
        vendor, live_example_env(vendor, PORTALKIT_EXAMPLE_CUSTOMER_ID=customer)
    )
    account.portal.close()
    assert account.customer_id == customer


def test_the_examples_customer_is_held_to_the_vendors_own_format() -> None:
    billing = example_billing()
    environ = live_example_env("paddle", PORTALKIT_EXAMPLE_CUSTOMER_ID=f"cus_{MARK}")
    with pytest.raises(billing.SetupError, match=r"^PORTALKIT_EXAMPLE_CUSTOMER_ID") as caught:
        billing.live_account("paddle", environ)
    assert MARK not in str(caught.value)


@pytest.mark.parametrize("vendor", [v for v in VENDORS if _a_subscription(v)])
def test_the_examples_subscriptions_are_checked_at_start_up(vendor: str) -> None:
    billing = example_billing()
    customer = SANDBOX.customers(vendor)[0]
    subscription = _a_subscription(vendor)
    for value in (f"{subscription},{MARK}/x", f"{subscription},{subscription}"):
        environ = live_example_env(
            vendor,
            PORTALKIT_EXAMPLE_CUSTOMER_ID=customer,
            PORTALKIT_EXAMPLE_SUBSCRIPTION_IDS=value,
        )
        with pytest.raises(billing.SetupError) as caught:
            billing.live_account(vendor, environ)
        assert str(caught.value).startswith("PORTALKIT_EXAMPLE_SUBSCRIPTION_IDS")
        assert MARK not in str(caught.value)
        assert str(subscription) not in str(caught.value)


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[Mapping[str, str]], None]:
    """Only the given variables of any vendor (and no PORTALKIT_*), as a user would set them;
    and a Portal that fails the test if the CLI ever builds one."""
    import os

    prefixes = tuple(ProviderEnv(vendor, {}).variable("") for vendor in VENDORS)
    for name in list(os.environ):
        if name.startswith((*prefixes, "PORTALKIT_")):
            monkeypatch.delenv(name)

    def no_portal(*args: object, **kwargs: object) -> None:
        pytest.fail("the CLI built a Portal: it would have sent a request")

    monkeypatch.setattr(cli, "Portal", no_portal)

    def set_env(values: Mapping[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    "value",
    [
        "",
        f"ftp://{MARK}.example",
        f"https://{MARK}.example:99999",
        f"https://{MARK}.example/?key={MARK}",
        f"http://{MARK}.example",
        f"https://{MARK}.example/\nX-Injected: {MARK}",
    ],
)
def test_a_bad_base_url_option_names_the_option_not_the_variable(
    vendor: str,
    value: str,
    clean_env: Callable[[Mapping[str, str]], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    clean_env(good_env(vendor))
    customer = SANDBOX.customers(vendor)[0]
    argv = ["link", "--provider", vendor, "--customer", customer, "--base-url", value]
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("portalkit link: --base-url ")
    assert ProviderEnv(vendor, {}).variable("base_url") not in err
    assert MARK not in err


def test_a_bad_provider_option_names_the_option(
    clean_env: Callable[[Mapping[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env({})
    assert cli.main(["link", "--provider", "padle", "--customer", "cus_1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("portalkit link: --provider: ")
    assert "PORTALKIT_PROVIDER" not in err


def test_the_provider_variable_still_names_the_variable(
    clean_env: Callable[[Mapping[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    clean_env({"PORTALKIT_PROVIDER": f"x{MARK}"})
    assert cli.main(["link", "--customer", "cus_1", "--base-url", f"ftp://{MARK}"]) == 2
    err = capsys.readouterr().err
    assert "PORTALKIT_PROVIDER" in err
    assert MARK not in err


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bad_variable_the_cli_reads_still_names_the_variable(
    vendor: str, clean_env: Callable[[Mapping[str, str]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    variable = ProviderEnv(vendor, {}).variable("base_url")
    clean_env({**good_env(vendor), variable: f"ftp://{MARK}.example"})
    customer = SANDBOX.customers(vendor)[0]
    assert cli.main(["link", "--provider", vendor, "--customer", customer]) == 2
    err = capsys.readouterr().err
    assert variable in err
    assert MARK not in err


@pytest.fixture
def no_sandbox_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("the sandbox started serving")

    monkeypatch.setattr(Sandbox, "serve", refuse)


@pytest.mark.usefixtures("no_sandbox_server")
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--port", "65536"], "--port"),
        (["--port", "-1"], "--port"),
        (["--host", "http://127.0.0.1"], "--host"),
        (["--host", "127.0.0.1:8765"], "--host"),
        (["--host", "two words"], "--host"),
        (["--host", ""], "--host"),
        (["--forward-to", "ftp://127.0.0.1/hooks"], "--forward-to"),
        (["--forward-to", "127.0.0.1:8000/hooks"], "--forward-to"),
        (["--forward-to", "http://127.0.0.1:8000/hooks?token=1"], "--forward-to"),
        (["--forward-to", "http://127.0.0.1:8000/hooks#x"], "--forward-to"),
    ],
)
def test_a_bad_sandbox_option_is_named_before_it_serves(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sandbox", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"portalkit sandbox: {option}")


@pytest.mark.usefixtures("no_sandbox_server")
def test_a_port_that_is_not_a_number_is_refused_by_the_parser_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["sandbox", "--port", "eighty"])
    assert exited.value.code == 2
    assert "argument --port" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "yesterday"])
def test_webhook_verify_refuses_an_at_that_is_no_time(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nan would make every timestamp comparison false: no delivery would ever be too old.
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_test")
    with pytest.raises(SystemExit) as exited:
        cli.main(["webhook", "verify", "--provider", "stripe", f"--at={value}"])
    assert exited.value.code == 2
    assert "argument --at: must be a Unix time" in capsys.readouterr().err


def test_webhook_verify_names_its_provider_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\r\n\r\n{}")))
    assert cli.main(["webhook", "verify", "--provider", "strpe"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("portalkit webhook verify: --provider: ")
    assert "did you mean 'stripe'?" in err


# -- a Portal after close() ------------------------------------------------------------------


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed portal is final: tenacity is never asked to retry."""
    from portalkit import _portal

    def refuse(**options: object) -> None:
        pytest.fail("a closed portal's call was retried")

    monkeypatch.setattr(_portal, "Retrying", refuse)
    monkeypatch.setattr(_portal, "AsyncRetrying", refuse)


def request_for(vendor: str) -> PortalRequest:
    return PortalRequest(SANDBOX.customers(vendor)[0], return_url="https://app.example.com/account")


def made_up_link(vendor: str) -> PortalLink:
    return PortalLink(
        provider=vendor,
        session_id="sess_1",
        customer_id=SANDBOX.customers(vendor)[0],
        url="https://portal.example/session",
    )


def assert_closed(error: errors.PortalClosed, vendor: str, kind: str) -> None:
    assert isinstance(error, errors.PortalError)
    assert not error.retryable
    assert error.provider == vendor
    assert f"this {kind} was closed" in str(error)


@pytest.mark.usefixtures("no_retries")
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_portal_used_after_close_says_so(vendor: str) -> None:
    # Its own client, pointed at a port nothing answers on: were anything sent, the error
    # would be a ProviderUnavailable, not PortalClosed.
    portal = Portal(SANDBOX.provider(vendor, base_url=UNUSED_BASE_URL))
    portal.close()
    portal.close()  # closing twice is fine
    with pytest.raises(errors.PortalClosed) as caught:
        portal.create_link(request_for(vendor))
    assert_closed(caught.value, vendor, "Portal")


@pytest.mark.usefixtures("no_retries")
@pytest.mark.parametrize("vendor", VENDORS)
async def test_an_async_portal_used_after_aclose_says_so(vendor: str) -> None:
    portal = AsyncPortal(SANDBOX.provider(vendor, base_url=UNUSED_BASE_URL))
    await portal.aclose()
    await portal.aclose()
    with pytest.raises(errors.PortalClosed) as caught:
        await portal.create_link(request_for(vendor))
    assert_closed(caught.value, vendor, "AsyncPortal")


def test_an_async_portal_closed_in_one_loop_stays_closed_in_the_next() -> None:
    # A new event loop makes AsyncPortal replace its own client; a closed one must not.
    portal = AsyncPortal(SANDBOX.provider("paddle", base_url=UNUSED_BASE_URL))
    asyncio.run(portal.aclose())
    with pytest.raises(errors.PortalClosed):
        asyncio.run(portal.create_link(request_for("paddle")))


def _ending_vendors() -> list[str]:
    return [
        v
        for v in VENDORS
        if Feature.END_SESSION in SANDBOX.provider(v, base_url=UNUSED_BASE_URL).features
    ]


@pytest.mark.usefixtures("no_retries")
@pytest.mark.parametrize("vendor", _ending_vendors())
async def test_end_session_after_close_says_so(vendor: str) -> None:
    with refusing_client() as client:
        portal = Portal(SANDBOX.provider(vendor, base_url=UNUSED_BASE_URL), http_client=client)
        portal.close()
        with pytest.raises(errors.PortalClosed):
            portal.end_session(made_up_link(vendor))
    async with httpx.AsyncClient(transport=httpx.MockTransport(_fail_if_sent)) as async_client:
        async_portal = AsyncPortal(
            SANDBOX.provider(vendor, base_url=UNUSED_BASE_URL), http_client=async_client
        )
        await async_portal.aclose()
        with pytest.raises(errors.PortalClosed):
            await async_portal.end_session(made_up_link(vendor))


def _fail_if_sent(request: httpx.Request) -> httpx.Response:
    pytest.fail(f"a request was sent: {request.method} {request.url.host}")


@pytest.mark.usefixtures("no_retries")
def test_a_closed_portal_with_the_callers_client_says_so_and_sends_nothing() -> None:
    with refusing_client() as client:
        portal = Portal(SANDBOX.provider("stripe", base_url=UNUSED_BASE_URL), http_client=client)
        portal.close()
        assert not client.is_closed  # the caller's client stays the caller's
        with pytest.raises(errors.PortalClosed):
            portal.create_link(request_for("stripe"))


@pytest.mark.usefixtures("no_retries")
def test_a_callers_client_closed_under_an_open_portal_is_a_portal_error() -> None:
    client = refusing_client()
    portal = Portal(SANDBOX.provider("stripe", base_url=UNUSED_BASE_URL), http_client=client)
    client.close()
    with pytest.raises(errors.PortalClosed, match="http_client this Portal was given is closed"):
        portal.create_link(request_for("stripe"))


@pytest.mark.usefixtures("no_retries")
async def test_a_callers_async_client_closed_under_an_open_portal_is_a_portal_error() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(_fail_if_sent))
    portal = AsyncPortal(SANDBOX.provider("stripe", base_url=UNUSED_BASE_URL), http_client=client)
    await client.aclose()
    with pytest.raises(errors.PortalClosed, match="http_client this AsyncPortal was given"):
        await portal.create_link(request_for("stripe"))


def test_portal_closed_has_its_place_in_the_tree() -> None:
    assert issubclass(errors.PortalClosed, errors.PortalError)
    assert not issubclass(errors.PortalClosed, errors.ProviderUnavailable)  # never retried
    assert "PortalClosed" in errors.__all__
    assert "PortalClosed" in (errors.__doc__ or "")


# -- a connection that cannot be made ---------------------------------------------------------


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A loopback port bound but not listening: a connect to it is refused at once."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


class _Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class _AsyncCounting(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


RETRY = RetryPolicy(max_attempts=3, backoff_initial=0, retry_after_cap=0)
PATH = "/prefix-zq7xv/v1"


def assert_names_the_host(error: errors.PortalError, host: str, request: PortalRequest) -> None:
    assert type(error) is errors.ProviderUnavailable
    assert error.retryable
    text = str(error)
    assert f"could not connect to {host}" in text
    assert "/" not in text  # no path: the base URL's prefix, the customer's id in it
    assert "zq7xv" not in text


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_refused_connection_names_the_host_and_is_still_retried(
    vendor: str, refusing_port: int
) -> None:
    base_url = f"http://127.0.0.1:{refusing_port}{PATH}"
    transport = _Counting(httpx.HTTPTransport())
    request = request_for(vendor)
    with (
        httpx.Client(transport=transport) as client,
        Portal(SANDBOX.provider(vendor, base_url=base_url), http_client=client, retry=RETRY) as p,
        pytest.raises(errors.ProviderUnavailable) as caught,
    ):
        p.create_link(request)
    assert_names_the_host(caught.value, f"127.0.0.1:{refusing_port}", request)
    assert transport.sent == RETRY.max_attempts


@pytest.mark.parametrize("vendor", VENDORS)
async def test_a_refused_connection_names_the_host_async(vendor: str, refusing_port: int) -> None:
    base_url = f"http://127.0.0.1:{refusing_port}{PATH}"
    transport = _AsyncCounting(httpx.AsyncHTTPTransport())
    request = request_for(vendor)
    async with (
        httpx.AsyncClient(transport=transport) as client,
        AsyncPortal(
            SANDBOX.provider(vendor, base_url=base_url), http_client=client, retry=RETRY
        ) as portal,
    ):
        with pytest.raises(errors.ProviderUnavailable) as caught:
            await portal.create_link(request)
    assert_names_the_host(caught.value, f"127.0.0.1:{refusing_port}", request)
    assert transport.sent == RETRY.max_attempts


def test_portals_own_client_names_the_host_too(refusing_port: int) -> None:
    request = request_for("paddle")
    base_url = f"http://127.0.0.1:{refusing_port}{PATH}"
    with (
        Portal(SANDBOX.provider("paddle", base_url=base_url), retry=RETRY) as portal,
        pytest.raises(errors.ProviderUnavailable) as caught,
    ):
        portal.create_link(request)
    assert_names_the_host(caught.value, f"127.0.0.1:{refusing_port}", request)


@pytest.mark.parametrize("stack", INSTALLED_STACKS)
@pytest.mark.parametrize(
    ("failure", "says"),
    [
        ("ConnectError", "failed (ConnectError)"),  # refused, or a name DNS cannot resolve
        ("ConnectTimeout", "timed out (ConnectTimeout)"),
    ],
)
def test_a_dns_failure_or_connect_timeout_names_the_host_of_either_stack(
    stack: str, failure: str, says: str
) -> None:
    module = importlib.import_module(stack)
    sent: list[str] = []

    def fail(request: Any) -> Any:
        sent.append(request.url.host)
        raise getattr(module, failure)("simulated", request=request)

    request = request_for("stripe")
    base_url = "https://api.vendor-zq7xv.example/prefix-zq7xv"
    provider = SANDBOX.provider("stripe", base_url=base_url)
    with (
        module.Client(transport=module.MockTransport(fail)) as client,
        Portal(provider, http_client=client, retry=RETRY) as portal,
        pytest.raises(errors.ProviderUnavailable) as caught,
    ):
        portal.create_link(request)
    text = str(caught.value)
    assert "could not connect to api.vendor-zq7xv.example" in text
    assert says in text
    assert "/" not in text
    assert request.customer_id not in text  # a Stripe id: long enough to mean something
    assert len(sent) == RETRY.max_attempts


def test_other_transport_failures_name_the_host_but_not_as_a_connect_failure() -> None:
    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("simulated", request=request)

    request = request_for("stripe")
    provider = SANDBOX.provider("stripe", base_url="https://api.vendor.example/p-zq7xv")
    with (
        httpx.Client(transport=httpx.MockTransport(drop)) as client,
        Portal(provider, http_client=client, retry=RETRY) as portal,
        pytest.raises(errors.ProviderUnavailable) as caught,
    ):
        portal.create_link(request)
    text = str(caught.value)
    assert "the HTTP request failed (ReadError) at api.vendor.example" in text
    assert "could not connect" not in text
    assert MARK not in text
