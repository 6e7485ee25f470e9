"""The inbound exception queue (issue 15, point 4): a referral or status update that fails validation is answered
as before and kept, with its raw body, sender, reasons, severity, owner, target and age; staff claim it, correct and
replay it through the same intake, or return it to its sender; every step is in the audit log."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest

from mpi.errors import MpiError
from mpi.exchange.inbound_vocab import severity_of
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401
from test_api_errors import assert_error

#: A value only the kept bodies below carry, so a log line holding it is a leak of the raw body.
MARKER = "Zebediah-Quixworth"


def send_referral(client, network, body, who="hub-stmarys"):
    return client.post("/v1/referrals", json=body, headers=network.headers[who])


def kept(response, services) -> dict:
    exception_id = response.headers["X-Inbound-Exception"]
    return services.inbound.get(exception_id)


def queue(client, network, who="sam", **args):
    response = client.get("/v1/inbound-exceptions", query_string=args, headers=network.headers[who])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_referral_missing_a_minimum_data_field_is_answered_422_and_kept_with_its_reasons(
        net_client, network, net_services):
    body = referral_body()
    body.pop("consent")

    response = send_referral(net_client, network, body)

    error = assert_error(response, 422, "minimum_data_set")
    item = kept(response, net_services)
    assert item["kind"] == "referral" and item["state"] == "open" and item["shows"] == "open"
    assert item["reasons"] == error["errors"] and "consent" in item["reasons"]
    assert (item["sender"], item["sender_role"], item["sender_organisation"]) == ("hub-stmarys", "hub", "st-marys")
    assert item["received_at"] == net_services.clock.now()
    assert item["error_code"] == "minimum_data_set" and item["http_status"] == 422
    assert '"requester_referral_id": "SM-1"' in item["raw_body"]
    assert item["severity"] == "low", "a routine referral"
    assert item["owner"] == "integration-desk"
    assert item["due_at"] == net_services.clock.now() + timedelta(hours=72)
    assert item["remedy"] == "correct_locally"
    assert net_services.store.referrals.count(now=net_services.clock.now(), open_states=["submitted"]) == 0
    [event] = net_services.store.audit.events("inbound_exception", item["exception_id"])
    assert (event["action"], event["actor"]) == ("inbound.kept", "user:hub-stmarys")


def test_a_discharge_referral_is_high_and_an_urgent_one_medium(net_client, network, net_services):
    discharge = referral_body(urgency="discharge", ref="SM-1")
    discharge.pop("requester_contact")
    urgent = referral_body(urgency="urgent", ref="SM-2", name="theodore")
    urgent.pop("reason")

    high = kept(send_referral(net_client, network, discharge), net_services)
    medium = kept(send_referral(net_client, network, urgent), net_services)

    assert (high["severity"], medium["severity"]) == ("high", "medium")
    assert high["due_at"] == net_services.clock.now() + timedelta(hours=4)
    assert [e["severity"] for e in queue(net_client, network, severity="high")["exceptions"]] == ["high"]


def test_a_body_that_is_not_json_is_answered_as_before_and_kept_byte_for_byte(net_client, network, net_services):
    raw = b"PID|1||MRN-9||" + MARKER.encode() + b"^Ann||19800101|F\xff"

    not_json = net_client.post("/v1/referrals", data=raw, content_type="text/plain",
                               headers=network.headers["hub-stmarys"])
    unreadable = net_client.post("/v1/referrals", data=raw, content_type="application/json",
                                 headers=network.headers["hub-stmarys"])

    assert_error(not_json, 415, "unsupported_media_type")
    assert_error(unreadable, 400, "bad_request")
    first, second = kept(not_json, net_services), kept(unreadable, net_services)
    assert first["content_type"] == "text/plain" and first["raw_body_bytes"] == len(raw)
    assert net_services.store.inbound.get(first["exception_id"])["raw_body"] == raw
    assert first["reasons"] == {"Content-Type": ["not JSON: text/plain"]}
    assert second["reasons"] == {"_body": ["not UTF-8"]}
    assert {first["remedy"], second["remedy"]} == {"return_to_sender"}
    assert {first["severity"], second["severity"]} == {"medium"}, "what it carried is unknown"


def test_an_unknown_callers_body_is_not_kept(net_client, network, net_services):
    response = net_client.post("/v1/referrals", data=b"nonsense", content_type="text/plain",
                               headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 415  # bodies are checked before authentication, as before
    assert "X-Inbound-Exception" not in response.headers
    assert queue(net_client, network)["total"] == 0


def test_a_status_update_of_an_unknown_referral_is_kept(net_client, network, net_services):
    response = net_client.post("/v1/referrals/RF99999999/status", json={"state": "acknowledged"},
                               headers=network.headers["hub-foodbank"])

    assert_error(response, 404, "not_found")
    item = kept(response, net_services)
    assert (item["kind"], item["referral_id"], item["sender"]) == ("status_update", "RF99999999", "hub-foodbank")
    assert item["remedy"] == "return_to_sender" and item["severity"] == "medium"


def test_an_invalid_transition_and_a_late_closure_are_kept_low(net_client, network, net_services):
    referral = send_referral(net_client, network, referral_body()).get_json()["referral_id"]

    response = net_client.post(f"/v1/referrals/{referral}/status", json={"state": "completed"},
                               headers=network.headers["hub-foodbank"])

    assert_error(response, 409, "invalid_transition")
    item = kept(response, net_services)
    assert (item["referral_id"], item["severity"], item["remedy"]) == (referral, "low", "correct_locally")


def test_a_successful_referral_is_not_kept(net_client, network, net_services):
    response = send_referral(net_client, network, referral_body())

    assert response.status_code == 201 and "X-Inbound-Exception" not in response.headers
    assert queue(net_client, network)["total"] == 0


def test_correct_and_replay_produces_the_referral_and_resolves_the_exception(net_client, network, net_services, clock):
    body = referral_body()
    body.pop("consent")
    item = kept(send_referral(net_client, network, body), net_services)
    clock.advance(timedelta(hours=2))

    still_bad = net_client.post(f"/v1/inbound-exceptions/{item['exception_id']}/replay", json={"body": body},
                                headers=network.headers["sam"])
    body["consent"] = "granted"
    replay = net_client.post(f"/v1/inbound-exceptions/{item['exception_id']}/replay", json={"body": body},
                             headers=network.headers["sam"])

    assert "consent" in assert_error(still_bad, 422, "replay_refused")["errors"]  # the intake's field, named
    assert "X-Inbound-Exception" not in still_bad.headers, "a replay is not a new inbound message"
    assert replay.status_code == 200, replay.get_json()
    resolved = replay.get_json()
    assert (resolved["state"], resolved["closed_by"]) == ("resolved", "user:sam")
    produced = net_services.referrals.get(resolved["produced_referral_id"], network.callers["hub-stmarys"])
    assert (produced["requester"], produced["state"]) == ("st-marys", "submitted")
    assert resolved["age_s"] == 2 * 3600 and resolved["overdue"] is False
    actions = [e["action"] for e in net_services.store.audit.events("inbound_exception", item["exception_id"])]
    assert actions == ["inbound.resolved", "inbound.replay_failed", "inbound.kept"]
    again = net_client.post(f"/v1/inbound-exceptions/{item['exception_id']}/replay", json={"body": body},
                            headers=network.headers["sam"])
    assert_error(again, 409, "conflict")


def test_a_status_update_replayed_with_the_right_referral_moves_it(net_client, network, net_services):
    referral = send_referral(net_client, network, referral_body()).get_json()["referral_id"]
    item = kept(net_client.post("/v1/referrals/RF99999999/status", json={"state": "acknowledged"},
                                headers=network.headers["hub-foodbank"]), net_services)

    replay = net_client.post(f"/v1/inbound-exceptions/{item['exception_id']}/replay",
                             json={"body": {"state": "acknowledged"}, "referral_id": referral},
                             headers=network.headers["root"])

    assert replay.status_code == 200, replay.get_json()
    assert replay.get_json()["produced_referral_id"] == referral
    assert net_services.referrals.get(referral, network.callers["hub-foodbank"])["state"] == "acknowledged"


def test_claim_shows_recovery_in_progress_and_return_closes_it_with_the_reason(net_client, network, net_services):
    item = kept(net_client.post("/v1/referrals", data=b"not json", content_type="text/plain",
                                headers=network.headers["hub-stmarys"]), net_services)
    url = f"/v1/inbound-exceptions/{item['exception_id']}"

    claimed = net_client.post(f"{url}/claim", headers=network.headers["sam"])
    claimed_twice = net_client.post(f"{url}/claim", headers=network.headers["root"])
    listed = queue(net_client, network, state="in_progress")["exceptions"]
    no_reason = net_client.post(f"{url}/return", json={}, headers=network.headers["sam"])
    returned = net_client.post(f"{url}/return", json={"reason": "send it as JSON, please"},
                               headers=network.headers["sam"])

    assert claimed.status_code == 200
    assert (claimed.get_json()["shows"], claimed.get_json()["claimed_by"]) == ("exception recovery in progress",
                                                                              "user:sam")
    assert_error(claimed_twice, 409, "conflict")
    assert [e["exception_id"] for e in listed] == [item["exception_id"]]
    assert "reason" in assert_error(no_reason, 422, "validation_error")["errors"]
    assert returned.status_code == 200
    assert (returned.get_json()["state"], returned.get_json()["return_reason"]) == ("returned",
                                                                                   "send it as JSON, please")
    actions = [e["action"] for e in net_services.store.audit.events("inbound_exception", item["exception_id"])]
    assert actions == ["inbound.returned", "inbound.claimed", "inbound.kept"]
    assert queue(net_client, network, state="open")["total"] == 0


def test_the_queue_is_oldest_first_filtered_and_ages(net_client, network, net_services, clock):
    first = kept(net_client.post("/v1/referrals", data=b"x", content_type="text/plain",
                                 headers=network.headers["hub-stmarys"]), net_services)
    clock.advance(timedelta(hours=30))
    second = kept(net_client.post("/v1/referrals/RF1/status", json={"state": "bogus"},
                                  headers=network.headers["hub-foodbank"]), net_services)

    everything = queue(net_client, network)
    by_sender = queue(net_client, network, sender="hub-foodbank")

    assert [e["exception_id"] for e in everything["exceptions"]] == [first["exception_id"], second["exception_id"]]
    oldest = everything["exceptions"][0]
    assert oldest["age_s"] == 30 * 3600 and oldest["overdue"] is True, "medium: 24 hours"
    assert [e["exception_id"] for e in by_sender["exceptions"]] == [second["exception_id"]]
    assert "state" in second["reasons"], "an unknown code is named"
    bad = net_client.get("/v1/inbound-exceptions?severity=dire", headers=network.headers["sam"])
    assert "severity" in assert_error(bad, 422, "validation_error")["errors"]


@pytest.mark.parametrize("who", ["hub-stmarys", "cora"])
def test_only_stewards_and_admins_work_the_queue(net_client, network, who):
    response = net_client.get("/v1/inbound-exceptions", headers=network.headers[who])

    assert_error(response, 403, "forbidden")


def test_the_raw_body_is_in_no_log_line(net_client, network, net_services, caplog):
    body = referral_body(person={"source_system": "st-marys-ehr", "source_record_id": "MRN-77",
                                 "first_name": MARKER, "last_name": MARKER})
    body.pop("consent")
    caplog.set_level(logging.DEBUG)

    item = kept(send_referral(net_client, network, body), net_services)
    kept(net_client.post("/v1/referrals", data=MARKER.encode(), content_type="text/plain",
                         headers=network.headers["hub-stmarys"]), net_services)
    body["consent"] = "nonsense"
    net_client.post(f"/v1/inbound-exceptions/{item['exception_id']}/replay", json={"body": body},
                    headers=network.headers["sam"])
    net_client.get(f"/v1/inbound-exceptions/{item['exception_id']}", headers=network.headers["sam"])

    lines = [r.getMessage() for r in caplog.records]
    assert any(item["exception_id"] in line for line in lines), "expected lines to check, naming the exception"
    assert not [line for line in lines if MARKER in line]


def test_two_people_replaying_one_exception_at_once_run_its_intake_once(net_client, network, net_services):
    referral = send_referral(net_client, network, referral_body()).get_json()["referral_id"]
    item = kept(net_client.post("/v1/referrals/RF99999999/status", json={"state": "acknowledged"},
                                headers=network.headers["hub-foodbank"]), net_services)
    outcomes, start = [], threading.Barrier(2)

    def replay(who):
        start.wait()
        try:
            outcomes.append(net_services.inbound.replay(item["exception_id"], {"state": "acknowledged"}, who,
                                                        referral)["state"])
        except MpiError as e:
            outcomes.append(e.code)

    threads = [threading.Thread(target=replay, args=(who,)) for who in ("user:sam", "user:root")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(outcomes) == ["conflict", "resolved"]
    history = net_services.referrals.get(referral, network.callers["hub-foodbank"])["history"]
    assert [h["to_state"] for h in history].count("acknowledged") == 1


@pytest.mark.parametrize("kind, body, severity", [
    ("referral", {"urgency": "discharge"}, "high"),
    ("referral", {"urgency": "urgent"}, "medium"),
    ("referral", {"urgency": ["discharge"]}, "low"),
    ("referral", {}, "low"),
    ("status_update", {"state": "completed"}, "low"),
    ("status_update", {"state": "declined"}, "low"),
    ("status_update", {"state": "acknowledged"}, "medium"),
    ("status_update", {"state": {"nested": 1}}, "medium"),
    ("status_update", {"state": ["completed"]}, "medium"),
    ("status_update", ["not", "an", "object"], "medium"),
    ("referral", None, "medium"),
])
def test_severity_is_read_from_what_the_body_carries_whatever_its_shape(kind, body, severity):
    assert severity_of(kind, body) == severity


def test_a_status_whose_state_is_an_object_is_answered_422_and_kept(net_client, network, net_services):
    response = net_client.post("/v1/referrals/RF1/status", json={"state": {}}, headers=network.headers["hub-foodbank"])

    assert_error(response, 422, "validation_error")
    assert kept(response, net_services)["severity"] == "medium"
