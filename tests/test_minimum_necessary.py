"""Minimum necessary: a hub or coordinator reads a person only as far as its organisation's records,
referrals and match results need, with identifiers masked; stewards read everything; auditors no PHI.

The network (``referral_network.py``): St Mary's (``st-marys``) sends records and referrals, the food
bank and HomeBase perform them, BluePath is an outsider, Sam a steward, Root an admin. Everything goes
through the real app on a DuckDB file (``client``), over the same services the review UI calls.
"""

from __future__ import annotations

import re

import pytest

from conftest import record
from held_cases import partial, weight_of
from mpi.auth import add_user
from mpi.clock import FixedClock
from mpi.services import Services
from mpi.synth.generator import generate_records
from mpi.vocab import Role
from referral_network import MONDAY_10AM, build, referral_body

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def services(config):
    """The app's services on the network's fixed clock (conftest's ``app``, ``client`` use these)."""
    services = Services(config, clock=FixedClock(MONDAY_10AM))
    yield services
    services.close()


@pytest.fixture
def net(services):
    net = build(services)
    services.directory.add({"code": "calmwaters", "name": "Calm Waters Counselling", "kind": "behavioral-health",
                            "service_types": ["behavioral-health"]}, "test")
    net.headers["hub-calm"] = {"Authorization": "Bearer " + add_user(services.store, "hub-calm", "hub",
                                                                       organisation="calmwaters")}
    net.headers["audrey"] = {"Authorization": "Bearer " + add_user(services.store, "audrey", Role.AUDITOR.value)}
    return net


def post(client, path: str, body: dict, headers: dict) -> dict:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def person(client, person_id: str, headers: dict):
    return client.get(f"/v1/persons/{person_id}", headers=headers)


# ------------------------------------------------------------------------------------------------ the walk

def test_a_hub_of_another_organisation_walking_sequential_ids_reads_none_and_learns_no_id_exists(client, net):
    rows = [{k: v for k, v in r.items() if k != "truth_person_id"} for r in generate_records(20, seed=14)]
    persons = {post(client, "/v1/records", r, net.headers["hub-stmarys"])["person_id"] for r in rows}
    persons.discard(None)
    assert len(persons) >= 10
    walked = [f"MPI{n:08d}" for n in range(1, len(persons) + 6)]  # every id made, and five beyond

    answers = {pid: person(client, pid, net.headers["hub-bluepath"]) for pid in walked}

    assert [pid for pid, r in answers.items() if r.status_code != 404] == []  # 0 of N
    missing = answers[walked[-1]].get_json()
    for pid, response in answers.items():  # the answer for a person that exists is the answer for none
        assert response.get_json() == {**missing, "message": missing["message"].replace(walked[-1], pid)}
    assert all(person(client, pid, net.headers["hub-stmarys"]).status_code == 200 for pid in persons)
    assert all(person(client, pid, net.headers["sam"]).status_code == 200 for pid in persons)


# ---------------------------------------------------------------------------------- what gives a person

def test_a_hub_reads_the_person_its_own_record_is_linked_to_masked_with_only_its_own_records(client, net):
    mine = post(client, "/v1/records", record("marisol", "st-marys-ehr", "MRN-1"), net.headers["hub-stmarys"])
    post(client, "/v1/records", record("marisol", "bluepath-mco", "BPM-77"), net.headers["hub-bluepath"])

    body = person(client, mine["person_id"], net.headers["hub-stmarys"]).get_json()

    assert body["disclosure"] == "masked"
    assert body["golden"]["ssn_last4"] == "**21" and body["golden"]["medicaid_id"] == "******0934"
    assert body["golden"]["first_name"] and body["golden"]["birth_date"] == "1984-03-17"
    assert [(r["source_system"], r["source_record_id"]) for r in body["records"]] == [("st-marys-ehr", "MRN-1")]
    whole = person(client, mine["person_id"], net.headers["sam"]).get_json()
    assert whole["disclosure"] == "whole" and whole["golden"]["ssn_last4"] == "4821"
    assert whole["golden"]["medicaid_id"] == "MC77120934" and len(whole["records"]) == 2


