"""The inbound exception queue: a referral or status update that failed validation is kept, worked and recovered.

Nothing a sender sends is dropped. The API answers a bad referral or status
update as it always has (every problem named), and hands the body to
:meth:`InboundDesk.keep`: the raw bytes as received, the sender, the reasons per
field, a severity and remedy (``inbound_vocab.py``), the owning team and a target
time per severity (``MPI_INBOUND_*`` settings). Staff then claim it (it shows
``exception recovery in progress``), correct and replay it through the same
intake as the original (as its sender: the sender's own permissions apply), or
return it to the sender with a reason. Every change is in the audit log with who
and when; logs and errors name the exception id, never the body.

Partners' labels: an inbound status update in a partner's own label is mapped
back through the partner's crosswalk before intake (``mpi/exchange/labels.py``);
one refused (``unknown_label``, ``ambiguous_label``, or what the status path
answers) is kept here as any refused status update is (kind ``status_update``),
and the same queue works it. Nothing here maps labels: that is the crosswalk's.

Governance reads the queue through :meth:`InboundDesk.governance_items` (ids, codes
and times only), which ``mpi/services.py`` hands to ``mpi/exchange/governance.py``.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock
from mpi.errors import Conflict, MpiError, ReplayRefused, ValidationError
from mpi.exchange.governance import GovernanceItem, QueueTargets
from mpi.exchange.inbound_vocab import (
    RECOVERY_IN_PROGRESS,
    WORKABLE,
    InboundKind,
    InboundState,
    remedy_of,
    severity_of,
)
from mpi.referrals.service import ReferralService
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)
_ENTITY = EntityType.INBOUND_EXCEPTION
#: This queue's name to governance.
QUEUE = "inbound"



def parsed(raw: bytes) -> Any:
    """The body as JSON, or None when it is not readable JSON (what severity reads; never logged)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


