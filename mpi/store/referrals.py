"""Referrals: the ``referrals`` table (its pauses kept on the row as JSON) and each referral's history.

A change of a referral runs under a version check (:meth:`ReferralTable.update`)
and writes one history row whose ``seq`` is the new version, so a referral's
version counts its recorded changes (the FHIR Task's ``versionId``). Column names
in an update come only from :data:`CHANGEABLE`; list queries are built in
``referral_queries.py``.

A request changes one referral and must stay within milliseconds at a million
of them, so: a read returns the row's ``rowid`` and the update finds the row by it
(DuckDB plans an UPDATE's key filter as a scan, its rowid filter as a direct
fetch); history rows are buffered with the transaction's other writes; a new
referral's row is written without flushing the writes buffered before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mpi.errors import Conflict, StoreError
from mpi.store.columns import REFERRAL_EVENTS, REFERRAL_JSON, REFERRALS, loads, marks, select
from mpi.store.database import Database
from mpi.store.grant_filter import GrantFilter
from mpi.store.referral_queries import referral_query

Key = tuple[str, str]
#: Columns a change may set (everything but the id, what was asked at intake, and the version).
CHANGEABLE = frozenset(REFERRALS) - {"referral_id", "reference", "requester", "requester_referral_id",
                                     "received_at", "recorded_at", "predecessor_id", "version"}
_SELECT = f"SELECT {select(REFERRALS)}, rowid FROM referrals"
_PAUSE_TIMES = ("started_at", "ended_at")


def _referral(row: tuple) -> dict[str, Any]:
    """A row as a dict: JSON columns loaded, pause times as datetimes, and the row's ``_rowid`` for its update."""
    referral = dict(zip(REFERRALS, row))
    for column in REFERRAL_JSON:
        referral[column] = loads(referral[column])
    referral["pauses"] = [{**p, **{t: p[t] and datetime.fromisoformat(p[t]) for t in _PAUSE_TIMES}}
                          for p in referral["pauses"] or []]
    if len(row) > len(REFERRALS):
        referral["_rowid"] = row[len(REFERRALS)]
    return referral


def _dumped(column: str, value: Any) -> Any:
    if column == "pauses":
        return json.dumps([{**p, **{t: p[t] and p[t].isoformat() for t in _PAUSE_TIMES}} for p in value or []])
    return json.dumps(value) if column in REFERRAL_JSON and value is not None else value


