"""The candidate index's compact base, saved beside the store: same answers as an index built afresh, never stale.

A seeded generated population is matched into a real store; a restart then
maps the base saved beside it, changes are laid over it, and every answer
(candidate persons with their members in order, value counts, the whole
state) is compared with an index built record by record from the store.
"""

from __future__ import annotations

import json
import shutil
import signal

from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from conftest import SHIPPED_MODELS

from mpi.cli import main
from mpi.identity import index_changes, index_snapshot, upkeep
from mpi.identity.index import CandidateIndex
from mpi.matching import blocking
from mpi.matching.comparisons import FREQUENCY_COLUMNS
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.generator import small_population, write_csv
from mpi.vocab import AuditAction, LinkSource

pytestmark = pytest.mark.duckdb_only(reason="the base is saved beside a DuckDB store file; a PostgreSQL store has "
                                            "no state token to save one against (each instance builds its index)")

FIELDS = ("norm", "keys", "received_at", "updated_at", "person_id", "decision", "link_source", "score", "probability",
          "case_id")


def entry_state(e) -> tuple:
    return tuple(frozenset(e.keys) if f == "keys" else getattr(e, f) for f in FIELDS)


def index_state(index: CandidateIndex) -> dict:
    """Everything the index knows, in plain values."""
    entries = {key: entry_state(e) for key, e in index.entries.items()}
    return {"entries": entries,
            "postings": {k: sorted(index.posted(k)) for e in index.entries.values() for k in e.keys},
            "persons": {p: index.persons[p] for p in index.persons},
            "apart": {key: index.kept_apart(key) for key in index.entries},
            "counts": {c: dict(index.value_counts.of(c)) for c in FREQUENCY_COLUMNS},
            "held": sorted(index.held()), "sizes": (len(index.entries), len(index.persons))}


def fresh(services) -> CandidateIndex:
    """An index built record by record from the store (the object index a restart used to build)."""
    index = CandidateIndex.from_rows(services.store.records.index_rows())
    for key, person_id in services.store.cases.not_duplicate_pairs():
        index.keep_apart(key, person_id)
    return index


def retrieval(index: CandidateIndex, norms) -> list:
    """Every record's candidate persons (as itself, excluded, and as a new record), members in order."""
    out = []
    for key, norm in norms:
        for exclude in (key, None):
            found = index.candidate_persons(blocking.query_keys(norm), 400, exclude)
            out.append(sorted((person, [(e.key, entry_state(e)) for e in members]) for person, members in found))
    return out


