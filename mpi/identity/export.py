"""The export: one CSV row per source record with its person, decision, link source, score and open case.

``mpi export`` writes it to a file and ``GET /v1/admin/export`` streams it, so
both give the same bytes. Rows carry keys and ids only, never demographics.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from mpi.store import Store

EXPORT_COLUMNS = (
    "source_system", "source_record_id", "person_id", "decision", "link_source", "score", "review_case_id",
)
#: Rows per piece of text yielded: a streamed answer is sent in pieces of this many rows.
_CHUNK_ROWS = 2000


def export_csv(store: Store) -> Iterator[str]:
    """The export as CSV text in pieces: the header, then the rows (read on a cursor of their own)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    n = 0
    for row in store.records.export_rows():
        writer.writerow(["" if v is None else v for v in row])
        n += 1
        if n % _CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
