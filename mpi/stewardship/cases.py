"""Steward review cases: every action a steward takes on a case (the queue's reads are in ``queue.py``).

A case holds a record the matcher could not decide, with its ranked candidate
persons and their evidence. Its life: ``open`` -> ``in_review`` (claimed or
assigned) -> ``on_hold`` (identity being verified by outreach) -> ``resolved``
(``linked``, ``new_person``, ``merged``, ``not_duplicate``) or ``withdrawn``.

Every action:

- needs a reason (``ValidationError`` naming ``reason`` otherwise), kept in the audit log;
- names the case version the steward saw: if the case has changed since (another
  steward acted first), it raises ``Conflict`` (409) and changes nothing, so two
  stewards on one case never overwrite each other;
- runs in one store transaction under the writer lock; links and persons change
  only through the identity writer (``mpi.identity.writer``), which keeps the
  candidate index in step; the action's audit event names actor, time, reason
  and ids (never a name or a birth date), and its event (``events.py``) is
  announced after commit.

Links a steward makes are ``MANUAL``: re-matching never changes them, and
:meth:`CaseService.undo_link` is how one is taken back (the record returns to
review). A ``not_duplicate`` decision is remembered per (record, person) pair,
and matching skips remembered pairs for good.

A ``POSSIBLE_DUPLICATE`` case (two persons a batch run found, no record;
``duplicates.py``) is worked with the same actions: claim, assign, hold,
release, withdraw and blocks as any case; ``resolve_by_merge`` joins its two
persons (the steward picks the survivor); ``resolve_not_duplicate`` keeps the
two persons apart for good (``store.cases.keep_persons_apart``); link and new
person, which need a record, are refused (``Conflict`` naming ``kind``).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from mpi.clock import Clock
from mpi.errors import Conflict, ValidationError
from mpi.events import EventBus
from mpi.identity.matcher import MatchService
from mpi.identity.merges import MergeService
from mpi.identity.writer import IdentityWriter, Link
from mpi.stewardship import duplicates, spotchecks
from mpi.stewardship.acting import acting, change, require_reason, user_name
from mpi.stewardship.events import CaseResolved, CaseWithdrawn
from mpi.stewardship.priority import CaseTargets, priority_for, validate_blocks
from mpi.stewardship.queue import CaseQueue
from mpi.store import Store
from mpi.vocab import (
    ACTIVE_CASE_STATES,
    STEWARD_ROLES,
    AuditAction,
    CaseResolution,
    CaseState,
    Decision,
    LinkSource,
)

logger = logging.getLogger(__name__)


class CaseService:
    """The review workflow: the queue's reads (``queue.py``) and the actions, over one store."""

    def __init__(self, store: Store, writer: IdentityWriter, matching: MatchService, merges: MergeService,
                 targets: CaseTargets, clock: Clock, events: EventBus):
        self.store = store
        self.writer = writer
        self.matching = matching
        self.merges = merges
        self.targets = targets
        self.clock = clock
        self.events = events
        self.reads = CaseQueue(store, targets, clock)

    # -- reads (``queue.py``) ----------------------------------------------------------------------

    def queue(self, *args: Any, **filters: Any) -> list[dict]:
        """The queue (see :meth:`CaseQueue.queue`)."""
        return self.reads.queue(*args, **filters)

    def queue_counts(self, now: datetime | None = None) -> dict[str, Any]:
        """The queue's counts (see :meth:`CaseQueue.queue_counts`)."""
        return self.reads.queue_counts(now)

    def get(self, case_id: str, now: datetime | None = None) -> dict:
        """A case with everything a steward compares (see :meth:`CaseQueue.get`)."""
        return self.reads.get(case_id, now)

    # -- taking a case up ------------------------------------------------------------------------

    def claim(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """Take a case to work on: its owner becomes the actor's user name, its state ``in_review``.

        Raises:
            Conflict: stale version, a case that is on hold or closed, or one another steward is reviewing
                (use :meth:`assign` to hand it over).
        """
        me = user_name(actor)
        with acting(self.reads, case_id, reason, expected_version, (CaseState.OPEN, CaseState.IN_REVIEW)) as case:
            if case["state"] == CaseState.IN_REVIEW.value and case["owner"] not in (None, me):
                raise Conflict(f"review case {case_id} is in review by {case['owner']}: assign it to take it over",
                               {"owner": ["claimed by another steward"]})
            with self.store.transaction():
                self._change(case, actor, AuditAction.CASE_CLAIMED, reason,
                             {"owner": me, "previous_owner": case["owner"]}, owner=me, state=CaseState.IN_REVIEW.value)
        logger.info("case %s claimed by %s", case_id, actor)
        return self.get(case_id)

    def assign(self, case_id: str, owner: str, actor: str, reason: str, expected_version: int) -> dict:
        """Give a case to a steward (an open case goes ``in_review``; one on hold stays on hold).

        Raises:
            ValidationError: ``owner`` is not a steward or admin user.
        """
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case:
            if self.store.users.role_of(owner or "") not in STEWARD_ROLES:
                raise ValidationError("a case can only be assigned to a steward",
                                      {"owner": ["not a user with the steward or admin role"]})
            state = CaseState.IN_REVIEW.value if case["state"] == CaseState.OPEN.value else case["state"]
            with self.store.transaction():
                self._change(case, actor, AuditAction.CASE_ASSIGNED, reason,
                             {"owner": owner, "previous_owner": case["owner"]}, owner=owner, state=state)
        logger.info("case %s assigned to %s by %s", case_id, owner, actor)
        return self.get(case_id)

    # -- resolving ----------------------------------------------------------------------------------

    def resolve_linked(self, case_id: str, person_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """Link the case's record (``MANUAL``) to one of its candidates and resolve it as ``linked``.

        A candidate merged away since the case opened is followed to its survivor.

        Raises:
            ValidationError: ``person_id`` is not one of the case's candidates.
        """
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case:
            duplicates.refuse_record_action(case, "link")
            spotchecks.refuse(case, "link")
            candidate = next((c for c in case["candidates"] if c["person_id"] == person_id), None)
            if candidate is None:
                raise ValidationError("the person is not a candidate of this case",
                                      {"person_id": ["not one of the case's candidates"]})
            live = self.store.persons.resolve(person_id)["person_id"]
            self._record_key(case)
            with self.store.transaction():
                self._link(case, live, Decision.MATCH, actor, reason, candidate)
                self._change(case, actor, AuditAction.CASE_LINKED, reason,
                             {"person_id": live, "candidate_id": person_id, "match_weight": candidate["match_weight"]},
                             state=CaseState.RESOLVED.value, resolution=CaseResolution.LINKED.value)
                self._resolved(case, CaseResolution.LINKED, live)
        logger.info("case %s resolved linked to %s by %s", case_id, live, actor)
        return self.get(case_id)

    def resolve_new_person(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """The record is a human the index does not hold: a new person, linked ``MANUAL``."""
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case:
            duplicates.refuse_record_action(case, "make a new person of")
            spotchecks.refuse(case, "a new person")
            key = self._record_key(case)
            with self.store.transaction():
                person_id = self.writer.create_person(actor, reason.strip(),
                                                      {"record": "/".join(key), "case_id": case_id}, key)
                self._link(case, person_id, Decision.NO_MATCH, actor, reason, None)
                self._change(case, actor, AuditAction.CASE_NEW_PERSON, reason, {"person_id": person_id},
                             state=CaseState.RESOLVED.value, resolution=CaseResolution.NEW_PERSON.value)
                self._resolved(case, CaseResolution.NEW_PERSON, person_id)
        logger.info("case %s resolved as new person %s by %s", case_id, person_id, actor)
        return self.get(case_id)

    def resolve_not_duplicate(self, case_id: str, actor: str, reason: str, expected_version: int,
                              person_id: str | None = None) -> dict:
        """The record is not ``person_id`` (or, without one, none of the candidates): remembered for good.

        Each (record, person) pair is stored and the index told, so matching
        never offers that person for that record again (no case reopens for it).
        A record held unlinked is then decided afresh without those persons (as
        submitting it would: a link, a new person, or a case with the remaining
        candidates); a linked record stays as it is. The result carries that
        outcome as ``outcome``.

        On a ``POSSIBLE_DUPLICATE`` case the two persons are different humans:
        the pair of their live persons is kept apart for good (a batch run never
        proposes it again, whatever merges follow) and ``outcome`` is None.

        Raises:
            ValidationError: ``person_id`` is not one of the case's candidates.
            Conflict: a duplicate case's two persons were merged into one since it opened.
        """
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case:
            spotchecks.refuse(case, "not-duplicate")
            if duplicates.is_duplicate(case):
                return self._persons_apart(case, actor, reason, person_id)
            key = self._record_key(case)
            candidates = [c["person_id"] for c in case["candidates"]]
            if person_id is not None and person_id not in candidates:
                raise ValidationError("the person is not a candidate of this case",
                                      {"person_id": ["not one of the case's candidates"]})
            apart = [person_id] if person_id is not None else candidates
            # A candidate merged away since: its survivor is kept apart too.
            pairs = list(dict.fromkeys(p for pid in apart for p in (pid, self._live(pid))))
            with self.store.transaction():
                for pid in pairs:
                    self.writer.keep_apart(key, pid, case_id, actor, reason.strip())
                self.writer.release(key, case_id)
                self._change(case, actor, AuditAction.CASE_NOT_DUPLICATE, reason, {"person_ids": pairs},
                             state=CaseState.RESOLVED.value, resolution=CaseResolution.NOT_DUPLICATE.value)
                self._resolved(case, CaseResolution.NOT_DUPLICATE, None)
                outcome = None
                if self.writer.entry(key).person_id is None:
                    outcome = self.matching.decide_again(*key, actor, blocks=case["blocks"])
        logger.info("case %s resolved not duplicate of %s persons by %s", case_id, len(apart), actor)
        return {**self.get(case_id), "outcome": outcome}

    def resolve_merged(self, case_id: str, actor: str, reason: str, expected_version: int, merge_id: str) -> dict:
        """Record that the case was settled by a merge (:meth:`resolve_by_merge` merges and closes together)."""
        if not isinstance(merge_id, str) or not merge_id.strip():
            raise ValidationError("a merged resolution names its merge", {"merge_id": ["required"]})
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case, \
                self.store.transaction():
            self._release(case)
            self._change(case, actor, AuditAction.CASE_MERGED, reason, {"merge_id": merge_id},
                         state=CaseState.RESOLVED.value, resolution=CaseResolution.MERGED.value)
            self._resolved(case, CaseResolution.MERGED, None)
        logger.info("case %s resolved by merge %s by %s", case_id, merge_id, actor)
        return self.get(case_id)

    def resolve_by_merge(self, case_id: str, survivor_id: str, loser_id: str, actor: str, reason: str,
                         expected_version: int) -> dict[str, Any]:
        """Settle a case by merging two persons: the merge and the case's ``merged`` resolution in one
        transaction; returns the case as it now is, with the ``merge_id`` (undo it with
        :meth:`~mpi.identity.merges.MergeService.unmerge`).

        The case's version and state are checked first, so a stale form is a ``Conflict`` before
        anything is written. On a ``POSSIBLE_DUPLICATE`` case the survivor and the loser must be its
        two persons (either as the case holds them or as the live persons they lead to).

        Raises:
            ValidationError: a duplicate case's survivor or loser is not one of its two persons.
        """
        with self.store.transaction():
            case = self.get(case_id)
            if case["version"] != expected_version:
                raise Conflict(f"review case {case_id} is at version {case['version']}, not {expected_version}",
                               {"version": ["stale: reload the case"]})
            if case["state"] not in ACTIVE_CASE_STATES:
                raise Conflict(f"review case {case_id} is {case['state']}: not possible now", {"state": [case["state"]]})
            spotchecks.refuse(case, "merge")
            if duplicates.is_duplicate(case):
                require_reason(reason)
                survivor_id, loser_id = duplicates.merge_sides(case, survivor_id, loser_id, self._live)
            merge_id = self.merges.merge(survivor_id, loser_id, actor, reason, case_id=case_id)
            return {**self.resolve_merged(case_id, actor, reason, expected_version, merge_id), "merge_id": merge_id}

    # -- holding, withdrawing, blocking ---------------------------------------------------------------

    def hold(self, case_id: str, actor: str, reason: str, expected_version: int, follow_up: date,
             note: str | None = None) -> dict:
        """Put a case on hold while identity is verified by outreach, with a note and a follow-up date.

        ``note`` defaults to the reason. A case on hold keeps its due time: a hold
        does not stop the clock of a referral waiting on it.

        Raises:
            ValidationError: ``follow_up`` is missing, not a date, or in the past.
        """
        if isinstance(follow_up, datetime) or not isinstance(follow_up, date):
            raise ValidationError("a hold needs a follow-up date", {"follow_up": ["required: a date"]})
        if follow_up < self.clock.now().date():
            raise ValidationError("the follow-up date is in the past", {"follow_up": ["must not be in the past"]})
        with acting(self.reads, case_id, reason, expected_version, (CaseState.OPEN, CaseState.IN_REVIEW)) as case, \
                self.store.transaction():
            owner = case["owner"] or user_name(actor)
            self.store.cases.add_hold(case_id, actor, (note or "").strip() or reason.strip(), follow_up)
            self._change(case, actor, AuditAction.CASE_ON_HOLD, reason,
                         {"follow_up": follow_up.isoformat(), "owner": owner}, state=CaseState.ON_HOLD.value,
                         owner=owner)
        logger.info("case %s on hold until %s by %s", case_id, follow_up.isoformat(), actor)
        return self.get(case_id)

    def release(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """End a hold: the case goes back to ``in_review`` with its owner."""
        with acting(self.reads, case_id, reason, expected_version, (CaseState.ON_HOLD,)) as case, \
                self.store.transaction():
            self._change(case, actor, AuditAction.CASE_RELEASED, reason, {"owner": case["owner"]},
                         state=CaseState.IN_REVIEW.value)
        logger.info("case %s released from hold by %s", case_id, actor)
        return self.get(case_id)

    def withdraw(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """Close a case that is no longer needed; its record stays as it is (unlinked if it was held)."""
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES) as case, \
                self.store.transaction():
            self._release(case)
            self._change(case, actor, AuditAction.CASE_WITHDRAWN, reason, {}, state=CaseState.WITHDRAWN.value)
            self.events.publish(CaseWithdrawn(case_id, self._key_or_none(case)))
        logger.info("case %s withdrawn by %s", case_id, actor)
        return self.get(case_id)

    def set_blocks(self, case_id: str, blocks: list[dict], actor: str, reason: str,
                   expected_version: int | None = None) -> dict:
        """Say what a case blocks; its priority and due time follow (``priority.py``).

        ``expected_version`` may be None for a system caller (the referral tracker)
        that updates blocks as referrals move without reading the case first; the
        change is still serialised and audited.
        """
        blocks = validate_blocks(blocks)
        with acting(self.reads, case_id, reason, expected_version, ACTIVE_CASE_STATES, optional=True) as case, \
                self.store.transaction():
            priority = priority_for(blocks)
            due_at = self.targets.due_at(case["created_at"], priority)
            self._change(case, actor, AuditAction.CASE_BLOCKS_SET, reason,
                         {"blocks": blocks, "priority": priority.value, "previous_priority": case["priority"]},
                         blocks=blocks, priority=priority.value, due_at=due_at)
        logger.info("case %s blocks %s items (priority %s) by %s", case_id, len(blocks), priority.value, actor)
        return self.get(case_id)

    # -- undoing a steward's link ----------------------------------------------------------------------

    def undo_link(self, source_system: str, source_record_id: str, actor: str, reason: str) -> dict:
        """Take back a steward's (``MANUAL``) link: the record is unlinked and back in review.

        A new open case holds it with fresh candidates (whatever they score: a
        steward decides it again) and inherits what the record's last case blocked.

        Raises:
            NotFound: no such record.
            Conflict: the record has no ``MANUAL`` link (a machine's link is changed by re-matching).
        """
        reason = require_reason(reason)
        key = (source_system, source_record_id)
        entity = "/".join(key)
        with self.store.serialised():
            self.writer.entry(key)
            if not self.writer.protected(key):
                raise Conflict(f"record {entity} has no steward's link to undo",
                               {"link_source": ["only a MANUAL link can be undone"]})
            with self.store.transaction():
                last = self.store.cases.latest_of_record(*key)
                person_id = self.writer.unlink(key, LinkSource.MANUAL, actor, AuditAction.LINK_UNDONE, reason,
                                               {"link_source": LinkSource.MANUAL.value,
                                                "case_id": last["case_id"] if last else None})
                case_id = self.matching.open_review(*key, actor, "a steward's link was undone",
                                                    blocks=last["blocks"] if last else [])
        logger.info("record %s unlinked from %s by %s; back in review as %s", entity, person_id, actor, case_id)
        return {"source_system": source_system, "source_record_id": source_record_id,
                "previous_person_id": person_id, "review_case": self.get(case_id)}

    # -- plumbing ----------------------------------------------------------------------------------------

    def _persons_apart(self, case: dict, actor: str, reason: str, person_id: str | None) -> dict:
        """Resolve a duplicate case ``not_duplicate``: its two live persons kept apart, audited (under
        :meth:`resolve_not_duplicate`'s checks)."""
        if person_id is not None and person_id not in [c["person_id"] for c in case["candidates"]]:
            raise ValidationError("the person is not one of the case's two persons",
                                  {"person_id": ["not one of the case's persons"]})
        first, second = duplicates.the_two(case, self._live)
        with self.store.transaction():
            self.store.cases.keep_persons_apart(first, second, case["case_id"], actor, reason.strip())
            self._change(case, actor, AuditAction.CASE_NOT_DUPLICATE, reason,
                         {"kind": case["kind"], "person_ids": [first, second]},
                         state=CaseState.RESOLVED.value, resolution=CaseResolution.NOT_DUPLICATE.value)
            self._resolved(case, CaseResolution.NOT_DUPLICATE, None)
        logger.info("case %s resolved: persons %s and %s kept apart by %s", case["case_id"], first, second, actor)
        return {**self.get(case["case_id"]), "outcome": None}

    def _live(self, person_id: str) -> str:
        """The live person an id stands for (following merges), or the id itself if it is unknown."""
        return self.store.persons.live_id(person_id)

    def _change(self, case: dict, actor: str, action: AuditAction, reason: str, detail: dict, **changes: Any) -> None:
        """Apply a change to the case under its version check and audit it (:func:`acting.change`)."""
        change(self.store, case, actor, action, reason, detail, **changes)

    def _resolved(self, case: dict, resolution: CaseResolution, person_id: str | None) -> None:
        self.events.publish(CaseResolved(case["case_id"], self._key_or_none(case), resolution.value, person_id))

    def _record_key(self, case: dict) -> tuple[str, str]:
        if case["source_system"] is None:
            raise Conflict(f"review case {case['case_id']} holds no record", {"case_id": ["no source record"]})
        return case["source_system"], case["source_record_id"]

    def _key_or_none(self, case: dict) -> tuple[str, str] | None:
        return None if case["source_system"] is None else self._record_key(case)

    def _release(self, case: dict) -> None:
        """The index forgets the case as its record's open one."""
        if case["source_system"] is not None:
            self.writer.release(self._record_key(case), case["case_id"])

    def _link(self, case: dict, person_id: str, decision: Decision, actor: str, reason: str,
              candidate: dict | None) -> None:
        """Link the case's record to a person (``MANUAL``), with the candidate's score and evidence if any."""
        key = self._record_key(case)
        self._release(case)
        weight = candidate["match_weight"] if candidate else None
        link = Link(decision.value, LinkSource.MANUAL, weight, candidate["match_probability"] if candidate else None,
                    (candidate or {}).get("evidence") or [], case["model_version"])
        self.writer.link(key, person_id, link, actor, reason.strip(),
                         detail={"link_source": LinkSource.MANUAL.value, "case_id": case["case_id"],
                                 "match_weight": weight, "model_version": case["model_version"]})
