"""``POST /v1/referrals``: intake through the match decision, retries, the minimum data set, who may send."""

from __future__ import annotations

import pytest

from conftest import record
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def post(client, network, body, who="hub-stmarys"):
    return client.post("/v1/referrals", json=body, headers=network.headers[who])


def test_a_referral_for_a_new_person_is_submitted_with_its_person_and_due_times(net_client, network, net_services):
    response = post(net_client, network, referral_body(urgency="discharge"))

    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "submitted" and body["gate"] is None and body["review_case_id"] is None
    assert body["person_id"] and body["reference"].startswith("REF-2026-")
    # Discharge: triage within 4 business hours of Monday 10:00 in Atlanta: 14:00 local, 19:00 UTC.
    assert body["expected_triage_by"] == "2026-11-23T19:00:00+00:00"
    assert body["record"] == {"source_system": "st-marys-ehr", "source_record_id": "MRN-SM-1"}
    assert [h["kind"] for h in body["history"]] == ["intake"]
    stored = net_services.matching.index().get(("st-marys-ehr", "MRN-SM-1"))
    assert stored.person_id == body["person_id"]


def test_the_same_requester_id_again_is_a_retry_that_returns_the_same_referral(net_client, network, net_services):
    first = post(net_client, network, referral_body()).get_json()

    again = post(net_client, network, referral_body(reason="sent twice by the interface engine"))

    assert again.status_code == 200
    assert again.get_json()["referral_id"] == first["referral_id"]
    assert net_services.store.referrals.count(now=net_services.clock.now(), open_states=["submitted"]) == 1
    assert len(net_services.store.audit.events("referral")) == 1


def test_a_second_referral_for_a_known_person_links_to_the_same_person(net_client, network):
    first = post(net_client, network, referral_body("marisol", "SM-1")).get_json()
    again = referral_body("marisol", "SM-2", performer="homebase", service_type="housing")
    again["person"] = record("marisol", "st-marys-ehr", "MRN-SM-1")  # the hospital's same record

    second = post(net_client, network, again).get_json()

    assert second["referral_id"] != first["referral_id"]
    assert second["person_id"] == first["person_id"]


@pytest.mark.parametrize("urgency, service_type, drop, missing", [
    ("routine", "food", ["consent"], {"consent"}),
    ("routine", "food", ["reason", "consent"], {"reason", "consent"}),
    ("discharge", "food", ["service_address", "requester_contact"],
     {"service_address", "requester_contact.name", "requester_contact.phone"}),
    ("routine", "home-meals", ["service_address"], {"service_address"}),
])
def test_a_referral_without_its_minimum_data_set_is_refused_naming_every_missing_field(
        net_client, network, net_services, urgency, service_type, drop, missing):
    body = referral_body(urgency=urgency, service_type=service_type)
    for field in drop:
        body.pop(field)

    response = post(net_client, network, body)

    error = assert_error(response, 422, "minimum_data_set")
    assert set(error["errors"]) == missing
    assert net_services.store.counts()["records"] == 0, "nothing half-written: not even the person's record"


def test_a_discharge_contact_without_a_phone_is_incomplete(net_client, network):
    body = referral_body(urgency="discharge", requester_contact={"name": "Desk", "phone": "  "})

    error = assert_error(post(net_client, network, body), 422, "minimum_data_set")

    assert set(error["errors"]) == {"requester_contact.phone"}


def test_bad_fields_are_named_by_their_path_and_never_echoed(net_client, network, net_services):
    body = referral_body(urgency="soon", consent="maybe", colour="red")
    body["person"]["birth_date"] = "17/03/1984"
    body["requester_contact"] = {"name": "Desk", "fax": "1"}

    error = assert_error(post(net_client, network, body), 422, "validation_error")

    assert set(error["errors"]) == {"urgency", "consent", "colour", "person.birth_date", "requester_contact.fax"}
    assert "17/03/1984" not in str(error)
    assert net_services.store.counts()["records"] == 0


@pytest.mark.parametrize("change, field", [
    ({"performer": "nowhere"}, "performer"),
    ({"service_type": "housing"}, "service_type"),  # the food bank performs food and home-meals only
])
def test_an_unknown_performer_or_a_service_it_does_not_perform_is_refused(net_client, network, change, field):
    error = assert_error(post(net_client, network, referral_body(**change)), 422, "validation_error")

    assert field in error["errors"]


def test_a_hub_sends_referrals_only_as_its_own_organisation(net_client, network, net_services):
    error = assert_error(post(net_client, network, referral_body(), who="hub-foodbank"), 403, "forbidden")

    assert "st-marys" in error["message"] or "foodbank" in error["message"]
    assert net_services.store.counts()["records"] == 0


def test_a_steward_sends_no_referrals(net_client, network):
    assert_error(post(net_client, network, referral_body(), who="sam"), 403, "forbidden")


def test_an_admin_may_send_for_any_requester(net_client, network):
    assert post(net_client, network, referral_body(), who="root").status_code == 201


def test_intake_needs_a_token(net_client, network):
    assert_error(net_client.post("/v1/referrals", json=referral_body()), 401, "unauthorized")