class InboundDesk:
    """Keeps failed inbound messages and works them: claim, replay, return; reads the queue."""

    def __init__(self, store: Store, referrals: ReferralService, targets: QueueTargets, clock: Clock):
        self.store = store
        self.referrals = referrals
        self.targets = targets
        self.clock = clock
        #: Replays run one at a time, so two people replaying one exception cannot both run its intake.
        self._replaying = threading.Lock()

    def keep(self, kind: InboundKind, referral_id: str | None, sender: Caller, content_type: str | None,
             raw: bytes, error_code: str, http_status: int, reasons: dict[str, list[str]]) -> str:
        """Keep a message that failed validation; returns its exception id."""
        severity = severity_of(kind, parsed(raw))
        now = self.clock.now()
        item = {"kind": kind.value, "referral_id": referral_id, "sender": sender.name, "sender_role": sender.role,
                "sender_organisation": sender.organisation, "received_at": now, "content_type": content_type,
                "raw_body": raw, "error_code": error_code, "http_status": http_status, "reasons": reasons,
                "severity": severity.value, "owner": self.targets.owner,
                "due_at": self.targets.due(now, severity.value),
                "remedy": remedy_of(error_code, http_status).value, "state": InboundState.OPEN.value}
        with self.store.transaction():
            exception_id = self.store.inbound.add(item)
            self.store.audit.append(sender.actor, AuditAction.INBOUND_KEPT, _ENTITY, exception_id, None,
                                    {"kind": kind.value, "referral_id": referral_id, "error_code": error_code,
                                     "severity": severity.value, "fields": sorted(reasons)})
        logger.info("inbound exception %s kept: %s %s (%s)", exception_id, kind.value, error_code, severity.value)
        return exception_id

    def get(self, exception_id: str) -> dict[str, Any]:
        return self._view(self.store.inbound.get(exception_id))

    def page(self, *, state: str | None = None, severity: str | None = None, sender: str | None = None,
             limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """The queue, oldest first, filtered by state, severity and sender."""
        items, total = self.store.inbound.page({"state": state, "severity": severity, "sender": sender}, limit, offset)
        return {"exceptions": [self._view(i) for i in items], "total": total}

    def claim(self, exception_id: str, actor: str) -> dict[str, Any]:
        """Take an open exception to work: it shows ``exception recovery in progress`` until it is closed."""
        with self.store.transaction():
            self.store.inbound.move(exception_id, [InboundState.OPEN.value], {
                "state": InboundState.IN_PROGRESS.value, "claimed_by": actor, "claimed_at": self.clock.now()})
            self.store.audit.append(actor, AuditAction.INBOUND_CLAIMED, _ENTITY, exception_id, None, {})
        return self.get(exception_id)

    def return_to_sender(self, exception_id: str, reason: str, actor: str) -> dict[str, Any]:
        """Send an exception back to its sender with a reason (it leaves the open queue)."""
        if not (reason or "").strip():
            raise ValidationError("a return needs a reason", {"reason": ["required"]})
        with self.store.transaction():
            self.store.inbound.move(exception_id, WORKABLE, {
                "state": InboundState.RETURNED.value, "closed_by": actor, "closed_at": self.clock.now(),
                "return_reason": reason.strip()})
            self.store.audit.append(actor, AuditAction.INBOUND_RETURNED, _ENTITY, exception_id, reason.strip(), {})
        return self.get(exception_id)

    def replay(self, exception_id: str, body: Any, actor: str, referral_id: str | None = None) -> dict[str, Any]:
        """Run a corrected body through the same intake as the original, as its sender; resolve on success.

        Args:
            body: the corrected body (what the sender should have sent).
            referral_id: for a status update, the referral it is about when the original named the wrong one.

        Raises:
            Conflict: the exception is resolved or returned already.
            MpiError: the intake's own answer when the corrected body fails again (the exception stays).
        """
        with self._replaying:
            return self._replay(exception_id, body, actor, referral_id)

    def _replay(self, exception_id: str, body: Any, actor: str, referral_id: str | None) -> dict[str, Any]:
        item = self.store.inbound.get(exception_id)
        if item["state"] not in WORKABLE:
            raise Conflict(f"inbound exception {exception_id} is {item['state']}", {"state": [f"is {item['state']}"]})
        sender = Caller(item["sender"], item["sender_role"], item["sender_organisation"])
        try:
            if item["kind"] == InboundKind.REFERRAL:
                referral, _ = self.referrals.submit(body, sender)
            else:
                referral = self.referrals.change_status(referral_id or item["referral_id"] or "", body, sender)
        except MpiError as e:
            with self.store.transaction():
                self.store.audit.append(actor, AuditAction.INBOUND_REPLAY_FAILED, _ENTITY, exception_id, None,
                                        {"error_code": e.code, "fields": sorted(e.errors)})
            logger.info("inbound exception %s replay refused: %s", exception_id, e.code)
            if isinstance(e, ValidationError):  # the intake's 422, named as a replay's (the body's schema is the kind's)
                raise ReplayRefused(f"the corrected body was refused: {e.message}", e.errors) from None
            raise
        with self.store.transaction():
            self.store.inbound.move(exception_id, WORKABLE, {
                "state": InboundState.RESOLVED.value, "closed_by": actor, "closed_at": self.clock.now(),
                "produced_referral_id": referral["referral_id"]})
            self.store.audit.append(actor, AuditAction.INBOUND_RESOLVED, _ENTITY, exception_id, None,
                                    {"referral_id": referral["referral_id"]})
        return self.get(exception_id)

    def governance_items(self) -> list[GovernanceItem]:
        """Every exception as governance sees it (queue ``inbound``; source: the sender's organisation, else the
        sender; message type: the kind; resolved when it was resolved or returned)."""
        return [GovernanceItem(queue=QUEUE, item_id=r["exception_id"], source=r["sender_organisation"] or r["sender"],
                               message_type=r["kind"], severity=r["severity"], owner=r["owner"],
                               opened_at=r["received_at"], due_at=r["due_at"], resolved_at=r["closed_at"])
                for r in self.store.inbound.summaries()]

    def _view(self, item: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        raw = item.pop("raw_body")
        open_ = item["state"] in WORKABLE
        return {**item, "raw_body": raw.decode("utf-8", errors="replace"), "raw_body_bytes": len(raw),
                "shows": RECOVERY_IN_PROGRESS if item["state"] == InboundState.IN_PROGRESS else item["state"],
                "age_s": int(((now if open_ else item["closed_at"]) - item["received_at"]).total_seconds()),
                "overdue": open_ and now > item["due_at"]}
