"""Stewards' search (``GET /v1/persons``, ``mpi/identity/search.py``) and the search terms it reads
(``mpi/store/search.py``, migration 17): through the real app, on a real DuckDB file, records submitted
through the real decision path."""

from __future__ import annotations

import logging

import pytest

from conftest import generated_norms
from mpi.auth import add_user
from mpi.identity.search import Criteria, PersonSearch
from mpi.matching.blocking import record_keys
from mpi.store.schema import LATEST_VERSION
from mpi.store.search import terms_of

#: Every test here runs on a DuckDB file and on a PostgreSQL database (``conftest.store_location``).
pytestmark = pytest.mark.both_stores


def person(client, auth, key: str, first: str, last: str, **fields) -> str:
    """Submit one record (as St Mary's) and return the person it made or joined."""
    body = {"source_system": "st-marys-ehr", "source_record_id": key, "first_name": first, "last_name": last,
            **fields}
    answer = client.post("/v1/records", json=body, headers=auth)
    assert answer.status_code in (200, 201), answer.json
    return answer.json["person_id"]


@pytest.fixture
def steward(services) -> dict:
    return {"Authorization": f"Bearer {add_user(services.store, 'stella', 'steward')}"}


@pytest.fixture
def people(client, auth, services) -> dict[str, str]:
    """Persons with names close to each other: the exact, nickname and phonetic forms of WILLIAM SMITH."""
    services.ensure_active_model("test")
    return {
        "william": person(client, auth, "W-1", "William", "Smith", birth_date="1980-01-02", phone="404-555-0199",
                          email="w.smith@example.org", medicaid_id="MC1234567", postal_code="30301"),
        "bill": person(client, auth, "B-1", "Bill", "Smith", birth_date="1975-07-08", phone="312-555-0144",
                       postal_code="60605"),
        "willie": person(client, auth, "S-1", "William", "Smyth", birth_date="1990-03-04", phone="214-555-0121",
                         ssn_last4="4821", postal_code="75204"),
        "mary": person(client, auth, "M-1", "Mary", "Jones", birth_date="1980-01-02", phone="713-555-0166",
                       postal_code="30301"),
    }


