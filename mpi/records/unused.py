"""Fields a record was sent with that matching cannot use: kept as sent, and said so to the sender.

Normalisation never fails a record for one bad field (a batch must load), so an
invalid phone, email, ZIP, state, SSN last 4 or member id becomes None in the normalised form
and the record still stores and matches on the rest. Saying nothing would leave
the sender believing the value counts; :func:`unused_fields` names each one for
the answer's ``warnings``, by field, never echoing the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mpi.records.normalise import text

#: For each field checked, the normalised fields that hold something of it when it is usable,
#: and what to say when none does.
_CHECKS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("phone", ("phone", "phone_last7"), "not a phone number that can be matched on"),
    ("email", ("email",), "not an email address"),
    ("postal_code", ("postal_code",), "not a ZIP or postcode (a placeholder, or too short or long)"),
    ("state", ("state",), "not a U.S. state or its two-letter code"),
    ("ssn_last4", ("ssn_last4",), "a placeholder, not the last four digits of an SSN"),
    ("medicaid_id", ("medicaid_id",), "a placeholder (PENDING, all zeros, too short...), not a member id"),
)
_ADDRESS = frozenset({"postal_code", "state"})


def unused_fields(record: Mapping[str, Any], norm: Mapping[str, Any]) -> list[dict[str, str]]:
    """``{"field", "message"}`` for each field sent with a value that normalised to nothing.

    The record is kept whole (its raw form stores every value as sent); these fields
    only take no part in matching. A homeless record's address fields are left out
    on purpose, so they are not reported.
    """
    warnings = []
    for field, used_as, message in _CHECKS:
        if not text(record.get(field)) or any(norm.get(n) for n in used_as):
            continue
        if field in _ADDRESS and norm.get("homeless"):
            continue
        warnings.append({"field": field, "message": f"{message}: kept as sent, not used for matching"})
    return warnings
