"""The store gateway: writes only inside a transaction, atomic rollback (its migrations: ``test_store_migrations.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import record
from mpi.errors import StoreError
from mpi.vocab import PersonStatus
from mpi.matching import blocking
from mpi.records.normalise import NORMALISATION_VERSION, normalise_record
from mpi.services import Services
from mpi.store import Store


pytestmark = pytest.mark.both_stores


def test_a_store_whose_folder_does_not_exist_is_refused_and_nothing_is_made(tmp_path):
    with pytest.raises(StoreError, match="folder .*deep/er does not exist"):
        Store(tmp_path / "deep" / "er" / "mpi.duckdb")

    assert not (tmp_path / "deep").exists()


def test_the_default_store_makes_its_var_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MPI_DB", raising=False)
    services = Services()
    try:
        services.store
        assert (tmp_path / "var" / "mpi.duckdb").exists()
    finally:
        services.close()


def test_the_checkpoint_threshold_is_set_on_the_connection_and_a_bad_one_named(tmp_path):
    store = Store(tmp_path / "store.duckdb", "64MB")
    try:
        assert store.db.query("SELECT current_setting('checkpoint_threshold')") == [("61.0 MiB",)]
    finally:
        store.close()
    with pytest.raises(StoreError, match="MPI_CHECKPOINT_THRESHOLD"):
        Store(tmp_path / "other.duckdb", "lots")
    assert not (tmp_path / "other.duckdb").exists()


def test_the_duckdb_memory_limit_is_set_from_the_setting_and_a_bad_one_named(tmp_path):
    services = Services({"MPI_DB": str(tmp_path / "store.duckdb"), "MPI_DUCKDB_MEMORY_LIMIT": "300MB"})
    try:
        assert services.store.db.query("SELECT current_setting('memory_limit')") == [("286.1 MiB",)]
    finally:
        services.close()
    default = Store(tmp_path / "default.duckdb")
    try:
        assert default.db.query("SELECT current_setting('memory_limit')") != [("286.1 MiB",)]
    finally:
        default.close()
    with pytest.raises(StoreError, match="MPI_DUCKDB_MEMORY_LIMIT"):
        Store(tmp_path / "other.duckdb", memory_limit="plenty")
    assert not (tmp_path / "other.duckdb").exists()


@pytest.mark.parametrize(
    "write",
    [
        lambda s: s.persons.create({}),
        lambda s: s.records.put("a", "1", {}, {}, []),
        lambda s: s.persons.set_link("a", "1", "MPI00000001", "MATCH", "AUTO", 1.0, 0.5, [], "v1"),
        lambda s: s.persons.delete_link("a", "1"),
        lambda s: s.persons.set_golden("MPI00000001", {}),
        lambda s: s.audit.append("test", "x.done", "x", "1", None, {}),
        lambda s: s.cases.open("POSSIBLE_MATCH", "a", "1", "routine", [], "v1", []),
    ],
    ids=["create_person", "put_record", "set_link", "delete_link", "set_golden", "audit", "open_case"],
)
def test_a_write_outside_a_transaction_raises(store, write):
    with pytest.raises(StoreError, match="outside Store.transaction"):
        write(store)
    assert store.counts() == {"persons": 0, "records": 0, "links": 0, "open_cases": 0}


def test_rollback_leaves_nothing_half_written(store):
    raw = record("marisol", "st-marys-ehr", "MRN-1")
    norm = normalise_record(raw)

    with pytest.raises(RuntimeError):
        with store.transaction():
            store.records.put("st-marys-ehr", "MRN-1", raw, norm, ["dob:1984-03-17"])
            person_id = store.persons.create({})
            store.persons.set_link("st-marys-ehr", "MRN-1", person_id, "NO_MATCH", "AUTO", None, None, [], "v1")
            store.cases.open("POSSIBLE_MATCH", "st-marys-ehr", "MRN-1", "routine", [], "v1", [])
            store.audit.append("test", "record.created", "record", "st-marys-ehr/MRN-1", None, {})
            assert store.records.get("st-marys-ehr", "MRN-1") is not None  # visible inside the transaction
            raise RuntimeError("crash half way")

    assert store.counts() == {"persons": 0, "records": 0, "links": 0, "open_cases": 0}
    assert store.records.get("st-marys-ehr", "MRN-1") is None
    assert store.audit.events() == []
    assert list(store.records.index_rows()) == []
    assert store.rollbacks == 1


def test_nested_transaction_joins_the_outer_one(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            with store.transaction():
                store.persons.create({})
            raise RuntimeError("outer fails after the inner block finished")

    assert store.counts()["persons"] == 0


@pytest.mark.parametrize("changed", [1, 20], ids=["a_request", "a_load_batch"])
def test_a_golden_view_written_twice_keeps_the_person_once_with_its_other_columns(store, changed):
    """A changed golden view is written (on DuckDB, by deleting the person's row and writing it again): twice in
    one transaction, for one person or a batch, each person is there once, with its status, redirect and creation
    time as they were, and only the changed persons' golden views and update times differ."""
    with store.transaction():
        ids = [store.persons.create({"n": i}) for i in range(25)]
        store.db.execute("UPDATE persons SET status = ?, redirect_to = ? WHERE person_id = ?",
                         [PersonStatus.REDIRECTED.value, ids[1], ids[0]])
    before = {i: store.persons.get(i) for i in ids}

    with store.transaction():
        for i in ids[:changed]:
            store.persons.set_golden(i, {"n": "first"})
        assert store.persons.get(ids[0])["golden"] == {"n": "first"}  # a read flushes the first write
        for i in ids[:changed]:
            store.persons.set_golden(i, {"n": "second"})

    assert store.db.one("SELECT count(*), count(DISTINCT person_id) FROM persons") == (25, 25)
    for i in ids:
        after = store.persons.get(i)
        if i in ids[:changed]:
            assert after["golden"] == {"n": "second"} and after["updated_at"] > before[i]["updated_at"]
        else:
            assert after == before[i]
        assert {k: after[k] for k in ("status", "redirect_to", "created_at")} == \
            {k: before[i][k] for k in ("status", "redirect_to", "created_at")}
    assert store.persons.get(ids[0])["status"] == PersonStatus.REDIRECTED.value


def test_failed_submit_rolls_back_the_store_and_the_in_memory_index(services):
    raw = record("marisol", "st-marys-ehr", "MRN-1")
    services.ensure_active_model("test")

    with pytest.raises(RuntimeError):
        with services.store.transaction():
            assert services.matching.submit(raw, "test")["decision"] == "NO_MATCH"
            raise RuntimeError("crash after the decision")

    assert services.store.counts()["records"] == 0
    # The matcher must not remember the rolled-back record as a candidate.
    again = services.matching.match(record("marisol", "bluepath-mco", "BPM-1"), "test")
    assert again["candidates"] == []
    result = services.matching.submit(raw, "test")
    assert result["decision"] == "NO_MATCH"
    assert services.store.counts() == {"persons": 1, "records": 1, "links": 1, "open_cases": 0}


def test_audit_log_is_append_only_with_actor_and_reason(store):
    with store.transaction():
        store.audit.append("user:alice", "case.withdrawn", "review_case", "RC00000001", "record updated", {"k": 1})
        store.audit.append("user:bob", "case.opened", "review_case", "RC00000002", None, None)

    events = store.audit.events("review_case")

    assert [(e["actor"], e["action"], e["entity_id"]) for e in events] == [
        ("user:bob", "case.opened", "RC00000002"),
        ("user:alice", "case.withdrawn", "RC00000001"),
    ]
    assert events[1]["reason"] == "record updated" and events[1]["detail"] == {"k": 1}
    assert events[0]["event_id"] > events[1]["event_id"]


def test_records_normalised_under_older_rules_are_normalised_again(config, client, auth, services):
    client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth)
    # An older release stored a thinner normalised form (no first-name roots) and no version.
    with services.store.transaction():
        stored = services.store.records.get("st-marys-ehr", "MRN-1")
        old = {k: v for k, v in stored["norm"].items() if k != "first_name_roots"}
        services.store.records.restate("st-marys-ehr", "MRN-1", stored["raw"], old, [], stored["received_at"],
                                      stored["updated_at"])
        services.store.meta.set("normalisation_version", "1")
    services.close()

    fresh = Services(config)
    try:
        fresh.matching.index()
        again = fresh.store.records.get("st-marys-ehr", "MRN-1")
        assert again["norm"] == normalise_record(stored["raw"])
        assert again["updated_at"] == stored["updated_at"] and again["link"] == stored["link"]
        assert fresh.store.meta.get("normalisation_version") == str(NORMALISATION_VERSION)
        events = fresh.store.audit.events("store", "source_records")
        assert [e["action"] for e in events] == ["records.renormalised"]
        # The blocking keys came back with the record: a second source's record of her still matches.
        result = fresh.matching.match(record("marisol", "bluepath-mco", "BPM-1"), "test")
        assert result["candidates"] and result["candidates"][0]["person_id"] == stored["link"]["person_id"]
    finally:
        fresh.close()


