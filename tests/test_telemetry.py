"""Traces and metrics for every mint (portalkit/_telemetry.py), read back through the
OpenTelemetry SDK's in-memory span exporter and metric reader.

The SDK providers are installed for one test at a time by patching the API's globals (the
API lets a process set its provider only once), so every other test runs as an app with no
provider configured.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import opentelemetry.metrics._internal as metrics_internal
import pytest
from _mock import (
    PADDLE_DOC_CUSTOMER,
    PADDLE_DOC_RESPONSE,
    PADDLE_DOC_TOKEN,
    PLUGIPAY_DOC_SESSION,
    Script,
    both_modes,
    mint,
    record_sleeps,
    reply,
)
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from portalkit import MigrationRouter, PortalRequest, Route, _telemetry
from portalkit.errors import CustomerNotFound, InvalidRequest
from portalkit.providers.paddle import Paddle
from portalkit.providers.plugipay import Plugipay

KEY_ID, KEY_SECRET, PADDLE_KEY = "pk_otel_key_id", "sk_otel_secret_x81", "pdl_otel_key_9a"
PLUGIPAY = Plugipay(key_id=KEY_ID, key_secret=KEY_SECRET)
PADDLE = Paddle(api_key=PADDLE_KEY)
RETURN_URL = "https://app.acme.com/account?email=jane%40acme.example"
REQUEST = PortalRequest(PLUGIPAY_DOC_SESSION["customerId"], return_url=RETURN_URL)


def ok(request_id: str = "req_ok") -> Any:
    return reply(201, {"data": PLUGIPAY_DOC_SESSION}, headers={"X-Request-Id": request_id})


class Otel:
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name in (None, s.name)]

    def mint_span(self) -> ReadableSpan:
        [span] = self.spans(_telemetry.MINT_SPAN)
        return span

    def attempts(self) -> list[ReadableSpan]:
        return self.spans(_telemetry.ATTEMPT_SPAN)

    def durations(self) -> list[tuple[dict[str, Any], int]]:
        """(attributes, count) of each data point of the mint-duration histogram."""
        data = self.reader.get_metrics_data()
        points = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == _telemetry.DURATION_METRIC:
                        assert metric.unit == "s"
                        for point in metric.data.data_points:
                            points.append((dict(point.attributes or {}), point.count))
        return points


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[Otel]:
    recorder = Otel()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", recorder.tracer_provider)
    monkeypatch.setattr(metrics_internal, "_METER_PROVIDER", recorder.meter_provider)
    yield recorder
    recorder.tracer_provider.shutdown()
    recorder.meter_provider.shutdown()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


@both_modes
def test_one_span_per_create_link_with_a_child_per_attempt(otel: Otel, mode: str) -> None:
    link = mint(mode, PLUGIPAY, Script(ok()), REQUEST)

    span = otel.mint_span()
    assert dict(span.attributes or {}) == {
        "portalkit.vendor": "plugipay",
        "portalkit.outcome": "link",
        "portalkit.attempts": 1,
        "http.response.status_code": 201,
        "portalkit.vendor_request_id": "req_ok",
        "portalkit.idempotency_key_sent": True,
    }
    assert link.request_id == "req_ok"
    assert span.status.status_code is StatusCode.UNSET
    [attempt] = otel.attempts()
    assert attempt.parent is not None
    assert attempt.parent.span_id == span.context.span_id
    assert dict(attempt.attributes or {}) == {
        "portalkit.attempt": 1,
        "portalkit.vendor": "plugipay",
        "http.request.method": "POST",
        "http.response.status_code": 201,
    }
    assert otel.durations() == [({"portalkit.vendor": "plugipay", "portalkit.outcome": "link"}, 1)]


@both_modes
def test_retries_are_sibling_attempt_spans(otel: Otel, mode: str, sleeps: list[float]) -> None:
    script = Script(reply(503, {"error": {"code": "down"}}), reply(429), ok())
    mint(mode, PLUGIPAY, script, REQUEST)

    span = otel.mint_span()
    assert span.attributes is not None
    assert span.attributes["portalkit.attempts"] == 3
    assert span.attributes["portalkit.outcome"] == "link"
    attempts = sorted(otel.attempts(), key=lambda s: s.start_time or 0)
    assert [a.parent.span_id for a in attempts if a.parent] == [span.context.span_id] * 3
    assert [(a.attributes or {}).get("portalkit.attempt") for a in attempts] == [1, 2, 3]
    assert [(a.attributes or {}).get("error.type") for a in attempts] == [
        "ProviderUnavailable",
        "RateLimited",
        None,
    ]
    assert [(a.attributes or {}).get("http.response.status_code") for a in attempts] == [
        503,
        429,
        201,
    ]
    assert [a.status.status_code for a in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]


@both_modes
def test_a_failed_mint_names_the_error_class(otel: Otel, mode: str) -> None:
    body = {"error": {"code": "NOT_FOUND", "message": "no customer jane@acme.example"}}
    script = Script(reply(404, body, headers={"X-Request-Id": "req_404"}))
    with pytest.raises(CustomerNotFound):
        mint(mode, PLUGIPAY, script, REQUEST)

    span = otel.mint_span()
    assert dict(span.attributes or {}) == {
        "portalkit.vendor": "plugipay",
        "portalkit.outcome": "CustomerNotFound",
        "error.type": "CustomerNotFound",
        "portalkit.attempts": 1,
        "http.response.status_code": 404,
        "portalkit.vendor_request_id": "req_404",
        "portalkit.idempotency_key_sent": True,
    }
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "CustomerNotFound"  # not the vendor's message
    assert span.events == ()  # no exception event: its message quotes the vendor
    assert otel.durations() == [
        ({"portalkit.vendor": "plugipay", "portalkit.outcome": "CustomerNotFound"}, 1)
    ]


@both_modes
def test_a_vendor_without_keys_sends_none(otel: Otel, mode: str) -> None:
    request = PortalRequest(PADDLE_DOC_CUSTOMER, idempotency_key="caller-key-1")
    mint(mode, PADDLE, Script(reply(201, PADDLE_DOC_RESPONSE)), request)

    attributes = otel.mint_span().attributes or {}
    assert attributes["portalkit.vendor"] == "paddle"
    assert attributes["portalkit.idempotency_key_sent"] is False  # Paddle takes no key
    # Paddle's id travels in the body (meta.request_id), not a header.
    assert attributes["portalkit.vendor_request_id"] == "fa176777-4bca-49ec-aa1e-f53885333cb7"


@both_modes
def test_a_refusal_before_sending_has_no_attempt(otel: Otel, mode: str) -> None:
    with pytest.raises(InvalidRequest):
        mint(mode, PLUGIPAY, Script(), PortalRequest("not-a-plugipay-id", return_url=RETURN_URL))

    span = otel.mint_span()
    attributes = dict(span.attributes or {})
    assert attributes["portalkit.vendor"] == "plugipay"
    assert attributes["portalkit.outcome"] == "InvalidRequest"
    assert attributes["portalkit.attempts"] == 0
    assert otel.attempts() == []


@both_modes
def test_a_router_fallback_is_one_mint_span(otel: Otel, mode: str) -> None:
    router = MigrationRouter(
        [PLUGIPAY, PADDLE],
        route=lambda request: Route(
            "plugipay", request.customer_id, fallback=Route("paddle", PADDLE_DOC_CUSTOMER)
        ),
        fallback=True,
    )
    script = Script(
        reply(404, {"error": {"code": "NOT_FOUND", "message": "gone"}}),
        reply(201, PADDLE_DOC_RESPONSE),
    )
    mint(mode, router, script, REQUEST)

    span = otel.mint_span()
    attributes = span.attributes or {}
    assert attributes["portalkit.vendor"] == "paddle"  # the vendor that minted the link
    assert attributes["portalkit.attempts"] == 2
    assert [(a.attributes or {}).get("portalkit.vendor") for a in otel.attempts()] == [
        "plugipay",
        "paddle",
    ]


@both_modes
def test_a_request_id_not_shaped_like_one_is_left_out(otel: Otel, mode: str) -> None:
    mint(mode, PLUGIPAY, Script(ok("https://evil.example/?token=abc")), REQUEST)

    assert "portalkit.vendor_request_id" not in (otel.mint_span().attributes or {})


@both_modes
def test_no_url_token_key_signature_or_email_in_any_attribute(
    otel: Otel, mode: str, sleeps: list[float]
) -> None:
    script = Script(reply(500), ok())
    mint(mode, PLUGIPAY, script, REQUEST)
    body = {"error": {"code": "NOT_FOUND", "message": f"key {KEY_ID} jane@acme.example"}}
    with pytest.raises(CustomerNotFound):
        mint(mode, PLUGIPAY, Script(reply(404, body)), REQUEST)
    paddle = Script(reply(201, PADDLE_DOC_RESPONSE))
    mint(mode, PADDLE, paddle, PortalRequest(PADDLE_DOC_CUSTOMER))

    sent = [*script.sent, *paddle.sent]
    secrets = {
        KEY_ID,
        KEY_SECRET,
        PADDLE_KEY,
        PLUGIPAY_DOC_SESSION["url"],
        "eyJhbGciOi",  # the token in Plugipay's link
        PADDLE_DOC_TOKEN,
        RETURN_URL,
        "jane",
        "@",
        "://",
        *(s.headers["x-plugipay-signature"] for s in script.sent),
        *(s.headers["authorization"] for s in paddle.sent),
        *(s.headers["idempotency-key"] for s in script.sent),
    }
    assert all(len(secret) > 0 for secret in secrets)
    values = []
    for span in otel.spans():
        values += [str(v) for v in (span.attributes or {}).values()]
        values.append(span.status.description or "")
        values += [json.dumps(dict(event.attributes or {})) for event in span.events]
    for attributes, _ in otel.durations():
        values += [str(v) for v in attributes.values()]
    assert len(sent) == 3
    assert len(otel.spans()) == 7  # three mints, four attempts
    for secret in secrets:
        assert not any(secret in value for value in values), secret


def test_no_cost_without_a_configured_provider() -> None:
    # The API is installed (and imported: this test module imports it) but no provider is
    # set: both hooks are the one shared nullcontext, and nothing is recorded.
    assert _telemetry.mint(PLUGIPAY) is _telemetry._NULL
    assert _telemetry._current.get() is None


def test_opentelemetry_is_never_imported_by_portalkit() -> None:
    # A fresh interpreter mints a link through a mock transport; OpenTelemetry is installed
    # here, yet portalkit must not import it (an import costs milliseconds on every start).
    code = """
