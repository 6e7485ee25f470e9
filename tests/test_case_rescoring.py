"""Cases that stay true: a merge, unmerge or link elsewhere re-scores the open cases naming the persons it touched.

Through the whole stack: merges and links are made through the API (or the services the API calls), the
events are delivered after commit as in production, and the case is read back through the API.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from conftest import record
from mpi.errors import Conflict
from duplicate_cases import open_duplicate
from test_held_because import PARTIAL, steward, submit  # noqa: F401 (steward: a fixture)

#: Marisol's record with another phone and address: a person of its own under a policy that links nothing.
MOVED = {**record("marisol", "bluepath-mco", "BPM-77"), "phone": "(404) 555-7311",
         "address_line1": "12 Edgewood Ave", "postal_code": "30307"}


def case_of(client, steward, case_id) -> dict:
    response = client.get(f"/v1/review-cases/{case_id}", headers=steward)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rescored(services, case_id) -> list[dict]:
    return [e for e in services.store.audit.events("review_case", case_id) if e["action"] == "case.rescored"]


def fresh(client, auth, body) -> list[tuple[str, float]]:
    """What the record scores against the index now (``/v1/match``): (person id, weight), best first."""
    candidates = client.post("/v1/match", json=body, headers=auth).get_json()["candidates"]
    return [(c["person_id"], c["match_weight"]) for c in candidates]


@pytest.fixture
def between_two(client, auth, activate_policy):
    """Two persons of one Marisol, and a third record of her held between them: (p1, p2, case id)."""
    activate_policy(lower_match_weight=1e6, upper_match_weight=1e6)
    p1 = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    p2 = submit(client, auth, MOVED)["person_id"]
    third = record("marisol", "fqhc-eastside", "EF-5")
    weight = fresh(client, auth, third)[0][1]
    activate_policy(lower_match_weight=weight - 40, upper_match_weight=weight + 1, ambiguity_margin=6.0)
    body = submit(client, auth, third)
    assert body["decision"] == "POSSIBLE_MATCH"
    assert {c["person_id"] for c in body["candidates"]} == {p1, p2}
    return p1, p2, body["review_case_id"]


def test_a_merge_moves_the_losers_candidacy_to_the_survivor_scored_afresh(client, auth, steward, services,
                                                                          between_two):
    p1, p2, case_id = between_two
    before = case_of(client, steward, case_id)
    old = {c["person_id"]: c["match_weight"] for c in before["candidates"]}

    merged = client.post("/v1/persons/merge", json={"survivor_id": p1, "loser_id": p2, "reason": "one Marisol"},
                         headers=steward)

    assert merged.status_code == 201, merged.get_json()
    after = case_of(client, steward, case_id)
    now = fresh(client, auth, record("marisol", "fqhc-eastside", "EF-5"))
    assert [(c["person_id"], c["match_weight"]) for c in after["candidates"]] == now
    assert [c["person_id"] for c in after["candidates"]] == [p1]  # p2 is no longer offered
    assert after["candidates"][0]["match_weight"] >= max(old.values())  # the survivor has both records now
    assert after["version"] == before["version"] + 1 and after["state"] == "open"
    assert after["held_because"]["code"] == "review_band" and p2 not in after["held_because"]["sentence"]
    [event] = rescored(services, case_id)
    assert event["actor"] == "system:rescore" and merged.get_json()["merge_id"] in event["reason"]
    assert {c["person_id"] for c in event["detail"]["old_candidates"]} == {p1, p2}
    assert event["detail"]["new_candidates"] == [{"person_id": p, "match_weight": w} for p, w in now]
    # A steward's form read before the merge is stale: the usual 409, nothing written.
    stale = client.post(f"/v1/review-cases/{case_id}/link", json={"person_id": p2, "reason": "x", "version": 1},
                        headers=steward)
    assert stale.status_code == 409


def test_an_unmerge_brings_the_loser_back_as_a_candidate(client, auth, steward, services, between_two):
    p1, p2, case_id = between_two
    merge_id = client.post("/v1/persons/merge", json={"survivor_id": p1, "loser_id": p2, "reason": "one Marisol"},
                           headers=steward).get_json()["merge_id"]

    undone = client.post(f"/v1/merges/{merge_id}/unmerge", json={"reason": "two after all"}, headers=steward)

    assert undone.status_code == 200, undone.get_json()
    after = case_of(client, steward, case_id)
    assert {c["person_id"] for c in after["candidates"]} == {p1, p2}
    assert [(c["person_id"], c["match_weight"]) for c in after["candidates"]] == \
        fresh(client, auth, record("marisol", "fqhc-eastside", "EF-5"))
    events = rescored(services, case_id)
    assert len(events) == 2 and merge_id in events[0]["reason"] and "unmerge" in events[0]["reason"]


@pytest.fixture
def naming_marisol(client, auth, activate_policy):
    """Marisol's person and an open case naming it (her partial record, in the band): (person id, case id)."""
    p1 = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    weight = fresh(client, auth, PARTIAL)[0][1]
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    return p1, submit(client, auth, PARTIAL)["review_case_id"]


