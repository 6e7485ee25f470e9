"""What the candidate index knows of one record: an :class:`Entry`, or one made from a row of the index's base.

The scorer reads an entry's ``shape`` (field names, one tuple shared by every
record of that shape) and ``values``; the writer reads and changes its link and
case through the index (``mpi.identity.index``), never on the entry itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

Key = tuple[str, str]

#: Normalised fields whose values repeat across many records: each distinct
#: value is stored once for the whole overlay.
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


def _link_field(i: int) -> property:
    """A field of a base row's link (person id, decision, link source, score, probability), read when asked for."""
    return property(lambda entry: (link := entry._base.link(entry._row)) and link[i])


class MappedEntry(Entry):
    """An entry made from a row of the base for scoring: the scorer reads its shape and values, and a request
    its key, link and case for a few candidates of the dozens it scores, so those are read from the base when
    asked for. Read-only: an entry the writer changes is a plain :class:`Entry` of the overlay."""

    __slots__ = ("_base", "_row")

    @property
    def key(self) -> Key:  # type: ignore[override]
        return self._base.key_of(self._row)

    #: The row's link, read from the base when asked for (None when unlinked).
    person_id = _link_field(0)  # type: ignore[assignment]
    decision = _link_field(1)  # type: ignore[assignment]
    link_source = _link_field(2)  # type: ignore[assignment]
    score = _link_field(3)  # type: ignore[assignment]
    probability = _link_field(4)  # type: ignore[assignment]

    @property
    def case_id(self) -> str | None:  # type: ignore[override]
        return self._base.case_id(self._row)

    @property
    def keys(self) -> tuple[str, ...]:  # type: ignore[override]
        return self._base.block_keys_of(self._row)

    @property
    def received_at(self) -> datetime:  # type: ignore[override]
        return self._base.times(self._row)[0]

    @property
    def updated_at(self) -> datetime:  # type: ignore[override]
        return self._base.times(self._row)[1]