import sys
from portalkit import Portal, PortalRequest
from portalkit._http import httpx
from portalkit.providers.paylera import Paylera

answer = {"id": "ps_1", "url": "https://portal.paylera.io/p/ps_1",
          "expires_at": "2026-05-06T13:34:00Z"}
transport = httpx.MockTransport(lambda request: httpx.Response(201, json=answer))
with httpx.Client(transport=transport) as client:
    Portal(Paylera(api_key="pl_key_1234"), http_client=client).create_link(PortalRequest("cus_1"))
print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
"""
    run = subprocess.run(  # noqa: S603 -- this interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert run.stdout.strip() == "[]"


def test_a_provider_named_in_the_environment_is_loaded_through_the_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without a provider set in code, the API's getter (which reads the environment on each
    # call) is asked only when the environment names a provider for it to load.
    asked: list[str] = []

    def getter() -> str:
        asked.append("asked")
        return "the provider"

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    variable = "OTEL_PYTHON_TRACER_PROVIDER"
    find = _telemetry._global_provider
    monkeypatch.delenv(variable, raising=False)
    _telemetry._named_in_environment.cache_clear()
    assert find(trace, "_TRACER_PROVIDER", variable, getter) is None
    assert asked == []
    monkeypatch.setenv(variable, "sdk_tracer_provider")
    _telemetry._named_in_environment.cache_clear()
    try:
        assert find(trace, "_TRACER_PROVIDER", variable, getter) == "the provider"
        assert find(object(), "_TRACER_PROVIDER", variable, getter) == "the provider"
    finally:
        _telemetry._named_in_environment.cache_clear()
    assert asked == ["asked", "asked"]