class ReferralTable:
    """The referrals of one store, with their history and pauses."""

    def __init__(self, db: Database, present: GrantFilter):
        self._db = db
        #: A referral gives its requester its record (``GrantTable.match_answer``): noted as it is written.
        self._present = present
        db.sequence("referral", "SELECT max(referral_id) FROM referrals", prefix="RF")

    # -- one referral ---------------------------------------------------------------------------------

    def next_id(self) -> tuple[str, int]:
        """A new referral id and its number (inside a transaction: ids are taken by writes)."""
        number = self._db.next_id("referral")
        return f"RF{number:08d}", number

    def insert(self, referral: dict[str, Any]) -> None:
        """Store a new referral (every column of :data:`REFERRALS`; version 1), leaving buffered writes buffered."""
        values = [_dumped(c, referral.get(c)) for c in REFERRALS]
        self._present.note(referral.get("requester"), referral.get("source_record_id"))
        self._db.execute(f"INSERT INTO referrals ({select(REFERRALS)}) VALUES ({marks(len(REFERRALS))})", values,
                         flush=False)

    def get(self, referral_id: str) -> dict[str, Any] | None:
        """A referral as stored, or None (its own table only, never buffered: buffered writes stay buffered)."""
        row = self._db.one(f"{_SELECT} WHERE referral_id = ?", [referral_id], flush=False)
        return _referral(row) if row else None

    def by_requester_id(self, requester: str, requester_referral_id: str) -> str | None:
        """The referral a requester sent under its own id (the original: never a redirect's successor).

        Looked up by the id alone, through its index, and narrowed here: DuckDB uses an index only for
        a lone equality, so a second condition in the query would make it a scan.
        """
        rows = self._db.query("SELECT referral_id, requester, predecessor_id FROM referrals "
                              "WHERE requester_referral_id = ?", [requester_referral_id], flush=False)
        return next((r[0] for r in rows if r[1] == requester and r[2] is None), None)

    def update(self, referral: dict[str, Any], **changes: Any) -> int:
        """Change a referral (as :meth:`get` read it) if it is still at the version read; returns the new version.

        Raises:
            Conflict: the referral has changed since the caller read it.
        """
        unknown = set(changes) - CHANGEABLE
        if unknown:
            raise StoreError(f"not a changeable referral column: {', '.join(sorted(unknown))}")
        referral_id, expected_version = referral["referral_id"], int(referral["version"])
        if "source_record_id" in changes:
            self._present.note(referral["requester"], changes["source_record_id"])
        sets = "".join(f"{column} = ?, " for column in changes)
        rows = self._db.execute(  # its own table only: buffered writes stay buffered (a group's, ``group.py``)
            f"UPDATE referrals SET {sets}version = version + 1 WHERE rowid = ? AND referral_id = ? AND version = ?",
            [*(_dumped(c, v) for c, v in changes.items()), referral["_rowid"], referral_id, expected_version],
            flush=False)
        if not rows or rows[0][0] != 1:
            raise Conflict(f"referral {referral_id} has changed since version {expected_version}: reload it",
                           {"version": ["stale: the referral was changed by someone else"]})
        return int(expected_version) + 1

    # -- history ------------------------------------------------------------------------------------------

    def add_event(self, referral_id: str, seq: int, kind: str, from_state: str | None, to_state: str | None,
                  event_time: datetime, actor: str, party: str | None = None, reason: str | None = None,
                  note: str | None = None, detail: Any = None) -> dict[str, Any]:
        """One row of a referral's history (``seq``: the version the change made), buffered; returns it."""
        row = [referral_id, seq, kind, from_state, to_state, event_time, self._db.now(), actor, party, reason, note,
               None if detail is None else json.dumps(detail)]
        self._db.pending().referral_events.append(row)
        return {**dict(zip(REFERRAL_EVENTS, row)), "detail": detail}

    def events(self, referral_id: str) -> list[dict[str, Any]]:
        """A referral's history, oldest first."""
        rows = self._db.query(f"SELECT {select(REFERRAL_EVENTS)} FROM referral_events WHERE referral_id = ? "
                              "ORDER BY seq", [referral_id])
        return [{**dict(zip(REFERRAL_EVENTS, r)), "detail": loads(r[-1])} for r in rows]

    # -- lineage and the referrals an identity change touches ---------------------------------------------

    def successors(self, referral_id: str) -> list[str]:
        rows = self._db.query("SELECT referral_id FROM referrals WHERE predecessor_id = ? ORDER BY referral_id",
                              [referral_id])
        return [r[0] for r in rows]

    def ids_where(self, column: str, value: Any, states: Sequence[str]) -> list[str]:
        """Referrals in these states whose ``record``, ``person_id`` or ``review_case_id`` is ``value``.

        Each looked up through the index of one column (see :meth:`by_requester_id`), the rest narrowed here.
        """
        if column == "record":
            rows = self._db.query("SELECT referral_id, state, source_system FROM referrals "
                                  "WHERE source_record_id = ?", [value[1]])
            rows = [r for r in rows if r[2] == value[0]]
        elif column in ("person_id", "review_case_id"):
            rows = self._db.query(f"SELECT referral_id, state FROM referrals WHERE {column} = ?", [value])
        else:
            raise StoreError(f"referrals are not looked up by {column}")
        wanted = set(states)
        return sorted(r[0] for r in rows if r[1] in wanted)

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

    def expire_due(self, now: datetime, actor: str, submitted: str, expired: str, reason: str,
                   party: str) -> list[tuple[str, str, int, datetime]]:
        """Expire every referral still ``submitted`` past its expiry, in two set-based statements.

        Each gets its history row (event time: when it expired) and loses its running
        due times (a closed referral's clocks stand still from ``closed_at`` until it is
        reopened). Returns (referral id, performer, new version, event time) of each.
        """
        due = "state = ? AND expiry_due_at <= ?"
        self._db.execute(
            f"INSERT INTO referral_events ({select(REFERRAL_EVENTS)}) "
            f"SELECT referral_id, version + 1, 'status', ?, ?, expiry_due_at, ?, ?, ?, ?, NULL, NULL "
            f"FROM referrals WHERE {due}", [submitted, expired, now, actor, party, reason, submitted, now])
        rows = self._db.execute(
            "UPDATE referrals SET state = ?, state_reason = ?, state_party = ?, resume_state = state, "
            "closed_at = expiry_due_at, stepped_at = expiry_due_at, updated_at = ?, next_due_at = NULL, "
            f"next_clock = NULL, version = version + 1 WHERE {due} "
            "RETURNING referral_id, performer, version, expiry_due_at",
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
