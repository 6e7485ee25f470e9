"""What identity needs of steward review, as a port the stewardship package implements.

Identity is below stewardship: it may not import it. When a record cannot be
decided it must still be held for a steward in the same transaction (the
answer to ``POST /v1/records`` names the case), so it asks through this port;
``mpi.stewardship.desk.ReviewDesk`` is the implementation ``mpi.services`` wires in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from mpi.matching.decisions import Candidate, HeldBecause
from mpi.matching.model import Model

Key = tuple[str, str]


class ReviewPort(Protocol):
    """Holding records for a steward, and letting go of cases identity no longer needs."""

    def open(self, key: Key, candidates: Sequence[Candidate], model: Model, blocks: Sequence[Mapping[str, Any]],
             because: HeldBecause, actor: str) -> str:
        """Open a case holding the record with its top candidates and why; returns the case id."""
        ...

    def withdraw(self, case_id: str, key: Key, actor: str, reason: str) -> list[dict]:
        """Close a case as no longer needed; returns what it blocked (the record's next case inherits it)."""
        ...

    def resolve_linked(self, case_id: str, key: Key, person_id: str, actor: str, reason: str) -> None:
        """Close a case because a steward linked its record outside the case."""
        ...

    def untaken(self, case_ids: Iterable[str]) -> set[str]:
        """Those of ``case_ids`` still open with no steward on them (so the machine may decide their records again)."""
        ...
