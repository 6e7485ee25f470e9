"""A record sent again under its key, through the whole stack on a real store.

An update is stored and decided again (a held record's case is withdrawn and the
record re-matched); a record sent again exactly as stored changes nothing; a person
whose last record the matcher moves to another is retired to where it went.
"""

from __future__ import annotations

import pytest

from conftest import record
from test_api_records import best_weight, submit

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def test_same_key_again_updates_the_record_not_a_new_one(client, auth, services):
    first = submit(client, auth, record("theodore", "county-general-ehr", "CG-1"))
    before = client.get("/v1/records/county-general-ehr/CG-1", headers=auth).get_json()

    body = submit(client, auth, record("theodore", "county-general-ehr", "CG-1", phone="312-555-0177"))

    assert body["person_id"] == first["person_id"]
    after = client.get("/v1/records/county-general-ehr/CG-1", headers=auth).get_json()
    assert after["raw"]["phone"] == "312-555-0177"
    assert after["norm"]["phone"] == "+13125550177"
    assert after["received_at"] == before["received_at"]
    assert after["updated_at"] > before["updated_at"]
    counts = services.store.counts()
    assert (counts["records"], counts["persons"]) == (1, 1)
    actions = [e["action"] for e in services.store.audit.events("record", "county-general-ehr/CG-1")]
    assert actions.count("record.created") == 1 and actions.count("record.updated") == 1


def test_the_same_record_sent_again_unchanged_writes_audits_and_decides_nothing(client, auth, services):
    first = submit(client, auth, record("theodore", "county-general-ehr", "CG-1"))
    submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    audit_before = services.store.db.one("SELECT count(*) FROM audit_log")[0]
    before = client.get("/v1/records/county-general-ehr/CG-1", headers=auth).get_json()

    again = submit(client, auth, record("theodore", "county-general-ehr", "CG-1"))

    assert again["unchanged"] is True
    assert (again["person_id"], again["decision"], again["link_source"]) == (first["person_id"], "NO_MATCH", "AUTO")
    assert services.store.db.one("SELECT count(*) FROM audit_log")[0] == audit_before
    assert client.get("/v1/records/county-general-ehr/CG-1", headers=auth).get_json() == before
    changed = submit(client, auth, record("theodore", "county-general-ehr", "CG-1", phone="312-555-0177"))
    assert "unchanged" not in changed


def test_an_update_that_moves_a_persons_last_record_retires_it_to_where_the_record_went(client, auth, services):
    wrong = submit(client, auth, record("theodore", "county-general-ehr", "CG-1"))  # registered as the wrong patient
    marisol = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    submit(client, auth, record("marisol", "foodbank-cbo", "FB-1"))

    moved = submit(client, auth, record("marisol", "county-general-ehr", "CG-1"))  # the source corrects it

    assert (moved["decision"], moved["person_id"]) == ("MATCH", marisol["person_id"])
    answer = client.get(f"/v1/persons/{wrong['person_id']}", headers=auth).get_json()
    assert (answer["person_id"], answer["redirected_from"]) == (marisol["person_id"], [wrong["person_id"]])
    assert {r["source_record_id"] for r in answer["records"]} == {"CG-1", "MRN-1", "FB-1"}
    retired = services.store.audit.events("person", wrong["person_id"])[0]  # newest first
    assert (retired["action"], retired["actor"]) == ("person.retired", "user:test-hub")
    assert retired["detail"] == {"redirect_to": marisol["person_id"], "record": "county-general-ehr/CG-1"}
    assert services.store.counts()["persons"] == 1


def test_a_held_record_sent_again_unchanged_stays_in_its_case(client, auth, services, activate_policy):
    submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    partial = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
               "last_name": "Quintanilla", "birth_date": "1984-03-17"}
    _, weight = best_weight(client, auth, partial)
    activate_policy(lower_match_weight=weight - 1, upper_match_weight=weight + 1)
    held = submit(client, auth, partial)

    again = submit(client, auth, partial)

    assert (again["unchanged"], again["decision"], again["review_case_id"]) == (True, "POSSIBLE_MATCH",
                                                                               held["review_case_id"])
    assert services.store.cases.get(held["review_case_id"])["state"] == "open"


def partial_held_until_full(client, auth, activate_policy) -> tuple[dict, dict, dict]:
    """Marisol's first record, then a partial record of hers and its full update, with thresholds set so that the
    partial one is held and the full one links: (first answer, partial, full)."""
    first = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    partial = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
               "last_name": "Quintanilla", "birth_date": "1984-03-17"}
    full = record("marisol", "foodbank-cbo", "FB-3")
    _, partial_weight = best_weight(client, auth, partial)
    _, full_weight = best_weight(client, auth, full)
    assert full_weight > partial_weight, "more agreeing fields must weigh more"
    activate_policy(lower_match_weight=partial_weight - 1, upper_match_weight=(partial_weight + full_weight) / 2)
    return first, partial, full


def test_updating_a_held_record_withdraws_its_case_and_rematches(client, auth, services, activate_policy):
    first, partial, full = partial_held_until_full(client, auth, activate_policy)
    held = submit(client, auth, partial)
    assert held["decision"] == "POSSIBLE_MATCH"

    body = submit(client, auth, full)

    assert body["decision"] == "MATCH"
    assert body["person_id"] == first["person_id"]
    assert services.store.cases.get(held["review_case_id"])["state"] == "withdrawn"
    stored = client.get("/v1/records/foodbank-cbo/FB-3", headers=auth).get_json()
    assert stored["review_case_id"] is None
    assert stored["link"]["person_id"] == first["person_id"]


def test_a_held_record_updated_in_the_transaction_that_held_it_withdraws_its_case(client, auth, services,
                                                                                  activate_policy):
    # A load's batch is one transaction: a file may hold a record and, further down, its update. The case the
    # first opened is still among the batch's buffered writes when the second withdraws it.
    first, partial, full = partial_held_until_full(client, auth, activate_policy)

    with services.store.transaction():
        held = services.matching.submit(partial, "test")
        body = services.matching.submit(full, "test")

    assert (held["decision"], body["decision"], body["person_id"]) == ("POSSIBLE_MATCH", "MATCH", first["person_id"])
    case = services.store.cases.get(held["review_case_id"])
    assert (case["state"], case["version"]) == ("withdrawn", 2)
    assert [e["action"] for e in services.store.audit.events("review_case", held["review_case_id"])] == \
        ["case.withdrawn", "case.opened"]
