"""Merge and unmerge: the loser's records move and its id redirects; an unmerge puts every row back exactly.

Runs on a real DuckDB file through the real services and the Flask test client.
Two persons of :data:`conftest.PEOPLE` (two records each, the second auto-linked
with its score and evidence) are merged, so each test knows what moved.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest

from conftest import PEOPLE, record
from mpi.auth import add_user
from mpi.errors import Conflict, NotFound, ValidationError
from mpi.identity.index import CandidateIndex
from mpi.services import Services

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores

#: Every table a merge or an unmerge may write, besides the audit log and the merges table.
TABLES = ("persons", "source_records", "links", "blocking_keys", "review_cases", "review_candidates", "meta",
          "users")


def dump(store) -> dict[str, list[tuple]]:
    """Every row of every table the index's state lives in, in a stable order."""
    return {table: store.db.query(f"SELECT * FROM {table} ORDER BY ALL") for table in TABLES}


def index_view(index) -> tuple[dict, dict]:
    """What the candidate index knows: each entry's link, case, form and postings, and each person's records."""
    entries = {key: (e.person_id, e.decision, e.link_source, e.score, e.probability, e.case_id,
                     json.loads(json.dumps(e.norm)), sorted(e.keys), e.received_at, e.updated_at)
               for key, e in index.entries.items()}
    return entries, dict(index.persons)


def fresh_index(store) -> CandidateIndex:
    return CandidateIndex.from_rows(store.records.index_rows())


@pytest.fixture
def steward(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'test-steward', 'steward')}"}


@pytest.fixture
def people(services) -> dict[str, str]:
    """Marisol and Theodore with two records each (the second auto-linked with evidence), Desmond with one."""
    services.ensure_active_model("test")
    submit = services.matching.submit
    ids = {
        "marisol": submit(record("marisol", "st-marys-ehr", "MRN-1"), "user:test-hub")["person_id"],
        "theodore": submit(record("theodore", "county-general-ehr", "CG-1"), "user:test-hub")["person_id"],
        "desmond": submit(record("desmond", "st-marys-ehr", "MRN-9"), "user:test-hub")["person_id"],
    }
    second = submit(record("marisol", "bluepath-mco", "BPM-77"), "user:test-hub")
    assert (second["decision"], second["person_id"]) == ("MATCH", ids["marisol"])
    second = submit(record("theodore", "bluepath-mco", "BPM-12"), "user:test-hub")
    assert (second["decision"], second["person_id"]) == ("MATCH", ids["theodore"])
    assert len(set(ids.values())) == 3
    return ids


def query(person: str) -> dict:
    return record(person, "foodbank-cbo", "FB-1")


# ------------------------------------------------------------------------------- merge

def test_merge_moves_every_record_of_the_loser_as_manual_links_and_redirects_it(services, client, steward, people):
    survivor, loser = people["marisol"], people["theodore"]

    merge_id = services.merges.merge(survivor, loser, "user:test-steward", "one person, two ids")

    store = services.store
    assert merge_id.startswith("MG")
    loser_row = store.persons.get(loser)
    assert (loser_row["status"], loser_row["redirect_to"]) == ("REDIRECTED", survivor)
    records = {(r["source_system"], r["source_record_id"]): r for r in store.persons.records_of(survivor)}
    assert set(records) == {("st-marys-ehr", "MRN-1"), ("bluepath-mco", "BPM-77"), ("county-general-ehr", "CG-1"),
                            ("bluepath-mco", "BPM-12")}
    for key in (("county-general-ehr", "CG-1"), ("bluepath-mco", "BPM-12")):
        assert (records[key]["link_source"], records[key]["decision"]) == ("MANUAL", "MATCH")
    assert records[("bluepath-mco", "BPM-77")]["link_source"] == "AUTO"  # the survivor's own links stand
    assert store.persons.records_of(loser) == []
    # Reads of the loser follow the redirect; the golden view now counts all four records.
    body = client.get(f"/v1/persons/{loser}", headers=steward).get_json()
    assert body["person_id"] == survivor and body["redirected_from"] == [loser]
    assert len(body["records"]) == 4
    assert store.persons.resolve(survivor)["golden"]["ssn_last4"] in {"4821", "9034"}
    assert store.persons.get(loser)["golden"]["last_name"] is None
    # The index agrees with the store, and matching now finds Theodore in the survivor.
    index = services.matching.index()
    assert index_view(index) == index_view(fresh_index(store))
    assert index.persons.get(loser) is None
    assert services.matching.match(query("theodore"), "test")["candidates"][0]["person_id"] == survivor
    assert store.counts()["persons"] == 2


