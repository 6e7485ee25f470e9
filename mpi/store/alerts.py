"""Alerts of referral time targets (the ``alerts`` table), and the sweep's set-based SQL that raises them.

A sweep looks at every open referral, so it runs as a few statements over the
whole table rather than a loop over rows: one ``INSERT ... SELECT`` raises every
reminder (a target's reminder time has passed) and escalation (its due time has
passed) that is not in the table yet. An alert is one per referral, clock, kind
and due time, so a second sweep raises nothing twice, and a due time that moved
(a pause ended) gets alerts of its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mpi.errors import Conflict, NotFound
from mpi.store.columns import ALERTS, loads, select
from mpi.store.database import Database

#: Each clock's column prefix in ``referrals`` (the sweep's clocks; expiry is a state change, not an alert).
CLOCK_COLUMNS = (("acknowledge", "ack"), ("triage", "triage"), ("first_contact", "contact"))
_SELECT = f"SELECT {select(ALERTS, 'a')} FROM alerts a"


def _alert(row: tuple) -> dict[str, Any]:
    alert = dict(zip(ALERTS, row))
    alert["recipients"] = loads(alert["recipients"])
    return alert


def raise_due_query(open_states: Sequence[str], now: datetime,
                    numbering: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """SQL inserting every reminder and escalation now due and not yet raised, returning what it inserted.

    ``numbering`` is the SQL numbering the new alerts and its parameters (``Database.numbering``)."""
    branches, params = [], []
    for clock, prefix in CLOCK_COLUMNS:
        branches.append(
            f"SELECT referral_id, performer, ? AS clock, {prefix}_due_at AS due FROM referrals "
            f"WHERE list_contains(?, state) AND {prefix}_met_at IS NULL AND {prefix}_due_at IS NOT NULL "
            f"AND {prefix}_remind_at <= ?")
        params += [clock, list(open_states), now]
    sql = (f"INSERT INTO alerts ({select(ALERTS)}) "
           f"WITH c AS ({' UNION ALL '.join(branches)}), "
           "k AS (SELECT c.*, CASE WHEN due < ? THEN 'escalation' ELSE 'reminder' END AS kind FROM c), "
           "fresh AS (SELECT k.* FROM k WHERE NOT EXISTS (SELECT 1 FROM alerts x WHERE x.referral_id = k.referral_id "
           "AND x.clock = k.clock AND x.kind = k.kind AND x.due_at = k.due)) "
           f"SELECT 'AL' || lpad(CAST({numbering[0]} AS VARCHAR), 8, '0'), fresh.referral_id, fresh.kind, "
           "fresh.clock, fresh.performer, "
           "CASE WHEN fresh.kind = 'escalation' THEN coalesce(o.supervisors, '[]') ELSE '[]' END, fresh.due, ?, "
           "NULL, NULL "
           "FROM fresh LEFT JOIN organisations o ON o.code = fresh.performer "
           "RETURNING alert_id, referral_id, kind, clock")
    return sql, [*params, now, *numbering[1], now]


class AlertTable:
    """The alerts of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("alert", "SELECT max(alert_id) FROM alerts", prefix="AL")

    def raise_due(self, open_states: Sequence[str], now: datetime) -> list[tuple[str, str, str, str]]:
        """Raise every reminder and escalation due at ``now`` and not raised yet; returns (id, referral, kind, clock)."""
        numbering = self._db.numbering("alert", "fresh.referral_id, fresh.clock, fresh.kind")
        sql, params = raise_due_query(open_states, now, numbering)
        rows = self._db.execute(sql, params)
        self._db.numbered("alert", len(rows))
        return [tuple(r) for r in rows]

    def raise_escalations(self, subjects: Sequence[tuple[str, str, str, datetime]], kind: str,
                          now: datetime) -> list[tuple[str, str, str, str]]:
        """Raise an alert of ``kind`` for each (item id, queue, owner, due time) not raised yet (inside a transaction).

        The item id goes in ``referral_id``, the queue in ``clock``, the owning team in ``organisation`` and
        ``recipients``: one alert per item, queue, kind and due time, as the sweep's are. Returns
        (alert id, item id, kind, queue) of those raised.
        """
        if not subjects:
            return []
        existing = {(r[0], r[1], r[2]) for r in self._db.query(
            "SELECT referral_id, clock, due_at FROM alerts WHERE kind = ? AND list_contains(?, referral_id)",
            [kind, [s[0] for s in subjects]])}
        raised = []
        for item_id, queue, owner, due_at in subjects:
            if (item_id, queue, due_at) in existing:
                continue
            alert_id = f"AL{self._db.next_id('alert'):08d}"
            self._db.execute(f"INSERT INTO alerts ({select(ALERTS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                             [alert_id, item_id, kind, queue, owner, json.dumps([owner]), due_at, now])
            existing.add((item_id, queue, due_at))
            raised.append((alert_id, item_id, kind, queue))
        return raised

    def get(self, alert_id: str) -> dict[str, Any]:
        row = self._db.one(f"{_SELECT} WHERE alert_id = ?", [alert_id])
        if row is None:
            raise NotFound(f"alert {alert_id} not found")
        return _alert(row)

    def acknowledge(self, alert_id: str, by: str) -> dict[str, Any]:
        """Mark an alert acknowledged (once: a second acknowledgement is a Conflict naming who was first)."""
        alert = self.get(alert_id)
        if alert["acknowledged_at"] is not None:
            raise Conflict(f"alert {alert_id} was acknowledged already by {alert['acknowledged_by']}",
                           {"alert_id": ["acknowledged already"]})
        self._db.execute("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? WHERE alert_id = ?",
                         [self._db.now(), by, alert_id])
        return self.get(alert_id)

    def page(self, *, organisation: str | None = None, recipient: str | None = None,
             referral_id: str | None = None, kind: str | None = None, acknowledged: bool | None = None,
             limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """Alerts newest first, filtered by owning organisation, a recipient, a referral, kind and acknowledgement."""
        clauses, params = self._filters(organisation, recipient, referral_id, kind, acknowledged)
        rows = self._db.query(f"{_SELECT} WHERE {clauses} ORDER BY a.raised_at DESC, a.alert_id DESC "
                              "LIMIT ? OFFSET ?", [*params, int(limit), int(offset)])
        return [_alert(r) for r in rows]

    def count(self, **filters: Any) -> int:
        clauses, params = self._filters(**filters)
        return self._db.one(f"SELECT count(*) FROM alerts a WHERE {clauses}", params)[0]

    @staticmethod
    def _filters(organisation: str | None = None, recipient: str | None = None, referral_id: str | None = None,
                 kind: str | None = None, acknowledged: bool | None = None) -> tuple[str, list[Any]]:
        clauses, params = ["TRUE"], []
        if organisation is not None:
            clauses.append("a.organisation = ?")
            params.append(organisation)
        if recipient is not None:
            clauses.append("list_contains(CAST(json_extract_string(a.recipients, '$[*]') AS VARCHAR[]), ?)")
            params.append(recipient)
        if referral_id is not None:
            clauses.append("a.referral_id = ?")
            params.append(referral_id)
        if kind is not None:
            clauses.append("a.kind = ?")
            params.append(kind)
        if acknowledged is not None:
            clauses.append("a.acknowledged_at IS " + ("NOT NULL" if acknowledged else "NULL"))
        return " AND ".join(clauses), params
