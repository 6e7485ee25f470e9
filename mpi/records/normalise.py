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
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

import jellyfish
import phonenumbers
from nicknames import NickNamer
from scourgify import normalize_address_record
from scourgify.address_constants import STATE_ABBREVIATIONS

__all__ = ["NORMALISATION_VERSION", "NORMALISED_FIELDS", "names_are_nickname_related", "normalise_record"]

#: Bumped whenever a rule here changes what a record normalises to: a store whose records were
#: normalised under another version normalises them again from the records as sent.
NORMALISATION_VERSION = 3

#: Keys of the dict returned by :func:`normalise_record`, in a stable order.
NORMALISED_FIELDS = (
    "first_name", "middle_name", "last_name", "suffix",
    "first_name_canonical", "first_name_roots", "first_name_phonetic", "last_name_phonetic", "last_name_first_part",
    "middle_initial", "multiple_birth", "birth_date", "birth_year", "sex", "ssn_last4", "medicaid_id",
    "phone", "phone_last7", "email",
    "address_line1", "address_line2", "city", "state", "postal_code", "homeless", "address_key",
)

# -------------------------------------------------------------------------------------------- text

# Letters that NFKD does not decompose into an ASCII base letter (Vietnamese Đ matters most here).
_NON_DECOMPOSING = str.maketrans(
    {"ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Đ": "D", "đ": "D", "Ł": "L", "ł": "L",
     "Œ": "OE", "œ": "OE", "Þ": "TH", "þ": "TH", "ı": "I"}
)
_NAME_SEPARATORS = re.compile(r"[\s\-_/,]+")
_NOT_ALNUM_SPACE = re.compile(r"[^A-Z0-9 ]")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")
_SPACES = re.compile(r" {2,}")
# UTF-8 two-byte sequences read as Latin-1/cp1252: a lead Â/Ã (ã/â once lower-cased), then a
# continuation byte shown as its Latin-1 or cp1252 character.
_MOJIBAKE_LEAD = re.compile("[ÂÃâã]")
_MOJIBAKE_PAIR = re.compile(
    "[ÂÃâã][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def _text(value: object) -> str:
    """Return the value as a stripped string, '' for None, so every rule starts from one shape."""
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value)).strip()


def _fix_mojibake_pair(match: re.Match[str]) -> str:
    lead = b"\xc3" if match[0][0] in "Ãã" else b"\xc2"
    try:
        trail = match[0][1].encode("cp1252")
    except UnicodeEncodeError:
        trail = match[0][1].encode("latin-1")  # bytes cp1252 leaves undefined, e.g. \x81 of 'Á'
    try:
        return (lead + trail).decode("utf-8")
    except UnicodeDecodeError:
        return match[0]


def _repair_mojibake(s: str) -> str:
    """Undo UTF-8 text that was decoded as Latin-1/cp1252 (``GarcÃ­a`` -> ``García``).

    Only tried when a tell-tale lead character is present. The whole-string round trip handles the
    clean cases; the per-pair pass handles strings re-cased after the damage (``sã¡nchez``) or
    mixing good and bad characters. Legitimate text (``JOÃO``) fails both and is left as it is.
    """
    if not _MOJIBAKE_LEAD.search(s):
        return s
    for codec in ("cp1252", "latin-1"):
        try:
            return s.encode(codec).decode("utf-8")
        except UnicodeError:
            pass
    return _MOJIBAKE_PAIR.sub(_fix_mojibake_pair, s)


def _ascii_upper(s: str) -> str:
    """Fold to upper-case ASCII: repair mojibake, then strip accents via NFKD."""
    if s.isascii():  # the common case, and the hot path of a bulk load
        return s.upper()
    s = _repair_mojibake(s).translate(_NON_DECOMPOSING)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").upper()


def _tidy(value: str) -> str | None:
    """Upper ASCII text with punctuation turned into single spaces; None when nothing is left."""
    return _SPACES.sub(" ", _NOT_ALNUM_SPACE.sub(" ", value)).strip() or None


# ------------------------------------------------------------------------------------------- names

