"""Value frequencies of the data at hand: the model's training records and the index together.

A term-frequency adjustment weighs agreement on a value by how common the value
is: two records sharing a rare surname say more than two sharing SMITH. The
model's tables hold the frequencies of its training records, which describe the
population it was trained on, not the one it is deployed to. Taken alone they
give every value the training never saw the frequency of one seen once, the
rarest there is (in a population generated for other cities, 530 of its 770
surnames, on 16% of its records, are not in the shipped model's tables), and
they never learn that a shelter's address is shared by hundreds.

The real-time scorer therefore pools the two: a value's frequency is its count
among the index's records, the record being matched counted among them, plus its
count among the training records (the model's frequency times the records it was
trained on; a value too rare for the tables counts once, the model's floor), over
the records of both. While the index is small beside the training set the model's
numbers decide; the larger it grows, the more its own counts do. This is what the
prior already does for the index's size (:func:`mpi.matching.weights.prior_for_index`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mpi.matching.comparisons import FREQUENCY_COLUMNS


class ValueCounts:
    """How many records show each value of the columns whose frequencies the model keeps
    (``FREQUENCY_COLUMNS``): the index's, or a training set's (:func:`mpi.matching.model.term_frequencies`)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[str, dict[Any, int]] = {c: {} for c in FREQUENCY_COLUMNS}

    @classmethod
    def from_counts(cls, counts: Mapping[str, Mapping[Any, int]]) -> ValueCounts:
        """Counts as already made (column -> value -> records; a saved index's), for the columns this keeps."""
        made = cls()
        for column in made._counts:
            made._counts[column] = dict(counts.get(column, {}))
        return made

    def add(self, norm: Mapping[str, Any]) -> None:
        for column, counts in self._counts.items():
            value = norm.get(column)
            if value is not None:
                counts[value] = counts.get(value, 0) + 1

    def remove(self, norm: Mapping[str, Any]) -> None:
        for column, counts in self._counts.items():
            value = norm.get(column)
            if value is not None:
                left = counts[value] - 1
                if left:
                    counts[value] = left
                else:
                    del counts[value]

    def of(self, column: str) -> Mapping[Any, int]:
        """Value -> records showing it, for one of the columns (empty for any other)."""
        return self._counts.get(column, {})


class PooledFrequencies(Mapping):
    """One column's value frequencies over the training records and the index's records together.

    The index is taken as it is once the record being matched is stored in it (as a batch run
    counts every record it links, the pair's own two among them), so a record scores the same
    whether it is matched before it is stored (``/v1/match``) or after (``/v1/records``).

    Args:
        table: the model's frequencies of the column (value -> share of the training records).
        floor: the model's frequency of a value its table does not hold (seen once).
        trained: records the model was trained on.
        counts: value -> records of the index showing it.
        indexed: records in the index.
        matched: the value of the record being matched (None if it has none), counted as if stored.
        stored: True if the index holds that record already, with the value ``stored_value``,
            which the record's present value replaces.
    """

    __slots__ = ("_table", "_floor", "_trained", "_counts", "_total", "_matched", "_stored")

    def __init__(self, table: Mapping[Any, float], floor: float, trained: int, counts: Mapping[Any, int],
                 indexed: int, matched: Any = None, stored: bool = False, stored_value: Any = None):
        self._table, self._floor, self._trained, self._counts = table, floor, trained, counts
        self._matched, self._stored = matched, stored_value
        self._total = trained + indexed + (not stored)

    def _count(self, value: Any) -> int:
        return self._counts.get(value, 0) - (value == self._stored) + (value == self._matched)

    def get(self, value: Any, default: Any = None) -> float:
        """The pooled frequency of any value (``default`` is never needed: an unseen value counts once)."""
        return (self._count(value) + self._trained * self._table.get(value, self._floor)) / self._total

    def __getitem__(self, value: Any) -> float:
        if value not in self:
            raise KeyError(value)
        return self.get(value)

    def __contains__(self, value: object) -> bool:
        return value in self._table or self._count(value) > 0

    def __iter__(self) -> Iterator[Any]:
        yield from self._table
        extra = dict.fromkeys(self._counts)
        if self._matched is not None:
            extra[self._matched] = None
        yield from (v for v in extra if v not in self._table and self._count(v) > 0)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def pooled(tables: Mapping[str, Mapping[Any, float]], floor: float, trained: int, counts: ValueCounts,
           indexed: int, record: Mapping[str, Any], stored: Mapping[str, Any] | None = None
           ) -> dict[str, PooledFrequencies]:
    """Per frequency column, its pooled frequencies (:class:`PooledFrequencies`) with ``record`` in the
    index, in place of ``stored`` (the version of it the index holds, if any)."""
    return {column: PooledFrequencies(tables.get(column, {}), floor, trained, counts.of(column), indexed,
                                      record.get(column), stored is not None,
                                      None if stored is None else stored.get(column))
            for column in FREQUENCY_COLUMNS}
