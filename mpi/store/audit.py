"""Paged reads of the audit log, for the review UI's audit page.

Kept apart from ``gateway.py`` (which owns the connection and the writes) so the
gateway does not keep growing; the SQL still runs through the gateway's
:meth:`Store._all`. Pages are keyed by event id (``before``: the oldest id of the
page shown), not by offset: the log only grows, so a steward paging back while
events are written sees no event twice and skips none.
"""

from __future__ import annotations

import json
from typing import Any

from mpi.store.gateway import Store

_NAMES = ("event_id", "occurred_at", "actor", "action", "entity_type", "entity_id", "reason", "detail")


def audit_page(store: Store, *, before: int | None = None, limit: int = 50, action: str | None = None,
               actor: str | None = None, entity_id: str | None = None) -> dict[str, Any]:
    """One page of the audit log, newest first.

    Args:
        store: the store.
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
    clauses, params = [], []
    if action:
        clauses.append("starts_with(action, ?)")
        params.append(action)
    if actor:
        clauses.append("actor = ?")
        params.append(actor)
    if entity_id:
        clauses.append("entity_id = ?")
        params.append(entity_id)
    where = " AND ".join(clauses) or "TRUE"
    total = store._all(f"SELECT count(*) FROM audit_log WHERE {where}", params)[0][0]
    page_where = where + (" AND event_id < ?" if before is not None else "")
    page_params = [*params, *([before] if before is not None else [])]
    rows = store._all(
        f"SELECT {', '.join(_NAMES)} FROM audit_log WHERE {page_where} ORDER BY event_id DESC LIMIT ?",
        [*page_params, limit + 1],
    )
    events = [{**dict(zip(_NAMES, r)), "detail": json.loads(r[7]) if r[7] is not None else None}
              for r in rows[:limit]]
    older = events[-1]["event_id"] if len(rows) > limit else None
    return {"events": events, "older": older, "total": total}
