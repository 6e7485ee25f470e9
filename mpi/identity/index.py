"""The in-memory read model of the index, kept in step with the store.

Matching one record must not pay a database round trip per candidate or per
blocking key. This index holds, for every source record, its normalised form,
its link and its open review case, plus the blocking-key postings and each
person's records. It is loaded from the store at start and changed only by
``mpi.identity.writer``, in the same writer-locked transaction that writes the
store; if that transaction rolls back, the writer undoes its changes here
(:meth:`CandidateIndex.remove` and :meth:`CandidateIndex.reinstate` are the
inverse of :meth:`CandidateIndex.put`), so it never disagrees with what was
committed and is never rebuilt whole for it.

It is sized for millions of records, so entries are compact: a slotted object
per record whose normalised form is a tuple of values under a shared tuple of
field names (one per distinct shape), with the repetitive values (names, birth
dates, places) shared between records; a blocking key held by one record maps to
that record's entry itself, and a person to a tuple of its record keys, not to
one-element sets.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mpi.matching import blocking
from mpi.matching.frequencies import ValueCounts

Key = tuple[str, str]

#: Normalised fields whose values repeat across many records: each distinct
#: value is stored once for the whole index.
SHARED_FIELDS = frozenset({
    "first_name", "first_name_canonical", "first_name_phonetic", "middle_name", "middle_initial", "last_name",
    "last_name_phonetic", "last_name_first_part", "suffix", "birth_date", "birth_year", "sex", "city", "state",
    "postal_code", "source_system",
})


class Entry:
    """What the index knows of one source record."""

    __slots__ = ("key", "shape", "values", "keys", "received_at", "updated_at", "person_id", "decision",
                 "link_source", "score", "probability", "case_id")

    def __init__(self, key: Key, shape: tuple[str, ...], values: tuple, keys: tuple[str, ...], received_at: datetime,
                 updated_at: datetime):
        #: The normalised form as field names (one tuple shared by every record of that shape) and values.
        self.key, self.shape, self.values, self.keys = key, shape, values, keys
        self.received_at, self.updated_at = received_at, updated_at
        self.person_id = self.decision = self.link_source = None
        self.score = self.probability = None
        self.case_id = None

    @property
    def norm(self) -> dict[str, Any]:
        """The record's normalised form (a fresh dict: the stored form is compact and immutable)."""
        return dict(zip(self.shape, self.values))


