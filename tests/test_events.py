"""Domain events: held with their transaction, delivered after it commits, never after a rollback.

The bus is the real one of ``services.events`` over a real store; the events are
the ones identity and stewardship publish as they work.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest

from conftest import record
from mpi.events import Event
from mpi.identity.events import PersonCreated, PersonsMerged, PersonsUnmerged, RecordLinked
from mpi.stewardship.events import CaseOpened, CaseResolved

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


@dataclass(frozen=True, slots=True)
class Noted(Event):
    n: int


@pytest.fixture
def heard(services):
    """Every event delivered, with whether a transaction was open when it arrived."""
    events = []
    services.events.subscribe(Event, lambda e: events.append((e, services.store.db.in_transaction())))
    return events


def test_events_of_a_transaction_arrive_after_it_commits_in_the_order_published(services, heard):
    with services.store.transaction():
        services.events.publish(Noted(1))
        services.events.publish(Noted(2))
        assert heard == []

    assert heard == [(Noted(1), False), (Noted(2), False)]


def test_events_of_a_transaction_that_rolls_back_never_arrive(services, heard):
    with pytest.raises(RuntimeError):
        with services.store.transaction():
            services.events.publish(Noted(1))
            raise RuntimeError("rolled back")
    with services.store.transaction():
        services.events.publish(Noted(2))

    assert heard == [(Noted(2), False)]


def test_an_event_outside_a_transaction_arrives_at_once(services, heard):
    services.events.publish(Noted(3))

    assert heard == [(Noted(3), False)]


def test_a_subscriber_hears_only_the_events_it_asked_for(services):
    linked = []
    services.events.subscribe(RecordLinked, linked.append)
    services.ensure_active_model("test")

    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")

    assert [(e.record, e.decision) for e in linked] == [(("st-marys-ehr", "MRN-1"), "NO_MATCH")]


def test_a_failing_subscriber_is_logged_and_the_others_still_hear(services, heard, caplog):
    def broken(event):
        raise ValueError("subscriber bug")

    services.events.subscribe(Noted, broken)
    with caplog.at_level(logging.ERROR, logger="mpi.events"):
        with services.store.transaction():
            services.events.publish(Noted(4))

    assert heard == [(Noted(4), False)]
    assert "Noted" in caplog.text and "ValueError" in caplog.text


def test_matching_and_review_announce_what_they_did(services, heard, activate_policy):
    services.ensure_active_model("test")
    first = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    activate_policy(upper_match_weight=1e6)  # nothing auto-links: the next record is held
    held = services.matching.submit(record("marisol", "bluepath-mco", "BPM-1"), "test")
    case = services.cases.get(held["review_case_id"])

    services.cases.resolve_linked(case["case_id"], first["person_id"], "user:alice", "same person", case["version"])

    kinds = [type(e).__name__ for e, _ in heard]
    assert kinds == ["PersonCreated", "RecordLinked", "CaseOpened", "RecordLinked", "CaseResolved"]
    created, opened, resolved = heard[0][0], heard[2][0], heard[4][0]
    assert created == PersonCreated(first["person_id"], ("st-marys-ehr", "MRN-1"))
    assert opened == CaseOpened(case["case_id"], ("bluepath-mco", "BPM-1"), "routine", (first["person_id"],))
    assert resolved == CaseResolved(case["case_id"], ("bluepath-mco", "BPM-1"), "linked", first["person_id"])
    assert all(not in_transaction for _, in_transaction in heard)


def test_merges_and_unmerges_are_announced_with_the_records_they_moved(services, heard):
    services.ensure_active_model("test")
    a = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    b = services.matching.submit(record("theodore", "county-general-ehr", "CG-1"), "test")["person_id"]

    merge_id = services.merges.merge(a, b, "user:alice", "one person")
    services.merges.unmerge(merge_id, "user:alice", "no: two")

    merges = [e for e, _ in heard if isinstance(e, (PersonsMerged, PersonsUnmerged))]
    assert merges == [PersonsMerged(merge_id, a, b, (("county-general-ehr", "CG-1"),), None),
                      PersonsUnmerged(merge_id, a, b, (("county-general-ehr", "CG-1"),))]
