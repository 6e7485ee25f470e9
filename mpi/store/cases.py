"""Review-case SQL: the steward's queue, case updates under a version check, holds and not-duplicate pairs.

A mixin of :class:`mpi.store.Store` (it uses the gateway's ``_all``/``_one``
plumbing and its writer lock), kept apart so the gateway stays one concept.
Queries are *built* by the pure functions ``queue_query`` and ``counts_query``
and *run* here; every value from outside is a bound parameter, and column names
in an update come only from ``CASE_COLUMNS``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from mpi.errors import Conflict, StoreError

#: Columns of ``review_cases`` an action may change (besides ``updated_at`` and ``version``).
CASE_COLUMNS = frozenset({"state", "priority", "resolution", "owner", "blocks", "due_at"})

_CASE_FIELDS = ("case_id", "kind", "source_system", "source_record_id", "state", "priority", "resolution",
                "owner", "blocks", "model_version", "created_at", "updated_at", "due_at", "version")

#: A case's due time: stored when it opens; for a case opened before due times were kept, its
#: creation plus its priority's target (three bound intervals: urgent, high, routine).
_DUE = ("coalesce(due_at, created_at + CASE priority WHEN 'urgent' THEN ?::INTERVAL "
        "WHEN 'high' THEN ?::INTERVAL ELSE ?::INTERVAL END)")
_URGENCY = "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END"
AGE_BUCKETS = (("under_4h", timedelta(hours=4)), ("4h_to_24h", timedelta(hours=24)),
               ("1d_to_3d", timedelta(days=3)), ("over_3d", None))


def _targets_params(targets: dict[str, timedelta]) -> list[timedelta]:
    return [targets["urgent"], targets["high"], targets["routine"]]


def queue_query(*, states: Sequence[str], targets: dict[str, timedelta], now: datetime,
                priorities: Sequence[str] | None = None, owner: str | None = None,
                source_system: str | None = None, min_age_hours: float | None = None,
                overdue: bool | None = None, limit: int = 100, offset: int = 0,
                active_states: Sequence[str] = ("open", "in_review", "on_hold")) -> tuple[str, list[Any]]:
    """SQL and parameters of the queue: cases matching the filters, most urgent first, then oldest."""
    clauses, params = ["list_contains(?, state)"], [list(states)]
    if priorities:
        clauses.append("list_contains(?, priority)")
        params.append(list(priorities))
    if owner is not None:
        clauses.append("owner = ?")
        params.append(owner)
    if source_system is not None:
        clauses.append("source_system = ?")
        params.append(source_system)
    if min_age_hours is not None:
        clauses.append("created_at <= ?")
        params.append(now - timedelta(hours=float(min_age_hours)))
    if overdue is not None:
        clauses.append(("" if overdue else "NOT ") + "(due < ? AND list_contains(?, state))")
        params += [now, list(active_states)]
    sql = (f"WITH c AS (SELECT *, {_DUE} AS due FROM review_cases) "
           f"SELECT {', '.join(_CASE_FIELDS[:-2])}, due, version FROM c WHERE {' AND '.join(clauses)} "
           f"ORDER BY {_URGENCY}, created_at, case_id LIMIT ? OFFSET ?")
    return sql, [*_targets_params(targets), *params, int(limit), int(offset)]


def counts_query(*, states: Sequence[str], targets: dict[str, timedelta], now: datetime) -> tuple[str, list[Any]]:
    """SQL and parameters counting the waiting cases by priority, state, age bucket and overdue."""
    whens, params = [], []
    for name, upper in AGE_BUCKETS:
        if upper is None:
            whens.append(f"ELSE '{name}'")
        else:
            whens.append(f"WHEN created_at > ? THEN '{name}'")
            params.append(now - upper)
    sql = (f"WITH c AS (SELECT priority, state, created_at, {_DUE} AS due FROM review_cases "
           "WHERE list_contains(?, state)) "
           f"SELECT priority, state, CASE {' '.join(whens)} END AS bucket, due < ? AS overdue, count(*) "
           "FROM c GROUP BY ALL")
    return sql, [*_targets_params(targets), list(states), *params, now]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class CaseQueries:
    """The review-case half of the store (mixed into :class:`~mpi.store.Store`)."""

    # -- the queue -------------------------------------------------------------------------

    def case_queue(self, **filters: Any) -> list[dict]:
        """Cases for :func:`queue_query`'s filters, each with its candidates (no evidence) and current hold."""
        sql, params = queue_query(**filters)
        rows = self._all(sql, params)
        cases = [dict(zip(_CASE_FIELDS, r)) for r in rows]
        if not cases:
            return cases
        ids = [c["case_id"] for c in cases]
        candidates: dict[str, list[dict]] = {i: [] for i in ids}
        for r in self._all("SELECT case_id, rank, person_id, score, probability FROM review_candidates "
                           "WHERE list_contains(?, case_id) ORDER BY case_id, rank", [ids]):
            candidates[r[0]].append({"rank": r[1], "person_id": r[2], "match_weight": r[3],
                                     "match_probability": r[4]})
        holds = self._current_holds(ids)
        for case in cases:
            case["blocks"] = json.loads(case["blocks"]) if case["blocks"] else []
            case["candidates"] = candidates[case["case_id"]]
            case["hold"] = holds.get(case["case_id"])
        return cases

    def case_counts(self, **args: Any) -> list[tuple[str, str, str, bool, int]]:
        """Rows of (priority, state, age bucket, overdue, count) for :func:`counts_query`."""
        sql, params = counts_query(**args)
        return [tuple(r) for r in self._all(sql, params)]

    # -- changes -------------------------------------------------------------------------------

    def update_case(self, case_id: str, expected_version: int, **changes: Any) -> int:
        """Change a case if it is still at ``expected_version``; returns the new version.

        Raises:
            Conflict: the case has moved on since the caller read it.
        """
        self._require_transaction()
        unknown = set(changes) - CASE_COLUMNS
        if unknown:
            raise StoreError(f"not a changeable case column: {', '.join(sorted(unknown))}")
        if "blocks" in changes:
            changes["blocks"] = json.dumps(changes["blocks"])
        sets = "".join(f"{column} = ?, " for column in changes)
        rows = self._all(
            f"UPDATE review_cases SET {sets}updated_at = ?, version = version + 1 WHERE case_id = ? AND version = ?",
            [*changes.values(), _now(), case_id, int(expected_version)],
        )
        if not rows or rows[0][0] != 1:
            raise Conflict(f"review case {case_id} has changed since version {expected_version}: reload it",
                           {"version": ["stale: the case was changed by someone else"]})
        return int(expected_version) + 1

    def latest_case_of_record(self, source_system: str, source_record_id: str) -> dict | None:
        """The most recent case (any state) of a record, or None."""
        row = self._one("SELECT case_id FROM review_cases WHERE source_system = ? AND source_record_id = ? "
                        "ORDER BY created_at DESC, case_id DESC LIMIT 1", [source_system, source_record_id])
        return self.get_case(row[0]) if row else None

    # -- holds --------------------------------------------------------------------------------

    def add_hold(self, case_id: str, actor: str, note: str, follow_up: date) -> None:
        self._require_transaction()
        self._all("INSERT INTO case_holds VALUES (?, ?, ?, ?, ?, NULL, NULL)", [case_id, _now(), actor, note, follow_up])

    def release_hold(self, case_id: str, actor: str) -> None:
        self._require_transaction()
        self._all("UPDATE case_holds SET released_at = ?, released_by = ? WHERE case_id = ? AND released_at IS NULL",
                  [_now(), actor, case_id])

    def current_hold(self, case_id: str) -> dict | None:
        """The case's hold not yet released (note, follow-up date, who and when), or None."""
        return self._current_holds([case_id]).get(case_id)

    def _current_holds(self, case_ids: list[str]) -> dict[str, dict]:
        rows = self._all("SELECT case_id, note, follow_up, held_by, held_at FROM case_holds "
                         "WHERE released_at IS NULL AND list_contains(?, case_id)", [case_ids])
        return {r[0]: {"note": r[1], "follow_up": r[2], "held_by": r[3], "held_at": r[4]} for r in rows}

    # -- not-duplicate pairs ---------------------------------------------------------------------

    def add_not_duplicate(self, source_system: str, source_record_id: str, person_id: str, case_id: str | None,
                          actor: str, reason: str) -> None:
        """Remember that a record is not a person (kept once per pair)."""
        self._require_transaction()
        self._all("INSERT INTO not_duplicate VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                  [source_system, source_record_id, person_id, case_id, actor, reason, _now()])

    def not_duplicate_pairs(self) -> Iterator[tuple[tuple[str, str], str]]:
        """Every remembered (record key, person id) pair."""
        for r in self._all("SELECT source_system, source_record_id, person_id FROM not_duplicate"):
            yield (r[0], r[1]), r[2]

    def not_duplicates_of(self, source_system: str, source_record_id: str) -> list[dict]:
        rows = self._all("SELECT person_id, case_id, actor, reason, decided_at FROM not_duplicate "
                         "WHERE source_system = ? AND source_record_id = ? ORDER BY person_id",
                         [source_system, source_record_id])
        return [{"person_id": r[0], "case_id": r[1], "actor": r[2], "reason": r[3], "decided_at": r[4]} for r in rows]

    # -- users ------------------------------------------------------------------------------------

    def user_role(self, name: str) -> str | None:
        """The role of a user by name, or None if there is no such user."""
        row = self._one("SELECT role FROM users WHERE name = ?", [name])
        return row[0] if row else None
