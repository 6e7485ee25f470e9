"""Spot-checks of auto-links (``mpi/stewardship/spotchecks.py``): the draw, the case, the steward's two answers.

Cases are made as production makes them: records submitted (or loaded with ``mpi load``) and linked by the
matcher, with ``MPI_SPOT_CHECK_ONE_IN`` set for the store. With 1 in 1 every auto-link is drawn, so a test
knows which record is checked.
"""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from conftest import record
from mpi.cli import main
from mpi.clock import FixedClock
from mpi.errors import Conflict, ValidationError
from mpi.services import Services
from mpi.stewardship.spotchecks import SALT_KEY, drawn
from mpi.synth.generator import write_csv
from referral_network import MONDAY_10AM, build, referral_body

STEWARD = "user:alice"


@pytest.fixture
def config(tmp_path, models_dir) -> dict:
    """Every auto-link is drawn (1 in 1)."""
    return {"MPI_DB": str(tmp_path / "mpi.duckdb"), "MPI_MODELS_DIR": str(models_dir), "MPI_SPOT_CHECK_ONE_IN": "1"}


def linked_pair(services, suffix: str = "1", person: str = "marisol") -> tuple[str, tuple[str, str]]:
    """A person made from one record and a second record auto-linked to it: (person id, the second's key)."""
    services.ensure_active_model("test")
    first = services.matching.submit(record(person, "st-marys-ehr", f"MRN-{suffix}"), "test")
    second = services.matching.submit(record(person, "bluepath-mco", f"BP-{suffix}"), "test")
    assert (first["decision"], second["decision"]) == ("NO_MATCH", "MATCH")
    assert second["person_id"] == first["person_id"]
    return first["person_id"], ("bluepath-mco", f"BP-{suffix}")


def spot_cases(services) -> list[dict]:
    return services.cases.queue(kind="SPOT_CHECK", state=["open", "in_review", "on_hold", "resolved", "withdrawn"],
                                limit=1000)


# ------------------------------------------------------------------------------------------------ the draw

def test_the_draw_is_a_keyed_hash_of_the_record_key_the_same_every_time():
    keys = [("st-marys-ehr", f"MRN-{i}") for i in range(2000)]

    first = [k for k in keys if drawn("salt-a", k, 5)]
    again = [k for k in keys if drawn("salt-a", k, 5)]
    other = [k for k in keys if drawn("salt-b", k, 5)]

    assert first == again
    assert first != other  # keyed: another store's salt draws other records
    assert 2000 / 5 - 4 * math.sqrt(2000 * 0.2 * 0.8) < len(first) < 2000 / 5 + 4 * math.sqrt(2000 * 0.2 * 0.8)
    assert not any(drawn("salt-a", k, 0) for k in keys)
    assert all(drawn("salt-a", k, 1) for k in keys)


@pytest.mark.slow  # a load of 150 generated people (about 9 s): the draw's rate is in the fast set above
def test_one_in_five_over_a_load_samples_its_auto_links_within_binomial_bounds(tmp_path, models_dir, monkeypatch):
    path = tmp_path / "people.csv"
    write_csv(path, 150, seed=5)
    db = tmp_path / "load.duckdb"
    monkeypatch.setenv("MPI_SPOT_CHECK_ONE_IN", "5")

    result = CliRunner().invoke(main, ["--db", str(db), "--models-dir", str(models_dir), "load", "--input",
                                       str(path), "--workers", "0"])

    assert result.exit_code == 0, result.output
    services = Services({"MPI_DB": str(db), "MPI_MODELS_DIR": str(models_dir), "MPI_SPOT_CHECK_ONE_IN": "5"})
    try:
        links = services.store.db.query(
            "SELECT DISTINCT entity_id FROM audit_log WHERE action IN ('link.created', 'link.moved') "
            "AND starts_with(reason, 'auto MATCH') AND json_extract_string(detail, '$.person_id') IS DISTINCT FROM "
            "json_extract_string(detail, '$.previous_person_id')")
        auto = [tuple(r[0].split("/", 1)) for r in links]
        salt = services.store.meta.get(SALT_KEY)
        cases = spot_cases(services)
        sampled = {(c["source_system"], c["source_record_id"]) for c in cases}
    finally:
        services.close()
    n = len(auto)
    assert n >= 150, f"expected a load with many auto-links, got {n}"
    assert sampled == {k for k in auto if drawn(salt, k, 5)}  # exactly the drawn ones, each once
    assert len(cases) == len(sampled)
    sd = math.sqrt(n * 0.2 * 0.8)
    assert n / 5 - 3.5 * sd <= len(sampled) <= n / 5 + 3.5 * sd
    assert {c["priority"] for c in cases} == {"routine"}


