"""Why a case is held (``held_because``): from the decision itself, on every path that opens a case.

Each path is taken as production takes it (``POST /v1/records``, a referral, ``mpi load``, undo-link, a
steward's not-duplicate, a dedup run, a cluster load), and the case is read back through the API: its
``held_because`` code and sentence, the same in the queue rows, and the case's opening audit reason is
the sentence word for word.
"""

from __future__ import annotations

import csv
import random

import pytest
from cli_runner import mpi  # noqa: F401  (a fixture)
from conftest import record
from referral_network import clock, net_client, net_services, network, referral_body  # noqa: F401

from api import create_app
from mpi.auth import add_user
from mpi.matching.decisions import Candidate, decide, held_because
from mpi.matching.policy import DEFAULT_POLICY, Policy
from mpi.matching.prepare import prepare
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.synth.generator import generate_records
from mpi.vocab import Decision, HeldCode

HOME = dict(last_name="Watson", address_line1="3663 W James Blvd", city="Houston", state="TX",
            postal_code="77026", phone="(281) 887-8116")
STEPHANIE = {"source_system": "st-marys-ehr", "source_record_id": "1", "first_name": "Stephanie",
             "birth_date": "1990-02-11", "sex": "F", **HOME}
#: Stephanie's first name mistyped: above the upper threshold, but a spelling variant on one birth date is
#: what twins look like, so the default policy holds it (a hold rule).
STSPHANIE = {**STEPHANIE, "source_system": "foodbank-cbo", "source_record_id": "9", "first_name": "Stsphanie"}
PARTIAL = {"source_system": "foodbank-cbo", "source_record_id": "FB-3", "first_name": "Marisol",
           "last_name": "Quintanilla", "birth_date": "1984-03-17"}


@pytest.fixture
def steward(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'alice', 'steward')}"}


