"""Moving a store from its DuckDB file into PostgreSQL (``mpi migrate-store --to URL``).

Both stores are at the same schema version (each is migrated when it opens, by
the same numbered migrations), so every table has the same columns on both; the
rows of each table are streamed out of DuckDB and into PostgreSQL with ``COPY``,
all in one PostgreSQL transaction: a move that fails part-way leaves the target
as it was. Id sequences follow the rows (the target declares each one after the
largest id it holds when it next opens). The target must hold no records,
persons or referrals: a move never merges two stores.

What is not a table is not moved: the candidate index is built again from the
rows, and the DuckDB file is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mpi.errors import StoreError

#: Tables each migration fills for itself (the schema's own record of which migrations ran).
_OWN_ROWS = {"schema_version"}
#: Tables whose rows say a store is in use: a target holding any is refused.
_IN_USE = ("source_records", "persons", "referrals")
#: Rows sent to PostgreSQL per batch read from DuckDB.
BATCH = 20_000


def tables(db: Any) -> list[str]:
    """The store's base tables, by name."""
    return [r[0] for r in db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name")]


def columns(db: Any, table: str) -> list[str]:
    return [r[0] for r in db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ? ORDER BY ordinal_position", [table])]


def copy_store(source: Any, target: Any, progress: Callable[[str, int], None] = lambda table, rows: None
               ) -> dict[str, int]:
    """Copy every row of ``source`` (a DuckDB store's database) into ``target`` (a PostgreSQL one); rows per table.

    Raises:
        StoreError: the two are at different schema versions, a table's columns differ, or the target is in use.
    """
    if source.schema_version() != target.schema_version():
        raise StoreError(f"the stores are at schema versions {source.schema_version()} and "
                         f"{target.schema_version()}: open both with this version of mpi first")
    names = [t for t in tables(source) if t not in _OWN_ROWS]
    missing = sorted(set(names) - set(tables(target)))
    if missing:
        raise StoreError(f"the target store has no table {', '.join(missing)}")
    for table in _IN_USE:
        if target.one(f"SELECT count(*) FROM {table}")[0]:
            raise StoreError(f"the target store already holds {table.replace('_', ' ')}: move into an empty database")
    counts: dict[str, int] = {}
    with target.transaction():
        for table in names:
            cols = columns(source, table)
            if cols != columns(target, table):
                raise StoreError(f"the table {table} has other columns in the target store")
            target.execute(f"DELETE FROM {table}")  # what its migrations wrote: the source has it too
            rows = source.stream(f"SELECT {', '.join(cols)} FROM {table}", batch=BATCH, own_cursor=True)
            counts[table] = target.copy_rows(table, cols, rows, lambda n, t=table: progress(t, n))
    return counts
