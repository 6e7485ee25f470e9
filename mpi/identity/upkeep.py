"""Building the candidate index from the store, after bringing stored records up to today's rules.

Only :class:`mpi.identity.writer.IdentityWriter` calls :func:`build` (it owns
the index). Records stored under older normalisation rules are normalised
again, and their golden views with them; records keyed under older blocking
rules are keyed again, in bulk. Each is recorded in the store's meta and audited.
"""

from __future__ import annotations

import ctypes
import logging
import time

import pyarrow as pa

from mpi.identity import index_changes, index_snapshot
from mpi.identity.index import CandidateIndex
from mpi.identity.survivorship import golden_view
from mpi.matching import blocking
from mpi.matching.comparisons import FREQUENCY_COLUMNS
from mpi.records.normalise import NORMALISATION_VERSION, normalise_record
from mpi.store import Store
from mpi.vocab import AuditAction, EntityType

logger = logging.getLogger(__name__)

#: Store meta key: the normalisation rules the stored records' normalised forms follow.
NORMALISATION_KEY = "normalisation_version"
#: Store meta key: the blocking-key rules the stored postings follow.
BLOCKING_KEY = "blocking_version"


def build(store: Store) -> CandidateIndex:
    """The index of every stored record, its link, open case and the pairs stewards kept apart (in a transaction).

    Its base is the snapshot saved beside the store when that was made at the
    store's present state under today's rules; else it is read from the store
    (as columns: seconds, not minutes) and saved for the next start.
    """
    with store.transaction():
        _renormalise_if_stale(store)
        _rekey_if_stale(store)
        if store.shared:
            # A PostgreSQL store: the columnar read is DuckDB's SQL, and a base saved by one of several instances
            # would be stale at once; each instance builds its index from the rows (``mpi.identity.sync``).
            index = CandidateIndex.from_rows(store.records.index_rows())
        else:
            base, changes = _base(store)
            index = CandidateIndex(base)
            if changes is not None:
                index_changes.replay(index, changes)
        for key, person_id in store.cases.not_duplicate_pairs():
            index.keep_apart(key, person_id)
    return index


def save(store: Store, index: CandidateIndex | None = None) -> str | None:
    """Save the index's base as the store is now beside it, unless what is saved there is of this state already.

    For the end of a load and a service's stop, so the next start maps it. Run
    only by the process that holds the store (it reads the store's state under
    the writer lock, in a transaction of its own). With ``index`` (this
    process's, in step with the store) whose base is the one saved and whose
    changes since are few, only those changes are written beside it
    (``mpi.identity.index_changes``).
    Returns what it wrote: "base", "changes" or None.
    """
    folder = index_snapshot.folder_of(store.db.path)
    if folder is None:
        return None
    with store.transaction():
        stamp = _stamp(store)
        saved = index_snapshot.read_stamp(folder)
        if stamp["state"] is None or saved == stamp or (
                saved is not None and index_changes.read(folder, saved, stamp) is not None):
            return None
        started = time.perf_counter()
        try:
            if (index is not None and index.base.stamp == saved
                    and index_changes.worth_saving(index)):
                index_changes.save(folder, index, stamp)
                wrote = "changes"
            else:
                columns = store.records.index_columns(FREQUENCY_COLUMNS)
                index_snapshot.Snapshot.from_columns(columns, stamp).save(folder)
                wrote = "base"
        except OSError as e:
            logger.warning("candidate index snapshot not saved at %s: %s", folder, type(e).__name__)
            return None
    logger.info("candidate index %s saved in %.1f s", wrote, time.perf_counter() - started)
    return wrote


def _stamp(store: Store) -> dict:
    """What a saved base must have been made at to be used now: the store's state and today's rules."""
    return {"state": store.db.state_token(), "normalisation": str(NORMALISATION_VERSION),
            "blocking": str(blocking.BLOCKING_VERSION), "frequency_columns": list(FREQUENCY_COLUMNS),
            "format": index_snapshot.FORMAT}


