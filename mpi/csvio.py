"""Reading and writing canonical record CSV files, with errors a person can act on.

Every column is read as text (ids and ZIP codes keep their leading zeros);
unknown extra columns are ignored; a missing file, a missing required column or
an undecodable file is one :class:`CsvError` naming the file and the problem.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from mpi.errors import MpiError
from mpi.fields import KEY_FIELDS


class CsvError(MpiError):
    """A CSV input that cannot be read at all."""

    status = 400
    code = "bad_csv"


def count_rows(path: str | Path) -> int:
    """Data rows in a CSV file (for a progress bar), without parsing them."""
    with _open(path) as f:
        try:
            return max(sum(1 for _ in csv.reader(f)) - 1, 0)
        except (UnicodeDecodeError, csv.Error) as e:
            raise CsvError(f"{path}: not a readable UTF-8 CSV file ({type(e).__name__})") from None


def _open(path: str | Path):
    p = Path(path)
    if not p.is_file():
        raise CsvError(f"{p}: no such file")
    return p.open(newline="", encoding="utf-8-sig")


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for each data row, values stripped.

    Raises:
        CsvError: the file is missing, not UTF-8, has no header, or lacks a key column.
    """
    with _open(path) as f:
        reader = csv.DictReader(f)
        try:
            header = reader.fieldnames
        except (UnicodeDecodeError, csv.Error) as e:
            raise CsvError(f"{path}: cannot read the header ({type(e).__name__})") from None
        if not header:
            raise CsvError(f"{path}: empty file, expected a header row")
        header = [h.strip() for h in header]
        reader.fieldnames = header
        missing = [c for c in KEY_FIELDS if c not in header]
        if missing:
            raise CsvError(f"{path}: missing required column(s): {', '.join(missing)}")
        try:
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}
        except (UnicodeDecodeError, csv.Error) as e:
            raise CsvError(f"{path}: line {reader.line_num}: unreadable ({type(e).__name__})") from None


#: Columns of a labelled-pairs file (the format of people_dev's pairs.csv); ``is_match`` is optional.
PAIR_FIELDS = ("source_system_l", "source_record_id_l", "source_system_r", "source_record_id_r")
_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "match"}, {"0", "false", "f", "no", "n", "not_duplicate"}


def read_labelled_pairs(path: str | Path) -> list[tuple[tuple[str, str], tuple[str, str], bool]]:
    """Labelled record pairs: ``((system, id), (system, id), is_match)``; ``is_match`` defaults to true.

    Raises:
        CsvError: the file is missing or unreadable, lacks a pair column, or has a bad ``is_match``.
    """
    pairs = []
    with _open(path) as f:
        reader = csv.DictReader(f)
        try:
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in PAIR_FIELDS if c not in header]
            if missing:
                raise CsvError(f"{path}: missing required column(s): {', '.join(missing)}")
            for row in reader:
                left = (row["source_system_l"].strip(), row["source_record_id_l"].strip())
                right = (row["source_system_r"].strip(), row["source_record_id_r"].strip())
                flag = (row.get("is_match") or "true").strip().lower()
                if flag not in _TRUE | _FALSE:
                    raise CsvError(f"{path}: line {reader.line_num}: is_match must be true or false")
                pairs.append((left, right, flag in _TRUE))
        except (UnicodeDecodeError, csv.Error) as e:
            raise CsvError(f"{path}: not a readable UTF-8 CSV file ({type(e).__name__})") from None
    return pairs
