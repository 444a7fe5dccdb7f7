"""The web helpers' refusals, for Starlette, Flask and Django alike: the app's own page for
each (``render_refusal``) and the WARNING that says why a request was refused.

A renderer gets a ``Refusal``: the kind, the status, portalkit's default message, the
provider and the vendor's request id -- never the vendor's message, the link or a key. The
status and the security headers stay portalkit's whatever it returns, and a renderer that
raises (or returns no response) is logged and replaced by portalkit's own page. A refusal
portalkit decided itself is logged once, at WARNING, on a logger under ``portalkit``, naming
the field and the rule, and ``logging.basicConfig()`` is all an app needs to see it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import flask
import pytest
from _user_app import mypy_strict
from _web import (
    API_KEY,
    CUSTOMER_ID,
    VENDOR_DETAIL,
    FakeVendor,
    assert_no_leak,
    assert_security_headers,
    configure_django,
    request_for,
    unsupported_request,
    vendor_error,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from portalkit import Portal, PortalLink, PortalRequest, errors
from portalkit.providers.paddle import Paddle
from portalkit.web import Refusal, RefusalKind
from portalkit.web import django as web_django
from portalkit.web import flask as web_flask
from portalkit.web import starlette as web_starlette

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORKS = ("starlette", "flask", "django")
VIEWS = ("redirect", "json")
APP_PAGE = "the app's own page"


@pytest.fixture(autouse=True)
def _django_configured() -> None:
    """Django's settings, made here only when no other module made them (tests/
    test_web_django.py configures Django at its import); the views are called directly."""
    configure_django()


@attrs.frozen
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    text: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def call(
    framework: str,
    view: str,
    portal: Portal,
    to_request: Callable[[Any], PortalRequest],
    render_refusal: Callable[[Any, Refusal], Any] | None = None,
    method: str = "POST",
) -> Answer:
    """One request to the framework's view, mounted for GET and POST."""
    options: dict[str, Any] = {"render_refusal": render_refusal}
    if framework == "starlette":
        make = web_starlette.json_view if view == "json" else web_starlette.redirect_view
        route = Route("/billing", make(portal, to_request, **options), methods=["GET", "POST"])
        with TestClient(Starlette(routes=[route]), follow_redirects=False) as client:
            response = client.request(method, "/billing")
        return Answer(
            response.status_code,
            {k.lower(): v for k, v in response.headers.items()},
            response.text,
        )
    if framework == "flask":
        make_flask = web_flask.json_view if view == "json" else web_flask.redirect_view
        app = flask.Flask(__name__)
        app.add_url_rule(
            "/billing",
            view_func=make_flask(portal, to_request, **options),
            methods=["GET", "POST"],
        )
        flask_response = app.test_client().open("/billing", method=method)
        return Answer(
            flask_response.status_code,
            {k.lower(): v for k, v in flask_response.headers.items()},
            flask_response.get_data(as_text=True),
        )
    from django.test import RequestFactory

    make_django = web_django.json_view if view == "json" else web_django.redirect_view
    django_response = make_django(portal, to_request, **options)(
        RequestFactory().generic(method, "/billing")
    )
    return Answer(
        django_response.status_code,
        {k.lower(): v for k, v in django_response.headers.items()},
        django_response.content.decode(),
    )


def app_page(framework: str, seen: list[Refusal], *, body: str = APP_PAGE) -> Any:
    """A renderer as an app writes one: its own text, a 200 and a caching header of its
    own, both of which portalkit overrides."""

    def render(request: Any, refusal: Refusal) -> Any:
        seen.append(refusal)
        text = f"{body}: {refusal.kind.value}"
        headers = {"Cache-Control": "public, max-age=600", "X-App": "yes"}
        if framework == "starlette":
            assert isinstance(request, Request)
            return PlainTextResponse(text, 200, headers=headers)
        if framework == "flask":
            assert isinstance(request, flask.Request)
            return text, 200, headers
        from django.http import HttpRequest, HttpResponse

        assert isinstance(request, HttpRequest)
        return HttpResponse(text, status=200, headers=headers)

    return render


