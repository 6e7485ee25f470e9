"""What a batch run's scored pairs say about today's persons: which two persons look like one, which one looks
like two.

- Two persons are **found to be one** when some record of one and some record of the other score at or above the
  policy's lower threshold: the best such pair is the finding's evidence. (A steward decides anything in the review
  band, and above the upper threshold too unless the policy lets a run merge: ``runs.py``.)
- A person **would be split** when its records do not hang together: the pairs among its own records at or above
  the lower threshold leave them in more than one part. A run adds a blocking rule that pairs every two records of a
  person, so no such pair goes unscored. It is reported, never acted on: splitting is a steward's unmerge or
  undo-link.

Records held in review (no person) take part in scoring but in neither finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mpi.batch.engine import Scored

#: The blocking rule a run over the store adds: every two records of one person are scored.
SAME_PERSON_RULE = 'l."person_id" = r."person_id"'


@dataclass(frozen=True)
class PersonPair:
    """Two persons some pair of their records says are one (``person_a < person_b``), by their best pair."""

    person_a: str
    person_b: str
    match_weight: float
    match_probability: float
    uid_a: int
    uid_b: int


@dataclass(frozen=True)
class Split:
    """A person whose records fall into ``parts`` unconnected parts at the lower threshold."""

    person_id: str
    records: int
    parts: int


def person_pairs(records: pa.Table, scored: Scored, lower: float) -> list[PersonPair]:
    """Pairs of persons with a pair of records at or above ``lower`` between them, best first (one per pair)."""
    pairs = _with_persons(records, scored.pairs.filter(pc.greater_equal(scored.pairs["match_weight"], lower)))
    cross = pairs.filter(pc.and_(pc.and_(pc.is_valid(pairs["person_l"]), pc.is_valid(pairs["person_r"])),
                                 pc.not_equal(pairs["person_l"], pairs["person_r"])))
    cross = cross.sort_by([("match_weight", "descending"), ("unique_id_l", "ascending"), ("unique_id_r", "ascending")])
    found: dict[tuple[str, str], PersonPair] = {}
    for l, r, pl, pr, weight, probability in zip(*(cross[c].to_pylist() for c in (
            "unique_id_l", "unique_id_r", "person_l", "person_r", "match_weight", "match_probability")), strict=True):
        if pl > pr:
            pl, pr, l, r = pr, pl, r, l
        if (pl, pr) not in found:
            found[(pl, pr)] = PersonPair(pl, pr, weight, probability, l, r)
    return list(found.values())


def splits(records: pa.Table, scored: Scored, lower: float) -> list[Split]:
    """Persons whose own records fall apart at ``lower`` (largest first)."""
    pairs = _with_persons(records, scored.pairs.filter(pc.greater_equal(scored.pairs["match_weight"], lower)))
    within = pairs.filter(pc.equal(pairs["person_l"], pairs["person_r"]))
    sizes = _sizes(records["person_id"])
    joined = _unions(within["unique_id_l"].to_pylist(), within["unique_id_r"].to_pylist(),
                     within["person_l"].to_pylist())
    found = [Split(p, n, n - joined.get(p, 0)) for p, n in sizes.items() if n > 1 and n - joined.get(p, 0) > 1]
    return sorted(found, key=lambda s: (-s.records, s.person_id))


def _with_persons(records: pa.Table, pairs: pa.Table) -> pa.Table:
    """Pairs with the person of each side (``unique_id`` is the record's row in ``records``)."""
    person = records["person_id"]
    return pairs.append_column("person_l", pc.take(person, pairs["unique_id_l"])).append_column(
        "person_r", pc.take(person, pairs["unique_id_r"]))


def _sizes(person: pa.ChunkedArray) -> dict[str, int]:
    counts = pc.value_counts(person.drop_null())
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))


def _unions(left: Iterable[int], right: Iterable[int], owner: Iterable[str]) -> dict[str, int]:
    """Per person, how many of its edges joined two parts (its parts are its records less that)."""
    parts = UnionFind()
    joined: dict[str, int] = {}
    for l, r, person in zip(left, right, owner, strict=True):
        if parts.union(l, r):
            joined[person] = joined.get(person, 0) + 1
    return joined


class UnionFind:
    """Disjoint sets of hashable items (records' ids, persons' ids), with path halving."""

    def __init__(self) -> None:
        self._parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        while self._parent.get(x, x) != x:
            self._parent[x] = x = self._parent.get(self._parent[x], self._parent[x])
        return x

    def union(self, a: Any, b: Any) -> bool:
        """Join the parts of a and b; False if they were one already."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self._parent[ra] = rb
        return True


def model_columns_of(records: pa.Table, uid: int, columns: Iterable[str]) -> dict[str, Any]:
    """One record's values of ``columns`` (its row is its ``unique_id``)."""
    row = records.slice(uid, 1)
    return {c: row[c][0].as_py() for c in columns}


class CountsOf:
    """How many of a population's records show each value, for the values some records show: the
    ``ValueCounts`` shape the in-process scorer pools with the model's frequencies."""

    def __init__(self, records: pa.Table, columns: Iterable[str], values: Mapping[str, set]):
        self._counts: dict[str, dict[Any, int]] = {}
        for column in columns:
            wanted = pa.array(sorted(values.get(column, ())), pa.string())
            present = records[column].filter(pc.is_in(records[column], value_set=wanted))
            counts = pc.value_counts(present)
            self._counts[column] = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(),
                                            strict=True))

    def of(self, column: str) -> Mapping[Any, int]:
        return self._counts.get(column, {})
