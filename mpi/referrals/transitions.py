"""Guarded steps of the lifecycle: status changes, the requester's correction, reopening, and redirects.

Every step is checked whole under the writer lock before anything is written,
against the table in ``lifecycle.py``: a step refused while gated is refused while
the person's identity is pending, whatever the state (409 ``identity_pending``
with the case, and the states allowed if the step is not one of them either); the
state must be reachable from here (else 409 ``invalid_transition`` listing where it
can go); the caller must be on the side that takes the step (else 403 naming that
side); a negative or paused state needs a coded reason it allows, and the
event time may be neither in the future nor before the referral was received or
its last change happened. Then one :class:`~mpi.referrals.writer.ReferralWriter`
change writes it. The check and the write are one unit of a transaction shared with
the writers beside it (``Store.grouped``); a refusal writes nothing, so it costs them nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock as TimeSource
from mpi.directory.organisations import Directory
from mpi.errors import Conflict, ValidationError
from mpi.referral_vocab import Party, ReferralState
from mpi.referrals.access import check_visible, refuse_side, side_of
from mpi.referrals.gate import IdentityGate
from mpi.referrals.intake import check_organisations, reference
from mpi.referrals.lifecycle import DEFAULT_PARTY, REOPEN, STEPS, Side, may, next_states, returned
from mpi.referrals.policy import ReferralPolicy, check_complete
from mpi.referrals.timing import PauseKind, targets
from mpi.referrals.validation import validate_correction, validate_reopen, validate_status_change
from mpi.referrals.writer import ReferralWriter
from mpi.store import Store
from mpi.vocab import AuditAction

logger = logging.getLogger(__name__)

#: How far ahead of the service's clock an event time may be (the sender's clock may run a little fast).
CLOCK_SKEW = timedelta(seconds=60)
S = ReferralState


class InvalidTransition(Conflict):
    """A step the lifecycle does not allow from the referral's state."""

    code = "invalid_transition"


class IdentityPending(Conflict):
    """A step refused while the referral waits on a review case of its person's identity."""

    code = "identity_pending"


