"""``python -m bench --profile``: where the time of an in-process create goes, both sides.

pyinstrument (the ``bench`` extra) samples 20,000 creates through ``Portal`` and 20,000 raw
``httpx.Client.post`` calls of the identical request, both against ``MockTransport``.
"""

from __future__ import annotations

from collections.abc import Callable

from portalkit import Portal, PortalRequest
from portalkit._http import httpx

from ._fixtures import IN_PROCESS, mock_transport, raw_request

CALLS = 20_000


def profile_in_process(calls: int = CALLS) -> str:
    from pyinstrument import Profiler

    raw = raw_request(IN_PROCESS)
    customer_id = IN_PROCESS.customer_id
    outputs = []
    with (
        httpx.Client(transport=mock_transport()) as client,
        Portal(IN_PROCESS.provider(), http_client=client) as portal,
    ):
        sides: dict[str, Callable[[], object]] = {
            "Portal.create_link(PortalRequest(...))": lambda: portal.create_link(
                PortalRequest(customer_id=customer_id)
            ),
            "httpx.Client.post(url, headers=..., content=...)": lambda: client.post(
                raw.url, headers=raw.headers, content=raw.content
            ),
        }
        for title, call in sides.items():
            for _ in range(calls // 10):
                call()  # warm up
            profiler = Profiler(interval=0.0001)
            profiler.start()
            for _ in range(calls):
                call()
            profiler.stop()
            outputs.append(f"== {title}, {calls:,} calls\n" + profiler.output_text(unicode=True))
    return "\n".join(outputs)
