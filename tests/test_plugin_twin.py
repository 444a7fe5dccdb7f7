"""A plug-in vendor gets everything: tests/plugin_pkg (``portalkit-fakevendor``) registers an
adapter in ``portalkit.providers`` and a twin in ``portalkit.sandbox``, and with no change to
portalkit it works with ``Portal.from_env``, ``MigrationRouter``, ``portalkit demo``,
``portalkit sandbox``, ``portalkit link``, and the pytest plugin's fixtures and fault
scripting. The plug-in is pip-installed into a scratch directory (tests/_plugin.py) and put on
``sys.path`` (or ``PYTHONPATH``) for these tests only."""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _plugin import PLUGIN_NAME, PLUGIN_SOURCE, plugin_site

import portalkit
from portalkit import MigrationRouter, Portal, PortalRequest, Route, cli, errors, provider_from_env
from portalkit._http import httpx
from portalkit.sandbox import Fault, Sandbox

pytest_plugins = ["pytester"]
RETURN_URL = "https://app.example.com/account"


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The installed plug-in, importable and discoverable for this test only."""
    site = plugin_site()
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def sandbox(installed: Path) -> Iterator[Sandbox]:
    served = Sandbox()
    with served.serve():
        yield served


def test_the_twin_is_registered_by_the_installed_distribution(installed: Path) -> None:
    distribution = importlib.metadata.distribution("portalkit-fakevendor")
    (entry_point,) = [ep for ep in distribution.entry_points if ep.group == "portalkit.sandbox"]
    assert (entry_point.name, entry_point.value) == (
        PLUGIN_NAME,
        "portalkit_fakevendor.sandbox:TWIN",
    )
    assert PLUGIN_NAME in portalkit.available_twins()
    twin = Sandbox().twin(PLUGIN_NAME)
    module_file = Path(str(sys.modules[type(twin).__module__].__file__))  # portalkit's Twin
    assert "portalkit" in module_file.parts
    twin_module = Path(str(sys.modules["portalkit_fakevendor.sandbox"].__file__))
    assert installed in twin_module.parents  # loaded from the install, not the source tree
    assert PLUGIN_SOURCE not in twin_module.parents


def test_without_the_plugin_the_sandbox_has_no_such_vendor() -> None:
    assert PLUGIN_NAME not in portalkit.available_twins()
    assert PLUGIN_NAME not in Sandbox().vendors


def test_from_env_mints_against_the_plugin_twin(sandbox: Sandbox) -> None:
    environ = {"PORTALKIT_PROVIDER": PLUGIN_NAME, **sandbox.environment(PLUGIN_NAME)}
    customer = sandbox.customers(PLUGIN_NAME)[0]
    with Portal.from_env(environ) as portal:
        link = portal.create_link(PortalRequest(customer, return_url=RETURN_URL))
    assert link.provider == PLUGIN_NAME
    (session,) = sandbox.sessions(PLUGIN_NAME)
    assert (link.session_id, link.url) == (session.id, session.url)
    assert session.return_url == RETURN_URL
    assert httpx.get(link.url).status_code == 200  # the twin's hosted page, once
    assert httpx.get(link.url).status_code == 410
    # The twin refuses what the vendor would: a wrong token, one without the permission.
    for key, error in (
        ("wrong", errors.AuthenticationFailed),
        ("no_scope", errors.PermissionDenied),
    ):
        with Portal(sandbox.provider(PLUGIN_NAME, key)) as portal, pytest.raises(error):
            portal.create_link(PortalRequest(customer))


def test_the_router_moves_customers_onto_the_plugin_twin(sandbox: Sandbox) -> None:
    paddle, moved = sandbox.customers("paddle")[0], sandbox.customers(PLUGIN_NAME)[1]
    environ = {**sandbox.environment("paddle"), **sandbox.environment(PLUGIN_NAME)}

    def route(request: PortalRequest) -> Route:
        if request.customer_id == "user_moved":
            return Route(PLUGIN_NAME, moved)
        return Route("paddle", paddle)

    providers = [provider_from_env(environ, name=name) for name in ("paddle", PLUGIN_NAME)]
    with Portal(MigrationRouter(providers, route)) as portal:
        links = [portal.create_link(PortalRequest(user)) for user in ("user_1", "user_moved")]
    assert [(link.provider, link.customer_id) for link in links] == [
        ("paddle", paddle),
        (PLUGIN_NAME, moved),
    ]
    assert [s.customer_id for s in sandbox.sessions(PLUGIN_NAME)] == [moved]


def test_fault_scripting_reaches_the_plugin_twin(sandbox: Sandbox) -> None:
    sandbox.script(PLUGIN_NAME, Fault.status(503), Fault.missing_fields())
    customer = sandbox.customers(PLUGIN_NAME)[0]
    retry = portalkit.RetryPolicy(backoff_initial=0, retry_after_cap=0)
    with Portal(sandbox.provider(PLUGIN_NAME), retry=retry) as portal:
        link = portal.create_link(PortalRequest(customer))
    assert len(sandbox.received(PLUGIN_NAME)) == 3  # 503, a body lacking fields, then 200
    assert [s.id for s in sandbox.sessions(PLUGIN_NAME)] == [link.session_id]
    sandbox.script(PLUGIN_NAME, Fault.status(404))
    with Portal(sandbox.provider(PLUGIN_NAME)) as portal, pytest.raises(errors.CustomerNotFound):
        portal.create_link(PortalRequest(customer))


def test_portalkit_demo_mints_from_the_plugin(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(f"{PLUGIN_NAME} ")]
    assert len(rows) == 1
    assert rows[0].split()[1].startswith("fvs_")
    # The plug-in's own features decide what it ignored of the demo's request.
    assert rows[0].endswith("locale, subscription_ids")
    assert re.search(rf"{PLUGIN_NAME}\s+first visit: 200 OK\s+second visit: 410 Gone", out)


def test_portalkit_sandbox_serves_the_plugin(
    installed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def use_it_then_press_ctrl_c() -> None:
        out = capsys.readouterr().out
        url = re.search(r"portalkit sandbox at (http://127\.0\.0\.1:\d+)", out)
        assert url is not None, out
        seen["printed"] = out
        described = httpx.get(f"{url.group(1)}/_sandbox").json()
        seen["described"] = described
        credentials = described["vendors"][PLUGIN_NAME]["credentials"]["valid"]
        environ = {
            "PORTALKIT_PROVIDER": PLUGIN_NAME,
            "FAKEVENDOR_TOKEN": credentials["token"],
            "FAKEVENDOR_BASE_URL": url.group(1),
        }
        with Portal.from_env(environ) as portal:
            seen["link"] = portal.create_link(PortalRequest("fv_0001"))
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_for_interrupt", use_it_then_press_ctrl_c)
    assert cli.main(["sandbox", "--port", "0"]) == 0
    assert "FakeVendor" in seen["printed"]
    assert "fv_sandbox_token" in seen["printed"]  # what a user needs: its credentials
    assert list(seen["described"]["vendors"][PLUGIN_NAME]["customers"]) == [
        "fv_0001",
        "fv_0002",
        "fv_0003",
    ]
    assert seen["link"].session_id.startswith("fvs_")


def test_portalkit_link_against_the_plugin_twin(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("FAKEVENDOR_", "PORTALKIT_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FAKEVENDOR_TOKEN", sandbox.credentials(PLUGIN_NAME)["token"])
    customer = sandbox.customers(PLUGIN_NAME)[0]
    argv = ["link", "--provider", PLUGIN_NAME, "--customer", customer]
    assert cli.main([*argv, "--base-url", sandbox.url, "--return-url", RETURN_URL]) == 0
    out, err = capsys.readouterr()
    (session,) = sandbox.sessions(PLUGIN_NAME)
    assert out == session.url + "\n"
    assert session.url not in err
    assert f"{PLUGIN_NAME} portal link minted for {customer}" in err


def test_the_pytest_plugin_fixtures_serve_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_app=textwrap.dedent(
            """
            import pytest
            from portalkit import Portal, PortalRequest, errors
            from portalkit.testing import Fault

            def test_portal_for_the_plugin(portal_sandbox, portal_for):
                customer = portal_sandbox.customers("fakevendor")[0]
                link = portal_for("fakevendor").create_link(PortalRequest(customer))
                assert [s.id for s in portal_sandbox.sessions("fakevendor")] == [link.session_id]
                with pytest.raises(errors.AuthenticationFailed):
                    portal_for("fakevendor", key="wrong").create_link(PortalRequest(customer))

            def test_sandbox_portals_include_the_plugin(portal_sandbox, sandbox_portals):
                link = sandbox_portals["fakevendor"].create_link(
                    PortalRequest(portal_sandbox.customers("fakevendor")[1])
                )
                assert link.provider == "fakevendor"

            def test_scripted_faults(portal_sandbox, portal_for):
                outage = [Fault.status(503), Fault.status(429, retry_after=30)]
                portal_sandbox.script("fakevendor", *outage)
                customer = portal_sandbox.customers("fakevendor")[0]
                link = portal_for("fakevendor").create_link(PortalRequest(customer))
                assert len(portal_sandbox.received("fakevendor")) == 3
                assert link.session_id == portal_sandbox.sessions("fakevendor")[0].id

            def test_from_env(portal_sandbox, portal_sandbox_env, monkeypatch):
                monkeypatch.setenv("PORTALKIT_PROVIDER", "fakevendor")
                assert portal_sandbox_env["FAKEVENDOR_BASE_URL"] == portal_sandbox.url
                customer = portal_sandbox.customers("fakevendor")[0]
                with Portal.from_env() as portal:
                    link = portal.create_link(PortalRequest(customer))
                assert link.provider == "fakevendor"
            """
        )
    )
    pythonpath = os.pathsep.join(filter(None, [str(plugin_site()), os.environ.get("PYTHONPATH")]))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", pythonpath)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
