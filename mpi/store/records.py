"""Source records and their blocking keys: stored as sent and normalised, read back one by one or all at once.

Writes are buffered in the transaction's unit of work (``pending.py``); the
bulk reads (every record to build the candidate index, to normalise again, to
export) stream a batch at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from mpi.store.columns import LINK_FIELDS, loads, of_system, select
from mpi.store.database import Database
from mpi.store.restate import restate_blocking_keys
from mpi.vocab import CLOSED_CASE_STATES, CaseKind, Decision

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Bound for ``NOT list_contains(?, state)``: the states in which a case no longer holds its record.
_CLOSED = [s.value for s in CLOSED_CASE_STATES]


class RecordTable:
    """The ``source_records`` and ``blocking_keys`` tables of one store."""

    def __init__(self, db: Database):
        self._db = db

    def get(self, source_system: str, source_record_id: str) -> dict | None:
        """The record with its current link and open review case, or None."""
        # Each table read by the record id alone, through its index, the system compared here (a filter or join
        # on both key columns scans both tables at 1M persons: ``pending.BY_RECORD_ID``).
        row = of_system(self._db.query("SELECT source_system, raw, norm, received_at, updated_at FROM source_records "
                                        "WHERE source_record_id = ?", [source_record_id]), source_system)
        if row is None:
            return None
        link_row = of_system(self._db.query(f"SELECT source_system, {select(LINK_FIELDS)} FROM links "
                                             "WHERE source_record_id = ?", [source_record_id]), source_system)
        row = (*row, *(link_row or (None,) * len(LINK_FIELDS)))
        record = {
            "source_system": source_system,
            "source_record_id": source_record_id,
            "raw": loads(row[0]),
            "norm": loads(row[1]),
            "received_at": row[2],
            "updated_at": row[3],
            "link": None,
        }
        if row[4] is not None:
            link = dict(zip(LINK_FIELDS, row[4:]))
            link["evidence"] = loads(link["evidence"])
            record["link"] = link
        # The case holding the record: a spot-check holds nothing (the record stays linked), so it is not it.
        case = self._db.one(
            """SELECT case_id FROM review_cases
               WHERE source_system = ? AND source_record_id = ? AND NOT list_contains(?, state) AND kind <> ?
               ORDER BY created_at DESC LIMIT 1""",
            [source_system, source_record_id, _CLOSED, CaseKind.SPOT_CHECK.value],
        )
        record["review_case_id"] = case[0] if case else None
        return record

    def raw(self, source_system: str, source_record_id: str) -> dict | None:
        """A record as it was last sent (one buffered in this transaction included), or None."""
        buffered = self._db.pending().records.get((source_system, source_record_id)) \
            if self._db.in_transaction() else None
        if buffered is not None:
            return buffered[0]
        # By the record id alone, through its index (``pending.BY_RECORD_ID``), the system compared here.
        row = of_system(self._db.query("SELECT source_system, raw FROM source_records WHERE source_record_id = ?",
                                        [source_record_id], flush=False), source_system)
        return loads(row[0]) if row else None

    def put(self, source_system: str, source_record_id: str, raw: dict, norm: dict, keys: list[str],
            received_at: datetime | None = None) -> datetime:
        """Insert or replace a source record and its blocking keys (buffered); returns the update time."""
        now = self._db.now()
        pending = self._db.pending()
        key = (source_system, source_record_id)
        if received_at is None and key not in pending.records:
            pending.created.add(key)
        pending.records[key] = (raw, norm, list(keys), received_at or now, now)
        return now

    def restate(self, source_system: str, source_record_id: str, raw: dict, norm: dict, keys: list[str],
                received_at: datetime, updated_at: datetime) -> None:
        """Replace a record's normalised form and blocking keys, keeping its times (buffered)."""
        self._db.pending().records[(source_system, source_record_id)] = (
            raw, norm, list(keys), received_at, updated_at)

    def restate_blocking_keys(self, keys_of: Callable[[dict], list[str]]) -> int:
        """Key every stored record again by ``keys_of(norm)``, in bulk (``restate.py``); returns the records."""
        return self._db.run(lambda cur: restate_blocking_keys(cur, keys_of), "restating blocking keys")

    def as_sent(self) -> Iterator[tuple[tuple[str, str], dict, datetime, datetime]]:
        """Every source record as sent, with its times: to normalise them again when the rules change.

        Read on this thread's cursor, so inside a transaction it sees the
        transaction's writes; issue no other statement until it is exhausted.
        """
        for r in self._db.stream("SELECT source_system, source_record_id, raw, received_at, updated_at "
                                 "FROM source_records"):
            yield (r[0], r[1]), json.loads(r[2]), r[3], r[4]

    def index_rows(self) -> Iterator[tuple]:
        """Every source record with its link and open case, to build the in-memory index.

        Read in one pass (blocking keys grouped once, not looked up per record)
        with times as epoch microseconds: at millions of records, DuckDB's
        conversion of each timestamp to a zoned datetime was a third of start-up.
        Read on this thread's cursor (so a transaction's own writes are seen);
        issue no other statement until it is exhausted.
        """
        return _index_rows(self._db.stream(_INDEX_ROWS, [_CLOSED]))

    def index_rows_under(self, block_keys: Sequence[str]) -> list[tuple]:
        """:meth:`index_rows` of the records posted under any of ``block_keys`` (as committed, or written by this
        transaction): what a process sharing the store with others reads to bring its index in step."""
        if not block_keys:
            return []
        posted = ("WHERE (r.source_system, r.source_record_id) IN (SELECT source_system, source_record_id "
                  "FROM blocking_keys WHERE list_contains(?, block_key))")
        sql = _INDEX_ROWS.replace("FROM blocking_keys GROUP BY ALL",
                                  "FROM blocking_keys WHERE list_contains(?, block_key) GROUP BY ALL")
        return list(_index_rows(self._db.query(f"{sql} {posted}", [list(block_keys), _CLOSED, list(block_keys)])))

    def index_rows_of(self, keys: Sequence[tuple[str, str]]) -> list[tuple]:
        """:meth:`index_rows` of some records by key, as committed (records that are not stored are left out)."""
        if not keys:
            return []
        ids = sorted({k[1] for k in keys})
        sql = _INDEX_ROWS.replace("FROM blocking_keys GROUP BY ALL",
                                  "FROM blocking_keys WHERE list_contains(?, source_record_id) GROUP BY ALL")
        rows = _index_rows(self._db.query(f"{sql} WHERE list_contains(?, r.source_record_id)", [ids, _CLOSED, ids]))
        wanted = set(keys)
        return [row for row in rows if row[0] in wanted]

    def index_columns(self, frequency_columns: Iterable[str]) -> dict[str, Any]:
        """Every source record as columns (Arrow tables, no Python object per row), for the candidate index's base.

        ``records``: one row per record in the order of its key (source system, a unit separator, record id:
        the key's bytes), with its normalised form as the JSON array of its values and of its field names, times as epoch microseconds, its link and its
        open case; ``postings``: (blocking key, record row) pairs, rows numbering ``records``, in no order (the
        caller sorts them faster than a second sort here). ``value_counts``: (column, value as JSON, records) of
        the ``frequency_columns``, in one pass over the forms. Read in the caller's transaction (one state).
        """
        rows = """(row_number() OVER (ORDER BY source_system || chr(31) || source_record_id) - 1)::INTEGER"""
        records = self._db.arrow(
            """SELECT r.source_system || chr(31) || r.source_record_id AS key,
                      to_json(json_extract(r.norm, '$.*')) AS norm_values, to_json(json_keys(r.norm)) AS norm_shape,
                      epoch_us(r.received_at) AS received, epoch_us(r.updated_at) AS updated,
                      l.person_id, l.decision, l.link_source, l.score, l.probability, c.case_id
               FROM source_records r
               LEFT JOIN links l USING (source_system, source_record_id)
               LEFT JOIN (SELECT source_system, source_record_id, max(case_id) AS case_id FROM review_cases
                          WHERE NOT list_contains(?, state) GROUP BY ALL) c USING (source_system, source_record_id)
               ORDER BY key""", [_CLOSED])
        postings = self._db.arrow(
            f"""WITH r AS (SELECT source_system, source_record_id, {rows} AS row FROM source_records)
                SELECT b.block_key, r.row FROM blocking_keys b JOIN r USING (source_system, source_record_id)""")
        columns = list(frequency_columns)
        counts = [(columns[c], v, n) for c, v, n in self._db.query(
            """WITH v AS (SELECT unnest(json_extract(norm, ?)) AS v, unnest(range(?)) AS c FROM source_records)
               SELECT c, CAST(v AS VARCHAR), count(*) FROM v WHERE v IS NOT NULL AND json_type(v) <> 'NULL'
               GROUP BY ALL""", [['$."' + c + '"' for c in columns], len(columns)])]
        return {"records": records, "postings": postings, "value_counts": counts}

    def export_rows(self) -> Iterator[tuple]:
        """One row per source record: its link (if any) and its open review case (if any)."""
        return self._db.stream(
            """SELECT r.source_system, r.source_record_id, l.person_id,
                      coalesce(l.decision, CASE WHEN c.case_id IS NOT NULL THEN ? END),
                      l.link_source, coalesce(l.score, c.best_score), c.case_id
               FROM source_records r
               LEFT JOIN links l USING (source_system, source_record_id)
               LEFT JOIN (
                   SELECT rc.case_id, rc.source_system, rc.source_record_id, max(cand.score) AS best_score
                   FROM review_cases rc LEFT JOIN review_candidates cand USING (case_id)
                   WHERE NOT list_contains(?, rc.state)
                   GROUP BY ALL
               ) c USING (source_system, source_record_id)
               ORDER BY r.source_system, r.source_record_id""",
            [Decision.POSSIBLE_MATCH.value, _CLOSED], batch=5000, own_cursor=True)

    def count(self) -> int:
        return self._db.one("SELECT count(*) FROM source_records")[0]


_INDEX_ROWS = """WITH keys AS (SELECT source_system, source_record_id, list(block_key ORDER BY block_key) AS keys
                             FROM blocking_keys GROUP BY ALL)
               SELECT r.source_system, r.source_record_id, r.norm, epoch_us(r.received_at), epoch_us(r.updated_at),
                      l.person_id, l.decision, l.link_source, l.score, l.probability, c.case_id, k.keys
               FROM source_records r
               LEFT JOIN keys k USING (source_system, source_record_id)
               LEFT JOIN links l USING (source_system, source_record_id)
               LEFT JOIN review_cases c ON c.source_system = r.source_system
                    AND c.source_record_id = r.source_record_id AND NOT list_contains(?, c.state)"""


def _index_rows(rows: Iterable[tuple]) -> Iterator[tuple]:
    loads, epoch, us = json.loads, _EPOCH, timedelta
    for r in rows:
        link = (r[5], r[6], r[7], r[8], r[9]) if r[5] else None
        yield ((r[0], r[1]), loads(r[2]), r[11] or [], epoch + us(microseconds=r[3]),
               epoch + us(microseconds=r[4]), link, r[10])