def test_off_by_default_no_auto_link_is_drawn_and_no_salt_is_made(tmp_path, models_dir):
    services = Services({"MPI_DB": str(tmp_path / "off.duckdb"), "MPI_MODELS_DIR": str(models_dir)})
    try:
        linked_pair(services)
        assert spot_cases(services) == []
        assert services.store.meta.get(SALT_KEY) is None
    finally:
        services.close()


def test_the_same_record_sent_again_or_updated_in_place_is_not_drawn_again(services):
    person_id, key = linked_pair(services)
    assert len(spot_cases(services)) == 1

    again = services.matching.submit(record("marisol", *key), "test")
    updated = services.matching.submit(record("marisol", *key, phone="404-555-0199"), "test")

    assert again.get("unchanged") is True
    assert (updated["decision"], updated["person_id"]) == ("MATCH", person_id)
    assert len(spot_cases(services)) == 1


# ------------------------------------------------------------------------------------ the case: no gate, no unlink

def test_a_spot_check_leaves_the_record_linked_and_holds_nothing(services):
    person_id, key = linked_pair(services)

    case = services.cases.get(spot_cases(services)[0]["case_id"])

    assert (case["kind"], case["state"], case["priority"], case["blocks"]) == ("SPOT_CHECK", "open", "routine", [])
    assert case["held_because"]["code"] == "spot_check"
    assert [c["person_id"] for c in case["candidates"]] == [person_id]
    assert case["candidates"][0]["evidence"], "the link's evidence is the case's"
    assert case["record"]["link"]["person_id"] == person_id
    assert case["record"]["link"]["link_source"] == "AUTO"
    assert services.writer.index.get(key).case_id is None  # the index holds no case for it: nothing waits on it
    assert case["record"]["review_case_id"] is None  # nor does the record's read (a hub's GET /v1/records/...)


def test_a_referral_for_a_spot_checked_record_is_not_gated(tmp_path, models_dir):
    clock = FixedClock(MONDAY_10AM)
    services = Services({"MPI_DB": str(tmp_path / "net.duckdb"), "MPI_MODELS_DIR": str(models_dir),
                         "MPI_SPOT_CHECK_ONE_IN": "1"}, clock=clock)
    try:
        network = build(services)
        services.matching.submit(record("marisol", "bluepath-mco", "BP-9"), "test")
        hub = network.callers["hub-stmarys"]
        submitted, _ = services.referrals.submit(referral_body("marisol", ref="SM-9"), hub)
        referral = services.referrals.get(submitted["referral_id"], hub)
        assert [c["source_record_id"] for c in spot_cases(services)] == ["MRN-SM-9"]
        assert referral["gate"] != "identity_pending"
        assert referral["person_id"] == services.store.records.get("bluepath-mco", "BP-9")["link"]["person_id"]
    finally:
        services.close()


# ------------------------------------------------------------------------------------------- the two answers

