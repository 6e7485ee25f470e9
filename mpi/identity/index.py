"""The in-memory read model of the index, kept in step with the store.

Matching one record must not pay a database round trip per candidate or per
blocking key. This index holds, for every source record, its normalised form,
its link and its open review case, plus the blocking-key postings and each
person's records. It is changed only by ``mpi.identity.writer``, in the same
writer-locked transaction that writes the store; if that transaction rolls
back, the writer undoes its changes here (:meth:`CandidateIndex.remove` and
:meth:`CandidateIndex.reinstate` are the inverse of :meth:`CandidateIndex.put`),
so it never disagrees with what was committed and is never rebuilt whole for it.

It is two layers. The **base** (``mpi.identity.index_snapshot.Snapshot``) is
every record at one store state as columns, mapped from a folder beside the
store: compact (an object per record cost 13 GB at a million persons) and
opened in seconds. The **overlay** holds, as objects, every record changed
since: any change to a base record (an update, a link, a case, a removal) first
*promotes* it, marking its base row dead and putting its entry here, so the
base is never written. Retrieval reads the base's postings less its dead rows,
then the overlay's; an :class:`Entry` of a base row is made when it is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import numpy as np

from mpi.identity.index_entry import Entry, MappedEntry
from mpi.identity.index_overlay import add_to_person, by_key, compact, post, unperson, unpost
from mpi.identity.index_snapshot import Snapshot
from mpi.identity.index_views import EntryView, PersonKeys
from mpi.matching import blocking
from mpi.matching.frequencies import ValueCounts

Key = tuple[str, str]
_NO_ROWS = np.zeros(0, dtype=np.int32)


class CandidateIndex:
    """Records by key, postings by blocking key, records by person: a base snapshot and the changes since."""

    def __init__(self, base: Snapshot | None = None) -> None:
        self.base = base = base if base is not None else Snapshot.empty()
        #: Base rows promoted to the overlay (or removed): 1 = dead. A numpy view shares the buffer.
        self._dead = bytearray(base.size)
        self._dead_np = np.frombuffer(self._dead, dtype=np.bool_) if base.size else np.zeros(0, dtype=np.bool_)
        self._ndead = 0
        #: Base person code -> its live base rows (a person with none exists only if the overlay has it).
        self._person_live = base.person_sizes()
        self._overlay: dict[Key, Entry] = {}
        #: block key -> the overlay entry of its one record, or a set of entries (hashed by identity).
        self._postings: dict[str, Entry | set[Entry]] = {}
        #: person id -> its overlay entries in key order.
        self._persons: dict[str, tuple[Entry, ...]] = {}
        #: shape -> (the one copy of that shape, positions of its shared fields).
        self._shapes: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[int, ...]]] = {}
        self._shared: dict[str, str] = {}
        #: record key -> persons a steward said it is not (``not_duplicate``): never its candidates.
        self._apart: dict[Key, frozenset[str]] = {}
        #: How many records show each value term frequencies weigh (``mpi.matching.frequencies``).
        self.value_counts = ValueCounts.from_counts(base.value_counts)
        self.entries: Mapping[Key, Entry] = EntryView(self)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> CandidateIndex:
        """Build an overlay-only index from rows as ``Store.index_rows`` gives them (small indexes, tests)."""
        index = cls()
        for key, norm, keys, received_at, updated_at, link, case_id in rows:
            index.put(key, norm, keys, received_at, updated_at)
            if link:
                index.link(key, *link)
            index._overlay[key].case_id = case_id
        return index

    @property
    def persons(self) -> Mapping[str, tuple[Key, ...]]:
        """Person id -> keys of its linked records, in key order."""
        return PersonKeys(self)

    # -- reading one record ----------------------------------------------------------------------

    def get(self, key: Key) -> Entry | None:
        entry = self._overlay.get(key)
        if entry is not None:
            return entry
        row = self._live_row(key)
        return None if row is None else self._materialise(row)

    def _live_row(self, key: Key) -> int | None:
        if not self.base.size:
            return None
        row = self.base.row_of(key)
        return None if row is None or self._dead[row] else row

    def _materialise(self, row: int) -> Entry:
        """An entry of a base row, every field read (a new object each time: the row itself never changes)."""
        base = self.base
        (key, shape, values, _, link, case_id), = base.records(np.array([row], dtype=np.int64))
        entry = Entry(key, shape, tuple(values), base.block_keys_of(row), *base.times(row))
        if link:
            entry.person_id, entry.decision, entry.link_source, entry.score, entry.probability = link
        entry.case_id = case_id
        return entry

    def _materialise_many(self, rows: np.ndarray) -> list[Entry]:
        """Entries of base rows for scoring: their forms read column-wise, the rest read when asked for."""
        base, new = self.base, MappedEntry.__new__
        out = []
        for row, (shape, values) in zip(rows.tolist(), base.forms(rows)):
            entry = new(MappedEntry)
            entry.shape, entry.values, entry._base, entry._row = shape, tuple(values), base, row
            out.append(entry)
        return out

    def _promote(self, key: Key) -> Entry | None:
        """The record's overlay entry, moving it there from the base first if it is a live base row."""
        entry = self._overlay.get(key)
        if entry is not None:
            return entry
        row = self._live_row(key)
        if row is None:
            return None
        entry = self._materialise(row)
        # In the overlay before the row is dead: a request reading meanwhile (a /v1/match beside the writer)
        # may see the record twice for a moment, never not at all.
        self._overlay[key] = entry
        post(self._postings, entry)
        if entry.person_id:
            add_to_person(self._persons, entry)
        self._dead[row] = 1
        self._ndead += 1
        code = int(self.base.person[row])
        if code >= 0:
            self._person_live[code] -= 1
        return entry

    def changed(self) -> tuple[list[Entry], list[Key]]:
        """The records changed since the base (the overlay's entries) and the base's records removed since."""
        dead = np.flatnonzero(self._dead_np).tolist() if self._ndead else []
        removed = [key for key in map(self.base.key_of, dead) if key not in self._overlay]
        return list(self._overlay.values()), removed

    def held(self) -> list[tuple[Key, str]]:
        """(key, case id) of every record held in review: an open case and no link."""
        base = self.base
        out = [(base.key_of(row), case_id) for row, case_id in base.held() if not self._dead[row]]
        out += [(key, e.case_id) for key, e in self._overlay.items() if e.case_id and e.person_id is None]
        return out

    # -- changes -----------------------------------------------------------------------------------

    def put(self, key: Key, norm: Mapping[str, Any], keys: Iterable[str], received_at: datetime,
            updated_at: datetime) -> Entry:
        """Insert or replace a record's normalised form and postings; its link is kept."""
        old = self._promote(key)
        if old is not None:
            key = old.key
            for k in old.keys:
                unpost(self._postings, k, old)
            self.value_counts.remove(old.norm)
        else:
            shared = self._shared
            key = (shared.setdefault(key[0], key[0]), key[1])
        shape, values = compact(norm, self._shapes, self._shared)
        self.value_counts.add(norm)
        entry = Entry(key, shape, values, tuple(dict.fromkeys(keys)), received_at, updated_at)
        if old is not None:
            entry.person_id, entry.decision, entry.link_source = old.person_id, old.decision, old.link_source
            entry.score, entry.probability, entry.case_id = old.score, old.probability, old.case_id
            if old.person_id:
                self._persons[old.person_id] = tuple(entry if e is old else e for e in self._persons[old.person_id])
        self._overlay[key] = entry
        post(self._postings, entry)
        return entry

    def remove(self, key: Key) -> Entry:
        """Take a record out of the index altogether (postings, person, value counts); returns its entry."""
        if self._promote(key) is None:
            raise KeyError(key)
        entry = self._overlay.pop(key)
        for k in entry.keys:
            unpost(self._postings, k, entry)
        self.value_counts.remove(entry.norm)
        if entry.person_id:
            unperson(self._persons, entry.person_id, key)
        return entry

    def reinstate(self, entry: Entry) -> None:
        """Put back an entry :meth:`remove` or :meth:`put` took out, as it was (its postings, person and counts)."""
        self._overlay[entry.key] = entry
        post(self._postings, entry)
        self.value_counts.add(entry.norm)
        if entry.person_id:
            add_to_person(self._persons, entry)

    def link(self, key, person_id, decision, link_source, score, probability) -> None:
        entry = self._promote(key)
        if entry is None:
            raise KeyError(key)
        if entry.person_id:
            unperson(self._persons, entry.person_id, key)
        entry.person_id, entry.decision, entry.link_source = person_id, decision, link_source
        entry.score, entry.probability = score, probability
        add_to_person(self._persons, entry)

    def unlink(self, key) -> None:
        entry = self._promote(key)
        if entry is None:
            raise KeyError(key)
        if entry.person_id:
            unperson(self._persons, entry.person_id, key)
        entry.person_id = entry.decision = entry.link_source = None
        entry.score = entry.probability = None

    def set_case(self, key: Key, case_id: str | None) -> None:
        """Note (or, with None, forget) the record's open review case."""
        entry = self._promote(key)
        if entry is None:
            raise KeyError(key)
        entry.case_id = case_id

    def keep_apart(self, key: Key, person_id: str) -> None:
        """Remember that a record is not a person: retrieval for that record skips the person."""
        self._apart[key] = self._apart.get(key, frozenset()) | {person_id}

    def set_apart(self, key: Key, persons: frozenset[str]) -> None:
        """Say exactly which persons a record is known not to be (to undo :meth:`keep_apart`)."""
        if persons:
            self._apart[key] = persons
        else:
            self._apart.pop(key, None)

    def kept_apart(self, key: Key | None) -> frozenset[str]:
        """The persons a record is known not to be."""
        return self._apart.get(key, frozenset()) if key is not None else frozenset()

    # -- retrieval ---------------------------------------------------------------------------------

    def _base_posted(self, block_key: str) -> np.ndarray:
        """Live base rows posted under a blocking key."""
        code = self.base.block_code(block_key) if self.base.size else None
        if code is None:
            return np.zeros(0, dtype=np.int32)
        rows = self.base.posted_rows(code)
        return rows[~self._dead_np[rows]] if self._ndead else rows

    def _overlay_posted(self, block_key: str) -> tuple[Entry, ...] | set[Entry]:
        postings = self._postings.get(block_key)
        if postings is None:
            return ()
        return postings if type(postings) is set else (postings,)

    def block_size(self, block_key: str) -> int:
        return len(self._base_posted(block_key)) + len(self._overlay_posted(block_key))

    def posted(self, block_key: str) -> set[Key]:
        """Keys of the records posted under a blocking key."""
        return ({self.base.key_of(row) for row in self._base_posted(block_key).tolist()}
                | {e.key for e in self._overlay_posted(block_key)})

    def candidate_persons(self, block_keys: Iterable[str], max_block_size: int,
                          exclude: Key | None = None) -> list[tuple[str, tuple[Entry, ...]]]:
        """Persons worth scoring a record against, each with all its records (``exclude`` aside).

        A person is found through any of its linked records posted under one of
        the keys; a key holding more than ``max_block_size`` records is skipped
        (a shelter address, a clinic phone, a placeholder value), so a common
        value cannot blow up the candidate set, and a coarse key (a birth date
        alone) past its own tighter bound (``blocking.block_bound``). Each person's entries come in
        key order, as :meth:`person_entries` gives them. Persons a steward said
        the ``exclude`` record is not (:meth:`keep_apart`) are never returned.
        """
        base, postings, dead, ndead = self.base, self._postings, self._dead_np, self._ndead
        excluded_row = self._live_row(exclude) if exclude is not None else None
        excluded = self._overlay.get(exclude) if exclude is not None else None
        block_keys = list(block_keys)
        found_rows = []
        persons: set[str] = set()
        for k, code in zip(block_keys, base.block_codes(block_keys)):
            if code < 0:
                rows = ()
            else:
                rows = base.posted_rows(code)
                if ndead:
                    rows = rows[~dead[rows]]
            posted = postings.get(k)
            if posted is None:
                posted = ()
            elif type(posted) is not set:
                posted = (posted,)
            if len(rows) + len(posted) > blocking.block_bound(k, max_block_size):
                continue
            if len(rows):
                found_rows.append(rows)
            for entry in posted:
                person_id = entry.person_id
                if person_id and entry is not excluded:
                    persons.add(person_id)
        base_codes: dict[str, int] = {}
        if found_rows:
            rows = np.concatenate(found_rows) if len(found_rows) > 1 else found_rows[0]
            if excluded_row is not None:
                rows = rows[rows != excluded_row]
            for code in np.unique(base.person[rows]).tolist():
                if code >= 0:
                    person_id = base.person_id(code)
                    base_codes[person_id] = code
                    persons.add(person_id)
        if exclude is not None and exclude in self._apart:
            persons -= self._apart[exclude]
        # Every found person's base rows are made into entries in one pass (column reads per query, not per person).
        order = list(persons)
        codes = [base_codes[p] if p in base_codes else self._base_code(p) for p in order]
        spans = [base.rows_of_person(c) if c >= 0 and self._person_live[c] else _NO_ROWS for c in codes]
        rows = np.concatenate(spans) if spans else _NO_ROWS
        if (ndead or excluded_row is not None) and len(rows):
            spans = [span[~dead[span] & (span != excluded_row if excluded_row is not None else True)]
                     for span in spans]
            rows = np.concatenate(spans)
        made = iter(self._materialise_many(rows))
        out = []
        for person_id, span in zip(order, spans):
            members = tuple(next(made) for _ in range(len(span)))
            overlay = self._persons.get(person_id)
            if overlay:
                if excluded is not None:
                    overlay = tuple(e for e in overlay if e is not excluded)
                members = tuple(sorted((*members, *overlay), key=by_key)) if members else tuple(overlay)
            if members:
                out.append((person_id, members))
        return out

    def _base_code(self, person_id: str) -> int:
        code = self.base.person_code(person_id) if self.base.size else None
        return -1 if code is None else code

    def _members(self, person_id: str, code: int = -1, exclude: Key | None = None) -> tuple[Entry, ...]:
        """A person's entries in key order (``code``: its base code, if known; -1 to look it up)."""
        overlay = self._persons.get(person_id, ())
        if code < 0:
            code = self._base_code(person_id)
        if code < 0 or not self._person_live[code]:
            members = overlay
        else:
            rows = self.base.rows_of_person(code)
            if self._ndead:
                rows = rows[~self._dead_np[rows]]
            members = tuple(self._materialise_many(rows))
            if overlay:
                members = tuple(sorted((*members, *overlay), key=by_key))
        if exclude is not None:
            members = tuple(e for e in members if e.key != exclude)
        return members

    def person_entries(self, person_id: str) -> list[tuple[Key, Entry]]:
        return [(e.key, e) for e in self._members(person_id)]
