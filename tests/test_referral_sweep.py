"""The sweep on a controlled clock: reminders, escalations and expiry in the performer's business hours.

The food bank works Monday to Friday, 09:00-17:00 in Atlanta (UTC-5 in November),
with Georgia's public holidays: Thanksgiving (Thursday 2026-11-26) and the state
holiday the day after. Routine targets: acknowledge in 8 business hours (its
reminder at 6), triage in 16; a discharge referral expires unacknowledged after 8.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mpi.store.referrals import ReferralTable
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error
from test_referral_gate import NAME_ONLY, gated, two_marisols  # noqa: F401


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in Atlanta in November 2026 (EST, UTC-5), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc) + timedelta(hours=5)


def submit(net_services, network, clock, at: datetime, ref: str = "SM-1", **changes) -> dict:
    clock.set(at)
    referral, _ = net_services.referrals.submit(referral_body(ref=ref, **changes), network.callers["hub-stmarys"])
    return referral


def alerts(net_services) -> list[tuple[str, str, str]]:
    return sorted((a["referral_id"], a["clock"], a["kind"]) for a in net_services.store.alerts.page(limit=1000))


def test_a_reminder_goes_out_as_the_target_nears_and_only_once(net_services, network, clock):
    referral = submit(net_services, network, clock, local(23, 10))
    assert referral["clocks"]["acknowledge"]["due_at"] == local(24, 10)  # 8 business hours: Tuesday 10:00

    clock.set(local(23, 15, 59))
    assert net_services.sweep.run()["reminders"] == 0
    clock.set(local(23, 16))  # 6 of 8 hours gone
    first = net_services.sweep.run()
    second = net_services.sweep.run()

    assert (first["reminders"], first["escalations"]) == (1, 0)
    assert (second["reminders"], second["escalations"]) == (0, 0)
    [alert] = net_services.store.alerts.page()
    assert (alert["kind"], alert["clock"], alert["organisation"], alert["recipients"]) == (
        "reminder", "acknowledge", "foodbank", [])
    assert alert["due_at"] == local(24, 10)


def test_an_escalation_goes_to_the_performers_supervisors_once_the_target_passes(net_services, network, clock):
    referral = submit(net_services, network, clock, local(23, 10))
    clock.set(local(24, 10))
    assert net_services.sweep.run()["escalations"] == 0, "due now is not yet past due"
    clock.set(local(24, 10, 1))

    counts = net_services.sweep.run()
    net_services.sweep.run()

    assert counts["escalations"] == 1 and counts["reminders"] == 0
    [alert] = net_services.store.alerts.page(kind="escalation")
    assert (alert["referral_id"], alert["kind"], alert["recipients"]) == (referral["referral_id"], "escalation",
                                                                         ["fiona"])
    listed = net_services.referrals.page(network.callers["hub-foodbank"], overdue=True)
    assert [r["referral_id"] for r in listed["referrals"]] == [referral["referral_id"]]


def test_the_clocks_count_no_weekend(net_services, network, clock):
    referral = submit(net_services, network, clock, local(20, 15))  # Friday 15:00

    assert referral["clocks"]["acknowledge"]["due_at"] == local(23, 15)  # Friday 2 h + Monday 6 h
    clock.set(local(22, 23))  # late Sunday: 2 business hours gone
    assert net_services.sweep.run()["reminders"] == 0
    clock.set(local(23, 13))  # Monday 13:00: 6 hours gone
    assert net_services.sweep.run()["reminders"] == 1


def test_the_clocks_count_no_public_holiday(net_services, network, clock):
    referral = submit(net_services, network, clock, local(25, 15))  # Wednesday before Thanksgiving

    # Wednesday 2 h; Thursday (Thanksgiving) and Friday (Georgia's state holiday) and the weekend closed.
    assert referral["clocks"]["acknowledge"]["due_at"] == local(30, 15)
    clock.set(local(29, 12))
    assert net_services.sweep.run() | {"at": None} == {"expired": 0, "reminders": 0, "escalations": 0,
                                                         "gates_mended": 0, "exception_escalations": 0,
                                                         "at": None}


def test_a_discharge_referral_never_acknowledged_expires_by_the_system(net_services, network, clock, net_client):
    referral = submit(net_services, network, clock, local(23, 10), urgency="discharge")
    acknowledged = submit(net_services, network, clock, local(23, 10), ref="SM-2", urgency="discharge")
    net_services.referrals.change_status(acknowledged["referral_id"], {"state": "acknowledged"},
                                         network.callers["hub-foodbank"])
    assert referral["expiry_due_at"] == local(24, 10)  # 8 business hours: Monday 7 + Tuesday 1

    clock.set(local(24, 11))
    counts = net_services.sweep.run()
    again = net_services.sweep.run()

    assert counts["expired"] == 1 and again["expired"] == 0
    expired = net_client.get(f"/v1/referrals/{referral['referral_id']}",
                             headers=network.headers["hub-stmarys"]).get_json()
    assert (expired["state"], expired["state_reason"], expired["state_party"]) == (
        "expired", "expired-no-response", "system")
    last = expired["history"][-1]
    assert (last["actor"], last["event_time"], last["recorded_time"]) == (
        "system:sweep", local(24, 10).isoformat(), local(24, 11).isoformat())
    assert expired["version"] == 2
    assert net_services.referrals.get(acknowledged["referral_id"],
                                      network.callers["hub-foodbank"])["state"] == "acknowledged"
    audit = net_services.store.audit.events("referral", referral["referral_id"])
    assert audit[0]["action"] == "referral.status_changed" and audit[0]["detail"]["to_state"] == "expired"
    assert not any(a[0] == referral["referral_id"] for a in alerts(net_services)), "expired, not escalated"


def test_an_expired_referral_can_be_reopened_and_its_clocks_run_again(net_services, network, clock, net_client):
    referral = submit(net_services, network, clock, local(23, 10), urgency="discharge")
    clock.set(local(24, 11))
    net_services.sweep.run()

    reopened = net_client.post(f"/v1/referrals/{referral['referral_id']}/reopen", json={"reason": "resent by phone"},
                               headers=network.headers["hub-stmarys"]).get_json()

    assert reopened["state"] == "submitted"
    assert datetime.fromisoformat(reopened["expires_at"]) > local(24, 11)


def test_no_alert_for_the_first_contact_clock_while_the_referral_is_gated(net_services, network, clock, gated):
    clock.set(local(30, 12))  # a week later: every clock of the discharge referral long past

    net_services.sweep.run()

    mine = {(c, k) for r, c, k in alerts(net_services) if r == gated["referral_id"]}
    assert ("first_contact", "escalation") not in mine and ("first_contact", "reminder") not in mine
    assert ("acknowledge", "escalation") in mine or net_services.store.referrals.get(
        gated["referral_id"])["state"] == "expired"


def test_the_sweep_mends_a_gate_whose_case_closed_without_its_event(net_services, network, clock, gated,
                                                                    two_marisols):
    # A case closed behind the gate's back (as if its event was lost): the record linked, the case resolved.
    key = ("st-marys-ehr", "ED-77")
    with net_services.store.transaction():
        net_services.store.persons.set_link(*key, two_marisols[0], "MATCH", "MANUAL", None, None, [], None)
        net_services.store.cases.close(gated["review_case_id"], "resolved", "linked")
    net_services.writer._index = None  # the index is rebuilt from the store, as at the next start
    assert net_services.store.referrals.get(gated["referral_id"])["gate"] == "identity_pending"

    counts = net_services.sweep.run()

    assert counts["gates_mended"] == 1
    mended = net_services.store.referrals.get(gated["referral_id"])
    assert (mended["gate"], mended["person_id"]) == (None, two_marisols[0])


# -- alerts over the API -------------------------------------------------------------------------------------------

@pytest.fixture
def escalated(net_services, network, clock) -> dict:
    referral = submit(net_services, network, clock, local(23, 10))
    clock.set(local(24, 11))
    net_services.sweep.run()
    return referral


def test_an_organisation_reads_and_acknowledges_its_alerts_once(net_client, network, escalated):
    listed = net_client.get("/v1/alerts", headers=network.headers["fiona"]).get_json()
    mine = net_client.get("/v1/alerts?mine=true", headers=network.headers["fiona"]).get_json()
    other = net_client.get("/v1/alerts", headers=network.headers["hub-homebase"]).get_json()
    alert_id = listed["alerts"][0]["alert_id"]

    acked = net_client.post(f"/v1/alerts/{alert_id}/ack", headers=network.headers["fiona"]).get_json()
    again = net_client.post(f"/v1/alerts/{alert_id}/ack", headers=network.headers["cora"])

    assert listed["total"] == 1 and mine["total"] == 1 and other["total"] == 0
    assert acked["acknowledged_by"] == "user:fiona" and acked["acknowledged_at"] is not None
    assert "user:fiona" in assert_error(again, 409, "conflict")["message"]
    assert_error(net_client.post(f"/v1/alerts/{alert_id}/ack", headers=network.headers["hub-homebase"]), 404,
                 "not_found")


def test_expiry_is_set_based_so_one_sweep_expires_many(net_services, network, clock):
    for i in range(30):
        submit(net_services, network, clock, local(23, 10), ref=f"SM-{i}", urgency="discharge")
    clock.set(local(24, 11))

    assert net_services.sweep.run()["expired"] == 30
    assert isinstance(net_services.store.referrals, ReferralTable)
    assert net_services.store.referrals.count(now=clock.now(), open_states=[], states=["expired"]) == 30
