"""The PostgreSQL database of a store (``MPI_DB=postgresql://...``): :class:`Database`'s interface over psycopg 3.

The gateways are the same on both backends: they call ``query``, ``execute``,
``stream``, ``transaction`` ... on ``store.db`` and write DuckDB's SQL, which
``dialect.py`` translates here once per statement. What differs is underneath:

- a connection per thread (DuckDB: a cursor per thread of one connection), in
  autocommit, so ``transaction`` issues BEGIN and COMMIT itself as DuckDB's does;
- the writer lock still serialises this process's transactions; several
  processes over one database are kept apart by the database: its row locks,
  and the advisory locks matching takes on a record's blocking keys
  (:meth:`PostgresDatabase.lock_keys`) before it reads candidates;
- ids come from PostgreSQL sequences (``mpi_seq_<name>``), shared by every
  process over the database, instead of counters this process owns;
- Arrow tables a gateway registers (the buffered writes of ``pending.py``, the
  outbox's bulk insert) become temporary tables filled with ``COPY``;
- JSON columns hold text on both (DuckDB's JSON is text): the gateways
  ``json.loads`` what they read either way.

Errors are wrapped as :class:`~mpi.errors.StoreError` with what failed, never
the statement's values (they may hold a name or a birth date).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import psycopg

from mpi.clock import Clock, SystemClock
from mpi.errors import StoreError
from mpi.store.dialect import COMPAT_FUNCTIONS
from mpi.store.group import LockConflict
from mpi.store.pg_cursor import Cursor
from mpi.store.schema import LATEST_VERSION, MIGRATIONS
from mpi.store.transactions import Transactions
from mpi.store.urls import is_postgres_url  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

#: The advisory lock key held while a process migrates the schema (and declares sequences): one at a time.
MIGRATION_LOCK = 0x6D70_6900
#: Indexes a store shared by several processes reads by, made with the schema (PostgreSQL only: DuckDB dropped
#: the postings' index in migration 2, its one process matching from memory alone).
SHARED_STORE_INDEXES = ["CREATE INDEX IF NOT EXISTS blocking_keys_key ON blocking_keys (block_key)",
                        # two-column indexes DuckDB cannot read by (migration 23 drops them), PostgreSQL's B-trees can
                        "CREATE INDEX IF NOT EXISTS blocking_keys_record ON blocking_keys (source_system, source_record_id)",
                        "CREATE INDEX IF NOT EXISTS audit_entity ON audit_log (entity_type, entity_id)",
                        "CREATE INDEX IF NOT EXISTS review_cases_record ON review_cases (source_system, source_record_id)",
                        # numbers the change log of records (``changes.py``), shared by every instance
                        "CREATE SEQUENCE IF NOT EXISTS mpi_record_changes"]



class PostgresDatabase(Transactions):
    """The connections to one PostgreSQL store database and the rules for writing to it."""

    _driver_error = psycopg.Error
    #: Other instances write and cache what this database holds (``Transactions.shared``).
    shared = True

    def __init__(self, url: str, clock: Clock | None = None):
        """Connect (the database must exist), give it the compatibility functions and migrate it."""
        self.path = url
        self.clock = clock or SystemClock()
        self.now = self.clock.now
        self._init_transactions()
        #: Every thread's connection still open: a thread's is closed when the thread ends (its cursor is
        #: collected with its thread-local data), the rest by :meth:`close`.
        self._connections: weakref.WeakSet[psycopg.Connection] = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        self._sequences: set[str] = set()
        self._cur  # noqa: B018 - connect now, so a bad URL is refused when the store opens
        self.migrate()

    def _connect(self) -> psycopg.Connection:
        try:
            con = psycopg.connect(self.path, autocommit=True, options="-c timezone=UTC")
        except psycopg.Error as e:
            raise StoreError(f"cannot open the PostgreSQL store at {_safe(self.path)}: {type(e).__name__}") from e
        with self._connections_lock:
            self._connections.add(con)
        return con

    # -- reading and writing -------------------------------------------------------------

    @property
    def _cur(self) -> Cursor:
        cur = getattr(self._local, "cur", None)
        if cur is None or cur.con.closed:
            con = self._connect()
            cur = self._local.cur = Cursor(con)
            weakref.finalize(cur, _close_quietly, con)
        return cur

    def stream(self, sql: str, params: Iterable[Any] = (), batch: int = 10_000, *,
               own_cursor: bool = False) -> Iterator[tuple]:
        """The rows of a large read, a batch at a time (``own_cursor``: on a connection of its own)."""
        con = None
        try:
            if own_cursor:
                con = psycopg.connect(self.path, autocommit=True, options="-c timezone=UTC")
                cur = Cursor(con)
            else:
                self._flush()
                cur = self._cur
            cur.execute(sql, list(params))
            while rows := cur.fetchmany(batch):
                yield from rows
        except psycopg.Error as e:
            raise StoreError(f"store read failed: {type(e).__name__}") from e
        finally:
            if con is not None:
                con.close()

    def arrow(self, sql: str, params: Iterable[Any] = (), *, own_cursor: bool = False) -> Any:
        """The result of a large read as one Arrow table, columns as the SQL names them."""
        con = None
        try:
            if own_cursor:
                con = psycopg.connect(self.path, autocommit=True, options="-c timezone=UTC")
                cur = Cursor(con)
            else:
                self._flush()
                cur = self._cur
            return cur.execute(sql, list(params)).to_arrow()
        except psycopg.Error as e:
            raise StoreError(f"store read failed: {type(e).__name__}") from e
        finally:
            if con is not None:
                con.close()

    def insert_arrow(self, table: str, columns: Sequence[str], rows: Any, what: str) -> None:
        """Insert an Arrow table's ``columns`` into ``table`` inside the open transaction (COPY, then one INSERT)."""
        names = ", ".join(columns)
        view = f"arrow_{table}"

        def insert(cur: Cursor) -> None:
            cur.register(view, rows.select(list(columns)))
            try:
                cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
            finally:
                cur.unregister(view)
        self.run(insert, what)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                  progress: Callable[[int], None]) -> int:
        """COPY rows into a table inside the open transaction (``mpi migrate-store``: ``transfer.py``)."""
        return self.run(lambda cur: cur.copy_rows(table, columns, rows, progress), f"copy into {table}")

    # -- transactions ----------------------------------------------------------------------

    def state_token(self) -> None:
        """None: a store several instances write has no state one process could save derived copies of
        (``Database.state_token``); each instance builds its candidate index at start."""
        return None

    def _committing(self) -> None:
        """Move the generation of each cached kind the transaction wrote, in one order (no two transactions
        wait on each other's rows), as its last work: the rows stay locked for the instant before COMMIT."""
        for kind in sorted(self._due_generations):
            self.native("INSERT INTO cache_generations (kind, generation) VALUES (%s, 1) ON CONFLICT (kind) "
                        "DO UPDATE SET generation = cache_generations.generation + 1", [kind], "cache generation")

    def _control(self, statement: str) -> None:
        try:
            self._cur.con.execute(statement)
        except psycopg.Error as e:
            raise StoreError(f"store {statement.split()[0].lower()} failed: {type(e).__name__}") from e

    # -- several processes over one database ------------------------------------------------------

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Wait for and hold, until the open transaction ends, an advisory lock on each key (its 64-bit hash).

        Taken in the order of their hashes, so two transactions locking overlapping keys never wait on each
        other in a circle; a key of another kind of work should carry a prefix of its own.
        """
        self.pending()
        self._flush()
        try:
            self._cur.con.execute("SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT "
                                  "hashtextextended(k, 0) AS h FROM unnest(%s::text[]) AS u(k) ORDER BY h) AS s",
                                  [sorted(set(keys))])
        except psycopg.errors.DeadlockDetected as e:
            raise LockConflict("store lock failed: DeadlockDetected") from e
        except psycopg.Error as e:
            raise StoreError(f"store lock failed: {type(e).__name__}") from e

    def native(self, sql: str, params: Sequence[Any], what: str) -> None:
        """Run one write in PostgreSQL's own SQL (``%s`` parameters, not translated) in the open transaction."""
        self.pending()
        try:
            self._cur.con.execute(sql, list(params))
        except psycopg.Error as e:
            raise StoreError(f"store {what} failed: {type(e).__name__}") from e

    # -- ids: PostgreSQL sequences, shared by every process over the database ---------------------

    def sequence(self, name: str, max_sql: str, prefix: str = "") -> None:
        """Declare a sequence continuing after the largest id ``max_sql`` finds (and after any number it gave)."""
        value = self.one(max_sql)[0]
        if isinstance(value, str):
            value = int(value[len(prefix):])
        seq = _seq(name)
        try:
            with self._cur.con.transaction():
                self._cur.con.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                self._cur.con.execute(f"CREATE SEQUENCE IF NOT EXISTS {seq} MINVALUE 0 START 0")
                self._cur.con.execute(f"SELECT setval('{seq}', greatest(%s, (SELECT CASE WHEN is_called THEN "
                                      f"last_value ELSE 0 END FROM {seq})), true)", [int(value or 0)])
        except psycopg.Error as e:
            raise StoreError(f"declaring the sequence {name} failed: {type(e).__name__}") from e
        self._sequences.add(name)

    def next_id(self, name: str) -> int:
        """The next number of a sequence (inside a transaction: ids are taken by writes; never given twice)."""
        self.pending()
        return int(self.one(f"SELECT nextval('{_seq(name)}')", flush=False)[0])

    def numbering(self, name: str, order_by: str) -> tuple[str, list[Any]]:
        """SQL numbering each row an INSERT ... SELECT writes from the sequence ``name``, and its parameters (none).

        Each row takes its own number from the shared sequence, so two processes inserting at once never give
        one number twice (a number read first and counted on from, as one process may, could be read by both);
        numbers follow ``order_by`` only within what PostgreSQL happens to number in order.
        """
        return f"nextval('{_seq(name)}')", []

    def numbered(self, name: str, n: int) -> None:
        """Nothing to count: each row took its number from the sequence (:meth:`numbering`)."""

    def take(self, name: str, n: int) -> list[int]:
        """``n`` numbers of a sequence, ascending, for rows about to be inserted (inside a transaction)."""
        self.pending()
        return [int(r[0]) for r in self.query(f"SELECT nextval('{_seq(name)}') FROM generate_series(1, ?)",
                                              [int(n)], flush=False)] if n else []

    # -- schema and housekeeping -----------------------------------------------------------------

    def migrate(self) -> int:
        """Apply every migration not yet applied, one process at a time (an advisory lock); the schema version."""
        con = self._cur.con
        with self._write_lock:
            try:
                with con.transaction():
                    con.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                    for statement in COMPAT_FUNCTIONS:
                        con.execute(statement)
                    con.execute("CREATE TABLE IF NOT EXISTS schema_version "
                                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
                    current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
                    for version, statements in MIGRATIONS:
                        if version <= current:
                            continue
                        for statement in statements:
                            self._cur.execute(statement)
                        con.execute("INSERT INTO schema_version VALUES (%s, %s)", [version, self.now()])
                        logger.info("store migrated to schema version %s", version)
                    for statement in SHARED_STORE_INDEXES:
                        con.execute(statement)
            except psycopg.Error as e:
                raise StoreError(f"migrating the PostgreSQL store failed: {type(e).__name__}") from e
            return max(current, LATEST_VERSION)

    def copy_to(self, path: Any) -> None:
        raise StoreError("a PostgreSQL store is backed up with PostgreSQL's own tools (pg_dump), not `mpi backup`")

    def memory_bytes(self) -> int:
        """Not measured on PostgreSQL (its memory is the server's): 0."""
        return 0

    def release_memory(self) -> None:
        """Nothing to give back here: the memory is the server's."""

    def close(self) -> None:
        """Close every connection this store opened; the database stays."""
        with self._connections_lock:
            connections, self._connections = list(self._connections), weakref.WeakSet()
        for con in connections:
            _close_quietly(con)


def _close_quietly(con: psycopg.Connection) -> None:
    with contextlib.suppress(psycopg.Error):
        con.close()


def _seq(name: str) -> str:
    return f"mpi_seq_{name}"


def _safe(url: str) -> str:
    """The URL without its password, for a message."""
    head, sep, tail = url.rpartition("@")
    return f"{head.split('://')[0]}://…@{tail}" if sep else url
