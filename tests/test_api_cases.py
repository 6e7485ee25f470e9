"""``/v1/review-cases`` and undo-link through the whole stack: roles, bodies, the error shape, the 409 race."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from conftest import record
from mpi.auth import add_user
from test_api_errors import assert_error

PARTIAL = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
           "last_name": "Quintanilla", "birth_date": "1984-03-17"}


@pytest.fixture
def steward(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'alice', 'steward')}"}


@pytest.fixture
def held(client, auth, services, activate_policy):
    """Marisol's person and a partial record of her held in review: (person id, case id)."""
    person_id = client.post("/v1/records", json=record("marisol", "st-marys-ehr", "MRN-1"),
                            headers=auth).get_json()["person_id"]
    weight = client.post("/v1/match", json=PARTIAL, headers=auth).get_json()["candidates"][0]["match_weight"]
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    body = client.post("/v1/records", json=PARTIAL, headers=auth).get_json()
    assert body["decision"] == "POSSIBLE_MATCH"
    return person_id, body["review_case_id"]


def post(client, headers, case_id, action, **body):
    return client.post(f"/v1/review-cases/{case_id}/{action}", json=body, headers=headers)


# ---------------------------------------------------------------------------------------------- roles

@pytest.mark.parametrize("method, path", [
    ("get", "/v1/review-cases"), ("get", "/v1/review-cases/{case}"), ("post", "/v1/review-cases/{case}/claim"),
    ("post", "/v1/review-cases/{case}/link"), ("post", "/v1/records/foodbank-cbo/FB-3/undo-link"),
])
def test_a_hub_may_not_read_or_work_review_cases(client, auth, held, method, path):
    _, case_id = held
    url = path.format(case=case_id)

    assert_error(getattr(client, method)(url, json={"reason": "x", "version": 1}, headers=auth), 403, "forbidden")
    assert_error(getattr(client, method)(url, json={"reason": "x", "version": 1}), 401, "unauthorized")


def test_an_admin_may_work_review_cases(client, services, held):
    _, case_id = held
    admin = {"Authorization": f"Bearer {add_user(services.store, 'root', 'admin')}"}

    response = post(client, admin, case_id, "claim", reason="covering the queue", version=1)

    assert response.status_code == 200
    assert response.get_json()["owner"] == "root"


# ------------------------------------------------------------------------------------------- reading

def test_queue_with_filters_and_counts(client, steward, held):
    person_id, case_id = held

    body = client.get("/v1/review-cases", headers=steward).get_json()

    (case,) = body["cases"]
    assert (case["case_id"], case["state"], case["priority"], case["version"]) == (case_id, "open", "routine", 1)
    assert case["overdue"] is False and case["due_at"] and case["age_hours"] >= 0
    assert case["candidates"][0]["person_id"] == person_id
    assert body["counts"]["total"] == 1 and body["counts"]["by_priority"]["routine"] == 1
    assert (body["limit"], body["offset"]) == (100, 0)
    assert client.get("/v1/review-cases?state=in_review", headers=steward).get_json()["cases"] == []
    assert client.get("/v1/review-cases?priority=urgent&priority=high", headers=steward).get_json()["cases"] == []
    assert client.get("/v1/review-cases?overdue=true", headers=steward).get_json()["cases"] == []
    assert len(client.get("/v1/review-cases?overdue=false&source_system=foodbank-cbo&min_age_hours=0",
                          headers=steward).get_json()["cases"]) == 1
    assert_error(client.get("/v1/review-cases?state=sleeping&limit=0", headers=steward), 422, "validation_error")


def test_get_case_shows_record_candidates_evidence_and_their_records(client, steward, held):
    person_id, case_id = held

    body = client.get(f"/v1/review-cases/{case_id}", headers=steward).get_json()

    assert body["record"]["raw"]["first_name"] == "Marisol"
    assert body["record"]["source_record_id"] == "FB-3"
    candidate = body["candidates"][0]
    assert candidate["person_id"] == person_id
    assert candidate["evidence"][0]["comparison"] == "prior"
    assert candidate["person"]["records"][0]["raw"]["last_name"] == "Quintanilla"
    assert body["blocks"] == [] and body["hold"] is None
    assert_error(client.get("/v1/review-cases/RC99999999", headers=steward), 404, "not_found")


# ------------------------------------------------------------------------------------------- actions