class RaisingPortal(Portal):
    """A Portal whose every mint fails with ``error`` (an outcome the mock vendor cannot
    give: ``NoPortalYet``)."""

    def __init__(self, error: errors.PortalError) -> None:
        super().__init__(Paddle(api_key=API_KEY))
        self.error = error

    def create_link(self, request: PortalRequest) -> PortalLink:
        raise self.error


def own_customer(_request: object) -> PortalRequest:
    return request_for(CUSTOMER_ID)


@attrs.frozen
class Outcome:
    """A refusal and how to get it: a portal (made fresh), the app's mapping, the method."""

    name: str
    portal: Callable[[], Portal]
    kind: RefusalKind
    status: int
    to_request: Callable[[Any], PortalRequest] = own_customer
    method: str = "POST"


def vendor_says(status: int, code: str) -> Callable[[], Portal]:
    return lambda: FakeVendor(vendor_error(status, code)).portal()


NO_PORTAL_YET = errors.NoPortalYet(
    "paddle has no portal for this customer yet",
    provider="paddle",
    vendor_message=VENDOR_DETAIL,
    request_id="req-npy-1",
)
#: Every kind of refusal, each the way an app meets it.
OUTCOMES = [
    Outcome(
        "get", lambda: FakeVendor().portal(), RefusalKind.METHOD_NOT_ALLOWED, 405, method="GET"
    ),
    Outcome("not-found", vendor_says(404, "entity_not_found"), RefusalKind.NOT_FOUND, 404),
    Outcome("no-portal-yet", lambda: RaisingPortal(NO_PORTAL_YET), RefusalKind.NO_PORTAL_YET, 404),
    Outcome("vendor-400", vendor_says(400, "bad_request"), RefusalKind.CANNOT_OPEN, 400),
    Outcome(
        "unsupported",
        lambda: FakeVendor().portal(),
        RefusalKind.CANNOT_OPEN,
        400,
        to_request=lambda request: unsupported_request(),
    ),
    Outcome("vendor-500", vendor_says(500, "internal_error"), RefusalKind.UNAVAILABLE, 502),
    Outcome(
        "vendor-401", vendor_says(401, "authentication_malformed"), RefusalKind.UNAVAILABLE, 502
    ),
]


def test_every_kind_is_an_outcome_here() -> None:
    assert {outcome.kind for outcome in OUTCOMES} == set(RefusalKind)


