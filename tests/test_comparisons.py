"""The comparison levels named pairs of people fall into, in both engines' Python side.

Each pair is a small named case from the hard kinds of a referral network; the
test pins the level (what the evidence will say to a steward), never a weight.
"""

from __future__ import annotations

import pytest

from mpi.matching.comparisons import COMPARISONS, TF_COLUMNS, TF_LEVELS, derive
from mpi.records.normalise import normalise_record

BY_NAME = {c.name: c for c in COMPARISONS}


def level(comparison: str, left: dict, right: dict) -> str:
    l, r = (normalise_record(x) for x in (left, right))
    tables = {"first_name": {}}
    l, r = {**l, **derive(l, tables)}, {**r, **derive(r, tables)}
    c = BY_NAME[comparison]
    return c.levels[c.level_of(l, r)].label


DOB = "1990-04-12"


@pytest.mark.parametrize(("left", "right", "expected"), [
    ({"first_name": "Kim"}, {"first_name": "KIMBERLY"}, "first name nickname or short form, birth date exact"),
    ({"first_name": "Bob"}, {"first_name": "Robert"}, "first name nickname or short form, birth date exact"),
    ({"first_name": "Maria"}, {"first_name": "María Guadalupe"}, "first name nickname or short form, birth date exact"),
    # Spanish short forms the English nickname table lacks (mpi.records.hypocorisms).
    ({"first_name": "Pancho"}, {"first_name": "Francisco"}, "first name nickname or short form, birth date exact"),
    ({"first_name": "Chuy"}, {"first_name": "Jesús"}, "first name nickname or short form, birth date exact"),
    ({"first_name": "LUPE"}, {"first_name": "Guadalupe"}, "first name nickname or short form, birth date exact"),
    ({"first_name": "Beto"}, {"first_name": "Humberto"}, "first name nickname or short form, birth date exact"),
    # One given name written in two words or one.
    ({"first_name": "Su Bin"}, {"first_name": "SUBIN"}, "first name nickname or short form, birth date exact"),
    ({"first_name": "Ji-Yeon"}, {"first_name": "Jiyeon"}, "first name nickname or short form, birth date exact"),
    # Sharing only a root (both shorten ALEXANDRA) is not a nickname relation: twins are named so.
    ({"first_name": "Alexa"}, {"first_name": "Alexis"}, "first name spelling variant, birth date exact"),
    # One letter longer is a sister's name, not a short form.
    ({"first_name": "Daniel"}, {"first_name": "Daniela"}, "first name spelling variant, birth date exact"),
    ({"first_name": "Emiyl"}, {"first_name": "Emily"}, "first name spelling variant, birth date exact"),
    ({"first_name": "Huong", "last_name": "Nguyen"}, {"first_name": "NGUYEN", "last_name": "HUONG"},
     "first name missing or swapped, birth date exact or near"),
])
def test_first_names_on_one_birth_date(left, right, expected):
    assert level("name_dob", {**left, "birth_date": DOB}, {**right, "birth_date": DOB}) == expected


def test_two_formal_names_sharing_a_short_form_are_not_nicknames_of_each_other():
    # BETO shortens ALBERTO and ROBERTO: brothers are named so, as ALEXA and ALEXIS are sisters.
    assert level("name_dob", {"first_name": "Alberto", "birth_date": DOB},
                 {"first_name": "Roberto", "birth_date": DOB}) != "first name nickname or short form, birth date exact"


def test_a_multiple_birth_placeholder_is_its_own_level_and_a_plain_one_is_a_missing_name():
    baby_b = {"first_name": "BABY BOY B", "birth_date": DOB}
    assert level("name_dob", baby_b, {"first_name": "Diego", "birth_date": DOB}) == \
        "a multiple-birth placeholder, birth date exact or near"
    assert level("name_dob", {"first_name": "Baby Girl", "birth_date": DOB},
                 {"first_name": "Sofia", "birth_date": DOB}) == "first name missing or swapped, birth date exact or near"


