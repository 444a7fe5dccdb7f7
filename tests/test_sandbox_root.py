"""The sandbox's root page, ``GET /``: what it serves, per vendor -- the API's base URL and
routes, the portal pages, the control and webhook control endpoints -- each entry one that
answers (no 404 or 405 from the router)."""

from __future__ import annotations

from typing import Any

import pytest

from portalkit._http import httpx
from portalkit.sandbox import Sandbox

SLOTS = {
    "{customer_id}": "no_such_customer",
    "{subscription_id}": "no_such_subscription",
}


@pytest.fixture
def root(portal_sandbox: Sandbox) -> dict[str, Any]:
    answer = httpx.get(f"{portal_sandbox.url}/")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    page: dict[str, Any] = answer.json()
    return page


def test_the_root_lists_every_vendor_with_its_api_base_url(
    portal_sandbox: Sandbox, root: dict[str, Any]
) -> None:
    assert root["url"] == portal_sandbox.url
    assert list(root["vendors"]) == list(portal_sandbox.vendors)
    for vendor, listed in root["vendors"].items():
        twin = portal_sandbox.twin(vendor)
        assert listed["title"] == twin.title
        assert listed["api_base_url"] == portal_sandbox.base_url(vendor)
        assert listed["api"] == [str(route) for route in twin.routes]
        assert listed["portal_pages"]
        assert all(page.split(" ")[1].startswith(f"/{vendor}/") for page in listed["portal_pages"])
        assert f"GET /{vendor}/session" in listed["portal_pages"]
        assert f"GET /_sandbox/{vendor}/customers" in listed["control"]
        assert f"POST /_sandbox/{vendor}/faults" in listed["control"]
        if twin.webhooks is None:
            assert listed["webhook_control"] == []
        else:
            assert f"POST /_sandbox/{vendor}/webhooks/trigger" in listed["webhook_control"]
            assert f"GET /_sandbox/{vendor}/webhooks/deliveries" in listed["webhook_control"]


def test_the_root_lists_the_shared_control_endpoints(root: dict[str, Any]) -> None:
    assert root["control"] == ["GET /_sandbox", "POST /_sandbox/reset", "POST /_sandbox/advance"]
    assert "GET /_sandbox" in root["about"]


def test_every_listed_control_endpoint_is_served(
    portal_sandbox: Sandbox, root: dict[str, Any]
) -> None:
    """Each entry is routed: a GET answers 200 or its endpoint's own 404 (an unknown
    subscription), a POST without a JSON content type the control endpoints' 415 (which only
    a routed endpoint gives), a DELETE 204."""
    listed = list(root["control"])
    for vendor in root["vendors"].values():
        listed += vendor["control"] + vendor["webhook_control"]
    for entry in listed:
        method, path = entry.split(" ", 1)
        for slot, value in SLOTS.items():
            path = path.replace(slot, value)
        if method == "POST":
            answer = httpx.post(f"{portal_sandbox.url}{path}", content=b"x")
            assert answer.status_code == 415, entry
        elif method == "GET":
            answer = httpx.get(f"{portal_sandbox.url}{path}")
            assert answer.status_code in (200, 404), entry
            if answer.status_code == 404:  # the endpoint's own 404 (an unknown subscription)
                assert "error" in answer.json(), entry
        else:
            assert method == "DELETE", entry
            # Clears the vendor's faults or endpoints: none here, so nothing changes.
            assert httpx.delete(f"{portal_sandbox.url}{path}").status_code == 204, entry


def test_the_describe_text_points_at_the_root(portal_sandbox: Sandbox) -> None:
    assert f"Everything it serves, per vendor: {portal_sandbox.url}/" in portal_sandbox.describe()
