"""``mpi dedup --input FILE --output clusters.csv``: a partner's bulk file clustered without the store.

One generated population (a few hundred people, with the generator's truth column) is written as CSV and as
Parquet, with an invalid record and a key sent twice added, and deduplicated once per format through the real
CLI; the tests read the clusters files back.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mpi.batch import normalising
from mpi.batch.bulk_file import CLUSTER_COLUMNS
from mpi.cli import main
from mpi.records.fields import RECORD_FIELDS
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.generator import COLUMNS, generate_records
from tests.cli_runner import assert_one_line_error
from tests.conftest import SHIPPED_MODELS
from tests.process_support import busy_workers, processes

PEOPLE = 300


def _people() -> list[dict[str, str]]:
    rows = list(generate_records(PEOPLE, seed=23))
    bad = {**rows[5], "source_record_id": "BAD-DATE-1", "birth_date": "1990-13-45"}  # not a calendar date
    again = {**rows[7], "first_name": rows[7]["first_name"] + "x"}  # the same key later: this row wins
    return [*rows[:10], bad, *rows[10:], again]


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def _run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The generated file as CSV and Parquet, each deduplicated once with two workers."""
    folder = tmp_path_factory.mktemp("bulk")
    models = folder / "models"
    models.mkdir()
    shutil.copy(SHIPPED_MODELS / f"{DEFAULT_MODEL_VERSION}.json", models)
    rows = _people()
    source = _write_csv(folder / "partner.csv", rows)
    parquet = folder / "partner.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    db = folder / "absent" / "mpi.duckdb"  # its folder does not even exist: the file mode never opens a store
    runs = {}
    for name, path in (("csv", source), ("parquet", parquet)):
        out = folder / f"clusters-{name}.csv"
        result = _run("--db", str(db), "--models-dir", str(models), "dedup", "--input", str(path), "--output",
                      str(out), "--workers", "2")
        assert result.exit_code == 0, result.output
        runs[name] = (result, out)
    return {"rows": rows, "runs": runs, "db": db, "models": models, "folder": folder}


def test_clusters_file_has_exactly_the_four_columns_and_one_row_per_valid_record(world):
    header, rows = _read(world["runs"]["csv"][1])
    assert header == list(CLUSTER_COLUMNS) == ["source_system", "source_record_id", "cluster_id",
                                               "match_weight_to_cluster"]
    keys = [(r["source_system"], r["source_record_id"]) for r in rows]
    valid = {(r["source_system"], r["source_record_id"]) for r in world["rows"]}
    valid = {k for k in valid if k[1] != "BAD-DATE-1"}
    assert len(keys) == len(set(keys)) == len(valid)
    assert set(keys) == valid
    assert not world["db"].parent.exists()  # no store was made


def test_cluster_ids_are_numbered_by_first_appearance_and_weights_only_for_members(world):
    _, rows = _read(world["runs"]["csv"][1])
    seen: list[str] = []
    for r in rows:
        if r["cluster_id"] not in seen:
            seen.append(r["cluster_id"])
    assert seen == [f"C{i:06d}" for i in range(1, len(seen) + 1)]
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["cluster_id"]] = sizes.get(r["cluster_id"], 0) + 1
    for r in rows:
        if sizes[r["cluster_id"]] == 1:
            assert r["match_weight_to_cluster"] == ""
        else:
            assert float(r["match_weight_to_cluster"]) > 0  # at least the upper threshold to someone


def test_one_generated_persons_records_share_a_cluster_and_different_persons_rarely_do(world):
    truth = {(r["source_system"], r["source_record_id"]): r["truth_person_id"] for r in world["rows"]}
    _, rows = _read(world["runs"]["csv"][1])
    cluster = {(r["source_system"], r["source_record_id"]): r["cluster_id"] for r in rows}
    true_pairs = found_pairs = both = 0
    for a, b in combinations(sorted(cluster), 2):
        same_person, same_cluster = truth[a] == truth[b], cluster[a] == cluster[b]
        true_pairs += same_person
        found_pairs += same_cluster
        both += same_person and same_cluster
    recall, precision = both / true_pairs, both / found_pairs
    assert true_pairs > 300
    assert recall >= 0.9, recall
    assert precision >= 0.95, precision  # 0.970 on this seed (recall 0.9+): clusters join at the upper threshold