class CandidateIndex:
    """Records by key, postings by blocking key, records by person."""

    def __init__(self) -> None:
        self.entries: dict[Key, Entry] = {}
        #: block key -> the entry of its one record, or a set of entries (hashed by identity:
        #: retrieval reads each posted record's person without looking its key up).
        self._postings: dict[str, Entry | set[Entry]] = {}
        #: person id -> tuple of record keys (persons hold a handful of records).
        #: person id -> its entries in key order (kept sorted, so retrieval neither sorts nor looks keys up).
        self._persons: dict[str, tuple[Entry, ...]] = {}
        #: shape -> (the one copy of that shape, positions of its shared fields).
        self._shapes: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[int, ...]]] = {}
        self._shared: dict[str, str] = {}
        #: record key -> persons a steward said it is not (``not_duplicate``): never its candidates.
        self._apart: dict[Key, frozenset[str]] = {}
        #: How many records show each value term frequencies weigh (``mpi.matching.frequencies``).
        self.value_counts = ValueCounts()

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> CandidateIndex:
        """Build from the store's index rows (see ``Store.index_rows``).

        At a million persons the index is some twenty million objects, none in
        a reference cycle. The cyclic garbage collector would walk them all again
        and again while they are made (a third of the build) and then on every
        full collection (seconds each, a pause in whatever request is running),
        so it is paused for the build and what exists then is frozen out of its
        reach (``gc.freeze``); reference counting still frees a dropped index.
        """
        index = cls()
        collecting = gc.isenabled()
        gc.disable()
        try:
            for key, norm, keys, received_at, updated_at, link, case_id in rows:
                entry = index.put(key, norm, keys, received_at, updated_at)
                if link:
                    index.link(key, *link)
                entry.case_id = case_id
        finally:
            if collecting:
                gc.enable()
        gc.freeze()
        return index

    @property
    def persons(self) -> Mapping[str, tuple[Key, ...]]:
        """Person id -> keys of its linked records."""
        return _PersonKeys(self._persons)

    def get(self, key: Key) -> Entry | None:
        return self.entries.get(key)

    def _compact(self, norm: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple]:
        shape = tuple(norm)
        known = self._shapes.get(shape)
        if known is None:
            known = self._shapes[shape] = (shape, tuple(i for i, name in enumerate(shape) if name in SHARED_FIELDS))
        shape, positions = known
        values = list(norm.values())
        share = self._shared.setdefault
        for i in positions:
            v = values[i]
            if type(v) is str:
                values[i] = share(v, v)
        return shape, tuple(values)

    def put(self, key: Key, norm: Mapping[str, Any], keys: Iterable[str], received_at: datetime,
            updated_at: datetime) -> Entry:
        """Insert or replace a record's normalised form and postings; its link is kept."""
        old = self.entries.get(key)
        if old is not None:
            key = old.key
            for k in old.keys:
                self._unpost(k, old)
            self.value_counts.remove(old.norm)
        else:
            shared = self._shared
            key = (shared.setdefault(key[0], key[0]), key[1])
        shape, values = self._compact(norm)
        self.value_counts.add(norm)
        entry = Entry(key, shape, values, tuple(dict.fromkeys(keys)), received_at, updated_at)
        if old is not None:
            entry.person_id, entry.decision, entry.link_source = old.person_id, old.decision, old.link_source
            entry.score, entry.probability, entry.case_id = old.score, old.probability, old.case_id
            if old.person_id:
                self._persons[old.person_id] = tuple(entry if e is old else e for e in self._persons[old.person_id])
        self.entries[key] = entry
        self._post(entry)
        return entry

    def remove(self, key: Key) -> Entry:
        """Take a record out of the index altogether (postings, person, value counts); returns its entry."""
        entry = self.entries.pop(key)
        for k in entry.keys:
            self._unpost(k, entry)
        self.value_counts.remove(entry.norm)
        if entry.person_id:
            self._unperson(entry.person_id, key)
        return entry

    def reinstate(self, entry: Entry) -> None:
        """Put back an entry :meth:`remove` or :meth:`put` took out, as it was (its postings, person and counts)."""
        self.entries[entry.key] = entry
        self._post(entry)
        self.value_counts.add(entry.norm)
        if entry.person_id:
            self._add_to_person(entry)

    def link(self, key, person_id, decision, link_source, score, probability) -> None:
        entry = self.entries[key]
        if entry.person_id:
            self._unperson(entry.person_id, key)
        entry.person_id, entry.decision, entry.link_source = person_id, decision, link_source
        entry.score, entry.probability = score, probability
        self._add_to_person(entry)

    def unlink(self, key) -> None:
        entry = self.entries[key]
        if entry.person_id:
            self._unperson(entry.person_id, key)
        entry.person_id = entry.decision = entry.link_source = None
        entry.score = entry.probability = None

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

    def block_size(self, block_key: str) -> int:
        postings = self._postings.get(block_key)
        if postings is None:
            return 0
        return len(postings) if type(postings) is set else 1

    def posted(self, block_key: str) -> tuple[Key, ...] | set[Key]:
        """Keys of the records posted under a blocking key."""
        postings = self._postings.get(block_key)
        if postings is None:
            return ()
        return {e.key for e in postings} if type(postings) is set else (postings.key,)

    def _posted_entries(self, block_key: str) -> tuple[Entry, ...] | set[Entry]:
        postings = self._postings.get(block_key)
        if postings is None:
            return ()
        return postings if type(postings) is set else (postings,)

    def linked_records(self, block_keys: Iterable[str]) -> list[tuple[Key, Entry]]:
        """Distinct linked records posted under any of the keys."""
        seen: set[Entry] = set()
        out = []
        for k in block_keys:
            for entry in self._posted_entries(k):
                if entry in seen:
                    continue
                seen.add(entry)
                if entry.person_id:
                    out.append((entry.key, entry))
        return out

    def linked_persons(self, block_keys: Iterable[str], exclude: Key | None = None) -> set[str]:
        """Distinct persons with a linked record posted under any of the keys (``exclude`` aside)."""
        return {entry.person_id for k in block_keys for entry in self._posted_entries(k)
                if entry.person_id and entry.key != exclude}

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
        postings, entries = self._postings, self.entries
        excluded = entries.get(exclude) if exclude is not None else None
        persons: set[str] = set()
        for k in block_keys:
            posted = postings.get(k)
            if posted is None:
                continue
            if type(posted) is not set:
                posted = (posted,)
            if len(posted) > blocking.block_bound(k, max_block_size):
                continue
            for entry in posted:
                person_id = entry.person_id
                if person_id and entry is not excluded:
                    persons.add(person_id)
        if exclude is not None and exclude in self._apart:
            persons -= self._apart[exclude]
        out = []
        members_of = self._persons
        for person_id in persons:
            members = members_of.get(person_id, ())
            if excluded is not None and excluded in members:
                members = tuple(e for e in members if e is not excluded)
            if members:
                out.append((person_id, members))
        return out

    def person_entries(self, person_id: str) -> list[tuple[Key, Entry]]:
        return [(e.key, e) for e in self._persons.get(person_id, ())]

    def _post(self, entry: Entry) -> None:
        postings = self._postings
        for k in entry.keys:
            current = postings.get(k)
            if current is None:
                postings[k] = entry
            elif type(current) is set:
                current.add(entry)
            elif current is not entry:
                postings[k] = {current, entry}

    def _unpost(self, block_key: str, entry: Entry) -> None:
        postings = self._postings.get(block_key)
        if postings is None:
            return
        if type(postings) is set:
            postings.discard(entry)
            if len(postings) == 1:
                self._postings[block_key] = next(iter(postings))
            elif not postings:
                del self._postings[block_key]
        elif postings is entry:
            del self._postings[block_key]

    def _add_to_person(self, entry: Entry) -> None:
        members = self._persons.get(entry.person_id, ())
        if entry not in members:
            self._persons[entry.person_id] = tuple(sorted((*members, entry), key=_by_key))

    def _unperson(self, person_id, key) -> None:
        members = self._persons.get(person_id)
        if members:
            rest = tuple(e for e in members if e.key != key)
            if rest:
                self._persons[person_id] = rest
            else:
                del self._persons[person_id]


def _by_key(entry: Entry) -> Key:
    return entry.key


class _PersonKeys(Mapping):
    """Person id -> the keys of its records: a read-only view of the index's persons."""

    def __init__(self, persons: Mapping[str, tuple[Entry, ...]]):
        self._persons = persons

    def __getitem__(self, person_id: str) -> tuple[Key, ...]:
        return tuple(e.key for e in self._persons[person_id])

    def __iter__(self):
        return iter(self._persons)

    def __len__(self) -> int:
        return len(self._persons)
