"""PortalProvider: what an adapter for one billing vendor implements.

An adapter is pure (sans-I/O): it builds an ``httpx.Request`` and reads an ``httpx.Response``
but never sends anything. ``Portal`` and ``AsyncPortal`` do the sending, the retries and the
deadline, so sync and async share every line of vendor logic.

Most vendors mint a link with one request. A vendor whose link takes several (read a
customer, then its subscriptions) also implements ``exchange``, a generator in the style of
h11: it yields each request to send and is sent each answer, and returns the link. It stays
sans-I/O -- the shells still only send, wait and read -- and one retry policy, one deadline
and one body limit hold for the whole exchange. A provider without ``exchange`` is driven as
the one-step exchange ``one_step`` spells out.

Which ``httpx``: the request and response types are those of portalkit's HTTP stack,
``from portalkit._http import httpx`` -- httpx2's, or httpx 0.28's where only httpx is
installed. An adapter imports them from there and never meets the other stack: when an app
passes a client of the other stack, the shells copy the request into that stack and the
response (its body already read and decoded) back before ``parse_response`` or
``parse_error`` sees it (``portalkit._stacks``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Protocol, TypeAlias, runtime_checkable

from ._http import httpx
from ._models import Feature, PortalLink, PortalRequest
from .errors import PortalError

#: What ``MultiStepProvider.exchange`` returns: yields requests, is sent their responses,
#: returns the link.
Exchange: TypeAlias = Generator[httpx.Request, httpx.Response, PortalLink]


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
class MultiStepProvider(PortalProvider, Protocol):
    def exchange(self, request: PortalRequest) -> Exchange:
        """Yield each HTTP request to send; receive its 2xx response (body read, within the
        body limit); return the PortalLink.

        Validate before the first ``yield``: nothing is sent until it is reached. A non-2xx
        answer (after the retries the policy allows) is turned into a PortalError by
        ``parse_error`` and thrown into the generator, so the adapter may translate it (a
        404 on a subscription is not ``CustomerNotFound``) or let it propagate. The
        generator must be a pure function of the request and the answers it is sent: to
        retry a step whose answer it could not read, the shell replays the earlier answers
        into a fresh generator."""
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


def one_step(provider: PortalProvider, request: PortalRequest) -> Exchange:
    """How a provider without ``exchange`` is driven: one request, one answer."""
    response = yield provider.build_request(request)
    return provider.parse_response(response, request)
