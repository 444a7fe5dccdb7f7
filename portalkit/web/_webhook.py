"""What every framework's webhook view shares, with no web framework imported.

The rules a webhook endpoint follows, whatever serves it:

- it reads the raw body itself, before any framework parses it (a signature is over the
  bytes as sent), and refuses a body over ``hooks.max_body_bytes`` unread: a declared
  ``Content-Length`` over the limit is refused before reading, no more than one byte past
  the limit is read from a WSGI stream, and an ASGI body is taken no further than the chunk
  that passes the limit;
- a delivery that fails verification is answered 400 with a generic body; the log line names
  the provider and the ``RejectionReason`` only, never the secret, the signature or the body;
- each event is handled once (``EventLog``): a duplicate of an event the app's handler took
  is answered 200 without calling it again, one another worker holds right now 409 (the
  vendor retries later), and a handler that raises answers 500 and releases the event, so
  the vendor's retry runs the handler again;
- anything but POST is answered 405 with ``Allow: POST``.

``receive`` is the whole job for a blocking handler; an async view calls ``verify``,
``begin``, the handler, then ``finished`` or ``failed`` itself, each log call in a thread.

A body over the limit is answered 400, as every other refused delivery is, not 413: to the
vendor it is one more delivery this endpoint will not take, and the vendors retry a 413 and a
400 alike.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final

import attrs

from .._event_log import Claim, EventLog, InMemoryEventLog
from .._events import BillingEvent
from .._webhooks import Webhooks
from ..errors import RejectionReason, WebhookRejected
from ._core import ALLOWED_METHOD, SECURITY_HEADERS

logger = logging.getLogger("portalkit.web")

#: The app's function that acts on one verified event. It returns when the event is handled
#: (the answer is 2xx) and raises when it is not (the answer is 500, and the vendor retries).
Handler = Callable[[BillingEvent], object]


class _PerView(Enum):
    PER_VIEW = "a new InMemoryEventLog for each view"


#: ``event_log``'s default: each view gets an ``InMemoryEventLog`` of its own, which dedupes
#: within one process. An app on several processes or hosts passes a ``SqlEventLog``;
#: ``event_log=None`` turns deduplication off (every delivery calls the handler).
PER_VIEW: Final = _PerView.PER_VIEW
EventLogChoice = EventLog | None | _PerView


@attrs.frozen
class WebhookAnswer:
    """What the endpoint answers: a status and a short generic text, never a detail."""

    status: int
    text: str

    @property
    def headers(self) -> Mapping[str, str]:
        if self.status == WRONG_METHOD.status:
            return MappingProxyType({**SECURITY_HEADERS, "Allow": ALLOWED_METHOD})
        return SECURITY_HEADERS


RECEIVED = WebhookAnswer(200, "Received.")
REJECTED = WebhookAnswer(400, "Rejected.")
WRONG_METHOD = WebhookAnswer(405, "Webhooks are delivered with POST.")
BUSY = WebhookAnswer(409, "This event is being handled; try again later.")
FAILED = WebhookAnswer(500, "Not handled; try again later.")


def check_view(
    hooks: object, handler: object, event_log: object, framework: str, *, awaits: bool = False
) -> None:
    """Fail at start-up, not at the first delivery, when a view is built wrong. ``awaits``:
    the view awaits an ``async def`` handler (Starlette); elsewhere one would only make a
    coroutine that never runs, and its events would be answered as handled."""
    if not isinstance(hooks, Webhooks):
        raise TypeError(
            f"portalkit.web.{framework}.webhook_view needs a portalkit.Webhooks, "
            f"not {type(hooks).__name__}"
        )
    if not callable(handler):
        raise TypeError("the webhook handler must be callable with a BillingEvent")
    if not awaits and inspect.iscoroutinefunction(handler):
        raise TypeError(
            f"portalkit.web.{framework} calls the webhook handler without awaiting it: "
            "pass a plain def, not an async def"
        )
    if not (event_log is None or event_log is PER_VIEW or isinstance(event_log, EventLog)):
        raise TypeError(
            f"event_log must be an EventLog (claim, done, release) or None, "
            f"not {type(event_log).__name__}"
        )


def event_log_for(choice: EventLogChoice) -> EventLog | None:
    # Made here, once per view: a module-level default would be shared by every view, so
    # two endpoints for two vendors would share one bound.
    return InMemoryEventLog() if choice is PER_VIEW else choice


def is_delivery_method(method: str) -> bool:
    return method.upper() == ALLOWED_METHOD


def declared_too_large(content_length: str | int | None, limit: int) -> bool:
    """Whether the declared ``Content-Length`` is over ``limit``, so the body need not be
    read. A missing or unreadable one declares nothing: the capped read decides."""
    if content_length is None:
        return False
    try:
        return int(content_length) > limit
    except ValueError:
        return False


def read_capped(read: Callable[[int], bytes], limit: int) -> bytes | None:
    """The body from a file-like ``read``, or None when it is over ``limit``.

    At most ``limit + 1`` bytes are asked for, in as many reads as the stream needs (a
    WSGI stream may answer a read with fewer bytes than asked): the one byte past the limit
    is how an over-long body is told from one exactly at it."""
    body = bytearray()
    while len(body) <= limit:
        chunk = read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    return None if len(body) > limit else bytes(body)


def too_large(hooks: Webhooks) -> WebhookAnswer:
    """The answer to a body over the limit: a rejection like any other (see the module)."""
    return _rejected(hooks.provider, RejectionReason.TOO_LARGE)


def verify(
    hooks: Webhooks, headers: Mapping[str, str], body: bytes
) -> BillingEvent | WebhookAnswer:
    """The verified event, or the 400 for a delivery that is not one."""
    try:
        return hooks.parse(headers, body)
    except WebhookRejected as error:
        return _rejected(hooks.provider, error.reason)


def _rejected(provider: str, reason: RejectionReason) -> WebhookAnswer:
    # The provider and the reason only: the error's message is safe too, but the reason is
    # all an operator needs, and a log line that holds nothing else cannot leak.
    logger.warning("webhook rejected: answered 400 (provider=%s reason=%s)", provider, reason.value)
    return REJECTED


def begin(event_log: EventLog | None, event: BillingEvent) -> WebhookAnswer | None:
    """Claim the event: None when the handler is to run, else the answer without it."""
    if event_log is None:
        return None
    try:
        claim = event_log.claim(event.provider, event.id)
    except Exception as error:
        # The handler cannot run guarded; the vendor retries a 500 once the log is back.
        _log_failure("the event log could not claim it", event, error, FAILED)
        return FAILED
    if claim is Claim.DONE:
        logger.info(
            "webhook duplicate: answered 200 without the handler (provider=%s event_id=%s)",
            event.provider,
            event.id,
        )
        return RECEIVED
    if claim is Claim.BUSY:
        logger.info(
            "webhook busy: another worker holds the event; answered 409 (provider=%s event_id=%s)",
            event.provider,
            event.id,
        )
        return BUSY
    return None


def finished(event_log: EventLog | None, event: BillingEvent) -> WebhookAnswer:
    """The handler returned: record the event as handled and answer 200."""
    if event_log is not None:
        try:
            event_log.done(event.provider, event.id)
        except Exception as error:
            # Still 200: the handler did its work, and a 500 would have the vendor deliver
            # it again. The claim's lease runs out, so only a later duplicate is at risk.
            _log_failure("the event log could not record it as handled", event, error, RECEIVED)
    return RECEIVED


def failed(event_log: EventLog | None, event: BillingEvent, error: BaseException) -> WebhookAnswer:
    """The handler raised ``error``: free the event for the vendor's retry and answer 500."""
    _log_failure(f"the handler raised {type(error).__name__}", event, error, FAILED)
    if event_log is not None:
        try:
            event_log.release(event.provider, event.id)
        except Exception as release_error:
            # The claim's lease runs out instead; until then a retry is answered 409.
            _log_failure("the event log could not release it", event, release_error, FAILED)
    return FAILED


