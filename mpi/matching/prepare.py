"""An inbound record validated, normalised and keyed: all of matching that needs no index or store.

Kept apart so a worker process can prepare the rows of a bulk file ahead of
matching (``mpi.identity.loading``) and the online path prepares each request
the same way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from mpi.matching import blocking
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record


class Prepared(NamedTuple):
    """A record as validated, its normalised form, and its blocking keys."""

    record: dict[str, Any]
    norm: dict[str, Any]
    keys: list[str]


def prepare(data: Any, *, strict: bool = True) -> Prepared:
    """Validate and normalise an inbound record and derive its blocking keys.

    Raises:
        ValidationError: naming every bad field.
    """
    record = validate_record(data, strict=strict)
    norm = normalise_record(record)
    return Prepared(record, norm, blocking.record_keys(norm))
