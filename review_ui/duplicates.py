"""The case page of a ``POSSIBLE_DUPLICATE`` case: its two persons side by side, as small typed objects.

A batch run found two persons that may be one human (``mpi.stewardship.duplicates``).
The steward reads each person as the person page shows one (golden view and
source records), the two compared field by field (the first person's oldest
record beside the second person's records, marked as a record is against a
candidate), and the best pair's evidence as one waterfall. Pure functions over
what ``services.cases.get`` reads; nothing here reads the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mpi.stewardship.duplicates import DUPLICATE
from review_ui import compare, waterfall

#: How a duplicate case reads in the queue.
QUEUE_TEXT = "possible duplicate: 2 persons"


@dataclass(frozen=True)
class PersonSide:
    """One of the two persons: the id the case holds and the live person it stands for now."""

    person_id: str
    live_id: str | None
    status: str | None
    golden: tuple[tuple[str, str], ...]
    records: tuple[Mapping[str, Any], ...]

    @property
    def merged_into(self) -> str | None:
        """The survivor this id was merged into since the case opened, if it was."""
        return self.live_id if self.live_id not in (None, self.person_id) else None

    @property
    def shown_id(self) -> str:
        """The person a steward acts on: the live one."""
        return self.live_id or self.person_id


@dataclass(frozen=True)
class DuplicatePair:
    """What a steward compares on a duplicate case."""

    sides: tuple[PersonSide, PersonSide]
    comparison: compare.Comparison
    chart: waterfall.Waterfall
    evidence: tuple[Mapping[str, Any], ...]
    match_weight: float
    match_probability: float | None

    @property
    def one_already(self) -> bool:
        """Both ids lead to one person now (merged since the case opened): nothing is left to merge."""
        return self.sides[0].shown_id == self.sides[1].shown_id


def is_duplicate(case: Mapping[str, Any]) -> bool:
    return case.get("kind") == DUPLICATE


def golden_lines(golden: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A golden view as (label, value) lines in the order a steward reads them, empty fields left out."""
    golden = golden or {}
    return tuple((label, str(golden[f])) for f, label in compare.FIELDS if golden.get(f) not in (None, ""))


def side(candidate: Mapping[str, Any]) -> PersonSide:
    person = candidate.get("person") or {}
    return PersonSide(person_id=candidate["person_id"], live_id=person.get("person_id"), status=person.get("status"),
                      golden=golden_lines(person.get("golden")), records=tuple(person.get("records") or ()))


def pair(case: Mapping[str, Any], upper: float | None, lower: float | None) -> DuplicatePair:
    """The two persons of a duplicate case (its rank 1 and 2 candidates), compared."""
    first, second = (case.get("candidates") or [])[:2]
    sides = (side(first), side(second))
    left = sides[0].records[0] if sides[0].records else {}
    evidence = tuple(first.get("evidence") or ())
    return DuplicatePair(sides=sides, comparison=compare.compare(left, list(sides[1].records)),
                         chart=waterfall.build(evidence, upper, lower), evidence=evidence,
                         match_weight=first.get("match_weight") or 0.0,
                         match_probability=first.get("match_probability"))