def test_records_keyed_under_older_blocking_rules_are_keyed_again(config, client, auth, services):
    client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth)
    # An older release keyed records by other rules: here, none of today's keys survive.
    with services.store.transaction():
        stored = services.store.records.get("st-marys-ehr", "MRN-1")
        services.store.records.restate("st-marys-ehr", "MRN-1", stored["raw"], stored["norm"], ["old:key"],
                                      stored["received_at"], stored["updated_at"])
        services.store.meta.set("blocking_version", "0")
    services.close()

    fresh = Services(config)
    try:
        index = fresh.matching.index()
        assert set(index.get(("st-marys-ehr", "MRN-1")).keys) == set(blocking.record_keys(stored["norm"]))
        assert fresh.store.meta.get("blocking_version") == str(blocking.BLOCKING_VERSION)
        assert fresh.store.records.get("st-marys-ehr", "MRN-1")["norm"] == stored["norm"]
        events = fresh.store.audit.events("store", "blocking_keys")
        assert [e["action"] for e in events] == ["records.rekeyed"]
        result = fresh.matching.match(record("marisol", "bluepath-mco", "BPM-1"), "test")
        assert result["candidates"] and result["candidates"][0]["person_id"] == stored["link"]["person_id"]
    finally:
        fresh.close()


def test_cached_reads_follow_writes_commits_and_rollbacks(tmp_path):
    """Meta and users are read on every request and cached; a write, committed or not, is never hidden."""
    store = Store(tmp_path / "cache.duckdb")
    assert store.meta.get("k") is None
    store.meta.set("k", "one")
    assert store.meta.get("k") == "one"
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.meta.set("k", "two")
            assert store.meta.get("k") == "two"  # the transaction sees its own write
            raise RuntimeError("roll back")
    assert store.meta.get("k") == "one"
    store.users.add("ana", "hub", "hash-1")
    assert store.users.by_token_hash("hash-1") == {"name": "ana", "role": "hub", "organisation": None}
    store.users.add("ana", "steward", "hash-2")  # a new token replaces the old one
    assert store.users.by_token_hash("hash-1") is None
    assert store.users.by_token_hash("hash-2") == {"name": "ana", "role": "steward", "organisation": None}
    store.close()


