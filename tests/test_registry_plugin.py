"""The provider registry and a third-party plug-in.

tests/plugin_pkg is a separate distribution (``portalkit-fakevendor``) that registers its
adapter in the ``portalkit.providers`` entry-point group. The suite pip-installs it (see
tests/_plugin.py); from then on it works with ``Portal.from_env``, ``MigrationRouter`` and
the CLI with no change to portalkit.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from _mock import mint
from _plugin import PLUGIN_NAME, PLUGIN_SOURCE, plugin_site
from _vendor_world import (
    FAKEVENDOR_CUSTOMER,
    MODES,
    PADDLE_CUSTOMER,
    PADDLE_CUSTOMER_2,
    VendorWorld,
)

import portalkit
from portalkit import (
    MigrationRouter,
    Portal,
    PortalRequest,
    ProviderEnv,
    Route,
    _registry,
    errors,
    provider_from_env,
)
from portalkit._http import httpx

PLUGIN_ENV = {"PORTALKIT_PROVIDER": "fakevendor", "FAKEVENDOR_TOKEN": "fv_secret_token"}
RETURN_URL = "https://app.example.com/account"


@pytest.fixture
def fakevendor(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The installed plug-in, importable and discoverable for this test only."""
    site = plugin_site()
    monkeypatch.syspath_prepend(str(site))
    return site


def test_the_plugin_is_a_real_installed_distribution(fakevendor: Path) -> None:
    distribution = importlib.metadata.distribution("portalkit-fakevendor")
    (entry_point,) = [ep for ep in distribution.entry_points if ep.group == "portalkit.providers"]
    assert (entry_point.name, entry_point.value) == (
        "fakevendor",
        "portalkit_fakevendor:FakeVendor",
    )
    factory: Any = portalkit.get_provider_factory(PLUGIN_NAME)
    # Loaded from the install, not from the source tree.
    module_file = Path(str(sys.modules[factory.__module__].__file__))
    assert fakevendor in module_file.parents
    assert PLUGIN_SOURCE not in module_file.parents


def test_available_providers_lists_the_plugin_only_when_installed(fakevendor: Path) -> None:
    shipped = [ep.name for ep in importlib.metadata.entry_points(group="portalkit.providers")]
    shipped.remove(PLUGIN_NAME)
    assert {"paddle", "paylera", "plugipay"} <= set(shipped)
    assert portalkit.available_providers() == sorted([PLUGIN_NAME, *shipped])


def test_without_the_plugin_the_name_is_unknown() -> None:
    assert PLUGIN_NAME not in portalkit.available_providers()
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env(PLUGIN_ENV)
    assert caught.value.variable == "PORTALKIT_PROVIDER"


@pytest.mark.parametrize("mode", MODES)
def test_from_env_builds_the_plugin_provider(fakevendor: Path, mode: str) -> None:
    provider = provider_from_env(PLUGIN_ENV)
    assert type(provider).__name__ == "FakeVendor"
    world = VendorWorld(customers={"fakevendor": [FAKEVENDOR_CUSTOMER]})
    link = mint(mode, provider, world, PortalRequest(FAKEVENDOR_CUSTOMER, return_url=RETURN_URL))
    assert link.provider == "fakevendor"
    assert link.customer_id == FAKEVENDOR_CUSTOMER
    (hit,) = world.hits
    assert hit.host == "api.fakevendor.test"
    assert hit.headers["Authorization"] == "Bearer fv_secret_token"
    assert hit.body == {"customer": FAKEVENDOR_CUSTOMER, "return_to": RETURN_URL}


def test_portal_from_env_with_the_plugin(fakevendor: Path) -> None:
    world = VendorWorld(customers={"fakevendor": [FAKEVENDOR_CUSTOMER]})
    environ = {**PLUGIN_ENV, "FAKEVENDOR_BASE_URL": "http://127.0.0.1:9999"}
    with (
        httpx.Client(transport=httpx.MockTransport(world)) as client,
        Portal.from_env(environ, http_client=client) as portal,
    ):
        link = portal.create_link(PortalRequest(FAKEVENDOR_CUSTOMER, locale="fr"))
    assert link.provider == "fakevendor"
    assert link.ignored_fields == ("locale",)  # the plug-in's own features drive the policy
    assert world.hits[0].host == "127.0.0.1"


def test_plugin_configuration_errors_name_its_variables(fakevendor: Path) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env({"PORTALKIT_PROVIDER": "fakevendor"})
    assert caught.value.variable == "FAKEVENDOR_TOKEN"
    # The adapter's own refusal is reported against the variable that fed it.
    with pytest.raises(errors.ConfigurationError) as caught:
        provider_from_env({**PLUGIN_ENV, "FAKEVENDOR_BASE_URL": "http://fake.example"})
    assert caught.value.variable == "FAKEVENDOR_BASE_URL"
    assert "fake.example" not in str(caught.value)


