"""Source systems of the "varied" profile: the standard six and six more, each with its own habits.

``VARIED_HABITS`` holds every system's :class:`~mpi.synth.places.SourceHabits` (case, middle
names, nicknames, birth-date and identifier noise, phone formats, addresses, stale data);
``EXTRA_HABITS`` the habits the standard profile does not have: who the system sees, which
fields it never keeps, how often it transliterates a name or swaps given and family name for
anyone, mis-keys an identifier or writes a placeholder one.
"""

from typing import NamedTuple

from mpi.synth.places import PHONE_FORMATS, SOURCE_HABITS, SourceHabits


class ExtraHabits(NamedTuple):
    """Habits of the varied profile only. Each float is a per-record probability."""

    who: str = "any"  # any | members (Medicaid) | adults | school (aged 4-18)
    states: tuple = ()  # the states it serves (a Medicaid plan is a state's); () for all
    drop: tuple = ()  # fields the system never keeps
    translit: float = .15  # a transliterated name written in another spelling
    swap_any: float = .01  # given and family name swapped, whatever the tradition
    compound: float = .25  # a double or hyphenated surname written another way
    id_typo: float = .03  # ssn_last4 / medicaid_id mis-keyed (one digit wrong or two swapped)
    id_placeholder: float = .01  # 0000 / 9999 / 1234, 00000000 in place of an identifier
    junior_dob_missing: float = .2  # Jr/Sr records without a birth date


def _habits(base: SourceHabits, **changes) -> SourceHabits:
    return base._replace(**changes)


_CG = SOURCE_HABITS["county-general-ehr"]
_FB = SOURCE_HABITS["foodbank-cbo"]
_MCO = SOURCE_HABITS["bluepath-mco"]

VARIED_HABITS = {
    **SOURCE_HABITS,
    # A retail pharmacy chain: every record has a birth date and a phone, nicknames, no SSN.
    "rxcare-pharmacy": _habits(
        _CG, weight=22, id_format="RX{n}", id_width=9, upper=.6, strip_accents=1, middle_full=0,
        middle_initial=.1, nickname=.25, typo=.05, dob_missing=0, dob_estimate=0, dob_error=.02,
        ssn=0, medicaid=.3, phone=.98, phone_formats=PHONE_FORMATS[4:], email=.5, abbreviate=.9,
        zip4=0, old=.4),
    # The 211 helpline: a caller's words, typed fast; birth dates often missing or a year only.
    "helpline-211": _habits(
        _FB, weight=10, id_format="211-{year}-{n}", id_width=6, upper=0, lower=.2, nickname=.35,
        typo=.1, dob_missing=.4, dob_estimate=.2, ssn=.1, ssn_placeholder=.3, medicaid=0,
        phone=.95, email=.05, address_missing=.4, old=.15),
    # A school-based clinic: children only, a parent's phone and email, full names.
    "schoolhealth-clinic": _habits(
        _CG, weight=14, id_format="SBC{n}", id_width=6, upper=0, middle_full=.8, nickname=.1,
        dob_missing=0, dob_estimate=0, ssn=.05, medicaid=.6, phone=.95,
        phone_formats=PHONE_FORMATS[:1], email=.6, abbreviate=.2, zip4=0, old=.1),
    # A county jail's health unit: adults, upper case, SSN often, stale addresses, no email.
    "county-jail-health": _habits(
        _MCO, weight=5, id_format="BK{year}{n}", id_width=6, middle_full=.6, middle_initial=.2,
        nickname=.05, typo=.04, suffix_missing=.2, suffix_in_last=.3, dob_error=.04, ssn=.8,
        ssn_placeholder=.05, medicaid=.1, phone=.3, email=0, address_missing=.3, zip4=0,
        old=.5, homeless=.6),
    # A shelter's HMIS: adults, mostly homeless, nicknames, birth dates estimated.
    "shelter-hmis": _habits(
        SOURCE_HABITS["housing-first-cbo"], weight=4, id_format="HMIS-{n}", id_width=7, upper=.1,
        nickname=.4, dob_missing=.15, dob_estimate=.2, ssn=.6, ssn_placeholder=.25, phone=.3,
        homeless=.95),
    # A second Medicaid plan, in the other states (their Medicaid id formats): mixed case, full
    # middle names, ZIP+4 always.
    "sunstate-mco": _habits(
        _MCO, weight=18, id_format="SSM{n}", id_width=10, upper=0, strip_accents=.3,
        middle_full=.8, middle_initial=0, suffix_in_last=0, phone_formats=PHONE_FORMATS[:1],
        email=.4, abbreviate=.2, zip4=1, unit_inline=.05, old=.45),
}

EXTRA_HABITS = {
    "st-marys-ehr": ExtraHabits(translit=.1, compound=.3),
    "county-general-ehr": ExtraHabits(),
    "bluepath-mco": ExtraHabits(who="members", states=("TX", "IL", "CA", "GA"), translit=.2,
                                compound=.4, id_typo=.01),
    "fqhc-eastside": ExtraHabits(translit=.1),
    "foodbank-cbo": ExtraHabits(translit=.3, swap_any=.04, compound=.4, id_typo=.06,
                                id_placeholder=.05, junior_dob_missing=.5),
    "housing-first-cbo": ExtraHabits(who="adults", translit=.3, swap_any=.03, id_typo=.05,
                                     id_placeholder=.05, junior_dob_missing=.4),
    "rxcare-pharmacy": ExtraHabits(drop=("middle_name", "suffix"), translit=.25, swap_any=.01,
                                   junior_dob_missing=0),
    "helpline-211": ExtraHabits(drop=("medicaid_id", "address_line2"), translit=.35,
                                swap_any=.05, compound=.5, id_typo=.08, id_placeholder=.1,
                                junior_dob_missing=.5),
    "schoolhealth-clinic": ExtraHabits(who="school", drop=("ssn_last4",), translit=.1),
    "county-jail-health": ExtraHabits(who="adults", drop=("email",), translit=.3, swap_any=.06,
                                      compound=.4, id_typo=.06, id_placeholder=.03),
    "shelter-hmis": ExtraHabits(who="adults", drop=("address_line2",), translit=.3,
                                swap_any=.03, id_typo=.05, id_placeholder=.08,
                                junior_dob_missing=.5),
    "sunstate-mco": ExtraHabits(who="members", states=("AZ", "FL", "MI"), translit=.2,
                                compound=.2, id_typo=.02),
}
