"""Referrals: the ``referrals`` table, each referral's history (``referral_events``) and its pauses.

A change of a referral runs under a version check (:meth:`ReferralTable.update`)
and writes one history row whose ``seq`` is the new version, so a referral's
version counts its recorded changes (the FHIR Task's ``versionId``). Column names
in an update come only from :data:`CHANGEABLE`; list queries are built in
``referral_queries.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mpi.errors import Conflict, StoreError
from mpi.store.columns import REFERRAL_EVENTS, REFERRAL_JSON, REFERRAL_PAUSES, REFERRALS, loads, marks, select
from mpi.store.database import Database
from mpi.store.referral_queries import referral_query

Key = tuple[str, str]
#: Columns a change may set (everything but the id, what was asked at intake, and the version).
CHANGEABLE = frozenset(REFERRALS) - {"referral_id", "reference", "requester", "requester_referral_id",
                                     "received_at", "recorded_at", "predecessor_id", "version"}
_SELECT = f"SELECT {select(REFERRALS)} FROM referrals"


def _referral(row: tuple) -> dict[str, Any]:
    referral = dict(zip(REFERRALS, row))
    for column in REFERRAL_JSON:
        referral[column] = loads(referral[column])
    return referral


def _dumped(column: str, value: Any) -> Any:
    return json.dumps(value) if column in REFERRAL_JSON and value is not None else value


class ReferralTable:
    """The referrals of one store, with their history and pauses."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("referral", "SELECT max(referral_id) FROM referrals", prefix="RF")

    # -- one referral ---------------------------------------------------------------------------------

    def next_id(self) -> tuple[str, int]:
        """A new referral id and its number (inside a transaction: ids are taken by writes)."""
        number = self._db.next_id("referral")
        return f"RF{number:08d}", number

    def insert(self, referral: dict[str, Any]) -> None:
        """Store a new referral (every column of :data:`REFERRALS`; version 1)."""
        values = [_dumped(c, referral.get(c)) for c in REFERRALS]
        self._db.execute(f"INSERT INTO referrals ({select(REFERRALS)}) VALUES ({marks(len(REFERRALS))})", values)

    def get(self, referral_id: str) -> dict[str, Any] | None:
        row = self._db.one(f"{_SELECT} WHERE referral_id = ?", [referral_id])
        return _referral(row) if row else None

    def by_requester_id(self, requester: str, requester_referral_id: str) -> str | None:
        """The referral a requester sent under its own id (the original: never a redirect's successor)."""
        row = self._db.one("SELECT referral_id FROM referrals WHERE requester = ? AND requester_referral_id = ? "
                           "AND predecessor_id IS NULL", [requester, requester_referral_id])
        return row[0] if row else None

    def update(self, referral_id: str, expected_version: int, **changes: Any) -> int:
        """Change a referral still at ``expected_version``; returns the new version.

        Raises:
            Conflict: the referral has changed since the caller read it.
        """
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise StoreError(f"not a changeable referral column: {', '.join(sorted(unknown))}")
        sets = "".join(f"{column} = ?, " for column in changes)
        rows = self._db.execute(
            f"UPDATE referrals SET {sets}version = version + 1 WHERE referral_id = ? AND version = ?",
            [*(_dumped(c, v) for c, v in changes.items()), referral_id, int(expected_version)])
        if not rows or rows[0][0] != 1:
            raise Conflict(f"referral {referral_id} has changed since version {expected_version}: reload it",
                           {"version": ["stale: the referral was changed by someone else"]})
        return int(expected_version) + 1

    # -- history ------------------------------------------------------------------------------------------

    def add_event(self, referral_id: str, seq: int, kind: str, from_state: str | None, to_state: str | None,
                  event_time: datetime, actor: str, party: str | None = None, reason: str | None = None,
                  note: str | None = None, detail: Any = None) -> None:
        """One row of a referral's history (``seq``: the version the change made)."""
        self._db.execute(f"INSERT INTO referral_events ({select(REFERRAL_EVENTS)}) "
                         f"VALUES ({marks(len(REFERRAL_EVENTS))})",
                         [referral_id, seq, kind, from_state, to_state, event_time, self._db.now(), actor, party,
                          reason, note, None if detail is None else json.dumps(detail)])

    def events(self, referral_id: str) -> list[dict[str, Any]]:
        """A referral's history, oldest first."""
        rows = self._db.query(f"SELECT {select(REFERRAL_EVENTS)} FROM referral_events WHERE referral_id = ? "
                              "ORDER BY seq", [referral_id])
        return [{**dict(zip(REFERRAL_EVENTS, r)), "detail": loads(r[-1])} for r in rows]

    # -- pauses ---------------------------------------------------------------------------------------------

    def start_pause(self, referral_id: str, kind: str, at: datetime, case_id: str | None = None) -> None:
        self._db.execute(f"INSERT INTO referral_pauses ({select(REFERRAL_PAUSES)}) VALUES (?, ?, ?, NULL, ?)",
                         [referral_id, kind, at, case_id])

    def end_pause(self, referral_id: str, kind: str, at: datetime) -> None:
        """End the referral's running pause of this kind (if any); it ends no earlier than it started."""
        self._db.execute("UPDATE referral_pauses SET ended_at = greatest(started_at, ?) "
                         "WHERE referral_id = ? AND kind = ? AND ended_at IS NULL", [at, referral_id, kind])

    def pauses(self, referral_id: str) -> list[dict[str, Any]]:
        rows = self._db.query(f"SELECT {select(REFERRAL_PAUSES)} FROM referral_pauses WHERE referral_id = ? "
                              "ORDER BY started_at", [referral_id])
        return [dict(zip(REFERRAL_PAUSES, r)) for r in rows]

    # -- lineage and the referrals an identity change touches ---------------------------------------------

    def successors(self, referral_id: str) -> list[str]:
        rows = self._db.query("SELECT referral_id FROM referrals WHERE predecessor_id = ? ORDER BY referral_id",
                              [referral_id])
        return [r[0] for r in rows]

    def ids_where(self, column: str, value: Any, states: Sequence[str]) -> list[str]:
        """Referrals in these states whose ``record``, ``person_id`` or ``review_case_id`` is ``value``."""
        if column == "record":
            condition, params = "source_system = ? AND source_record_id = ?", list(value)
        elif column in ("person_id", "review_case_id"):
            condition, params = f"{column} = ?", [value]
        else:
            raise StoreError(f"referrals are not looked up by {column}")
        rows = self._db.query(f"SELECT referral_id FROM referrals WHERE {condition} AND list_contains(?, state) "
                              "ORDER BY referral_id", [*params, list(states)])
        return [r[0] for r in rows]

    def gated_on_closed_cases(self, closed_states: Sequence[str]) -> list[str]:
        """Gated referrals whose review case is closed (a gate an event failed to lift: the sweep's safety net)."""
        rows = self._db.query("SELECT r.referral_id FROM referrals r JOIN review_cases c "
                              "ON c.case_id = r.review_case_id WHERE r.gate IS NOT NULL "
                              "AND list_contains(?, c.state) ORDER BY r.referral_id", [list(closed_states)])
        return [r[0] for r in rows]

    def requesters_of(self, referral_ids: Sequence[str]) -> dict[str, str]:
        """Each referral's requester, by id."""
        rows = self._db.query("SELECT referral_id, requester FROM referrals WHERE referral_id IN "
                              "(SELECT unnest(?::VARCHAR[]))", [list(referral_ids)])
        return {r[0]: r[1] for r in rows}

    def live_records(self, states: Sequence[str]) -> Iterable[Key]:
        """The record keys of referrals in these states (what identity events are checked against)."""
        for r in self._db.stream("SELECT DISTINCT source_system, source_record_id FROM referrals "
                                 "WHERE list_contains(?, state)", [list(states)], own_cursor=True):
            yield r[0], r[1]

    # -- the sweep's expiries ---------------------------------------------------------------------------------

    def expire_due(self, now: datetime, actor: str, submitted: str, expired: str, reason: str, party: str,
                   pause_kind: str) -> list[tuple[str, str, int, datetime]]:
        """Expire every referral still ``submitted`` past its expiry, in a few set-based statements.

        Each gets its history row (event time: when it expired), the pause a closed
        referral's clocks stand in, and loses its running due times. Returns
        (referral id, performer, new version, event time) of each.
        """
        due = "state = ? AND expiry_due_at <= ?"
        self._db.execute(
            f"INSERT INTO referral_events ({select(REFERRAL_EVENTS)}) "
            f"SELECT referral_id, version + 1, 'status', ?, ?, expiry_due_at, ?, ?, ?, ?, NULL, NULL "
            f"FROM referrals WHERE {due}", [submitted, expired, now, actor, party, reason, submitted, now])
        self._db.execute(
            f"INSERT INTO referral_pauses ({select(REFERRAL_PAUSES)}) "
            f"SELECT referral_id, ?, expiry_due_at, NULL, NULL FROM referrals WHERE {due}",
            [pause_kind, submitted, now])
        rows = self._db.execute(
            "UPDATE referrals SET state = ?, state_reason = ?, state_party = ?, resume_state = state, "
            "closed_at = expiry_due_at, updated_at = ?, next_due_at = NULL, next_clock = NULL, "
            f"version = version + 1 WHERE {due} RETURNING referral_id, performer, version, expiry_due_at",
            [expired, reason, party, now, submitted, now])
        return [tuple(r) for r in rows]

    # -- lists ------------------------------------------------------------------------------------------------

    def page(self, **filters: Any) -> list[dict[str, Any]]:
        """Referrals for :func:`~mpi.store.referral_queries.referral_query`'s filters."""
        sql, params = referral_query(**filters)
        return [_referral(r) for r in self._db.query(sql, params)]

    def count(self, **filters: Any) -> int:
        sql, params = referral_query(**filters, count=True)
        return self._db.one(sql, params)[0]