@pytest.mark.parametrize("limit", [None, "1GB"])
def test_release_memory_gives_back_duckdbs_pages_and_keeps_its_limit(tmp_path, limit):
    store = Store(tmp_path / "store.duckdb", memory_limit=limit)
    try:
        db = store.db
        before = db.query("SELECT current_setting('memory_limit')")
        with store.transaction():
            db.execute("CREATE TABLE bulky AS SELECT range AS n, repeat('x', 200) || range AS pad FROM range(1200000)")
        db.query("CHECKPOINT")
        db.query("SELECT sum(length(pad)) FROM bulky")  # a whole column read: its pages stay in DuckDB's pool
        held = db.memory_bytes()
        assert held > 24 * 2**20
        db.release_memory()
        assert db.memory_bytes() < held / 4
        assert db.query("SELECT current_setting('memory_limit')") == before
        assert db.query("SELECT count(*) FROM bulky") == [(1200000,)]
    finally:
        store.close()


def test_release_memory_after_a_replayed_log_gives_back_what_it_can_and_never_fails(tmp_path):
    # A process killed before it checkpointed (the kill of bench/load.py): its log is replayed when the store is
    # opened, and DuckDB cannot evict those rows until they are checkpointed; lowering its limit to 8MB is refused.
    path = tmp_path / "store.duckdb"
    Store(path).close()
    writer = tmp_path / "writer.py"
    writer.write_text(
        "import duckdb, os, sys\n"
        "c = duckdb.connect(sys.argv[1], config={'checkpoint_threshold': '1GB'})\n"
        "c.execute('CREATE TABLE bulky (n INTEGER PRIMARY KEY, pad VARCHAR)')\n"
        "for i in range(20):  # statements of a few rows each are logged row by row (a large one is not)\n"
        "    c.execute(f\"INSERT INTO bulky SELECT range + {i * 50000}, repeat('y', 200) || range FROM range(50000)\")\n"
        "os._exit(0)  # killed: no checkpoint\n")
    subprocess.run([sys.executable, str(writer), str(path)], check=True)
    assert (tmp_path / "store.duckdb.wal").stat().st_size > 32 * 2**20
    store = Store(path)
    try:
        before = store.db.query("SELECT current_setting('memory_limit')")
        store.db.release_memory()
        assert store.db.query("SELECT current_setting('memory_limit')") == before
        assert store.db.query("SELECT count(*) FROM bulky") == [(1000000,)]
    finally:
        store.close()


