"""Restating every stored record's blocking keys in bulk, when the keys' rules change.

Blocking keys are derived from a record's normalised form, so a release that
changes them (``mpi.matching.blocking.BLOCKING_VERSION``) must key the records already
stored the new way, or they would only be found by the keys they happen to
share with the new rules. Normalising again is not needed for that, and at
millions of records going through the per-record write buffer would hold every
record in memory at once. This reads the normalised forms in ranges of rows
into a new postings table, then drops the old one and puts the new one (and
the same indexes) in its place, inside the caller's transaction: deleting
millions of postings row by row took DuckDB minutes per hundred thousand
records, dropping a table takes none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

#: Source rows read (and postings written) per statement.
BATCH = 100_000
TABLE, STAGED = "blocking_keys", "blocking_keys_restated"


def restate_blocking_keys(cur, keys_of: Callable[[Mapping[str, Any]], list[str]]) -> int:
    """Replace every posting in ``blocking_keys`` by ``keys_of(norm)`` of each stored record; return the records."""
    if getattr(cur, "postgres", False):
        return _restate_in_place(cur, keys_of)
    # The table's and its indexes' own definitions, read rather than repeated from the schema.
    table_sql = cur.execute("SELECT sql FROM duckdb_tables() WHERE table_name = ?", [TABLE]).fetchone()[0]
    index_sql = [r[0] for r in cur.execute("SELECT sql FROM duckdb_indexes() WHERE table_name = ?", [TABLE]).fetchall()]
    cur.execute(table_sql.replace(TABLE, STAGED, 1))
    last = cur.execute("SELECT coalesce(max(rowid), -1) FROM source_records").fetchone()[0]
    count = 0
    for start in range(0, last + 1, BATCH):
        rows = cur.execute("SELECT source_system, source_record_id, norm FROM source_records "
                           "WHERE rowid >= ? AND rowid < ?", [start, start + BATCH]).fetchall()
        systems, ids, keys = [], [], []
        for system, record_id, norm in rows:
            for key in sorted(set(keys_of(json.loads(norm)))):
                systems.append(system)
                ids.append(record_id)
                keys.append(key)
        count += len(rows)
        if keys:
            _insert(cur, STAGED, systems, ids, keys)
    cur.execute(f"DROP TABLE {TABLE}")
    cur.execute(f"ALTER TABLE {STAGED} RENAME TO {TABLE}")
    for sql in index_sql:
        cur.execute(sql)
    return count


def _restate_in_place(cur, keys_of: Callable[[Mapping[str, Any]], list[str]]) -> int:
    """PostgreSQL's way: delete the postings and write the new ones, reading records in key order by ranges.

    PostgreSQL deletes a table's rows in bulk quickly and has no ``rowid`` or ``duckdb_tables()``, so the
    postings table stays in place (and its indexes with it); the caller's transaction still makes it one step.
    """
    cur.execute(f"DELETE FROM {TABLE}")
    count, after = 0, ("", "")
    while True:
        rows = cur.execute("SELECT source_system, source_record_id, norm FROM source_records "
                           "WHERE (source_system, source_record_id) > (?, ?) "
                           "ORDER BY source_system, source_record_id LIMIT ?", [*after, BATCH]).fetchall()
        if not rows:
            return count
        systems, ids, keys = [], [], []
        for system, record_id, norm in rows:
            for key in sorted(set(keys_of(json.loads(norm)))):
                systems.append(system)
                ids.append(record_id)
                keys.append(key)
        count += len(rows)
        after = (rows[-1][0], rows[-1][1])
        if keys:
            _insert(cur, TABLE, systems, ids, keys)


def _insert(cur, table: str, systems: list[str], ids: list[str], keys: list[str]) -> None:
    rows = pa.table({"block_key": pa.array(keys, pa.string()), "source_system": pa.array(systems, pa.string()),
                     "source_record_id": pa.array(ids, pa.string())})
    cur.register("restated_keys", rows)
    try:
        cur.execute(f"INSERT INTO {table} (block_key, source_system, source_record_id) "
                    "SELECT block_key, source_system, source_record_id FROM restated_keys")
    finally:
        cur.unregister("restated_keys")