def submit(client, auth, body) -> dict:
    response = client.post("/v1/records", json=body, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def weight_of(client, auth, body) -> float:
    return client.post("/v1/match", json=body, headers=auth).get_json()["candidates"][0]["match_weight"]


def opening_reason(services, case_id) -> str:
    opened = [e for e in services.store.audit.events("review_case", case_id) if e["action"] == "case.opened"]
    assert len(opened) == 1
    return opened[0]["reason"]


def read_back(client, steward, services, case_id, code) -> dict:
    """The case's held_because through the API: with this code, in its queue row too, and its audit reason."""
    response = client.get(f"/v1/review-cases/{case_id}", headers=steward)
    assert response.status_code == 200, response.get_json()
    held = response.get_json()["held_because"]
    assert held["code"] == code, held
    rows = client.get("/v1/review-cases?limit=1000", headers=steward).get_json()["cases"]
    assert [r["held_because"] for r in rows if r["case_id"] == case_id] == [held]
    assert opening_reason(services, case_id) == held["sentence"]
    return held


# ------------------------------------------------------------------------------ the decision and its reason

def _candidates(rng: random.Random, policy: Policy) -> list[Candidate]:
    holds = [sorted(h.levels) for h in policy.hold_levels if h.below is None]
    out = []
    for i in range(rng.randint(0, 4)):
        weight = rng.uniform(policy.lower_match_weight - 6, policy.upper_match_weight + 10)
        if rng.random() < 0.3:
            evidence = [{"comparison": lv.split(": ")[0], "label": lv.split(": ")[1], "weight": weight / 2}
                        for lv in rng.choice(holds)]
        else:
            evidence = [{"comparison": "name_dob", "label": "exact", "weight": weight}]
        conflict = ({"source_system": "s", "source_record_id": f"r{i}", "level": "name_dob: both differ"}
                    if rng.random() < 0.2 else None)
        out.append(Candidate(f"MPI{i:08d}", weight, 0.5, evidence, "s", f"k{i}", weight, conflict))
    out.sort(key=lambda c: (-c.match_weight, c.person_id))
    return out


@pytest.mark.parametrize("margin", [0.0, 3.0, 6.0])
def test_the_reason_and_the_decision_never_disagree(margin):
    policy = Policy.from_spec({**DEFAULT_POLICY, "ambiguity_margin": margin})
    rng = random.Random(17)
    seen = set()
    for _ in range(3000):
        candidates = _candidates(rng, policy)
        decision, because = decide(candidates, policy), held_because(candidates, policy)
        assert (decision is Decision.POSSIBLE_MATCH) == (because is not None)
        if because is None:
            continue
        seen.add(because.code)
        top = candidates[0]
        assert top.person_id in because.sentence and f"{top.match_weight:.2f}" in because.sentence
        in_band = top.match_weight < policy.upper_match_weight
        assert (because.code is HeldCode.REVIEW_BAND) == in_band
        if because.code is HeldCode.AMBIGUOUS:
            assert candidates[1].person_id in because.sentence and f"margin {margin:g}" in because.sentence
    expected = {HeldCode.REVIEW_BAND, HeldCode.CONFLICT, HeldCode.HOLD_RULE}
    assert expected | ({HeldCode.AMBIGUOUS} if margin else set()) == seen


# ------------------------------------------------------------------------------------- POST /v1/records

def test_a_record_in_the_review_band_says_so_with_its_weight_and_both_thresholds(client, auth, steward, services,
                                                                                   activate_policy):
    person_id = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    weight = weight_of(client, auth, PARTIAL)
    activate_policy(lower_match_weight=round(weight - 3, 1), upper_match_weight=round(weight + 3, 1))

    body = submit(client, auth, PARTIAL)

    assert body["decision"] == "POSSIBLE_MATCH" and body["held_because"]["code"] == "review_band"
    sentence = body["held_because"]["sentence"]
    assert person_id in sentence and f"{weight:.2f}" in sentence
    assert f"{round(weight - 3, 1):g}" in sentence and f"{round(weight + 3, 1):g}" in sentence
    assert "Marisol" not in sentence and "1984" not in sentence  # ids and numbers, never PHI
    assert read_back(client, steward, services, body["review_case_id"], "review_band") == body["held_because"]


def test_two_persons_within_the_margin_are_ambiguous_and_both_are_named(client, auth, steward, services,
                                                                          activate_policy):
    activate_policy(lower_match_weight=1e6, upper_match_weight=1e6)  # two persons of one Marisol
    one = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    two = submit(client, auth, record("marisol", "bluepath-mco", "BPM-77"))["person_id"]
    third = record("marisol", "fqhc-eastside", "EF-5")
    weight = weight_of(client, auth, third)
    activate_policy(lower_match_weight=weight - 10, upper_match_weight=weight - 1, ambiguity_margin=5.0)

    body = submit(client, auth, third)

    held = read_back(client, steward, services, body["review_case_id"], "ambiguous")
    assert body["held_because"] == held
    assert one in held["sentence"] and two in held["sentence"] and "margin 5" in held["sentence"]


def test_a_hold_rule_says_which_levels_held_the_pair(client, auth, steward, services):
    person_id = submit(client, auth, STEPHANIE)["person_id"]

    body = submit(client, auth, STSPHANIE)

    held = read_back(client, steward, services, body["review_case_id"], "hold_rule")
    assert body["held_because"] == held
    assert person_id in held["sentence"]
    assert 'name_dob "first name spelling variant, birth date exact"' in held["sentence"]
    assert "Stephanie" not in held["sentence"] and "Stsphanie" not in held["sentence"]


def test_a_conflict_names_the_record_of_the_top_person_and_how(client, auth, steward, services):
    marisol = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    submit(client, auth, record("theodore", "county-general-ehr", "CG-1"))
    services.matching.link_manually("county-general-ehr", "CG-1", marisol, "steward:test", "test")

    body = submit(client, auth, record("marisol", "bluepath-mco", "BPM-7"))

    held = read_back(client, steward, services, body["review_case_id"], "conflict")
    assert marisol in held["sentence"] and "county-general-ehr/CG-1" in held["sentence"]
    # Another SSN (a firm conflict, found first) as well as both names and birth date differing.
    assert 'ssn_last4 "conflict"' in held["sentence"]


def test_match_says_why_it_would_hold_and_a_linked_record_has_no_reason(client, auth):
    submit(client, auth, STEPHANIE)

    assert client.post("/v1/match", json=STSPHANIE, headers=auth).get_json()["held_because"]["code"] == "hold_rule"
    linked = submit(client, auth, {**STEPHANIE, "source_system": "other", "source_record_id": "2"})
    assert linked["decision"] == "MATCH" and linked["held_because"] is None


def test_a_held_record_sent_again_unchanged_says_why_it_is_still_held(client, auth):
    submit(client, auth, STEPHANIE)
    first = submit(client, auth, STSPHANIE)

    again = submit(client, auth, STSPHANIE)

    assert again["unchanged"] is True and again["held_because"] == first["held_because"]


# ----------------------------------------------------------------------------------------- other paths

def test_a_referral_whose_person_is_held_is_gated_on_a_case_that_says_why(net_client, net_services, network):
    net_services.matching.submit(record("marisol", "st-marys-ehr", "MRN-1"), "test")
    net_services.matching.submit({"source_system": "bluepath-mco", "source_record_id": "BP-9",
                                  "first_name": "Marisol", "last_name": "Quintanilla", "birth_date": "1991-08-25",
                                  "sex": "F", "state": "GA", "postal_code": "30030"}, "test")
    name_only = {"source_system": "st-marys-ehr", "source_record_id": "ED-77", "first_name": "Marisol",
                 "last_name": "Quintanilla", "sex": "F", "state": "GA"}
    referral = net_client.post("/v1/referrals", json=referral_body(person=name_only, urgency="discharge"),
                               headers=network.headers["hub-stmarys"]).get_json()
    assert referral["gate"] == "identity_pending"
    steward = {"Authorization": f"Bearer {add_user(net_services.store, 'sam', 'steward')}"}

    case = net_client.get(f"/v1/review-cases/{referral['review_case_id']}", headers=steward).get_json()

    assert case["held_because"]["code"] in {"ambiguous", "review_band"}
    assert all(c["person_id"] in case["held_because"]["sentence"] for c in case["candidates"][:2])
    assert opening_reason(net_services, case["case_id"]) == case["held_because"]["sentence"]


def test_a_record_held_by_mpi_load_says_why(mpi, tmp_path, services):
    path = tmp_path / "two.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(STEPHANIE))
        writer.writeheader()
        writer.writerows([STEPHANIE, STSPHANIE])
    mpi("init")

    mpi("load", "--input", str(path))

    # The store is opened only now, after the CLI has closed it.
    case_id = services.store.cases.latest_of_record("foodbank-cbo", "9")["case_id"]
    steward = {"Authorization": f"Bearer {add_user(services.store, 'alice', 'steward')}"}
    held = read_back(create_app(services=services).test_client(), steward, services, case_id, "hold_rule")
    assert "name_dob" in held["sentence"]


def test_an_undone_link_is_back_in_review_returned_by_a_steward(client, auth, steward, services):
    submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    theodore = submit(client, auth, record("theodore", "county-general-ehr", "CG-1"))["person_id"]
    services.matching.link_manually("county-general-ehr", "CG-1", theodore, "steward:test", "test")

    response = client.post("/v1/records/county-general-ehr/CG-1/undo-link", json={"reason": "wrong person"},
                           headers=steward)

    assert response.status_code == 200, response.get_json()
    case_id = response.get_json()["review_case"]["case_id"]
    held = read_back(client, steward, services, case_id, "returned_by_steward")
    assert held["sentence"].startswith("A steward's link was undone; back in review")
    assert response.get_json()["review_case"]["held_because"] == held


def test_not_duplicate_decides_again_and_the_next_case_says_why(client, auth, steward, services, activate_policy):
    activate_policy(lower_match_weight=1e6, upper_match_weight=1e6)
    one = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))["person_id"]
    two = submit(client, auth, record("marisol", "bluepath-mco", "BPM-7"))["person_id"]
    third = record("marisol", "fqhc-eastside", "EF-5")
    weight = weight_of(client, auth, third)
    activate_policy(lower_match_weight=weight - 10, upper_match_weight=weight + 1, ambiguity_margin=0.0)
    case_id = submit(client, auth, third)["review_case_id"]

    response = client.post(f"/v1/review-cases/{case_id}/not-duplicate",
                           json={"reason": "a cousin", "version": 1, "person_id": one}, headers=steward)

    assert response.status_code == 200, response.get_json()
    reopened = response.get_json()["outcome"]["review_case_id"]
    held = read_back(client, steward, services, reopened, "review_band")
    assert two in held["sentence"] and one not in held["sentence"]


