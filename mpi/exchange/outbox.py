"""The outbox: every status change a partner subscribes to, written as a message in the change's own transaction.

:class:`Outbox` is enlisted on the event bus (``mpi.events``) for the referral
tracker's :class:`~mpi.referrals.events.ReferralStatusChanged`: it runs inside
the transaction that changes the referral, so the change and its messages
commit together or not at all, and nothing is sent from inside it (the delivery
worker, ``delivery.py``, sends after). Each message has its idempotency key
(``{referral_id}:{version}:{partner_id}``, the same however often it is sent),
the event time, and its payload labelled under the partner's crosswalk version
in force at the event time (the internal state itself where no version maps a
label, marked so by a null ``crosswalk_version``).

Which partners: a partner subscribed as ``requester`` hears of every referral
its organisation requested, as ``performer`` of those it performs, as
``member`` of those of persons its organisation holds a record of. A paused
partner's messages are written all the same; they wait.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mpi.events import EventBus
from mpi.exchange import messages
from mpi.exchange.crosswalk import CrosswalkVersion, NoLabel, label_for
from mpi.exchange.vocab import DeliveryStatus, PartnerFormat, Subscription
from mpi.referrals.events import ReferralStatusChanged
from mpi.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscriber:
    """A partner as the outbox needs it: whom it hears of, how, and its compiled crosswalk versions."""

    partner_id: str
    organisation: str
    format: str
    subscriptions: frozenset[str]
    versions: tuple[CrosswalkVersion, ...]


def idempotency_key(referral_id: str, version: int, partner_id: str) -> str:
    """The key a partner dedups a message by: one per referral version and partner."""
    return f"{referral_id}:{version}:{partner_id}"


class Outbox:
    """Writes the messages of each status change (``services.outbox``; enlisted by :func:`enlist`)."""

    def __init__(self, store: Store):
        self.store = store
        self._lock = threading.Lock()
        self._subscribers: tuple[Subscriber, ...] | None = None
        #: Set after a transaction that wrote messages commits: the delivery worker wakes on it.
        self.written = threading.Event()

    def forget(self) -> None:
        """Read partners and crosswalks afresh at the next change (a partner or crosswalk was added or changed)."""
        with self._lock:
            self._subscribers = None

    def subscribers(self) -> tuple[Subscriber, ...]:
        with self._lock:
            if self._subscribers is None:
                self._subscribers = tuple(
                    Subscriber(p["partner_id"], p["organisation"], p["format"], frozenset(p["subscriptions"]),
                               tuple(CrosswalkVersion.from_stored(v)
                                     for v in self.store.partners.crosswalks(p["partner_id"])))
                    for p in self.store.partners.all())
            return self._subscribers

    def on_status(self, event: ReferralStatusChanged) -> None:
        """Write one message per partner that hears of this change (inside the change's transaction)."""
        subscribers = self.subscribers()
        if not subscribers:
            return
        referral = self.store.referrals.get(event.referral_id)
        chosen = self._who_hears(subscribers, referral)
        if not chosen:
            return
        root = self._root(referral)
        now = self.store.db.now()
        for partner in chosen:
            self.store.outbox.add(self._message(partner, referral, event, root, now))
        self.store.db.after_commit(self.written.set)

    def _who_hears(self, subscribers: tuple[Subscriber, ...], referral: Mapping[str, Any]) -> list[Subscriber]:
        sides = {Subscription.REQUESTER.value: referral["requester"], Subscription.PERFORMER.value: referral["performer"]}
        chosen = [s for s in subscribers if any(sides.get(sub) == s.organisation for sub in s.subscriptions)]
        members = [s for s in subscribers if Subscription.MEMBER.value in s.subscriptions and s not in chosen]
        if members and referral.get("person_id"):
            holders = self.store.grants.holders(referral["person_id"], {s.organisation for s in members})
            chosen += [s for s in members if s.organisation in holders]
        return sorted(chosen, key=lambda s: s.partner_id)

    def _root(self, referral: Mapping[str, Any]) -> str:
        """The first referral of a redirect chain (the one ServiceRequest every Task of it is based on)."""
        root = referral
        while root.get("predecessor_id"):
            root = self.store.referrals.get(root["predecessor_id"])
        return root["referral_id"]

    def reissue(self, partner_id: str, referral: Mapping[str, Any], suffix: str) -> int | None:
        """Write a referral's current state again for one partner (inside the caller's transaction): a new
        message, after the stream's others, labelled under the crosswalk version in force now, its key
        ``{referral_id}:{version}:{partner_id}:{suffix}``; returns its id (None: no such partner).

        What reconciliation does where resending the right update is the fix (``reconcile.py``).
        """
        partner = next((s for s in self.subscribers() if s.partner_id == partner_id), None)
        if partner is None:
            return None
        now = self.store.db.now()
        event = ReferralStatusChanged(referral["referral_id"], referral["state"], referral["state"],
                                      referral["state_reason"], referral["state_party"], referral["stepped_at"],
                                      now, "system:reconcile", referral["requester"], referral["performer"],
                                      referral["version"])
        key = f"{idempotency_key(event.referral_id, event.version, partner_id)}:{suffix}"
        message_id = self.store.outbox.add(self._message(partner, referral, event, self._root(referral), now,
                                                         label_at=now, key=key))
        self.store.db.after_commit(self.written.set)
        return message_id

    def _message(self, partner: Subscriber, referral: Mapping[str, Any], event: ReferralStatusChanged, root: str,
                 now: datetime, label_at: datetime | None = None, key: str | None = None) -> dict[str, Any]:
        try:
            label = label_for(partner.versions, event.to_state, event.reason, label_at or event.event_time)
            shown, version, lossy = label.label, label.version_id, label.lossy
        except NoLabel:
            shown, version, lossy = event.to_state, None, False
        key = key or idempotency_key(event.referral_id, event.version, partner.partner_id)
        change = {"state": event.to_state, "reason": event.reason, "party": event.party, "label": shown,
                  "crosswalk_version": version, "event_time": event.event_time,
                  "recorded_time": event.recorded_time, "version": event.version}
        payload = (messages.task(referral, change, root) if partner.format == PartnerFormat.FHIR_TASK
                   else messages.webhook_event(referral, change, key))
        return {"idempotency_key": key, "partner_id": partner.partner_id, "referral_id": event.referral_id,
                "referral_version": event.version, "message_type": event.to_state, "reason": event.reason,
                "label": shown, "crosswalk_version": version, "lossy": lossy, "event_time": event.event_time,
                "recorded_time": event.recorded_time, "payload": json.dumps(payload),
                "status": DeliveryStatus.QUEUED.value, "attempts": 0, "next_attempt_at": now}


def enlist(events: EventBus, outbox: Outbox) -> None:
    """Have the outbox write its messages inside every status change's transaction."""
    events.enlist(ReferralStatusChanged, outbox.on_status)
