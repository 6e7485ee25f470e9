"""Identifiers as hard evidence, and no record bridging two people, through the real MatchService.

The shipped model is activated with this code's default policy lists (the model file carries its
own), so what is pinned is what the defaults decide. Weights are never pinned: each identifier
case first shows the pair weighs far above the upper threshold, so only the identifier can hold it.
"""

from __future__ import annotations

import pytest

from mpi.matching.policy import DEFAULT_POLICY
from mpi.matching.prepare import prepare
from mpi.services import DEFAULT_MODEL_VERSION

HOME = dict(last_name="Okonkwo-Reyes", address_line1="2210 Magnolia Ave", city="Houston", state="TX",
            postal_code="77026", phone="(281) 555-0167", email="okonkwo.home@example.org")
ADA = dict(first_name="Adaeze", middle_name="Chioma", sex="F", birth_date="1987-06-14", **HOME)


@pytest.fixture
def matching(services, activate_policy):
    """The match service with the shipped model's weights under the default policy lists."""
    services.ensure_active_model("test")
    activate_policy(**{k: DEFAULT_POLICY[k] for k in ("hold_levels", "conflict_levels", "firm_conflict_levels",
                                                      "clear_levels")})
    return services.matching


def submit(matching, system: str, record_id: str, **fields) -> dict:
    return matching.submit({"source_system": system, "source_record_id": record_id, **fields}, "test")


def upper(matching) -> float:
    return matching.active_model().policy.upper_match_weight


@pytest.mark.parametrize("field, first, other", [
    ("ssn_last4", "4821", "7305"),
    ("medicaid_id", "TX40918273", "TX55120946"),
])
def test_another_identifier_holds_a_record_that_weighs_far_above_the_upper_threshold(matching, field, first, other):
    person = submit(matching, "st-marys-ehr", "1", **ADA, **{field: first})
    second = submit(matching, "county-general-ehr", "2", **ADA, **{field: other})

    top = second["candidates"][0]
    assert top["person_id"] == person["person_id"]
    assert top["match_weight"] > upper(matching) + 10
    assert second["decision"] == "POSSIBLE_MATCH" and second["person_id"] is None
    assert second["held_because"]["code"] == "conflict"
    assert f"{field} \"conflict\"" in second["held_because"]["sentence"]
    assert top["conflict"] == {"source_system": "st-marys-ehr", "source_record_id": "1", "level": f"{field}: conflict"}


def test_the_same_member_id_does_not_lift_another_ssn(matching):
    person = submit(matching, "st-marys-ehr", "1", **ADA, ssn_last4="4821", medicaid_id="TX40918273")
    second = submit(matching, "bluepath-mco", "2", **ADA, ssn_last4="7305", medicaid_id="TX40918273")

    assert second["candidates"][0]["person_id"] == person["person_id"]
    assert second["decision"] == "POSSIBLE_MATCH" and second["held_because"]["code"] == "conflict"


def test_the_same_ssn_lifts_another_member_id_a_re_enrolment(matching):
    person = submit(matching, "st-marys-ehr", "1", **ADA, ssn_last4="4821", medicaid_id="TX40918273")
    second = submit(matching, "bluepath-mco", "2", **ADA, ssn_last4="4821", medicaid_id="TX77001234")

    assert second["decision"] == "MATCH" and second["person_id"] == person["person_id"]


def test_an_identifier_conflict_with_any_record_of_the_person_holds(matching):
    """The conflict is with the person's second record, not the best-scoring one."""
    person = submit(matching, "st-marys-ehr", "1", **ADA)
    assert submit(matching, "fqhc-eastside", "2", **ADA, ssn_last4="4821")["person_id"] == person["person_id"]
    third = submit(matching, "county-general-ehr", "3", **ADA, ssn_last4="7305")

    assert third["decision"] == "POSSIBLE_MATCH"
    assert third["candidates"][0]["conflict"]["source_record_id"] == "2"


