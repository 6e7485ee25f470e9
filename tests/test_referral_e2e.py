"""The closed loop end to end, over HTTP to a real waitress server on loopback.

A hospital sends a discharge referral for a woman its record names only by name,
sex and state; two persons of that name live in Georgia, so the record is held for
a steward and the referral gated, urgently. The food bank accepts it meanwhile but
may not start; a steward links the record through the review-case API; the gate
lifts by itself; the food bank starts and completes the service. Every change is
in the referral's history with both its times, the loop metrics count it, and its
FHIR Task validates against the R4B models.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime

from fhir.resources.R4B.task import Task

from conftest import record
from referral_network import build, referral_body
from test_concurrency import post
from test_referral_gate import NAME_ONLY, SECOND_MARISOL


def get(url: str, token: str) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), response.headers.get_content_type()
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), e.headers.get_content_type()


def test_a_gated_discharge_referral_closes_its_loop_over_http(live_server, services):
    network = build(services)
    hub, food, steward = (network.tokens[n] for n in ("hub-stmarys", "hub-foodbank", "sam"))
    first = post(f"{live_server}/v1/records", hub, record("marisol", "st-marys-ehr", "MRN-1"))[1]["person_id"]
    second = post(f"{live_server}/v1/records", hub, SECOND_MARISOL)[1]["person_id"]

    # Intake: the person partly matches two persons, so the referral is gated and its case urgent.
    status, referral = post(f"{live_server}/v1/referrals", hub, referral_body(person=NAME_ONLY, urgency="discharge"))
    assert status == 201 and referral["gate"] == "identity_pending" and referral["person_id"] is None
    referral_id, case_id = referral["referral_id"], referral["review_case_id"]
    status, case, _ = get(f"{live_server}/v1/review-cases/{case_id}", steward)
    assert case["priority"] == "urgent"
    assert {c["person_id"] for c in case["candidates"]} == {first, second}
    assert {"kind": "referral", "id": referral_id, "priority": "urgent"} in case["blocks"]

    # While gated: no start, but acceptance.
    refused = post(f"{live_server}/v1/referrals/{referral_id}/status", food, {"state": "in_progress"})
    assert refused[0] == 409 and refused[1]["code"] == "identity_pending"
    assert refused[1]["errors"]["review_case_id"] == [case_id]
    assert post(f"{live_server}/v1/referrals/{referral_id}/status", food, {"state": "accepted"})[0] == 200

    # A steward links the record; the gate lifts by itself.
    linked = post(f"{live_server}/v1/review-cases/{case_id}/link", steward,
                  {"person_id": first, "reason": "same phone on the discharge summary", "version": case["version"]})
    assert linked[0] == 200 and linked[1]["state"] == "resolved"
    status, lifted, _ = get(f"{live_server}/v1/referrals/{referral_id}", food)
    assert (lifted["gate"], lifted["person_id"]) == (None, first)

    # The loop closes.
    for state in ("in_progress", "completed"):
        assert post(f"{live_server}/v1/referrals/{referral_id}/status", food, {"state": state})[0] == 200
    status, done, _ = get(f"{live_server}/v1/referrals/{referral_id}", hub)
    assert done["state"] == "completed"
    history = [(h["kind"], h["to_state"]) for h in done["history"]]
    assert history == [("intake", "submitted"), ("status", "accepted"), ("lift", "accepted"),
                       ("status", "in_progress"), ("status", "completed")]
    for change in done["history"]:
        recorded, happened = (datetime.fromisoformat(change[k]) for k in ("recorded_time", "event_time"))
        assert happened <= recorded
    assert done["gated_seconds"] > 0

    # The metrics count it: received, gated, accepted and completed.
    status, metrics, _ = get(f"{live_server}/v1/metrics/referrals", hub)
    assert status == 200 and metrics["referrals"] == 1
    assert metrics["gated"]["count"] == 1
    assert metrics["completion_rate"] == {"count": 1, "of": 1, "share": 1.0}
    assert metrics["verified_start_or_documented_non_start"]["count"] == 1

    # Its FHIR Task validates, completed, for the person the steward chose.
    status, task, content_type = get(f"{live_server}/fhir/Task/{referral_id}", food)
    assert status == 200 and content_type == "application/fhir+json"
    parsed = Task.model_validate(task)
    assert parsed.status == "completed" and parsed.for_fhir.reference == f"Patient/{first}"
    assert parsed.meta.versionId == str(done["version"])