@pytest.mark.parametrize("outcome", OUTCOMES, ids=lambda outcome: outcome.name)
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_app_renders_each_refusal_with_portalkits_status_and_headers(
    framework: str, view: str, outcome: Outcome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[Refusal] = []
    answer = call(
        framework,
        view,
        outcome.portal(),
        outcome.to_request,
        app_page(framework, seen),
        outcome.method,
    )

    [refusal] = seen
    assert refusal.kind is outcome.kind
    assert refusal.status == outcome.status
    assert answer.status == outcome.status  # the app said 200: the refusal's status wins
    assert answer.text == f"{APP_PAGE}: {outcome.kind.value}"
    assert answer.header("X-App") == "yes"  # the app's own headers stay
    assert_security_headers({k.title(): v for k, v in answer.headers.items()})
    assert answer.header("Location") is None
    assert (answer.header("Allow") == "POST") is (outcome.kind is RefusalKind.METHOD_NOT_ALLOWED)
    # What the renderer got holds nothing of the vendor's words, the link or a key.
    assert_no_leak(repr(refusal), *map(str, attrs.astuple(refusal)), answer.text, caplog.text)
    assert refusal.message  # portalkit's default text, for the app to fall back on


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_refusal_carries_the_provider_and_the_vendors_request_id(framework: str) -> None:
    seen: list[Refusal] = []
    vendor = FakeVendor(vendor_error(404, "entity_not_found"))
    call(framework, "redirect", vendor.portal(), own_customer, app_page(framework, seen))
    [refusal] = seen
    assert refusal == Refusal(
        404, "No billing account was found for you.", kind=RefusalKind.NOT_FOUND
    )
    assert (refusal.provider, refusal.request_id) == ("paddle", "req-err-1")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_without_a_renderer_the_default_pages_stay(framework: str) -> None:
    vendor = FakeVendor(vendor_error(404, "entity_not_found"))
    answer = call(framework, "redirect", vendor.portal(), own_customer)
    assert (answer.status, answer.text) == (404, "No billing account was found for you.")
    answer = call(framework, "json", RaisingPortal(errors.NoPortalYet("x")), own_customer)
    assert answer.status == 404
    assert "There is nothing to manage in the billing portal yet." in answer.text


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_minted_link_never_calls_the_renderer(framework: str) -> None:
    seen: list[Refusal] = []
    answer = call(
        framework, "redirect", FakeVendor().portal(), own_customer, app_page(framework, seen)
    )
    assert answer.status == 303
    assert seen == []


def test_an_async_renderer_is_awaited_in_starlette() -> None:
    seen: list[Refusal] = []

    async def render(request: Request, refusal: Refusal) -> PlainTextResponse:
        seen.append(refusal)
        return PlainTextResponse(f"async: {refusal.kind.value}")

    answer = call("starlette", "json", FakeVendor().portal(), own_customer, render, "GET")
    assert (answer.status, answer.text) == (405, "async: method_not_allowed")
    assert answer.header("Allow") == "POST"
    assert [r.kind for r in seen] == [RefusalKind.METHOD_NOT_ALLOWED]


def raising_renderer(request: object, refusal: Refusal) -> Any:
    raise RuntimeError("the app's template is broken")


def returns_nothing(request: object, refusal: Refusal) -> Any:
    return None


@pytest.mark.parametrize("renderer", [raising_renderer, returns_nothing])
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_failing_renderer_gets_portalkits_page_and_an_error_log(
    framework: str, view: str, renderer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = FakeVendor(vendor_error(404, "entity_not_found"))
    answer = call(framework, view, vendor.portal(), own_customer, renderer)
    assert answer.status == 404
    assert "No billing account was found for you." in answer.text
    assert_security_headers({k.title(): v for k, v in answer.headers.items()})
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert failure.name == "portalkit.web"
    assert failure.getMessage().startswith("render_refusal failed")
    assert "not_found refusal" in failure.getMessage()
    assert failure.exc_info is not None  # the app's traceback, for the app's bug
    # The traceback is formatted into the log too: nothing of the vendor's in it, nor is
    # the vendor's error chained to the renderer's.
    assert_no_leak(answer.text, caplog.text)
    assert "entity_not_found" not in caplog.text.split("render_refusal failed", 1)[1]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_renderer_that_is_not_a_function_is_refused_at_start_up(framework: str) -> None:
    module = {"starlette": web_starlette, "flask": web_flask, "django": web_django}[framework]
    with pytest.raises(TypeError, match="render_refusal must be a function"):
        module.redirect_view(FakeVendor().portal(), own_customer, render_refusal="page.html")  # type: ignore[arg-type]


# -- why a request was refused: the log ------------------------------------------------------

ALLOWED_HOST = "app.example.com"


@attrs.frozen
class LocalCase:
    name: str
    to_request: Callable[[Any], PortalRequest]
    says: tuple[str, ...]  # what the line must hold: the field and the rule
    method: str = "POST"
    allowed_hosts: tuple[str, ...] | None = None


LOCAL_CASES = [
    # Django's test client and a proxy that terminates TLS both give http:// return URLs.
    LocalCase(
        "http-return-url",
        lambda r: PortalRequest(CUSTOMER_ID, return_url="http://testserver/account/"),
        ("return_url", "must use https://"),
    ),
    LocalCase(
        "return-host-not-allowed",
        lambda r: PortalRequest(CUSTOMER_ID, return_url="https://elsewhere.example/account"),
        ("return_url", "'elsewhere.example'", "allowed_return_hosts"),
        allowed_hosts=(ALLOWED_HOST,),
    ),
    LocalCase(
        "unsupported-feature",
        lambda r: unsupported_request(),
        ("configuration.cancel_subscription", "paddle does not support"),
    ),
    LocalCase(
        "invalid-customer-id",
        lambda r: request_for("ctm_../x"),
        ("customer_id", "must contain only"),
    ),
    LocalCase("get", own_customer, ("405", "'GET'", "POST only"), method="GET"),
]


@pytest.mark.parametrize("case", LOCAL_CASES, ids=lambda case: case.name)
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_local_refusal_is_one_warning_that_says_why(
    framework: str, view: str, case: LocalCase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vendor = FakeVendor()
    options = {} if case.allowed_hosts is None else {"allowed_return_hosts": case.allowed_hosts}
    answer = call(framework, view, vendor.portal(**options), case.to_request, method=case.method)
    assert answer.status in (400, 405)
    assert vendor.requests == []  # refused before anything was sent
    records = [r for r in caplog.records if r.name.split(".")[0] == "portalkit"]
    [warning] = records
    assert warning.levelno == logging.WARNING
    assert warning.name == "portalkit.web"
    line = warning.getMessage()
    assert line.startswith(f"answered {answer.status}")
    for part in case.says:
        assert part in line, f"{part!r} not in {line!r}"
    if answer.status == 400:
        assert "refused by portalkit before anything was sent" in line
    assert "http://testserver" not in line  # the rule, not the value
    assert_no_leak(line, answer.text)


APP_WITH_LOGGING = """
import logging
import sys

sys.path.insert(0, {tests!r})
logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")

import flask
from _web import CUSTOMER_ID, FakeVendor
from portalkit import PortalRequest
from portalkit.web.flask import redirect_view

app = flask.Flask(__name__)
app.add_url_rule(
    "/billing",
    view_func=redirect_view(
        FakeVendor().portal(),
        lambda request: PortalRequest(CUSTOMER_ID, return_url="http://testserver/account/"),
    ),
    methods=["POST"],
)
print(app.test_client().post("/billing").status_code)
"""


def test_logging_basic_config_is_all_it_takes_to_see_why() -> None:
    code = APP_WITH_LOGGING.format(tests=str(ROOT / "tests"))
    run = subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert run.stdout.strip() == "400"
    [line] = run.stderr.splitlines()
    assert line.startswith("WARNING portalkit.web: answered 400: InvalidRequest: return_url:")
    assert "must use https://" in line


def test_without_logging_configured_nothing_is_printed() -> None:
    code = APP_WITH_LOGGING.format(tests=str(ROOT / "tests")).replace(
        'logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")', ""
    )
    run = subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert (run.stdout.strip(), run.stderr) == ("400", "")


def django_logging_from_the_docs() -> str:
    """The ``LOGGING`` block of docs/frameworks/django.md, as written there."""
    page = (ROOT / "docs/frameworks/django.md").read_text(encoding="utf-8")
    [block] = [b for b in page.split("```python\n")[1:] if b.startswith("LOGGING = ")]
    return block.split("```", 1)[0]


DJANGO_APP = """
import django
from django.conf import settings

{logging_block}
settings.configure(
    DEBUG=False,
    SECRET_KEY="portalkit-tests-only",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    LOGGING=LOGGING,
)
django.setup()

from django.test import Client
from django.urls import path

from portalkit import PortalRequest
from portalkit.providers.paddle import Paddle
from portalkit import Portal
from portalkit.web.django import redirect_view

portal = Portal(Paddle(api_key="pdl_sdbx_apikey_0123456789abcdef"))


def to_request(request):
    return PortalRequest(
        "ctm_01h8441jn5pcwrfhwh78jqt8hk", return_url=request.build_absolute_uri("/account/")
    )


urlpatterns = [path("billing/portal/", redirect_view(portal, to_request))]
print(Client().post("/billing/portal/").status_code)
"""


def test_the_django_logging_setting_in_the_docs_shows_why() -> None:
    """Django's test client asks for http://testserver: the docs' LOGGING shows the line."""
    code = DJANGO_APP.format(logging_block=django_logging_from_the_docs())
    run = subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert run.stdout.strip() == "400"
    assert "answered 400: InvalidRequest: return_url: must use https://" in run.stderr
    assert "testserver" not in run.stderr


# -- the types an app's editor sees ----------------------------------------------------------

TYPED_APP = """
from django.http import HttpRequest, HttpResponse
import flask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from portalkit import Portal, PortalRequest
from portalkit.providers.paddle import Paddle
from portalkit.web import Refusal, RefusalKind
from portalkit.web import django as web_django, flask as web_flask, starlette as web_starlette

portal = Portal(Paddle(api_key="pdl_sdbx_apikey_0123456789abcdef"))
TEXT: dict[RefusalKind, str] = {{kind: kind.value for kind in RefusalKind}}


def to_request(request: object) -> PortalRequest:
    return PortalRequest("ctm_01h8441jn5pcwrfhwh78jqt8hk")


def starlette_page(request: Request, refusal: Refusal) -> Response:
    return PlainTextResponse(TEXT[refusal.kind])


async def starlette_async_page(request: Request, refusal: Refusal) -> Response:
    return PlainTextResponse(f"{{refusal.status}} {{refusal.provider}} {{refusal.request_id}}")


def flask_page(request: flask.Request, refusal: Refusal) -> str:
    return TEXT[refusal.kind]


def django_page(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    return HttpResponse(refusal.message)


web_starlette.redirect_view(portal, to_request, render_refusal=starlette_page)
web_starlette.json_view(portal, to_request, render_refusal=starlette_async_page)
web_flask.redirect_view(portal, to_request, render_refusal=flask_page)
web_django.json_view(portal, to_request, render_refusal=django_page)
{wrong}
"""

WRONG = """
def wrong_page(request: Request, refusal: Refusal) -> int:
    return refusal.status


web_starlette.redirect_view(portal, to_request, render_refusal=wrong_page)
RefusalKind.NO_SUCH_KIND
"""


def test_an_apps_renderers_type_check_and_a_wrong_one_does_not(tmp_path: Path) -> None:
    """One mypy --strict run over an app: its renderers for each framework check clean, and
    the two wrong lines at its end (a renderer that returns no response, a kind that does
    not exist) are the only errors."""
    source = TYPED_APP.format(wrong=WRONG)
    run = mypy_strict(tmp_path, source, ignore_missing_imports=True)
    found = [line for line in run.stdout.splitlines() if ": error:" in line]
    wrong_from = source.count("\n", 0, source.index("def wrong_page")) + 1
    lines = [int(line.split(":")[1]) for line in found]
    assert len(found) == 2, run.stdout + run.stderr
    assert all(line > wrong_from for line in lines), run.stdout
    assert '"render_refusal"' in found[0]
    assert "NO_SUCH_KIND" in found[1]


# -- the framework pages show the lines as logged ---------------------------------------------

#: The refusals each framework page shows the log line of, in its order.
SHOWN = [
    LocalCase(
        "http-return-url",
        lambda r: PortalRequest(CUSTOMER_ID, return_url="http://testserver/account/"),
        (),
    ),
    LocalCase(
        "return-host-not-allowed",
        lambda r: PortalRequest(CUSTOMER_ID, return_url="https://shop.example.com/account"),
        (),
        allowed_hosts=(ALLOWED_HOST,),
    ),
    LocalCase("unsupported-feature", lambda r: unsupported_request(), ()),
    LocalCase("get", own_customer, (), method="GET"),
]


def shown_lines(page: str) -> list[str]:
    """The log lines in the page's "Why was it refused?" section, without the prefix the
    page's logging set-up adds (``basicConfig``'s ``LEVEL:logger:``)."""
    text = (ROOT / "docs/frameworks" / page).read_text(encoding="utf-8")
    part = text.split("## Why was it refused?\n", 1)[1].split("\n## ", 1)[0]
    block = part.split("```text\n", 1)[1].split("```", 1)[0]
    return [line.removeprefix("WARNING:portalkit.web:") for line in block.splitlines()]


@pytest.mark.parametrize("page", ["starlette.md", "flask.md", "django.md"])
def test_the_framework_pages_show_the_lines_as_logged(
    page: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="portalkit")
    framework = page.removesuffix(".md")
    for case in SHOWN:
        options = {} if case.allowed_hosts is None else {"allowed_return_hosts": case.allowed_hosts}
        call(
            framework,
            "redirect",
            FakeVendor().portal(**options),
            case.to_request,
            method=case.method,
        )
    logged = [r.getMessage() for r in caplog.records if r.name == "portalkit.web"]
    assert shown_lines(page) == logged
