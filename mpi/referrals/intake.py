"""Intake: a referral received, its person through the match decision, gated while a steward decides.

The requester sends the referral with its record of the person. In one
transaction, under the writer lock, the record goes through the same decision as
``POST /v1/records`` (a link, a new person, or a review case) and the referral is
stored with the outcome: with its person, or gated (``identity_pending``) on the
case, which records that it blocks the referral and takes its priority from the
referral's urgency. The same ``(requester, requester_referral_id)`` again is a
retry: the referral already stored comes back, and nothing is written.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock as TimeSource
from mpi.directory.organisations import Directory
from mpi.errors import ValidationError
from mpi.identity.matcher import MatchService
from mpi.matching.prepare import prepare
from mpi.referral_vocab import Gate, ReferralState
from mpi.referrals.access import check_requester
from mpi.referrals.gate import IdentityGate, block
from mpi.referrals.policy import ReferralPolicy, check_complete
from mpi.referrals.timing import targets
from mpi.referrals.validation import validate_referral
from mpi.referrals.writer import ReferralWriter
from mpi.store import Store

logger = logging.getLogger(__name__)


def reference(number: int, at: datetime) -> str:
    """The human reference of a referral: the year received and its number (``REF-2026-000123``)."""
    return f"REF-{at.year}-{number:06d}"


def check_organisations(directory: Directory, requester: str, performer: str, service_type: str,
                        field: str = "performer") -> None:
    """Both organisations exist and the performer performs the service.

    Raises:
        ValidationError: naming ``requester`` and/or ``performer`` (or ``service_type``).
    """
    errors = {}
    if not directory.exists(requester):
        errors["requester"] = ["no such organisation"]
    if not directory.exists(performer):
        errors[field] = ["no such organisation"]
    else:
        offered = directory.get(performer)["service_types"]
        if offered and service_type not in offered:
            errors["service_type"] = [f"{performer} does not perform it: it performs {', '.join(offered)}"]
    if errors:
        raise ValidationError(f"invalid referral: {', '.join(sorted(errors))}", errors)


class ReferralIntake:
    """Receiving referrals over one store."""

    def __init__(self, store: Store, writer: ReferralWriter, matching: MatchService, directory: Directory,
                 policy: ReferralPolicy, gate: IdentityGate, clock: TimeSource):
        self.store = store
        self.writer = writer
        self.matching = matching
        self.directory = directory
        self.policy = policy
        self.gate = gate
        self.clock = clock

    def check(self, data: Any, caller: Caller) -> dict[str, Any]:
        """Everything intake checks before it writes: the body, the caller's organisation, both organisations
        and the minimum data set. Returns the referral as loaded.

        Raises:
            ValidationError: a bad body (every field named), an unknown organisation or service.
            IncompleteReferral: the minimum data set is not met (every missing field named).
            Forbidden: the caller does not send referrals as ``requester``.
        """
        body = validate_referral(data)
        check_requester(body["requester"], caller)
        check_organisations(self.directory, body["requester"], body["performer"], body["service_type"])
        check_complete(body, self.policy)
        return body

    def submit(self, data: Any, caller: Caller) -> tuple[dict[str, Any], bool]:
        """Receive a referral; returns it as stored and whether it is new (False: a retry of one already stored)."""
        body = self.check(data, caller)
        try:
            prepared = prepare(body["person"])
        except ValidationError as e:  # named inside the referral: the person, or its field
            raise ValidationError(e.message, {"person" if k == "_schema" else f"person.{k}": v
                                              for k, v in e.errors.items()}) from None

        def write() -> tuple[dict[str, Any], bool]:
            existing = self.store.referrals.by_requester_id(body["requester"], body["requester_referral_id"])
            if existing is not None:
                return self.store.referrals.get(existing), False
            referral = self._store(body, prepared, caller)
            # Watched from now on: the referral was written in step with identity's events of its own
            # transaction (the record linked, its case opened), so the gate need not read it back for them.
            self.gate.watch((referral["source_system"], referral["source_record_id"]))
            return referral, True
        # The retry check and the write in one unit of a shared transaction (``Store.grouped``): a retry
        # sent beside its first try finds it.
        referral, new = self.store.grouped(write)
        if not new:
            logger.info("referral %s sent again by %s: a retry", referral["referral_id"], caller.actor)
            return referral, False
        logger.info("referral %s received from %s for %s (%s, gate %s)", referral["referral_id"],
                    referral["requester"], referral["performer"], referral["urgency"], referral["gate"] or "none")
        return referral, True

    def _store(self, body: Mapping[str, Any], prepared, caller: Caller) -> dict[str, Any]:
        referral_id, number = self.store.referrals.next_id()
        now = self.clock.now()
        decided = self.matching.submit_prepared(
            prepared, caller.actor, with_candidates=False,
            blocks=[block({"referral_id": referral_id, "urgency": body["urgency"]})])
        case_id = decided["review_case_id"]
        key = (decided["source_system"], decided["source_record_id"])
        calendar = self.directory.calendar(body["performer"])
        row = {
            "referral_id": referral_id, "reference": reference(number, now),
            **{f: body[f] for f in ("requester", "requester_referral_id", "performer", "service_type", "urgency",
                                    "reason", "requester_contact", "consent", "service_address")},
            "risk_flags": list(body.get("risk_flags") or []),
            "source_system": key[0], "source_record_id": key[1],
            "person_id": None if case_id else decided["person_id"],
            "state": ReferralState.SUBMITTED.value, "gate": Gate.IDENTITY_PENDING.value if case_id else None,
            "review_case_id": case_id, "gated_since": now if case_id else None, "gated_seconds": 0.0,
            "received_at": now, "recorded_at": now, "updated_at": now, "version": 1,
            **targets(self.policy, body["urgency"], body["service_type"], calendar),
        }
        return self.writer.insert(row, caller.actor, {"decision": decided["decision"],
                                                      "policy_version": self.policy.version})