@pytest.mark.parametrize(("left", "right", "expected"), [
    ({"birth_date": "1990-04-12"}, {"birth_date": "1990-12-04"}, "first name exact, birth date near"),
    ({"birth_date": "1990-04-12"}, {"birth_date": ""}, "first name exact, birth date missing"),
    ({"birth_date": "1990-04-12"}, {"birth_date": "2016-02-01"}, "first name similar, birth date differs"),
])
def test_birth_dates_with_one_first_name(left, right, expected):
    assert level("name_dob", {"first_name": "Ana", **left}, {"first_name": "ANA", **right}) == expected


@pytest.mark.parametrize(("left", "right", "expected"), [
    ({"last_name": "García López"}, {"last_name": "LOPEZ"}, "a surname part agrees"),
    ({"last_name": "Sánchez-Ramos"}, {"last_name": "SANCHEZ"}, "a surname part agrees"),
    ({"last_name": "Garcia"}, {"last_name": "Miller", "middle_name": "Garcia"}, "maiden name kept as a middle name"),
    ({"first_name": "Lan", "last_name": "Tran"}, {"first_name": "Tran", "last_name": "Lan"},
     "given and family names swapped"),
])
def test_surnames(left, right, expected):
    assert level("last_name", {"first_name": "Ana", **left}, {"first_name": "Ana", **right}) == expected


def test_each_term_frequency_column_adjusts_exactly_one_level():
    assert sorted(TF_LEVELS) == sorted(TF_COLUMNS)
    for column, (comparison, index) in TF_LEVELS.items():
        assert BY_NAME[comparison].levels[index].tf_column == column


HOUSE = {"last_name": "Nguyen", "address_line1": "12 Oak St", "postal_code": "77087"}


@pytest.mark.parametrize(("left", "right", "expected"), [
    # A twin: another first name on the same birth date, in the same household.
    ({"first_name": "Diego", **HOUSE}, {"first_name": "Mateo", **HOUSE}, "birth date exact, first name differs"),
    # The same birth date and other names, outside a family: a coincidence, learned like any level.
    ({"first_name": "Diego", "last_name": "Nguyen"}, {"first_name": "Mateo", "last_name": "Smith"},
     "birth date exact, first name and surname differ"),
])
def test_a_twin_shares_the_household(left, right, expected):
    assert level("name_dob", {**left, "birth_date": DOB}, {**right, "birth_date": DOB}) == expected


def test_names_swapped_and_spelt_differently():
    left, right = {"first_name": "Eric", "last_name": "Pham"}, {"first_name": "PHA", "last_name": "ERICK"}
    assert level("last_name", left, right) == "given and family names swapped, spelt differently"
    assert level("name_dob", {**left, "birth_date": DOB}, {**right, "birth_date": DOB}) == \
        "first name missing or swapped, birth date exact or near"


@pytest.mark.parametrize(("comparison", "left", "right", "expected"), [
    ("ssn_last4", {"ssn_last4": "5829"}, {"ssn_last4": "5892"}, "one digit off or two swapped"),
    ("contact", {"postal_code": "77087"}, {"postal_code": "77078"}, "ZIP one character off"),
    ("contact", {"city": "Houston", "postal_code": "77087"}, {"city": "HOUSTON", "postal_code": "77002"},
     "city agrees"),
])
def test_identifiers_and_contact_keyed_with_a_slip(comparison, left, right, expected):
    assert level(comparison, left, right) == expected


@pytest.mark.slow  # every level over 12,720 pairs
def test_dispatching_on_the_birth_dates_finds_the_level_testing_every_level_would():
    """NAME_DOB tests only the levels its birth-date relation allows; the answer must be the first level that
    holds in order, whatever the relation (exact, near, missing, differs), over thousands of generated pairs."""
    from itertools import combinations

    from mpi.matching.name_dob import NAME_DOB, _dob_relation
    from mpi.records.validation import validate_record
    from mpi.synth.generator import generate_records

    records = []
    for raw in generate_records(160, seed=9):
        record = validate_record(raw, strict=False)
        norm = normalise_record(record)
        records.append({**norm, **derive(norm, {})})
    relations = set()
    for l, r in combinations(records, 2):
        expected = next(i for i, level in enumerate(NAME_DOB.levels) if level.test(l, r))
        assert NAME_DOB.level_of(l, r) == expected, (_dob_relation(l, r), NAME_DOB.levels[expected].label)
        relations.add(_dob_relation(l, r))
    assert relations == {"exact", "near", "missing", "differs"}