_SUFFIXES = {
    "JR": "JR", "JUNIOR": "JR", "SR": "SR", "SENIOR": "SR",
    "II": "II", "2ND": "II", "2": "II", "III": "III", "3RD": "III", "3": "III",
    "IV": "IV", "4TH": "IV", "4": "IV", "V": "V", "5TH": "V", "5": "V",
}
# Tokens that, ending a surname, are a suffix. A bare V or digit is left alone there: a trailing
# initial or a typo is likelier than a fifth-generation name.
_SURNAME_SUFFIX_TOKENS = {"JR", "JUNIOR", "SR", "SENIOR", "II", "2ND", "III", "3RD", "IV", "4TH"}
_PLACEHOLDER_HEADS = {"BABY", "INFANT", "NEWBORN"}
_PLACEHOLDER_FIRST = {"BB", "BG", "BABYGIRL", "BABYBOY", "GIRL", "BOY", "UNKNOWN", "UNK", "FNU",
                      "LNU", "NFN"}
_PLACEHOLDER_LAST = {"UNKNOWN", "UNK", "FNU", "LNU", "NLN"}
_PLACEHOLDER_MIDDLE = {"NMN", "NMI", "NONE", "UNKNOWN", "UNK", "FNU", "LNU"}


@lru_cache(maxsize=200_000)
def _clean_name(raw: str) -> str | None:
    """Upper-case ASCII name with punctuation removed and separators collapsed to one space.

    Hyphens become spaces so ``Sánchez-Ramos`` and ``SANCHEZ RAMOS`` agree; apostrophes and dots are
    dropped so ``O'Brien`` and ``OBRIEN`` agree. A ``?`` standing for a lost accent (``P?REZ``) is
    dropped too: the letter is unrecoverable, and a one-letter gap still scores close on similarity.
    """
    s = _NAME_SEPARATORS.sub(" ", _ascii_upper(raw))
    return _SPACES.sub(" ", _NOT_ALNUM_SPACE.sub("", s)).strip() or None


def _is_placeholder_first(name: str) -> bool:
    """True for newborn and unknown-person stand-ins (``BABY GIRL A``, ``BABYGRIL``, ``FNU``).

    Any name opening with BABY, INFANT or NEWBORN counts, which also catches the typos made in
    them (``BABY BOYY``); a trailing birth-order letter (``BG A``) is ignored.
    """
    tokens = name.split()
    if tokens[0] in _PLACEHOLDER_HEADS or tokens[0].startswith("BABY"):
        return True
    while len(tokens) > 1 and len(tokens[-1]) == 1:
        tokens.pop()
    return " ".join(tokens) in _PLACEHOLDER_FIRST


def _is_multiple_birth(name: str) -> bool:
    """A newborn placeholder that says it is one of twins or more (``BABY BOY B``, ``BG A``, ``TWIN 2``)."""
    tokens = name.split()
    return "TWIN" in name or (len(tokens) > 1 and len(tokens[-1]) == 1 and tokens[-1] in "ABCDEF1234")


def _split_surname_suffix(last: str | None) -> tuple[str | None, str | None]:
    """Move a generational suffix typed into the surname (``SMITH JR``) out of it."""
    tokens = last.split() if last else []
    if len(tokens) >= 2 and tokens[-1] in _SURNAME_SUFFIX_TOKENS:
        return " ".join(tokens[:-1]), _SUFFIXES[tokens[-1]]
    return last, None


@lru_cache(maxsize=1)
def _nicknamer() -> NickNamer:
    """Load the nickname table once per process, on first use rather than at import."""
    return NickNamer()


@lru_cache(maxsize=100_000)
def _canonical_first_name(token: str) -> str:
    """Pick one deterministic nickname-canonical form for a first-name token.

    The ``nicknames`` table is many-to-many and partly symmetric: ``bob`` has nicknames of its own
    and three canonicals, so "keep a name that has nicknames" would leave most short forms as they
    are. Instead the name and each of its canonicals compete on how many nicknames they carry, a
    proxy for being the formal root (BOB -> ROBERT, JIM -> JAMES, LIZ -> ELIZABETH). Ties keep the
    name itself, then go alphabetical, so the answer never depends on set order.
    """
    nn = _nicknamer()
    name = token.lower()
    candidates = [name, *nn.canonicals_of(name)]
    return min(candidates, key=lambda c: (-len(nn.nicknames_of(c)), c != name, c)).upper()


