"""The lifecycle's guards over HTTP: sides, transitions, reasons, notes, event times, returns, reopening, scoping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mpi.referral_vocab import ReferralState
from mpi.referrals.lifecycle import STEPS, next_states
from referral_network import MONDAY_10AM, clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


@pytest.fixture
def referral(net_client, network) -> str:
    """A routine food referral from St Mary's to the food bank, submitted Monday 10:00."""
    response = net_client.post("/v1/referrals", json=referral_body(), headers=network.headers["hub-stmarys"])
    assert response.status_code == 201
    return response.get_json()["referral_id"]


def step(client, network, referral_id, who, **body):
    return client.post(f"/v1/referrals/{referral_id}/status", json=body, headers=network.headers[who])


def walk(client, network, referral_id, *states, who="hub-foodbank"):
    for state in states:
        response = step(client, network, referral_id, who, state=state)
        assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- sides -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["acknowledged", "in_triage", "accepted", "declined", "on_hold"])
def test_the_requester_may_not_take_a_performers_step_and_is_told_who_may(net_client, network, referral, state):
    response = step(net_client, network, referral, "hub-stmarys", state=state, reason=(
        STEPS[ReferralState(state)].reasons[0].value if STEPS[ReferralState(state)].reasons else None))

    error = assert_error(response, 403, "forbidden")
    assert "performer (foodbank)" in error["message"]


def test_the_performer_may_not_cancel_for_the_requester(net_client, network, referral):
    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="cancelled",
                              reason="need-resolved"), 403, "forbidden")

    assert "requester (st-marys)" in error["message"]


def test_the_requester_cancels_with_a_reason_and_the_party_follows_from_it(net_client, network, referral):
    body = step(net_client, network, referral, "hub-stmarys", state="cancelled", reason="patient-moved").get_json()

    assert (body["state"], body["state_reason"], body["state_party"]) == ("cancelled", "patient-moved", "client")
    assert body["closed_at"] is not None


def test_only_the_system_expires_a_referral(net_client, network, referral):
    for who in ("hub-foodbank", "hub-stmarys", "root"):
        response = step(net_client, network, referral, who, state="expired", reason="expired-no-response")
        assert_error(response, 403, "forbidden")


def test_a_coordinator_of_the_performer_takes_its_steps(net_client, network, referral):
    assert step(net_client, network, referral, "cora", state="acknowledged").status_code == 200


def test_a_steward_reads_referrals_but_takes_no_step(net_client, network, referral):
    assert net_client.get(f"/v1/referrals/{referral}", headers=network.headers["sam"]).status_code == 200
    assert_error(step(net_client, network, referral, "sam", state="acknowledged"), 403, "forbidden")


# -- transitions -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, refused", [
    ((), "completed"),
    ((), "in_progress"),
    (("acknowledged",), "acknowledged"),
    (("accepted",), "in_triage"),
    (("accepted", "in_progress"), "declined"),
])
def test_a_transition_the_lifecycle_does_not_allow_is_409_listing_the_allowed_states(
        net_client, network, referral, path, refused):
    current = walk(net_client, network, referral, *path)["state"] if path else "submitted"

    error = assert_error(step(net_client, network, referral, "hub-foodbank", state=refused), 409,
                         "invalid_transition")

    allowed = [s.value for s in next_states(current)]
    assert error["errors"]["state"] == [f"allowed from {current}: {', '.join(allowed)}"]
    assert refused not in allowed


def test_the_closed_loop_from_acknowledged_to_completed_meets_every_clock(net_client, network, referral, clock):
    clock.advance(timedelta(hours=1))
    walk(net_client, network, referral, "acknowledged")
    clock.advance(timedelta(hours=2))
    walk(net_client, network, referral, "in_triage", "accepted")
    clock.advance(timedelta(days=1))  # Tuesday 13:00
    body = walk(net_client, network, referral, "in_progress", "completed")

    assert body["state"] == "completed"
    clocks = body["clocks"]
    assert clocks["acknowledge"]["business_hours_taken"] == 1.0
    assert clocks["triage"]["business_hours_taken"] == 3.0
    assert clocks["first_contact"]["business_hours_taken"] == 11.0  # Mon 10-17 (7 h) + Tue 9-13 (4 h)
    assert all(c["within_target"] for name, c in clocks.items() if name != "expiry")
    history = net_client.get(f"/v1/referrals/{referral}", headers=network.headers["hub-stmarys"]).get_json()["history"]
    assert [h["to_state"] for h in history] == ["submitted", "acknowledged", "in_triage", "accepted", "in_progress",
                                                "completed"]
    assert [h["seq"] for h in history] == [1, 2, 3, 4, 5, 6]


