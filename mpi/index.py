"""The in-memory read model of the index, kept in step with the store.

Matching one record must not pay a database round trip per candidate or per
blocking key. This index holds, for every source record, its normalised form,
its link and its open review case, plus the blocking-key postings and each
person's records. It is loaded from the store at start and changed by the
matching service in the same writer-locked transaction that writes the store;
if that transaction fails the index is dropped and rebuilt from the store, so
it can never disagree with what was committed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class Entry:
    """What the index knows of one source record."""

    norm: Mapping[str, Any]
    keys: tuple[str, ...]
    received_at: datetime
    updated_at: datetime
    person_id: str | None = None
    decision: str | None = None
    link_source: str | None = None
    score: float | None = None
    probability: float | None = None
    case_id: str | None = None


@dataclass
class CandidateIndex:
    """Records by key, postings by blocking key, records by person."""

    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    postings: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    persons: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def from_rows(cls, rows: Iterable[tuple]) -> CandidateIndex:
        """Build from the store's index rows (see ``Store.index_rows``)."""
        index = cls()
        for key, norm, keys, received_at, updated_at, link, case_id in rows:
            index.put(key, norm, keys, received_at, updated_at)
            if link:
                index.link(key, *link)
            index.entries[key].case_id = case_id
        return index

    def get(self, key: tuple[str, str]) -> Entry | None:
        return self.entries.get(key)

    def put(self, key, norm, keys, received_at, updated_at) -> Entry:
        """Insert or replace a record's normalised form and postings; its link is kept."""
        old = self.entries.get(key)
        if old:
            for k in old.keys:
                self._unpost(k, key)
        entry = Entry(norm, tuple(keys), received_at, updated_at)
        if old:
            entry.person_id, entry.decision, entry.link_source = old.person_id, old.decision, old.link_source
            entry.score, entry.probability, entry.case_id = old.score, old.probability, old.case_id
        self.entries[key] = entry
        for k in entry.keys:
            self.postings[k].add(key)
        return entry

    def link(self, key, person_id, decision, link_source, score, probability) -> None:
        entry = self.entries[key]
        if entry.person_id:
            self._unperson(entry.person_id, key)
        entry.person_id, entry.decision, entry.link_source = person_id, decision, link_source
        entry.score, entry.probability = score, probability
        self.persons[person_id].add(key)

    def unlink(self, key) -> None:
        entry = self.entries[key]
        if entry.person_id:
            self._unperson(entry.person_id, key)
        entry.person_id = entry.decision = entry.link_source = None
        entry.score = entry.probability = None

    def block_size(self, block_key: str) -> int:
        postings = self.postings.get(block_key)
        return len(postings) if postings else 0

    def linked_records(self, block_keys: Iterable[str]) -> list[tuple[tuple[str, str], Entry]]:
        """Distinct linked records posted under any of the keys."""
        seen: set[tuple[str, str]] = set()
        out = []
        for k in block_keys:
            for key in self.postings.get(k, ()):
                if key in seen:
                    continue
                seen.add(key)
                entry = self.entries[key]
                if entry.person_id:
                    out.append((key, entry))
        return out

    def person_entries(self, person_id: str) -> list[tuple[tuple[str, str], Entry]]:
        return [(key, self.entries[key]) for key in sorted(self.persons.get(person_id, ()))]

    def _unpost(self, block_key, key) -> None:
        postings = self.postings.get(block_key)
        if postings:
            postings.discard(key)
            if not postings:
                del self.postings[block_key]

    def _unperson(self, person_id, key) -> None:
        members = self.persons.get(person_id)
        if members:
            members.discard(key)
            if not members:
                del self.persons[person_id]
