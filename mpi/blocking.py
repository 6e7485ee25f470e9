"""Blocking keys: which stored records are worth scoring against an inbound one.

A record is stored under its keys; an inbound record asks for the keys it has,
plus its names swapped (given and family names arrive in either order). The
store bounds each key (``MPI_MAX_BLOCK_SIZE``), so a common value cannot blow up
the candidate set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Bump when the keys change: a store keyed under another version is keyed again
#: when its index is next built (``MatchService.index``).
BLOCKING_VERSION = 1


def record_keys(n: Mapping[str, Any]) -> list[str]:
    """Keys a normalised record is stored under."""
    keys = []
    first, last = n.get("first_name"), n.get("last_name")
    if n.get("birth_date"):
        keys.append(f"dob:{n['birth_date']}")
    if n.get("last_name_phonetic") and first:
        keys.append(f"lnf:{n['last_name_phonetic']}:{first[0]}")
    if n.get("phone"):
        keys.append(f"ph:{n['phone']}")
    if n.get("medicaid_id"):
        keys.append(f"mid:{n['medicaid_id']}")
    if n.get("ssn_last4") and n.get("birth_year"):
        keys.append(f"ssn:{n['ssn_last4']}:{n['birth_year']}")
    if n.get("postal_code") and n.get("first_name_canonical"):
        keys.append(f"zf:{n['postal_code']}:{n['first_name_canonical']}")
    if n.get("email"):
        keys.append(f"em:{n['email']}")
    if last and n.get("postal_code") and n.get("birth_year"):
        keys.append(f"lzy:{n['last_name_first_part']}:{n['postal_code']}:{n['birth_year']}")
    return keys


def query_keys(n: Mapping[str, Any]) -> list[str]:
    """Keys to look up for an inbound record: its own, and its names swapped."""
    keys = record_keys(n)
    if n.get("first_name_phonetic") and n.get("last_name"):
        keys.append(f"lnf:{n['first_name_phonetic']}:{n['last_name'][0]}")
    return keys
