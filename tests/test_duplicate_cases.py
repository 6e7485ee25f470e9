"""``POSSIBLE_DUPLICATE`` cases worked by stewards (``services.cases``) on a real store: merge, not-duplicate
(the pair of persons kept apart, through later merges), the actions that need a record refused, the rest working.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from duplicate_cases import THIRD_RECORD, duplicate_case
from held_cases import STEWARD, hold_in_review, today, weight_of
from mpi.auth import add_user
from mpi.errors import Conflict, ValidationError

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


@pytest.fixture
def dup(services):
    return duplicate_case(services)


def audit_of(services, case_id, action):
    return [e for e in services.store.audit.events("review_case", case_id) if e["action"] == action]


def test_a_duplicate_case_holds_both_persons_and_no_record(services, dup):
    case = services.cases.get(dup.case_id)

    assert case["kind"] == "POSSIBLE_DUPLICATE" and case["record"] is None
    assert [c["person_id"] for c in case["candidates"]] == [dup.a, dup.b]
    assert all(c["person"]["records"] and c["evidence"][0]["comparison"] == "prior" for c in case["candidates"])


def test_not_duplicate_keeps_the_two_persons_apart_and_resolves_the_case(services, dup):
    result = services.cases.resolve_not_duplicate(dup.case_id, STEWARD, "different mothers' maiden names", 1)

    assert (result["state"], result["resolution"], result["outcome"]) == ("resolved", "not_duplicate", None)
    assert services.store.cases.are_apart(dup.a, dup.b) and services.store.cases.are_apart(dup.b, dup.a)
    assert services.store.cases.persons_apart() == {frozenset({dup.a, dup.b})}
    [event] = audit_of(services, dup.case_id, "case.not_duplicate")
    assert (event["actor"], event["reason"]) == (STEWARD, "different mothers' maiden names")
    assert event["detail"]["person_ids"] == [dup.a, dup.b]
    assert event["detail"]["kind"] == "POSSIBLE_DUPLICATE" and event["detail"]["record"] is None
    # Both persons are as they were: nothing merged, no record moved.
    assert {services.store.persons.get(p)["status"] for p in (dup.a, dup.b)} == {"ACTIVE"}


def test_a_pair_kept_apart_holds_for_the_survivor_when_one_is_later_merged_into_a_third(services, dup):
    services.cases.resolve_not_duplicate(dup.case_id, STEWARD, "twins", 1)
    third = services.matching.submit(THIRD_RECORD, "test")["person_id"]

    merge_id = services.merges.merge(third, dup.b, "user:bob", "registered twice")

    assert services.store.cases.are_apart(dup.a, third)
    assert services.store.cases.are_apart(dup.a, dup.b)  # an id merged away stands for its survivor
    assert services.store.cases.persons_apart() == {frozenset({dup.a, third})}
    assert not services.store.cases.are_apart(dup.b, third)  # one person now: nothing to keep apart
    # Undone, the pair reads as decided again.
    services.merges.unmerge(merge_id, "user:bob", "wrong merge")
    assert services.store.cases.persons_apart() == {frozenset({dup.a, dup.b})}
    assert not services.store.cases.are_apart(dup.a, third)


def test_a_pair_kept_apart_holds_when_the_third_is_merged_into_one_of_them(services, dup):
    services.cases.resolve_not_duplicate(dup.case_id, STEWARD, "twins", 1)
    third = services.matching.submit(THIRD_RECORD, "test")["person_id"]

    services.merges.merge(dup.a, third, "user:bob", "registered twice")

    assert services.store.cases.are_apart(dup.a, dup.b) and services.store.cases.are_apart(third, dup.b)
    assert services.store.cases.persons_apart() == {frozenset({dup.a, dup.b})}


def test_a_steward_merges_the_two_persons_from_the_case_choosing_the_survivor(services, dup):
    result = services.cases.resolve_by_merge(dup.case_id, dup.b, dup.a, STEWARD, "same SSN and birth date", 1)

    assert (result["state"], result["resolution"]) == ("resolved", "merged")
    loser = services.store.persons.get(dup.a)
    assert (loser["status"], loser["redirect_to"]) == ("REDIRECTED", dup.b)
    assert len(services.store.persons.records_of(dup.b)) == 2
    [event] = audit_of(services, dup.case_id, "case.merged")
    assert event["detail"]["merge_id"] == result["merge_id"] and event["actor"] == STEWARD
    [merged] = [e for e in services.store.audit.events("person", dup.a) if e["action"] == "person.merged"]
    assert merged["detail"]["case_id"] == dup.case_id and merged["detail"]["survivor_id"] == dup.b
    assert services.merges.get(result["merge_id"])["case_id"] == dup.case_id


@pytest.mark.parametrize("survivor, loser, field", [
    ("third", "b", "survivor_id"), ("a", "third", "loser_id"), ("a", "a", "loser_id"),
])
def test_a_merge_from_a_duplicate_case_joins_only_its_two_persons(services, dup, survivor, loser, field):
    ids = {"a": dup.a, "b": dup.b, "third": services.matching.submit(THIRD_RECORD, "test")["person_id"]}

    with pytest.raises(ValidationError) as e:
        services.cases.resolve_by_merge(dup.case_id, ids[survivor], ids[loser], STEWARD, "one human", 1)

    assert field in e.value.errors
    assert services.cases.get(dup.case_id)["version"] == 1
    assert {services.store.persons.get(p)["status"] for p in ids.values()} == {"ACTIVE"}


@pytest.mark.parametrize("action", ["link", "new_person"])
def test_actions_that_need_a_record_are_refused_naming_the_kind(services, dup, action):
    with pytest.raises(Conflict) as e:
        if action == "link":
            services.cases.resolve_linked(dup.case_id, dup.a, STEWARD, "same person", 1)
        else:
            services.cases.resolve_new_person(dup.case_id, STEWARD, "nobody we hold", 1)

    assert "kind" in e.value.errors and "no record" in e.value.message
    case = services.cases.get(dup.case_id)
    assert (case["state"], case["version"]) == ("open", 1)


@pytest.mark.parametrize("action", ["merge", "not_duplicate"])
def test_a_stale_version_is_a_conflict_and_changes_nothing(services, dup, action):
    services.cases.claim(dup.case_id, "user:bob", "mine", 1)

    with pytest.raises(Conflict) as e:
        if action == "merge":
            services.cases.resolve_by_merge(dup.case_id, dup.a, dup.b, STEWARD, "one human", 1)
        else:
            services.cases.resolve_not_duplicate(dup.case_id, STEWARD, "two humans", 1)

    assert "version" in e.value.errors
    assert services.cases.get(dup.case_id)["state"] == "in_review"
    assert services.store.persons.get(dup.b)["status"] == "ACTIVE"
    assert not services.store.cases.are_apart(dup.a, dup.b)


def test_claim_assign_hold_release_blocks_and_withdraw_work_on_a_duplicate_case(services, dup):
    add_user(services.store, "carol", "steward")
    cases = services.cases

    assert cases.claim(dup.case_id, STEWARD, "taking it", 1)["owner"] == "alice"
    assert cases.assign(dup.case_id, "carol", STEWARD, "carol knows the plan", 2)["owner"] == "carol"
    held = cases.hold(dup.case_id, STEWARD, "calling the plan", 3, today() + timedelta(days=2))
    assert held["state"] == "on_hold" and held["hold"]["note"] == "calling the plan"
    assert cases.release(dup.case_id, STEWARD, "plan called back", 4)["state"] == "in_review"
    blocked = cases.set_blocks(dup.case_id, [{"kind": "referral", "id": "R-1", "priority": "urgent"}], STEWARD,
                               "a referral waits", 5)
    assert blocked["priority"] == "urgent"
    assert cases.withdraw(dup.case_id, STEWARD, "handled elsewhere", 6)["state"] == "withdrawn"
    assert [e["action"] for e in services.store.audit.events("review_case", dup.case_id)][::-1][-6:] == [
        "case.claimed", "case.assigned", "case.on_hold", "case.released", "case.blocks_set", "case.withdrawn"]


def test_not_duplicate_is_refused_when_the_two_persons_were_merged_since(services, dup):
    services.merges.merge(dup.a, dup.b, "user:bob", "merged from the person page")

    # The merge withdrew the case (mpi.stewardship.rescoring): a form read before it is stale, and the
    # withdrawn case itself takes no decision.
    with pytest.raises(Conflict):
        services.cases.resolve_not_duplicate(dup.case_id, STEWARD, "two humans", 1)
    case = services.cases.get(dup.case_id)
    assert case["state"] == "withdrawn"
    with pytest.raises(Conflict):
        services.cases.resolve_not_duplicate(dup.case_id, STEWARD, "two humans", case["version"])
    assert services.store.cases.persons_apart() == set()


def test_the_queue_filters_by_kind(services, dup, activate_policy):
    services.matching.submit(THIRD_RECORD, "test")
    partial = {k: THIRD_RECORD[k] for k in ("first_name", "last_name", "birth_date")}
    partial.update(source_system="foodbank-cbo", source_record_id="FB-10")
    weight = weight_of(services, partial)
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    case_id = hold_in_review(services, partial)

    assert [c["case_id"] for c in services.cases.queue(kind="POSSIBLE_MATCH")] == [case_id]
    assert [c["case_id"] for c in services.cases.queue(kind="POSSIBLE_DUPLICATE")] == [dup.case_id]
    assert dup.case_id not in [c["case_id"] for c in services.cases.queue(kind="POSSIBLE_MATCH")]
    with pytest.raises(ValidationError) as e:
        services.cases.queue(kind="MATCH")
    assert "kind" in e.value.errors
