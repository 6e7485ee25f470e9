"""What the referral tracker tells the domains above it, after the transaction that did it commits (``mpi.events``).

Ids and codes only, never a person's demographics: the exchange hangs its
outbound messages off these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mpi.events import Event


@dataclass(frozen=True, slots=True)
class ReferralStatusChanged(Event):
    """A referral entered a state (``from_state`` None: it was just received)."""

    referral_id: str
    from_state: str | None
    to_state: str
    reason: str | None
    party: str | None
    event_time: datetime
    recorded_time: datetime
    actor: str
    requester: str
    performer: str
    version: int


@dataclass(frozen=True, slots=True)
class ReferralGateChanged(Event):
    """A referral's gate was set (``gate`` names it) or lifted (``gate`` None); partners see "under review" only."""

    referral_id: str
    gate: str | None
    review_case_id: str | None
    person_id: str | None
    at: datetime
    version: int
