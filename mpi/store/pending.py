"""Buffered writes of one transaction, flushed to DuckDB as a few bulk statements.

DuckDB answers analytical queries fast but pays about a millisecond per small
statement; matching a record writes to six tables. Inside a transaction the
gateway therefore collects each table's final rows here and, at commit (or
before any read in the same transaction, so reads see the writes), writes each
table with one set-based statement from an Arrow table (a handful of rows, as a
request writes, with one statement of bound values instead).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa

from mpi.store.columns import (AUDIT_LOG, CASE_REASONS, LINK_FIELDS, PERSONS, REFERRAL_EVENTS, REVIEW_CANDIDATES,
                               REVIEW_CASES)
from mpi.store.search import terms_of

Key = tuple[str, str]
_TS = pa.timestamp("us", tz="UTC")
#: Arrow types of each buffered table's columns, in the order of its tuple in ``columns.py``.
_AUDIT_TYPES = [pa.int64(), _TS] + [pa.string()] * 6
_CASE_TYPES = [pa.string()] * 10 + [_TS, _TS, _TS, pa.int32()]
_CANDIDATE_TYPES = [pa.string(), pa.int32(), pa.string(), pa.float64(), pa.float64(), pa.string()]
_REASON_TYPES = [pa.string()] * 4 + [_TS]
_LINK_TYPES = [pa.string()] * 3 + [pa.float64(), pa.float64(), pa.string(), pa.string(), _TS]
_PERSON_TYPES = [pa.string()] * 4 + [_TS, _TS]
#: Up to this many rows, a table's buffered rows are written with one statement of bound values (what a
#: request writes: at 1-2 rows that is about 0.8 ms a table here, against 2 ms for an Arrow table); more,
#: as an Arrow table (what a load writes: thousands of rows in one statement).
SMALL = 16
#: Tables with an index on ``source_record_id`` alone (``source_records_record``, ``links_record``). DuckDB looks rows
#: up through an index only for a filter on its one column: a filter on both key columns, which its two-column
#: keys would serve, scans the whole table (45-57 ms a record at 1M persons, against 1.4-2.7 ms through the index,
#: read or deleted).
BY_RECORD_ID = frozenset({"source_records", "links"})
#: On PostgreSQL, up to this many persons' golden views are updated one statement each (a match writes one or two); more,
#: with one join against an Arrow table.
FEW_UPDATES = 4
_GRANT_COLUMNS = ("organisation", "person_id", "how", "source_system", "source_record_id", "granted_at")
_REFERRAL_EVENT_TYPES = [pa.string(), pa.int32()] + [pa.string()] * 3 + [_TS, _TS] + [pa.string()] * 5


@dataclass
class Pending:
    """Final state per key of everything written since the last flush."""

    records: dict[Key, tuple[dict, dict, list[str], datetime, datetime]] = field(default_factory=dict)
    #: Records first stored in this buffer: no earlier row of theirs (record, keys, link) to delete.
    created: set[Key] = field(default_factory=set)
    links: dict[Key, tuple | None] = field(default_factory=dict)
    new_persons: dict[str, list] = field(default_factory=dict)
    golden: dict[str, tuple[dict, datetime]] = field(default_factory=dict)
    audit: list[list] = field(default_factory=list)
    cases: list[list] = field(default_factory=list)
    candidates: list[list] = field(default_factory=list)
    #: Why each case opened holds its record (``case_reasons``).
    reasons: list[list] = field(default_factory=list)
    referral_events: list[list] = field(default_factory=list)
    #: Persons given to organisations (``person_grants``): (organisation, person id, how, source system, source
    #: record id) -> when, each written once (a grant already stored is not written again).
    grants: dict[tuple, datetime] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.records or self.links or self.new_persons or self.golden or self.audit or self.cases
                    or self.reasons or self.referral_events or self.grants)

    def flush(self, cur) -> None:
        """Write everything to the open transaction of ``cur`` and clear the buffer."""
        if self.records:
            self._flush_records(cur)
        if self.links:
            self._flush_links(cur)
        if self.new_persons or self.golden:
            self._flush_persons(cur)
        if self.audit:
            _insert_rows(cur, "audit_log", AUDIT_LOG, _AUDIT_TYPES, self.audit)
        if self.cases:
            _insert_rows(cur, "review_cases", REVIEW_CASES, _CASE_TYPES, self.cases)
        if self.candidates:
            _insert_rows(cur, "review_candidates", REVIEW_CANDIDATES, _CANDIDATE_TYPES, self.candidates)
        if self.reasons:
            _insert_rows(cur, "case_reasons", CASE_REASONS, _REASON_TYPES, self.reasons)
        if self.referral_events:
            _insert_rows(cur, "referral_events", REFERRAL_EVENTS, _REFERRAL_EVENT_TYPES, self.referral_events)
        if self.grants:
            self._flush_grants(cur)
        self.__init__()

    def _flush_grants(self, cur) -> None:
        """The buffered grants not stored already, in one statement (a request's one, or a group's dozens).

        A few are looked for by their person ids and record ids (indexes; every grant has one or the
        other), then the missing ones inserted: the ``NOT EXISTS`` of many is a join that reads the whole
        table (3 ms at 256k grants, on every first match of a person by an organisation).
        """
        cols = ", ".join(_GRANT_COLUMNS)
        if len(self.grants) <= SMALL:
            persons = sorted({g[1] for g in self.grants if g[1] is not None})
            records = sorted({g[4] for g in self.grants if g[4] is not None})
            ids = ", ".join(_GRANT_COLUMNS[:-1])
            parts = [f"SELECT {ids} FROM person_grants WHERE {column} IN ({', '.join('?' * len(values))})"
                     for column, values in (("person_id", persons), ("source_record_id", records)) if values]
            stored = {tuple(r) for r in cur.execute(" UNION ALL ".join(parts), persons + records).fetchall()} \
                if parts else set()
            rows = [[*grant, at] for grant, at in self.grants.items() if grant not in stored]
            if rows:
                marks = f"({', '.join('?' * len(_GRANT_COLUMNS))})"
                cur.execute(f"INSERT INTO person_grants ({cols}) VALUES {', '.join([marks] * len(rows))}",
                            [v for row in rows for v in row])
            return
        rows = [[*grant, at] for grant, at in self.grants.items()]
        same = " AND ".join(f"g.{c} IS NOT DISTINCT FROM v.{c}" for c in _GRANT_COLUMNS[:-1])
        cur.register("pending_grants", _arrow(_columns(_GRANT_COLUMNS, [pa.string()] * 5 + [_TS], rows)))
        try:
            cur.execute(f"INSERT INTO person_grants ({cols}) SELECT {cols} FROM pending_grants v "
                        f"WHERE NOT EXISTS (SELECT 1 FROM person_grants g WHERE {same})")
        finally:
            cur.unregister("pending_grants")

    def _flush_records(self, cur) -> None:
        keys = list(self.records)
        replaced = [k for k in keys if k not in self.created]
        if replaced:
            replaced_cols = _key_columns(replaced)
            _delete_keys(cur, "source_records", replaced_cols)
            _delete_keys(cur, "blocking_keys", replaced_cols)
            _delete_keys(cur, "search_terms", replaced_cols)
        key_cols = _key_columns(keys)
        rows = [self.records[k] for k in keys]
        _insert(cur, "source_records", {
            **key_cols,
            "raw": (pa.string(), [json.dumps(r[0]) for r in rows]),
            "norm": (pa.string(), [json.dumps(r[1]) for r in rows]),
            "received_at": (_TS, [r[3] for r in rows]),
            "updated_at": (_TS, [r[4] for r in rows]),
        })
        postings = [(b, k) for k, r in zip(keys, rows) for b in sorted(set(r[2]))]
        if postings:
            _insert(cur, "blocking_keys", {
                "block_key": (pa.string(), [p[0] for p in postings]),
                "source_system": (pa.string(), [p[1][0] for p in postings]),
                "source_record_id": (pa.string(), [p[1][1] for p in postings]),
            })
        terms = [(t, k) for k, r in zip(keys, rows) for t in terms_of(r[1])]
        if terms:
            _insert(cur, "search_terms", {
                "term": (pa.string(), [t[0] for t in terms]),
                "source_system": (pa.string(), [t[1][0] for t in terms]),
                "source_record_id": (pa.string(), [t[1][1] for t in terms]),
            })

    def _flush_links(self, cur) -> None:
        replaced = [k for k in self.links if k not in self.created]
        if replaced:
            _delete_keys(cur, "links", _key_columns(replaced))
        rows = [(k, r) for k, r in self.links.items() if r is not None]
        if rows:
            cols = _key_columns([k for k, _ in rows])
            cols.update(_columns(LINK_FIELDS, _LINK_TYPES, [r for _, r in rows]))
            _insert(cur, "links", cols)

    def _flush_persons(self, cur) -> None:
        for person_id, (golden, at) in list(self.golden.items()):
            if person_id in self.new_persons:
                row = self.new_persons[person_id]
                row[3], row[5] = json.dumps(golden), at
                del self.golden[person_id]
        if self.new_persons:
            _insert_rows(cur, "persons", PERSONS, _PERSON_TYPES, list(self.new_persons.values()))
        if not self.golden:
            return
        if getattr(cur, "postgres", False):
            self._update_golden(cur)
        else:
            self._replace_golden(cur)

    def _replace_golden(self, cur) -> None:
        """DuckDB: each changed person's row deleted and written again, never updated in place.

        A DuckDB checkpoint writes again every column an update touched, whole, in each row group
        the update touched: a load's 2,000 golden views spread over every row group of a million
        persons made it recompress all 330 MB of them (4-5 s of the checkpoint at the close of
        ``mpi load``, and of the service's stall when the log reaches its threshold). A deleted row
        costs the checkpoint a mark, and the rows written again land in the last row group
        (2,000 persons: 5.4 s of checkpoint in place, 1.2 s this way). The columns not changed are
        the ones the DELETE returns, so nothing is read first.
        """
        ids = list(self.golden)
        kept = cur.execute(f"DELETE FROM persons WHERE person_id IN ({', '.join('?' * len(ids))}) "
                           "RETURNING person_id, status, redirect_to, created_at", ids).fetchall()
        rows = [[person_id, status, redirect_to, json.dumps(self.golden[person_id][0]), created_at,
                 self.golden[person_id][1]] for person_id, status, redirect_to, created_at in kept]
        if rows:
            _insert_rows(cur, "persons", PERSONS, _PERSON_TYPES, rows)

    def _update_golden(self, cur) -> None:
        """PostgreSQL: an UPDATE in place (a row deleted and inserted again would lose a concurrent
        update of it by another instance, which finds the row gone)."""
        if len(self.golden) <= FEW_UPDATES:
            # A request's person or two: an UPDATE by id costs half the join's.
            for person_id, (golden, at) in self.golden.items():
                cur.execute("UPDATE persons SET golden = ?, updated_at = ? WHERE person_id = ?",
                            [json.dumps(golden), at, person_id])
            return
        ids = list(self.golden)
        table = _arrow({"person_id": (pa.string(), ids),
                        "golden": (pa.string(), [json.dumps(self.golden[i][0]) for i in ids]),
                        "updated_at": (_TS, [self.golden[i][1] for i in ids])})
        cur.register("pending_golden", table)
        try:
            cur.execute("UPDATE persons SET golden = g.golden, updated_at = g.updated_at "
                        "FROM pending_golden g WHERE persons.person_id = g.person_id "
                        f"AND persons.person_id IN ({', '.join('?' * len(ids))})", ids)
        finally:
            cur.unregister("pending_golden")


def _columns(names: tuple[str, ...], types: list[pa.DataType], rows: list) -> dict[str, tuple[pa.DataType, list]]:
    return {n: (t, [r[i] for r in rows]) for i, (n, t) in enumerate(zip(names, types, strict=True))}


def _insert_rows(cur, table: str, names: tuple[str, ...], types: list[pa.DataType], rows: list) -> None:
    _insert(cur, table, _columns(names, types, rows))


def _key_columns(keys: list[Key]) -> dict[str, tuple[pa.DataType, list[str]]]:
    return {"source_system": (pa.string(), [k[0] for k in keys]),
            "source_record_id": (pa.string(), [k[1] for k in keys])}


def _arrow(columns: dict[str, tuple[pa.DataType, list[Any]]]) -> pa.Table:
    return pa.table({name: pa.array(values, type=t) for name, (t, values) in columns.items()})


def _insert(cur, table: str, columns: dict[str, tuple[pa.DataType, list[Any]]]) -> None:
    rows = len(next(iter(columns.values()))[1])
    if rows <= SMALL:
        # A request's few rows: bound values cost a third of registering an Arrow table for them.
        marks = f"({', '.join('?' * len(columns))})"
        values = [column[1][i] for i in range(rows) for column in columns.values()]
        cur.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * rows)}", values)
        return
    view = f"pending_{table}"
    cur.register(view, _arrow(columns))
    try:
        cols = ", ".join(columns)
        cur.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {view}")
    finally:
        cur.unregister(view)


def _delete_keys(cur, table: str, key_cols: dict[str, tuple[pa.DataType, list[Any]]]) -> None:
    systems, ids = key_cols["source_system"][1], key_cols["source_record_id"][1]
    if len(ids) <= SMALL and table in BY_RECORD_ID and not getattr(cur, "postgres", False):
        # By the record ids alone, which DuckDB finds through their index (a filter on both key columns scans the
        # whole table), once a read through the same index shows no other system's record shares them.
        wanted, record_ids = set(zip(systems, ids)), sorted(set(ids))
        marks = ", ".join("?" * len(record_ids))
        found = cur.execute(f"SELECT source_system, source_record_id FROM {table} WHERE source_record_id IN ({marks})",
                            record_ids).fetchall()
        if all(tuple(row) in wanted for row in found):
            if found:
                cur.execute(f"DELETE FROM {table} WHERE source_record_id IN ({marks})", record_ids)
            return
    if len(ids) <= SMALL:
        match = " OR ".join(["(source_system = ? AND source_record_id = ?)"] * len(ids))
        cur.execute(f"DELETE FROM {table} WHERE {match}", [v for key in zip(systems, ids) for v in key])
        return
    view = f"pending_del_{table}"
    cur.register(view, _arrow(key_cols))
    try:
        cur.execute(f"DELETE FROM {table} USING {view} d WHERE {table}.source_system = d.source_system "
                    f"AND {table}.source_record_id = d.source_record_id")
    finally:
        cur.unregister(view)
