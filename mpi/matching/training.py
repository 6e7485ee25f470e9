"""Training a model version from a CSV of source records, without labels.

Reads and normalises the records exactly as the online path does, hands them to
the Splink engine, and writes a new versioned model file with its metadata.
A truth column, if the file has one, is never read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mpi.clock import Clock, SystemClock
from mpi.errors import ModelError, ValidationError
from mpi.matching import splink_adapter
from mpi.matching.comparisons import MODEL_COLUMNS
from mpi.matching.model import ModelRegistry, build_model_file, term_frequencies
from mpi.records.csvio import read_labels, read_records
from mpi.records.normalise import normalise_record
from mpi.records.validation import validate_record

logger = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_row(raw: dict[str, Any]) -> dict[str, Any]:
    """One source record (as sent; unknown columns ignored) as a model row: ``unique_id`` + model columns.

    Raises:
        ValidationError: naming the record's bad fields.
    """
    record = validate_record(raw, strict=False)
    norm = normalise_record(record)
    row = {c: norm.get(c) for c in MODEL_COLUMNS}
    row["unique_id"] = _unique_id(record["source_system"], record["source_record_id"])
    return row


def normalised_rows(path: str | Path, progress: Callable[[int], None] | None = None) -> tuple[list[dict], int]:
    """Valid records of a CSV as model rows (``unique_id`` + model columns); and the count skipped."""
    rows, skipped = [], 0
    for line, raw in read_records(path):
        try:
            rows.append(model_row(raw))
        except ValidationError as e:
            skipped += 1
            logger.warning("training input line %s skipped: invalid %s", line, ", ".join(sorted(e.errors)))
            continue
        if progress:
            progress(1)
    return rows, skipped


def _matching_pairs(path: Path, known: set[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The labelled true pairs between records of the training set, and what the model file says of them."""
    labels = read_labels(path)
    matching = [(_unique_id(*a), _unique_id(*b)) for a, b in sorted(labels.matches)]
    usable = [p for p in matching if p[0] in known and p[1] in known]
    if not usable:
        raise ValidationError(f"{path.name}: no labelled true pair between records of the training input",
                              {"labels": ["no usable true pair"]})
    if len(usable) < len(matching):
        logger.warning("%s labelled true pairs name records not in the training input; ignored",
                       len(matching) - len(usable))
    info = {"labels_used": True, "labels_file": f"{path.parent.name}/{path.name}", "labels_sha256": _sha256(path),
            "labelled_true_pairs": len(usable), "labelled_pairs_ignored": len(matching) - len(usable)}
    return info, usable


def _unique_id(source_system: str, source_record_id: str) -> str:
    return f"{source_system}\x1f{source_record_id}"


def train_from_csv(
    path: str | Path,
    registry: ModelRegistry,
    version: str | None = None,
    seed: int = 42,
    policy: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    labels: str | Path | None = None,
    db_api: Any = None,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Train, write and return a new model document (not yet activated).

    Args:
        labels: optional CSV of labelled pairs (``mpi.records.csvio.PAIR_FIELDS``, optional
            ``is_match``); its true pairs give m instead of EM.
        db_api: the Splink database to train on (default: a fresh in-memory DuckDB, ``splink_adapter.duckdb_api``).
        clock: what names the version and stamps ``created_at`` (default: the system's).
    """
    clock = clock or SystemClock()
    path = Path(path)
    if version is not None and registry.path_of(version).exists():
        raise ModelError(f"model version {version} exists already", {"version": ["exists"]})
    rows, skipped = normalised_rows(path, progress)
    if len(rows) < 50:
        raise ValidationError(f"{path.name}: {len(rows)} valid records; at least 50 are needed to train",
                              {"input": ["too few valid records"]})
    version = version or f"{path.stem}-{clock.now():%Y%m%d%H%M%S}"
    label_info, matching_pairs = {"labels_used": False}, None
    if labels is not None:
        label_info, matching_pairs = _matching_pairs(Path(labels), {r["unique_id"] for r in rows})
    tf_tables, tf_floor = term_frequencies(rows)
    splink_model = splink_adapter.train(rows, tf_tables, db_api or splink_adapter.duckdb_api(), seed=seed,
                                        matching_pairs=matching_pairs)
    document = build_model_file(
        version,
        splink_model,
        tf_tables,
        tf_floor,
        trained_on={
            "file": f"{path.parent.name}/{path.name}",
            "sha256": _sha256(path),
            "records": len(rows),
            "skipped_invalid": skipped,
            **label_info,
            "seed": seed,
        },
        splink_version=splink_adapter.SPLINK_VERSION,
        policy=policy,
        clock=clock,
    )
    registry.save(document)
    logger.info("model %s trained on %s records", version, len(rows))
    return document
