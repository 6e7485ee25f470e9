"""Reading and writing canonical record CSV files, with errors a person can act on.

Every column is read as text (ids and ZIP codes keep their leading zeros);
unknown extra columns are ignored (:func:`read_header` names them, for a warning);
a missing file, a directory, a missing key column, a header with no column of a
record's fields, or an undecodable file is one :class:`CsvError` naming the file
and the problem.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mpi.errors import MpiError
from mpi.records.fields import DEMOGRAPHIC_FIELDS, KEY_FIELDS, RECORD_FIELDS


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


def fingerprint(path: str | Path) -> tuple[int, str]:
    """A file's size and SHA-256 (hex): what ``mpi load`` knows a file by when it resumes."""
    _open(path).close()  # the same errors as reading it: missing, a directory
    digest, size = hashlib.sha256(), 0
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _open(path: str | Path):
    p = Path(path)
    if p.is_dir():
        raise CsvError(f"{p}: a directory, not a CSV file")
    if not p.is_file():
        raise CsvError(f"{p}: no such file")
    return p.open(newline="", encoding="utf-8-sig")


#: Columns a records file may carry beside a record's fields without a warning (a dev set's truth).
KNOWN_EXTRA = ("truth_person_id", "person_label")


def read_header(path: str | Path) -> list[str]:
    """Check a records file's header before any row is read; returns its unknown columns (to be ignored).

    Raises:
        CsvError: the file is missing or a directory, not UTF-8, empty, lacks a key column (with a hint
            when it is separated by semicolons or tabs), or has no column of a record's fields at all
            (every row would be an empty record): the missing and the unknown columns named.
    """
    with _open(path) as f:
        return _checked_header(path, csv.DictReader(f))[1]


def _checked_header(path: str | Path, reader: csv.DictReader) -> tuple[list[str], list[str]]:
    try:
        header = reader.fieldnames
    except (UnicodeDecodeError, csv.Error) as e:
        raise CsvError(f"{path}: cannot read the header: not a readable UTF-8 CSV file ({type(e).__name__})") from None
    if not header:
        raise CsvError(f"{path}: empty file, expected a header row")
    header = [h.strip() for h in header]
    unknown = [c for c in header if c not in RECORD_FIELDS and c not in KNOWN_EXTRA]
    missing = [c for c in KEY_FIELDS if c not in header]
    if missing:
        separator = next((name for sep, name in ((";", "semicolons"), ("\t", "tabs")) if sep in header[0]), None)
        hint = f" (the header is separated by {separator}: the file must be comma-separated)" if separator else ""
        raise CsvError(f"{path}: missing required column(s): {', '.join(missing)}{hint}")
    if not any(c in header for c in DEMOGRAPHIC_FIELDS):
        raise CsvError(f"{path}: no column of a record's fields (every record would be empty): expected some of "
                       f"{', '.join(DEMOGRAPHIC_FIELDS)}; unknown column(s): {', '.join(unknown) or 'none'}")
    return header, unknown


def read_records(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for each data row, values stripped.

    Raises:
        CsvError: as :func:`read_header`, or an unreadable line.
    """
    with _open(path) as f:
        reader = csv.DictReader(f)
        reader.fieldnames = _checked_header(path, reader)[0]
        try:
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}
        except (UnicodeDecodeError, csv.Error) as e:
            raise CsvError(f"{path}: line {reader.line_num}: unreadable ({type(e).__name__})") from None


#: Columns of a labelled-pairs file (the format of people_dev's pairs.csv); ``is_match`` (or
#: ``should_match``, as in a hard-cases file) is optional and true by default.
PAIR_FIELDS = ("source_system_l", "source_record_id_l", "source_system_r", "source_record_id_r")
#: Columns a file of records may carry to say who is one person (a dev set's truth).
CLUSTER_FIELDS = ("truth_person_id", "person_label")
_TRUE, _FALSE = {"1", "true", "t", "yes", "y", "match"}, {"0", "false", "f", "no", "n", "not_duplicate"}

Key = tuple[str, str]


@dataclass(frozen=True)
class Labels:
    """Which records are labelled, and which pairs of them are one person (keys sorted within a pair)."""

    records: frozenset[Key]
    matches: frozenset[tuple[Key, Key]]
    rows: int
    complete: bool
    """True when every pair of labelled records is labelled (clusters), not only the pairs listed."""
    non_matches: frozenset[tuple[Key, Key]] = frozenset()
    """Pairs listed as *not* one person (``is_match`` false): a pairs file's explicit negatives."""


def read_labels(path: str | Path) -> Labels:
    """Labels from either a pairs file (``PAIR_FIELDS`` [+ ``is_match``]) or records with a cluster column.

    Raises:
        CsvError: the file is missing or unreadable, has neither format, or a bad ``is_match``.
    """
    with _open(path) as f:
        reader = csv.DictReader(f)
        try:
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            cluster = next((c for c in CLUSTER_FIELDS if c in header), None)
            if all(c in header for c in PAIR_FIELDS):
                return _read_pairs(path, reader)
            if cluster and all(c in header for c in KEY_FIELDS):
                return _read_clusters(reader, cluster)
        except (UnicodeDecodeError, csv.Error) as e:
            raise CsvError(f"{path}: not a readable UTF-8 CSV file ({type(e).__name__})") from None
    raise CsvError(f"{path}: missing required column(s): either {', '.join(PAIR_FIELDS)} [, is_match], or "
                   f"source_system, source_record_id and one of {', '.join(CLUSTER_FIELDS)}")


def _read_pairs(path, reader) -> Labels:
    records, matches, non_matches, rows = set(), set(), set(), 0
    flag_column = "is_match" if "is_match" in reader.fieldnames else "should_match"
    for row in reader:
        rows += 1
        left = (row["source_system_l"].strip(), row["source_record_id_l"].strip())
        right = (row["source_system_r"].strip(), row["source_record_id_r"].strip())
        flag = (row.get(flag_column) or "true").strip().lower()
        if flag not in _TRUE | _FALSE:
            raise CsvError(f"{path}: line {reader.line_num}: {flag_column} must be true or false")
        records.update((left, right))
        (matches if flag in _TRUE else non_matches).add((min(left, right), max(left, right)))
    return Labels(frozenset(records), frozenset(matches), rows, complete=False, non_matches=frozenset(non_matches))


def _read_clusters(reader, column: str) -> Labels:
    clusters: dict[str, list[Key]] = {}
    rows = 0
    for row in reader:
        rows += 1
        label = (row.get(column) or "").strip()
        if label:
            clusters.setdefault(label, []).append((row["source_system"].strip(), row["source_record_id"].strip()))
    matches = {(min(a, b), max(a, b)) for keys in clusters.values() for i, a in enumerate(keys) for b in keys[i + 1:]}
    records = frozenset(k for keys in clusters.values() for k in keys)
    return Labels(records, frozenset(matches), rows, complete=True)
