"""Blocking keys: which stored records are worth scoring against an inbound one.

A record is stored under its keys; an inbound record asks for the keys it has,
plus its names swapped (given and family names arrive in either order). The
store bounds each key (``MPI_MAX_BLOCK_SIZE``), so a common value cannot blow up
the candidate set.

Two kinds of key, because blocks grow with the index. The **coarse** keys (birth
date; phonetic surname and first initial; ZIP and first name) find the most
true pairs while the index is small, but at a million persons a birth date holds
a hundred and fifty records and a common surname sound thousands: scored, they
would be most of every request's work and find almost nothing the others miss.
So they have a bound of their own (``COARSE_BLOCK_SIZE``, tighter than
``MPI_MAX_BLOCK_SIZE``), and fall silent once the index outgrows them. The **compound**
keys pair those fields with a second one (birth date with the first name, the
surname sound or the ZIP; surname sound and first name with the ZIP; ZIP and
first name with the birth year) and stay at a handful of records at any size
(the surname sound and first initial with the birth year does not, for a common
surname, and is bounded as a coarse key), so a large index still
finds what the coarse keys found in a small one: a surname change on one birth
date, a typo in either name, a child's record with no first name, a record with
no birth date. ``bench/blocking.py`` prints what each key finds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Bump when the keys change: a store keyed under another version is keyed again
#: when its index is next built (``MatchService.index``).
BLOCKING_VERSION = 3

#: Key types found by one field or a loose pair of them, whose blocks grow with the index
#: (the address key is a house number and street word, shared across towns and by shelters).
#: The surname sound with the first initial and birth year (``lfy``) is one of them too: at a
#: million generated persons a common sound (SMITH, SMYTH...) with J and a year holds sixty
#: records, and those blocks were most of the slowest requests' candidates. Bounded like the
#: others, the candidate records per query fell from 61 to 41 (p99 245 to 135), and the true
#: person was still found for the same 275 of 279 held-out duplicates; on people_dev no ``lfy``
#: block holds more than 10 records, so nothing changes there (``bench/blocking.py``).
COARSE_PREFIXES = ("dob:", "lnf:", "lfy:", "zf:", "ad:")
#: Most records a coarse key may fetch. At a million generated persons a bound of
#: 50 cut the candidate records per query from 335 to 76 (p99 977 to 259) and kept
#: the true person for 274 of 279 held-out duplicates against 276 unbounded; 25
#: cuts them to 62 (p99 245), keeps it for 275, and made ``mpi load`` there 1.4
#: times as fast. On people_dev, where few coarse blocks pass 25, blocking finds
#: 15,687 of 15,766 true pairs with 25, 15,707 with 50 and 15,715 unbounded, and
#: the online path's recall is the same to 0.001 (bench/blocking.py, bench/accuracy.py).
COARSE_BLOCK_SIZE = 25


def block_bound(block_key: str, max_block_size: int) -> int:
    """Most records the key may fetch before it is skipped: coarse keys have a tighter bound."""
    return min(max_block_size, COARSE_BLOCK_SIZE) if block_key.startswith(COARSE_PREFIXES) else max_block_size


def record_keys(n: Mapping[str, Any]) -> list[str]:
    """Keys a normalised record is stored under."""
    keys = []
    first, last = n.get("first_name"), n.get("last_name")
    dob, year, zip_ = n.get("birth_date"), n.get("birth_year"), n.get("postal_code")
    canonical, sound = n.get("first_name_canonical"), n.get("last_name_phonetic")
    if dob:
        keys.append(f"dob:{dob}")
        if canonical:
            keys.append(f"dfn:{dob}:{canonical}")
        if sound:
            keys.append(f"dln:{dob}:{sound}")
        if zip_:
            keys.append(f"dz:{dob}:{zip_}")
    if sound and first:
        keys.append(f"lnf:{sound}:{first[0]}")
        if year:
            keys.append(f"lfy:{sound}:{first[0]}:{year}")
    if sound and canonical and zip_:
        keys.append(f"lfz:{sound}:{canonical}:{zip_}")
    if n.get("phone"):
        keys.append(f"ph:{n['phone']}")
    if n.get("medicaid_id"):
        keys.append(f"mid:{n['medicaid_id']}")
    if n.get("ssn_last4") and year:
        keys.append(f"ssn:{n['ssn_last4']}:{year}")
    if zip_ and canonical:
        keys.append(f"zf:{zip_}:{canonical}")
        if year:
            keys.append(f"zfy:{zip_}:{canonical}:{year}")
    if n.get("email"):
        keys.append(f"em:{n['email']}")
    if n.get("address_key"):  # a household's records, whatever their names and birth dates say
        keys.append(f"ad:{n['address_key']}")
    if last and zip_ and year:
        keys.append(f"lzy:{n['last_name_first_part']}:{zip_}:{year}")
    return keys


def query_keys(n: Mapping[str, Any]) -> list[str]:
    """Keys to look up for an inbound record: its own, and its names swapped.

    Swapped, the surname stands for the first name (its own spelling for the
    first name's canonical form, its first letter for the initial) and the first
    name's sound for the surname's.
    """
    keys = record_keys(n)
    last = n.get("last_name")
    first_sound = n.get("first_name_phonetic")
    dob, year, zip_ = n.get("birth_date"), n.get("birth_year"), n.get("postal_code")
    if dob and last:
        keys.append(f"dfn:{dob}:{last}")
    if dob and first_sound:
        keys.append(f"dln:{dob}:{first_sound}")
    if first_sound and last:
        keys.append(f"lnf:{first_sound}:{last[0]}")
        if year:
            keys.append(f"lfy:{first_sound}:{last[0]}:{year}")
        if zip_:
            keys.append(f"lfz:{first_sound}:{last}:{zip_}")
    return keys