def test_claim_link_and_the_record_reads_linked_manually(client, auth, steward, services, held):
    person_id, case_id = held

    claimed = post(client, steward, case_id, "claim", reason="taking it", version=1).get_json()
    linked = post(client, steward, case_id, "link", reason="same phone", version=2, person_id=person_id)

    assert (claimed["owner"], claimed["state"], claimed["version"]) == ("alice", "in_review", 2)
    assert linked.status_code == 200
    assert (linked.get_json()["state"], linked.get_json()["resolution"]) == ("resolved", "linked")
    stored = client.get("/v1/records/foodbank-cbo/FB-3", headers=auth).get_json()
    assert (stored["link"]["person_id"], stored["link"]["link_source"]) == (person_id, "MANUAL")
    events = services.store.audit.events("review_case", case_id)
    assert [(e["action"], e["actor"], e["reason"]) for e in events[:2]] == [
        ("case.linked", "user:alice", "same phone"), ("case.claimed", "user:alice", "taking it")]


def test_stale_version_is_409_in_the_error_shape(client, steward, held):
    _, case_id = held
    post(client, steward, case_id, "claim", reason="taking it", version=1)

    body = assert_error(post(client, steward, case_id, "withdraw", reason="dup", version=1), 409, "conflict")

    assert "version" in body["errors"]
    assert client.get(f"/v1/review-cases/{case_id}", headers=steward).get_json()["state"] == "in_review"


@pytest.mark.parametrize("body, field", [
    ({"version": 1}, "reason"), ({"reason": "  ", "version": 1}, "reason"), ({"reason": "x"}, "version"),
    ({"reason": "x", "version": "1"}, "version"), ({"reason": "x", "version": 1, "colour": "red"}, "colour"),
])
def test_a_body_without_a_reason_or_version_is_422_naming_it(client, steward, held, body, field):
    _, case_id = held

    response = client.post(f"/v1/review-cases/{case_id}/claim", json=body, headers=steward)

    assert field in assert_error(response, 422, "validation_error")["errors"]
    assert client.get(f"/v1/review-cases/{case_id}", headers=steward).get_json()["version"] == 1


def test_assign_hold_release_withdraw(client, steward, services, held):
    _, case_id = held
    add_user(services.store, "bob", "steward")
    follow_up = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()

    assert_error(post(client, steward, case_id, "assign", reason="x", version=1, owner="nobody"), 422,
                 "validation_error")
    assigned = post(client, steward, case_id, "assign", reason="bob knows the clinic", version=1, owner="bob")
    held_ = post(client, steward, case_id, "hold", reason="outreach", version=2, follow_up=follow_up,
                 note="letter sent")
    released = post(client, steward, case_id, "release", reason="reply came", version=3)
    withdrawn = post(client, steward, case_id, "withdraw", reason="record retracted", version=4)

    assert assigned.get_json()["owner"] == "bob"
    assert held_.get_json()["hold"] == {**held_.get_json()["hold"], "note": "letter sent", "follow_up": follow_up}
    assert held_.get_json()["state"] == "on_hold"
    assert released.get_json()["state"] == "in_review"
    assert withdrawn.get_json()["state"] == "withdrawn"
    assert_error(post(client, steward, case_id, "hold", reason="x", version=5, follow_up=follow_up), 409, "conflict")


def test_not_duplicate_is_remembered(client, auth, steward, held):
    person_id, case_id = held

    body = post(client, steward, case_id, "not-duplicate", reason="her twin", version=1).get_json()

    assert body["resolution"] == "not_duplicate"
    assert body["outcome"]["decision"] == "NO_MATCH" and body["outcome"]["person_id"] != person_id
    again = client.post("/v1/records", json=PARTIAL, headers=auth).get_json()
    assert again["review_case_id"] is None and again["person_id"] == body["outcome"]["person_id"]


def test_new_person(client, steward, held):
    person_id, case_id = held

    body = post(client, steward, case_id, "new-person", reason="different person", version=1).get_json()

    assert body["resolution"] == "new_person"
    assert body["record"]["link"]["link_source"] == "MANUAL"
    assert body["record"]["link"]["person_id"] != person_id


def test_blocks_set_the_priority(client, steward, held):
    _, case_id = held

    body = post(client, steward, case_id, "blocks", reason="discharge today",
                blocks=[{"kind": "referral", "id": "REF-1", "priority": "urgent"}]).get_json()

    assert (body["priority"], body["version"]) == ("urgent", 2)
    assert client.get("/v1/review-cases?priority=urgent", headers=steward).get_json()["cases"][0]["case_id"] == case_id


