"""Referrals as the FHIR tests need them: in any state, gated at intake, gated after their service started.

Every referral is made through the real services of ``referral_network``'s
network (St Mary's refers, the food bank performs); ``valid`` checks a resource
with the ``fhir.resources`` R4B models and the R4 codes those models leave unchecked.
Imported by ``test_fhir.py`` and ``test_fhir_api.py``.
"""

from __future__ import annotations

from datetime import timedelta

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from conftest import record
from held_cases import PARTIAL, weight_of
from referral_network import referral_body

#: R4 required bindings the models do not enforce (they check structure and types, not codes).
R4_CODES = {
    ("Task", "status"): {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
                         "in-progress", "on-hold", "failed", "completed", "entered-in-error"},
    ("Task", "intent"): {"unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                         "instance-order", "option"},
    ("Task", "priority"): {"routine", "urgent", "asap", "stat"},
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                                   "unknown"},
    ("ServiceRequest", "priority"): {"routine", "urgent", "asap", "stat"},
    ("Bundle", "type"): {"history", "searchset"},
}
MODELS = {"Task": Task, "ServiceRequest": ServiceRequest, "Bundle": Bundle, "Provenance": Provenance}
#: Words a partner must never read in a gated referral's resources.
UNSAID = ("identity", "steward", "review case", "review_case", "case_id", "gate")

#: How the food bank (or St Mary's, or the sweep) brings a new referral to each state.
PATHS = {
    "submitted": [],
    "acknowledged": [("hub-foodbank", {"state": "acknowledged"})],
    "in_triage": [("hub-foodbank", {"state": "acknowledged"}), ("hub-foodbank", {"state": "in_triage"})],
    "accepted": [("hub-foodbank", {"state": "accepted"})],
    "in_progress": [("hub-foodbank", {"state": "accepted"}), ("hub-foodbank", {"state": "in_progress"})],
    "completed": [("hub-foodbank", {"state": "accepted"}), ("hub-foodbank", {"state": "in_progress"}),
                  ("hub-foodbank", {"state": "completed"})],
    "declined": [("hub-foodbank", {"state": "declined", "reason": "not-eligible"})],
    "redirected": [("hub-foodbank", {"state": "redirected", "reason": "no-capacity", "performer": "homebase"})],
    "closed_not_served": [("hub-foodbank", {"state": "accepted"}),
                          ("hub-foodbank", {"state": "closed_not_served", "reason": "unable-to-contact"})],
    "on_hold": [("hub-foodbank", {"state": "on_hold", "reason": "no-capacity"})],
    "expired": ["sweep"],
    "cancelled": [("hub-stmarys", {"state": "cancelled", "reason": "need-resolved"})],
    "entered_in_error": [("hub-stmarys", {"state": "entered_in_error", "note": "sent for the wrong client"})],
}


def valid(resource: dict) -> dict:
    """The resource, once the R4B model of its type and the R4 codes accept it (nested resources too)."""
    kind = resource["resourceType"]
    MODELS[kind].model_validate(resource)
    for (of, element), codes in R4_CODES.items():
        if of == kind and element in resource:
            assert resource[element] in codes, f"{kind}.{element} = {resource[element]!r}"
    for entry in resource.get("entry", []):
        valid(entry["resource"])
    return resource


def steps(services, network, referral_id: str, *moves) -> dict:
    """Take each (user, status change) in turn; returns the referral as the last one left it."""
    referral = None
    for user, body in moves:
        referral = services.referrals.change_status(referral_id, body, network.callers[user])
    return referral


def referral_in(services, network, clock, state: str, ref: str = "SM-1", **body) -> dict:
    """A referral from St Mary's to the food bank, brought to ``state`` as the lifecycle allows."""
    hub = network.callers["hub-stmarys"]
    referral, _ = services.referrals.submit(referral_body(ref=ref, **body), hub)
    for move in PATHS[state]:
        if move == "sweep":
            clock.advance(timedelta(days=30))
            services.sweep.run()
        else:
            steps(services, network, referral["referral_id"], move)
    return services.referrals.get(referral["referral_id"], hub)


def gated_referral(services, network, activate_policy, ref: str = "SM-2") -> dict:
    """A referral whose partial record of Marisol lands in the review band the test places: held, gated.

    Marisol's full record comes first (a referral of its own), then the thresholds are
    set 3 either side of the partial record's weight against her.
    """
    hub = network.callers["hub-stmarys"]
    services.referrals.submit(referral_body("marisol", "SM-FULL"), hub)
    partial = {**PARTIAL, "source_system": "st-marys-ehr", "source_record_id": f"MRN-{ref}"}
    weight = weight_of(services, partial)
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    referral, _ = services.referrals.submit({**referral_body(ref=ref), "person": partial}, hub)
    assert referral["gate"] == "identity_pending" and referral["review_case_id"]
    return referral


def gated_after_start(services, network, clock, ref: str = "SM-3") -> dict:
    """A referral for Desmond in progress whose person is merged into another and unmerged: back in review, gated.

    Desmond, so that the other tests' referrals (for Marisol) stay as they are.
    """
    referral = referral_in(services, network, clock, "in_progress", ref, name="desmond")
    other = services.matching.submit(record("theodore", "bluepath-mco", f"BP-{ref}"), "test")["person_id"]
    merge_id = services.merges.merge(other, referral["person_id"], "user:sam", "looked like one client")
    services.merges.unmerge(merge_id, "user:sam", "two clients after all")
    referral = services.referrals.get(referral["referral_id"], network.callers["hub-stmarys"])
    assert (referral["state"], referral["gate"]) == ("in_progress", "identity_pending")
    return referral
