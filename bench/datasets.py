"""The labelled benchmark data sets of ``shared/data``, read once for both engines.

Each loader returns the rows as the source holds them (every value a stripped
string, empty as None), with two columns added: ``unique_id`` (unique across
the whole data set, so a pair is two ids) and ``cluster`` (the ground truth,
which only the metrics read). What each engine makes of the raw columns is its
own business: ``plain_splink`` prepares them the way Splink's examples do,
``linkage`` maps them onto the canonical record. Keeping the reading here means
both engines score exactly the same records against exactly the same truth.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: ``shared/data`` beside the repository (``--data`` overrides it in every script).
DEFAULT_DATA = ROOT.parent / "shared" / "data"

_FEBRL_ENTITY = re.compile(r"^rec-\d+")


@dataclass(frozen=True)
class Dataset:
    """One labelled data set: its rows, and for a link task which file each row came from.

    Attributes:
        name: short name used in tables.
        task: ``dedupe`` (pairs within the rows) or ``link`` (only pairs across ``source`` count).
        rows: raw rows with ``unique_id`` and ``cluster`` added (and ``source`` for a link task).
    """

    name: str
    task: str
    rows: list[dict[str, Any]]

    def truth(self) -> dict[str, str]:
        """unique_id -> cluster."""
        return {r["unique_id"]: r["cluster"] for r in self.rows}

    def sources(self) -> dict[str, str] | None:
        """unique_id -> source file, for a link task (None for a dedupe)."""
        return {r["unique_id"]: r["source"] for r in self.rows} if self.task == "link" else None


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _read_febrl(path: Path) -> list[dict[str, Any]]:
    """A Febrl CSV: fields after the first are preceded by a space (header too); all strings."""
    with path.open(newline="") as f:
        rows = []
        for raw in csv.DictReader(f, skipinitialspace=True):
            row = {k.strip(): _clean(v) for k, v in raw.items()}
            row["unique_id"] = row["rec_id"]
            row["cluster"] = _FEBRL_ENTITY.match(row["rec_id"])[0]
            rows.append(row)
    return rows


def febrl3(data: Path = DEFAULT_DATA) -> Dataset:
    """Febrl dataset 3: 5,000 records of 2,000 people, deduplicated."""
    return Dataset("febrl3", "dedupe", _read_febrl(data / "febrl" / "dataset3.csv"))


def febrl4(data: Path = DEFAULT_DATA) -> Dataset:
    """Febrl dataset 4: 5,000 originals (4a) linked to their 5,000 duplicates (4b)."""
    rows = []
    for source in ("dataset4a", "dataset4b"):
        for row in _read_febrl(data / "febrl" / f"{source}.csv"):
            row["source"] = source
            rows.append(row)
    return Dataset("febrl4", "link", rows)


def historical_50k(data: Path = DEFAULT_DATA) -> Dataset:
    """Splink's historical_figures_with_errors_50k: 50,578 records of 5,156 people, deduplicated."""
    import pyarrow.parquet as pq

    table = pq.read_table(data / "splink_datasets" / "historical_figures_with_errors_50k.parquet")
    # unique_id and cluster (a Wikidata id, the truth) are columns of the file already.
    rows = [{k: _clean(v) for k, v in r.items()} for r in table.to_pylist()]
    return Dataset("historical_50k", "dedupe", rows)


def people_dev(data: Path = DEFAULT_DATA) -> Dataset:
    """people_dev: 12,835 canonical records of 5,000 people across six source systems."""
    return canonical_set(data / "people_dev")


def canonical_set(folder: Path) -> Dataset:
    """A folder with a canonical ``records.csv`` and its ``truth_person_id`` column (people_dev's layout)."""
    with (folder / "records.csv").open(newline="") as f:
        rows = []
        for raw in csv.DictReader(f):
            row = {k: _clean(v) for k, v in raw.items()}
            row["unique_id"] = record_id(row["source_system"], row["source_record_id"])
            row["cluster"] = row.pop("truth_person_id")
            rows.append(row)
    return Dataset(folder.name, "dedupe", rows)


def record_id(source_system: str, source_record_id: str) -> str:
    """The unique_id of a canonical record (ids are unique only within their source system)."""
    return f"{source_system}|{source_record_id}"


LOADERS = {"febrl3": febrl3, "febrl4": febrl4, "historical_50k": historical_50k, "people_dev": people_dev}
