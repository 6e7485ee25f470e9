"""The outbound exception queue: dead messages as patterns, pausing partners, and back-posting after a fix.

A message is ``dead`` when its retries are spent or its partner refused it (a
4xx other than 429). The delivery worker hands each dead message to
:meth:`OutboundDesk.record_dead` inside the transaction that records it dead, and
it joins the open **pattern** of its key, (partner, message type, error code), or
opens one: one broken endpoint is one pattern with a count, the first and last
``dead_at`` and the referrals it affects, not hundreds of rows. Patterns are
written then rather than derived on read, so a pattern has a stable id, owner,
severity (``outbound_vocab.py``) and target (``MPI_OUTBOUND_*``) from the moment
it opens, and its members stay with it after they are back-posted (the messages'
own rows then say ``queued``/``acknowledged``, not ``dead``).

After the fix, a **back-post** of a pattern queues its dead messages again (each
the head of its referral and partner stream, so the worker sends it, then the
messages held behind it, in event order); a back-post of a partner queues every
undelivered message of the partner and resumes it if paused. Each message keeps
its payload and event time; the worker adds the new transmission time, and the
message is marked with the back-post's id and time. The patterns close with the
note. Pausing a partner stops its sending (messages keep queueing); each referral
it has undelivered messages for shows the partner's view stale since the event
time of the first of them (:meth:`OutboundDesk.partner_views`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mpi.auth import Caller
from mpi.clock import Clock
from mpi.errors import ValidationError
from mpi.exchange.governance import GovernanceItem, QueueTargets
from mpi.exchange.outbound_vocab import PatternState, highest, severity_of
from mpi.exchange.partners import PartnerRegistry
from mpi.exchange.vocab import DeliveryStatus as D, PartnerStatus
from mpi.records.text import NOT_BLANK
from mpi.referrals.access import READ_ALL_ROLES
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)
#: How many referrals a pattern lists (its ``referrals_total`` counts them all).
REFERRALS_SHOWN = 100
#: What a partner back-post sends again (not ``sent``: a message in flight has its answer coming).
_HELD = (D.QUEUED.value, D.FAILED.value, D.DEAD.value)
#: Longest note or reason (characters).
MAX_NOTE = 2000


def is_note(value: Any) -> bool:
    """Whether a value is a note or reason staff must give: some text, at most :data:`MAX_NOTE` characters."""
    return isinstance(value, str) and bool(re.match(NOT_BLANK, value)) and len(value) <= MAX_NOTE


def required_text(value: Any, field: str) -> str:
    """A note or reason: required, some text, at most :data:`MAX_NOTE` characters."""
    if not is_note(value):
        raise ValidationError(f"{field} is required", {field: [f"required: 1-{MAX_NOTE} characters"]})
    return value.strip()


class OutboundDesk:
    """The outbound exception queue over one store (``services.outbound``)."""

    def __init__(self, store: Store, partners: PartnerRegistry, targets: QueueTargets, clock: Clock):
        self.store = store
        self.partners = partners
        self.targets = targets
        self.clock = clock

    # -- written by the delivery worker -----------------------------------------------------------

    def record_dead(self, dead: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
        """Add each dead message, ``(message, outcome)``, to the open pattern of its key (inside the worker's
        transaction that records the outcomes)."""
        urgencies = self.store.outbound.urgencies(m["referral_id"] for m, _ in dead)
        opened = self.store.outbound.open_patterns()
        members = []
        for message, outcome in dead:
            key = (message["partner_id"], message["message_type"], outcome["error_code"] or "unknown")
            severity = severity_of(message["message_type"], message["reason"],
                                   urgencies.get(message["referral_id"])).value
            pattern = opened.get(key)
            if pattern is None:
                at = outcome["dead_at"]
                pattern = {"partner_id": key[0], "message_type": key[1], "error_code": key[2], "severity": severity,
                           "owner": self.targets.owner, "opened_at": at, "due_at": self.targets.due(at, severity)}
                pattern["pattern_id"] = self.store.outbound.add(pattern)
                logger.warning("outbound pattern %s opened: partner %s, %s, %s (%s)", pattern["pattern_id"],
                               *key, severity)
            elif highest(pattern["severity"], severity) != pattern["severity"]:
                pattern = {**pattern, "severity": severity,
                           "due_at": self.targets.due(pattern["opened_at"], severity)}
                self.store.outbound.regrade(pattern["pattern_id"], severity, pattern["due_at"])
            opened[key] = pattern
            members.append({"pattern_id": pattern["pattern_id"], "message_id": message["message_id"],
                            "referral_id": message["referral_id"], "dead_at": outcome["dead_at"],
                            "severity": severity})
        self.store.outbound.add_members(members)

    # -- reads --------------------------------------------------------------------------------------

    def page(self, *, partner_id: str | None = None, message_type: str | None = None, severity: str | None = None,
             error_code: str | None = None, state: str | None = None, limit: int = 50,
             offset: int = 0) -> dict[str, Any]:
        """Patterns, open first then oldest first, each with up to :data:`REFERRALS_SHOWN` referrals."""
        patterns, total = self.store.outbound.page({"partner_id": partner_id, "message_type": message_type,
                                                    "severity": severity, "error_code": error_code},
                                                   state, limit, offset)
        referrals = self.store.outbound.referrals([p["pattern_id"] for p in patterns], REFERRALS_SHOWN)
        statuses = {p["partner_id"]: p["status"] for p in self.store.partners.all()}  # read once for the page
        return {"patterns": [self._view(p, referrals[p["pattern_id"]], statuses.get(p["partner_id"]))
                             for p in patterns], "total": total}

    def get(self, pattern_id: str, referral_limit: int = REFERRALS_SHOWN) -> dict[str, Any]:
        """One pattern with the referrals it affects (capped; ``referrals_total`` counts them all) and the
        manual reports its partner was given about them."""
        pattern = self.store.outbound.get(pattern_id)
        referrals = self.store.outbound.referrals([pattern_id], referral_limit)[pattern_id]
        partner = self.store.partners.get(pattern["partner_id"]) or {}
        view = self._view(pattern, referrals, partner.get("status"))
        view["manual_reports"] = self.store.manual_reports.of_partner(pattern["partner_id"],
                                                                      [r["referral_id"] for r in referrals])
        return view

    def _view(self, pattern: dict[str, Any], referrals: list[dict[str, Any]],
              partner_status: str | None) -> dict[str, Any]:
        now = self.clock.now()
        closed = pattern["closed_at"]
        return {**pattern, "state": (PatternState.CLOSED if closed else PatternState.OPEN).value,
                "partner_status": partner_status, "referrals": referrals,
                "age_s": int(((closed or now) - pattern["opened_at"]).total_seconds()),
                "overdue": (closed or now) > pattern["due_at"]}

    def partner_views(self, referral: Mapping[str, Any], caller: Caller) -> list[dict[str, Any]]:
        """How each partner that hears of a referral the caller may see stands: stale since when (the event time
        of its first undelivered message; None when it has every change), how many it misses, its last
        acknowledgement, whether it is paused, and the manual reports it was given.

        A caller of the referral's requester or performer sees the partners of those two organisations only:
        that a third organisation's system hears of it (an MCO's, by a member subscription) says the person is
        its member, which is not theirs to know. Stewards and admins see every partner.
        """
        referral_id = referral["referral_id"]
        reports = self.store.manual_reports.of_referral(referral_id)
        views = {v["partner_id"]: v for v in self.store.outbox.views(referral_id, D.ACKNOWLEDGED.value, D.DEAD.value)}
        for partner_id in {r["partner_id"] for r in reports} - set(views):
            views[partner_id] = {"partner_id": partner_id, "stale_since": None, "undelivered": 0,
                                 "last_acknowledged_at": None, "dead": 0}
        out = []
        sides = {referral["requester"], referral["performer"]}
        for partner_id in sorted(views):
            partner = self.store.partners.get(partner_id) or {}
            if caller.role not in READ_ALL_ROLES and partner.get("organisation") not in sides:
                continue
            out.append({**views[partner_id], "partner_status": partner.get("status"),
                        "manual_reports": [r for r in reports if r["partner_id"] == partner_id]})
        return out

    def governance_items(self) -> list[GovernanceItem]:
        """Every pattern, open and closed, as governance sees it (an :data:`~mpi.exchange.governance.ItemSource`)."""
        return [GovernanceItem("outbound", p["pattern_id"], p["partner_id"], p["message_type"], p["severity"],
                               p["owner"], p["opened_at"], p["due_at"], p["closed_at"])
                for p in self.store.outbound.all()]

    # -- staff actions ------------------------------------------------------------------------------

    def pause(self, partner_id: str, reason: Any, actor: str) -> dict[str, Any]:
        """Stop sending to a partner (its messages keep queueing); audited with the reason."""
        return self._set_status(partner_id, PartnerStatus.PAUSED, required_text(reason, "reason"), actor)

    def resume(self, partner_id: str, actor: str) -> dict[str, Any]:
        """Send to a paused partner again: its queued messages flow, in order."""
        return self._set_status(partner_id, PartnerStatus.ACTIVE, None, actor)

    def _set_status(self, partner_id: str, status: PartnerStatus, reason: str | None, actor: str) -> dict[str, Any]:
        self.partners.set_status(partner_id, status, reason, actor)
        return self.partner_state(partner_id)

    def partner_state(self, partner_id: str) -> dict[str, Any]:
        """A partner's status and how stale its view is (referrals and messages it misses, since when)."""
        partner = self.partners.get(partner_id)
        return {"partner_id": partner_id, "status": partner["status"],
                **self.store.outbox.stale(partner_id, D.ACKNOWLEDGED.value),
                "open_patterns": self.store.outbound.open_of_partner(partner_id)}

    def back_post_pattern(self, pattern_id: str, note: Any, actor: str) -> dict[str, Any]:
        """Queue a pattern's dead messages again (each keeps its event time; sent in event order) and close it.

        Raises:
            ValidationError: no note.
            NotFound: no such pattern.
            Conflict: the pattern is closed already.
        """
        note = required_text(note, "note")
        self.store.outbound.get(pattern_id)
        with self.store.transaction():
            pattern = self.store.outbound.get(pattern_id)
            now = self.clock.now()
            back_post_id = self.store.outbound.next_back_post_id()
            self.store.outbound.close([pattern_id], now, actor, note, back_post_id)
            ids = self.store.outbound.dead_messages(pattern_id, D.DEAD.value)
            n = self.store.outbox.back_post(ids, back_post_id, now, D.QUEUED.value)
            self.store.audit.append(actor, AuditAction.OUTBOUND_BACK_POSTED, EntityType.OUTBOUND_PATTERN, pattern_id,
                                    note, {"back_post_id": back_post_id, "partner_id": pattern["partner_id"],
                                           "messages": n, "patterns": [pattern_id]})
        logger.info("outbound pattern %s back-posted as %s by %s: %s messages", pattern_id, back_post_id, actor, n)
        return {**self.get(pattern_id), "back_post": {"back_post_id": back_post_id, "messages": n,
                                                      "patterns_closed": [pattern_id]}}

    def back_post_partner(self, partner_id: str, note: Any, actor: str) -> dict[str, Any]:
        """Queue every undelivered message of a partner again, in event order, close its open patterns, and
        resume it if it was paused.

        Raises:
            ValidationError: no note.
            NotFound: no such partner.
        """
        note = required_text(note, "note")
        partner = self.partners.get(partner_id)
        with self.store.transaction():
            now = self.clock.now()
            back_post_id = self.store.outbound.next_back_post_id()
            patterns = self.store.outbound.open_of_partner(partner_id)
            self.store.outbound.close(patterns, now, actor, note, back_post_id)
            ids = self.store.outbox.held(partner_id, _HELD)
            n = self.store.outbox.back_post(ids, back_post_id, now, D.QUEUED.value)
            self.store.audit.append(actor, AuditAction.OUTBOUND_BACK_POSTED, EntityType.PARTNER, partner_id, note,
                                    {"back_post_id": back_post_id, "partner_id": partner_id, "messages": n,
                                     "patterns": patterns})
        if partner["status"] != PartnerStatus.ACTIVE:
            self.partners.set_status(partner_id, PartnerStatus.ACTIVE, f"back-post {back_post_id}", actor)
        logger.info("partner %s back-posted as %s by %s: %s messages, %s patterns closed", partner_id, back_post_id,
                    actor, n, len(patterns))
        return {**self.partner_state(partner_id), "back_post": {"back_post_id": back_post_id, "messages": n,
                                                                "patterns_closed": patterns}}