def test_rematching_a_merged_record_never_moves_it_back(services, people):
    services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "one person")

    again = services.matching.submit(record("theodore", "county-general-ehr", "CG-1", phone="312-555-0100"), "hub")

    assert (again["person_id"], again["link_source"]) == (people["marisol"], "MANUAL")


def test_merge_then_unmerge_leaves_the_store_exactly_as_before(services, people, activate_policy):
    store, matching = services.store, services.matching
    activate_policy(upper_match_weight=999.0)  # a third record of Marisol waits in review, her person a candidate
    held = matching.submit(record("marisol", "foodbank-cbo", "FB-2"), "user:test-hub")
    assert held["review_case_id"] and held["candidates"][0]["person_id"] == people["marisol"]
    before, index_before = dump(store), index_view(matching.index())
    matches_before = {p: matching.match(query(p), "test") for p in PEOPLE}

    merge_id = services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "same person")
    merged = dump(store)
    assert merged["persons"] != before["persons"] and merged["links"] != before["links"]
    assert index_view(matching.index()) != index_before
    assert matching.match(query("theodore"), "test") != matches_before["theodore"]

    undone = services.merges.unmerge(merge_id, "user:test-steward", "not the same person after all")

    assert undone["undone_at"] is not None and undone["undone_by"] == "user:test-steward"
    after = dump(store)
    for table in TABLES:
        assert after[table] == before[table], table
    # Scores, evidence, link_source and linked_at of the loser's links, exactly.
    loser_links = [row for row in after["links"] if row[2] == people["theodore"]]
    assert {row[4] for row in loser_links} == {"AUTO"} and any(row[5] is not None for row in loser_links)
    assert index_view(matching.index()) == index_before
    assert index_view(fresh_index(store)) == index_before
    assert {p: matching.match(query(p), "test") for p in PEOPLE} == matches_before


def test_an_unmerge_after_the_store_was_closed_and_reopened_is_exact_too(config, people, services):
    before = dump(services.store)
    merge_id = services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "same person")
    services.close()

    reopened = Services(config)
    try:
        reopened.merges.unmerge(merge_id, "user:test-steward", "wrong merge")
        assert dump(reopened.store) == before
        assert index_view(reopened.matching.index()) == index_view(fresh_index(reopened.store))
    finally:
        reopened.close()
        services.__dict__.pop("store", None)  # closed above; the fixture must not close it again


def test_a_second_unmerge_of_the_same_merge_is_a_conflict(services, people):
    merge_id = services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "same person")
    services.merges.unmerge(merge_id, "user:test-steward", "wrong merge")
    after, rollbacks = dump(services.store), services.store.rollbacks

    with pytest.raises(Conflict) as raised:
        services.merges.unmerge(merge_id, "user:other-steward", "wrong merge")

    assert raised.value.status == 409 and raised.value.errors == {"merge_id": ["already undone"]}
    assert dump(services.store) == after
    assert services.store.rollbacks == rollbacks


def test_merge_refuses_itself_a_redirected_or_unknown_person_and_a_missing_reason(services, people):
    merges, m, t, d = services.merges, people["marisol"], people["theodore"], people["desmond"]
    cases = [
        ((m, m, "a reason"), ValidationError, "loser_id"),
        ((m, "MPI99999999", "a reason"), NotFound, "loser_id"),
        (("MPI99999999", m, "a reason"), NotFound, "survivor_id"),
        ((m, t, ""), ValidationError, "reason"),
        ((m, t, "   "), ValidationError, "reason"),
        ((m, "", "a reason"), ValidationError, "loser_id"),
    ]
    before, rollbacks = dump(services.store), services.store.rollbacks
    for args, error, field in cases:
        with pytest.raises(error) as raised:
            merges.merge(*args[:2], "user:test-steward", args[2])
        assert list(raised.value.errors) == [field], args
    assert dump(services.store) == before

    merges.merge(m, t, "user:test-steward", "same person")
    with pytest.raises(ValidationError) as raised:
        merges.merge(d, t, "user:test-steward", "again")
    assert list(raised.value.errors) == ["loser_id"] and m in raised.value.message
    with pytest.raises(ValidationError) as raised:
        merges.merge(t, d, "user:test-steward", "into a redirect")
    assert list(raised.value.errors) == ["survivor_id"]
    with pytest.raises(ValidationError) as raised:
        merges.unmerge("MG00000001", "user:test-steward", "")
    assert list(raised.value.errors) == ["reason"]
    with pytest.raises(NotFound) as raised:
        merges.unmerge("MG99999999", "user:test-steward", "no such merge")
    assert list(raised.value.errors) == ["merge_id"]
    # A refusal is checked before anything is written: nothing rolls back, so the index is not rebuilt.
    assert services.store.rollbacks == rollbacks


