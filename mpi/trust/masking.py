"""Identifiers masked beyond what matching needs, for callers who act for one organisation.

A hub or a coordinator sends identifiers for matching, but needs none back to do its
work: it is shown enough to check that a person is the one it means (the last two digits
of SSN last 4, the last four characters of a Medicaid id), never the whole. Stewards and
admins see every value whole: comparing identifiers is their job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _tail(keep: int) -> Callable[[str], str]:
    def mask(value: str) -> str:
        shown = value[-keep:] if len(value) > keep else ""
        return "*" * (len(value) - len(shown)) + shown
    return mask


#: The masked fields and their masks: ``4821`` reads ``**21``, ``MC77120934`` reads ``******0934``.
MASKS: dict[str, Callable[[str], str]] = {"ssn_last4": _tail(2), "medicaid_id": _tail(4)}

#: Of a person's demographics, what a performer without the person's consent is shown: a name and a way to
#: contact them (:mod:`mpi.referrals.disclosure`).
CONTACT_FIELDS = ("first_name", "middle_name", "last_name", "suffix", "phone", "email")


def masked(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A copy of a record or golden view with each identifier of :data:`MASKS` masked (empty values kept)."""
    if fields is None:
        return None
    out = dict(fields)
    for field, mask in MASKS.items():
        value = out.get(field)
        if value not in (None, ""):
            out[field] = mask(str(value))
    return out


def contact_only(fields: Mapping[str, Any] | None) -> dict[str, Any]:
    """A golden view cut to a name and a way to contact (every other field present, and empty)."""
    fields = fields or {}
    return {k: (v if k in CONTACT_FIELDS else None) for k, v in fields.items()}
