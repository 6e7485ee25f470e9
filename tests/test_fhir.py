"""The FHIR view of referrals: Tasks in every state, the gate's partner-safe view, redirect lineage, the
ServiceRequest of a chain, and the Task's history with its Provenance."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from fhir_referrals import PATHS, UNSAID, gated_after_start, gated_referral, referral_in, steps, valid
from mpi.referral_vocab import ReasonCode, ReferralState
from mpi.referrals import fhir
from mpi.referrals.lifecycle import STEPS
from mpi.settings import PROJECT_ROOT
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401

NEGATIVE = {"declined", "redirected", "closed_not_served", "on_hold", "expired", "cancelled", "entered_in_error"}


@pytest.fixture
def services(net_services):
    """The network's services, so that conftest's ``activate_policy`` moves their thresholds."""
    return net_services


def coding(concept: dict) -> tuple[str, str]:
    return concept["coding"][0]["code"], concept["coding"][0]["display"]


def test_every_state_has_a_path_to_it():
    assert set(PATHS) == {s.value for s in ReferralState}


def test_a_task_in_each_state_validates_and_reads_the_lifecycle_table(net_services, network, clock):
    for n, state in enumerate(PATHS):
        referral = referral_in(net_services, network, clock, state, f"SM-{n}")
        assert referral["state"] == state

        task = valid(fhir.task(referral))

        step = STEPS[ReferralState(state)]
        assert task["status"] == step.fhir_status, state
        assert coding(task["businessStatus"]) == (step.business_status, step.label), state
        assert task["businessStatus"]["text"] == step.label, state
        assert ("statusReason" in task) == (state in NEGATIVE), state
        if referral["state_reason"]:
            assert coding(task["statusReason"])[0] == referral["state_reason"], state
            assert task["statusReason"]["coding"][0]["system"] == fhir.REASON_SYSTEM, state
        if state in NEGATIVE:
            assert task["statusReason"]["text"], state


def test_a_task_names_both_organisations_its_order_its_person_and_its_times(net_services, network, clock):
    referral = referral_in(net_services, network, clock, "acknowledged", urgency="discharge")

    task = valid(fhir.task(referral))

    rid = referral["referral_id"]
    assert task["id"] == rid and task["intent"] == "order" and task["priority"] == "asap"
    assert task["meta"] == {"versionId": "2", "lastUpdated": fhir.instant(referral["updated_at"])}
    assert task["identifier"] == [
        {"system": "urn:closedloop-mpi:referral", "value": referral["reference"]},
        {"system": "urn:closedloop-mpi:requester:st-marys", "value": "SM-1"}]
    assert task["requester"] == {"reference": "Organization/st-marys"}
    assert task["owner"] == {"reference": "Organization/foodbank"}
    assert task["focus"] == {"reference": f"ServiceRequest/{rid}"}
    assert task["basedOn"] == [{"reference": f"ServiceRequest/{rid}"}] and "partOf" not in task
    assert task["for"] == {"reference": f"Patient/{referral['person_id']}"}
    assert task["authoredOn"] == "2026-11-23T15:00:00Z"
    assert task["lastModified"] == fhir.instant(referral["updated_at"])
    assert task["restriction"]["period"]["end"] == fhir.instant(referral["next_due_at"])


def test_task_priority_follows_urgency(net_services, network, clock):
    for urgency, priority in (("discharge", "asap"), ("urgent", "urgent"), ("routine", "routine")):
        referral = referral_in(net_services, network, clock, "submitted", f"SM-{urgency}", urgency=urgency)
        assert valid(fhir.task(referral))["priority"] == priority, urgency


def test_a_referral_returned_for_information_says_so_not_on_hold(net_services, network, clock):
    referral = referral_in(net_services, network, clock, "submitted")
    referral = steps(net_services, network, referral["referral_id"],
                     ("hub-foodbank", {"state": "on_hold", "reason": "information-incomplete"}))

    task = valid(fhir.task(referral))

    assert task["status"] == "on-hold"
    assert coding(task["businessStatus"]) == ("information-incomplete", "Returned for information")
    assert coding(task["statusReason"]) == ("information-incomplete", "Information incomplete")


def test_every_reason_code_has_words_for_partners():
    assert set(fhir.REASON_TEXT) == set(ReasonCode)


def test_a_redirect_closes_one_task_and_opens_its_successor_part_of_it_on_one_order(net_services, network, clock):
    first = referral_in(net_services, network, clock, "redirected")
    second_id = first["successor_ids"][0]
    steps(net_services, network, second_id,
          ("hub-homebase", {"state": "redirected", "reason": "out-of-service-area", "performer": "foodbank"}))
    hub = network.callers["hub-stmarys"]
    first, second = (net_services.referrals.get(r, hub) for r in (first["referral_id"], second_id))
    third = net_services.referrals.get(second["successor_ids"][0], hub)

    tasks = [valid(fhir.task(r)) for r in (first, second, third)]

    order = {"reference": f"ServiceRequest/{first['referral_id']}"}
    assert all(t["basedOn"] == [order] and t["focus"] == order for t in tasks)
    assert "partOf" not in tasks[0]
    assert tasks[1]["partOf"] == [{"reference": f"Task/{first['referral_id']}"}]
    assert tasks[2]["partOf"] == [{"reference": f"Task/{second['referral_id']}"}]
    assert [t["owner"]["reference"] for t in tasks] == ["Organization/foodbank", "Organization/homebase",
                                                        "Organization/foodbank"]
    assert [t["status"] for t in tasks] == ["rejected", "rejected", "requested"]
    assert coding(tasks[0]["businessStatus"]) == ("redirected", "Referred elsewhere")
    assert coding(tasks[0]["statusReason"]) == ("no-capacity", "No capacity")
    assert coding(tasks[1]["statusReason"]) == ("out-of-service-area", "Out of service area")

    request = valid(fhir.service_request(net_services.referrals.reads.chain(first["referral_id"], hub)))
    assert (request["id"], request["status"]) == (first["referral_id"], "active")
    assert request["performer"] == [{"reference": "Organization/foodbank"}]


def test_the_order_is_open_while_its_chain_is_and_closes_as_its_last_referral_did(net_services, network, clock):
    for state, status in (("in_progress", "active"), ("on_hold", "active"), ("completed", "completed"),
                          ("declined", "revoked"), ("cancelled", "revoked"), ("entered_in_error", "entered-in-error"),
                          ("expired", "revoked")):
        referral = referral_in(net_services, network, clock, state, f"SM-{state}")

        request = valid(fhir.service_request(net_services.referrals.reads.chain(referral["referral_id"],
                                                                                 network.callers["hub-foodbank"])))

        assert request["status"] == status, state
        assert request["subject"] == {"reference": f"Patient/{referral['person_id']}"}
        assert request["code"]["text"] == "food" and request["reasonCode"] == [{"text": referral["reason"]}]
        assert request["requester"] == {"reference": "Organization/st-marys"}
        assert request["identifier"] == fhir.task(referral)["identifier"]


def test_a_gated_task_says_under_review_and_nothing_of_identity(net_services, network, activate_policy):
    referral = gated_referral(net_services, network, activate_policy)
    referral = steps(net_services, network, referral["referral_id"], ("hub-foodbank", {"state": "accepted"}))

    task = valid(fhir.task(referral))

    assert task["status"] == "accepted"
    assert coding(task["businessStatus"]) == ("under-review", "Under review")
    assert "for" not in task
    text = json.dumps(task).lower()
    assert referral["review_case_id"].lower() not in text
    assert not [word for word in UNSAID if word in text]


def test_a_gated_order_names_the_requesters_record_instead_of_a_person(net_services, network, activate_policy):
    referral = gated_referral(net_services, network, activate_policy)

    request = valid(fhir.service_request(net_services.referrals.reads.chain(referral["referral_id"],
                                                                             network.callers["hub-stmarys"])))

    assert request["subject"] == {"identifier": {"system": "urn:closedloop-mpi:record:st-marys-ehr",
                                                 "value": "MRN-SM-2"}, "display": "Patient"}
    assert not [word for word in UNSAID if word in json.dumps(request).lower()]


def test_a_referral_gated_after_its_service_started_is_on_hold_under_review(net_services, network, clock):
    referral = gated_after_start(net_services, network, clock)

    task = valid(fhir.task(referral))

    assert task["status"] == "on-hold"
    assert task["statusReason"] == {"text": "Under review"}
    assert coding(task["businessStatus"]) == ("under-review", "Under review")
    assert "for" not in task


def test_history_has_one_task_version_and_one_provenance_per_change(net_services, network, clock):
    referral = referral_in(net_services, network, clock, "submitted")
    received = referral["received_at"]
    clock.advance(timedelta(hours=3))
    referral = steps(net_services, network, referral["referral_id"],
                     ("hub-foodbank", {"state": "acknowledged", "event_time": (received + timedelta(hours=1))
                                       .isoformat()}),
                     ("hub-foodbank", {"state": "declined", "reason": "no-capacity"}))
    referral = net_services.referrals.get(referral["referral_id"], network.callers["hub-foodbank"])

    bundle = valid(fhir.task_history(referral, "https://mpi.example/fhir"))

    tasks = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Task"]
    made = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"]
    assert bundle["type"] == "history" and bundle["total"] == len(referral["history"]) == 3
    assert [t["meta"]["versionId"] for t in tasks] == ["3", "2", "1"]
    assert [t["status"] for t in tasks] == ["rejected", "received", "requested"]
    assert tasks[0] == fhir.task(referral)
    assert "statusReason" not in tasks[1] and coding(tasks[0]["statusReason"])[0] == "no-capacity"
    rid = referral["referral_id"]
    assert [p["target"] for p in made] == [[{"reference": f"Task/{rid}/_history/{v}"}] for v in (3, 2, 1)]
    acknowledged = made[1]
    assert acknowledged["occurredDateTime"] == fhir.instant(received + timedelta(hours=1))
    assert acknowledged["recorded"] == fhir.instant(received + timedelta(hours=3))
    assert acknowledged["agent"] == [{"who": {"display": "hub-foodbank"}}]
    assert [p["activity"]["coding"][0]["code"] for p in made] == ["UPDATE", "UPDATE", "CREATE"]
    assert len({e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"}) == 3
    assert fhir.task_version(referral, "2") == tasks[1]


def test_history_of_a_gated_referral_shows_review_as_the_partner_sees_it(net_services, network, activate_policy):
    referral = gated_referral(net_services, network, activate_policy)
    case = net_services.cases.get(referral["review_case_id"])
    person = case["candidates"][0]["person_id"]
    net_services.cases.resolve_linked(case["case_id"], person, "user:sam", "same client", case["version"])
    referral = net_services.referrals.get(referral["referral_id"], network.callers["hub-stmarys"])
    assert referral["gate"] is None and [h["kind"] for h in referral["history"]] == ["intake", "lift"]

    bundle = valid(fhir.task_history(referral, "https://mpi.example/fhir"))

    now, then = (e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Task")
    assert coding(then["businessStatus"])[0] == "under-review" and "for" not in then
    assert coding(now["businessStatus"])[0] == "submitted" and now["for"] == {"reference": f"Patient/{person}"}
    lifted = bundle["entry"][1]["resource"]
    assert lifted["agent"] == [{"who": {"display": "closedloop-mpi"}}]
    text = json.dumps(bundle).lower()
    assert referral["review_case_id"].lower() not in text
    assert not [word for word in UNSAID if word in text]


def test_a_version_the_task_never_had_is_not_found(net_services, network, clock):
    referral = referral_in(net_services, network, clock, "submitted")

    with pytest.raises(fhir.NotFound):
        fhir.task_version(referral, "2")


def test_the_docs_show_the_mapping_as_the_code_has_it():
    assert fhir.markdown_table() in (PROJECT_ROOT / "docs" / "fhir.md").read_text(encoding="utf-8")
