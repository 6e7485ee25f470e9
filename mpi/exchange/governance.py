"""Exception governance (issue 15, point 6): what every exchange queue reports of each of its items.

The three queues (inbound exceptions, outbound patterns, reconciliation work
items) each tell governance about their items as :class:`GovernanceItem` rows;
governance alone turns them into severity tiers, owners, targets, escalations
and the metrics (volume by source, queue age, share resolved within target,
time to manual recovery, recurrence by partner and message type).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mpi.clock import Clock
from mpi.exchange.vocab import DeliveryStatus
from mpi.referral_vocab import AlertKind
from mpi.referrals.metrics import MetricsQuery
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GovernanceItem:
    """One item of one exchange queue, as governance sees it (ids and codes only: never a body or a name)."""

    queue: str
    """``inbound``, ``outbound`` or ``reconciliation``."""
    item_id: str
    """The item's id in its queue (an inbound exception id, a pattern id, a work item id)."""
    source: str
    """Who it came from or concerns: the sender (inbound), the partner id (outbound, reconciliation)."""
    message_type: str
    """What it carries: the kind (inbound), the referral state the messages carry (outbound), the status
    category (reconciliation)."""
    severity: str
    """``high``, ``medium`` or ``low``, by coordination consequence."""
    owner: str
    """The team that owns it."""
    opened_at: datetime
    due_at: datetime
    """Its target resolution time."""
    resolved_at: datetime | None
    """When it was resolved (recovered, returned, closed); None while it is open."""


#: What a queue gives governance: every item it has (open and resolved), read when asked.
ItemSource = Callable[[], Iterable[GovernanceItem]]


#: The queues governance knows, in the order they are shown.
QUEUES = ("inbound", "outbound", "reconciliation")
#: The tiers of severity by coordination consequence (shared/domain.md §5), each with its meaning.
SEVERITY_TIERS: dict[str, str] = {
    "high": "a person's care transition is held up now: a hospital discharge referral kept unread, or an update "
            "without which a service cannot start",
    "medium": "a partner's or our own view of a referral is wrong or stale, so someone's next step may be missed "
              "(an open referral's status update, an unreadable body, an undelivered status)",
    "low": "the record is late or incomplete but no one's next step waits on it (news of a closure, a routine "
           "referral's missing field a phone call settles)",
}
SEVERITIES = tuple(SEVERITY_TIERS)
#: The escalation's actor in the audit log.
ACTOR = "system:governance"


@dataclass(frozen=True)
class QueueTargets:
    """A queue's owning team and the hours an item of each tier may stay open, read from ``MPI_<PREFIX>_OWNER``
    and ``MPI_<PREFIX>_TARGET_{HIGH,MEDIUM,LOW}_HOURS`` (``INBOUND``, ``OUTBOUND``, ``RECONCILE``)."""

    owner: str
    hours: dict[str, float]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], prefix: str) -> QueueTargets:
        return cls(str(config[f"MPI_{prefix}_OWNER"]),
                   {tier: float(config[f"MPI_{prefix}_TARGET_{tier.upper()}_HOURS"]) for tier in SEVERITIES})

    def due(self, opened_at: datetime, severity: str) -> datetime:
        """When an item of this severity opened then is past its target."""
        return opened_at + timedelta(hours=self.hours[severity])