def another_of_hers(client, auth, record_id: str) -> dict:
    """One more record of Marisol, elsewhere, that links to her person."""
    return submit(client, auth, {**MOVED, "source_system": "fqhc-eastside", "source_record_id": record_id,
                                 "phone": record("marisol", "x", "y")["phone"]})


def test_a_link_elsewhere_rescores_the_case_naming_that_person(client, auth, steward, services, naming_marisol):
    p1, case_id = naming_marisol
    before = case_of(client, steward, case_id)

    linked = another_of_hers(client, auth, "EF-1")

    assert linked["decision"] == "MATCH" and linked["person_id"] == p1
    after = case_of(client, steward, case_id)
    assert [(c["person_id"], c["match_weight"]) for c in after["candidates"]] == fresh(client, auth, PARTIAL)
    [event] = rescored(services, case_id)
    assert "fqhc-eastside/EF-1" in event["reason"] and after["version"] == before["version"] + 1


def test_links_inside_a_deferred_window_rescore_once_at_its_end(client, auth, steward, services, naming_marisol):
    # As `mpi load` links thousands of records: no case re-scored per link, each once when the window closes.
    p1, case_id = naming_marisol
    before = case_of(client, steward, case_id)

    with services.rescorer.deferred("a test load") as counts:
        for record_id in ("EF-1", "EF-2"):
            assert another_of_hers(client, auth, record_id)["person_id"] == p1
        assert case_of(client, steward, case_id)["version"] == before["version"] and not rescored(services, case_id)

    after = case_of(client, steward, case_id)
    assert [(c["person_id"], c["match_weight"]) for c in after["candidates"]] == fresh(client, auth, PARTIAL)
    [event] = rescored(services, case_id)
    assert "a test load" in event["reason"] and after["version"] == before["version"] + 1
    assert counts == {"cases": 1, "rescored": 1}
    # Outside the window a link re-scores at once again.
    another_of_hers(client, auth, "EF-3")
    assert len(rescored(services, case_id)) == 2


def test_a_deferred_window_rescores_only_the_cases_it_touched_or_opened(client, auth, steward, services,
                                                                        naming_marisol):
    # A load that links nobody an open case names leaves that case alone: it is as true as it was.
    _, case_id = naming_marisol
    before = case_of(client, steward, case_id)

    with services.rescorer.deferred("a test load") as counts:
        assert submit(client, auth, record("desmond", "fqhc-eastside", "EF-9"))["decision"] == "NO_MATCH"
        opened = submit(client, auth, {**PARTIAL, "source_system": "bluepath-mco", "source_record_id": "BPM-5"})

    assert opened["decision"] == "POSSIBLE_MATCH"
    assert counts == {"cases": 1, "rescored": 0}  # the case it opened, scored as it ends: unchanged
    assert case_of(client, steward, case_id)["version"] == before["version"] and not rescored(services, case_id)
    # A resumed load's window re-scores every open case (its killed run may have missed events): the first case
    # too, whose weights moved a little with the frequencies of the records the window added.
    with services.rescorer.deferred("a resumed load", whole=True) as counts:
        pass
    assert counts == {"cases": 2, "rescored": 1} and len(rescored(services, case_id)) == 1


