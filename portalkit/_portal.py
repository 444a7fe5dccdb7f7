"""Portal and AsyncPortal: send what an adapter builds, retry, and hand the answer back.

Everything a create_link call decides -- feature policy, idempotency key, the HTTP request,
per-attempt timeouts, reading the body within a size limit, turning the answer into a link
or an error -- lives in ``_Call``, shared by both. The sync and async classes differ only in
the few lines that actually wait on the network.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypedDict, Unpack

import attrs
import httpx

from . import _validation as check
from ._capabilities import apply_feature_policy
from ._models import Feature, PortalLink, PortalRequest
from ._protocol import PortalProvider
from ._redact import scrub_error, session_label
from ._registry import provider_from_env
from ._retry import RetryControl, RetryPolicy, is_retryable
from ._router import Dispatch, RequestRouter
from .errors import (
    CustomerNotFound,
    InvalidRequest,
    InvalidResponse,
    PortalError,
    ProviderUnavailable,
)

if TYPE_CHECKING:
    import anyio
    import tenacity

logger = logging.getLogger("portalkit")

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
    allowed_return_hosts: Iterable[str] | None
    max_response_bytes: int


class PortalOptions(_PortalOptions, total=False):
    """Portal's keyword arguments, for ``Portal.from_env(**options)``."""

    http_client: httpx.Client | None


class AsyncPortalOptions(_PortalOptions, total=False):
    """AsyncPortal's keyword arguments, for ``AsyncPortal.from_env(**options)``."""

    http_client: httpx.AsyncClient | None


@attrs.frozen
class _Settings:
    retry: RetryPolicy
    strict: bool
    allowed_return_hosts: frozenset[str] | None
    max_response_bytes: int


def _settings(
    retry: RetryPolicy | None,
    strict: bool,
    allowed_return_hosts: Iterable[str] | None,
    max_response_bytes: int,
) -> _Settings:
    if max_response_bytes < 1024:
        raise ValueError("max_response_bytes must be at least 1024")
    hosts = None
    if allowed_return_hosts is not None:
        hosts = frozenset(host.lower().rstrip(".") for host in allowed_return_hosts)
    return _Settings(retry or RetryPolicy(), strict, hosts, max_response_bytes)


