"""The fault matrix as data: every fault portalkit must survive, how to provoke it, and
what a caller must see. ``tests/test_faults.py`` runs each scenario for every vendor, sync
and async, and checks the expectations; ``tests/test_secrets.py`` runs them all again with
every log record captured, and scans for credentials. ``docs/reliability.md`` is the
human-readable form of this table.

A scenario provokes its fault in one of three places:

- the sandbox (``Sandbox.script``): statuses, broken bodies, dropped, reset or hanging
  connections;
- a ``RawServer`` in front of the sandbox (``tests/_raw_server.py``): what uvicorn cannot
  do -- silence after the vendor minted, a body that trickles or never ends;
- a port that refuses connections.

Retry policies here are short (tens of milliseconds of backoff, ``Retry-After`` capped at
50 ms) so the whole matrix stays fast; the logic they exercise is the production logic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from _raw_server import (
    Behaviour,
    EndlessBody,
    Forward,
    Hang,
    RawServer,
    Trickle,
    refused_port,
)
from _vendors import VENDORS, deduplicates, portal_customer, supports

from portalkit import (
    AsyncPortal,
    Feature,
    Portal,
    PortalLink,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
)
from portalkit._http import httpx
from portalkit.errors import (
    AmbiguousCustomer,
    AuthenticationFailed,
    CustomerNotFound,
    IdempotencyConflict,
    InvalidRequest,
    InvalidResponse,
    PermissionDenied,
    PortalError,
    ProviderUnavailable,
    RateLimited,
    UnexpectedEndpoint,
)
from portalkit.sandbox import Fault, Sandbox, Session

#: Vendors that honour idempotency keys (their adapters declare Feature.IDEMPOTENCY_KEY): a
#: retried create gets the session already minted.
DEDUPLICATING = frozenset(vendor for vendor in VENDORS if deduplicates(vendor))
MODES = ("sync", "async")
RETURN_URL = "https://app.example.com/account/billing"

#: Three attempts, tiny backoff, Retry-After honoured but capped at 50 ms.
FAST = RetryPolicy(
    max_attempts=3, deadline=5.0, backoff_initial=0.01, backoff_max=0.02, retry_after_cap=0.05
)
#: Many attempts allowed but a short deadline: when a call stops after one or two attempts,
#: the deadline stopped it, not the attempt budget.
SHORT_DEADLINE = RetryPolicy(
    max_attempts=10, deadline=0.4, backoff_initial=0.01, backoff_max=0.02, retry_after_cap=0.05
)
#: A Retry-After longer than the deadline is not slept through.
PATIENT_CAP = RetryPolicy(
    max_attempts=3, deadline=2.0, backoff_initial=0.01, backoff_max=0.02, retry_after_cap=7200
)
#: A per-attempt timeout well under the deadline, as a user's own http_client would set it.
ATTEMPT_TIMEOUT = 0.3
SMALL_BODY_LIMIT = 64 * 1024


def http_date(seconds_from_now: float) -> str:
    """A ``Retry-After`` value in its HTTP-date form."""
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@dataclass(frozen=True)
class Scenario:
    """One fault, how to provoke it, and what portalkit must do about it."""

    id: str  # the pytest id: tests/test_faults.py::test_fault[<id>-<vendor>-<mode>]
    fault: str  # the fault, for docs/reliability.md
    does: str  # what portalkit does, for docs/reliability.md
    faults: Callable[[], Sequence[Fault]] = tuple  # scripted on the sandbox, in order
    raw: Callable[[], Sequence[Behaviour]] | None = None  # a RawServer in front, this script
    refused: bool = False  # point the provider at a port that refuses connections
    policy: RetryPolicy = FAST
    attempt_timeout: float | None = None  # a user http_client with this timeout
    max_response_bytes: int = SMALL_BODY_LIMIT
    expect: type[PortalError] | None = None  # None: a link
    status: int | None = None  # the error's HTTP status
    request_id: bool = False  # the error carries the vendor's request id
    attempts: tuple[int, int] = (1, 1)  # inclusive bounds on attempts made
    #: Did each faulted attempt reach the vendor's logic (mint a session) before the answer
    #: was lost? None: timing-dependent, sessions not counted.
    faulted_attempts_mint: bool | None = False
    retry_after: tuple[float, float] | None = None  # bounds on RateLimited.retry_after
    message: str | None = None  # a phrase the error message must contain
    #: Extra checks on the outcome (e.g. that a raw server's endless body was cut short).
    also: Callable[[Outcome], None] | None = None
    #: Where the error class depends on the vendor's contract: the class for a vendor
    #: (overrides ``expect``), derived from the adapter's features, never from its name.
    expect_for: Callable[[str], type[PortalError]] | None = None

    def expected(self, vendor: str) -> type[PortalError] | None:
        """The error ``vendor``'s caller must see (None: a link)."""
        return self.expect_for(vendor) if self.expect_for is not None else self.expect


