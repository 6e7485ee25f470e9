"""A referral network with one partner (St Mary's requester feed) on a loopback endpoint, for reconciliation's tests.

:func:`feed` adds the partner with a crosswalk (v1 from 2026-01-01, which shows
``redirected`` as "Declined", lossy); :func:`referral` submits a referral through
the API and walks it; :func:`deliver` drains the outbox to the partner (every
message acknowledged unless the partner answers otherwise). Imported by the
reconciliation test modules, with the fixtures of ``referral_network.py``.
"""

from __future__ import annotations

import random

import pytest

from exchange_world import Partner
from mpi.exchange.delivery import DeliveryPolicy, DeliveryWorker
from referral_network import referral_body

PARTNER_ID = "st-marys-feed"
#: Crosswalk v1: redirected shares "Declined" with declined (lossy): the mapping defect of the Done-when test.
CROSSWALK_V1 = ("state,reason,label\nsubmitted,,Sent\nacknowledged,,Received\nin_triage,,Received\n"
                "accepted,,Scheduled\nin_progress,,In progress\ncompleted,,Done\ndeclined,,Declined\n"
                "redirected,,Declined\nclosed_not_served,,Closed\ncancelled,,Closed\n")
#: Crosswalk v2: redirected gets its own label.
CROSSWALK_V2 = CROSSWALK_V1.replace("redirected,,Declined", "redirected,,Referred elsewhere")


@pytest.fixture
def endpoint(net_services, network, clock):
    """The partner's loopback endpoint, and the partner added for St Mary's (requester) with crosswalk v1."""
    partner = Partner(now=lambda: clock.now().timestamp())
    added, partner.secret = net_services.partners.add(
        {"partner_id": PARTNER_ID, "organisation": "st-marys", "name": "St Mary's EHR feed", "endpoint": partner.url,
         "format": "webhook", "subscriptions": ["requester"]}, "test")
    net_services.partners.add_crosswalk_csv(PARTNER_ID, CROSSWALK_V1, "2026-01-01", "test")
    partner.partner_id = PARTNER_ID
    yield partner
    partner.close()


def referral(client, network, ref: str, *states: str, **body) -> str:
    """Submit a referral from St Mary's (its own id ``ref``) and walk it through ``states`` as Food Bank's hub."""
    response = client.post("/v1/referrals", json=referral_body(ref=ref, **body), headers=network.headers["hub-stmarys"])
    assert response.status_code == 201, response.get_json()
    referral_id = response.get_json()["referral_id"]
    step(client, network, referral_id, *states)
    return referral_id


def step(client, network, referral_id: str, *states: str) -> None:
    for state in states:
        change = {"state": state}
        if state in ("declined", "redirected", "closed_not_served"):
            change["reason"] = {"declined": "no-capacity", "redirected": "no-capacity",
                                "closed_not_served": "unable-to-contact"}[state]
        if state == "redirected":
            change["performer"] = "homebase"
        response = client.post(f"/v1/referrals/{referral_id}/status", json=change,
                               headers=network.headers["hub-foodbank"])
        assert response.status_code == 200, response.get_json()


def deliver(services) -> int:
    """Send every due message to the partner; returns how many were acknowledged."""
    worker = DeliveryWorker(services.store, DeliveryPolicy(timeout=2.0, backoff=10.0), services.clock,
                            rng=random.Random(7))
    acknowledged = 0
    while counts := worker.run_once():
        acknowledged += counts.get("acknowledged", 0)
    return acknowledged