@lru_cache(maxsize=100_000)
def _first_name_roots(token: str) -> str:
    """The first-name token and the formal names it is a short form of, space-separated and sorted.

    ``KIM`` gives ``KIM KIMBERLEY KIMBERLY``. The matcher takes two first names for one
    name when either token is among the other's roots: a *direct* nickname relation. Two
    names that only share a formal root (ALEXA and ALEXIS both shorten ALEXANDRA) are
    not related this way, because such pairs are as often twins as one person.
    """
    return " ".join(sorted({token, *(c.upper() for c in _nicknamer().canonicals_of(token.lower()))}))


@lru_cache(maxsize=200_000)
def names_are_nickname_related(a: str, b: str) -> bool:
    """Tell whether two first names are the same given name, one perhaps in nickname form.

    True when the names are equal, one is a nickname or canonical of the other (BOB/ROBERT), or they
    share a canonical (BOB/BILL both list ROBERT). Comparisons should prefer this to equality of
    ``first_name_canonical``, because one short form can belong to several formal names and the
    canonical has to pick one.

    Args:
        a: A normalised (upper-case) first name or first-name token.
        b: Another one.

    Returns:
        Whether the nickname table links them; False when either is empty.
    """
    a, b = a.strip().lower(), b.strip().lower()
    if not a or not b:
        return False
    if a == b:
        return True
    nn = _nicknamer()
    canonicals_a = nn.canonicals_of(a)
    if b in canonicals_a or b in nn.nicknames_of(a):
        return True
    return bool(canonicals_a & nn.canonicals_of(b))


def _phonetic(name: str | None) -> str | None:
    """Metaphone code, so spelling variants (JAYDEN/JADEN, MEJIA/MEGIA) can still agree."""
    return (jellyfish.metaphone(name) or None) if name else None


def _normalise_names(raw: Mapping[str, object], out: dict[str, object]) -> None:
    first = _clean_name(_text(raw.get("first_name")))
    middle = _clean_name(_text(raw.get("middle_name")))
    last, suffix_in_last = _split_surname_suffix(_clean_name(_text(raw.get("last_name"))))
    suffix = _clean_name(_text(raw.get("suffix")))
    out["multiple_birth"] = None
    if first is not None and _is_placeholder_first(first):
        out["multiple_birth"] = "Y" if _is_multiple_birth(first) else None
        first = None
    if last in _PLACEHOLDER_LAST:
        last = None
    if middle in _PLACEHOLDER_MIDDLE:
        middle = None
    first_token = first.split()[0] if first else None
    out["first_name"], out["middle_name"], out["last_name"] = first, middle, last
    # The suffix field as sent wins over one found in the surname; an unknown suffix (MD) is None.
    out["suffix"] = (_SUFFIXES.get(suffix.replace(" ", "")) if suffix else None) or suffix_in_last
    out["first_name_canonical"] = _canonical_first_name(first_token) if first_token else None
    out["first_name_roots"] = _first_name_roots(first_token) if first_token else None
    out["first_name_phonetic"] = _phonetic(first_token)
    out["last_name_phonetic"] = _phonetic(last.replace(" ", "") if last else None)
    out["last_name_first_part"] = last.split()[0] if last else None
    out["middle_initial"] = middle[0] if middle else None


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
_SSN_PLACEHOLDERS = {"1234", "6789"}  # tails of 123-45-6789 dummies; all-same digits are too
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
    today = _dt.date.today()
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


# ------------------------------------------------------------------------------------------ address

_HOMELESS = re.compile(
    r"\b(?:HOMELESS|GENERAL DELIVERY|NO ADDRESS|NONE|UNKNOWN|NO FIXED|UNHOUSED)\b")