@pytest.mark.parametrize("mode", MODES)
def test_the_router_routes_to_the_plugin(fakevendor: Path, mode: str) -> None:
    """Moving from Paddle to the plug-in vendor, both configured from the environment."""
    environ = {**PLUGIN_ENV, "PADDLE_API_KEY": "pd_key"}
    paddle_id = {"user_1": PADDLE_CUSTOMER, "user_2": PADDLE_CUSTOMER_2}

    def route(request: PortalRequest) -> Route:
        user = request.customer_id
        if user == "user_2":  # moved, but the plug-in vendor has not imported it yet
            return Route("fakevendor", "fv_0002", fallback=Route("paddle", paddle_id[user]))
        if user == "user_3":
            return Route("fakevendor", FAKEVENDOR_CUSTOMER)
        return Route("paddle", paddle_id[user])

    router = MigrationRouter(
        [provider_from_env(environ, name="paddle"), provider_from_env(environ, name="fakevendor")],
        route,
        fallback=True,
    )
    world = VendorWorld(
        customers={
            "paddle": [PADDLE_CUSTOMER, PADDLE_CUSTOMER_2],
            "fakevendor": [FAKEVENDOR_CUSTOMER],
        }
    )
    links = [
        mint(mode, router, world, PortalRequest(user)) for user in ("user_1", "user_2", "user_3")
    ]
    assert [link.provider for link in links] == ["paddle", "paddle", "fakevendor"]
    assert world.vendors_hit == ["paddle", "fakevendor", "paddle", "fakevendor"]


# -- The CLI, in a subprocess that sees the plug-in installed ------------------------------


class _FakeVendorHandler(BaseHTTPRequestHandler):
    """FakeVendor's API on 127.0.0.1: one session per POST /portal, requests recorded."""

    seen: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.headers["Authorization"], body))
        answer = {"session": "fvs_1", "link": "https://portal.fakevendor.test/s/TOKEN1", "ttl": 60}
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


@pytest.fixture
def fakevendor_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeVendorHandler)
    _FakeVendorHandler.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FAKEVENDOR_")}
    environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(plugin_site()), environ.get("PYTHONPATH")])
    )
    return subprocess.run(  # noqa: S603 -- this interpreter, our own CLI
        [sys.executable, "-m", "portalkit.cli", *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_cli_mints_a_link_with_the_plugin(fakevendor_api: str) -> None:
    result = run_cli(
        "link",
        "--provider",
        "fakevendor",
        "--customer",
        FAKEVENDOR_CUSTOMER,
        "--return-url",
        RETURN_URL,
        env={"FAKEVENDOR_TOKEN": "fv_secret_token", "FAKEVENDOR_BASE_URL": fakevendor_api},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "https://portal.fakevendor.test/s/TOKEN1\n"  # printed once
    assert "TOKEN1" not in result.stderr
    assert "fv_secret_token" not in result.stdout + result.stderr
    assert _FakeVendorHandler.seen == [
        ("Bearer fv_secret_token", {"customer": FAKEVENDOR_CUSTOMER, "return_to": RETURN_URL})
    ]


def test_the_cli_names_the_plugins_missing_variable() -> None:
    result = run_cli("link", "--provider", "fakevendor", "--customer", "fv_1", env={})
    assert result.returncode == 2
    assert "FAKEVENDOR_TOKEN is not set" in result.stderr
    assert result.stdout == ""


# -- Registry errors, with entry points made up for the test ------------------------------


class NotAProvider:
    @classmethod
    def from_env(cls, env: ProviderEnv) -> object:
        return object()


class NoFromEnv:
    name = "nofromenv"


@pytest.fixture
def extra_entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Add entry points to the group as if installed packages registered them."""

    def add(**targets: str) -> None:
        real = importlib.metadata.entry_points
        extra = [
            importlib.metadata.EntryPoint(name, value, _registry.ENTRY_POINT_GROUP)
            for name, value in targets.items()
        ]

        def entry_points(**params: Any) -> importlib.metadata.EntryPoints:
            found = [*real(**params), *(ep for ep in extra if ep.matches(**params))]
            return importlib.metadata.EntryPoints(found)

        monkeypatch.setattr(_registry, "entry_points", entry_points)

    return add


def test_a_plugin_that_fails_to_import(extra_entry_points: Callable[..., None]) -> None:
    extra_entry_points(broken="portalkit_no_such_module:Adapter")
    assert "broken" in portalkit.available_providers()
    with pytest.raises(errors.ConfigurationError, match="failed to import: ModuleNotFoundError"):
        provider_from_env({"PORTALKIT_PROVIDER": "broken"})


def test_a_plugin_without_from_env(extra_entry_points: Callable[..., None]) -> None:
    extra_entry_points(nofromenv=f"{__name__}:NoFromEnv")
    with pytest.raises(errors.ConfigurationError, match="has no from_env"):
        portalkit.get_provider_factory("nofromenv")


def test_a_plugin_whose_from_env_returns_no_provider(
    extra_entry_points: Callable[..., None],
) -> None:
    extra_entry_points(notaprovider=f"{__name__}:NotAProvider")
    with pytest.raises(errors.ConfigurationError, match="not a PortalProvider"):
        provider_from_env({"PORTALKIT_PROVIDER": "notaprovider"})


def test_a_name_registered_twice_differently(extra_entry_points: Callable[..., None]) -> None:
    extra_entry_points(paddle=f"{__name__}:NotAProvider")
    with pytest.raises(errors.ConfigurationError, match="more than one installed package"):
        portalkit.get_provider_factory("paddle")


def test_iterating_entry_points_twice_for_one_package_is_not_a_conflict(
    extra_entry_points: Callable[..., None],
) -> None:
    # A stale second copy of the same registration (e.g. an old egg-info) is harmless.
    extra_entry_points(paddle="portalkit.providers.paddle:Paddle")
    assert portalkit.get_provider_factory("paddle").__name__ == "Paddle"  # type: ignore[attr-defined]
