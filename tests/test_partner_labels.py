"""Inbound status updates in a partner's own labels (issue 15, point 4): mapped back through the partner's crosswalk
version in force at the event time into the one status-change path; an unknown label, or a lossy one its reason does
not resolve, is kept as an inbound exception naming ``label``, and the referral is unchanged."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mpi.exchange.crosswalk import AmbiguousLabel, CrosswalkVersion, UnknownLabel, state_for
from mpi.exchange.labels import takes_reason
from referral_network import MONDAY_10AM, clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

#: The food bank's system: v1 from January shows declined and redirected alike ("Declined": lossy).
V1 = ("state,reason,label\n"
      "acknowledged,,Received\n"
      "accepted,,Scheduled\n"
      "declined,,Declined\n"
      "redirected,,declined\n"
      "closed_not_served,unable-to-contact,Could not reach\n")
#: v2, from the day after MONDAY_10AM: its own words for acknowledged and accepted.
V2 = ("state,reason,label\n"
      "acknowledged,,Got it\n"
      "accepted,,Booked\n"
      "declined,,Declined\n"
      "redirected,,Referred elsewhere\n")
PARTNER = "foodbank-sys"


@pytest.fixture
def partner(net_services, network):
    net_services.partners.add({"partner_id": PARTNER, "organisation": "foodbank", "name": "Food bank system",
                               "endpoint": "http://127.0.0.1:9/hook", "format": "webhook",
                               "subscriptions": ["performer"]}, "test")
    net_services.partners.add_crosswalk_csv(PARTNER, V1, "2026-01-01", "test")
    net_services.partners.add_crosswalk_csv(PARTNER, V2, "2026-11-24", "test")
    return PARTNER


@pytest.fixture
def referral_id(net_client, network, partner) -> str:
    response = net_client.post("/v1/referrals", json=referral_body(), headers=network.headers["hub-stmarys"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()["referral_id"]


def update(client, network, body, who="hub-foodbank", partner_id=PARTNER):
    return client.post(f"/v1/partners/{partner_id}/status-updates", json=body, headers=network.headers[who])


def state_of(services, referral_id) -> str:
    return services.store.referrals.get(referral_id)["state"]


def test_a_known_label_moves_the_referral_through_the_status_path(net_client, network, net_services, referral_id):
    response = update(net_client, network, {"referral_id": referral_id, "label": "  RECEIVED ", "note": "seen"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["state"] == "acknowledged"
    assert state_of(net_services, referral_id) == "acknowledged"
    assert "X-Inbound-Exception" not in response.headers


def test_an_unknown_label_is_kept_as_an_inbound_exception_naming_label_and_the_referral_is_unchanged(
        net_client, network, net_services, referral_id):
    response = update(net_client, network, {"referral_id": referral_id, "label": "Triaged by nurse"})

    error = assert_error(response, 422, "unknown_label")
    assert list(error["errors"]) == ["label"]
    assert state_of(net_services, referral_id) == "submitted"
    item = net_services.inbound.get(response.headers["X-Inbound-Exception"])
    assert (item["kind"], item["error_code"], item["referral_id"]) == ("status_update", "unknown_label", referral_id)
    assert item["reasons"] == error["errors"] and '"Triaged by nurse"' in item["raw_body"]
    assert item["sender"] == "hub-foodbank" and item["state"] == "open"


def test_an_ambiguous_lossy_label_is_kept_unless_its_reason_resolves_it(net_client, network, net_services,
                                                                       referral_id):
    ambiguous = update(net_client, network, {"referral_id": referral_id, "label": "Declined"})
    assert_error(ambiguous, 422, "ambiguous_label")
    assert "declined, redirected" in ambiguous.get_json()["errors"]["label"][0]
    assert state_of(net_services, referral_id) == "submitted"
    assert net_services.inbound.get(ambiguous.headers["X-Inbound-Exception"])["error_code"] == "ambiguous_label"
    # no-capacity is a reason both a decline and a redirect take: still ambiguous.
    still = update(net_client, network, {"referral_id": referral_id, "label": "Declined", "reason": "no-capacity"})
    assert_error(still, 422, "ambiguous_label")

    resolved = update(net_client, network, {"referral_id": referral_id, "label": "Declined", "reason": "duplicate"})

    assert resolved.status_code == 200, resolved.get_json()
    referral = net_services.store.referrals.get(referral_id)
    assert (referral["state"], referral["state_reason"]) == ("declined", "duplicate")


def test_the_version_in_force_at_the_event_time_maps_the_label(net_client, network, net_services, clock,
                                                               referral_id):
    clock.advance(timedelta(days=2))  # v2 is in force from 2026-11-24
    # v1's word after v2 took over: unknown, never guessed.
    stale = update(net_client, network, {"referral_id": referral_id, "label": "Received"})
    assert_error(stale, 422, "unknown_label")
    assert "version 2" in stale.get_json()["errors"]["label"][0]
    assert state_of(net_services, referral_id) == "submitted"
    # ...but an event of Monday, told late, is read under v1, in force then.
    monday = (MONDAY_10AM + timedelta(hours=1)).isoformat()
    late = update(net_client, network, {"referral_id": referral_id, "label": "Received", "event_time": monday})
    assert late.status_code == 200, late.get_json()
    assert state_of(net_services, referral_id) == "acknowledged"
    # v2's own word today.
    booked = update(net_client, network, {"referral_id": referral_id, "label": "booked"})
    assert booked.status_code == 200, booked.get_json()
    assert state_of(net_services, referral_id) == "accepted"


def test_a_mapped_update_that_is_an_invalid_transition_is_kept_as_the_intake_keeps_it(
        net_client, network, net_services, referral_id):
    # "Could not reach" maps to closed_not_served, which a submitted referral cannot enter.
    response = update(net_client, network, {"referral_id": referral_id, "label": "Could not reach",
                                            "reason": "unable-to-contact"})

    assert_error(response, 409, "invalid_transition")
    item = net_services.inbound.get(response.headers["X-Inbound-Exception"])
    assert (item["error_code"], item["referral_id"]) == ("invalid_transition", referral_id)
    assert state_of(net_services, referral_id) == "submitted"


def test_only_a_hub_of_the_partners_organisation_sends_its_labels(net_client, network, net_services, referral_id):
    other = update(net_client, network, {"referral_id": referral_id, "label": "Received"}, who="hub-stmarys")
    assert_error(other, 403, "forbidden")
    missing = update(net_client, network, {"referral_id": referral_id, "label": "Received"}, partner_id="nobody")
    assert_error(missing, 404, "not_found")
    assert state_of(net_services, referral_id) == "submitted"


def test_a_bad_body_names_every_field_and_is_kept(net_client, network, net_services, referral_id):
    response = update(net_client, network, {"label": "", "reason": "bogus", "extra": 1})

    error = assert_error(response, 422, "validation_error")
    assert {"referral_id", "label", "reason", "extra"} <= set(error["errors"])
    assert net_services.inbound.get(response.headers["X-Inbound-Exception"])["referral_id"] is None


def test_the_reverse_lookup_prefers_a_row_of_the_reason_and_never_guesses():
    version = CrosswalkVersion.from_stored({"version_id": 3, "effective_from": MONDAY_10AM.date(), "rows": [
        {"line": 2, "state": "declined", "reason": None, "label": "Declined"},
        {"line": 3, "state": "redirected", "reason": "redirected", "label": "Declined"},
        {"line": 4, "state": "closed_not_served", "reason": "unable-to-contact", "label": "No answer"}]})
    at = MONDAY_10AM
    assert state_for([version], "declined", "redirected", at, takes_reason)[:2] == ("redirected", "redirected")
    assert state_for([version], "DECLINED", "duplicate", at, takes_reason)[:2] == ("declined", "duplicate")
    assert state_for([version], "no  answer", None, at, takes_reason)[:2] == ("closed_not_served",
                                                                               "unable-to-contact")
    with pytest.raises(AmbiguousLabel):
        state_for([version], "Declined", None, at, takes_reason)
    with pytest.raises(UnknownLabel) as before:
        state_for([version], "Declined", None, at - timedelta(days=1), takes_reason)
    assert list(before.value.errors) == ["label"]


def test_logs_name_ids_never_a_note_or_the_body(net_client, network, net_services, referral_id, caplog):
    marker = "Zebediah-Quixworth"
    with caplog.at_level("DEBUG"):
        update(net_client, network, {"referral_id": referral_id, "label": "Received", "note": marker})
        update(net_client, network, {"referral_id": referral_id, "label": f"{marker} label", "note": marker})

    lines = [r.getMessage() for r in caplog.records]
    assert any(referral_id in line and "crosswalk version" in line for line in lines), "there are lines to check"
    assert any("inbound exception" in line for line in lines)
    assert not [line for line in lines if marker in line]
