"""``mpi load`` killed part-way and run again ends where one uninterrupted load ends, and resumes, not restarts.

The killed load is a real ``mpi load`` process (with its worker), killed with
SIGKILL as soon as it logs its first committed batch; the loads it is compared
with run in this process on fresh stores of the same file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpi.cli import main
from mpi.identity.loading import LOAD_BATCH
from mpi.store import Store
from mpi.synth.generator import write_csv
from tests.process_support import busy_workers, processes

#: Slow: three loads of a few thousand rows, one of them a subprocess.
pytestmark = pytest.mark.slow

PEOPLE = 1200  # about 3,000 rows: three batches and a part


@pytest.fixture(scope="module")
def people_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("load") / "people.csv"
    write_csv(path, PEOPLE, seed=11)
    return path


def _mpi(db: Path, models_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--db", str(db), "--models-dir", str(models_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


def _outcome(db: Path) -> tuple[set[frozenset[str]], set[tuple[str, frozenset[frozenset[str]]]]]:
    """Persons as groupings of record keys, and open cases as (record, its candidates as groupings)."""
    store = Store(db)
    try:
        members: dict[str, set[str]] = defaultdict(set)
        for person_id, ss, sid in store.db.query("SELECT person_id, source_system, source_record_id FROM links"):
            members[person_id].add(f"{ss}/{sid}")
        persons = {pid: frozenset(keys) for pid, keys in members.items()}
        cases: dict[str, set] = defaultdict(set)
        for record, person_id in store.db.query(
                "SELECT r.source_system || '/' || r.source_record_id, c.person_id FROM review_cases r "
                "LEFT JOIN review_candidates c USING (case_id) WHERE r.state IN ('open', 'in_review', 'on_hold')"):
            cases[record].add(persons.get(person_id, frozenset({person_id})) if person_id else frozenset())
        return set(persons.values()), {(record, frozenset(c)) for record, c in cases.items()}
    finally:
        store.close()


def _audit_and_counts(db: Path) -> tuple:
    store = Store(db)
    try:
        tables = [r[0] for r in store.db.query("SELECT table_name FROM duckdb_tables() ORDER BY table_name")]
        return tuple((t, store.db.one(f"SELECT count(*) FROM {t}")[0]) for t in tables)
    finally:
        store.close()


def _kill_after_first_batch(db: Path, models_dir: Path, csv_path: Path) -> None:
    """Run ``mpi load`` in a process group of its own and SIGKILL it once it logs its first committed batch."""
    code = "from mpi.cli import main; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--db", str(db), "--models-dir", str(models_dir), "load", "--input",
         str(csv_path), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, "MPI_LOG_LEVEL": "INFO"})
    deadline = time.monotonic() + 300
    try:
        for line in iter(proc.stderr.readline, b""):
            if b"rows committed" in line:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            assert time.monotonic() < deadline, "no batch committed"
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the load finished before it could be killed"


def test_a_load_killed_after_a_batch_resumes_and_ends_as_one_uninterrupted_load(tmp_path, models_dir, people_csv):
    whole, killed = tmp_path / "whole.duckdb", tmp_path / "killed.duckdb"
    _mpi(whole, models_dir, "load", "--input", str(people_csv))

    _kill_after_first_batch(killed, models_dir, people_csv)
    out = _mpi(killed, models_dir, "load", "--input", str(people_csv))

    resumed = re.search(rf"resuming {re.escape(str(people_csv))} after row (\d+) of (\d+)", out)
    assert resumed, out
    done, total = int(resumed[1]), int(resumed[2])
    assert done % LOAD_BATCH == 0 and LOAD_BATCH <= done < total  # after whole batches, short of the end
    assert re.search(rf"loaded {total - done} records", out), out  # only the rows not yet committed
    persons, cases = _outcome(killed)
    expected_persons, expected_cases = _outcome(whole)
    assert len(expected_persons) > 1000 and len(expected_cases) > 50  # near-duplicates: matches and cases
    assert persons == expected_persons
    assert cases == expected_cases


def test_a_load_run_again_after_it_finished_changes_nothing_and_a_changed_file_is_a_new_load(tmp_path, models_dir, people_csv):
    db = tmp_path / "mpi.duckdb"
    _mpi(db, models_dir, "load", "--input", str(people_csv))
    before = _audit_and_counts(db), _outcome(db)

    out = _mpi(db, models_dir, "load", "--input", str(people_csv))

    assert f"already loaded {people_csv}" in out
    assert "loaded 0 records" in out
    assert (_audit_and_counts(db), _outcome(db)) == before  # not an audit event more

    out = _mpi(db, models_dir, "load", "--input", str(people_csv), "--restart")
    assert "already loaded" not in out and "resuming" not in out
    rows = len(people_csv.read_text().splitlines()) - 1
    assert f"loaded {rows} records" in out
    assert (_audit_and_counts(db), _outcome(db)) == before  # every row sent again as it is stored: a no-op

    changed = tmp_path / "people.csv"
    changed.write_text(people_csv.read_text() + people_csv.read_text().splitlines()[1] + "\n")
    out = _mpi(db, models_dir, "load", "--input", str(changed))
    assert "already loaded" not in out and "resuming" not in out
    assert f"loaded {rows + 1} records" in out


def test_a_load_whose_worker_dies_stops_with_one_line_keeps_its_batches_and_resumes(tmp_path, models_dir, people_csv):
    # As the kernel's OOM killer would: the real worker preparing rows ahead, killed from outside once a batch is
    # committed (a multiprocessing.Pool replaced it without a word and the load waited for its chunk for ever).
    whole, db = tmp_path / "whole.duckdb", tmp_path / "mpi.duckdb"
    _mpi(whole, models_dir, "load", "--input", str(people_csv))
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mpi.cli import main; main()", "--db", str(db), "--models-dir", str(models_dir),
         "load", "--input", str(people_csv), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "MPI_LOG_LEVEL": "INFO"})
    try:
        for line in iter(proc.stderr.readline, ""):
            if "rows committed" in line:
                worker = busy_workers(proc.pid, ticks=0)
                assert worker, "no worker process found"
                os.kill(worker[0], signal.SIGKILL)
                break
        rest = proc.communicate(timeout=120)[1]  # the old pool waited here for ever
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 1, rest
    lines = [line for line in rest.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: a worker process preparing the file's records stopped"), rest
    assert "Traceback" not in rest
    assert not set(processes()) & set(worker)

    out = _mpi(db, models_dir, "load", "--input", str(people_csv))

    resumed = re.search(rf"resuming {re.escape(str(people_csv))} after row (\d+) of (\d+)", out)
    assert resumed and int(resumed[1]) >= LOAD_BATCH, out  # the batches committed before the worker died are kept
    assert _outcome(db) == _outcome(whole)
