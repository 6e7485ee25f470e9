"""A partner's bulk file deduplicated without the store: read, normalise in parallel, score, write clusters.

``mpi dedup --input FILE --output clusters.csv``. The file is CSV or Parquet
(by its extension) of canonical records; only a record's own fields are read
(a truth column, or any other, never is). Each record is validated and
normalised as training does (:func:`mpi.matching.training.model_row`), in a
pool of worker processes (:mod:`mpi.batch.normalising`: a worker that dies stops
the command instead of hanging it): at about 180 us a record it is most of the work. A
record that fails validation is skipped and counted (its row and the names of
its bad fields are kept, never its values); the same key twice in one file is
one record, the later valid row winning. The batch engine then scores and
clusters them at the policy's upper threshold (:func:`mpi.batch.engine.score`),
and the clusters are written with exactly :data:`CLUSTER_COLUMNS`:

- ``cluster_id``: ``C000001``, ``C000002``, ... numbered by each cluster's first record in the file;
- ``match_weight_to_cluster``: the record's highest match weight to another member of its cluster
  among the scored pairs, empty for a record alone.

The output is written beside its destination and renamed into place, so it is
never half a file.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from mpi.batch.engine import BatchModel, Progress, score
from mpi.batch.normalising import Key, Outcome, normalised
from mpi.errors import MpiError
from mpi.matching.comparisons import MODEL_COLUMNS
from mpi.records import recordfiles
from mpi.records.fields import RECORD_FIELDS

logger = logging.getLogger(__name__)

#: The columns of a clusters file, in order: a contract (``mpi load --clusters`` reads them back).
CLUSTER_COLUMNS = ("source_system", "source_record_id", "cluster_id", "match_weight_to_cluster")
#: Rejected rows kept to be named on the terminal (the count is always whole).
REJECTED_SHOWN = 20


class BulkFileError(MpiError):
    """A bulk file that cannot be read at all, or an output that cannot be written."""

    status = 400
    code = "bad_bulk_file"


def default_workers() -> int:
    """One worker process per CPU."""
    return os.cpu_count() or 1


@dataclass
class DedupFile:
    """What a bulk file's dedup found: the counts the terminal shows, and the time of each phase."""

    records_read: int = 0
    skipped: int = 0
    rejected: list[tuple[int, list[str]]] = field(default_factory=list)
    duplicate_keys: int = 0
    records: int = 0
    scored_pairs: int = 0
    clusters: int = 0
    clusters_of_two_or_more: int = 0
    largest_cluster: int = 0
    records_in_clusters: int = 0
    model_version: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


# -- reading ---------------------------------------------------------------------------------------


def file_kind(path: str | Path) -> str:
    """``csv`` or ``parquet``, by the file's extension.

    Raises:
        BulkFileError: another extension, or no such file.
    """
    p = Path(path)
    kind = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(p.suffix.lower())
    if kind is None:
        raise BulkFileError(f"{p}: expected a .csv or .parquet file")
    if p.is_dir():
        raise BulkFileError(f"{p}: a directory, not a {kind} file")
    if not p.is_file():
        raise BulkFileError(f"{p}: no such file")
    return kind


def count_records(path: str | Path) -> int:
    """Data rows of a bulk file (for a progress bar): counted for CSV, from the footer for Parquet."""
    file_kind(path)
    return recordfiles.count_rows(path)


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, str]]]:
    """``(row, record)`` for each data row: the line number for CSV, the row number (from 1) for Parquet.

    Only a record's fields are kept (values as stripped text, '' for missing); a Parquet file's other
    columns are never read.

    Raises:
        BulkFileError, CsvError: a file that cannot be read, or lacks a key column or every record field.
    """
    file_kind(path)
    for row, raw in recordfiles.read_records(path):
        yield row, {f: raw.get(f, "") for f in RECORD_FIELDS}


def model_rows(outcomes: Iterable[Outcome], result: DedupFile) -> tuple[list[Key], pa.Table]:
    """The file's records, one per key (the later valid row wins), in order of each key's first row.

    Returns the keys (index = ``unique_id``) and the engine's rows; counts read, skipped and duplicate keys
    into ``result``.
    """
    kept: dict[Key, dict[str, Any]] = {}
    for row, key, model_row, bad_fields in outcomes:
        result.records_read += 1
        if model_row is None:
            result.skipped += 1
            if len(result.rejected) < REJECTED_SHOWN:
                result.rejected.append((row, bad_fields or []))
            continue
        if key in kept:
            result.duplicate_keys += 1
        kept[key] = model_row
    keys = list(kept)
    columns = {"unique_id": pa.array(range(len(keys)), pa.int64())}
    for column in MODEL_COLUMNS:
        columns[column] = pa.array([kept[k].get(column) for k in keys], pa.string())
    return keys, pa.table(columns)


# -- clusters --------------------------------------------------------------------------------------------


