"""The outbox (the ``outbound_messages`` table): status feedback waiting for, or done with, delivery to partners.

Rows are added inside the transaction of the status change they carry and
change state afterwards, batch by batch, each batch one transaction. A message
is due when it is the first undelivered message of its referral and partner
(``message_id`` order is event order: one writer numbers them in commit order),
its partner is active, and its next attempt's time has come; so a later
message waits while an earlier one is queued, failing or dead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from mpi.store.columns import OUTBOUND_MESSAGES, loads, marks, select
from mpi.store.database import Database

_SELECT = f"SELECT {select(OUTBOUND_MESSAGES, 'm')} FROM outbound_messages m"
#: What an outcome sets on a message after an attempt (the worker's :class:`Outcome` fields, in this order).
_OUTCOME = ("status", "attempts", "next_attempt_at", "sent_at", "acknowledged_at", "dead_at", "error_code",
            "http_status")

_TS = pa.timestamp("us", tz="UTC")
#: Arrow types of the columns that are not text (for :meth:`OutboxTable.add_many`).
_ARROW = {"message_id": pa.int64(), "referral_version": pa.int32(), "crosswalk_version": pa.int64(),
          "lossy": pa.bool_(), "attempts": pa.int32(), "http_status": pa.int32(), "event_time": _TS,
          "recorded_time": _TS, "next_attempt_at": _TS, "sent_at": _TS, "acknowledged_at": _TS, "dead_at": _TS,
          "back_posted_at": _TS}


def _message(row: tuple) -> dict[str, Any]:
    message = dict(zip(OUTBOUND_MESSAGES, row))
    message["payload"] = loads(message["payload"])
    return message


class OutboxTable:
    """The outbound messages of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("outbound", "SELECT max(message_id) FROM outbound_messages")

    def add(self, message: dict[str, Any]) -> int:
        """Insert one message (inside the transaction of the change it carries); returns its ``message_id``."""
        message_id = self._db.next_id("outbound")
        row = {**message, "message_id": message_id}
        self._db.execute(f"INSERT INTO outbound_messages ({select(OUTBOUND_MESSAGES)}) "
                         f"VALUES ({marks(len(OUTBOUND_MESSAGES))})", [row.get(c) for c in OUTBOUND_MESSAGES],
                         flush=False)
        return message_id

    def add_many(self, messages: Sequence[dict[str, Any]]) -> list[int]:
        """Insert many messages in one statement (inside a transaction; a bulk intake or a benchmark's backlog)."""
        ids = self._db.take("outbound", len(messages))
        rows = [{**m, "message_id": i} for m, i in zip(messages, ids)]
        table = pa.table({c: pa.array([r.get(c) for r in rows], type=_ARROW.get(c, pa.string()))
                          for c in OUTBOUND_MESSAGES})
        self._db.insert_arrow("outbound_messages", OUTBOUND_MESSAGES, table, "outbox bulk insert")
        return ids

    def get(self, message_id: int) -> dict[str, Any] | None:
        row = self._db.one(f"{_SELECT} WHERE m.message_id = ?", [message_id])
        return _message(row) if row else None

    def of_referral(self, referral_id: str) -> list[dict[str, Any]]:
        """A referral's messages to every partner, in order."""
        return [_message(r) for r in self._db.query(f"{_SELECT} WHERE m.referral_id = ? ORDER BY m.message_id",
                                                    [referral_id])]

    def of_partner(self, partner_id: str) -> list[dict[str, Any]]:
        """A partner's messages, in order."""
        return [_message(r) for r in self._db.query(f"{_SELECT} WHERE m.partner_id = ? ORDER BY m.message_id",
                                                    [partner_id])]

    def due(self, now: datetime, limit: int, delivered: str, sendable: Sequence[str], active: str) -> list[dict]:
        """Up to ``limit`` messages to send now, oldest first: each the first not ``delivered`` of its referral
        and partner, in one of the ``sendable`` statuses, its attempt due, its partner ``active``."""
        return [_message(r) for r in self._db.query(
            "WITH heads AS (SELECT min(message_id) AS head FROM outbound_messages WHERE status <> ? "
            "GROUP BY referral_id, partner_id) "
            f"{_SELECT} JOIN heads h ON m.message_id = h.head JOIN partners p ON p.partner_id = m.partner_id "
            f"WHERE m.status IN ({marks(len(sendable))}) AND m.next_attempt_at <= ? AND p.status = ? "
            "ORDER BY m.message_id LIMIT ?", [delivered, *sendable, now, active, int(limit)])]

    def mark(self, message_ids: Sequence[int], status: str, at: datetime) -> None:
        """Set the status of these messages, stamping ``sent_at`` (inside a transaction)."""
        if message_ids:
            self._db.execute(f"UPDATE outbound_messages SET status = ?, sent_at = ? "
                             f"WHERE message_id IN ({marks(len(message_ids))})", [status, at, *message_ids])

    def record(self, outcomes: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Store each attempt's outcome, ``(message_id, {status, attempts, ...})``, in one statement."""
        if not outcomes:
            return
        columns = ("message_id", *_OUTCOME)
        table = pa.table({c: pa.array([message_id if c == "message_id" else o[c] for message_id, o in outcomes],
                                      type=_ARROW.get(c, pa.string())) for c in columns})
        sets = ", ".join(f"{c} = v.{c}" for c in _OUTCOME)

        def update(cur: Any) -> None:
            cur.register("outcomes", table)
            try:
                cur.execute(f"UPDATE outbound_messages SET {sets} FROM outcomes AS v "
                            "WHERE outbound_messages.message_id = v.message_id")
            finally:
                cur.unregister("outcomes")

        self._db.run(update, "recording delivery outcomes")

    def requeue_status(self, from_status: str, to_status: str, now: datetime) -> int:
        """Move every message in ``from_status`` to ``to_status``, due now (inside a transaction); how many."""
        return len(self._db.execute("UPDATE outbound_messages SET status = ?, next_attempt_at = ? WHERE status = ? "
                                    "RETURNING message_id", [to_status, now, from_status]))

    def counts(self) -> dict[str, int]:
        """Messages by delivery status."""
        return dict(self._db.query("SELECT status, count(*) FROM outbound_messages GROUP BY status"))

    def next_due(self, delivered: str, sendable: Sequence[str], active: str) -> datetime | None:
        """When the earliest scheduled attempt of any sendable head message falls (for the worker's sleep)."""
        row = self._db.one(
            "WITH heads AS (SELECT min(message_id) AS head FROM outbound_messages WHERE status <> ? "
            "GROUP BY referral_id, partner_id) SELECT min(m.next_attempt_at) FROM outbound_messages m "
            "JOIN heads h ON m.message_id = h.head JOIN partners p ON p.partner_id = m.partner_id "
            f"WHERE m.status IN ({marks(len(sendable))}) AND p.status = ?", [delivered, *sendable, active])
        return row[0] if row else None

    def back_post(self, message_ids: Sequence[int], back_post_id: str, at: datetime, queued: str) -> int:
        """Queue these messages again, due at ``at``, with a fresh retry budget, marked with the back-post that
        sent them (inside a transaction); how many. Their payload, event time and order stay as they were."""
        if not message_ids:
            return 0
        return len(self._db.execute(
            "UPDATE outbound_messages SET status = ?, attempts = 0, next_attempt_at = ?, back_post_id = ?, "
            f"back_posted_at = ? WHERE message_id IN ({marks(len(message_ids))}) RETURNING message_id",
            [queued, at, back_post_id, at, *message_ids]))

    def held(self, partner_id: str, undelivered: Sequence[str]) -> list[int]:
        """A partner's messages in one of the ``undelivered`` statuses, in event order."""
        return [r[0] for r in self._db.query(
            f"SELECT message_id FROM outbound_messages WHERE partner_id = ? AND status IN ({marks(len(undelivered))}) "
            "ORDER BY message_id", [partner_id, *undelivered])]

    def views(self, referral_id: str, delivered: str, dead: str) -> list[dict[str, Any]]:
        """How each partner's view of a referral stands: since when it misses a change (the event time of its
        first undelivered message), how many it misses, and when it last acknowledged one."""
        return [dict(zip(("partner_id", "stale_since", "undelivered", "last_acknowledged_at", "dead"), r))
                for r in self._db.query(
            "SELECT partner_id, min(event_time) FILTER (WHERE status <> ?), count(*) FILTER (WHERE status <> ?), "
            "max(acknowledged_at), count(*) FILTER (WHERE status = ?) FROM outbound_messages "
            "WHERE referral_id = ? GROUP BY partner_id ORDER BY partner_id", [delivered, delivered, dead, referral_id])]

    def stale(self, partner_id: str, delivered: str) -> dict[str, Any]:
        """How many referrals a partner's view is stale for, and since when (the earliest undelivered event)."""
        row = self._db.one("SELECT count(DISTINCT referral_id), count(*), min(event_time) FROM outbound_messages "
                           "WHERE partner_id = ? AND status <> ?", [partner_id, delivered])
        return {"stale_referrals": row[0], "undelivered": row[1], "stale_since": row[2]}
