"""Tests for mpi.records.normalise: one behaviour per test, small inline records, no shared data."""

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mpi.records.fields import RECORD_FIELDS
from mpi.records.normalise import NORMALISED_FIELDS, names_are_nickname_related, normalise_record


def norm(**fields):
    return normalise_record(fields)


# ------------------------------------------------------------------------------------------- shape

def test_output_has_exactly_the_documented_keys_and_ignores_others():
    result = norm(first_name="Ana", truth_person_id="P000001", source_system="x")
    assert tuple(result) == NORMALISED_FIELDS


def test_empty_record_is_all_missing_and_not_homeless():
    result = normalise_record({})
    assert result["homeless"] is False
    assert all(v is None for k, v in result.items() if k != "homeless")


def test_whitespace_and_none_fields_are_missing():
    result = normalise_record({f: "   " for f in RECORD_FIELDS} | {"phone": None})
    assert all(v is None for k, v in result.items() if k != "homeless")


# ------------------------------------------------------------------------------------------- names

def test_names_are_upper_ascii_without_accents():
    result = norm(first_name="Mónica", middle_name="Inés", last_name="García")
    assert (result["first_name"], result["middle_name"], result["last_name"]) == (
        "MONICA", "INES", "GARCIA")


@pytest.mark.parametrize("raw, expected", [
    ("GarcÃ­a", "GARCIA"),
    ("MartÃ\xadnez", "MARTINEZ"),
    ("PÃ©REZ-RAMÃ\xadREZ", "PEREZ RAMIREZ"),
    ("sã¡nchez", "SANCHEZ"),          # re-cased after the damage
    ("Ã\x81LVAREZ", "ALVAREZ"),        # Á: a byte cp1252 leaves undefined
    ("BÃ¹I", "BUI"),
])
def test_mojibake_accent_repaired(raw, expected):
    assert norm(last_name=raw)["last_name"] == expected


def test_real_a_tilde_is_not_mistaken_for_mojibake():
    assert norm(first_name="JOÃO")["first_name"] == "JOAO"


def test_question_mark_for_lost_accent_is_dropped():
    assert norm(last_name="P?REZ")["last_name"] == "PREZ"


def test_vietnamese_d_with_stroke_becomes_d():
    assert norm(last_name="Đặng")["last_name"] == "DANG"


def test_hyphens_and_repeated_spaces_become_one_space():
    assert norm(last_name="  Sánchez-Ramos   de  la Cruz ")["last_name"] == "SANCHEZ RAMOS DE LA CRUZ"


def test_punctuation_is_removed_from_names():
    assert norm(last_name="O'Brien", first_name="J.R.")["last_name"] == "OBRIEN"


@pytest.mark.parametrize("raw, last, suffix", [
    ("SMITH JR", "SMITH", "JR"),
    ("Callahan Jr.", "CALLAHAN", "JR"),
    ("lopez sr", "LOPEZ", "SR"),
    ("Morgan II", "MORGAN", "II"),
    ("Smith 2nd", "SMITH", "II"),
    ("Smith, III", "SMITH", "III"),
    ("Lee IV", "LEE", "IV"),
])
def test_suffix_inside_last_name_moves_to_suffix(raw, last, suffix):
    result = norm(last_name=raw)
    assert (result["last_name"], result["suffix"]) == (last, suffix)


def test_surname_ending_in_single_letter_v_is_not_a_suffix():
    assert norm(last_name="NGUYEN V")["last_name"] == "NGUYEN V"


def test_surname_that_is_only_a_suffix_word_is_kept():
    assert norm(last_name="Junior")["last_name"] == "JUNIOR"


@pytest.mark.parametrize("raw, expected", [
    ("Jr.", "JR"), ("junior", "JR"), ("SR", "SR"), ("Senior", "SR"), ("2nd", "II"), ("ii", "II"),
    ("3RD", "III"), ("iv", "IV"), ("V", "V"), ("MD", None), ("", None),
])
def test_suffix_field_variants_are_canonical(raw, expected):
    assert norm(suffix=raw)["suffix"] == expected


