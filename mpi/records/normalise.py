"""Normalise one canonical person record into the comparable form the matcher reads.

Source systems send the same person with different case, accents (sometimes mis-encoded),
nicknames, suffixes inside the surname, phone formats, address abbreviations and placeholder values.
Matching on raw strings misses most true pairs, so every record goes through
:func:`normalise_record` once, before blocking and scoring, and the matcher only ever compares
normalised values.

Everything here is pure: no I/O, no logging, and no patient value ever reaches an exception message.
Third-party parsers (scourgify, phonenumbers) are wrapped so a value they cannot handle degrades to
a simpler normal form instead of failing the record. The slow parts (addresses above all) are
memoised, because a bulk load of a million records repeats the same addresses, names and phones.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from functools import lru_cache

import phonenumbers

from mpi.clock import today as calendar_today
from mpi.records.addresses import normalise_address
from mpi.records.names import names_are_nickname_related, normalise_names
from mpi.records.text import NOT_ALNUM, text

__all__ = ["NORMALISATION_VERSION", "NORMALISED_FIELDS", "names_are_nickname_related", "normalise_record"]

#: Bumped whenever a rule here changes what a record normalises to: a store whose records were
#: normalised under another version normalises them again from the records as sent.
NORMALISATION_VERSION = 5

#: Keys of the dict returned by :func:`normalise_record`, in a stable order.
NORMALISED_FIELDS = (
    "first_name", "middle_name", "last_name", "suffix",
    "first_name_canonical", "first_name_roots", "first_name_phonetic", "last_name_phonetic", "last_name_first_part",
    "middle_initial", "multiple_birth", "birth_date", "birth_year", "sex", "ssn_last4", "medicaid_id",
    "phone", "phone_last7", "email",
    "address_line1", "address_line2", "city", "state", "postal_code", "homeless", "address_key",
)

# ---------------------------------------------------------------------------- dates and identifiers

_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?", re.ASCII)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
# Dates systems write for "unknown": 1900-01-01 above all, the day zero of spreadsheets and OLE
# dates, and the minimum dates of SQL Server and of .NET/Java. A real birth date on one of them is
# indistinguishable from the placeholder and would agree with every other unknown.
_PLACEHOLDER_BIRTHS = {_dt.date(1900, 1, 1), _dt.date(1899, 12, 31), _dt.date(1899, 12, 30),
                       _dt.date(1753, 1, 1), _dt.date(1, 1, 1)}
_SEX = {"F": "F", "FEMALE": "F", "M": "M", "MALE": "M"}
_SSN4 = re.compile(r"[0-9]{4}")
#: Tails of dummy SSNs (123-45-6789, 987-65-4321, 000-00-0001); all-same digits are dummies too.
_SSN_PLACEHOLDERS = {"1234", "6789", "4321", "0001"}
#: Member ids systems write for "none yet": a placeholder agrees with every other record that
#: carries it and, as an identifier, would conflict with every real id (words as upper alphanumerics).
_MEDICAID_PLACEHOLDERS = {"UNKNOWN", "UNK", "PENDING", "PEND", "APPLIED", "NONE", "NA", "NULL", "TEMP", "TBD",
                          "SELFPAY", "MEDICAID", "NOTAPPLICABLE", "NOTAVAILABLE", "UNAVAILABLE", "DECLINED",
                          "REFUSED", "MISSING", "NOID", "NONEGIVEN"}
_ASCENDING, _DESCENDING = "0123456789", "9876543210"
_EMAIL = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}", re.ASCII)
_NON_DIGIT = re.compile(r"[^0-9]")
# The usual shapes of a 10-digit NANP number: (713) 555-0123, 713.555.0123, +1 713 555 0123...
_US_PHONE = re.compile(
    r"(?:\+?1[ .-]?)?(?:\(([2-9][0-9]{2})\)|([2-9][0-9]{2}))[ .-]?([0-9]{3})[ .-]?([0-9]{4})")


def _normalise_birth(value: str) -> tuple[str | None, str | None]:
    """Return (ISO date, year) for a plausible birth date in YYYY-MM-DD, YYYYMMDD or MM/DD/YYYY.

    The year is kept even when the full date is impossible (``1980-02-31``, or day and month swapped
    into a month over 12), because the year alone is still evidence. Placeholders (1900-01-01 and
    the other system "unknown" dates) and future dates give nothing. An early date is kept however
    old: a deceased person's or a historical record is born when it says, and a mistyped year
    (1880 for 1980) still agrees with the right date by month and day, which dropping it would lose.
    """
    if m := _ISO_DATE.fullmatch(value) or _COMPACT_DATE.fullmatch(value):
        y, mo, d = m.groups()
    elif m := _US_DATE.fullmatch(value):
        mo, d, y = m.groups()
    else:
        return None, None
    today = calendar_today()
    try:
        date = _dt.date(int(y), int(mo), int(d))
    except ValueError:
        return None, (y if 0 < int(y) <= today.year else None)
    if date <= today and date not in _PLACEHOLDER_BIRTHS:
        return date.isoformat(), y
    return None, None


def _normalise_ssn_last4(value: str) -> str | None:
    """Keep four real digits; drop dummies (0000, 9999, 1234...) that would falsely agree."""
    if not _SSN4.fullmatch(value) or len(set(value)) == 1 or value in _SSN_PLACEHOLDERS:
        return None
    return value


def _normalise_medicaid_id(value: str) -> str | None:
    """Upper alphanumerics of a member id; placeholders (all one character, a run of digits such as
    123456789, a word such as PENDING or TEMP, or fewer than four characters) are missing."""
    v = NOT_ALNUM.sub("", value.upper())
    if (len(v) < 4 or len(set(v)) == 1 or v in _MEDICAID_PLACEHOLDERS or v.startswith(("TEMP", "PENDING"))
            or v in _ASCENDING or v in _DESCENDING or v in "1234567890"):
        return None
    return v


@lru_cache(maxsize=200_000)
def _normalise_phone(value: str) -> tuple[str | None, str | None]:
    """Return (E.164, last 7 digits) for a phone in any common format.

    Possibility (a right length for the region) is required rather than validity, which rejects
    the 555 exchange and numbering-plan details a matcher does not care about. A 7-digit local
    number has no area code, so no E.164 form, but its last 7 digits can still agree. A number whose
    last 7 digits are all one digit (999-9999) is a dummy and gives nothing.
    """
    if m := _US_PHONE.fullmatch(value):  # the same answer as phonenumbers, at a tenth of the cost
        e164, digits = f"+1{m[1] or m[2]}{m[3]}{m[4]}", m[3] + m[4]
    else:
        try:
            parsed = phonenumbers.parse(value, "US")
        except Exception:  # NumberParseException, or anything odd in the parser: never fail
            parsed = None
        if parsed is None:
            e164, digits = None, _NON_DIGIT.sub("", value)
        else:
            possible = (phonenumbers.is_possible_number_with_reason(parsed)
                        == phonenumbers.ValidationResult.IS_POSSIBLE)  # not 555-0123 (local only)
            e164 = (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
                    if possible else None)
            digits = str(parsed.national_number or "")
    last7 = digits[-7:]
    if len(last7) < 7 or len(set(last7)) == 1:
        return None, None
    return e164, last7


# ------------------------------------------------------------------------------------------- record

def normalise_record(raw: Mapping[str, str | None]) -> dict[str, object]:
    """Return the normalised form of one canonical record.

    Every key in :data:`NORMALISED_FIELDS` is present; a missing, empty, placeholder or unusable
    value becomes None, and ``homeless`` is always a bool. It never raises on bad field content,
    because one malformed field must not stop a record, or a batch, from loading.

    Args:
        raw: A canonical record (``mpi.records.fields.RECORD_FIELDS``); any field may be absent, None,
            empty or whitespace. Keys other than the demographic fields are ignored.

    Returns:
        A new dict with exactly the keys of :data:`NORMALISED_FIELDS`, values str, None or bool.
    """
    out: dict[str, object] = {}
    normalise_names(raw, out)
    out["birth_date"], out["birth_year"] = _normalise_birth(text(raw.get("birth_date")))
    out["sex"] = _SEX.get(text(raw.get("sex")).upper())
    out["ssn_last4"] = _normalise_ssn_last4(text(raw.get("ssn_last4")))
    out["medicaid_id"] = _normalise_medicaid_id(text(raw.get("medicaid_id")))
    out["phone"], out["phone_last7"] = _normalise_phone(text(raw.get("phone")))
    email = text(raw.get("email")).lower()
    out["email"] = email if _EMAIL.fullmatch(email) else None
    address = (text(raw.get(f)).upper()
               for f in ("address_line1", "address_line2", "city", "state", "postal_code"))
    (out["address_line1"], out["address_line2"], out["city"], out["state"], out["postal_code"],
     out["homeless"], out["address_key"]) = normalise_address(*address)
    return {key: out[key] for key in NORMALISED_FIELDS}
