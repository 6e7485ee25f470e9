"""The review queue and what a case blocks (``services.cases``) on a real store: reads, order, filters, counts, priority.

Cases are made the way production makes them: a record scored into the review
band of a policy placed around a weight the test measures first (``held_cases.py``).
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest

from held_cases import PARTIAL, STEWARD, band, case_id, hold_in_review, ids, partial, version  # noqa: F401
from mpi.auth import add_user
from mpi.errors import NotFound, ValidationError
from mpi.services import Services
from mpi.stewardship.priority import CaseTargets, priority_for

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores

# ------------------------------------------------------------------------------------ opening and reading

def test_a_case_opens_routine_and_due_after_the_routine_target(services, case_id):
    case = services.cases.get(case_id)

    assert (case["state"], case["priority"], case["owner"], case["blocks"]) == ("open", "routine", None, [])
    assert case["due_at"] == case["created_at"] + timedelta(hours=72)
    assert case["overdue"] is False
    assert case["version"] == 1


def test_get_shows_the_inbound_record_and_each_candidates_records_and_evidence(services, band, case_id):
    case = services.cases.get(case_id)

    assert case["record"]["raw"]["first_name"] == "Marisol"
    assert case["record"]["norm"]["last_name"] == "QUINTANILLA"
    assert case["record"]["link"] is None
    (candidate,) = case["candidates"]
    assert candidate["person_id"] == band.person_id
    assert candidate["evidence"][0]["comparison"] == "prior"
    assert candidate["person"]["golden"]["last_name"] == "QUINTANILLA"
    assert [r["source_record_id"] for r in candidate["person"]["records"]] == ["MRN-1"]
    assert candidate["person"]["records"][0]["raw"]["phone"] == "(404) 555-0143"


def test_get_of_an_unknown_case_is_not_found(services):
    with pytest.raises(NotFound):
        services.cases.get("RC99999999")


# ------------------------------------------------------------------------------------------- the queue

@pytest.fixture
def four_cases(services, band):
    """Four cases opened in order: c1 claimed by alice, c2 blocking a referral, c3 an urgent one, c4 from a CBO."""
    add_user(services.store, "alice", "steward")
    ids = [hold_in_review(services, partial("foodbank-cbo", f"FB-{i}")) for i in (1, 2, 3)]
    ids.append(hold_in_review(services, partial("shelter-cbo", "SH-4")))
    c1, c2, c3, c4 = ids
    cases = services.cases
    cases.claim(c1, STEWARD, "taking it", 1)
    cases.set_blocks(c2, [{"kind": "referral", "id": "REF-2"}], "system:referrals", "referral waiting", 1)
    cases.set_blocks(c3, [{"kind": "referral", "id": "REF-3", "priority": "urgent"}], "system:referrals",
                     "discharge today", 1)
    return SimpleNamespace(c1=c1, c2=c2, c3=c3, c4=c4, created=cases.get(c1)["created_at"])


def test_queue_is_most_urgent_first_then_oldest(services, four_cases):
    f = four_cases
    queue = services.cases.queue()

    assert ids(queue) == [f.c3, f.c2, f.c1, f.c4]
    assert [c["priority"] for c in queue] == ["urgent", "high", "routine", "routine"]
    assert all(c["candidates"] and "evidence" not in c["candidates"][0] for c in queue)


def test_queue_filters(services, four_cases):
    f, cases = four_cases, services.cases

    assert ids(cases.queue(state="in_review")) == [f.c1]
    assert ids(cases.queue(state=["open", "in_review"], priority=["routine"])) == [f.c1, f.c4]
    assert ids(cases.queue(priority="high")) == [f.c2]
    assert ids(cases.queue(owner="alice")) == [f.c1]
    assert ids(cases.queue(source_system="shelter-cbo")) == [f.c4]
    assert ids(cases.queue(limit=2)) == [f.c3, f.c2]
    assert ids(cases.queue(limit=2, offset=2)) == [f.c1, f.c4]
    later = f.created + timedelta(hours=5)
    assert len(cases.queue(min_age_hours=4, now=later)) == 4
    assert cases.queue(min_age_hours=6, now=later) == []
    with pytest.raises(ValidationError) as e:
        cases.queue(state="sleeping", priority="whenever")
    assert set(e.value.errors) == {"state", "priority"}


def test_overdue_follows_each_priority_target_against_an_injected_now(services, four_cases):
    f, cases = four_cases, services.cases
    created = {c["case_id"]: c["created_at"] for c in cases.queue()}

    def overdue_at(hours):
        return ids(cases.queue(overdue=True, now=max(created.values()) + timedelta(hours=hours)))

    assert overdue_at(3.9) == []
    assert overdue_at(4.1) == [f.c3]
    assert overdue_at(24.1) == [f.c3, f.c2]
    assert overdue_at(72.1) == [f.c3, f.c2, f.c1, f.c4]
    assert ids(cases.queue(overdue=False, now=max(created.values()) + timedelta(hours=5))) == [f.c2, f.c1, f.c4]
    urgent = cases.get(f.c3, now=created[f.c3] + timedelta(hours=5))
    assert urgent["overdue"] is True and urgent["due_at"] == created[f.c3] + timedelta(hours=4)
    # A case resolved is never overdue.
    cases.withdraw(f.c3, STEWARD, "duplicate referral", version(services, f.c3))
    assert cases.get(f.c3, now=created[f.c3] + timedelta(days=30))["overdue"] is False


def test_queue_counts_by_priority_state_age_and_overdue(services, four_cases):
    counts = services.cases.queue_counts(now=four_cases.created + timedelta(hours=5))

    assert counts["total"] == 4
    assert counts["by_priority"] == {"urgent": 1, "high": 1, "routine": 2}
    assert counts["by_state"] == {"open": 3, "in_review": 1, "on_hold": 0}
    assert counts["by_age"] == {"under_4h": 0, "4h_to_24h": 4, "1d_to_3d": 0, "over_3d": 0}
    assert counts["overdue"] == 1
    assert services.cases.queue_counts()["by_age"]["under_4h"] == 4


# -------------------------------------------------------------------------------------------- priority

def test_priority_follows_what_the_case_blocks_and_moves_the_due_time(services, case_id):
    cases = services.cases
    created = cases.get(case_id)["created_at"]

    high = cases.set_blocks(case_id, [{"kind": "referral", "id": "REF-1"}], "system:referrals", "referral", 1)
    urgent = cases.set_blocks(case_id, [{"kind": "referral", "id": "REF-1"},
                                        {"kind": "referral", "id": "REF-9", "priority": "urgent"}],
                              "system:referrals", "discharge", None)
    routine = cases.set_blocks(case_id, [], "system:referrals", "referrals closed", urgent["version"])

    assert (high["priority"], high["due_at"]) == ("high", created + timedelta(hours=24))
    assert (urgent["priority"], urgent["due_at"]) == ("urgent", created + timedelta(hours=4))
    assert urgent["blocks"][1] == {"kind": "referral", "id": "REF-9", "priority": "urgent"}
    assert (routine["priority"], routine["due_at"]) == ("routine", created + timedelta(hours=72))
    events = services.store.audit.events("review_case", case_id)
    assert [e["detail"]["priority"] for e in events if e["action"] == "case.blocks_set"] == \
        ["routine", "urgent", "high"]


def test_priority_rules():
    assert priority_for([]) == "routine"
    assert priority_for([{"kind": "outreach", "id": "1"}]) == "routine"
    assert priority_for([{"kind": "referral", "id": "1"}]) == "high"
    assert priority_for([{"kind": "referral", "id": "1", "priority": "routine"}]) == "high"
    assert priority_for([{"kind": "outreach", "id": "1", "priority": "urgent"}, {"kind": "referral", "id": "2"}]) \
        == "urgent"


def test_blocks_are_validated(services, case_id):
    with pytest.raises(ValidationError) as e:
        services.cases.set_blocks(case_id, [{"kind": "referral"}, {"id": "x", "priority": "soon", "extra": 1}],
                                  STEWARD, "bad", 1)
    assert list(e.value.errors) == ["blocks"]
    assert len(e.value.errors["blocks"]) == 4
    assert version(services, case_id) == 1


def test_a_case_reopened_by_an_update_keeps_what_it_blocks(services, case_id):
    services.cases.set_blocks(case_id, [{"kind": "referral", "id": "REF-1", "priority": "urgent"}],
                              "system:referrals", "discharge", 1)

    # The source sends it again in capitals: an update (sent again unchanged, it would change nothing).
    again = services.matching.submit({**PARTIAL, "first_name": "MARISOL"}, "test")

    assert again["review_case_id"] not in (None, case_id)
    case = services.cases.get(again["review_case_id"])
    assert (case["priority"], case["blocks"][0]["id"]) == ("urgent", "REF-1")
    assert case["due_at"] == case["created_at"] + timedelta(hours=4)


def test_targets_come_from_the_settings(config):
    services = Services({**config, "MPI_CASE_TARGET_ROUTINE_HOURS": "1.5"})
    try:
        assert services.cases.targets == CaseTargets(urgent=4, high=24, routine=1.5)
    finally:
        services.close()
    with pytest.raises(ValidationError) as e:
        CaseTargets.from_config({"MPI_CASE_TARGET_URGENT_HOURS": "soon", "MPI_CASE_TARGET_HIGH_HOURS": "-1"})
    assert set(e.value.errors) == {"MPI_CASE_TARGET_URGENT_HOURS", "MPI_CASE_TARGET_HIGH_HOURS"}
