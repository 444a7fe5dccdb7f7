"""One create_link call, from request to link, minus the waiting: shared by Portal and
AsyncPortal.

``Call`` decides everything a call needs -- feature policy, the idempotency key, the HTTP
request, per-attempt timeouts, the body-size limit and the deadline while a body arrives,
turning the answer into a link or an error. The two I/O shells in ``_portal`` only send,
wait and read.

A call is an exchange of one or more steps (see ``_protocol.MultiStepProvider``); each shell
runs the same loop::

    while True:
        try:
            link = <send call.http_request, retrying it as the policy allows>  # call.finish
        except PortalError as error:
            link = call.fail(error)       # thrown into the exchange, or re-raised
        if link is not None:
            return link                   # None: the exchange asked for its next request
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator

import attrs

from . import _validation as check
from ._capabilities import apply_feature_policy
from ._decode import ACCEPT_ENCODING, BoundedDecoder, DecodeFailed, UnsupportedEncoding, encodings
from ._http import httpx
from ._link_check import checked_link, host_patterns
from ._models import Feature, PortalLink, PortalRequest, unchecked_copy
from ._protocol import Exchange, PortalProvider, SessionEndingProvider, one_step
from ._redact import scrub_error, session_label
from ._retry import RetryControl, RetryPolicy
from ._stacks import is_connect_failure, is_timeout
from ._wire import request_host
from .errors import (
    InvalidRequest,
    InvalidResponse,
    PortalError,
    ProviderUnavailable,
    UnsupportedFeature,
)

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
            # uuid is imported here, not with the module: only adapters that take a key
            # need it (about 1 ms of import at start-up; a dict look-up from then on).
            import uuid

            request = unchecked_copy(request, idempotency_key=str(uuid.uuid4()))
        self.request = request
        self._begin()

    def _begin(self) -> None:
        """Start the exchange: state for its steps, its first request, the deadline."""
        provider = self.provider
        #: What each step's answer was (a 2xx response, or the error thrown into the
        #: exchange), so a fresh exchange can be brought to the current step (see _replay).
        self._answers: list[httpx.Response | PortalError] = []
        #: The exchange's last own error: re-raised by fail(), never thrown back into it.
        self._raised: BaseException | None = None
        self._steps: Exchange | None = self._start()
        # The exchange validates before its first request: an InvalidRequest is raised here,
        # before anything is sent.
        self.http_request: httpx.Request = next(self._steps)
        self._prepared: httpx.Request | None = None  # the step request already given headers
        self.control = RetryControl(self.settings.retry, provider.name)
        self.attempts = 0  # in all, every step's
        self.step_attempts = 0
        #: The last answer's HTTP status, and the request id of the link (for _telemetry).
        self.status: int | None = None
        self.request_id: str | None = None

    def discard(self) -> None:
        """Close the exchange without sending its first request (``Portal.preview``)."""
        if self._steps is not None:
            self._steps.close()
            self._steps = None

    def _start(self) -> Exchange:
        exchange = getattr(self.provider, "exchange", None)
        if exchange is None:
            return one_step(self.provider, self.request)
        steps: Exchange = exchange(self.request)
        return steps

    def attempt_request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request for the next attempt: the client's default headers under the
        adapter's, and timeouts no longer than what is left of the deadline (which covers
        the whole exchange, not each step)."""
        self.attempts += 1
        left = self.control.remaining()
        if left <= 0 and self.attempts > 1:
            # The first attempt of a later step is not held back by the retry loop's stop
            # rule: here the deadline stops it.
            raise self.deadline_error("the deadline passed before the next request was sent")
        http_request = self.http_request
        if http_request is not self._prepared:  # the first attempt of this step
            self._prepared = http_request
            self.step_attempts = 0
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
        self.step_attempts += 1
        left = max(left, 0.001)
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
                "%s attempt %d: %s %s",
                self.provider.name,
                self.step_attempts,  # of this step, as the retry loop counts them
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
        """The retryable error for a transport failure, naming the host it was sent to (the
        base URL's, to check when it cannot be reached), never the path or the query: those
        may carry a customer's id."""
        kind = "timed out" if is_timeout(exc) else "failed"
        failure = f"the HTTP request {kind} ({type(exc).__name__})"
        host = request_host(self.http_request.url) or "the API's host"
        if is_connect_failure(exc):
            message = f"could not connect to {host}: {failure}; check the base URL's host"
        else:
            message = f"{failure} at {host}"
        return ProviderUnavailable(f"{self.provider.name}: {message}", provider=self.provider.name)

    def finish(
        self, response: httpx.Response, body: bytes, *, read_whole: bool
    ) -> PortalLink | None:
        """Hand a 2xx answer to the exchange: the link, or None when it sent its next
        request (now ``http_request``). Raise the adapter's error for anything else: the
        shell retries it or passes it to ``fail``.

        ``read_whole``: ``response`` itself holds ``body`` (``response.read()``); otherwise the
        body was streamed and decoded in chunks, and the adapter gets a response rebuilt
        around it."""
        self.status = response.status_code
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
            "%s answered HTTP %d (%d bytes)",
            self.provider.name,
            response.status_code,
            len(body),
        )
        if not complete.is_success:
            raise scrub_error(self.provider.parse_error(complete), self.http_request)
        return self._answer(complete)

    def fail(self, error: PortalError) -> PortalLink | None:
        """A step's final error (not retryable, or out of retries): thrown into the exchange,
        which may translate it, raise it, or go on with another request. An error the
        exchange raised itself is re-raised as it is."""
        if error is self._raised:
            raise error
        return self._answer(error)

    def _answer(self, answer: httpx.Response | PortalError) -> PortalLink | None:
        steps = self._steps if self._steps is not None else self._replay()
        self._steps = None  # until it yields again: one that raised is replayed on a retry
        try:
            if isinstance(answer, PortalError):
                next_request = steps.throw(answer)
            else:
                next_request = steps.send(answer)
        except StopIteration as done:
            return self._link(done.value)
        except BaseException as error:
            self._raised = error
            raise
        self._steps = steps
        self._answers.append(answer)
        self.http_request = next_request
        return None

    def _replay(self) -> Exchange:
        """A fresh exchange brought to the current step by replaying the earlier answers:
        the old one raised on reading this step's answer (an unreadable body), and the
        step is being retried. No I/O: the exchange is a pure function of its answers."""
        steps = self._start()
        next(steps)
        for answer in self._answers:
            if isinstance(answer, PortalError):
                steps.throw(answer)
            else:
                steps.send(answer)
        return steps

    def _link(self, link: PortalLink) -> PortalLink:
        """The finished exchange's link, checked (its URLs, its customer) and with what the
        call itself knows added."""
        link = checked_link(
            self.provider, link, self.request, self.settings.custom_portal_hosts, self.status
        )
        self.request_id = link.request_id
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s minted portal session %s for customer %s",
                self.provider.name,
                session_label(link.session_id, link.url),
                link.customer_id,
            )
        ignored = tuple(dict.fromkeys((*self.ignored, *link.ignored_fields)))
        key = self.request.idempotency_key
        if ignored == link.ignored_fields and key == link.idempotency_key:
            return link  # what evolve() would return, but a copy
        return unchecked_copy(link, ignored_fields=ignored, idempotency_key=key)


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