def test_merge_and_unmerge_are_audited_with_actor_time_reason_and_ids_only(services, people, caplog):
    caplog.set_level(logging.DEBUG)
    survivor, loser = people["marisol"], people["theodore"]
    started = datetime.now(timezone.utc)

    merge_id = services.merges.merge(survivor, loser, "user:test-steward", "same person: same SSN and phone")
    services.merges.unmerge(merge_id, "user:second-steward", "twins: different first names")

    events = services.store.audit.events("person", loser, limit=5)
    unmerged, merged = events[0], events[1]
    assert (merged["action"], merged["actor"], merged["reason"]) == (
        "person.merged", "user:test-steward", "same person: same SSN and phone")
    assert (unmerged["action"], unmerged["actor"], unmerged["reason"]) == (
        "person.unmerged", "user:second-steward", "twins: different first names")
    moved = ["bluepath-mco/BPM-12", "county-general-ehr/CG-1"]
    for event in (merged, unmerged):
        assert event["occurred_at"] >= started
        assert event["detail"]["merge_id"] == merge_id
        assert (event["detail"]["survivor_id"], event["detail"]["loser_id"]) == (survivor, loser)
        assert sorted(event["detail"]["records"]) == moved
    merge = services.merges.get(merge_id)
    assert (merge["actor"], merge["reason"], merge["undo_reason"]) == (
        "user:test-steward", "same person: same SSN and phone", "twins: different first names")
    # Neither the audit nor the logs carry a name or a birth date.
    text = " ".join([str(merged), str(unmerged), *(r.getMessage() for r in caplog.records)]).upper()
    for person in PEOPLE.values():
        for field in ("first_name", "last_name", "birth_date"):
            assert person[field].upper() not in text


# ------------------------------------------------------------------------------- what happened since

def test_unmerge_conflicts_when_a_moved_record_has_left_the_survivor_since(services, people):
    merge_id = services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "same person")
    services.matching.link_manually("county-general-ehr", "CG-1", people["desmond"], "user:test-steward",
                                    "belongs to Desmond")
    state = dump(services.store)

    with pytest.raises(Conflict) as raised:
        services.merges.unmerge(merge_id, "user:test-steward", "wrong merge")

    assert raised.value.errors == {"records": ["county-general-ehr/CG-1"]}
    assert dump(services.store) == state
    assert services.merges.get(merge_id)["undone_at"] is None


def test_a_merge_merged_again_is_undone_after_the_later_merge(services, people):
    before = dump(services.store)
    first = services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "same person")
    second = services.merges.merge(people["desmond"], people["marisol"], "user:test-steward", "same again")

    with pytest.raises(Conflict) as raised:
        services.merges.unmerge(first, "user:test-steward", "out of order")
    assert list(raised.value.errors) == ["survivor_id"] and people["desmond"] in raised.value.message

    services.merges.unmerge(second, "user:test-steward", "undo the later one first")
    services.merges.unmerge(first, "user:test-steward", "then the first")
    assert dump(services.store) == before
    assert index_view(services.matching.index()) == index_view(fresh_index(services.store))


def test_an_update_since_the_merge_and_a_record_that_joined_since_are_kept(services, people):
    survivor, loser = people["marisol"], people["theodore"]
    before = services.store.records.get("county-general-ehr", "CG-1")
    merge_id = services.merges.merge(survivor, loser, "user:test-steward", "same person")
    services.matching.submit(record("theodore", "county-general-ehr", "CG-1", email="ted@example.net"), "hub")
    services.matching.submit(record("marisol", "county-general-ehr", "CG-7"), "hub")
    services.matching.link_manually("county-general-ehr", "CG-7", survivor, "user:test-steward", "hers")

    services.merges.unmerge(merge_id, "user:test-steward", "wrong merge")

    store = services.store
    after = store.records.get("county-general-ehr", "CG-1")
    assert after["raw"]["email"] == "ted@example.net"  # the source's update is kept
    assert after["link"] == before["link"]  # its link is the one from before the merge, evidence and time
    assert store.records.get("county-general-ehr", "CG-7")["link"]["person_id"] == survivor
    assert store.persons.resolve(loser)["golden"]["email"] == "ted@example.net"
    event = store.audit.events("person", loser, limit=1)[0]
    assert sorted(event["detail"]["golden_recomputed"]) == sorted([survivor, loser])
    assert index_view(services.matching.index()) == index_view(fresh_index(store))


