"""Reading persons and records as the API and the review UI show them (the same reads for both)."""

from __future__ import annotations

from mpi.errors import NotFound
from mpi.store import Store


class PersonLookup:
    """Persons (following merge redirects) and source records, over one store."""

    def __init__(self, store: Store):
        self.store = store

    def person(self, person_id: str) -> dict:
        """The live person an id stands for, with its golden view and linked records.

        ``requested_id`` is the id asked for, ``redirected_from`` the merged-away ids followed.

        Raises:
            NotFound: an unknown person id.
        """
        person = self.store.persons.resolve(person_id)
        person["requested_id"] = person_id
        person["records"] = self.store.persons.records_of(person["person_id"])
        return person

    def record(self, source_system: str, source_record_id: str) -> dict:
        """A stored source record with its link and any open review case.

        Raises:
            NotFound: no such record.
        """
        record = self.store.records.get(source_system, source_record_id)
        if record is None:
            raise NotFound(f"record {source_system}/{source_record_id} not found")
        return record