def search(client, headers, **params):
    answer = client.get("/v1/persons", query_string=params, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def ids(answer) -> list[str]:
    return [item["person_id"] for item in answer["items"]]


# ------------------------------------------------------------------------------------------- criteria

def test_each_criterion_finds_its_person_and_says_it_matched(client, steward, people):
    cases = [
        ({"birth_date": "01/02/1980"}, {people["william"], people["mary"]}, "birth_date"),
        ({"phone": "404-555-0199"}, {people["william"]}, "phone"),
        ({"email": "W.Smith@example.org"}, {people["william"]}, "email"),
        ({"identifier": "mc-1234567"}, {people["william"]}, "identifier"),
        ({"identifier": "4821"}, {people["willie"]}, "identifier"),
        ({"postal_code": "60605"}, {people["bill"]}, "postal_code"),
        ({"source_system": "st-marys-ehr", "source_record_id": "M-1"}, {people["mary"]}, "record"),
        ({"person_id": people["bill"]}, {people["bill"]}, "person_id"),
    ]
    for params, expected, criterion in cases:
        answer = search(client, steward, **params)
        assert set(ids(answer)) == expected, params
        assert all({"criterion": criterion, "how": "exact"} in item["matched"] for item in answer["items"]), params


def test_a_result_is_the_person_with_its_records_and_golden_view(client, steward, people):
    [item] = search(client, steward, phone="4045550199")["items"]

    assert item["rank"] == 1
    assert item["golden"]["last_name"] == "SMITH" and item["golden"]["birth_date"] == "1980-01-02"
    assert item["records"] == [{
        "source_system": "st-marys-ehr", "source_record_id": "W-1", "decision": "NO_MATCH", "link_source": "AUTO",
        "first_name": "William", "last_name": "Smith", "birth_date": "1980-01-02", "sex": None,
        "phone": "404-555-0199", "email": "w.smith@example.org", "medicaid_id": "MC1234567", "ssn_last4": None,
        "address_line1": None, "city": None, "postal_code": "30301"}]


@pytest.mark.parametrize("phone", ["+14045550199", "(404) 555 0199", "404.555.0199", "1 404 555 0199"])
def test_a_phone_in_another_format_finds_the_person(client, steward, people, phone):
    assert ids(search(client, steward, phone=phone)) == [people["william"]]
    assert ids(search(client, steward, q=phone)) == [people["william"]]


def test_a_nickname_finds_the_formal_name_and_the_formal_name_the_nickname(client, steward, people):
    bill = search(client, steward, name="Bill Smith")
    assert ids(bill)[:2] == [people["bill"], people["william"]]
    assert bill["items"][0]["matched"] == [{"criterion": "name", "how": "exact"}]
    assert bill["items"][1]["matched"] == [{"criterion": "name", "how": "nickname"}]

    assert people["bill"] in ids(search(client, steward, name="William Smith"))


def test_a_surname_spelled_another_way_finds_the_person_by_its_sound(client, steward, people):
    answer = search(client, steward, name="Bill Smyth")

    found = {item["person_id"]: item["matched"] for item in answer["items"]}
    assert found[people["william"]] == [{"criterion": "name", "how": "phonetic"}]
    assert people["mary"] not in found


def test_a_name_given_last_name_first_is_found_too(client, steward, people):
    assert ids(search(client, steward, name="Jones Mary")) == [people["mary"]]


def test_a_surname_of_several_words_is_found_by_the_whole_name(client, auth, steward, services, people):
    maria = person(client, auth, "C-1", "Maria", "de la Cruz", birth_date="1966-06-06", phone="404-555-0188")

    assert ids(search(client, steward, name="Maria de la Cruz")) == [maria]
    assert ids(search(client, steward, name="de la Cruz Maria")) == [maria]
    assert search(client, steward, name="Maria Cruz")["total"] == 0  # CRUZ alone is another surname's sound


def test_free_text_is_split_into_the_criteria_it_looks_like(client, steward, people):
    answer = search(client, steward, q="William Smith 1980-01-02")

    assert ids(answer)[0] == people["william"]
    assert answer["items"][0]["matched"] == [{"criterion": "birth_date", "how": "exact"},
                                             {"criterion": "name", "how": "exact"}]
    assert ids(search(client, steward, q="st-marys-ehr/S-1")) == [people["willie"]]
    assert ids(search(client, steward, q=people["mary"].lower())) == [people["mary"]]
    assert ids(search(client, steward, q="w.smith@example.org")) == [people["william"]]


# -------------------------------------------------------------------------------------------- ranking

def test_ranking_puts_more_criteria_first_then_exact_then_nickname_then_phonetic(client, steward, people):
    answer = search(client, steward, name="William Smith", postal_code="60605")

    assert ids(answer) == [people["bill"], people["william"], people["willie"]]
    assert [item["rank"] for item in answer["items"]] == [1, 2, 3]
    # Bill matched two criteria (nickname and ZIP); then William exactly, then William Smyth by sound.
    assert [m["how"] for m in answer["items"][0]["matched"]] == ["nickname", "exact"]
    assert answer["items"][1]["matched"] == [{"criterion": "name", "how": "exact"}]
    assert answer["items"][2]["matched"] == [{"criterion": "name", "how": "phonetic"}]


def test_a_postcode_with_other_criteria_ranks_but_does_not_fetch(client, steward, people):
    # Mary shares William's ZIP but not his name: not found by the name, and the ZIP alone does not bring her.
    assert people["mary"] not in ids(search(client, steward, name="William Smith", postal_code="30301"))
    assert set(ids(search(client, steward, postal_code="30301"))) == {people["william"], people["mary"]}


def test_paging_gives_each_person_once_with_the_total(client, auth, steward, services):
    services.ensure_active_model("test")
    made = {person(client, auth, f"J-{i}", first, "Jansen", birth_date=f"19{50 + i}-0{1 + i}-1{i}",
                   phone=f"404-555-01{10 + i}")
            for i, first in enumerate(["Anna", "Boris", "Carla", "Dmitri", "Elena"])}

    first = search(client, steward, name="Jansen", per_page=2)
    second = search(client, steward, name="Jansen", per_page=2, page=2)
    third = search(client, steward, name="Jansen", per_page=2, page=3)

    assert first["total"] == second["total"] == third["total"] == 5
    assert (first["page"], second["page"], first["per_page"]) == (1, 2, 2)
    assert len(ids(first)) == len(ids(second)) == 2 and len(ids(third)) == 1
    assert set(ids(first)) | set(ids(second)) | set(ids(third)) == made
    assert [item["rank"] for item in second["items"]] == [3, 4]
    assert search(client, steward, name="Jansen", page=4)["items"] == []


def test_a_merged_away_person_id_finds_the_survivor(client, steward, people, services):
    services.merges.merge(people["william"], people["bill"], "user:stella", "one man")

    answer = search(client, steward, person_id=people["bill"])

    assert ids(answer) == [people["william"]]
    assert answer["items"][0]["matched"] == [{"criterion": "person_id", "how": "redirected"}]
    assert {r["source_record_id"] for r in answer["items"][0]["records"]} == {"W-1", "B-1"}
    # Found by the loser's old phone, the record now answers as the survivor's.
    assert ids(search(client, steward, phone="312-555-0144")) == [people["william"]]


def test_a_store_without_the_candidate_index_answers_as_the_service_does(client, steward, people, services):
    """The service reads found records' persons and forms from its candidate index; a tool over a store file
    (``bench/search.py --store-only``) reads them from the store: the same persons, ranked the same."""
    services.merges.merge(people["william"], people["bill"], "user:stella", "one man")
    bare = PersonSearch(services.store)
    for criteria in (Criteria(name="Bill Smith"), Criteria(name="Smyth"), Criteria(phone="(312) 555 0144"),
                     Criteria(birth_date="1980-01-02", postal_code="30301"), Criteria(person_id=people["bill"]),
                     Criteria(source_system="st-marys-ehr", source_record_id="B-1")):
        served = services.search.search(criteria)
        assert served["items"], criteria
        assert bare.search(criteria) == served


# -------------------------------------------------------------------------------------- who and what not

@pytest.mark.parametrize("role", ["hub", "coordinator", "auditor"])
def test_only_stewards_and_admins_may_search(client, services, people, role):
    services.directory.add({"code": "org-x", "name": "Org X", "kind": "hospital", "service_types": []}, "test")
    token = add_user(services.store, f"u-{role}", role, organisation=None if role == "auditor" else "org-x")
    answer = client.get("/v1/persons?name=Smith", headers={"Authorization": f"Bearer {token}"})

    assert answer.status_code == 403
    assert answer.json["code"] == "forbidden" and "role" in answer.json["errors"]
    admin = add_user(services.store, "ada", "admin")
    assert client.get("/v1/persons?name=Smith", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_a_caller_without_a_token_is_refused_before_the_arguments_are_read(client):
    assert client.get("/v1/persons?per_page=1000").status_code == 401


def test_a_search_with_no_criterion_is_refused_naming_the_fields(client, steward, people):
    for params in ({}, {"name": "  "}, {"page": 2}):
        answer = client.get("/v1/persons", query_string=params, headers=steward)
        assert answer.status_code == 422
        [message] = answer.json["errors"]["_schema"]
        assert "q, name, birth_date, phone, email, identifier, postal_code" in message


def test_bad_values_are_refused_naming_each_field(client, steward, people):
    answer = client.get("/v1/persons", query_string={"source_system": "st-marys-ehr", "phone": "555-9999",
                                                     "birth_date": "2999-01-01"}, headers=steward)

    assert answer.status_code == 422
    assert set(answer.json["errors"]) == {"source_record_id", "phone", "birth_date"}
    assert client.get("/v1/persons?name=x&per_page=101", headers=steward).json["errors"] == {
        "per_page": ["Must be greater than or equal to 1 and less than or equal to 100."]}
    assert client.get("/v1/persons?nam=Smith", headers=steward).status_code == 422


def test_each_person_answered_is_an_access_log_read_and_the_query_is_never_logged(client, steward, people,
                                                                                  services, caplog):
    services.store.access.flush_every(0)
    with caplog.at_level(logging.DEBUG):
        answer = search(client, steward, name="Bill Smyth", phone="404-555-0199")

    [event] = [e for e in services.store.access.page(limit=100)["events"] if e["route"] == "/v1/persons"]
    assert event["action"] == "search" and event["actor"] == "user:stella"
    assert {("person", i) for i in ids(answer)} <= {(e["type"], e["id"]) for e in event["entities"]}
    assert ("record", "st-marys-ehr/W-1") in {(e["type"], e["id"]) for e in event["entities"]}
    text = caplog.text + repr(services.store.access.page(limit=100))
    assert "search by user:stella" in caplog.text  # the lines are there to check
    for value in ("Smyth", "SMYTH", "Bill", "555-0199", "5550199"):
        assert value not in text


# ------------------------------------------------------------------------------------------ the terms

def test_terms_follow_a_record_when_it_is_sent_again_changed(client, auth, steward, services, people):
    before = services.store.search.terms_of_records([("st-marys-ehr", "M-1")])[("st-marys-ehr", "M-1")]
    assert "ph:+17135550166" in before and "ln:JONES" in before

    person(client, auth, "M-1", "Mary", "Jonas", birth_date="1980-01-02", phone="713-555-0177", postal_code="30301")

    after = services.store.search.terms_of_records([("st-marys-ehr", "M-1")])[("st-marys-ehr", "M-1")]
    record = services.store.records.get("st-marys-ehr", "M-1")
    assert after == terms_of(record["norm"])
    assert "ph:+17135550177" in after and "ln:JONAS" in after
    assert "ph:+17135550166" not in after and "ln:JONES" not in after
    assert search(client, steward, phone="713-555-0166")["total"] == 0
    assert ids(search(client, steward, phone="713-555-0177")) == [people["mary"]]


def test_migration_17_posts_the_terms_of_a_store_that_had_records_before_it(services):
    norms = generated_norms(60, seed=17)
    with services.store.transaction():
        for i, norm in enumerate(norms):
            services.store.records.put("gen", f"G-{i}", {"first_name": "x"}, norm, record_keys(norm) or ["x"])
    written = services.store.search.terms_of_records([("gen", f"G-{i}") for i in range(len(norms))])
    # As a store at version 16 was: no terms, no indexes of migration 17, nothing of the migrations after it.
    with services.store.transaction():
        for statement in ("DROP TABLE search_terms", "DROP INDEX links_record", "DROP INDEX source_records_record",
                          "DROP TABLE case_reasons", "DROP TABLE leases", "DROP TABLE record_changes",
                          "DROP TABLE cache_generations",
                          "DELETE FROM schema_version WHERE version >= 17"):
            services.store.db.execute(statement)

    assert services.store.migrate() == LATEST_VERSION

    filled = services.store.search.terms_of_records([("gen", f"G-{i}") for i in range(len(norms))])
    expected = {("gen", f"G-{i}"): terms_of(norm) for i, norm in enumerate(norms) if terms_of(norm)}
    assert filled == written == expected
    assert sum(map(len, filled.values())) > 60 * 8  # most generated records have most fields


# ------------------------------------------------------------------------------------------ the page

def test_the_search_page_shows_persons_found_with_their_records_and_names_what_it_cannot_read(
        app, services, people):
    from test_review_ui import sign_in

    ui = app.test_client()
    assert sign_in(ui, "stella", add_user(services.store, "stella", "steward")).status_code == 303

    page = ui.get("/review/search?q=Bill+Smyth")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'href="/review/persons/{people["william"]}"' in html and "name (phonetic)" in html
    assert 'id="search-total">3<' in html
    assert 'action="/review/search/compare"' in html

    bad = ui.get("/review/search?phone=555-9999&source_system=st-marys-ehr")
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "phone: a phone with its area code" in text and "source record id: a record key is" in text

    two = ui.get(f"/review/search/compare?q=Smith&person={people['bill']}&person={people['william']}")
    assert two.status_code == 303
    assert two.headers["Location"] == f"/review/compare?a={people['bill']}&b={people['william']}"