@dataclass
class Outcome:
    request: PortalRequest
    link: PortalLink | None
    error: PortalError | None
    attempts: int  # counted from portalkit's own "attempt N" debug records
    server_attempts: int | None  # counted by the server (None: nothing listened)
    idempotency_keys: list[str | None]  # as each attempt carried it, when observable
    sessions: list[Session]
    records: list[logging.LogRecord] = field(default_factory=list)
    raw: RawServer | None = None


def conflict_error(vendor: str) -> type[PortalError]:
    """What a 409 means at ``vendor``: an idempotency key reused with another body where the
    vendor honours keys; at a vendor without keys that names customers by the app's own id
    (Feature.EXTERNAL_CUSTOMER_ID), that id matching several customers -- its one 409."""
    if not deduplicates(vendor) and supports(vendor, Feature.EXTERNAL_CUSTOMER_ID):
        return AmbiguousCustomer
    return IdempotencyConflict


def _every(fault: Callable[[], Fault], n: int) -> Callable[[], Sequence[Fault]]:
    return lambda: [fault() for _ in range(n)]


def _scenarios() -> Iterator[Scenario]:
    # -- rate limiting ------------------------------------------------------------------
    yield Scenario(
        "429-retry-after-seconds-then-ok",
        "429 with `Retry-After: 1` (seconds), then success",
        "waits Retry-After (capped by `retry_after_cap`), retries with the same key, link",
        faults=lambda: [Fault.status(429, retry_after=1)],
        attempts=(2, 2),
    )
    yield Scenario(
        "429-retry-after-http-date-then-ok",
        "429 with `Retry-After` as an HTTP-date 1 s ahead, then success",
        "reads the date, waits (capped), retries with the same key, link",
        faults=lambda: [Fault.status(429, retry_after=http_date(1))],
        attempts=(2, 2),
    )
    yield Scenario(
        "429-retry-after-beyond-deadline",
        "429 with `Retry-After: 60`, deadline 2 s",
        "raises `RateLimited` at once (no sleep) with `retry_after=60`, status and request id",
        faults=lambda: [Fault.status(429, retry_after=60)],
        policy=PATIENT_CAP,
        expect=RateLimited,
        status=429,
        request_id=True,
        retry_after=(60, 60),
    )
    yield Scenario(
        "429-http-date-beyond-deadline",
        "429 with `Retry-After` as an HTTP-date an hour ahead, deadline 2 s",
        "raises `RateLimited` at once with `retry_after` ~3600 s",
        faults=lambda: [Fault.status(429, retry_after=http_date(3600))],
        policy=PATIENT_CAP,
        expect=RateLimited,
        status=429,
        request_id=True,
        retry_after=(3500, 3600),
    )
    yield Scenario(
        "429-every-attempt",
        "429 (`Retry-After: 0`) on every attempt",
        "retries up to `max_attempts`, then `RateLimited` with status and request id",
        faults=_every(lambda: Fault.status(429, retry_after=0), 3),
        expect=RateLimited,
        status=429,
        request_id=True,
        attempts=(3, 3),
    )
    # -- server errors ------------------------------------------------------------------
    for code in (500, 502, 503, 504):
        yield Scenario(
            f"{code}-burst-then-ok",
            f"{code} twice, then success",
            "backs off with jitter, retries with the same key, link",
            faults=_every(lambda code=code: Fault.status(code), 2),  # type: ignore[misc]
            attempts=(3, 3),
        )
        yield Scenario(
            f"{code}-every-attempt",
            f"{code} on every attempt",
            "retries up to `max_attempts`, then `ProviderUnavailable` with status and request id",
            faults=_every(lambda code=code: Fault.status(code), 3),  # type: ignore[misc]
            expect=ProviderUnavailable,
            status=code,
            request_id=True,
            attempts=(3, 3),
        )
    yield Scenario(
        "408-then-ok",
        "408 Request Timeout, then success",
        "retries (408 is transient), link",
        faults=lambda: [Fault.status(408)],
        attempts=(2, 2),
    )
    yield Scenario(
        "html-502-then-ok",
        "an nginx HTML 502 page from a proxy, then success",
        "retries, link",
        faults=lambda: [Fault.html(502)],
        attempts=(2, 2),
    )
    yield Scenario(
        "html-502-every-attempt",
        "an nginx HTML 502 page on every attempt",
        "`ProviderUnavailable` (status 502, request id from the header); the HTML is not parsed",
        faults=_every(lambda: Fault.html(502), 3),
        expect=ProviderUnavailable,
        status=502,
        request_id=True,
        attempts=(3, 3),
    )
    # -- error pages that are not the vendor's: no verdict of the vendor's ----------------
    for code, who in (
        (404, "a wrong base URL path (a stray /v1, a proxy's prefix)"),
        (403, "a firewall in front of the vendor"),
    ):
        yield Scenario(
            f"html-{code}-not-retried",
            f"an nginx HTML {code} page, not the vendor's error envelope: {who}",
            "`UnexpectedEndpoint` after one attempt (status, request id from the header),"
            " naming the base URL's host to check; never the class the status alone would"
            " give, so a router does not fall back on it",
            faults=lambda code=code: [Fault.html(code)],  # type: ignore[misc]
            expect=UnexpectedEndpoint,
            status=code,
            request_id=True,
            message="check the base URL for 127.0.0.1:",
        )
    # -- client errors: never retried ---------------------------------------------------
    for code, error in (
        (400, InvalidRequest),
        (401, AuthenticationFailed),
        (403, PermissionDenied),
        (404, CustomerNotFound),
        (409, IdempotencyConflict),
        (422, InvalidRequest),
    ):
        yield Scenario(
            f"{code}-not-retried",
            f"{code} with the vendor's error envelope",
            (
                "`IdempotencyConflict` at a vendor that honours idempotency keys "
                "(`Feature.IDEMPOTENCY_KEY`: the key reused with another body), "
                "`AmbiguousCustomer` at a vendor without keys that names customers by the "
                "app's own id (`Feature.EXTERNAL_CUSTOMER_ID`: that id names several "
                "customers), `IdempotencyConflict` (the status's class) at any other vendor,"
                if code == 409
                else f"`{error.__name__}`"
            )
            + " after one attempt, with status, vendor code and request id",
            faults=lambda code=code: [Fault.status(code)],  # type: ignore[misc]
            expect=error,
            expect_for=conflict_error if code == 409 else None,
            status=code,
            request_id=True,
        )
    # -- bodies portalkit cannot use ------------------------------------------------------
    bodies: list[tuple[str, str, Callable[[], Fault], bool]] = [
        ("malformed-json", "201 whose body is not JSON", Fault.malformed, False),
        (
            "truncated",
            "the vendor's success answer, its JSON cut in half (the vendor minted)",
            Fault.truncated,
            True,
        ),
        ("empty", "201 with an empty body", Fault.empty, False),
        (
            "wrong-content-type",
            "the vendor's success answer labelled text/plain (the vendor minted)",
            Fault.wrong_content_type,
            True,
        ),
        (
            "missing-fields",
            "the vendor's success answer lacking the required fields",
            Fault.missing_fields,
            False,
        ),
    ]
    for name, fault, make, mints in bodies:
        yield Scenario(
            f"{name}-then-ok",
            f"{fault}, then success",
            "`InvalidResponse` is retryable: retries with the same key, link"
            + (" (the vendor replays the session it minted)" if mints else ""),
            faults=lambda make=make: [make()],  # type: ignore[misc]
            attempts=(2, 2),
            faulted_attempts_mint=mints,
        )
        yield Scenario(
            f"{name}-every-attempt",
            f"{fault}, on every attempt",
            "`InvalidResponse` (its 2xx status, request id) after `max_attempts`; no KeyError or "
            "JSONDecodeError escapes",
            faults=_every(make, 3),
            expect=InvalidResponse,
            status=201,
            request_id=True,
            attempts=(3, 3),
            faulted_attempts_mint=mints,
        )
    yield Scenario(
        "oversized-declared",
        "201 declaring a 5 MB body (limit 64 KiB)",
        "`InvalidResponse` from the Content-Length header alone: the body is never read",
        faults=_every(lambda: Fault.oversized(5_000_000), 3),
        expect=InvalidResponse,
        status=201,
        attempts=(3, 3),
        message="byte limit",
    )
    yield Scenario(
        "oversized-chunked",
        "201 with a chunked 5 MB body, no Content-Length (limit 64 KiB)",
        "reads at most the limit, then `InvalidResponse` and the connection is closed",
        faults=_every(lambda: Fault.oversized(5_000_000, chunked=True), 3),
        expect=InvalidResponse,
        status=201,
        attempts=(3, 3),
        message="byte limit",
    )
    yield Scenario(
        "oversized-then-ok",
        "an oversized body, then success",
        "refuses the oversized body, retries, link",
        faults=lambda: [Fault.oversized(5_000_000, chunked=True)],
        attempts=(2, 2),
    )
    yield Scenario(
        "raw-endless-body",
        "201 whose body never ends (raw server, no Content-Length)",
        "reads at most the limit, hangs up, `InvalidResponse`; the server's stream is cut short",
        raw=lambda: [EndlessBody()],
        expect=InvalidResponse,
        status=201,
        attempts=(3, 3),
        message="byte limit",
        also=lambda outcome: _stream_cut_short(outcome),
    )
    # -- connections ----------------------------------------------------------------------
    yield Scenario(
        "refused",
        "connection refused (nothing listens on the port)",
        "retries up to `max_attempts`, then `ProviderUnavailable` (no status), whose message"
        " names the host it could not reach (never the path or query)",
        refused=True,
        expect=ProviderUnavailable,
        attempts=(3, 3),
        message="could not connect to 127.0.0.1:",
    )
    yield Scenario(
        "drop-then-ok",
        "the connection closed before any byte of the answer, then success",
        "retries with the same key, link",
        faults=lambda: [Fault.drop()],
        attempts=(2, 2),
    )
    yield Scenario(
        "drop-every-attempt",
        "the connection closed before any byte of the answer, on every attempt",
        "`ProviderUnavailable` (no status) after `max_attempts`",
        faults=_every(Fault.drop, 3),
        expect=ProviderUnavailable,
        attempts=(3, 3),
    )
    yield Scenario(
        "reset-mid-response-then-ok",
        "TCP reset halfway through the body (the vendor minted), then success",
        "retries with the same key, link; a vendor that honours the key replays the same session",
        faults=lambda: [Fault.reset()],
        attempts=(2, 2),
        faulted_attempts_mint=True,
    )
    yield Scenario(
        "reset-every-attempt",
        "TCP reset halfway through the body, on every attempt",
        "`ProviderUnavailable` (no status) after `max_attempts`",
        faults=_every(Fault.reset, 3),
        expect=ProviderUnavailable,
        attempts=(3, 3),
        faulted_attempts_mint=True,
    )
    yield Scenario(
        "hang-then-ok",
        "accepts, never answers; then success (per-attempt timeout 0.3 s, deadline 5 s)",
        "the read times out, retries with the same key, link",
        faults=lambda: [Fault.hang()],
        attempt_timeout=ATTEMPT_TIMEOUT,
        attempts=(2, 2),
    )
    yield Scenario(
        "hang-forever",
        "accepts, never answers, on every attempt (deadline 0.4 s, 10 attempts allowed)",
        "each attempt's timeouts are cut to what is left of the deadline: "
        "`ProviderUnavailable` (timed out) after one or two attempts, not ten",
        faults=_every(Fault.hang, 10),
        policy=SHORT_DEADLINE,
        expect=ProviderUnavailable,
        attempts=(1, 2),
        message="timed out",
    )
    yield Scenario(
        "raw-silence-after-mint-then-ok",
        "the vendor minted, then the connection goes silent (raw server); then success",
        "the read times out, retries with the same key, link; a vendor that honours the "
        "key replays the same session",
        raw=lambda: [Hang(), Forward()],
        attempt_timeout=ATTEMPT_TIMEOUT,
        attempts=(2, 2),
        faulted_attempts_mint=True,
    )
    yield Scenario(
        "raw-silence-forever",
        "the vendor minted, then silence, on every attempt (deadline 0.4 s)",
        "`ProviderUnavailable` (timed out) after one or two attempts",
        raw=lambda: [Hang()],
        policy=SHORT_DEADLINE,
        expect=ProviderUnavailable,
        attempts=(1, 2),
        faulted_attempts_mint=None,  # how many attempts fit the deadline decides the count
        message="timed out",
    )
    yield Scenario(
        "delay-within-timeout",
        "the answer comes 50 ms late",
        "waits for it: link after one attempt",
        faults=lambda: [Fault.delay(0.05)],
    )
    yield Scenario(
        "delay-past-attempt-timeout-then-ok",
        "the answer comes 2 s late (per-attempt timeout 0.3 s), then success",
        "the read times out, retries with the same key, link",
        faults=lambda: [Fault.delay(2.0)],
        attempt_timeout=ATTEMPT_TIMEOUT,
        attempts=(2, 2),
        faulted_attempts_mint=None,  # the late answer mints whenever it wakes up
    )
    yield Scenario(
        "raw-trickle-within-deadline",
        "headers at once, then the body 16 bytes every 10 ms (raw server)",
        "every read makes progress: waits, link after one attempt",
        raw=lambda: [Trickle(interval=0.01, chunk=16)],
    )
    yield Scenario(
        "raw-trickle-past-deadline",
        "headers at once, then the body 1 byte every 50 ms (raw server; deadline 0.4 s)",
        "no single read times out, but the deadline is checked between reads: "
        "`ProviderUnavailable` (timed out) after one attempt",
        raw=lambda: [Trickle(interval=0.05, chunk=1)],
        policy=SHORT_DEADLINE,
        expect=ProviderUnavailable,
        attempts=(1, 2),
        faulted_attempts_mint=None,
        message="timed out",
    )


