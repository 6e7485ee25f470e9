"""The outbound exception queue's tables: patterns of dead messages (``outbound_patterns``) and their members.

A pattern is one (partner, message type, error code) while it is open; the
delivery worker adds each dead message to the open pattern of its key (or opens
one) in the transaction that records it dead. A pattern's count, first and last
``dead_at`` and the referrals it affects are read from its members, so they are
never out of step with them. Patterns are read a page at a time; the referrals of
one are read capped, with their total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mpi.errors import Conflict, NotFound
from mpi.store.columns import OUTBOUND_PATTERNS, PATTERN_MESSAGES, marks, select
from mpi.store.database import Database

#: Columns the queue may be filtered on (whitelisted: the values are bound, the names are these).
FILTERS = ("partner_id", "message_type", "severity", "error_code")
_STATS = ("count", "first_dead_at", "last_dead_at", "referrals_total")
_SELECT = (f"SELECT {select(OUTBOUND_PATTERNS, 'p')}, count(m.message_id), min(m.dead_at), max(m.dead_at), "
           "count(DISTINCT m.referral_id) FROM outbound_patterns p "
           "LEFT JOIN outbound_pattern_messages m ON m.pattern_id = p.pattern_id")
_GROUP = f"GROUP BY {select(OUTBOUND_PATTERNS, 'p')}"


def _pattern(row: tuple) -> dict[str, Any]:
    return dict(zip(OUTBOUND_PATTERNS + _STATS, row))


def queue_query(filters: dict[str, str | None], state: str | None, limit: int,
                offset: int) -> tuple[str, list[Any], str, list[Any]]:
    """The page's SQL (open first, then oldest first) and the count's SQL, with their bound values."""
    clauses, params = ["TRUE"], []
    for name in FILTERS:
        if filters.get(name) is not None:
            clauses.append(f"p.{name} = ?")
            params.append(filters[name])
    if state == "open":
        clauses.append("p.closed_at IS NULL")
    elif state == "closed":
        clauses.append("p.closed_at IS NOT NULL")
    where = " AND ".join(clauses)
    return (f"{_SELECT} WHERE {where} {_GROUP} ORDER BY p.closed_at IS NOT NULL, p.opened_at, p.pattern_id "
            "LIMIT ? OFFSET ?", [*params, int(limit), int(offset)],
            f"SELECT count(*) FROM outbound_patterns p WHERE {where}", params)


class OutboundPatternTable:
    """The outbound exception patterns of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("outbound_pattern", "SELECT max(pattern_id) FROM outbound_patterns", prefix="OP")
        db.sequence("back_post", "SELECT max(b) FROM (SELECT back_post_id AS b FROM outbound_messages "
                                 "UNION ALL SELECT back_post_id FROM outbound_patterns)", prefix="BP")

    def open_patterns(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """Every open pattern (without its stats) by its key (partner, message type, error code): what the
        worker files dead messages under (the open patterns are few: they are patterns, not messages)."""
        return {(p["partner_id"], p["message_type"], p["error_code"]): p for p in (
            dict(zip(OUTBOUND_PATTERNS, r)) for r in self._db.query(
                f"SELECT {select(OUTBOUND_PATTERNS)} FROM outbound_patterns WHERE closed_at IS NULL"))}

    def add(self, pattern: dict[str, Any]) -> str:
        """Open a pattern (inside a transaction); returns its id (``OP00000001``)."""
        pattern_id = f"OP{self._db.next_id('outbound_pattern'):08d}"
        row = {**pattern, "pattern_id": pattern_id}
        self._db.execute(f"INSERT INTO outbound_patterns ({select(OUTBOUND_PATTERNS)}) "
                         f"VALUES ({marks(len(OUTBOUND_PATTERNS))})", [row.get(c) for c in OUTBOUND_PATTERNS])
        return pattern_id

    def add_members(self, members: Sequence[dict[str, Any]]) -> None:
        """Add dead messages to their patterns (``pattern_id``, ``message_id``, ``referral_id``, ``dead_at``,
        ``severity``), in one statement."""
        if members:  # five list parameters, not five per row: binding thousands of parameters is slow
            self._db.execute(
                f"INSERT INTO outbound_pattern_messages ({select(PATTERN_MESSAGES)}) SELECT unnest(?::VARCHAR[]), "
                "unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::TIMESTAMPTZ[]), unnest(?::VARCHAR[])",
                [[m[c] for m in members] for c in PATTERN_MESSAGES])

    def regrade(self, pattern_id: str, severity: str, due_at: datetime) -> None:
        self._db.execute("UPDATE outbound_patterns SET severity = ?, due_at = ? WHERE pattern_id = ?",
                         [severity, due_at, pattern_id])

    def get(self, pattern_id: str) -> dict[str, Any]:
        row = self._db.one(f"{_SELECT} WHERE p.pattern_id = ? {_GROUP}", [pattern_id])
        if row is None:
            raise NotFound(f"outbound pattern {pattern_id} not found", {"pattern_id": ["no such pattern"]})
        return _pattern(row)

    def page(self, filters: dict[str, str | None], state: str | None, limit: int = 50,
             offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """One page of patterns (open first, oldest first) and how many match."""
        sql, params, count_sql, count_params = queue_query(filters, state, limit, offset)
        return [_pattern(r) for r in self._db.query(sql, params)], self._db.one(count_sql, count_params)[0]

    def all(self) -> list[dict[str, Any]]:
        """Every pattern, open and closed (for governance)."""
        return [_pattern(r) for r in self._db.query(f"{_SELECT} {_GROUP} ORDER BY p.pattern_id")]

    def referrals(self, pattern_ids: Sequence[str], limit: int) -> dict[str, list[dict[str, Any]]]:
        """Up to ``limit`` referrals each pattern affects, first dead first: ``referral_id``, its messages in the
        pattern, the event time of the first, the first ``dead_at``, and the current status of its latest one."""
        if not pattern_ids:
            return {}
        rows = self._db.query(
            "WITH r AS (SELECT pm.pattern_id, pm.referral_id, count(*) AS messages, min(o.event_time) AS event_time, "
            "min(pm.dead_at) AS dead_at, arg_max(o.status, o.message_id) AS status, "
            "row_number() OVER (PARTITION BY pm.pattern_id ORDER BY min(pm.dead_at), pm.referral_id) AS n "
            "FROM outbound_pattern_messages pm JOIN outbound_messages o ON o.message_id = pm.message_id "
            f"WHERE pm.pattern_id IN ({marks(len(pattern_ids))}) GROUP BY pm.pattern_id, pm.referral_id) "
            "SELECT pattern_id, referral_id, messages, event_time, dead_at, status FROM r WHERE n <= ? "
            "ORDER BY pattern_id, n", [*pattern_ids, int(limit)])
        out: dict[str, list[dict[str, Any]]] = {p: [] for p in pattern_ids}
        for pattern_id, referral_id, messages, event_time, dead_at, status in rows:
            out[pattern_id].append({"referral_id": referral_id, "messages": messages, "event_time": event_time,
                                    "dead_at": dead_at, "status": status})
        return out

    def dead_messages(self, pattern_id: str, dead: str) -> list[int]:
        """The pattern's messages still ``dead`` (not yet back-posted), in event order."""
        return [r[0] for r in self._db.query(
            "SELECT o.message_id FROM outbound_pattern_messages pm JOIN outbound_messages o "
            "ON o.message_id = pm.message_id WHERE pm.pattern_id = ? AND o.status = ? ORDER BY o.message_id",
            [pattern_id, dead])]

    def open_of_partner(self, partner_id: str) -> list[str]:
        return [r[0] for r in self._db.query(
            "SELECT pattern_id FROM outbound_patterns WHERE partner_id = ? AND closed_at IS NULL ORDER BY pattern_id",
            [partner_id])]

    def close(self, pattern_ids: Sequence[str], at: datetime, by: str, note: str, back_post_id: str) -> None:
        """Close open patterns (inside a transaction); Conflict when one of them is closed already."""
        if not pattern_ids:
            return
        done = self._db.execute(
            "UPDATE outbound_patterns SET closed_at = ?, closed_by = ?, close_note = ?, back_post_id = ? "
            f"WHERE pattern_id IN ({marks(len(pattern_ids))}) AND closed_at IS NULL RETURNING pattern_id",
            [at, by, note, back_post_id, *pattern_ids])
        if len(done) != len(pattern_ids):
            raise Conflict("the pattern is closed already: only an open pattern is back-posted",
                           {"pattern_id": ["closed already"]})

    def next_back_post_id(self) -> str:
        """A new back-post id (``BP00000001``; inside a transaction)."""
        return f"BP{self._db.next_id('back_post'):08d}"

    def urgencies(self, referral_ids: Iterable[str]) -> dict[str, str]:
        """The urgency of each referral (what grades a dead message's severity)."""
        ids = sorted(set(referral_ids))
        if not ids:
            return {}
        return dict(self._db.query(f"SELECT referral_id, urgency FROM referrals WHERE referral_id IN "
                                   f"({marks(len(ids))})", ids))
