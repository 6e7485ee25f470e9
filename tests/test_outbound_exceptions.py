"""The outbound exception queue (issue 15, point 3): dead messages as one pattern per (partner, message type, error),
pause and resume with the partner's view stale since when, manual status reports, and back-posts in event order,
against a real partner on loopback."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from conftest import record
from exchange_world import Partner
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_delivery import add_partner, drain

PERSON = record("theodore", "st-marys-ehr", "MRN-1")


@pytest.fixture
def partner(net_services, network, clock):
    """St Mary's own system, hearing of every referral it requested; ``broken`` states answer 400."""
    endpoint = Partner(now=lambda: clock.now().timestamp())
    endpoint.partner_id, endpoint.secret = add_partner(net_services, url=endpoint.url)
    endpoint.broken = set()
    endpoint.answer = lambda r: 400 if r.state in endpoint.broken else 200
    yield endpoint
    endpoint.close()


def submit(client, network, ref, urgency="routine") -> str:
    response = client.post("/v1/referrals", json=referral_body("theodore", ref, person=PERSON, urgency=urgency),
                           headers=network.headers["hub-stmarys"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()["referral_id"]


def step(client, network, referral_id, state, clock, **body):
    clock.advance(timedelta(minutes=1))
    response = client.post(f"/v1/referrals/{referral_id}/status", json={"state": state, **body},
                           headers=network.headers["hub-foodbank"])
    assert response.status_code == 200, response.get_json()


def deliver(services):
    return drain(services.delivery)


def post(client, network, url, body=None, who="root"):
    return client.post(url, json=body if body is not None else {}, headers=network.headers[who])


def test_a_rejected_message_type_is_one_pattern_reported_by_hand_and_back_posted_in_event_order(
        net_client, network, net_services, partner, clock):
    partner.broken = {"accepted"}
    held = [submit(net_client, network, f"SM-{i}") for i in range(1, 4)]
    flowing = submit(net_client, network, "SM-9")
    for referral in held:
        for state in ("acknowledged", "accepted", "in_progress"):
            step(net_client, network, referral, state, clock)
    step(net_client, network, flowing, "acknowledged", clock)
    step(net_client, network, flowing, "in_triage", clock)

    deliver(net_services)

    queue = net_client.get("/v1/outbound-exceptions", headers=network.headers["root"]).get_json()
    assert queue["total"] == 1, "one broken message type is one pattern, not a row per message"
    pattern = queue["patterns"][0]
    assert (pattern["partner_id"], pattern["message_type"], pattern["error_code"]) == (
        partner.partner_id, "accepted", "http_400")
    assert pattern["count"] == 3 and pattern["referrals_total"] == 3 and pattern["state"] == "open"
    assert sorted(r["referral_id"] for r in pattern["referrals"]) == sorted(held)
    dead_at = sorted(m["dead_at"] for r in held for m in net_services.store.outbox.of_referral(r) if m["dead_at"])
    assert (pattern["first_dead_at"], pattern["last_dead_at"]) == (dead_at[0].isoformat(), dead_at[-1].isoformat())
    assert pattern["severity"] == "medium" and pattern["owner"] == "integration-desk"
    got = Counter(r.state for r in partner.accepted() if r["body"]["referral_id"] == flowing)
    assert got == {"submitted": 1, "acknowledged": 1, "in_triage": 1}, "other types keep flowing"
    assert not [r for r in partner.accepted() if r.state == "in_progress"], "held behind the dead accepted"

    # While the feed is down, the food bank's coordinator phones St Mary's.
    told = post(net_client, network, f"/v1/referrals/{held[0]}/manual-reports",
                {"partner_id": partner.partner_id, "told_by": "Cora at the food bank", "method": "phone",
                 "state": "accepted", "reported_at": clock.now().isoformat(), "note": "told the discharge desk"},
                who="cora")
    assert told.status_code == 201, told.get_json()
    detail = net_client.get(f"/v1/outbound-exceptions/{pattern['pattern_id']}",
                            headers=network.headers["root"]).get_json()
    assert [r["report_id"] for r in detail["manual_reports"]] == [told.get_json()["report_id"]]
    view = net_client.get(f"/v1/referrals/{held[0]}", headers=network.headers["cora"]).get_json()["partner_views"]
    assert [(v["partner_id"], v["undelivered"], len(v["manual_reports"])) for v in view] == [
        (partner.partner_id, 2, 1)]
    assert view[0]["stale_since"] is not None

    # The partner fixes its endpoint; an admin back-posts the pattern.
    partner.broken = set()
    clock.advance(timedelta(hours=2))
    assert post(net_client, network, f"/v1/outbound-exceptions/{pattern['pattern_id']}/back-post",
                {"note": ""}).status_code == 422, "a back-post needs a note"
    done = post(net_client, network, f"/v1/outbound-exceptions/{pattern['pattern_id']}/back-post",
                {"note": "partner fixed its Scheduled mapping"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "closed" and done.get_json()["back_post"]["messages"] == 3
    deliver(net_services)

    for referral in held:
        states = [r.state for r in partner.accepted() if r["body"]["referral_id"] == referral]
        assert states == ["submitted", "acknowledged", "accepted", "in_progress"], "event order per stream"
        accepted = next(r for r in partner.accepted() if r["body"]["referral_id"] == referral
                        and r.state == "accepted")
        assert accepted["body"]["event_time"] < accepted["body"]["transmission_time"], "both times"
        stored = [m for m in net_services.store.outbox.of_referral(referral) if m["message_type"] == "accepted"][0]
        assert stored["back_post_id"] == done.get_json()["back_post"]["back_post_id"]
        assert stored["status"] == "acknowledged"
    keys = Counter(r["headers"]["Idempotency-Key"] for r in partner.accepted())
    assert keys and max(keys.values()) == 1, "each message acknowledged once per idempotency key"
    assert len(keys) == 3 * 4 + 3
    assert net_client.get(f"/v1/referrals/{held[0]}", headers=network.headers["cora"]).get_json()[
        "partner_views"][0]["stale_since"] is None


def test_pausing_a_partner_queues_its_messages_and_shows_its_view_stale_since_the_first_it_misses(
        net_client, network, net_services, partner, clock):
    referral = submit(net_client, network, "SM-1")
    deliver(net_services)
    paused = post(net_client, network, f"/v1/partners/{partner.partner_id}/pause", {"reason": "endpoint migration"})
    assert paused.status_code == 200 and paused.get_json()["status"] == "paused"
    step(net_client, network, referral, "acknowledged", clock)
    first_missed = clock.now()
    step(net_client, network, referral, "in_triage", clock)

    assert deliver(net_services) == {}, "nothing goes to a paused partner"
    [view] = net_client.get(f"/v1/referrals/{referral}", headers=network.headers["cora"]).get_json()["partner_views"]
    assert view["partner_status"] == "paused" and view["undelivered"] == 2 and view["dead"] == 0
    assert view["stale_since"] == first_missed.isoformat()
    state = net_services.outbound.partner_state(partner.partner_id)
    assert (state["stale_referrals"], state["undelivered"]) == (1, 2)

    resumed = post(net_client, network, f"/v1/partners/{partner.partner_id}/resume")
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "active"
    deliver(net_services)

    assert [r.state for r in partner.accepted()] == ["submitted", "acknowledged", "in_triage"]
    [view] = net_client.get(f"/v1/referrals/{referral}", headers=network.headers["cora"]).get_json()["partner_views"]
    assert view["stale_since"] is None and view["undelivered"] == 0


def test_pause_and_resume_are_audited_and_the_outbox_reads_partners_afresh(net_services, network, partner):
    net_services.outbox.subscribers()
    net_services.outbound.pause(partner.partner_id, "migration", "user:root")
    assert net_services.outbox._subscribers is None, "the outbox forgot its cached partners"
    net_services.outbound.resume(partner.partner_id, "user:root")
    rows = net_services.store.db.query("SELECT action, reason FROM audit_log WHERE entity_id = ? ORDER BY event_id",
                                       [partner.partner_id])
    assert [tuple(r) for r in rows][-2:] == [("partner.paused", "migration"), ("partner.resumed", None)]


def test_a_partner_back_post_sends_everything_it_holds_in_order_closes_its_patterns_and_resumes_it(
        net_client, network, net_services, partner, clock):
    partner.broken = {"acknowledged"}
    first, second = submit(net_client, network, "SM-1"), submit(net_client, network, "SM-2")
    step(net_client, network, first, "acknowledged", clock)
    step(net_client, network, second, "acknowledged", clock)
    deliver(net_services)
    assert post(net_client, network, f"/v1/partners/{partner.partner_id}/pause", {"reason": "fixing"}).status_code == 200
    step(net_client, network, first, "in_triage", clock)
    step(net_client, network, second, "in_triage", clock)
    assert net_services.outbound.page(state="open")["total"] == 1

    partner.broken = set()
    clock.advance(timedelta(hours=1))
    assert post(net_client, network, f"/v1/partners/{partner.partner_id}/back-post", {"note": " "}).status_code == 422
    done = post(net_client, network, f"/v1/partners/{partner.partner_id}/back-post", {"note": "mapping fixed"})
    assert done.status_code == 200, done.get_json()
    answer = done.get_json()
    assert answer["status"] == "active", "a partner back-post resumes it"
    assert answer["back_post"]["messages"] == 4 and len(answer["back_post"]["patterns_closed"]) == 1
    deliver(net_services)

    for referral in (first, second):
        got = [r for r in partner.accepted() if r["body"]["referral_id"] == referral]
        assert [r.state for r in got] == ["submitted", "acknowledged", "in_triage"]
        assert all(r["body"]["event_time"] < r["body"]["transmission_time"] for r in got[1:])
    assert net_services.outbound.page(state="open")["total"] == 0
    closed = net_services.outbound.page(state="closed")["patterns"][0]
    assert closed["close_note"] == "mapping fixed" and closed["back_post_id"] == answer["back_post"]["back_post_id"]


def test_a_later_dead_message_joins_the_open_pattern_and_a_closed_pattern_is_not_reopened(
        net_client, network, net_services, partner, clock):
    partner.broken = {"acknowledged"}
    first = submit(net_client, network, "SM-1")
    step(net_client, network, first, "acknowledged", clock)
    deliver(net_services)
    second = submit(net_client, network, "SM-2", urgency="discharge")
    step(net_client, network, second, "acknowledged", clock)
    deliver(net_services)
    [pattern] = net_services.outbound.page()["patterns"]
    assert pattern["count"] == 2 and pattern["severity"] == "high", "a discharge referral raises the pattern"
    assert pattern["due_at"] == pattern["opened_at"] + timedelta(hours=4)

    net_services.outbound.back_post_pattern(pattern["pattern_id"], "tried again", "user:root")
    deliver(net_services)  # still broken: both die again

    patterns = net_services.outbound.page()["patterns"]
    assert [(p["state"], p["count"]) for p in patterns] == [("open", 2), ("closed", 2)]
    again = post(net_client, network, f"/v1/outbound-exceptions/{pattern['pattern_id']}/back-post", {"note": "x"})
    assert again.status_code == 409


@pytest.mark.parametrize("state, reason, urgency, expected", [
    ("declined", "no-capacity", "routine", "high"),
    ("on_hold", "information-incomplete", "routine", "high"),
    ("on_hold", "waitlist", "routine", "low"),
    ("accepted", None, "discharge", "high"),
    ("completed", None, "routine", "medium"),
    ("acknowledged", None, "urgent", "low"),
])
def test_severity_follows_coordination_consequence(state, reason, urgency, expected):
    from mpi.exchange.outbound_vocab import severity_of

    assert severity_of(state, reason, urgency).value == expected


def _report(partner_id, **changes):
    return {"partner_id": partner_id, "told_by": "Cora", "method": "fax", "state": "accepted",
            "reported_at": "2026-11-23T14:00:00+00:00", "note": "faxed the discharge desk", **changes}


def test_a_manual_report_names_every_bad_field_and_writes_nothing(net_client, network, net_services, partner, clock):
    referral = submit(net_client, network, "SM-1")
    future = (clock.now() + timedelta(minutes=5)).isoformat()
    bad = post(net_client, network, f"/v1/referrals/{referral}/manual-reports",
               _report("nobody", told_by="", method="pigeon", state="lost", reported_at="yesterday", note=""),
               who="cora")
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"told_by", "method", "state", "reported_at", "note"}
    unknown = post(net_client, network, f"/v1/referrals/{referral}/manual-reports",
                   _report("nobody", reported_at=future), who="cora")
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"] == {"partner_id": ["no such partner"],
                                            "reported_at": ["must not be in the future"]}
    assert net_services.store.manual_reports.of_referral(referral) == []

    ok = post(net_client, network, f"/v1/referrals/{referral}/manual-reports", _report(partner.partner_id), who="cora")
    assert ok.status_code == 201
    listed = net_client.get(f"/v1/referrals/{referral}/manual-reports", headers=network.headers["hub-stmarys"])
    assert [r["report_id"] for r in listed.get_json()["manual_reports"]] == [ok.get_json()["report_id"]]
    audit = net_services.store.db.query("SELECT action, actor FROM audit_log WHERE entity_id = ? AND action = ?",
                                        [referral, "manual_report.recorded"])
    assert [tuple(a) for a in audit] == [("manual_report.recorded", "user:cora")]


def test_who_may_record_a_manual_report(net_client, network, net_services, partner, clock):
    referral = submit(net_client, network, "SM-1")
    url = f"/v1/referrals/{referral}/manual-reports"
    outcomes = {who: post(net_client, network, url, _report(partner.partner_id), who=who).status_code
                for who in ("cora", "root", "hub-stmarys", "sam", "hub-homebase")}
    assert outcomes == {"cora": 201, "root": 201, "hub-stmarys": 403, "sam": 403, "hub-homebase": 404}


def test_the_outbound_routes_are_an_admins(net_client, network, partner):
    for who in ("cora", "sam", "hub-stmarys"):
        assert net_client.get("/v1/outbound-exceptions", headers=network.headers[who]).status_code == 403
        assert post(net_client, network, f"/v1/partners/{partner.partner_id}/pause", {"reason": "x"},
                    who=who).status_code == 403
    assert net_client.get("/v1/outbound-exceptions").status_code == 401
    assert post(net_client, network, "/v1/partners/nobody/pause", {"reason": "x"}).status_code == 404
    assert post(net_client, network, f"/v1/partners/{partner.partner_id}/pause", {}).status_code == 422
    assert net_client.get("/v1/outbound-exceptions/OP99999999", headers=network.headers["root"]).status_code == 404


def test_a_member_partner_of_a_third_organisation_is_not_shown_to_the_referrals_sides(
        net_client, network, net_services, partner, clock):
    referral = submit(net_client, network, "SM-1")
    add_partner(net_services, organisation="homebase", subscriptions=("member",), partner_id="homebase-feed")
    held = net_client.post("/v1/records", json=record("theodore", "homebase-hmis", "HB-1"),
                           headers=network.headers["hub-homebase"])
    assert held.status_code in (200, 201), held.get_json()
    step(net_client, network, referral, "acknowledged", clock)

    views = {who: [v["partner_id"] for v in net_client.get(f"/v1/referrals/{referral}", headers=network.headers[
        who]).get_json()["partner_views"]] for who in ("cora", "root")}
    assert views["root"] == ["homebase-feed", partner.partner_id], "the member partner hears of it"
    assert views["cora"] == [partner.partner_id], "that the person is HomeBase's member is not the food bank's"


def test_governance_items_name_every_pattern(net_client, network, net_services, partner, clock):
    partner.broken = {"submitted"}
    submit(net_client, network, "SM-1")
    deliver(net_services)
    [item] = net_services.outbound.governance_items()
    assert (item.queue, item.source, item.message_type, item.severity, item.owner) == (
        "outbound", partner.partner_id, "submitted", "low", "integration-desk")
    assert item.resolved_at is None and item.due_at == item.opened_at + timedelta(hours=72)