def test_suffix_field_as_sent_wins_over_suffix_in_last_name():
    assert norm(last_name="SMITH JR", suffix="Sr")["suffix"] == "SR"


@pytest.mark.parametrize("raw", [
    "BABY", "Baby Girl", "BABY BOY", "Baby Girl A", "BABYGIRL", "BabyBoy B", "BABYGRIL", "Baby Vboy",
    "BABY BOYY", "BG", "Bb", "INFANT GIRL", "Infant Boy B", "Newborn", "UNKNOWN", "unk", "FNU", "LNU",
])
def test_placeholder_first_names_become_missing(raw):
    result = norm(first_name=raw, last_name="Diaz")
    assert result["first_name"] is None
    assert result["first_name_canonical"] is None and result["first_name_phonetic"] is None
    assert result["last_name"] == "DIAZ"


@pytest.mark.parametrize("raw", ["BOBBY", "BOYD", "BABETTE", "BEA"])
def test_real_first_names_resembling_placeholders_are_kept(raw):
    assert norm(first_name=raw)["first_name"] == raw


@pytest.mark.parametrize("raw", ["FNU", "LNU", "Unknown"])
def test_placeholder_last_names_become_missing(raw):
    result = norm(last_name=raw)
    assert result["last_name"] is None and result["last_name_phonetic"] is None


def test_compound_given_name_is_kept_whole_without_inventing_a_middle_name():
    result = norm(first_name="Maria Guadalupe", last_name="Lopez")
    assert result["first_name"] == "MARIA GUADALUPE"
    assert result["middle_name"] is None and result["middle_initial"] is None


def test_middle_initial_is_first_letter_of_middle_name():
    assert norm(middle_name="enrique")["middle_initial"] == "E"
    assert norm(middle_name="NMN")["middle_name"] is None


def test_nickname_canonical_for_bob_is_robert():
    assert norm(first_name="Bob")["first_name_canonical"] == "ROBERT"


@pytest.mark.parametrize("raw, expected", [
    ("ROBERT", "ROBERT"), ("bobby", "ROBERT"), ("Jim", "JAMES"), ("JAMES", "JAMES"),
    ("liz", "ELIZABETH"), ("Elizabeth", "ELIZABETH"),
    # Spanish short forms with one formal name; BETO has three, and stays itself.
    ("Pancho", "FRANCISCO"), ("chuy", "JESUS"), ("Beto", "BETO"),
])
def test_nickname_canonical_maps_short_forms_and_keeps_formal_names(raw, expected):
    assert norm(first_name=raw)["first_name_canonical"] == expected


def test_nickname_canonical_of_a_name_outside_the_table_is_the_name():
    assert norm(first_name="Xochitl")["first_name_canonical"] == "XOCHITL"


def test_nickname_canonical_and_phonetic_use_the_first_given_name():
    result = norm(first_name="Bob Lee")
    assert result["first_name_canonical"] == "ROBERT"
    assert result["first_name_phonetic"] == "BB"


@pytest.mark.parametrize("a, b, expected", [
    ("BOB", "ROBERT", True),
    ("ROBERT", "BOB", True),
    ("BOB", "BOBBY", True),
    ("JIM", "JAMES", True),
    ("MARIA", "MARIA", True),
    ("MARIA", "JOHN", False),
    ("XOCHITL", "ROBERT", False),
    ("", "ROBERT", False),
    ("PACO", "FRANCISCO", True),
    ("FRANCISCO", "PACO", True),
    ("LALO", "EDUARDO", True),
    ("ALBERTO", "ROBERTO", False),
])
def test_names_are_nickname_related(a, b, expected):
    assert names_are_nickname_related(a, b) is expected


