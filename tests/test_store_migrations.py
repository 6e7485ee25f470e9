"""The store's schema migrations: applied once each, in order, to new stores and old ones alike."""

from __future__ import annotations

import duckdb
import pytest

from mpi.store import Store
from mpi.store.database import only_drops_indexes
from mpi.store.schema import LATEST_VERSION, MIGRATIONS

pytestmark = pytest.mark.both_stores


def test_new_store_is_at_the_latest_schema_version(store):
    assert store.schema_version() == LATEST_VERSION == MIGRATIONS[-1][0]


def test_migration_is_idempotent_and_keeps_data(tmp_path):
    path = tmp_path / "store.duckdb"
    store = Store(path)
    with store.transaction():
        person_id = store.persons.create({"last_name": "WOJCIK"})
    assert store.migrate() == LATEST_VERSION  # again on an open store: nothing to do, no error
    store.close()

    reopened = Store(path)
    try:
        assert reopened.schema_version() == LATEST_VERSION
        assert reopened.persons.resolve(person_id)["golden"] == {"last_name": "WOJCIK"}
        with reopened.transaction():
            assert reopened.persons.create({}) != person_id  # ids continue, never reused
    finally:
        reopened.close()


def test_the_block_key_index_nobody_queries_is_dropped_from_old_stores_too(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:  # a store as the first release left it
        con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
        for statement in MIGRATIONS[0][1]:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, now())")
        assert con.execute("SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'blocking_keys_key'").fetchone()[0]

    store = Store(path)
    try:
        assert store.schema_version() == LATEST_VERSION
        names = {r[0] for r in store.db.query("SELECT index_name FROM duckdb_indexes()")}
    finally:
        store.close()
    assert "blocking_keys_key" not in names
    assert not names & TWO_COLUMN_INDEXES  # DuckDB never read by them (migration 23)


#: The two-column indexes migration 23 drops on DuckDB and a PostgreSQL store makes again.
TWO_COLUMN_INDEXES = {"blocking_keys_record", "audit_entity", "review_cases_record"}
_LOOKUPS = ["SELECT * FROM blocking_keys WHERE source_system = 'st-marys-ehr' AND source_record_id = 'M-7'",
            "SELECT * FROM audit_log WHERE entity_type = 'record' AND entity_id = 'st-marys-ehr/M-7'",
            "SELECT * FROM review_cases WHERE source_system = 'st-marys-ehr' AND source_record_id = 'M-7'"]


@pytest.mark.duckdb_only(reason="DuckDB's own plans and a file at an older schema version")
def test_duckdb_reads_no_two_column_index_so_migration_23_drops_them_and_keeps_the_state_token(tmp_path):
    path = tmp_path / "store.duckdb"
    Store(path).close()
    with duckdb.connect(str(path)) as con:  # as a store at version 22 was: the three indexes, a row under each
        con.execute("INSERT INTO blocking_keys VALUES ('LN:JONES', 'st-marys-ehr', 'M-7')")
        con.execute("INSERT INTO audit_log VALUES (1, now(), 'ana', 'record.created', 'record', 'st-marys-ehr/M-7', "
                    "NULL, NULL)")
        con.execute("INSERT INTO review_cases (case_id, kind, source_system, source_record_id, state, priority, "
                    "blocks, created_at, updated_at, version) VALUES ('RC1', 'match_review', 'st-marys-ehr', 'M-7', "
                    "'open', 'normal', '[]', now(), now(), 1)")
        for statement in MIGRATIONS[0][1]:
            if statement.startswith("CREATE INDEX") and any(n in statement for n in TWO_COLUMN_INDEXES):
                con.execute(statement)
        con.execute("DELETE FROM schema_version WHERE version >= 23")
        token = con.execute("SELECT token FROM store_state").fetchone()[0]
        for sql in _LOOKUPS:  # a filter on both columns scans the table, index or not
            plan = con.execute("EXPLAIN " + sql).fetchall()[0][1]
            assert "Seq Scan" in plan and "Index Scan" not in plan

    store = Store(path)
    try:
        assert store.schema_version() == LATEST_VERSION
        names = {r[0] for r in store.db.query("SELECT index_name FROM duckdb_indexes()")}
        assert not names & TWO_COLUMN_INDEXES
        assert store.db.state_token() == token  # no row changed: a base made before it is still the store's
        assert [len(store.db.query(sql)) for sql in _LOOKUPS] == [1, 1, 1]
    finally:
        store.close()


def test_a_postgresql_store_keeps_the_two_column_indexes_its_b_trees_read(store):
    if not store.db.shared:  # (DuckDB)
        assert not TWO_COLUMN_INDEXES & {r[0] for r in store.db.query("SELECT index_name FROM duckdb_indexes()")}
        return
    names = {r[0] for r in store.db.query("SELECT indexname FROM pg_indexes")}
    assert TWO_COLUMN_INDEXES <= names


def test_only_a_migration_that_drops_indexes_alone_keeps_derived_state():
    assert only_drops_indexes(["DROP INDEX IF EXISTS audit_entity", "  drop index x"])
    assert not only_drops_indexes([])
    assert not only_drops_indexes(["DROP INDEX IF EXISTS x", "UPDATE persons SET status = 'active'"])
    assert not only_drops_indexes(["DROP TABLE x"])
