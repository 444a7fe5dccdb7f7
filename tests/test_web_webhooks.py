"""portalkit.web's webhook views (Starlette, FastAPI, Flask, Django) through each framework's
test client: a valid delivery reaches the app's handler once; a duplicate, a failure and its
retry, a refused delivery, an oversized body and a GET get the answers portalkit.web
documents; nothing the vendor signed leaks into an answer or a log line.

The vendor is one made here ("acme", Stripe-like HMAC over "{timestamp}.{body}"), so these
tests depend on no real vendor's module. Django runs behind ``CsrfViewMiddleware`` with
``enforce_csrf_checks=True`` in every test: the vendor's POST carries no CSRF token.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs
import flask
import pytest
from _web import configure_django
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.test.utils import override_settings
from django.urls import clear_url_caches, path
from fastapi import FastAPI
from fastapi.testclient import TestClient as FastAPITestClient
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message
from werkzeug.test import EnvironBuilder, run_wsgi_app

from portalkit import (
    BillingEvent,
    Claim,
    Delivery,
    EventLog,
    EventType,
    InMemoryEventLog,
    VendorWebhooks,
    Webhooks,
)
from portalkit._signatures import HmacSignature
from portalkit.sql_event_log import SqlEventLog
from portalkit.web import django as django_views
from portalkit.web import flask as flask_views
from portalkit.web import starlette as starlette_views

SECRET = "whsec_test_secret_must_not_leak"
#: In the payload: customer data, which no answer or log line may hold.
CUSTOMER = "cus_marker_must_not_leak"
PATH = "/hooks/acme"
#: A small limit, so an oversized body is cheap to send.
LIMIT = 2048
FRAMEWORKS = ["starlette", "fastapi", "flask", "django"]


def read_acme(payload: dict[str, Any], delivery: Delivery) -> BillingEvent:
    try:
        return delivery.event(
            payload,
            id=payload["id"],
            type=EventType.SUBSCRIPTION_UPDATED,
            vendor_type=payload["type"],
            occurred_at=delivery.unix_time(payload["created"], "created"),
            customer_id=payload["data"]["customer"],
        )
    except (KeyError, TypeError):
        raise delivery.malformed("the event lacks id, type, created or data.customer") from None


ACME = VendorWebhooks(
    provider="acme",
    signature=HmacSignature(
        header="X-Acme-Signature",
        items=",",
        signature_key="v1",
        timestamp_key="t",
        signed="{timestamp}.{body}",
        tolerance=300,
    ),
    read=read_acme,
    events=(),
)


def make_hooks(secret: str = SECRET) -> Webhooks:
    return Webhooks(ACME, secrets=[secret], max_body_bytes=LIMIT)


def event_body(event_id: str = "evt_1", size: int | None = None) -> bytes:
    """The vendor's JSON event; padded to exactly ``size`` bytes when asked."""
    event = {
        "id": event_id,
        "type": "subscription.updated",
        "created": 1_700_000_000,
        "data": {"customer": CUSTOMER},
        "pad": "",
    }
    body = json.dumps(event).encode()
    if size is not None:
        event["pad"] = "x" * (size - len(body))
        body = json.dumps(event).encode()
        assert len(body) == size
    return body


@attrs.define
class Handler:
    """The app's handler: keeps every event, and raises for the first ``failures`` calls."""

    failures: int = 0
    events: list[BillingEvent] = attrs.field(factory=list)
    #: For each call, whether it ran on a thread with a running event loop (it blocked it).
    on_loop: list[bool] = attrs.field(factory=list)

    def __call__(self, event: BillingEvent) -> None:
        self.events.append(event)
        self.on_loop.append(_loop_running())
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the app's handler failed on purpose")

    def ids(self) -> list[str]:
        return [event.id for event in self.events]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@attrs.frozen
class Answer:
    status: int
    text: str
    headers: Mapping[str, str]


class Served(Protocol):
    """One framework serving one webhook view at PATH (any method reaches the view)."""

    def post(self, body: bytes, headers: Mapping[str, str]) -> Answer: ...

    def get(self) -> Answer: ...


