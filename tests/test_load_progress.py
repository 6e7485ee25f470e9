"""A load's progress is written with each batch it commits, and a load stopped at any batch resumes to one outcome.

A load is stopped here by a failure inside a batch (the batch rolls back, as a
kill's would), at every batch boundary of a small file, and then resumed by
``mpi load``: the persons and open cases are the same wherever it stopped.
(``test_load_resume.py`` kills a real ``mpi load`` process.)
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from mpi.cli import main
from mpi.identity.loading import FileLoad, PreparedRows, load
from mpi.services import Services
from mpi.synth.generator import write_csv

BATCH = 50


class Stopped(Exception):
    """The load stopped part-way (in place of a kill)."""


@pytest.fixture(scope="module")
def people_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "people.csv"
    write_csv(path, 80, seed=21)  # about 200 rows: four batches of 50
    return path


def _config(tmp_path: Path, models_dir: Path, name: str) -> dict:
    return {"MPI_DB": str(tmp_path / f"{name}.duckdb"), "MPI_MODELS_DIR": str(models_dir)}


def _load_until(config: dict, path: Path, batches: int) -> int:
    """Load ``path`` in batches of :data:`BATCH` and fail inside batch ``batches + 1``; returns rows stored."""
    services = Services(config)
    try:
        services.ensure_active_model("test")
        source = FileLoad(services.store.loads, str(path), "test")
        seen = []

        def checkpoint(rows_done: int, exhausted: bool) -> None:
            source.checkpoint(rows_done, exhausted)
            seen.append(rows_done)
            if len(seen) > batches:
                raise Stopped

        with PreparedRows(source.rows(), workers=0) as rows, pytest.raises(Stopped):
            load(services.matching, rows, "test", batch=BATCH, checkpoint=checkpoint)
        progress = services.store.loads.get(source.sha256, source.size)
        assert progress.rows_done == batches * BATCH and progress.finished_at is None  # the failed batch's is not
        return services.store.records.count()
    finally:
        services.close()


def _mpi(config: dict, *args: str) -> str:
    result = CliRunner().invoke(main, ["--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"], *args])
    assert result.exit_code == 0, result.output
    return result.output


def _outcome(config: dict) -> tuple[set, set]:
    services = Services(config)
    try:
        members: dict[str, set] = defaultdict(set)
        for person_id, ss, sid in services.store.db.query("SELECT person_id, source_system, source_record_id "
                                                         "FROM links"):
            members[person_id].add((ss, sid))
        held = services.store.db.query("SELECT source_system, source_record_id FROM review_cases "
                                       "WHERE state = 'open'")
        return {frozenset(m) for m in members.values()}, set(held)
    finally:
        services.close()


def test_progress_is_kept_only_with_the_batch_that_committed(services):
    loads = services.store.loads
    loads.begin("ab12", 10, "people.csv", 5, "test")
    with services.store.transaction():
        loads.advance("ab12", 10, 2)
    with pytest.raises(Stopped), services.store.transaction():
        loads.advance("ab12", 10, 4)
        raise Stopped

    progress = loads.get("ab12", 10)
    assert (progress.rows_done, progress.rows_total, progress.finished_at) == (2, 5, None)
    assert loads.get("ab12", 11) is None  # another size: another file
    with services.store.transaction():
        loads.advance("ab12", 10, 5, finished=True)
    assert loads.get("ab12", 10).finished_at is not None
    loads.begin("ab12", 10, "people.csv", 5, "test")  # --restart
    assert (loads.get("ab12", 10).rows_done, loads.get("ab12", 10).finished_at) == (0, None)


def test_a_file_load_reads_until_it_begins_and_its_first_checkpoint_begins_it(services, people_csv, tmp_path):
    """``mpi load`` maps the index's saved base between reading where an earlier load stopped and its first write
    (a write first would leave the base stale, read again from the store); a caller that never calls ``begin``
    still has its progress kept."""
    db, loads = services.store.db, services.store.loads
    token = db.state_token()
    source = FileLoad(loads, str(people_csv), "test")
    assert db.state_token() == token and loads.get(source.sha256, source.size) is None
    source.begin()
    assert db.state_token() != token and loads.get(source.sha256, source.size).rows_done == 0

    other = tmp_path / "other.csv"
    write_csv(other, 3, seed=5)
    never_begun = FileLoad(loads, str(other), "test")
    with services.store.transaction():
        never_begun.checkpoint(3, False)
    assert loads.get(never_begun.sha256, never_begun.size).rows_done == 3


@pytest.mark.slow  # four loads of a few hundred rows
def test_a_load_stopped_after_any_batch_resumes_to_the_outcome_of_one_load(tmp_path, models_dir, people_csv):
    whole = _config(tmp_path, models_dir, "whole")
    _mpi(whole, "load", "--input", str(people_csv), "--workers", "0")
    expected = _outcome(whole)
    total = len(people_csv.read_text().splitlines()) - 1
    assert total > 3 * BATCH and len(expected[1]) > 0

    for batches in (1, 2, 3):
        config = _config(tmp_path, models_dir, f"stopped-{batches}")
        assert _load_until(config, people_csv, batches) == batches * BATCH  # nothing of the failed batch

        out = _mpi(config, "load", "--input", str(people_csv), "--workers", "0")

        assert f"resuming {people_csv} after row {batches * BATCH} of {total}" in out
        assert f"loaded {total - batches * BATCH} records" in out
        assert _outcome(config) == expected, f"stopped after batch {batches}"


@pytest.mark.slow  # four loads
def test_a_file_changed_or_restarted_is_sent_from_its_first_row(tmp_path, models_dir, people_csv):
    config = _config(tmp_path, models_dir, "mpi")
    _load_until(config, people_csv, 1)
    changed = tmp_path / "people.csv"
    changed.write_bytes(people_csv.read_bytes().replace(b"\r\n", b"\n"))  # the same rows, other bytes
    assert changed.read_bytes() != people_csv.read_bytes()

    assert "resuming" not in _mpi(config, "load", "--input", str(changed), "--workers", "0", "--no-rematch")
    out = _mpi(config, "load", "--input", str(people_csv), "--workers", "0", "--restart")
    assert "resuming" not in out and "already loaded" not in out
    assert f"already loaded {people_csv}" in _mpi(config, "load", "--input", str(people_csv), "--workers", "0")
