"""Traces and metrics for every mint, through the OpenTelemetry API alone (the ``otel``
extra); the shells call ``mint()`` around each ``create_link`` and ``attempt()`` around each
HTTP attempt::

    portalkit.create_link       one span per create_link (sync or async)
      ├─ portalkit.attempt      one per HTTP attempt: a retry is a sibling
      └─ portalkit.attempt
    portalkit.mint.duration     histogram, seconds, by portalkit.vendor and portalkit.outcome

``portalkit.create_link`` carries ``portalkit.vendor``, ``portalkit.outcome`` (``link`` or
the error's class name, also as ``error.type``), ``http.response.status_code`` (the last
answer's), ``portalkit.attempts``, ``portalkit.vendor_request_id`` and
``portalkit.idempotency_key_sent``; each ``portalkit.attempt`` its number,
``http.request.method``, ``http.response.status_code`` and ``error.type``. Never a URL, a
token, a key, a signature, an e-mail or any vendor text: a request id is kept only when it
has the shape of one, and no exception is recorded (its message may quote the vendor).

No cost without it: nothing here imports OpenTelemetry. An app that configured a tracer or
meter provider has imported ``opentelemetry.trace`` / ``opentelemetry.metrics``; a call
looks for them in ``sys.modules`` and for a provider other than the API's default (proxy or
no-op). Otherwise both hooks return one shared ``nullcontext``.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._models import Feature

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import Histogram
    from opentelemetry.trace import Span, Tracer

    from ._call import Call

SCOPE = "portalkit"
MINT_SPAN = "portalkit.create_link"
ATTEMPT_SPAN = "portalkit.attempt"
DURATION_METRIC = "portalkit.mint.duration"
#: What a vendor's request id looks like (``req_...``, a UUID, a ULID); anything else is a
#: vendor value we do not vouch for, and stays out of the trace.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")

_NULL: AbstractContextManager[None] = nullcontext()
_UNKNOWN = object()
_current: ContextVar[_Mint | None] = ContextVar("portalkit_mint", default=None)
#: (provider, tracer or histogram) of the last provider seen, so a call does not ask the
#: provider for its instrument each time.
_tracers: list[tuple[object, Tracer]] = []
_histograms: list[tuple[object, Histogram]] = []


def _version() -> str:
    from . import __version__

    return __version__


@functools.cache
def _named_in_environment(variable: str) -> bool:
    """Whether the environment names a provider for the API to load (read once)."""
    return variable in os.environ


def _global_provider(holder: Any, attribute: str, variable: str, getter: Any) -> Any:
    """The provider set for the process, or None; cheap when none is. The API's own getter
    checks the environment on every call (microseconds): the global it returns is read
    first, and the getter asked only when one is set, when the environment names one, or
    when an API version keeps it elsewhere."""
    provider = getattr(holder, attribute, _UNKNOWN)
    if provider is None and not _named_in_environment(variable):
        return None
    return getter()


def _tracer() -> Tracer | None:
    trace: Any = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = _global_provider(
        trace, "_TRACER_PROVIDER", "OTEL_PYTHON_TRACER_PROVIDER", trace.get_tracer_provider
    )
    if provider is None or isinstance(
        provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    ):
        return None
    if _tracers and _tracers[0][0] is provider:
        return _tracers[0][1]
    tracer: Tracer = provider.get_tracer(SCOPE, _version())
    _tracers[:] = [(provider, tracer)]
    return tracer


def _histogram() -> Histogram | None:
    metrics: Any = sys.modules.get("opentelemetry.metrics")
    if metrics is None:
        return None
    internal = sys.modules.get("opentelemetry.metrics._internal")
    provider = _global_provider(
        internal, "_METER_PROVIDER", "OTEL_PYTHON_METER_PROVIDER", metrics.get_meter_provider
    )
    proxy = getattr(internal, "_ProxyMeterProvider", ())
    if provider is None or isinstance(provider, (metrics.NoOpMeterProvider, proxy)):
        return None
    if _histograms and _histograms[0][0] is provider:
        return _histograms[0][1]
    histogram: Histogram = provider.get_meter(SCOPE, _version()).create_histogram(
        DURATION_METRIC, unit="s", description="Time to mint one portal link (create_link)"
    )
    _histograms[:] = [(provider, histogram)]
    return histogram


def mint(provider: object) -> AbstractContextManager[None]:
    """Around one ``create_link``: its span and its duration, when OpenTelemetry is set up.
    ``provider`` is the Portal's (an adapter or a router): the vendor until an attempt names
    the one that answered."""
    tracer = _tracer()
    histogram = _histogram()
    if tracer is None and histogram is None:
        return _NULL
    return _Mint(tracer, histogram, getattr(provider, "name", None))


def attempt(call: Call) -> AbstractContextManager[None]:
    """Around one HTTP attempt of ``call``: a child span of the create_link span."""
    current = _current.get()
    if current is None:
        return _NULL
    current.call = call
    current.attempts += 1
    if current.tracer is None:
        return _NULL
    return _Attempt(current.tracer, call)


def _error_attributes(exc: BaseException | None) -> dict[str, Any]:
    if exc is None:
        return {}
    attributes: dict[str, Any] = {"error.type": type(exc).__name__}
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        attributes["http.response.status_code"] = status
    return attributes


def _end(span: Span, exc: BaseException | None) -> None:
    if exc is not None:
        from opentelemetry.trace import Status, StatusCode

        # The class name only: an exception's message may quote what the vendor said.
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
    span.end()


class _Mint:
    def __init__(self, tracer: Tracer | None, histogram: Histogram | None, vendor: Any) -> None:
        self.tracer = tracer
        self.histogram = histogram
        self.vendor = vendor if isinstance(vendor, str) else None
        self.call: Call | None = None
        self.attempts = 0
        self.span: Span | None = None
        self.started = 0.0
        self._context_token: object = None
        self._token: Token[_Mint | None] | None = None

    def __enter__(self) -> None:
        self.started = time.perf_counter()
        if self.tracer is not None:
            from opentelemetry import context, trace

            self.span = self.tracer.start_span(MINT_SPAN)
            ctx: Context = trace.set_span_in_context(self.span)
            self._context_token = context.attach(ctx)
        self._token = _current.set(self)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._token is not None
        _current.reset(self._token)
        call = self.call
        vendor = self.vendor
        if call is not None:
            vendor = call.provider.name
        provider = getattr(exc, "provider", None)
        if isinstance(provider, str):
            vendor = provider
        outcome = "link" if exc is None else type(exc).__name__
        if self.histogram is not None:
            self.histogram.record(
                time.perf_counter() - self.started,
                {"portalkit.vendor": vendor or "unknown", "portalkit.outcome": outcome},
            )
        span = self.span
        if span is None:
            return
        from opentelemetry import context

        attributes: dict[str, Any] = {
            "portalkit.outcome": outcome,
            "portalkit.attempts": self.attempts,
            **_error_attributes(exc),
        }
        if vendor:
            attributes["portalkit.vendor"] = vendor
        if call is not None:
            if call.status is not None and exc is None:
                attributes["http.response.status_code"] = call.status
            attributes["portalkit.idempotency_key_sent"] = (
                call.request.idempotency_key is not None
                and Feature.IDEMPOTENCY_KEY in call.provider.features
            )
        request_id = getattr(exc, "request_id", None)
        if exc is None and call is not None:
            request_id = call.request_id
        if isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id):
            attributes["portalkit.vendor_request_id"] = request_id
        span.set_attributes(attributes)
        context.detach(self._context_token)  # type: ignore[arg-type]
        _end(span, exc)


class _Attempt:
    def __init__(self, tracer: Tracer, call: Call) -> None:
        self.tracer = tracer
        self.call = call
        self.span: Span | None = None
        self._context_token: object = None

    def __enter__(self) -> None:
        from opentelemetry import context, trace

        # A child of the create_link span, and current while it runs: a span an HTTP
        # instrumentation makes for the request is this attempt's child.
        self.span = self.tracer.start_span(
            ATTEMPT_SPAN,
            attributes={
                "portalkit.attempt": self.call.attempts + 1,
                "portalkit.vendor": self.call.provider.name,
                "http.request.method": self.call.http_request.method,
            },
        )
        self._context_token = context.attach(trace.set_span_in_context(self.span))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from opentelemetry import context

        span = self.span
        assert span is not None
        context.detach(self._context_token)  # type: ignore[arg-type]
        # One call into the SDK, none for nothing: each takes the span's lock (about 1.4 µs).
        if exc is not None:
            span.set_attributes(_error_attributes(exc))
        elif self.call.status is not None:
            span.set_attribute("http.response.status_code", self.call.status)
        _end(span, exc)