@pytest.mark.parametrize("field, first, typo", [
    ("ssn_last4", "4821", "4831"),        # one digit off
    ("ssn_last4", "4821", "4812"),        # two digits swapped
    ("medicaid_id", "TX40918273", "TX40918278"),  # one character off
    ("medicaid_id", "TX40918273", "TX49018273"),  # two characters swapped
])
def test_a_keying_slip_in_an_identifier_is_not_a_conflict(matching, field, first, typo):
    person = submit(matching, "st-marys-ehr", "1", **ADA, **{field: first})
    second = submit(matching, "county-general-ehr", "2", **ADA, **{field: typo})

    assert second["decision"] == "MATCH" and second["person_id"] == person["person_id"]
    level = next(e for e in second["candidates"][0]["evidence"] if e["comparison"] == field)
    # Evidence for, never against (the shipped weights learnt +2.7 bits for an SSN slip, 0 for a member id's:
    # its training records had no member-id slips), and weaker than the identifier agreeing exactly.
    assert level["label"].startswith("one ") and level["weight"] >= 0
    again = submit(matching, "fqhc-eastside", "3", **ADA, **{field: first})
    exact = next(e for e in again["candidates"][0]["evidence"] if e["comparison"] == field)
    assert exact["label"] == "exact" and exact["weight"] > level["weight"]


@pytest.mark.parametrize("field, placeholder, real", [
    ("ssn_last4", "0000", "4821"), ("ssn_last4", "9999", "4821"), ("ssn_last4", "1234", "4821"),
    ("medicaid_id", "PENDING", "TX40918273"), ("medicaid_id", "000000000", "TX40918273"),
    ("medicaid_id", "N/A", "TX40918273"),
])
def test_a_placeholder_identifier_is_missing_neither_conflict_nor_agreement(matching, field, placeholder, real):
    person = submit(matching, "st-marys-ehr", "1", **ADA, **{field: real})
    second = submit(matching, "county-general-ehr", "2", **ADA, **{field: placeholder})
    third = submit(matching, "foodbank-cbo", "3", first_name="Bo", sex="M", birth_date="1950-01-02",
                   last_name="Lindqvist", **{field: placeholder})

    assert second["decision"] == "MATCH" and second["person_id"] == person["person_id"]
    level = next(e for e in second["candidates"][0]["evidence"] if e["comparison"] == field)
    assert level["label"] == f"{field} missing" and level["weight"] == 0
    # Two strangers with the same placeholder are not even candidates of each other.
    assert third["decision"] == "NO_MATCH"
    assert third["warnings"] and {w["field"] for w in third["warnings"]} == {field}


def test_a_record_without_birth_date_does_not_bridge_a_father_and_his_son(matching):
    """Father, then his record without a birth date, then the son (no suffix either side)."""
    john = dict(first_name="John", middle_name="Emeka", sex="M", **HOME)
    father = submit(matching, "st-marys-ehr", "1", **john, birth_date="1969-02-03")
    undated = submit(matching, "foodbank-cbo", "2", **john)
    son = submit(matching, "county-general-ehr", "3", **john, birth_date="2001-09-27")

    assert undated["decision"] == "MATCH" and undated["person_id"] == father["person_id"]
    # The son scores high against the undated record, but contradicts the father's own record: held.
    assert son["candidates"][0]["person_id"] == father["person_id"]
    assert son["decision"] == "POSSIBLE_MATCH" and son["person_id"] is None
    assert son["held_because"]["code"] == "conflict"
    assert son["candidates"][0]["conflict"]["source_record_id"] == "1"


@pytest.mark.parametrize("twin, code", [
    (dict(first_name="Adaeze", middle_name="Ngozi"), "conflict"),    # only the middle name differs
    (dict(first_name="Adaize", middle_name="Chioma"), "hold_rule"),  # only the first name's spelling differs
])
def test_a_twin_differing_only_in_first_name_spelling_or_middle_name_is_held(matching, twin, code):
    first = submit(matching, "st-marys-ehr", "1", **ADA)
    other = submit(matching, "county-general-ehr", "2", **{**ADA, **twin})

    assert other["candidates"][0]["match_weight"] > upper(matching)
    assert other["decision"] == "POSSIBLE_MATCH" and other["person_id"] is None
    assert other["held_because"]["code"] == code
    assert first["person_id"] == other["candidates"][0]["person_id"]


