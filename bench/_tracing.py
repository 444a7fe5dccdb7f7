"""Figure 6, in a process of its own (``python -m bench._tracing CALLS ROUNDS WARMUP
LOOPBACK_CALLS LOOPBACK_ROUNDS``): what portalkit's telemetry hooks cost per create, per
vendor: in-process in every mode, and traced against the minimal server too.

A process of its own, because a tracer provider, once set, stays set for the process (and
the test suite's own tracing tests must not meet it). Each mode compares ``Portal`` as
shipped against the same ``Portal`` with the hooks replaced by a bare ``nullcontext``
(``portalkit._portal.telemetry`` swapped for a stand-in), interleaved, in order:

- ``absent``: OpenTelemetry never imported (the hooks look for it in ``sys.modules``);
- ``unconfigured``: ``opentelemetry.trace`` and ``.metrics`` imported, no provider set;
- ``traced``: an SDK ``TracerProvider`` with a ``SimpleSpanProcessor`` over an exporter that
  drops every span, set as the global provider.

Prints one JSON object: mode -> vendor -> [portalkit seconds by round, stand-in seconds].
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

from portalkit import Portal, _portal
from portalkit._http import httpx

from ._servers import serve
from ._stats import Comparison, interleave
from ._vendor import Target, in_process, mock_transport, registered

_NULL = nullcontext()
_STAND_IN = SimpleNamespace(mint=lambda provider: _NULL, attempt=lambda call: _NULL)


def _compare(
    vendor: str, calls: int, rounds: int, warmup: int, target: Target | None = None
) -> Comparison:
    loopback = target is not None
    target = target or in_process(vendor)
    shipped = vars(_portal)["telemetry"]
    transport = None if loopback else mock_transport(target.bench)
    with (
        httpx.Client(transport=transport) as client,
        Portal(target.provider(), http_client=client) as portal,
    ):
        request = target.portal_request

        def hooked() -> object:
            return portal.create_link(request())

        def bare() -> object:
            setattr(_portal, "telemetry", _STAND_IN)  # noqa: B010 -- a private module's name
            try:
                return portal.create_link(request())
            finally:
                setattr(_portal, "telemetry", shipped)  # noqa: B010

        return interleave(hooked, bare, calls=calls, rounds=rounds, warmup=warmup)


def _configure() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)


def main(
    calls: int, rounds: int, warmup: int, loopback_calls: int, loopback_rounds: int
) -> dict[str, dict[str, list[list[float]]]]:
    out: dict[str, dict[str, list[list[float]]]] = {}
    for mode in ("absent", "unconfigured", "traced"):
        if mode == "absent":
            assert "opentelemetry" not in sys.modules
        elif mode == "unconfigured":
            import opentelemetry.metrics
            import opentelemetry.trace  # noqa: F401
        else:
            _configure()
        out[mode] = {}
        for vendor in registered():
            c = _compare(vendor, calls, rounds, warmup)
            out[mode][vendor] = [list(c.a), list(c.b)]
    out["traced-loopback"] = {}
    with serve("minimal") as server:
        for vendor, target in server.targets.items():
            c = _compare(vendor, loopback_calls, loopback_rounds, warmup, target)
            out["traced-loopback"][vendor] = [list(c.a), list(c.b)]
    return out


if __name__ == "__main__":
    numbers = [int(arg) for arg in sys.argv[1:6]]
    print(json.dumps(main(*numbers)))