def test_a_dedup_runs_case_says_which_persons_and_records(client, steward, services):
    from conftest import activate_policy_on
    services.ensure_active_model("test")
    activate_policy_on(services, upper_match_weight=999, lower_match_weight=998)
    for r in generate_records(30, seed=3):
        services.matching.submit({k: v for k, v in r.items() if k != "truth_person_id"}, "test", strict=False)
    services.models.activate(DEFAULT_MODEL_VERSION, "test")

    run = services.dedup.run("user:admin")

    finding = next(f for f in run["findings"] if f["case_id"])
    held = read_back(client, steward, services, finding["case_id"], "possible_duplicate")
    for part in (finding["person_a"], finding["person_b"], finding["record_a"], finding["record_b"],
                 run["run_id"], f"{finding['match_weight']:.2f}"):
        assert part in held["sentence"]


def test_cluster_members_held_with_their_representative_say_so(client, auth, steward, services):
    submit(client, auth, STEPHANIE)
    representative = prepare(STSPHANIE)
    member = prepare({**STSPHANIE, "source_record_id": "10"})

    result = services.matching.submit_cluster(representative, [(member, 30.0)], "test", "C-7")

    assert read_back(client, steward, services, result["review_case_id"], "hold_rule")
    held = read_back(client, steward, services, result["held"][("foodbank-cbo", "10")], "held_with_cluster")
    assert "C-7" in held["sentence"] and "foodbank-cbo/9" in held["sentence"]
    assert result["review_case_id"] in held["sentence"]


def test_a_case_opened_before_reasons_were_kept_says_so(client, auth, steward, services):
    submit(client, auth, STEPHANIE)
    case_id = submit(client, auth, STSPHANIE)["review_case_id"]
    with services.store.transaction():  # as a store migrated from version 17 holds it
        services.store.db.execute("DELETE FROM case_reasons WHERE case_id = ?", [case_id])

    held = client.get(f"/v1/review-cases/{case_id}", headers=steward).get_json()["held_because"]

    assert held["code"] == "unrecorded"
    assert held["sentence"].startswith("Opened before reasons were recorded; the best person was MPI")
