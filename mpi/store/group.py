"""Group commit: writers that arrive together share one transaction, one flush and one commit.

A request that writes (a record matched, a referral received or moved on) pays for
its writes once per transaction whatever their size: the buffered rows flushed
(a statement a table, about a millisecond each) and the ``COMMIT`` with its sync
of the write-ahead log. Under the one writer lock, sixteen concurrent writers each
paying that in turn wait for each other's (issue 19: p99 583 ms).

So a writer hands its *unit of work* here: a callable that reads, decides and
writes, as the body of a transaction would. One thread at a time is the
*leader*: it takes every unit queued so far (up to ``max_group``), runs them in
one transaction in the order they arrived, each seeing the writes of the ones
before it (no two persons for one human: the second copy of a record finds the
person the first made), commits once, and only then answers each caller with its
own result or exception. Work a unit registered to run after commit (events, the
outbox's signal) runs after that shared commit, before anyone is answered.

A unit that raises after writing nothing (a refusal, checked before any write)
is answered with its error and the others go on. One that raises after writing
undoes the whole transaction (the candidate index is put back by its rollback
hooks), and the group runs again without it: its caller gets its error and no
other caller sees anything of it, exactly as if the units had run one after the
other in the same order. A failure that may be no one unit's (the commit, or a
flush of the buffered writes, which hold every unit's rows so far) runs each
unit alone, so each caller gets its own outcome. A unit may therefore
run more than once before it commits: what it does outside the transaction must
bear that (an id taken twice is skipped, as after any rollback).

A unit runs on the leader's thread, in the caller's context (``contextvars``:
the caller's request, for a unit that asks for it). Called inside an open
transaction, or while holding the writer lock, a unit joins that instead (as a
nested transaction does).
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mpi.errors import StoreError

if TYPE_CHECKING:
    from mpi.store.database import Database

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The most units one transaction holds: a bound on how long the last of them waits for its answer.
MAX_GROUP = 64


class FlushFailed(StoreError):
    """Buffered writes failed when flushed: they may be any unit's of the transaction, not the one running."""


class LockConflict(StoreError):
    """Waiting for a lock ended in a deadlock the database broke (PostgreSQL, several instances): the group's locks,
    taken unit by unit, crossed another transaction's. No one unit's fault: each unit runs again alone, and a unit
    alone tries again (:data:`LOCK_RETRIES` times), its keys then taken in one order."""


#: How often a unit alone runs again after its transaction lost a deadlock.
LOCK_RETRIES = 3


class _Unit:
    """One caller's work, its context, and its outcome once the commit that holds it is done."""

    __slots__ = ("work", "context", "result", "error", "refused", "answered")

    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.context = contextvars.copy_context()
        self.result: Any = None
        self.error: BaseException | None = None
        #: Raised having written nothing: answered with its error, never run again.
        self.refused = False
        self.answered = False


class _Undo(Exception):
    """A unit raised after writing: the group's transaction must roll back, and run again without it."""

    def __init__(self, unit: _Unit):
        super().__init__("a unit of the group failed after writing")
        self.unit = unit


class GroupCommit:
    """The queue of units waiting for a transaction, and the one leader at a time that runs them."""

    def __init__(self, db: Database, max_group: int = MAX_GROUP):
        self._db = db
        self.max_group = max_group
        self._queue: deque[_Unit] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._leading = False
        #: Groups committed and units answered since the store opened (diagnostics and the benchmark).
        self.groups = 0
        self.units = 0

    @property
    def waiting(self) -> int:
        """Units queued for the next group (a diagnostic; the tests line writers up with it)."""
        with self._cond:
            return len(self._queue)

    def run(self, work: Callable[[], T]) -> T:
        """Run ``work()`` in a transaction shared with the writers queued beside it; its result once committed.

        Raises:
            whatever ``work`` raised (nothing of it was written), or the store's error if the commit failed.
        """
        if self._db.holds_writer():  # inside a transaction, or holding the lock: join it, never wait for a leader
            with self._db.transaction():
                return work()
        unit = _Unit(work)
        with self._cond:
            self._queue.append(unit)
            while True:
                while self._leading and not unit.answered:
                    self._cond.wait()
                if unit.answered:
                    break
                self._leading = True
                group = [self._queue.popleft() for _ in range(min(self.max_group, len(self._queue)))]
                self._cond.release()
                try:
                    self._lead(group)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    for done in group:
                        done.answered = True
                    self._cond.notify_all()
        if unit.error is not None:
            raise unit.error
        return unit.result

    # -- the leader ---------------------------------------------------------------------------------------

    def _lead(self, group: list[_Unit]) -> None:
        """Run a group until every unit in it has its outcome: committed, refused or failed alone."""
        retries = 0
        try:
            while group:
                try:
                    self._commit(group)
                    self.groups += 1
                    self.units += len(group)
                    return
                except _Undo as undo:
                    if len(group) > 1 and _flush_failed(undo.unit.error):
                        self._alone(group)  # whose buffered rows failed is not known: as when the commit fails
                        return
                    if len(group) == 1 and isinstance(undo.unit.error, LockConflict) and retries < LOCK_RETRIES:
                        retries += 1
                        logger.info("a unit lost a deadlock between instances: it runs again (%s)", retries)
                        continue
                    logger.info("a unit of a group of %s failed after writing: the others run again without it",
                                len(group))
                    group = [u for u in group if u is not undo.unit and not u.refused]
                except Exception as e:  # noqa: BLE001  (the commit itself: no one unit's failure)
                    if len(group) == 1:
                        group[0].error = e
                        return
                    logger.warning("a group of %s failed to commit (%s): each unit runs alone", len(group),
                                   type(e).__name__)
                    self._alone(group)
                    return
        except BaseException as e:  # an interrupt: nobody waits for ever
            for unit in group:
                if unit.error is None and not unit.refused:
                    unit.error = e
            raise

    def _alone(self, group: list[_Unit]) -> None:
        for unit in group:
            self._lead([unit])

    def _commit(self, group: list[_Unit]) -> None:
        """One transaction for the group's units in order; raises :class:`_Undo` for one that failed after writing."""
        db = self._db
        for unit in group:
            unit.result, unit.error, unit.refused = None, None, False
        with db.transaction():
            for unit in group:
                writes = db.writes
                try:
                    unit.result = unit.context.run(unit.work)
                except Exception as e:  # noqa: BLE001  (the unit's own error, given to its caller)
                    unit.error = e
                    if db.writes == writes and not _flush_failed(e):  # a refusal: nothing to undo
                        unit.refused = True
                        continue
                    raise _Undo(unit) from e


def _flush_failed(error: BaseException | None) -> bool:
    """Whether the error is (or was raised from) a failed flush of buffered writes, or a lost deadlock: no one
    unit's."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, (FlushFailed, LockConflict)):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False
