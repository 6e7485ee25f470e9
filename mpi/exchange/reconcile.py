"""Reconciliation (issue 15, point 5): what each partner's system shows, against what it should show.

A partner reports a status snapshot (``POST /v1/partners/{id}/status-snapshot``,
``mpi reconcile``; ``snapshot.py`` reads and checks it). For each referral it names
the tracker compares three things: our internal state; the label the partner
should show, the one carried by the last message it acknowledged (under the
crosswalk version in force when that update was sent); and the label it reports,
beside the referral's last real action (its last step's event time). The rules,
in order (the SQL is the store's, ``mpi/store/reconciliation.py``):

1. a row naming no referral we know and told this partner of is an identifier mismatch
   (``unknown_referral``); a label no crosswalk version of the partner maps, nor an internal
   state's name, is ``unknown_label``; both are real mismatches;
2. the label it was last sent (acknowledged), or the one of an update now on its way,
   compared without case or surrounding spaces: matched;
3. an update still in flight (queued, sent, failing), a row older (``as_of``) than the partner's
   last acknowledgement, or a last action inside the grace period (``MPI_RECONCILE_GRACE_MINUTES``
   before the run): a one-off lag, counted but not worked;
4. else a real mismatch: ``undelivered`` when no update was ever acknowledged (all dead), else a
   ``disagreement``.

A real mismatch opens a work item (owner, severity by coordination consequence, a
target per severity: ``MPI_RECONCILE_*``); seen again in a later run it stays that
one item (its ``seen_count`` grows); a later run that finds the referral matching
clears it. Staff close an item with its cause, or reissue the right update (a new
outbound message under the crosswalk version in force now). Each run stores its
counts per stage, status category (our state) and expected label, so a mapping
defect stands out as one pattern and a new crosswalk version's effect shows in the trend.
The latest snapshot of each partner is compared again every ``MPI_RECONCILE_SECONDS``
inside ``mpi serve`` (an ``mpi.background.Background``): lags that cleared clear, lags that
persisted past the grace period become mismatches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mpi.clock import Clock
from mpi.errors import Conflict, NotFound, ValidationError
from mpi.exchange import snapshot as snapshots
from mpi.exchange.governance import GovernanceItem, QueueTargets
from mpi.exchange.outbox import Outbox
from mpi.exchange.reconcile_vocab import RULES, Cause, ItemState, stage_of
from mpi.referral_vocab import ReferralState
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)
_ENTITY = EntityType.RECONCILIATION_ITEM
#: Who a scheduled run is, in the audit log and on the items it clears.
SCHEDULED = "system:reconcile"
_STATES = [s.value for s in ReferralState]


@dataclass(frozen=True)
class ReconcileSettings:
    """The owning team and the hours each severity may wait (``targets``), and the grace period
    (``MPI_RECONCILE_*``)."""

    targets: QueueTargets
    grace: timedelta

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ReconcileSettings:
        return cls(QueueTargets.from_config(config, "RECONCILE"),
                   timedelta(minutes=float(config["MPI_RECONCILE_GRACE_MINUTES"])))


class Reconciler:
    """Takes partners' snapshots, runs reconciliation, and works its items (``services.reconciliation``)."""

    def __init__(self, store: Store, outbox: Outbox, settings: ReconcileSettings, clock: Clock):
        self.store = store
        self.outbox = outbox
        self.settings = settings
        self.clock = clock

    # -- snapshots and runs ---------------------------------------------------------------------

    def receive(self, partner_id: str, rows: Sequence[dict[str, Any]], source: str, actor: str) -> dict[str, Any]:
        """Keep a checked snapshot and reconcile it at once, in one transaction; returns the run.

        Raises:
            NotFound: no such partner.
        """
        partner = self._partner(partner_id)
        with self.store.transaction():
            snapshot_id = self.store.reconciliation.add_snapshot(
                {"partner_id": partner_id, "received_at": self.clock.now(), "received_by": actor, "source": source},
                rows)
            run = self._run(partner, snapshot_id, actor, "snapshot")
        self._logged(run)
        return run

    def receive_csv(self, partner_id: str, text: str, actor: str) -> dict[str, Any]:
        """:meth:`receive` of a CSV's text (bad lines named ``line N``, nothing kept)."""
        self._partner(partner_id)
        return self.receive(partner_id, snapshots.rows_from_csv(text), "csv", actor)

    def receive_json(self, partner_id: str, data: Any, actor: str) -> dict[str, Any]:
        """:meth:`receive` of a JSON snapshot (bad fields named ``rows.N.field``, nothing kept)."""
        self._partner(partner_id)
        return self.receive(partner_id, snapshots.rows_from_json(data), "json", actor)

    def rerun(self, actor: str = SCHEDULED) -> list[dict[str, Any]]:
        """Compare the latest snapshot of each partner again (the scheduled run); returns the runs."""
        runs = []
        for snap in self.store.reconciliation.latest_snapshots():
            partner = self.store.partners.get(snap["partner_id"])
            if partner is None:
                continue
            with self.store.transaction():
                run = self._run(partner, snap["snapshot_id"], actor, "scheduled")
            self._logged(run)
            runs.append(run)
        return runs

    def _run(self, partner: dict[str, Any], snapshot_id: int, actor: str, trigger: str) -> dict[str, Any]:
        now = self.clock.now()
        received = self.store.reconciliation.snapshot(snapshot_id)["received_at"]
        due = {s: self.settings.targets.due(now, s) for s in self.settings.targets.hours}
        run = self.store.reconciliation.run(
            {"partner_id": partner["partner_id"], "snapshot_id": snapshot_id, "ran_at": now, "trigger": trigger,
             "actor": actor, "grace_s": self.settings.grace.total_seconds()},
            {"snapshot": snapshot_id, "organisation": partner["organisation"], "partner": partner["partner_id"],
             "states": _STATES, "received": received, "grace_from": now - self.settings.grace},
            {"owner": self.settings.targets.owner, "due": due, "rules": RULES})
        self.store.audit.append(actor, AuditAction.RECONCILIATION_RUN, EntityType.PARTNER, partner["partner_id"],
                                None, {k: run[k] for k in ("run_id", "snapshot_id", "trigger", "compared", "matched",
                                                           "lagging", "mismatched", "opened", "seen_again",
                                                           "cleared")})
        return run

    def _logged(self, run: dict[str, Any]) -> None:
        logger.info("reconciliation run %s of partner %s: %s compared, %s matched, %s lagging, %s mismatched "
                    "(%s opened, %s seen again, %s cleared)", run["run_id"], run["partner_id"], run["compared"],
                    run["matched"], run["lagging"], run["mismatched"], run["opened"], run["seen_again"],
                    run["cleared"])

    # -- reads ----------------------------------------------------------------------------------

    def report(self, partner_id: str, runs: int = 50) -> dict[str, Any]:
        """A partner's latest runs with their mismatch rates, each split by stage, status category and expected
        label, and its open mismatches grouped into patterns (one signature, one row with a count)."""
        self._partner(partner_id)
        found = self.store.reconciliation.runs(partner_id, runs)
        rates: dict[int, list[dict]] = {}
        for rate in self.store.reconciliation.rates([r["run_id"] for r in found]):
            rates.setdefault(rate["run_id"], []).append(
                {k: rate[k] for k in ("stage", "category", "expected_label", "compared", "matched", "lagging",
                                      "mismatched")} | {"mismatch_rate": _share(rate["mismatched"],
                                                                                rate["compared"])})
        return {"partner_id": partner_id,
                "runs": [{**r, "mismatch_rate": _share(r["mismatched"], r["compared"]),
                          "lag_rate": _share(r["lagging"], r["compared"]), "by_category": rates.get(r["run_id"], [])}
                         for r in found],
                "patterns": self.store.reconciliation.patterns(partner_id)}

    def patterns(self, partner_id: str | None = None) -> list[dict[str, Any]]:
        """Open mismatches grouped by signature, biggest first (every partner's, or one's)."""
        return self.store.reconciliation.patterns(partner_id)

    def item(self, item_id: str) -> dict[str, Any]:
        return self._view(self.store.reconciliation.item(item_id))

    def items(self, *, partner_id: str | None = None, state: str | None = None, severity: str | None = None,
              kind: str | None = None, our_state: str | None = None, owner: str | None = None, limit: int = 50,
              offset: int = 0) -> dict[str, Any]:
        """The work queue, oldest first, filtered."""
        found, total = self.store.reconciliation.items(
            {"partner_id": partner_id, "state": state, "severity": severity, "kind": kind, "our_state": our_state,
             "owner": owner}, limit, offset)
        return {"items": [self._view(i) for i in found], "total": total}

    def governance_items(self) -> Iterator[GovernanceItem]:
        """Every work item, open and resolved, as governance reads the queues (an ``ItemSource``)."""
        for item in self.store.reconciliation.all_items():
            yield GovernanceItem(queue="reconciliation", item_id=item["item_id"], source=item["partner_id"],
                                 message_type=item["our_state"] or "unknown", severity=item["severity"],
                                 owner=item["owner"], opened_at=item["opened_at"], due_at=item["due_at"],
                                 resolved_at=item["closed_at"])

    # -- actions --------------------------------------------------------------------------------

    def close(self, item_id: str, cause: Any, note: Any, actor: str) -> dict[str, Any]:
        """Close an open item with its cause (one of :class:`Cause`) and an optional note, audited.

        Raises:
            ValidationError: naming ``cause`` or ``note``.
            NotFound: no such item. Conflict: it is not open.
        """
        errors = {}
        if cause not in {c.value for c in Cause}:
            errors["cause"] = [f"one of {', '.join(c.value for c in Cause)}"]
        if note is not None and (not isinstance(note, str) or len(note) > 2000):
            errors["note"] = ["at most 2000 characters"]
        if errors:
            raise ValidationError(f"invalid close: {', '.join(sorted(errors))}", errors)
        note = note.strip() or None if isinstance(note, str) else None
        with self.store.transaction():
            self.store.reconciliation.close(item_id, cause, note, actor, self.clock.now())
            self.store.audit.append(actor, AuditAction.RECONCILIATION_CLOSED, _ENTITY, item_id, note,
                                    {"cause": cause})
        logger.info("reconciliation item %s closed by %s: %s", item_id, actor, cause)
        return self.item(item_id)

    def reissue(self, item_id: str, actor: str) -> dict[str, Any]:
        """Write the right update again for an open item's referral: its current state, labelled under the
        partner's crosswalk version in force now, as a new outbound message (key suffix ``:reissue-N``), audited.

        Raises:
            NotFound: no such item. Conflict: it is not open, or it names no referral we know.
        """
        with self.store.transaction():
            item = self.store.reconciliation.item(item_id)
            if item["state"] != ItemState.OPEN:
                raise Conflict(f"reconciliation item {item_id} is {item['state']}: only an open one is reissued",
                               {"state": [f"is {item['state']}"]})
            referral = self.store.referrals.get(item["referral_id"]) if item["referral_id"] else None
            if referral is None:
                raise Conflict(f"reconciliation item {item_id} names no referral we know: nothing to reissue "
                               "(an identifier mismatch is fixed at its source)", {"referral_id": ["not known"]})
            n = self.store.reconciliation.count_reissue(item_id)
            message_id = self.outbox.reissue(item["partner_id"], referral, f"reissue-{n}")
            if message_id is None:
                raise NotFound("no such partner", {"partner_id": ["no such partner"]})
            message = self.store.outbox.get(message_id)
            self.store.audit.append(actor, AuditAction.RECONCILIATION_REISSUED, _ENTITY, item_id, None,
                                    {"message_id": message_id, "idempotency_key": message["idempotency_key"],
                                     "label": message["label"], "crosswalk_version": message["crosswalk_version"]})
        logger.info("reconciliation item %s: update reissued as message %s by %s", item_id, message_id, actor)
        shown = {k: message[k] for k in ("message_id", "idempotency_key", "partner_id", "referral_id",
                                         "message_type", "label", "crosswalk_version", "status", "event_time")}
        return {"item": self.item(item_id), "message": shown}

    # -- helpers --------------------------------------------------------------------------------

    def _partner(self, partner_id: str) -> dict[str, Any]:
        partner = self.store.partners.get(partner_id) if isinstance(partner_id, str) else None
        if partner is None:
            raise NotFound("no such partner", {"partner_id": ["no such partner"]})
        return partner

    def _view(self, item: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        open_ = item["state"] == ItemState.OPEN
        end = now if open_ else item["closed_at"]
        return {**item, "category": item["our_state"] or "unknown", "stage": stage_of(item["our_state"]),
                "age_s": int((end - item["opened_at"]).total_seconds()), "overdue": open_ and now > item["due_at"]}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