# -- reasons, notes, times ----------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["declined", "on_hold"])
def test_a_negative_or_paused_state_needs_a_coded_reason(net_client, network, referral, state):
    error = assert_error(step(net_client, network, referral, "hub-foodbank", state=state), 422, "validation_error")

    assert list(error["errors"]) == ["reason"]
    assert "no-capacity" in error["errors"]["reason"][0]


def test_a_reason_the_state_does_not_take_is_refused(net_client, network, referral):
    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="declined", reason="deceased"),
                         422, "validation_error")

    assert list(error["errors"]) == ["reason"]


def test_a_reason_outside_the_code_list_is_refused_by_the_schema(net_client, network, referral):
    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="declined", reason="too busy"),
                         422, "validation_error")

    assert list(error["errors"]) == ["reason"]


def test_entered_in_error_needs_a_note(net_client, network, referral):
    assert_error(step(net_client, network, referral, "hub-stmarys", state="entered_in_error"), 422,
                 "validation_error")

    body = step(net_client, network, referral, "hub-stmarys", state="entered_in_error",
                note="sent for the wrong patient").get_json()
    assert body["state"] == "entered_in_error"
    assert body["history"][-1]["note"] == "sent for the wrong patient"


def test_the_event_time_is_kept_beside_the_recorded_time(net_client, network, referral, clock):
    clock.advance(timedelta(hours=3))
    happened = MONDAY_10AM + timedelta(hours=1)

    body = step(net_client, network, referral, "hub-foodbank", state="acknowledged",
                event_time=happened.isoformat()).get_json()

    last = body["history"][-1]
    assert last["event_time"] == happened.isoformat()
    assert last["recorded_time"] == clock.now().isoformat()
    assert body["clocks"]["acknowledge"]["business_hours_taken"] == 1.0


@pytest.mark.parametrize("offset", [timedelta(hours=2), timedelta(hours=-1)], ids=["future", "before-received"])
def test_an_event_time_in_the_future_or_before_the_referral_is_refused(net_client, network, referral, offset):
    when = (MONDAY_10AM + offset).isoformat()

    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="acknowledged", event_time=when),
                         422, "validation_error")

    assert list(error["errors"]) == ["event_time"]


def test_an_event_time_before_the_last_change_is_refused(net_client, network, referral, clock):
    clock.advance(timedelta(hours=2))
    walk(net_client, network, referral, "acknowledged")

    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="in_triage",
                              event_time=(MONDAY_10AM + timedelta(hours=1)).isoformat()), 422, "validation_error")

    assert list(error["errors"]) == ["event_time"]


# -- returned for information, correction ---------------------------------------------------------------------

def test_information_incomplete_returns_the_referral_and_the_correction_puts_it_back(
        net_client, network, referral, clock):
    walk(net_client, network, referral, "acknowledged", "in_triage")
    before = net_client.get(f"/v1/referrals/{referral}", headers=network.headers["hub-foodbank"]).get_json()
    returned = step(net_client, network, referral, "hub-foodbank", state="on_hold",
                    reason="information-incomplete").get_json()
    assert (returned["state"], returned["state_party"]) == ("on_hold", "provider")
    assert returned["next_due_at"] is None, "every clock stops while the requester corrects"

    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="accepted"), 409,
                         "invalid_transition")
    assert "correction" in error["message"]
    assert_error(net_client.post(f"/v1/referrals/{referral}/correction", json={"note": "x"},
                                 headers=network.headers["hub-foodbank"]), 403, "forbidden")

    clock.advance(timedelta(days=7))  # a week with the requester: no clock runs
    corrected = net_client.post(f"/v1/referrals/{referral}/correction",
                                json={"reason": "needs groceries delivered; lives alone", "note": "added detail"},
                                headers=network.headers["hub-stmarys"]).get_json()

    assert corrected["state"] == "in_triage"
    assert corrected["reason"] == "needs groceries delivered; lives alone"
    assert corrected["history"][-1]["kind"] == "correction"
    # The first-contact clock lost exactly the week it stood still.
    old_due = before["clocks"]["first_contact"]["due_at"]
    assert corrected["clocks"]["first_contact"]["due_at"] > old_due
    assert corrected["overdue"] is False


def test_a_correction_of_a_referral_not_returned_is_invalid(net_client, network, referral):
    assert_error(net_client.post(f"/v1/referrals/{referral}/correction", json={"note": "x"},
                                 headers=network.headers["hub-stmarys"]), 409, "invalid_transition")


def test_a_correction_that_still_lacks_the_minimum_data_set_is_refused(net_client, network, referral):
    step(net_client, network, referral, "hub-foodbank", state="on_hold", reason="information-incomplete")

    error = assert_error(net_client.post(f"/v1/referrals/{referral}/correction", json={"consent": None},
                                         headers=network.headers["hub-stmarys"]), 422, "minimum_data_set")

    assert list(error["errors"]) == ["consent"]


