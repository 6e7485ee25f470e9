"""The review workflow (``services.cases``) on a real store: queue, actions, versions, memory of not-duplicates.

Cases are made the way production makes them: a record scored into the review
band of a policy placed around a weight the test measures first.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from conftest import record
from mpi.auth import add_user
from mpi.errors import Conflict, NotFound, ValidationError
from mpi.services import Services
from mpi.stewardship.priority import CaseTargets, priority_for
from mpi.store.schema import LATEST_VERSION

PARTIAL = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
           "last_name": "Quintanilla", "birth_date": "1984-03-17"}
STEWARD = "user:alice"


def today() -> date:
    return datetime.now(timezone.utc).date()


def partial(source_system: str = "foodbank-cbo", source_record_id: str = "FB-3") -> dict:
    return {**PARTIAL, "source_system": source_system, "source_record_id": source_record_id}


def weight_of(services, body) -> float:
    candidates = services.matching.match(body, "test")["candidates"]
    assert candidates, "expected a candidate"
    return candidates[0]["match_weight"]


@pytest.fixture
def band(services, activate_policy):
    """Marisol's person, and a policy whose review band holds a partial record of her."""
    services.ensure_active_model("test")
    person_id = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    weight = weight_of(services, PARTIAL)
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    return SimpleNamespace(person_id=person_id, weight=weight)


def hold_in_review(services, body) -> str:
    result = services.matching.submit(body, "test")
    assert result["decision"] == "POSSIBLE_MATCH", result["decision"]
    return result["review_case_id"]


@pytest.fixture
def case_id(services, band) -> str:
    return hold_in_review(services, PARTIAL)


def version(services, case_id) -> int:
    return services.cases.get(case_id)["version"]


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


def ids(cases) -> list[str]:
    return [c["case_id"] for c in cases]


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
    events = services.store.audit_events("review_case", case_id)
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

    again = services.matching.submit(PARTIAL, "test")  # the source sends it again

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


# --------------------------------------------------------------------------------- reasons, versions, audit

ACTIONS = {
    "claim": lambda c, cid, p, r, v: c.claim(cid, STEWARD, r, v),
    "assign": lambda c, cid, p, r, v: c.assign(cid, "alice", STEWARD, r, v),
    "link": lambda c, cid, p, r, v: c.resolve_linked(cid, p, STEWARD, r, v),
    "new_person": lambda c, cid, p, r, v: c.resolve_new_person(cid, STEWARD, r, v),
    "not_duplicate": lambda c, cid, p, r, v: c.resolve_not_duplicate(cid, STEWARD, r, v),
    "merged": lambda c, cid, p, r, v: c.resolve_merged(cid, STEWARD, r, v, "MG00000001"),
    "hold": lambda c, cid, p, r, v: c.hold(cid, STEWARD, r, v, today() + timedelta(days=3)),
    "withdraw": lambda c, cid, p, r, v: c.withdraw(cid, STEWARD, r, v),
    "set_blocks": lambda c, cid, p, r, v: c.set_blocks(cid, [{"kind": "referral", "id": "R1"}], STEWARD, r, v),
}
EVENTS = {"claim": "case.claimed", "assign": "case.assigned", "link": "case.linked", "new_person": "case.new_person",
          "not_duplicate": "case.not_duplicate", "merged": "case.merged", "hold": "case.on_hold",
          "withdraw": "case.withdrawn", "set_blocks": "case.blocks_set"}