def _log_failure(
    what: str, event: BillingEvent, error: BaseException, answer: WebhookAnswer | None
) -> None:
    # exc_info is the exception itself, not True: an async view logs from another thread
    # than the one that caught it. The handler's own exception is the app's; portalkit adds
    # the event's provider and id, never its payload.
    logger.error(
        "webhook event: %s; %s (provider=%s event_id=%s)",
        what,
        "not answered" if answer is None else f"answered {answer.status}",
        event.provider,
        event.id,
        exc_info=error,
    )


def handle(handler: Handler, event_log: EventLog | None, event: BillingEvent) -> WebhookAnswer:
    """Claim, run a blocking handler, then record or release: the answer."""
    answer = begin(event_log, event)
    if answer is not None:
        return answer
    try:
        handler(event)
    except Exception as error:
        return failed(event_log, event, error)
    except BaseException:  # an interrupt: free the event for the retry, then let it through
        release_quietly(event_log, event)
        raise
    return finished(event_log, event)


def release_quietly(event_log: EventLog | None, event: BillingEvent) -> None:
    """Release on the way out of an interrupted handler; a failure here is only logged."""
    if event_log is None:
        return
    try:
        event_log.release(event.provider, event.id)
    except Exception as error:
        _log_failure("the event log could not release it after an interrupt", event, error, None)


def receive(
    hooks: Webhooks,
    headers: Mapping[str, str],
    body: bytes,
    handler: Handler,
    event_log: EventLog | None,
) -> WebhookAnswer:
    """One POSTed delivery, its raw body read, to its answer: verify, claim, handle."""
    verified = verify(hooks, headers, body)
    if isinstance(verified, WebhookAnswer):
        return verified
    return handle(handler, event_log, verified)
