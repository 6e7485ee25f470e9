"""The ``cache_generations`` table: how each instance over one PostgreSQL store learns that another changed what
it caches.

An instance keeps in memory what it reads on every request (``cache.py``: the
store's meta, so the active model; users and API keys, by token; organisations)
and what it reads on every referral status change (the outbox's partners and
their crosswalks). Its own writes clear its copies; another instance's cannot.
So each write to such a table, on a shared store, moves a generation of its kind
in the same transaction (``Transactions.cached_write``; the row is written as the
transaction's last work), and every instance reads the generations once a second
(:meth:`CacheGenerations.refresh`, run by the ``index-sync`` work of ``mpi
serve`` before it reads the change log of records) and drops what it holds of the
kinds that moved. A revoked API key, a disabled user or a newly activated model
is thus seen by every instance within ``MPI_INDEX_SYNC_SECONDS`` (1 s) and a read
of one small table; the requests themselves read nothing more than before.

A DuckDB file has one process, whose own writes clear its cache: nothing is
written here and nothing read.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from mpi.store.cache import READ_CACHED

logger = logging.getLogger(__name__)


class CacheGenerations:
    """The generation of each cached kind as this instance last read it, and what to drop when one moves."""

    def __init__(self, db):
        self._db = db
        self._seen: dict[str, int] | None = None
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)

    def on_change(self, kind: str, forget: Callable[[], None]) -> None:
        """Call ``forget()`` when another instance (or this one) has written ``kind`` (a cache held above the store)."""
        self._listeners[kind].append(forget)

    def refresh(self) -> list[str]:
        """Read the generations and drop what this instance cached of every kind that moved; the kinds dropped.

        The first refresh drops every kind: what was cached before it was read at no known generation.
        """
        if not self._db.shared:
            return []
        now = dict(self._db.query("SELECT kind, generation FROM cache_generations"))
        seen = self._seen
        moved = sorted(set(READ_CACHED) | set(self._listeners) | set(now)) if seen is None else \
            sorted(kind for kind, generation in now.items() if seen.get(kind) != generation)
        for kind in moved:
            self._db.cache.drop(kind)
            for forget in self._listeners.get(kind, ()):
                forget()
        self._seen = now
        if moved and seen is not None:
            logger.info("caches dropped, written by another instance: %s", ", ".join(moved))
        return moved
