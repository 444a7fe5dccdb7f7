"""portalkit.testing, the pytest plugin, as an application's test suite meets it: loaded from
its entry point (no ``-p`` anywhere below), its fixtures used from a fresh test directory run
by pytester."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from portalkit import available_twins
from portalkit.sandbox import load_twins

pytest_plugins = ["pytester"]

DOCS = Path(__file__).resolve().parents[1] / "docs"


# The inner runs are subprocesses: an in-process run unloads, once it ends, every module it
# imported first (cattrs, say), and the copies imported again later no longer match the
# classes that modules kept from the run hold -- later tests then fail depending on order.


@pytest.fixture(autouse=True)
def _quiet_ini(pytester: pytest.Pytester) -> None:
    # The inner runs' configuration: pytest-asyncio warns without a loop scope.
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_an_application_test_suite_uses_the_fixtures(pytester: pytest.Pytester) -> None:
    """One pytest run, as an application's suite: its Manage-billing tests, tests showing each
    test starts from the seeded sandbox on one server, and a failure reported as a failure."""
    pytester.makepyfile(
        test_billing="""
        import pytest
        from portalkit import Portal, PortalRequest, errors
        from portalkit.testing import Fault

        def test_portal_for_mints_against_the_sandbox(portal_sandbox, portal_for):
            customer = portal_sandbox.customers("paddle")[0]
            link = portal_for("paddle").create_link(PortalRequest(customer))
            assert [s.id for s in portal_sandbox.sessions("paddle")] == [link.session_id]
            assert link.url.startswith(portal_sandbox.url)

        def test_portal_by_vendor_has_every_vendor(portal_sandbox, portal_by_vendor):
            from importlib.metadata import entry_points
            registered = {ep.name for ep in entry_points(group="portalkit.sandbox")}
            assert {"paddle", "paylera", "plugipay"} <= registered
            assert sorted(portal_by_vendor) == sorted(registered)
            customer = portal_sandbox.customers("paylera")[0]
            link = portal_by_vendor["paylera"].create_link(PortalRequest(customer))
            assert link.provider == "paylera"

        def test_sandbox_portals_is_kept_as_an_alias(portal_by_vendor, sandbox_portals):
            assert sandbox_portals is portal_by_vendor

        def test_a_scripted_outage_is_retried_without_sleeping(portal_sandbox, portal_for):
            portal_sandbox.script("plugipay", Fault.status(503), Fault.status(429, retry_after=30))
            customer = portal_sandbox.customers("plugipay")[0]
            link = portal_for("plugipay").create_link(
                PortalRequest(customer, return_url="https://app.example/billing")
            )
            received = portal_sandbox.received("plugipay")
            assert len(received) == 3
            assert {r.headers["idempotency-key"] for r in received} == {link.idempotency_key}

        def test_wrong_and_no_scope_keys(portal_sandbox, portal_for):
            customer = portal_sandbox.customers("paddle")[0]
            with pytest.raises(errors.AuthenticationFailed):
                portal_for("paddle", key="wrong").create_link(PortalRequest(customer))
            with pytest.raises(errors.PermissionDenied):
                portal_for("paddle", key="no_scope").create_link(PortalRequest(customer))

        def test_app_code_using_from_env_talks_to_the_sandbox(
            portal_sandbox, portal_sandbox_env, monkeypatch
        ):
            monkeypatch.setenv("PORTALKIT_PROVIDER", "paylera")
            assert portal_sandbox_env["PAYLERA_BASE_URL"] == portal_sandbox.url
            with Portal.from_env() as portal:  # what the application does
                link = portal.create_link(PortalRequest(portal_sandbox.customers("paylera")[0]))
            assert [s.id for s in portal_sandbox.sessions("paylera")] == [link.session_id]
        """,
        test_isolation="""
        from portalkit import PortalRequest
        from portalkit.testing import Fault

        urls = []

        def test_leaves_a_session_a_fault_and_a_customer_behind(portal_sandbox, portal_for):
            urls.append(portal_sandbox.url)
            portal_sandbox.add_customer("paddle", "ctm_01j9leftbehind000000000000")
            portal_for("paddle").create_link(PortalRequest(portal_sandbox.customers("paddle")[0]))
            portal_sandbox.script("paddle", Fault.status(503))  # never used by this test

        def test_finds_none_of_it(portal_sandbox, portal_for):
            urls.append(portal_sandbox.url)
            assert urls[0] == urls[1]  # one server for the session
            assert portal_sandbox.sessions("paddle") == []
            assert "ctm_01j9leftbehind000000000000" not in portal_sandbox.customers("paddle")
            link = portal_for("paddle").create_link(
                PortalRequest(portal_sandbox.customers("paddle")[0])
            )
            assert len(portal_sandbox.received("paddle")) == 1  # no leftover 503
        """,
        test_outage="""
        from portalkit import PortalRequest
        from portalkit.testing import Fault

        def test_expects_a_link_during_an_outage(portal_sandbox, portal_for):
            portal_sandbox.script("paddle", *[Fault.status(503)] * 4)
            portal_for("paddle").create_link(PortalRequest(portal_sandbox.customers("paddle")[0]))
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=8, failed=1)
    # The fixtures swallow nothing: an outage longer than the retries reaches the test.
    result.stdout.fnmatch_lines(["*test_outage.py::test_expects_a_link_during_an_outage FAILED*"])
    result.stdout.fnmatch_lines(["*ProviderUnavailable*503*"])