def test_undo_link_puts_the_record_back_to_review(client, auth, steward, held):
    person_id, case_id = held
    post(client, steward, case_id, "link", reason="same phone", version=1, person_id=person_id)

    response = client.post("/v1/records/foodbank-cbo/FB-3/undo-link", json={"reason": "wrong person"},
                           headers=steward)

    body = response.get_json()
    assert response.status_code == 200, body
    assert body["previous_person_id"] == person_id
    assert body["review_case"]["state"] == "open" and body["review_case"]["case_id"] != case_id
    stored = client.get("/v1/records/foodbank-cbo/FB-3", headers=auth).get_json()
    assert stored["link"] is None and stored["review_case_id"] == body["review_case"]["case_id"]
    again = client.post("/v1/records/foodbank-cbo/FB-3/undo-link", json={"reason": "again"}, headers=steward)
    assert_error(again, 409, "conflict")
    assert_error(client.post("/v1/records/foodbank-cbo/FB-3/undo-link", json={}, headers=steward), 422,
                 "validation_error")


def test_openapi_documents_the_review_case_routes(client):
    spec = client.get("/v1/openapi.json").get_json()
    paths = spec["paths"]

    assert "get" in paths["/v1/review-cases"]
    assert "get" in paths["/v1/review-cases/{case_id}"]
    for action in ("claim", "assign", "link", "new-person", "not-duplicate", "hold", "release", "withdraw",
                   "blocks"):
        operation = paths[f"/v1/review-cases/{{case_id}}/{action}"]["post"]
        assert {"200", "403", "404", "409", "422"} <= set(operation["responses"]), action
        assert operation["requestBody"]
    assert "post" in paths["/v1/records/{source_system}/{source_record_id}/undo-link"]
    names = {p["name"] for p in paths["/v1/review-cases"]["get"]["parameters"]}
    assert {"state", "priority", "owner", "source_system", "min_age_hours", "overdue", "limit", "offset"} <= names


# --------------------------------------------------------------------------- two stewards, one case, over HTTP

def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_two_stewards_acting_on_one_case_at_once_one_wins_the_other_gets_409(live_server, services, held):
    person_id, case_id = held
    tokens = [add_user(services.store, "alice", "steward"), add_user(services.store, "bob", "steward")]
    actions = [("link", {"person_id": person_id, "reason": "same phone", "version": 1}),
               ("new-person", {"reason": "different person", "version": 1})]
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def act(i):
        action, body = actions[i]
        barrier.wait()
        results[i] = _post(f"{live_server}/v1/review-cases/{case_id}/{action}", tokens[i], body)

    threads = [threading.Thread(target=act, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    winner = next(i for i, (status, _) in enumerate(results) if status == 200)
    loser_body = results[1 - winner][1]
    assert (loser_body["code"], loser_body["status"]) == ("conflict", 409) and "version" in loser_body["errors"]
    case = services.cases.get(case_id)
    assert case["version"] == 2
    assert case["resolution"] == ("linked" if winner == 0 else "new_person")
    resolutions = [e for e in services.store.audit.events("review_case", case_id)
                   if e["action"] in ("case.linked", "case.new_person")]
    assert [e["actor"] for e in resolutions] == [("user:alice", "user:bob")[winner]]
    link = services.store.records.get("foodbank-cbo", "FB-3")["link"]
    assert (link["person_id"] == person_id) == (winner == 0)


# ------------------------------------------------------------------------------------ merged resolution

def test_resolve_as_merged_merges_the_two_persons_and_closes_the_case_in_one_step(client, auth, steward, services,
                                                                                 held):
    person_id, case_id = held
    other = client.post("/v1/records", json=record("theodore", "county-general-ehr", "CG-9"),
                        headers=auth).get_json()["person_id"]
    stale = post(client, steward, case_id, "merge", reason="one person", version=7, survivor_id=person_id,
                 loser_id=other)
    assert_error(stale, 409, "conflict")
    assert services.store.persons.get(other)["status"] == "ACTIVE"  # nothing merged by the stale form

    response = post(client, steward, case_id, "merge", reason="registered twice", version=1,
                    survivor_id=person_id, loser_id=other)

    assert response.status_code == 200
    case = response.get_json()
    assert (case["state"], case["resolution"]) == ("resolved", "merged")
    assert services.store.persons.get(other)["redirect_to"] == person_id
    (event, *_) = services.store.audit.events("review_case", case_id, limit=5)
    assert (event["action"], event["actor"], event["reason"]) == ("case.merged", "user:alice", "registered twice")
    merge_id = event["detail"]["merge_id"]
    undone = client.post(f"/v1/merges/{merge_id}/unmerge", json={"reason": "two people after all"}, headers=steward)
    assert undone.status_code == 200
    assert services.store.persons.get(other)["status"] == "ACTIVE"
