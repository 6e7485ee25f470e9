"""Manual status reports: while a partner's feed is down, staff record telling the partner a referral's state.

Who told the partner what (``state``), how (:class:`~mpi.exchange.outbound_vocab.ManualMethod`),
when (``reported_at``, not in the future), about which referral, with a note. A
report is kept as it is told (added, never changed), audited, and shown on the
referral (its read and page, under ``partner_views``) and on the outbound
patterns of that partner that hold the referral, so the record shows the partner
still got essential visibility.

Who may record one: an admin (exchange operations), or a coordinator of the
referral's requester or performer (the person who phones its partner). A hub is a
system, and a steward works identity, not the exchange: both are refused (403).
A caller who may not see the referral is answered 404, as for its read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock
from mpi.errors import Forbidden, ValidationError
from mpi.exchange.outbound import MAX_NOTE, is_note
from mpi.exchange.outbound_vocab import ManualMethod
from mpi.exchange.partners import NAME
from mpi.referral_vocab import ReferralState
from mpi.referrals.access import check_visible
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType, Role

logger = logging.getLogger(__name__)
MAX_TOLD_BY = 200
_METHODS = ", ".join(m.value for m in ManualMethod)


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if isinstance(value, datetime) and value.tzinfo is not None else None


def validate_report(data: Any, store: Store, now: datetime) -> dict[str, Any]:
    """Check a report, every problem together; returns it clean.

    Raises:
        ValidationError: naming each bad field (``partner_id``, ``told_by``, ``method``, ``state``,
            ``reported_at``, ``note``).
    """
    if not isinstance(data, Mapping):
        raise ValidationError("invalid manual report", {"report": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    partner_id, told_by, note = data.get("partner_id"), data.get("told_by"), data.get("note")
    if not isinstance(partner_id, str) or store.partners.get(partner_id) is None:
        errors["partner_id"] = ["no such partner"]
    if not isinstance(told_by, str) or not NAME.match(told_by) or len(told_by) > MAX_TOLD_BY:
        errors["told_by"] = [f"required: who told the partner, 1-{MAX_TOLD_BY} characters, no control characters"]
    if data.get("method") not in {m.value for m in ManualMethod}:
        errors["method"] = [f"one of {_METHODS}"]
    if data.get("state") not in {s.value for s in ReferralState}:
        errors["state"] = ["an internal state of a referral (what the partner was told)"]
    reported_at = _when(data.get("reported_at"))
    if reported_at is None:
        errors["reported_at"] = ["a date and time with its UTC offset (ISO 8601)"]
    elif reported_at > now:
        errors["reported_at"] = ["must not be in the future"]
    if not is_note(note):
        errors["note"] = [f"required: 1-{MAX_NOTE} characters"]
    if errors:
        raise ValidationError(f"invalid manual report: {', '.join(sorted(errors))}", errors)
    return {"partner_id": partner_id, "told_by": told_by.strip(), "method": data["method"], "state": data["state"],
            "reported_at": reported_at, "note": note.strip()}


def check_reporter(referral: Mapping[str, Any], caller: Caller) -> None:
    """An admin, or a coordinator of the referral's requester or performer (else 403)."""
    if caller.role == Role.ADMIN.value:
        return
    if caller.role == Role.COORDINATOR.value and caller.organisation in (referral["requester"],
                                                                           referral["performer"]):
        return
    raise Forbidden(f"the {caller.role} role does not record manual status reports: an admin or a coordinator "
                    "of the referral's organisations does", {"role": ["admin, or coordinator of the referral's "
                                                                      "requester or performer"]})


class ManualReports:
    """Records and reads manual status reports (``services.manual_reports``)."""

    def __init__(self, store: Store, clock: Clock):
        self.store = store
        self.clock = clock

    def record(self, referral_id: str, data: Any, caller: Caller) -> dict[str, Any]:
        """Record a manual report, audited; returns it.

        Raises:
            NotFound: no such referral, or one the caller may not see.
            Forbidden: a caller who does not record reports (:func:`check_reporter`).
            ValidationError: a bad field (:func:`validate_report`).
        """
        referral = check_visible(self.store.referrals.get(referral_id), referral_id, caller)
        check_reporter(referral, caller)
        now = self.clock.now()
        report = validate_report(data, self.store, now)
        with self.store.transaction():
            stored = self.store.manual_reports.add({**report, "referral_id": referral_id, "recorded_at": now,
                                                    "recorded_by": caller.actor})
            self.store.audit.append(caller.actor, AuditAction.MANUAL_REPORT_RECORDED, EntityType.REFERRAL,
                                    referral_id, None, {"report_id": stored["report_id"],
                                                        "partner_id": report["partner_id"],
                                                        "method": report["method"], "state": report["state"]})
        logger.info("manual report %s on referral %s to partner %s recorded by %s", stored["report_id"], referral_id,
                    report["partner_id"], caller.actor)
        return stored

    def of_referral(self, referral_id: str, caller: Caller) -> list[dict[str, Any]]:
        """A referral's manual reports (whoever may see the referral).

        Raises:
            NotFound: no such referral, or one the caller may not see.
        """
        check_visible(self.store.referrals.get(referral_id), referral_id, caller)
        return self.store.manual_reports.of_referral(referral_id)
