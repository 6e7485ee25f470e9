"""Logs say ids, never a person's name or birth date (STYLE.md habit 13)."""

from __future__ import annotations

import csv
import logging
import re

from click.testing import CliRunner

from conftest import record
from mpi.auth import add_user
from mpi.cli import main
from mpi.records.normalise import normalise_record
from mpi.synth.generator import write_csv


def _identifying_values(rows: list[dict]) -> set[str]:
    """Names, birth dates and emails as sent and as normalised (3+ characters, to avoid noise)."""
    values = set()
    for row in rows:
        norm = normalise_record(row)
        for source in (row, norm):
            for field in ("first_name", "middle_name", "last_name", "birth_date", "email"):
                value = source.get(field)
                if value and len(value) >= 3:
                    values.add(value)
    return values


def _match_parameters(body: dict, **changes) -> dict:
    """A record as the Patient of a FHIR ``$match``."""
    patient = {"resourceType": "Patient", "name": [{"family": body["last_name"], "given": [body["first_name"]]}],
               "birthDate": body["birth_date"], "telecom": [{"system": "email", "value": body["email"]}], **changes}
    return {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": patient}]}


def test_no_log_line_carries_a_name_or_birth_date(caplog, tmp_path, config, client, auth, services):
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "people.csv"
    write_csv(path, 60, seed=21)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    # A row the loader rejects must not leak its values either.
    rows.append({**rows[0], "source_record_id": "BAD-1", "birth_date": "31/12/1990"})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sent = [record("marisol", "st-marys-ehr", "MRN-1"), record("marisol", "bluepath-mco", "BPM-7"),
            record("theodore", "county-general-ehr", "CG-1")]

    result = CliRunner().invoke(main, ["--db", str(tmp_path / "cli.duckdb"), "--models-dir",
                                       config["MPI_MODELS_DIR"], "load", "--input", str(path)])
    assert result.exit_code == 0, result.output
    for body in sent:
        person_id = client.post("/v1/records", json=body, headers=auth).get_json()["person_id"]
        client.post("/v1/match", json={**body, "source_system": "other"}, headers=auth)
        client.get(f"/v1/persons/{person_id}", headers=auth)
        client.post("/fhir/Patient/$match", json=_match_parameters(body), headers=auth)
    client.post("/v1/records", json={**sent[0], "birth_date": "17/03/1984", "sex": "woman"}, headers=auth)
    client.post("/fhir/Patient/$match", json=_match_parameters(sent[0], birthDate="17/03/1984"), headers=auth)
    # A steward's search: its query is patient data (answered, and refused naming a field).
    steward = {"Authorization": f"Bearer {add_user(services.store, 'stella', 'steward')}"}
    for body in sent:
        client.get("/v1/persons", query_string={"q": f"{body['first_name']} {body['last_name']} {body['birth_date']}"},
                   headers=steward)
    client.get("/v1/persons", query_string={"name": sent[0]["last_name"], "phone": "555-9999"}, headers=steward)

    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(r) for r in caplog.records]
    assert sum("st-marys-ehr/MRN-1" in line for line in lines) >= 1, "expected per-record log lines to check"
    assert sum("/fhir/Patient/$match" in line for line in lines) == 4, "expected the $match calls' lines to check"
    assert sum("search by user:stella" in line for line in lines) == 3, "expected the searches' lines to check"
    assert len(lines) > len(rows)
    values = _identifying_values(rows + sent) | {"17/03/1984", "31/12/1990"}
    assert len(values) > 100
    pattern = re.compile("|".join(rf"(?<![\w@.-]){re.escape(v)}(?![\w@.-])" for v in
                                  sorted(values, key=len, reverse=True)), re.IGNORECASE)
    leaks = [line for line in lines if pattern.search(line)]
    assert leaks == []


def test_every_api_read_of_a_person_is_attributed_to_its_caller(caplog, client, auth):
    person_id = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"),
                            headers=auth).get_json()["person_id"]
    caplog.set_level(logging.INFO, logger="api.access")

    client.get(f"/v1/persons/{person_id}", headers=auth)
    client.get(f"/v1/persons/{person_id}")

    lines = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert any(line.startswith(f"GET /v1/persons/{person_id} 200 caller=test-hub") for line in lines), lines
    assert any(line.startswith(f"GET /v1/persons/{person_id} 401 caller=-") for line in lines), lines


def test_no_log_line_of_the_referral_tracker_carries_a_name_birth_date_or_free_text(caplog, services):
    from api import create_app
    from referral_network import build, referral_body

    network = build(services)
    client = create_app(services=services).test_client()
    caplog.set_level(logging.DEBUG)
    body = referral_body(reason="Marisol Quintanilla needs meals", requester_contact={
        "name": "Desk Nurse Okonkwo", "phone": "404-555-0100"})
    stmarys, foodbank = network.headers["hub-stmarys"], network.headers["hub-foodbank"]
    referral_id = client.post("/v1/referrals", json=body, headers=stmarys).get_json()["referral_id"]
    client.post("/v1/referrals", json=body, headers=stmarys)  # a retry
    client.post(f"/v1/referrals/{referral_id}/status", json={"state": "on_hold", "reason": "information-incomplete",
                                                             "note": "call Marisol at home"}, headers=foodbank)
    client.post(f"/v1/referrals/{referral_id}/correction", json={"reason": "Okonkwo says Marisol is diabetic"},
                headers=stmarys)
    client.post(f"/v1/referrals/{referral_id}/status", json={"state": "completed"}, headers=foodbank)
    client.post("/v1/referrals", json={**body, "requester_referral_id": "X", "consent": None}, headers=stmarys)
    client.get(f"/v1/referrals/{referral_id}", headers=foodbank)
    services.sweep.run()

    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(r) for r in caplog.records]
    assert sum(referral_id in line for line in lines) >= 3, "expected referral log lines to check"
    values = _identifying_values([body["person"]]) | {"Okonkwo", "diabetic", "meals", "Desk Nurse"}
    pattern = re.compile("|".join(rf"(?<![\w@.-]){re.escape(v)}(?![\w@.-])" for v in values), re.IGNORECASE)
    assert [line for line in lines if pattern.search(line)] == []
