"""What a partner is sent: a status change as a webhook event or a FHIR R4 Task, and its signature.

A message's payload is made once, when the change is written (the outbox), so
it says what the partner should have been told then: the partner's label under
the crosswalk version in force at the event time. Only the transmission time is
added when it is sent (:func:`body`), and the body is signed as sent
(:func:`signature`): HMAC-SHA256 over ``"{timestamp}.{body}"`` with the partner's
secret, in the header ``X-Closedloop-Signature: t=<unix seconds>,v1=<hex>``, so
the partner can check both who sent it and that it is fresh (:func:`verify`,
which a partner may copy). Payloads carry ids and codes, never demographics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mpi.referrals import fhir

SIGNATURE_HEADER = "X-Closedloop-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_TIME_HEADER = "X-Event-Time"
TRANSMISSION_TIME_HEADER = "X-Transmission-Time"
#: The webhook event's type.
EVENT_TYPE = "referral.status_changed"
#: Task extensions carrying both clocks (FHIR R4 has no element for either).
EVENT_TIME_URL = "https://closedloop-mpi.example/fhir/StructureDefinition/event-time"
TRANSMISSION_TIME_URL = "https://closedloop-mpi.example/fhir/StructureDefinition/transmission-time"
PARTNER_LABEL_SYSTEM = "https://closedloop-mpi.example/fhir/CodeSystem/partner-label"
#: How far a signature's timestamp may be from the receiver's clock before :func:`verify` refuses it.
TOLERANCE_SECONDS = 300


def webhook_event(referral: Mapping[str, Any], change: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The JSON event of one status change (``change``: state, reason, party, label, crosswalk version, times)."""
    return {"type": EVENT_TYPE, "idempotency_key": key, "referral_id": referral["referral_id"],
            "requester_referral_id": referral.get("requester_referral_id"), "requester": referral["requester"],
            "performer": referral["performer"], "version": change["version"], "state": change["state"],
            "reason": change["reason"], "party": change["party"], "label": change["label"],
            "crosswalk_version": change["crosswalk_version"], "event_time": fhir.instant(change["event_time"]),
            "recorded_time": fhir.instant(change["recorded_time"])}


def task(referral: Mapping[str, Any], change: Mapping[str, Any], root: str) -> dict[str, Any]:
    """The R4 Task of one status change, PUT to ``{endpoint}/Task/{referral_id}``; businessStatus is the
    partner's label (its internal code beside it), ``lastModified`` the event time."""
    state, reason = change["state"], change["reason"]
    status, (code, display) = fhir.partner_status(state, reason, False)
    out: dict[str, Any] = {
        "resourceType": "Task", "id": referral["referral_id"],
        "meta": {"versionId": str(change["version"])},
        "extension": [{"url": EVENT_TIME_URL, "valueInstant": fhir.instant(change["event_time"])}],
        "identifier": [{"system": fhir.REFERENCE_SYSTEM, "value": referral["referral_id"]}],
        "basedOn": [{"reference": f"ServiceRequest/{root}"}], "status": status,
        "businessStatus": {"coding": [{"system": PARTNER_LABEL_SYSTEM, "display": change["label"]},
                                      {"system": fhir.BUSINESS_STATUS_SYSTEM, "code": code, "display": display}],
                           "text": change["label"]},
        "intent": "order", "focus": {"reference": f"ServiceRequest/{root}"},
        "lastModified": fhir.instant(change["event_time"]),
        "requester": {"reference": f"Organization/{referral['requester']}"},
        "owner": {"reference": f"Organization/{referral['performer']}"}}
    if referral.get("predecessor_id"):
        out["partOf"] = [{"reference": f"Task/{referral['predecessor_id']}"}]
    why = fhir.status_reason(state, reason, False)
    if why is not None:
        out["statusReason"] = why
    return out


def body(payload: Mapping[str, Any], transmitted: datetime) -> bytes:
    """The bytes sent: the stored payload with its transmission time added."""
    sent = dict(payload)
    if sent.get("resourceType") == "Task":
        sent["extension"] = [*sent.get("extension", []),
                             {"url": TRANSMISSION_TIME_URL, "valueInstant": fhir.instant(transmitted)}]
    else:
        sent["transmission_time"] = fhir.instant(transmitted)
    return json.dumps(sent, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, sent: bytes, timestamp: int) -> str:
    """The signature header's value for ``sent`` at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + sent, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str | None, received: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a partner checks: the header parses, its timestamp is within ``tolerance`` of ``now``, the MAC matches."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, received, timestamp), f"t={timestamp},v1={parts.get('v1', '')}")
