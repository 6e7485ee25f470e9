"""The review workflow's actions (``services.cases``) on a real store: reasons, versions, resolutions, holds, undo.

Cases are made the way production makes them: a record scored into the review
band of a policy placed around a weight the test measures first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest

from conftest import add_hub, record
from held_cases import PARTIAL, STEWARD, band, case_id, hold_in_review, ids, partial, today, version, weight_of  # noqa: F401
from mpi.auth import add_user
from mpi.errors import Conflict, NotFound, ValidationError
from mpi.services import Services
from mpi.store.schema import LATEST_VERSION

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores

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
    event = next(e for e in services.store.audit.events("review_case", case_id) if e["action"] == EVENTS[action])
    assert event["actor"] == STEWARD
    assert event["reason"] == "checked with the clinic"
    assert event["detail"]["record"] == "foodbank-cbo/FB-3"
    assert event["detail"]["version"] == 2
    assert event["occurred_at"] is not None


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("reason", ["", "   ", None])
def test_every_action_needs_a_reason(services, band, case_id, action, reason):
    add_user(services.store, "alice", "steward")
    before = len(services.store.audit.events(limit=10_000))

    with pytest.raises(ValidationError) as e:
        ACTIONS[action](services.cases, case_id, band.person_id, reason, 1)

    assert "reason" in e.value.errors
    assert version(services, case_id) == 1
    assert len(services.store.audit.events(limit=10_000)) == before


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_stale_version_is_a_conflict_and_changes_nothing(services, band, case_id, action):
    add_user(services.store, "alice", "steward")
    services.cases.claim(case_id, "user:bob", "first", 1)  # bob acted first: the case is at version 2
    before = services.cases.get(case_id)
    events = len(services.store.audit.events(limit=10_000))

    with pytest.raises(Conflict) as e:
        ACTIONS[action](services.cases, case_id, band.person_id, "too late", 1)

    assert e.value.status == 409 and "version" in e.value.errors
    after = services.cases.get(case_id)
    assert (after["version"], after["state"], after["owner"]) == (2, "in_review", "bob") and after == before
    assert len(services.store.audit.events(limit=10_000)) == events
    assert services.store.records.get("foodbank-cbo", "FB-3")["link"] is None


def test_a_refused_action_does_not_rebuild_the_candidate_index(services, case_id):
    index = services.matching.index()

    with pytest.raises(Conflict):
        services.cases.claim(case_id, STEWARD, "stale", 7)

    assert services.matching.index() is index


def test_claim_of_a_case_another_steward_reviews_is_a_conflict_but_assign_hands_it_over(services, case_id):
    add_user(services.store, "carol", "steward")
    add_hub(services, "hubby")
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
    stored = services.store.records.get("foodbank-cbo", "FB-3")
    assert (stored["link"]["person_id"], stored["link"]["link_source"]) == (band.person_id, "MANUAL")
    assert stored["link"]["score"] == pytest.approx(band.weight, abs=1e-4)
    assert stored["review_case_id"] is None
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).person_id == band.person_id
    assert sorted(r["source_record_id"] for r in services.store.persons.records_of(band.person_id)) == ["FB-3", "MRN-1"]
    link_events = services.store.audit.events("record", "foodbank-cbo/FB-3")
    assert link_events[0]["action"] == "link.created"
    assert link_events[0]["detail"]["link_source"] == "MANUAL" and link_events[0]["detail"]["case_id"] == case_id
    # The record now stands for her: a new record like it finds her through both.
    assert services.matching.match(partial("other", "X-1"), "test")["candidates"][0]["person_id"] == band.person_id


def test_resolve_linked_only_to_a_candidate(services, case_id):
    other = services.matching.submit(record("theodore", "county-general-ehr", "CG-1"), "test")["person_id"]

    with pytest.raises(ValidationError) as e:
        services.cases.resolve_linked(case_id, other, STEWARD, "wrong one", 1)

    assert list(e.value.errors) == ["person_id"]
    assert services.store.records.get("foodbank-cbo", "FB-3")["link"] is None


def test_resolve_new_person_makes_a_person_linked_manually(services, band, case_id):
    persons = services.store.counts()["persons"]

    services.cases.resolve_new_person(case_id, STEWARD, "different mother's maiden name", 1)

    link = services.store.records.get("foodbank-cbo", "FB-3")["link"]
    assert link["person_id"] != band.person_id and link["link_source"] == "MANUAL"
    assert services.store.counts()["persons"] == persons + 1
    assert services.store.persons.resolve(link["person_id"])["golden"]["first_name"] == "MARISOL"


def test_resolve_merged_only_closes_the_case_naming_the_merge(services, case_id):
    case = services.cases.resolve_merged(case_id, STEWARD, "persons merged", 1, "MG00000007")

    assert (case["state"], case["resolution"]) == ("resolved", "merged")
    event = services.store.audit.events("review_case", case_id)[0]
    assert (event["action"], event["detail"]["merge_id"]) == ("case.merged", "MG00000007")
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).case_id is None


# --------------------------------------------------------------------------------------- not a duplicate

def test_not_duplicate_is_never_reopened_by_submitting_the_record_again(config, services, band, case_id):
    case = services.cases.resolve_not_duplicate(case_id, STEWARD, "twin sister, confirmed by the clinic", 1)

    assert (case["state"], case["resolution"]) == ("resolved", "not_duplicate")
    assert case["outcome"]["decision"] == "NO_MATCH"
    own = case["outcome"]["person_id"]
    assert own != band.person_id
    assert services.store.cases.not_duplicates_of("foodbank-cbo", "FB-3")[0]["person_id"] == band.person_id

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

    link = services.store.records.get("fqhc-eastside", "EF-5")["link"]
    assert link["person_id"] == p2
    opened = [e for e in services.store.audit.events("review_case", limit=10_000) if e["action"] == "case.opened"]
    assert all(p1 not in e["detail"]["candidates"] for e in opened if e["entity_id"] != case_id)


def test_not_duplicate_of_one_candidate_must_name_a_candidate(services, case_id):
    with pytest.raises(ValidationError) as e:
        services.cases.resolve_not_duplicate(case_id, STEWARD, "no", 1, person_id="MPI99999999")
    assert list(e.value.errors) == ["person_id"]
    assert services.store.cases.not_duplicates_of("foodbank-cbo", "FB-3") == []


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
    actions = [e["action"] for e in services.store.audit.events("review_case", case_id)]
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

    stored = services.store.records.get("foodbank-cbo", "FB-3")
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
    stored = services.store.records.get("foodbank-cbo", "FB-3")
    assert stored["link"] is None and stored["review_case_id"] == new_case["case_id"]
    assert [r["source_record_id"] for r in services.store.persons.records_of(band.person_id)] == ["MRN-1"]
    assert services.matching.index().get(("foodbank-cbo", "FB-3")).case_id == new_case["case_id"]
    event = services.store.audit.events("record", "foodbank-cbo/FB-3")[0]
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
    assert services.store.records.get("st-marys-ehr", "MRN-1")["link"]["person_id"] == band.person_id


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
        assert services.store.cases.not_duplicates_of("st-marys-ehr", "MRN-1") == []
    finally:
        services.close()
