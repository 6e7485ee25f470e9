"""The FHIR R4 view of referrals: a referral as a Task, its chain of redirects as one ServiceRequest, its history.

Pure functions over a referral as :class:`~mpi.referrals.reads.ReferralReads`
reads it; they build plain dicts (the runtime does not depend on a FHIR library)
and the tests check every shape with the ``fhir.resources`` R4B models.

Partners read these resources, so they say what the referral's two organisations
may know and no more. A referral waiting on a review case of its person is
"Under review" (:data:`~mpi.referrals.lifecycle.GATED_BUSINESS_STATUS`): the Task
omits ``for`` rather than name a person the index is not sure of, and nothing in
it names the gate, the case or a steward. ``docs/fhir.md`` shows
:func:`markdown_table` of the mapping, and a test keeps the two the same.

A redirect closes one Task (``rejected``, businessStatus ``redirected``) and opens
a successor ``partOf`` it; every Task of the chain is ``basedOn`` (and has as
``focus``) the one ServiceRequest of the chain, whose id is the first referral's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from mpi.errors import NotFound, ValidationError
from mpi.referrals.lifecycle import (
    GATED_BUSINESS_STATUS,
    OPEN_STATES,
    RETURNED_BUSINESS_STATUS,
    STEPS,
    returned,
)
from mpi.referral_vocab import Gate, ReasonCode, ReferralState, Urgency

S = ReferralState
R = ReasonCode

BUSINESS_STATUS_SYSTEM = "https://closedloop-mpi.example/fhir/CodeSystem/referral-business-status"
REASON_SYSTEM = "https://closedloop-mpi.example/fhir/CodeSystem/referral-reason"
SERVICE_TYPE_SYSTEM = "https://closedloop-mpi.example/fhir/CodeSystem/service-type"
REFERENCE_SYSTEM = "urn:closedloop-mpi:referral"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
DATA_OPERATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
#: The one agent partners see for changes the service made itself (the sweep, the gate keeping up with identity).
SERVICE_AGENT = "closedloop-mpi"

#: Every R4 Task.status code (a search may name any; those no state maps to find nothing).
TASK_STATUSES = ("draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                 "on-hold", "failed", "completed", "entered-in-error")
#: Task.priority (and ServiceRequest.priority) by urgency.
PRIORITY = {Urgency.DISCHARGE.value: "asap", Urgency.URGENT.value: "urgent", Urgency.ROUTINE.value: "routine"}
#: States whose Task carries a statusReason (Gravity asks for one on every negative or paused state).
REASONED_STATES = frozenset({S.DECLINED, S.REDIRECTED, S.CLOSED_NOT_SERVED, S.ON_HOLD, S.EXPIRED, S.CANCELLED,
                             S.ENTERED_IN_ERROR})
#: statusReason text of each coded reason, in words a partner reads.
REASON_TEXT = {
    R.NO_CAPACITY: "No capacity", R.NOT_ELIGIBLE: "Not eligible", R.OUT_OF_SERVICE_AREA: "Out of service area",
    R.SERVICE_NOT_OFFERED: "Service not offered", R.INFORMATION_INCOMPLETE: "Information incomplete",
    R.UNABLE_TO_CONTACT: "Unable to contact", R.CLIENT_DECLINED: "Client declined",
    R.ALREADY_SERVED: "Already served", R.DUPLICATE: "Duplicate", R.SAFETY_CONCERN: "Safety concern",
    R.REDIRECTED: "Referred elsewhere", R.EXPIRED_NO_RESPONSE: "No response in time",
    R.NEED_RESOLVED: "Need resolved", R.PATIENT_MOVED: "Client moved", R.DECEASED: "Deceased",
    R.CREATED_IN_ERROR: "Created in error", R.IDENTITY_UNRESOLVED: "Client's details could not be confirmed",
}
#: Provenance.activity text of each kind of history row (a gate's rows in the partner's words).
ACTIVITY = {"intake": "Received", "status": "Status changed", "correction": "Corrected by the requester",
            "reopen": "Reopened", "gate": "Under review", "lift": "Review finished", "person": "Client record updated"}


# ------------------------------------------------------------------------------------------------- pieces

def instant(at: datetime) -> str:
    """A FHIR instant in UTC (naive times are read as UTC, as the clock gives them)."""
    aware = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _ref(kind: str, id_: str) -> dict[str, str]:
    return {"reference": f"{kind}/{id_}"}


def _identifiers(referral: Mapping[str, Any]) -> list[dict[str, str]]:
    """Our reference, and the requester's own id of the referral (what each side looks it up by)."""
    return [{"system": REFERENCE_SYSTEM, "value": referral["reference"]},
            {"system": f"urn:closedloop-mpi:requester:{referral['requester']}",
             "value": referral["requester_referral_id"]}]