class StarletteServed:
    def __init__(self, view: Any, fastapi: bool = False) -> None:
        if fastapi:
            app = FastAPI()
            app.add_api_route(PATH, view, methods=["GET", "POST"])
            self.client: TestClient = FastAPITestClient(app)
        else:
            app = Starlette(routes=[Route(PATH, view, methods=["GET", "POST"])])
            self.client = TestClient(app)

    def post(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        response = self.client.post(PATH, content=body, headers=dict(headers))
        return Answer(response.status_code, response.text, response.headers)

    def get(self) -> Answer:
        response = self.client.get(PATH)
        return Answer(response.status_code, response.text, response.headers)


class FlaskServed:
    def __init__(self, view: Any) -> None:
        app = flask.Flask(__name__)
        app.add_url_rule(PATH, view_func=view, methods=["GET", "POST"])
        self.client = app.test_client()

    def post(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        response = self.client.post(PATH, data=body, headers=dict(headers))
        return Answer(response.status_code, response.get_data(as_text=True), response.headers)

    def get(self) -> Answer:
        response = self.client.get(PATH)
        return Answer(response.status_code, response.get_data(as_text=True), response.headers)


# Django's URLconf is this module; the fixture puts the view under test in it.
urlpatterns: list[Any] = []


class DjangoServed:
    def __init__(self, view: Any) -> None:
        urlpatterns[:] = [path(PATH.lstrip("/"), view)]
        clear_url_caches()
        # No CSRF cookie or token, as a vendor sends none: the view must be exempt.
        self.client = Client(enforce_csrf_checks=True)

    def post(self, body: bytes, headers: Mapping[str, str], **environ: Any) -> Answer:
        response = self.client.post(
            PATH, data=body, content_type="application/json", headers=dict(headers), **environ
        )
        return Answer(response.status_code, response.content.decode(), response.headers)

    def get(self) -> Answer:
        response = self.client.get(PATH)
        return Answer(response.status_code, response.content.decode(), response.headers)


@pytest.fixture
def django_site() -> Iterator[None]:
    """This module as Django's URLconf, behind the CSRF middleware.

    Django is configured here, at test time, only when no other module did: configuring it
    at import would take the settings from tests/test_web_django.py, which configures Django
    at its import with itself as the URLconf and overrides nothing."""
    configure_django()
    with override_settings(
        ROOT_URLCONF=__name__, MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"]
    ):
        yield
    urlpatterns.clear()
    clear_url_caches()


Serve = Callable[..., Served]


@pytest.fixture(params=FRAMEWORKS)
def serve(request: pytest.FixtureRequest) -> Serve:
    """``serve(hooks, handler, **options)``: the framework's webhook_view, served."""
    framework: str = request.param
    if framework == "django":
        request.getfixturevalue("django_site")

    def serve(hooks: Webhooks, handler: Any, **options: Any) -> Served:
        if framework == "django":
            return DjangoServed(django_views.webhook_view(hooks, handler, **options))
        if framework == "flask":
            return FlaskServed(flask_views.webhook_view(hooks, handler, **options))
        view = starlette_views.webhook_view(hooks, handler, **options)
        return StarletteServed(view, fastapi=framework == "fastapi")

    return serve


def deliver(served: Served, hooks: Webhooks, body: bytes) -> Answer:
    return served.post(body, hooks.sign(body))


def assert_nothing_leaks(body: bytes, headers: Mapping[str, str], *texts: str) -> None:
    """No answer and no log line holds the secret, the signature, the body or its data."""
    signature = headers["X-Acme-Signature"].rpartition("v1=")[2]
    for text in texts:
        for kept in (SECRET, signature, CUSTOMER, body.decode()):
            assert kept not in text, f"{kept[:20]!r}... leaked into {text!r}"


# -- every framework ---------------------------------------------------------------------------


def test_a_valid_delivery_reaches_the_handler_once_and_is_200(serve: Serve) -> None:
    hooks, handler = make_hooks(), Handler()
    answer = deliver(serve(hooks, handler), hooks, event_body())
    assert answer.status == 200
    assert answer.headers["Cache-Control"] == "no-store"
    [event] = handler.events
    assert (event.provider, event.id, event.customer_id) == ("acme", "evt_1", CUSTOMER)
    assert event.type is EventType.SUBSCRIPTION_UPDATED


def test_a_duplicate_is_200_without_calling_the_handler_again(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portalkit.web")
    hooks, handler = make_hooks(), Handler()
    served = serve(hooks, handler)
    body = event_body()
    assert deliver(served, hooks, body).status == 200
    # A redelivery is signed anew (its timestamp moves), the event is the same.
    assert served.post(body, hooks.sign(body, timestamp=int(time.time()) + 1)).status == 200
    assert deliver(served, hooks, event_body("evt_2")).status == 200
    assert handler.ids() == ["evt_1", "evt_2"]
    assert "webhook duplicate" in caplog.text


def test_a_failing_handler_is_500_and_the_vendors_retry_runs_it_again(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    hooks, handler = make_hooks(), Handler(failures=1)
    served = serve(hooks, handler)
    body = event_body()
    failed = deliver(served, hooks, body)
    assert failed.status == 500
    assert "on purpose" not in failed.text  # the app's exception stays in the log
    [record] = [r for r in caplog.records if r.name == "portalkit.web"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "RuntimeError" in record.getMessage()
    assert "provider=acme event_id=evt_1" in record.getMessage()
    assert deliver(served, hooks, body).status == 200  # the retry
    assert deliver(served, hooks, body).status == 200  # and a duplicate of it
    assert handler.ids() == ["evt_1", "evt_1"]
    assert_nothing_leaks(body, hooks.sign(body), failed.text, caplog.text)


def stale(hooks: Webhooks, body: bytes) -> dict[str, str]:
    return hooks.sign(body, timestamp=int(time.time()) - 3600)


def unsigned(hooks: Webhooks, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def other_secret(hooks: Webhooks, body: bytes) -> dict[str, str]:
    return make_hooks("whsec_someone_else").sign(body)


def tampered(hooks: Webhooks, body: bytes) -> dict[str, str]:
    return hooks.sign(body.replace(b"evt_1", b"evt_0"))  # signed one body, sent another


@pytest.mark.parametrize(
    ("headers_for", "reason"),
    [
        (tampered, "signature_mismatch"),
        (other_secret, "signature_mismatch"),
        (stale, "timestamp_out_of_tolerance"),
        (unsigned, "missing_signature"),
    ],
)
def test_a_refused_delivery_is_400_with_no_detail(
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    headers_for: Callable[[Webhooks, bytes], dict[str, str]],
    reason: str,
) -> None:
    hooks, handler = make_hooks(), Handler()
    body = event_body()
    headers = headers_for(hooks, body)
    answer = serve(hooks, handler).post(body, headers)
    assert answer.status == 400
    assert answer.text == "Rejected."
    assert handler.events == []
    [record] = [r for r in caplog.records if r.name == "portalkit.web"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"webhook rejected: answered 400 (provider=acme reason={reason})"
    )
    shown = [answer.text, *answer.headers.values(), caplog.text]
    assert_nothing_leaks(body, hooks.sign(body), *shown)
    if "X-Acme-Signature" in headers:
        assert_nothing_leaks(body, headers, *shown)


def test_a_malformed_event_is_400(serve: Serve, caplog: pytest.LogCaptureFixture) -> None:
    hooks, handler = make_hooks(), Handler()
    body = json.dumps({"id": "evt_1", "customer": CUSTOMER}).encode()
    assert deliver(serve(hooks, handler), hooks, body).status == 400
    assert "reason=malformed" in caplog.text
    assert handler.events == []


def test_a_body_over_the_limit_is_400_and_one_at_it_is_read(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    hooks, handler = make_hooks(), Handler()
    served = serve(hooks, handler)
    assert deliver(served, hooks, event_body("evt_big", size=LIMIT + 1)).status == 400
    assert "reason=too_large" in caplog.text
    assert deliver(served, hooks, event_body("evt_at_limit", size=LIMIT)).status == 200
    assert handler.ids() == ["evt_at_limit"]


def test_get_is_405_with_allow_post(serve: Serve) -> None:
    handler = Handler()
    answer = serve(make_hooks(), handler).get()
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert handler.events == []


def test_an_event_another_worker_holds_is_409(serve: Serve) -> None:
    hooks, handler, log = make_hooks(), Handler(), InMemoryEventLog()
    assert log.claim("acme", "evt_1") is Claim.CLAIMED  # another worker, still at it
    assert deliver(serve(hooks, handler, event_log=log), hooks, event_body()).status == 409
    assert handler.events == []


def test_without_an_event_log_every_delivery_reaches_the_handler(serve: Serve) -> None:
    hooks, handler = make_hooks(), Handler()
    served = serve(hooks, handler, event_log=None)
    body = event_body()
    assert [deliver(served, hooks, body).status for _ in range(2)] == [200, 200]
    assert handler.ids() == ["evt_1", "evt_1"]


def test_views_on_one_sql_log_handle_an_event_once(serve: Serve, tmp_path: Path) -> None:
    """Two workers (two views, two SqlEventLog objects on one database): the second
    delivery of an event is a duplicate to the other worker."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    logs = [SqlEventLog(url), SqlEventLog(url)]
    try:
        hooks, first, second = make_hooks(), Handler(), Handler()
        body = event_body()
        assert deliver(serve(hooks, first, event_log=logs[0]), hooks, body).status == 200
        assert deliver(serve(hooks, second, event_log=logs[1]), hooks, body).status == 200
        assert (first.ids(), second.ids()) == (["evt_1"], [])
    finally:
        for log in logs:
            log.close()


class BrokenLog:
    """An event log whose database is down for one of its calls."""

    def __init__(self, broken: str) -> None:
        self.broken = broken
        self.log = InMemoryEventLog()

    def claim(self, provider: str, event_id: str) -> Claim:
        self._maybe_fail("claim")
        return self.log.claim(provider, event_id)

    def done(self, provider: str, event_id: str) -> None:
        self._maybe_fail("done")
        self.log.done(provider, event_id)

    def release(self, provider: str, event_id: str) -> None:
        self._maybe_fail("release")
        self.log.release(provider, event_id)

    def _maybe_fail(self, call: str) -> None:
        if call == self.broken:
            raise ConnectionError("the event log's database is down")


@pytest.mark.parametrize(
    ("broken", "failures", "status", "calls"),
    [
        ("claim", 0, 500, 0),  # nothing ran: the vendor retries later
        ("done", 0, 200, 1),  # the handler did its work: no redelivery for it
        ("release", 1, 500, 1),  # the handler failed; the claim's lease frees it later
    ],
)
def test_an_event_log_failure_is_logged_and_answered(
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    broken: str,
    failures: int,
    status: int,
    calls: int,
) -> None:
    hooks, handler = make_hooks(), Handler(failures=failures)
    log: EventLog = BrokenLog(broken)
    assert deliver(serve(hooks, handler, event_log=log), hooks, event_body()).status == status
    assert len(handler.events) == calls
    assert "ConnectionError" in caplog.text
    assert f"answered {status} (provider=acme event_id=evt_1)" in caplog.text


@pytest.mark.parametrize("framework", [starlette_views, flask_views, django_views])
def test_a_view_built_wrong_fails_at_start_up(framework: Any) -> None:
    with pytest.raises(TypeError, match="Webhooks"):
        framework.webhook_view(object(), Handler())
    with pytest.raises(TypeError, match="callable"):
        framework.webhook_view(make_hooks(), "handler")
    with pytest.raises(TypeError, match="event_log"):
        framework.webhook_view(make_hooks(), Handler(), event_log=object())


@pytest.mark.parametrize("framework", [flask_views, django_views])
def test_a_sync_view_refuses_an_async_handler_it_would_never_await(framework: Any) -> None:
    async def on_event(event: BillingEvent) -> None:
        raise AssertionError("never awaited")  # pragma: no cover

    with pytest.raises(TypeError, match="not an async def"):
        framework.webhook_view(make_hooks(), on_event)


def test_each_view_gets_an_event_log_of_its_own(serve: Serve) -> None:
    """The default log is made per view: an event one view handled is new to another."""
    hooks, first, second = make_hooks(), Handler(), Handler()
    body = event_body()
    assert deliver(serve(hooks, first), hooks, body).status == 200
    assert deliver(serve(hooks, second), hooks, body).status == 200
    assert (first.ids(), second.ids()) == (["evt_1"], ["evt_1"])


# -- Starlette: async and sync handlers, and a body read as it streams in ------------------------


def test_starlette_runs_a_sync_handler_off_the_event_loop() -> None:
    hooks, handler = make_hooks(), Handler()
    served = StarletteServed(starlette_views.webhook_view(hooks, handler))
    assert deliver(served, hooks, event_body()).status == 200
    assert handler.on_loop == [False]  # in the thread pool


def test_starlette_awaits_an_async_handler_and_retries_its_failure() -> None:
    hooks, events, on_loop = make_hooks(), [], []
    failures = [RuntimeError("the app's handler failed on purpose")]

    async def on_event(event: BillingEvent) -> None:
        events.append(event.id)
        on_loop.append(_loop_running())
        if failures:
            raise failures.pop()

    served = StarletteServed(starlette_views.webhook_view(hooks, on_event))
    body = event_body()
    assert [deliver(served, hooks, body).status for _ in range(3)] == [500, 200, 200]
    assert events == ["evt_1", "evt_1"]
    assert on_loop == [True, True]  # awaited, not run in a thread


async def call_asgi(app: ASGIApp, headers: Mapping[str, str], chunks: list[bytes]) -> Any:
    """POST ``chunks`` to ``app`` as an ASGI server would, without Content-Length unless
    ``headers`` has one: (status, answer, bytes the app took)."""
    taken = 0
    pending = list(chunks)
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal taken
        chunk = pending.pop(0) if pending else b""
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    text = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, text.decode(), taken


def starlette_app(hooks: Webhooks, handler: Handler) -> Starlette:
    view = starlette_views.webhook_view(hooks, handler)
    return Starlette(routes=[Route(PATH, view, methods=["POST"])])


async def test_starlette_stops_reading_a_streamed_body_past_the_limit() -> None:
    hooks, handler = make_hooks(), Handler()
    body = event_body("evt_big", size=50 * LIMIT)
    chunks = [body[i : i + 512] for i in range(0, len(body), 512)]
    status, text, taken = await call_asgi(starlette_app(hooks, handler), hooks.sign(body), chunks)
    assert (status, text) == (400, "Rejected.")
    assert LIMIT < taken <= LIMIT + 512  # the chunk that went past the limit, and no more
    assert handler.events == []


async def test_starlette_reads_nothing_when_content_length_is_over_the_limit() -> None:
    hooks, handler = make_hooks(), Handler()
    body = event_body("evt_big", size=50 * LIMIT)
    headers = {**hooks.sign(body), "Content-Length": str(len(body))}
    status, _, taken = await call_asgi(starlette_app(hooks, handler), headers, [body])
    assert (status, taken) == (400, 0)


async def test_starlette_accepts_a_streamed_body_at_the_limit() -> None:
    hooks, handler = make_hooks(), Handler()
    body = event_body(size=LIMIT)
    chunks = [body[i : i + 500] for i in range(0, len(body), 500)]
    status, _, taken = await call_asgi(starlette_app(hooks, handler), hooks.sign(body), chunks)
    assert (status, taken) == (200, LIMIT)
    assert handler.ids() == ["evt_1"]


# -- Flask and Django: the WSGI stream, read with the cap ------------------------------------------


class CountingStream(io.RawIOBase):
    """``body`` as a WSGI input, a few bytes a read (as a socket may give them), counting
    every byte the app took."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), len(self.body) - self.taken, 700)
        buffer[:size] = self.body[self.taken : self.taken + size]
        self.taken += size
        return size


def flask_call(
    hooks: Webhooks, handler: Handler, body: bytes, content_length: bool
) -> tuple[int, CountingStream]:
    app = flask.Flask(__name__)
    app.add_url_rule(PATH, view_func=flask_views.webhook_view(hooks, handler), methods=["POST"])
    environ = EnvironBuilder(path=PATH, method="POST", headers=hooks.sign(body)).get_environ()
    stream = CountingStream(body)
    environ["wsgi.input"] = stream
    if content_length:
        environ["CONTENT_LENGTH"] = str(len(body))
    else:  # chunked: the server tells the stream's end instead
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    _, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), stream


def test_flask_reads_nothing_when_content_length_is_over_the_limit() -> None:
    handler = Handler()
    status, stream = flask_call(make_hooks(), handler, event_body(size=50 * LIMIT), True)
    assert (status, stream.taken) == (400, 0)
    assert handler.events == []


def test_flask_reads_a_chunked_body_no_further_than_one_byte_past_the_limit() -> None:
    handler = Handler()
    status, stream = flask_call(make_hooks(), handler, event_body(size=50 * LIMIT), False)
    assert (status, stream.taken) == (400, LIMIT + 1)
    assert handler.events == []


def test_flask_reads_a_chunked_body_at_the_limit_whole() -> None:
    handler = Handler()
    status, stream = flask_call(make_hooks(), handler, event_body(size=LIMIT), False)
    assert (status, stream.taken) == (200, LIMIT)
    assert handler.ids() == ["evt_1"]


def test_django_reads_nothing_when_content_length_is_over_the_limit(django_site: None) -> None:
    hooks, handler = make_hooks(), Handler()
    served = DjangoServed(django_views.webhook_view(hooks, handler))
    body = event_body(size=50 * LIMIT)
    stream = CountingStream(body)
    environ = {"wsgi.input": stream, "CONTENT_LENGTH": str(len(body))}
    assert served.post(b"", hooks.sign(body), **environ).status == 400
    assert stream.taken == 0
    assert handler.events == []


def test_django_csrf_middleware_refuses_the_view_were_it_not_exempt(django_site: None) -> None:
    """The control for every Django test here: the middleware is on, and only the view's
    exemption lets the vendor's token-less POST through."""
    hooks, handler = make_hooks(), Handler()
    view = django_views.webhook_view(hooks, handler)

    def not_exempt(request: HttpRequest) -> HttpResponse:
        return view(request)

    assert deliver(DjangoServed(not_exempt), hooks, event_body()).status == 403
    assert deliver(DjangoServed(view), hooks, event_body()).status == 200
    assert handler.ids() == ["evt_1"]


def test_flask_wtf_refuses_the_view_until_it_is_exempt() -> None:
    """docs/frameworks/flask.md: Flask-WTF's CSRFProtect refuses the vendor's token-less POST
    (400, the handler never called), and ``csrf.exempt(view)`` lets it through."""
    from flask_wtf.csrf import CSRFProtect

    hooks, handler = make_hooks(), Handler()
    app = flask.Flask(__name__)
    app.secret_key = "portalkit-tests-only"
    csrf = CSRFProtect(app)
    view = flask_views.webhook_view(hooks, handler)
    app.add_url_rule(PATH, view_func=view, methods=["POST"])
    body = event_body()
    client = app.test_client()
    assert client.post(PATH, data=body, headers=hooks.sign(body)).status_code == 400
    assert handler.events == []
    csrf.exempt(view)
    assert client.post(PATH, data=body, headers=hooks.sign(body)).status_code == 200
    assert handler.ids() == ["evt_1"]