def test_portal_webhooks_leaves_nothing_to_the_next_test(pytester: pytest.Pytester) -> None:
    """What one test forwards, serves and sends ends with it; ``events`` reads only what
    verifies; the plugin's deliveries retry without slow waits."""
    pytester.makepyfile(
        test_webhooks="""
        import time
        import pytest
        from starlette.applications import Starlette
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route
        from portalkit import EventType, Webhooks
        from portalkit.testing import WEBHOOK_VENDORS, DeliveryFault

        vendor = WEBHOOK_VENDORS[0]
        seen = {}

        async def refuse(request):
            return PlainTextResponse("no", 503)

        def test_sends_to_an_app_that_refuses(portal_webhooks, portal_sandbox):
            url = portal_webhooks.serve(Starlette(routes=[Route("/x", refuse, methods=["POST"])]))
            seen["url"] = url
            portal_webhooks.forward(vendor, url + "/x")
            assert portal_sandbox.webhook_endpoints(vendor) == [url + "/x"]
            portal_webhooks.script(vendor, DeliveryFault.late(), DeliveryFault.duplicate())
            started = time.monotonic()
            applied = portal_webhooks.trigger(vendor, EventType.SUBSCRIPTION_CANCEL_SCHEDULED)
            deliveries = portal_webhooks.wait(vendor, count=len(applied.events))
            assert time.monotonic() - started < 0.75  # faster than DeliveryPolicy()'s waits
            assert [a.status_code for a in deliveries[0].attempts] == [503] * 5
            hooks = Webhooks.from_env(portal_webhooks.env(vendor))
            signature = hooks.vendor.signature
            late_refused = signature.has_timestamp and (signature.tolerance or 1e9) < 3600
            events = portal_webhooks.events(vendor)
            assert len(events) == len(portal_webhooks.deliveries(vendor)) - late_refused

        def test_finds_none_of_it(portal_webhooks, portal_sandbox):
            assert portal_sandbox.webhook_endpoints(vendor) == []
            assert portal_webhooks.deliveries(vendor) == []
            assert portal_sandbox.subscription(vendor, next(
                s for c in portal_sandbox.customers(vendor)
                for s in portal_sandbox.subscriptions(vendor, c)
            )).version == 1
            import socket
            from urllib.parse import urlsplit
            with pytest.raises(ConnectionRefusedError):  # the app's server stopped
                socket.create_connection(("127.0.0.1", urlsplit(seen["url"]).port), timeout=2)
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_loading_the_plugin_leaves_the_sandbox_unimported() -> None:
    code = textwrap.dedent(
        """
        import sys
        import portalkit.testing
        heavy = ("portalkit.sandbox", "starlette", "uvicorn")
        print(sorted(name for name in heavy if name in sys.modules))
        """
    )
    result = subprocess.run(  # noqa: S603 -- this interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_without_the_sandbox_extra_only_the_tests_that_need_it_fail(
    pytester: pytest.Pytester,
) -> None:
    # A conftest that makes the sandbox unimportable, as it is without starlette/uvicorn.
    pytester.makeconftest(
        """
        import sys
        sys.modules["starlette"] = None
        sys.modules["portalkit.sandbox"] = None
        """
    )
    pytester.makepyfile(
        """
        def test_unrelated():
            assert True

        def test_needs_the_sandbox(portal_sandbox):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert (
        "pip install './portalkit[sandbox]' from a clone, or '<wheel>[sandbox]' (not on PyPI yet)"
        in result.stdout.str()
    )


def _example_files(page: Path) -> dict[str, str]:
    """The code blocks of a docs page that follow ``<!-- example file: NAME -->``."""
    blocks = re.findall(
        r"<!-- example file: (\S+) -->\n```python\n(.*?)```", page.read_text(), re.S
    )
    return {name.removesuffix(".py"): code for name, code in blocks}


def test_the_examples_in_docs_testing_md_pass(pytester: pytest.Pytester) -> None:
    files = _example_files(DOCS / "testing.md")
    assert set(files) == {"billing", "test_billing", "subscriptions", "test_subscriptions"}
    pytester.makepyfile(**files)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    # One redirect test per registered twin, and four that are not parametrized; four webhook
    # tests per twin that sends webhooks.
    webhook_vendors = [twin.name for twin in load_twins() if twin.webhooks is not None]
    assert webhook_vendors
    result.assert_outcomes(passed=len(available_twins()) + 4 + 4 * len(webhook_vendors))


def test_the_fixtures_share_one_prefix() -> None:
    import portalkit.testing as plugin

    fixtures = [name for name in plugin.__all__ if name.islower() and name != "sandbox_portals"]
    assert fixtures == [
        "portal_by_vendor",
        "portal_for",
        "portal_sandbox",
        "portal_sandbox_env",
        "portal_webhooks",
    ]
    assert all(name.startswith("portal_") for name in fixtures)
