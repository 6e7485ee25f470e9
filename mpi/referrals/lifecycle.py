"""The referral lifecycle, written once as a table: the API, the worklist, the docs and the FHIR view all read it.

Each :class:`Step` says how a referral may *enter* one state: from which states,
which side of the referral takes it (the performer, the requester, either, or
the system), which coded reasons it takes and whether one is required, whether a
note is required, whether it is refused while the referral is gated on its
person's identity, which time targets it meets, and how partners see the state
(FHIR ``Task.status``, our ``businessStatus`` code and a label).

Two rules sit beside the table because they read the referral, not only its state:

- a referral returned to its requester (``on_hold`` with reason
  ``information-incomplete``) waits on the requester's correction: the performer
  can take no step until it comes back (only ``cancelled`` and ``entered_in_error``
  remain);
- a closed referral can be reopened (:data:`REOPEN`) by the side that may close it so,
  back to the state it closed from.

``docs/referrals.md`` shows :func:`markdown_table` of this table, and a test keeps
the two the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mpi.referral_vocab import ReasonCode, ReferralState

S = ReferralState
R = ReasonCode


class Side(StrEnum):
    """Which side of a referral may take a step."""

    PERFORMER = "performer"
    """The organisation asked to serve."""
    REQUESTER = "requester"
    """The organisation that referred."""
    EITHER = "either"
    """Either of the two."""
    SYSTEM = "system"
    """Only the service itself (the sweep)."""


class Clock(StrEnum):
    """A time target of a referral, counted in the performer's business hours."""

    ACKNOWLEDGE = "acknowledge"
    """From receipt to the performer's first response."""
    TRIAGE = "triage"
    """From receipt to triage (or a decision)."""
    FIRST_CONTACT = "first_contact"
    """From receipt to first contact or the service's start (``in_progress``); stopped while gated."""
    EXPIRY = "expiry"
    """From receipt to expiry if never acknowledged."""


@dataclass(frozen=True)
class Step:
    """How a referral enters one state."""

    state: ReferralState
    sources: frozenset[ReferralState]
    by: Side
    reasons: tuple[ReasonCode, ...] = ()
    reason_required: bool = False
    note_required: bool = False
    refused_while_gated: bool = False
    meets: tuple[Clock, ...] = ()
    terminal: bool = False
    fhir_status: str = ""
    business_status: str = ""
    label: str = ""

    def allowed_for(self, side: Side) -> bool:
        """Whether a caller on ``side`` may take this step."""
        return may(side, self.by)


def may(side: Side, by: Side) -> bool:
    """Whether a caller on ``side`` may take a step taken ``by`` (``EITHER`` is a caller on both sides)."""
    if by is Side.SYSTEM:
        return side is Side.SYSTEM
    return by is Side.EITHER or side is Side.EITHER or side is by


#: Where a referral still waits on someone (not closed).
OPEN_STATES = frozenset({S.SUBMITTED, S.ACKNOWLEDGED, S.IN_TRIAGE, S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD})
_BEFORE_ACCEPT = frozenset({S.SUBMITTED, S.ACKNOWLEDGED, S.IN_TRIAGE, S.ON_HOLD})

_DECLINE = (R.NO_CAPACITY, R.NOT_ELIGIBLE, R.OUT_OF_SERVICE_AREA, R.SERVICE_NOT_OFFERED, R.UNABLE_TO_CONTACT,
            R.CLIENT_DECLINED, R.ALREADY_SERVED, R.DUPLICATE, R.SAFETY_CONCERN, R.IDENTITY_UNRESOLVED)
_NOT_SERVED = (R.UNABLE_TO_CONTACT, R.CLIENT_DECLINED, R.PATIENT_MOVED, R.DECEASED, R.NEED_RESOLVED,
               R.ALREADY_SERVED, R.SAFETY_CONCERN, R.NOT_ELIGIBLE)
_HOLD = (R.INFORMATION_INCOMPLETE, R.NO_CAPACITY, R.UNABLE_TO_CONTACT)
_REDIRECT = (R.REDIRECTED, R.NO_CAPACITY, R.NOT_ELIGIBLE, R.OUT_OF_SERVICE_AREA, R.SERVICE_NOT_OFFERED)
_CANCEL = (R.NEED_RESOLVED, R.PATIENT_MOVED, R.DECEASED, R.DUPLICATE, R.CLIENT_DECLINED, R.IDENTITY_UNRESOLVED)
_ERROR = (R.CREATED_IN_ERROR, R.DUPLICATE, R.IDENTITY_UNRESOLVED)
_RESPONSE = (Clock.ACKNOWLEDGE, Clock.TRIAGE)

