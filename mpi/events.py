"""Domain events, delivered to subscribers only after the transaction that raised them commits.

A domain tells the domains above it what happened without knowing them: identity
publishes ``RecordLinked`` or ``PersonsMerged``, stewardship ``CaseResolved``,
and whoever cares (the referral tracker lifting its identity gate, next)
subscribes. An event published inside a store transaction is held with it:
subscribers hear of it once the transaction has committed, in the order the
events were published, and never if it rolled back. An event published outside
a transaction is delivered at once.

Events carry ids and codes only, never a name or a birth date, like logs.
A subscriber that fails is logged (the event's type and the error's) and the
others still hear of the event: what committed stays committed.

A domain that must write *with* the change, not after it (the exchange's
outbox: a message for every status change a partner subscribes to, committed
or rolled back with the change itself), **enlists** instead: its handler runs
at publish, inside the publisher's transaction, and if it fails the change
fails with it. Enlisted handlers write rows; they never send or wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event (frozen: a subscriber cannot change what another one hears)."""


E = TypeVar("E", bound=Event)
Handler = Callable[[E], None]


class TransactionHooks(Protocol):
    """What the publisher needs of the store: whether a transaction is open, and to run work after it."""

    def in_transaction(self) -> bool: ...

    def after_commit(self, fn: Callable[[], None]) -> None: ...

    def after_rollback(self, fn: Callable[[], None]) -> None: ...


class EventBus:
    """An in-process publisher of domain events, held until the transaction they belong to commits."""

    def __init__(self, hooks: TransactionHooks):
        self._hooks = hooks
        self._subscribers: list[tuple[type[Event], Handler]] = []
        #: Handlers run at publish, inside the publisher's transaction (:meth:`enlist`).
        self._enlisted: list[tuple[type[Event], Handler]] = []
        self._lock = threading.Lock()
        #: Events of the open transaction, in the order published (one transaction at a time: the writer lock).
        self._held: list[Event] = []
        #: Event type -> whether an enlisted handler, and whether a subscriber, asked for it (kept, since a
        #: load publishes per record).
        self._wanted: dict[type[Event], tuple[bool, bool]] = {}

    def subscribe(self, kind: type[E], handler: Handler) -> None:
        """Call ``handler(event)`` for every event of this type (or a subclass of it) from now on."""
        with self._lock:
            self._subscribers.append((kind, handler))
            self._wanted = {}

    def enlist(self, kind: type[E], handler: Handler) -> None:
        """Call ``handler(event)`` at publish, inside the publisher's transaction, for every event of this type.

        Its writes commit or roll back with the change that raised the event; an
        exception it raises propagates to the publisher and rolls the change back.
        """
        with self._lock:
            self._enlisted.append((kind, handler))
            self._wanted = {}

    def publish(self, event: Event) -> None:
        """Deliver ``event`` after the current transaction commits (at once outside a transaction).

        An event no subscriber asked for is not kept at all (a load of a million
        records publishes millions).
        """
        enlisted, subscribed = self._heard_by(type(event))
        if enlisted:
            for kind, handler in self._enlisted:
                if isinstance(event, kind):
                    handler(event)
        if not subscribed:
            return
        if not self._hooks.in_transaction():
            self._deliver([event])
            return
        if not self._held:
            self._hooks.after_commit(self._release)
            self._hooks.after_rollback(self._held.clear)
        self._held.append(event)

    def wanted(self, kind: type[Event]) -> bool:
        """Whether any subscriber hears events of this type (a publisher may skip making one nobody hears)."""
        enlisted, subscribed = self._heard_by(kind)
        return enlisted or subscribed

    def _heard_by(self, kind: type[Event]) -> tuple[bool, bool]:
        """Whether an enlisted handler, and whether a subscriber, hears events of this type (kept per type)."""
        heard = self._wanted.get(kind)
        if heard is None:
            heard = self._wanted[kind] = (any(issubclass(kind, k) for k, _ in self._enlisted),
                                          any(issubclass(kind, k) for k, _ in self._subscribers))
        return heard

    def _release(self) -> None:
        events, self._held = self._held, []
        self._deliver(events)

    def _deliver(self, events: list[Event]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for event in events:
            for kind, handler in subscribers:
                if not isinstance(event, kind):
                    continue
                try:
                    handler(event)
                except Exception as e:  # noqa: BLE001  (one failing subscriber must not silence the others)
                    logger.error("subscriber %s failed on %s: %s", getattr(handler, "__qualname__", handler),
                                 type(event).__name__, type(e).__name__)
