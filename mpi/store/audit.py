"""The audit log: one row per action, appended and never updated or deleted.

Written buffered with the change it describes (same transaction). Read newest
first by entity, a page at a time for the review UI's audit page, and by the
queries person history replays (``mpi.identity.history``). Events carry ids in
``detail`` (a person id, a record key ``system/id``, a merge id), so "what
touched this person" is every event about the person plus every event whose
detail names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mpi.store.columns import AUDIT_LOG, loads, marks, select
from mpi.store.database import Database
from mpi.vocab import EntityType

_SELECT = f"SELECT {select(AUDIT_LOG)} FROM audit_log"


def _matching(*tests: tuple[str, Any]) -> tuple[list[str], list[Any]]:
    """The clauses and bound values of the filters given (``(clause with one ?, value)``; a None value is no filter)."""
    given = [(clause, value) for clause, value in tests if value]
    return [clause for clause, _ in given], [value for _, value in given]


def _events(rows: Iterable[tuple]) -> list[dict[str, Any]]:
    return [{**dict(zip(AUDIT_LOG, r)), "detail": loads(r[7])} for r in rows]


class AuditLog:
    """The ``audit_log`` table of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("audit", "SELECT coalesce(max(event_id), 0) FROM audit_log")

    def append(self, actor: str, action: str, entity_type: str, entity_id: str, reason: str | None,
               detail: Any) -> None:
        """Append one event (buffered, in the open transaction)."""
        pending = self._db.pending()
        pending.audit.append([self._db.next_id("audit"), self._db.now(), actor, action, entity_type, entity_id, reason,
                              json.dumps(detail)])

    def events(self, entity_type: str | None = None, entity_id: str | None = None, limit: int = 200) -> list[dict]:
        """Events about an entity type (and id), newest first."""
        clauses, params = _matching(("entity_type = ?", entity_type), ("entity_id = ?", entity_id))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return _events(self._db.query(f"{_SELECT} {where} ORDER BY event_id DESC LIMIT ?", [*params, limit]))

    def page(self, *, before: int | None = None, limit: int = 50, action: str | None = None,
             actor: str | None = None, entity_id: str | None = None) -> dict[str, Any]:
        """One page of the log, newest first, keyed by event id (the log only grows: no event twice, none skipped).

        Args:
            before: only events with a smaller id (the next, older page); None for the newest.
            limit: events per page.
            action: only events whose action starts with this (``case.``, ``link.manual``).
            actor: only events by this actor (``user:alice``).
            entity_id: only events about this entity (a case id, a person id, ``system/record id``).

        Returns:
            ``{"events": [...], "older": id or None, "total": n}``: ``older`` is the
            ``before`` of the next page when there is one; ``total`` counts every
            event the filters match.
        """
        clauses, params = _matching(("starts_with(action, ?)", action), ("actor = ?", actor),
                                    ("entity_id = ?", entity_id))
        where = " AND ".join(clauses) or "TRUE"
        total = self._db.query(f"SELECT count(*) FROM audit_log WHERE {where}", params)[0][0]
        page_where = where + (" AND event_id < ?" if before is not None else "")
        page_params = [*params, *([before] if before is not None else [])]
        rows = self._db.query(f"{_SELECT} WHERE {page_where} ORDER BY event_id DESC LIMIT ?",
                              [*page_params, limit + 1])
        events = _events(rows[:limit])
        older = events[-1]["event_id"] if len(rows) > limit else None
        return {"events": events, "older": older, "total": total}

    # -- what person history replays ------------------------------------------------------------

    def touching(self, person_id: str) -> list[dict[str, Any]]:
        """Events about the person, or whose detail names its id (as a JSON string), newest first."""
        return _events(self._db.query(
            f"""{_SELECT} WHERE (entity_type = ? AND entity_id = ?)
                   OR contains(CAST(detail AS VARCHAR), ?)
                ORDER BY event_id DESC""",
            [EntityType.PERSON.value, person_id, json.dumps(person_id)]))

    def of_actions(self, actions: Sequence[str], until: datetime) -> list[dict[str, Any]]:
        """Every event of these actions up to an instant, oldest first (merges are few)."""
        return _events(self._db.query(
            f"{_SELECT} WHERE action IN ({marks(len(actions))}) AND occurred_at <= ? ORDER BY event_id",
            [*actions, until]))

    def records_linked_to(self, person_id: str, actions: Sequence[str], until: datetime) -> list[str]:
        """Record entities that any of these actions ever linked to the person, up to an instant."""
        rows = self._db.query(
            f"""SELECT DISTINCT entity_id FROM audit_log
                WHERE entity_type = ? AND action IN ({marks(len(actions))}) AND occurred_at <= ?
                  AND json_extract_string(detail, '$.person_id') = ?""",
            [EntityType.RECORD.value, *actions, until, person_id])
        return sorted(r[0] for r in rows)

    def of_records(self, entities: Sequence[str], actions: Sequence[str], until: datetime) -> list[dict[str, Any]]:
        """Events of these actions on these records up to an instant, oldest first."""
        if not entities:
            return []
        return _events(self._db.query(
            f"""{_SELECT} WHERE entity_type = ? AND entity_id IN ({marks(len(entities))})
                  AND action IN ({marks(len(actions))}) AND occurred_at <= ? ORDER BY event_id""",
            [EntityType.RECORD.value, *entities, *actions, until]))
