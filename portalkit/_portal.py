"""Portal and AsyncPortal: send what an adapter builds, retry, and hand the answer back.

Everything a create_link call decides -- feature policy, idempotency key, the HTTP request
of each step of the exchange, per-attempt timeouts, reading the body within a size limit,
turning the answers into a link or an error -- lives in ``_call.Call``, shared by both. The
sync and async classes differ only in the few lines that actually wait on the network.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypedDict, Unpack, cast

from . import _telemetry as telemetry
from ._call import Call, EndSessionCall, acollect_body, collect_body, make_settings
from ._deadline import deadline_at, transport_for
from ._http import httpx
from ._models import PortalLink, PortalRequest
from ._preview import RequestPreview, preview
from ._protocol import PortalProvider
from ._registry import provider_from_env
from ._retry import RetryPolicy, is_retryable
from ._router import Dispatch, MigrationRouter, RequestRouter
from ._stacks import AsyncClient, SyncClient, stack_of
from .errors import (
    ConfigurationError,
    CustomerNotFound,
    InvalidRequest,
    PortalClosed,
    PortalError,
    ProviderUnavailable,
    UnsupportedFeature,
)

if TYPE_CHECKING:
    import asyncio

    import anyio
    import tenacity

#: A portal-session answer is a few KiB; anything far larger is refused unread.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(5.0, connect=3.0)
MAX_CONNECTIONS = 100
DEFAULT_LIMITS = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=20)
#: How many requests one AsyncPortal hands to its httpx client at once; the others wait in
#: portalkit, within their deadline. httpx's pool does work proportional to its queue length
#: each time a request enters or leaves it, so 1,000 creates queued there at once keep the
#: event loop busy until connects and pool waits time out; waiting here costs nothing.
MAX_IN_FLIGHT = MAX_CONNECTIONS


class _PortalOptions(TypedDict, total=False):
    retry: RetryPolicy | None
    strict: bool
    allowed_return_hosts: Iterable[str] | str | None
    max_response_bytes: int
    custom_portal_hosts: Iterable[str] | str | None


class PortalOptions(_PortalOptions, total=False):
    """Portal's keyword arguments, for ``Portal.from_env(**options)``."""

    http_client: SyncClient | None


class AsyncPortalOptions(_PortalOptions, total=False):
    """AsyncPortal's keyword arguments, for ``AsyncPortal.from_env(**options)``."""

    http_client: AsyncClient | None


# Named like the tenacity classes they stand in for.
def Retrying(**options: Any) -> tenacity.Retrying:
    """``tenacity.Retrying``, imported on the first retry rather than with portalkit: most
    calls never retry, and tenacity adds milliseconds to every cold start. Tests replace
    this name (and ``AsyncRetrying``) to record the sleeps."""
    from tenacity import Retrying as retrying

    return retrying(**options)


def AsyncRetrying(**options: Any) -> tenacity.AsyncRetrying:
    """``tenacity.AsyncRetrying``, imported on the first retry (see ``Retrying``)."""
    from tenacity import AsyncRetrying as retrying

    return retrying(**options)


