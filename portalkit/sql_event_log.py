"""The webhook event log in a SQL database, for an app on several processes or hosts (the
``sql`` extra: SQLAlchemy Core).

Workers on several hosts share a database, not a process: they all consult one table, and
the database decides which of two workers delivered the same event may handle it::

    from portalkit.sql_event_log import SqlEventLog

    event_log = SqlEventLog("postgresql+psycopg://app@db/app")   # or an Engine
    view = webhook_view(hooks, on_event, event_log=event_log)

The default is an SQLite file in the working directory (``portalkit-webhook-events.db``),
enough for one host with several worker processes. The table is created on first use
(``create_table`` creates it ahead, e.g. in a migration step); ``prune`` forgets handled
events older than the vendors' redelivery window.

One row per event, keyed by (provider, event id): its state (claimed or done) and times.
The table never holds the payload, the signature or the secret.

Exactly one claim wins, by the database's own guarantees: a first claim is an INSERT (the
primary key refuses the second), and taking over a claim whose lease ran out is an UPDATE
that succeeds only while the row still holds the ``claimed_at`` it was read with (a
compare-and-swap; the loser's UPDATE matches no row). Times are the hosts' wall clocks
(``time.time``), which must agree to well within ``lease_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.schema import CreateIndex, CreateTable

from ._event_log import DEFAULT_LEASE_SECONDS, Claim

__all__ = ["DEFAULT_URL", "SqlEventLog"]

#: An SQLite file in the working directory: one host, any number of worker processes.
DEFAULT_URL = "sqlite:///portalkit-webhook-events.db"

_CLAIMED = "claimed"
_DONE = "done"
#: A claim that meets a row, finds it gone (released meanwhile) and inserts again: a few
#: rounds settle it; past them the event is busy, and the vendor retries.
_ATTEMPTS = 5


class SqlEventLog:
    """An ``EventLog`` in a SQL table, shared by every process that opens the same database.

    ``engine_or_url``: a SQLAlchemy ``Engine`` (the app's own; never disposed here) or a
    database URL. ``lease_seconds``: how long a claim holds before another worker may take
    the event over (its holder is presumed dead). ``clock``: Unix seconds, for tests.
    """

    def __init__(
        self,
        engine_or_url: Engine | str | sa.URL = DEFAULT_URL,
        *,
        table_name: str = "portalkit_webhook_events",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError("lease_seconds must be more than 0")
        self._owns_engine = not isinstance(engine_or_url, Engine)
        self.engine = (
            engine_or_url if isinstance(engine_or_url, Engine) else sa.create_engine(engine_or_url)
        )
        self.lease_seconds = lease_seconds
        self._clock = clock
        self.table = _table(table_name)
        self._created = False
        self._create_lock = threading.Lock()

    def create_table(self) -> None:
        """Create the table and its index unless they exist; safe to call from several
        processes at once."""
        with self._create_lock:
            if self._created:
                return
            try:
                with self.engine.begin() as connection:
                    connection.execute(CreateTable(self.table, if_not_exists=True))
                    for index in self.table.indexes:
                        connection.execute(CreateIndex(index, if_not_exists=True))
            except DBAPIError:
                # Two processes creating at once: PostgreSQL's IF NOT EXISTS can still fail
                # in the slower one. The table being there is all that matters.
                if not sa.inspect(self.engine).has_table(self.table.name):
                    raise
            self._created = True

    def claim(self, provider: str, event_id: str) -> Claim:
        self.create_table()
        for _ in range(_ATTEMPTS):
            now = self._clock()
            if self._insert(provider, event_id, _CLAIMED, now):
                return Claim.CLAIMED
            row = self._read(provider, event_id)
            if row is None:  # released between the INSERT and the read: claim it afresh
                continue
            state, claimed_at = row
            if state == _DONE:
                return Claim.DONE
            if now - claimed_at < self.lease_seconds:
                return Claim.BUSY
            return (
                Claim.CLAIMED
                if self._take_over(provider, event_id, claimed_at, now)
                else Claim.BUSY
            )
        return Claim.BUSY

    def done(self, provider: str, event_id: str) -> None:
        self.create_table()
        for _ in range(_ATTEMPTS):
            now = self._clock()
            with self.engine.begin() as connection:
                updated = connection.execute(
                    sa.update(self.table)
                    .where(*self._key(provider, event_id))
                    .values(state=_DONE, done_at=now)
                )
            # No row: released or pruned meanwhile. Recorded anyway, as InMemoryEventLog
            # does; a claim inserted in between is marked in the next round.
            if updated.rowcount == 1 or self._insert(provider, event_id, _DONE, now):
                return

    def release(self, provider: str, event_id: str) -> None:
        self.create_table()
        with self.engine.begin() as connection:
            connection.execute(
                sa.delete(self.table).where(
                    *self._key(provider, event_id), self.table.c.state == _CLAIMED
                )
            )

    def prune(self, older_than_seconds: float) -> int:
        """Forget the events handled more than ``older_than_seconds`` ago (a redelivery
        that late would be handled again); claims are kept. The number forgotten."""
        self.create_table()
        cutoff = self._clock() - older_than_seconds
        with self.engine.begin() as connection:
            deleted = connection.execute(
                sa.delete(self.table).where(
                    self.table.c.state == _DONE, self.table.c.done_at < cutoff
                )
            )
        return deleted.rowcount

    def close(self) -> None:
        """Close the connections of an engine made from a URL here (an app's own engine is
        left to the app)."""
        if self._owns_engine:
            self.engine.dispose()

    def __repr__(self) -> str:  # the URL may hold a password
        return f"SqlEventLog({self.engine.dialect.name}, table={self.table.name!r})"

    def _key(self, provider: str, event_id: str) -> tuple[sa.ColumnElement[bool], ...]:
        return (self.table.c.provider == provider, self.table.c.event_id == event_id)

    def _insert(self, provider: str, event_id: str, state: str, now: float) -> bool:
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.insert(self.table).values(
                        provider=provider,
                        event_id=event_id,
                        state=state,
                        claimed_at=now,
                        done_at=now if state == _DONE else None,
                    )
                )
        except IntegrityError:  # the primary key: someone has (or had) this event
            return False
        return True

    def _read(self, provider: str, event_id: str) -> tuple[str, float] | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(self.table.c.state, self.table.c.claimed_at).where(
                    *self._key(provider, event_id)
                )
            ).first()
        return None if row is None else (row.state, row.claimed_at)

    def _take_over(self, provider: str, event_id: str, claimed_at: float, now: float) -> bool:
        # Compare-and-swap: of two workers that read the same expired claim, the first
        # UPDATE changes claimed_at, so the second's WHERE matches nothing.
        with self.engine.begin() as connection:
            swapped = connection.execute(
                sa.update(self.table)
                .where(
                    *self._key(provider, event_id),
                    self.table.c.state == _CLAIMED,
                    self.table.c.claimed_at == claimed_at,
                )
                .values(claimed_at=now)
            )
        return swapped.rowcount == 1


def _table(name: str) -> sa.Table:
    metadata = sa.MetaData()
    return sa.Table(
        name,
        metadata,
        sa.Column("provider", sa.String(64), primary_key=True),
        # Vendors' ids, or "sha256:" and a hex digest for a vendor that sends none.
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        # Unix seconds, as a double: read back and compared exactly in the compare-and-swap.
        sa.Column("claimed_at", sa.Float(precision=53), nullable=False),
        sa.Column("done_at", sa.Float(precision=53), nullable=True),
        sa.Index(f"{name}_done_at", "state", "done_at"),
    )