# -- reopening ---------------------------------------------------------------------------------------------------

def test_a_declined_referral_reopens_by_the_performer_back_where_it_closed(net_client, network, referral):
    walk(net_client, network, referral, "acknowledged", "in_triage")
    step(net_client, network, referral, "hub-foodbank", state="declined", reason="no-capacity")
    assert_error(net_client.post(f"/v1/referrals/{referral}/reopen", json={"reason": "a slot opened"},
                                 headers=network.headers["hub-stmarys"]), 403, "forbidden")
    assert_error(net_client.post(f"/v1/referrals/{referral}/reopen", json={},
                                 headers=network.headers["hub-foodbank"]), 422, "validation_error")

    body = net_client.post(f"/v1/referrals/{referral}/reopen", json={"reason": "a slot opened"},
                           headers=network.headers["hub-foodbank"]).get_json()

    assert (body["state"], body["state_reason"], body["closed_at"]) == ("in_triage", None, None)
    assert body["history"][-1]["kind"] == "reopen" and body["history"][-1]["note"] == "a slot opened"


def test_an_open_referral_does_not_reopen(net_client, network, referral):
    assert_error(net_client.post(f"/v1/referrals/{referral}/reopen", json={"reason": "x"},
                                 headers=network.headers["hub-foodbank"]), 409, "invalid_transition")


# -- redirects -------------------------------------------------------------------------------------------------------

def test_a_redirect_closes_this_referral_and_opens_a_successor_linked_both_ways(net_client, network, referral):
    walk(net_client, network, referral, "acknowledged")
    assert_error(step(net_client, network, referral, "hub-foodbank", state="redirected", reason="no-capacity"),
                 422, "validation_error")

    closed = step(net_client, network, referral, "hub-foodbank", state="redirected", reason="no-capacity",
                  performer="homebase").get_json()

    assert closed["state"] == "redirected" and len(closed["successor_ids"]) == 1
    successor_id = closed["successor_ids"][0]
    successor = net_client.get(f"/v1/referrals/{successor_id}", headers=network.headers["hub-homebase"]).get_json()
    assert (successor["performer"], successor["state"], successor["predecessor_id"]) == (
        "homebase", "submitted", referral)
    assert successor["person_id"] == closed["person_id"]
    assert [(r["referral_id"], r["performer"]) for r in successor["lineage"]] == [
        (referral, "foodbank"), (successor_id, "homebase")]
    assert successor["requester_referral_id"] == closed["requester_referral_id"]
    # The successor is homebase's now: the food bank no longer sees it, the requester sees both.
    assert_error(net_client.get(f"/v1/referrals/{successor_id}", headers=network.headers["hub-foodbank"]), 404,
                 "not_found")
    mine = net_client.get("/v1/referrals", headers=network.headers["hub-stmarys"]).get_json()
    assert {r["referral_id"] for r in mine["referrals"]} == {referral, successor_id}
    # A retry of the original still answers the original.
    again = net_client.post("/v1/referrals", json=referral_body(), headers=network.headers["hub-stmarys"])
    assert again.status_code == 200 and again.get_json()["referral_id"] == referral


def test_a_redirect_to_an_organisation_that_does_not_perform_the_service_is_refused(net_client, network, referral):
    error = assert_error(step(net_client, network, referral, "hub-foodbank", state="redirected",
                              reason="no-capacity", performer="bluepath"), 422, "validation_error")

    assert "service_type" in error["errors"]


# -- scoping ---------------------------------------------------------------------------------------------------------

def test_another_organisations_referral_is_not_found(net_client, network, referral):
    for path, method in ((f"/v1/referrals/{referral}", "get"), (f"/v1/referrals/{referral}/status", "post")):
        response = getattr(net_client, method)(path, json={"state": "acknowledged"},
                                               headers=network.headers["hub-homebase"])
        assert_error(response, 404, "not_found")


def test_lists_hold_only_the_callers_referrals_and_filter(net_client, network, referral):
    other = referral_body("theodore", "SM-2", performer="homebase", service_type="housing", urgency="urgent")
    net_client.post("/v1/referrals", json=other, headers=network.headers["hub-stmarys"])

    food = net_client.get("/v1/referrals", headers=network.headers["hub-foodbank"]).get_json()
    urgent = net_client.get("/v1/referrals?urgency=urgent", headers=network.headers["hub-stmarys"]).get_json()
    bad = net_client.get("/v1/referrals?state=lost&limit=0", headers=network.headers["hub-stmarys"])

    assert [r["referral_id"] for r in food["referrals"]] == [referral] and food["total"] == 1
    assert [r["performer"] for r in urgent["referrals"]] == ["homebase"]
    assert set(assert_error(bad, 422, "validation_error")["errors"]) == {"state", "limit"}
