"""Concurrent referrals over HTTP to a real waitress server: a retry storm makes one referral, one person."""

from __future__ import annotations

from collections import Counter

import pytest

from referral_network import build, referral_body
from test_concurrency import N, fire


@pytest.fixture
def network(services):
    return build(services)


def test_the_same_referral_sent_concurrently_is_stored_once(live_server, network, services):
    results = fire(f"{live_server}/v1/referrals", network.tokens["hub-stmarys"], [referral_body()] * N)

    assert Counter(status for status, _ in results) == Counter({201: 1, 200: N - 1})
    assert len({body["referral_id"] for _, body in results}) == 1
    assert services.store.counts()["persons"] == 1
    assert services.store.referrals.count(now=services.clock.now(), open_states=["submitted"]) == 1


def test_referrals_for_one_new_person_sent_concurrently_make_one_person(live_server, network, services):
    bodies = [referral_body("marisol", f"SM-{i}", person={**referral_body()["person"], "source_record_id": f"M-{i}"})
              for i in range(N)]

    results = fire(f"{live_server}/v1/referrals", network.tokens["hub-stmarys"], bodies)

    assert [status for status, _ in results] == [201] * N
    assert len({body["referral_id"] for _, body in results}) == N
    persons = {body["person_id"] for _, body in results if body["person_id"]}
    assert services.store.counts()["persons"] == 1 and len(persons) == 1
    assert all(body["person_id"] in persons or body["gate"] == "identity_pending" for _, body in results)
