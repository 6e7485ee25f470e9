"""SQL of merges: the ``merges`` table, the snapshot of the rows a merge changes, and putting them back.

Every read flushes the transaction's buffered writes first, so it sees them.
What a merge means (which rows move, what may be undone) lives in
``mpi/identity/merges.py``; this module only reads and writes rows, and only
``mpi.identity.writer`` calls its writes.

A snapshot keeps every column as stored: JSON columns as their stored text,
times as ISO 8601 with their offset (microseconds kept), doubles as JSON
numbers (which Python reads back to the same double), so a row put back holds
exactly the values that were read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from mpi.store.columns import LINKS as LINK_COLUMNS
from mpi.store.columns import MERGES as MERGE_COLUMNS
from mpi.store.columns import PERSONS as PERSON_COLUMNS
from mpi.store.columns import SOURCE_RECORDS as RECORD_COLUMNS
from mpi.store.columns import TIMES as _TIMES
from mpi.store.columns import marks, select
from mpi.store.database import Database
from mpi.vocab import PersonStatus

Key = tuple[str, str]
_PREFIX = "MG"


def _dumped(columns: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row as JSON-ready values: times as ISO text, everything else as stored (JSON columns stay text)."""
    return {c: (v.isoformat() if c in _TIMES and v is not None else v) for c, v in zip(columns, row)}


def _loaded(columns: Sequence[str], row: dict[str, Any]) -> list[Any]:
    """Bound parameters for a row :func:`_dumped` made, in column order."""
    return [datetime.fromisoformat(row[c]) if c in _TIMES and row[c] is not None else row[c] for c in columns]


def _key_clause(keys: Sequence[Key]) -> tuple[str, list[str]]:
    clause = " OR ".join(["(source_system = ? AND source_record_id = ?)"] * len(keys))
    return f"({clause})", [part for key in keys for part in key]


def _id_clause(keys: Sequence[Key]) -> tuple[str, list[str]]:
    """A filter on the records' ids alone, which DuckDB serves through their one-column index (on both key columns
    it scans the whole table: ``pending.BY_RECORD_ID``); the rows it finds are kept by key after."""
    ids = sorted({record_id for _, record_id in keys})
    return f"source_record_id IN ({', '.join('?' * len(ids))})", ids


def record_key(row: dict[str, Any]) -> Key:
    return row["source_system"], row["source_record_id"]