OUTCOMES = {"claim": ("in_review", None), "assign": ("in_review", None), "link": ("resolved", "linked"),
            "new_person": ("resolved", "new_person"), "not_duplicate": ("resolved", "not_duplicate"),
            "merged": ("resolved", "merged"), "hold": ("on_hold", None), "withdraw": ("withdrawn", None),
            "set_blocks": ("open", None)}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_is_audited_with_actor_reason_and_ids(services, band, case_id, action):
    add_user(services.store, "alice", "steward")

    result = ACTIONS[action](services.cases, case_id, band.person_id, "checked with the clinic", 1)

    assert (result["state"], result["resolution"]) == OUTCOMES[action]
    assert result["version"] == 2
    event = next(e for e in services.store.audit_events("review_case", case_id) if e["action"] == EVENTS[action])
    assert event["actor"] == STEWARD
    assert event["reason"] == "checked with the clinic"
    assert event["detail"]["record"] == "foodbank-cbo/FB-3"
    assert event["detail"]["version"] == 2
    assert event["occurred_at"] is not None


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_every_action_needs_a_reason(services, band, case_id, action, reason):
    add_user(services.store, "alice", "steward")
    before = len(services.store.audit_events(limit=10_000))

    with pytest.raises(ValidationError) as e:
        ACTIONS[action](services.cases, case_id, band.person_id, reason, 1)

    assert "reason" in e.value.errors
    assert version(services, case_id) == 1
    assert len(services.store.audit_events(limit=10_000)) == before


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_stale_version_is_a_conflict_and_changes_nothing(services, band, case_id, action):
    add_user(services.store, "alice", "steward")
    services.cases.claim(case_id, "user:bob", "first", 1)  # bob acted first: the case is at version 2
    before = services.cases.get(case_id)
    events = len(services.store.audit_events(limit=10_000))

    with pytest.raises(Conflict) as e:
        ACTIONS[action](services.cases, case_id, band.person_id, "too late", 1)

    assert e.value.status == 409 and "version" in e.value.errors
    after = services.cases.get(case_id)
    assert (after["version"], after["state"], after["owner"]) == (2, "in_review", "bob")
    assert len(services.store.audit_events(limit=10_000)) == events
    assert services.store.get_record("foodbank-cbo", "FB-3")["link"] is None


def test_a_refused_action_does_not_rebuild_the_candidate_index(services, case_id):
    index = services.matching.index()

    with pytest.raises(Conflict):
        services.cases.claim(case_id, STEWARD, "stale", 7)

    assert services.matching.index() is index


def test_claim_of_a_case_another_steward_reviews_is_a_conflict_but_assign_hands_it_over(services, case_id):
    add_user(services.store, "carol", "steward")
    add_user(services.store, "hubby", "hub")
    services.cases.claim(case_id, "user:bob", "mine", 1)

    with pytest.raises(Conflict) as e:
        services.cases.claim(case_id, STEWARD, "mine too", 2)
    assert "owner" in e.value.errors
    with pytest.raises(ValidationError) as e:
        services.cases.assign(case_id, "hubby", "user:bob", "hand over", 2)
    assert "owner" in e.value.errors

    case = services.cases.assign(case_id, "carol", "user:bob", "going on leave", 2)
    assert (case["owner"], case["state"], case["version"]) == ("carol", "in_review", 3)


def test_a_closed_case_takes_no_more_actions(services, case_id):
    services.cases.withdraw(case_id, STEWARD, "source retracted it", 1)

    with pytest.raises(Conflict) as e:
        services.cases.claim(case_id, STEWARD, "late", 2)
    assert "state" in e.value.errors


# ------------------------------------------------------------------------------------------- resolutions

def test_resolve_linked_links_manually_and_updates_the_index(services, band, case_id):
    case = services.cases.resolve_linked(case_id, band.person_id, STEWARD, "same phone on the intake form", 1)

    assert (case["state"], case["resolution"]) == ("resolved", "linked")
    stored = services.store.get_record("foodbank-cbo", "FB-3")
    assert (stored["link"]["person_id"], stored["link"]["link_source"]) == (band.person_id, "MANUAL")
    assert stored["link"]["score"] == pytest.approx(band.weight, abs=1e-4)
    assert stored["review_case_id"] is None
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).person_id == band.person_id
    assert sorted(r["source_record_id"] for r in services.store.person_records(band.person_id)) == ["FB-3", "MRN-1"]
    link_events = services.store.audit_events("record", "foodbank-cbo/FB-3")
    assert link_events[0]["action"] == "link.created"
    assert link_events[0]["detail"]["link_source"] == "MANUAL" and link_events[0]["detail"]["case_id"] == case_id
    # The record now stands for her: a new record like it finds her through both.
    assert services.matching.match(partial("other", "X-1"), "test")["candidates"][0]["person_id"] == band.person_id


