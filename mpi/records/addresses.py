"""Addresses in USPS style (scourgify), states and ZIP codes, the household key, and the homeless flag.

Pure: no I/O, no logging. scourgify's errors quote the address, so every one is
swallowed here. The slow parse is memoised, because a bulk load repeats the same addresses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from scourgify import normalize_address_record
from scourgify.address_constants import STATE_ABBREVIATIONS

from mpi.records.text import ascii_upper, tidy

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
    return _WHITESPACE.sub(" ", _ADDRESS_STOPS.sub(" ", ascii_upper(value))).strip()


def _normalise_state(value: str) -> str | None:
    """Two-letter code from a code or a full state name (``Illinois`` -> ``IL``)."""
    s = tidy(ascii_upper(value))
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
def normalise_address(line1: str, line2: str, city: str, state: str, postal: str) -> tuple:
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
    line1_n, line2_n, city_n = tidy(line1), tidy(line2), tidy(city)
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
            line1_n = tidy(ascii_upper(parsed.get("address_line_1") or "")) or line1_n
            line2_n = tidy(ascii_upper(parsed.get("address_line_2") or ""))
            city_n = tidy(ascii_upper(parsed.get("city") or "")) or city_n
    return line1_n, line2_n, city_n, state, postal, homeless, _address_key(line1_n)