def _base(store: Store) -> tuple[index_snapshot.Snapshot, dict | None]:
    """The saved base if current (or with saved changes that make it so), else one read from the store and saved."""
    started = time.perf_counter()
    folder, stamp = index_snapshot.folder_of(store.db.path), _stamp(store)
    base = index_snapshot.open_current(folder, stamp)
    if base is not None:
        logger.info("candidate index base mapped from its snapshot in %.1f s", time.perf_counter() - started)
        return base, None
    saved = index_snapshot.read_stamp(folder) if folder is not None else None
    changes = index_changes.read(folder, saved, stamp)
    if changes is not None:
        base = index_snapshot.open_current(folder, saved)
        if base is not None:
            logger.info("candidate index base mapped with %s saved changes in %.1f s", len(changes["entries"]),
                        time.perf_counter() - started)
            return base, changes
    base = index_snapshot.Snapshot.from_columns(store.records.index_columns(FREQUENCY_COLUMNS), stamp)
    logger.info("candidate index base read from the store in %.1f s", time.perf_counter() - started)
    if folder is not None and stamp["state"] is not None:
        try:
            base.save(folder)
            base = index_snapshot.Snapshot.open(folder)  # mapped: its pages are the file's, paged in as read
        except OSError as e:
            logger.warning("candidate index snapshot not saved at %s: %s", folder, type(e).__name__)
        else:
            _give_back_memory(store)
    return base, None


def _give_back_memory(store: Store) -> None:
    """After a base was built and saved: give back the memory that read it, which the allocators keep otherwise.

    At 1M persons a process that built the base held 2.5 GB it no longer used (DuckDB's pages of the records
    table, Arrow's pool, the C heap), against 0.3 GB for one that mapped a saved base (``bench/latency.py``).
    """
    store.db.release_memory()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc's heap: freed blocks back to the system
    except (OSError, AttributeError):  # another C library: nothing to ask
        pass


def _renormalise_if_stale(store: Store) -> None:
    """Normalise every stored record again if the rules changed since (``NORMALISATION_VERSION``).

    Records keep their times, links and cases; their normalised form, blocking
    keys and the golden views built from them follow the current rules. Links
    made under the old forms stand until the record is next updated or re-matched.
    """
    stored = store.meta.get(NORMALISATION_KEY)
    if stored == str(NORMALISATION_VERSION):
        return
    count = 0
    for key, raw, received_at, updated_at in store.records.as_sent():
        norm = normalise_record(raw)
        store.records.restate(*key, raw, norm, blocking.record_keys(norm), received_at, updated_at)
        count += 1
    if count:
        index = CandidateIndex.from_rows(store.records.index_rows())
        for person_id in index.persons:
            store.persons.set_golden(person_id, golden_view(
                [{"norm": e.norm, "updated_at": e.updated_at} for _, e in index.person_entries(person_id)]))
        store.audit.append("system:normalisation", AuditAction.RECORDS_RENORMALISED, EntityType.STORE,
                           "source_records", f"normalisation rules {stored} -> {NORMALISATION_VERSION}",
                           {"records": count})
        logger.info("normalised %s stored records again (rules %s -> %s)", count, stored, NORMALISATION_VERSION)
        store.meta.set(BLOCKING_KEY, str(blocking.BLOCKING_VERSION))  # restated with today's keys
    store.meta.set(NORMALISATION_KEY, str(NORMALISATION_VERSION))


def _rekey_if_stale(store: Store) -> None:
    """Key every stored record again if the blocking rules changed since (``BLOCKING_VERSION``).

    Without it, records stored before a change of keys would be found only
    through the keys the old and new rules happen to share. A store with no
    version recorded and no records needs nothing done.
    """
    stored = store.meta.get(BLOCKING_KEY)
    if stored == str(blocking.BLOCKING_VERSION):
        return
    count = store.records.restate_blocking_keys(blocking.record_keys)
    if count:
        store.audit.append("system:blocking", AuditAction.RECORDS_REKEYED, EntityType.STORE, "blocking_keys",
                           f"blocking rules {stored} -> {blocking.BLOCKING_VERSION}", {"records": count})
        logger.info("keyed %s stored records again (blocking rules %s -> %s)", count, stored,
                    blocking.BLOCKING_VERSION)
    store.meta.set(BLOCKING_KEY, str(blocking.BLOCKING_VERSION))
