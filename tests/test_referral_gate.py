"""The identity gate: a referral waits on its person's review case, and follows identity when it changes.

Two persons named Marisol Quintanilla live in Georgia; a hospital's record with
only her name, sex and state scores the same against both, above the upper
threshold: ambiguity between two persons, so the record is held for a steward
and the referral gated.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from conftest import record
from mpi.vocab import CasePriority
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

STEWARD = "user:sam"
SECOND_MARISOL = {"source_system": "bluepath-mco", "source_record_id": "BP-9", "first_name": "Marisol",
                  "last_name": "Quintanilla", "birth_date": "1991-08-25", "sex": "F", "phone": "(678) 555-0192",
                  "address_line1": "88 Ponce de Leon Ave", "city": "Decatur", "state": "GA", "postal_code": "30030"}
NAME_ONLY = {"source_system": "st-marys-ehr", "source_record_id": "ED-77", "first_name": "Marisol",
             "last_name": "Quintanilla", "sex": "F", "state": "GA"}


@pytest.fixture
def two_marisols(net_services, network) -> tuple[str, str]:
    first = net_services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    second = net_services.matching.submit(SECOND_MARISOL, "test")["person_id"]
    assert first and second and first != second
    return first, second


@pytest.fixture
def gated(net_client, network, two_marisols) -> dict:
    """A discharge referral of the name-only record: gated on a case naming both persons."""
    response = net_client.post("/v1/referrals", json=referral_body(person=NAME_ONLY, urgency="discharge"),
                               headers=network.headers["hub-stmarys"])
    assert response.status_code == 201
    body = response.get_json()
    assert body["gate"] == "identity_pending", "the name-only record should be held for review"
    return body


def get(client, network, referral_id, who="hub-foodbank") -> dict:
    return client.get(f"/v1/referrals/{referral_id}", headers=network.headers[who]).get_json()


def status(client, network, referral_id, state, who="hub-foodbank", **body):
    return client.post(f"/v1/referrals/{referral_id}/status", json={"state": state, **body},
                       headers=network.headers[who])


def case_of(net_services, referral) -> dict:
    return net_services.cases.get(referral["review_case_id"])


def test_a_possible_match_gates_the_referral_and_its_case_blocks_it_urgently(net_services, gated, two_marisols):
    case = case_of(net_services, gated)

    assert gated["person_id"] is None
    assert sorted(c["person_id"] for c in case["candidates"]) == sorted(two_marisols)
    assert case["blocks"] == [{"kind": "referral", "id": gated["referral_id"], "priority": "urgent"}]
    assert case["priority"] == CasePriority.URGENT.value
    assert gated["clocks"]["first_contact"]["due_at"] is None, "the first-contact clock stands while gated"
    assert gated["clocks"]["acknowledge"]["due_at"] is not None


def test_while_gated_acceptance_is_allowed_and_a_start_is_refused_with_the_case(net_client, network, gated):
    referral_id = gated["referral_id"]
    assert status(net_client, network, referral_id, "acknowledged").status_code == 200
    assert status(net_client, network, referral_id, "accepted").status_code == 200

    error = assert_error(status(net_client, network, referral_id, "in_progress"), 409, "identity_pending")

    assert error["errors"]["review_case_id"] == [gated["review_case_id"]]
    assert gated["review_case_id"] in error["message"]
    assert get(net_client, network, referral_id)["your_steps"] == [
        "redirected", "closed_not_served", "on_hold", "entered_in_error"]


def test_a_stewards_link_lifts_the_gate_and_the_referral_belongs_to_the_chosen_person(
        net_client, network, net_services, gated, two_marisols, clock):
    status(net_client, network, gated["referral_id"], "accepted")
    clock.advance(timedelta(minutes=45))
    case = case_of(net_services, gated)

    net_services.cases.resolve_linked(case["case_id"], two_marisols[0], STEWARD, "same phone as MRN-1",
                                      case["version"])

    referral = get(net_client, network, gated["referral_id"])
    assert (referral["gate"], referral["person_id"]) == (None, two_marisols[0])
    assert referral["gated_seconds"] == 45 * 60
    assert referral["history"][-1]["kind"] == "lift"
    assert referral["clocks"]["first_contact"]["due_at"] is not None
    assert status(net_client, network, gated["referral_id"], "in_progress").status_code == 200


def test_a_new_person_resolution_gives_the_referral_the_new_person(net_client, network, net_services, gated,
                                                                     two_marisols):
    case = case_of(net_services, gated)

    net_services.cases.resolve_new_person(case["case_id"], STEWARD, "a third Marisol", case["version"])

    referral = get(net_client, network, gated["referral_id"])
    assert referral["gate"] is None and referral["person_id"] not in (None, *two_marisols)


def test_a_merge_resolution_gives_the_referral_the_survivor(net_client, network, net_services, gated, two_marisols):
    case = case_of(net_services, gated)
    survivor, loser = two_marisols

    net_services.cases.resolve_by_merge(case["case_id"], survivor, loser, STEWARD, "one woman registered twice",
                                        case["version"])

    referral = get(net_client, network, gated["referral_id"])
    assert referral["gate"] is None and referral["person_id"] == survivor


def test_a_not_duplicate_of_one_candidate_decides_again_and_lifts_the_gate(net_client, network, net_services,
                                                                           gated, two_marisols):
    case = case_of(net_services, gated)

    net_services.cases.resolve_not_duplicate(case["case_id"], STEWARD, "not the Decatur one", case["version"],
                                             person_id=two_marisols[1])

    referral = get(net_client, network, gated["referral_id"])
    assert referral["gate"] is None and referral["person_id"] == two_marisols[0]


def test_a_withdrawn_case_decides_the_record_again_and_the_referral_waits_on_the_new_case(
        net_client, network, net_services, gated):
    case = case_of(net_services, gated)

    net_services.cases.withdraw(case["case_id"], STEWARD, "opened by mistake", case["version"])

    referral = get(net_client, network, gated["referral_id"])
    assert referral["gate"] == "identity_pending"
    assert referral["review_case_id"] not in (None, case["case_id"])
    assert {"kind": "referral", "id": gated["referral_id"], "priority": "urgent"} in case_of(
        net_services, referral)["blocks"]


def test_undoing_the_stewards_link_gates_the_referral_again(net_client, network, net_services, gated, two_marisols):
    case = case_of(net_services, gated)
    net_services.cases.resolve_linked(case["case_id"], two_marisols[0], STEWARD, "same phone", case["version"])
    assert get(net_client, network, gated["referral_id"])["gate"] is None

    net_services.cases.undo_link("st-marys-ehr", "ED-77", STEWARD, "linked too fast")

    referral = get(net_client, network, gated["referral_id"])
    assert referral["gate"] == "identity_pending" and referral["person_id"] is None
    assert any(b["id"] == gated["referral_id"] for b in case_of(net_services, referral)["blocks"])


def test_an_unmerge_under_a_live_referral_gates_it_again_and_the_case_names_it(net_client, network, net_services):
    body = net_client.post("/v1/referrals", json=referral_body(), headers=network.headers["hub-stmarys"]).get_json()
    own = body["person_id"]
    other = net_services.matching.submit(record("theodore", "county-ehr", "CE-1"), "test")["person_id"]
    merge_id = net_services.merges.merge(other, own, STEWARD, "registered twice (wrongly)")
    assert get(net_client, network, body["referral_id"])["person_id"] == other, "the referral follows the merge"

    net_services.merges.unmerge(merge_id, STEWARD, "two different people")

    referral = get(net_client, network, body["referral_id"])
    assert referral["gate"] == "identity_pending" and referral["person_id"] is None
    case = case_of(net_services, referral)
    assert case["state"] == "open"
    assert case["blocks"] == [{"kind": "referral", "id": body["referral_id"], "priority": "high"}]
    # The steward confirms the record stays where the unmerge put it: the gate lifts with that person.
    net_services.cases.resolve_not_duplicate(case["case_id"], STEWARD, "stays with its own person", case["version"])
    lifted = get(net_client, network, body["referral_id"])
    assert (lifted["gate"], lifted["person_id"]) == (None, own)


def test_a_redirect_of_a_gated_referral_carries_the_gate_to_its_successor(net_client, network, net_services,
                                                                          gated):
    closed = status(net_client, network, gated["referral_id"], "redirected", reason="no-capacity",
                    performer="homebase").get_json()
    successor = get(net_client, network, closed["successor_ids"][0], who="hub-homebase")

    assert successor["gate"] == "identity_pending"
    assert successor["review_case_id"] == gated["review_case_id"]
    blocked = {b["id"] for b in case_of(net_services, gated)["blocks"]}
    assert blocked == {gated["referral_id"], successor["referral_id"]}


def test_a_referral_of_a_record_already_held_joins_its_case(net_client, network, net_services, gated):
    again = referral_body(person=NAME_ONLY, ref="SM-2", performer="homebase", service_type="housing")

    second = net_client.post("/v1/referrals", json=again, headers=network.headers["hub-stmarys"]).get_json()

    assert second["gate"] == "identity_pending"
    first = get(net_client, network, gated["referral_id"])
    assert first["gate"] == "identity_pending" and first["review_case_id"] == second["review_case_id"]
    assert {b["id"] for b in case_of(net_services, second)["blocks"]} == {gated["referral_id"],
                                                                          second["referral_id"]}