def test_phonetic_codes_let_spelling_variants_agree():
    assert norm(first_name="Jayden")["first_name_phonetic"] == norm(first_name="JADEN")[
        "first_name_phonetic"]
    assert norm(last_name="Mejia")["last_name_phonetic"] == "MJ"


def test_last_name_phonetic_ignores_spaces_and_first_part_is_first_token():
    result = norm(last_name="Martinez-Schmitt")
    assert result["last_name_phonetic"] == norm(last_name="MARTINEZSCHMITT")["last_name_phonetic"]
    assert result["last_name_first_part"] == "MARTINEZ"


# -------------------------------------------------------------------------- dates and identifiers

@pytest.mark.parametrize("raw", ["1980-02-13", "19800213", "02/13/1980", "2/13/1980", " 1980-02-13 "])
def test_birth_date_formats_agree_in_iso(raw):
    result = norm(birth_date=raw)
    assert (result["birth_date"], result["birth_year"]) == ("1980-02-13", "1980")


def test_placeholder_birth_date_is_missing():
    result = norm(birth_date="1900-01-01")
    assert result["birth_date"] is None and result["birth_year"] is None


@pytest.mark.parametrize("raw", ["1899-12-31", "1899-12-30", "1753-01-01", "0001-01-01", "2999-01-01", "unknown",
                                 "13/45/80", "1980-2", "0"])
def test_placeholder_future_or_unparseable_birth_date_is_missing(raw):
    assert norm(birth_date=raw)["birth_date"] is None


@pytest.mark.parametrize("raw", ["1899-12-29", "1880-05-12", "1630-08-01"])
def test_early_birth_date_is_kept(raw):
    """A deceased or historical person's birth date, or a mistyped year, is still evidence."""
    result = norm(birth_date=raw)
    assert (result["birth_date"], result["birth_year"]) == (raw, raw[:4])


def test_impossible_birth_date_keeps_only_its_year():
    result = norm(birth_date="1980-02-31")
    assert (result["birth_date"], result["birth_year"]) == (None, "1980")


def test_birth_date_just_after_placeholder_is_kept():
    assert norm(birth_date="1900-01-02")["birth_date"] == "1900-01-02"


@pytest.mark.parametrize("raw, expected", [
    ("F", "F"), ("female", "F"), ("f", "F"), ("M", "M"), ("Male", "M"), ("m", "M"),
    ("U", None), ("unknown", None), ("other", None), ("", None),
])
def test_sex_is_f_m_or_missing(raw, expected):
    assert norm(sex=raw)["sex"] == expected


@pytest.mark.parametrize("raw, expected", [
    ("0373", "0373"), ("7017", "7017"), ("0000", None), ("9999", None), ("1111", None),
    ("1234", None), ("123", None), ("12345", None), ("12a4", None),
])
def test_ssn_last4_keeps_four_real_digits_and_drops_placeholders(raw, expected):
    assert norm(ssn_last4=raw)["ssn_last4"] == expected


@pytest.mark.parametrize("raw", ["4321", "0001", "2222", "8888"])
def test_more_dummy_ssn_tails_are_missing(raw):
    assert norm(ssn_last4=raw)["ssn_last4"] is None


def test_medicaid_id_is_upper_alphanumeric():
    assert norm(medicaid_id=" 957-040 39p ")["medicaid_id"] == "95704039P"
    assert norm(medicaid_id=" - ")["medicaid_id"] is None


@pytest.mark.parametrize("raw", [
    "000000000", "99999999", "XXXXXXXX", "1111-1111", "UNKNOWN", "unk", "Pending", "PENDING-APP", "none", "N/A",
    "n.a.", "TEMP", "TEMP0042", "tbd", "NULL", "Self Pay", "123456789", "1234-5678", "987654321", "12", "A1",
])
def test_placeholder_medicaid_ids_are_missing(raw):
    assert norm(medicaid_id=raw)["medicaid_id"] is None


