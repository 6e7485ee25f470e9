"""Steward review cases: the queue, and every action a steward takes on a case.

A case holds a record the matcher could not decide, with its ranked candidate
persons and their evidence (shared/domain.md section 3). Its life:
``open`` -> ``in_review`` (claimed or assigned) -> ``on_hold`` (identity being
verified by outreach) -> ``resolved`` (``linked``, ``new_person``, ``merged``,
``not_duplicate``) or ``withdrawn``.

Every action:

- needs a reason (``ValidationError`` naming ``reason`` otherwise), kept in the audit log;
- names the case version the steward saw: if the case has changed since (another
  steward acted first), it raises ``Conflict`` (409) and changes nothing, so two
  stewards on one case never overwrite each other;
- runs in one store transaction under the writer lock, keeps the in-memory
  candidate index in step with every link it changes, and writes its audit event
  (actor, time, reason, ids; never a name or a birth date).

Links a steward makes are ``MANUAL``: re-matching never changes them, and
:meth:`CaseService.undo_link` is how one is taken back (the record returns to
review). A ``not_duplicate`` decision is remembered per (record, person) pair,
and matching skips remembered pairs for good.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, datetime, timezone
from typing import Any

from mpi.errors import Conflict, NotFound, ValidationError
from mpi.identity.matcher import MatchService
from mpi.stewardship.priority import ACTIVE_STATES, URGENCY, CaseTargets, priority_for, validate_blocks
from mpi.store import Store
from mpi.store.cases import AGE_BUCKETS
from mpi.vocab import CaseResolution, CaseState, Decision, LinkSource

logger = logging.getLogger(__name__)

_ACTIVE = tuple(s.value for s in ACTIVE_STATES)
#: Roles that may own (work) a case.
STEWARD_ROLES = ("steward", "admin")


def _user_name(actor: str) -> str:
    """The user name of an actor (``user:alice`` -> ``alice``): what a case's owner holds."""
    return actor.split(":", 1)[1] if actor.startswith("user:") else actor


def _require_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("every review action needs a reason", {"reason": ["required: say why"]})
    return reason.strip()


