"""Persons and the links of source records to them.

A person row holds its status (``ACTIVE``, or ``REDIRECTED`` to the survivor
of a merge) and its golden view; a link row says which person a record belongs
to, decided how (``decision``, ``link_source``), with the score and evidence.
Only ``mpi.identity.writer`` calls the writes here, so the in-memory index
always follows them.
"""

from __future__ import annotations

import json
from typing import Any

from mpi.errors import NotFound, StoreError
from mpi.store.columns import PERSONS, loads, of_system, select
from mpi.store.database import Database
from mpi.vocab import PersonStatus

_RECORD_OF_PERSON = ("source_system", "source_record_id", "raw", "norm", "updated_at", "decision", "link_source",
                     "score", "probability", "model_version", "linked_at")


class PersonTable:
    """The ``persons`` and ``links`` tables of one store."""

    def __init__(self, db: Database):
        self._db = db
        db.sequence("person", "SELECT max(person_id) FROM persons", prefix="MPI")

    # -- persons --------------------------------------------------------------------------------

    def create(self, golden: dict) -> str:
        """A new person with the next never-reused id (buffered)."""
        person_id = f"MPI{self._db.next_id('person'):08d}"
        now = self._db.now()
        self._db.pending().new_persons[person_id] = [
            person_id, PersonStatus.ACTIVE.value, None, json.dumps(golden), now, now,
        ]
        return person_id

    def get(self, person_id: str) -> dict | None:
        """A person's row as stored (a redirected one too), or None."""
        row = self._db.one(f"SELECT {select(PERSONS)} FROM persons WHERE person_id = ?", [person_id])
        if row is None:
            return None
        person = dict(zip(PERSONS, row))
        person["golden"] = loads(person["golden"])
        return person

    def resolve(self, person_id: str) -> dict:
        """The live person an id stands for, following merge redirects (``redirected_from``: the ids passed)."""
        seen = []
        current = self.get(person_id)
        while current is not None and current["status"] == PersonStatus.REDIRECTED.value:
            seen.append(current["person_id"])
            if current["redirect_to"] in seen:
                raise StoreError(f"redirect loop at person {person_id}")
            current = self.get(current["redirect_to"])
        if current is None:
            raise NotFound(f"person {person_id} not found")
        current["redirected_from"] = seen
        return current

    def live_id(self, person_id: str) -> str:
        """The id of the live person ``person_id`` stands for (following merges), or the id itself if unknown."""
        try:
            return self.resolve(person_id)["person_id"]
        except NotFound:
            return person_id

    def set_golden(self, person_id: str, golden: dict) -> None:
        """Replace a person's golden view (buffered)."""
        self._db.pending().golden[person_id] = (golden, self._db.now())

    def records_of(self, person_id: str) -> list[dict]:
        """Source records linked to a person, oldest update first."""
        # Links by person, then their records by id: each through its one-column index. Joined on both key
        # columns, DuckDB scanned every record (650 ms a person at 1M persons, against a few ms).
        links = {(r[0], r[1]): r[2:] for r in self._db.query(
            "SELECT source_system, source_record_id, decision, link_source, score, probability, model_version, "
            "linked_at FROM links WHERE person_id = ?", [person_id])}
        if not links:
            return []
        ids = sorted({record_id for _, record_id in links})
        rows = self._db.query("SELECT source_system, source_record_id, raw, norm, updated_at FROM source_records "
                              f"WHERE source_record_id IN ({', '.join('?' * len(ids))})", ids)
        out = []
        for r in sorted((r for r in rows if (r[0], r[1]) in links), key=lambda r: (r[4], r[0], r[1])):
            record = dict(zip(_RECORD_OF_PERSON, (*r, *links[(r[0], r[1])])))
            record["raw"], record["norm"] = loads(record["raw"]), loads(record["norm"])
            out.append(record)
        return out

    def count_active(self) -> int:
        return self._db.one("SELECT count(*) FROM persons WHERE status = ?", [PersonStatus.ACTIVE.value])[0]

    # -- links ------------------------------------------------------------------------------------

    def set_link(self, source_system: str, source_record_id: str, person_id: str, decision: str, link_source: str,
                 score: float | None, probability: float | None, evidence: Any, model_version: str | None) -> None:
        """Link a record to a person, replacing any earlier link of that record (buffered)."""
        self._db.pending().links[(source_system, source_record_id)] = (
            person_id, decision, link_source, score, probability, json.dumps(evidence), model_version,
            self._db.now(),
        )

    def link_evidence(self, source_system: str, source_record_id: str) -> list:
        """The evidence of a record's link, one buffered in this transaction included ([] when unlinked)."""
        key = (source_system, source_record_id)
        if self._db.in_transaction() and key in self._db.pending().links:
            buffered = self._db.pending().links[key]
            return json.loads(buffered[5]) if buffered else []
        row = of_system(self._db.query("SELECT source_system, evidence FROM links WHERE source_record_id = ?",
                                       [source_record_id], flush=False), source_system)
        return (loads(row[0]) or []) if row else []

    def delete_link(self, source_system: str, source_record_id: str) -> None:
        """Remove a record's link (buffered)."""
        self._db.pending().links[(source_system, source_record_id)] = None

    def count_links(self) -> int:
        return self._db.one("SELECT count(*) FROM links")[0]