def root_id(referral: Mapping[str, Any]) -> str:
    """The id of the first referral of this one's chain of redirects (the ServiceRequest's id).

    Raises:
        ValueError: a redirect's successor read without its lineage (a list row).
    """
    lineage = referral.get("lineage")
    if lineage:
        return lineage[0]["referral_id"]
    if referral.get("predecessor_id"):
        raise ValueError(f"referral {referral['referral_id']} is a redirect's successor: read it with its lineage")
    return referral["referral_id"]


def partner_status(state: str, reason: str | None, gated: bool) -> tuple[str, tuple[str, str]]:
    """Task.status and businessStatus (code, label) of a referral as partners see it.

    The lifecycle's row says both, but for two overlays: a referral returned to its
    requester for information shows that (the requester must act), and an open referral
    waiting on its person's identity shows "Under review", ``on-hold`` if its service had
    already started. A closed referral shows how it closed, gated or not.
    """
    step = STEPS[S(state)]
    status, business = step.fhir_status, (step.business_status, step.label)
    if returned(state, reason):
        business = RETURNED_BUSINESS_STATUS
    elif gated and state in OPEN_STATES:
        business = GATED_BUSINESS_STATUS
        if state == S.IN_PROGRESS:
            status = "on-hold"
    return status, business


def status_reason(state: str, reason: str | None, gated: bool) -> dict[str, Any] | None:
    """Task.statusReason: the coded reason and its text on a negative or paused state, else None."""
    if state in REASONED_STATES:
        if reason is None:
            return {"text": STEPS[S(state)].label}
        text = REASON_TEXT[R(reason)]
        return {"coding": [{"system": REASON_SYSTEM, "code": reason, "display": text}], "text": text}
    if gated and state == S.IN_PROGRESS:
        return {"text": GATED_BUSINESS_STATUS[1]}
    return None


# --------------------------------------------------------------------------------------------------- Task

def task(referral: Mapping[str, Any]) -> dict[str, Any]:
    """A referral as an R4 Task (as it is now, or at a version :func:`task_versions` rebuilt)."""
    referral_id, root = referral["referral_id"], root_id(referral)
    gated = bool(referral.get("gate"))
    status, (code, label) = partner_status(referral["state"], referral.get("state_reason"), gated)
    out: dict[str, Any] = {
        "resourceType": "Task", "id": referral_id,
        "meta": {"versionId": str(referral["version"]), "lastUpdated": instant(referral["updated_at"])},
        "identifier": _identifiers(referral),
        "basedOn": [_ref("ServiceRequest", root)],
    }
    if referral.get("predecessor_id"):
        out["partOf"] = [_ref("Task", referral["predecessor_id"])]
    out["status"] = status
    reason = status_reason(referral["state"], referral.get("state_reason"), gated)
    if reason is not None:
        out["statusReason"] = reason
    out.update(
        businessStatus={"coding": [{"system": BUSINESS_STATUS_SYSTEM, "code": code, "display": label}], "text": label},
        intent="order", priority=PRIORITY[referral["urgency"]],
        code={"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill", "display": "Fulfill the focal request"}]},
        focus=_ref("ServiceRequest", root))
    if referral.get("person_id") and not gated:
        out["for"] = _ref("Patient", referral["person_id"])
    out.update(authoredOn=instant(referral["received_at"]), lastModified=instant(referral["updated_at"]),
               requester=_ref("Organization", referral["requester"]),
               owner=_ref("Organization", referral["performer"]))
    if referral.get("next_due_at") is not None:
        out["restriction"] = {"period": {"end": instant(referral["next_due_at"])}}
    return out


# ---------------------------------------------------------------------------------------- ServiceRequest

