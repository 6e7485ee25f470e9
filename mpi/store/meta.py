"""The ``meta`` table: a few named settings of the store itself (the active model, the rules records follow)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mpi.errors import StoreError, StoreLocked
from mpi.store.database import Database
from mpi.store.urls import is_postgres_url


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
            self._db.cached_write("meta")
            self._db.execute("DELETE FROM meta WHERE key = ?", [key])
            self._db.execute("INSERT INTO meta VALUES (?, ?)", [key, value])


def peek(path: str | Path, key: str) -> str | None:
    """A meta value of the store file at ``path``, read without keeping the file: None if there is no file.

    For a command that must not hold the store (``mpi dedup --input``): the file is opened read-only, read
    and closed at once, never created or migrated.

    Raises:
        StoreLocked: another process (``mpi serve``) holds the file.
        StoreError: the file is not a store.
    """
    if is_postgres_url(str(path)):
        return _peek_postgres(str(path), key)
    p = Path(path)
    if not p.is_file():
        return None
    try:
        con = duckdb.connect(str(p), read_only=True)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise StoreLocked(f"the store {p} is held by another process, such as a running `mpi serve`",
                              str(p)) from e
        raise StoreError(f"cannot read the store at {p}: {type(e).__name__}") from e
    except duckdb.Error as e:
        raise StoreError(f"cannot read the store at {p}: {type(e).__name__}") from e
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
    except duckdb.Error as e:
        raise StoreError(f"{p} is not a store of this service: it has no meta table") from e
    finally:
        con.close()
    return rows[0][0] if rows else None


def _peek_postgres(url: str, key: str) -> str | None:
    """:func:`peek` of a PostgreSQL store: one short connection (several processes may hold the database)."""
    import psycopg  # (only for a PostgreSQL store)

    try:
        with psycopg.connect(url, autocommit=True) as con:
            rows = con.execute("SELECT value FROM meta WHERE key = %s", [key]).fetchall()
    except psycopg.errors.UndefinedTable:
        return None  # a database not yet made a store: nothing set
    except psycopg.Error as e:
        raise StoreError(f"cannot read the PostgreSQL store: {type(e).__name__}") from e
    return rows[0][0] if rows else None