def _require_version(version: Any) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise ValidationError("the case version you saw is required", {"version": ["required: an integer"]})
    return version


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class CaseService:
    """The review workflow over one store and its matching service."""

    def __init__(self, store: Store, matching: MatchService, targets: CaseTargets | None = None,
                 clock: Callable[[], datetime] | None = None):
        """``clock`` gives the current UTC time (tests inject one); ``targets`` the time per priority."""
        self.store = store
        self.matching = matching
        self.targets = targets or matching.case_targets
        self.clock = clock or (lambda: datetime.now(timezone.utc))

    # -- reads ------------------------------------------------------------------------------

    def queue(self, state: str | Iterable[str] | None = None, priority: str | Iterable[str] | None = None,
              owner: str | None = None, source_system: str | None = None, min_age_hours: float | None = None,
              overdue: bool | None = None, limit: int = 100, offset: int = 0,
              now: datetime | None = None) -> list[dict]:
        """Cases to work, most urgent first (urgent, high, routine), then oldest first.

        Args:
            state: one state or several; by default those still waiting (open, in_review, on_hold).
            priority: one priority or several.
            owner: the user name a case is assigned to.
            source_system: the system that sent the case's record.
            min_age_hours: only cases at least this old.
            overdue: only overdue cases (True) or only those that are not (False).
            now: the time to measure age and overdue against (default: the clock).

        Each case carries ``age_hours``, ``due_at``, ``overdue``, its candidates (person ids and
        scores, no evidence), ``blocks`` and its current ``hold``.
        """
        now = now or self.clock()
        states = _as_list(state) or list(_ACTIVE)
        errors = {}
        if not set(states) <= {s.value for s in CaseState}:
            errors["state"] = [f"must be among {', '.join(s.value for s in CaseState)}"]
        priorities = _as_list(priority)
        if priorities and not set(priorities) <= {p.value for p in URGENCY}:
            errors["priority"] = [f"must be among {', '.join(p.value for p in URGENCY)}"]
        if min_age_hours is not None and min_age_hours < 0:
            errors["min_age_hours"] = ["must not be negative"]
        if not 1 <= limit <= 1000:
            errors["limit"] = ["must be between 1 and 1000"]
        if offset < 0:
            errors["offset"] = ["must not be negative"]
        if errors:
            raise ValidationError(f"invalid queue filter: {', '.join(sorted(errors))}", errors)
        cases = self.store.case_queue(states=states, targets=self.targets.by_priority(), now=now,
                                      priorities=priorities, owner=owner, source_system=source_system,
                                      min_age_hours=min_age_hours, overdue=overdue, limit=limit, offset=offset,
                                      active_states=_ACTIVE)
        return [self._timed(case, now) for case in cases]

    def queue_counts(self, now: datetime | None = None) -> dict[str, Any]:
        """Waiting cases (open, in review, on hold) counted by priority, state, age bucket and overdue."""
        now = now or self.clock()
        counts: dict[str, Any] = {
            "total": 0,
            "by_priority": {p.value: 0 for p in URGENCY},
            "by_state": {s: 0 for s in _ACTIVE},
            "by_age": {name: 0 for name, _ in AGE_BUCKETS},
            "overdue": 0,
        }
        for priority, state, bucket, overdue, n in self.store.case_counts(
                states=list(_ACTIVE), targets=self.targets.by_priority(), now=now):
            counts["total"] += n
            counts["by_priority"][priority] = counts["by_priority"].get(priority, 0) + n
            counts["by_state"][state] += n
            counts["by_age"][bucket] += n
            counts["overdue"] += n if overdue else 0
        return counts

    def get(self, case_id: str, now: datetime | None = None) -> dict:
        """A case with everything a steward compares.

        The candidates with their evidence, each candidate's person (following
        merge redirects: ``person``) with its golden view and source records, the
        inbound record (as sent and normalised, with any link), what the case
        blocks, its current hold, age, due time and overdue flag.

        Raises:
            NotFound: no such case.
        """
        case = self._case(case_id)
        if case["source_system"] is not None:
            case["record"] = self.store.get_record(case["source_system"], case["source_record_id"])
        else:
            case["record"] = None
        for candidate in case["candidates"]:
            try:
                person = self.store.resolve_person(candidate["person_id"])
            except NotFound:
                candidate["person"] = None
                continue
            person["records"] = self.store.person_records(person["person_id"])
            candidate["person"] = person
        case["hold"] = self.store.current_hold(case_id)
        return self._timed(case, now or self.clock())

    # -- taking a case up ----------------------------------------------------------------------

    def claim(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """Take a case to work on: its owner becomes the actor's user name, its state ``in_review``.

        Raises:
            Conflict: stale version, a case that is on hold or closed, or one another steward is reviewing
                (use :meth:`assign` to hand it over).
        """
        me = _user_name(actor)
        with self._acting(case_id, reason, expected_version, (CaseState.OPEN, CaseState.IN_REVIEW)) as case:
            if case["state"] == CaseState.IN_REVIEW.value and case["owner"] not in (None, me):
                raise Conflict(f"review case {case_id} is in review by {case['owner']}: assign it to take it over",
                               {"owner": ["claimed by another steward"]})
            with self.store.transaction():
                self._change(case, actor, "case.claimed", reason, {"owner": me, "previous_owner": case["owner"]},
                             owner=me, state=CaseState.IN_REVIEW.value)
        logger.info("case %s claimed by %s", case_id, actor)
        return self.get(case_id)

    def assign(self, case_id: str, owner: str, actor: str, reason: str, expected_version: int) -> dict:
        """Give a case to a steward (an open case goes ``in_review``; one on hold stays on hold).

        Raises:
            ValidationError: ``owner`` is not a steward or admin user.
        """
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES) as case:
            if self.store.user_role(owner or "") not in STEWARD_ROLES:
                raise ValidationError("a case can only be assigned to a steward",
                                      {"owner": ["not a user with the steward or admin role"]})
            state = CaseState.IN_REVIEW.value if case["state"] == CaseState.OPEN.value else case["state"]
            with self.store.transaction():
                self._change(case, actor, "case.assigned", reason, {"owner": owner, "previous_owner": case["owner"]},
                             owner=owner, state=state)
        logger.info("case %s assigned to %s by %s", case_id, owner, actor)
        return self.get(case_id)

    # -- resolving --------------------------------------------------------------------------------

    def resolve_linked(self, case_id: str, person_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """Link the case's record (``MANUAL``) to one of its candidates and resolve it as ``linked``.

        A candidate merged away since the case opened is followed to its survivor.

        Raises:
            ValidationError: ``person_id`` is not one of the case's candidates.
        """
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES) as case:
            candidate = next((c for c in case["candidates"] if c["person_id"] == person_id), None)
            if candidate is None:
                raise ValidationError("the person is not a candidate of this case",
                                      {"person_id": ["not one of the case's candidates"]})
            live = self.store.resolve_person(person_id)["person_id"]
            self._record_key(case)
            with self.store.transaction():
                self._link(case, live, Decision.MATCH, actor, reason, candidate)
                self._change(case, actor, "case.linked", reason, {"person_id": live, "candidate_id": person_id,
                                                                  "match_weight": candidate["match_weight"]},
                             state=CaseState.RESOLVED.value, resolution=CaseResolution.LINKED.value)
        logger.info("case %s resolved linked to %s by %s", case_id, live, actor)
        return self.get(case_id)

    def resolve_new_person(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """The record is a human the index does not hold: a new person, linked ``MANUAL``."""
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES) as case:
            key = self._record_key(case)
            with self.store.transaction():
                person_id = self.store.create_person({})
                self.store.audit(actor, "person.created", "person", person_id, reason.strip(),
                                 {"record": "/".join(key), "case_id": case_id})
                self._link(case, person_id, Decision.NO_MATCH, actor, reason, None)
                self._change(case, actor, "case.new_person", reason, {"person_id": person_id},
                             state=CaseState.RESOLVED.value, resolution=CaseResolution.NEW_PERSON.value)
        logger.info("case %s resolved as new person %s by %s", case_id, person_id, actor)
        return self.get(case_id)

    def resolve_not_duplicate(self, case_id: str, actor: str, reason: str, expected_version: int,
                              person_id: str | None = None) -> dict:
        """The record is not ``person_id`` (or, without one, none of the candidates): remembered for good.

        Each (record, person) pair is stored and the index told, so matching
        never offers that person for that record again (no case reopens for it).
        A record held unlinked is then decided afresh without those persons (as
        submitting it would: a link, a new person, or a case with the remaining
        candidates); a linked record (a ``POSSIBLE_DUPLICATE`` case) stays as it is.
        The result carries that outcome as ``outcome``.

        Raises:
            ValidationError: ``person_id`` is not one of the case's candidates.
        """
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES) as case:
            key = self._record_key(case)
            candidates = [c["person_id"] for c in case["candidates"]]
            if person_id is not None and person_id not in candidates:
                raise ValidationError("the person is not a candidate of this case",
                                      {"person_id": ["not one of the case's candidates"]})
            apart = [person_id] if person_id is not None else candidates
            # A candidate merged away since: its survivor is kept apart too.
            pairs = list(dict.fromkeys(p for pid in apart for p in (pid, self._live(pid))))
            index = self.matching.index()
            with self.store.transaction():
                for pid in pairs:
                    self.store.add_not_duplicate(*key, pid, case_id, actor, reason.strip())
                    index.keep_apart(key, pid)
                self._detach(case)
                self._change(case, actor, "case.not_duplicate", reason, {"person_ids": pairs},
                             state=CaseState.RESOLVED.value, resolution=CaseResolution.NOT_DUPLICATE.value)
                outcome = None
                if index.get(key).person_id is None:
                    outcome = self.matching.decide_again(*key, actor, blocks=case["blocks"])
        logger.info("case %s resolved not duplicate of %s persons by %s", case_id, len(apart), actor)
        return {**self.get(case_id), "outcome": outcome}

    def resolve_merged(self, case_id: str, actor: str, reason: str, expected_version: int, merge_id: str) -> dict:
        """Record that the case was settled by a merge (``mpi.merges`` does the merge; this only closes the case)."""
        if not isinstance(merge_id, str) or not merge_id.strip():
            raise ValidationError("a merged resolution names its merge", {"merge_id": ["required"]})
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES) as case, self.store.transaction():
            self._detach(case)
            self._change(case, actor, "case.merged", reason, {"merge_id": merge_id},
                         state=CaseState.RESOLVED.value, resolution=CaseResolution.MERGED.value)
        logger.info("case %s resolved by merge %s by %s", case_id, merge_id, actor)
        return self.get(case_id)

    # -- holding, withdrawing, blocking ------------------------------------------------------------

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
        if follow_up < self.clock().date():
            raise ValidationError("the follow-up date is in the past", {"follow_up": ["must not be in the past"]})
        with self._acting(case_id, reason, expected_version, (CaseState.OPEN, CaseState.IN_REVIEW)) as case, \
                self.store.transaction():
            owner = case["owner"] or _user_name(actor)
            self.store.add_hold(case_id, actor, (note or "").strip() or reason.strip(), follow_up)
            self._change(case, actor, "case.on_hold", reason, {"follow_up": follow_up.isoformat(), "owner": owner},
                         state=CaseState.ON_HOLD.value, owner=owner)
        logger.info("case %s on hold until %s by %s", case_id, follow_up.isoformat(), actor)
        return self.get(case_id)

    def release(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """End a hold: the case goes back to ``in_review`` with its owner."""
        with self._acting(case_id, reason, expected_version, (CaseState.ON_HOLD,)) as case, \
                self.store.transaction():
            self._change(case, actor, "case.released", reason, {"owner": case["owner"]},
                         state=CaseState.IN_REVIEW.value)
        logger.info("case %s released from hold by %s", case_id, actor)
        return self.get(case_id)

    def withdraw(self, case_id: str, actor: str, reason: str, expected_version: int) -> dict:
        """Close a case that is no longer needed; its record stays as it is (unlinked if it was held)."""
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES) as case, self.store.transaction():
            self._detach(case)
            self._change(case, actor, "case.withdrawn", reason, {}, state=CaseState.WITHDRAWN.value)
        logger.info("case %s withdrawn by %s", case_id, actor)
        return self.get(case_id)

    def set_blocks(self, case_id: str, blocks: list[dict], actor: str, reason: str,
                   expected_version: int | None = None) -> dict:
        """Say what a case blocks; its priority and due time follow (``mpi.case_priority``).

        ``expected_version`` may be None for a system caller (the referral tracker)
        that updates blocks as referrals move without reading the case first; the
        change is still serialised and audited.
        """
        blocks = validate_blocks(blocks)
        with self._acting(case_id, reason, expected_version, ACTIVE_STATES, optional=True) as case, \
                self.store.transaction():
            priority = priority_for(blocks)
            due_at = self.targets.due_at(case["created_at"], priority)
            self._change(case, actor, "case.blocks_set", reason,
                         {"blocks": blocks, "priority": priority.value, "previous_priority": case["priority"]},
                         blocks=blocks, priority=priority.value, due_at=due_at)
        logger.info("case %s blocks %s items (priority %s) by %s", case_id, len(blocks), priority.value, actor)
        return self.get(case_id)

    # -- undoing a steward's link -------------------------------------------------------------------

    def undo_link(self, source_system: str, source_record_id: str, actor: str, reason: str) -> dict:
        """Take back a steward's (``MANUAL``) link: the record is unlinked and back in review.

        A new open case holds it with fresh candidates (whatever they score: a
        steward decides it again) and inherits what the record's last case blocked.

        Raises:
            NotFound: no such record.
            Conflict: the record has no ``MANUAL`` link (a machine's link is changed by re-matching).
        """
        reason = _require_reason(reason)
        key = (source_system, source_record_id)
        entity = "/".join(key)
        with self.store.serialised():
            index = self.matching.index()
            entry = self.matching.stored_entry(key)
            if entry.link_source != LinkSource.MANUAL.value:
                raise Conflict(f"record {entity} has no steward's link to undo",
                               {"link_source": ["only a MANUAL link can be undone"]})
            person_id = entry.person_id
            with self.store.transaction():
                self.store.delete_link(*key)
                index.unlink(key)
                self.matching.refresh_golden(person_id)
                last = self.store.latest_case_of_record(*key)
                self.store.audit(actor, "link.undone", "record", entity, reason,
                                 {"person_id": person_id, "link_source": LinkSource.MANUAL.value,
                                  "case_id": last["case_id"] if last else None})
                case_id = self.matching.open_review(*key, actor, "a steward's link was undone",
                                                    blocks=last["blocks"] if last else [])
        logger.info("record %s unlinked from %s by %s; back in review as %s", entity, person_id, actor, case_id)
        return {"source_system": source_system, "source_record_id": source_record_id,
                "previous_person_id": person_id, "review_case": self.get(case_id)}

    # -- plumbing ----------------------------------------------------------------------------------

    def _case(self, case_id: str) -> dict:
        case = self.store.get_case(case_id)
        if case is None:
            raise NotFound(f"review case {case_id} not found")
        return case

    def _acting(self, case_id: str, reason: Any, expected_version: Any, allowed: Iterable[CaseState],
                optional: bool = False) -> _Acting:
        """Check an action's reason, then (under the writer lock) the case's version and state.

        The checks run before any write, so a refused action rolls nothing back (a
        rollback rebuilds the candidate index). ``optional`` lets a system caller
        pass no version (see :meth:`set_blocks`).
        """
        _require_reason(reason)
        expected = None if optional and expected_version is None else _require_version(expected_version)
        return _Acting(self, case_id, expected, tuple(s.value for s in allowed))

    def _live(self, person_id: str) -> str:
        """The live person an id stands for (following merges), or the id itself if it is unknown."""
        try:
            return self.store.resolve_person(person_id)["person_id"]
        except NotFound:
            return person_id

    def _change(self, case: dict, actor: str, action: str, reason: str, detail: dict, **changes: Any) -> None:
        """Apply a change to the case under its version check and audit it; leaving ``on_hold`` ends the hold."""
        version = self.store.update_case(case["case_id"], case["version"], **changes)
        if case["state"] == CaseState.ON_HOLD.value and changes.get("state", case["state"]) != case["state"]:
            self.store.release_hold(case["case_id"], actor)
        record = "/".join(self._record_key(case)) if case["source_system"] is not None else None
        self.store.audit(actor, action, "review_case", case["case_id"], reason.strip(),
                         {"record": record, **detail, "state": changes.get("state", case["state"]),
                          "version": version})
        case["version"] = version

    def _record_key(self, case: dict) -> tuple[str, str]:
        if case["source_system"] is None:
            raise Conflict(f"review case {case['case_id']} holds no record", {"case_id": ["no source record"]})
        return case["source_system"], case["source_record_id"]

    def _detach(self, case: dict) -> None:
        """The index forgets the case as its record's open one."""
        if case["source_system"] is None:
            return
        entry = self.matching.index().get(self._record_key(case))
        if entry is not None and entry.case_id == case["case_id"]:
            entry.case_id = None

    def _link(self, case: dict, person_id: str, decision: Decision, actor: str, reason: str,
              candidate: dict | None) -> None:
        """Link the case's record to a person (``MANUAL``), store and index together, golden views refreshed."""
        key = self._record_key(case)
        index = self.matching.index()
        entry = self.matching.stored_entry(key)
        old = entry.person_id
        weight = candidate["match_weight"] if candidate else None
        probability = candidate["match_probability"] if candidate else None
        self.store.set_link(*key, person_id, decision.value, LinkSource.MANUAL.value, weight, probability,
                            (candidate or {}).get("evidence") or [], case["model_version"])
        index.link(key, person_id, decision.value, LinkSource.MANUAL.value, weight, probability)
        self._detach(case)
        self.store.audit(actor, "link.created" if old in (None, person_id) else "link.moved", "record", "/".join(key),
                         reason.strip(), {"person_id": person_id, "previous_person_id": old,
                                          "link_source": LinkSource.MANUAL.value, "case_id": case["case_id"],
                                          "match_weight": weight, "model_version": case["model_version"]})
        self.matching.refresh_golden(person_id)
        if old and old != person_id:
            self.matching.refresh_golden(old)

    def _timed(self, case: dict, now: datetime) -> dict:
        due = case.get("due_at") or self.targets.due_at(case["created_at"], case["priority"])
        case["due_at"] = due
        case["age_hours"] = round((now - case["created_at"]).total_seconds() / 3600, 2)
        case["overdue"] = case["state"] in _ACTIVE and now > due
        return case


class _Acting:
    """``with``-block of one case action: the writer lock held, the case read, its version and state checked.

    The block opens its own ``store.transaction()`` for its writes once its own
    checks have passed.
    """

    def __init__(self, service: CaseService, case_id: str, expected: int | None, allowed: tuple[str, ...]):
        self.service, self.case_id, self.expected, self.allowed = service, case_id, expected, allowed
        self._lock = service.store.serialised()

    def __enter__(self) -> dict:
        self._lock.__enter__()
        try:
            case = self.service._case(self.case_id)
            if self.expected is not None and case["version"] != self.expected:
                raise Conflict(f"review case {self.case_id} is at version {case['version']}, not "
                               f"{self.expected}: someone else acted on it; reload it",
                               {"version": [f"stale: the case is at version {case['version']}"]})
            if case["state"] not in self.allowed:
                raise Conflict(f"review case {self.case_id} is {case['state']}: not possible now",
                               {"state": [f"must be one of {', '.join(self.allowed)}"]})
            return case
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise

    def __exit__(self, *exc) -> bool | None:
        return self._lock.__exit__(*exc)
