"""What a steward reads: the queue of waiting cases, its counts, and one case with everything to compare.

Ages, due times and overdue flags are measured against the injected clock, so
a queue read at one instant is the same on every page that shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mpi.clock import Clock
from mpi.errors import NotFound, ValidationError
from mpi.stewardship.priority import CaseTargets
from mpi.store import Store
from mpi.store.queue import AGE_BUCKETS
from mpi.vocab import ACTIVE_CASE_STATES, URGENCY, CaseKind, CaseState, Decision, HeldCode

_ACTIVE = tuple(s.value for s in ACTIVE_CASE_STATES)
#: What a case can hold: a record the matcher could not decide, two persons that may be one, or an auto-link
#: drawn for a spot-check.
CASE_KINDS = tuple(k.value for k in CaseKind)


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class CaseQueue:
    """Reads of review cases over one store."""

    def __init__(self, store: Store, targets: CaseTargets, clock: Clock):
        self.store = store
        self.targets = targets
        self.clock = clock

    def queue(self, state: str | Iterable[str] | None = None, priority: str | Iterable[str] | None = None,
              owner: str | None = None, source_system: str | None = None, min_age_hours: float | None = None,
              overdue: bool | None = None, limit: int = 100, offset: int = 0,
              now: datetime | None = None, kind: str | None = None) -> list[dict]:
        """Cases to work, most urgent first (urgent, high, routine), then oldest first.

        Args:
            state: one state or several; by default those still waiting (open, in_review, on_hold).
            priority: one priority or several.
            owner: the user name a case is assigned to.
            source_system: the system that sent the case's record.
            min_age_hours: only cases at least this old.
            overdue: only overdue cases (True) or only those that are not (False).
            kind: ``POSSIBLE_MATCH`` (a record held), ``POSSIBLE_DUPLICATE`` (two persons) or ``SPOT_CHECK``
                (an auto-link drawn for a steward to check).
            now: the time to measure age and overdue against (default: the clock).

        Each case carries ``age_hours``, ``due_at``, ``overdue``, its candidates (person ids and
        scores, no evidence), ``blocks``, its current ``hold`` and ``held_because``.
        """
        now = now or self.clock.now()
        states = _as_list(state) or list(_ACTIVE)
        errors = {}
        if not set(states) <= {s.value for s in CaseState}:
            errors["state"] = [f"must be among {', '.join(s.value for s in CaseState)}"]
        priorities = _as_list(priority)
        if priorities and not set(priorities) <= {p.value for p in URGENCY}:
            errors["priority"] = [f"must be among {', '.join(p.value for p in URGENCY)}"]
        if kind is not None and kind not in CASE_KINDS:
            errors["kind"] = [f"must be one of {', '.join(CASE_KINDS)}"]
        if min_age_hours is not None and min_age_hours < 0:
            errors["min_age_hours"] = ["must not be negative"]
        if not 1 <= limit <= 1000:
            errors["limit"] = ["must be between 1 and 1000"]
        if offset < 0:
            errors["offset"] = ["must not be negative"]
        if errors:
            raise ValidationError(f"invalid queue filter: {', '.join(sorted(errors))}", errors)
        cases = self.store.cases.queue(states=states, targets=self.targets.by_priority(), now=now,
                                       priorities=priorities, owner=owner, source_system=source_system,
                                       min_age_hours=min_age_hours, overdue=overdue, limit=limit, offset=offset,
                                       active_states=_ACTIVE, kind=kind)
        return [self.timed(case, now) for case in cases]

    def queue_counts(self, now: datetime | None = None) -> dict[str, Any]:
        """Waiting cases (open, in review, on hold) counted by priority, state, age bucket and overdue."""
        now = now or self.clock.now()
        counts: dict[str, Any] = {
            "total": 0,
            "by_priority": {p.value: 0 for p in URGENCY},
            "by_state": {s: 0 for s in _ACTIVE},
            "by_age": {name: 0 for name, _ in AGE_BUCKETS},
            "overdue": 0,
        }
        for priority, state, bucket, overdue, n in self.store.cases.counts(
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
        case = self.case(case_id)
        if case["source_system"] is not None:
            case["record"] = self.store.records.get(case["source_system"], case["source_record_id"])
        else:
            case["record"] = None
        for candidate in case["candidates"]:
            try:
                person = self.store.persons.resolve(candidate["person_id"])
            except NotFound:
                candidate["person"] = None
                continue
            person["records"] = self.store.persons.records_of(person["person_id"])
            candidate["person"] = person
        case["hold"] = self.store.cases.current_hold(case_id)
        return self.timed(case, now or self.clock.now())

    def case(self, case_id: str) -> dict:
        """A case as stored (with its candidates), or NotFound."""
        case = self.store.cases.get(case_id)
        if case is None:
            raise NotFound(f"review case {case_id} not found")
        return case

    def timed(self, case: dict, now: datetime) -> dict:
        """The case with its ``due_at``, ``age_hours`` and ``overdue`` at ``now`` (and its ``held_because``)."""
        case["held_because"] = held_because_of(case)
        due = case.get("due_at") or self.targets.due_at(case["created_at"], case["priority"])
        case["due_at"] = due
        case["age_hours"] = round((now - case["created_at"]).total_seconds() / 3600, 2)
        case["overdue"] = case["state"] in _ACTIVE and now > due
        return case


def held_because_of(case: dict) -> dict[str, str]:
    """Why a case holds its record (``code``, ``sentence``): as recorded when it opened or was re-scored.

    A case opened before reasons were recorded (migration 18) says so (``unrecorded``), with what its
    stored candidates tell; a batch run's case is a possible duplicate whenever it opened.
    """
    reason = case.get("reason")
    if reason:
        return {"code": reason["code"], "sentence": reason["sentence"]}
    people = [c["person_id"] for c in case.get("candidates") or []]
    weight = (case.get("candidates") or [{}])[0].get("match_weight")
    said = "" if weight is None else f", weighing {weight:.2f}"
    if case["kind"] == Decision.POSSIBLE_DUPLICATE.value and len(people) == 2:
        return {"code": HeldCode.POSSIBLE_DUPLICATE.value,
                "sentence": f"Possible duplicate: persons {people[0]} and {people[1]} may be one human, their best "
                            f"pair of records{said}."}
    best = f"the best person was {people[0]}{said}" if people else "no person was a candidate"
    return {"code": HeldCode.UNRECORDED.value,
            "sentence": f"Opened before reasons were recorded; {best}."}