def test_a_certain_match_gives_its_person_and_a_possible_one_gives_nothing(client, net, services, activate_policy):
    theirs = post(client, "/v1/records", record("marisol", "st-marys-ehr", "MRN-1"), net.headers["hub-stmarys"])
    pid = theirs["person_id"]
    homebase = net.headers["hub-homebase"]
    loose = partial("homebase-hmis", "HB-3")
    weight = weight_of(services, loose)
    assert person(client, pid, homebase).status_code == 404

    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    held = post(client, "/v1/match", loose, homebase)
    assert held["decision"] == "POSSIBLE_MATCH" and held["candidates"][0]["person_id"] == pid
    assert person(client, pid, homebase).status_code == 404  # a candidate is not the person

    certain = post(client, "/v1/match", record("marisol", "homebase-hmis", "HB-1"), homebase)
    assert certain["decision"] == "MATCH" and certain["candidates"][0]["person_id"] == pid
    body = person(client, pid, homebase).get_json()
    assert body["disclosure"] == "masked" and body["golden"]["ssn_last4"] == "**21"
    assert body["records"] == []  # it was given the person, not St Mary's record of her
    assert services.store.records.get("homebase-hmis", "HB-1") is None  # /v1/match still stores no record


def test_a_grant_is_written_once_with_its_answer_and_not_at_all_for_a_refused_record(client, net, services):
    def grants() -> list[tuple]:
        return services.store.db.query("SELECT organisation, how, person_id, source_system, source_record_id "
                                       "FROM person_grants ORDER BY how")

    body = record("marisol", "st-marys-ehr", "MRN-1")
    first = post(client, "/v1/records", body, net.headers["hub-stmarys"])
    again = post(client, "/v1/records", body, net.headers["hub-stmarys"])  # unchanged: nothing written
    for _ in range(2):
        post(client, "/v1/match", record("marisol", "bluepath-mco", "BP-1"), net.headers["hub-bluepath"])
    refused = client.post("/v1/records", json={"source_system": "st-marys-ehr", "source_record_id": "MRN-2"},
                          headers=net.headers["hub-stmarys"])

    assert again["unchanged"] is True and refused.status_code == 422
    assert grants() == [("bluepath", "match", first["person_id"], None, None),
                        ("st-marys", "record", first["person_id"], "st-marys-ehr", "MRN-1")]


def test_a_match_answer_names_no_other_organisations_record(client, net):
    post(client, "/v1/records", record("marisol", "hiv-clinic-ehr", "HC-1"), net.headers["hub-stmarys"])
    query = record("marisol", "bluepath-mco", "BP-1")

    theirs = post(client, "/v1/match", query, net.headers["hub-bluepath"])["candidates"][0]
    stored = post(client, "/v1/records", query, net.headers["hub-bluepath"])["candidates"][0]
    mine = post(client, "/v1/match", query, net.headers["hub-stmarys"])["candidates"][0]
    whole = post(client, "/v1/match", query, net.headers["sam"])["candidates"][0]

    assert theirs["matched_record"] is None and stored["matched_record"] is None
    assert theirs["person_id"] == mine["person_id"] and theirs["match_weight"] == mine["match_weight"]
    assert mine["matched_record"] == whole["matched_record"] == {"source_system": "hiv-clinic-ehr",
                                                                 "source_record_id": "HC-1"}


def test_a_referral_gives_its_person_to_requester_and_performer_and_to_no_one_else(client, net):
    referral = post(client, "/v1/referrals", referral_body("theodore", "SM-9"), net.headers["hub-stmarys"])
    pid = referral["person_id"]

    for who in ("hub-stmarys", "hub-foodbank", "cora"):
        assert person(client, pid, net.headers[who]).get_json()["disclosure"] == "masked", who
    assert person(client, pid, net.headers["hub-homebase"]).status_code == 404
    assert client.get("/v1/records/st-marys-ehr/MRN-SM-9", headers=net.headers["hub-stmarys"]).status_code == 200
    assert client.get("/v1/records/st-marys-ehr/MRN-SM-9", headers=net.headers["hub-foodbank"]).status_code == 404


