"""What steward review tells the domains above it, after the transaction that did it commits (``mpi.events``).

Ids and codes only: a case's record is named by its key ``(source_system, source_record_id)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mpi.events import Event

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CaseOpened(Event):
    """A record is held for a steward: whatever waits on its person's identity waits on this case."""

    case_id: str
    record: Key | None
    priority: str
    candidates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CaseResolved(Event):
    """A steward decided a case: ``resolution`` says how, ``person_id`` whom the record is now (if anyone)."""

    case_id: str
    record: Key | None
    resolution: str
    person_id: str | None


@dataclass(frozen=True, slots=True)
class CaseWithdrawn(Event):
    """A case closed as no longer needed; its record stays as it is."""

    case_id: str
    record: Key | None
