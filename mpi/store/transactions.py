"""What both store databases share: transactions under one writer lock, and the work around them.

:class:`~mpi.store.database.Database` (a DuckDB file) and
:class:`~mpi.store.postgres.PostgresDatabase` (a PostgreSQL database) differ in
how they connect, read and write; how a transaction runs is the same on both,
so it is written once here: a process-wide writer lock (a read-decide-write
sequence, such as matching one record, is serialised within the process),
nested use joining the outer transaction, the buffered writes of a transaction
(``pending.py``) flushed before COMMIT, work registered to run before the
commit, after it, or after a rollback, and the entry to group commit
(``group.py``).

A database built on this sets, in its ``__init__`` (:meth:`_init_transactions`),
the state used here, and gives ``_control(statement)`` (BEGIN, COMMIT,
ROLLBACK) and ``_cur`` (this thread's cursor), and names its driver's base exception (``_driver_error``); it
may override :meth:`_committing`, its last write before COMMIT.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from mpi.errors import StoreError
from mpi.store.cache import READ_CACHED, ReadCache
from mpi.store.group import FlushFailed, GroupCommit
from mpi.store.pending import Pending

logger = logging.getLogger(__name__)


class Transactions:
    """Transactions on one writer lock, for a database that gives ``_control`` and ``_cur``."""

    def _init_transactions(self) -> None:
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._pending = Pending()
        self._after_commit: list[Callable[[], None]] = []
        self._after_rollback: list[Callable[[], None]] = []
        self._before_commit: list[Callable[[], None]] = []
        #: Transactions rolled back since the store opened (a diagnostic: a refused action should cause none).
        self.rollbacks = 0
        #: Writes asked for since the store opened (buffered or not): a unit of a group that raised with this
        #: unchanged wrote nothing, so the group need not roll back for it (``group.py``).
        self.writes = 0
        #: Writers that arrive together, run in one transaction (:meth:`grouped`).
        self.group = GroupCommit(self)
        #: Small reads made on every request (meta, users), kept between writes.
        self.cache = ReadCache()
        #: Kinds of cached table the open transaction wrote (``cached_write``), whose generation moves as it
        #: commits on a database other processes share (``generations.py``).
        self._due_generations: set[str] = set()

    #: The database driver's base exception, wrapped as StoreError by the statements both databases share.
    _driver_error: type[Exception] = Exception

    def _control(self, statement: str) -> None:
        raise NotImplementedError

    def _committing(self) -> None:
        """The database's own last work before COMMIT, after the buffered writes are flushed (none by default)."""

    #: Whether other processes write and cache this database too (PostgreSQL): a write to a cached table then
    #: moves its kind's generation, so they drop what they cached of it (``generations.py``), and ids are
    #: taken from the database, never counted on in memory.
    shared = False

    def cached_write(self, kind: str) -> None:
        """Before a write to a table some process caches (``kind``: ``meta``, ``users``, ``api_keys``,
        ``organisations``, ``partners``), inside its transaction: this process's read cache is cleared around
        it, and on a shared database the kind's generation moves as the transaction commits."""
        if kind in READ_CACHED:
            self.cache.write_begins()
        if self.shared:
            self._in_transaction()
            self._due_generations.add(kind)

    # -- statements both databases run alike (the driver's own error, ``_driver_error``, wrapped) ----------

    def query(self, sql: str, params: Iterable[Any] = (), *, flush: bool = True) -> list[tuple]:
        """Run one statement and return its rows; by default buffered writes are flushed first so it sees them."""
        try:
            if flush:
                self._flush()
            return self._cur.execute(sql, list(params)).fetchall()
        except self._driver_error as e:
            raise StoreError(f"store query failed: {type(e).__name__}") from e

    def one(self, sql: str, params: Iterable[Any] = (), *, flush: bool = True) -> tuple | None:
        """The first row of a statement, or None."""
        rows = self.query(sql, params, flush=flush)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Iterable[Any] = (), *, flush: bool = True) -> list[tuple]:
        """Run a write statement, which must be inside a transaction (else StoreError: it would be lost).

        ``flush=False`` leaves the buffered writes buffered: for a statement that reads nothing they
        hold (a row of a table that is never buffered), so a request does not pay a flush mid-way.
        """
        self.pending()
        return self.query(sql, params, flush=flush)

    def append(self, sql: str, params: Iterable[Any] = ()) -> None:
        """Run one INSERT into an append-only table as a transaction of its own, outside the writer lock.

        Rows only ever added to a table no one updates never conflict with the writer's
        transaction, so such a row (an access event, written on every request) waits for no
        match in progress. Inside this thread's open transaction it joins that one instead.
        """
        self.writes += 1
        try:
            self._cur.execute(sql, list(params))
        except self._driver_error as e:
            raise StoreError(f"store append failed: {type(e).__name__}") from e

    def schema_version(self) -> int:
        return self.one("SELECT max(version) FROM schema_version")[0]

    def _flush(self) -> None:
        """Write the open transaction's buffered rows (FlushFailed if the database refuses them)."""
        if self._pending and self.in_transaction():
            try:
                self._pending.flush(self._cur)
            except self._driver_error as e:
                raise FlushFailed(f"store write failed: {type(e).__name__}") from e

    def run(self, work: Callable[[Any], Any], what: str) -> Any:
        """Run ``work(cursor)`` inside the open transaction after a flush (bulk work on Arrow tables)."""
        self.pending()
        self._flush()
        try:
            return work(self._cur)
        except self._driver_error as e:
            raise StoreError(f"{what} failed: {type(e).__name__}") from e

    # -- writes --------------------------------------------------------------------------------

    def pending(self) -> Pending:
        """The open transaction's buffered writes (StoreError outside a transaction: a write would be lost).

        Every write passes here, so this is where a transaction learns it wrote.
        """
        self._in_transaction()
        self._local.wrote = True
        self.writes += 1
        return self._pending

    def buffered(self) -> Pending | None:
        """The open transaction's buffered writes, to look in (not a write: the transaction is not marked as
        having written), or None outside a transaction."""
        return self._pending if self.in_transaction() else None

    def _in_transaction(self) -> None:
        if not getattr(self._local, "depth", 0):
            raise StoreError("a write outside Store.transaction() would be lost")

    def in_transaction(self) -> bool:
        """Whether this thread is inside :meth:`transaction`."""
        return bool(getattr(self._local, "depth", 0))

    def holds_writer(self) -> bool:
        """Whether this thread holds the writer lock (inside :meth:`transaction` or :meth:`serialised`)."""
        return bool(getattr(self._local, "depth", 0) or getattr(self._local, "serial", 0))

    def grouped(self, work: Callable[[], Any]) -> Any:
        """Run ``work()`` (read, decide, write) in a transaction shared with concurrent writers; its result.

        It is answered once the commit that holds its writes is done; if it raises, nothing of it is
        written and no other writer's work is lost (:class:`~mpi.store.group.GroupCommit`). Inside an
        open transaction, or holding the writer lock, it joins that one.
        """
        return self.group.run(work)

    # -- transactions ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block as one atomic write; nested use joins the outer one.

        Work registered with :meth:`before_commit` runs as the transaction's last work; work registered
        with :meth:`after_commit` once it has committed (still under the writer lock, so in commit
        order), and work registered with :meth:`after_rollback` once it has rolled back, last
        registered first.
        """
        with self._write_lock:
            depth = getattr(self._local, "depth", 0)
            if depth:
                self._local.depth = depth + 1
                try:
                    yield
                finally:
                    self._local.depth = depth
                return
            self._control("BEGIN TRANSACTION")
            self._local.depth = 1
            self._local.wrote = False
            self._after_commit, self._after_rollback, self._before_commit = [], [], []
            try:
                yield
                for fn in self._before_commit:
                    fn()
                self._flush()
                self._committing()
                self._control("COMMIT")
            except BaseException:
                self._pending = Pending()
                self.rollbacks += 1
                with contextlib.suppress(StoreError):  # a failed COMMIT has already rolled back
                    self._control("ROLLBACK")
                self._end()
                _run_all(reversed(self._after_rollback), "after rollback")
                raise
            self._end()
            _run_all(self._after_commit, "after commit")

    def _end(self) -> None:
        self._local.depth = self._local.wrote = 0
        self._due_generations.clear()
        if self.cache.writing:
            self.cache.write_ends()

    def before_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` (which may write) as the open transaction's last work before its COMMIT."""
        self._in_transaction()
        self._before_commit.append(fn)

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` after the open transaction commits (never if it rolls back)."""
        self._in_transaction()
        self._after_commit.append(fn)

    def after_rollback(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` after the open transaction rolls back (never if it commits)."""
        self._in_transaction()
        self._after_rollback.append(fn)

    @contextlib.contextmanager
    def serialised(self) -> Iterator[None]:
        """Hold the writer lock without a transaction: a consistent read of in-memory state."""
        with self._write_lock:
            serial = getattr(self._local, "serial", 0)
            self._local.serial = serial + 1
            try:
                yield
            finally:
                self._local.serial = serial


def _run_all(work: Iterable[Callable[[], None]], when: str) -> None:
    """Run each piece of work; one that fails is logged and the rest still run (the outcome is settled)."""
    for fn in work:
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            logger.error("work %s failed: %s in %s", when, type(e).__name__, getattr(fn, "__qualname__", fn))