def cluster_rows(keys: list[Key], clusters: pa.Table, pairs: pa.Table) -> tuple[list[str], list[float | None]]:
    """Per record (by ``unique_id``): its stable cluster id and its best weight to another member.

    Cluster ids are numbered by the cluster's first record (its smallest ``unique_id``: records are numbered
    in file order), so the same file and model always give the same ids.
    """
    n = len(keys)
    engine_cluster = [0] * n
    for uid, cid in zip(clusters.column("unique_id").to_pylist(), clusters.column("cluster_id").to_pylist(),
                        strict=True):
        engine_cluster[uid] = cid
    numbers: dict[int, str] = {}
    ids = [numbers.setdefault(cid, f"C{len(numbers) + 1:06d}") for cid in engine_cluster]
    best: list[float | None] = [None] * n
    for left, right, weight in zip(pairs.column("unique_id_l").to_pylist(), pairs.column("unique_id_r").to_pylist(),
                                   pairs.column("match_weight").to_pylist(), strict=True):
        if engine_cluster[left] != engine_cluster[right]:
            continue
        for uid in (left, right):
            if best[uid] is None or weight > best[uid]:
                best[uid] = weight
    return ids, best


def write_clusters(output: str | Path, keys: list[Key], ids: list[str], weights: list[float | None]) -> None:
    """Write the clusters file (:data:`CLUSTER_COLUMNS`, one row per record) beside ``output``, then rename it."""
    out = Path(output)
    if not out.parent.is_dir():
        raise BulkFileError(f"{out.parent}: no such directory")
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CLUSTER_COLUMNS)
        for (system, record_id), cluster_id, weight in zip(keys, ids, weights, strict=True):
            writer.writerow((system, record_id, cluster_id, "" if weight is None else f"{weight:.4f}"))
    tmp.replace(out)


def check_output(output: str | Path) -> None:
    """Refuse an output whose folder does not exist, before any work.

    Raises:
        BulkFileError: naming the folder.
    """
    if not Path(output).parent.is_dir():
        raise BulkFileError(f"{Path(output).parent}: no such directory")


def read_file(path: str | Path, result: DedupFile, workers: int | None = None,
              progress: Callable[[int], Any] | None = None,
              clock: Callable[[], float] = time.perf_counter) -> tuple[list[Key], pa.Table]:
    """The file's valid records as the engine's rows (``unique_id`` in file order) and their keys.

    Counts what it read, skipped and found twice into ``result``; ``progress`` is told the rows
    normalised, chunk by chunk; ``workers`` normalise (default one per CPU; 0: this process alone).

    Raises:
        BulkFileError, CsvError: an unreadable file, or one without a valid record.
    """
    started = clock()
    keys, rows = model_rows(normalised(read_rows(path), default_workers() if workers is None else workers,
                                       progress), result)
    result.records = len(keys)
    result.seconds["normalise"] = clock() - started
    if not keys:
        raise BulkFileError(f"{path}: no valid record to deduplicate ({result.skipped} skipped)")
    return keys, rows


def cluster_file(keys: list[Key], rows: pa.Table, output: str | Path, model: BatchModel, result: DedupFile,
                 progress: Progress | None = None, clock: Callable[[], float] = time.perf_counter) -> DedupFile:
    """Score and cluster the rows with ``model`` and write the clusters file; the counts go into ``result``."""
    result.model_version = model.version
    t = clock()
    scored = score(rows, model, progress=progress)
    result.seconds["score"] = clock() - t
    t = clock()
    ids, weights = cluster_rows(keys, scored.clusters, scored.pairs)
    write_clusters(output, keys, ids, weights)
    result.seconds["write"] = clock() - t
    sizes = Counter(ids).values()
    result.scored_pairs = scored.pairs.num_rows
    result.clusters = len(sizes)
    result.clusters_of_two_or_more = sum(1 for size in sizes if size >= 2)
    result.largest_cluster = max(sizes)
    result.records_in_clusters = sum(size for size in sizes if size >= 2)
    result.seconds["total"] = sum(result.seconds.get(k, 0.0) for k in ("normalise", "score", "write"))
    logger.info("dedup of a bulk file: %s records, %s skipped, %s clusters, model %s", result.records,
                result.skipped, result.clusters, model.version)
    return result


def dedup_file(path: str | Path, output: str | Path, model: BatchModel, workers: int | None = None,
               normalised_progress: Callable[[int], Any] | None = None, progress: Progress | None = None) -> DedupFile:
    """Deduplicate a bulk file into a clusters file (:func:`read_file`, then :func:`cluster_file`).

    Raises:
        BulkFileError, CsvError: an unreadable file, or an output folder that does not exist.
    """
    check_output(output)
    result = DedupFile()
    keys, rows = read_file(path, result, workers, normalised_progress)
    return cluster_file(keys, rows, output, model, result, progress)
