"""A typo in a vendor's name suggests the nearest registered one, wherever the name is read:
``--provider``, ``PORTALKIT_PROVIDER`` (without echoing its value), the registry's look-ups
(adapters, webhook receivers), ``Sandbox.twin`` and the sandbox's control endpoints."""

from __future__ import annotations

import io
import sys

import pytest

from portalkit import Webhooks, available_providers, cli, get_vendor_webhooks, provider_from_env
from portalkit._http import httpx
from portalkit._registry import did_you_mean, get_provider_factory
from portalkit.errors import ConfigurationError
from portalkit.sandbox import Sandbox

NAMES = available_providers()


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("padle", "paddle"),
        ("stirpe", "stripe"),
        ("chargbee", "chargebee"),
        ("lemonsquezy", "lemonsqueezy"),
        ("lemon-squeezy", "lemonsqueezy"),
        ("Lemon Squeezy", "lemonsqueezy"),
        ("plugpay", "plugipay"),
        ("polarr", "polar"),
        ("Paddle", "paddle"),  # read as written (Sandbox.twin): the case is the typo
    ],
)
def test_a_close_name_gets_the_nearest_registered_one(typed: str, meant: str) -> None:
    assert did_you_mean(typed, NAMES) == f"; did you mean {meant!r}?"


@pytest.mark.parametrize(
    "typed",
    ["paddle", "", "x", "nosuchvendor", "sk_live_51HqLyjWDarjtT1zdp7dcXYZabcdEFGH", "pdl_key_12"],
)
def test_a_registered_or_far_name_gets_no_hint(typed: str) -> None:
    assert did_you_mean(typed, NAMES) == ""


def test_the_registry_suggests_for_an_adapter() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_provider_factory("padle")
    assert caught.value.message.endswith("; did you mean 'paddle'?")
    assert "no provider named 'padle' is installed (installed: " in caught.value.message
    with pytest.raises(ConfigurationError, match="did you mean 'stripe'"):
        provider_from_env({}, name="Stirpe")


def test_a_name_that_cannot_be_a_provider_name_still_gets_the_hint() -> None:
    with pytest.raises(ConfigurationError) as caught:
        get_provider_factory("lemon squeezy")
    assert "must be lowercase letters" in caught.value.message
    assert "did you mean 'lemonsqueezy'?" in caught.value.message


def test_the_provider_variable_gets_the_hint_but_never_shows_its_value() -> None:
    with pytest.raises(ConfigurationError) as caught:
        provider_from_env({"PORTALKIT_PROVIDER": "chargbee"})
    assert caught.value.message.endswith("; did you mean 'chargebee'?")
    assert "chargbee" not in str(caught.value)


def test_the_webhook_receivers_suggest_too() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'stripe'"):
        get_vendor_webhooks("strpe")
    with pytest.raises(ConfigurationError, match="did you mean 'stripe'"):
        Webhooks.from_env({}, provider="strpe")
    with pytest.raises(ConfigurationError) as caught:
        Webhooks.from_env({"PORTALKIT_PROVIDER": "strpe"})
    assert "did you mean 'stripe'" in caught.value.message
    assert "strpe" not in caught.value.message


def test_webhook_verify_suggests(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\r\n\r\n{}")))
    assert cli.main(["webhook", "verify", "--provider", "padle"]) == 2
    assert "did you mean 'paddle'?" in capsys.readouterr().err


def test_the_sandbox_suggests_for_a_twin() -> None:
    sandbox = Sandbox()
    with pytest.raises(ValueError, match=r"unknown vendor 'padle'; .*; did you mean 'paddle'\?"):
        sandbox.twin("padle")
    with pytest.raises(ValueError, match="did you mean 'stripe'"):
        sandbox.customers("Stripe")
    with pytest.raises(ValueError, match="unknown vendor 'nosuchvendor'") as caught:
        sandbox.twin("nosuchvendor")
    assert "did you mean" not in str(caught.value)


def test_the_sandbox_control_endpoints_suggest(portal_sandbox: Sandbox) -> None:
    answer = httpx.get(f"{portal_sandbox.url}/_sandbox/padle/customers")
    assert answer.status_code == 404
    assert answer.json()["error"].endswith("did you mean 'paddle'?")
    answer = httpx.get(f"{portal_sandbox.url}/_sandbox/strpe/webhooks")
    assert answer.status_code == 404
    assert answer.json()["error"].endswith("did you mean 'stripe'?")