class EndSessionCall(Call):
    """One end_session call: a one-step exchange of the adapter's ``build_end_session`` /
    ``parse_end_session``, so the shells' one request loop sends it with the same attempts,
    timeouts, body limit, deadline and error reading as a create.

    Refused with ``UnsupportedFeature`` before anything is sent when the provider does not
    declare ``Feature.END_SESSION``, or did not mint ``link``. Sent without an idempotency
    key: ending a session twice leaves it ended."""

    def __init__(self, provider: PortalProvider, settings: Settings, link: PortalLink) -> None:
        self.ender = check_end_session(provider, link)
        self.provider = provider
        self.settings = settings
        self.link = link
        self.ignored = ()
        self._begin()

    def _start(self) -> Exchange:
        response = yield self.ender.build_end_session(self.link)
        self.ender.parse_end_session(response, self.link)
        return self.link

    def _link(self, link: PortalLink) -> PortalLink:
        """``link`` once the adapter accepts the answer as ending it. (Returned only so the
        shells' loop can type one result.)"""
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s ended portal session %s for customer %s",
                self.provider.name,
                session_label(link.session_id, link.url),
                link.customer_id,
            )
        return link


def check_end_session(provider: PortalProvider, link: object) -> SessionEndingProvider:
    """``provider``, able to end ``link``'s session; else refused before anything is sent."""
    if not isinstance(link, PortalLink):
        raise InvalidRequest.local(
            "link", f"must be a PortalLink, not {type(link).__name__}", provider=provider.name
        )
    if Feature.END_SESSION not in provider.features or not isinstance(
        provider, SessionEndingProvider
    ):
        raise UnsupportedFeature(
            f"end_session: {provider.name} cannot end a portal session early",
            feature=Feature.END_SESSION.value,
            field="link",
            rule=f"unsupported by {provider.name}",
            provider=provider.name,
        )
    if link.provider != provider.name:
        raise UnsupportedFeature(
            f"end_session: the link was minted by {link.provider!r}, not by {provider.name}",
            feature=Feature.END_SESSION.value,
            field="link.provider",
            rule=f"must be {provider.name!r}",
            provider=provider.name,
        )
    return provider


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
