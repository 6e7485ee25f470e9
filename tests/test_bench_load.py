"""``bench/load.py``: a short run passes its checks, and each kind of check finds what it is there to find."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import add_hub, record
from mpi.auth import add_user
from mpi.services import Services
from mpi.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import load  # noqa: E402


@pytest.mark.slow  # two servers in their own processes, a SIGKILL, mpi export
def test_a_short_run_with_a_kill_passes_every_check(tmp_path):
    out = tmp_path / "load.json"
    run = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "load.py"), "--clients", "4", "--seconds", "4",
                          "--kill-after", "2", "--people", "200", "--folder", str(tmp_path / "run"),
                          "--json", str(out)], check=False, capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"})

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "all checks passed" in run.stdout
    result = json.loads(out.read_text())
    assert result["load"]["errors"] == 0 and result["problems"] == []
    assert result["load"]["by_kind"]["record"]["n"] > 0 and result["acknowledged_steps"] > 0
    assert result["load"]["by_kind"]["record"]["settled_n"] <= result["load"]["by_kind"]["record"]["n"]
    assert set(result["copies_persons_per_human"]) <= {"0", "1"} and result["copies_persons_per_human"]["1"] > 0
    assert result["counts"]["records"] >= result["acknowledged_records"]
    cpu = result["load"]["cpu"]
    assert cpu["servers_ms"] > 0 and cpu["clients_ms"] > 0 and cpu["most_per_s"] > 0


def test_the_cpu_a_request_costs_bounds_what_a_closed_loop_can_answer(monkeypatch):
    monkeypatch.setattr(load.os, "cpu_count", lambda: 2)

    # 100 requests: two servers spent 0.6 and 0.4 CPU seconds, the clients 0.5.
    cpu = load.cpu_per_request([0.6, 0.4], 0.5, 100, 16)

    assert (cpu["servers_ms"], cpu["clients_ms"], cpu["cores"]) == (10.0, 5.0, 2)
    assert cpu["most_per_s"] == pytest.approx(133.3, abs=0.1)  # 2 cores / 15 ms a request
    assert cpu["least_mean_ms"] == 120.0  # 16 clients / 133.3 a second


def test_the_settled_figures_leave_out_the_requests_sent_in_the_first_seconds():
    work = load.Work([], seed=1)
    work.began = 100.0
    # a server just started: its first second's answers slow, then fast
    for at, ms in [(100.1, 500.0), (100.5, 300.0), (101.2, 20.0), (102.0, 30.0), (103.0, 25.0)]:
        work.stats["record"].append(ms)
        work.started["record"].append(at)

    f = load.figures(work, 3.0, settle=1.0)["by_kind"]["record"]

    assert (f["n"], f["p99_ms"]) == (5, 500.0)
    assert (f["settled_n"], f["settled_p50_ms"], f["settled_p99_ms"]) == (3, 25.0, 30.0)
    assert load.figures(work, 3.0, settle=0.0)["by_kind"]["record"]["settled_p99_ms"] == 500.0


def test_a_process_cpu_seconds_grow_as_it_works():
    before = load.cpu_seconds(os.getpid())
    sum(i * i for i in range(3_000_000))

    assert load.cpu_seconds(os.getpid()) > before > 0


@pytest.mark.slow  # a PostgreSQL server, two mpi serve instances over it, a SIGKILL of one
def test_two_instances_over_postgresql_pass_every_check(tmp_path):
    out = tmp_path / "load.json"
    run = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "load.py"), "--clients", "6", "--seconds", "4",
                          "--kill-after", "2", "--people", "200", "--folder", str(tmp_path / "run"), "--postgres",
                          "--instances", "2", "--json", str(out)], check=False, capture_output=True, text=True,
                         timeout=600, env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"})

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["backend"] == "postgresql" and result["instances"] == 2
    assert result["load"]["errors"] == 0 and result["problems"] == []
    assert set(result["copies_persons_per_human"]) <= {"0", "1"} and result["copies_persons_per_human"]["1"] > 0


def test_two_instances_over_a_duckdb_file_are_refused(tmp_path):
    with pytest.raises(SystemExit) as refused:
        load.main(["--instances", "2", "--folder", str(tmp_path)])
    assert refused.value.code == 2


@pytest.mark.duckdb_only(reason="bench/load.py's checks read the DuckDB store file the benchmark built")
def test_the_half_written_checks_find_a_person_without_records(config, tmp_path):
    services = Services(config)
    with services.store.transaction():
        services.store.persons.create({})  # a person and no link: what a torn write would leave
    services.close()

    _, problems = load.check_half_written(tmp_path / "mpi.duckdb")

    assert problems == ["live persons without records: 1"]


def test_the_acknowledged_check_finds_a_lost_record_and_a_lost_state_change(client, services, live_server):
    token = add_user(services.store, "load-admin", "admin")
    hub = {"Authorization": f"Bearer {add_hub(services, 'hub')}"}
    assert client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=hub).status_code == 200
    work = load.Work([], seed=1)
    work.ledger["records"] = {("st-marys-ehr", "MRN-1"): "T1", ("st-marys-ehr", "MRN-LOST"): "T2"}
    work.ledger["referrals"] = {"RF99999999": ["acknowledged"]}

    problems = load.check_acknowledged(live_server, token, work)

    assert [p.split(":")[0] for p in problems] == ["acknowledged record st-marys-ehr/MRN-LOST",
                                                   "acknowledged referral RF99999999"]
