"""Case reads from the store itself, until ``services.cases`` (mpi/cases.py) is on this branch.

The case workflow service owns the queue (filters, urgency, due times, counts)
and the case view; the review UI is built on it (``review_ui/review.py``). Until
it lands, these functions give the pages the same shapes from what the store has
now (``store.list_cases``, ``store.get_case``, records and persons), so the pages
can be built and tested. Delete this module when ``services.cases`` is wired.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from mpi.errors import NotFound
from mpi.store import Store
from mpi.vocab import CasePriority, CaseState

#: Default states of the queue: every case still waiting for a decision.
ACTIVE_STATES = (CaseState.OPEN.value, CaseState.IN_REVIEW.value, CaseState.ON_HOLD.value)
#: Target hours per priority (the defaults of MPI_CASE_TARGET_*_HOURS in the design).
TARGET_HOURS = {CasePriority.URGENT.value: 4, CasePriority.HIGH.value: 24, CasePriority.ROUTINE.value: 72}
AGE_BUCKETS = ("under_4h", "4h_to_24h", "1d_to_3d", "over_3d")
_URGENCY = {CasePriority.URGENT.value: 0, CasePriority.HIGH.value: 1, CasePriority.ROUTINE.value: 2}


def age_bucket(hours: float) -> str:
    if hours < 4:
        return "under_4h"
    if hours < 24:
        return "4h_to_24h"
    if hours < 72:
        return "1d_to_3d"
    return "over_3d"


def _timed(case: dict, now: datetime, targets: dict[str, float]) -> dict:
    case["age_hours"] = round((now - case["created_at"]).total_seconds() / 3600, 1)
    if case.get("due_at") is None:
        case["due_at"] = case["created_at"] + timedelta(hours=targets.get(case["priority"], 72))
    case["overdue"] = case["state"] in ACTIVE_STATES and now > case["due_at"]
    return case


def _all_cases(store: Store, now: datetime, targets: dict[str, float]) -> list[dict]:
    return [_timed(c, now, targets) for c in store.list_cases(state=None, limit=100_000)]


def queue(store: Store, now: datetime, targets: dict[str, float], state: str | None = None,
          priority: str | None = None, owner: str | None = None, source_system: str | None = None,
          min_age_hours: float | None = None, overdue: bool | None = None, limit: int = 100,
          offset: int = 0) -> list[dict]:
    """The queue as ``services.cases.queue`` will give it: most urgent first, then oldest."""
    states = (state,) if state else ACTIVE_STATES
    cases = [
        c for c in _all_cases(store, now, targets)
        if c["state"] in states
        and (priority is None or c["priority"] == priority)
        and (owner is None or c["owner"] == owner)
        and (source_system is None or c["source_system"] == source_system)
        and (min_age_hours is None or c["age_hours"] >= min_age_hours)
        and (overdue is None or c["overdue"] == overdue)
    ]
    cases.sort(key=lambda c: (_URGENCY.get(c["priority"], 3), c["created_at"]))
    return cases[offset:offset + limit]


def queue_counts(store: Store, now: datetime, targets: dict[str, float]) -> dict[str, Any]:
    """Counts of the waiting cases by priority, state, age bucket and source, and how many are overdue."""
    waiting = [c for c in _all_cases(store, now, targets) if c["state"] in ACTIVE_STATES]
    by_age = Counter(age_bucket(c["age_hours"]) for c in waiting)
    return {
        "total": len(waiting),
        "by_priority": {p.value: sum(c["priority"] == p.value for c in waiting) for p in CasePriority},
        "by_state": {s: sum(c["state"] == s for c in waiting) for s in ACTIVE_STATES},
        "by_age": {b: by_age.get(b, 0) for b in AGE_BUCKETS},
        "overdue": sum(c["overdue"] for c in waiting),
        "source_systems": sorted({c["source_system"] for c in waiting if c["source_system"]}),
    }


def get_case(store: Store, case_id: str, now: datetime, targets: dict[str, float]) -> dict:
    """A case with its inbound record and each candidate person's records, as ``services.cases.get`` will."""
    case = store.get_case(case_id)
    if case is None:
        raise NotFound(f"review case {case_id} not found")
    _timed(case, now, targets)
    case["record"] = store.get_record(case["source_system"], case["source_record_id"]) if case["source_system"] else None
    for candidate in case["candidates"]:
        try:
            person = store.resolve_person(candidate["person_id"])
        except NotFound:
            person = None
        candidate["person"] = person
        candidate["records"] = store.person_records(person["person_id"]) if person else []
    return case
