"""``/v1/review-cases`` for ``POSSIBLE_DUPLICATE`` cases through the whole stack: the kind and both persons, the
queue's kind filter, merge and not-duplicate, the actions that need a record refused, the error shape."""

from __future__ import annotations

import pytest

from duplicate_cases import THIRD_RECORD, duplicate_case
from mpi.auth import add_user
from test_api_errors import assert_error


@pytest.fixture
def steward(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'alice', 'steward')}"}


@pytest.fixture
def dup(services):
    return duplicate_case(services)


def post(client, headers, case_id, action, **body):
    return client.post(f"/v1/review-cases/{case_id}/{action}", json=body, headers=headers)


def test_a_duplicate_case_reads_as_its_kind_with_both_persons_and_no_record(client, steward, dup):
    body = client.get(f"/v1/review-cases/{dup.case_id}", headers=steward).get_json()

    assert body["kind"] == "POSSIBLE_DUPLICATE"
    assert body["record"] is None and body["source_system"] is None and body["source_record_id"] is None
    assert [c["person_id"] for c in body["candidates"]] == [dup.a, dup.b]
    assert [c["person"]["person_id"] for c in body["candidates"]] == [dup.a, dup.b]
    assert all(c["person"]["records"] and c["person"]["golden"] for c in body["candidates"])
    assert body["candidates"][0]["evidence"][0]["comparison"] == "prior"


def test_the_queue_filters_by_kind_and_names_a_bad_one(client, steward, dup):
    only = client.get("/v1/review-cases?kind=POSSIBLE_DUPLICATE", headers=steward).get_json()["cases"]
    assert [(c["case_id"], c["kind"]) for c in only] == [(dup.case_id, "POSSIBLE_DUPLICATE")]
    assert [c["person_id"] for c in only[0]["candidates"]] == [dup.a, dup.b]
    assert client.get("/v1/review-cases?kind=POSSIBLE_MATCH", headers=steward).get_json()["cases"] == []

    body = assert_error(client.get("/v1/review-cases?kind=MATCH", headers=steward), 422, "validation_error")
    assert "kind" in str(body["errors"])


def test_a_steward_merges_the_case_and_gets_the_merge_id_to_undo_it(client, steward, dup):
    response = post(client, steward, dup.case_id, "merge", survivor_id=dup.b, loser_id=dup.a,
                    reason="same SSN, same birth date", version=1)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["state"], body["resolution"]) == ("resolved", "merged") and body["merge_id"].startswith("MG")
    person = client.get(f"/v1/persons/{dup.a}", headers=steward).get_json()
    assert person["person_id"] == dup.b  # the loser redirects to the survivor
    undo = client.post(f"/v1/merges/{body['merge_id']}/unmerge", json={"reason": "wrong call"}, headers=steward)
    assert undo.status_code == 200
    assert client.get(f"/v1/persons/{dup.a}", headers=steward).get_json()["person_id"] == dup.a


def test_not_duplicate_resolves_the_case_and_keeps_the_persons_apart(client, services, steward, dup):
    response = post(client, steward, dup.case_id, "not-duplicate", reason="twins", version=1)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["state"], body["resolution"], body["outcome"]) == ("resolved", "not_duplicate", None)
    assert services.store.cases.are_apart(dup.a, dup.b)


@pytest.mark.parametrize("action, extra", [("link", {"person_id": None}), ("new-person", {})])
def test_link_and_new_person_are_refused_naming_the_kind(client, steward, dup, action, extra):
    body = {"reason": "try", "version": 1, **({"person_id": dup.a} if "person_id" in extra else {})}

    error = assert_error(post(client, steward, dup.case_id, action, **body), 409, "conflict")

    assert "kind" in error["errors"]
    assert client.get(f"/v1/review-cases/{dup.case_id}", headers=steward).get_json()["version"] == 1


@pytest.mark.parametrize("action", ["merge", "not-duplicate"])
def test_a_stale_version_is_a_409_and_nothing_changes(client, services, steward, dup, action):
    assert post(client, steward, dup.case_id, "claim", reason="mine", version=1).status_code == 200

    error = assert_error(post(client, steward, dup.case_id, action, survivor_id=dup.a, loser_id=dup.b,
                              reason="one human", version=1) if action == "merge" else
                         post(client, steward, dup.case_id, action, reason="two humans", version=1), 409, "conflict")

    assert "version" in error["errors"]
    assert services.store.persons.get(dup.b)["status"] == "ACTIVE"
    assert not services.store.cases.are_apart(dup.a, dup.b)


def test_a_merge_naming_a_person_outside_the_case_is_a_422_naming_the_field(client, services, steward, dup):
    third = services.matching.submit(THIRD_RECORD, "test")["person_id"]

    error = assert_error(post(client, steward, dup.case_id, "merge", survivor_id=third, loser_id=dup.a,
                              reason="one human", version=1), 422, "validation_error")

    assert set(error["errors"]) == {"survivor_id"}
    assert services.store.persons.get(dup.a)["status"] == "ACTIVE"
