"""When to try again, and how long to wait: one policy for Portal and AsyncPortal.

Retried: transport failures (connect, timeouts, dropped connections), 408, 429, 5xx and
unreadable bodies -- every error whose class says ``retryable``. Never another 4xx. Every
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

    @property
    def ends_at(self) -> float:
        """The deadline as a ``time.monotonic()`` value."""
        return self.started + self.policy.deadline

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
            "portalkit: %s attempt %d failed (%s); retrying in %.2fs",
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
