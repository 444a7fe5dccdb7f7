"""The ``portalkit`` command line, run in-process through ``main([...])``.

``demo`` and ``sandbox`` start the real sandbox server on loopback; ``link`` mints against a
sandbox this module's tests start (portalkit.testing's ``portal_sandbox``), with the
credentials in environment variables as a user would set them.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from _vendors import supports, twin
from _web_server import bind_loopback, serve
from _webhook_receiver import Receiver

import portalkit
from portalkit import (
    CustomerIdKind,
    EventType,
    Feature,
    Flow,
    Portal,
    PortalLink,
    PortalRequest,
    available_twins,
    cli,
    get_vendor_webhooks,
    provider_from_env,
)
from portalkit._env import ProviderEnv
from portalkit._http import httpx
from portalkit.sandbox import DeliveryFault, Sandbox, load_twins

VENDORS = tuple(available_twins())  # the registry: the portalkit.sandbox entry points
#: What ``portalkit demo`` asks every vendor for, as request fields and the Feature each needs.
DEMO_ASKS = (
    ("return_url", Feature.RETURN_URL),
    ("locale", Feature.LOCALE),
    ("subscription_ids", Feature.SUBSCRIPTION_DEEP_LINKS),
)


def _secret_parts(url: str) -> list[str]:
    """The URL and each part of it that can carry its credential."""
    parts = httpx.URL(url)
    return [part for part in (url, parts.path, parts.fragment, parts.query.decode()) if part]


# -- portalkit demo ------------------------------------------------------------------------------


@pytest.fixture
def minted(monkeypatch: pytest.MonkeyPatch) -> list[PortalLink]:
    """Every link the command mints, noted as Portal returns it."""
    links: list[PortalLink] = []
    create_link = Portal.create_link

    def noting(self: Portal, request: PortalRequest) -> PortalLink:
        link = create_link(self, request)
        links.append(link)
        return link

    monkeypatch.setattr(Portal, "create_link", noting)
    return links


def test_demo_mints_a_link_per_vendor_and_shows_each_opens_once(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, minted: list[PortalLink]
) -> None:
    caplog.set_level(logging.DEBUG)
    assert cli.main(["demo"]) == 0
    out, err = capsys.readouterr()

    assert [link.provider for link in minted] == list(VENDORS)
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("vendor "))
    table = lines[start : lines.index("", start)]
    assert table[0].split() == ["vendor", "session", "id", "expires", "at", "(UTC)", "deep",
                                "links", "vendor", "ignored"]  # fmt: skip
    rows = {line.split()[0]: line for line in table[2:] if line and not line.startswith(" ")}
    assert set(rows) == set(VENDORS)
    # What each vendor ignored of the same request: what its adapter declares it cannot do
    # of what the demo asks (e.g. Plugipay "locale, subscription_ids", Paddle "return_url,
    # locale"), in the request's field order.
    for vendor in VENDORS:
        ignored = [field for field, feature in DEMO_ASKS if not supports(vendor, feature)]
        assert rows[vendor].endswith(", ".join(ignored) or "-"), rows[vendor]
    for link in minted:
        row = rows[link.provider]
        # A vendor that reports no expiry (Paddle) is shown so, never an invented time.
        assert ("not reported" in row) == (link.expires_at is None)
        if link.session_id not in httpx.URL(link.url).path:  # else shortened (Paylera)
            assert link.session_id in row
    # Deep links (Paddle): one per action for each of the seeded customer's two subscriptions.
    deep_linking = [v for v in VENDORS if supports(v, Feature.SUBSCRIPTION_DEEP_LINKS)]
    for vendor in deep_linking:
        link = next(link for link in minted if link.provider == vendor)
        assert len({deep.subscription_id for deep in link.deep_links} - {None}) == 2
    if deep_linking:
        assert "2 cancel_subscription" in out
        assert "2 update_payment_method" in out
    for vendor in VENDORS:
        # Gone on the second visit, or (reusable links, Twin.single_use_links) open again.
        again = "410 Gone" if twin(vendor).single_use_links else "200 OK"
        assert re.search(rf"{vendor}\s+first visit: 200 OK\s+second visit: {again}", out)
    # The way back: the events each vendor sent for the cancellation, read by portalkit.
    events = _events_table(lines)
    assert set(events) == set(CANCELLING_VENDORS)
    sandbox = Sandbox()
    for vendor in CANCELLING_VENDORS:
        subscription = sandbox.subscriptions(vendor, sandbox.customers(vendor)[0])[0]
        cancels = {
            row.vendor_type
            for row in get_vendor_webhooks(vendor).events
            if row.type is EventType.SUBSCRIPTION_CANCEL_SCHEDULED
        }
        [scheduled] = [r for r in events[vendor] if r[0] == "subscription_cancel_scheduled"]
        assert scheduled[1] in cancels  # the vendor's own name for it
        assert scheduled[2] == subscription
        ends = datetime.strptime(scheduled[3], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert ends > datetime.now(UTC)  # at the end of the period: cancelled, still active
        for row in events[vendor]:
            assert row[0] in {t.value for t in EventType}
            assert row[2] == subscription
    assert "FAILED" not in out
    # Never a link's credential: not in the output, not in a log record.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for link in minted:
        for part in _secret_parts(link.url):
            assert part not in out + err + logged
    assert "<redacted>" in out
    # Nor a webhook secret, nor where the receiver was.
    for vendor in CANCELLING_VENDORS:
        for name, value in sandbox.webhook_env(vendor).items():
            if name != "PORTALKIT_PROVIDER":
                assert value not in out + err + logged
    assert "/hooks/" not in out + err


def _cancel_action(vendor: str) -> str | None:
    """The twin's portal action that schedules a cancellation (None: its page has none)."""
    hooks = twin(vendor).webhooks
    if hooks is None:
        return None
    changes = hooks.action_changes.items()
    return next((a for a, c in changes if c is EventType.SUBSCRIPTION_CANCEL_SCHEDULED), None)