def _stream_cut_short(outcome: Outcome) -> None:
    """portalkit hung up after the limit: the endless body never reached the server's cap."""
    assert outcome.raw is not None
    assert 0 < outcome.raw.streamed < outcome.raw.max_stream_bytes


SCENARIOS: dict[str, Scenario] = {scenario.id: scenario for scenario in _scenarios()}


# -- running one scenario ---------------------------------------------------------------


class RecordingHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)  # renders record.message (and exc_text) as a real handler would
        self.records.append(record)


@contextmanager
def capture_logs() -> Iterator[RecordingHandler]:
    """Every record any logger emits at DEBUG and above, for the length of the block."""
    root = logging.getLogger()
    handler = RecordingHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def attempts_logged(records: Sequence[logging.LogRecord]) -> int:
    """Attempts made, as portalkit's own DEBUG records number them."""
    return sum(
        1
        for record in records
        if record.name == "portalkit"
        and " attempt " in record.getMessage()
        and record.levelno == logging.DEBUG
    )


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The request's idempotency key: ``Idempotency-Key``, or a vendor's own spelling of it
    (``chargebee-idempotency-key``)."""
    for name, value in headers.items():
        if name.lower() == "idempotency-key" or name.lower().endswith("-idempotency-key"):
            return value
    return None


def run(sandbox: Sandbox, scenario: Scenario, vendor: str, mode: str) -> Outcome:
    """Provoke ``scenario``'s fault and ask ``vendor``'s Portal (``mode``: sync or async)
    for a link, with every log record captured."""
    with ExitStack() as stack:
        base_url = sandbox.url
        raw: RawServer | None = None
        if scenario.raw is not None:
            raw = stack.enter_context(RawServer(scenario.raw(), upstream=sandbox.url))
            base_url = raw.url
        elif scenario.refused:
            base_url = f"http://127.0.0.1:{stack.enter_context(refused_port())}"
        customer = portal_customer(sandbox, vendor)
        sandbox.script(vendor, *scenario.faults())
        request = PortalRequest(customer_id=customer, return_url=RETURN_URL)
        provider = sandbox.provider(vendor, base_url=base_url)
        logs = stack.enter_context(capture_logs())
        link: PortalLink | None = None
        error: PortalError | None = None
        try:
            if mode == "sync":
                link = _create_sync(provider, scenario, request)
            else:
                link = asyncio.run(_create_async(provider, scenario, request))
        except PortalError as exc:
            error = exc
        server_attempts: int | None
        if raw is not None:
            keys = [idempotency_key(r.headers) for r in raw.requests]
            server_attempts = len(raw.requests)
        elif scenario.refused:
            keys, server_attempts = [], None
        else:
            received = sandbox.received(vendor)
            keys = [idempotency_key(r.headers) for r in received]
            server_attempts = len(received)
        return Outcome(
            request=request,
            link=link,
            error=error,
            attempts=attempts_logged(logs.records),
            server_attempts=server_attempts,
            idempotency_keys=keys,
            sessions=sandbox.sessions(vendor),
            records=list(logs.records),
            raw=raw,
        )


def _create_sync(
    provider: PortalProvider, scenario: Scenario, request: PortalRequest
) -> PortalLink:
    with ExitStack() as stack:
        client = None
        if scenario.attempt_timeout is not None:
            client = stack.enter_context(httpx.Client(timeout=scenario.attempt_timeout))
        portal = stack.enter_context(
            Portal(
                provider,
                http_client=client,
                retry=scenario.policy,
                max_response_bytes=scenario.max_response_bytes,
            )
        )
        return portal.create_link(request)


async def _create_async(
    provider: PortalProvider, scenario: Scenario, request: PortalRequest
) -> PortalLink:
    client = None
    if scenario.attempt_timeout is not None:
        client = httpx.AsyncClient(timeout=scenario.attempt_timeout)
    try:
        async with AsyncPortal(
            provider,
            http_client=client,
            retry=scenario.policy,
            max_response_bytes=scenario.max_response_bytes,
        ) as portal:
            return await portal.create_link(request)
    finally:
        if client is not None:
            await client.aclose()
