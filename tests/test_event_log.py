"""The webhook event logs: InMemoryEventLog, and SqlEventLog on an SQLite file and on a real
PostgreSQL server (tests/_postgres.py starts one), each with the same semantics: one claim
wins, a handled event stays handled, a released or expired claim is free again. Two
processes racing for the same events: exactly one wins each."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from _postgres import postgres_url  # noqa: F401 -- the fixture

from portalkit import Claim, EventLog, InMemoryEventLog
from portalkit.sql_event_log import SqlEventLog

PROVIDER = "acme"
RACED_EVENTS = 100


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the same semantics, for every log ------------------------------------------------------

MakeLog = Callable[..., EventLog]


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def make_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeLog]:
    """A factory of logs of one kind, all sharing one store (one dict, file or table)."""
    if request.param == "memory":
        shared: list[InMemoryEventLog] = []

        def memory(**options: Any) -> EventLog:
            # One process's logs are one object: the views of a process share it.
            if not shared:
                shared.append(InMemoryEventLog(**options))
            return shared[0]

        yield memory
        return
    url = (
        f"sqlite:///{tmp_path / 'events.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    table = f"events_{uuid.uuid4().hex[:12]}"
    made: list[SqlEventLog] = []

    def sql(**options: Any) -> EventLog:
        made.append(SqlEventLog(url, table_name=table, **options))
        return made[-1]

    yield sql
    for log in made:
        log.close()


def test_the_first_claim_wins_and_a_second_is_busy(make_log: MakeLog) -> None:
    log = make_log()
    assert log.claim(PROVIDER, "evt_1") is Claim.CLAIMED
    assert log.claim(PROVIDER, "evt_1") is Claim.BUSY
    assert make_log().claim(PROVIDER, "evt_1") is Claim.BUSY  # another worker, same store


def test_a_handled_event_is_done_for_every_worker(make_log: MakeLog) -> None:
    log = make_log()
    log.claim(PROVIDER, "evt_1")
    log.done(PROVIDER, "evt_1")
    assert log.claim(PROVIDER, "evt_1") is Claim.DONE
    assert make_log().claim(PROVIDER, "evt_1") is Claim.DONE


def test_a_released_event_may_be_claimed_again(make_log: MakeLog) -> None:
    log = make_log()
    log.claim(PROVIDER, "evt_1")
    log.release(PROVIDER, "evt_1")
    assert make_log().claim(PROVIDER, "evt_1") is Claim.CLAIMED


def test_release_never_forgets_a_handled_event(make_log: MakeLog) -> None:
    log = make_log()
    log.claim(PROVIDER, "evt_1")
    log.done(PROVIDER, "evt_1")
    log.release(PROVIDER, "evt_1")
    assert log.claim(PROVIDER, "evt_1") is Claim.DONE


def test_events_are_keyed_by_provider_and_id(make_log: MakeLog) -> None:
    log = make_log()
    assert log.claim(PROVIDER, "evt_1") is Claim.CLAIMED
    assert log.claim("other", "evt_1") is Claim.CLAIMED
    assert log.claim(PROVIDER, "evt_2") is Claim.CLAIMED


def test_an_expired_claim_is_taken_over_once(make_log: MakeLog) -> None:
    clock = Clock()
    log = make_log(lease_seconds=60, clock=clock)
    other = make_log(lease_seconds=60, clock=clock)
    assert log.claim(PROVIDER, "evt_1") is Claim.CLAIMED
    clock.now += 59
    assert other.claim(PROVIDER, "evt_1") is Claim.BUSY
    clock.now += 2  # the holder is presumed dead
    assert other.claim(PROVIDER, "evt_1") is Claim.CLAIMED
    assert log.claim(PROVIDER, "evt_1") is Claim.BUSY  # the new claim holds its own lease
    other.done(PROVIDER, "evt_1")
    clock.now += 10_000
    assert log.claim(PROVIDER, "evt_1") is Claim.DONE  # no lease on a handled event


def test_done_without_a_claim_still_records_the_event(make_log: MakeLog) -> None:
    log = make_log()
    log.done(PROVIDER, "evt_1")
    assert log.claim(PROVIDER, "evt_1") is Claim.DONE


# -- InMemoryEventLog: bounded ----------------------------------------------------------------


def test_memory_log_forgets_the_oldest_handled_events_past_its_bound() -> None:
    log = InMemoryEventLog(max_events=3)
    for number in range(4):
        assert log.claim(PROVIDER, f"evt_{number}") is Claim.CLAIMED
        log.done(PROVIDER, f"evt_{number}")
    assert len(log) == 3
    assert log.claim(PROVIDER, "evt_3") is Claim.DONE
    assert log.claim(PROVIDER, "evt_0") is Claim.CLAIMED  # forgotten: handled again


def test_memory_log_keeps_a_claim_in_progress_over_older_handled_events() -> None:
    log = InMemoryEventLog(max_events=2)
    log.claim(PROVIDER, "running")
    log.claim(PROVIDER, "evt_1")
    log.done(PROVIDER, "evt_1")
    log.claim(PROVIDER, "evt_2")
    assert len(log) == 2
    assert log.claim(PROVIDER, "running") is Claim.BUSY  # still guarded
    assert log.claim(PROVIDER, "evt_1") is Claim.CLAIMED  # the handled one made room


# -- SqlEventLog ------------------------------------------------------------------------------


def test_sql_log_defaults_to_an_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    log = SqlEventLog()
    try:
        assert log.claim(PROVIDER, "evt_1") is Claim.CLAIMED
    finally:
        log.close()
    assert (tmp_path / "portalkit-webhook-events.db").is_file()
    assert "sqlite" in repr(log)


def test_sql_log_keeps_ids_and_times_only(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    log = SqlEventLog(engine, table_name="hooks")
    log.create_table()
    log.create_table()  # idempotent
    log.claim(PROVIDER, "evt_1")
    columns = {column["name"] for column in sa.inspect(engine).get_columns("hooks")}
    assert columns == {"provider", "event_id", "state", "claimed_at", "done_at"}
    log.close()  # the app's engine is the app's to dispose
    with engine.connect() as connection:
        assert connection.execute(sa.text("select count(*) from hooks")).scalar() == 1
    engine.dispose()


def test_sql_log_prunes_old_handled_events_only(tmp_path: Path) -> None:
    clock = Clock()
    log = SqlEventLog(f"sqlite:///{tmp_path / 'events.db'}", clock=clock)
    try:
        log.claim(PROVIDER, "old")
        log.done(PROVIDER, "old")
        log.claim(PROVIDER, "old_claim")
        clock.now += 1_000
        log.claim(PROVIDER, "recent")
        log.done(PROVIDER, "recent")
        assert log.prune(older_than_seconds=500) == 1
        assert log.claim(PROVIDER, "old") is Claim.CLAIMED  # forgotten
        assert log.claim(PROVIDER, "recent") is Claim.DONE
        assert log.claim(PROVIDER, "old_claim") is Claim.CLAIMED  # expired claim, taken over
    finally:
        log.close()


def test_sql_log_refuses_a_lease_of_zero() -> None:
    with pytest.raises(ValueError, match="lease_seconds"):
        SqlEventLog("sqlite://", lease_seconds=0)


# -- two processes, one database ----------------------------------------------------------------


class SlowReader(SqlEventLog):
    """A worker that pauses between reading an event's row and acting on it. With both
    workers in step, both read the same expired claim before either swaps it, so the race
    reaches the compare-and-swap instead of one worker finding the other's fresh claim."""

    def _read(self, provider: str, event_id: str) -> tuple[str, float] | None:
        row = super()._read(provider, event_id)
        time.sleep(0.01)
        return row