class _Call:
    """One create_link call, from request to link, minus the waiting."""

    def __init__(
        self, provider: PortalProvider, settings: _Settings, request: PortalRequest
    ) -> None:
        if not isinstance(request, PortalRequest):
            raise InvalidRequest.local(
                "request", f"must be a PortalRequest, not {type(request).__name__}"
            )
        self.provider = provider
        self.settings = settings
        _check_return_host(request, settings.allowed_return_hosts)
        request, self.ignored = apply_feature_policy(provider, request, strict=settings.strict)
        if Feature.IDEMPOTENCY_KEY in provider.features and request.idempotency_key is None:
            # Made once, before the first attempt, so every retry carries the same key and
            # the vendor answers a retried create with the session it already minted.
            request = attrs.evolve(request, idempotency_key=str(uuid.uuid4()))
        self.request = request
        self.http_request = provider.build_request(request)
        self.control = RetryControl(settings.retry, provider.name)
        self.attempts = 0

    def attempt_request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request for the next attempt: the client's default headers under the
        adapter's, and timeouts no longer than what is left of the deadline."""
        self.attempts += 1
        http_request = self.http_request
        if self.attempts == 1:
            # What headers.setdefault() does per name, with one look-up of the names present:
            # httpx's Headers scans every header on each membership test.
            present = set(http_request.headers.keys())  # lower-cased, as items() gives them
            for name, value in client.headers.items():
                if name not in present:
                    http_request.headers[name] = value
        left = max(self.control.remaining(), 0.001)
        default = client.timeout
        timeout = {  # httpx.Timeout(...).as_dict(), without building the Timeout
            "connect": _shorter(default.connect, left),
            "read": _shorter(default.read, left),
            "write": _shorter(default.write, left),
            "pool": _shorter(default.pool, left),
        }
        http_request.extensions = {**http_request.extensions, "timeout": timeout}
        if logger.isEnabledFor(logging.DEBUG):  # url.path is worked out on each access
            logger.debug(
                "portalkit: %s attempt %d: %s %s",
                self.provider.name,
                self.attempts,
                http_request.method,
                http_request.url.path,
            )
        return http_request

    def body_limit_error(self, response: httpx.Response) -> InvalidResponse:
        return InvalidResponse(
            f"{self.provider.name} sent a response body over the "
            f"{self.settings.max_response_bytes}-byte limit; refused without reading it",
            provider=self.provider.name,
            status=response.status_code,
        )

    def check_declared_length(self, response: httpx.Response) -> bool:
        """Refuse a declared length over the limit. True when the body can be read whole:
        its declared length is within the limit (the transport reads no further) and it is
        not compressed (decoding could make it larger)."""
        declared = response.headers.get("content-length")
        if not (declared and declared.isdigit()):
            return False
        if int(declared) > self.settings.max_response_bytes:
            raise self.body_limit_error(response)
        return "content-encoding" not in response.headers

    def check_read_length(self, response: httpx.Response, body: bytes) -> bytes:
        """A body read whole is still held to the limit, whatever its header said."""
        if len(body) > self.settings.max_response_bytes:
            raise self.body_limit_error(response)
        return body

    def check_deadline(self) -> None:
        """Per-read timeouts stop a silent server, not one that sends a byte now and then:
        between the chunks of a body, the call's deadline is checked too."""
        if self.control.remaining() <= 0:
            raise ProviderUnavailable(
                f"{self.provider.name}: the HTTP response timed out "
                "(its body was still arriving at the deadline)",
                provider=self.provider.name,
            )

    def transport_error(self, exc: Exception) -> ProviderUnavailable:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        return ProviderUnavailable(
            f"{self.provider.name}: the HTTP request {kind} ({type(exc).__name__})",
            provider=self.provider.name,
        )

    def finish(self, response: httpx.Response, body: bytes, *, read_whole: bool) -> PortalLink:
        """The link for a 2xx answer, or raise the adapter's error for anything else.

        ``read_whole``: ``response`` itself holds ``body`` (``response.read()``); otherwise the
        body was streamed and decoded in chunks, and the adapter gets a response rebuilt
        around it."""
        if read_whole:
            complete = response
        else:
            headers = response.headers
            if "content-encoding" in headers:  # ``body`` is already decoded
                headers = headers.copy()
                del headers["content-encoding"]
            complete = httpx.Response(
                response.status_code, headers=headers, content=body, request=self.http_request
            )
        logger.debug(
            "portalkit: %s answered HTTP %d (%d bytes)",
            self.provider.name,
            response.status_code,
            len(body),
        )
        if not complete.is_success:
            raise scrub_error(self.provider.parse_error(complete), self.http_request)
        link = self.provider.parse_response(complete, self.request)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "portalkit: %s minted portal session %s for customer %s",
                self.provider.name,
                session_label(link.session_id, link.url),
                link.customer_id,
            )
        ignored = tuple(dict.fromkeys((*self.ignored, *link.ignored_fields)))
        key = self.request.idempotency_key
        if ignored == link.ignored_fields and key == link.idempotency_key:
            return link  # what evolve() would return, but a copy
        return attrs.evolve(link, ignored_fields=ignored, idempotency_key=key)


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


def _shorter(configured: float | None, left: float) -> float:
    return left if configured is None else min(configured, left)


def _check_return_host(request: PortalRequest, allowed: frozenset[str] | None) -> None:
    if allowed is None or request.return_url is None:
        return
    host = (httpx.URL(request.return_url).host or "").lower().rstrip(".")
    if host not in allowed:
        check.fail("return_url", f"host {host!r} is not in this Portal's allowed_return_hosts")


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that checks the call's deadline as each chunk arrives."""

    def __init__(self, stream: httpx.SyncByteStream, call: _Call) -> None:
        self._stream = stream
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._call.check_deadline()
            yield chunk

    def close(self) -> None:
        self._stream.close()


class _AsyncDeadlineStream(httpx.AsyncByteStream):
    """``_DeadlineStream`` for ``httpx.AsyncClient``."""

    def __init__(self, stream: httpx.AsyncByteStream, call: _Call) -> None:
        self._stream = stream
        self._call = call

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._call.check_deadline()
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


def _collect(chunks: Iterator[bytes], call: _Call, response: httpx.Response) -> bytes:
    limit = call.settings.max_response_bytes
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise call.body_limit_error(response)
    return bytes(body)


async def _acollect(chunks: AsyncIterator[bytes], call: _Call, response: httpx.Response) -> bytes:
    limit = call.settings.max_response_bytes
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise call.body_limit_error(response)
    return bytes(body)


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


