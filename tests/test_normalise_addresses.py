"""Tests for the address part of mpi.records.normalise (``mpi/records/addresses.py``): USPS style, ZIP codes,
states, the household key and the homeless flag. One behaviour per test, small inline records."""

import pytest

from mpi.records.normalise import normalise_record


def norm(**fields):
    return normalise_record(fields)


# ---------------------------------------------------------------------------------------- address

def address(line1, line2="", city="Houston", state="TX", postal_code="77026"):
    return norm(address_line1=line1, address_line2=line2, city=city, state=state,
                postal_code=postal_code)


def test_address_is_usps_style():
    result = address("3663 West James Boulevard", "Apartment 22", "houston", "Texas", "77026-2174")
    assert (result["address_line1"], result["address_line2"], result["city"], result["state"],
            result["postal_code"], result["homeless"], result["address_key"]) == (
        "3663 W JAMES BLVD", "APT 22", "HOUSTON", "TX", "77026", False, "3663 JAMES")


def test_address_abbreviation_variants_agree():
    a = address("8496 North Spring Road", "Apt # 2")
    b = address("8496 N. Spring Rd.", "APT 2")
    assert a["address_line1"] == b["address_line1"] == "8496 N SPRING RD"
    assert a["address_key"] == b["address_key"] == "8496 SPRING"


def test_unit_inside_line1_does_not_change_the_street():
    result = address("7811 JOHNSON ST, UNIT 25")
    assert result["address_line1"].startswith("7811 JOHNSON ST")
    assert result["address_key"] == "7811 JOHNSON"


def test_accented_address_is_ascii():
    assert address("964 César Chávez Ave")["address_line1"] == "964 CESAR CHAVEZ AVE"


@pytest.mark.parametrize("line1", ["PO Box 123", "asdf qwer", "0", "#$%", "1 2 3 4 5 6 7 8 9 10"])
def test_unparseable_address_falls_back_without_raising(line1):
    result = address(line1)
    assert result["state"] == "TX" and result["postal_code"] == "77026"


def test_unparseable_address_falls_back_to_tidied_text():
    result = address("P.O. Box 123")
    assert result["address_line1"] == "P O BOX 123"
    assert result["address_key"] is None


def test_address_without_city_state_or_zip_falls_back_to_tidied_text():
    result = address("3663 w. james blvd.", city="", state="", postal_code="")
    assert result["address_line1"] == "3663 W JAMES BLVD"
    assert result["address_key"] == "3663 JAMES"


def test_shelter_care_of_line_still_normalises_the_street():
    result = address("827 W. Meadow Drive", "c/o Bayou Haven Shelter", "Baytown", "TX", "77520")
    assert result["address_line1"] == "827 W MEADOW DR"
    assert result["address_line2"] == "C O BAYOU HAVEN SHELTER"


@pytest.mark.parametrize("line1", [
    "HOMELESS", "Homeless", "General Delivery", "No fixed address", "NONE", "UNHOUSED", "unknown",
    "no address",
])
def test_homeless_markers_clear_line1_and_set_flag(line1):
    result = address(line1, city="Chicago", state="IL", postal_code="")
    assert result["homeless"] is True
    assert result["address_line1"] is None and result["address_key"] is None
    assert (result["city"], result["state"]) == ("CHICAGO", "IL")


def test_no_address_at_all_is_not_homeless():
    assert address("", city="", state="", postal_code="")["homeless"] is False


@pytest.mark.parametrize("raw, expected", [
    ("77026", "77026"), ("77026-2174", "77026"), ("770262174", "77026"), ("07702", "07702"),
    ("7702", "07702"), ("", None), ("00000", None), ("99999", None),
])
def test_postal_code_is_five_digit_zip(raw, expected):
    """A ZIP+4 is cut to its ZIP; four digits are a ZIP whose leading zero a spreadsheet dropped."""
    assert address("1 Main St", postal_code=raw)["postal_code"] == expected


@pytest.mark.parametrize("raw, expected", [
    ("SW1A 1AA", "SW1A1AA"), ("tq13 8df", "TQ138DF"), ("K1A 0B6", "K1A0B6"), ("D02 X285", "D02X285"),
    ("ABCDE", None), ("UNKNOWN", None), ("N/A", None), ("12", None), ("123456789012", None),
])
def test_foreign_postcode_is_kept_without_spaces_and_placeholders_are_missing(raw, expected):
    assert address("1 Main St", postal_code=raw)["postal_code"] == expected


def test_foreign_postcode_does_not_stop_the_address_parse():
    assert address("100 North Main Street", city="Leeds", state="", postal_code="LS1 4AP")["address_key"] == "100 MAIN"


@pytest.mark.parametrize("raw, expected", [
    ("tx", "TX"), ("Illinois", "IL"), ("CALIFORNIA", "CA"), ("Nowhere", None), ("", None),
])
def test_state_is_two_letter_code(raw, expected):
    assert address("1 Main St", state=raw)["state"] == expected


@pytest.mark.parametrize("line1, key", [
    ("100 North Main Street", "100 MAIN"),
    ("5301 W Barnett Street", "5301 BARNETT"),
    ("2911 49th Rd", "2911 49TH"),
    ("9171 Willow Street", "9171 WILLOW"),
    # The space before the street type lost in keying: the same key as with it.
    ("15 goodwinstreet", "15 GOODWIN"),
    ("2 McKinleyCircuit", "2 MCKINLEY"),
    # A name that merely ends in a type's letters keeps them when too little is left.
    ("3 Byroad", "3 BYROAD"),
])
def test_address_key_is_house_number_and_first_street_word(line1, key):
    assert address(line1)["address_key"] == key