def test_terminal_counts_name_read_skipped_duplicates_pairs_clusters_and_time(world):
    result, out = world["runs"]["csv"]
    _, rows = _read(out)
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["cluster_id"]] = sizes.get(r["cluster_id"], 0) + 1
    multi = [s for s in sizes.values() if s >= 2]
    stdout = result.stdout
    assert f"records read {len(world['rows'])}, skipped (invalid) 1, duplicate keys (later row kept) 1" in stdout
    assert (f"clusters {len(sizes)}, clusters of 2+ {len(multi)}, largest cluster {max(multi)}, "
            f"records in clusters of 2+ {sum(multi)}") in stdout
    assert "scored pairs " in stdout and "wall time " in stdout
    assert "skipped row 12: invalid birth_date" in result.stderr  # line 12: the header, 10 rows, then it
    assert "1990-13-45" not in result.output  # the row and field are named, never the value


def test_parquet_input_gives_the_same_clusters_as_csv(world):
    assert _read(world["runs"]["parquet"][1]) == _read(world["runs"]["csv"][1])


def test_the_later_row_of_a_key_sent_twice_is_the_one_clustered(world, tmp_path):
    again = world["rows"][-1]
    first = next(r for r in world["rows"] if r["source_record_id"] == again["source_record_id"])
    assert first is not again and first["first_name"] != again["first_name"]
    # The same file without the later row clusters its key (the earlier row) the same or not: what the
    # test pins is the count and that the key appears once (above); and that dropping the earlier row
    # changes nothing, because the later row is the one used.
    rows = [r for r in world["rows"] if r is not first]
    path = _write_csv(tmp_path / "without-earlier.csv", rows)
    out = tmp_path / "clusters.csv"
    result = _run("--db", str(world["db"]), "--models-dir", str(world["models"]), "dedup", "--input", str(path),
                  "--output", str(out), "--workers", "0")
    assert result.exit_code == 0, result.output
    by_key = lambda p: sorted((r["source_system"], r["source_record_id"], r["match_weight_to_cluster"])
                              for r in _read(p)[1])
    assert by_key(out) == by_key(world["runs"]["csv"][1])
    assert "duplicate keys (later row kept) 0" in result.stdout


