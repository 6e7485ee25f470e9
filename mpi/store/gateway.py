"""The DuckDB gateway: one connection per process, a cursor per thread, one writer.

Every SQL statement of the project lives here, in ``schema.py``, in
``pending.py``, in ``restate.py`` or in ``cases.py`` (review cases); every value from outside is a bound parameter (or an Arrow
column). Writes run inside :meth:`Store.transaction`, which holds a
process-wide lock, so a read-decide-write sequence (matching one record) is
serialised: two concurrent requests for the same new person can never both see
"no candidate" and create two persons. Within a transaction the hot writes are
buffered (``pending.py``) and flushed in bulk before any read and at commit.

Ids (persons, cases, audit events) come from counters this process owns: a
DuckDB file has one writing process, and an id is never reused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb

from mpi.errors import NotFound, StoreError
from mpi.store.cache import ReadCache
from mpi.store.cases import CaseQueries
from mpi.store.pending import Pending
from mpi.store.restate import restate_blocking_keys
from mpi.store.schema import LATEST_VERSION, MIGRATIONS
from mpi.vocab import PersonStatus

logger = logging.getLogger(__name__)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


_SIZE = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class Store(CaseQueries):
    """All persistence for one DuckDB file (review-case queries in ``cases.py``)."""

    def __init__(self, path: str | Path, checkpoint_threshold: str | None = None):
        """Open (or create) the store file; ``checkpoint_threshold`` is DuckDB's (``MPI_CHECKPOINT_THRESHOLD``)."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if checkpoint_threshold and not _SIZE.fullmatch(checkpoint_threshold):
            raise StoreError(f"checkpoint threshold {checkpoint_threshold!r} is not a size such as 256MB"
                             " (MPI_CHECKPOINT_THRESHOLD)")
        config = {"checkpoint_threshold": checkpoint_threshold} if checkpoint_threshold else {}
        try:
            self._con = duckdb.connect(self.path, config=config)
        except duckdb.Error as e:
            raise StoreError(f"cannot open the store at {self.path}: {e}") from e
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._pending = Pending()
        #: Incremented on every rollback, so in-memory read models built on
        #: this store know to rebuild themselves.
        self.rollbacks = 0
        #: Small reads made on every request (meta, users), kept between writes.
        self._cache = ReadCache()
        self.migrate()
        self._counters = {
            "person": self._max_suffix("SELECT max(person_id) FROM persons", 3),
            "case": self._max_suffix("SELECT max(case_id) FROM review_cases", 2),
            "audit": self._one("SELECT coalesce(max(event_id), 0) FROM audit_log")[0],
        }

    def _max_suffix(self, sql: str, prefix_len: int) -> int:
        value = self._one(sql)[0]
        return int(value[prefix_len:]) if value else 0

    def _next(self, counter: str) -> int:
        self._require_transaction()
        self._counters[counter] += 1
        return self._counters[counter]

    def _require_transaction(self) -> Pending:
        if not getattr(self._local, "depth", 0):
            raise StoreError("a write outside Store.transaction() would be lost")
        return self._pending

    # -- connection plumbing -------------------------------------------------

    @property
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def _all(self, sql: str, params: Iterable[Any] = (), *, flush: bool = True) -> list[tuple]:
        """Run one statement; by default buffered writes are flushed first so the read sees them."""
        try:
            if flush:
                self._flush()
            return self._cur.execute(sql, list(params)).fetchall()
        except duckdb.Error as e:
            raise StoreError(f"store query failed: {type(e).__name__}") from e

    def _one(self, sql: str, params: Iterable[Any] = ()) -> tuple | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block as one atomic write; nested use joins the outer one."""
        with self._write_lock:
            depth = getattr(self._local, "depth", 0)
            if depth:
                self._local.depth = depth + 1
                try:
                    yield
                finally:
                    self._local.depth = depth
                return
            self._execute_control("BEGIN TRANSACTION")
            self._local.depth = 1
            try:
                yield
                self._flush()
                self._execute_control("COMMIT")
            except BaseException:
                self._pending = Pending()
                self.rollbacks += 1
                with contextlib.suppress(StoreError):  # a failed COMMIT has already rolled back
                    self._execute_control("ROLLBACK")
                raise
            finally:
                self._local.depth = 0
                if self._cache.writing:
                    self._cache.write_ends()

    def _execute_control(self, statement: str) -> None:
        try:
            self._cur.execute(statement)
        except duckdb.Error as e:
            raise StoreError(f"store {statement.split()[0].lower()} failed: {type(e).__name__}") from e

    def _flush(self) -> None:
        if self._pending and getattr(self._local, "depth", 0):
            try:
                self._pending.flush(self._cur)
            except duckdb.Error as e:
                raise StoreError(f"store write failed: {type(e).__name__}") from e

    @contextlib.contextmanager
    def serialised(self) -> Iterator[None]:
        """Hold the writer lock without a transaction: a consistent read of in-memory state."""
        with self._write_lock:
            yield

    def close(self) -> None:
        """Close the connection; the file stays."""
        self._con.close()

    # -- schema ----------------------------------------------------------------

    def migrate(self) -> int:
        """Apply every migration not yet applied; return the schema version."""
        with self._write_lock:
            self._cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)"
            )
            current = self._cur.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                with self.transaction():
                    for statement in statements:
                        self._cur.execute(statement)
                    self._cur.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _now()])
                logger.info("store migrated to schema version %s", version)
            return max(current, LATEST_VERSION)

    def schema_version(self) -> int:
        return self._one("SELECT max(version) FROM schema_version")[0]

    # -- meta ----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        # Meta is never buffered, so this read need not flush (it runs once per matched record).
        def read() -> str | None:
            rows = self._all("SELECT value FROM meta WHERE key = ?", [key], flush=False)
            return rows[0][0] if rows else None
        return self._cache.get(("meta", key), read)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self._cache.write_begins()
            self._all("DELETE FROM meta WHERE key = ?", [key])
            self._all("INSERT INTO meta VALUES (?, ?)", [key, value])

    # -- source records ----------------------------------------------------------

    def get_record(self, source_system: str, source_record_id: str) -> dict | None:
        """The record with its current link and open review case, or None."""
        row = self._one(
            """SELECT r.raw, r.norm, r.received_at, r.updated_at,
                      l.person_id, l.decision, l.link_source, l.score, l.probability,
                      l.evidence, l.model_version, l.linked_at
               FROM source_records r
               LEFT JOIN links l USING (source_system, source_record_id)
               WHERE r.source_system = ? AND r.source_record_id = ?""",
            [source_system, source_record_id],
        )
        if row is None:
            return None
        record = {
            "source_system": source_system,
            "source_record_id": source_record_id,
            "raw": _loads(row[0]),
            "norm": _loads(row[1]),
            "received_at": row[2],
            "updated_at": row[3],
            "link": None,
        }
        if row[4] is not None:
            record["link"] = {
                "person_id": row[4],
                "decision": row[5],
                "link_source": row[6],
                "score": row[7],
                "probability": row[8],
                "evidence": _loads(row[9]),
                "model_version": row[10],
                "linked_at": row[11],
            }
        case = self._one(
            """SELECT case_id FROM review_cases
               WHERE source_system = ? AND source_record_id = ? AND state NOT IN ('resolved', 'withdrawn')
               ORDER BY created_at DESC LIMIT 1""",
            [source_system, source_record_id],
        )
        record["review_case_id"] = case[0] if case else None
        return record

    def put_record(
        self, source_system: str, source_record_id: str, raw: dict, norm: dict, keys: list[str],
        received_at: datetime | None = None,
    ) -> datetime:
        """Insert or replace a source record and its blocking keys (buffered); returns the update time."""
        now = _now()
        pending = self._require_transaction()
        key = (source_system, source_record_id)
        if received_at is None and key not in pending.records:
            pending.created.add(key)
        pending.records[key] = (raw, norm, list(keys), received_at or now, now)
        return now

    def records_as_sent(self) -> Iterator[tuple[tuple[str, str], dict, datetime, datetime]]:
        """Every source record as sent, with its times: to normalise them again when the rules change.

        Read on this thread's cursor, so inside a transaction it sees the
        transaction's writes; issue no other statement until it is exhausted.
        """
        self._flush()
        cur = self._cur
        cur.execute("SELECT source_system, source_record_id, raw, received_at, updated_at FROM source_records")
        while batch := cur.fetchmany(10000):
            for r in batch:
                yield (r[0], r[1]), json.loads(r[2]), r[3], r[4]

    def restate_record(self, source_system: str, source_record_id: str, raw: dict, norm: dict, keys: list[str],
                       received_at: datetime, updated_at: datetime) -> None:
        """Replace a record's normalised form and blocking keys, keeping its times (buffered)."""
        self._require_transaction().records[(source_system, source_record_id)] = (
            raw, norm, list(keys), received_at, updated_at)

    def restate_blocking_keys(self, keys_of: Callable[[dict], list[str]]) -> int:
        """Key every stored record again by ``keys_of(norm)``, in bulk (``restate.py``); returns the records."""
        self._require_transaction()
        self._flush()
        try:
            return restate_blocking_keys(self._cur, keys_of)
        except duckdb.Error as e:
            raise StoreError(f"restating blocking keys failed: {type(e).__name__}") from e

    def index_rows(self) -> Iterator[tuple]:
        """Every source record with its link and open case, to build the in-memory index.

        Read in one pass (blocking keys grouped once, not looked up per record)
        with times as epoch microseconds: at millions of records, DuckDB's
        conversion of each timestamp to a zoned datetime was a third of start-up.
        Read on this thread's cursor (so a transaction's own writes are seen);
        issue no other statement until it is exhausted.
        """
        self._flush()
        cur = self._cur
        cur.execute(
            """WITH keys AS (SELECT source_system, source_record_id, list(block_key ORDER BY block_key) AS keys
                             FROM blocking_keys GROUP BY ALL)
               SELECT r.source_system, r.source_record_id, r.norm, epoch_us(r.received_at), epoch_us(r.updated_at),
                      l.person_id, l.decision, l.link_source, l.score, l.probability, c.case_id, k.keys
               FROM source_records r
               LEFT JOIN keys k USING (source_system, source_record_id)
               LEFT JOIN links l USING (source_system, source_record_id)
               LEFT JOIN review_cases c ON c.source_system = r.source_system
                    AND c.source_record_id = r.source_record_id AND c.state NOT IN ('resolved', 'withdrawn')"""
        )
        loads, epoch, us = json.loads, _EPOCH, timedelta
        while batch := cur.fetchmany(10000):
            for r in batch:
                link = (r[5], r[6], r[7], r[8], r[9]) if r[5] else None
                yield ((r[0], r[1]), loads(r[2]), r[11] or [], epoch + us(microseconds=r[3]),
                       epoch + us(microseconds=r[4]), link, r[10])

    # -- persons ---------------------------------------------------------------------

    def create_person(self, golden: dict) -> str:
        """A new person with the next never-reused id (buffered)."""
        person_id = f"MPI{self._next('person'):08d}"
        now = _now()
        self._pending.new_persons[person_id] = [
            person_id, PersonStatus.ACTIVE.value, None, json.dumps(golden), now, now,
        ]
        return person_id

    def get_person_row(self, person_id: str) -> dict | None:
        row = self._one(
            "SELECT person_id, status, redirect_to, golden, created_at, updated_at FROM persons WHERE person_id = ?",
            [person_id],
        )
        if row is None:
            return None
        return {
            "person_id": row[0],
            "status": row[1],
            "redirect_to": row[2],
            "golden": _loads(row[3]),
            "created_at": row[4],
            "updated_at": row[5],
        }

    def resolve_person(self, person_id: str) -> dict:
        """The live person an id stands for, following merge redirects."""
        seen = []
        current = self.get_person_row(person_id)
        while current is not None and current["status"] == PersonStatus.REDIRECTED.value:
            seen.append(current["person_id"])
            if current["redirect_to"] in seen:
                raise StoreError(f"redirect loop at person {person_id}")
            current = self.get_person_row(current["redirect_to"])
        if current is None:
            raise NotFound(f"person {person_id} not found")
        current["redirected_from"] = seen
        return current

    def set_golden(self, person_id: str, golden: dict) -> None:
        """Replace a person's golden view (buffered)."""
        self._require_transaction().golden[person_id] = (golden, _now())

    def person_records(self, person_id: str) -> list[dict]:
        """Source records linked to a person, oldest update first."""
        rows = self._all(
            """SELECT r.source_system, r.source_record_id, r.raw, r.norm, r.updated_at,
                      l.decision, l.link_source, l.score, l.probability, l.model_version, l.linked_at
               FROM links l JOIN source_records r USING (source_system, source_record_id)
               WHERE l.person_id = ? ORDER BY r.updated_at, r.source_system, r.source_record_id""",
            [person_id],
        )
        return [
            {
                "source_system": r[0],
                "source_record_id": r[1],
                "raw": _loads(r[2]),
                "norm": _loads(r[3]),
                "updated_at": r[4],
                "decision": r[5],
                "link_source": r[6],
                "score": r[7],
                "probability": r[8],
                "model_version": r[9],
                "linked_at": r[10],
            }
            for r in rows
        ]

    # -- links -----------------------------------------------------------------------

    def set_link(
        self,
        source_system: str,
        source_record_id: str,
        person_id: str,
        decision: str,
        link_source: str,
        score: float | None,
        probability: float | None,
        evidence: Any,
        model_version: str | None,
    ) -> None:
        """Link a record to a person, replacing any earlier link of that record (buffered)."""
        self._require_transaction().links[(source_system, source_record_id)] = (
            person_id, decision, link_source, score, probability, json.dumps(evidence), model_version, _now(),
        )

    def delete_link(self, source_system: str, source_record_id: str) -> None:
        """Remove a record's link (buffered)."""
        self._require_transaction().links[(source_system, source_record_id)] = None

    # -- review cases ------------------------------------------------------------------

    def open_case(
        self,
        kind: str,
        source_system: str,
        source_record_id: str,
        priority: str,
        blocks: list,
        model_version: str | None,
        candidates: list[dict],
        target: timedelta | None = None,
    ) -> str:
        """Open a review case with its ranked candidates (buffered); returns the case id.

        ``target`` is the time its priority allows (``mpi.case_priority``): the case is due then.
        """
        case_id = f"RC{self._next('case'):08d}"
        now = _now()
        self._pending.cases.append([
            case_id, kind, source_system, source_record_id, "open", priority, None, None, json.dumps(blocks),
            model_version, now, now, None if target is None else now + target, 1,
        ])
        for rank, c in enumerate(candidates, start=1):
            self._pending.candidates.append(
                [case_id, rank, c["person_id"], c["match_weight"], c["match_probability"], json.dumps(c["evidence"])]
            )
        return case_id

    def update_case_candidates(self, case_id: str, candidates: list[dict]) -> None:
        """Replace an open case's candidates after the record it holds was updated."""
        self._require_transaction()
        self._all("DELETE FROM review_candidates WHERE case_id = ?", [case_id])
        for rank, c in enumerate(candidates, start=1):
            self._all(
                "INSERT INTO review_candidates VALUES (?, ?, ?, ?, ?, ?)",
                [case_id, rank, c["person_id"], c["match_weight"], c["match_probability"], json.dumps(c["evidence"])],
            )
        self._all(
            "UPDATE review_cases SET updated_at = ?, version = version + 1 WHERE case_id = ?", [_now(), case_id]
        )

    def close_case(self, case_id: str, state: str, resolution: str | None) -> None:
        self._require_transaction()
        self._all(
            "UPDATE review_cases SET state = ?, resolution = ?, updated_at = ?, version = version + 1 WHERE case_id = ?",
            [state, resolution, _now(), case_id],
        )

    def get_case(self, case_id: str) -> dict | None:
        row = self._one(
            """SELECT case_id, kind, source_system, source_record_id, state, priority, resolution, owner,
                      blocks, model_version, created_at, updated_at, due_at, version
               FROM review_cases WHERE case_id = ?""",
            [case_id],
        )
        if row is None:
            return None
        names = ("case_id", "kind", "source_system", "source_record_id", "state", "priority", "resolution",
                 "owner", "blocks", "model_version", "created_at", "updated_at", "due_at", "version")
        case = dict(zip(names, row))
        case["blocks"] = _loads(case["blocks"])
        case["candidates"] = [
            {"rank": r[0], "person_id": r[1], "match_weight": r[2], "match_probability": r[3], "evidence": _loads(r[4])}
            for r in self._all(
                "SELECT rank, person_id, score, probability, evidence FROM review_candidates WHERE case_id = ? ORDER BY rank",
                [case_id],
            )
        ]
        return case

    def list_cases(self, state: str | None = None, limit: int = 100) -> list[dict]:
        """Cases, most urgent first, then oldest first."""
        where, params = ("WHERE state = ?", [state]) if state else ("", [])
        rows = self._all(
            f"""SELECT case_id FROM review_cases {where}
                ORDER BY CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 ELSE 2 END, created_at
                LIMIT ?""",
            [*params, limit],
        )
        return [self.get_case(r[0]) for r in rows]

    # -- audit --------------------------------------------------------------------------

    def audit(self, actor: str, action: str, entity_type: str, entity_id: str, reason: str | None, detail: Any) -> None:
        """Append one event to the audit log (buffered; never updated, never deleted)."""
        event_id = self._next("audit")
        self._pending.audit.append([event_id, _now(), actor, action, entity_type, entity_id, reason, json.dumps(detail)])

    def audit_events(self, entity_type: str | None = None, entity_id: str | None = None, limit: int = 200) -> list[dict]:
        clauses, params = [], []
        if entity_type:
            clauses.append("entity_type = ?")
            params.append(entity_type)
        if entity_id:
            clauses.append("entity_id = ?")
            params.append(entity_id)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._all(
            f"SELECT event_id, occurred_at, actor, action, entity_type, entity_id, reason, detail FROM audit_log {where} "
            "ORDER BY event_id DESC LIMIT ?",
            [*params, limit],
        )
        names = ("event_id", "occurred_at", "actor", "action", "entity_type", "entity_id", "reason", "detail")
        return [{**dict(zip(names, r)), "detail": _loads(r[7])} for r in rows]

    # -- users -----------------------------------------------------------------------------

    def add_user(self, name: str, role: str, token_hash: str) -> None:
        """Create or replace a user (immediately, in its own transaction)."""
        with self.transaction():
            self._cache.write_begins()
            self._all("DELETE FROM users WHERE name = ?", [name])
            self._all("INSERT INTO users VALUES (?, ?, ?, ?)", [name, role, token_hash, _now()])

    def user_by_token_hash(self, token_hash: str) -> dict | None:
        """The user holding a token (by its hash). Only known tokens are cached, so guesses cannot fill memory."""
        found = self._cache.get(("user", token_hash),
                                lambda: self._one("SELECT name, role FROM users WHERE token_hash = ?", [token_hash]),
                                keep=lambda row: row is not None)
        return {"name": found[0], "role": found[1]} if found else None

    # -- export and counts -------------------------------------------------------------------

    def export_rows(self) -> Iterator[tuple]:
        """One row per source record: its link (if any) and its open review case (if any)."""
        cur = self._con.cursor()
        cur.execute(
            """SELECT r.source_system, r.source_record_id, l.person_id,
                      coalesce(l.decision, CASE WHEN c.case_id IS NOT NULL THEN 'POSSIBLE_MATCH' END),
                      l.link_source, coalesce(l.score, c.best_score), c.case_id
               FROM source_records r
               LEFT JOIN links l USING (source_system, source_record_id)
               LEFT JOIN (
                   SELECT rc.case_id, rc.source_system, rc.source_record_id, max(cand.score) AS best_score
                   FROM review_cases rc LEFT JOIN review_candidates cand USING (case_id)
                   WHERE rc.state NOT IN ('resolved', 'withdrawn')
                   GROUP BY ALL
               ) c USING (source_system, source_record_id)
               ORDER BY r.source_system, r.source_record_id"""
        )
        while batch := cur.fetchmany(5000):
            yield from batch

    def memory_bytes(self) -> int:
        """Memory DuckDB holds for this store (its buffers and caches), for diagnostics and benchmarks."""
        return int(self._one("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()")[0])

    def counts(self) -> dict[str, int]:
        return {
            "persons": self._one("SELECT count(*) FROM persons WHERE status = 'ACTIVE'")[0],
            "records": self._one("SELECT count(*) FROM source_records")[0],
            "links": self._one("SELECT count(*) FROM links")[0],
            "open_cases": self._one("SELECT count(*) FROM review_cases WHERE state NOT IN ('resolved','withdrawn')")[0],
        }
