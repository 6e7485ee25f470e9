"""An inbound record validated, normalised and keyed: all of matching that needs no index or store.

Kept apart so a worker process can prepare the rows of a bulk file ahead of
matching (``mpi.identity.loading``) and the online path prepares each request
the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mpi.errors import ValidationError
from mpi.matching import blocking
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record


class Prepared(NamedTuple):
    """A record as validated, its normalised form, and its blocking keys."""

    record: dict[str, Any]
    norm: dict[str, Any]
    keys: list[str]

    @property
    def key(self) -> tuple[str, str]:
        """The record's key: ``(source_system, source_record_id)``."""
        return self.record["source_system"], self.record["source_record_id"]


#: What a record must carry to be matched at all, in words (the README and the 422 say it): each
#: is what one blocking key needs, and a record with none could never be found or find anyone.
ENOUGH_TO_MATCH = ("a birth date", "a phone", "an email", "a Medicaid id", "a street address",
                   "a first and a last name", "a first name and a ZIP", "SSN last 4 and a birth date")
#: The same as field names, one tuple per alternative: the OpenAPI document's ``anyOf`` of a record. A birth
#: date alone is enough, so SSN last 4 and a birth date is already there.
ENOUGH_FIELDS = (("birth_date",), ("phone",), ("email",), ("medicaid_id",), ("address_line1",),
                 ("first_name", "last_name"), ("first_name", "postal_code"))


def prepare(data: Any, *, strict: bool = True) -> Prepared:
    """Validate and normalise an inbound record and derive its blocking keys.

    Raises:
        ValidationError: naming every bad field; or, for a record with nothing to match on (only its
            keys, or every field empty or unusable), ``_schema`` saying what would do.
    """
    record = validate_record(data, strict=strict)
    norm = normalise_record(record)
    keys = blocking.record_keys(norm)
    if not keys:
        raise ValidationError("invalid record: nothing to match on", {"_schema": [
            f"not enough to match on: give at least {', '.join(ENOUGH_TO_MATCH[:-1])} or {ENOUGH_TO_MATCH[-1]}"]})
    return Prepared(record, norm, keys)
