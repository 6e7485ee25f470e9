"""``mpi dedup`` and ``mpi dedup runs`` on the store, through a running service, and killed part-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cli_runner import assert_one_line_error, mpi  # noqa: F401  (fixture)
from conftest import activate_policy_on
from mpi.auth import add_user
from mpi.cli import main
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.synth.generator import generate_records
from mpi.vocab import Decision


def each_record_a_person(services: Services, people: int = 25, seed: int = 3) -> int:
    """Generated people's records, each a person of its own (loaded under a policy that never links)."""
    services.ensure_active_model("test")
    activate_policy_on(services, upper_match_weight=999, lower_match_weight=998)
    n = 0
    for r in generate_records(people, seed=seed):
        services.matching.submit({k: v for k, v in r.items() if k != "truth_person_id"}, "test", strict=False)
        n += 1
    services.models.activate(DEFAULT_MODEL_VERSION, "test")
    return n


def duplicate_cases(services: Services) -> int:
    return services.store.db.one("SELECT count(*) FROM review_cases WHERE kind = ?",
                                 [Decision.POSSIBLE_DUPLICATE.value])[0]


def test_mpi_dedup_on_the_store_prints_phases_and_counts_and_lists_the_run(config, mpi):  # noqa: F811
    services = Services(config)
    records = each_record_a_person(services)
    services.close()
    result = mpi("dedup")
    assert f"{records:,} records" in result.stdout and "POSSIBLE_DUPLICATE cases opened" in result.stdout
    for phase in ("reading", "scoring", "scored", "clustering", "comparing", "writing"):
        assert f"] {phase}" in result.stderr
    listed = mpi("dedup", "runs").stdout.splitlines()
    assert listed[0].split()[:6] == ["run", "started", "ended", "engine", "model", "outcome"]
    assert listed[1].split()[0] == "DR000001" and "completed" in listed[1]
    again = mpi("dedup")
    assert " 0 POSSIBLE_DUPLICATE cases opened" in again.stdout


def test_bad_options_are_one_line(mpi):  # noqa: F811
    result = mpi("dedup", "--spark-master", "spark://h:7077", ok=False)
    assert result.exit_code == 2 and "--spark-master needs --engine spark" in result.output
    assert mpi("dedup", "--engine", "hadoop", ok=False).exit_code == 2


def test_through_the_running_service(services, live_server, tmp_path):
    each_record_a_person(services)
    token = add_user(services.store, "root", "admin")
    unopenable = str(tmp_path / "no-such-folder" / "x.duckdb")
    base = ["--db", unopenable, "--url", live_server, "--token", token]
    report = tmp_path / "run.html"
    result = CliRunner().invoke(main, [*base, "dedup", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "started in the service" in result.stderr and "completed" in result.stdout
    # The report drawn from the service's answer: its thresholds, and the cases beside it.
    page = report.read_text()
    assert "DR000001" in page and f"{services.matching.active_model().policy.upper_match_weight:.2f}" in page
    cases = (tmp_path / "run-cases.csv").read_text().splitlines()
    assert cases[0].startswith("case_id,") and len(cases) - 1 == duplicate_cases(services)
    assert duplicate_cases(services) > 0
    listed = CliRunner().invoke(main, [*base, "dedup", "runs"])
    assert listed.exit_code == 0 and "DR000001" in listed.stdout
    steward = add_user(services.store, "sam", "steward")
    refused = CliRunner().invoke(main, ["--db", unopenable, "--url", live_server, "--token", steward, "dedup"])
    assert_one_line_error(refused, "403")


@pytest.mark.slow
def test_a_run_killed_part_way_leaves_the_store_as_it_was(config):
    services = Services(config)
    each_record_a_person(services, people=60)
    before = duplicate_cases(services)
    services.close()
    command = [sys.executable, "-c", "from mpi.cli import main; main()", "--db", config["MPI_DB"], "--models-dir", config["MPI_MODELS_DIR"],
               "dedup"]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in proc.stderr:
        if "] clustering" in line:  # scored, not yet written
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    services = Services(config)
    try:
        assert duplicate_cases(services) == before == 0
        assert services.dedup.runs()[0]["outcome"] == "running"  # as the dead process left it
        run = services.dedup.run("user:admin")
        assert services.dedup.get("DR000001")["outcome"] == "interrupted"
        assert run["run_id"] == "DR000002" and run["counts"]["cases_opened"] == duplicate_cases(services) > 0
    finally:
        services.close()
