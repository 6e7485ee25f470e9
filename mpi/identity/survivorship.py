"""The golden view of a person: one value per field chosen from its source records.

Rule (documented in the README): for each demographic field, take the value
whose *normalised* form occurs in the most linked records (so "Bob" and
"ROBERT" do not outvote each other by spelling); break ties by the most recently
updated record. The golden view shows that record's normalised value. Fields no
record has stay empty. Recomputed whenever a person's records change, so it is
derived, never edited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mpi.records.fields import DEMOGRAPHIC_FIELDS


def golden_view(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Golden demographics for the normalised records of one person.

    Args:
        records: dicts with ``norm`` (normalised fields) and ``updated_at``, any order.
    """
    ordered = sorted(records, key=lambda r: str(r.get("updated_at") or ""))
    golden: dict[str, Any] = {}
    for field in DEMOGRAPHIC_FIELDS:
        votes: dict[Any, tuple[int, int]] = {}
        for recency, record in enumerate(ordered):
            value = record["norm"].get(field)
            if value is None:
                continue
            count, _ = votes.get(value, (0, 0))
            votes[value] = (count + 1, recency)
        golden[field] = max(votes, key=votes.__getitem__) if votes else None
    return golden