def test_the_store_files_active_model_is_used_and_the_store_left_as_it_was(world, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(world["models"], models)
    document = json.loads((models / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    document["version"] = "partner-test-v1"
    (models / "partner-test-v1.json").write_text(json.dumps(document))
    db = tmp_path / "mpi.duckdb"
    services = Services({"MPI_DB": str(db), "MPI_MODELS_DIR": str(models)})
    services.models.activate("partner-test-v1", "test")
    services.close()
    before = db.read_bytes()
    path = _write_csv(tmp_path / "small.csv", world["rows"][:40])
    result = _run("--db", str(db), "--models-dir", str(models), "dedup", "--input", str(path), "--output",
                  str(tmp_path / "c.csv"), "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "model partner-test-v1" in result.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize("args, fragments", [
    (["--input", "{dir}/nowhere.csv", "--output", "{dir}/c.csv"], ["nowhere.csv: no such file"]),
    (["--input", "{dir}/records.json", "--output", "{dir}/c.csv"], ["expected a .csv or .parquet file"]),
    (["--input", "{src}", "--output", "{dir}/missing/c.csv"], ["missing: no such directory"]),
    (["--input", "{src}"], ["--input needs --output"]),
    (["--input", "{src}", "--output", "{dir}/c.csv", "--model", "no-such-model"], ["no-such-model not found"]),
    (["--input", "{bad_parquet}", "--output", "{dir}/c.csv"], ["not a readable Parquet file"]),
])
def test_a_bad_option_or_file_is_one_line_and_writes_nothing(world, tmp_path, args, fragments):
    (tmp_path / "records.json").write_text("{}")
    (tmp_path / "bad.parquet").write_text("not parquet")
    names = {"dir": str(tmp_path), "src": str(world["folder"] / "partner.csv"),
             "bad_parquet": str(tmp_path / "bad.parquet")}
    result = _run("--db", str(world["db"]), "--models-dir", str(world["models"]), "dedup",
                  *[a.format(**names) for a in args])
    if "--output" not in args:
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert all(f in result.output for f in fragments)
    else:
        assert_one_line_error(result, *fragments)
    assert not (tmp_path / "c.csv").exists()


#: A process that holds a store file (as `mpi serve` does) until its stdin closes.
HOLD_THE_STORE = "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('held', flush=True); sys.stdin.read()"


def test_beside_a_process_holding_the_store_it_runs_with_model_and_says_so_in_one_line_without(world, tmp_path):
    db = tmp_path / "held.duckdb"
    Services({"MPI_DB": str(db), "MPI_MODELS_DIR": str(world["models"])}).close()  # a store file, then held:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_STORE, str(db)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        path = _write_csv(tmp_path / "small.csv", world["rows"][:40])
        common = ["--db", str(db), "--models-dir", str(world["models"]), "dedup", "--input", str(path),
                  "--workers", "0"]
        refused = _run(*common, "--output", str(tmp_path / "refused.csv"))
        assert_one_line_error(refused, "held by another process", "--model VERSION")
        assert not (tmp_path / "refused.csv").exists()
        named = _run(*common, "--output", str(tmp_path / "c.csv"), "--model", DEFAULT_MODEL_VERSION)
        assert named.exit_code == 0, named.output
        assert len(_read(tmp_path / "c.csv")[1]) == 39  # the 40 rows hold the invalid one
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_the_file_options_without_input_are_a_usage_error_not_a_run_over_the_store(world, tmp_path):
    db = tmp_path / "mpi.duckdb"
    result = _run("--db", str(db), "--models-dir", str(world["models"]), "dedup", "--output", str(tmp_path / "c.csv"))
    assert result.exit_code == 2 and "--output, --workers and --model go with --input FILE" in result.output
    assert not db.exists()
    spark = _run("--db", str(db), "--models-dir", str(world["models"]), "dedup", "--input",
                 str(world["folder"] / "partner.csv"), "--output", str(tmp_path / "c.csv"), "--engine", "spark")
    assert spark.exit_code == 2 and "--input runs on DuckDB" in spark.output


def test_a_worker_killed_mid_chunk_is_a_one_line_error_not_a_hang_and_writes_nothing(world, tmp_path):
    # As the kernel's OOM killer would: a real worker process, busy with its chunk, killed from outside.
    rows = list(generate_records(6_000, seed=29))  # 8 chunks: ~2 s of CPU a worker, the kill lands half-way
    path = _write_csv(tmp_path / "big.csv", rows)
    out = tmp_path / "clusters.csv"
    proc = subprocess.Popen([sys.executable, "-c", "from mpi.cli import main; main()", "--db", str(world["db"]),
                             "--models-dir", str(world["models"]), "dedup", "--input", str(path), "--output",
                             str(out), "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        busy = []
        while not busy and proc.poll() is None:
            # A spawned worker spends ~0.7 s of CPU importing the command before its first chunk (a forked one,
            # none); after a second it is well into its chunks, all of which are still to come back.
            busy = busy_workers(proc.pid, ticks=os.sysconf("SC_CLK_TCK"))
            time.sleep(0.02)
        assert busy, "the command ended before a worker was seen busy"
        os.kill(busy[0], signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=30)  # the old pool waited here for ever
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: a worker process normalising ") and "stopped" in lines[-1], stderr
    assert "Traceback" not in stderr and "clusters written" not in stdout
    assert not any(r["last_name"] in stderr for r in rows[:50])  # rows are never named by their values
    assert sorted(tmp_path.iterdir()) == [path]  # no clusters file, finished or half-written
    gone = time.monotonic() + 10
    while (left := set(processes()) & set(busy)) and time.monotonic() < gone:
        time.sleep(0.05)
    assert not left  # no worker left behind


def test_worker_chunks_come_back_in_file_order_with_progress_per_chunk(world, monkeypatch):
    monkeypatch.setattr(normalising, "CHUNK", 50)  # chunks are cut here, in the caller: 16 of them, 4 in flight
    rows = [(i + 2, {f: r.get(f, "") for f in RECORD_FIELDS}) for i, r in enumerate(world["rows"])]
    told: list[int] = []
    in_workers = list(normalising.normalised(rows, 2, told.append))
    assert told == [min(50, len(rows) - start) for start in range(0, len(rows), 50)] and len(told) > 10
    assert in_workers == list(normalising.normalised(rows, 0))
    assert [outcome[0] for outcome in in_workers] == [row for row, _ in rows]
