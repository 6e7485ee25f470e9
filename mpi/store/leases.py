"""Leases: which serving instance runs a piece of background work (a sweep, delivery) for now.

Several ``mpi serve`` instances over one PostgreSQL store would each run the
referral sweep and the delivery of status feedback; twice at once, a reminder is
sent twice or a message delivered twice. A lease names the one instance that
runs a piece of work until it expires: the holder renews it before each run, and
another instance takes it over only once it has lapsed (the holder stopped or
died). Over the embedded DuckDB file there is one instance, which always holds it.

The statement is one atomic upsert that both backends accept: it takes a free or
lapsed lease, or renews one this instance holds, and leaves any other alone.
"""

from __future__ import annotations

from datetime import timedelta

from mpi.store.database import Database


class LeaseTable:
    """Named leases of background work, each held by one instance until it expires."""

    def __init__(self, db: Database):
        self._db = db

    def hold(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease ``name`` for ``seconds`` if it is free, lapsed or ``holder``'s; whether it is."""
        now = self._db.now()
        with self._db.transaction():
            self._db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                [name, holder, now + timedelta(seconds=seconds), now])
            rows = self._db.query("SELECT holder FROM leases WHERE name = ?", [name])
        return bool(rows) and rows[0][0] == holder

    def release(self, name: str, holder: str) -> None:
        """Give up the lease if ``holder`` holds it (a clean stop: another instance need not wait it out)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", [name, holder])

    def holders(self) -> dict[str, tuple[str, object]]:
        """Every lease: name -> (holder, expires at)."""
        return {r[0]: (r[1], r[2]) for r in self._db.query("SELECT name, holder, expires_at FROM leases")}
