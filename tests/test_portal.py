"""Portal and AsyncPortal: retries, deadline, idempotency keys, client ownership, header
merging, the body size limit, unreadable answers, redaction. Every test runs sync and async
(``@both_modes``) over httpx.MockTransport; sleeps are recorded, never slept."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import attrs
import pytest
from _mock import (
    PADDLE_DOC_CUSTOMER,
    PADDLE_DOC_RESPONSE,
    PADDLE_DOC_TOKEN,
    PAYLERA_DOC_RESPONSE,
    PLUGIPAY_DOC_SESSION,
    ChunkStream,
    Script,
    Sent,
    both_modes,
    mint,
    raise_,
    record_sleeps,
    reply,
)

from portalkit import (
    AsyncPortal,
    Portal,
    PortalLink,
    PortalProvider,
    PortalRequest,
    RetryPolicy,
    errors,
)
from portalkit._http import httpx
from portalkit._retry import parse_retry_after
from portalkit.providers.paddle import Paddle
from portalkit.providers.paylera import Paylera
from portalkit.providers.plugipay import Plugipay

SECRETS = ("pk_portal_key_id", "sk_portal_secret_x81", "pl_portal_api_key_4f", "pdl_portal_key_9a")
ONCE = RetryPolicy(max_attempts=1)


@attrs.frozen
class Vendor:
    """One adapter with a request it accepts and the answer that mints a link."""

    provider: PortalProvider
    request: PortalRequest
    body: dict[str, Any]
    keyed: bool  # sends an Idempotency-Key


PLUGIPAY = Vendor(
    Plugipay(key_id=SECRETS[0], key_secret=SECRETS[1]),
    PortalRequest(PLUGIPAY_DOC_SESSION["customerId"], return_url="https://app.acme.com/account"),
    {"data": PLUGIPAY_DOC_SESSION},
    keyed=True,
)
PAYLERA = Vendor(
    Paylera(api_key=SECRETS[2]),
    PortalRequest("cus_42", return_url="https://yourapp.example/account/billing"),
    PAYLERA_DOC_RESPONSE,
    keyed=True,
)
PADDLE = Vendor(
    Paddle(api_key=SECRETS[3]),
    PortalRequest(PADDLE_DOC_CUSTOMER, subscription_ids=["sub_01h04vsc0qhwtsbsxh3422wjs4"]),
    PADDLE_DOC_RESPONSE,
    keyed=False,
)
VENDORS = [
    pytest.param(PLUGIPAY, id="plugipay"),
    pytest.param(PAYLERA, id="paylera"),
    pytest.param(PADDLE, id="paddle"),
]
KEYED_VENDORS = [param for param in VENDORS if param.values[0].keyed]


def ok(vendor: Vendor = PLUGIPAY) -> Any:
    return reply(201, vendor.body, headers={"X-Request-Id": "req_ok"})


def keys(sent: list[Sent]) -> list[str | None]:
    return [s.headers.get("Idempotency-Key") for s in sent]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


# -- retry sequences -----------------------------------------------------------------------


@both_modes
@pytest.mark.parametrize("vendor", KEYED_VENDORS)
def test_429_then_201_reuses_the_idempotency_key(
    mode: str, vendor: Vendor, sleeps: list[float]
) -> None:
    script = Script(reply(429, headers={"Retry-After": "1"}), ok(vendor))
    link = mint(mode, vendor.provider, script, vendor.request)

    assert len(script.sent) == 2
    first, second = keys(script.sent)
    assert first is not None
    assert first == second == link.idempotency_key
    assert script.sent[0].content == script.sent[1].content
    assert sleeps == [1.0]


@both_modes
def test_429_then_201_on_paddle_which_has_no_keys(mode: str, sleeps: list[float]) -> None:
    script = Script(reply(429, headers={"Retry-After": "2"}), ok(PADDLE))
    link = mint(mode, PADDLE.provider, script, PADDLE.request)

    assert keys(script.sent) == [None, None]
    assert link.idempotency_key is None
    assert sleeps == [2.0]


@both_modes
@pytest.mark.parametrize("vendor", VENDORS)
def test_503_twice_then_201(mode: str, vendor: Vendor, sleeps: list[float]) -> None:
    script = Script(reply(503), reply(503, {"error": {"code": "down"}}), ok(vendor))
    link = mint(mode, vendor.provider, script, vendor.request)

    assert link.session_id
    assert len(script.sent) == 3
    assert len(set(keys(script.sent))) == 1
    # Full-jitter exponential backoff under the default policy's ceilings (0.25s, 0.5s).
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.25
    assert 0 <= sleeps[1] <= 0.5


def _header(retry_after: str | float) -> str:
    """A Retry-After value; a number stands for an HTTP-date that many seconds from now
    (made when the test runs, not when it is collected)."""
    if isinstance(retry_after, str):
        return retry_after
    return format_datetime(datetime.now(UTC) + timedelta(seconds=retry_after), usegmt=True)


@both_modes
@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        pytest.param("2", 2.0, 2.0, id="seconds"),
        pytest.param(" 0.5 ", 0.5, 0.5, id="fractional-seconds"),
        # An HTTP-date has whole seconds: the wait is up to one second shorter.
        pytest.param(4, 1.0, 4.0, id="http-date"),
        pytest.param("soon", 0.0, 0.25, id="unreadable-falls-back-to-backoff"),
        pytest.param("600", 5.0, 5.0, id="capped"),
    ],
)
def test_retry_after_is_honoured(
    mode: str, retry_after: str | float, low: float, high: float, sleeps: list[float]
) -> None:
    policy = RetryPolicy(retry_after_cap=5.0, deadline=30.0)
    script = Script(reply(429, headers={"Retry-After": _header(retry_after)}), ok())
    mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request, retry=policy)

    assert len(sleeps) == 1
    assert low <= sleeps[0] <= high


@both_modes
@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        pytest.param("10", 10.0, 10.0, id="seconds"),
        pytest.param(60, 55.0, 60.0, id="http-date"),
    ],
)
def test_retry_after_beyond_the_deadline_raises_at_once(
    mode: str, retry_after: str | float, low: float, high: float, sleeps: list[float]
) -> None:
    script = Script(reply(429, headers={"Retry-After": _header(retry_after), "X-Request-Id": "r9"}))
    with pytest.raises(errors.RateLimited) as caught:
        mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request, retry=RetryPolicy(deadline=2.0))

    assert len(script.sent) == 1  # no second attempt...
    assert sleeps == []  # ...and no sleep before giving up
    assert caught.value.retry_after is not None
    assert low <= caught.value.retry_after <= high
    assert caught.value.status == 429
    assert caught.value.request_id == "r9"
    assert "retry after" in str(caught.value)


@both_modes
def test_a_spent_deadline_stops_backoff_retries_too(mode: str, sleeps: list[float]) -> None:
    script = Script(reply(503))
    with pytest.raises(errors.ProviderUnavailable):
        mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request, retry=RetryPolicy(deadline=1e-9))
    assert len(script.sent) == 1
    assert sleeps == []


@both_modes
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (503, errors.ProviderUnavailable),
        (500, errors.ProviderUnavailable),
        (408, errors.ProviderUnavailable),
        (429, errors.RateLimited),
    ],
)
def test_max_attempts_exhausted(
    mode: str, status: int, error: type[errors.PortalError], sleeps: list[float]
) -> None:
    script = Script(*[reply(status, {"error": {"code": f"e{status}"}})] * 3)
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request, retry=RetryPolicy(max_attempts=3))

    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.code == f"e{status}"
    assert len(script.sent) == 3
    assert len(sleeps) == 2
    assert len(set(keys(script.sent))) == 1


@both_modes
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422])
def test_other_4xx_are_tried_exactly_once(
    mode: str, vendor: Vendor, status: int, sleeps: list[float]
) -> None:
    script = Script(reply(status, {"error": {"code": "no"}}))
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, vendor.provider, script, vendor.request)
    assert not isinstance(caught.value, errors.ProviderUnavailable | errors.RateLimited)
    assert caught.value.status == status
    assert len(script.sent) == 1
    assert sleeps == []


TRANSPORT_ERRORS = [
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadTimeout,
    httpx.ReadError,
    httpx.RemoteProtocolError,  # the server dropped the connection mid-answer
    httpx.PoolTimeout,
]


@both_modes
@pytest.mark.parametrize("failure", TRANSPORT_ERRORS)
def test_transport_errors_are_retried(
    mode: str, failure: type[httpx.TransportError], sleeps: list[float]
) -> None:
    script = Script(raise_(failure), raise_(failure), ok())
    link = mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request)

    assert link.session_id == PLUGIPAY_DOC_SESSION["id"]
    assert len(script.sent) == 3
    assert len(set(keys(script.sent))) == 1
    assert len(sleeps) == 2


@both_modes
@pytest.mark.parametrize("failure", TRANSPORT_ERRORS)
def test_transport_errors_become_provider_unavailable(
    mode: str, failure: type[httpx.TransportError], sleeps: list[float]
) -> None:
    script = Script(*[raise_(failure, "secret-free detail")] * 4)
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request)

    exc = caught.value
    assert type(exc) is errors.ProviderUnavailable
    assert exc.provider == "plugipay"
    assert exc.status is None
    assert failure.__name__ in str(exc)
    assert ("timed out" in str(exc)) == issubclass(failure, httpx.TimeoutException)
    assert len(script.sent) == 4


# -- answers portalkit cannot read ---------------------------------------------------------

UNREADABLE = [
    pytest.param(reply(201), id="empty-body"),
    pytest.param(
        reply(201, content=b"", headers={"Content-Type": "application/json"}), id="empty-json"
    ),
    pytest.param(
        reply(201, content=b"<html>hi</html>", headers={"Content-Type": "application/json"}),
        id="not-json",
    ),
    pytest.param(
        reply(201, content=b'{"data": {"id": "ps_', headers={"Content-Type": "application/json"}),
        id="truncated",
    ),
    pytest.param(
        reply(201, content=b'{"id": "\xff\xfe"}', headers={"Content-Type": "application/json"}),
        id="not-utf8",
    ),
    pytest.param(
        reply(201, content=b'{"data": {}}', headers={"Content-Type": "text/html"}),
        id="wrong-content-type",
    ),
    pytest.param(reply(201, content=b'{"data": {}}'), id="no-content-type"),
    pytest.param(reply(201, [1, 2]), id="json-array"),
    pytest.param(reply(201, "ok"), id="json-string"),
    pytest.param(reply(201, {}), id="empty-object"),
    pytest.param(reply(201, {"data": None, "id": None, "url": None}), id="nulls"),
]


@both_modes
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("answer", UNREADABLE)
def test_unreadable_answers_are_invalid_response(mode: str, vendor: Vendor, answer: Any) -> None:
    script = Script(answer)
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, vendor.provider, script, vendor.request, retry=ONCE)
    # Exactly this class: never a KeyError, JSONDecodeError, cattrs or httpx error.
    assert type(caught.value) is errors.InvalidResponse
    assert caught.value.provider == vendor.provider.name
    assert caught.value.status == 201


@both_modes
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize(
    ("status", "error"),
    # A body that is not the vendor's error envelope is no verdict of the vendor's: a 404 is
    # not CustomerNotFound (issue 24), while a 5xx is an outage whoever sent the page.
    [(404, errors.UnexpectedEndpoint), (500, errors.ProviderUnavailable)],
)
@pytest.mark.parametrize(
    "content",
    [b"", b"<html>proxy error</html>", b"[1]", b'{"error": "flat"}', b'{"error": {"code": 5}}'],
)
def test_unreadable_error_bodies_are_no_verdict(
    mode: str, vendor: Vendor, status: int, error: type[errors.PortalError], content: bytes
) -> None:
    script = Script(reply(status, content=content, headers={"Content-Type": "text/html"}))
    with pytest.raises(errors.PortalError) as caught:
        mint(mode, vendor.provider, script, vendor.request, retry=ONCE)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert caught.value.code is None


@both_modes
def test_a_compressed_answer_is_decoded_once(mode: str) -> None:
    content = gzip.compress(json.dumps(PAYLERA_DOC_RESPONSE).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    script = Script(reply(201, content=content, headers=headers))
    link = mint(mode, PAYLERA.provider, script, PAYLERA.request)
    assert link.raw == PAYLERA_DOC_RESPONSE


@both_modes
def test_an_undecodable_compressed_answer_is_a_portal_error(mode: str) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    script = Script(reply(201, content=b"not gzip", headers=headers))
    with pytest.raises(errors.ProviderUnavailable) as caught:
        mint(mode, PAYLERA.provider, script, PAYLERA.request, retry=ONCE)
    assert caught.value.provider == "paylera"
    assert isinstance(caught.value.__cause__, httpx.DecodingError)


@both_modes
def test_an_unreadable_answer_is_retried_with_the_same_key(mode: str, sleeps: list[float]) -> None:
    script = Script(reply(201, content=b'{"da', headers={"Content-Type": "application/json"}), ok())
    link = mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request)
    assert link.session_id == PLUGIPAY_DOC_SESSION["id"]
    assert len(script.sent) == 2
    assert len(set(keys(script.sent))) == 1


# -- the body size limit -------------------------------------------------------------------


def _padded_body(size: int) -> bytes:
    """A valid Plugipay answer of exactly ``size`` bytes (unknown keys are ignored)."""
    body = {"data": PLUGIPAY_DOC_SESSION, "padding": ""}
    base = len(httpx.Response(201, json=body).content)
    body["padding"] = "x" * (size - base)
    content = httpx.Response(201, json=body).content
    assert len(content) == size
    return content


@both_modes
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_is_read(mode: str, declared: bool) -> None:
    content = _padded_body(2048)
    stream = ChunkStream(content, 1)
    headers = {"Content-Type": "application/json"}
    answer = (
        reply(201, content=content, headers=headers)
        if declared
        else (lambda request: httpx.Response(201, headers=headers, stream=stream))
    )
    link = mint(mode, PLUGIPAY.provider, Script(answer), PLUGIPAY.request, max_response_bytes=2048)
    assert link.session_id == PLUGIPAY_DOC_SESSION["id"]


@both_modes
def test_a_declared_oversized_body_is_refused_unread(mode: str) -> None:
    content = _padded_body(2049)
    script = Script(reply(201, content=content, headers={"Content-Type": "application/json"}))
    with pytest.raises(errors.InvalidResponse) as caught:
        mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request, max_response_bytes=2048, retry=ONCE)
    assert "2048-byte limit" in str(caught.value)
    assert caught.value.status == 201


@both_modes
def test_an_oversized_stream_is_cut_off(mode: str) -> None:
    stream = ChunkStream(b"x" * 1024, 10_000)  # 10 MiB, no Content-Length

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, headers={"Content-Type": "application/json"}, stream=stream)

    with pytest.raises(errors.InvalidResponse) as caught:
        mint(
            mode,
            PLUGIPAY.provider,
            Script(answer),
            PLUGIPAY.request,
            max_response_bytes=4096,
            retry=ONCE,
        )
    assert "4096-byte limit" in str(caught.value)
    assert stream.read <= 5  # stopped as soon as the limit was passed


def test_a_tiny_body_limit_is_a_configuration_mistake() -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        Portal(PLUGIPAY.provider, max_response_bytes=100)
    with pytest.raises(ValueError, match="max_response_bytes"):
        AsyncPortal(PLUGIPAY.provider, max_response_bytes=100)


# -- idempotency keys ----------------------------------------------------------------------


@both_modes
@pytest.mark.parametrize("vendor", KEYED_VENDORS)
def test_a_fresh_uuid_key_per_call(mode: str, vendor: Vendor) -> None:
    first = Script(ok(vendor))
    second = Script(ok(vendor))
    key_1 = mint(mode, vendor.provider, first, vendor.request).idempotency_key
    key_2 = mint(mode, vendor.provider, second, vendor.request).idempotency_key

    assert key_1 is not None
    assert key_2 is not None
    assert uuid.UUID(key_1).version == 4
    assert key_1 != key_2
    assert keys(first.sent) == [key_1]


@both_modes
@pytest.mark.parametrize("vendor", KEYED_VENDORS)
def test_a_callers_key_is_reused_on_every_attempt(
    mode: str, vendor: Vendor, sleeps: list[float]
) -> None:
    request = attrs.evolve(vendor.request, idempotency_key="checkout-77")
    script = Script(reply(503), raise_(httpx.ReadTimeout), ok(vendor))
    link = mint(mode, vendor.provider, script, request)
    assert keys(script.sent) == ["checkout-77"] * 3
    assert link.idempotency_key == "checkout-77"


def test_one_portal_shared_by_threads() -> None:
    lock = threading.Lock()
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            seen.append(request.headers["Idempotency-Key"])
        return httpx.Response(201, json=PLUGIPAY.body)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    with (
        client,
        Portal(PLUGIPAY.provider, http_client=client) as portal,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        links = list(pool.map(lambda _: portal.create_link(PLUGIPAY.request), range(32)))
    assert len(links) == 32
    assert sorted(seen) == sorted(link.idempotency_key for link in links)
    assert len(set(seen)) == 32


# -- the caller's client -------------------------------------------------------------------


@both_modes
def test_the_callers_client_is_used_and_left_open(mode: str) -> None:
    script = Script(ok(), ok())
    transport = httpx.MockTransport(script)
    if mode == "sync":
        client = httpx.Client(transport=transport)
        with Portal(PLUGIPAY.provider, http_client=client) as portal:
            portal.create_link(PLUGIPAY.request)
        assert not client.is_closed
        client.post("https://api.plugipay.com/v1/portal-sessions")  # still usable
        client.close()
    else:

        async def run() -> None:
            client = httpx.AsyncClient(transport=transport)
            async with AsyncPortal(PLUGIPAY.provider, http_client=client) as portal:
                await portal.create_link(PLUGIPAY.request)
            assert not client.is_closed
            await client.post("https://api.plugipay.com/v1/portal-sessions")
            await client.aclose()

        asyncio.run(run())
    assert len(script.sent) == 2


def test_a_portal_closes_the_client_it_made() -> None:
    with Portal(PLUGIPAY.provider) as portal:
        own = portal._client  # made by Portal: nothing else can reach it
        assert not own.is_closed
    assert own.is_closed


async def test_an_async_portal_closes_the_client_it_made() -> None:
    async with AsyncPortal(PLUGIPAY.provider) as portal:
        own = portal._client
        assert not own.is_closed
    assert own.is_closed


@both_modes
def test_client_headers_are_merged_under_the_adapters(mode: str, sleeps: list[float]) -> None:
    script = Script(reply(503), ok(PAYLERA))
    transport = httpx.MockTransport(script)
    client_headers = {
        "X-Trace-Id": "trace-1",
        "User-Agent": "myapp/2.0",
        "Authorization": "Bearer the-wrong-key",
        "Idempotency-Key": "a-client-default",
    }
    if mode == "sync":
        with (
            httpx.Client(transport=transport, headers=client_headers) as client,
            Portal(PAYLERA.provider, http_client=client) as portal,
        ):
            link = portal.create_link(PAYLERA.request)
    else:

        async def run() -> PortalLink:
            async with (
                httpx.AsyncClient(transport=transport, headers=client_headers) as client,
                AsyncPortal(PAYLERA.provider, http_client=client) as portal,
            ):
                return await portal.create_link(PAYLERA.request)

        link = asyncio.run(run())

    assert len(script.sent) == 2
    for sent in script.sent:  # on every attempt, not only the first
        assert sent.headers["X-Trace-Id"] == "trace-1"
        assert sent.headers["Authorization"] == f"Bearer {SECRETS[2]}"
        assert sent.headers["User-Agent"].startswith("portalkit/")
        assert sent.headers["Idempotency-Key"] == link.idempotency_key


@both_modes
def test_attempt_timeouts_never_outlast_the_deadline(mode: str, sleeps: list[float]) -> None:
    script = Script(reply(503), ok())
    mint(mode, PLUGIPAY.provider, script, PLUGIPAY.request, retry=RetryPolicy(deadline=2.0))
    for sent in script.sent:
        assert set(sent.timeout) == {"connect", "read", "write", "pool"}
        assert all(value is not None and 0 < value <= 2.0 for value in sent.timeout.values())


# -- refused before sending ----------------------------------------------------------------


@both_modes
def test_not_a_portal_request(mode: str) -> None:
    script = Script()
    with pytest.raises(errors.InvalidRequest) as caught:
        mint(mode, PLUGIPAY.provider, script, {"customer_id": "cus_1"})
    assert caught.value.field == "request"
    assert script.sent == []


@both_modes
@pytest.mark.parametrize(
    ("return_url", "allowed"),
    [
        ("https://app.acme.com/account", True),
        ("https://APP.acme.com./account", True),
        ("https://evil.example/account", False),
        ("https://app.acme.com.evil.example/", False),
    ],
)
def test_allowed_return_hosts(mode: str, return_url: str, allowed: bool) -> None:
    request = attrs.evolve(PLUGIPAY.request, return_url=return_url)
    script = Script(ok())
    options = {"allowed_return_hosts": ["app.acme.com"]}
    if allowed:
        mint(mode, PLUGIPAY.provider, script, request, **options)
        assert len(script.sent) == 1
    else:
        with pytest.raises(errors.InvalidRequest) as caught:
            mint(mode, PLUGIPAY.provider, script, request, **options)
        assert caught.value.field == "return_url"
        assert "allowed_return_hosts" in (caught.value.rule or "")
        assert script.sent == []


# -- nothing secret in reprs and logs ------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_reprs_show_no_credentials(vendor: Vendor) -> None:
    with Portal(vendor.provider) as portal:
        shown = [repr(portal), repr(vendor.provider), str(vendor.provider)]
    shown.append(repr(AsyncPortal(vendor.provider, http_client=httpx.AsyncClient())))
    for text in shown:
        assert vendor.provider.name.title() in text
        assert not any(secret in text for secret in SECRETS), text


@both_modes
@pytest.mark.parametrize("vendor", VENDORS)
def test_logs_show_no_url_key_or_signature(
    mode: str, vendor: Vendor, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(reply(429, headers={"Retry-After": "0"}), ok(vendor))
    link = mint(mode, vendor.provider, script, vendor.request)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{vendor.provider.name} attempt 1 failed" in logged  # something was logged...
    assert link.session_id in logged
    forbidden = [*SECRETS, link.url, "eyJhbGciOi", PADDLE_DOC_TOKEN, "/p/ps_"]
    forbidden += [s.headers.get("X-Plugipay-Signature", SECRETS[0]) for s in script.sent]
    assert not [item for item in forbidden if item in logged]  # ...but none of these


# -- Retry-After and the policy, directly --------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("  7 ", 7.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(value, now=lambda: now) == expected


def test_backoff_ceilings_double_up_to_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portalkit._retry.random.uniform", lambda low, high: high)
    policy = RetryPolicy(backoff_initial=0.25, backoff_max=2.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"deadline": 0}, {"backoff_initial": -1}, {"retry_after_cap": -1}],
)
def test_retry_policy_refuses_nonsense(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        RetryPolicy(**options)