def test_resolve_linked_only_to_a_candidate(services, case_id):
    other = services.matching.submit(record("theodore", "county-general-ehr", "CG-1"), "test")["person_id"]

    with pytest.raises(ValidationError) as e:
        services.cases.resolve_linked(case_id, other, STEWARD, "wrong one", 1)

    assert list(e.value.errors) == ["person_id"]
    assert services.store.get_record("foodbank-cbo", "FB-3")["link"] is None


def test_resolve_new_person_makes_a_person_linked_manually(services, band, case_id):
    persons = services.store.counts()["persons"]

    services.cases.resolve_new_person(case_id, STEWARD, "different mother's maiden name", 1)

    link = services.store.get_record("foodbank-cbo", "FB-3")["link"]
    assert link["person_id"] != band.person_id and link["link_source"] == "MANUAL"
    assert services.store.counts()["persons"] == persons + 1
    assert services.store.resolve_person(link["person_id"])["golden"]["first_name"] == "MARISOL"


def test_resolve_merged_only_closes_the_case_naming_the_merge(services, case_id):
    case = services.cases.resolve_merged(case_id, STEWARD, "persons merged", 1, "MG00000007")

    assert (case["state"], case["resolution"]) == ("resolved", "merged")
    event = services.store.audit_events("review_case", case_id)[0]
    assert (event["action"], event["detail"]["merge_id"]) == ("case.merged", "MG00000007")
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).case_id is None


# --------------------------------------------------------------------------------------- not a duplicate

def test_not_duplicate_is_never_reopened_by_submitting_the_record_again(config, services, band, case_id):
    case = services.cases.resolve_not_duplicate(case_id, STEWARD, "twin sister, confirmed by the clinic", 1)

    assert (case["state"], case["resolution"]) == ("resolved", "not_duplicate")
    assert case["outcome"]["decision"] == "NO_MATCH"
    own = case["outcome"]["person_id"]
    assert own != band.person_id
    assert services.store.not_duplicates_of("foodbank-cbo", "FB-3")[0]["person_id"] == band.person_id

    again = services.matching.submit(PARTIAL, "test")
    assert (again["decision"], again["person_id"], again["review_case_id"]) == ("NO_MATCH", own, None)
    assert band.person_id not in [c["person_id"] for c in services.matching.match(PARTIAL, "test")["candidates"]]
    assert services.cases.queue() == []

    # Remembered in the store, not only in memory: a restarted service skips the pair too.
    services.close()
    restarted = Services(config)
    try:
        after = restarted.matching.submit({**PARTIAL, "phone": "404-555-0199"}, "test")
        assert (after["decision"], after["review_case_id"]) == ("NO_MATCH", None)
        assert restarted.cases.queue() == []
    finally:
        restarted.close()


def test_not_duplicate_is_never_reopened_by_rematching(services, activate_policy):
    services.ensure_active_model("test")
    # Two persons for Marisol (a policy that links nothing), then a third record of her between them.
    activate_policy(lower_match_weight=1e6, upper_match_weight=1e6)
    p1 = services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")["person_id"]
    p2 = services.matching.submit(record("marisol", "bluepath-mco", "BPM-7"), "test")["person_id"]
    third = record("marisol", "fqhc-eastside", "EF-5")
    weight = weight_of(services, third)
    activate_policy(lower_match_weight=weight - 10, upper_match_weight=weight + 1, ambiguity_margin=0.0)
    case_id = hold_in_review(services, third)
    assert {c["person_id"] for c in services.cases.get(case_id)["candidates"]} == {p1, p2}

    result = services.cases.resolve_not_duplicate(case_id, STEWARD, "p1 is her cousin", 1, person_id=p1)

    reopened = result["outcome"]["review_case_id"]
    assert [c["person_id"] for c in services.cases.get(reopened)["candidates"]] == [p2]
    # Now a policy under which either person would be linked: p1 (first of a tie) if it were offered.
    activate_policy(lower_match_weight=weight - 10, upper_match_weight=weight - 1, ambiguity_margin=0.0)
    assert services.matching.match(record("marisol", "other", "O-1"), "test")["candidates"][0]["person_id"] == p1

    services.matching.rematch_open_cases("test")

    link = services.store.get_record("fqhc-eastside", "EF-5")["link"]
    assert link["person_id"] == p2
    opened = [e for e in services.store.audit_events("review_case", limit=10_000) if e["action"] == "case.opened"]
    assert all(p1 not in e["detail"]["candidates"] for e in opened if e["entity_id"] != case_id)