def test_a_case_on_hold_is_rescored_and_stays_on_hold(client, auth, steward, services, between_two):
    p1, p2, case_id = between_two
    follow_up = (date.today() + timedelta(days=7)).isoformat()
    held = client.post(f"/v1/review-cases/{case_id}/hold", json={"reason": "calling her", "version": 1,
                                                                  "follow_up": follow_up}, headers=steward)
    assert held.status_code == 200, held.get_json()

    client.post("/v1/persons/merge", json={"survivor_id": p1, "loser_id": p2, "reason": "one"}, headers=steward)

    after = case_of(client, steward, case_id)
    assert after["state"] == "on_hold" and after["hold"]["follow_up"] == follow_up
    assert [c["person_id"] for c in after["candidates"]] == [p1] and rescored(services, case_id)


def test_the_case_its_own_resolution_touches_is_not_rescored(client, auth, steward, services, between_two):
    p1, _, case_id = between_two

    done = client.post(f"/v1/review-cases/{case_id}/link", json={"person_id": p1, "reason": "same", "version": 1},
                       headers=steward)

    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "resolved" and not rescored(services, case_id)


def test_a_duplicate_case_withdrawn_when_its_persons_are_merged_elsewhere(client, auth, steward, services,
                                                                          activate_policy):
    activate_policy(lower_match_weight=1e6, upper_match_weight=1e6)
    p1 = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    p2 = submit(client, auth, MOVED)["person_id"]
    case_id = open_duplicate(services, p1, p2)

    client.post("/v1/persons/merge", json={"survivor_id": p1, "loser_id": p2, "reason": "one"}, headers=steward)

    after = case_of(client, steward, case_id)
    assert after["state"] == "withdrawn"
    withdrawn = [e for e in services.store.audit.events("review_case", case_id) if e["action"] == "case.withdrawn"]
    assert withdrawn and "merged elsewhere" in withdrawn[0]["reason"]


def test_a_duplicate_case_follows_its_person_merged_into_a_third(client, auth, steward, services, activate_policy):
    activate_policy(lower_match_weight=1e6, upper_match_weight=1e6)
    p1 = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    p2 = submit(client, auth, MOVED)["person_id"]
    p3 = submit(client, auth, record("marisol", "fqhc-eastside", "EF-5"))["person_id"]
    case_id = open_duplicate(services, p1, p2)
    version = case_of(client, steward, case_id)["version"]

    client.post("/v1/persons/merge", json={"survivor_id": p3, "loser_id": p2, "reason": "one"}, headers=steward)

    after = case_of(client, steward, case_id)
    assert after["state"] == "open" and after["version"] == version + 1
    assert [c["person_id"] for c in after["candidates"]] == [p1, p3]
    assert p3 in after["held_because"]["sentence"] and after["held_because"]["code"] == "possible_duplicate"


def _written(services, case_ids) -> tuple[list, list]:
    """The open transaction's rows of these cases as a re-score writes them (timestamps and event ids aside):
    each case's version, candidates and reason, and its ``case.rescored`` audit events in the order written."""
    cases = services.store.cases.get_many(case_ids)
    rows = [(c["case_id"], c["version"], [(x["rank"], x["person_id"], x["match_weight"], x["match_probability"],
                                           x["evidence"]) for x in c["candidates"]], c["reason"])
            for c in (cases[i] for i in case_ids)]
    audit = services.store.db.query(
        "SELECT actor, action, entity_id, reason, detail FROM audit_log WHERE action = 'case.rescored' "
        "ORDER BY event_id")
    return rows, audit


class _Undo(Exception):
    pass


