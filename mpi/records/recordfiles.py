"""Files of source records, CSV or Parquet: the same rows whichever a partner sends.

A file named ``*.parquet`` (or ``*.pq``) is read with pyarrow, any other as CSV
(:mod:`mpi.records.csvio`). Either way only a record's own fields matter: a
Parquet file's other columns are never read at all, and every value comes back
as stripped text ('' for missing), as a CSV's does. Rows are numbered by their
line for CSV (the header is line 1) and from 1 for Parquet.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mpi.records import csvio
from mpi.records.csvio import KNOWN_EXTRA, CsvError
from mpi.records.fields import DEMOGRAPHIC_FIELDS, KEY_FIELDS, RECORD_FIELDS

#: Extensions read as Parquet.
PARQUET = (".parquet", ".pq")
#: Rows read from a Parquet file at a time.
BATCH_ROWS = 2_000


def is_parquet(path: str | Path) -> bool:
    return Path(path).suffix.lower() in PARQUET


def read_header(path: str | Path) -> list[str]:
    """Check a records file's columns before any row is read; returns its unknown columns (to be ignored).

    Raises:
        CsvError: as :func:`mpi.records.csvio.read_header`, for a Parquet file too.
    """
    if not is_parquet(path):
        return csvio.read_header(path)
    names = _parquet(path).schema_arrow.names
    unknown = [c for c in names if c not in RECORD_FIELDS and c not in KNOWN_EXTRA]
    missing = [c for c in KEY_FIELDS if c not in names]
    if missing:
        raise CsvError(f"{path}: missing required column(s): {', '.join(missing)}")
    if not any(c in names for c in DEMOGRAPHIC_FIELDS):
        raise CsvError(f"{path}: no column of a record's fields (every record would be empty): expected some of "
                       f"{', '.join(DEMOGRAPHIC_FIELDS)}; unknown column(s): {', '.join(unknown) or 'none'}")
    return unknown


def count_rows(path: str | Path) -> int:
    """Data rows (for a progress bar): counted for CSV, from the footer for Parquet."""
    return _parquet(path).metadata.num_rows if is_parquet(path) else csvio.count_rows(path)


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``(row, record)`` for each data row: a record's fields as stripped text (a CSV's other columns too).

    Raises:
        CsvError: a file that cannot be read, or lacks a key column or every record field.
    """
    if not is_parquet(path):
        yield from csvio.read_records(path)
        return
    read_header(path)
    parquet = _parquet(path)
    columns = [c for c in RECORD_FIELDS if c in parquet.schema_arrow.names]
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            values = {c: batch.column(c).cast(pa.string()).to_pylist() for c in columns}
            for i in range(batch.num_rows):
                row += 1
                yield row, {f: (values[f][i] or "").strip() if f in values else "" for f in RECORD_FIELDS}
    except (pa.ArrowException, OSError) as e:
        raise CsvError(f"{path}: row {row + 1}: unreadable ({type(e).__name__})") from None


def _parquet(path: str | Path) -> pq.ParquetFile:
    p = Path(path)
    if p.is_dir():
        raise CsvError(f"{p}: a directory, not a Parquet file")
    if not p.is_file():
        raise CsvError(f"{p}: no such file")
    try:
        return pq.ParquetFile(p)
    except (pa.ArrowException, OSError) as e:
        raise CsvError(f"{p}: not a readable Parquet file ({type(e).__name__})") from None