def claim_all(url: str, table: str, in_step: Any, results: Any) -> None:
    """A worker process: claim every raced event, each at the same moment as the other."""
    log = SlowReader(url, table_name=table)
    try:
        claims = []
        for n in range(RACED_EVENTS):
            in_step.wait()
            claims.append(log.claim(PROVIDER, f"evt_{n}").value)
        results.put(claims)
    finally:
        log.close()


def race(url: str) -> None:
    table = f"race_{uuid.uuid4().hex[:12]}"
    # Half the events start as a claim whose lease ran out long ago: those race through the
    # compare-and-swap takeover; the other half through the INSERT.
    stale = SqlEventLog(url, table_name=table, clock=lambda: 0.0)
    try:
        for n in range(0, RACED_EVENTS, 2):
            assert stale.claim(PROVIDER, f"evt_{n}") is Claim.CLAIMED
    finally:
        stale.close()
    context = multiprocessing.get_context("spawn")
    in_step = context.Barrier(2, timeout=60)
    results = context.Queue()
    workers = [
        context.Process(target=claim_all, args=(url, table, in_step, results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    for n in range(RACED_EVENTS):
        assert sorted(outcome[n] for outcome in outcomes) == ["busy", "claimed"], f"evt_{n}"


def test_two_processes_on_sqlite_exactly_one_wins_each_event(tmp_path: Path) -> None:
    race(f"sqlite:///{tmp_path / 'events.db'}")


def test_two_processes_on_postgresql_exactly_one_wins_each_event(postgres_url: str) -> None:  # noqa: F811
    race(postgres_url)
