"""The one writer of identity: a steward's link refused to the machine, and an index that follows rollbacks.

Every change of a link, a person, a golden view or the candidate index goes
through ``services.writer`` (``mpi.identity.writer``). These tests drive it
through the services that use it, on a real store, and compare the in-memory
index with what the store holds.
"""

from __future__ import annotations

import pytest

from conftest import record
from mpi.errors import Conflict
from mpi.identity.index import CandidateIndex
from mpi.identity.writer import Link
from mpi.vocab import AuditAction, LinkSource

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def index_state(index: CandidateIndex) -> dict:
    """Everything the index knows, in plain values (a record's keys as a set: the store keeps them sorted)."""
    entries = {key: (e.norm, frozenset(e.keys), e.received_at, e.updated_at, e.person_id, e.decision, e.link_source, e.score,
                     e.probability, e.case_id) for key, e in index.entries.items()}
    postings = {k: sorted(index.posted(k)) for e in index.entries.values() for k in e.keys}
    persons = {p: index.persons[p] for p in index.persons}
    apart = {key: index.kept_apart(key) for key in index.entries}
    counts = {c: dict(index.value_counts.of(c)) for c in ("first_name", "last_name", "birth_date", "postal_code")}
    return {"entries": entries, "postings": postings, "persons": persons, "apart": apart, "counts": counts}


def rebuilt(services) -> dict:
    """The state of an index built afresh from the store, as a restart would build it."""
    index = CandidateIndex.from_rows(services.store.records.index_rows())
    for key, person_id in services.store.cases.not_duplicate_pairs():
        index.keep_apart(key, person_id)
    return index_state(index)


@pytest.fixture
def people(services):
    """Marisol (two records, one person) and Theodore (one), decided by the matcher."""
    services.ensure_active_model("test")
    marisol = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    services.matching.submit(record("marisol", "bluepath-mco", "BPM-1"), "test")
    theodore = services.matching.submit(record("theodore", "county-general-ehr", "CG-1"), "test")["person_id"]
    return {"marisol": marisol, "theodore": theodore}


def test_a_rolled_back_transaction_leaves_the_index_as_it_was_without_building_it_again(services, people):
    index = services.matching.index()
    before = index_state(index)
    assert before == rebuilt(services)

    with pytest.raises(RuntimeError):
        with services.store.transaction():
            # A new person, an update that moves a record, a steward's link, a pair kept apart, a case held.
            services.matching.submit(record("desmond", "foodbank-cbo", "FB-1"), "test")
            services.matching.submit(record("theodore", "bluepath-mco", "BPM-1"), "test")
            services.matching.link_manually("county-general-ehr", "CG-1", people["marisol"], "user:test", "checked")
            services.writer.keep_apart(("st-marys-ehr", "MRN-1"), people["theodore"], None, "user:test", "twins")
            services.matching.open_review("st-marys-ehr", "MRN-1", "user:test", "look again")
            assert index_state(index) != before  # the changes were made, in memory too
            raise RuntimeError("crash before commit")

    assert services.matching.index() is index  # undone in place, not rebuilt
    assert index_state(index) == before == rebuilt(services)
    assert services.store.counts() == {"persons": 2, "records": 3, "links": 3, "open_cases": 0}


def test_changes_that_commit_stay_in_the_index_exactly_as_stored(services, people):
    index = services.matching.index()

    with services.store.transaction():
        services.matching.submit(record("desmond", "foodbank-cbo", "FB-1"), "test")
        services.matching.link_manually("county-general-ehr", "CG-1", people["marisol"], "user:test", "checked")

    assert services.matching.index() is index
    assert index_state(index) == rebuilt(services)


def test_the_machine_may_not_change_a_link_a_steward_made_and_nothing_is_written(services, people):
    services.matching.link_manually("county-general-ehr", "CG-1", people["marisol"], "user:test", "same phone")
    key = ("county-general-ehr", "CG-1")
    stored, events = services.store.records.get(*key), len(services.store.audit.events(limit=10_000))

    with pytest.raises(Conflict, match="linked by a steward"):
        with services.store.transaction():
            services.writer.link(key, people["theodore"], Link("MATCH", LinkSource.AUTO, 20.0), "system:test", "auto")
    with pytest.raises(Conflict, match="linked by a steward"):
        with services.store.transaction():
            services.writer.unlink(key, LinkSource.AUTO, "system:test", AuditAction.LINK_REMOVED, "re-matched")

    assert services.store.records.get(*key) == stored
    assert len(services.store.audit.events(limit=10_000)) == events
    assert services.matching.index().get(key).person_id == people["marisol"]


def test_a_steward_may_change_a_steward_link(services, people):
    key = ("county-general-ehr", "CG-1")
    services.matching.link_manually(*key, people["marisol"], "user:test", "same phone")

    services.matching.link_manually(*key, people["theodore"], "user:test", "no: his")

    link = services.store.records.get(*key)["link"]
    assert (link["person_id"], link["link_source"]) == (people["theodore"], "MANUAL")


def test_the_source_updating_a_steward_linked_record_keeps_the_link(services, people):
    key = ("county-general-ehr", "CG-1")
    services.matching.link_manually(*key, people["marisol"], "user:test", "same phone")

    result = services.matching.submit(record("theodore", *key, phone="(404) 555-0143"), "test")

    assert (result["person_id"], result["link_source"]) == (people["marisol"], "MANUAL")
    assert services.store.records.get(*key)["link"]["person_id"] == people["marisol"]