def test_records_sharing_an_id_under_two_systems_are_read_replaced_and_relinked_apart(store):
    """A record is read and its old rows deleted through its id's own index, its system compared apart (DuckDB
    scans the whole table for a filter on both key columns): two systems' records of one id never mix."""
    for system, person in (("a", "MPI00000001"), ("b", "MPI00000002")):
        with store.transaction():
            received = store.records.put(system, "1", {"from": system}, {"first_name": system}, [f"k:{system}"])
            store.persons.set_link(system, "1", person, "MATCH", "AUTO", 1.0, 0.5, [{"from": system}], "v1")
    for sent, person in ((2, "MPI00000003"), (3, "MPI00000004")):
        with store.transaction():  # (an update keeps the time the record was first received, as the writer's does)
            store.records.put("a", "1", {"from": "a", "sent": sent}, {"first_name": "a"}, ["k:a"], received)
            store.persons.set_link("a", "1", person, "MATCH", "AUTO", 1.0, 0.5, [{"from": "a", "sent": sent}], "v1")
    assert store.records.raw("a", "1") == {"from": "a", "sent": 3}
    assert store.records.raw("b", "1") == {"from": "b"}
    assert store.records.raw("c", "1") is None
    assert store.persons.link_evidence("a", "1") == [{"from": "a", "sent": 3}]
    assert store.persons.link_evidence("b", "1") == [{"from": "b"}]
    for table in ("source_records", "links", "blocking_keys"):
        rows = store.db.query(f"SELECT source_system, count(*) FROM {table} WHERE source_record_id = '1' "
                              "GROUP BY source_system ORDER BY source_system")
        assert [tuple(r) for r in rows] == [("a", 1), ("b", 1)], table
    assert store.db.query("SELECT person_id FROM links WHERE source_system = 'a'")[0][0] == "MPI00000004"