_DIRECTIONALS = {"N", "S", "E", "W", "NE", "NW", "SE", "SW", "NORTH", "SOUTH", "EAST", "WEST",
                 "NORTHEAST", "NORTHWEST", "SOUTHEAST", "SOUTHWEST"}
#: Street types keyed without the space before them (``12 GOODWINSTREET``), cut from the street word.
_RUN_ON_TYPES = re.compile(r"^([A-Z]{4,}?)(STREET|AVENUE|ROAD|DRIVE|PLACE|CLOSE|COURT|CRESCENT|CIRCUIT|LANE|TERRACE"
                           r"|BOULEVARD|PARADE|HIGHWAY)$")
_ZIP = re.compile(r"[0-9]{5}(?:[0-9]{4})?")
_POSTCODE = re.compile(r"(?=.*[0-9])[A-Z0-9]{3,8}")  # a digit: not UNK, NONE, XXXXX
_ADDRESS_STOPS = re.compile(r"[.,;]")
_WHITESPACE = re.compile(r"\s+")


def _address_input(value: str) -> str:
    """Accent-free upper text for scourgify, keeping the ``#`` it reads as a unit marker.

    Dots and commas mean nothing to it, so dropping them lets ``N. Spring Rd.`` and ``N SPRING RD``
    share one cache entry and one parse.
    """
    return _WHITESPACE.sub(" ", _ADDRESS_STOPS.sub(" ", _ascii_upper(value))).strip()


def _normalise_state(value: str) -> str | None:
    """Two-letter code from a code or a full state name (``Illinois`` -> ``IL``)."""
    s = _tidy(_ascii_upper(value))
    if s is None or (len(s) == 2 and s.isalpha()):
        return s
    return STATE_ABBREVIATIONS.get(s)


def _normalise_zip(value: str) -> str | None:
    """Five-digit ZIP (any +4 dropped), or another country's postcode as sent, without its spaces.

    Four digits are a ZIP whose leading zero a spreadsheet dropped (New England, New Jersey and
    Puerto Rico ZIPs begin with 0), so they are padded, as USPS tools do. A postcode of letters and
    digits (``SW1A 1AA``, ``K1A 0B6``) is still a postcode: records from abroad, or of people who
    lived abroad, agree on it as on a ZIP, so it is kept. Every postcode has a digit, so letters
    alone (UNK, NONE, XXXXX) are a placeholder, as are all-same digits (00000, 99999); anything else
    (too short, too long, punctuation) is missing.
    """
    code = value.replace("-", "").replace(" ", "")
    if code.isdigit() and len(set(code)) == 1:
        return None
    if _ZIP.fullmatch(code):
        return code[:5]
    if len(code) == 4 and code.isdigit():
        return "0" + code
    return code if _POSTCODE.fullmatch(code) else None


def _address_key(line1: str | None) -> str | None:
    """House number plus the first street-name word (``3663 W JAMES BLVD`` -> ``3663 JAMES``).

    It ignores what varies most between systems (directional, street type, unit), so it can block
    households and addresses together; a street type run on to the name (``12 GOODWINSTREET``) is cut.
    """
    tokens = line1.split() if line1 else []
    if not tokens or not tokens[0][0].isdigit():
        return None
    street = next((t for t in tokens[1:] if t not in _DIRECTIONALS), None)
    if street and (run_on := _RUN_ON_TYPES.match(street)):
        street = run_on.group(1)
    return f"{tokens[0]} {street}" if street else None


def _scourgify(line1: str, line2: str | None, city: str | None, state: str | None,
               postal: str | None) -> Mapping[str, str | None] | None:
    """USPS-style parts from scourgify, or None when it cannot parse the address.

    scourgify raises its AddressNormalizationError family, and whatever usaddress raises on odd
    input; its messages quote the address, so every exception is swallowed here, never re-raised
    or logged. ``strict=False`` lets through a street with a city and state but no ZIP.
    """
    try:
        result = normalize_address_record(
            {"address_line_1": line1, "address_line_2": line2, "city": city, "state": state,
             "postal_code": postal},
            strict=False,
        )
    except Exception:
        return None
    return result if isinstance(result, Mapping) else None