def test_not_duplicate_of_one_candidate_must_name_a_candidate(services, case_id):
    with pytest.raises(ValidationError) as e:
        services.cases.resolve_not_duplicate(case_id, STEWARD, "no", 1, person_id="MPI99999999")
    assert list(e.value.errors) == ["person_id"]
    assert services.store.not_duplicates_of("foodbank-cbo", "FB-3") == []


# ------------------------------------------------------------------------------------------ hold, withdraw

def test_hold_keeps_a_note_and_follow_up_until_released(services, case_id):
    follow_up = today() + timedelta(days=2)

    held = services.cases.hold(case_id, STEWARD, "calling the patient", 1, follow_up, note="left voicemail")

    assert (held["state"], held["owner"]) == ("on_hold", "alice")
    assert held["hold"]["note"] == "left voicemail"
    assert held["hold"]["follow_up"] == follow_up
    assert services.cases.queue(state="on_hold")[0]["hold"]["follow_up"] == follow_up
    # While on hold nobody can claim it, and re-matching leaves it alone.
    with pytest.raises(Conflict):
        services.cases.claim(case_id, "user:bob", "mine", 2)

    released = services.cases.release(case_id, STEWARD, "patient called back", 2)

    assert (released["state"], released["owner"], released["hold"]) == ("in_review", "alice", None)
    actions = [e["action"] for e in services.store.audit_events("review_case", case_id)]
    assert actions[:2] == ["case.released", "case.on_hold"]


def test_hold_needs_a_follow_up_date_not_in_the_past(services, case_id):
    with pytest.raises(ValidationError) as e:
        services.cases.hold(case_id, STEWARD, "calling", 1, today() - timedelta(days=1))
    assert list(e.value.errors) == ["follow_up"]
    with pytest.raises(ValidationError) as e:
        services.cases.hold(case_id, STEWARD, "calling", 1, None)
    assert list(e.value.errors) == ["follow_up"]


def test_resolving_a_case_on_hold_ends_its_hold(services, band, case_id):
    services.cases.hold(case_id, STEWARD, "calling", 1, today())

    case = services.cases.resolve_linked(case_id, band.person_id, STEWARD, "verified by phone", 2)

    assert (case["state"], case["hold"]) == ("resolved", None)


def test_withdraw_closes_the_case_and_leaves_the_record_unlinked(services, case_id):
    services.cases.withdraw(case_id, STEWARD, "the source retracted the record", 1)

    stored = services.store.get_record("foodbank-cbo", "FB-3")
    assert stored["review_case_id"] is None and stored["link"] is None
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).case_id is None
    assert services.cases.queue() == []


# ------------------------------------------------------------------------------------------------ undo

