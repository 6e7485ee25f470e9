"""The inbound exception queue (the ``inbound_exceptions`` table): bodies kept after failing validation.

A row holds the raw body as bytes, exactly as received (it may not be JSON, or
not even UTF-8), so it is read only by the queue's own reads and never logged.
The queue is read oldest first; a state change is a guarded ``UPDATE ... WHERE
state IN (...)``, so two people cannot both move one exception (a Conflict).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mpi.errors import Conflict, NotFound
from mpi.store.columns import INBOUND_EXCEPTIONS, loads, marks, select
from mpi.store.database import Database

_SELECT = f"SELECT {select(INBOUND_EXCEPTIONS)} FROM inbound_exceptions"
#: Columns the queue may be filtered on (whitelisted: the values are bound, the names are these).
FILTERS = ("state", "severity", "sender")


def _row(row: tuple) -> dict[str, Any]:
    item = dict(zip(INBOUND_EXCEPTIONS, row))
    item["reasons"] = loads(item["reasons"])
    item["raw_body"] = bytes(item["raw_body"])
    return item


def queue_query(filters: dict[str, str | None], limit: int, offset: int) -> tuple[str, list[Any], str, list[Any]]:
    """The page's SQL (oldest first) and the count's SQL, with their bound values, for the filters given."""
    clauses, params = ["TRUE"], []
    for name in FILTERS:
        if filters.get(name) is not None:
            clauses.append(f"{name} = ?")
            params.append(filters[name])
    where = " AND ".join(clauses)
    return (f"{_SELECT} WHERE {where} ORDER BY received_at, exception_id LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
            f"SELECT count(*) FROM inbound_exceptions WHERE {where}", params)


class InboundExceptionTable:
    """The inbound exceptions of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("inbound", "SELECT max(exception_id) FROM inbound_exceptions", prefix="IX")

    def add(self, item: dict[str, Any]) -> str:
        """Insert one exception (inside a transaction); returns its new id (``IX00000001``)."""
        exception_id = f"IX{self._db.next_id('inbound'):08d}"
        row = {**item, "exception_id": exception_id, "reasons": json.dumps(item["reasons"])}
        self._db.execute(f"INSERT INTO inbound_exceptions ({select(INBOUND_EXCEPTIONS)}) "
                         f"VALUES ({marks(len(INBOUND_EXCEPTIONS))})", [row.get(c) for c in INBOUND_EXCEPTIONS])
        return exception_id

    def get(self, exception_id: str) -> dict[str, Any]:
        row = self._db.one(f"{_SELECT} WHERE exception_id = ?", [exception_id])
        if row is None:
            raise NotFound(f"inbound exception {exception_id} not found", {"exception_id": ["no such exception"]})
        return _row(row)

    def move(self, exception_id: str, from_states: Sequence[str], changes: dict[str, Any]) -> None:
        """Set ``changes`` on an exception in one of ``from_states`` (inside a transaction), or Conflict."""
        names = [n for n in changes if n in INBOUND_EXCEPTIONS]
        sets = ", ".join(f"{n} = ?" for n in names)
        done = self._db.execute(
            f"UPDATE inbound_exceptions SET {sets} WHERE exception_id = ? "
            f"AND state IN ({marks(len(from_states))}) RETURNING exception_id",
            [*(changes[n] for n in names), exception_id, *from_states])
        if not done:
            state = self.get(exception_id)["state"]
            raise Conflict(f"inbound exception {exception_id} is {state}: only one that is "
                           f"{' or '.join(from_states)} may be moved", {"state": [f"is {state}"]})

    def page(self, filters: dict[str, str | None], limit: int = 50, offset: int = 0) -> tuple[list[dict], int]:
        """One page of the queue, oldest first, and how many match the filters."""
        sql, params, count_sql, count_params = queue_query(filters, limit, offset)
        return [_row(r) for r in self._db.query(sql, params)], self._db.one(count_sql, count_params)[0]

    def summaries(self) -> list[dict[str, Any]]:
        """Every exception's governance columns (ids, codes and times: never the body), oldest first."""
        names = ("exception_id", "kind", "sender", "sender_organisation", "severity", "owner", "received_at",
                 "due_at", "closed_at")
        rows = self._db.query(f"SELECT {', '.join(names)} FROM inbound_exceptions ORDER BY received_at, exception_id")
        return [dict(zip(names, r)) for r in rows]
