"""What readers see of referrals: one referral with its history, lineage and clocks, and lists of them.

Every referral read leaves through :func:`~mpi.referrals.disclosure.disclosed`, so
consent limits what a performer is shown in the API, FHIR and the worklist alike.

Ages, gated time and "overdue" are measured against the injected clock. A
caller sees only what :mod:`mpi.referrals.access` lets it: another
organisation's referral is not found, and a list holds only its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock as TimeSource
from mpi.errors import Forbidden, NotFound, ValidationError
from mpi.referral_vocab import ReasonCode, ReferralState, Urgency
from mpi.referrals.access import READ_ALL_ROLES, check_visible, side_of, visible
from mpi.referrals.disclosure import disclosed
from mpi.referrals.lifecycle import OPEN_STATES, STEPS, may, next_states
from mpi.referrals.policy import ReferralPolicy
from mpi.referrals.timing import clocks_view
from mpi.store import Store

_OPEN = [s.value for s in OPEN_STATES]
_RETURNED = (ReferralState.ON_HOLD.value, ReasonCode.INFORMATION_INCOMPLETE.value)
#: What a lineage says of each referral in the chain.
_LINEAGE = ("referral_id", "reference", "performer", "state", "predecessor_id")


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class ReferralReads:
    """Reads of referrals over one store."""

    def __init__(self, store: Store, clock: TimeSource, policy: ReferralPolicy):
        self.store = store
        self.clock = clock
        self.policy = policy

    def get(self, referral_id: str, caller: Caller, now: datetime | None = None) -> dict[str, Any]:
        """One referral with its history (both times of every change), lineage, gate, gated time and clocks.

        Raises:
            NotFound: no such referral, or one the caller may not see.
        """
        referral = dict(check_visible(self.store.referrals.get(referral_id), referral_id, caller))
        return self.view(referral, caller, now)

    def view(self, referral: dict[str, Any], caller: Caller | None, now: datetime | None = None) -> dict[str, Any]:
        """A referral the caller may see (as just read or written) with its history, lineage and clocks.

        Reads only what the referral does not carry: its history unless given, and its
        successors and lineage only if it was ever redirected or is a redirect's successor.
        """
        referral = dict(referral)
        if referral.get("history") is None:
            referral["history"] = self.store.referrals.events(referral["referral_id"])
        if referral["predecessor_id"] or referral.get("redirected_at"):
            referral["successor_ids"] = self.store.referrals.successors(referral["referral_id"])
            referral["lineage"] = self._lineage(referral)
        else:
            referral["successor_ids"] = []
            referral["lineage"] = [{k: referral[k] for k in _LINEAGE}]
        return self.timed(referral, caller, now or self.clock.now())

    def chain(self, referral_id: str, caller: Caller) -> list[dict[str, Any]]:
        """Every referral of the chain of redirects that starts at ``referral_id``, as stored, the first first.

        The chain is one order (the FHIR ServiceRequest), so a caller on either side of
        any referral of it sees it: a redirect's new performer, which never sees the
        referrals before its own, still sees the order it serves.

        Raises:
            NotFound: no such referral, one that does not start its chain (a redirect's
                successor), or a chain the caller has no part in.
        """
        first = self.store.referrals.get(referral_id)
        if first is None or first["predecessor_id"] is not None:
            raise NotFound(f"no chain of referrals starts at {referral_id}")
        chain = [self.store.referrals.get(link["referral_id"]) for link in self._lineage(first)]
        if not any(visible(r, caller) for r in chain):
            raise NotFound(f"no chain of referrals starts at {referral_id}")
        return [disclosed(dict(r), caller, self.policy) for r in chain]

    def timed(self, referral: dict[str, Any], caller: Caller | None, now: datetime) -> dict[str, Any]:
        """The referral with what depends on the time (gated seconds, clocks, overdue) and the caller (its steps,
        and what consent lets it see: :mod:`mpi.referrals.disclosure`)."""
        gated = referral["gated_seconds"] or 0.0
        if referral["gate"] and referral["gated_since"] is not None:
            gated += max((now - referral["gated_since"]).total_seconds(), 0.0)
        referral["gated_seconds"] = round(gated, 3)
        referral["clocks"] = clocks_view(referral, now)
        due = referral["next_due_at"]
        referral["overdue"] = due is not None and referral["state"] in _OPEN and due < now
        referral["next_states"] = [s.value for s in next_states(referral["state"], referral["state_reason"])]
        referral["your_steps"] = self._steps_for(referral, caller)
        return disclosed(referral, caller, self.policy)

    def page(self, caller: Caller, *, state: str | Iterable[str] | None = None, performer: str | None = None,
             requester: str | None = None, gated: bool | None = None, overdue: bool | None = None,
             urgency: str | Iterable[str] | None = None, service_type: str | None = None,
             waiting_on: str | None = None, person_id: str | None = None, order: str = "due",
             limit: int = 50, offset: int = 0, now: datetime | None = None) -> dict[str, Any]:
        """A page of the referrals the caller may see, matching every filter, with the count of all that match.

        Raises:
            ValidationError: naming each bad filter.
            Forbidden: a caller of no organisation whose role does not read every referral.
        """
        now = now or self.clock.now()
        states, urgencies = _as_list(state), _as_list(urgency)
        errors = {}
        if states and not set(states) <= {s.value for s in ReferralState}:
            errors["state"] = [f"must be among {', '.join(s.value for s in ReferralState)}"]
        if urgencies and not set(urgencies) <= {u.value for u in Urgency}:
            errors["urgency"] = [f"must be among {', '.join(u.value for u in Urgency)}"]
        if not 1 <= limit <= 1000:
            errors["limit"] = ["must be between 1 and 1000"]
        if offset < 0:
            errors["offset"] = ["must not be negative"]
        if order not in ("due", "newest"):
            errors["order"] = ["must be due or newest"]
        if errors:
            raise ValidationError(f"invalid referral filter: {', '.join(sorted(errors))}", errors)
        scope = None
        if caller.role not in READ_ALL_ROLES:
            if caller.organisation is None:
                raise Forbidden("the caller belongs to no organisation, so it has no referrals",
                                {"organisation": ["none"]})
            scope = caller.organisation
        filters = dict(now=now, open_states=_OPEN, states=states, performer=performer, requester=requester,
                       party_of=scope, waiting_on=waiting_on, returned=_RETURNED, gated=gated, overdue=overdue,
                       urgency=urgencies, service_type=service_type, person_id=person_id)
        rows = self.store.referrals.page(**filters, order=order, limit=limit, offset=offset)
        return {"referrals": [self.timed(r, caller, now) for r in rows],
                "total": self.store.referrals.count(**filters), "limit": limit, "offset": offset}

    def _lineage(self, referral: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The chain of redirects this referral belongs to, from the first referral on, in order."""
        root = referral
        seen = {root["referral_id"]}
        while root["predecessor_id"] and root["predecessor_id"] not in seen:
            root = self.store.referrals.get(root["predecessor_id"])
            seen.add(root["referral_id"])
        chain, queue = [], [root["referral_id"]]
        while queue:
            current = self.store.referrals.get(queue.pop(0))
            chain.append({k: current[k] for k in _LINEAGE})
            queue.extend(self.store.referrals.successors(current["referral_id"]))
        return chain

    @staticmethod
    def _steps_for(referral: Mapping[str, Any], caller: Caller | None) -> list[str]:
        """The states this caller may move the referral to now (what the worklist offers as actions)."""
        if caller is None:
            return []
        try:
            side = side_of(referral, caller)
        except Forbidden:
            return []
        steps = []
        for state in next_states(referral["state"], referral["state_reason"]):
            step = STEPS[state]
            if may(side, step.by) and not (step.refused_while_gated and referral["gate"]):
                steps.append(state.value)
        return steps
