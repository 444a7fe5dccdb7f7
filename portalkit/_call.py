"""One create_link call, from request to link, minus the waiting: shared by Portal and
AsyncPortal.

``Call`` decides everything a call needs -- feature policy, the idempotency key, the HTTP
request, per-attempt timeouts, the body-size limit and the deadline while a body arrives,
turning the answer into a link or an error. The two I/O shells in ``_portal`` only send,
wait and read.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator

import attrs
import httpx

from . import _validation as check
from ._capabilities import apply_feature_policy
from ._decode import ACCEPT_ENCODING, BoundedDecoder, DecodeFailed, UnsupportedEncoding, encodings
from ._link_check import checked_link, host_patterns
from ._models import Feature, PortalLink, PortalRequest
from ._protocol import PortalProvider
from ._redact import scrub_error, session_label
from ._retry import RetryControl, RetryPolicy
from .errors import InvalidRequest, InvalidResponse, ProviderUnavailable

logger = logging.getLogger("portalkit")


@attrs.frozen
class Settings:
    retry: RetryPolicy
    strict: bool
    allowed_return_hosts: frozenset[str] | None
    max_response_bytes: int
    #: Portal hosts accepted besides the adapter's own ``portal_hosts`` (custom domains).
    custom_portal_hosts: tuple[str, ...] = ()
    #: Provider names a request's ``provider_options`` may use besides the installed ones
    #: (the names of a router's providers).
    known_providers: frozenset[str] = frozenset()


def make_settings(
    retry: RetryPolicy | None,
    strict: bool,
    allowed_return_hosts: Iterable[str] | str | None,
    max_response_bytes: int,
    custom_portal_hosts: Iterable[str] | str | None = None,
    known_providers: Iterable[str] = (),
) -> Settings:
    if max_response_bytes < 1024:
        raise ValueError("max_response_bytes must be at least 1024")
    hosts = None
    if allowed_return_hosts is not None:
        # host_patterns takes a lone string as one host, not a set of its characters.
        hosts = frozenset(host_patterns(allowed_return_hosts))
    return Settings(
        retry or RetryPolicy(),
        strict,
        hosts,
        max_response_bytes,
        host_patterns(custom_portal_hosts),
        frozenset(known_providers),
    )


class Call:
    """One create_link call, from request to link, minus the waiting."""

    def __init__(
        self, provider: PortalProvider, settings: Settings, request: PortalRequest
    ) -> None:
        if not isinstance(request, PortalRequest):
            raise InvalidRequest.local(
                "request", f"must be a PortalRequest, not {type(request).__name__}"
            )
        self.provider = provider
        self.settings = settings
        _check_return_host(request, settings.allowed_return_hosts)
        request, self.ignored = apply_feature_policy(provider, request, strict=settings.strict)
        self.ignored += _unknown_option_names(provider, request, settings)
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
            # The client's default headers the adapter did not set, merged as raw bytes: a
            # str merge re-encodes with the request's (ASCII) encoding and fails on a
            # non-ASCII value the user gave their client.
            present = {name.lower() for name, _ in http_request.headers.raw}
            missing = [
                (name, value) for name, value in client.headers.raw if name.lower() not in present
            ]
            if b"accept-encoding" not in present:
                # Only what _decode can decode within the body limit (the client's default
                # would also offer br and zstd).
                missing = [
                    (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
                    *[
                        (name, value)
                        for name, value in missing
                        if name.lower() != b"accept-encoding"
                    ],
                ]
            if missing:
                http_request.headers = httpx.Headers([*http_request.headers.raw, *missing])
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
        # isascii(): str.isdigit() is also true for "²" and other digits int() refuses.
        if not (declared and declared.isascii() and declared.isdigit()):
            return False
        if int(declared) > self.settings.max_response_bytes:
            raise self.body_limit_error(response)
        return "content-encoding" not in response.headers

    def check_read_length(self, response: httpx.Response, body: bytes) -> bytes:
        """A body read whole is still held to the limit, whatever its header said."""
        if len(body) > self.settings.max_response_bytes:
            raise self.body_limit_error(response)
        return body

    def decoder_for(self, response: httpx.Response) -> BoundedDecoder | None:
        """The bounded decoder for the answer's Content-Encoding (None when there is none);
        an encoding portalkit did not ask for is refused before its body is read."""
        try:
            applied = encodings(response.headers.get("content-encoding"))
        except UnsupportedEncoding:
            error = InvalidResponse(
                f"{self.provider.name} answered in a Content-Encoding portalkit did not ask "
                f"for (it asks for {ACCEPT_ENCODING}); refused without reading it",
                provider=self.provider.name,
                status=response.status_code,
            )
            error.retryable = False
            raise error from None
        return BoundedDecoder(applied) if applied else None

    def decode_error(self, response: httpx.Response) -> InvalidResponse:
        return InvalidResponse(
            f"{self.provider.name} sent a body that does not decode as its Content-Encoding says",
            provider=self.provider.name,
            status=response.status_code,
        )

    def check_deadline(self) -> None:
        """Per-read timeouts stop a silent server, not one that sends a byte now and then:
        between the chunks of a body, the call's deadline is checked too."""
        if self.control.remaining() <= 0:
            raise self.deadline_error("its body was still arriving at the deadline")

    def deadline_error(self, why: str) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"{self.provider.name}: the HTTP response timed out ({why})",
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
        link = checked_link(
            self.provider,
            self.provider.parse_response(complete, self.request),
            self.request,
            self.settings.custom_portal_hosts,
            response.status_code,
        )
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


