"""``/v1/dedup-runs``: a run started in the service and followed, bad bodies, one run at a time, roles."""

from __future__ import annotations

import time

import pytest
from conftest import add_hub, record
from mpi.auth import add_user

pytestmark = pytest.mark.both_stores


def headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def finished(client, token: str, run_id: str) -> dict:
    deadline = time.monotonic() + 120
    while (run := client.get(f"/v1/dedup-runs/{run_id}", headers=headers(token)).get_json())["outcome"] == "running":
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    return run


def test_a_run_started_without_a_body_runs_in_the_service_and_is_listed(services, client):
    for i in range(3):
        services.matching.submit(record("marisol", "st-marys-ehr", f"MRN-{i}"), "test")
    admin = add_user(services.store, "root", "admin")
    started = client.post("/v1/dedup-runs", headers=headers(admin))
    assert started.status_code == 202, started.get_json()
    body = started.get_json()
    assert body["outcome"] == "running" and body["engine"] == "duckdb" and body["actor"] == "user:root"
    run = finished(client, admin, body["run_id"])
    assert run["outcome"] == "completed" and run["counts"]["records"] == 3 and run["findings"] == []
    steward = add_user(services.store, "sam", "steward")
    listed = client.get("/v1/dedup-runs", headers=headers(steward)).get_json()["runs"]
    assert [r["run_id"] for r in listed] == [body["run_id"]]
    assert "report" not in run
    with_report = client.get(f"/v1/dedup-runs/{body['run_id']}?report=true", headers=headers(steward)).get_json()
    assert with_report["report"]["totals"]["records"] == 3
    assert client.get(f"/v1/dedup-runs/{body['run_id']}?report=maybe", headers=headers(steward)).status_code == 422


def test_bad_bodies_are_422_naming_the_field_and_record_nothing(services, client):
    admin = add_user(services.store, "root", "admin")
    for body, field in (({"spark_master": "spark://h:7077"}, "spark_master"), ({"engine": "hadoop"}, "engine"),
                        ({"engine": "duckdb", "colour": "red"}, "colour"),
                        ({"engine": "spark", "spark_master": "not a url"}, "spark_master")):
        answer = client.post("/v1/dedup-runs", json=body, headers=headers(admin))
        assert answer.status_code == 422, body
        assert field in answer.get_json()["errors"], answer.get_json()
    assert services.dedup.runs() == []


def test_one_run_at_a_time_and_only_an_admin_starts_one(services, client):
    admin = add_user(services.store, "root", "admin")
    steward = add_user(services.store, "sam", "steward")
    hub = add_hub(services, "hubby")
    assert client.post("/v1/dedup-runs", json={}, headers=headers(steward)).status_code == 403
    assert client.get("/v1/dedup-runs", headers=headers(hub)).status_code == 403
    held = services.dedup.start("user:other")  # a run in progress
    refused = client.post("/v1/dedup-runs", json={}, headers=headers(admin))
    assert refused.status_code == 409 and refused.get_json()["code"] == "conflict"
    services.dedup.run("user:other", run_id=held)
    assert client.get("/v1/dedup-runs/DR999999", headers=headers(admin)).status_code == 404