def deadline_transport(**options: Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` (same keyword arguments) on which a portalkit call's
    deadline holds for the whole exchange: every connect, read and write is capped by the
    time left (see ``portalkit._deadline``). ``Portal``'s own client runs on one; build your
    own ``httpx.Client(transport=deadline_transport(...))`` to keep that guarantee."""
    transport: httpx.HTTPTransport = transport_for(httpx, **options)
    return transport


def _check_provider(
    provider: PortalProvider | RequestRouter, portal: str
) -> PortalProvider | RequestRouter:
    """Refuse, where the Portal is built, what would fail only on the first click."""
    if isinstance(provider, str):
        raise TypeError(
            f"{portal} needs a provider instance, not the string {provider!r}: build one "
            f"(e.g. Paddle(api_key=...)) or use {portal}.from_env() to pick it by name"
        )
    if isinstance(provider, type):
        raise TypeError(
            f"{portal} needs a provider instance, not the class {provider.__name__}: "
            f"call it with its settings, e.g. {portal}({provider.__name__}(api_key=...))"
        )
    if not isinstance(provider, (PortalProvider, RequestRouter)):
        raise TypeError(
            f"{portal} needs a PortalProvider or a MigrationRouter, not {type(provider).__name__}"
        )
    return provider


def _provider_names(provider: PortalProvider | RequestRouter) -> list[str]:
    """The names a request's provider_options may use for this Portal besides the
    installed providers: a router's providers."""
    providers = getattr(provider, "providers", None)
    if isinstance(providers, Mapping):
        return [*providers, *(getattr(p, "name", "") for p in providers.values())]
    return []


def _dispatcher(provider: PortalProvider | RequestRouter) -> Callable[[PortalRequest], Dispatch]:
    """Where each request goes: one step to ``provider``, or the router's steps."""
    if isinstance(provider, RequestRouter):
        return provider.dispatch
    return functools.partial(Dispatch, provider)


def _async_dispatcher(
    provider: PortalProvider | RequestRouter,
) -> Callable[[PortalRequest], Awaitable[Dispatch]]:
    if isinstance(provider, RequestRouter):
        return provider.adispatch

    async def direct(request: PortalRequest) -> Dispatch:
        return Dispatch(provider, request)

    return direct


def _refuse_if_closed(kind: str, closed: bool, client: object, call: Call) -> None:
    """``PortalClosed`` for an attempt on a closed portal, or through a closed client,
    before anything is sent: httpx would raise a bare ``RuntimeError``, which an app that
    catches ``PortalError`` does not expect."""
    provider = call.provider.name
    if closed:
        closer = "aclose" if kind.startswith("Async") else "close"
        raise PortalClosed(
            f"this {kind} was closed ({closer}() was called): make a new {kind} to mint links"
            " or end sessions",
            provider=provider,
        )
    if getattr(client, "is_closed", False):
        raise PortalClosed(
            f"the http_client this {kind} was given is closed: keep it open while the"
            f" {kind} is in use",
            provider=provider,
        )


def _provider_for_link(
    provider: PortalProvider | RequestRouter, link: PortalLink
) -> PortalProvider:
    """The provider that ends ``link``'s session: this portal's own, or the router's
    provider of the name on the link."""
    if not isinstance(link, PortalLink):
        raise InvalidRequest.local("link", f"must be a PortalLink, not {type(link).__name__}")
    if isinstance(provider, MigrationRouter):
        return provider.provider_for(link)
    if isinstance(provider, RequestRouter):
        raise UnsupportedFeature(
            f"end_session: a {type(provider).__name__} cannot say which provider minted a"
            " link; call end_session on a Portal of that provider",
            feature="end_session",
            field="link",
            rule="needs a provider or a MigrationRouter",
            provider=link.provider,
        )
    return provider


class Portal:
    """Mints customer-portal links through one provider, synchronously.

    ``provider`` is an adapter, or a ``MigrationRouter`` that picks the adapter (and the
    customer's id there) for each request. ``Portal.from_env()`` builds the adapter from
    environment variables (``PORTALKIT_PROVIDER`` and that provider's own).

    Safe to share across threads: it holds no per-call state, and ``httpx.Client`` is
    thread-safe. Pass ``http_client`` to reuse your own pool, proxies or TLS settings (you
    close it): an ``httpx2.Client``, or an ``httpx.Client`` of an app still on httpx 0.28
    (portalkit converts each request and response between the two stacks). Without one,
    Portal makes a client of its own stack and closes it in ``close()``.

    The other options (``PortalOptions``; ``AsyncPortal`` takes the same):

    ``retry``
        A ``RetryPolicy``: which failures are retried, how often, and the deadline for the
        whole call (default ``RetryPolicy()``: 4 attempts within 8 seconds).
    ``strict``
        A request field the vendor cannot honour is refused before sending, with
        ``UnsupportedFeature``, even a cosmetic hint (a locale, a return URL, deep links)
        that by default is dropped and listed in ``PortalLink.ignored_fields``. Features
        that change what the customer can do are refused either way.
    ``allowed_return_hosts``
        The hosts a ``return_url`` may point at (case and a trailing dot ignored); a request
        with any other host is refused with ``InvalidRequest`` before sending, so a return
        URL built from user input cannot send a customer to someone else's site. Default
        ``None``: any host.
    ``max_response_bytes``
        The largest vendor response body read (default 1 MiB, at least 1024): a larger one,
        declared or streamed (after decompression), is refused with ``InvalidResponse``
        without reading the rest.

    Portal's own client holds the retry deadline for the whole exchange (it runs on
    ``deadline_transport()``); build yours on ``deadline_transport()`` for the same.

    Every link is checked before it is returned: its URLs must be https on the adapter's
    ``portal_hosts`` (plus ``custom_portal_hosts``, for a portal on your own domain), and
    the session must be the requested customer's; ``allowed_return_hosts`` limits where
    ``return_url`` may point. Either takes a list of hosts, or one host as a string.
    """

    def __init__(
        self,
        provider: PortalProvider | RequestRouter,
        *,
        http_client: SyncClient | None = None,
        retry: RetryPolicy | None = None,
        strict: bool = False,
        allowed_return_hosts: Iterable[str] | str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        custom_portal_hosts: Iterable[str] | str | None = None,
    ) -> None:
        self.provider = _check_provider(provider, type(self).__name__)
        self._settings = make_settings(
            retry,
            strict,
            allowed_return_hosts,
            max_response_bytes,
            custom_portal_hosts,
            _provider_names(provider),
        )
        self._dispatch = _dispatcher(provider)
        self._owns_client = http_client is None
        self._closed = False  # set by close(): every later call is refused (PortalClosed)
        # A client of either stack; typed as portalkit's, whose API the other shares, and
        # converted to and from by ``self._stack`` (see _stacks). Portal's own client runs on
        # deadline_transport: the deadline then holds for the whole exchange, even against a
        # server trickling its status line and headers.
        self._client = cast("httpx.Client", http_client) or httpx.Client(
            timeout=DEFAULT_TIMEOUT,
            limits=DEFAULT_LIMITS,
            transport=deadline_transport(limits=DEFAULT_LIMITS),
        )
        self._stack = stack_of(self._client)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Unpack[PortalOptions]
    ) -> Self:
        """A Portal for the provider named by ``PORTALKIT_PROVIDER``, configured from its
        variables in ``environ`` (default ``os.environ``); see ``provider_from_env``."""
        return cls(provider_from_env(environ), **options)

    def create_link(self, request: PortalRequest) -> PortalLink:
        """Mint one portal link. Raises a ``portalkit.errors.PortalError`` on any failure."""
        with telemetry.mint(self.provider):
            return self._run(self._dispatch(request))

    def preview(self, request: PortalRequest) -> RequestPreview:
        """What ``create_link(request)`` would do, without sending anything: each feature the
        request asks for, honoured, dropped or refused and why; the ``UnsupportedFeature``
        it would raise before sending (``refusal``, or None); the ``ignored_fields`` its link
        would carry. Ask it before showing a button: ``portal.preview(PortalRequest(customer,
        flow=Flow(Action.CANCEL_SUBSCRIPTION, sub))).honours(Feature.FLOW)``.

        It runs what ``create_link`` runs before sending (this Portal's ``strict`` and
        ``allowed_return_hosts``, the feature policy, the adapter's checks as it builds its
        request), so bad input raises the ``InvalidRequest`` ``create_link`` would raise.
        With a ``MigrationRouter``, the route function is called as ``create_link`` calls it
        and the answer is the routed provider's (``fallback``: the route's fallback's). Needs
        no open client: it works after ``close()`` too."""
        return preview(self.provider, self._settings, request)

    def end_session(self, link: PortalLink) -> None:
        """End ``link``'s portal session now, from the server: the customer is signed out and
        the link stops working. Sent with the retries, deadline and body limit of a create;
        ending an ended session is harmless. Raises ``UnsupportedFeature`` before anything is
        sent when the provider cannot end sessions (see ``Feature.END_SESSION``) or did not
        mint ``link``; with a ``MigrationRouter``, the provider named on the link ends it."""
        self._create(EndSessionCall(_provider_for_link(self.provider, link), self._settings, link))

    def _run(self, step: Dispatch) -> PortalLink:
        try:
            return self._create(Call(step.provider, self._settings, step.request))
        except CustomerNotFound as error:
            fallback = step.fall_back(error)
            if fallback is None:
                raise
            # Inside the handler, so a failing fallback's error keeps this one as context.
            return self._run(fallback)

    def _create(self, call: Call) -> PortalLink:
        # One step of the exchange after another (most adapters take one); see _call.
        while True:
            try:
                link = self._step(call)
            except PortalError as error:
                link = call.fail(error)
            if link is not None:
                return link

    def _step(self, call: Call) -> PortalLink | None:
        # The first attempt runs outside tenacity: most calls succeed at once, and setting up
        # tenacity's loop costs more than the rest of portalkit's own work on a call. A
        # retryable failure hands over to tenacity, which takes it as attempt 1's outcome.
        try:
            return self._attempt(call)
        except PortalError as error:
            if not is_retryable(error):
                raise
            first_failure: PortalError | None = error
        for attempt in Retrying(**call.control.tenacity_kwargs()):
            with attempt:
                if first_failure is not None:
                    failure, first_failure = first_failure, None
                    raise failure
                return self._attempt(call)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    def _attempt(self, call: Call) -> PortalLink | None:
        _refuse_if_closed("Portal", self._closed, self._client, call)
        with telemetry.attempt(call):
            try:
                # The deadline for every connect, read and write of this exchange, as the
                # client's deadline_transport reads it (see _deadline).
                with deadline_at(call.control.ends_at):
                    return self._exchange(call)
            except PortalError:
                raise
            except self._stack.errors as exc:
                raise call.transport_error(exc) from exc

    def _exchange(self, call: Call) -> PortalLink | None:
        stack = self._stack
        try:
            request = stack.outgoing(call.attempt_request(self._client))
            response = self._client.send(request, stream=True)
            try:
                stack.guard_sync(response, call)
                read_whole = call.check_declared_length(response)
                if read_whole:
                    body = call.check_read_length(response, response.read())
                else:
                    body = collect_body(response, call)
            finally:
                response.close()
        except PortalError:
            raise
        except stack.errors as exc:
            raise call.transport_error(exc) from exc
        response = stack.incoming(response, body, call.http_request)
        return call.finish(response, body, read_whole=read_whole)

    def close(self) -> None:
        """Close the client Portal made (a client passed in stays the caller's to close).
        From then on every call raises ``PortalClosed``; closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Portal({self.provider!r})"


class AsyncPortal:
    """Mints customer-portal links through one provider, with ``httpx.AsyncClient``.

    The same adapters, policy and errors as ``Portal``; pass ``http_client`` to reuse your
    own ``httpx2.AsyncClient`` (or httpx 0.28's ``httpx.AsyncClient``).
    """

    def __init__(
        self,
        provider: PortalProvider | RequestRouter,
        *,
        http_client: AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        strict: bool = False,
        allowed_return_hosts: Iterable[str] | str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        custom_portal_hosts: Iterable[str] | str | None = None,
    ) -> None:
        self.provider = _check_provider(provider, type(self).__name__)
        self._settings = make_settings(
            retry,
            strict,
            allowed_return_hosts,
            max_response_bytes,
            custom_portal_hosts,
            _provider_names(provider),
        )
        self._dispatch = _async_dispatcher(provider)
        self._owns_client = http_client is None
        self._closed = False  # set by aclose(): every later call is refused (PortalClosed)
        self._client = cast("httpx.AsyncClient", http_client) or httpx.AsyncClient(
            timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS
        )
        self._stack = stack_of(self._client)  # as in Portal
        self._in_flight: anyio.Semaphore | None = None  # made on first use, in the event loop
        #: The asyncio loop the client's pooled connections belong to (None before first use).
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Unpack[AsyncPortalOptions]
    ) -> Self:
        """An AsyncPortal for the provider named by ``PORTALKIT_PROVIDER``, configured from
        its variables in ``environ`` (default ``os.environ``); see ``provider_from_env``."""
        return cls(provider_from_env(environ), **options)

    async def create_link(self, request: PortalRequest) -> PortalLink:
        """Mint one portal link. Raises a ``portalkit.errors.PortalError`` on any failure."""
        with telemetry.mint(self.provider):
            return await self._run(await self._dispatch(request))

    def preview(self, request: PortalRequest) -> RequestPreview:
        """What ``create_link(request)`` would do, without sending anything; see
        ``Portal.preview``. Not a coroutine: nothing is awaited. A ``MigrationRouter`` whose
        route function is async cannot be previewed (``ConfigurationError``)."""
        return preview(self.provider, self._settings, request)

    async def end_session(self, link: PortalLink) -> None:
        """End ``link``'s portal session now, from the server; see ``Portal.end_session``."""
        provider = _provider_for_link(self.provider, link)
        await self._create(EndSessionCall(provider, self._settings, link))

    async def _run(self, step: Dispatch) -> PortalLink:
        try:
            return await self._create(Call(step.provider, self._settings, step.request))
        except CustomerNotFound as error:
            fallback = step.fall_back(error)
            if fallback is None:
                raise
            return await self._run(fallback)

    async def _create(self, call: Call) -> PortalLink:
        # As Portal._create: one step after another.
        while True:
            try:
                link = await self._step(call)
            except PortalError as error:
                link = call.fail(error)
            if link is not None:
                return link

    async def _step(self, call: Call) -> PortalLink | None:
        # As Portal._step: the first attempt outside tenacity.
        try:
            return await self._attempt(call)
        except PortalError as error:
            if not is_retryable(error):
                raise
            first_failure: PortalError | None = error
        async for attempt in AsyncRetrying(**call.control.tenacity_kwargs()):
            with attempt:
                if first_failure is not None:
                    failure, first_failure = first_failure, None
                    raise failure
                return await self._attempt(call)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _attempt(self, call: Call) -> PortalLink | None:
        _refuse_if_closed("AsyncPortal", self._closed, self._client, call)
        with telemetry.attempt(call):
            return await self._exchange(call)

    async def _exchange(self, call: Call) -> PortalLink | None:
        import anyio  # with the event loop running: anyio works under asyncio and trio

        self._bind_loop(call.provider.name)
        slots = await self._take_slot(call)
        stack = self._stack
        try:
            # Per-read timeouts cannot stop a server that sends its status line and headers a
            # byte at a time; in async code a cancel scope holds the whole exchange to the
            # deadline (sync httpx offers no such hook: there the deadline is checked between
            # body chunks only).
            with anyio.move_on_after(max(call.control.remaining(), 0.0)) as deadline:
                request = stack.outgoing(call.attempt_request(self._client))
                response = await self._client.send(request, stream=True)
                try:
                    stack.guard_async(response, call)
                    read_whole = call.check_declared_length(response)
                    if read_whole:
                        body = call.check_read_length(response, await response.aread())
                    else:
                        body = await acollect_body(response, call)
                finally:
                    await response.aclose()
            if deadline.cancelled_caught:
                raise call.deadline_error("the exchange was still under way at the deadline")
        except PortalError:
            raise
        except stack.errors as exc:
            raise call.transport_error(exc) from exc
        finally:
            slots.release()
        response = stack.incoming(response, body, call.http_request)
        return call.finish(response, body, read_whole=read_whole)

    def _bind_loop(self, provider: str | None = None) -> None:
        """Follow the event loop this AsyncPortal is used from.

        An httpx client's pooled connections belong to the loop that opened them: a
        module-level AsyncPortal used by two ``asyncio.run`` calls (or a test client used
        without ``async with``) would reuse a connection of a closed loop and fail with
        ``RuntimeError: Event loop is closed``. A client this AsyncPortal made is replaced
        by a fresh one for the new loop (the old one is dropped: closing it needs its own,
        closed, loop). A client the caller passed is theirs to manage: its use from a
        second loop is refused with a ConfigurationError saying what to do."""
        # Imported here, not with the module: a sync app never needs asyncio (about 10 ms of
        # import), and in an async one it is already loaded, so this is a dict look-up.
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not asyncio (trio): anyio's own rules apply
            return
        if loop is self._loop:
            return
        previous, self._loop = self._loop, loop
        if previous is None:
            return
        self._in_flight = None  # its waiters belong to the old loop too
        if self._owns_client:
            self._client = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS)
            return
        self._loop = previous  # still bound to the old loop: refuse every use from here
        raise ConfigurationError(
            "this AsyncPortal's http_client was first used in another event loop; an httpx "
            "client cannot move between loops. Make the client and the AsyncPortal inside "
            "the loop that uses them (async with), or let AsyncPortal make its own client",
            provider=provider,
        )

    async def _take_slot(self, call: Call) -> anyio.Semaphore:
        """Wait, at most until the deadline, for one of the MAX_IN_FLIGHT request slots."""
        import anyio

        if self._in_flight is None:
            self._in_flight = anyio.Semaphore(MAX_IN_FLIGHT)
        slots = self._in_flight
        try:
            slots.acquire_nowait()
            return slots
        except anyio.WouldBlock:
            pass
        with anyio.move_on_after(max(call.control.remaining(), 0.0)) as waiting:
            await slots.acquire()
        if waiting.cancelled_caught:
            raise ProviderUnavailable(
                f"{call.provider.name}: timed out waiting for a connection "
                f"({MAX_IN_FLIGHT} requests of this AsyncPortal already in flight)",
                provider=call.provider.name,
            )
        return slots

    async def aclose(self) -> None:
        """As ``Portal.close``: from then on every call raises ``PortalClosed``."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._bind_loop()
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncPortal({self.provider!r})"
