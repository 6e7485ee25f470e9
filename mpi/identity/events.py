"""What identity tells the domains above it, after the transaction that did it commits (``mpi.events``).

Ids and codes only: a record is named by its key ``(source_system, source_record_id)``; the one exception is
:class:`HeldRecordsScored`, which hands on candidates a re-match found so they are not found again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mpi.events import Event
from mpi.matching.decisions import Candidate

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PersonCreated(Event):
    """A new person, made for a record (or by a steward for one)."""

    person_id: str
    record: Key | None


@dataclass(frozen=True, slots=True)
class RecordLinked(Event):
    """A record now belongs to a person (``previous_person_id``: the one it left, if any)."""

    record: Key
    person_id: str
    previous_person_id: str | None
    decision: str
    link_source: str


@dataclass(frozen=True, slots=True)
class RecordUnlinked(Event):
    """A record belongs to no one now: held for review again."""

    record: Key
    person_id: str
    action: str


@dataclass(frozen=True, slots=True)
class PersonsMerged(Event):
    """Two persons were one human: the loser's records moved to the survivor, its id redirects there."""

    merge_id: str
    survivor_id: str
    loser_id: str
    records: tuple[Key, ...]
    case_id: str | None


@dataclass(frozen=True, slots=True)
class PersonsUnmerged(Event):
    """A merge undone: the loser holds its records again and no longer redirects."""

    merge_id: str
    survivor_id: str
    loser_id: str
    records: tuple[Key, ...]


@dataclass(frozen=True, slots=True)
class HeldRecordsScored(Event):
    """A re-match pass that linked nothing: each held record it scored, with its candidates (best first) against
    the index as the pass left it, by ``model_version``.

    They stay true until identity's next change (heard as its own event): a domain that would score the same
    records again before then (the re-scoring of open cases at the end of ``mpi load``) may take these instead.
    """

    model_version: str
    candidates: Mapping[Key, list[Candidate]]
