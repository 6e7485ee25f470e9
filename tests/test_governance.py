"""Exception governance (issue 15, point 6): figures computed from the queues' items, escalation through the
tracker's alerts once a target passes, ``GET /v1/metrics/exchange`` and the gauges on ``/metrics``."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone


from exchange_world import Partner
from mpi.exchange.delivery import DeliveryPolicy, DeliveryWorker
from mpi.exchange.governance import Governance, GovernanceItem, measure
from referral_network import MONDAY_10AM, clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)


def item(item_id, opened_h, due_h, resolved_h=None, *, source="st-marys", kind="referral", severity="medium",
         queue="inbound") -> GovernanceItem:
    return GovernanceItem(queue, item_id, source, kind, severity, "integration-desk", T0 + opened_h * H,
                          T0 + due_h * H, None if resolved_h is None else T0 + resolved_h * H)


ITEMS = [
    item("IX1", 0, 4, 2, severity="high"),                # resolved in 2 h, within its target
    item("IX2", 1, 25, 30),                              # resolved in 29 h, 5 h late
    item("IX3", 2, 26, source="bluepath", kind="status_update"),  # open, past its target at T0 + 50 h
    item("IX4", 40, 112, source="st-marys", severity="low"),     # open, not due yet: outcome unknown
    item("IX5", 45, 69, 47),                             # resolved in 2 h
]


def test_figures_are_computed_from_the_items():
    figures = measure(ITEMS, T0, T0 + 100 * H, now=T0 + 50 * H)

    assert figures["volume"] == 5
    assert figures["volume_by_source"] == [{"source": "st-marys", "count": 4}, {"source": "bluepath", "count": 1}]
    # Open now: IX3 (48 h old) and IX4 (10 h old).
    assert figures["open"] == 2 and figures["overdue"] == 1
    assert figures["open_by_severity"] == {"high": 0, "medium": 1, "low": 1}
    assert figures["queue_age"] == {"oldest_s": 48 * 3600, "median_s": 29 * 3600}
    # Known outcomes: IX1, IX2, IX5 resolved and IX3 overdue; IX1 and IX5 within target.
    assert figures["resolved_within_target"] == {"count": 2, "of": 4, "share": 0.5}
    # Recovery: 2 h, 29 h, 2 h: median 2 h, p90 by interpolation 2 + 0.8 * 27 = 23.6 h.
    assert figures["time_to_recovery"] == {"n": 3, "median_s": 2 * 3600, "p90_s": int(23.6 * 3600)}
    assert figures["recurrence"] == [{"source": "st-marys", "message_type": "referral", "count": 4},
                                     {"source": "bluepath", "message_type": "status_update", "count": 1}]


def test_the_period_counts_items_opened_and_resolved_in_it_and_age_is_measured_now():
    figures = measure(ITEMS, T0 + 30 * H, T0 + 46 * H, now=T0 + 50 * H)

    assert figures["volume"] == 2, "IX4 and IX5 were opened in it"
    assert figures["time_to_recovery"]["n"] == 1, "only IX2 was resolved in it (at 30 h)"
    assert figures["open"] == 2 and figures["queue_age"]["oldest_s"] == 48 * 3600


def test_a_queue_is_one_more_source_and_each_is_measured_apart(net_services):
    outbound = [item("PT1", 0, 4, queue="outbound", source="bluepath-fhir", kind="accepted")]
    governance = Governance([lambda: ITEMS, lambda: outbound], net_services.store, net_services.clock)

    figures = governance.metrics({"from": "2026-10-01", "to": "2026-12-01"})

    by_queue = {q["queue"]: q for q in figures["queues"]}
    assert [q["queue"] for q in figures["queues"]] == ["inbound", "outbound", "reconciliation"]
    assert (by_queue["inbound"]["volume"], by_queue["outbound"]["volume"], by_queue["reconciliation"]["volume"]) \
        == (5, 1, 0)
    assert by_queue["outbound"]["recurrence"] == [{"source": "bluepath-fhir", "message_type": "accepted",
                                                   "count": 1}]
    assert by_queue["inbound"]["owners"] == ["integration-desk"]
    assert figures["all"]["volume"] == 6


def keep_status_update(client, network, referral_id="RF99999999") -> str:
    response = client.post(f"/v1/referrals/{referral_id}/status", json={"state": "acknowledged"},
                           headers=network.headers["hub-foodbank"])
    assert response.status_code == 404
    return response.headers["X-Inbound-Exception"]


def exchange_alerts(client, network) -> list[dict]:
    response = client.get("/v1/alerts", query_string={"kind": "exception_escalation"}, headers=network.headers["sam"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["alerts"]


def test_an_overdue_exception_is_escalated_once_to_its_owning_team(net_client, network, net_services, clock):
    kept = keep_status_update(net_client, network)           # medium: a 24 h target
    settled = keep_status_update(net_client, network, "RF99999998")
    net_services.inbound.return_to_sender(settled, "no such referral", "user:sam")
    assert net_services.inbound.get(kept)["due_at"] == MONDAY_10AM + 24 * H

    clock.advance(23 * H)
    assert net_services.sweep.run()["exception_escalations"] == 0
    assert exchange_alerts(net_client, network) == []

    clock.advance(2 * H)
    assert net_services.sweep.run()["exception_escalations"] == 1
    [alert] = exchange_alerts(net_client, network)
    assert (alert["referral_id"], alert["clock"], alert["organisation"], alert["recipients"]) == (
        kept, "inbound", "integration-desk", ["integration-desk"])
    assert alert["due_at"] == (MONDAY_10AM + 24 * H).isoformat()

    clock.advance(5 * H)
    assert net_services.sweep.run()["exception_escalations"] == 0, "raised once"
    assert len(exchange_alerts(net_client, network)) == 1
    # A hub sees no team's escalation.
    mine = net_client.get("/v1/alerts", query_string={"kind": "exception_escalation"},
                          headers=network.headers["hub-foodbank"])
    assert mine.get_json()["alerts"] == []


def test_the_exchange_metrics_endpoint(net_client, network, net_services, clock):
    kept = keep_status_update(net_client, network)
    keep_status_update(net_client, network, "RF99999998")
    clock.advance(3 * H)
    net_services.inbound.return_to_sender(kept, "no such referral", "user:sam")
    clock.advance(30 * H)

    response = net_client.get("/v1/metrics/exchange", headers=network.headers["sam"])

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    [inbound] = [q for q in body["queues"] if q["queue"] == "inbound"]
    assert inbound["volume"] == 2 and inbound["open"] == 1 and inbound["overdue"] == 1
    assert inbound["volume_by_source"] == [{"source": "foodbank", "count": 2}]
    assert inbound["recurrence"] == [{"source": "foodbank", "message_type": "status_update", "count": 2}]
    assert inbound["resolved_within_target"] == {"count": 1, "of": 2, "share": 0.5}
    assert inbound["time_to_recovery"] == {"n": 1, "median_s": 3 * 3600, "p90_s": 3 * 3600}
    assert inbound["queue_age"]["oldest_s"] == 33 * 3600
    assert [t["severity"] for t in body["severity_tiers"]] == ["high", "medium", "low"]
    for who in ("root", "sam"):
        assert net_client.get("/v1/metrics/exchange", headers=network.headers[who]).status_code == 200
    assert_error(net_client.get("/v1/metrics/exchange", headers=network.headers["hub-foodbank"]), 403, "forbidden")
    bad = net_client.get("/v1/metrics/exchange", query_string={"from": "soon", "to": "2026-13-01"},
                         headers=network.headers["sam"])
    assert set(assert_error(bad, 422, "validation_error")["errors"]) == {"from", "to"}
    empty = net_client.get("/v1/metrics/exchange", query_string={"from": "2026-01-01", "to": "2026-02-01"},
                           headers=network.headers["sam"]).get_json()
    assert empty["all"]["volume"] == 0 and empty["all"]["resolved_within_target"]["share"] is None


def scrape(client) -> dict[str, float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


def test_the_gauges_show_open_items_overdue_oldest_and_the_outbox(net_client, network, net_services, clock):
    partner = Partner(now=lambda: clock.now().timestamp())
    try:
        net_services.partners.add({"partner_id": "stm-feed", "organisation": "st-marys", "name": "feed",
                                   "endpoint": partner.url, "format": "webhook", "subscriptions": ["requester"]},
                                  "test")
        refused, taken = (net_client.post("/v1/referrals", json=referral_body(ref=ref, name=name),
                                          headers=network.headers["hub-stmarys"]).get_json()["referral_id"]
                          for ref, name in (("SM-1", "marisol"), ("SM-2", "theodore")))
        partner.answer = lambda r: 400 if r["body"]["referral_id"] == refused else 200
        worker = DeliveryWorker(net_services.store, DeliveryPolicy(timeout=2.0, backoff=10.0), net_services.clock,
                                rng=random.Random(7))
        while worker.run_once():
            pass
        net_client.post("/v1/referrals/" + taken + "/status", json={"state": "acknowledged"},
                        headers=network.headers["hub-foodbank"])  # queued, not sent yet
    finally:
        partner.close()
    keep_status_update(net_client, network)
    clock.advance(25 * H)

    gauges = scrape(net_client)

    assert gauges['mpi_exchange_open_items{queue="inbound",severity="medium"}'] == 1
    assert gauges['mpi_exchange_open_items{queue="inbound",severity="high"}'] == 0
    assert gauges['mpi_exchange_overdue_items{queue="inbound"}'] == 1
    assert gauges['mpi_exchange_oldest_open_age_seconds{queue="inbound"}'] == 25 * 3600
    outbox = {s: gauges[f'mpi_outbox_messages{{status="{s}"}}'] for s in ("queued", "sent", "acknowledged", "dead")}
    assert outbox["dead"] == 1 and outbox["queued"] == 1, outbox
    assert outbox["sent"] + outbox["acknowledged"] == 1, "the other referral's message went through"
    assert gauges["mpi_outbox_dead_messages"] == 1