def test_confirm_resolves_confirmed_keeps_the_auto_link_and_is_audited(services):
    person_id, key = linked_pair(services)
    case_id = spot_cases(services)[0]["case_id"]

    result = services.spot_checks.confirm(case_id, STEWARD, "same MRN history at the plan", 1)

    assert (result["state"], result["resolution"], result["version"]) == ("resolved", "confirmed", 2)
    assert result["record"]["link"]["person_id"] == person_id
    assert result["record"]["link"]["link_source"] == "AUTO"
    event = next(e for e in services.store.audit.events("review_case", case_id) if e["action"] == "case.confirmed")
    assert (event["actor"], event["reason"]) == (STEWARD, "same MRN history at the plan")
    assert event["detail"]["record"] == "/".join(key)
    assert event["detail"]["person_id"] == person_id


def test_reject_undoes_the_link_keeps_the_pair_apart_and_holds_the_record_for_review(services):
    person_id, key = linked_pair(services)
    case_id = spot_cases(services)[0]["case_id"]

    result = services.spot_checks.reject(case_id, STEWARD, "different birth certificate", 1)

    assert (result["state"], result["resolution"]) == ("resolved", "rejected")
    assert result["previous_person_id"] == person_id
    held = result["review_case"]
    assert (held["kind"], held["state"], held["held_because"]["code"]) == ("POSSIBLE_MATCH", "open",
                                                                           "returned_by_steward")
    assert person_id not in [c["person_id"] for c in held["candidates"]]  # kept apart: never proposed again
    assert services.store.records.get(*key)["link"] is None
    assert services.writer.index.get(key).case_id == held["case_id"]
    actions = {e["action"]: e for e in services.store.audit.events("review_case", case_id)}
    assert actions["case.rejected"]["reason"] == "different birth certificate"
    undone = next(e for e in services.store.audit.events("record", "/".join(key)) if e["action"] == "link.undone")
    assert (undone["actor"], undone["detail"]["person_id"], undone["detail"]["link_source"],
            undone["detail"]["case_id"]) == (STEWARD, person_id, "AUTO", case_id)
    assert [p["person_id"] for p in services.store.cases.not_duplicates_of(*key)] == [person_id]


@pytest.mark.parametrize("answer", ["confirm", "reject"])
def test_an_answer_needs_a_reason_and_the_version_seen(services, answer):
    linked_pair(services)
    case_id = spot_cases(services)[0]["case_id"]
    act = getattr(services.spot_checks, answer)

    with pytest.raises(ValidationError) as missing:
        act(case_id, STEWARD, "  ", 1)
    with pytest.raises(Conflict) as stale:
        act(case_id, STEWARD, "checked", 7)

    assert set(missing.value.errors) == {"reason"}
    assert set(stale.value.errors) == {"version"}
    assert services.cases.get(case_id)["state"] == "open"


@pytest.mark.parametrize("action", ["link", "new_person", "not_duplicate"])
def test_a_spot_check_is_answered_by_confirm_or_reject_only(services, action):
    person_id, _ = linked_pair(services)
    case_id = spot_cases(services)[0]["case_id"]
    call = {"link": lambda: services.cases.resolve_linked(case_id, person_id, STEWARD, "x", 1),
            "new_person": lambda: services.cases.resolve_new_person(case_id, STEWARD, "x", 1),
            "not_duplicate": lambda: services.cases.resolve_not_duplicate(case_id, STEWARD, "x", 1)}[action]

    with pytest.raises(Conflict) as refused:
        call()

    assert set(refused.value.errors) == {"kind"}
    assert services.cases.get(case_id)["state"] == "open"


def test_confirm_is_refused_on_a_case_that_is_not_a_spot_check(services, activate_policy):
    services.ensure_active_model("test")
    services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    partial = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
               "last_name": "Quintanilla", "birth_date": "1984-03-17"}
    weight = services.matching.match(partial, "test")["candidates"][0]["match_weight"]
    activate_policy(lower_match_weight=weight - 3, upper_match_weight=weight + 3)
    held = services.matching.submit(partial, "test")["review_case_id"]

    with pytest.raises(Conflict) as refused:
        services.spot_checks.confirm(held, STEWARD, "checked", 1)

    assert set(refused.value.errors) == {"kind"}


