"""Read-only mappings over the candidate index's two layers: records by key, persons' record keys.

Code that scans the index (learning, labels, tests) reads it as mappings;
base records are made into entries as they are read, a block at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from mpi.identity.index_entry import Entry, Key

if TYPE_CHECKING:
    from mpi.identity.index import CandidateIndex


class EntryView(Mapping):
    """Record key -> entry, over both layers (base entries are made as they are read)."""

    def __init__(self, index: CandidateIndex):
        self._index = index

    def __getitem__(self, key: Key) -> Entry:
        entry = self._index.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def __contains__(self, key: object) -> bool:
        index = self._index
        return key in index._overlay or (isinstance(key, tuple) and index._live_row(key) is not None)

    def __iter__(self) -> Iterator[Key]:
        index = self._index
        for row in np.flatnonzero(~index._dead_np).tolist():
            yield index.base.key_of(row)
        yield from list(index._overlay)

    def __len__(self) -> int:
        index = self._index
        return index.base.size - index._ndead + len(index._overlay)

    def items(self) -> Iterator[tuple[Key, Entry]]:  # type: ignore[override]
        index = self._index
        live = np.flatnonzero(~index._dead_np)
        for start in range(0, len(live), 4096):
            for entry in index._materialise_many(live[start:start + 4096]):
                yield entry.key, entry
        yield from list(index._overlay.items())

    def values(self) -> Iterator[Entry]:  # type: ignore[override]
        return (entry for _, entry in self.items())


class PersonKeys(Mapping):
    """Person id -> the keys of its records, in key order: a read-only view of the index's persons."""

    def __init__(self, index: CandidateIndex):
        self._index = index

    def __getitem__(self, person_id: str) -> tuple[Key, ...]:
        members = self._index._members(person_id)
        if not members:
            raise KeyError(person_id)
        return tuple(e.key for e in members)

    def __contains__(self, person_id: object) -> bool:
        return isinstance(person_id, str) and bool(self._index._members(person_id))

    def _base_only(self) -> Iterator[str]:
        index = self._index
        for code in np.flatnonzero(index._person_live).tolist():
            yield index.base.person_id(code)

    def __iter__(self) -> Iterator[str]:
        index = self._index
        yield from self._base_only()
        for person_id in list(index._persons):
            code = index.base.person_code(person_id) if index.base.size else None
            if code is None or not index._person_live[code]:
                yield person_id

    def __len__(self) -> int:
        index = self._index
        count = int(np.count_nonzero(index._person_live))
        for person_id in index._persons:
            code = index.base.person_code(person_id) if index.base.size else None
            count += code is None or not index._person_live[code]
        return count
