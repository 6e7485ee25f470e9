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
    assert pattern["first_dead_at"] <= pattern["last_dead_at"]
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
