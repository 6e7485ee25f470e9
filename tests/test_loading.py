"""Rows of a bulk file prepared in a worker process: the same outcomes, in file order, as preparing them here."""

from __future__ import annotations

import csv

import pytest
from click.testing import CliRunner

from mpi.cli import main
from mpi.identity import loading
from mpi.records.csvio import read_records
from mpi.synth.generator import write_csv

#: Slow: a worker process and `mpi load` with one (make check leaves it out; make test runs it).
pytestmark = pytest.mark.slow


def _rows(tmp_path, people: int, bad_lines: set[int] = frozenset()):
    path = tmp_path / "people.csv"
    write_csv(path, people, seed=5)
    if bad_lines:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for i in bad_lines:
            rows[i - 2]["birth_date"] = "not a date"  # line 1 is the header
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def test_a_worker_prepares_every_row_as_this_process_would_in_file_order(tmp_path):
    bad = {3, 700, 1201}
    path = _rows(tmp_path, 500, bad)
    with loading.PreparedRows(read_records(path), workers=0) as here:
        expected = list(here)
    assert len(expected) > loading.CHUNK * loading.IN_FLIGHT  # the worker's queue is refilled

    with loading.PreparedRows(read_records(path), workers=1) as worker:
        got = list(worker)

    assert got == expected
    assert [line for line, _, _ in got] == list(range(2, len(got) + 2))
    assert {line for line, prepared, _ in got if prepared is None} == bad
    assert all(fields == ["birth_date"] for _, prepared, fields in got if prepared is None)


def test_load_with_and_without_a_worker_stores_the_same_decisions(config, tmp_path):
    path = _rows(tmp_path, 60)
    runner = CliRunner()
    exports = []
    for workers in ("0", "1"):
        db, out = tmp_path / f"w{workers}.duckdb", tmp_path / f"w{workers}.csv"
        for args in (["load", "--input", str(path), "--workers", workers], ["export", "--output", str(out)]):
            result = runner.invoke(main, ["--db", str(db), "--models-dir", config["MPI_MODELS_DIR"], *args])
            assert result.exit_code == 0, result.output
        with out.open(newline="") as f:
            exports.append([{k: v for k, v in row.items() if k != "review_case_id"} for row in csv.DictReader(f)])

    assert exports[0] == exports[1]
    assert len(exports[0]) == len(list(read_records(path)))
