"""portalkit.web.starlette with Starlette's TestClient (and FastAPI's), over a mocked vendor."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from _web import (
    CUSTOMER_ID,
    OTHER_CUSTOMER_ID,
    PORTAL_URL,
    VENDOR_ERRORS,
    FakeVendor,
    assert_no_leak,
    assert_security_headers,
    request_for,
    unsupported_request,
    vendor_error,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient as FastAPITestClient
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from portalkit import AsyncPortal, Portal, PortalRequest
from portalkit.web.starlette import json_view, redirect_view


def own_mapping(request: Request) -> PortalRequest:
    """The app's user-to-customer mapping; here the signed-in user comes from a header."""
    user = request.headers.get("x-demo-user", "alice")
    return request_for({"alice": CUSTOMER_ID, "bob": OTHER_CUSTOMER_ID}[user])


def make_client(
    portal: Portal | AsyncPortal,
    to_request: Callable[[Request], object] = own_mapping,
    methods: list[str] | None = None,
) -> TestClient:
    methods = methods or ["POST"]
    app = Starlette(
        routes=[
            Route("/billing", redirect_view(portal, to_request), methods=methods),  # type: ignore[arg-type]
            Route("/billing.json", json_view(portal, to_request), methods=methods),  # type: ignore[arg-type]
        ]
    )
    return TestClient(app, follow_redirects=False)


def test_post_answers_303_to_the_portal_without_caching_or_referrer() -> None:
    vendor = FakeVendor()
    response = make_client(vendor.portal()).post("/billing")
    assert response.status_code == 303
    assert response.headers["location"] == PORTAL_URL
    assert_security_headers(response.headers)
    assert vendor.customers_asked_for() == [CUSTOMER_ID]


def test_the_apps_mapping_picks_the_customer() -> None:
    vendor = FakeVendor()
    make_client(vendor.portal()).post("/billing", headers={"x-demo-user": "bob"})
    assert vendor.customers_asked_for() == [OTHER_CUSTOMER_ID]


def test_json_view_answers_the_url_without_caching() -> None:
    vendor = FakeVendor()
    response = make_client(vendor.portal()).post("/billing.json")
    assert response.status_code == 200
    assert response.json() == {"url": PORTAL_URL}
    assert_security_headers(response.headers)


@pytest.mark.parametrize("path", ["/billing", "/billing.json"])
def test_get_is_405_and_never_mints_even_when_the_route_allows_it(path: str) -> None:
    vendor = FakeVendor()
    client = make_client(vendor.portal(), methods=["GET", "POST"])
    response = client.get(path)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_security_headers(response.headers)
    assert vendor.requests == []


@pytest.mark.parametrize(("vendor_status", "code", "expected"), VENDOR_ERRORS)
@pytest.mark.parametrize("path", ["/billing", "/billing.json"])
def test_vendor_errors_become_generic_answers(
    path: str, vendor_status: int, code: str, expected: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = FakeVendor(vendor_error(vendor_status, code))
    response = make_client(vendor.portal()).post(path)
    assert response.status_code == expected
    assert "location" not in response.headers
    assert_security_headers(response.headers)
    if path.endswith(".json"):
        assert set(response.json()) == {"error"}
    assert_no_leak(response.text, caplog.text)
    assert f"answered {expected}" in caplog.text  # the failure is logged, safely


def test_an_invalid_request_from_the_apps_mapping_is_400(caplog: pytest.LogCaptureFixture) -> None:
    vendor = FakeVendor()
    client = make_client(vendor.portal(), to_request=lambda request: request_for("ctm_../x"))
    response = client.post("/billing")
    assert response.status_code == 400
    assert vendor.requests == []
    assert "InvalidRequest" in caplog.text


def test_an_unsupported_feature_is_400() -> None:
    vendor = FakeVendor()
    client = make_client(vendor.portal(), to_request=lambda request: unsupported_request())
    response = client.post("/billing.json")
    assert response.status_code == 400
    assert vendor.requests == []


def test_async_portal_and_async_mapping() -> None:
    vendor = FakeVendor()

    async def async_mapping(request: Request) -> PortalRequest:
        return own_mapping(request)

    response = make_client(vendor.async_portal(), to_request=async_mapping).post("/billing")
    assert response.status_code == 303
    assert response.headers["location"] == PORTAL_URL
    assert vendor.customers_asked_for() == [CUSTOMER_ID]


def test_mounts_in_fastapi() -> None:
    vendor = FakeVendor()
    app = FastAPI()
    app.add_api_route("/billing", redirect_view(vendor.portal(), own_mapping), methods=["POST"])
    client = FastAPITestClient(app, follow_redirects=False)
    response = client.post("/billing")
    assert response.status_code == 303
    assert response.headers["location"] == PORTAL_URL
    assert_security_headers(response.headers)
    assert client.get("/billing").status_code == 405
    assert vendor.customers_asked_for() == [CUSTOMER_ID]


def test_refuses_something_that_is_not_a_portal() -> None:
    with pytest.raises(TypeError, match="Portal or AsyncPortal"):
        redirect_view(object(), own_mapping)  # type: ignore[arg-type]


def test_the_apps_mapping_may_refuse_a_visitor_who_is_not_signed_in() -> None:
    vendor = FakeVendor()

    def signed_in_only(request: Request) -> PortalRequest:
        raise HTTPException(401)

    assert make_client(vendor.portal(), signed_in_only).post("/billing").status_code == 401
    assert vendor.requests == []