def service_request(chain: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The order behind a chain of redirects, as an R4 ServiceRequest (its id: the first referral's).

    Args:
        chain: every referral of the chain as stored, the first one first
            (:meth:`~mpi.referrals.reads.ReferralReads.chain`).

    The loop stays open at this level while any referral of the chain is: ``active``
    until the chain ends, then ``completed`` if its last referral was, ``entered-in-error``
    if it was withdrawn as an error, ``revoked`` however else it ended. Its subject is the
    person, but while any referral of the chain waits on a review case it is a logical
    reference to the requester's own record (R4 requires a subject; a guess is no answer).
    """
    root = chain[0]
    predecessors = {r["predecessor_id"] for r in chain}
    leaves = [r for r in chain if r["referral_id"] not in predecessors]
    if any(r["state"] in OPEN_STATES for r in chain):
        status = "active"
    elif any(r["state"] == S.COMPLETED for r in leaves):
        status = "completed"
    elif all(r["state"] == S.ENTERED_IN_ERROR for r in leaves):
        status = "entered-in-error"
    else:
        status = "revoked"
    person = leaves[-1].get("person_id")
    if person and not any(r.get("gate") for r in chain):
        subject = _ref("Patient", person)
    else:
        subject = {"identifier": {"system": f"urn:closedloop-mpi:record:{root['source_system']}",
                                  "value": root["source_record_id"]}, "display": "Patient"}
    out: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": root["referral_id"],
        "meta": {"lastUpdated": instant(max(r["updated_at"] for r in chain))},
        "identifier": _identifiers(root), "status": status, "intent": "order",
        "priority": PRIORITY[root["urgency"]],
        "code": {"coding": [{"system": SERVICE_TYPE_SYSTEM, "code": root["service_type"]}],
                 "text": root["service_type"]},
        "subject": subject, "authoredOn": instant(root["received_at"]),
        "requester": _ref("Organization", root["requester"]),
        "performer": [_ref("Organization", p) for p in dict.fromkeys(r["performer"] for r in leaves)],
    }
    if root.get("reason"):
        out["reasonCode"] = [{"text": root["reason"]}]
    return out


# ----------------------------------------------------------------------------------------------- history

def _snapshots(referral: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], dict[str, Any]]]:
    """(history row, the referral as that row left it), oldest first.

    State and reason are read forward (a step's row names the state it entered and its
    reason; a correction or reopening clears the reason). Gate and person are read
    backward from now: a gate's row names the person before it (none: it was gated
    already), a lift's row follows a gated time, a person's row names the one before.
    Other columns are shown as they are now (a correction's row names the fields it
    changed, not their old values), and a past version has no due time.
    """
    rows = list(referral["history"])
    gate, person = referral.get("gate"), referral.get("person_id")
    after: dict[int, tuple[str | None, str | None]] = {}
    for row in reversed(rows):
        after[row["seq"]] = (gate, person)
        detail = row.get("detail") or {}
        if row["kind"] == "gate":
            person = detail.get("previous_person_id")
            gate = None if person is not None else Gate.IDENTITY_PENDING.value
        elif row["kind"] == "lift":
            gate, person = Gate.IDENTITY_PENDING.value, None
        elif row["kind"] == "person":
            person = detail.get("previous_person_id")
    state, reason = None, None
    for row in rows:
        state = row["to_state"] or state
        if row["kind"] == "status":
            reason = row["reason"]
        elif row["kind"] in ("intake", "correction", "reopen"):
            reason = None
        gate, person = after[row["seq"]]
        yield row, {**referral, "state": state, "state_reason": reason, "gate": gate, "person_id": person,
                    "version": row["seq"], "updated_at": row["recorded_time"], "next_due_at": None}


def provenance(referral: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    """Who made one version of a Task and when: ``occurredDateTime`` is the event time, ``recorded`` ours.

    A person's steps name the user (as the JSON API's history does); the service's own
    (the sweep, the gate following identity) name only the service.
    """
    actor = str(row["actor"])
    who = actor.removeprefix("user:") if actor.startswith("user:") else SERVICE_AGENT
    return {
        "resourceType": "Provenance",
        "target": [{"reference": f"Task/{referral['referral_id']}/_history/{row['seq']}"}],
        "occurredDateTime": instant(row["event_time"]), "recorded": instant(row["recorded_time"]),
        "activity": {"coding": [{"system": DATA_OPERATION_SYSTEM,
                                 "code": "CREATE" if row["kind"] == "intake" else "UPDATE"}],
                     "text": ACTIVITY.get(row["kind"], "Updated")},
        "agent": [{"who": {"display": who}}],
    }


def task_versions(referral: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(Task, Provenance) of every version, oldest first; the newest is the Task as it is now."""
    out = []
    for row, snapshot in _snapshots(referral):
        current = row["seq"] == referral["version"]
        out.append((task(referral if current else snapshot), provenance(referral, row)))
    return out


def task_version(referral: Mapping[str, Any], version_id: str) -> dict[str, Any]:
    """The Task at one version.

    Raises:
        NotFound: the referral has no such version.
    """
    for resource, _ in task_versions(referral):
        if resource["meta"]["versionId"] == version_id:
            return resource
    raise NotFound(f"Task {referral['referral_id']} has no version {version_id}",
                   {"version": [f"versions run from 1 to {referral['version']}"]})


