"""portalkit.web.django with Django's test Client, over a mocked vendor.

Django is configured here, with the smallest settings that run a view behind the CSRF
middleware; this module is its own URLconf.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import django
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
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from portalkit import Portal, PortalRequest
from portalkit.web.django import json_view, redirect_view

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="portalkit-tests-only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

CSRF_SECRET = "A" * 32

# Django resolves URLs once per process, so the routes dispatch to the views the current
# test installed (see the ``install`` fixture).
_views: dict[str, Callable[..., HttpResponse]] = {}


def _route(name: str) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _views[name](request, *args, **kwargs)

    return view


urlpatterns = [
    path("billing", _route("redirect")),
    path("billing.json", _route("json")),
    path("users/<str:user>/billing", _route("redirect")),
]


def own_mapping(request: HttpRequest) -> PortalRequest:
    """The app's user-to-customer mapping; here the signed-in user is a URL argument."""
    match = request.resolver_match
    user = match.kwargs.get("user", "alice") if match else "alice"
    return request_for({"alice": CUSTOMER_ID, "bob": OTHER_CUSTOMER_ID}[user])


Install = Callable[..., None]


@pytest.fixture
def install() -> Iterator[Install]:
    def install(
        portal: Portal, to_request: Callable[[HttpRequest], PortalRequest] = own_mapping
    ) -> None:
        _views["redirect"] = redirect_view(portal, to_request)
        _views["json"] = json_view(portal, to_request)

    yield install
    _views.clear()


def csrf_client() -> Client:
    """A client that passes Django's CSRF check the way a page with {% csrf_token %} does."""
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    return client


def post(client: Client, url: str) -> Any:
    return client.post(url, headers={"X-CSRFToken": CSRF_SECRET})


def test_post_answers_303_to_the_portal_without_caching_or_referrer(install: Install) -> None:
    vendor = FakeVendor()
    install(vendor.portal())
    response = post(csrf_client(), "/billing")
    assert response.status_code == 303
    assert response.headers["Location"] == PORTAL_URL
    assert_security_headers(response.headers)
    assert vendor.customers_asked_for() == [CUSTOMER_ID]


def test_csrf_middleware_guards_the_post(install: Install) -> None:
    vendor = FakeVendor()
    install(vendor.portal())
    response = Client(enforce_csrf_checks=True).post("/billing")
    assert response.status_code == 403
    assert vendor.requests == []


def test_url_arguments_reach_the_apps_mapping(install: Install) -> None:
    vendor = FakeVendor()
    install(vendor.portal())
    assert post(csrf_client(), "/users/bob/billing").status_code == 303
    assert vendor.customers_asked_for() == [OTHER_CUSTOMER_ID]


def test_json_view_answers_the_url_without_caching(install: Install) -> None:
    vendor = FakeVendor()
    install(vendor.portal())
    response = post(csrf_client(), "/billing.json")
    assert response.status_code == 200
    assert response.json() == {"url": PORTAL_URL}
    assert_security_headers(response.headers)


@pytest.mark.parametrize("url", ["/billing", "/billing.json"])
def test_get_is_405_and_never_mints(install: Install, url: str) -> None:
    vendor = FakeVendor()
    install(vendor.portal())
    response = csrf_client().get(url)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert_security_headers(response.headers)
    assert vendor.requests == []


@pytest.mark.parametrize(("vendor_status", "code", "expected"), VENDOR_ERRORS)
@pytest.mark.parametrize("url", ["/billing", "/billing.json"])
def test_vendor_errors_become_generic_answers(
    install: Install,
    url: str,
    vendor_status: int,
    code: str,
    expected: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = FakeVendor(vendor_error_reply(vendor_status, code))
    install(vendor.portal())
    response = post(csrf_client(), url)
    assert response.status_code == expected
    assert "Location" not in response.headers
    assert_security_headers(response.headers)
    if url.endswith(".json"):
        assert set(response.json()) == {"error"}
    assert_no_leak(response.content.decode(), caplog.text)
    assert f"answered {expected}" in caplog.text


def test_an_invalid_request_from_the_apps_mapping_is_400(install: Install) -> None:
    vendor = FakeVendor()
    install(vendor.portal(), to_request=lambda request: request_for("ctm_../x"))
    assert post(csrf_client(), "/billing").status_code == 400
    assert vendor.requests == []


def test_an_unsupported_feature_is_400(install: Install) -> None:
    vendor = FakeVendor()
    install(vendor.portal(), to_request=lambda request: unsupported_request())
    assert post(csrf_client(), "/billing.json").status_code == 400
    assert vendor.requests == []


def test_refuses_an_async_portal_at_start_up() -> None:
    with pytest.raises(TypeError, match=r"needs a portalkit\.Portal"):
        redirect_view(FakeVendor().async_portal(), own_mapping)  # type: ignore[arg-type]


def test_the_apps_mapping_may_refuse_a_visitor_who_is_not_signed_in(install: Install) -> None:
    vendor = FakeVendor()

    def signed_in_only(request: HttpRequest) -> PortalRequest:
        raise PermissionDenied

    install(vendor.portal(), to_request=signed_in_only)
    assert post(csrf_client(), "/billing").status_code == 403
    assert vendor.requests == []


def test_the_test_clients_http_testserver_is_refused_and_secure_true_mints(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    """docs/frameworks/django.md: ``build_absolute_uri`` in the test client gives
    ``http://testserver/...``, refused with 400 and a warning that says why; a POST with
    ``secure=True`` gives an https return URL, and the link is minted."""
    vendor = FakeVendor()

    def to_request(request: HttpRequest) -> PortalRequest:
        return PortalRequest(CUSTOMER_ID, return_url=request.build_absolute_uri("/account/"))

    portal = vendor.portal()
    install(portal, to_request=to_request)
    with caplog.at_level(logging.WARNING, logger="portalkit"):
        assert post(csrf_client(), "/billing").status_code == 400
    assert vendor.requests == []
    [line] = [r.getMessage() for r in caplog.records if r.name.startswith("portalkit")]
    assert "return_url: must use https://" in line
    # Over https, Django's CSRF check also wants the page's origin, as a browser sends it.
    response = csrf_client().post(
        "/billing",
        headers={"X-CSRFToken": CSRF_SECRET, "Origin": "https://testserver"},
        secure=True,
    )
    assert response.status_code == 303
    [asked] = portal.asked  # what to_request built (Paddle then drops the return URL)
    assert asked.return_url == "https://testserver/account/"