class Portal:
    """Mints customer-portal links through one provider, synchronously.

    ``provider`` is an adapter, or a ``MigrationRouter`` that picks the adapter (and the
    customer's id there) for each request. ``Portal.from_env()`` builds the adapter from
    environment variables (``PORTALKIT_PROVIDER`` and that provider's own).

    Safe to share across threads: it holds no per-call state, and ``httpx.Client`` is
    thread-safe. Pass ``http_client`` to reuse your own pool, proxies or TLS settings (you
    close it); without one, Portal makes a client and closes it in ``close()``.
    """

    def __init__(
        self,
        provider: PortalProvider | RequestRouter,
        *,
        http_client: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        strict: bool = False,
        allowed_return_hosts: Iterable[str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.provider = provider
        self._settings = _settings(retry, strict, allowed_return_hosts, max_response_bytes)
        self._dispatch = _dispatcher(provider)
        self._owns_client = http_client is None
        self._client = http_client or httpx.Client(timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Unpack[PortalOptions]
    ) -> Self:
        """A Portal for the provider named by ``PORTALKIT_PROVIDER``, configured from its
        variables in ``environ`` (default ``os.environ``); see ``provider_from_env``."""
        return cls(provider_from_env(environ), **options)

    def create_link(self, request: PortalRequest) -> PortalLink:
        """Mint one portal link. Raises a ``portalkit.errors.PortalError`` on any failure."""
        return self._run(self._dispatch(request))

    def _run(self, step: Dispatch) -> PortalLink:
        try:
            return self._create(_Call(step.provider, self._settings, step.request))
        except CustomerNotFound as error:
            fallback = step.fall_back(error)
            if fallback is None:
                raise
            # Inside the handler, so a failing fallback's error keeps this one as context.
            return self._run(fallback)

    def _create(self, call: _Call) -> PortalLink:
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

    def _attempt(self, call: _Call) -> PortalLink:
        try:
            response = self._client.send(call.attempt_request(self._client), stream=True)
            try:
                if isinstance(response.stream, httpx.SyncByteStream):
                    response.stream = _DeadlineStream(response.stream, call)
                read_whole = call.check_declared_length(response)
                if read_whole:
                    body = call.check_read_length(response, response.read())
                else:
                    body = _collect(response.iter_bytes(), call, response)
            finally:
                response.close()
        except PortalError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise call.transport_error(exc) from exc
        return call.finish(response, body, read_whole=read_whole)

    def close(self) -> None:
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
    own ``httpx.AsyncClient``.
    """

    def __init__(
        self,
        provider: PortalProvider | RequestRouter,
        *,
        http_client: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
        strict: bool = False,
        allowed_return_hosts: Iterable[str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.provider = provider
        self._settings = _settings(retry, strict, allowed_return_hosts, max_response_bytes)
        self._dispatch = _async_dispatcher(provider)
        self._owns_client = http_client is None
        self._client = http_client or httpx.AsyncClient(
            timeout=DEFAULT_TIMEOUT, limits=DEFAULT_LIMITS
        )
        self._in_flight: anyio.Semaphore | None = None  # made on first use, in the event loop

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **options: Unpack[AsyncPortalOptions]
    ) -> Self:
        """An AsyncPortal for the provider named by ``PORTALKIT_PROVIDER``, configured from
        its variables in ``environ`` (default ``os.environ``); see ``provider_from_env``."""
        return cls(provider_from_env(environ), **options)

    async def create_link(self, request: PortalRequest) -> PortalLink:
        """Mint one portal link. Raises a ``portalkit.errors.PortalError`` on any failure."""
        return await self._run(await self._dispatch(request))

    async def _run(self, step: Dispatch) -> PortalLink:
        try:
            return await self._create(_Call(step.provider, self._settings, step.request))
        except CustomerNotFound as error:
            fallback = step.fall_back(error)
            if fallback is None:
                raise
            return await self._run(fallback)

    async def _create(self, call: _Call) -> PortalLink:
        # As Portal._create: the first attempt outside tenacity.
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

    async def _attempt(self, call: _Call) -> PortalLink:
        slots = await self._take_slot(call)
        try:
            response = await self._client.send(call.attempt_request(self._client), stream=True)
            try:
                if isinstance(response.stream, httpx.AsyncByteStream):
                    response.stream = _AsyncDeadlineStream(response.stream, call)
                read_whole = call.check_declared_length(response)
                if read_whole:
                    body = call.check_read_length(response, await response.aread())
                else:
                    body = await _acollect(response.aiter_bytes(), call, response)
            finally:
                await response.aclose()
        except PortalError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise call.transport_error(exc) from exc
        finally:
            slots.release()
        return call.finish(response, body, read_whole=read_whole)

    async def _take_slot(self, call: _Call) -> anyio.Semaphore:
        """Wait, at most until the deadline, for one of the MAX_IN_FLIGHT request slots."""
        import anyio  # with the event loop running: anyio works under asyncio and trio

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
        if self._owns_client:
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
