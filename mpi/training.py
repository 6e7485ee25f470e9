"""Training a model version from a CSV of source records, without labels.

Reads and normalises the records exactly as the online path does, hands them to
the Splink engine, and writes a new versioned model file with its metadata.
A truth column, if the file has one, is never read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mpi import splink_engine
from mpi.comparisons import MODEL_COLUMNS
from mpi.csvio import read_records
from mpi.errors import ModelError, ValidationError
from mpi.model import ModelRegistry, build_model_file, term_frequencies
from mpi.normalise import normalise_record
from mpi.records import validate_record

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
    row["unique_id"] = f"{record['source_system']}\x1f{record['source_record_id']}"
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


def train_from_csv(
    path: str | Path,
    registry: ModelRegistry,
    version: str | None = None,
    seed: int = 42,
    policy: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train, write and return a new model document (not yet activated)."""
    path = Path(path)
    if version is not None and registry.path_of(version).exists():
        raise ModelError(f"model version {version} exists already", {"version": ["exists"]})
    rows, skipped = normalised_rows(path, progress)
    if len(rows) < 50:
        raise ValidationError(f"{path.name}: {len(rows)} valid records; at least 50 are needed to train",
                              {"input": ["too few valid records"]})
    version = version or f"{path.stem}-{datetime.now(timezone.utc):%Y%m%d%H%M%S}"
    tf_tables, tf_floor = term_frequencies(rows)
    splink_model = splink_engine.train(rows, tf_tables, seed=seed)
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
            "labels_used": False,
            "seed": seed,
        },
        splink_version=splink_engine.SPLINK_VERSION,
        policy=policy,
    )
    registry.save(document)
    logger.info("model %s trained on %s records", version, len(rows))
    return document
