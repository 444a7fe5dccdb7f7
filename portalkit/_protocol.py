"""PortalProvider: what an adapter for one billing vendor implements.

An adapter is pure (sans-I/O): it builds an ``httpx.Request`` and reads an ``httpx.Response``
but never sends anything. ``Portal`` and ``AsyncPortal`` do the sending, the retries and the
deadline, so sync and async share every line of vendor logic.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import httpx

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


@runtime_checkable
class SessionEndingProvider(PortalProvider, Protocol):
    """A provider that declares ``Feature.END_SESSION``: it can end a minted session early,
    from the server (``Portal.end_session(link)``). Still sans-I/O: it builds the request and
    reads the answer; the shells send it with the same retries, deadline and body limit as a
    create, and a non-2xx answer goes through ``parse_error``."""

    def build_end_session(self, link: PortalLink) -> httpx.Request:
        """The HTTP request that ends ``link``'s session. Validates what goes on the wire
        (the session id in a path) and raises ``InvalidRequest`` before anything is sent."""
        ...

    def parse_end_session(self, response: httpx.Response, link: PortalLink) -> None:
        """Accept a 2xx answer to ``build_end_session``, or raise ``InvalidResponse`` when
        it does not show the session ended."""
        ...
