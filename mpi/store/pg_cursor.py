"""One thread's PostgreSQL connection, shaped as the DuckDB cursor the gateways and ``pending.py`` use.

Statements arrive in DuckDB's dialect and are translated (``dialect.py``); bound
values are adapted where the two engines differ (a list of structs is JSONB
here); an INSERT, UPDATE or DELETE answers the rows it changed, as DuckDB's do
(the gateways' version checks read it); and an Arrow table a gateway registers
by name (the buffered writes of ``pending.py``, the outbox's bulk insert) is a
temporary table filled with ``COPY``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
import pyarrow as pa
from psycopg.types.json import Jsonb

from mpi.errors import StoreError
from mpi.store.dialect import to_postgres

_ARROW_TYPES = [(pa.types.is_string, "TEXT"), (pa.types.is_large_string, "TEXT"), (pa.types.is_int64, "BIGINT"),
                (pa.types.is_int32, "INTEGER"), (pa.types.is_floating, "DOUBLE PRECISION"),
                (pa.types.is_timestamp, "TIMESTAMPTZ"), (pa.types.is_boolean, "BOOLEAN"),
                (pa.types.is_date, "DATE")]


#: The Arrow type of a column of a PostgreSQL type (by its oid); a type not named is inferred from the values.
_PG_ARROW_TYPES = {16: pa.bool_(), 20: pa.int64(), 21: pa.int16(), 23: pa.int32(), 25: pa.string(),
                   700: pa.float32(), 701: pa.float64(), 1043: pa.string(), 1082: pa.date32(),
                   1184: pa.timestamp("us", tz="UTC")}


class Cursor:
    """One thread's connection, shaped as the DuckDB cursor the gateways and ``pending.py`` use."""

    #: Bulk work given a cursor (``restate.py``) asks this where a DuckDB-only step needs another way.
    postgres = True

    def __init__(self, con: psycopg.Connection):
        self.con = con
        self._cur = con.cursor()
        self._changes = False

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        verb = sql.lstrip()[:6].upper()
        self._changes = verb in ("INSERT", "UPDATE", "DELETE")
        self._cur.execute(to_postgres(sql), _adapted(params or (), verb == "INSERT"))
        return self

    def fetchall(self) -> list[tuple]:
        """The rows; of an INSERT, UPDATE or DELETE, one row of the rows it changed (as DuckDB answers)."""
        if self._cur.description:
            return self._cur.fetchall()
        return [(self._cur.rowcount,)] if self._cur.rowcount >= 0 and self._changes else []

    def fetchone(self) -> tuple | None:
        return self._cur.fetchone() if self._cur.description else None

    def fetchmany(self, size: int) -> list[tuple]:
        return self._cur.fetchmany(size) if self._cur.description else []

    @property
    def description(self) -> Any:
        return self._cur.description

    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table readable by ``name`` in SQL: a temporary table, filled with COPY."""
        columns = ", ".join(f"{field.name} {_pg_type(field.type)}" for field in table.schema)
        self._cur.execute(f"CREATE TEMPORARY TABLE {name} ({columns})")
        names = ", ".join(table.schema.names)
        with self._cur.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
            for row in zip(*(column.to_pylist() for column in table.columns)):
                copy.write_row(row)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                  progress: Callable[[int], None]) -> int:
        """COPY rows (as DuckDB gives them) into a table; ``progress(n)`` every 20,000 rows; how many."""
        n = 0
        with self._cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(_adapted(row, inserting=True))
                n += 1
                if n % 20_000 == 0:
                    progress(n)
        progress(n)
        return n

    def unregister(self, name: str) -> None:
        self._cur.execute(f"DROP TABLE IF EXISTS {name}")

    def to_arrow(self) -> pa.Table:
        """The rows as an Arrow table, each column of its PostgreSQL type's Arrow type (as DuckDB's ``arrow()``
        gives): a text column whose values are all null is still text, which Arrow's kernels need (a dedup run
        compares persons, all null on a store of unlinked records)."""
        description = self._cur.description
        rows = self._cur.fetchall()
        return pa.table({d.name: pa.array([r[i] for r in rows], type=_PG_ARROW_TYPES.get(d.type_code))
                         for i, d in enumerate(description)})

    def close(self) -> None:
        self._cur.close()


def _adapted(params: Sequence[Any], inserting: bool) -> list[Any]:
    """Bound values as PostgreSQL takes them: a list of structs (dicts) is JSONB, and so is an empty list an INSERT
    writes (the only list columns are lists of structs, held as JSONB: ``dialect.py``; other lists are arrays)."""
    return [Jsonb(v) if isinstance(v, list) and (isinstance(v[0], dict) if v else inserting) else v
            for v in params]


def _pg_type(arrow_type: pa.DataType) -> str:
    for test, name in _ARROW_TYPES:
        if test(arrow_type):
            return name
    raise StoreError(f"no PostgreSQL type for the Arrow type {arrow_type}")
