"""The API's JSON writer (``api/answers.py``): keys in the schemas' order, and the access log reading the object an
answer was written from, not the answer read back."""

from __future__ import annotations

import json

from flask import Response

from conftest import record


def test_an_answers_keys_come_in_the_schemas_order_not_sorted(client, auth):
    client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth)

    response = client.post("/v1/match", json=record("marisol", "bluepath-mco", "Q-1"), headers=auth)

    pairs = json.loads(response.get_data(as_text=True), object_pairs_hook=list)
    keys = [k for k, _ in pairs]
    assert keys != sorted(keys)
    candidate = [k for k, _ in dict(pairs)["candidates"][0]]
    assert candidate != sorted(candidate)


def test_the_access_log_reads_the_answer_it_was_written_from(client, auth, services, monkeypatch):
    person_id = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"), headers=auth).json[
        "person_id"]
    read_back = []
    get_json = Response.get_json
    monkeypatch.setattr(Response, "get_json", lambda self, *a, **k: read_back.append(self) or get_json(self, *a, **k))

    response = client.post("/v1/match", json=record("marisol", "bluepath-mco", "Q-1"), headers=auth)

    assert response.status_code == 200 and read_back == []  # the log found the person without reading JSON back
    event = services.store.access.page(limit=1, action="match")["events"][0]
    assert ("person", person_id) in {(e["type"], e["id"]) for e in event["entities"]}
