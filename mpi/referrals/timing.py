"""A referral's clocks as stored columns: targets, due and reminder times, when each was met and the time it took.

Every clock starts when the referral is received and counts the performer's
business hours (``mpi.directory.calendar``). Pauses stop clocks (``clocks.py``):
a referral returned to its requester as information-incomplete, or closed, stops
every clock; a gate on identity stops only the first-contact clock. Due and
reminder times are fixed instants once the pauses are known, so they are
recomputed only when a referral changes, and stored: the sweep and "overdue"
read columns, never a calendar. ``next_due_at`` is the earliest due time of a
clock still running, empty while none runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from mpi.directory.calendar import BusinessCalendar
from mpi.referral_vocab import ReferralState
from mpi.referrals.clocks import clock_due, clock_elapsed
from mpi.referrals.lifecycle import OPEN_STATES, Clock
from mpi.referrals.policy import ReferralPolicy


class PauseKind(StrEnum):
    """Why a referral's clocks stood still for a while."""

    RETURNED = "returned"
    """Returned to the requester as information-incomplete: every clock stops."""
    CLOSED = "closed"
    """Closed until reopened (kept once it is reopened: from ``closed_at`` to then): every clock stops."""
    GATE = "gate"
    """Gated on a review case of its person's identity: the first-contact clock stops."""


#: Each clock's column prefix in ``referrals``.
PREFIX = {Clock.ACKNOWLEDGE: "ack", Clock.TRIAGE: "triage", Clock.FIRST_CONTACT: "contact", Clock.EXPIRY: "expiry"}
#: The clocks that alert (expiry is a state change instead), in the order they fall due.
ALERTING = (Clock.ACKNOWLEDGE, Clock.TRIAGE, Clock.FIRST_CONTACT)
#: The pauses that stop each clock.
STOPPED_BY = {
    Clock.ACKNOWLEDGE: frozenset({PauseKind.RETURNED, PauseKind.CLOSED}),
    Clock.TRIAGE: frozenset({PauseKind.RETURNED, PauseKind.CLOSED}),
    Clock.FIRST_CONTACT: frozenset({PauseKind.RETURNED, PauseKind.CLOSED, PauseKind.GATE}),
    Clock.EXPIRY: frozenset({PauseKind.RETURNED, PauseKind.CLOSED}),
}

Interval = tuple[datetime, datetime | None]


def intervals(pauses: Iterable[Mapping[str, Any]], clock: Clock) -> list[Interval]:
    """The referral's pauses (its ``pauses``: kind, started and ended at) that stop this clock, as intervals."""
    return [(p["started_at"], p["ended_at"]) for p in pauses if p["kind"] in STOPPED_BY[clock]]


def targets(policy: ReferralPolicy, urgency: str, service_type: str, calendar: BusinessCalendar) -> dict[str, Any]:
    """The target columns of a new referral: each clock's target under the policy in force, and one business day."""
    out = {f"{PREFIX[c]}_target_s": policy.target_seconds(urgency, service_type, c) for c in Clock}
    out["business_day_s"] = calendar.day_seconds
    return out


def meet(referral: Mapping[str, Any], clocks: Iterable[Clock], at: datetime, calendar: BusinessCalendar,
         pauses: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Columns marking each clock not met yet as met at ``at``, with the business time it took."""
    changes: dict[str, Any] = {}
    for clock in clocks:
        prefix = PREFIX[clock]
        if referral.get(f"{prefix}_met_at") is None:
            changes[f"{prefix}_met_at"] = at
            changes[f"{prefix}_business_s"] = clock_elapsed(calendar, referral["received_at"], at,
                                                            intervals(pauses, clock))
    return changes


def fresh_expiry(referral: Mapping[str, Any], at: datetime, calendar: BusinessCalendar,
                 pauses: list[Mapping[str, Any]]) -> float:
    """An expiry target giving a referral reopened at ``at`` a whole expiry window again (from receipt, as stored)."""
    used = clock_elapsed(calendar, referral["received_at"], at, intervals(pauses, Clock.EXPIRY))
    return used + referral["expiry_target_s"]


def schedule(referral: Mapping[str, Any], calendar: BusinessCalendar, pauses: list[Mapping[str, Any]],
             remind_before: float) -> dict[str, Any]:
    """Due and reminder columns of the clocks still running, the expiry, and ``next_due_at``/``next_clock``."""
    changes: dict[str, Any] = {}
    start = referral["received_at"]
    is_open = referral["state"] in OPEN_STATES
    nearest: tuple[datetime, Clock] | None = None
    for clock in ALERTING:
        prefix = PREFIX[clock]
        if referral.get(f"{prefix}_met_at") is not None:
            continue
        target = referral[f"{prefix}_target_s"]
        stops = intervals(pauses, clock)
        due = clock_due(calendar, start, target, stops)
        changes[f"{prefix}_due_at"] = due
        changes[f"{prefix}_remind_at"] = clock_due(calendar, start, target * (1 - remind_before), stops)
        if is_open and due is not None and (nearest is None or due < nearest[0]):
            nearest = (due, clock)
    expiry = None
    if referral["state"] == ReferralState.SUBMITTED:
        expiry = clock_due(calendar, start, referral["expiry_target_s"], intervals(pauses, Clock.EXPIRY))
    changes["expiry_due_at"] = expiry
    changes["next_due_at"], changes["next_clock"] = (nearest[0], nearest[1].value) if nearest else (None, None)
    return changes


def clocks_view(referral: Mapping[str, Any], now: datetime) -> dict[str, dict[str, Any]]:
    """Each clock as a reader sees it: target, due, met, business hours taken, within target, overdue."""
    view = {}
    for clock in (*ALERTING, Clock.EXPIRY):
        prefix = PREFIX[clock]
        target = referral.get(f"{prefix}_target_s")
        due = referral.get(f"{prefix}_due_at")
        entry: dict[str, Any] = {"target_business_hours": None if target is None else round(target / 3600, 2),
                                 "due_at": due}
        if clock is not Clock.EXPIRY:
            met = referral.get(f"{prefix}_met_at")
            taken = referral.get(f"{prefix}_business_s")
            entry.update({
                "met_at": met,
                "business_hours_taken": None if taken is None else round(taken / 3600, 2),
                "within_target": None if taken is None or target is None else taken <= target,
                "overdue": met is None and referral["state"] in OPEN_STATES and due is not None and due < now,
            })
        view[clock.value] = entry
    return view