def _quantile(values: Sequence[float], q: float) -> float | None:
    """A quantile by linear interpolation between the nearest ranks (as SQL's ``quantile_cont``); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    at = (len(ordered) - 1) * q
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _seconds(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _counted(pairs: Iterable[tuple], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """``[{name: value, ..., "count": n}]`` per distinct key, most first (then by key)."""
    counts = Counter(pairs)
    return [{**dict(zip(names, key)), "count": n} for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def measure(items: Iterable[GovernanceItem], start: datetime, end: datetime, now: datetime,
            end_inclusive: bool = False) -> dict[str, Any]:
    """The governance figures of one queue's items (or several queues' together), for a period and a moment.

    Over the items *opened* in the period: volume by source, and recurrence by source and message type.
    Over the items *resolved* in the period: time to manual recovery (median, p90 of resolved - opened).
    Share resolved within target: of the items opened in the period whose outcome is known (resolved, or
    still open past their target at ``now``), how many were resolved by their due time.
    Now, whatever the period: open items by severity, overdue ones, and queue age (oldest, median).
    Times are seconds. Pure: it reads nothing but what it is given.
    """
    items = list(items)

    def within(at: datetime | None) -> bool:
        return at is not None and start <= at and (at <= end if end_inclusive else at < end)

    opened = [i for i in items if within(i.opened_at)]
    resolved = [i for i in items if within(i.resolved_at)]
    open_ = [i for i in items if i.resolved_at is None]
    known = [i for i in opened if i.resolved_at is not None or now > i.due_at]
    met = [i for i in known if i.resolved_at is not None and i.resolved_at <= i.due_at]
    ages = [(now - i.opened_at).total_seconds() for i in open_]
    recovery = [(i.resolved_at - i.opened_at).total_seconds() for i in resolved]
    return {
        "volume": len(opened),
        "volume_by_source": _counted(((i.source,) for i in opened), ("source",)),
        "open": len(open_),
        "open_by_severity": {s: sum(1 for i in open_ if i.severity == s) for s in SEVERITIES},
        "overdue": sum(1 for i in open_ if now > i.due_at),
        "queue_age": {"oldest_s": _seconds(max(ages, default=None)), "median_s": _seconds(_quantile(ages, 0.5))},
        "resolved_within_target": {"count": len(met), "of": len(known),
                                   "share": round(len(met) / len(known), 4) if known else None},
        "time_to_recovery": {"n": len(recovery), "median_s": _seconds(_quantile(recovery, 0.5)),
                             "p90_s": _seconds(_quantile(recovery, 0.9))},
        "recurrence": _counted(((i.source, i.message_type) for i in opened), ("source", "message_type")),
    }


class Governance:
    """Exception governance over every exchange queue: its metrics, gauges and escalations.

    Args:
        sources: one :data:`ItemSource` per queue (adding a queue is adding its source in ``mpi/services.py``).
        store: where escalations are raised (the alerts table) and outbox counts read.
        clock: what "now" is.
    """

    def __init__(self, sources: Sequence[ItemSource], store: Store, clock: Clock):
        self.sources = list(sources)
        self.store = store
        self.clock = clock

    def items(self) -> list[GovernanceItem]:
        """Every item of every queue, open and resolved."""
        return [item for source in self.sources for item in source()]

    def metrics(self, args: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The figures per queue and over all queues for a period (``from``, ``to``, as the loop measures take them).

        Raises:
            ValidationError: a bad ``from`` or ``to``, each named.
        """
        now = self.clock.now()
        args = args or {}
        query = MetricsQuery.parse({"from": args.get("from"), "to": args.get("to")}, now)
        items = self.items()
        queues = [*QUEUES, *sorted({i.queue for i in items} - set(QUEUES))]

        def figures(of: list[GovernanceItem]) -> dict[str, Any]:
            return measure(of, query.start, query.end, now, query.end_inclusive)

        per_queue = []
        for queue in queues:
            mine = [i for i in items if i.queue == queue]
            per_queue.append({"queue": queue, "owners": sorted({i.owner for i in mine}), **figures(mine)})
        return {"from": query.start, "to": query.end, "at": now,
                "severity_tiers": [{"severity": s, "meaning": m} for s, m in SEVERITY_TIERS.items()],
                "queues": per_queue, "all": figures(items)}

    def gauges(self) -> dict[str, Any]:
        """What ``/metrics`` shows: open items by queue and severity, overdue and oldest age by queue, the outbox."""
        now = self.clock.now()
        open_ = [i for i in self.items() if i.resolved_at is None]
        queues = sorted({*QUEUES, *(i.queue for i in open_)})
        outbox = self.store.outbox.counts()
        return {
            "open": {(q, s): sum(1 for i in open_ if i.queue == q and i.severity == s)
                     for q in queues for s in SEVERITIES},
            "overdue": {q: sum(1 for i in open_ if i.queue == q and now > i.due_at) for q in queues},
            "oldest_age_s": {q: max(((now - i.opened_at).total_seconds() for i in open_ if i.queue == q),
                                    default=0.0) for q in queues},
            "outbox": {s.value: int(outbox.get(s.value, 0)) for s in DeliveryStatus},
            "dead": int(outbox.get(DeliveryStatus.DEAD.value, 0)),
        }

    def escalate(self, now: datetime | None = None) -> dict[str, int]:
        """Raise one escalation to its owning team for each open item past its target (once; audited).

        An escalation is an alert of kind ``exception_escalation`` (shown where alerts are shown): its
        ``referral_id`` names the item, its ``clock`` the queue, its ``organisation`` and recipient the
        owning team. One per item and due time, so running it again raises nothing twice.
        """
        now = now or self.clock.now()
        overdue = [(i.item_id, i.queue, i.owner, i.due_at) for i in self.items()
                   if i.resolved_at is None and now > i.due_at]
        if not overdue:
            return {"exception_escalations": 0}
        with self.store.transaction():
            raised = self.store.alerts.raise_escalations(overdue, AlertKind.EXCEPTION_ESCALATION.value, now)
            if raised:
                self.store.audit.append(ACTOR, AuditAction.ALERTS_RAISED, EntityType.ALERT,
                                        f"{raised[0][0]}..{raised[-1][0]}", None,
                                        {"exception_escalations": len(raised), "at": now.isoformat()})
        for alert_id, item_id, _, queue in raised:
            logger.info("exception %s of the %s queue escalated: alert %s", item_id, queue, alert_id)
        return {"exception_escalations": len(raised)}