def test_an_answer_is_refused_once_the_record_has_left_the_person(services):
    _, key = linked_pair(services)
    case_id = spot_cases(services)[0]["case_id"]
    other = services.matching.submit(record("theodore", "st-marys-ehr", "MRN-T"), "test")["person_id"]
    services.matching.link_manually(*key, other, STEWARD, "moved by hand")

    with pytest.raises(Conflict) as refused:
        services.spot_checks.confirm(case_id, STEWARD, "checked", 1)

    assert set(refused.value.errors) == {"record"}
    assert services.cases.withdraw(case_id, STEWARD, "the record moved", 1)["state"] == "withdrawn"


# --------------------------------------------------------------------------------------------------- the API

def test_the_api_lists_spot_checks_by_kind_and_answers_them(services, client):
    from mpi.auth import add_user
    token = add_user(services.store, "alice", "steward")
    headers = {"Authorization": f"Bearer {token}"}
    person_id, key = linked_pair(services)

    queue = client.get("/v1/review-cases?kind=SPOT_CHECK", headers=headers)
    case = queue.json["cases"][0]
    confirmed = client.post(f"/v1/review-cases/{case['case_id']}/confirm", json={"reason": "same", "version": 1},
                            headers=headers)
    again = client.post(f"/v1/review-cases/{case['case_id']}/reject", json={"reason": "no", "version": 2},
                        headers=headers)
    no_reason = client.post(f"/v1/review-cases/{case['case_id']}/confirm", json={"version": 2}, headers=headers)

    assert queue.status_code == 200
    assert (case["kind"], case["source_system"], case["source_record_id"]) == ("SPOT_CHECK", *key)
    assert confirmed.status_code == 200, confirmed.json
    assert (confirmed.json["resolution"], confirmed.json["record"]["link"]["person_id"]) == ("confirmed", person_id)
    assert again.status_code == 409
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]


def test_the_api_reject_answers_the_case_the_record_is_held_in(services, client, auth):
    from mpi.auth import add_user
    headers = {"Authorization": f"Bearer {add_user(services.store, 'alice', 'steward')}"}
    person_id, key = linked_pair(services)
    case_id = spot_cases(services)[0]["case_id"]

    by_hub = client.post(f"/v1/review-cases/{case_id}/reject", json={"reason": "no", "version": 1}, headers=auth)
    rejected = client.post(f"/v1/review-cases/{case_id}/reject", json={"reason": "no", "version": 1},
                           headers=headers)

    assert by_hub.status_code == 403
    assert rejected.status_code == 200, rejected.json
    assert rejected.json["resolution"] == "rejected"
    assert rejected.json["previous_person_id"] == person_id
    assert rejected.json["review_case"]["kind"] == "POSSIBLE_MATCH"
    assert client.get(f"/v1/records/{key[0]}/{key[1]}", headers=headers).json["link"] is None


# ------------------------------------------------------------------------------------------------ as labels

def test_a_spot_checks_answer_is_a_label_confirmed_says_same_and_rejected_says_different(services):
    """What a steward answers on a spot-check teaches ``mpi train --from-decisions`` like any other decision."""
    from mpi.stewardship.labels import collect

    _, key = linked_pair(services, "1")
    _, other_key = linked_pair(services, "2", person="theodore")
    cases = {c["source_record_id"]: c for c in spot_cases(services)}
    services.spot_checks.confirm(cases[key[1]]["case_id"], STEWARD, "same plan id and phone",
                                 cases[key[1]]["version"])
    services.spot_checks.reject(cases[other_key[1]]["case_id"], STEWARD, "another Marisol",
                                cases[other_key[1]]["version"])
    with services.store.serialised():
        pairs = collect(services.store, services.matching.index(), services.matching.active_model().scorer)
    said = {(p.kind, p.same, frozenset((p.left, p.right))) for p in pairs}
    assert ("confirmed", True, frozenset((key, ("st-marys-ehr", "MRN-1")))) in said
    assert ("link_undone", False, frozenset((other_key, ("st-marys-ehr", "MRN-2")))) in said
