"""Keeping this instance's candidate index in step with the other instances over one PostgreSQL store.

Each instance holds every record in memory (``index.py``) and changes it only
through its own writer. What another instance changes reaches this one through
the store's change log of records (``mpi/store/changes.py``): every so often
(``MPI_INDEX_SYNC_SECONDS``, a thread of ``mpi serve``) this reads the changes
committed since it last looked and brings those records into the index from the
store (:meth:`~mpi.identity.writer.IdentityWriter.catch_up`), its own changes
being already there. Matching does not wait for it: before it reads candidates
it locks the record's blocking keys and reads what others committed under them.
Over a DuckDB file there is one instance and nothing to do.

What is above identity and keeps in memory which open cases name which persons
(steward review's re-scorer) hears of the cases the brought-in records are held
by (:attr:`IndexSync.on_cases`), so a case another instance opened or re-scored
is among them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from mpi.identity.writer import IdentityWriter
from mpi.store import Store

logger = logging.getLogger(__name__)

#: Changes read at most per run (a run that reads this many runs again at once).
BATCH = 5_000


class IndexSync:
    """Reads the change log and brings the records it names into this instance's index."""

    def __init__(self, store: Store, writer: IdentityWriter):
        self.store, self.writer = store, writer
        self.seen: int | None = None
        self.replaced = 0
        #: Called after each run with the open cases of the records brought in (wired in ``mpi.services``).
        self.on_cases: list[Callable[[set[str]], None]] = []

    def start(self) -> None:
        """Note where the change log stands: call it before the index is built, so nothing between is missed."""
        self.seen = self.store.changes.last()

    def run_once(self) -> bool:
        """Bring in what changed since the last run; whether more is waiting."""
        if self.seen is None:
            self.start()
        changes = self.store.changes.since(self.seen, BATCH)
        if not changes:
            return False
        with self.store.transaction():  # under the writer lock: no match of this process runs meanwhile
            rows = self.store.records.index_rows_of([key for _, key in changes])
            replaced = self.writer.catch_up(rows)
        self.seen = changes[-1][0]
        cases = {row[6] for row in rows if row[6]}
        if cases:
            for hear in self.on_cases:
                hear(cases)
        self.replaced += replaced
        if replaced:
            logger.info("index brought in step: %s records other instances changed", replaced)
        return len(changes) == BATCH
