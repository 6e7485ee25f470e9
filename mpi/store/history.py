"""SQL of person history: the audit events that touch a person, and those that replay its links.

Part of the store package (on the gateway's connection, through ``Store._all``).
The audit log is append-only and its events carry ids in ``detail`` (a person
id, a record key ``system/id``, a merge id), so "what touched this person" is
every event about the person itself plus every event whose detail names it.
The replay of links (``mpi/history.py``) asks for the events of a handful of
records and for the merges, up to an instant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

_COLUMNS = ("event_id", "occurred_at", "actor", "action", "entity_type", "entity_id", "reason", "detail")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM audit_log"


def _events(rows: Iterable[tuple]) -> list[dict[str, Any]]:
    return [{**dict(zip(_COLUMNS, r)), "detail": json.loads(r[7]) if r[7] is not None else None} for r in rows]


class HistoryQueries:
    """Reads of the audit log for one store."""

    def __init__(self, store) -> None:
        self._store = store

    def touching(self, person_id: str) -> list[dict[str, Any]]:
        """Events about the person, or whose detail names its id (as a JSON string), newest first."""
        return _events(self._store._all(
            f"""{_SELECT} WHERE (entity_type = 'person' AND entity_id = ?)
                   OR contains(CAST(detail AS VARCHAR), ?)
                ORDER BY event_id DESC""",
            [person_id, json.dumps(person_id)]))

    def of_actions(self, actions: Sequence[str], until: datetime) -> list[dict[str, Any]]:
        """Every event of these actions up to an instant, oldest first (merges are few)."""
        marks = ", ".join("?" * len(actions))
        return _events(self._store._all(
            f"{_SELECT} WHERE action IN ({marks}) AND occurred_at <= ? ORDER BY event_id", [*actions, until]))

    def records_linked_to(self, person_id: str, actions: Sequence[str], until: datetime) -> list[str]:
        """Record entities that any of these actions ever linked to the person, up to an instant."""
        marks = ", ".join("?" * len(actions))
        rows = self._store._all(
            f"""SELECT DISTINCT entity_id FROM audit_log
                WHERE entity_type = 'record' AND action IN ({marks}) AND occurred_at <= ?
                  AND json_extract_string(detail, '$.person_id') = ?""",
            [*actions, until, person_id])
        return sorted(r[0] for r in rows)

    def of_records(self, entities: Sequence[str], actions: Sequence[str], until: datetime) -> list[dict[str, Any]]:
        """Events of these actions on these records up to an instant, oldest first."""
        if not entities:
            return []
        marks, actions_marks = ", ".join("?" * len(entities)), ", ".join("?" * len(actions))
        return _events(self._store._all(
            f"""{_SELECT} WHERE entity_type = 'record' AND entity_id IN ({marks})
                  AND action IN ({actions_marks}) AND occurred_at <= ? ORDER BY event_id""",
            [*entities, *actions, until]))