def test_a_grant_follows_merges_to_the_survivor_at_any_depth_and_goes_back_with_each_unmerge(client, net, services):
    marisol = post(client, "/v1/records", record("marisol", "st-marys-ehr", "MRN-1"), net.headers["hub-stmarys"])
    ted = post(client, "/v1/records", record("theodore", "homebase-hmis", "HB-1"), net.headers["hub-homebase"])
    desmond = post(client, "/v1/records", record("desmond", "st-marys-ehr", "MRN-2"), net.headers["hub-stmarys"])
    certain = post(client, "/v1/match", record("desmond", "bluepath-mco", "BP-2"), net.headers["hub-bluepath"])
    assert certain["decision"] == "MATCH"
    m, t, d = marisol["person_id"], ted["person_id"], desmond["person_id"]
    bluepath, homebase = net.headers["hub-bluepath"], net.headers["hub-homebase"]
    assert person(client, m, homebase).status_code == 404 and person(client, t, bluepath).status_code == 404

    first = services.merges.merge(t, d, "user:sam", "test: one human")  # Desmond's id into Theodore
    second = services.merges.merge(m, t, "user:sam", "test: one human")  # and Theodore's into Marisol

    # HomeBase's record moved to the survivor; BluePath's match grant on Desmond's id holds two merges on.
    assert person(client, m, homebase).status_code == 200
    assert person(client, m, bluepath).status_code == 200
    via = person(client, d, bluepath).get_json()
    assert via["person_id"] == m and set(via["redirected_from"]) == {d, t}
    assert person(client, m, net.headers["hub-foodbank"]).status_code == 404

    services.merges.unmerge(second, "user:sam", "test: two humans")
    assert person(client, m, homebase).status_code == person(client, m, bluepath).status_code == 404
    assert person(client, t, homebase).status_code == person(client, t, bluepath).status_code == 200

    services.merges.unmerge(first, "user:sam", "test: two humans")
    assert person(client, t, bluepath).status_code == 404 and person(client, d, bluepath).status_code == 200
    assert person(client, t, homebase).status_code == 200 and person(client, d, homebase).status_code == 404


# ------------------------------------------------------------------------------------- records and roles

def test_a_record_is_read_by_its_submitter_masked_and_by_no_other_organisation(client, net):
    post(client, "/v1/records", record("marisol", "st-marys-ehr", "MRN-1"), net.headers["hub-stmarys"])
    path = "/v1/records/st-marys-ehr/MRN-1"

    mine = client.get(path, headers=net.headers["hub-stmarys"]).get_json()
    other = client.get(path, headers=net.headers["hub-bluepath"])
    missing = client.get("/v1/records/st-marys-ehr/MRN-404", headers=net.headers["hub-bluepath"])

    assert mine["raw"]["ssn_last4"] == "**21" and mine["norm"]["ssn_last4"] == "**21"
    assert mine["raw"]["medicaid_id"] == "******0934" and mine["raw"]["last_name"] == "Quintanilla"
    assert other.status_code == missing.status_code == 404
    assert other.get_json()["message"] == missing.get_json()["message"].replace("MRN-404", "MRN-1")
    whole = client.get(path, headers=net.headers["root"]).get_json()
    assert whole["raw"]["ssn_last4"] == "4821" and whole["raw"]["medicaid_id"] == "MC77120934"


def test_an_auditor_reads_no_person_and_no_record(client, net):
    mine = post(client, "/v1/records", record("marisol", "st-marys-ehr", "MRN-1"), net.headers["hub-stmarys"])

    for path in (f"/v1/persons/{mine['person_id']}", "/v1/records/st-marys-ehr/MRN-1"):
        response = client.get(path, headers=net.headers["audrey"])
        assert response.status_code == 403 and "role" in response.get_json()["errors"], path


def test_a_hub_must_belong_to_an_organisation(services):
    from mpi.errors import ValidationError

    with pytest.raises(ValidationError) as e:
        add_user(services.store, "orphan-hub", "hub")
    assert "organisation" in e.value.errors


# ------------------------------------------------------------------------------------------------ consent

def _sensitive(consent: str, ref: str = "SM-BH") -> dict:
    return referral_body("marisol", ref, performer="calmwaters", service_type="behavioral-health",
                         reason="alcohol use disorder, relapse after discharge", consent=consent)


