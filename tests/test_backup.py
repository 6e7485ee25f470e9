"""Backups (``POST /v1/admin/backup``, ``mpi backup``) and ``mpi restore``: the same state back, and refusals.

A store with persons, review cases, a merge and referrals is backed up through
the API while the service holds it and through the CLI when it does not; each
backup restored holds every table's rows exactly. A backup taken while other
threads keep writing through real HTTP is consistent, holds every write
acknowledged before it began, and restores. A restore that would lose data or
break the store is refused in one line with the store left as it was.

A backup is a copy of the DuckDB store file, so these tests run on DuckDB; a
PostgreSQL store (backed up with pg_dump) is refused by the API, ``mpi backup``
and ``mpi restore``, each saying so (the last test).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import duckdb
import httpx
import pytest
from click.testing import CliRunner

from api import create_app
from conftest import add_hub, record
from mpi.auth import add_user
from mpi.cli import main
from mpi.identity.loading import PreparedRows, load
from mpi.services import Services
from mpi.store.schema import LATEST_VERSION
from mpi.synth.generator import generate_records
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

pytestmark = pytest.mark.duckdb_only(reason="a backup is a copy of the DuckDB store file, and the tests read the "
                                            "files; a PostgreSQL store's refusal is the last test")


def _mpi(config: dict, *args: str, db: str | None = None):
    return CliRunner().invoke(main, ["--db", db or config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"], *args])


def _tables(path: Path) -> dict[str, Counter]:
    """Every table of a store file, as a multiset of its rows."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {t: Counter(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall())) for t in names}
    finally:
        con.close()


def _same_state(restored: dict[str, Counter], original: dict[str, Counter]) -> bool:
    """Every table row for row, but the access log: its events are written after their answers (``api/access_log.py``),
    so a backup holds the events of the requests answered before it began, not its own: a part of the original's."""
    assert restored["access_log"] and not restored["access_log"] - original["access_log"]
    return {k: v for k, v in restored.items() if k != "access_log"} == {
        k: v for k, v in original.items() if k != "access_log"}


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def world(net_services, network, net_client):
    """A store with matched and held records, a merge, referrals and users; its counts."""
    services = net_services
    rows = enumerate(({k: v for k, v in r.items() if k != "truth_person_id"} for r in generate_records(60, seed=3)), 2)
    with PreparedRows(rows, workers=0) as prepared:
        load(services.matching, prepared, "test")
    people = [services.matching.submit(record(name, "county-ehr", f"C-{name}"), "test")["person_id"]
              for name in ("marisol", "theodore", "desmond")]
    services.merges.merge(people[2], people[1], "user:sam", "the same man, by his Medicaid card")
    for ref, name in (("SM-1", "marisol"), ("SM-2", "desmond")):
        response = net_client.post("/v1/referrals", json=referral_body(name, ref), headers=network.headers["hub-stmarys"])
        assert response.status_code == 201, response.get_json()
    counts = services.store.counts()
    assert counts["open_cases"] >= 1 and services.store.db.one("SELECT count(*) FROM merges")[0] == 1
    assert services.store.db.one("SELECT count(*) FROM referrals")[0] == 2
    return counts


def test_a_backup_through_the_api_or_the_cli_restores_every_table_row_for_row(
        config, world, net_client, network, net_services, tmp_path):
    response = net_client.post("/v1/admin/backup", headers=network.headers["root"])
    assert response.status_code == 200
    assert response.mimetype == "application/octet-stream"
    assert response.headers["X-MPI-Schema-Version"] == str(LATEST_VERSION)
    assert "attachment" in response.headers["Content-Disposition"]
    through_api = tmp_path / "api-backup.duckdb"
    through_api.write_bytes(response.get_data())
    response.close()  # as a WSGI server does once the body is sent
    assert not list(Path(config["MPI_DB"]).parent.glob(".mpi-backup-*"))  # the service's copy is gone
    net_services.close()
    original = _tables(Path(config["MPI_DB"]))

    result = _mpi(config, "backup", "--output", str(tmp_path / "cli-backup.duckdb"))
    assert result.exit_code == 0, result.output
    assert f"at schema version {LATEST_VERSION}" in result.output

    for n, backup in enumerate((through_api, tmp_path / "cli-backup.duckdb")):
        restored = tmp_path / f"restored-{n}.duckdb"
        result = _mpi(config, "restore", "--input", str(backup), db=str(restored))
        assert result.exit_code == 0, result.output
        assert f"restored {backup} to {restored}" in result.output
        assert _same_state(_tables(restored), original)
    assert sum(map(len, original.values())) > 500 and original["referrals"] and original["merges"]

    # Over the store itself, with --force: the same state again, and the store opens and serves.
    result = _mpi(config, "restore", "--input", str(through_api), "--force")
    assert result.exit_code == 0, result.output
    assert _same_state(_tables(Path(config["MPI_DB"])), original)
    assert _mpi(config, "export", "--output", str(tmp_path / "export.csv")).exit_code == 0


