"""One clock: every time the store stamps and every age a steward reads comes from the injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import record
from mpi.clock import FixedClock
from mpi.services import Services

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def services(config, clock):
    """The services on the test's clock (``activate_policy`` and the other shared fixtures use these too)."""
    services = Services(config, clock=clock)
    services.ensure_active_model("test")
    yield services
    services.close()


def test_a_fixed_clock_stands_still_until_set_or_advanced(clock):
    assert clock.now() == clock.now() == T0
    assert clock.advance(timedelta(hours=2)) == T0 + timedelta(hours=2) == clock.now()
    clock.set(datetime(2027, 1, 1))  # naive: read as UTC
    assert clock.now() == datetime(2027, 1, 1, tzinfo=timezone.utc)


def test_records_links_persons_and_audit_events_are_stamped_by_the_clock(services, clock):
    result = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    clock.advance(timedelta(days=3))
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1", phone="404-555-0199"), "test")

    stored = services.store.records.get("st-marys-ehr", "MRN-1")
    assert stored["received_at"] == T0 and stored["updated_at"] == T0 + timedelta(days=3)
    assert stored["link"]["linked_at"] == T0 + timedelta(days=3)
    assert services.store.persons.get(result["person_id"])["created_at"] == T0
    assert {e["occurred_at"] for e in services.store.audit.events()} == {T0, T0 + timedelta(days=3)}


def test_a_cases_age_and_overdue_follow_the_clock(services, clock, activate_policy):
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    activate_policy(upper_match_weight=1e6)
    case_id = services.matching.submit(record("marisol", "bluepath-mco", "BPM-1"), "test")["review_case_id"]
    target = services.case_targets.target("routine")

    clock.advance(target - timedelta(minutes=1))
    before = services.cases.get(case_id)
    clock.advance(timedelta(minutes=2))
    after = services.cases.get(case_id)

    assert before["created_at"] == T0 and before["due_at"] == T0 + target
    assert (before["overdue"], after["overdue"]) == (False, True)
    assert after["age_hours"] == round((target + timedelta(minutes=1)).total_seconds() / 3600, 2)
    assert services.cases.queue_counts()["overdue"] == 1


def test_a_hold_may_not_follow_up_before_the_clocks_today(services, clock, activate_policy):
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    activate_policy(upper_match_weight=1e6)
    case_id = services.matching.submit(record("marisol", "bluepath-mco", "BPM-1"), "test")["review_case_id"]
    version = services.cases.get(case_id)["version"]

    with pytest.raises(Exception, match="in the past"):
        services.cases.hold(case_id, "user:alice", "calling her", version, (T0 - timedelta(days=1)).date())
    held = services.cases.hold(case_id, "user:alice", "calling her", version, T0.date())

    assert held["state"] == "on_hold" and held["hold"]["held_at"] == T0