@pytest.mark.parametrize("raw, expected", [
    ("TX40918273", "TX40918273"), ("mc-771-209-34", "MC77120934"), ("100200300", "100200300"),
    ("N0NE4521", "N0NE4521"), ("UNK4", "UNK4"),
])
def test_real_medicaid_ids_resembling_placeholders_are_kept(raw, expected):
    assert norm(medicaid_id=raw)["medicaid_id"] == expected


@pytest.mark.parametrize("raw", [
    "(713) 555-0123", "713-555-0123", "713.555.0123", "+1 713 555 0123", "7135550123",
    "1-713-555-0123", "713 555 0123", "(713)555-0123", "+17135550123", "713-555-0123 x12",
])
def test_phone_formats_agree_in_e164(raw):
    result = norm(phone=raw)
    assert (result["phone"], result["phone_last7"]) == ("+17135550123", "5550123")


@pytest.mark.parametrize("raw", ["(312) 996-2798", "1-872-715-0450", "+1 213 111 0000"])
def test_phone_matches_what_phonenumbers_itself_gives(raw):
    parsed = phonenumbers.parse(raw, "US")
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert norm(phone=raw)["phone"] == expected


def test_seven_digit_local_phone_has_no_e164_but_keeps_last7():
    result = norm(phone="555-0123")
    assert (result["phone"], result["phone_last7"]) == (None, "5550123")


def test_foreign_phone_is_kept_in_e164():
    assert norm(phone="+44 20 7946 0958")["phone"] == "+442079460958"


@pytest.mark.parametrize("raw", ["123", "n/a", "999-9999", "(713) 000-0000", "call mom"])
def test_garbage_or_dummy_phone_is_missing(raw):
    result = norm(phone=raw)
    assert (result["phone"], result["phone_last7"]) == (None, None)


def test_email_is_lowercased_and_must_look_like_an_address():
    assert norm(email="  Sarah678@Yahoo.COM ")["email"] == "sarah678@yahoo.com"
    for bad in ("sarah678@yahoo", "no email", "a@b@c.com", "@yahoo.com"):
        assert norm(email=bad)["email"] is None


# -------------------------------------------------------------------------------------- robustness

_FIELD_TEXT = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet="0123456789 -/().,+#@ÃÂã©¡\x81?abcXYZ", max_size=40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({f: _FIELD_TEXT for f in RECORD_FIELDS}))
def test_normalise_record_never_raises_and_returns_all_keys(record):
    result = normalise_record(record)
    assert tuple(result) == NORMALISED_FIELDS
    assert isinstance(result["homeless"], bool)
    assert all(v is None or isinstance(v, str) for k, v in result.items() if k != "homeless")


# ------------------------------------------------------------------------------------ the nickname table

def test_first_names_asked_together_at_a_start_read_the_nickname_table_once(monkeypatch):
    """Sixteen requests arriving at a service just started: one reads the table, the others wait for it."""
    import threading
    import time

    import mpi.records.names as names

    made = []
    real = names.NickNamer

    class SlowTable(real):
        def __init__(self):
            made.append(1)
            time.sleep(0.05)  # (reading the CSV: long enough for every thread to ask meanwhile)
            super().__init__()

    monkeypatch.setattr(names, "NickNamer", SlowTable)
    monkeypatch.setattr(names, "_nicknames", None)
    names._canonical_first_name.cache_clear()
    start = threading.Barrier(16)
    answers = {}

    def ask(token):
        start.wait()
        answers[token] = names._canonical_first_name(token)

    tokens = ["BOB", "JIM", "LIZ", "BILL", "TOM", "KATE", "SUE", "JOE", "DAN", "MIKE", "PAT", "SAM", "AL", "ED",
              "RON", "PEG"]
    threads = [threading.Thread(target=ask, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names._canonical_first_name.cache_clear()

    assert len(made) == 1
    assert answers == {t: names._canonical_first_name(t) for t in tokens}  # the one table's answers
    assert answers["BOB"] == "ROBERT"
