"""What a re-match of held records has scored, so that a later pass scores again only what a link could change.

:meth:`mpi.identity.rematch.Rematching.rematch_open_cases` decides the held records again in passes, while a pass
links something. At 1M persons most of a long load's end was the second pass scoring every held record again (13.5 s
of a 30,046-record file's 73.6) though its links touched a few of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi.matching import blocking
from mpi.matching.decisions import Candidate

Key = tuple[str, str]


class HeldScorings:
    """What a re-match has scored, and the links it made since: a held record need not be scored again in a later
    pass unless one of those links could change what it finds.

    Linking a held record R2 to a person P changes no value counts and no index size (R2 was in the index already),
    so another held record finds the same candidates with the same weights unless it found P before (P's records
    and so its weight changed) or its query keys reach R2's keys (P is newly among its candidates).
    """

    def __init__(self) -> None:
        self._last: dict[Key, tuple[list[Candidate], frozenset[str], frozenset[str], int]] = {}
        #: The links made so far, in order: (person id, the linked record's blocking keys).
        self._links: list[tuple[str, frozenset[str]]] = []
        #: How many records were scored (not taken from an earlier pass).
        self.scorings = 0

    def still(self, key: Key) -> list[Candidate] | None:
        """The candidates last found for the record, if no link since could change them; else None."""
        last = self._last.get(key)
        if last is None:
            return None
        candidates, persons, keys, at = last
        for person_id, linked_keys in self._links[at:]:
            if person_id in persons or not keys.isdisjoint(linked_keys):
                return None
        return candidates

    def scored(self, key: Key, candidates: list[Candidate], norm: Mapping[str, Any]) -> None:
        """The record (normalised as ``norm``) was scored now, and found these candidates."""
        self._last[key] = (candidates, frozenset(c.person_id for c in candidates),
                           frozenset(blocking.query_keys(norm)), len(self._links))
        self.scorings += 1

    def linked(self, person_id: str, keys: tuple[str, ...]) -> None:
        """A held record was linked to the person: its blocking keys."""
        self._links.append((person_id, frozenset(keys)))
