"""The outcomes a referral has reached, kept on its row: when it was first accepted, declined, redirected, completed.

The loop measures (``metrics.py``) ask of every referral in a period whether it
was ever accepted, declined, redirected or completed. Its history says so, but
grouping a million referrals' history on every request costs more than the
whole measure may (500 ms at 1M referrals), so the writer stamps the first time
each outcome is reached on the row, and the measures read one table. A stamp is
never cleared: a referral reopened after a decline was still declined once.

Starting the service (``in_progress``) counts as acceptance: a performer may
start from ``on_hold`` without the ``accepted`` step, and starting is
acceptance in deed (so ``completed`` implies accepted, and a completion rate
never exceeds one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mpi.referral_vocab import ReferralState

S = ReferralState
#: Each state, and the outcome columns its entry stamps (when not stamped yet).
STAMPS: dict[str, tuple[str, ...]] = {
    S.ACCEPTED.value: ("accepted_at",),
    S.IN_PROGRESS.value: ("accepted_at",),
    S.COMPLETED.value: ("accepted_at", "completed_at"),
    S.DECLINED.value: ("declined_at",),
    S.REDIRECTED.value: ("redirected_at",),
}
OUTCOME_COLUMNS = ("accepted_at", "declined_at", "redirected_at", "completed_at")


def reached(referral: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The outcome columns to stamp now that the referral is in its state (``at``: when it got there)."""
    return {column: at for column in STAMPS.get(referral["state"], ()) if referral.get(column) is None}
