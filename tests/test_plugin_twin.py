"""A plug-in vendor gets everything: tests/plugin_pkg (``portalkit-fakevendor``) registers an
adapter in ``portalkit.providers``, a twin in ``portalkit.sandbox`` and a webhook receiver in
``portalkit.webhooks``, and with no change to portalkit it works with ``Portal.from_env``,
``MigrationRouter``, ``portalkit demo``, ``portalkit sandbox``, ``portalkit link``, the pytest
plugin's fixtures and fault scripting, ``Webhooks.from_env``, ``portalkit webhook verify``, and
the sandbox's webhooks (``trigger``, delivered to ``webhook_view``). The plug-in is
pip-installed into a scratch directory (tests/_plugin.py) and put on ``sys.path`` (or
``PYTHONPATH``) for these tests only."""

from __future__ import annotations

import hashlib
import hmac
import importlib.metadata
import io
import json
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _plugin import PLUGIN_NAME, PLUGIN_SOURCE, plugin_site
from starlette.applications import Starlette
from starlette.routing import Route as StarletteRoute

import portalkit
from portalkit import (
    BillingEvent,
    EventType,
    MigrationRouter,
    Portal,
    PortalRequest,
    Route,
    Webhooks,
    cli,
    errors,
    provider_from_env,
)
from portalkit._http import httpx
from portalkit.sandbox import DeliveryFault, Fault, Sandbox, serve_app
from portalkit.web.starlette import webhook_view

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
    assert PLUGIN_NAME not in portalkit.available_webhook_providers()


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
    assert len(rows) == 2  # its link, then the webhook its portal's cancel button sent back
    assert rows[0].split()[1].startswith("fvs_")
    # The plug-in's own features decide what it ignored of the demo's request.
    assert rows[0].endswith("locale, subscription_ids")
    assert re.search(rf"{PLUGIN_NAME}\s+first visit: 200 OK\s+second visit: 410 Gone", out)
    # The way back: the plug-in twin's "Cancel subscription" sent its webhook, verified by
    # the plug-in's receiver.
    assert rows[1].split()[1:4] == [
        "subscription_cancel_scheduled",
        "subscription.cancel_scheduled",
        "fvsub_0101",
    ]


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


# -- webhooks: the plug-in's receiver (portalkit.webhooks) and its twin's deliveries ----------

SECRET = "fv_whsec_test"  # a test's
NOW = 1767225600  # 2026-01-01T00:00:00Z


def fakevendor_delivery(
    kind: str = "subscription.cancel_scheduled", *, secret: str = SECRET, timestamp: int = NOW
) -> tuple[dict[str, str], bytes]:
    """A FakeVendor delivery, signed here with hmac: a witness independent of both the
    plug-in's receiver and its twin."""
    body = json.dumps(
        {
            "id": "fvevt_test0001",
            "type": kind,
            "created": NOW - 5,
            "data": {
                "object": {
                    "id": "fvsub_0101",
                    "customer": "fv_0001",
                    "cancel_at_period_end": True,
                    "current_period_end": NOW + 20 * 86400,
                }
            },
        }
    ).encode()
    signed = f"{timestamp}.".encode() + body
    signature = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return {"X-Fakevendor-Signature": f"t={timestamp},v1={signature}"}, body


def test_the_webhook_receiver_is_registered_by_the_installed_distribution(
    installed: Path,
) -> None:
    distribution = importlib.metadata.distribution("portalkit-fakevendor")
    (entry_point,) = [ep for ep in distribution.entry_points if ep.group == "portalkit.webhooks"]
    assert (entry_point.name, entry_point.value) == (
        PLUGIN_NAME,
        "portalkit_fakevendor.webhooks:WEBHOOKS",
    )
    assert PLUGIN_NAME in portalkit.available_webhook_providers()
    vendor = portalkit.get_vendor_webhooks(PLUGIN_NAME)
    assert vendor.provider == PLUGIN_NAME
    module = Path(str(sys.modules["portalkit_fakevendor.webhooks"].__file__))
    assert installed in module.parents
    assert PLUGIN_SOURCE not in module.parents


def test_webhooks_from_env_verifies_a_plugin_delivery(installed: Path) -> None:
    environ = {"PORTALKIT_PROVIDER": PLUGIN_NAME, "FAKEVENDOR_WEBHOOK_SECRET": SECRET}
    hooks = Webhooks.from_env(environ)
    assert hooks.provider == PLUGIN_NAME
    headers, body = fakevendor_delivery()
    event = hooks.parse(headers, body, now=NOW + 1)
    assert (event.provider, event.id, event.type, event.vendor_type) == (
        PLUGIN_NAME,
        "fvevt_test0001",
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        "subscription.cancel_scheduled",
    )
    assert (event.customer_id, event.subscription_id) == ("fv_0001", "fvsub_0101")
    assert event.occurred_at == datetime.fromtimestamp(NOW - 5, UTC)
    assert event.ends_at == datetime.fromtimestamp(NOW + 20 * 86400, UTC)
    # Its other events, and one it has no word for.
    for kind, expected in (
        ("subscription.resumed", EventType.SUBSCRIPTION_UNCANCELED),
        ("subscription.ended", EventType.SUBSCRIPTION_CANCELED),
        ("invoice.paid", EventType.UNKNOWN),
    ):
        assert hooks.parse(*fakevendor_delivery(kind), now=NOW).type is expected
    # What the plug-in's scheme refuses: another secret, a changed byte, a stale timestamp.
    refused = (
        (fakevendor_delivery(secret="fv_whsec_other"), NOW, "signature_mismatch"),
        ((headers, body.replace(b"fv_0001", b"fv_0002")), NOW, "signature_mismatch"),
        (fakevendor_delivery(), NOW + 301, "timestamp_out_of_tolerance"),
        (fakevendor_delivery(), NOW - 301, "timestamp_out_of_tolerance"),
    )
    for (bad_headers, bad_body), now, reason in refused:
        with pytest.raises(errors.WebhookRejected) as caught:
            hooks.parse(bad_headers, bad_body, now=now)
        assert caught.value.reason.value == reason


