"""``mpi migrate-store --to URL``: a DuckDB store moved into PostgreSQL, every row of every table, ids continuing."""

from __future__ import annotations

import pytest

from cli_runner import assert_one_line_error, mpi  # noqa: F401  (mpi: a fixture)
from conftest import add_hub, record
from mpi.services import Services
from mpi.store import Store
from mpi.store.transfer import tables

TABLES_WITH_ROWS = {"source_records", "blocking_keys", "persons", "links", "audit_log", "review_cases", "users"}


@pytest.fixture
def filled(services, client, activate_policy):
    """A DuckDB store (the default backend) with persons, a review case, a user and their audit trail."""
    headers = {"Authorization": f"Bearer {add_hub(services, 'move-hub')}"}
    first = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=headers)
    assert first.status_code == 200, first.get_json()
    client.post("/v1/records", json=record("theodore", "st-marys-ehr", "MRN-2"), headers=headers)
    activate_policy(lower_match_weight=-1e6, upper_match_weight=1e6)  # everything else goes to review
    held = client.post("/v1/records", json=record("marisol", "fqhc-eastside", "EF-1"), headers=headers).get_json()
    assert held["decision"] == "POSSIBLE_MATCH"
    return headers


def counts(db) -> dict[str, int]:
    return {t: db.one(f"SELECT count(*) FROM {t}")[0] for t in tables(db) if t != "schema_version"}


@pytest.mark.duckdb_only(reason="the store `mpi migrate-store` moves is a DuckDB file")
def test_every_row_moves_and_the_moved_store_serves_on(services, filled, mpi, postgres_server, models_dir, config):
    services.close()  # as the command runs: the service is stopped (its last access events written)
    source = Store(config["MPI_DB"])
    before = counts(source.db)
    source.close()
    assert all(before[t] for t in TABLES_WITH_ROWS | {"access_log"})
    url = postgres_server.new_database()

    result = mpi("migrate-store", "--to", url)

    assert "moved" in result.output and "MPI_DB=" in result.output
    moved = Services({"MPI_DB": url, "MPI_MODELS_DIR": str(models_dir)})
    try:
        assert counts(moved.store.db) == before
        assert moved.store.counts()["open_cases"] == 1
        # Ids continue after the moved ones: a new person and case get ids of their own.
        outcome = moved.matching.submit(record("desmond", "st-marys-ehr", "MRN-3"), "test")
        assert outcome["decision"] in ("NO_MATCH", "POSSIBLE_MATCH")
        ids = [r[0] for r in moved.store.db.query("SELECT person_id FROM persons")]
        assert len(ids) == len(set(ids)) == before["persons"] + (outcome["decision"] == "NO_MATCH")
    finally:
        moved.close()
    # A second move into the same (now used) database is refused, and changes nothing.
    again = mpi("migrate-store", "--to", url, ok=False)
    assert_one_line_error(again, "already holds source records")
    check = Store(url)
    assert counts(check.db)["source_records"] == before["source_records"] + 1  # the one it took after the move
    check.close()


def test_the_target_must_be_a_postgresql_url(mpi, tmp_path):
    result = mpi("migrate-store", "--to", str(tmp_path / "other.duckdb"), ok=False)
    assert result.exit_code == 2 and "postgresql://" in result.output
