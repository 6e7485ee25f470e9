"""The referral tracker as the API, the worklist and the CLI call it: one object over its parts.

Each method hands over to the part that owns the concept (``intake``,
``transitions``, ``reads``), so callers need not know the package's layout. A change
answers with the referral as it wrote it (read again only for its history), so a
request pays for one read, not two.
"""

from __future__ import annotations

from typing import Any

from mpi.auth import Caller
from mpi.referrals.gate import IdentityGate
from mpi.referrals.intake import ReferralIntake
from mpi.referrals.reads import ReferralReads
from mpi.referrals.transitions import ReferralSteps


class ReferralService:
    """Intake, steps and reads of referrals."""

    def __init__(self, intake: ReferralIntake, steps: ReferralSteps, reads: ReferralReads, gate: IdentityGate):
        self.intake = intake
        self.steps = steps
        self.reads = reads
        self.gate = gate

    def submit(self, data: Any, caller: Caller) -> tuple[dict[str, Any], bool]:
        """Receive a referral: (the referral with its clocks, whether it is new rather than a retry)."""
        referral, new = self.intake.submit(data, caller)
        return (self.reads.view(referral, caller) if new else self.get(referral["referral_id"], caller)), new

    def get(self, referral_id: str, caller: Caller) -> dict[str, Any]:
        return self.reads.get(referral_id, caller)

    def page(self, caller: Caller, **filters: Any) -> dict[str, Any]:
        return self.reads.page(caller, **filters)

    def change_status(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        return self.reads.view(self.steps.change_status(referral_id, data, caller), caller)

    def correct(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        return self.reads.view(self.steps.correct(referral_id, data, caller), caller)

    def reopen(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        return self.reads.view(self.steps.reopen(referral_id, data, caller), caller)