def _unknown_option_names(
    provider: PortalProvider, request: PortalRequest, settings: Settings
) -> tuple[str, ...]:
    """``provider_options`` entries that name no provider at all (``"padle"``): listed in
    ``ignored_fields``, or refused under ``strict``. An entry for another known provider is
    normal (one request shape for every vendor of a migration) and passes silently."""
    others = [name for name in request.provider_options if name != provider.name]
    if not others:  # the common case: no look-up of the installed providers
        return ()
    from ._registry import available_providers

    known = {*available_providers(), *settings.known_providers}
    unknown = tuple(f"provider_options[{name!r}]" for name in others if name not in known)
    if unknown and settings.strict:
        raise InvalidRequest.local(
            unknown[0], "names no installed provider (a typo?)", provider=provider.name
        )
    return unknown


def _shorter(configured: float | None, left: float) -> float:
    return left if configured is None else min(configured, left)


def _check_return_host(request: PortalRequest, allowed: frozenset[str] | None) -> None:
    if allowed is None or request.return_url is None:
        return
    host = (httpx.URL(request.return_url).host or "").lower().rstrip(".")
    if host not in allowed:
        check.fail("return_url", f"host {host!r} is not in this Portal's allowed_return_hosts")


class DeadlineStream(httpx.SyncByteStream):
    """A response body that checks the call's deadline as each chunk arrives."""

    def __init__(self, stream: httpx.SyncByteStream, call: Call) -> None:
        self._stream = stream
        self._call = call

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            self._call.check_deadline()
            yield chunk

    def close(self) -> None:
        self._stream.close()


class AsyncDeadlineStream(httpx.AsyncByteStream):
    """``DeadlineStream`` for ``httpx.AsyncClient``."""

    def __init__(self, stream: httpx.AsyncByteStream, call: Call) -> None:
        self._stream = stream
        self._call = call

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            self._call.check_deadline()
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


class _Body:
    """A body being collected: decoded bytes (see _decode) held to the limit and the
    deadline as they are produced, not once a network chunk is decoded whole."""

    def __init__(self, call: Call, response: httpx.Response) -> None:
        self.call = call
        self.response = response
        self.decoder = call.decoder_for(response)
        self.limit = call.settings.max_response_bytes
        self.body = bytearray()

    def add(self, raw: bytes) -> None:
        if self.decoder is None:
            self._keep(raw)
            return
        try:
            for chunk in self.decoder.feed(raw):
                self._keep(chunk)
                self.call.check_deadline()  # decoding a bomb is work: bounded by the deadline
        except DecodeFailed:
            raise self.call.decode_error(self.response) from None

    def _keep(self, chunk: bytes) -> None:
        self.body += chunk
        if len(self.body) > self.limit:
            raise self.call.body_limit_error(self.response)


def collect_body(response: httpx.Response, call: Call) -> bytes:
    """The body of a streamed answer, decoded within the limit and the deadline."""
    if response.is_stream_consumed:
        # The transport read (and decoded) the body itself, e.g. a test's MockTransport
        # answering Response(content=...): all that is left is to hold it to the limit.
        return call.check_read_length(response, response.content)
    body = _Body(call, response)
    for raw in response.iter_raw():
        body.add(raw)
    return bytes(body.body)


async def acollect_body(response: httpx.Response, call: Call) -> bytes:
    """``collect_body`` for an async answer."""
    if response.is_stream_consumed:
        return call.check_read_length(response, response.content)
    body = _Body(call, response)
    async for raw in response.aiter_raw():
        body.add(raw)
    return bytes(body.body)
