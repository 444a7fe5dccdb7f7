"""Issue 24, item 1: an answer that is not the vendor's is no verdict of the vendor's.

A ``base_url`` with a wrong path (a stray ``/v1``, a proxy's prefix) reaches a server that
answers a plain-text 404, an nginx page or a framework's ``{"detail": "Not Found"}``. That is
not the vendor saying it knows no such customer: for every registered vendor, sync and
async, such an answer to any verdict status (400, 401, 403, 404, 405, 409, 422) is
``UnexpectedEndpoint`` -- not retried, naming the host to check and never the customer --
while 408, 429 and 5xx in any shape stay retryable outages. A ``MigrationRouter`` with
fallback does not fall back on it, and the web helpers answer 502, not "No billing account
was found for you". The vendors' genuine "no such customer" (their twins in the sandbox)
is still ``CustomerNotFound`` and still falls back.

Every server here is real and on 127.0.0.1: a raw one answering every request the same way
(``tests/_raw_server.py``), and the sandbox, reached at a wrong path.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from _mock import MODES, create_link
from _raw_server import RawServer
from _raw_server import Reply as Answer
from _vendors import VENDORS, adapter, portal_customer, twin
from _web import configure_django
from starlette.applications import Starlette
from starlette.routing import Route as StarletteRoute
from starlette.testclient import TestClient

from portalkit import (
    AsyncPortal,
    MigrationRouter,
    Portal,
    PortalLink,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
    Route,
    errors,
)
from portalkit._http import httpx
from portalkit._wire import unexpected_endpoint
from portalkit.sandbox import Sandbox
from portalkit.web import _core as web_core
from portalkit.web import flask as web_flask
from portalkit.web import starlette as web_starlette

RETURN_URL = "https://app.example.com/account"
#: Retries allowed, but never a real sleep: an UnexpectedEndpoint must still be sent once.
RETRIES = RetryPolicy(
    max_attempts=3, deadline=10.0, backoff_initial=0.0, backoff_max=0.0, retry_after_cap=0.0
)
#: The prefix a misconfigured base URL adds: the request path is then one the server lacks.
STRAY = "/v1"

NGINX_404 = (
    b"<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1>"
    b"</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
#: Bodies that are no vendor's error envelope, as (content type, body).
SHAPES: dict[str, tuple[str, bytes]] = {
    "text": ("text/plain; charset=utf-8", b"404 page not found\n"),
    "html": ("text/html", NGINX_404),
    # FastAPI's own answer for a path it does not have (Polar's API is a FastAPI app).
    "fastapi-json": ("application/json", b'{"detail": "Not Found"}'),
    # Google's (and many gateways') envelope: an "error" object, its code a number.
    "other-json": (
        "application/json",
        b'{"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}',
    ),
    # A bare {"message": ...}: what an API gateway answers for a path it does not route.
    "gateway-json": ("application/json", b'{"message": "Missing Authentication Token"}'),
    "empty": ("text/plain", b""),
}
VERDICT_STATUSES = (400, 401, 403, 404, 405, 409, 422)


def answer(status: int, shape: str) -> Answer:
    content_type, body = SHAPES[shape]
    return Answer(status, body.replace(b"{status}", str(status).encode()), content_type)


@functools.cache
def customer_for(vendor: str) -> str:
    """A well-formed customer id for the vendor, long enough that finding it in a message
    means the message names the customer (a seeded id may be "1")."""
    fresh = twin(vendor).customer_id.new(time.time())
    if len(fresh) >= 8:
        return fresh
    fallback = "987654321987"
    assert twin(vendor).customer_id.pattern.fullmatch(fallback), vendor
    return fallback


def request_for(vendor: str) -> PortalRequest:
    return PortalRequest(customer_for(vendor), return_url=RETURN_URL)


def create(
    mode: str, provider: PortalProvider | MigrationRouter, request: PortalRequest
) -> PortalLink:
    return create_link(mode, provider, request, retry=RETRIES)


@pytest.fixture
def wrong_server(request: pytest.FixtureRequest) -> Iterator[RawServer]:
    """A server answering every request with ``answer(*request.param)``."""
    with RawServer([answer(*request.param)]) as server:
        yield server


def host_of(server: RawServer) -> str:
    return server.url.removeprefix("http://")


def assert_names_the_host_not_the_customer(
    error: errors.PortalError, server: RawServer, vendor: str
) -> None:
    assert isinstance(error, errors.UnexpectedEndpoint)
    text = str(error)
    assert error.host == host_of(server)
    assert f"the base URL for {host_of(server)}" in text
    assert f"did not answer as {vendor}'s API does" in text
    assert customer_for(vendor) not in text
    assert STRAY + "/" not in text  # never the path the request took
    assert (error.code, error.vendor_message) == (None, None)  # never a stranger's words


# -- direct: every vendor, every verdict status, every wrong shape ----------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "wrong_server",
    [(status, shape) for status in VERDICT_STATUSES for shape in SHAPES],
    indirect=True,
    ids=lambda param: f"{param[0]}-{param[1]}",
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_verdict_status_in_another_shape_is_unexpected_endpoint(
    vendor: str, wrong_server: RawServer, mode: str
) -> None:
    status = wrong_server.script[0].status  # type: ignore[attr-defined]
    provider = adapter(vendor, base_url=wrong_server.url + STRAY)
    with pytest.raises(errors.PortalError) as caught:
        create(mode, provider, request_for(vendor))
    error = caught.value
    assert type(error) is errors.UnexpectedEndpoint, repr(error)
    assert not isinstance(error, errors.CustomerNotFound | errors.ConfigurationError)
    assert (error.provider, error.status, error.retryable) == (vendor, status, False)
    assert_names_the_host_not_the_customer(error, wrong_server, vendor)
    assert len(wrong_server.requests) == 1  # not retried: the same endpoint, the same answer


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("wrong_server", "expected"),
    [
        ((408, "html"), errors.ProviderUnavailable),
        ((429, "text"), errors.RateLimited),
        ((500, "html"), errors.ProviderUnavailable),
        ((502, "html"), errors.ProviderUnavailable),
        ((503, "fastapi-json"), errors.ProviderUnavailable),
        ((504, "empty"), errors.ProviderUnavailable),
    ],
    indirect=["wrong_server"],
    ids=lambda param: f"{param[0]}-{param[1]}" if isinstance(param, tuple) else None,
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_an_outage_in_any_shape_stays_a_retried_outage(
    vendor: str, wrong_server: RawServer, expected: type[errors.PortalError], mode: str
) -> None:
    provider = adapter(vendor, base_url=wrong_server.url)
    with pytest.raises(errors.PortalError) as caught:
        create(mode, provider, request_for(vendor))
    assert type(caught.value) is expected, repr(caught.value)
    assert caught.value.retryable
    assert len(wrong_server.requests) == RETRIES.max_attempts  # a proxy's 503 is an outage


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_stray_path_at_the_sandbox_is_unexpected_endpoint(
    vendor: str, mode: str, served: Sandbox
) -> None:
    """The issue's own case: the vendor's twin is there, the base URL's path is not."""
    provider = served.provider(vendor, base_url=served.base_url(vendor) + STRAY)
    with pytest.raises(errors.UnexpectedEndpoint) as caught:
        create(mode, provider, request_for(vendor))
    assert caught.value.status == 404
    assert caught.value.host == served.url.removeprefix("http://")
    assert customer_for(vendor) not in str(caught.value)
    assert served.received(vendor) == []  # the twin's API was never reached