def test_only_an_admin_takes_a_backup(net_client, network):
    assert_error(net_client.post("/v1/admin/backup"), 401, "unauthorized")
    for who in ("sam", "hub-stmarys", "cora"):
        body = assert_error(net_client.post("/v1/admin/backup", headers=network.headers[who]), 403, "forbidden")
        assert "admin" in body["message"]


def test_a_backup_taken_while_writes_go_on_is_consistent_and_restores(config, services, app, live_server, tmp_path):
    hub = {"Authorization": f"Bearer {add_hub(services, 'hub')}"}
    admin = {"Authorization": f"Bearer {add_user(services.store, 'root', 'admin')}"}
    rows = [{k: v for k, v in r.items() if k != "truth_person_id"} for r in generate_records(200, seed=9)]
    before = rows[:60]
    with httpx.Client(base_url=live_server, headers=hub, timeout=60) as http:
        for row in before:
            assert http.post("/v1/records", json=row).status_code == 200
    stop, going, acknowledged, failures = threading.Event(), threading.Event(), [], []

    def write(share: list[dict]) -> None:
        with httpx.Client(base_url=live_server, headers=hub, timeout=60) as http:
            for row in share:
                if stop.is_set():
                    return
                response = http.post("/v1/records", json=row)
                if response.status_code != 200:
                    failures.append(response.status_code)
                acknowledged.append((row["source_system"], row["source_record_id"]))
                if len(acknowledged) >= 20:
                    going.set()

    writers = [threading.Thread(target=write, args=(rows[60 + i::3],)) for i in range(3)]
    for t in writers:
        t.start()
    try:
        assert going.wait(120), "the writers did not get going"
        acknowledged_before = set(acknowledged)  # acknowledged before the backup was asked for
        response = httpx.post(f"{live_server}/v1/admin/backup", headers=admin, timeout=120)
    finally:
        stop.set()
        for t in writers:
            t.join()
    assert response.status_code == 200 and not failures
    backup = tmp_path / "backup.duckdb"
    backup.write_bytes(response.content)

    restored = tmp_path / "restored.duckdb"
    assert _mpi(config, "restore", "--input", str(backup), db=str(restored)).exit_code == 0
    con = duckdb.connect(str(restored), read_only=True)
    try:
        one = lambda sql: con.execute(sql).fetchone()[0]
        keys = {tuple(r) for r in con.execute("SELECT source_system, source_record_id FROM source_records").fetchall()}
        # Every write acknowledged before the backup began, and none it could not have seen.
        assert {(r["source_system"], r["source_record_id"]) for r in before} | acknowledged_before <= keys
        assert keys <= {(r["source_system"], r["source_record_id"]) for r in before} | set(acknowledged)
        # One moment: every link's record and person, every case's record and candidates are there.
        assert one("SELECT count(*) FROM links l ANTI JOIN persons p USING (person_id)") == 0
        assert one("SELECT count(*) FROM links l ANTI JOIN source_records r USING (source_system, source_record_id)") == 0
        assert one("SELECT count(*) FROM review_cases c ANTI JOIN source_records r "
                   "USING (source_system, source_record_id)") == 0
        assert one("SELECT count(*) FROM review_candidates c ANTI JOIN review_cases r USING (case_id)") == 0
        # Every stored record is decided: linked, or held in an open case.
        assert one("SELECT count(*) FROM source_records r ANTI JOIN links l USING (source_system, source_record_id) "
                   "ANTI JOIN (SELECT * FROM review_cases WHERE state = 'open') c "
                   "USING (source_system, source_record_id)") == 0
        assert one("SELECT count(*) FROM persons p WHERE status = 'ACTIVE' AND NOT EXISTS "
                   "(SELECT 1 FROM links l WHERE l.person_id = p.person_id)") == 0
    finally:
        con.close()


@pytest.fixture
def backup_file(config, tmp_path) -> Path:
    assert _mpi(config, "load", "--input", str(_people_csv(tmp_path))).exit_code == 0
    path = tmp_path / "backup.duckdb"
    assert _mpi(config, "backup", "--output", str(path)).exit_code == 0
    return path