#: The vendors whose twin's portal page cancels a subscription (the registry says which).
CANCELLING_VENDORS = [v for v in VENDORS if _cancel_action(v)]


def _events_table(lines: list[str]) -> dict[str, list[list[str]]]:
    """The demo's table of events, by vendor: [type, vendor's type, subscription, ends at]."""
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["vendor", "event"])
    table: dict[str, list[list[str]]] = {}
    vendor = ""
    for line in lines[start + 2 : lines.index("", start)]:
        if not line.startswith(" "):
            vendor, line = line.split(None, 1)
        cells = line.split()
        if len(cells) == 5:  # "ends at" is a date and a time
            cells = [*cells[:3], " ".join(cells[3:])]
        table.setdefault(vendor, []).append(cells)
    return table


def test_demo_fails_when_a_cancellation_does_not_come_back(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vendor whose webhooks the receiver refuses (forged, here) is a failed demo."""
    forged = CANCELLING_VENDORS[0]
    add_endpoint = Sandbox.add_webhook_endpoint

    def forging(self: Sandbox, vendor: str, url: str) -> None:
        if vendor == forged:
            self.script_deliveries(vendor, *[DeliveryFault.bad_signature()] * 4)
        add_endpoint(self, vendor, url)

    monkeypatch.setattr(Sandbox, "add_webhook_endpoint", forging)
    assert cli.main(["demo"]) == 1
    out, err = capsys.readouterr()
    events = _events_table(out.splitlines())
    assert events[forged][0][0] == "FAILED:"
    assert "webhook deliveries were refused" in " ".join(events[forged][0])
    assert all("FAILED:" not in events[v][0] for v in CANCELLING_VENDORS[1:])
    assert "a cancellation did not come back as its vendor's webhooks" in err


def test_demo_without_the_sandbox_extra_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "portalkit.sandbox", None)  # import fails as if absent
    assert cli.main(["demo"]) == 2
    assert (
        "pip install './portalkit[sandbox]' from a clone, or '<wheel>[sandbox]' (not on PyPI yet)"
        in capsys.readouterr().err
    )


# -- portalkit sandbox ---------------------------------------------------------------------------


def test_sandbox_serves_until_interrupted(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def use_it_then_press_ctrl_c() -> None:
        out = capsys.readouterr().out
        url = re.search(r"portalkit sandbox at (http://127\.0\.0\.1:\d+)", out)
        assert url is not None, out
        seen["url"] = url.group(1)
        seen["printed"] = out
        credentials = Sandbox().credentials("paylera")
        from portalkit.providers.paylera import Paylera

        with Portal(Paylera(base_url=seen["url"], **credentials)) as portal:
            seen["link"] = portal.create_link(PortalRequest("cus_sandbox0001"))
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_for_interrupt", use_it_then_press_ctrl_c)
    assert cli.main(["sandbox", "--port", "0"]) == 0

    assert seen["link"].session_id.startswith("ps_")
    # It printed what a user needs: credentials and seeded customers, per vendor.
    assert Sandbox().describe().splitlines()[1] in seen["printed"]
    assert "pdl_sdbx_apikey_portalkit_portal" in seen["printed"]
    assert "ctm_01hzseed000000000000000001" in seen["printed"]
    assert "stopped" in capsys.readouterr().err
    with pytest.raises(httpx.ConnectError):  # and the server is gone
        httpx.get(seen["url"] + "/_sandbox", timeout=2)


def test_sandbox_forwards_each_vendors_webhooks_and_prints_their_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    vendors = [t.name for t in load_twins() if t.webhooks is not None]
    assert vendors
    envs = {vendor: Sandbox().webhook_env(vendor) for vendor in vendors}
    app = Receiver(envs)  # portalkit's webhook view per vendor, at /hooks/<vendor>
    seen: dict[str, Any] = {}

    def trigger_each_then_press_ctrl_c() -> None:
        out = capsys.readouterr().out
        seen["printed"] = out
        found = re.search(r"portalkit sandbox at (http://127\.0\.0\.1:\d+)", out)
        assert found is not None, out
        control = f"{found.group(1)}/_sandbox"
        for vendor in vendors:
            answer = httpx.post(
                f"{control}/{vendor}/webhooks/trigger",
                json={"change": "subscription_cancel_scheduled"},
                timeout=5,
            )
            assert answer.status_code == 202, answer.text
            seen[vendor] = _finished(f"{control}/{vendor}/webhooks/deliveries", answer.json())
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_for_interrupt", trigger_each_then_press_ctrl_c)
    with serve(app.app(), bind_loopback()) as app_url:
        argv = ["sandbox", "--port", "0", "--forward-to", f"{app_url}/hooks/"]
        assert cli.main(argv) == 0
    printed = seen["printed"]
    for vendor in vendors:
        assert re.search(rf"\n  {vendor} +-> {re.escape(app_url)}/hooks/{vendor}\n", printed)
        for name, value in envs[vendor].items():
            if name != "PORTALKIT_PROVIDER":
                assert f"{name}={value}" in printed  # sandbox secrets: printing them is the point
        assert {d["state"] for d in seen[vendor]} == {"delivered"}
        assert EventType.SUBSCRIPTION_CANCEL_SCHEDULED in [e.type for e in app.events[vendor]]


def _finished(url: str, triggered: dict[str, Any]) -> list[dict[str, Any]]:
    """The deliveries at ``url``, once the trigger's are all finished (polled briefly)."""
    deadline = time.monotonic() + 5
    while True:
        listed = httpx.get(url, timeout=5).json()["deliveries"]
        done = [d for d in listed if d["state"] != "pending"]
        if len(done) >= triggered["deliveries"]:
            return listed
        assert time.monotonic() < deadline, listed
        time.sleep(0.02)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/hooks", "not a url"])
def test_sandbox_refuses_a_forward_to_that_is_no_http_url(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["sandbox", "--port", "0", "--forward-to", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("portalkit sandbox: --forward-to: ")
    assert "must be" in err


def test_sandbox_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["sandbox", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


# -- portalkit link ------------------------------------------------------------------------------


@pytest.fixture
def vendor_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set one vendor's credentials as environment variables, as a user would."""
    prefixes = tuple(f"{ProviderEnv(vendor, {}).variable('')}" for vendor in VENDORS)
    for name in list(__import__("os").environ):
        if name.startswith((*prefixes, "PORTALKIT_")):
            monkeypatch.delenv(name)

    def set_for(vendor: str, credentials: dict[str, str]) -> None:
        env = ProviderEnv(vendor, {})
        for field, value in credentials.items():
            monkeypatch.setenv(env.variable(field), value)

    return set_for


@pytest.mark.parametrize("vendor", VENDORS)
def test_link_prints_the_url_once_to_stdout_and_nothing_of_it_elsewhere(
    vendor: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor_env(vendor, portal_sandbox.credentials(vendor))
    customer = portal_sandbox.customers(vendor)[0]
    subscription = portal_sandbox.subscriptions(vendor, customer)[0]
    argv = ["link", "--provider", vendor, "--customer", customer, "--base-url", portal_sandbox.url]
    argv += ["--return-url", "https://app.example.com/account", "--subscription", subscription]

    assert cli.main(argv) == 0
    out, err = capsys.readouterr()

    (session,) = portal_sandbox.sessions(vendor)
    assert out == session.url + "\n"  # the minted link, once, alone on stdout
    assert session.customer_id == customer
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for part in _secret_parts(session.url):
        assert part not in err + logged
    assert f"{vendor} portal link minted for {customer}" in err


def test_link_url_opens_the_portal(
    portal_sandbox: Sandbox, vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("paylera", portal_sandbox.credentials("paylera"))
    customer = portal_sandbox.customers("paylera")[0]
    argv = ["link", "--provider", "paylera", "--customer", customer]
    assert cli.main([*argv, "--base-url", portal_sandbox.url]) == 0
    url = capsys.readouterr().out.strip()
    assert httpx.get(url).status_code == 200
    assert httpx.get(url).status_code == 410


@pytest.mark.parametrize("vendor", VENDORS)
def test_link_without_credentials_names_the_variable(
    vendor: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The first credential from_env requires (the twin lists them in that order), e.g.
    # PLUGIPAY_KEY_ID, PADDLE_API_KEY.
    variable = ProviderEnv(vendor, {}).variable(next(iter(portal_sandbox.credentials(vendor))))
    customer = portal_sandbox.customers(vendor)[0]
    argv = ["link", "--provider", vendor, "--customer", customer]
    assert cli.main([*argv, "--base-url", portal_sandbox.url]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert variable in err
    assert portal_sandbox.received(vendor) == []


def test_link_with_a_malformed_credential_names_the_variable_not_the_value(
    portal_sandbox: Sandbox, vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("paddle", {"api_key": "pdl key with spaces"})
    argv = ["link", "--provider", "paddle", "--customer", portal_sandbox.customers("paddle")[0]]
    assert cli.main([*argv, "--base-url", portal_sandbox.url]) == 2
    err = capsys.readouterr().err
    assert "PADDLE_API_KEY" in err
    assert "spaces" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--customer", "cus_123"],
            "invalid customer_id (--customer): must match ctm_ followed by 26 lowercase letters"
            " and digits; cus_... is the customer-id format of Plugipay, Paylera and Stripe,"
            " not Paddle's",
        ),
        (
            ["--customer", "ctm_01hzseed000000000000000001", "--subscription", "sub_nope"],
            "invalid subscription_ids[0] (--subscription): must match sub_ followed by 26"
            " lowercase letters and digits",
        ),
        (
            ["--customer", "ctm_01hzseed000000000000000001", "--return-url", "ftp://x.example"],
            "invalid return_url (--return-url): must be an absolute https:// URL",
        ),
    ],
    ids=["customer", "subscription", "return-url"],
)
def test_link_with_a_bad_id_names_the_field_and_rule_and_sends_nothing(
    argv: list[str],
    expected: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vendor_env("paddle", portal_sandbox.credentials("paddle"))
    base = ["link", "--provider", "paddle", "--base-url", portal_sandbox.url]
    assert cli.main([*base, *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expected in err
    assert portal_sandbox.received("paddle") == []


def test_link_refused_by_the_vendor_exits_1_with_its_error(
    portal_sandbox: Sandbox, vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("plugipay", portal_sandbox.credentials("plugipay", "no_scope"))
    customer = portal_sandbox.customers("plugipay")[0]
    argv = ["link", "--provider", "plugipay", "--customer", customer, "--base-url"]
    argv += [portal_sandbox.url, "--return-url", "https://app.example.com/account"]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "status=403" in err
    assert "code=insufficient_scope" in err
    assert "sandbox-plugipay-readonly" not in err  # the secret


def test_link_with_an_unknown_provider(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["link", "--provider", "nosuchvendor", "--customer", "cus_1"]) == 2
    assert "no provider named 'nosuchvendor'" in capsys.readouterr().err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2
    assert "demo" in capsys.readouterr().err


@pytest.mark.parametrize("named", ["paylera", " Paylera\n", "PAYLERA"])
@pytest.mark.parametrize("where", ["PORTALKIT_PROVIDER", "--provider"])
def test_link_takes_the_provider_from_either_place_with_one_case_rule(
    named: str,
    where: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vendor_env("paylera", portal_sandbox.credentials("paylera"))
    customer = portal_sandbox.customers("paylera")[0]
    argv = ["link", "--customer", customer, "--base-url", portal_sandbox.url]
    if where == "--provider":
        argv += ["--provider", named]
        monkeypatch.setenv("PORTALKIT_PROVIDER", "paddle")  # the flag wins over the variable
    else:
        monkeypatch.setenv("PORTALKIT_PROVIDER", named)
    assert cli.main(argv) == 0
    (session,) = portal_sandbox.sessions("paylera")
    assert capsys.readouterr().out == session.url + "\n"
    assert portal_sandbox.received("paddle") == []
    # provider_from_env reads both places with the same rule.
    environ = {"PAYLERA_API_KEY": "pl_key_12345678", "PORTALKIT_PROVIDER": named}
    assert provider_from_env(environ).name == "paylera"
    assert provider_from_env({"PAYLERA_API_KEY": "pl_key_12345678"}, name=named).name == "paylera"


def test_link_without_a_provider_anywhere_names_the_variable(
    vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("paylera", {})  # clears every PORTALKIT_* and vendor variable
    assert cli.main(["link", "--customer", "cus_1"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "PORTALKIT_PROVIDER is not set" in err


# -- portalkit link: deep links, flows, the app's own customer id, --json, --version -------------


@pytest.fixture
def requested(monkeypatch: pytest.MonkeyPatch) -> list[tuple[PortalRequest, PortalLink]]:
    """Every request the command makes through Portal, with the link it got back."""
    calls: list[tuple[PortalRequest, PortalLink]] = []
    create_link = Portal.create_link

    def noting(self: Portal, request: PortalRequest) -> PortalLink:
        link = create_link(self, request)
        calls.append((request, link))
        return link

    monkeypatch.setattr(Portal, "create_link", noting)
    return calls


def _link_argv(sandbox: Sandbox, vendor: str, *more: str) -> list[str]:
    return ["link", "--provider", vendor, "--base-url", sandbox.url, *more]


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"portalkit {portalkit.__version__}\n"


@pytest.mark.parametrize(
    "vendor", [v for v in VENDORS if supports(v, Feature.SUBSCRIPTION_DEEP_LINKS)]
)
def test_link_deep_links_go_to_stdout_only_one_a_line(
    vendor: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    requested: list[tuple[PortalRequest, PortalLink]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor_env(vendor, portal_sandbox.credentials(vendor))
    customer = portal_sandbox.customers(vendor)[0]
    subscription = portal_sandbox.subscriptions(vendor, customer)[0]
    argv = _link_argv(portal_sandbox, vendor, "--customer", customer)
    argv += ["--return-url", "https://app.example.com/account", "--subscription", subscription]

    assert cli.main([*argv, "--deep-links"]) == 0
    out, err = capsys.readouterr()

    ((_, link),) = requested
    assert link.deep_links  # the vendor mints them: something to print
    expected = [link.url] + [
        f"{deep.action.value}\t{deep.subscription_id or '-'}\t{deep.url}"
        for deep in link.deep_links
    ]
    assert out.splitlines() == expected
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for url in [link.url, *(deep.url for deep in link.deep_links)]:
        for part in _secret_parts(url):
            assert part not in err + logged
    assert f"{len(link.deep_links)} deep links (on stdout)" in err


def test_link_without_deep_links_says_how_to_print_them(
    portal_sandbox: Sandbox, vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("paddle", portal_sandbox.credentials("paddle"))
    customer = portal_sandbox.customers("paddle")[0]
    subscription = portal_sandbox.subscriptions("paddle", customer)[0]
    argv = _link_argv(portal_sandbox, "paddle", "--customer", customer)
    assert cli.main([*argv, "--subscription", subscription]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1  # the URL alone, as `$(portalkit link ...)` expects
    assert "--deep-links prints them" in err


@pytest.mark.parametrize("vendor", VENDORS)
def test_link_json_is_one_object_on_stdout(
    vendor: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    requested: list[tuple[PortalRequest, PortalLink]],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor_env(vendor, portal_sandbox.credentials(vendor))
    customer = portal_sandbox.customers(vendor)[0]
    argv = _link_argv(portal_sandbox, vendor, "--customer", customer, "--json")
    argv += ["--return-url", "https://app.example.com/account"]
    argv += [
        arg
        for sub in portal_sandbox.subscriptions(vendor, customer)
        for arg in ("--subscription", sub)
    ]

    assert cli.main(argv) == 0
    out, err = capsys.readouterr()

    ((_, link),) = requested
    printed = json.loads(out)  # one JSON document, nothing else on stdout
    assert printed["url"] == link.url
    assert printed["session_id"] == link.session_id
    if link.expires_at is None:
        assert printed["expires_at"] is None
    else:
        assert datetime.fromisoformat(printed["expires_at"]) == link.expires_at
    assert printed["deep_links"] == [
        {"action": deep.action.value, "subscription_id": deep.subscription_id, "url": deep.url}
        for deep in link.deep_links
    ]
    assert printed["ignored_fields"] == list(link.ignored_fields)
    assert printed["provider"] == vendor
    assert printed["customer_id"] == link.customer_id
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for url in [link.url, *(deep.url for deep in link.deep_links)]:
        for part in _secret_parts(url):
            assert part not in err + logged


@pytest.mark.parametrize(
    ("flow", "action", "with_subscription"),
    [
        ("cancel_subscription:{sub}", "cancel_subscription", True),
        ("update_payment_method", "update_payment_method", False),
    ],
)
def test_link_flow_is_a_flow_of_an_action_and_a_subscription(
    flow: str,
    action: str,
    with_subscription: bool,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    requested: list[tuple[PortalRequest, PortalLink]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    vendor_env("stripe", portal_sandbox.credentials("stripe"))
    customer = portal_sandbox.customers("stripe")[0]
    subscription = portal_sandbox.subscriptions("stripe", customer)[0]
    argv = _link_argv(portal_sandbox, "stripe", "--customer", customer)
    argv += ["--return-url", "https://app.example.com/account"]
    assert cli.main([*argv, "--flow", flow.format(sub=subscription)]) == 0

    ((request, link),) = requested
    assert request.flow == Flow(action, subscription if with_subscription else None)
    assert capsys.readouterr().out == link.url + "\n"
    (received,) = portal_sandbox.received("stripe")  # the flow, in Stripe's words, sent
    body = received.body.replace(b"%5B", b"[").replace(b"%5D", b"]")
    assert b"flow_data[type]=" in body
    assert (subscription.encode() in body) is with_subscription


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        ("cancel", "invalid flow.action (--flow): must be one of overview, cancel_subscription"),
        ("", "invalid flow.action (--flow): must be one of"),
        ("cancel_subscription:", "invalid flow.subscription_id (--flow): must not be empty"),
    ],
    ids=["unknown-action", "empty", "empty-subscription"],
)
def test_link_with_a_bad_flow_names_the_option_and_rule_and_sends_nothing(
    flow: str,
    expected: str,
    portal_sandbox: Sandbox,
    vendor_env: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    vendor_env("stripe", portal_sandbox.credentials("stripe"))
    customer = portal_sandbox.customers("stripe")[0]
    argv = _link_argv(portal_sandbox, "stripe", "--customer", customer, "--flow", flow)
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert expected in err
    assert "STRIPE_" not in err
    assert "PORTALKIT_" not in err
    assert portal_sandbox.received("stripe") == []


def test_link_external_customer_names_the_customer_by_the_apps_id(
    portal_sandbox: Sandbox,
    vendor_env: Any,
    requested: list[tuple[PortalRequest, PortalLink]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    vendor_env("polar", portal_sandbox.credentials("polar"))
    argv = _link_argv(portal_sandbox, "polar", "--customer", "usr_alice", "--external-customer")
    assert cli.main([*argv, "--json"]) == 0

    ((request, link),) = requested
    assert request.customer_id_kind is CustomerIdKind.EXTERNAL
    assert request.customer_id == "usr_alice"
    # The vendor's own id for the customer, as it answered: Alice is the first seeded one.
    assert json.loads(capsys.readouterr().out)["customer_id"] == link.customer_id
    assert link.customer_id == portal_sandbox.customers("polar")[0]


@pytest.mark.parametrize(
    "vendor", [v for v in VENDORS if not supports(v, Feature.EXTERNAL_CUSTOMER_ID)]
)
def test_link_external_customer_where_unsupported_names_the_option_and_sends_nothing(
    vendor: str, portal_sandbox: Sandbox, vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env(vendor, portal_sandbox.credentials(vendor))
    argv = _link_argv(portal_sandbox, vendor, "--customer", "usr_1", "--external-customer")
    argv += ["--return-url", "https://app.example.com/account"]
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "(--external-customer)" in err
    assert portal_sandbox.received(vendor) == []


def test_link_with_a_bad_base_url_names_the_option_not_the_variable(
    portal_sandbox: Sandbox, vendor_env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("paddle", portal_sandbox.credentials("paddle"))
    customer = portal_sandbox.customers("paddle")[0]
    argv = ["link", "--provider", "paddle", "--customer", customer, "--base-url", "ftp://x.example"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "--base-url" in err
    assert "PADDLE_BASE_URL" not in err


def test_link_with_a_misspelt_provider_suggests_the_nearest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["link", "--provider", "padle", "--customer", "cus_1"]) == 2
    err = capsys.readouterr().err
    assert "no provider named 'padle' is installed" in err
    assert "did you mean 'paddle'?" in err


def test_link_with_a_misspelt_provider_variable_suggests_without_echoing_it(
    vendor_env: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vendor_env("paddle", {})
    monkeypatch.setenv("PORTALKIT_PROVIDER", "Stirpe")
    assert cli.main(["link", "--customer", "cus_1"]) == 2
    err = capsys.readouterr().err
    assert "PORTALKIT_PROVIDER names no installed provider" in err
    assert "did you mean 'stripe'?" in err
    assert "stirpe" not in err.lower()
    # A secret pasted into the wrong variable: no hint, no value.
    secret = "sk_live_51HqLyjWDarjtT1zdp7dcXYZabcdEFGH"
    monkeypatch.setenv("PORTALKIT_PROVIDER", secret)
    assert cli.main(["link", "--customer", "cus_1"]) == 2
    err = capsys.readouterr().err
    assert "did you mean" not in err
    assert secret.lower() not in err.lower()
