"""``python -m bench --profile [VENDOR]``: where the time of an in-process create goes, both
sides, for one vendor (default: every registered vendor in turn).

pyinstrument (the ``bench`` extra) samples creates through ``Portal`` and the same number of
raw creates (the vendor's raw recipe), both against the vendor's in-process transport.
"""

from __future__ import annotations

from collections.abc import Callable

from portalkit import Portal
from portalkit._http import httpx

from ._vendor import Target, in_process, mock_transport, recipe, registered

CALLS = 20_000


def profile_in_process(vendor: str | None = None, calls: int = CALLS) -> str:
    from pyinstrument import Profiler

    outputs = []
    for name in [vendor] if vendor else registered():
        target = in_process(name)
        raw = recipe(target)
        with (
            httpx.Client(transport=mock_transport(target.bench)) as client,
            Portal(target.provider(), http_client=client) as portal,
        ):

            def through_portal(portal: Portal = portal, target: Target = target) -> object:
                return portal.create_link(target.portal_request())

            sides: dict[str, Callable[[], object]] = {
                f"{name}: Portal.create_link(...)": through_portal,
                f"{name}: raw recipe (httpx.Client.request + json.loads)": raw.sync(client),
            }
            for title, call in sides.items():
                for _ in range(calls // 10):
                    call()  # warm up
                profiler = Profiler(interval=0.0001)
                profiler.start()
                for _ in range(calls):
                    call()
                profiler.stop()
                text = profiler.output_text(unicode=True)
                outputs.append(f"== {title}, {calls:,} calls\n" + text)
    return "\n".join(outputs)
