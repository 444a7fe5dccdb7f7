"""portalkit.web.flask with Flask's test client, over a mocked vendor."""

from __future__ import annotations

import logging
from collections.abc import Callable

import flask
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
)
from _web import vendor_error as vendor_error_reply

from portalkit import Portal, PortalRequest
from portalkit.web.flask import json_view, redirect_view


def own_mapping(request: flask.Request) -> PortalRequest:
    """The app's user-to-customer mapping; here the signed-in user is a URL variable."""
    user = (request.view_args or {}).get("user", "alice")
    return request_for({"alice": CUSTOMER_ID, "bob": OTHER_CUSTOMER_ID}[user])


def make_client(
    portal: Portal,
    to_request: Callable[[flask.Request], PortalRequest] = own_mapping,
    methods: list[str] | None = None,
) -> flask.testing.FlaskClient:
    methods = methods or ["POST"]
    app = flask.Flask(__name__)
    app.add_url_rule("/billing", view_func=redirect_view(portal, to_request), methods=methods)
    app.add_url_rule("/billing.json", view_func=json_view(portal, to_request), methods=methods)
    app.add_url_rule(
        "/users/<user>/billing",
        endpoint="user_billing",
        view_func=redirect_view(portal, to_request),
        methods=methods,
    )
    return app.test_client()


def test_post_answers_303_to_the_portal_without_caching_or_referrer() -> None:
    vendor = FakeVendor()
    response = make_client(vendor.portal()).post("/billing")
    assert response.status_code == 303
    assert response.headers["Location"] == PORTAL_URL
    assert_security_headers(response.headers)
    assert vendor.customers_asked_for() == [CUSTOMER_ID]


def test_url_variables_reach_the_apps_mapping() -> None:
    vendor = FakeVendor()
    response = make_client(vendor.portal()).post("/users/bob/billing")
    assert response.status_code == 303
    assert vendor.customers_asked_for() == [OTHER_CUSTOMER_ID]


def test_json_view_answers_the_url_without_caching() -> None:
    vendor = FakeVendor()
    response = make_client(vendor.portal()).post("/billing.json")
    assert response.status_code == 200
    assert response.get_json() == {"url": PORTAL_URL}
    assert_security_headers(response.headers)


@pytest.mark.parametrize("path", ["/billing", "/billing.json"])
def test_get_is_405_and_never_mints_even_when_the_rule_allows_it(path: str) -> None:
    vendor = FakeVendor()
    response = make_client(vendor.portal(), methods=["GET", "POST"]).get(path)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert_security_headers(response.headers)
    assert vendor.requests == []


@pytest.mark.parametrize(("vendor_status", "code", "expected"), VENDOR_ERRORS)
@pytest.mark.parametrize("path", ["/billing", "/billing.json"])
def test_vendor_errors_become_generic_answers(
    path: str, vendor_status: int, code: str, expected: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = FakeVendor(vendor_error_reply(vendor_status, code))
    response = make_client(vendor.portal()).post(path)
    assert response.status_code == expected
    assert "Location" not in response.headers
    assert_security_headers(response.headers)
    if path.endswith(".json"):
        assert set(response.get_json()) == {"error"}
    assert_no_leak(response.get_data(as_text=True), caplog.text)
    assert f"answered {expected}" in caplog.text


def test_an_invalid_request_from_the_apps_mapping_is_400() -> None:
    vendor = FakeVendor()
    client = make_client(vendor.portal(), to_request=lambda request: request_for("ctm_../x"))
    assert client.post("/billing").status_code == 400
    assert vendor.requests == []


def test_an_unsupported_feature_is_400() -> None:
    vendor = FakeVendor()
    client = make_client(vendor.portal(), to_request=lambda request: unsupported_request())
    assert client.post("/billing.json").status_code == 400
    assert vendor.requests == []


def test_refuses_an_async_portal_at_start_up() -> None:
    with pytest.raises(TypeError, match=r"needs a portalkit\.Portal"):
        redirect_view(FakeVendor().async_portal(), own_mapping)  # type: ignore[arg-type]


def test_the_apps_mapping_may_refuse_a_visitor_who_is_not_signed_in() -> None:
    vendor = FakeVendor()

    def signed_in_only(request: flask.Request) -> PortalRequest:
        flask.abort(401)

    assert make_client(vendor.portal(), signed_in_only).post("/billing").status_code == 401
    assert vendor.requests == []