#: The table: one row per state a referral can enter (``submitted`` is entered only by intake).
STEPS: dict[ReferralState, Step] = {step.state: step for step in (
    Step(S.SUBMITTED, frozenset(), Side.REQUESTER,
         fhir_status="requested", business_status="submitted", label="Sent"),
    Step(S.ACKNOWLEDGED, frozenset({S.SUBMITTED}), Side.PERFORMER, meets=(Clock.ACKNOWLEDGE,),
         fhir_status="received", business_status="received", label="Received"),
    Step(S.IN_TRIAGE, frozenset({S.SUBMITTED, S.ACKNOWLEDGED, S.ON_HOLD}), Side.PERFORMER, meets=_RESPONSE,
         fhir_status="received", business_status="triage", label="Under review"),
    Step(S.ACCEPTED, _BEFORE_ACCEPT, Side.PERFORMER, meets=_RESPONSE,
         fhir_status="accepted", business_status="accepted", label="Accepted"),
    Step(S.IN_PROGRESS, frozenset({S.ACCEPTED, S.ON_HOLD}), Side.PERFORMER, refused_while_gated=True,
         meets=(*_RESPONSE, Clock.FIRST_CONTACT),
         fhir_status="in-progress", business_status="in-progress", label="In progress"),
    Step(S.COMPLETED, frozenset({S.IN_PROGRESS}), Side.PERFORMER, refused_while_gated=True, terminal=True,
         meets=(*_RESPONSE, Clock.FIRST_CONTACT),
         fhir_status="completed", business_status="completed", label="Completed"),
    Step(S.DECLINED, _BEFORE_ACCEPT, Side.PERFORMER, _DECLINE, reason_required=True, terminal=True, meets=_RESPONSE,
         fhir_status="rejected", business_status="declined", label="Declined"),
    Step(S.REDIRECTED, _BEFORE_ACCEPT | {S.ACCEPTED}, Side.EITHER, _REDIRECT, reason_required=True, terminal=True,
         meets=_RESPONSE, fhir_status="rejected", business_status="redirected", label="Referred elsewhere"),
    Step(S.CLOSED_NOT_SERVED, frozenset({S.ACCEPTED, S.IN_PROGRESS, S.ON_HOLD}), Side.PERFORMER, _NOT_SERVED,
         reason_required=True, terminal=True, meets=_RESPONSE,
         fhir_status="failed", business_status="closed-not-served", label="Closed – not served"),
    Step(S.ON_HOLD, frozenset({S.SUBMITTED, S.ACKNOWLEDGED, S.IN_TRIAGE, S.ACCEPTED, S.IN_PROGRESS}),
         Side.PERFORMER, _HOLD, reason_required=True, meets=(Clock.ACKNOWLEDGE,),
         fhir_status="on-hold", business_status="on-hold", label="On hold"),
    Step(S.EXPIRED, frozenset({S.SUBMITTED}), Side.SYSTEM, (R.EXPIRED_NO_RESPONSE,), reason_required=True,
         terminal=True, fhir_status="cancelled", business_status="expired", label="Expired – no response"),
    Step(S.CANCELLED, OPEN_STATES, Side.REQUESTER, _CANCEL, reason_required=True, terminal=True,
         fhir_status="cancelled", business_status="cancelled", label="Cancelled"),
    Step(S.ENTERED_IN_ERROR, frozenset(S) - {S.ENTERED_IN_ERROR}, Side.EITHER, _ERROR, note_required=True,
         terminal=True, fhir_status="entered-in-error", business_status="entered-in-error", label="Withdrawn"),
)}

#: Closed states a referral can be reopened from, and the side that may reopen it.
REOPEN: dict[ReferralState, Side] = {
    S.COMPLETED: Side.PERFORMER, S.DECLINED: Side.PERFORMER, S.CLOSED_NOT_SERVED: Side.PERFORMER,
    S.CANCELLED: Side.REQUESTER, S.EXPIRED: Side.EITHER,
}
#: What a returned referral (on hold, information-incomplete) may still become: the rest waits on the correction.
WHILE_RETURNED = frozenset({S.CANCELLED, S.ENTERED_IN_ERROR})
#: Partners see a gated referral as under review, never the identity conflict.
GATED_BUSINESS_STATUS = ("under-review", "Under review")
#: The businessStatus of a referral returned to its requester for missing information.
RETURNED_BUSINESS_STATUS = ("information-incomplete", "Returned for information")
#: The party a coded reason implies when the caller names none.
DEFAULT_PARTY = {
    R.CLIENT_DECLINED: "client", R.EXPIRED_NO_RESPONSE: "system", R.NEED_RESOLVED: "requester",
    R.PATIENT_MOVED: "client", R.DECEASED: "client", R.DUPLICATE: "requester", R.CREATED_IN_ERROR: "requester",
    R.IDENTITY_UNRESOLVED: "system",
}
TERMINAL_STATES = frozenset(s for s, step in STEPS.items() if step.terminal)


def returned(state: str, reason: str | None) -> bool:
    """Whether a referral in this state is back with its requester for missing information."""
    return state == S.ON_HOLD and reason == R.INFORMATION_INCOMPLETE


def next_states(state: str, reason: str | None = None) -> list[ReferralState]:
    """The states a referral may enter from here, in lifecycle order (what a 409 lists and the worklist offers)."""
    targets = [s for s, step in STEPS.items() if state in step.sources]
    if returned(state, reason):
        targets = [s for s in targets if s in WHILE_RETURNED]
    return targets


def markdown_table() -> str:
    """The table as docs/referrals.md shows it."""
    order = list(ReferralState)
    lines = ["| state | entered from | by | reason (required?) | note | while gated | meets | FHIR Task.status "
             "| businessStatus | partners see |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for state, step in STEPS.items():
        sources = ", ".join(f"`{s.value}`" for s in order if s in step.sources) or "(intake)"
        if step.reasons:
            reasons = ", ".join(f"`{r.value}`" for r in step.reasons)
            reasons += " (required)" if step.reason_required else " (optional)"
        else:
            reasons = "none"
        lines.append(
            f"| `{state.value}` | {sources} | {step.by.value} | {reasons} | "
            f"{'required' if step.note_required else 'optional'} | "
            f"{'refused' if step.refused_while_gated else 'allowed'} | "
            f"{', '.join(c.value for c in step.meets) or '-'} | `{step.fhir_status}` | `{step.business_status}` "
            f"| {step.label} |")
    return "\n".join(lines)
