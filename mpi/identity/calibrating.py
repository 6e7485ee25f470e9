"""Calibrating the active model on the store's records (``mpi calibrate``): a new model version, not activated.

The thresholds are chosen by ``mpi.matching.calibration`` from labelled pairs of
the records in the index; the result is written as a derived model version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mpi.clock import Clock
from mpi.identity.matcher import MatchService
from mpi.matching.calibration import Calibration, calibrate
from mpi.matching.model import ModelRegistry, derive_version
from mpi.records.csvio import read_labels


def calibrate_active_model(
    matching: MatchService,
    registry: ModelRegistry,
    labels_path: str | Path,
    actor: str,
    clock: Clock,
    precision: float = 0.998,
    max_missed: float = 0.02,
    version: str | None = None,
    never_link: str | Path | None = None,
) -> tuple[dict[str, Any], Calibration]:
    """Calibrate the active model on the store's records and write (not activate) the calibrated version."""
    labels_path = Path(labels_path)
    labels = read_labels(labels_path)
    never = read_labels(never_link) if never_link else None
    model = matching.active_model()
    with matching.store.serialised():
        records = {key: entry.norm for key, entry in matching.index().entries.items()}
    result = calibrate(records, labels, model.scorer, precision, max_missed, matching.max_block_size, model.policy,
                       never)
    version = version or f"{model.version}-cal{clock.now():%Y%m%d%H%M%S}"
    document = derive_version(
        registry.document(model.version), version,
        {"upper_match_weight": result.upper_match_weight, "lower_match_weight": result.lower_match_weight},
        {"calibrated_by": actor, "labels_file": labels_path.name, "precision_target": precision,
         "never_link_file": Path(never_link).name if never_link else None,
         "max_missed_target": max_missed, **result.as_dict()},
        clock=clock,
    )
    registry.save(document)
    return document, result
