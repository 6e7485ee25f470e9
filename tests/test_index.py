"""Candidate retrieval from the in-memory index: which persons a record is scored against.

Every blocking key finds the persons posted under it, a key holding more
records than the bound is skipped (a clinic phone, a shelter address), and a
person found is returned with all of its records, in key order.
"""

from __future__ import annotations

from conftest import PEOPLE
from mpi.identity.index import CandidateIndex
from mpi.matching import blocking
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record


def norm(person: str, **changes) -> dict:
    return normalise_record(validate_record({"source_system": "s", "source_record_id": "x", **PEOPLE[person],
                                             **changes}))


def index_of(*records: tuple[str, str, dict]) -> CandidateIndex:
    """An index of (record id, person id, normalised record), every record linked."""
    index = CandidateIndex()
    for record_id, person_id, n in records:
        index.put(("s", record_id), n, blocking.record_keys(n), None, None)
        index.link(("s", record_id), person_id, "MATCH", "AUTO", None, None)
    return index


def found(index: CandidateIndex, n: dict, bound: int = 400, exclude=None) -> dict[str, list[str]]:
    return {person: [e.key[1] for e in members]
            for person, members in index.candidate_persons(blocking.query_keys(n), bound, exclude)}


def test_a_person_found_by_one_key_comes_with_all_its_records_in_key_order():
    marisol = norm("marisol")
    moved = norm("marisol", phone=None, email=None, medicaid_id=None, ssn_last4=None, birth_date="1990-01-01",
                 last_name="Other", postal_code="99999", first_name="Zed")
    index = index_of(("b", "P1", moved), ("a", "P1", marisol), ("c", "P2", norm("theodore")))
    assert found(index, norm("marisol")) == {"P1": ["a", "b"]}


def test_each_blocking_key_alone_finds_the_person():
    stored = norm("marisol")
    index = index_of(("a", "P1", stored))
    blank = {f: None for f in ("first_name", "middle_name", "last_name", "birth_date", "ssn_last4", "medicaid_id",
                               "phone", "email", "address_line1", "address_line2", "city", "state", "postal_code")}
    only = {
        "birth date": {"birth_date": "1984-03-17"},
        "phone": {"phone": "(404) 555-0143"},
        "medicaid id": {"medicaid_id": "MC77120934"},
        "ssn last 4 and birth year": {"ssn_last4": "4821", "birth_date": "1984-01-01"},
        "postcode and first name": {"postal_code": "30309", "first_name": "Marisol"},
        "phonetic surname and first initial": {"last_name": "Kintanilla", "first_name": "Mari"},
        "swapped names": {"first_name": "Quintanilla", "last_name": "Marisol"},
    }
    for what, fields in only.items():
        assert found(index, norm("marisol", **{**blank, **fields})) == {"P1": ["a"]}, what


def test_a_key_commoner_than_the_bound_is_skipped():
    clinic = "(404) 555-0100"
    patients = [(f"p{i}", f"P{i}", norm("theodore", first_name=f"Name{chr(65 + i)}", last_name=f"Family{i}",
                                        birth_date=f"19{50 + i}-01-02", phone=clinic, email=None, ssn_last4=None,
                                        postal_code="60605"))
                for i in range(6)]
    index = index_of(*patients)
    query = norm("desmond", phone=clinic)
    assert len(found(index, query, bound=6)) == 6
    assert found(index, query, bound=5) == {}


def test_a_coarse_key_has_its_own_tighter_bound():
    """A birth date shared by more records than COARSE_BLOCK_SIZE is skipped though under the bound; a phone
    shared as widely is not."""
    n = blocking.COARSE_BLOCK_SIZE + 1
    born_today = [(f"p{i}", f"P{i}", norm("theodore", first_name=f"Name{i}", last_name=f"Family{i}",
                                          birth_date="1961-07-04", phone="(404) 555-0100", email=None,
                                          ssn_last4=None, medicaid_id=None, postal_code=f"{60000 + i}"))
                  for i in range(n)]
    index = index_of(*born_today)
    by_date = norm("desmond", birth_date="1961-07-04", phone=None, postal_code=None)
    by_phone = norm("desmond", phone="(404) 555-0100", birth_date=None, postal_code=None)
    assert found(index, by_date, bound=400) == {}
    assert len(found(index, by_phone, bound=400)) == n
    assert len(found(index_of(*born_today[1:]), by_date, bound=400)) == n - 1