class ReferralSteps:
    """The lifecycle's steps over one store."""

    def __init__(self, store: Store, writer: ReferralWriter, directory: Directory, policy: ReferralPolicy,
                 gate: IdentityGate, clock: TimeSource):
        self.store = store
        self.writer = writer
        self.directory = directory
        self.policy = policy
        self.gate = gate
        self.clock = clock

    def _read(self, referral_id: str, caller: Caller) -> dict[str, Any]:
        return dict(check_visible(self.store.referrals.get(referral_id), referral_id, caller))

    # -- status changes ----------------------------------------------------------------------------------

    def change_status(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        """Move a referral to another state (see the module docstring for every check)."""
        body = validate_status_change(data)
        target = S(body["state"])
        step = STEPS[target]

        def unit() -> dict[str, Any]:
            referral = self._read(referral_id, caller)
            side = side_of(referral, caller)
            allowed = next_states(referral["state"], referral["state_reason"])
            if step.refused_while_gated and referral["gate"]:
                # The gate answers first: whatever the state, no start or completion until identity is settled.
                errors = {"gate": [referral["gate"]], "review_case_id": [referral["review_case_id"]]}
                if target not in allowed:
                    errors["state"] = self._invalid(referral, target, allowed).errors["state"]
                raise IdentityPending(
                    f"referral {referral_id} waits on review case {referral['review_case_id']} for its person's "
                    f"identity: {target.value} is refused until a steward decides it", errors)
            if target not in allowed:
                raise self._invalid(referral, target, allowed)
            if not step.allowed_for(side):
                raise refuse_side(referral, f"move a referral to {target.value}", step.by)
            event_time = self._event_time(body.get("event_time"), referral)
            reason, party = self._reason(step, body.get("reason"), body.get("party"), body.get("note"), side)
            with self.store.transaction():
                if target is S.REDIRECTED:
                    return self._redirect(referral, body, event_time, reason, party, caller)
                changes: dict[str, Any] = {"state": target.value, "state_reason": reason, "state_party": party}
                start = None
                if step.terminal:  # its clocks stand still from closed_at until it is reopened
                    changes.update(resume_state=referral["state"], closed_at=event_time)
                elif returned(target, reason):
                    changes["resume_state"] = referral["state"]
                    start = PauseKind.RETURNED
                return self.writer.change(
                    referral, kind="status", action=AuditAction.REFERRAL_STATUS_CHANGED, event_time=event_time,
                    actor=caller.actor, changes=changes, party=party, reason=reason, note=body.get("note"),
                    meets=step.meets if side in (Side.PERFORMER, Side.EITHER) else (), start=start)
        return self.store.grouped(unit)

    def correct(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        """The requester's correction of a referral returned as information-incomplete: back where it was."""
        body = validate_correction(data)

        def unit() -> dict[str, Any]:
            referral = self._read(referral_id, caller)
            side = side_of(referral, caller)
            if not returned(referral["state"], referral["state_reason"]):
                raise InvalidTransition(
                    f"referral {referral_id} is {referral['state']}: only a referral returned as "
                    "information-incomplete takes a correction", {"state": ["not returned for information"]})
            if side is Side.PERFORMER:
                raise refuse_side(referral, "correct a referral", Side.REQUESTER)
            corrected = {**referral, **{k: v for k, v in body.items() if k not in ("event_time", "note")}}
            check_complete(corrected, self.policy)
            event_time = self._event_time(body.get("event_time"), referral)
            back = referral["resume_state"] or S.SUBMITTED.value
            changes = {k: corrected[k] for k in body if k not in ("event_time", "note")}
            changes.update(state=back, state_reason=None, state_party=None, resume_state=None)
            with self.store.transaction():
                return self.writer.change(
                    referral, kind="correction", action=AuditAction.REFERRAL_CORRECTED, event_time=event_time,
                    actor=caller.actor, changes=changes, party=Party.REQUESTER.value, note=body.get("note"),
                    end=PauseKind.RETURNED, detail={"corrected": sorted(changes.keys() - {
                        "state", "state_reason", "state_party", "resume_state"})})
        return self.store.grouped(unit)

    def reopen(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        """Reopen a closed referral, back in the state it closed from; its identity is checked again."""
        body = validate_reopen(data)

        def unit() -> dict[str, Any]:
            referral = self._read(referral_id, caller)
            side = side_of(referral, caller)
            state = S(referral["state"])
            if state not in REOPEN:
                raise InvalidTransition(
                    f"referral {referral_id} is {state.value}: only {', '.join(s.value for s in REOPEN)} reopen",
                    {"state": [f"reopens from {', '.join(s.value for s in REOPEN)}"]})
            if not may(side, REOPEN[state]):
                raise refuse_side(referral, f"reopen a referral that is {state.value}", REOPEN[state])
            event_time = self._event_time(body.get("event_time"), referral)
            back = referral["resume_state"] or S.SUBMITTED.value
            changes = {"state": back, "state_reason": None, "state_party": None, "resume_state": None,
                       "closed_at": None}
            with self.store.transaction():
                # An expired one gets a whole expiry window again, or the next sweep would expire it at once.
                reopened = self.writer.change(
                    referral, kind="reopen", action=AuditAction.REFERRAL_REOPENED, event_time=event_time,
                    actor=caller.actor, reason=None, note=body["reason"], changes=changes, reopened=True)
                return self.gate.reconcile(reopened["referral_id"])
        return self.store.grouped(unit)

    # -- redirects ----------------------------------------------------------------------------------------

    def _redirect(self, referral: dict[str, Any], body: Mapping[str, Any], event_time: datetime, reason: str,
                  party: str, caller: Caller) -> dict[str, Any]:
        """Close this referral for its performer and open its successor for the new one, linked both ways."""
        performer = body.get("performer")
        if not performer:
            raise ValidationError("a redirect names the new performer", {"performer": ["required for redirected"]})
        if performer == referral["performer"]:
            raise ValidationError("a redirect goes to another organisation", {"performer": ["the same performer"]})
        check_organisations(self.directory, referral["requester"], performer, referral["service_type"])
        successor_id, number = self.store.referrals.next_id()
        closed = self.writer.change(
            referral, kind="status", action=AuditAction.REFERRAL_STATUS_CHANGED, event_time=event_time,
            actor=caller.actor, party=party, reason=reason, note=body.get("note"),
            changes={"state": S.REDIRECTED.value, "state_reason": reason, "state_party": party,
                     "resume_state": referral["state"], "closed_at": event_time},
            meets=STEPS[S.REDIRECTED].meets if caller.organisation == referral["performer"] else (),
            detail={"successor_id": successor_id, "performer": performer})
        now = self.clock.now()
        carried = {k: referral[k] for k in ("requester", "requester_referral_id", "service_type", "urgency", "reason",
                                            "requester_contact", "consent", "risk_flags", "service_address",
                                            "source_system", "source_record_id", "person_id", "gate",
                                            "review_case_id")}
        row = {**carried, "referral_id": successor_id, "reference": reference(number, now), "performer": performer,
               "predecessor_id": referral["referral_id"], "state": S.SUBMITTED.value,
               "gated_since": now if referral["gate"] else None, "gated_seconds": 0.0, "received_at": event_time,
               "recorded_at": now, "updated_at": now, "version": 1,
               **targets(self.policy, referral["urgency"], referral["service_type"],
                         self.directory.calendar(performer))}
        self.writer.insert(row, caller.actor, {"predecessor_id": referral["referral_id"],
                                               "policy_version": self.policy.version})
        if row["gate"]:
            self.gate.reconcile(successor_id)
        logger.info("referral %s redirected to %s as %s", referral["referral_id"], performer, successor_id)
        return {**closed, "successor_ids": [successor_id]}

    # -- checks ----------------------------------------------------------------------------------------------

    def _invalid(self, referral: Mapping[str, Any], target: S, allowed: list[S]) -> InvalidTransition:
        listed = ", ".join(s.value for s in allowed) or "none (it is closed)"
        why = (" (returned to the requester for information: waiting on the requester's correction)"
               if returned(referral["state"], referral["state_reason"]) else "")
        return InvalidTransition(
            f"referral {referral['referral_id']} is {referral['state']}{why}: it cannot become {target.value}; "
            f"allowed from here: {listed}", {"state": [f"allowed from {referral['state']}: {listed}"]})

    def _event_time(self, given: datetime | None, referral: Mapping[str, Any]) -> datetime:
        now = self.clock.now()
        if given is None:
            return now
        last = referral["stepped_at"]
        if given > now + CLOCK_SKEW:
            raise ValidationError("the event time is in the future", {"event_time": ["must not be in the future"]})
        if given < referral["received_at"]:
            raise ValidationError("the event time is before the referral was received",
                                  {"event_time": ["must not be before the referral was received"]})
        if given < last:
            raise ValidationError("the event time is before the referral's last change",
                                  {"event_time": ["must not be before the referral's last recorded change"]})
        return min(given, now)

    @staticmethod
    def _reason(step, reason: str | None, party: str | None, note: str | None, side: Side) -> tuple[str | None, str]:
        errors = {}
        allowed = [r.value for r in step.reasons]
        if reason is None and step.reason_required:
            errors["reason"] = [f"required for {step.state.value}: one of {', '.join(allowed)}"]
        elif reason is not None and reason not in allowed:
            errors["reason"] = [f"not a reason for {step.state.value}: one of {', '.join(allowed) or 'none'}"]
        if step.note_required and not (note or "").strip():
            errors["note"] = [f"required for {step.state.value}: say what happened"]
        if party == Party.SYSTEM and side is not Side.EITHER:
            errors["party"] = ["only the system speaks as the system party"]
        if errors:
            raise ValidationError(f"invalid status change: {', '.join(sorted(errors))}", errors)
        if party is None:
            party = DEFAULT_PARTY.get(reason) or (Party.REQUESTER.value if side is Side.REQUESTER
                                                  else Party.PROVIDER.value)
        return reason, str(party)
