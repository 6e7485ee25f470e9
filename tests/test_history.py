"""Person history and "who was this person on date D", replayed from the audit log of a real store."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from test_merges import people, steward  # noqa: F401  (fixtures)

from conftest import record
from mpi.errors import Conflict, NotFound, ValidationError
from mpi.identity.history import instant

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def keys(records) -> set[tuple[str, str]]:
    return {(r["source_system"], r["source_record_id"]) for r in records}


def linked_now(store, person_id) -> set[tuple[str, str]]:
    return keys(store.persons.records_of(person_id))


def now() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------------------- history

def test_history_lists_every_link_with_who_when_why_and_the_score_and_evidence(services, people):
    marisol = people["marisol"]

    events = services.history.history(marisol)

    assert [e["event_id"] for e in events] == sorted((e["event_id"] for e in events), reverse=True)
    links = [e for e in events if e["kind"] == "link"]
    assert [(e["action"], e["record"]["source_record_id"]) for e in links] == [
        ("link.created", "BPM-77"), ("link.created", "MRN-1")]
    auto, first = links
    assert auto["actor"] == "user:test-hub" and auto["reason"] == "auto MATCH"
    assert auto["at"] <= now()
    assert auto["match_weight"] > services.matching.active_model().policy.upper_match_weight
    assert auto["link"]["score"] == auto["match_weight"] and auto["link"]["link_source"] == "AUTO"
    assert auto["link"]["evidence"][0]["comparison"] == "prior" and len(auto["link"]["evidence"]) > 3
    assert (first["reason"], first["match_weight"], first["link"]["evidence"]) == ("auto NO_MATCH", None, [])
    assert any(e["action"] == "person.created" and e["kind"] == "person" for e in events)


def test_history_shows_a_manual_link_and_a_move_by_re_matching_on_both_persons(services, people):
    marisol, theodore = people["marisol"], people["theodore"]
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-5"), "user:test-hub")
    moved = services.matching.submit(record("theodore", "st-marys-ehr", "MRN-5"), "user:test-hub")
    assert moved["person_id"] == theodore
    services.matching.link_manually("st-marys-ehr", "MRN-9", marisol, "user:test-steward", "same phone, new name")

    on_marisol = services.history.history(marisol)
    on_theodore = services.history.history(theodore)

    left = next(e for e in on_marisol if e["action"] == "link.moved")
    assert (left["kind"], left["previous_person_id"], left["person_id"]) == ("unlink", marisol, theodore)
    joined = next(e for e in on_theodore if e["action"] == "link.moved")
    assert joined["kind"] == "link" and joined["link"]["evidence"] and joined["link"]["score"] == pytest.approx(moved["match_weight"], abs=1e-6)
    manual = on_marisol[0]
    assert (manual["action"], manual["kind"], manual["actor"], manual["reason"]) == (
        "link.manual", "link", "user:test-steward", "same phone, new name")
    assert manual["link"]["link_source"] == "MANUAL" and manual["link"]["score"] is None
    assert any(e["action"] == "link.manual" and e["kind"] == "unlink"
               for e in services.history.history(people["desmond"]))


def test_history_of_a_merge_and_its_unmerge_is_on_both_persons_with_the_evidence_kept(services, people):
    survivor, loser = people["marisol"], people["theodore"]
    merge_id = services.merges.merge(survivor, loser, "user:test-steward", "same person")
    services.merges.unmerge(merge_id, "user:test-admin", "twins")

    for person_id in (survivor, loser):
        events = services.history.history(person_id)
        assert [(e["kind"], e["actor"], e["reason"], e["merge_id"]) for e in events[:2]] == [
            ("unmerge", "user:test-admin", "twins", merge_id), ("merge", "user:test-steward", "same person", merge_id)]
        assert (events[0]["person_id"], events[0]["previous_person_id"]) == (survivor, loser)
    # While merged, the loser's auto link has gone from the links table: its evidence comes from the snapshot.
    services.merges.merge(survivor, loser, "user:test-steward", "same person after all")
    auto = next(e for e in services.history.history(loser)
                if e["action"] == "link.created" and e["record"]["source_record_id"] == "BPM-12")
    assert auto["link"]["link_source"] == "AUTO" and auto["link"]["evidence"]


def test_history_of_an_unknown_person_is_not_found(services):
    with pytest.raises(NotFound) as raised:
        services.history.history("MPI99999999")
    assert raised.value.errors == {"person_id": ["not found"]}


# ------------------------------------------------------------------------------- as of

def test_as_of_gives_the_records_before_a_merge_while_merged_and_after_the_unmerge(services, people):
    history, survivor, loser = services.history, people["marisol"], people["theodore"]
    mine, theirs = {("st-marys-ehr", "MRN-1"), ("bluepath-mco", "BPM-77")}, {
        ("county-general-ehr", "CG-1"), ("bluepath-mco", "BPM-12")}
    before = now()
    merge_id = services.merges.merge(survivor, loser, "user:test-steward", "same person")
    merged = now()
    services.merges.unmerge(merge_id, "user:test-steward", "twins")
    after = now()

    assert keys(history.as_of(survivor, before)["records"]) == mine
    assert keys(history.as_of(loser, before)["records"]) == theirs
    during = history.as_of(loser, merged)
    assert (during["person_id"], during["redirected_from"]) == (survivor, [loser])
    assert keys(during["records"]) == mine | theirs
    assert keys(history.as_of(survivor, merged)["records"]) == mine | theirs
    assert keys(history.as_of(survivor, after)["records"]) == mine
    assert keys(history.as_of(loser, after)["records"]) == theirs
    assert history.as_of(survivor, "2000-01-01")["records"] == []
    moved_in = {r["source_record_id"]: r for r in history.as_of(survivor, merged)["records"]}
    assert (moved_in["CG-1"]["action"], moved_in["CG-1"]["by"]) == ("person.merged", "user:test-steward")


def test_replaying_the_audit_log_agrees_with_the_links_of_every_person_after_every_change(
        services, people, activate_policy):
    """At an instant after each change, each person's replayed records are exactly the links the store held then."""
    store, m, t, d = services.store, people["marisol"], people["theodore"], people["desmond"]
    seen: list[tuple[datetime, dict]] = []

    def checkpoint() -> None:
        persons = [r[0] for r in store.db.query("SELECT person_id FROM persons ORDER BY person_id")]
        held = {}
        for person_id in persons:
            live = store.persons.resolve(person_id)["person_id"]
            held[person_id] = (live, linked_now(store, live))
        seen.append((now(), held))

    checkpoint()
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-5"), "hub")
    checkpoint()
    services.matching.submit(record("theodore", "st-marys-ehr", "MRN-5"), "hub")  # moved by re-matching
    checkpoint()
    first = services.merges.merge(m, t, "user:test-steward", "same person")
    checkpoint()
    services.matching.link_manually("county-general-ehr", "CG-1", d, "user:test-steward", "Desmond's")
    checkpoint()
    activate_policy(upper_match_weight=999.0)  # an update now lands in review: its link is removed
    held = services.matching.submit(record("marisol", "bluepath-mco", "BPM-77", phone="404-555-0199"), "hub")
    assert held["review_case_id"] and held["person_id"] is None
    checkpoint()
    second = services.merges.merge(d, m, "user:test-steward", "same again")
    checkpoint()
    services.matching.link_manually("county-general-ehr", "CG-1", d, "user:test-steward", "confirmed")
    with pytest.raises(Conflict):
        services.merges.unmerge(first, "user:test-steward", "out of order")
    checkpoint()
    services.merges.unmerge(second, "user:test-steward", "wrong")
    checkpoint()
    services.matching.link_manually("county-general-ehr", "CG-1", m, "user:test-steward", "back, to unmerge")
    checkpoint()
    services.merges.unmerge(first, "user:test-steward", "wrong too")
    checkpoint()

    assert len({tuple(sorted((p, tuple(sorted(r))) for p, (_, r) in h.items())) for _, h in seen}) >= 6
    for at, held in seen:
        for person_id, (live, records) in held.items():
            then = services.history.as_of(person_id, at)
            assert (then["person_id"], keys(then["records"])) == (live, records), (person_id, at)