def same_row(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two dumped rows hold the same values (times compared as instants, whatever their offset)."""
    return a.keys() == b.keys() and all(
        (datetime.fromisoformat(a[c]) == datetime.fromisoformat(b[c]) if c in _TIMES and a[c] and b[c] else a[c] == b[c])
        for c in a)


class MergeTable:
    """The ``merges`` table, and the rows of what merges change, for one store."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.sequence("merge", "SELECT max(merge_id) FROM merges", prefix=_PREFIX)

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        return self._db.query(sql, params)

    def _write(self, sql: str, params: Iterable[Any] = ()) -> None:
        self._db.execute(sql, params)

    # -- snapshots ---------------------------------------------------------------------

    def snapshot(self, person_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every row of the persons, their links, their records and the records' blocking keys, as stored now."""
        ids = marks(len(person_ids))
        persons = self._all(f"SELECT {select(PERSON_COLUMNS)} FROM persons WHERE person_id IN ({ids}) "
                            "ORDER BY person_id", person_ids)
        links = self._all(f"SELECT {select(LINK_COLUMNS)} FROM links WHERE person_id IN ({ids}) "
                          "ORDER BY source_system, source_record_id", person_ids)
        keys = [(r[0], r[1]) for r in links]
        return {
            "persons": [_dumped(PERSON_COLUMNS, r) for r in persons],
            "links": [_dumped(LINK_COLUMNS, r) for r in links],
            "records": list(self.records_of(keys).values()),
            "blocking_keys": [{"source_system": k[0], "source_record_id": k[1], "block_keys": v}
                              for k, v in self.blocking_keys_of(keys).items()],
        }

    def records_of(self, keys: Sequence[Key]) -> dict[Key, dict[str, Any]]:
        """The ``source_records`` rows of these records, as :func:`_dumped` rows, by key."""
        if not keys:
            return {}
        where, params = _id_clause(keys)
        rows = self._all(f"SELECT {select(RECORD_COLUMNS)} FROM source_records WHERE {where} "
                         "ORDER BY source_system, source_record_id", params)
        wanted = set(keys)
        return {(r[0], r[1]): _dumped(RECORD_COLUMNS, r) for r in rows if (r[0], r[1]) in wanted}

    def blocking_keys_of(self, keys: Sequence[Key]) -> dict[Key, list[str]]:
        if not keys:
            return {}
        where, params = _key_clause(keys)
        rows = self._all(f"SELECT source_system, source_record_id, list(block_key ORDER BY block_key) "
                         f"FROM blocking_keys WHERE {where} GROUP BY ALL ORDER BY ALL", params)
        return {(r[0], r[1]): list(r[2]) for r in rows}

    def links_of(self, keys: Sequence[Key]) -> dict[Key, dict[str, Any]]:
        """The current ``links`` rows of these records (a record without a link is absent), by key."""
        if not keys:
            return {}
        where, params = _id_clause(keys)
        rows = self._all(f"SELECT {select(LINK_COLUMNS)} FROM links WHERE {where}", params)
        wanted = set(keys)
        return {(r[0], r[1]): _dumped(LINK_COLUMNS, r) for r in rows if (r[0], r[1]) in wanted}

    # -- writes of a merge and of its undo ---------------------------------------------------

    def redirect(self, person_id: str, survivor_id: str, at: datetime) -> None:
        """Make a person the redirect of a survivor (its golden view is the caller's to refresh)."""
        self._write("UPDATE persons SET status = ?, redirect_to = ?, updated_at = ? WHERE person_id = ?",
                    [PersonStatus.REDIRECTED.value, survivor_id, at, person_id])

    def put_person(self, row: dict[str, Any]) -> None:
        """Put a snapshot's person row back, every column as it was."""
        values = _loaded(PERSON_COLUMNS, row)
        self._write(f"UPDATE persons SET {', '.join(f'{c} = ?' for c in PERSON_COLUMNS[1:])} WHERE person_id = ?",
                    [*values[1:], values[0]])

    def put_link(self, row: dict[str, Any]) -> None:
        """Put a snapshot's link row back (replacing the record's current link), every column as it was."""
        self._write("DELETE FROM links WHERE source_system = ? AND source_record_id = ?", list(record_key(row)))
        self._write(f"INSERT INTO links ({select(LINK_COLUMNS)}) VALUES ({marks(len(LINK_COLUMNS))})",
                    _loaded(LINK_COLUMNS, row))

    # -- the merges table ------------------------------------------------------------------

    def next_merge_id(self) -> str:
        """The next never-used merge id (inside the writing transaction)."""
        return f"{_PREFIX}{self._db.next_id('merge'):08d}"

    def insert(self, merge_id: str, survivor_id: str, loser_id: str, snapshot: dict, actor: str, reason: str,
               case_id: str | None, merged_at: datetime) -> None:
        self._write("INSERT INTO merges (merge_id, survivor_id, loser_id, snapshot, actor, reason, case_id, merged_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [merge_id, survivor_id, loser_id, json.dumps(snapshot), actor, reason, case_id, merged_at])

    def mark_undone(self, merge_id: str, actor: str, reason: str, at: datetime) -> None:
        self._write("UPDATE merges SET undone_at = ?, undone_by = ?, undo_reason = ? WHERE merge_id = ?",
                    [at, actor, reason, merge_id])

    def get(self, merge_id: str, *, with_snapshot: bool = True) -> dict[str, Any] | None:
        """One merge (with its snapshot, parsed, unless asked not to), or None."""
        rows = self._select("WHERE merge_id = ?", [merge_id], with_snapshot)
        return rows[0] if rows else None

    def of_person(self, person_id: str, *, with_snapshot: bool = True) -> list[dict[str, Any]]:
        """Merges the person took part in (as survivor or loser), oldest first."""
        return self._select("WHERE survivor_id = ? OR loser_id = ? ORDER BY merged_at, merge_id",
                            [person_id, person_id], with_snapshot)

    def _select(self, where: str, params: list[Any], with_snapshot: bool) -> list[dict[str, Any]]:
        columns = (*MERGE_COLUMNS, "snapshot") if with_snapshot else MERGE_COLUMNS
        rows = self._all(f"SELECT {', '.join(columns)} FROM merges {where}", params)
        out = []
        for row in rows:
            merge = dict(zip(columns, row))
            if with_snapshot:
                merge["snapshot"] = json.loads(merge["snapshot"])
            out.append(merge)
        return out
