"""The identity gate: a referral follows its record's identity, and waits while a steward decides it.

A referral names the record its requester sent of the person. What identity says
of that record decides the referral's person and gate, and this module keeps the
two in step, hearing of every change through identity's and stewardship's events
after they commit (no polling):

- the record is held in an open review case: the referral is gated
  (``identity_pending``) on that case, and the case says it blocks the referral
  (its priority follows the referral's urgency);
- the record belongs to a person: a gate lifts (the time spent gated is added up)
  and the referral belongs to that person, whether the steward linked it, made it
  a new person or merged it into a survivor; a referral whose record moved to
  another person follows it;
- the record is neither (a steward withdrew its case): it is decided again, as a
  new record would be, and the referral follows the outcome;
- the record's person was unmerged: identity changed under the referral, so its
  record goes back to review and the referral is gated again until a steward says
  whose it is.

:meth:`IdentityGate.reconcile` is that rule for one referral, idempotent; the
handlers only find the referrals an event touches. The hashes of referrals' record
keys are kept in memory, so the events of a bulk load (one per record) cost a set
lookup.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mpi.clock import Clock as TimeSource
from mpi.events import EventBus
from mpi.identity.events import PersonsMerged, PersonsUnmerged, RecordLinked, RecordUnlinked
from mpi.identity.matcher import MatchService
from mpi.referral_vocab import Gate, Urgency
from mpi.referrals.lifecycle import OPEN_STATES, TERMINAL_STATES
from mpi.referrals.timing import PauseKind
from mpi.referrals.writer import ReferralWriter
from mpi.stewardship.cases import CaseService
from mpi.stewardship.events import CaseOpened, CaseResolved, CaseWithdrawn
from mpi.store import Store
from mpi.vocab import AuditAction, CasePriority, HeldCode

logger = logging.getLogger(__name__)

Key = tuple[str, str]
ACTOR = "system:identity-gate"
_OPEN = [s.value for s in OPEN_STATES]
_ALL = _OPEN + [s.value for s in TERMINAL_STATES]


def subscribe(events: EventBus, gate: Callable[[], IdentityGate]) -> None:
    """Have the gate hear identity's and stewardship's events (after their transactions commit).

    ``gate`` makes (or returns) the gate when an event first arrives, so the bus can be
    wired before the gate's own parts exist, and no event is missed for want of them.
    """
    events.subscribe(CaseOpened, lambda e: gate().settle(gate().of_record(e.record)))
    events.subscribe(CaseResolved, lambda e: gate().settle(gate().of_case(e.case_id) + gate().of_record(e.record)))
    events.subscribe(CaseWithdrawn, lambda e: gate().settle(gate().of_case(e.case_id) + gate().of_record(e.record)))
    events.subscribe(RecordLinked, lambda e: gate().settle(gate().of_record(e.record)))
    events.subscribe(RecordUnlinked, lambda e: gate().settle(gate().of_record(e.record)))
    events.subscribe(PersonsMerged, lambda e: gate().settle(
        [r for key in e.records for r in gate().of_record(key)] + gate().of_person(e.loser_id)))
    events.subscribe(PersonsUnmerged, lambda e: gate().unmerged(e))


def block(referral: Mapping[str, Any]) -> dict[str, str]:
    """What a review case holds of a referral waiting on it: its id and the priority its urgency asks for."""
    urgent = referral["urgency"] in (Urgency.DISCHARGE, Urgency.URGENT)
    return {"kind": "referral", "id": referral["referral_id"],
            "priority": (CasePriority.URGENT if urgent else CasePriority.HIGH).value}


class IdentityGate:
    """Keeps referrals' persons and gates in step with identity, over one store."""

    def __init__(self, store: Store, writer: ReferralWriter, matching: MatchService, cases: CaseService,
                 clock: TimeSource):
        self.store = store
        self.writer = writer
        self.matching = matching
        self.cases = cases
        self.clock = clock
        self._records: set[int] | None = None
        self._lock = threading.Lock()

    # -- what the gate watches -----------------------------------------------------------------------

    def watch(self, key: Key) -> None:
        """Listen for identity changes of this record (a referral names it)."""
        self._watched().add(hash(key))

    def watches(self, key: Key | None) -> bool:
        """Whether a referral may name this record (a rare false yes costs one query, a no none).

        Over a store several instances share, another may have taken in a referral naming any record since
        this one read them: every record may then be named, and the referrals' index on records answers.
        """
        if key is not None and self.store.shared:
            return True
        return key is not None and hash(key) in self._watched()

    def _watched(self) -> set[int]:
        # Hashes, not keys: a million referrals' keys would hold some 200 MB, their hashes a fifth of it.
        with self._lock:
            if self._records is None:
                self._records = {hash(key) for key in self.store.referrals.live_records(_ALL)}
            return self._records

    def of_record(self, key: Key | None, states: list[str] = _OPEN) -> list[str]:
        if not self.watches(key):
            return []
        return self.store.referrals.ids_where("record", key, states)

    def of_case(self, case_id: str) -> list[str]:
        return self.store.referrals.ids_where("review_case_id", case_id, _ALL)

    def of_person(self, person_id: str) -> list[str]:
        return self.store.referrals.ids_where("person_id", person_id, _ALL)

    def settle(self, referral_ids: Iterable[str]) -> None:
        """Reconcile these referrals, in one transaction, if any is out of step with identity (else write nothing)."""
        ids = list(dict.fromkeys(referral_ids))
        stale = [r for r in map(self.store.referrals.get, ids) if r is not None and self._stale(r)]
        if not stale:
            return
        with self.store.transaction():
            for referral in stale:
                self.reconcile(referral["referral_id"])

    def _stale(self, referral: Mapping[str, Any]) -> bool:
        """Whether :meth:`reconcile` would change the referral (read from the index alone: no query)."""
        entry = self.matching.index().get((referral["source_system"], referral["source_record_id"]))
        if entry is None:
            return False
        open_ = referral["state"] not in TERMINAL_STATES
        if entry.case_id and open_:
            return referral["gate"] != Gate.IDENTITY_PENDING or referral["review_case_id"] != entry.case_id
        if entry.person_id is not None:
            return bool(referral["gate"]) or referral["person_id"] != entry.person_id
        return entry.case_id is None and open_

    def unmerged(self, event: PersonsUnmerged) -> None:
        """Identity changed under the referrals of the records the unmerge moved: back to review, gated."""
        with self.store.transaction():
            for key in event.records:
                waiting = [self.store.referrals.get(r) for r in self.of_record(key)]
                if not waiting:
                    continue
                entry = self.matching.index().get(key)
                if entry is not None and entry.case_id is None:
                    self.matching.open_review(*key, ACTOR, f"its person was unmerged (merge {event.merge_id}: "
                                              f"{event.loser_id} split from {event.survivor_id}) and a referral "
                                              "waits on it", blocks=[block(r) for r in waiting], code=HeldCode.UNMERGED)
                for referral in waiting:
                    self.reconcile(referral["referral_id"])

    # -- the rule ---------------------------------------------------------------------------------------

    def reconcile(self, referral_id: str, *, decided: bool = False) -> dict[str, Any]:
        """Bring one referral's person and gate in line with what identity says of its record (idempotent)."""
        referral = self.store.referrals.get(referral_id)
        key = (referral["source_system"], referral["source_record_id"])
        entry = self.matching.index().get(key)
        if entry is None:
            return referral
        now = self.clock.now()
        person = entry.person_id
        if person is not None and person != referral["person_id"]:
            person = self._live(person)  # a link never names a merged-away person, but a snapshot might
        if entry.case_id and referral["state"] not in TERMINAL_STATES:
            return self._hold(referral, entry.case_id, now)
        if person is not None:
            if referral["gate"]:
                return self._lift(referral, person, now)
            if referral["person_id"] != person:
                return self.writer.change(referral, kind="person", action=AuditAction.REFERRAL_PERSON_CHANGED,
                                          event_time=now, actor=ACTOR, changes={"person_id": person},
                                          detail={"person_id": person, "previous_person_id": referral["person_id"]})
            return referral
        if entry.case_id is None and not decided and referral["state"] not in TERMINAL_STATES:
            # Its case was withdrawn and nothing holds it: decided again, as a new record would be.
            self.matching.decide_again(*key, ACTOR, blocks=[block(referral)])
            return self.reconcile(referral_id, decided=True)
        return referral

    def _hold(self, referral: dict[str, Any], case_id: str, now) -> dict[str, Any]:
        if referral["gate"] != Gate.IDENTITY_PENDING or referral["review_case_id"] != case_id:
            first = referral["gate"] is None
            referral = self.writer.change(
                referral, kind="gate", action=AuditAction.REFERRAL_GATED, event_time=now, actor=ACTOR,
                changes={"gate": Gate.IDENTITY_PENDING.value, "review_case_id": case_id, "person_id": None,
                         "gated_since": referral["gated_since"] if not first else now},
                start=PauseKind.GATE if first else None, case_id=case_id,
                detail={"review_case_id": case_id, "previous_person_id": referral["person_id"]})
            logger.info("referral %s gated on review case %s", referral["referral_id"], case_id)
        self._blocks(case_id, referral)
        return referral

    def _lift(self, referral: dict[str, Any], person: str, now) -> dict[str, Any]:
        gated = referral["gated_seconds"] + max((now - referral["gated_since"]).total_seconds(), 0.0)
        lifted = self.writer.change(
            referral, kind="lift", action=AuditAction.REFERRAL_GATE_LIFTED, event_time=now, actor=ACTOR,
            changes={"gate": None, "gated_since": None, "gated_seconds": gated, "person_id": person},
            end=PauseKind.GATE, detail={"review_case_id": referral["review_case_id"], "person_id": person,
                                        "gated_seconds": round(gated, 3)})
        logger.info("referral %s: gate lifted (case %s), person %s", referral["referral_id"],
                    referral["review_case_id"], person)
        return lifted

    def _blocks(self, case_id: str, referral: Mapping[str, Any]) -> None:
        """The case says it blocks the referral (its priority follows)."""
        case = self.store.cases.get(case_id)
        blocks = list(case["blocks"] or [])
        if any(b.get("kind") == "referral" and b.get("id") == referral["referral_id"] for b in blocks):
            return
        self.cases.set_blocks(case_id, [*blocks, block(referral)], ACTOR,
                              f"referral {referral['referral_id']} waits on this case", None)

    def _live(self, person_id: str | None) -> str | None:
        if person_id is None:
            return None
        return self.store.persons.live_id(person_id)