def _people_csv(tmp_path: Path) -> Path:
    from mpi.synth.generator import write_csv

    path = tmp_path / "people.csv"
    write_csv(path, 30, seed=4)
    return path


def _refused(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert fragment in lines[-1]


def test_restore_refuses_an_existing_store_without_force_and_a_file_that_is_not_a_store(config, backup_file,
                                                                                        tmp_path):
    store = Path(config["MPI_DB"])
    before = _digest(store)
    _refused(_mpi(config, "restore", "--input", str(backup_file)), f"the store {store} exists", "--force")

    not_duckdb = tmp_path / "people.csv"
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    newer = tmp_path / "newer.duckdb"
    newer.write_bytes(backup_file.read_bytes())
    with duckdb.connect(str(newer)) as con:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [LATEST_VERSION + 1])
    for bad, says in ((not_duckdb, "not a DuckDB database file"), (empty, "not a store of this service"),
                      (other, "it has no table schema_version"), (newer, f"newer than this version's {LATEST_VERSION}"),
                      (tmp_path / "missing.duckdb", "no such file"), (tmp_path, "a directory")):
        _refused(_mpi(config, "restore", "--input", str(bad), "--force"), says)
    assert _digest(store) == before  # nothing replaced
    assert sorted(p.name for p in store.parent.iterdir() if p.name.startswith(".")) == []  # nothing left beside


@pytest.mark.slow  # a second process holds the store
def test_restore_refuses_while_a_service_holds_the_store(config, backup_file):
    store = Path(config["MPI_DB"])
    before = _digest(store)
    hold = "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(store)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        _refused(_mpi(config, "restore", "--input", str(backup_file), "--force"),
                 f"the store {store} is held by another process (PID {holder.pid})", "stop")
        _refused(_mpi(config, "backup", "--output", str(backup_file.with_name("b2.duckdb"))),
                 "held by another process", "mpi --url http://HOST:PORT --token T backup")
    finally:
        holder.communicate("")
    assert _digest(store) == before


@pytest.mark.slow  # a second process writes to the store and dies
def test_restore_over_a_killed_store_leaves_no_log_of_it_to_replay(config, backup_file, tmp_path):
    store = Path(config["MPI_DB"])
    # A process that wrote and was killed leaves its write in the store's write-ahead log.
    write_and_die = ("import duckdb, os, sys; con = duckdb.connect(sys.argv[1]); "
                     "con.execute(\"INSERT INTO meta VALUES ('left-in-the-log', 'x')\"); os._exit(0)")
    subprocess.run([sys.executable, "-c", write_and_die, str(store)], check=True)
    assert store.with_name(store.name + ".wal").exists()

    result = _mpi(config, "restore", "--input", str(backup_file), "--force")

    assert result.exit_code == 0, result.output
    assert not store.with_name(store.name + ".wal").exists()
    assert _tables(store) == _tables(backup_file)


def test_backup_without_a_store_says_so_and_makes_none(config, tmp_path):
    missing = tmp_path / "none.duckdb"
    _refused(_mpi(config, "backup", "--output", str(tmp_path / "b.duckdb"), db=str(missing)),
             f"no store at {missing}")
    assert not missing.exists() and not (tmp_path / "b.duckdb").exists()


def test_a_postgresql_store_is_refused_by_backup_and_restore_naming_its_own_tools(postgres_server, models_dir,
                                                                                   backup_file, tmp_path):
    url = postgres_server.new_database()
    pg = {"MPI_DB": url, "MPI_MODELS_DIR": str(models_dir)}
    try:
        services = Services(pg)
        try:
            admin = {"Authorization": f"Bearer {add_user(services.store, 'root', 'admin')}"}
            body = assert_error(create_app(services=services).test_client().post("/v1/admin/backup", headers=admin),
                                500, "store_error")
            assert "pg_dump" in body["message"]
        finally:
            services.close()
        output = tmp_path / "pg-backup.duckdb"
        backed_up = _mpi(pg, "backup", "--output", str(output))
        assert backed_up.exit_code == 1 and "pg_dump" in backed_up.output and not output.exists()
        restored = _mpi(pg, "restore", "--input", str(backup_file), "--force")  # a good backup, of DuckDB
        assert restored.exit_code == 1 and "pg_restore" in restored.output
        assert "127.0.0.1" not in backed_up.output + restored.output  # the URL (it may hold a password) is not shown
        services = Services(pg)
        try:  # the store is as it was: its admin, none of the backup's records
            assert services.store.db.one("SELECT count(*) FROM source_records")[0] == 0
        finally:
            services.close()
    finally:
        postgres_server.drop_database(url)
