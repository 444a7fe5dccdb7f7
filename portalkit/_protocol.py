"""PortalProvider: what an adapter for one billing vendor implements.

An adapter is pure (sans-I/O): it builds an ``httpx.Request`` and reads an ``httpx.Response``
but never sends anything. ``Portal`` and ``AsyncPortal`` do the sending, the retries and the
deadline, so sync and async share every line of vendor logic.

Which ``httpx``: the request and response types are those of portalkit's HTTP stack,
``from portalkit._http import httpx`` -- httpx2's, or httpx 0.28's where only httpx is
installed. An adapter imports them from there and never meets the other stack: when an app
passes a client of the other stack, the shells copy the request into that stack and the
response (its body already read and decoded) back before ``parse_response`` or
``parse_error`` sees it (``portalkit._stacks``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._http import httpx
from ._models import Feature, PortalLink, PortalRequest
from .errors import PortalError


@runtime_checkable
class PortalProvider(Protocol):
    @property
    def name(self) -> str:
        """Short lowercase vendor name, e.g. "paddle"; shown on links and errors."""
        ...

    @property
    def features(self) -> frozenset[Feature]:
        """The request features this vendor can honour (see Feature)."""
        ...

    def build_request(self, request: PortalRequest) -> httpx.Request:
        """The HTTP request that mints a session. Validates the vendor's own rules and raises
        ``InvalidRequest`` before anything is sent. Only sees features it declared."""
        ...

    def parse_response(self, response: httpx.Response, request: PortalRequest) -> PortalLink:
        """The link from a 2xx response whose body has been read. Raises ``InvalidResponse``
        when the body is not what the vendor documents."""
        ...

    def parse_error(self, response: httpx.Response) -> PortalError:
        """The portalkit error for a non-2xx response, keeping the vendor's code, message
        and request id."""
        ...