# -- through a MigrationRouter with fallback ---------------------------------------------------


def migrating(new: PortalProvider, old: PortalProvider, vendor: str) -> MigrationRouter:
    """``new`` is where the customer moved; ``old`` still knows them (the fallback)."""
    customer = customer_for(vendor)
    return MigrationRouter(
        {"new": new, "old": old},
        lambda request: Route("new", customer, fallback=Route("old", customer)),
        fallback=True,
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "wrong_server",
    [
        (404, "text"),
        (404, "html"),
        (404, "fastapi-json"),
        (404, "other-json"),
        (404, "empty"),
        (400, "html"),
        (401, "html"),
        (403, "gateway-json"),
        (409, "fastapi-json"),
        (422, "text"),
    ],
    indirect=True,
    ids=lambda param: f"{param[0]}-{param[1]}",
)
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_router_does_not_fall_back_on_an_answer_in_another_shape(
    vendor: str, wrong_server: RawServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="portalkit")
    with RawServer([Answer(500, b"the fallback must not be asked", "text/plain")]) as old_vendor:
        router = migrating(
            adapter(vendor, base_url=wrong_server.url + STRAY),
            adapter(vendor, base_url=old_vendor.url),
            vendor,
        )
        with pytest.raises(errors.PortalError) as caught:
            create(mode, router, request_for(vendor))
        assert old_vendor.requests == []
    assert type(caught.value) is errors.UnexpectedEndpoint, repr(caught.value)
    assert_names_the_host_not_the_customer(caught.value, wrong_server, vendor)
    assert len(wrong_server.requests) == 1
    assert "falling back" not in caplog.text
    assert "does not know customer" not in caplog.text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_router_does_not_fall_back_on_a_stray_path_at_the_sandbox(
    vendor: str, mode: str, served: Sandbox
) -> None:
    new = served.provider(vendor, base_url=served.base_url(vendor) + STRAY)
    router = migrating(new, served.provider(vendor), vendor)
    with pytest.raises(errors.UnexpectedEndpoint):
        create(mode, router, request_for(vendor))
    assert served.sessions(vendor) == []  # the old vendor minted nothing
    assert served.received(vendor) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_twins_genuine_not_found_is_customer_not_found_and_falls_back(
    vendor: str, mode: str, served: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: the vendor's own "no such customer" is still the router's cue."""
    missing = served.add_customer(vendor)
    served.reset()  # a well-formed id the twin does not know
    known = portal_customer(served, vendor)
    direct = PortalRequest(missing, return_url=RETURN_URL)
    with pytest.raises(errors.CustomerNotFound) as caught:
        create(mode, served.provider(vendor), direct)
    assert not isinstance(caught.value, errors.UnexpectedEndpoint)

    caplog.set_level(logging.WARNING, logger="portalkit")
    router = MigrationRouter(
        {"new": served.provider(vendor), "old": served.provider(vendor)},
        lambda request: Route("new", missing, fallback=Route("old", known)),
        fallback=True,
    )
    link = create(mode, router, PortalRequest("user_1", return_url=RETURN_URL))
    assert link.customer_id == known
    assert "falling back" in caplog.text


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve():
        yield sandbox


@pytest.fixture
def served(_sandbox: Sandbox) -> Iterator[Sandbox]:
    _sandbox.reset()
    yield _sandbox
    _sandbox.reset()


# -- through the web helpers -----------------------------------------------------------------

FRAMEWORKS = ("starlette-async", "starlette-sync", "flask", "django")


def post_to_view(framework: str, vendor: str, base_url: str) -> tuple[int, str]:
    """POST to the framework's "Manage billing" view over a Portal at ``base_url``: the
    status and the page."""
    provider = adapter(vendor, base_url=base_url)
    no_retry = RetryPolicy(max_attempts=1)

    def to_request(_request: object) -> PortalRequest:
        return request_for(vendor)

    if framework.startswith("starlette"):
        portal: Portal | AsyncPortal = (
            AsyncPortal(provider, retry=no_retry)
            if framework == "starlette-async"
            else Portal(provider, retry=no_retry)
        )
        view = web_starlette.redirect_view(portal, to_request)
        app = Starlette(routes=[StarletteRoute("/billing", view, methods=["POST"])])
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.post("/billing", follow_redirects=False)
        return response.status_code, response.text
    sync_portal = Portal(provider, retry=no_retry)
    try:
        if framework == "flask":
            flask_app = flask.Flask(__name__)
            flask_app.add_url_rule(
                "/billing",
                view_func=web_flask.redirect_view(sync_portal, to_request),
                methods=["POST"],
            )
            flask_response = flask_app.test_client().post("/billing")
            return flask_response.status_code, flask_response.get_data(as_text=True)
        from django.test import RequestFactory

        from portalkit.web import django as web_django

        django_response = web_django.redirect_view(sync_portal, to_request)(
            RequestFactory().post("/billing")
        )
        return django_response.status_code, django_response.content.decode()
    finally:
        sync_portal.close()


@pytest.fixture
def django_configured() -> None:
    """Django's settings, made here only when no other module made them (tests/
    test_web_django.py configures Django at its import, with itself as the URLconf); the
    view is called directly, so no URLconf is needed."""
    configure_django()


@pytest.mark.parametrize(
    "wrong_server",
    [(404, "text"), (404, "fastapi-json"), (401, "html")],
    indirect=True,
    ids=lambda param: f"{param[0]}-{param[1]}",
)
@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_web_helpers_answer_502_not_404(
    vendor: str,
    framework: str,
    wrong_server: RawServer,
    caplog: pytest.LogCaptureFixture,
    django_configured: None,
) -> None:
    caplog.set_level(logging.DEBUG, logger="portalkit")
    status, page = post_to_view(framework, vendor, wrong_server.url + STRAY)
    assert status == 502
    assert page != web_core.NOT_FOUND.message
    assert "No billing account" not in page
    [refusal] = [r for r in caplog.records if r.name == "portalkit.web"]
    line = refusal.getMessage()
    assert line.startswith("answered 502: UnexpectedEndpoint")
    assert host_of(wrong_server) in line  # what to check ...
    for record in caplog.records:
        if record.levelno >= logging.INFO:  # ... and never whom it was for
            assert customer_for(vendor) not in record.getMessage()


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("vendor", VENDORS)
def test_the_web_helpers_still_answer_404_for_the_vendors_own_not_found(
    vendor: str, framework: str, served: Sandbox, django_configured: None
) -> None:
    missing = served.add_customer(vendor)
    served.reset()
    provider = served.provider(vendor)
    no_retry = RetryPolicy(max_attempts=1)

    def to_request(_request: object) -> PortalRequest:
        return PortalRequest(missing, return_url=RETURN_URL)

    with Portal(provider, retry=no_retry) as portal:
        if framework == "flask":
            app = flask.Flask(__name__)
            app.add_url_rule(
                "/b", view_func=web_flask.redirect_view(portal, to_request), methods=["POST"]
            )
            status = app.test_client().post("/b").status_code
        elif framework == "django":
            from django.test import RequestFactory

            from portalkit.web import django as web_django

            view = web_django.redirect_view(portal, to_request)
            status = view(RequestFactory().post("/b")).status_code
        else:
            shell: Portal | AsyncPortal = (
                AsyncPortal(provider, retry=no_retry) if framework == "starlette-async" else portal
            )
            routes = [
                StarletteRoute(
                    "/b", web_starlette.redirect_view(shell, to_request), methods=["POST"]
                )
            ]
            with TestClient(Starlette(routes=routes)) as client:
                status = client.post("/b", follow_redirects=False).status_code
    assert status == 404


# -- the core helper, vendor-free ----------------------------------------------------------


def _response(status: int, url: str | None, **options: Any) -> httpx.Response:
    request = httpx.Request("POST", url) if url else None
    return httpx.Response(status, request=request, **options)


SECRET_PATH = "https://api.vendor.example/v1/customers/ctm_customer_42/portal?token=t0k3n"


@pytest.mark.parametrize("status", [*VERDICT_STATUSES, 302, 410, 418])
def test_the_message_names_the_host_never_the_path_query_or_customer(status: int) -> None:
    error = unexpected_endpoint(
        "acme", _response(status, SECRET_PATH, text="Not Found"), request_id="req_1"
    )
    assert type(error) is errors.UnexpectedEndpoint
    assert (error.host, error.status, error.request_id) == ("api.vendor.example", status, "req_1")
    assert not error.retryable
    text = str(error)
    assert "api.vendor.example" in text
    assert f"HTTP {status} with plain text" in text
    for hidden in ("ctm_customer_42", "/customers", "token", "t0k3n", "/v1/"):
        assert hidden not in text, hidden


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/v1/x", "127.0.0.1:8080"),
        ("http://[::1]:9000/x", "[::1]:9000"),
        ("https://user:pass@api.vendor.example/x", "api.vendor.example"),
    ],
)
def test_the_host_keeps_its_port_and_drops_any_user_info(url: str, host: str) -> None:
    error = unexpected_endpoint("acme", _response(404, url))
    assert isinstance(error, errors.UnexpectedEndpoint)
    assert error.host == host
    assert "pass" not in str(error)
    assert "an empty body" in str(error)


def test_without_a_request_it_says_to_check_the_base_url() -> None:
    error = unexpected_endpoint("acme", _response(404, None, html="<h1>nope</h1>"))
    assert isinstance(error, errors.UnexpectedEndpoint)
    assert error.host is None
    assert "check the adapter's base URL" in str(error)
    assert "an HTML page" in str(error)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (408, errors.ProviderUnavailable),
        (429, errors.RateLimited),
        (500, errors.ProviderUnavailable),
        (503, errors.ProviderUnavailable),
    ],
)
def test_outage_statuses_keep_their_retryable_class(
    status: int, expected: type[errors.PortalError]
) -> None:
    response = _response(status, SECRET_PATH, text="busy", headers={"Retry-After": "3"})
    error = unexpected_endpoint("acme", response, message="words the adapter read")
    assert type(error) is expected
    assert error.retryable
    assert error.vendor_message == "words the adapter read"
    if isinstance(error, errors.RateLimited):
        assert error.retry_after == 3.0


def test_the_error_tree_places_it_apart() -> None:
    assert errors.UnexpectedEndpoint.__bases__ == (errors.PortalError,)
    assert not errors.UnexpectedEndpoint.retryable
    error = errors.UnexpectedEndpoint("x", host="api.example.com", provider="acme", status=404)
    assert web_core.refusal_for(error) == web_core.BAD_GATEWAY
    assert web_core.refusal_for(errors.CustomerNotFound("x")) == web_core.NOT_FOUND
