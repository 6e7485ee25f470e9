"""The access log: who read or changed which persons, records, cases and referrals, and for what purpose.

One row per request, appended and never updated or deleted, apart from the
audit log (``audit.py``, which records what changed). A row names the caller
(actor, organisation, role), the purpose of use, the action, the HTTP method and
route template, the status answered and the entities touched, as
``{"type", "id"}`` pairs: ids only, never a value from a record. A row is one
autocommitted INSERT outside the writer lock (:meth:`Database.append`): about a
millisecond, and no request waits on another's match for it. Event ids come from
a lock of the log's own, taken with the insert, so ids are committed in order
and a reader paging newest first by id skips none.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from mpi.store.columns import ACCESS_LOG, marks, select
from mpi.store.database import Database

_SELECT = f"SELECT {select(ACCESS_LOG)} FROM access_log"
_INSERT = f"INSERT INTO access_log ({select(ACCESS_LOG)}) VALUES ({marks(len(ACCESS_LOG))})"
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


class AccessLog:
    """The ``access_log`` table of one store."""

    def __init__(self, db: Database):
        self._db = db
        self._lock = threading.Lock()
        self._last = int(db.one("SELECT coalesce(max(event_id), 0) FROM access_log")[0])

    def append(self, *, actor: str | None, organisation: str | None, role: str | None, purpose: str | None,
               action: str, method: str, route: str, status: int,
               entities: Sequence[tuple[str, str]] = ()) -> int:
        """Append one access event in a transaction of its own; returns its event id.

        Args:
            actor: the caller as the audit log names it (``user:alice``), None when no one signed in.
            entities: ``(entity type, id)`` pairs the request touched, in the order the answer names them.
        """
        rows = [{"type": t, "id": i} for t, i in dict.fromkeys(entities)]
        with self._lock:
            event_id = self._last + 1
            self._db.append(_INSERT, [event_id, self._db.now(), actor, organisation, role, purpose, action, method,
                                      route, status, rows])
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
        return self._db.one("SELECT count(*) FROM access_log")[0]


def _event(row: tuple) -> dict[str, Any]:
    event = dict(zip(ACCESS_LOG, row))
    event["entities"] = [{"type": e["type"], "id": e["id"]} for e in event["entities"]]
    return event