def test_consent_declined_hides_the_sensitive_reason_and_the_persons_details_from_the_performer(client, net):
    sent = post(client, "/v1/referrals", _sensitive("declined"), net.headers["hub-stmarys"])
    rid, pid = sent["referral_id"], sent["person_id"]
    performer = net.headers["hub-calm"]

    theirs = client.get(f"/v1/referrals/{rid}", headers=performer).get_json()
    listed = client.get("/v1/referrals", headers=performer).get_json()["referrals"]
    who = person(client, pid, performer).get_json()

    assert theirs["reason"] is None and theirs["withheld"] == ["reason"]
    assert theirs["service_type"] == "behavioral-health" and theirs["urgency"] == "routine"
    assert theirs["requester_contact"]["phone"]  # how to reach the requester stays
    assert [(r["referral_id"], r["reason"]) for r in listed] == [(rid, None)]
    assert who["disclosure"] == "contact" and who["records"] == []
    assert who["golden"]["first_name"] == "MARISOL" and who["golden"]["phone"]
    assert {k for k, v in who["golden"].items() if v} <= {"first_name", "middle_name", "last_name", "suffix",
                                                          "phone", "email"}
    assert "alcohol" not in str(client.get(f"/fhir/ServiceRequest/{rid}", headers=performer).get_json())
    step = client.post(f"/v1/referrals/{rid}/status", json={"state": "acknowledged"}, headers=performer)
    assert step.status_code == 200 and step.get_json()["reason"] is None  # a step's answer too


def test_consent_declined_still_shows_everything_to_the_requester_and_a_steward(client, net):
    sent = post(client, "/v1/referrals", _sensitive("declined"), net.headers["hub-stmarys"])
    rid = sent["referral_id"]

    for who in ("hub-stmarys", "sam"):
        body = client.get(f"/v1/referrals/{rid}", headers=net.headers[who]).get_json()
        assert body["reason"].startswith("alcohol") and body["withheld"] == [], who
        fhir = client.get(f"/fhir/ServiceRequest/{rid}", headers=net.headers[who]).get_json()
        assert fhir["reasonCode"] == [{"text": body["reason"]}], who
    assert sent["reason"].startswith("alcohol")
    assert person(client, sent["person_id"], net.headers["hub-stmarys"]).get_json()["disclosure"] == "masked"


def test_consent_granted_shows_the_performer_the_reason_and_the_masked_person(client, net):
    sent = post(client, "/v1/referrals", _sensitive("granted"), net.headers["hub-stmarys"])

    body = client.get(f"/v1/referrals/{sent['referral_id']}", headers=net.headers["hub-calm"]).get_json()

    assert body["reason"].startswith("alcohol") and body["withheld"] == []
    who = person(client, sent["person_id"], net.headers["hub-calm"]).get_json()
    assert who["disclosure"] == "masked" and who["golden"]["birth_date"] == "1984-03-17"


def test_unknown_consent_on_a_service_that_is_not_sensitive_keeps_the_reason_but_not_the_person(client, net):
    sent = post(client, "/v1/referrals", referral_body("marisol", "SM-F", consent="unknown"),
                 net.headers["hub-stmarys"])

    body = client.get(f"/v1/referrals/{sent['referral_id']}", headers=net.headers["cora"]).get_json()

    assert body["reason"] == "food insecurity after discharge" and body["withheld"] == []
    assert person(client, sent["person_id"], net.headers["cora"]).get_json()["disclosure"] == "contact"


def test_the_coordinators_referral_page_shows_no_birth_date_nor_withheld_reason_without_consent(app, net, services):
    sent, _ = services.referrals.submit({**_sensitive("declined"), "performer": "foodbank", "service_type": "food",
                                         "reason": "food insecurity"}, net.callers["hub-stmarys"])
    bh, _ = services.referrals.submit(_sensitive("declined", "SM-BH2"), net.callers["hub-stmarys"])
    calm = add_user(services.store, "cal", "coordinator", organisation="calmwaters")
    pages = {}
    for name, token, rid in (("cora", net.tokens["cora"], sent["referral_id"]), ("cal", calm, bh["referral_id"]),
                             ("sam", net.tokens["sam"], bh["referral_id"])):
        browser = app.test_client()
        form = browser.get("/review/sign-in").get_data(as_text=True)
        signed = browser.post("/review/sign-in", data={"name": name, "token": token,
                                                       "csrf_token": CSRF.search(form).group(1)})
        assert signed.status_code == 303
        pages[name] = browser.get(f"/review/referrals/{rid}").get_data(as_text=True)

    assert "Marisol" in pages["cora"] and "1984-03-17" not in pages["cora"]
    assert "food insecurity" in pages["cora"]  # not a sensitive service: its reason is shown
    assert "alcohol" not in pages["cal"] and "withheld" in pages["cal"]
    assert "1984-03-17" in pages["sam"] and "alcohol" in pages["sam"]  # a steward sees the page whole
