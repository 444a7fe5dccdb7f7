"""A smoke test of the installed wheel, run by scripts/wheel-check.sh with the clean venv's
pytest, from a scratch directory: the package, its adapters (through their entry points),
the sandbox, the web helpers and the pytest plugin all work as installed, with no checkout
on ``sys.path``.

Not a file of the test suite (tests/): it tests what ``pip install <wheel>`` gives a user.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import portalkit
from portalkit import AsyncPortal, Portal, PortalRequest, available_providers
from portalkit._http import httpx
from portalkit.testing import Fault


def test_imported_from_the_venv_not_a_checkout() -> None:
    here = Path(portalkit.__file__).resolve()
    assert Path(sys.prefix).resolve() in here.parents, here
    assert "site-packages" in here.parts
    for entry in sys.path:
        assert not (Path(entry or ".") / "pyproject.toml").exists(), entry
    assert (here.parent / "py.typed").exists()  # the type information ships
    assert httpx.__name__ == "httpx2"  # the dependency portalkit prefers


def test_every_adapter_is_registered_and_importable() -> None:
    vendors = available_providers()
    assert len(vendors) >= 3
    for vendor in vendors:
        module = f"portalkit.providers.{vendor}"
        __import__(module)
        assert module in sys.modules


def test_every_vendor_receives_webhooks_as_installed() -> None:
    vendors = portalkit.available_webhook_providers()
    assert vendors == available_providers()
    body = b'{"not": "an event of any vendor"}'
    for vendor in vendors:
        scheme = portalkit.get_vendor_webhooks(vendor).signature
        secret = (
            "whsec_smoke_secret_1234"
            if "webhook_secret" in scheme.fields
            else portalkit.BasicPair("smoke", "secret-1234")
        )
        hooks = portalkit.Webhooks(vendor, secrets=[secret])
        # A signed body of the wrong shape: verified, then refused as malformed.
        with pytest.raises(portalkit.errors.WebhookRejected) as rejected:
            hooks.parse(hooks.sign(body, delivery_id="msg_smoke"), body)
        assert rejected.value.reason.value == "malformed", (vendor, rejected.value.reason)


def test_the_plugin_mints_through_the_sandbox(portal_sandbox, portal_for) -> None:  # type: ignore[no-untyped-def]
    for vendor in available_providers():
        customer = portal_sandbox.customers(vendor)[0]
        link = portal_for(vendor).create_link(
            PortalRequest(customer, return_url="https://app.example/account")
        )
        assert link.provider == vendor
        [session] = portal_sandbox.sessions(vendor)
        # The link is the session the sandbox minted (matched by its URL: a vendor whose
        # link is read, not minted, names its session after what it read).
        assert link.url == session.url or link.url in {d.url for d in link.deep_links}
        page = httpx.get(link.url)
        assert page.status_code == 200, vendor


def test_a_scripted_fault_is_retried(portal_sandbox, portal_for) -> None:  # type: ignore[no-untyped-def]
    vendor = available_providers()[0]
    portal_sandbox.script(vendor, Fault.status(503))
    customer = portal_sandbox.customers(vendor)[0]
    link = portal_for(vendor).create_link(
        PortalRequest(customer, return_url="https://app.example/account")
    )
    assert link.session_id


def test_from_env_reaches_the_sandbox(portal_sandbox, portal_sandbox_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for vendor in available_providers():
        monkeypatch.setenv("PORTALKIT_PROVIDER", vendor.upper())  # any case, as documented
        with Portal.from_env() as portal:
            customer = portal_sandbox.customers(vendor)[0]
            link = portal.create_link(
                PortalRequest(customer, return_url="https://app.example/account")
            )
        assert link.provider == vendor


def test_portal_by_vendor_and_its_alias(portal_by_vendor, sandbox_portals) -> None:  # type: ignore[no-untyped-def]
    assert sorted(portal_by_vendor) == available_providers()
    assert sandbox_portals is portal_by_vendor


def test_the_starlette_helper_redirects_to_the_portal(portal_sandbox) -> None:  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from portalkit.web.starlette import redirect_view

    vendor = available_providers()[0]
    customer = portal_sandbox.customers(vendor)[0]
    portal = AsyncPortal(portal_sandbox.provider(vendor))
    view = redirect_view(
        portal, lambda request: PortalRequest(customer, return_url="https://app.example/a")
    )
    app = Starlette(routes=[Route("/billing", view, methods=["POST"])])
    with TestClient(app) as client:
        response = client.post("/billing", follow_redirects=False)
    assert response.status_code == 303
    [session] = portal_sandbox.sessions(vendor)
    assert response.headers["location"] == session.url


def test_the_flask_helper_answers_json(portal_sandbox) -> None:  # type: ignore[no-untyped-def]
    import flask

    from portalkit.web.flask import json_view

    vendor = available_providers()[-1]
    customer = portal_sandbox.customers(vendor)[0]
    app = flask.Flask("smoke")
    with Portal(portal_sandbox.provider(vendor)) as portal:
        view = json_view(
            portal, lambda request: PortalRequest(customer, return_url="https://app.example/a")
        )
        app.add_url_rule("/billing.json", view_func=view, methods=["POST"])
        response = app.test_client().post("/billing.json")
    assert response.status_code == 200
    assert set(response.get_json()) == {"url"}
