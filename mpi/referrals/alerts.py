"""Reading and acknowledging the sweep's alerts: each organisation sees its own, each supervisor what names them.

A reminder belongs to the organisation that owns the clock (the performer); an
escalation names that organisation's supervisors as recipients. A hub or a
coordinator sees its organisation's alerts; stewards and admins see all.
Acknowledging records who and when, once.
"""

from __future__ import annotations

import logging
from typing import Any

from mpi.auth import Caller
from mpi.errors import Forbidden, NotFound, ValidationError
from mpi.referral_vocab import AlertKind
from mpi.referrals.access import READ_ALL_ROLES
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)


class AlertDesk:
    """Alerts over one store."""

    def __init__(self, store: Store):
        self.store = store

    def page(self, caller: Caller, *, kind: str | None = None, referral_id: str | None = None,
             acknowledged: bool | None = None, mine: bool = False, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Alerts the caller may see, newest first (``mine``: only those naming the caller as a recipient)."""
        errors = {}
        if kind is not None and kind not in {k.value for k in AlertKind}:
            errors["kind"] = [f"must be one of {', '.join(k.value for k in AlertKind)}"]
        if not 1 <= limit <= 1000:
            errors["limit"] = ["must be between 1 and 1000"]
        if offset < 0:
            errors["offset"] = ["must not be negative"]
        if errors:
            raise ValidationError(f"invalid alert filter: {', '.join(sorted(errors))}", errors)
        filters: dict[str, Any] = {"kind": kind, "referral_id": referral_id, "acknowledged": acknowledged,
                                   "recipient": caller.name if mine else None}
        if caller.role not in READ_ALL_ROLES:
            if caller.organisation is None:
                raise Forbidden("the caller belongs to no organisation, so it has no alerts",
                                {"organisation": ["none"]})
            filters["organisation"] = caller.organisation
        return {"alerts": self.store.alerts.page(**filters, limit=limit, offset=offset),
                "total": self.store.alerts.count(**filters), "limit": limit, "offset": offset}

    def acknowledge(self, alert_id: str, caller: Caller) -> dict[str, Any]:
        """Acknowledge an alert of the caller's organisation (or one naming the caller); audited.

        Raises:
            NotFound: no such alert, or one the caller may not see.
            Conflict: acknowledged already.
        """
        with self.store.transaction():
            alert = self.store.alerts.get(alert_id)
            if not self._visible(alert, caller):
                raise NotFound(f"alert {alert_id} not found")
            acknowledged = self.store.alerts.acknowledge(alert_id, caller.actor)
            self.store.audit.append(caller.actor, AuditAction.ALERT_ACKNOWLEDGED, EntityType.ALERT, alert_id, None,
                                    {"referral_id": alert["referral_id"], "kind": alert["kind"],
                                     "clock": alert["clock"]})
        logger.info("alert %s acknowledged by %s", alert_id, caller.actor)
        return acknowledged

    @staticmethod
    def _visible(alert: dict[str, Any], caller: Caller) -> bool:
        return (caller.role in READ_ALL_ROLES or alert["organisation"] == caller.organisation
                or caller.name in (alert["recipients"] or []))