@pytest.fixture(scope="module")
def matched_store(tmp_path_factory):
    """A seeded population of 90 people matched into a store file, closed (as at a stop) with its base saved."""
    folder = tmp_path_factory.mktemp("population")
    models = folder / "models"
    models.mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", models)
    services = Services({"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(models)})
    services.ensure_active_model("test")
    for row in small_population(90, seed=5):
        services.matching.submit({k: v for k, v in row.items() if not k.startswith("truth") and v}, "test")
    assert services.writer.save_index()
    services.close()
    return folder / "mpi.duckdb"


@pytest.fixture
def population(config, matched_store):
    """The matched store (and its saved base) copied to this test's store file."""
    shutil.copy(matched_store, config["MPI_DB"])
    shutil.copytree(f"{matched_store}.index", f"{config['MPI_DB']}.index")
    return small_population(90, seed=5)


@pytest.fixture
def restarted(config, population):
    services = Services(config)
    yield services
    services.close()


def change_some(services, rows) -> None:
    """Updates of stored records, new records, a steward's link, a pair kept apart, a review opened."""
    for i, row in enumerate(rows[:12]):
        sent = {k: v for k, v in row.items() if not k.startswith("truth") and v}
        if i % 3 == 0:
            sent["last_name"] = "Quennell"
        if i % 3 == 1:
            sent["source_record_id"] += "-NEW"
        services.matching.submit(sent, "test")
    index = services.matching.index()
    a, b = sorted(index.persons)[:2]
    key = index.persons[a][0]
    services.matching.link_manually(*key, b, "user:test", "checked")
    with services.store.transaction():
        services.writer.keep_apart(index.persons[b][0], a, None, "user:test", "twins")
    other = index.persons[sorted(index.persons)[5]][0]
    services.matching.open_review(*other, "user:test", "look again")


def test_a_restart_maps_the_saved_base_and_answers_as_a_fresh_index(restarted, population, config):
    index = restarted.matching.index()
    assert index.base.size > 100 and index.base.mapped  # mapped, not rebuilt
    norms = [(key, e.norm) for key, e in fresh(restarted).entries.items()]
    assert index_state(index) == index_state(fresh(restarted))
    assert retrieval(index, norms) == retrieval(fresh(restarted), norms)

    change_some(restarted, population)
    assert index._ndead > 0 and index._overlay  # base rows promoted into the overlay
    norms = [(key, e.norm) for key, e in fresh(restarted).entries.items()]
    assert index_state(index) == index_state(fresh(restarted))
    assert retrieval(index, norms) == retrieval(fresh(restarted), norms)


def test_a_saved_base_reopens_with_equal_answers(restarted, config):
    folder = index_snapshot.folder_of(config["MPI_DB"])
    with restarted.store.transaction():
        built = index_snapshot.Snapshot.from_columns(
            restarted.store.records.index_columns(FREQUENCY_COLUMNS), upkeep._stamp(restarted.store))
    mapped = index_snapshot.Snapshot.open(folder)
    assert mapped.stamp == built.stamp and mapped.value_counts == built.value_counts
    for name, array in built.a.items():
        if name != "norm_blob":  # (read from the file, never mapped: compared record by record below)
            assert np.array_equal(mapped.a[name], array, equal_nan=array.dtype.kind == "f"), name
    every_row = np.arange(built.size)
    assert mapped.records(every_row) == built.records(every_row)
    norms = [(key, e.norm) for key, e in fresh(restarted).entries.items()]
    assert retrieval(CandidateIndex(mapped), norms) == retrieval(CandidateIndex(built), norms)


def test_a_saved_base_reads_its_forms_without_mapping_them(restarted, config):
    """The forms are two thirds of a base's bytes: mapped, the pages a query touched (and the kernel's 64 KB around
    each) stayed in the service's resident memory; read with pread, they are the page cache's, not the process's."""
    folder = index_snapshot.folder_of(config["MPI_DB"])
    mapped = index_snapshot.Snapshot.open(folder)
    CandidateIndex(mapped).candidate_persons(["x"], 100)
    maps = Path("/proc/self/maps").read_text()
    assert str(folder / "keys.npy") in maps
    assert str(folder / "norm_blob.npy") not in maps
    _, shape, values, *_ = mapped.records(np.arange(mapped.size))[0]  # (read from the file all the same)
    assert len(values) == len(shape) > 0


def _resident_kb(path: Path) -> dict[str, int]:
    """Size and Rss (kB) of this process's mapping of ``path``, from /proc/self/smaps."""
    found, sizes = False, {}
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if "-" in line.split(" ", 1)[0] and not line.endswith(":"):  # a mapping's header line
            found = line.endswith(" " + str(path))
        elif found and line.split(":")[0] in ("Size", "Rss"):
            sizes[line.split(":")[0]] = int(line.split()[1])
    return sizes


def test_opening_a_saved_base_pages_in_what_every_query_reads_and_no_more(restarted, config):
    """A page of the base first touched by a request cost that request a fault (about 20 us each on the benchmark
    machine, 4,500 of them in its first 450 queries at a million persons): the arrays every query reads are paged
    in when the base is opened; the others (each record's blocking keys, read when a record changes) only as read."""
    folder = index_snapshot.folder_of(config["MPI_DB"])
    mapped = index_snapshot.Snapshot.open(folder)
    for name in index_snapshot._EVERY_QUERY:
        sizes = _resident_kb(folder / f"{name}.npy")
        assert sizes["Rss"] == sizes["Size"] > 0, name
    for name in ("rec_keys", "rec_key_off"):
        assert _resident_kb(folder / f"{name}.npy")["Rss"] == 0, name
    assert mapped.block_keys_of(0)  # (read as asked)
    assert _resident_kb(folder / "rec_keys.npy")["Rss"] > 0


def test_mpi_load_maps_the_saved_base_before_its_first_write(config, population, tmp_path, monkeypatch):
    """``mpi load`` maps the index's saved base, and only then writes its progress row: the base is current only
    until the store's first write, after which it would be read from the store again. (No worker process here:
    a process pool in the test process is one of the suspects of a waitress EBADF seen now and then.)"""
    path = tmp_path / "more.csv"
    write_csv(path, 6, seed=77)

    opened, open_current = [], index_snapshot.open_current
    monkeypatch.setattr(index_snapshot, "open_current", lambda *args: opened.append(open_current(*args)) or opened[-1])
    result = CliRunner().invoke(main, ["--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"],
                                       "load", "--input", str(path), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "loaded " in result.output and "rejected 0" in result.output
    assert opened and opened[0] is not None  # the start's index: the saved base, current


def test_a_base_saved_before_a_write_is_not_used(config, population):
    folder = index_snapshot.folder_of(config["MPI_DB"])
    saved = index_snapshot.read_stamp(folder)
    services = Services(config)
    try:
        with services.store.transaction():  # a write by a process that never built the index (a CLI command)
            services.store.records.put("st-marys-ehr", "LATE-1", {"first_name": "Orla"}, {"first_name": "orla"},
                                       ["fn:orla"], None)
        with services.store.transaction():
            assert upkeep._stamp(services.store)["state"] != saved["state"]
            assert index_snapshot.open_current(folder, upkeep._stamp(services.store)) is None
        index = services.matching.index()
        assert ("st-marys-ehr", "LATE-1") in index.entries  # built again from the store, with the late record
        assert index_state(index) == index_state(fresh(services))
        assert index_snapshot.read_stamp(folder)["state"] != saved["state"]  # and saved again
    finally:
        services.close()


def test_a_base_made_under_other_rules_is_not_used(restarted, config):
    folder = index_snapshot.folder_of(config["MPI_DB"])
    with restarted.store.transaction():
        stamp = upkeep._stamp(restarted.store)
        assert index_snapshot.open_current(folder, stamp) is not None
        for rule in ("normalisation", "blocking", "format"):
            assert index_snapshot.open_current(folder, {**stamp, rule: "other"}) is None, rule
        assert index_snapshot.open_current(folder, {**stamp, "frequency_columns": ["city"]}) is None


def test_reads_keep_the_state_token_and_writes_change_it(restarted):
    db = restarted.store.db
    with restarted.store.transaction():
        first = db.state_token()
        restarted.store.counts()
    with restarted.store.transaction():
        assert db.state_token() == first
        restarted.store.meta.set("x", "1")
        assert db.state_token() is None  # this transaction's state is no committed one
    with restarted.store.transaction():
        assert db.state_token() not in (None, first)


def test_a_rolled_back_write_leaves_the_base_and_overlay_as_they_were(restarted, population):
    index = restarted.matching.index()
    before = index_state(index)
    with pytest.raises(RuntimeError):
        with restarted.store.transaction():
            change_some(restarted, population)
            person = sorted(index.persons)[7]
            restarted.writer.unlink(index.persons[person][0], LinkSource.MANUAL, "user:test",
                                    AuditAction.LINK_REMOVED, "wrong")
            assert index_state(index) != before
            raise RuntimeError("crash before commit")
    assert restarted.matching.index() is index  # undone in place
    assert index_state(index) == before == index_state(fresh(restarted))


def test_few_changes_are_saved_beside_the_base_and_replayed_at_the_next_start(config, population, monkeypatch):
    monkeypatch.setattr(index_changes, "MAX_SHARE", 1.0)  # (the test's changes are many beside 230 records)
    folder = index_snapshot.folder_of(config["MPI_DB"])
    services = Services(config)
    try:
        change_some(services, population)
        base_stamp = services.matching.index().base.stamp
        assert services.writer.save_index() == "changes"
        assert services.writer.save_index() is None  # nothing changed since
    finally:
        services.close()
    assert index_snapshot.read_stamp(folder) == base_stamp  # the base stays as it was

    services = Services(config)
    try:
        index = services.matching.index()
        assert index.base.stamp == base_stamp and index.changed()[0]  # the base, the changes replayed over it
        assert index_state(index) == index_state(fresh(services))
        norms = [(key, e.norm) for key, e in fresh(services).entries.items()]
        assert retrieval(index, norms) == retrieval(fresh(services), norms)
        with services.store.transaction():  # a later write: the saved changes no longer bring the base to it
            services.store.records.put("st-marys-ehr", "LATE-2", {"first_name": "Orla"}, {"first_name": "orla"},
                                       ["fn:orla"], None)
        monkeypatch.setattr(index_changes, "MAX_SHARE", 0.0)  # (changes past their share of the base)
        assert services.writer.save_index() == "base"
    finally:
        services.close()
    services = Services(config)
    try:
        index = services.matching.index()
        assert not index.changed()[0] and ("st-marys-ehr", "LATE-2") in index.entries
        assert index_state(index) == index_state(fresh(services))
    finally:
        services.close()


def test_saved_changes_are_not_used_once_the_store_has_moved_on(config, population, monkeypatch):
    monkeypatch.setattr(index_changes, "MAX_SHARE", 1.0)
    services = Services(config)
    try:
        change_some(services, population)
        assert services.writer.save_index() == "changes"
        with services.store.transaction():
            services.store.records.put("st-marys-ehr", "LATE-3", {"first_name": "Orla"}, {"first_name": "orla"},
                                       ["fn:orla"], None)
    finally:
        services.close()  # (stopped without saving: as a crash would)
    services = Services(config)
    try:
        index = services.matching.index()
        assert not index.changed()[0] and not index._ndead  # built again from the store, not the stale changes
        assert index_state(index) == index_state(fresh(services))
    finally:
        services.close()


def test_records_read_out_of_key_order_are_put_in_it(restarted):
    with restarted.store.transaction():
        columns = restarted.store.records.index_columns(FREQUENCY_COLUMNS)
    stamp = {"state": "s"}
    ordered = index_snapshot.Snapshot.from_columns(columns, stamp)
    n = columns["records"].num_rows
    shuffle = np.random.default_rng(3).permutation(n)  # new position i holds old row shuffle[i]
    position = np.empty(n, dtype=np.int64)
    position[shuffle] = np.arange(n)
    postings = columns["postings"]
    rows = pa.array(position[postings.column("row").to_numpy()].astype(np.int32))
    shuffled = {**columns, "records": columns["records"].take(pa.array(shuffle)),
                "postings": postings.set_column(postings.schema.get_field_index("row"), "row", rows)}
    made = index_snapshot.Snapshot.from_columns(shuffled, stamp)
    for name, array in ordered.a.items():
        assert np.array_equal(made.a[name], array, equal_nan=array.dtype.kind == "f"), name


@pytest.mark.slow  # two server processes
def test_a_stopped_service_saves_its_changes_beside_the_base_and_the_next_start_replays_them(config, population):
    """A stop (SIGTERM, as a service manager's) writes what changed since the base, not a whole base (which reads
    every record: a minute at a million persons); a start maps the base and replays them, as a fresh index from the
    store would be."""
    from mpi.auth import add_user
    from serve_support import free_port, serve

    services = Services(config)
    try:
        token = add_user(services.store, "stop-admin", "admin")  # (a write: the start after it builds its base)
    finally:
        services.close()
    folder = index_snapshot.folder_of(config["MPI_DB"])
    port = free_port()
    proc = serve(config, port)
    try:
        base_stamp = index_snapshot.read_stamp(folder)  # the base the start built and saved
        sent = {k: v for k, v in population[0].items() if not k.startswith("truth") and v}
        sent = {**sent, "source_record_id": "STOP-1", "last_name": "Quennell"}
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/records", json=sent,
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code in (200, 201), answer.text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    assert index_snapshot.read_stamp(folder) == base_stamp  # the base stays; its changes are beside it
    changes = json.loads((folder / index_changes.FILE).read_text())
    assert changes["base"] == base_stamp
    assert [tuple(e[0]) for e in changes["entries"]] == [(sent["source_system"], "STOP-1")]

    services = Services(config)
    try:
        index = services.matching.index()
        assert index.base.stamp == base_stamp and index.changed()[0]  # mapped, the changes replayed over it
        assert (sent["source_system"], "STOP-1") in index.entries
        assert index_state(index) == index_state(fresh(services))
    finally:
        services.close()