def test_undoing_a_manual_link_puts_the_record_back_to_review(services, band, case_id):
    services.cases.set_blocks(case_id, [{"kind": "referral", "id": "REF-4"}], "system:referrals", "referral", 1)
    services.cases.resolve_linked(case_id, band.person_id, STEWARD, "same phone", 2)

    undone = services.cases.undo_link("foodbank-cbo", "FB-3", STEWARD, "wrong Marisol: the phone was the clinic's")

    assert undone["previous_person_id"] == band.person_id
    new_case = undone["review_case"]
    assert new_case["case_id"] != case_id and new_case["state"] == "open"
    assert [c["person_id"] for c in new_case["candidates"]] == [band.person_id]
    assert new_case["candidates"][0]["evidence"]
    assert (new_case["priority"], new_case["blocks"][0]["id"]) == ("high", "REF-4")
    stored = services.store.get_record("foodbank-cbo", "FB-3")
    assert stored["link"] is None and stored["review_case_id"] == new_case["case_id"]
    assert [r["source_record_id"] for r in services.store.person_records(band.person_id)] == ["MRN-1"]
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).case_id == new_case["case_id"]
    event = services.store.audit_events("record", "foodbank-cbo/FB-3")[0]
    assert (event["action"], event["actor"]) == ("link.undone", STEWARD)
    assert event["reason"] == "wrong Marisol: the phone was the clinic's"
    assert event["detail"]["person_id"] == band.person_id
    assert ids(services.cases.queue()) == [new_case["case_id"]]


def test_only_a_manual_link_can_be_undone(services, band):
    with pytest.raises(Conflict):
        services.cases.undo_link("st-marys-ehr", "MRN-1", STEWARD, "machine's link")
    with pytest.raises(NotFound):
        services.cases.undo_link("st-marys-ehr", "NOPE", STEWARD, "no such record")
    with pytest.raises(ValidationError) as e:
        services.cases.undo_link("st-marys-ehr", "MRN-1", STEWARD, " ")
    assert "reason" in e.value.errors
    assert services.store.get_record("st-marys-ehr", "MRN-1")["link"]["person_id"] == band.person_id


# ---------------------------------------------------------------------------------------------- privacy

def test_case_actions_log_ids_never_names_or_birth_dates(caplog, services, band):
    caplog.set_level(logging.DEBUG)
    add_user(services.store, "alice", "steward")
    cases = services.cases
    c1 = hold_in_review(services, PARTIAL)
    c2 = hold_in_review(services, partial("foodbank-cbo", "FB-9"))
    cases.claim(c1, STEWARD, "Marisol Quintanilla 1984-03-17", 1)
    cases.hold(c1, STEWARD, "calling Marisol", 2, today(), note="Quintanilla born 1984-03-17")
    cases.release(c1, STEWARD, "Marisol called back", 3)
    cases.resolve_linked(c1, band.person_id, STEWARD, "Marisol confirmed", 4)
    cases.undo_link("foodbank-cbo", "FB-3", STEWARD, "not Marisol after all")
    cases.resolve_not_duplicate(c2, STEWARD, "Marisol's sister", 1)
    with pytest.raises(Conflict) as e:
        cases.withdraw(c2, STEWARD, "Marisol", 1)

    text = "\n".join(r.getMessage() for r in caplog.records) + e.value.message + str(e.value.errors)
    assert c1 in text
    for value in ("Marisol", "MARISOL", "Quintanilla", "QUINTANILLA", "1984-03-17"):
        assert value not in text


# ------------------------------------------------------------------------------------------- migration

def test_a_schema_2_store_gains_the_case_tables_and_its_cases_due_times(tmp_path, models_dir):
    import duckdb

    from mpi.store.schema import MIGRATIONS

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
    for number, statements in MIGRATIONS[:2]:
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (?, now())", [number])
    created = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
    con.execute("INSERT INTO review_cases VALUES ('RC00000001', 'POSSIBLE_MATCH', 'st-marys-ehr', 'MRN-1', 'open', "
                "'high', NULL, NULL, '[]', 'v1', ?, ?, NULL, 1)", [created, created])
    con.close()

    services = Services({"MPI_DB": str(path), "MPI_MODELS_DIR": str(models_dir)})
    try:
        assert services.store.schema_version() == LATEST_VERSION
        (case,) = services.cases.queue(now=created + timedelta(hours=23))
        assert (case["due_at"], case["overdue"]) == (created + timedelta(hours=24), False)
        assert ids(services.cases.queue(overdue=True, now=created + timedelta(hours=25))) == ["RC00000001"]
        assert services.cases.queue_counts(now=created + timedelta(hours=25))["overdue"] == 1
        assert services.store.not_duplicates_of("st-marys-ehr", "MRN-1") == []
    finally:
        services.close()
