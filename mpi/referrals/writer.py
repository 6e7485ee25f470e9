"""The one writer of referrals: every change of a referral's row, history, pauses and clocks, audited, announced.

A change of a referral has five parts that must never drift apart: its row
(under a version check, with the outcomes it reached stamped: ``outcomes.py``),
one row of its history with both times, the pauses its clocks stand in, its
clocks recomputed from those pauses, and the audit event;
then the event the domains above hear after commit. :class:`ReferralWriter`
makes all five, so intake, status changes, corrections, reopening, redirects and
the identity gate each say only *what* changes.

Every method runs inside the caller's store transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mpi.clock import Clock as TimeSource
from mpi.directory.organisations import Directory
from mpi.events import EventBus
from mpi.referral_vocab import ReferralState
from mpi.referrals.events import ReferralGateChanged, ReferralStatusChanged
from mpi.referrals.lifecycle import Clock
from mpi.referrals.outcomes import reached
from mpi.referrals.policy import ReferralPolicy
from mpi.referrals.timing import PauseKind, fresh_expiry, meet, schedule
from mpi.store import Store
from mpi.store.columns import REFERRALS
from mpi.store.referrals import CHANGEABLE
from mpi.vocab import AuditAction, EntityType

#: History rows that are steps of the lifecycle (``stepped_at`` is the last one's event time).
STEP_KINDS = frozenset({"intake", "status", "correction", "reopen"})


class ReferralWriter:
    """Writes referrals over one store, with the directory's calendars and the policy's reminders."""

    def __init__(self, store: Store, directory: Directory, policy: ReferralPolicy, events: EventBus,
                 clock: TimeSource):
        self.store = store
        self.directory = directory
        self.policy = policy
        self.events = events
        self.clock = clock

    def insert(self, row: dict[str, Any], actor: str, detail: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new referral (``submitted``; gated if ``row`` names a gate) with its first history row.

        Returns the row with its ``history`` (that one row), so the answer needs no read.
        """
        referral_id, at = row["referral_id"], row["received_at"]
        for column in REFERRALS:  # what intake leaves unsaid is empty: the row answers as a read would
            row.setdefault(column, None)
        row["pauses"] = [_pause(PauseKind.GATE, at, row["review_case_id"])] if row.get("gate") else []
        row["stepped_at"] = at
        row.update(schedule(row, self.directory.calendar(row["performer"]), row["pauses"],
                            self.policy.remind_before))
        self.store.referrals.insert(row)
        row["history"] = [self.store.referrals.add_event(referral_id, 1, "intake", None, row["state"], at, actor,
                                                         detail=dict(detail))]
        self.store.audit.append(actor, AuditAction.REFERRAL_SUBMITTED, EntityType.REFERRAL, referral_id, None,
                                {"requester": row["requester"], "performer": row["performer"],
                                 "record": f"{row['source_system']}/{row['source_record_id']}",
                                 "person_id": row["person_id"], "review_case_id": row["review_case_id"],
                                 **detail})
        self._status(row, None, actor, at)
        if row.get("gate"):
            self._gate(row, at)
        return row

    def change(self, referral: Mapping[str, Any], *, kind: str, action: AuditAction, event_time: datetime,
               actor: str, changes: Mapping[str, Any] | None = None, party: str | None = None,
               reason: str | None = None, note: str | None = None, detail: Mapping[str, Any] | None = None,
               meets: Iterable[Clock] = (), start: PauseKind | None = None, end: PauseKind | None = None,
               case_id: str | None = None, reopened: bool = False) -> dict[str, Any]:
        """Apply one change: pauses ended and started at ``event_time``, clocks met and rescheduled, row, history.

        ``reopened``: a closed referral reopens; the time it stood closed (from ``closed_at``)
        becomes a pause of every clock, and an expired one gets a whole expiry window again.
        Returns the referral as it now is (with its new version).

        Raises:
            Conflict: the referral changed since ``referral`` was read.
        """
        referral_id = referral["referral_id"]
        pauses = [dict(p) for p in referral["pauses"]]
        if end is not None:
            for p in pauses:
                if p["kind"] == end.value and p["ended_at"] is None:
                    p["ended_at"] = max(p["started_at"], event_time)
        if start is not None:
            pauses.append(_pause(start, event_time, case_id))
        if reopened:
            pauses.append({**_pause(PauseKind.CLOSED, referral["closed_at"], None),
                           "ended_at": max(referral["closed_at"], event_time)})
        calendar = self.directory.calendar((changes or {}).get("performer", referral["performer"]))
        after = {**referral, **(changes or {}), "pauses": pauses}
        if reopened and referral["state"] == ReferralState.EXPIRED:
            after["expiry_target_s"] = fresh_expiry(referral, event_time, calendar, pauses)
        if kind in STEP_KINDS:
            after["stepped_at"] = event_time
        after.update(meet(after, meets, event_time, calendar, pauses))
        after.update(reached(after, event_time))
        after.update(schedule(after, calendar, pauses, self.policy.remind_before))
        after["updated_at"] = self.clock.now()
        diff = {k: v for k, v in after.items() if k in CHANGEABLE and referral.get(k) != v}
        after["version"] = self.store.referrals.update(referral, **diff)
        self.store.referrals.add_event(referral_id, after["version"], kind, referral["state"], after["state"],
                                       event_time, actor, party, reason, note, None if detail is None else dict(detail))
        self.store.audit.append(actor, action, EntityType.REFERRAL, referral_id, reason,
                                {"from_state": referral["state"], "to_state": after["state"], "party": party,
                                 "event_time": event_time.isoformat(), "version": after["version"], **(detail or {})})
        if after["state"] != referral["state"]:
            self._status(after, referral["state"], actor, event_time)
        if after.get("gate") != referral.get("gate") or after.get("review_case_id") != referral.get("review_case_id"):
            self._gate(after, event_time)
        return after

    def _status(self, referral: Mapping[str, Any], from_state: str | None, actor: str, at: datetime) -> None:
        self.events.publish(ReferralStatusChanged(
            referral["referral_id"], from_state, referral["state"], referral.get("state_reason"),
            referral.get("state_party"), at, self.clock.now(), actor, referral["requester"], referral["performer"],
            referral["version"]))

    def _gate(self, referral: Mapping[str, Any], at: datetime) -> None:
        self.events.publish(ReferralGateChanged(referral["referral_id"], referral.get("gate"),
                                                referral.get("review_case_id"), referral.get("person_id"), at,
                                                referral["version"]))


def _pause(kind: PauseKind, at: datetime, case_id: str | None) -> dict[str, Any]:
    """A pause of a referral's clocks starting ``at`` (still running)."""
    return {"kind": kind.value, "started_at": at, "ended_at": None, "case_id": case_id}
