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


def test_flask_wtf_csrf_protect_guards_the_view_and_a_token_passes() -> None:
    """docs/frameworks/flask.md: CSRFProtect guards portalkit's views as any POST view; a
    POST without the token is 400 before the view runs, one with it mints."""
    from flask_wtf.csrf import CSRFProtect, generate_csrf

    vendor = FakeVendor()
    app = flask.Flask(__name__)
    app.secret_key = "portalkit-tests-only"
    CSRFProtect(app)
    app.add_url_rule(
        "/billing", view_func=redirect_view(vendor.portal(), own_mapping), methods=["POST"]
    )

    @app.get("/account")
    def account() -> str:
        return generate_csrf()  # what {{ csrf_token() }} puts in the page's form

    client = app.test_client()
    assert client.post("/billing").status_code == 400
    assert vendor.requests == []
    token = client.get("/account").get_data(as_text=True)
    response = client.post("/billing", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == PORTAL_URL
    assert vendor.customers_asked_for() == [CUSTOMER_ID]


def test_flask_login_login_required_answers_a_visitor_who_is_not_signed_in() -> None:
    """docs/frameworks/flask.md: ``login_required(redirect_view(...))`` answers 401 before
    the view runs; a signed-in user's own customer is asked for."""
    from flask_login import LoginManager, UserMixin, current_user, login_required, login_user

    class User(UserMixin):
        def __init__(self, user_id: str, billing_customer_id: str) -> None:
            self.id = user_id
            self.billing_customer_id = billing_customer_id

    users = {"42": User("42", OTHER_CUSTOMER_ID)}
    vendor = FakeVendor()
    app = flask.Flask(__name__)
    app.secret_key = "portalkit-tests-only"
    login_manager = LoginManager(app)
    login_manager.user_loader(users.get)

    def to_request(request: flask.Request) -> PortalRequest:
        return request_for(current_user.billing_customer_id)

    app.add_url_rule(
        "/billing",
        view_func=login_required(redirect_view(vendor.portal(), to_request)),
        methods=["POST"],
    )

    @app.post("/sign-in")
    def sign_in() -> str:
        login_user(users["42"])
        return "signed in"

    client = app.test_client()
    assert client.post("/billing").status_code == 401
    assert vendor.requests == []
    client.post("/sign-in")
    assert client.post("/billing").status_code == 303
    assert vendor.customers_asked_for() == [OTHER_CUSTOMER_ID]
