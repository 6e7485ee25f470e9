"""Hard cases of a referral network through the whole stack: twins, fathers and sons, held records.

Weights are never pinned; what is pinned is the outcome a steward relies on: a
twin is never auto-linked to the other twin, a record without a birth date does
not become the bridge between a father and his son, and a held record is linked
by a later re-match once it is unambiguous.
"""

from __future__ import annotations

from conftest import record

from mpi.auth import add_user
from mpi.services import DEFAULT_MODEL_VERSION

HOME = dict(last_name="Watson", address_line1="3663 W James Blvd", city="Houston", state="TX",
            postal_code="77026", phone="(281) 887-8116")


def submit(client, auth, body):
    response = client.post("/v1/records", json=body, headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_twin_is_not_auto_linked_to_the_other_twin(client, auth):
    kaden = submit(client, auth, {"source_system": "st-marys-ehr", "source_record_id": "1", "first_name": "Kaden",
                                  "birth_date": "2024-08-17", "sex": "M", **HOME})
    caden = submit(client, auth, {"source_system": "county-general-ehr", "source_record_id": "2",
                                  "first_name": "Caden", "birth_date": "2024-08-17", "sex": "M", **HOME})

    assert kaden["decision"] == "NO_MATCH"
    assert caden["decision"] != "MATCH"
    assert caden["person_id"] != kaden["person_id"]


def test_a_first_name_spelt_another_way_on_one_birth_date_is_held_with_the_reason(client, auth):
    submit(client, auth, {"source_system": "st-marys-ehr", "source_record_id": "1", "first_name": "Stephanie",
                          "birth_date": "1990-02-11", "sex": "F", **HOME})
    typo = submit(client, auth, {"source_system": "foodbank-cbo", "source_record_id": "9", "first_name": "Stsphanie",
                                 "birth_date": "1990-02-11", "sex": "F", **HOME})

    assert typo["decision"] == "POSSIBLE_MATCH" and typo["review_case_id"]
    assert typo["candidates"][0]["held_by"] == ["name_dob: first name spelling variant, birth date exact"]


def test_the_same_identifier_lifts_the_hold(client, auth):
    first = submit(client, auth, {"source_system": "st-marys-ehr", "source_record_id": "1", "first_name": "Stephanie",
                                  "birth_date": "1990-02-11", "sex": "F", "ssn_last4": "4821", **HOME})
    typo = submit(client, auth, {"source_system": "foodbank-cbo", "source_record_id": "9", "first_name": "Stsphanie",
                                 "birth_date": "1990-02-11", "sex": "F", "ssn_last4": "4821", **HOME})

    assert typo["decision"] == "MATCH" and typo["person_id"] == first["person_id"]
    assert typo["candidates"][0]["held_by"] is None


def test_a_record_without_birth_date_does_not_bridge_a_father_and_his_son(client, auth):
    father = {"first_name": "Kenneth", "middle_name": "Scott", "sex": "M", **HOME}
    senior = submit(client, auth, {"source_system": "st-marys-ehr", "source_record_id": "1", **father,
                                   "suffix": "Sr", "birth_date": "1952-03-28"})
    undated = submit(client, auth, {"source_system": "foodbank-cbo", "source_record_id": "2", **father})
    junior = submit(client, auth, {"source_system": "county-general-ehr", "source_record_id": "3", **father,
                                   "suffix": "Jr", "birth_date": "2006-12-04"})

    assert senior["decision"] == "NO_MATCH"
    persons = {r["person_id"] for r in (senior, undated, junior) if r["person_id"]}
    # Whatever became of the undated record, the son never joins the father.
    assert junior["person_id"] != senior["person_id"]
    assert junior["decision"] != "MATCH" or undated["person_id"] != senior["person_id"]
    assert len(persons) >= 2


def test_a_namesakes_short_form_elsewhere_is_held_for_a_steward(client, auth):
    """One first name (here its short form) and birth date, and nothing of a household shared: a move, or two
    people; a rare surname must not decide it."""
    stephanie = submit(client, auth, {"source_system": "county-general-ehr", "source_record_id": "1",
                                      "first_name": "Stephanie", "last_name": "Morgan-Gonzalez", "sex": "F",
                                      "birth_date": "1974-05-31", "phone": "832-384-7580",
                                      "address_line1": "5098 Polk Lane", "city": "Houston", "state": "TX",
                                      "postal_code": "77016"})
    steph = submit(client, auth, {"source_system": "housing-first-cbo", "source_record_id": "2", "first_name": "Steph",
                                  "last_name": "Morgan-Gonzalez", "birth_date": "1974-05-31",
                                  "phone": "+1 562 974 3781", "address_line1": "38 Wren Ave", "city": "Westminster",
                                  "state": "CA", "postal_code": "92683"})

    assert steph["decision"] == "POSSIBLE_MATCH" and steph["person_id"] != stephanie["person_id"]
    assert sorted(steph["candidates"][0]["held_by"]) == ["contact: differs",
                                                         "name_dob: first name nickname or short form, birth date exact"]


def test_an_undated_record_of_a_similar_first_name_in_the_household_is_held(client, auth):
    """JULIO with no birth date where JULIAN lives: the father as likely as a typo of the son."""
    julian = submit(client, auth, {"source_system": "county-general-ehr", "source_record_id": "1", "sex": "M",
                                   "first_name": "Julián", "birth_date": "2002-02-17", **HOME})
    julio = submit(client, auth, {"source_system": "foodbank-cbo", "source_record_id": "2", "sex": "M",
                                  "first_name": "Julio", "birth_date": "1900-01-01", **HOME})

    assert julio["decision"] == "POSSIBLE_MATCH" and julio["person_id"] != julian["person_id"]
    assert julio["candidates"][0]["held_by"] == ["name_dob: first name similar, birth date missing"]


def test_an_undated_record_with_another_ssn_does_not_join_the_household_namesake(client, auth):
    dated = submit(client, auth, {"source_system": "fqhc-eastside", "source_record_id": "1", "first_name": "Jorge",
                                  "sex": "M", "birth_date": "1976-07-01", "ssn_last4": "3986", **HOME})
    undated = submit(client, auth, {"source_system": "foodbank-cbo", "source_record_id": "2", "first_name": "Jorge",
                                    "sex": "M", "ssn_last4": "3907", **HOME})

    assert undated["decision"] != "MATCH" and undated["person_id"] != dated["person_id"]


def test_rematch_links_a_held_record_once_it_is_unambiguous(client, auth, services, activate_policy):
    first = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    activate_policy(upper_match_weight=1e6)  # nothing auto-links: the next record is held
    held = submit(client, auth, record("marisol", "bluepath-mco", "BPM-77"))
    assert held["decision"] == "POSSIBLE_MATCH"
    activate_policy(upper_match_weight=services.registry.load(DEFAULT_MODEL_VERSION).policy.upper_match_weight)

    result = services.matching.rematch_open_cases("test")

    assert result["linked"] == 1
    stored = client.get("/v1/records/bluepath-mco/BPM-77", headers=auth).get_json()
    assert stored["link"]["person_id"] == first["person_id"] and stored["link"]["link_source"] == "AUTO"
    assert stored["review_case_id"] is None
    assert services.store.cases.get(held["review_case_id"])["state"] == "withdrawn"
    actions = {e["action"] for e in services.store.audit.events("review_case", held["review_case_id"])}
    assert actions == {"case.opened", "case.withdrawn"}


def test_rematch_leaves_a_case_a_steward_has_taken(client, auth, services, activate_policy):
    submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    activate_policy(upper_match_weight=1e6)
    claimed = submit(client, auth, record("marisol", "bluepath-mco", "BPM-77"))["review_case_id"]
    untouched = submit(client, auth, record("marisol", "fqhc-eastside", "EF-7"))["review_case_id"]
    steward = {"Authorization": f"Bearer {add_user(services.store, 'alice', 'steward')}"}
    taken = client.post(f"/v1/review-cases/{claimed}/claim", json={"reason": "mine", "version": 1}, headers=steward)
    assert taken.status_code == 200, taken.get_json()
    activate_policy(upper_match_weight=services.registry.load(DEFAULT_MODEL_VERSION).policy.upper_match_weight)

    result = services.matching.rematch_open_cases("test")

    assert result["linked"] == 1  # the case nobody took; the claimed one stays with its steward
    assert services.store.cases.get(untouched)["state"] == "withdrawn"
    assert services.store.cases.get(claimed)["state"] == "in_review"
    assert client.get("/v1/records/bluepath-mco/BPM-77", headers=auth).get_json()["link"] is None


def test_a_second_rematch_pass_scores_again_only_what_a_link_could_change(client, auth, services, activate_policy):
    first = submit(client, auth, record("marisol", "st-marys-ehr", "MRN-1"))
    submit(client, auth, record("desmond", "st-marys-ehr", "MRN-2"))
    activate_policy(upper_match_weight=1e6, lower_match_weight=-1e6)  # a record with any candidate is held
    held = submit(client, auth, record("marisol", "bluepath-mco", "BPM-77"))
    loose = submit(client, auth, record("desmond", "bluepath-mco", "BPM-78", first_name="Dez", birth_date="1990-01-01",
                                        phone=None, email=None, ssn_last4=None, address_line1=None))
    assert held["decision"] == loose["decision"] == "POSSIBLE_MATCH"
    activate_policy(upper_match_weight=services.registry.load(DEFAULT_MODEL_VERSION).policy.upper_match_weight)

    result = services.matching.rematch_open_cases("test")

    # Pass 1 links marisol's record and leaves the loose one held; pass 2 links nothing, and the link touched
    # neither the loose record's candidates nor its keys: it is not scored again.
    assert result == {"linked": 1, "passes": 2, "scored": 2}
    assert client.get("/v1/records/bluepath-mco/BPM-77", headers=auth).get_json()["link"]["person_id"] == \
        first["person_id"]
    assert services.store.cases.get(loose["review_case_id"])["state"] == "open"


def test_held_scorings_keep_a_record_s_candidates_until_a_link_reaches_its_persons_or_its_keys():
    from mpi.identity.held_scorings import HeldScorings
    from mpi.matching.decisions import Candidate

    def found(*persons):
        return [Candidate(p, 1.0, 0.5, list, "s", p, 1.0) for p in persons]

    ledger = HeldScorings()
    a, b = found("P1"), found("P2")
    ledger.scored(("s", "a"), a, {"first_name": "ANA", "last_name": "DIAZ", "birth_date": "2001-02-03"})
    ledger.scored(("s", "b"), b, {"first_name": "ROSA", "last_name": "OKAFOR", "birth_date": "1970-05-06"})
    ledger.linked("P9", ("dob:1999-09-09",))  # another person, other keys: nothing to score again
    assert ledger.still(("s", "a")) is a and ledger.still(("s", "b")) is b
    ledger.linked("P1", ("dob:1999-09-09",))  # a's person gained a record
    assert ledger.still(("s", "a")) is None and ledger.still(("s", "b")) is b
    ledger.linked("P7", ("dob:1970-05-06",))  # a record under b's keys joined a person b may now find
    assert ledger.still(("s", "b")) is None
    assert ledger.still(("s", "c")) is None and ledger.scorings == 2