def test_an_instant_is_a_date_end_of_day_or_a_date_time_and_nonsense_is_named(services, people):
    assert instant("2026-03-01") == datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert instant("2026-03-01T10:00:00") == datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    assert instant("2026-03-01T10:00:00+02:00") == datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
    assert instant("2026-03-01T10:00:00Z") == datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    for bad in ("yesterday", "2026-13-01", "", None, 7):
        with pytest.raises(ValidationError) as raised:
            services.history.as_of(people["marisol"], bad)
        assert list(raised.value.errors) == ["as_of"]
    with pytest.raises(NotFound):
        services.history.as_of("MPI99999999", "2026-03-01")


# ------------------------------------------------------------------------------- the API

def test_api_history_is_for_stewards_with_as_of_and_errors_in_the_shared_shape(services, client, auth, steward, people):
    survivor, loser = people["marisol"], people["theodore"]
    before = now().isoformat()
    merge = client.post("/v1/persons/merge", json={"survivor_id": survivor, "loser_id": loser, "reason": "same"},
                        headers=steward).get_json()
    path = f"/v1/persons/{loser}/history"

    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth).status_code == 403
    body = client.get(path, headers=steward).get_json()
    assert body["person_id"] == loser and body["records"] is None
    top = body["events"][0]
    assert (top["kind"], top["merge_id"], top["actor"], top["reason"]) == ("merge", merge["merge_id"],
                                                                         "user:test-steward", "same")
    link = next(e for e in body["events"] if e["record"] and e["record"]["source_record_id"] == "BPM-12")
    assert link["link"]["evidence"][0]["comparison"] == "prior"

    then = client.get(path, query_string={"as_of": before}, headers=steward).get_json()
    assert then["as_of_person_id"] == loser and then["redirected_from"] == []
    assert keys(then["records"]) == {("county-general-ehr", "CG-1"), ("bluepath-mco", "BPM-12")}
    assert all(e["kind"] != "merge" for e in then["events"])
    today = client.get(path, query_string={"as_of": now().date().isoformat()}, headers=steward).get_json()
    assert today["as_of_person_id"] == survivor and len(today["records"]) == 4

    bad = client.get(path, query_string={"as_of": "last tuesday"}, headers=steward)
    assert bad.status_code == 422 and bad.get_json()["errors"] == {
        "as_of": ["an ISO 8601 date (YYYY-MM-DD) or date-time"]}
    missing = client.get("/v1/persons/MPI99999999/history", headers=steward)
    assert missing.status_code == 404 and set(missing.get_json()) == {"code", "status", "message", "errors"}


def test_openapi_documents_the_history_endpoint_and_its_as_of(client):
    spec = client.get("/v1/openapi.json").get_json()

    get = spec["paths"]["/v1/persons/{person_id}/history"]["get"]
    assert "as_of" in {p["name"] for p in get.get("parameters", [])}
    assert {"200", "403", "404", "422"} <= set(get["responses"])
    assert "evidence" in spec["components"]["schemas"]["HistoryLink"]["properties"]
