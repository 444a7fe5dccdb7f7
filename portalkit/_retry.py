"""When to try again, and how long to wait: one policy for Portal and AsyncPortal.

Retried: transport failures (connect, timeouts, dropped connections), 408, 429, 5xx and
unreadable bodies -- every error whose class says ``retryable``. Never another 4xx, unless
the vendor said so: an adapter that reads a vendor's retry hint sets ``retryable`` on the
error it returns, and that wins over the class (either way). Every
attempt reuses the request's idempotency key (Portal fixes it before the first attempt).

Waits honour ``Retry-After`` in both forms (seconds, HTTP-date), capped; otherwise
exponential backoff with full jitter. Two limits stop the loop: a number of attempts and an
overall deadline, because a customer is waiting on a click. When the next wait would end past
the deadline, the last error is raised at once -- a ``RateLimited`` keeps ``retry_after`` so
the caller can tell the customer when to try again.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import attrs

from .errors import PortalError, RateLimited

if TYPE_CHECKING:
    from tenacity import RetryCallState

logger = logging.getLogger("portalkit")


@attrs.frozen
class RetryPolicy:
    """How ``Portal`` and ``AsyncPortal`` retry one ``create_link``, and for how long.

    What is retried: a transport failure (connect error, timeout, dropped connection),
    HTTP 408, 429 and 5xx, and an answer portalkit cannot read (``InvalidResponse``): the
    errors whose ``retryable`` is true. Every other answer is final. Every attempt carries
    the same idempotency key, so a vendor that takes keys answers a retried create with the
    session it already minted.

    ``max_attempts``
        Attempts in all, the first included (default 4); 1 disables retries.
    ``deadline``
        Seconds from the first attempt (default 8.0: a customer is waiting on a click)
        after which no new attempt starts; each attempt's timeouts are cut to what is left,
        so a call ends within about this long whatever the vendor does.
    ``backoff_initial``, ``backoff_max``
        The wait before a retry is "full jitter": random between 0 and a ceiling that
        starts at ``backoff_initial`` (0.25 s) and doubles each attempt up to
        ``backoff_max`` (2.0 s).
    ``retry_after_cap``
        A 429's or 503's ``Retry-After`` (seconds or an HTTP-date) is waited instead of the
        backoff, up to this many seconds (default 30.0); a wait that would pass the
        deadline ends the call at once rather than sleeping into it.

    ``RetryPolicy(max_attempts=1)`` never retries; ``RetryPolicy(backoff_initial=0,
    retry_after_cap=0)`` retries without sleeping (what the pytest plugin's ``portal_for``
    uses).
    """

    #: Attempts in all, the first included. 1 disables retries.
    max_attempts: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    #: Seconds from the first attempt after which no new attempt starts; also bounds each
    #: attempt's timeouts.
    deadline: float = attrs.field(default=8.0, validator=attrs.validators.gt(0))
    #: First backoff ceiling in seconds; doubles each attempt up to ``backoff_max``.
    backoff_initial: float = attrs.field(default=0.25, validator=attrs.validators.ge(0))
    backoff_max: float = attrs.field(default=2.0, validator=attrs.validators.ge(0))
    #: The longest ``Retry-After`` portalkit will sleep for.
    retry_after_cap: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before attempt ``attempt + 1``."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 -- jitter, not a secret

    def wait_after(self, error: BaseException | None, attempt: int) -> float:
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_cap)
        return self.backoff(attempt)


def parse_retry_after(
    value: str | None, *, now: Callable[[], datetime] | None = None
) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP-date. None if absent or
    unreadable; never negative."""
    if value is None:
        return None
    value = value.strip()
    try:
        return (
            max(0.0, float(value))
            if value.replace(".", "", 1).isdigit()
            else _from_date(value, now)
        )
    except (TypeError, ValueError, OverflowError):
        return None


def _from_date(value: str, now: Callable[[], datetime] | None) -> float | None:
    when = parsedate_to_datetime(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` may be retried. Its class says (``PortalError.retryable``), unless
    the adapter set ``retryable`` on the instance from the vendor's own hint (a header that
    says "retry this 409" or "do not retry this 500"): the instance's value wins."""
    return isinstance(error, PortalError) and error.retryable


class RetryControl:
    """The tenacity settings for one create_link call: a clock started at the first attempt,
    and what is left of the deadline."""

    def __init__(self, policy: RetryPolicy, provider: str) -> None:
        self.policy = policy
        self.provider = provider
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.policy.deadline - (time.monotonic() - self.started)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self.policy.wait_after(error, state.attempt_number)

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        # Give up now rather than sleep into (or past) the deadline.
        return state.upcoming_sleep >= self.remaining()

    def _before_sleep(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s attempt %d failed (%s); retrying in %.2fs",
            self.provider,
            state.attempt_number,
            _describe(error),
            state.upcoming_sleep,
        )

    def tenacity_kwargs(self) -> dict[str, Any]:
        # Imported here, on the first retry: see portalkit._portal.Retrying.
        from tenacity import retry_if_exception

        return {
            "retry": retry_if_exception(is_retryable),
            "wait": self._wait,
            "stop": self._stop,
            "before_sleep": self._before_sleep,
            "reraise": True,
        }


def _describe(error: BaseException | None) -> str:
    if isinstance(error, PortalError):
        return f"{type(error).__name__}, status={error.status}"
    return type(error).__name__