def test_webhooks_from_env_names_the_plugin_variable_it_lacks(installed: Path) -> None:
    with pytest.raises(errors.ConfigurationError) as caught:
        Webhooks.from_env({"PORTALKIT_PROVIDER": PLUGIN_NAME})
    assert "FAKEVENDOR_WEBHOOK_SECRET" in str(caught.value)
    # A webhook worker needs no API credentials: FAKEVENDOR_TOKEN is not asked for.
    assert "FAKEVENDOR_TOKEN" not in str(caught.value)


def saved_delivery(headers: dict[str, str], body: bytes) -> bytes:
    """A delivery as ``portalkit webhook verify`` reads it: request line, headers, body."""
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /hooks/fakevendor HTTP/1.1\r\n{head}\r\n".encode() + body


def test_portalkit_webhook_verify_reads_a_plugin_delivery(
    installed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("FAKEVENDOR_", "PORTALKIT_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FAKEVENDOR_WEBHOOK_SECRET", SECRET)

    def verify(data: bytes, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        status = cli.main(["webhook", "verify", "--provider", PLUGIN_NAME, *argv])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, err = verify(saved_delivery(*fakevendor_delivery()), "--at", str(NOW))
    assert (status, err) == (0, "")
    printed = json.loads(out)
    assert printed["provider"] == PLUGIN_NAME
    assert printed["type"] == "subscription_cancel_scheduled"
    assert printed["vendor_type"] == "subscription.cancel_scheduled"
    assert printed["subscription_id"] == "fvsub_0101"
    assert printed["ends_at"] == datetime.fromtimestamp(NOW + 20 * 86400, UTC).isoformat()
    assert "raw" not in printed
    # A delivery signed with another secret is refused, naming the reason and no secret.
    forged = saved_delivery(*fakevendor_delivery(secret="fv_whsec_other"))
    status, out, err = verify(forged, "--at", str(NOW))
    assert (status, out) == (1, "")
    assert "rejected (signature_mismatch)" in err
    assert SECRET not in err


def test_the_plugin_twin_sends_webhooks_that_webhook_view_handles_once(
    sandbox: Sandbox,
) -> None:
    received: list[BillingEvent] = []

    def handle(event: BillingEvent) -> None:
        received.append(event)

    hooks = Webhooks.from_env(sandbox.webhook_env(PLUGIN_NAME))
    app = Starlette(
        routes=[StarletteRoute("/hooks", webhook_view(hooks, handle), methods=["POST"])]
    )
    with serve_app(app) as receiver:
        sandbox.add_webhook_endpoint(PLUGIN_NAME, f"{receiver}/hooks")
        # The vendor sends the event twice (at-least-once): the view hands it over once.
        sandbox.script_deliveries(PLUGIN_NAME, DeliveryFault.duplicate())
        applied = sandbox.trigger(PLUGIN_NAME, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
        deliveries = sandbox.wait_for_deliveries(PLUGIN_NAME, 2)
        assert [d.delivered for d in deliveries] == [True, True]
        assert len({d.id for d in deliveries}) == 1
        (event,) = received
        assert event.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
        assert event.vendor_type == "subscription.cancel_scheduled"
        assert (event.customer_id, event.subscription_id) == (
            applied.after.customer_id,
            applied.after.id,
        )
        assert event.ends_at == datetime.fromtimestamp(int(applied.after.current_period_end), UTC)
        # Its other events: the withdrawal, then the end.
        sandbox.trigger(PLUGIN_NAME, EventType.SUBSCRIPTION_UNCANCELED)
        ended = sandbox.trigger(PLUGIN_NAME, EventType.SUBSCRIPTION_CANCELED)
        sandbox.wait_for_deliveries(PLUGIN_NAME, 4)
    assert [e.type for e in received] == [
        EventType.SUBSCRIPTION_CANCEL_SCHEDULED,
        EventType.SUBSCRIPTION_UNCANCELED,
        EventType.SUBSCRIPTION_CANCELED,
    ]
    assert received[1].ends_at is None
    assert ended.after.ended_at is not None
    assert received[2].ends_at == datetime.fromtimestamp(int(ended.after.ended_at), UTC)
    # A change the plug-in's vendor has no event for is refused.
    with pytest.raises(ValueError, match="no events for subscription_plan_changed"):
        sandbox.trigger(PLUGIN_NAME, EventType.SUBSCRIPTION_PLAN_CHANGED)
