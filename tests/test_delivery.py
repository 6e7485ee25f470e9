"""Outbound delivery (issue 15, point 2): the outbox written with each status change, sent by the worker to a real
partner on loopback, signed, retried with a stored backoff schedule, in event order per referral and partner."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from exchange_world import Partner
from mpi.exchange.delivery import DeliveryPolicy, DeliveryWorker
from mpi.exchange.outbox import idempotency_key
from cli_runner import mpi  # noqa: F401  (a fixture)
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401


def add_partner(services, organisation="st-marys", url="http://127.0.0.1:9", fmt="webhook",
                subscriptions=("requester",), crosswalk=None, partner_id=None):
    partner, secret = services.partners.add(
        {"partner_id": partner_id or f"{organisation}-feed", "organisation": organisation, "name": "feed",
         "endpoint": url, "format": fmt, "subscriptions": list(subscriptions)}, "test")
    if crosswalk:
        services.partners.add_crosswalk_csv(partner["partner_id"], crosswalk, "2026-01-01", "test")
    return partner["partner_id"], secret


@pytest.fixture
def partner(net_services, network, clock):
    endpoint = Partner(now=lambda: clock.now().timestamp())
    partner_id, endpoint.secret = add_partner(net_services, url=endpoint.url,
                                              crosswalk="state,reason,label\naccepted,,Scheduled\n")
    endpoint.partner_id = partner_id
    yield endpoint
    endpoint.close()


def worker(services, **policy) -> DeliveryWorker:
    return DeliveryWorker(services.store, DeliveryPolicy(**{"timeout": 2.0, "backoff": 10.0, **policy}),
                          services.clock, rng=random.Random(7))


def submit(client, network, ref="SM-1") -> str:
    response = client.post("/v1/referrals", json=referral_body(ref=ref), headers=network.headers["hub-stmarys"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()["referral_id"]


def walk(client, network, referral_id, *states):
    for state in states:
        response = client.post(f"/v1/referrals/{referral_id}/status", json={"state": state},
                               headers=network.headers["hub-foodbank"])
        assert response.status_code == 200, response.get_json()


def drain(w: DeliveryWorker) -> dict[str, int]:
    totals: dict[str, int] = {}
    while counts := w.run_once():
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    return totals


def test_each_status_change_is_written_to_the_outbox_in_its_own_transaction(net_client, network, net_services,
                                                                             partner):
    referral = submit(net_client, network)
    walk(net_client, network, referral, "acknowledged", "accepted")

    messages = net_services.store.outbox.of_referral(referral)

    assert [m["message_type"] for m in messages] == ["submitted", "acknowledged", "accepted"]
    assert [m["idempotency_key"] for m in messages] == [idempotency_key(referral, v, partner.partner_id)
                                                        for v in (1, 2, 3)]
    assert {m["status"] for m in messages} == {"queued"}
    assert messages[2]["label"] == "Scheduled" and messages[2]["crosswalk_version"] is not None
    assert messages[0]["label"] == "submitted" and messages[0]["crosswalk_version"] is None, "no row: the state"


def test_a_change_that_rolls_back_leaves_no_message(net_client, network, net_services, partner, monkeypatch):
    referral = submit(net_client, network)
    before = len(net_services.store.outbox.of_referral(referral))

    def fail(*args, **kwargs):
        raise RuntimeError("the audit log is down")

    monkeypatch.setattr(net_services.store.audit, "append", fail)
    with pytest.raises(RuntimeError):
        net_client.post(f"/v1/referrals/{referral}/status", json={"state": "acknowledged"},
                        headers=network.headers["hub-foodbank"])

    assert len(net_services.store.outbox.of_referral(referral)) == before
    assert net_services.store.referrals.get(referral)["state"] == "submitted"


def test_the_worker_delivers_in_order_signed_with_both_times_and_the_key(net_client, network, net_services, partner,
                                                                        clock):
    referral = submit(net_client, network)
    walk(net_client, network, referral, "acknowledged", "accepted", "in_progress")

    totals = drain(worker(net_services))

    assert totals == {"acknowledged": 4}
    got = partner.accepted()
    assert [r.state for r in got] == ["submitted", "acknowledged", "accepted", "in_progress"]
    assert all(r["signed_ok"] for r in got)
    assert [r["headers"]["Idempotency-Key"] for r in got] == [
        m["idempotency_key"] for m in net_services.store.outbox.of_referral(referral)]
    assert got[2]["body"]["label"] == "Scheduled" and got[2]["body"]["transmission_time"]
    assert got[2]["body"]["event_time"] == got[2]["headers"]["X-Event-Time"]
    assert {m["status"] for m in net_services.store.outbox.of_referral(referral)} == {"acknowledged"}
    assert net_services.store.referrals.get(referral)["state"] == "in_progress", "delivery changes no state"


def test_a_tampered_body_fails_the_signature():
    from mpi.exchange import messages

    signed = messages.signature("whsec_x", b'{"a":1}', 1_000)
    assert messages.verify("whsec_x", signed, b'{"a":1}', 1_000)
    assert not messages.verify("whsec_x", signed, b'{"a":2}', 1_000)
    assert not messages.verify("whsec_y", signed, b'{"a":1}', 1_000)
    assert not messages.verify("whsec_x", signed, b'{"a":1}', 1_000 + 301), "too old"


def test_a_5xx_is_retried_on_the_stored_schedule_and_a_later_message_waits(net_client, network, net_services,
                                                                         partner, clock):
    referral = submit(net_client, network)
    walk(net_client, network, referral, "acknowledged")
    partner.answer = lambda r: 503
    w = worker(net_services, max_attempts=3)

    assert drain(w) == {"failed": 1}
    first, second = net_services.store.outbox.of_referral(referral)
    assert (first["status"], first["attempts"], first["error_code"]) == ("failed", 1, "http_503")
    wait = (first["next_attempt_at"] - clock.now()).total_seconds()
    assert 5.0 <= wait <= 10.0, "backoff 10 s, jittered 50-100%"
    assert second["status"] == "queued", "it waits behind the first"

    # A restart (a new worker) resumes the stored schedule: nothing is due before its time.
    assert drain(worker(net_services, max_attempts=3)) == {}
    partner.answer = lambda r: 200
    clock.advance(timedelta(seconds=wait))
    assert drain(worker(net_services, max_attempts=3)) == {"acknowledged": 2}
    assert [r.state for r in partner.accepted()] == ["submitted", "acknowledged"]


def test_a_4xx_is_not_retried_and_429_is(net_client, network, net_services, partner, clock):
    one, two = submit(net_client, network, "SM-1"), submit(net_client, network, "SM-2")
    partner.answer = lambda r: 400 if r["body"]["referral_id"] == one else 429

    assert drain(worker(net_services)) == {"dead": 1, "failed": 1}
    assert net_services.store.outbox.of_referral(one)[0]["status"] == "dead"
    assert net_services.store.outbox.of_referral(two)[0]["error_code"] == "http_429"


def test_retries_end_dead_after_the_last_attempt(net_client, network, net_services, partner, clock):
    referral = submit(net_client, network)
    partner.answer = lambda r: 500
    w = worker(net_services, max_attempts=3, backoff=1.0)
    for _ in range(3):
        drain(w)
        clock.advance(timedelta(seconds=5))

    [message] = net_services.store.outbox.of_referral(referral)
    assert (message["status"], message["attempts"], message["dead_at"] is not None) == ("dead", 3, True)
    assert len(partner.received) == 3


def test_an_unreachable_partner_is_a_network_error_retried(net_client, network, net_services, clock):
    add_partner(net_services, url="http://127.0.0.1:9")  # discard port: nothing listens
    referral = submit(net_client, network)

    assert drain(worker(net_services)) == {"failed": 1}
    assert net_services.store.outbox.of_referral(referral)[0]["error_code"] == "connect_error"


def test_a_message_left_sent_by_a_stopped_worker_is_sent_again_with_its_key(net_client, network, net_services,
                                                                           partner):
    referral = submit(net_client, network)
    [message] = net_services.store.outbox.of_referral(referral)
    with net_services.store.transaction():
        net_services.store.outbox.mark([message["message_id"]], "sent", net_services.clock.now())
    w = worker(net_services)

    assert drain(w) == {}, "sent, as far as this store knows"
    assert w.recover() == 1
    assert drain(w) == {"acknowledged": 1}
    assert partner.accepted()[0]["headers"]["Idempotency-Key"] == message["idempotency_key"]


def test_subscriptions_choose_who_hears(net_client, network, net_services, clock):
    add_partner(net_services, "st-marys", subscriptions=("requester",))
    add_partner(net_services, "foodbank", subscriptions=("performer",))
    add_partner(net_services, "homebase", subscriptions=("requester", "performer"))
    referral = submit(net_client, network)

    heard = {m["partner_id"] for m in net_services.store.outbox.of_referral(referral)}

    assert heard == {"st-marys-feed", "foodbank-feed"}


def test_a_fhir_task_partner_gets_a_valid_task_put_at_its_id(net_client, network, net_services, clock):
    from fhir.resources.R4B.task import Task

    endpoint = Partner()
    try:
        add_partner(net_services, url=endpoint.url + "/fhir", fmt="fhir-task",
                    crosswalk="state,reason,label\nacknowledged,,Received by partner\n")
        referral = submit(net_client, network)
        walk(net_client, network, referral, "acknowledged")
        drain(worker(net_services))
        put = endpoint.accepted()[-1]
    finally:
        endpoint.close()

    assert (put["method"], put["path"]) == ("PUT", f"/fhir/Task/{referral}")
    task = Task.model_validate(put["body"])
    assert task.status == "received" and task.businessStatus.text == "Received by partner"
    urls = {e.url for e in task.extension}
    assert any(u.endswith("/event-time") for u in urls) and any(u.endswith("/transmission-time") for u in urls)


def test_a_message_is_labelled_under_the_crosswalk_version_in_force_at_its_event_time(net_client, network,
                                                                                   net_services, clock):
    partner_id, _ = add_partner(net_services, crosswalk="state,reason,label\naccepted,,Scheduled\n")
    net_services.partners.add_crosswalk_csv(partner_id, "state,reason,label\naccepted,,Booked\n", "2026-11-25",
                                            "test")
    late, fresh = submit(net_client, network, "SM-1"), submit(net_client, network, "SM-2")
    walk(net_client, network, late, "acknowledged")
    walk(net_client, network, fresh, "acknowledged")
    clock.advance(timedelta(days=2))  # Wednesday 25th: version 2 is in force
    monday_noon = (clock.now() - timedelta(days=2) + timedelta(hours=2)).isoformat()
    reported_late = net_client.post(f"/v1/referrals/{late}/status", json={"state": "accepted",
                                                                          "event_time": monday_noon},
                                    headers=network.headers["hub-foodbank"])
    assert reported_late.status_code == 200, reported_late.get_json()
    walk(net_client, network, fresh, "accepted")

    [v1, v2] = [v["version_id"] for v in net_services.partners.get(partner_id)["crosswalks"]]
    late_message = net_services.store.outbox.of_referral(late)[-1]
    fresh_message = net_services.store.outbox.of_referral(fresh)[-1]
    assert (late_message["label"], late_message["crosswalk_version"]) == ("Scheduled", v1), "happened on Monday"
    assert (fresh_message["label"], fresh_message["crosswalk_version"]) == ("Booked", v2)
    assert fresh_message["payload"]["label"] == "Booked"


def test_an_mco_subscribed_to_its_members_hears_of_their_referrals_only(net_client, network, net_services, clock):
    from conftest import record

    add_partner(net_services, "bluepath", subscriptions=("member",))
    add_partner(net_services, "homebase", subscriptions=("member",))
    member = net_client.post("/v1/records", json=record("marisol", "bluepath-mco", "BPM-77"),
                             headers=network.headers["hub-bluepath"])
    assert member.status_code in (200, 201), member.get_json()

    of_member = submit(net_client, network, "SM-1")
    other = net_client.post("/v1/referrals", json=referral_body("theodore", "SM-2"),
                            headers=network.headers["hub-stmarys"]).get_json()["referral_id"]

    assert {m["partner_id"] for m in net_services.store.outbox.of_referral(of_member)} == {"bluepath-feed"}
    assert net_services.store.outbox.of_referral(other) == []


def test_mpi_deliver_sends_what_is_due_and_says_what_the_outbox_holds(net_client, network, net_services, partner,
                                                                     mpi):  # noqa: F811
    referral = submit(net_client, network)
    walk(net_client, network, referral, "acknowledged")
    partner.answer = lambda r: 400 if r.state == "acknowledged" else 200
    net_services.close()

    result = mpi("deliver")

    assert "delivered: 1 acknowledged, 0 to retry, 1 dead; outbox now: 1 acknowledged, 1 dead" in result.output
    assert [r.state for r in partner.accepted()] == ["submitted"]


def test_a_pass_whose_outcomes_cannot_be_stored_puts_its_messages_back_to_send_again(net_client, network,
                                                                                     net_services, partner):
    referral = submit(net_client, network)
    partner.answer = lambda r: 400

    def broken(dead):
        raise RuntimeError("the queue's table is gone")

    w = DeliveryWorker(net_services.store, DeliveryPolicy(timeout=2.0), net_services.clock, on_dead=broken)
    with pytest.raises(RuntimeError):
        w.run_once()

    [message] = net_services.store.outbox.of_referral(referral)
    assert (message["status"], message["attempts"]) == ("queued", 0), "due again, not stuck as sent"
    partner.answer = lambda r: 200
    assert drain(worker(net_services)) == {"acknowledged": 1}
