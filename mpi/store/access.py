"""The access log: who read or changed which persons, records, cases and referrals, and for what purpose.

One row per request, appended and never updated or deleted, apart from the
audit log (``audit.py``, which records what changed). A row names the caller
(actor, organisation, role), the purpose of use, the action, the HTTP method and
route template, the status answered and the entities touched, as
``{"type", "id"}`` pairs: ids only, never a value from a record.

By default a row is one autocommitted INSERT outside the writer lock
(:meth:`Database.append`), written before the answer leaves: no request waits on
another's match for it, but each pays a commit (1-2 ms on a quiet machine, more
when the disk is busy). With :meth:`flush_every` (``MPI_ACCESS_LOG_FLUSH_MS``) rows
are buffered and a thread of the log's own writes them with one INSERT per
interval: a request then pays nothing measurable, and a crash loses the events of
at most one interval. Event ids come from a lock of the log's own, taken with the
write, so ids are committed in order and a reader paging newest first by id skips none.

Over a PostgreSQL store several instances append to one log, and a counter of
each would give one id twice: there each row takes its id from the database's
sequence (``mpi_seq_access_event``) as it is written, in the order the
instance buffered its rows. Two instances writing in the same instant may
commit their ids out of order, which a reader paging at that instant could
step past; nothing more is lost, and no id is given twice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mpi.store.columns import ACCESS_LOG, marks, select
from mpi.errors import MpiError
from mpi.store.database import Database

logger = logging.getLogger(__name__)

_SELECT = f"SELECT {select(ACCESS_LOG)} FROM access_log"
_INSERT = f"INSERT INTO access_log ({select(ACCESS_LOG)}) VALUES "
#: The filters :meth:`AccessLog.page` takes, each a clause with one bound value.
_FILTERS = {
    "actor": "actor = ?",
    "organisation": "organisation = ?",
    "role": "role = ?",
    "purpose": "purpose = ?",
    "action": "action = ?",
    "entity_type": "list_contains(list_transform(entities, lambda e: e.type), ?)",
    "entity_id": "list_contains(list_transform(entities, lambda e: e.id), ?)",
    "since": "occurred_at >= ?",
    "until": "occurred_at < ?",
}

_ENTITY = frozenset({"entity_type", "entity_id"})
#: A DuckDB file's buffered rows, written as one JSON text that DuckDB reads into them (``_write``).
_TYPES = {"event_id": "BIGINT", "occurred_at": "TIMESTAMPTZ", "actor": "VARCHAR", "organisation": "VARCHAR",
          "role": "VARCHAR", "purpose": "VARCHAR", "action": "VARCHAR", "method": "VARCHAR", "route": "VARCHAR",
          "status": "INTEGER", "entities": [{"type": "VARCHAR", "id": "VARCHAR"}]}
_INSERT_JSON = (f"INSERT INTO access_log ({select(ACCESS_LOG)}) SELECT {', '.join(f'r.{c}' for c in ACCESS_LOG)} "
                f"FROM (SELECT unnest(from_json(?, '[{json.dumps(_TYPES)}]')) AS r)")
#: Most buffered rows one INSERT writes (a busy interval, or the rows kept after a failed write).
_BATCH = 500


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"an access event holds no {type(value).__name__}")


class AccessLog:
    """The ``access_log`` table of one store."""

    def __init__(self, db: Database):
        self._db = db
        self._lock = threading.Condition()
        #: Whether the database numbers the events as they are written (a store several instances share).
        self._numbered_by_store = db.shared
        if self._numbered_by_store:
            db.sequence("access_event", "SELECT coalesce(max(event_id), 0) FROM access_log")
            #: One row's values: its id the sequence's next number, the rest bound.
            self._values = f"({db.numbering('access_event', 'occurred_at')[0]}, {marks(len(ACCESS_LOG) - 1)})"
        else:
            self._last = int(db.one("SELECT coalesce(max(event_id), 0) FROM access_log")[0])
            self._values = f"({marks(len(ACCESS_LOG))})"
        self._buffer: list[list] = []
        self._interval: float = 0.0
        self._flusher: threading.Thread | None = None
        self._closing = False
        self._writing = threading.Lock()

    def flush_every(self, milliseconds: int) -> None:
        """Buffer rows and write them once per interval from a thread of the log's own (0: write each at once)."""
        if milliseconds < 0:
            raise ValueError("the access log's flush interval is a number of milliseconds, 0 or more")
        self.flush()
        self._interval = milliseconds / 1000
        if self._interval and self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_loop, name="access-log", daemon=True)
            self._flusher.start()

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                if not self._closing:
                    self._lock.wait(self._interval)
                if self._closing:
                    return
            self._write_buffer()

    def flush(self) -> None:
        """Write the buffered rows now (a read of the log sees every event appended before it)."""
        self._write_buffer()

    def _write_buffer(self) -> None:
        # One writer of buffered rows at a time, in id order; appending goes on meanwhile (it waits on no disk).
        with self._writing:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return
            for start in range(0, len(rows), _BATCH):
                batch = rows[start:start + _BATCH]
                try:
                    self._write(batch)
                except MpiError as e:
                    with self._lock:
                        self._buffer = rows[start:] + self._buffer  # kept for the next try, in order
                    logger.error("access log: %s buffered events not written: %s", len(rows) - start,
                                 type(e).__name__)
                    return

    def _write(self, rows: list[list]) -> None:
        if self._numbered_by_store:  # (each row's id the database's: bound values)
            self._db.append(_INSERT + ", ".join([self._values] * len(rows)), [v for r in rows for v in r])
        else:
            # A DuckDB file: one JSON text, read into rows by DuckDB. DuckDB holds Python's GIL while it binds
            # values (75 µs a row) or takes in an Arrow table made from Python lists (growing with the rows), and
            # every request waits meanwhile; a text of any length is one value to bind.
            self._db.append(_INSERT_JSON, [json.dumps([dict(zip(ACCESS_LOG, r)) for r in rows], default=_iso)])

    def close(self) -> None:
        """Stop the flushing thread and write what is buffered (before the store closes)."""
        with self._lock:
            self._closing = True
            self._lock.notify_all()
        if self._flusher is not None:
            self._flusher.join(timeout=10)
        self.flush()

    def append(self, *, actor: str | None, organisation: str | None, role: str | None, purpose: str | None,
               action: str, method: str, route: str, status: int,
               entities: Sequence[tuple[str, str]] = ()) -> int | None:
        """Append one access event (in a transaction of its own, or buffered: :meth:`flush_every`); returns its id
        (None over a shared store, whose database gives the id as the row is written).

        Args:
            actor: the caller as the audit log names it (``user:alice``), None when no one signed in.
            entities: ``(entity type, id)`` pairs the request touched, in the order the answer names them.
        """
        rows = [{"type": t, "id": i} for t, i in dict.fromkeys(entities)]
        with self._lock:
            event_id = None if self._numbered_by_store else self._last + 1
            row = [self._db.now(), actor, organisation, role, purpose, action, method, route, status, rows]
            if not self._numbered_by_store:
                row.insert(0, event_id)
            if self._interval:
                self._buffer.append(row)
            else:
                self._db.append(_INSERT + self._values, row)
            if not self._numbered_by_store:
                self._last = event_id
        return event_id

    def page(self, *, before: int | None = None, limit: int = 50, **filters: Any) -> dict[str, Any]:
        """One page of access events, newest first, keyed by event id (as :meth:`AuditLog.page`).

        Args:
            before: only events with a smaller id (the next, older page); None for the newest.
            limit: events per page.
            filters: any of ``actor``, ``organisation``, ``role``, ``purpose``, ``action``,
                ``entity_type``, ``entity_id`` (equal to), ``since`` (at or after) and ``until``
                (before) a datetime; a None value is no filter.

        Returns:
            ``{"events": [...], "older": id or None, "total": n}``: ``older`` is the ``before``
            of the next page when there is one; ``total`` counts every event the filters match.
        """
        self.flush()
        unknown = set(filters) - set(_FILTERS)
        if unknown:
            raise TypeError(f"unknown access-log filters: {', '.join(sorted(unknown))}")
        given = {name: value for name, value in filters.items() if value is not None and value != ""}
        clauses = [_FILTERS[name] for name in given if name not in _ENTITY or len(_ENTITY & set(given)) < 2]
        params: list[Any] = [given[name] for name in given if name not in _ENTITY or len(_ENTITY & set(given)) < 2]
        if _ENTITY <= set(given):  # both: one entity of that type and id, not a type and an id apart
            clauses.append("list_contains(entities, {'type': ?, 'id': ?})")
            params += [given["entity_type"], given["entity_id"]]
        clauses = clauses or ["TRUE"]
        where = " AND ".join(clauses)
        total = self._db.query(f"SELECT count(*) FROM access_log WHERE {where}", params)[0][0]
        if before is not None:
            where, params = f"{where} AND event_id < ?", [*params, before]
        rows = self._db.query(f"{_SELECT} WHERE {where} ORDER BY event_id DESC LIMIT ?", [*params, limit + 1])
        events = [_event(r) for r in rows[:limit]]
        return {"events": events, "older": events[-1]["event_id"] if len(rows) > limit else None, "total": total}

    def count(self) -> int:
        self.flush()
        return self._db.one("SELECT count(*) FROM access_log")[0]


def _event(row: tuple) -> dict[str, Any]:
    event = dict(zip(ACCESS_LOG, row))
    event["entities"] = [{"type": e["type"], "id": e["id"]} for e in event["entities"]]
    return event
