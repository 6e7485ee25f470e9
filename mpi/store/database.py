"""The DuckDB database of one store file: one connection per process, a cursor per thread, one writer.

Everything the table gateways need and nothing about any table: opening the
file, per-thread cursors, the writer lock and its transactions (with work to run
after a commit or a rollback), the buffered writes of a transaction
(``pending.py``), id sequences, migrations, and wrapping DuckDB's errors in the
project's own (:class:`~mpi.errors.StoreError`, with context) once.

Writes run inside :meth:`Database.transaction`, which holds a process-wide lock,
so a read-decide-write sequence (matching one record) is serialised: two
concurrent requests for the same new person can never both see "no candidate"
and create two persons. Within a transaction the hot writes are buffered and
flushed in bulk before any read and at commit. Concurrent writers that hand
their work to :meth:`Database.grouped` share one transaction and one commit
(``group.py``).

Ids (persons, cases, merges, audit events) come from sequences this process
owns: a DuckDB file has one writing process, and an id is never reused (one
taken by a transaction that rolled back is skipped).
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from mpi.clock import Clock, SystemClock
from mpi.errors import StoreError, StoreLocked
from mpi.store.transactions import Transactions
from mpi.store.schema import LATEST_VERSION, MIGRATIONS, STATE_TOKEN_VERSION

logger = logging.getLogger(__name__)

_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def only_drops_indexes(statements: list[str]) -> bool:
    """Whether a migration only drops indexes: it changes no row, so what was derived from the rows stands."""
    return bool(statements) and all(s.lstrip().upper().startswith("DROP INDEX") for s in statements)


class Database(Transactions):
    """The connection to one DuckDB store file and the rules for writing to it."""

    _driver_error = duckdb.Error

    def __init__(self, path: str | Path, checkpoint_threshold: str | None = None, clock: Clock | None = None,
                 make_folder: bool = False, memory_limit: str | None = None):
        """Open (or create) the file; ``checkpoint_threshold`` and ``memory_limit`` are DuckDB's
        (``MPI_CHECKPOINT_THRESHOLD``, ``MPI_DUCKDB_MEMORY_LIMIT``).

        The file's folder must exist unless ``make_folder`` (the default location, ``var/``): a
        mistyped ``--db /nonexistent/x.duckdb`` is refused instead of creating folders at the root.
        """
        self.path = str(path)
        self.clock = clock or SystemClock()
        #: The store's clock: the time every row written is stamped with (the clock's own method, bound once:
        #: a load stamps several values per record).
        self.now = self.clock.now
        if self.path != ":memory:":
            folder = Path(self.path).parent
            if make_folder:
                folder.mkdir(parents=True, exist_ok=True)
            elif not folder.is_dir():
                raise StoreError(f"cannot open the store at {self.path}: its folder {folder} does not exist "
                                 "(create it first, or give another path)")
        if checkpoint_threshold and not _SIZE.fullmatch(checkpoint_threshold):
            raise StoreError(f"checkpoint threshold {checkpoint_threshold!r} is not a size such as 256MB"
                             " (MPI_CHECKPOINT_THRESHOLD)")
        if memory_limit and not _SIZE.fullmatch(memory_limit):
            raise StoreError(f"memory limit {memory_limit!r} is not a size such as 2GB (MPI_DUCKDB_MEMORY_LIMIT)")
        config = {"checkpoint_threshold": checkpoint_threshold} if checkpoint_threshold else {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._memory_limit = memory_limit
        try:
            self._con = duckdb.connect(self.path, config=config)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():
                raise StoreError(f"cannot open the store at {self.path}: {e}") from e
            # One process writes the file: while `mpi serve` holds it, the work goes through the service.
            found = re.search(r"\(PID (\d+)\)", str(e))
            pid = int(found[1]) if found else None
            raise StoreLocked(f"the store {self.path} is held by another process{f' (PID {pid})' if pid else ''}, "
                              "such as a running `mpi serve`: while it runs, do this through its API "
                              "(docs/api.md), or stop it and run this again", self.path, pid) from e
        except duckdb.Error as e:
            raise StoreError(f"cannot open the store at {self.path}: {e}") from e
        self._init_transactions()
        self._sequences: dict[str, int] = {}
        self.migrate()

    # -- reading and writing -------------------------------------------------------------

    @property
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def stream(self, sql: str, params: Iterable[Any] = (), batch: int = 10_000, *,
               own_cursor: bool = False) -> Iterator[tuple]:
        """The rows of a large read, a batch at a time.

        On this thread's cursor (after a flush, so a transaction sees its own
        writes) issue no other statement until it is exhausted; ``own_cursor``
        reads on a cursor of its own instead (an export running beside requests).
        """
        try:
            if own_cursor:
                cur = self._con.cursor()
            else:
                self._flush()
                cur = self._cur
            cur.execute(sql, list(params))
            while rows := cur.fetchmany(batch):
                yield from rows
        except duckdb.Error as e:
            raise StoreError(f"store read failed: {type(e).__name__}") from e

    def arrow(self, sql: str, params: Iterable[Any] = (), *, own_cursor: bool = False) -> Any:
        """The result of a large read as one Arrow table (a batch run's records), columns as the SQL names them.

        ``own_cursor`` reads on a cursor of its own (beside requests on this thread's), after no flush.
        """
        try:
            if own_cursor:
                cur = self._con.cursor()
            else:
                self._flush()
                cur = self._cur
            return cur.sql(sql, params=list(params) or None).to_arrow_table()
        except duckdb.Error as e:
            raise StoreError(f"store read failed: {type(e).__name__}") from e

    def insert_arrow(self, table: str, columns: Sequence[str], rows: Any, what: str) -> None:
        """Insert an Arrow table's ``columns`` into ``table`` as one statement, inside the open transaction."""
        names = ", ".join(columns)
        view = f"arrow_{table}"

        def insert(cur: Any) -> None:
            cur.register(view, rows)
            try:
                cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
            finally:
                cur.unregister(view)
        self.run(insert, what)

    # -- the state token -----------------------------------------------------------------------

    def state_token(self) -> str | None:
        """The store's state token as this thread sees it (None if the open transaction has written since it began).

        Every transaction that writes sets a new random token as it commits, so
        two reads that see the same token see the same committed state. Inside
        a transaction that has written, what it sees is not yet any token's state.
        """
        if getattr(self._local, "wrote", False):
            return None
        row = self.one("SELECT token FROM store_state", flush=False)
        return row[0] if row else None

    def _committing(self) -> None:
        if self._local.wrote:  # a transaction that wrote leaves the store in a state of its own
            self._new_state_token()

    def _new_state_token(self) -> None:
        self._cur.execute("UPDATE store_state SET token = ?", [secrets.token_hex(16)])

    # -- transactions ----------------------------------------------------------------------

    def _control(self, statement: str) -> None:
        try:
            self._cur.execute(statement)
        except duckdb.Error as e:
            raise StoreError(f"store {statement.split()[0].lower()} failed: {type(e).__name__}") from e

    # -- ids ------------------------------------------------------------------------------------

    def sequence(self, name: str, max_sql: str, prefix: str = "") -> None:
        """Declare a sequence that continues after the largest id ``max_sql`` finds (ids ``prefix`` + number)."""
        value = self.one(max_sql)[0]
        if isinstance(value, str):
            value = int(value[len(prefix):])
        self._sequences[name] = int(value or 0)

    def next_id(self, name: str) -> int:
        """The next number of a sequence (inside a transaction: ids are taken by writes)."""
        if not getattr(self._local, "depth", 0):
            raise StoreError("a write outside Store.transaction() would be lost")
        self._sequences[name] += 1
        return self._sequences[name]

    def advance(self, name: str, n: int) -> None:
        """Count ``n`` numbers of a sequence as taken (by a set-based insert, inside a transaction)."""
        if not getattr(self._local, "depth", 0):
            raise StoreError("a write outside Store.transaction() would be lost")
        self._sequences[name] += int(n)

    def numbering(self, name: str, order_by: str) -> tuple[str, list[Any]]:
        """SQL numbering the rows an INSERT ... SELECT writes after the last number of the sequence ``name``,
        in ``order_by``, and its parameters; :meth:`numbered` then counts them as taken. One process writes
        the file, under the writer lock, so counting on from the last number is safe here."""
        return f"(? + row_number() OVER (ORDER BY {order_by}))", [self._sequences[name]]

    def numbered(self, name: str, n: int) -> None:
        """Count the ``n`` rows :meth:`numbering` numbered as taken."""
        self.advance(name, n)

    def take(self, name: str, n: int) -> list[int]:
        """``n`` numbers of a sequence, ascending, for rows about to be inserted (inside a transaction)."""
        first = self._sequences[name] + 1
        self.advance(name, n)
        return list(range(first, first + int(n)))

    # -- schema and housekeeping -----------------------------------------------------------------

    def migrate(self) -> int:
        """Apply every migration not yet applied; return the schema version."""
        with self._write_lock:
            self._cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
            )
            current = self._cur.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                with self.transaction():
                    # A migration may change what derived state was made from (none exists before the token);
                    # one that only drops indexes changes no row, so a base made before it stays valid.
                    self._local.wrote = version >= STATE_TOKEN_VERSION and not only_drops_indexes(statements)
                    for statement in statements:
                        self._cur.execute(statement)
                    self._cur.execute("INSERT INTO schema_version VALUES (?, ?)", [version, self.now()])
                logger.info("store migrated to schema version %s", version)
            return max(current, LATEST_VERSION)

    def copy_to(self, path: str | Path) -> None:
        """Copy the whole database into a new DuckDB file, as it stood at one moment, while writes go on.

        One read transaction on a cursor of its own runs ``COPY FROM DATABASE`` (every table with its rows,
        constraints and indexes, and the schema version) into the attached file. DuckDB gives a transaction
        a snapshot of what had committed when it began, so the copy holds every transaction committed
        before it and nothing of one committed during it, and no writer waits for it (EXPORT DATABASE would
        give a folder of files, IMPORT DATABASE to restore, and holding the writer lock would stop writes).
        Detaching checkpoints the file, so it is whole by itself (no write-ahead log beside it).
        """
        alias = f"mpi_backup_{secrets.token_hex(6)}"
        quoted = str(path).replace("'", "''")  # ATTACH takes no parameter: the path is ours, quoted
        cur = self._con.cursor()
        try:
            source = cur.execute("SELECT current_database()").fetchone()[0]
            cur.execute(f"ATTACH '{quoted}' AS {alias}")
            try:
                cur.execute("BEGIN TRANSACTION")
                try:
                    cur.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
                    cur.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        cur.execute("ROLLBACK")
                    raise
            finally:
                cur.execute(f"DETACH {alias}")
        except duckdb.Error as e:
            raise StoreError(f"store backup failed: {type(e).__name__}") from e
        finally:
            cur.close()

    def memory_bytes(self) -> int:
        """Memory DuckDB holds for this store (its buffers and caches), for diagnostics and benchmarks."""
        return int(self.one("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()")[0])

    def release_memory(self) -> None:
        """Give back the pages DuckDB keeps of what was read (a whole table read once, to build the candidate
        index: 0.9 GB at 1M, otherwise kept until the memory limit presses): the limit is lowered for a moment,
        which evicts them, and put back.

        What DuckDB cannot evict (the writes of a log it replayed at opening, until they are checkpointed) stays:
        the limit is then lowered only to just above it, and if DuckDB still refuses, nothing is given back.
        """
        cur = self._con.cursor()  # (the limit is the database's, whichever cursor sets it)
        try:
            held = cur.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                               "WHERE tag NOT IN ('BASE_TABLE', 'ART_INDEX')").fetchone()[0]
            for low in (8 * 2**20, held + 64 * 2**20):
                try:
                    cur.execute(f"SET memory_limit = '{low // 2**20}MB'")
                    break
                except duckdb.OutOfMemoryException:
                    continue
            else:
                logger.info("DuckDB kept its pages: %s MB of them cannot be evicted now", held // 2**20)
        except duckdb.Error as e:
            logger.warning("DuckDB's memory not given back: %s", type(e).__name__)
        finally:
            try:
                put_back = f"SET memory_limit = '{self._memory_limit}'" if self._memory_limit else "RESET memory_limit"
                cur.execute(put_back)
            except duckdb.Error as e:
                raise StoreError(f"store memory limit not put back: {type(e).__name__}") from e
            finally:
                cur.close()

    def close(self) -> None:
        """Close the connection; the file stays."""
        self._con.close()