def task_history(referral: Mapping[str, Any], base_url: str) -> dict[str, Any]:
    """A ``history`` Bundle: every version of the Task, newest first, each followed by its Provenance.

    The Provenance carries what a Task version cannot: when the change happened at its
    source (``occurredDateTime``, the referral's event time) apart from when we stored it
    (``recorded``), and who made it. They have no address of their own here (``urn:uuid``
    full URLs, stable per version); each targets its Task version.
    """
    referral_id, entries = referral["referral_id"], []
    for resource, made in reversed(task_versions(referral)):
        version = resource["meta"]["versionId"]
        first = version == "1"
        entries.append({
            "fullUrl": f"{base_url}/Task/{referral_id}", "resource": resource,
            "request": {"method": "POST", "url": "Task"} if first else {"method": "PUT", "url": f"Task/{referral_id}"},
            "response": {"status": "201 Created" if first else "200 OK", "etag": f'W/"{version}"',
                         "lastModified": resource["meta"]["lastUpdated"]}})
        entries.append({
            "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{REFERENCE_SYSTEM}:{referral_id}:{version}')}",
            "resource": made, "request": {"method": "POST", "url": "Provenance"},
            "response": {"status": "201 Created", "lastModified": made["recorded"]}})
    return {"resourceType": "Bundle", "type": "history", "total": len(entries) // 2,
            "link": [{"relation": "self", "url": f"{base_url}/Task/{referral_id}/_history"}], "entry": entries}


# ------------------------------------------------------------------------------------------------ search

def search_bundle(referrals: Iterable[Mapping[str, Any]], total: int, base_url: str,
                  links: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A ``searchset`` Bundle of Tasks: ``total`` is every match, the entries one page; ``links`` by relation."""
    return {"resourceType": "Bundle", "type": "searchset", "total": total,
            "link": [{"relation": relation, "url": url} for relation, url in (links or {}).items()],
            "entry": [{"fullUrl": f"{base_url}/Task/{r['referral_id']}", "resource": task(r),
                       "search": {"mode": "match"}} for r in referrals]}


def owner_code(owner: str | None) -> str | None:
    """The organisation code a search's ``owner`` names (``foodbank`` or ``Organization/foodbank``).

    Raises:
        ValidationError: a reference to anything but an Organization, or an empty one.
    """
    if owner is None:
        return None
    kind, _, code = owner.rpartition("/")
    if kind not in ("", "Organization") or not code:
        raise ValidationError("owner is an organisation: foodbank or Organization/foodbank",
                              {"owner": ["must be an organisation code or Organization/<code>"]})
    return code


def search_filters(statuses: str | None) -> list[dict[str, Any]]:
    """The referral list filters whose union is exactly the Tasks in these statuses (comma-separated codes).

    Each state has one Task.status, but for a gated referral in progress, which shows
    ``on-hold``: so ``in-progress`` finds only ungated ones and ``on-hold`` the gated ones
    too, which takes a second filter unless both are asked. An empty list finds nothing.

    Raises:
        ValidationError: a code that is no R4 Task.status.
    """
    if statuses is None:
        return [{}]
    wanted = {s.strip() for s in statuses.split(",") if s.strip()}
    unknown = sorted(wanted - set(TASK_STATUSES))
    if unknown or not wanted:
        raise ValidationError(f"not a Task status: {', '.join(unknown) or '(none given)'}",
                              {"status": [f"comma-separated, among {', '.join(TASK_STATUSES)}"]})
    states = [s.value for s, step in STEPS.items() if s is not S.IN_PROGRESS and step.fhir_status in wanted]
    started, paused = "in-progress" in wanted, "on-hold" in wanted
    if started and paused:
        states.append(S.IN_PROGRESS.value)
    filters = [{"state": states}] if states else []
    if started != paused:
        filters.append({"state": [S.IN_PROGRESS.value], "gated": paused})
    return filters


def markdown_table() -> str:
    """The mapping as docs/fhir.md shows it: each state's Task.status, businessStatus and statusReason."""
    lines = ["| state | Task.status | businessStatus (code: display) | statusReason |", "|---|---|---|---|"]
    for state, step in STEPS.items():
        why = "the coded reason (`referral-reason`) and its text" if state in REASONED_STATES else "-"
        if state in REASONED_STATES and not step.reason_required:
            why += "; without one, the label"
        lines.append(f"| `{state.value}` | `{step.fhir_status}` | `{step.business_status}`: {step.label} | {why} |")
    code, label = RETURNED_BUSINESS_STATUS
    lines.append(f"| `on_hold`, returned for information (gated or not) | `on-hold` | `{code}`: {label} | "
                 "`information-incomplete` |")
    code, label = GATED_BUSINESS_STATUS
    lines.append(f"| `in_progress`, gated | `on-hold` | `{code}`: {label} | text only: {label} |")
    lines.append(f"| any other open state, gated | as the state | `{code}`: {label} | as the state |")
    return "\n".join(lines)
