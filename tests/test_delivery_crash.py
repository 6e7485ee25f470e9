"""The delivery worker survives a SIGKILL of the whole server mid-backlog (issue 15, Done when): after a restart every
message is delivered, in order per referral, none lost, and a message received twice carries the same key.

A real `mpi serve` in its own process on a real store file, a real partner on loopback that takes a little time per
message, and a backlog written by real status changes before the server starts.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

from api import create_app
from exchange_world import Partner
from mpi.services import Services
from referral_network import build, referral_body
from serve_support import free_port, serve, wait_for

REFERRALS = 30
STEPS = ("acknowledged", "in_triage", "accepted")


@pytest.mark.slow  # two server processes and a partner
def test_a_sigkill_mid_backlog_loses_nothing_and_keeps_each_referrals_order(config):
    partner = Partner()

    def slowly(received):
        time.sleep(0.02)
        return 200

    partner.answer = slowly
    services = Services(config)
    try:
        network = build(services)
        _, partner.secret = services.partners.add(
            {"partner_id": "stmarys-feed", "organisation": "st-marys", "name": "St Mary's status feed",
             "endpoint": partner.url + "/events", "format": "webhook", "subscriptions": ["requester"]}, "test")
        client = create_app(services=services).test_client()
        for i in range(REFERRALS):
            response = client.post("/v1/referrals", json=referral_body(ref=f"SM-{i}"),
                                   headers=network.headers["hub-stmarys"])
            assert response.status_code == 201, response.get_json()
            for state in STEPS:
                step = client.post(f"/v1/referrals/{response.get_json()['referral_id']}/status",
                                   json={"state": state}, headers=network.headers["hub-foodbank"])
                assert step.status_code == 200, step.get_json()
        backlog = services.store.outbox.counts()
    finally:
        services.close()
    total = REFERRALS * (1 + len(STEPS))
    assert backlog == {"queued": total}

    port = free_port()
    first = serve(config, port)
    try:
        wait_for(lambda: len(partner.received) >= total // 3, 60, "the first server delivered too little")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = len(partner.received)
    assert at_kill < total, "the backlog was drained before the kill: nothing was tested"

    second = serve(config, port)
    try:
        wait_for(lambda: len({r["headers"]["Idempotency-Key"] for r in partner.accepted()}) >= total, 120,
                 "the restarted server did not deliver the rest")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    partner.close()

    services = Services(config)
    try:
        messages = services.store.outbox.of_partner("stmarys-feed")
    finally:
        services.close()
    assert {m["status"] for m in messages} == {"acknowledged"} and len(messages) == total
    keys = {m["idempotency_key"]: m for m in messages}
    got = partner.accepted()
    assert {r["headers"]["Idempotency-Key"] for r in got} == set(keys), "none lost, none made up"
    assert all(r["signed_ok"] for r in got)
    last: dict[str, int] = {}
    for r in got:  # in the order the partner received them: each referral's versions never go back
        body = r["body"]
        assert body["version"] >= last.get(body["referral_id"], 0), f"out of order: {body['referral_id']}"
        last[body["referral_id"]] = body["version"]
    by_key: dict[str, list[dict]] = {}
    for r in got:
        by_key.setdefault(r["headers"]["Idempotency-Key"], []).append(r["body"])
    for key, bodies in by_key.items():  # a duplicate is the same message: same key, same content but when sent
        assert len({json.dumps({k: v for k, v in b.items() if k != "transmission_time"}, sort_keys=True)
                    for b in bodies}) == 1, key

