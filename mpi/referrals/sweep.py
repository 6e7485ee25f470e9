"""The sweep: reminders as targets near, escalations once they pass, and expiry of referrals never acknowledged.

One run looks at every open referral through set-based statements over the
stored clocks (``mpi.store.alerts``, ``ReferralTable.expire_due``), so it takes
the same few statements at ten referrals or a million:

1. every referral still ``submitted`` past its expiry becomes ``expired`` (reason
   ``expired-no-response``, party ``system``), each with its history row, audit
   event and status-change event;
2. every reminder (a clock's reminder time passed) and escalation (its due time
   passed) not raised yet is stored as an alert: a reminder for the organisation
   that owns the next step, an escalation for its supervisors. Alerts are unique
   per referral, clock, kind and due time, so running the sweep twice raises
   nothing twice;
3. a gated referral whose review case is closed (an event that failed to reach
   the gate) is brought back in line with identity.
4. the passes wired in from above (``also``): the exchange's escalation of
   exceptions past their target (``mpi/exchange/governance.py``), after the rest.

``mpi sweep`` runs it once; ``mpi serve`` runs it every ``MPI_SWEEP_SECONDS``
through the single writer (``mpi.background.Background``, wired by ``mpi serve``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from mpi.clock import Clock as TimeSource
from mpi.events import EventBus
from mpi.referral_vocab import Party, ReasonCode, ReferralState
from mpi.referrals.events import ReferralStatusChanged
from mpi.referrals.gate import IdentityGate
from mpi.referrals.lifecycle import OPEN_STATES
from mpi.store import Store
from mpi.vocab import CLOSED_CASE_STATES, AuditAction, EntityType

logger = logging.getLogger(__name__)

ACTOR = "system:sweep"
_OPEN = [s.value for s in OPEN_STATES]


class Sweep:
    """One run of the sweep over one store."""

    def __init__(self, store: Store, gate: IdentityGate, events: EventBus, clock: TimeSource,
                 also: Sequence[Callable[[datetime], Mapping[str, int]]] = ()):
        self.store = store
        self.gate = gate
        self.events = events
        self.clock = clock
        #: Passes of domains above this one that run with each sweep (the exchange's exception escalations),
        #: each given the sweep's time and answering counts; wired in ``mpi/services.py``, a port, never an import.
        self.also = list(also)

    def run(self, now: datetime | None = None) -> dict[str, Any]:
        """Expire, remind, escalate and mend gates as of ``now`` (default: the clock); returns the counts."""
        now = now or self.clock.now()
        with self.store.transaction():
            expired = self.store.referrals.expire_due(
                now, ACTOR, ReferralState.SUBMITTED.value, ReferralState.EXPIRED.value,
                ReasonCode.EXPIRED_NO_RESPONSE.value, Party.SYSTEM.value)
            for referral_id, performer, version, at in expired:
                self.store.audit.append(ACTOR, AuditAction.REFERRAL_STATUS_CHANGED, EntityType.REFERRAL, referral_id,
                                        ReasonCode.EXPIRED_NO_RESPONSE.value,
                                        {"from_state": ReferralState.SUBMITTED.value,
                                         "to_state": ReferralState.EXPIRED.value, "party": Party.SYSTEM.value,
                                         "event_time": at.isoformat(), "version": version})
            raised = self.store.alerts.raise_due(_OPEN, now)
            kinds = Counter(kind for _, _, kind, _ in raised)
            if raised:
                self.store.audit.append(ACTOR, AuditAction.ALERTS_RAISED, EntityType.ALERT,
                                        f"{raised[0][0]}..{raised[-1][0]}", None,
                                        {"reminders": kinds["reminder"], "escalations": kinds["escalation"],
                                         "at": now.isoformat()})
            mended = self.store.referrals.gated_on_closed_cases([s.value for s in CLOSED_CASE_STATES])
            for referral_id in mended:
                self.gate.reconcile(referral_id)
            if expired and self.events.wanted(ReferralStatusChanged):
                requesters = self._requesters([r[0] for r in expired])
                for referral_id, performer, version, at in expired:
                    self.events.publish(ReferralStatusChanged(
                        referral_id, ReferralState.SUBMITTED.value, ReferralState.EXPIRED.value,
                        ReasonCode.EXPIRED_NO_RESPONSE.value, Party.SYSTEM.value, at, now, ACTOR,
                        requesters[referral_id], performer, version))
        counts = {"expired": len(expired), "reminders": kinds["reminder"], "escalations": kinds["escalation"],
                  "gates_mended": len(mended), "at": now}
        for extra in self.also:
            counts.update(extra(now))
        if any(v for k, v in counts.items() if k != "at"):
            logger.info("sweep: %s expired, %s reminders, %s escalations, %s gates mended", counts["expired"],
                        counts["reminders"], counts["escalations"], counts["gates_mended"])
        return counts

    def _requesters(self, referral_ids: list[str]) -> dict[str, str]:
        return self.store.referrals.requesters_of(referral_ids)