def test_a_sweep_writes_what_rescoring_each_case_alone_writes(client, auth, steward, services, naming_marisol):
    # The sweep at a load's end scores every case, then writes them together (a few statements); each case
    # re-scored alone writes its own. Both, on one real store and rolled back, write the same rows and audit.
    p1, first = naming_marisol
    another_of_hers(client, auth, "EF-1")  # re-scored at once: the first case is at version 2, the second at 1
    second = submit(client, auth, {**PARTIAL, "source_system": "bluepath-mco", "source_record_id": "BPM-5"})
    second = second["review_case_id"]
    case_ids = [first, second]
    with services.rescorer.deferred("a test load") as counts:
        another_of_hers(client, auth, "EF-2")  # both cases now name a person with a record more
        written = []
        for each_alone in (False, True):
            with pytest.raises(_Undo), services.store.transaction():
                if each_alone:
                    cases = services.store.cases.get_many(case_ids)
                    assert all(services.rescorer.rescore(cases[i], "a test load") for i in case_ids)
                else:
                    assert services.rescorer.rescore_open("a test load") == {"cases": 2, "rescored": 2}
                written.append(_written(services, case_ids))
                raise _Undo
        assert [c["version"] for c in services.store.cases.get_many(case_ids).values()] == [2, 1]

    together, alone = written
    assert together == alone
    assert [version for _, version, _, _ in together[0]] == [3, 2]
    assert counts == {"cases": 2, "rescored": 2}  # and the window's own sweep, after
    for case_id in case_ids:
        assert [(c["person_id"], c["match_weight"]) for c in case_of(client, steward, case_id)["candidates"]] == \
            fresh(client, auth, {**PARTIAL, **({"source_system": "bluepath-mco", "source_record_id": "BPM-5"}
                                                if case_id == second else {})})


def test_a_sweep_refuses_a_case_changed_since_it_was_read(client, auth, steward, services, naming_marisol):
    _, case_id = naming_marisol
    another_of_hers(client, auth, "EF-1")
    case = services.store.cases.get(case_id)
    with services.store.transaction():
        services.store.cases.touch({case_id: case["version"]})  # as a steward's action would, meanwhile

    with pytest.raises(Conflict), services.store.transaction():
        services.store.cases.touch({case_id: case["version"]})
    assert services.store.cases.get(case_id)["version"] == case["version"] + 1


def test_the_sweep_takes_what_the_rematch_found_until_identity_changes(client, auth, steward, services,
                                                                       naming_marisol, monkeypatch):
    # A load's re-match scores every held record; the sweep after it takes those candidates rather than
    # scoring the same records against the same index again, but not once a link has changed the index.
    p1, case_id = naming_marisol
    scored = []
    find = services.matching.find_candidates
    monkeypatch.setattr(services.matching, "find_candidates",
                        lambda norm, model, exclude=None: scored.append(exclude) or find(norm, model, exclude))
    key = (PARTIAL["source_system"], PARTIAL["source_record_id"])

    with services.rescorer.deferred("a test load") as counts:
        another_of_hers(client, auth, "EF-1")
        scored.clear()
        assert services.matching.rematch_open_cases("test") == {"linked": 0, "passes": 1, "scored": 1}
        assert scored == [key]
    assert scored == [key] and counts == {"cases": 1, "rescored": 1}  # the sweep scored nothing again
    assert [(c["person_id"], c["match_weight"]) for c in case_of(client, steward, case_id)["candidates"]] == \
        fresh(client, auth, PARTIAL)

    with services.rescorer.deferred("a test load") as counts:
        services.matching.rematch_open_cases("test")
        another_of_hers(client, auth, "EF-2")  # after the re-match: what it found is stale
        scored.clear()
    assert key in scored and counts == {"cases": 1, "rescored": 1}
    assert [(c["person_id"], c["match_weight"]) for c in case_of(client, steward, case_id)["candidates"]] == \
        fresh(client, auth, PARTIAL)
