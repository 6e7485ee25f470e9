"""The store: the only package that imports ``duckdb`` or ``psycopg``, or holds SQL.

:class:`Store` composes one gateway per concept over one :class:`Database`
(the file, its cursors, the writer lock, transactions and id sequences):

- ``store.meta``: named settings of the store (``meta.py``);
- ``store.records``: source records and their blocking keys (``records.py``);
- ``store.persons``: persons and the links of records to them (``persons.py``);
- ``store.cases``: review cases, their candidates, holds, not-duplicate pairs and persons kept apart
  (``cases.py``, ``queue.py``, ``apart.py``);
- ``store.case_reasons``: why each case holds its record (``case_reasons.py``; also ``store.cases.reasons``);
- ``store.merges``: merges and the snapshot of what each changed (``merges.py``);
- ``store.audit``: the append-only audit log (``audit.py``);
- ``store.access``: the append-only access log, who read or changed what and why (``access.py``);
- ``store.changes``: which records each committed transaction changed, for instances sharing a store (``changes.py``);
- ``store.generations``: what each instance over a shared store caches, and which kinds another wrote
  (``generations.py``);
- ``store.leases``: which serving instance runs each piece of background work for now (``leases.py``);
- ``store.loads``: how far ``mpi load`` has gone through each file (``loads.py``);
- ``store.users``: users, their organisation and their token hashes (``users.py``);
- ``store.keys``: API keys of organisations, with their role and the hash of their secret (``keys.py``);
- ``store.grants``: which organisation was given which person, and how far it reaches one (``grants.py``);
- ``store.partners``: partner systems and their versioned status crosswalks (``partners.py``);
- ``store.organisations``: the directory of organisations (``organisations.py``);
- ``store.referrals``: referrals, their history and pauses (``referrals.py``, ``referral_queries.py``);
- ``store.inbound``: the inbound exception queue, bodies kept after failing validation (``inbound.py``);
- ``store.outbox``: outbound messages to partners (``outbox.py``);
- ``store.outbound``: the outbound exception queue, patterns of dead messages (``outbound.py``);
- ``store.manual_reports``: manual status reports told to partners while a feed is down (``manual_reports.py``);
- ``store.reconciliation``: partners' status snapshots, reconciliation runs, rates and work items (``reconciliation.py``);
- ``store.dedup``: batch dedup runs, what each found, and the reads a run makes of the index (``dedup.py``);
- ``store.alerts``: reminders and escalations of referral time targets, and the sweep's SQL (``alerts.py``);
- ``store.referral_metrics``: loop measures and operational gauges, as SQL (``referral_metrics.py``);
- ``store.matching_metrics``: auto-links, spot-checks, review share and case decisions, as SQL (``matching_metrics.py``);
- ``store.search``: each record's search terms, and the reads a search makes by index (``search.py``).

Every table's columns are named once (``columns.py``), the schema is a list of
numbered migrations (``schema.py``) and a transaction's hot writes are
buffered and flushed in bulk (``pending.py``). A store is backed up and restored
as one DuckDB file (``backup.py``).

The store's location picks its backend: a path is a DuckDB file (``database.py``),
a ``postgresql://`` URL a PostgreSQL database (``postgres.py``), where the same
statements run translated by ``dialect.py`` and the same migrations apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TypeVar

from mpi.clock import Clock
from mpi.errors import StoreError
from mpi.store import backup
from mpi.store.access import AccessLog
from mpi.store.alerts import AlertTable
from mpi.store.audit import AuditLog
from mpi.store.cases import CaseTable
from mpi.store.database import Database
from mpi.store.grant_filter import GrantFilter
from mpi.store.grants import GrantTable
from mpi.store.inbound import InboundExceptionTable
from mpi.store.keys import KeyTable
from mpi.store.changes import RecordChanges
from mpi.store.generations import CacheGenerations
from mpi.store.leases import LeaseTable
from mpi.store.loads import LoadTable
from mpi.store.merges import MergeTable
from mpi.store.meta import MetaTable
from mpi.store.organisations import OrganisationTable
from mpi.store.manual_reports import ManualReportTable
from mpi.store.outbound import OutboundPatternTable
from mpi.store.outbox import OutboxTable
from mpi.store.partners import PartnerTable
from mpi.store.persons import PersonTable
from mpi.store.reconciliation import ReconciliationTable
from mpi.store.dedup import DedupTable
from mpi.store.records import RecordTable
from mpi.store.matching_metrics import MatchingMetricsTable
from mpi.store.referral_metrics import ReferralMetricsTable
from mpi.store.referrals import ReferralTable
from mpi.store.search import SearchTable
from mpi.store.urls import is_postgres_url
from mpi.store.users import UserTable

__all__ = ["Store"]

T = TypeVar("T")


class Store:
    """All persistence of one store (a DuckDB file or a PostgreSQL database), one gateway per concept."""

    def __init__(self, path: str | Path, checkpoint_threshold: str | None = None, clock: Clock | None = None,
                 make_folder: bool = False, memory_limit: str | None = None):
        """Open (or create and migrate) the store; every row written is stamped by ``clock``.

        ``path`` is a DuckDB file, whose folder must exist unless ``make_folder`` (the default
        location's ``var/``), or a ``postgresql://`` URL of an existing database (``postgres.py``;
        ``checkpoint_threshold`` and ``memory_limit`` are DuckDB's and ignored there).
        """
        if is_postgres_url(str(path)):
            from mpi.store.postgres import PostgresDatabase  # psycopg and sqlglot: only for a PostgreSQL store

            self.db = PostgresDatabase(str(path), clock)
        else:
            self.db = Database(path, checkpoint_threshold, clock, make_folder, memory_limit)
        #: One atomic write under the writer lock (:meth:`Database.transaction`; bound once: called per record).
        self.transaction: Callable[[], AbstractContextManager[None]] = self.db.transaction
        self.meta = MetaTable(self.db)
        self.records = RecordTable(self.db)
        self.persons = PersonTable(self.db)
        self.cases = CaseTable(self.db)
        self.case_reasons = self.cases.reasons
        self.merges = MergeTable(self.db)
        self.audit = AuditLog(self.db)
        self.access = AccessLog(self.db)
        self.loads = LoadTable(self.db)
        self.leases = LeaseTable(self.db)
        self.changes = RecordChanges(self.db)
        self.generations = CacheGenerations(self.db)
        self.users = UserTable(self.db)
        self.keys = KeyTable(self.db)
        self.grants = GrantTable(self.db, GrantFilter(self.db))
        self.organisations = OrganisationTable(self.db)
        self.partners = PartnerTable(self.db)
        self.referrals = ReferralTable(self.db, self.grants.present)
        self.alerts = AlertTable(self.db)
        self.inbound = InboundExceptionTable(self.db)
        self.outbox = OutboxTable(self.db)
        self.outbound = OutboundPatternTable(self.db)
        self.manual_reports = ManualReportTable(self.db)
        self.reconciliation = ReconciliationTable(self.db)
        self.dedup = DedupTable(self.db)
        self.referral_metrics = ReferralMetricsTable(self.db)
        self.matching_metrics = MatchingMetricsTable(self.db)
        self.search = SearchTable(self.db)

    @property
    def path(self) -> str:
        return self.db.path

    @property
    def shared(self) -> bool:
        """Whether other processes may write this store too (PostgreSQL), so what is in memory may lag it."""
        return not isinstance(self.db, Database)  # (a PostgresDatabase)

    def lock_blocking_keys(self, keys: Iterable[str]) -> bool:
        """On a shared store, hold a lock on each blocking key until the open transaction ends; whether it did.

        Matching a record takes these before it reads candidates, so two processes matching records of one
        human (who share a blocking key) decide one after the other, the second seeing the first's person.
        A DuckDB store has one process, whose writer lock already serialises matching: nothing to do.
        """
        if not self.shared:
            return False
        self.db.lock_keys(f"block:{k}" for k in keys)
        return True

    @property
    def rollbacks(self) -> int:
        """Transactions rolled back since the store opened."""
        return self.db.rollbacks

    def grouped(self, work: Callable[[], T]) -> T:
        """Run ``work()`` (read, decide, write) in one transaction with the writers that arrive beside it, and
        return its result once that transaction has committed (:meth:`Database.grouped`, ``group.py``)."""
        return self.db.grouped(work)

    def serialised(self) -> AbstractContextManager[None]:
        """The writer lock without a transaction: a consistent read of in-memory state."""
        return self.db.serialised()

    def schema_version(self) -> int:
        return self.db.schema_version()

    def migrate(self) -> int:
        return self.db.migrate()

    def counts(self) -> dict[str, int]:
        """Live persons, records, links and cases not yet closed."""
        return {"persons": self.persons.count_active(), "records": self.records.count(),
                "links": self.persons.count_links(), "open_cases": self.cases.count_open()}

    def backup(self, output: str | Path) -> int:
        """Write a consistent copy of the store to ``output`` while writes go on; returns its bytes (``backup.py``).

        The access events still buffered are written first, so the copy holds the event of every request
        answered before it began. A PostgreSQL store is backed up with PostgreSQL's tools (StoreError)."""
        self._refuse_backup_of_postgres()
        self.access.flush()
        return backup.backup_to(self.db, output)

    def snapshot(self) -> AbstractContextManager[Path]:
        """A consistent copy of the store in a temporary file, removed when the block ends (``backup.py``);
        as :meth:`backup`, with the buffered access events written first."""
        self._refuse_backup_of_postgres()
        self.access.flush()
        return backup.snapshot(self.db)

    def _refuse_backup_of_postgres(self) -> None:
        if self.shared:
            raise StoreError("a PostgreSQL store is backed up with PostgreSQL's own tools (pg_dump), "
                             "not as one DuckDB file")

    def close(self) -> None:
        """Close the connection (after writing the access events still buffered); the file stays."""
        self.access.close()
        self.db.close()