def test_a_common_surname_sound_with_an_initial_and_birth_year_is_bounded_as_a_coarse_key():
    """``lfy`` (surname sound, first initial, birth year) holds dozens of records for a common surname at a million
    persons: past COARSE_BLOCK_SIZE it is skipped though under the bound. Records of another birth year fill the
    surname-and-initial block past its own bound, so only ``lfy`` can find these."""
    def wojcik(i: int, year: int) -> tuple[str, str, dict]:
        return (f"{year}-{i}", f"P{year}-{i}", norm("theodore", first_name=f"T{'abcdefghijklmnopqrstuvwxyz'[i % 26]}o",
                                                   birth_date=f"{year}-{1 + i % 12:02d}-{1 + i // 12:02d}", phone=None,
                                                   email=None, ssn_last4=None, medicaid_id=None, address_line1=None,
                                                   postal_code=f"{10000 + i + year}"))
    n = blocking.COARSE_BLOCK_SIZE
    other_year = [wojcik(i, 1970) for i in range(5)]
    query = norm("theodore", first_name="Theo", birth_date="1961-12-31", phone=None, email=None, ssn_last4=None,
                 medicaid_id=None, address_line1=None, postal_code="99999")
    assert len(found(index_of(*other_year, *(wojcik(i, 1961) for i in range(n))), query)) == n
    assert found(index_of(*other_year, *(wojcik(i, 1961) for i in range(n + 1))), query) == {}


def test_the_record_itself_is_excluded_and_a_person_of_it_alone_is_not_a_candidate():
    index = index_of(("a", "P1", norm("marisol")), ("b", "P1", norm("marisol", email=None)),
                     ("c", "P2", norm("marisol", first_name="Marisa")))
    assert found(index, norm("marisol"), exclude=("s", "a")) == {"P1": ["b"], "P2": ["c"]}
    assert found(index, norm("marisol", first_name="Marisa"), exclude=("s", "c")) == {"P1": ["a", "b"]}


def test_an_updated_record_is_found_under_its_new_keys_only_and_keeps_its_person():
    index = index_of(("a", "P1", norm("marisol")))
    updated = norm("theodore")
    index.put(("s", "a"), updated, blocking.record_keys(updated), None, None)
    assert found(index, norm("marisol")) == {}
    assert found(index, norm("theodore")) == {"P1": ["a"]}
    assert dict(index.persons) == {"P1": (("s", "a"),)}


def test_unlinked_records_are_not_candidates_and_moves_follow_the_link():
    index = index_of(("a", "P1", norm("marisol")), ("b", "P2", norm("marisol", email=None)))
    index.unlink(("s", "b"))
    assert found(index, norm("marisol")) == {"P1": ["a"]}
    index.link(("s", "b"), "P1", "MATCH", "MANUAL", None, None)
    assert found(index, norm("marisol")) == {"P1": ["a", "b"]}
    assert index.persons.get("P2") is None and len(index.persons) == 1


def test_compound_keys_alone_find_what_the_coarse_keys_would():
    """At a million persons a birth date, a surname sound or a ZIP and first name holds more records than the
    bound, so those keys are skipped; the compound keys alone still find a surname change, a first-name typo,
    a child's record with no first name and a record without a birth date."""
    bare = dict(phone=None, email=None, medicaid_id=None, ssn_last4=None)
    index = index_of(("a", "P1", norm("marisol", **bare)))
    cases = {
        "married: another surname, same birth date and first name": {"last_name": "Smith", "postal_code": "99999"},
        "a typo in the first name, moved": {"first_name": "Marysol", "postal_code": "99999"},
        "a typo in the surname, moved": {"last_name": "Quintanila", "postal_code": "99999"},
        "a child's record with no first name": {"first_name": None, "last_name": "Smith"},
        "no birth date": {"birth_date": None},
        "no birth date, names swapped": {"birth_date": None, "first_name": "Quintanilla", "last_name": "Marisol"},
    }
    for what, changes in cases.items():
        keys = [k for k in blocking.query_keys(norm("marisol", **bare, **changes))
                if k.split(":")[0] not in ("dob", "lnf", "zf")]
        assert [p for p, _ in index.candidate_persons(keys, 400)] == ["P1"], what
