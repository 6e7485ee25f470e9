"""Review cases: the cases and their candidates, the steward's queue, holds, not-duplicate pairs and persons apart.

Case changes run under a version check (``update``): a steward acting on a
case another steward has changed since gets a ``Conflict`` and nothing is
written. Column names in an update come only from :data:`CASE_COLUMNS`; the
queue's SQL is built in ``queue.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

from mpi.errors import Conflict, StoreError
from mpi.store.apart import are_apart_query, live_pairs_query, ordered
from mpi.store.case_reasons import CaseReasonTable
from mpi.store.columns import REVIEW_CASES, loads, select
from mpi.store.database import Database
from mpi.store.queue import counts_query, queue_query
from mpi.vocab import CLOSED_CASE_STATES, CaseState

#: Columns of ``review_cases`` an action may change (besides ``updated_at`` and ``version``).
CASE_COLUMNS = frozenset({"state", "priority", "resolution", "owner", "blocks", "due_at"})


class CaseTable:
    """The ``review_cases``, ``review_candidates``, ``case_holds``, ``not_duplicate`` and ``persons_apart`` tables
    of one store."""

    def __init__(self, db: Database):
        self._db = db
        #: Why each case holds its record (``case_reasons.py``), read with every case.
        self.reasons = CaseReasonTable(db)
        db.sequence("case", "SELECT max(case_id) FROM review_cases", prefix="RC")

    # -- one case ----------------------------------------------------------------------------------

    def open(self, kind: str, source_system: str, source_record_id: str, priority: str, blocks: list,
             model_version: str | None, candidates: list[dict], target: timedelta | None = None,
             held_because: dict | None = None) -> str:
        """Open a review case with its ranked candidates (buffered); returns the case id.

        ``target`` is the time its priority allows (``mpi.stewardship.priority``): the case is due then.
        ``held_because`` (``code``, ``sentence``, ``detail``) is why it holds its record (``case_reasons``).
        """
        case_id = f"RC{self._db.next_id('case'):08d}"
        now = self._db.now()
        pending = self._db.pending()
        pending.cases.append([
            case_id, kind, source_system, source_record_id, CaseState.OPEN.value, priority, None, None,
            json.dumps(blocks), model_version, now, now, None if target is None else now + target, 1,
        ])
        for rank, c in enumerate(candidates, start=1):
            pending.candidates.append(
                [case_id, rank, c["person_id"], c["match_weight"], c["match_probability"], json.dumps(c["evidence"])]
            )
        if held_because is not None:
            self.reasons.add(case_id, held_because["code"], held_because["sentence"], held_because.get("detail"))
        return case_id

    def replace_candidates(self, case_id: str, candidates: list[dict]) -> None:
        """Put a re-scored case's ranked candidates in place of its old ones."""
        self.replace_candidates_of({case_id: candidates})

    def replace_candidates_of(self, candidates_of: Mapping[str, list[dict]]) -> None:
        """Put re-scored cases' ranked candidates in place of their old ones: one delete however many cases
        (the new rows are buffered)."""
        if not candidates_of:
            return
        self._db.execute("DELETE FROM review_candidates WHERE list_contains(?, case_id)", [list(candidates_of)])
        pending = self._db.pending()
        for case_id, candidates in candidates_of.items():
            for rank, c in enumerate(candidates, start=1):
                pending.candidates.append([case_id, rank, c["person_id"], c["match_weight"], c["match_probability"],
                                           json.dumps(c["evidence"])])

    def active_naming(self, person_ids: list[str], states: list[str]) -> list[str]:
        """Cases in one of ``states`` with a candidate among ``person_ids``, oldest first."""
        rows = self._db.query(
            "SELECT DISTINCT c.case_id FROM review_candidates c JOIN review_cases r USING (case_id) "
            "WHERE list_contains(?, c.person_id) AND list_contains(?, r.state) ORDER BY c.case_id",
            [person_ids, states])
        return [r[0] for r in rows]

    def untaken(self, case_ids: Iterable[str]) -> set[str]:
        """Those of ``case_ids`` that are open with no owner."""
        rows = self._db.query("SELECT case_id FROM review_cases WHERE list_contains(?, case_id) AND state = ? "
                              "AND owner IS NULL", [list(case_ids), CaseState.OPEN.value])
        return {r[0] for r in rows}

    def persons_named(self, states: list[str]) -> list[str]:
        """Every person id a case in one of ``states`` names as a candidate."""
        rows = self._db.query(
            "SELECT DISTINCT c.person_id FROM review_candidates c JOIN review_cases r USING (case_id) "
            "WHERE list_contains(?, r.state)", [states])
        return [r[0] for r in rows]

    def persons_named_in(self, case_ids: Iterable[str], states: list[str]) -> list[str]:
        """The person ids these cases name as candidates, of those in one of ``states``."""
        rows = self._db.query(
            "SELECT DISTINCT c.person_id FROM review_candidates c JOIN review_cases r USING (case_id) "
            "WHERE list_contains(?, c.case_id) AND list_contains(?, r.state)", [sorted(case_ids), states])
        return [r[0] for r in rows]

    def close(self, case_id: str, state: str, resolution: str | None) -> None:
        """Close a case (``resolved`` with a resolution, or ``withdrawn``) without a version check: a system close.

        The buffered writes are flushed first only if the case is among them (opened in this transaction):
        nothing else buffered is in its row. A re-match of a load's held records closes a case per record it
        links, and a flush there would write the record linked before, whose old link is looked for by a
        scan of every link (50 ms at 2.5M links); unflushed, the pass's links are written at once at commit.
        """
        self._db.execute(
            "UPDATE review_cases SET state = ?, resolution = ?, updated_at = ?, version = version + 1 WHERE case_id = ?",
            [state, resolution, self._db.now(), case_id], flush=self._buffered(case_id),
        )

    def blocks_of(self, case_id: str) -> list | None:
        """What a case blocks (None if there is no such case); flushes only if the case is buffered (:meth:`close`)."""
        row = self._db.one("SELECT blocks FROM review_cases WHERE case_id = ?", [case_id],
                           flush=self._buffered(case_id))
        return None if row is None else loads(row[0])

    def _buffered(self, case_id: str) -> bool:
        """Whether the case was opened in this transaction and is still in its buffered writes."""
        pending = self._db.buffered()
        return pending is not None and any(row[0] == case_id for row in pending.cases)

    def get(self, case_id: str) -> dict | None:
        """A case with its candidates (and their evidence), or None."""
        return self.get_many([case_id]).get(case_id)

    def get_many(self, case_ids: Iterable[str]) -> dict[str, dict]:
        """Cases with their candidates (and their evidence) and reasons, by id (three queries however many)."""
        ids = list(case_ids)
        if not ids:
            return {}
        cases = {}
        for row in self._db.query(f"SELECT {select(REVIEW_CASES)} FROM review_cases WHERE list_contains(?, case_id)",
                                  [ids]):
            case = dict(zip(REVIEW_CASES, row))
            case["blocks"], case["candidates"] = loads(case["blocks"]), []
            cases[case["case_id"]] = case
        for case_id, rank, person_id, score, probability, evidence in self._db.query(
                "SELECT case_id, rank, person_id, score, probability, evidence FROM review_candidates "
                "WHERE list_contains(?, case_id) ORDER BY case_id, rank", [ids]):
            cases[case_id]["candidates"].append({"rank": rank, "person_id": person_id, "match_weight": score,
                                                 "match_probability": probability, "evidence": loads(evidence)})
        reasons = self.reasons.of(cases)
        for case_id, case in cases.items():
            case["reason"] = reasons.get(case_id)
        return cases

    def touch(self, versions: Mapping[str, int]) -> None:
        """Bump the version of cases whose candidates were replaced (re-scored), each still at the version read
        (``case_id -> version``): one statement per version read (after a load, one), however many cases.

        Raises:
            Conflict: one of the cases has moved on since it was read.
        """
        by_version: dict[int, list[str]] = {}
        for case_id, version in versions.items():
            by_version.setdefault(int(version), []).append(case_id)
        now = self._db.now()
        for version, ids in sorted(by_version.items()):
            rows = self._db.execute("UPDATE review_cases SET updated_at = ?, version = version + 1 "
                                    "WHERE list_contains(?, case_id) AND version = ?", [now, ids, version])
            if not rows or rows[0][0] != len(ids):
                raise Conflict(f"a review case of {', '.join(ids[:5])} has changed since version {version}: reload it",
                               {"version": ["stale: the case was changed by someone else"]})

    def update(self, case_id: str, expected_version: int, **changes: Any) -> int:
        """Change a case if it is still at ``expected_version``; returns the new version.

        Raises:
            Conflict: the case has moved on since the caller read it.
        """
        self._db.pending()
        unknown = set(changes) - CASE_COLUMNS
        if unknown:
            raise StoreError(f"not a changeable case column: {', '.join(sorted(unknown))}")
        if "blocks" in changes:
            changes["blocks"] = json.dumps(changes["blocks"])
        sets = "".join(f"{column} = ?, " for column in changes)
        rows = self._db.execute(
            f"UPDATE review_cases SET {sets}updated_at = ?, version = version + 1 WHERE case_id = ? AND version = ?",
            [*changes.values(), self._db.now(), case_id, int(expected_version)],
        )
        if not rows or rows[0][0] != 1:
            raise Conflict(f"review case {case_id} has changed since version {expected_version}: reload it",
                           {"version": ["stale: the case was changed by someone else"]})
        return int(expected_version) + 1

    def latest_of_record(self, source_system: str, source_record_id: str) -> dict | None:
        """The most recent case (any state) of a record, or None."""
        row = self._db.one("SELECT case_id FROM review_cases WHERE source_system = ? AND source_record_id = ? "
                           "ORDER BY created_at DESC, case_id DESC LIMIT 1", [source_system, source_record_id])
        return self.get(row[0]) if row else None

    def active_of_record(self, source_system: str, source_record_id: str, kind: str, states: list[str]) -> list[str]:
        """Ids of a record's cases of one kind in one of ``states`` (a spot-check waiting on it, say)."""
        rows = self._db.query("SELECT case_id FROM review_cases WHERE source_system = ? AND source_record_id = ? "
                              "AND kind = ? AND list_contains(?, state) ORDER BY case_id",
                              [source_system, source_record_id, kind, states])
        return [r[0] for r in rows]

    def count_open(self) -> int:
        """Cases not yet closed (open, in review or on hold)."""
        return self._db.one("SELECT count(*) FROM review_cases WHERE NOT list_contains(?, state)",
                            [[s.value for s in CLOSED_CASE_STATES]])[0]

    # -- the queue -------------------------------------------------------------------------------------

    def queue(self, **filters: Any) -> list[dict]:
        """Cases for :func:`~mpi.store.queue.queue_query`'s filters, each with its candidates (no evidence)
        and current hold."""
        sql, params = queue_query(**filters)
        cases = [dict(zip(REVIEW_CASES, r)) for r in self._db.query(sql, params)]
        if not cases:
            return cases
        ids = [c["case_id"] for c in cases]
        candidates: dict[str, list[dict]] = {i: [] for i in ids}
        for r in self._db.query("SELECT case_id, rank, person_id, score, probability FROM review_candidates "
                                "WHERE list_contains(?, case_id) ORDER BY case_id, rank", [ids]):
            candidates[r[0]].append({"rank": r[1], "person_id": r[2], "match_weight": r[3],
                                     "match_probability": r[4]})
        holds = self._current_holds(ids)
        reasons = self.reasons.of(ids)
        for case in cases:
            case["reason"] = reasons.get(case["case_id"])
            case["blocks"] = json.loads(case["blocks"]) if case["blocks"] else []
            case["candidates"] = candidates[case["case_id"]]
            case["hold"] = holds.get(case["case_id"])
        return cases

    def counts(self, **args: Any) -> list[tuple[str, str, str, bool, int]]:
        """Rows of (priority, state, age bucket, overdue, count) for :func:`~mpi.store.queue.counts_query`."""
        sql, params = counts_query(**args)
        return [tuple(r) for r in self._db.query(sql, params)]

    # -- holds ---------------------------------------------------------------------------------------------

    def add_hold(self, case_id: str, actor: str, note: str, follow_up: date) -> None:
        self._db.execute("INSERT INTO case_holds VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                         [case_id, self._db.now(), actor, note, follow_up])

    def release_hold(self, case_id: str, actor: str) -> None:
        self._db.execute("UPDATE case_holds SET released_at = ?, released_by = ? "
                         "WHERE case_id = ? AND released_at IS NULL", [self._db.now(), actor, case_id])

    def current_hold(self, case_id: str) -> dict | None:
        """The case's hold not yet released (note, follow-up date, who and when), or None."""
        return self._current_holds([case_id]).get(case_id)

    def _current_holds(self, case_ids: list[str]) -> dict[str, dict]:
        rows = self._db.query("SELECT case_id, note, follow_up, held_by, held_at FROM case_holds "
                              "WHERE released_at IS NULL AND list_contains(?, case_id)", [case_ids])
        return {r[0]: {"note": r[1], "follow_up": r[2], "held_by": r[3], "held_at": r[4]} for r in rows}

    # -- not-duplicate pairs ---------------------------------------------------------------------------------

    def add_not_duplicate(self, source_system: str, source_record_id: str, person_id: str, case_id: str | None,
                          actor: str, reason: str) -> None:
        """Remember that a record is not a person (kept once per pair)."""
        self._db.execute("INSERT INTO not_duplicate VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                         [source_system, source_record_id, person_id, case_id, actor, reason, self._db.now()])

    def not_duplicate_pairs(self) -> Iterator[tuple[tuple[str, str], str]]:
        """Every remembered (record key, person id) pair."""
        for r in self._db.query("SELECT source_system, source_record_id, person_id FROM not_duplicate"):
            yield (r[0], r[1]), r[2]

    def not_duplicates_of(self, source_system: str, source_record_id: str) -> list[dict]:
        rows = self._db.query("SELECT person_id, case_id, actor, reason, decided_at FROM not_duplicate "
                              "WHERE source_system = ? AND source_record_id = ? ORDER BY person_id",
                              [source_system, source_record_id])
        return [{"person_id": r[0], "case_id": r[1], "actor": r[2], "reason": r[3], "decided_at": r[4]} for r in rows]

    # -- persons kept apart (``apart.py``) -----------------------------------------------------------------

    def keep_persons_apart(self, person_a: str, person_b: str, case_id: str | None, actor: str,
                           reason: str) -> None:
        """Remember that two persons are different humans (kept once per pair, the first decision kept)."""
        if person_a == person_b:
            raise StoreError("a person cannot be kept apart from itself")
        a, b = ordered(person_a, person_b)
        self._db.execute("INSERT INTO persons_apart VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                         [a, b, case_id, actor, reason, self._db.now()])

    def persons_apart(self) -> set[frozenset[str]]:
        """Every pair kept apart, as the two live persons its ids now stand for (merges followed)."""
        sql, params = live_pairs_query()
        return {frozenset(r) for r in self._db.query(sql, params)}

    def are_apart(self, person_a: str, person_b: str) -> bool:
        """Whether a steward kept the persons these ids stand for apart (merges followed on both sides)."""
        if person_a == person_b:
            return False
        sql, params = are_apart_query(person_a, person_b)
        return self._db.one(sql, params) is not None