@lru_cache(maxsize=200_000)
def _normalise_address(line1: str, line2: str, city: str, state: str, postal: str) -> tuple:
    """Memoise on the parts as sent, then on their tidied form, which repeats far more often."""
    return _standardise_address(_address_input(line1), _address_input(line2), _address_input(city),
                                _normalise_state(state), _normalise_zip(postal))


@lru_cache(maxsize=200_000)
def _standardise_address(line1: str, line2: str, city: str, state: str | None,
                         postal: str | None) -> tuple:
    """Return (line1, line2, city, state, postal_code, homeless, address_key).

    State and ZIP come in already normalised rather than from scourgify, which passes unknown state
    codes through and left-pads a 4-digit ZIP; a foreign postcode is not shown to it at all. When scourgify fails with a second line (typically a
    shelter's ``c/o`` line) it is retried on line 1 alone, so a shelter's street address still gets
    the same USPS form as every other record at it. Without any parse, the tidied text is kept.
    """
    line1_n, line2_n, city_n = _tidy(line1), _tidy(line2), _tidy(city)
    homeless = False
    if line2_n and _HOMELESS.search(line2_n):
        homeless, line2_n = True, None
    if line1_n and _HOMELESS.search(line1_n):
        homeless, line1_n = True, None
    if line1_n:
        zip5 = postal if postal and len(postal) == 5 and postal.isdigit() else None  # a USPS parser's ZIP
        parsed = _scourgify(line1, line2 if line2_n else None, city_n, state, zip5)
        if parsed is None and line2_n:
            parsed = _scourgify(line1, None, city_n, state, zip5)
            if parsed is not None:
                parsed = {**parsed, "address_line_2": line2_n}
        if parsed is not None:
            line1_n = _tidy(_ascii_upper(parsed.get("address_line_1") or "")) or line1_n
            line2_n = _tidy(_ascii_upper(parsed.get("address_line_2") or ""))
            city_n = _tidy(_ascii_upper(parsed.get("city") or "")) or city_n
    return line1_n, line2_n, city_n, state, postal, homeless, _address_key(line1_n)


# ------------------------------------------------------------------------------------------- record

def normalise_record(raw: Mapping[str, str | None]) -> dict[str, object]:
    """Return the normalised form of one canonical record.

    Every key in :data:`NORMALISED_FIELDS` is present; a missing, empty, placeholder or unusable
    value becomes None, and ``homeless`` is always a bool. It never raises on bad field content,
    because one malformed field must not stop a record, or a batch, from loading.

    Args:
        raw: A canonical record (``mpi.fields.RECORD_FIELDS``); any field may be absent, None,
            empty or whitespace. Keys other than the demographic fields are ignored.

    Returns:
        A new dict with exactly the keys of :data:`NORMALISED_FIELDS`, values str, None or bool.
    """
    out: dict[str, object] = {}
    _normalise_names(raw, out)
    out["birth_date"], out["birth_year"] = _normalise_birth(_text(raw.get("birth_date")))
    out["sex"] = _SEX.get(_text(raw.get("sex")).upper())
    out["ssn_last4"] = _normalise_ssn_last4(_text(raw.get("ssn_last4")))
    out["medicaid_id"] = _NOT_ALNUM.sub("", _text(raw.get("medicaid_id")).upper()) or None
    out["phone"], out["phone_last7"] = _normalise_phone(_text(raw.get("phone")))
    email = _text(raw.get("email")).lower()
    out["email"] = email if _EMAIL.fullmatch(email) else None
    address = (_text(raw.get(f)).upper()
               for f in ("address_line1", "address_line2", "city", "state", "postal_code"))
    (out["address_line1"], out["address_line2"], out["city"], out["state"], out["postal_code"],
     out["homeless"], out["address_key"]) = _normalise_address(*address)
    return {key: out[key] for key in NORMALISED_FIELDS}
