"""The ``mpi`` command, run with click's CliRunner on temporary stores (and once as a real process)."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_runner import SUMMARY, assert_one_line_error, mpi, rows_of  # noqa: F401  (mpi: a fixture)
from mpi.auth import authenticate
from mpi.cli import EXPORT_COLUMNS, main
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.store import Store
from mpi.store.schema import LATEST_VERSION
from mpi.synth.generator import COLUMNS, write_csv


@pytest.fixture
def people_csv(tmp_path) -> Path:
    """40 generated people as CSV, with an extra column no record field has."""
    plain = tmp_path / "plain.csv"
    write_csv(plain, 40, seed=11)
    with plain.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["intake_notes", *COLUMNS])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "intake_notes": "walk-in"})
    return path




# ------------------------------------------------------------------------------------ init, load, export

@pytest.mark.duckdb_only(reason="`mpi init` is seen making the store file")
def test_init_creates_the_store_and_activates_the_default_model(mpi, config):
    first = mpi("init")
    again = mpi("init")

    assert f"schema version {LATEST_VERSION}" in first.output
    assert f"active model: {DEFAULT_MODEL_VERSION}" in first.output
    assert again.output == first.output
    assert Path(config["MPI_DB"]).exists()


def test_init_in_a_folder_that_does_not_exist_is_one_line_and_makes_no_folder(tmp_path, config):
    missing = tmp_path / "nonexistent" / "x.duckdb"

    result = CliRunner().invoke(main, ["--db", str(missing), "--models-dir", config["MPI_MODELS_DIR"], "init"])

    assert_one_line_error(result, f"{missing.parent} does not exist")
    assert not missing.parent.exists()


@pytest.mark.slow  # a second process holds the store
def test_a_store_held_by_another_process_says_so_and_what_to_do(mpi, config):
    mpi("init")
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); sys.stdin.read()", config["MPI_DB"]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"

        result = mpi("users", "add", "bob", "--role", "hub", ok=False)

        assert_one_line_error(result, f"the store {config['MPI_DB']} is held by another process (PID {holder.pid})",
                              "the service holds the store: run it as mpi --url http://HOST:PORT --token T users add")
    finally:
        holder.communicate("")


def test_store_path_comes_from_the_environment(tmp_path, config):
    db = tmp_path / "from-env.duckdb"
    result = CliRunner().invoke(main, ["--models-dir", config["MPI_MODELS_DIR"], "init"], env={"MPI_DB": str(db)})

    assert result.exit_code == 0, result.output
    assert db.exists()


def test_load_decides_every_row_ignores_unknown_columns_and_summarises(mpi, people_csv):
    total = len(rows_of(people_csv))

    result = mpi("load", "--input", str(people_csv))

    assert "matching" in result.stderr  # the progress bar
    assert result.stderr.count("ignoring column(s) no record has: intake_notes") == 1
    loaded, match, no_match, possible, rejected = map(int, SUMMARY.search(result.stdout).groups())
    assert loaded == match + no_match + possible == total - rejected
    assert no_match >= 1 and match >= 1
    persons, records, cases = map(int, re.search(r"index: (\d+) persons, (\d+) records, (\d+) open", result.stdout)
                                  .groups())
    # Records held on arrival are decided again at the end; those now unambiguous are linked.
    rematched = re.search(r"re-matched held records: (\d+) linked", result.stdout)
    relinked = int(rematched.group(1)) if rematched else 0
    assert (persons, records, cases) == (no_match, loaded, possible - relinked)


def test_loading_the_same_file_again_changes_nothing(mpi, people_csv, config, tmp_path):
    mpi("load", "--input", str(people_csv))
    mpi("export", "--output", str(tmp_path / "first.csv"))
    def audit() -> int:
        store = Store(config["MPI_DB"])
        try:
            return store.db.one("SELECT count(*) FROM audit_log")[0]
        finally:
            store.close()

    before = audit()

    again = mpi("load", "--input", str(people_csv))

    mpi("export", "--output", str(tmp_path / "again.csv"))
    assert rows_of(tmp_path / "again.csv") == rows_of(tmp_path / "first.csv")
    assert audit() == before  # every record sent again as stored: nothing written, audited or decided
    assert "re-matched" not in again.stdout or "0 linked" in again.stdout


def test_load_no_rematch_leaves_held_records_as_decided_on_arrival(mpi, people_csv):
    result = mpi("load", "--input", str(people_csv), "--no-rematch")

    assert "re-matched" not in result.stdout
    possible = int(SUMMARY.search(result.stdout).group(4))
    assert f"{possible} open review cases" in result.stdout
    assert "linked in" in mpi("rematch").output


def test_loading_the_same_file_again_updates_records_not_adds_them(mpi, people_csv):
    index = re.compile(r"index: \d+ persons, (\d+) records")
    first = mpi("load", "--input", str(people_csv)).stdout
    # --restart: without it the finished file is not sent again at all (tests/test_load_resume.py).
    second = mpi("load", "--input", str(people_csv), "--restart").stdout

    assert SUMMARY.search(second).group(1) == SUMMARY.search(first).group(1)
    assert index.search(second).group(1) == index.search(first).group(1) == SUMMARY.search(first).group(1)


def test_export_writes_one_row_per_record_with_the_documented_columns(mpi, people_csv, tmp_path):
    mpi("load", "--input", str(people_csv))
    out = tmp_path / "export.csv"

    result = mpi("export", "--output", str(out))

    with out.open(newline="") as f:
        header = next(csv.reader(f))
    assert tuple(header) == EXPORT_COLUMNS == (
        "source_system", "source_record_id", "person_id", "decision", "link_source", "score", "review_case_id",
    )
    rows = rows_of(out)
    assert f"exported {len(rows)} records" in result.output
    loaded = {(r["source_system"], r["source_record_id"]) for r in rows_of(people_csv)}
    assert {(r["source_system"], r["source_record_id"]) for r in rows} <= loaded
    assert len(rows) == len({(r["source_system"], r["source_record_id"]) for r in rows})
    for row in rows:
        if row["decision"] == "POSSIBLE_MATCH":
            assert row["person_id"] == "" and row["review_case_id"].startswith("RC") and row["link_source"] == ""
        else:
            assert row["decision"] in ("MATCH", "NO_MATCH")
            assert row["person_id"].startswith("MPI") and row["link_source"] == "AUTO"
            assert row["review_case_id"] == ""
        if row["decision"] == "MATCH":
            float(row["score"])
    assert not list(tmp_path.glob("*.tmp"))


def test_export_into_a_missing_folder_is_a_one_line_error(mpi, tmp_path):
    result = mpi("export", "--output", str(tmp_path / "nope" / "out.csv"), ok=False)

    assert_one_line_error(result, "no such directory")


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "no such file"),
        (b"", "empty file"),
        (b"first_name,last_name\nAna,Diaz\n", "missing required column(s): source_system, source_record_id"),
        (b"source_system,source_record_id,first_name\nx,1,\xff\xfe\x00bad\n", "UTF-8"),
        (b"source_system;source_record_id;first_name\nx;1;Ana\n", "separated by semicolons"),
        (b"source_system,source_record_id,firstname,surname\nx,1,Ana,Diaz\n",
         "no column of a record's fields (every record would be empty): expected some of first_name"),
        ("a directory", "a directory, not a CSV file"),
    ],
    ids=["missing", "empty", "no-key-columns", "not-utf8", "semicolons", "misnamed-header", "directory"],
)
@pytest.mark.parametrize("command", ["load", "train"])
def test_bad_input_file_is_a_one_line_error(mpi, tmp_path, content, fragment, command):
    path = tmp_path / "input.csv"
    if content == "a directory":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)

    result = mpi(command, "--input", str(path), ok=False)

    assert_one_line_error(result, str(path), fragment)


def test_invalid_rows_are_rejected_by_line_and_field_without_values(mpi, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("source_system,source_record_id,first_name,birth_date,sex\n"
                    "clinic,1,Ana,1990-01-02,F\n"
                    "clinic,2,Bea,31/12/1990,F\n"
                    "clinic,3,Cy,1991-05-06,Q\n"
                    "clinic,4,,,F\n")

    result = mpi("load", "--input", str(path))

    assert "rejected line 3: invalid birth_date" in result.stderr
    assert "rejected line 4: invalid sex" in result.stderr
    assert "rejected line 5: nothing to match on" in result.stderr  # only its keys and a sex: no person made
    assert "31/12/1990" not in result.output and "Bea" not in result.output
    assert SUMMARY.search(result.stdout).group(1, 5) == ("1", "3")


# ------------------------------------------------------------------------------------ models and users

def test_model_list_stars_the_active_version_and_activate_switches_it(mpi, models_dir):
    mpi("init")
    document = json.loads((models_dir / f"{DEFAULT_MODEL_VERSION}.json").read_text())
    document["version"] = "copy-v2"
    (models_dir / "copy-v2.json").write_text(json.dumps(document))

    before = mpi("model", "list").output
    activated = mpi("model", "activate", "copy-v2").output
    after = mpi("model", "list").output

    assert f"* {DEFAULT_MODEL_VERSION}" in before and "  copy-v2" in before
    assert "copy-v2 is now active" in activated
    assert "* copy-v2" in after and f"  {DEFAULT_MODEL_VERSION}" in after
    assert "active model: copy-v2" in mpi("init").output


def test_activating_an_unknown_model_is_a_one_line_error(mpi):
    assert_one_line_error(mpi("model", "activate", "no-such-model", ok=False), "no-such-model", "not found")


def test_users_add_prints_a_token_that_authenticates_with_the_role(mpi, config):
    result = mpi("users", "add", "alice", "--role", "steward")

    token = result.stdout.strip()
    assert len(token.splitlines()) == 1 and len(token) >= 20
    store = Store(config["MPI_DB"])
    try:
        assert authenticate(store, token) == {"name": "alice", "role": "steward", "organisation": None}
        assert [e["action"] for e in store.audit.events("user", "alice")] == ["user.added"]
    finally:
        store.close()


def test_users_add_with_a_bad_name_is_a_one_line_error(mpi):
    assert_one_line_error(mpi("users", "add", "bad name!", "--role", "hub", ok=False), "invalid user", "name")


def test_users_add_refuses_an_unknown_role(mpi):
    result = mpi("users", "add", "bob", "--role", "superuser", ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output


# -------------------------------------------------------------------------------------------- train

@pytest.mark.slow  # trains with Splink
def test_train_writes_a_versioned_model_with_metadata_and_activates_it(mpi, tmp_path, models_dir):
    path = tmp_path / "train.csv"
    rows = write_csv(path, 300, seed=5)

    result = mpi("train", "--input", str(path), "--version", "small-v1")

    assert "model small-v1 written" in result.output and "small-v1 is now active" in result.output
    document = json.loads((models_dir / "small-v1.json").read_text())
    assert document["version"] == "small-v1"
    assert document["trained_on"]["file"].endswith("train.csv")
    assert document["trained_on"]["labels_used"] is False
    assert document["trained_on"]["records"] + document["trained_on"]["skipped_invalid"] == rows
    assert set(document["policy"]) >= {"upper_match_weight", "lower_match_weight"}
    assert document["splink_version"].startswith("5.")
    assert "* small-v1" in mpi("model", "list").output


def test_train_on_too_few_records_is_a_one_line_error(mpi, tmp_path):
    path = tmp_path / "tiny.csv"
    write_csv(path, 5, seed=5)

    assert_one_line_error(mpi("train", "--input", str(path), ok=False), "at least 50")


def _true_pairs(path: Path) -> list[tuple[str, str, str, str]]:
    by_person: dict[str, list[tuple[str, str]]] = {}
    for row in rows_of(path):
        by_person.setdefault(row["truth_person_id"], []).append((row["source_system"], row["source_record_id"]))
    return [(*a, *b) for keys in by_person.values() for i, a in enumerate(keys) for b in keys[i + 1:]]


@pytest.mark.slow  # trains with Splink
def test_train_with_labels_takes_m_from_labelled_true_pairs(mpi, tmp_path, models_dir):
    path, labels = tmp_path / "train.csv", tmp_path / "pairs.csv"
    write_csv(path, 300, seed=5)
    pairs = _true_pairs(path)
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["source_system_l", "source_record_id_l", "source_system_r", "source_record_id_r", "is_match"])
        writer.writerows([(*p, "true") for p in pairs] + [("nowhere", "X1", "nowhere", "X2", "true")])

    mpi("train", "--input", str(path), "--labels", str(labels), "--version", "labelled-v1", "--no-activate")

    trained_on = json.loads((models_dir / "labelled-v1.json").read_text())["trained_on"]
    assert trained_on["labels_used"] is True
    assert trained_on["labelled_true_pairs"] == len(pairs)
    assert trained_on["labelled_pairs_ignored"] == 1


def test_train_with_unusable_labels_is_a_one_line_error(mpi, tmp_path):
    path, labels = tmp_path / "train.csv", tmp_path / "pairs.csv"
    write_csv(path, 60, seed=5)
    labels.write_text("source_system_l,source_record_id_l,source_system_r,source_record_id_r,is_match\n"
                      "a,1,b,2,perhaps\n")
    assert_one_line_error(mpi("train", "--input", str(path), "--labels", str(labels), ok=False), "is_match")
    labels.write_text("source_system_l,source_record_id_l,source_system_r,source_record_id_r\na,1,b,2\n")
    assert_one_line_error(mpi("train", "--input", str(path), "--labels", str(labels), ok=False), "no labelled true pair")
    labels.write_text("left,right\na,b\n")
    assert_one_line_error(mpi("train", "--input", str(path), "--labels", str(labels), ok=False), "missing required column")
