"""The matcher's first-use work, done as a service starts rather than by its first requests.

Right after ``mpi serve`` started over a million persons, its first matches over
HTTP took 34-38 ms, and the next seven 8-16 ms, against 3-5 ms once warm: the
first one loads the model and compiles its comparisons, reads the normalisers'
tables (nicknames, address words: read from a made-up record too, for an index
with nothing stored) and imports what numpy loads on first use; the
next ones fault in the top of the index's sorted arrays and fill the scorer's
per-shape readers. :func:`warm` does that work before the service answers anyone
(about 0.2 s), by matching a few of the index's own records as ``POST /v1/match``
would: nothing is written, and no person data is logged. Warmed, the first match
took 8-11 ms and the next seven 5-11 ms (three restarts each way, one run).
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from mpi.errors import ValidationError
from mpi.matching.prepare import prepare
from mpi.records.fields import DEMOGRAPHIC_FIELDS

if TYPE_CHECKING:
    from mpi.identity.matcher import MatchService

#: Stored records matched at start, spread evenly over the index.
SAMPLES = 24
ACTOR = "system:warm-up"
#: A made-up record (no one's data) the normalisers read their tables for, whatever the index holds: over an empty
#: index (a new store) there is no stored record to match, and the first requests read them (the nickname table,
#: the address words, the phone metadata).
MADE_UP = {"source_system": "warm-up", "source_record_id": "0", "first_name": "Bob", "middle_name": "J",
           "last_name": "Smith Jr", "birth_date": "1980-01-02", "sex": "M", "address_line1": "12 N Main Street Apt 4",
           "city": "Atlanta", "state": "GA", "postal_code": "30301", "phone": "(404) 555-0100",
           "email": "bob@example.org"}


def warm(matching: MatchService, samples: int = SAMPLES) -> int:
    """Read the normalisers' tables (:data:`MADE_UP` prepared), then match ``samples`` stored records (spread over
    the index) as a request would; returns how many stored records were matched."""
    prepare(MADE_UP)
    index = matching.index()
    base = index.base
    if base.size:
        keys = [base.key_of(row) for row in sorted({int(r) for r in np.linspace(0, base.size - 1, samples)})]
    else:  # an index with no base (a PostgreSQL store's): its first records
        keys = list(islice(index.entries, samples))
    matched = 0
    for key in keys:
        entry = index.get(key)
        if entry is None:
            continue
        # Its normal form sent as a record: every step of a match runs on it (normalising, retrieval, scoring).
        body = {f: v for f in DEMOGRAPHIC_FIELDS if isinstance(v := entry.norm.get(f), str)}
        try:
            matching.match({**body, "source_system": key[0], "source_record_id": key[1]}, ACTOR)
        except ValidationError:  # (a record with nothing to match on)
            continue
        matched += 1
    return matched
