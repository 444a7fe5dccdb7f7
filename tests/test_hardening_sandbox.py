"""Issue 10, item 9: the sandbox survives what a long test suite throws at it.

Bounded memory (a request-log ring holding body prefixes, capped sessions, replays and
cookies), deep JSON on any route answered 400, a non-finite clock value refused without
breaking later calls, links built from the bound address (not the Host header), control
endpoints that take only application/json, and ``portalkit sandbox`` stopping cleanly on
SIGTERM or refusing a bad --port in one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from portalkit import Portal, PortalRequest
from portalkit._http import httpx
from portalkit.sandbox import Sandbox, _store
from portalkit.sandbox._store import ReceivedRequest, Session, Store
from portalkit.sandbox._twins import load_twins

MIB = 1 << 20
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sandbox = Sandbox()
    with sandbox.serve(host="127.0.0.1", port=0):
        yield sandbox


def _session(n: int, now: datetime) -> Session:
    return Session(
        vendor="paddle",
        id=f"cpls_{n}",
        customer_id="ctm_x",
        return_url=None,
        configuration=None,
        subscription_ids=(),
        locale=None,
        account_id=None,
        idempotency_key=None,
        created_at=now,
        expires_at=now + timedelta(minutes=15),
        used=False,
        url=f"http://127.0.0.1/paddle/cpl_{n}",
        token="t",
        link_id=f"cpl_{n}",
    )


# -- memory ---------------------------------------------------------------------------


def test_20000_sessions_keep_at_most_the_documented_cap() -> None:
    store = Store(load_twins())
    now = datetime.now(UTC)
    for n in range(20_000):
        store.add_session(_session(n, now))
    assert len(store.sessions("paddle")) == _store.MAX_SESSIONS
    assert store.session("paddle", "cpls_0") is None  # the oldest went first
    assert store.session("paddle", "cpls_19999") is not None
    assert store.session_by_link("paddle", "cpl_0") is None  # and its link with it
    assert len(store._links) == _store.MAX_SESSIONS


class _CountedTime(datetime):
    """An expiry time that counts how often the store reads it."""

    reads = 0

    def timestamp(self) -> float:
        _CountedTime.reads += 1
        return super().timestamp()


def test_past_the_cap_expired_sessions_go_first_without_a_walk_per_create() -> None:
    store = Store(load_twins())
    now = datetime.now(UTC)
    long_ago = now - timedelta(days=3)  # expired, and past SESSION_RETENTION
    live = _CountedTime.fromtimestamp(now.timestamp(), UTC)
    _CountedTime.reads = 0
    for n in range(_store.MAX_SESSIONS):
        session = _session(n, long_ago if n % 2 else now)
        store.add_session(attrs.evolve(session, expires_at=live) if n % 2 == 0 else session)
    store.add_session(_session(_store.MAX_SESSIONS, now))  # the first overflow: a scan
    assert len(store.sessions("paddle")) == _store.MAX_SESSIONS // 2 + 1
    assert store.session("paddle", "cpls_1") is None  # expired long ago: gone first
    assert store.session("paddle", "cpls_0") is not None  # the oldest live one stays
    for n in range(_store.MAX_SESSIONS + 1, 2 * _store.MAX_SESSIONS):
        store.add_session(_session(n, now))
    assert len(store.sessions("paddle")) == _store.MAX_SESSIONS
    # About one walk per STALE_SCAN_EVERY overflows, not one per create (which would be
    # tens of millions of reads here).
    assert _CountedTime.reads <= 10 * _store.MAX_SESSIONS


def test_replays_and_cookies_are_capped() -> None:
    store = Store(load_twins())
    for n in range(_store.MAX_REPLAYS + 500):
        store.remember("paylera", f"key-{n}", _store.Replay("f", 201, b"{}", store.now()))
    assert len(store._replays) == _store.MAX_REPLAYS
    assert store.replay("paylera", "key-0") is None
    for _ in range(_store.MAX_COOKIES + 10):
        store.new_cookie(_store.PortalCookie("paddle", "s", None, None))
    assert len(store._cookies) == _store.MAX_COOKIES


def test_the_request_log_is_a_ring_of_body_prefixes() -> None:
    store = Store(load_twins())
    now = datetime.now(UTC)
    for n in range(_store.MAX_RECEIVED + 50):
        body = b'{"n": %d}' % n + b" " * MIB
        store.record(ReceivedRequest("paylera", "POST", "/v1/portal/sessions", "", {}, body, now))
    received = store.received("paylera")
    assert len(received) == _store.MAX_RECEIVED
    assert received[0].body.startswith(b'{"n": 50}')  # the first 50 left the ring
    assert all(len(r.body) == _store.MAX_LOGGED_BODY for r in received)
    assert received[0].body_length == len(b'{"n": 50}') + MIB
    assert received[0].truncated
    with pytest.raises(ValueError, match="truncated"):
        received[0].json()


def test_100_refused_1mb_bodies_grow_the_sandbox_by_little(sandbox: Sandbox) -> None:
    body = b'{"customer_id": "' + b"x" * (MIB - 40) + b'"}'
    with httpx.Client(base_url=sandbox.url) as client:
        client.post("/v1/portal/sessions", content=body)  # warm up
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for _ in range(100):
                answer = client.post(
                    "/v1/portal/sessions",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                assert answer.status_code < 500
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Whole bodies would be 100 MiB; prefixes are 400 KiB.
    assert after - before < 10 * MIB, f"grew {(after - before) / MIB:.1f} MiB"
    logged = sandbox.received("paylera")[-1]
    assert logged.body_length == len(body)
    assert len(logged.body) == _store.MAX_LOGGED_BODY


def test_creates_past_the_cap_still_work(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_store, "MAX_SESSIONS", 5)
    monkeypatch.setattr(_store, "MAX_RECEIVED", 5)
    sandbox.reset()  # the request-log rings take the new size
    customer = sandbox.customers("paddle")[0]
    with Portal(sandbox.provider("paddle")) as portal:
        for _ in range(12):
            assert portal.create_link(PortalRequest(customer)).customer_id == customer
    assert len(sandbox.sessions("paddle")) == 5
    assert len(sandbox.received("paddle")) == 5


# -- deep JSON, non-finite clock values ---------------------------------------------------


def _post_routes(sandbox: Sandbox) -> list[str]:
    customer = sandbox.customers("paddle")[0]
    paths = []
    for route in sandbox._app.app.routes:
        if "POST" not in (getattr(route, "methods", None) or set()):
            continue
        path = route.path.replace("{vendor}", "paddle").replace("{customer_id}", customer)
        paths.append(path.replace("{session_id}", "ps_x"))
    return paths


def test_deep_json_on_any_route_is_a_400(sandbox: Sandbox) -> None:
    paths = _post_routes(sandbox)
    assert len(paths) >= 8
    headers = {"Content-Type": "application/json", "Idempotency-Key": "k1"}
    with httpx.Client(base_url=sandbox.url) as client:
        for path in paths:
            answer = client.post(path, content=DEEP, headers=headers)
            assert answer.status_code < 500, path
            if not path.endswith("/exchange") and path != "/_sandbox/reset":
                # 404 where a path parameter this test cannot fill (a site name) names
                # nothing: refused before the body is read, which is as good.
                allowed = (400, 401, 403, 404) if "{" in path else (400, 401, 403)
                assert answer.status_code in allowed, path
        # ...and the sandbox still serves.
        customer = sandbox.customers("paddle")[0]
    with Portal(sandbox.provider("paddle")) as portal:
        assert portal.create_link(PortalRequest(customer)).customer_id == customer


@pytest.mark.parametrize("seconds", [float("inf"), float("-inf"), float("nan"), 1e300])
def test_a_non_finite_or_absurd_advance_is_refused_and_breaks_nothing(
    sandbox: Sandbox, seconds: float
) -> None:
    with pytest.raises(ValueError, match="advance"):
        sandbox.advance(seconds)
    customer = sandbox.customers("paddle")[0]
    with Portal(sandbox.provider("paddle")) as portal:
        assert portal.create_link(PortalRequest(customer)).customer_id == customer


@pytest.mark.parametrize("text", ["1e309", "-1e309", "NaN", "Infinity"])
def test_the_advance_endpoint_refuses_non_finite_values(sandbox: Sandbox, text: str) -> None:
    with httpx.Client(base_url=sandbox.url) as client:
        answer = client.post(
            "/_sandbox/advance",
            content=b'{"seconds": ' + text.encode() + b"}",
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    customer = sandbox.customers("paddle")[0]
    with Portal(sandbox.provider("paddle")) as portal:
        assert portal.create_link(PortalRequest(customer)).customer_id == customer


# -- the Host header, the control endpoints' content type -----------------------------


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/v1/portal/sessions", b'{"customer_id": "cus_paylera0001"}', {}),
        ("/customers/{paddle}/portal-sessions", b"{}", {}),
    ],
)
def test_links_come_from_the_bound_address_not_the_host_header(
    sandbox: Sandbox, path: str, body: bytes, headers: dict[str, str]
) -> None:
    vendor = "paddle" if "{paddle}" in path else "paylera"
    path = path.replace("{paddle}", sandbox.customers("paddle")[0])
    credentials = sandbox.credentials(vendor)
    sent = {
        "Host": "evil.example",
        "Content-Type": "application/json",
        "Authorization": f"Bearer {credentials['api_key']}",
        "Idempotency-Key": "host-test",
        **headers,
    }
    if vendor == "paylera":
        body = b'{"customer_id": "%s"}' % sandbox.customers("paylera")[0].encode()
    with httpx.Client(base_url=sandbox.url) as client:
        answer = client.post(path, content=body, headers=sent)
    assert answer.status_code == 201, answer.text
    assert "evil.example" not in answer.text
    assert sandbox.url in answer.text


@pytest.mark.parametrize(
    "content_type", [None, "application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]
)
@pytest.mark.parametrize(
    "path", ["/_sandbox/reset", "/_sandbox/advance", "/_sandbox/paddle/faults"]
)
def test_control_posts_take_only_json(
    sandbox: Sandbox, path: str, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    sandbox.advance(1)  # so a reset that got through would show: the clock goes back
    now = sandbox.now()
    with httpx.Client(base_url=sandbox.url) as client:
        answer = client.post(
            path, content=b'{"seconds": 60, "faults": [{"kind": "drop"}]}', headers=headers
        )
    assert answer.status_code == 415
    assert (sandbox.now() - now).total_seconds() < 30  # neither advanced nor reset
    assert sandbox.now() >= now
    assert sandbox._store.pending_faults("paddle") == []
    with httpx.Client(base_url=sandbox.url) as client:
        ok = client.post(path, json={"seconds": 60, "faults": []})
    assert ok.status_code in (200, 204)


# -- the CLI --------------------------------------------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from portalkit.cli import main; raise SystemExit(main())", *args]


def test_portalkit_sandbox_stops_cleanly_on_sigterm() -> None:
    process = subprocess.Popen(  # noqa: S603 -- this interpreter, our own CLI
        _cli("sandbox", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while "Serving until" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        assert "Serving until" in line
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "stopped" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("port", ["70000", "-1", "65536"])
def test_a_bad_port_is_one_clear_line(port: str) -> None:
    done = subprocess.run(  # noqa: S603 -- this interpreter, our own CLI
        _cli("sandbox", "--port", port), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "--port" in lines[0]
    assert "Traceback" not in done.stderr