# ------------------------------------------------------------------------------- the API

def test_api_merge_and_unmerge_need_a_steward(services, client, auth, steward, people):
    body = {"survivor_id": people["marisol"], "loser_id": people["theodore"], "reason": "same person"}
    admin = {"Authorization": f"Bearer {add_user(services.store, 'test-admin', 'admin')}"}

    assert client.post("/v1/persons/merge", json=body).status_code == 401
    refused = client.post("/v1/persons/merge", json=body, headers=auth)
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert services.store.persons.get(people["theodore"])["status"] == "ACTIVE"

    merged = client.post("/v1/persons/merge", json=body, headers=steward)
    assert merged.status_code == 201, merged.get_json()
    merge = merged.get_json()
    assert (merge["survivor_id"], merge["loser_id"], merge["actor"], merge["undone_at"]) == (
        people["marisol"], people["theodore"], "user:test-steward", None)
    assert client.get(f"/v1/merges/{merge['merge_id']}", headers=auth).status_code == 403

    path = f"/v1/merges/{merge['merge_id']}/unmerge"
    assert client.post(path, json={"reason": "wrong"}, headers=auth).status_code == 403
    undone = client.post(path, json={"reason": "wrong merge"}, headers=admin)
    assert undone.status_code == 200 and undone.get_json()["undo_reason"] == "wrong merge"
    again = client.post(path, json={"reason": "wrong merge"}, headers=steward)
    assert again.status_code == 409
    assert again.get_json() == {"code": "conflict", "status": 409, "message": again.get_json()["message"],
                                "errors": {"merge_id": ["already undone"]}}
    assert client.get(f"/v1/merges/{merge['merge_id']}", headers=steward).get_json()["undone_by"] == "user:test-admin"


@pytest.mark.parametrize("body, field, status", [
    ({"loser_id": "X", "reason": "r"}, "survivor_id", 422),
    ({"survivor_id": "S", "loser_id": "S", "reason": "r"}, "loser_id", 422),
    ({"survivor_id": "S", "loser_id": "L"}, "reason", 422),
    ({"survivor_id": "S", "loser_id": "L", "reason": " "}, "reason", 422),
    ({"survivor_id": "S", "loser_id": "MPI99999999", "reason": "r"}, "loser_id", 404),
    ({"survivor_id": "S", "loser_id": "L", "reason": "r", "extra": 1}, "extra", 422),
])
def test_api_merge_errors_name_the_field(client, steward, people, body, field, status):
    ids = {"S": people["marisol"], "L": people["theodore"]}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}

    response = client.post("/v1/persons/merge", json=body, headers=steward)

    error = response.get_json()
    assert response.status_code == status, error
    assert set(error) == {"code", "status", "message", "errors"} and list(error["errors"]) == [field]


def test_api_unmerge_of_an_unknown_merge_is_404_and_without_reason_422(client, steward):
    assert client.post("/v1/merges/MG99999999/unmerge", json={"reason": "r"}, headers=steward).status_code == 404
    response = client.post("/v1/merges/MG99999999/unmerge", json={}, headers=steward)
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["reason"]


def test_openapi_documents_merge_unmerge_and_their_errors(client):
    spec = client.get("/v1/openapi.json").get_json()

    merge = spec["paths"]["/v1/persons/merge"]["post"]
    assert {"201", "403", "404", "422"} <= set(merge["responses"])
    assert set(spec["components"]["schemas"]["MergeRequest"]["required"]) == {"survivor_id", "loser_id", "reason"}
    unmerge = spec["paths"]["/v1/merges/{merge_id}/unmerge"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(unmerge["responses"])
    assert "undone_at" in spec["components"]["schemas"]["Merge"]["properties"]


def test_two_stewards_unmerging_at_once_over_http_one_wins_one_gets_409(services, live_server, people):
    from test_concurrency import fire

    token = add_user(services.store, "race-steward", "steward")
    merge_id = services.merges.merge(people["marisol"], people["theodore"], "user:test-steward", "same person")

    results = fire(f"{live_server}/v1/merges/{merge_id}/unmerge", token, [{"reason": "wrong"}] * 4)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409], results
    assert all(body["code"] == "conflict" for status, body in results if status == 409)
    assert len([e for e in services.store.audit.events("person", people["theodore"]) if
                e["action"] == "person.unmerged"]) == 1
