"""Which grants the store holds: a filter in front of a match answer's read of ``person_grants``.

A hub's or coordinator's ``/v1/match`` answer asks the store which candidate records
are the caller's own and whether a certain match gave it the person before
(``GrantTable.match_answer``): one statement of three index reads, about 1.6 ms of a
4-5 ms request at a million persons, though most answers find no row (the
candidates are other organisations' records, the person not matched by this one
before). This filter keeps, as 64-bit hashes (a sorted array read from the store once,
then a set of those written since), the ``(organisation, record id)`` pairs of every
``record`` grant and every referral's requester and record, and, apart from them, the
``(organisation, person id)`` pairs of every ``match`` grant.

- **Records.** A pair not in the filter has no row. One in it may (another pair's hash,
  or a write rolled back), and the store is read: which records a caller is shown the
  keys of is decided by the rows alone. Every write of those rows goes through
  ``GrantTable.add`` or ``ReferralTable.insert`` and ``update``, which note the pair
  before their transaction commits, so a reader never misses one committed.
- **Match grants** are noted once their transaction has committed, so the filter holds
  the pair exactly when the store does, and answers "given before" with no read: a
  hub matching a person again (each visit, say) costs no read. Grants are never
  deleted. Its only error is a hash equal to another pair's, about one chance in
  6·10^12 for each answer at three million grants, whose one effect is a match grant
  not written again (the person was given by then, or the next certain match gives it).

It costs a few bytes a grant (25 MB for 2.5M). Only over a store one process writes (a
DuckDB file): over a shared one another instance writes rows this one never notes, and
every answer reads the store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import numpy as np

from mpi.store.database import Database
from mpi.vocab import GrantKind

logger = logging.getLogger(__name__)


#: Pairs noted since the read at which they are folded into its array.
FOLD_AT = 100_000


class GrantFilter:
    """The pairs the store may hold a grant or referral row for (None of it over a shared store)."""

    def __init__(self, db: Database):
        self._db = db
        self._lock = threading.Lock()
        self._read: np.ndarray | None = None  # the hashes read from the store, sorted (None until first asked)
        self._since: set[int] = set()  # the hashes noted since the filter was made (before any read: none lost)

    @property
    def active(self) -> bool:
        return not self._db.shared

    def note(self, organisation: str | None, record_id: str | None) -> None:
        """A record grant or referral of ``organisation`` for a record is being written (inside its transaction,
        before it commits); nothing over a shared store, which is never asked (nor read, so nothing noted would
        ever be folded)."""
        if organisation is not None and record_id is not None and self.active:
            self._add(_record_hash(organisation, record_id))

    def note_match(self, organisation: str, person_id: str) -> None:
        """A match grant of the person to ``organisation`` has committed (called after its commit, still under
        the writer lock)."""
        if self.active:
            self._add(_match_hash(organisation, person_id))

    def _add(self, value: int) -> None:
        self._since.add(value)
        if len(self._since) >= FOLD_AT and self._read is not None:
            self._fold()

    def _fold(self) -> None:
        """The pairs noted since into the sorted array (a set holds one in about 70 bytes, the array in 8).

        Writes are noted one at a time (under the writer lock); a reader that took the set before this sees the
        pairs there, one that takes it after finds them in the array, which is replaced first.
        """
        with self._lock:
            self._read = np.union1d(self._read, np.fromiter(self._since, dtype=np.int64, count=len(self._since)))
            self._since = set()

    def maybe(self, organisation: str, record_ids: Iterable[str]) -> list[str]:
        """The record ids the organisation may hold a row for; for the others it certainly has none."""
        record_ids = list(record_ids)
        return [v for v, f in zip(record_ids, self._found([_record_hash(organisation, v) for v in record_ids])) if f]

    def given(self, organisation: str, person_id: str) -> bool:
        """Whether a certain match gave the person to the organisation (a committed ``match`` grant)."""
        return self._found([_match_hash(organisation, person_id)])[0]

    def _found(self, hashes: list[int]) -> list[bool]:
        if not hashes:
            return []
        since = self._since  # (first: a fold replaces the array before the set)
        read = self._hashes()
        if read.size:
            probe = np.array(hashes, dtype=np.int64)
            found = read[np.minimum(np.searchsorted(read, probe), read.size - 1)] == probe
            return [f or h in since for h, f in zip(hashes, found.tolist())]
        return [h in since for h in hashes]

    def warm(self) -> None:
        """Read the pairs from the store now (a service's start), not at the first answer that asks."""
        if self.active:
            self._hashes()

    def _hashes(self) -> np.ndarray:
        read = self._read
        if read is None:
            with self._lock:
                if self._read is None:
                    self._read = self._load()
                read = self._read
        return read

    def _load(self) -> np.ndarray:
        """Every pair's hash, read from the store (pairs noted meanwhile are in ``_since`` already)."""
        rows = self._db.stream(
            "SELECT organisation, source_record_id, FALSE FROM person_grants"
            " WHERE how = ? AND source_record_id IS NOT NULL"
            " UNION ALL SELECT organisation, person_id, TRUE FROM person_grants WHERE how = ? AND person_id IS NOT NULL"
            " UNION ALL SELECT requester, source_record_id, FALSE FROM referrals WHERE source_record_id IS NOT NULL",
            [GrantKind.RECORD.value, GrantKind.MATCH.value], own_cursor=True)
        started = time.perf_counter()
        hashes = np.fromiter((_match_hash(org, value) if match else _record_hash(org, value)
                              for org, value, match in rows), dtype=np.int64)
        hashes.sort()
        logger.info("grant filter: %s grants and referrals read in %.1f s", hashes.size, time.perf_counter() - started)
        return hashes


def _record_hash(organisation: str, record_id: str) -> int:
    """A record grant's or referral's pair, as noted, asked and read (the three must agree)."""
    return hash((organisation, record_id))


def _match_hash(organisation: str, person_id: str) -> int:
    """A match grant's pair, hashed apart from record pairs (a record id may be spelt as a person id is)."""
    return hash((organisation, person_id, GrantKind.MATCH.value))
