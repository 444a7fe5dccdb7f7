"""One sync create at a time, per vendor.

- ``portal_vs_raw``: ``Portal.create_link`` against the vendor's raw recipe
  (``bench._vendor.RawRecipe``) through a plain ``httpx.Client``: the same request, encoded,
  keyed and signed afresh, the answer checked, decoded and its URL read. The portalkit side
  builds a ``PortalRequest`` per call, as an app does.
- ``portal_vs_sdk``: ``Portal.create_link`` against the vendor's official SDK creating the
  same session on the same server.
"""

from __future__ import annotations

from portalkit import Portal
from portalkit._http import httpx

from ._stats import Comparison, interleave
from ._vendor import Target, mock_transport, recipe


def portal_vs_raw(
    target: Target, *, calls: int, rounds: int, warmup: int = 1, in_process: bool = False
) -> Comparison:
    """Against ``target`` over TCP, or through the vendor's in-process transport."""
    raw = recipe(target)

    def transport() -> httpx.BaseTransport | None:
        return mock_transport(target.bench) if in_process else None

    with (
        httpx.Client(transport=transport()) as portal_client,
        httpx.Client(transport=transport()) as raw_client,
        Portal(target.provider(), http_client=portal_client) as portal,
    ):
        request = target.portal_request

        def through_portal() -> object:
            return portal.create_link(request())

        return interleave(
            through_portal, raw.sync(raw_client), calls=calls, rounds=rounds, warmup=warmup
        )


def portal_vs_sdk(target: Target, *, calls: int, rounds: int, warmup: int = 1) -> Comparison:
    """The same session minted by portalkit and by the vendor's official SDK."""
    assert target.bench.sdk is not None
    sdk, close_sdk = target.bench.sdk(target.sdk_target())
    try:
        with httpx.Client() as client, Portal(target.provider(), http_client=client) as portal:
            request = target.portal_request

            def through_portal() -> object:
                return portal.create_link(request())

            return interleave(through_portal, sdk, calls=calls, rounds=rounds, warmup=warmup)
    finally:
        close_sdk()
