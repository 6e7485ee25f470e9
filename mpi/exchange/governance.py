"""Exception governance (issue 15, point 6): what every exchange queue reports of each of its items.

The three queues (inbound exceptions, outbound patterns, reconciliation work
items) each tell governance about their items as :class:`GovernanceItem` rows;
governance alone turns them into severity tiers, owners, targets, escalations
and the metrics (volume by source, queue age, share resolved within target,
time to manual recovery, recurrence by partner and message type).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime


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
