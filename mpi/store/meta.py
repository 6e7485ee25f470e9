"""The ``meta`` table: a few named settings of the store itself (the active model, the rules records follow)."""

from __future__ import annotations

from mpi.store.database import Database


class MetaTable:
    """Key-value settings of one store, read on every request and so cached between writes."""

    def __init__(self, db: Database):
        self._db = db

    def get(self, key: str) -> str | None:
        # Meta is never buffered, so this read need not flush (it runs once per matched record).
        def read() -> str | None:
            rows = self._db.query("SELECT value FROM meta WHERE key = ?", [key], flush=False)
            return rows[0][0] if rows else None
        return self._db.cache.get(("meta", key), read)

    def set(self, key: str, value: str) -> None:
        """Set a value (in its own transaction, or joining the caller's)."""
        with self._db.transaction():
            self._db.cache.write_begins()
            self._db.execute("DELETE FROM meta WHERE key = ?", [key])
            self._db.execute("INSERT INTO meta VALUES (?, ?)", [key, value])