def test_a_twin_is_kept_out_by_a_record_other_than_the_best(matching):
    """The person's record without a middle name scores best against the other twin's; its record with one
    says no."""
    first = submit(matching, "st-marys-ehr", "1", **ADA)
    no_middle = {**ADA, "middle_name": ""}
    assert submit(matching, "fqhc-eastside", "2", **no_middle)["person_id"] == first["person_id"]
    twin = submit(matching, "county-general-ehr", "3", **{**ADA, "middle_name": "Ngozi"})

    top = twin["candidates"][0]
    assert top["matched_record"]["source_record_id"] == "2" and top["match_weight"] > upper(matching)
    assert twin["decision"] == "POSSIBLE_MATCH" and twin["person_id"] is None
    assert twin["held_because"]["code"] == "conflict" and top["conflict"]["source_record_id"] == "1"


def test_a_cluster_does_not_carry_a_son_into_his_fathers_person(matching):
    """A batch file clustered the father's undated record with his son's: the cluster's representative (the
    undated record, the richer) matches the father, and the son's record is decided alone: held."""
    john = dict(first_name="John", middle_name="Emeka", sex="M", **HOME)
    father = submit(matching, "st-marys-ehr", "1", **john, birth_date="1969-02-03")
    undated = prepare({"source_system": "foodbank-cbo", "source_record_id": "2", **john, "ssn_last4": "6618",
                       "medicaid_id": "TX30118822"})
    son = prepare({"source_system": "county-general-ehr", "source_record_id": "3", "first_name": "John",
                   "last_name": HOME["last_name"], "birth_date": "2001-09-27", "phone": HOME["phone"]})

    result = matching.submit_cluster(undated, [(son, 25.0)], "test", "c-1")

    assert result["decision"] == "MATCH" and result["person_id"] == father["person_id"]
    alone = result["decided_alone"][son.key]
    assert alone["decision"] == "POSSIBLE_MATCH" and alone["review_case_id"]
    entry = matching.index().get(son.key)
    assert entry.person_id is None and entry.case_id == alone["review_case_id"]


def test_a_consistent_cluster_member_still_joins_by_its_cluster(matching):
    person = submit(matching, "st-marys-ehr", "1", **ADA)
    rep = prepare({"source_system": "bluepath-mco", "source_record_id": "2", **ADA, "medicaid_id": "TX40918273"})
    member = prepare({"source_system": "bluepath-mco", "source_record_id": "3", **ADA, "phone": ""})

    result = matching.submit_cluster(rep, [(member, 30.0)], "test", "c-2")

    assert result["person_id"] == person["person_id"] and result["decided_alone"] == {}
    assert matching.index().get(member.key).person_id == person["person_id"]


def test_a_dedup_run_never_auto_merges_persons_with_a_contradicting_pair_beside_their_best(services, matching,
                                                                                           activate_policy):
    """Person B = {B1, B2}; A1 agrees with B1 (the best pair, far above the upper threshold) but carries another
    SSN than B2: the run opens a case instead of merging."""
    defaults = {k: DEFAULT_POLICY[k] for k in ("hold_levels", "conflict_levels", "firm_conflict_levels",
                                               "clear_levels")}
    b1 = submit(matching, "st-marys-ehr", "B1", **ADA)
    b2 = submit(matching, "fqhc-eastside", "B2", **{**ADA, "middle_name": ""}, ssn_last4="7305")
    assert b2["person_id"] == b1["person_id"]
    activate_policy(**defaults, lower_match_weight=1e5, upper_match_weight=2e5)  # A1 founds a person of its own
    a1 = submit(matching, "county-general-ehr", "A1", **ADA, ssn_last4="4821")
    assert a1["decision"] == "NO_MATCH"
    shipped = services.registry.load(DEFAULT_MODEL_VERSION).policy
    activate_policy(**defaults, lower_match_weight=shipped.lower_match_weight,
                    upper_match_weight=shipped.upper_match_weight, batch_auto_merge=True)

    run = services.dedup.run("admin:test")

    finding = next(f for f in run["findings"] if {f["person_a"], f["person_b"]} == {a1["person_id"], b1["person_id"]})
    assert finding["match_weight"] > upper(matching) and "B1" in (finding["record_a"] + finding["record_b"])
    assert finding["merge_id"] is None and finding["case_id"]
    assert run["counts"]["auto_merged"] == 0
