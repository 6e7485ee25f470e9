"""Our engine beside plain Splink on the public linkage benchmarks, in one run.

For each data set (Febrl 3 dedupe, Febrl 4 link 4a x 4b, Splink's
historical_figures_with_errors_50k dedupe, and people_dev) this script

1. maps the rows onto our canonical record (below) and trains OUR model on
   them without labels through the package, exactly as ``mpi train`` does
   (``mpi.matching.training.train_from_csv``: validation, normalisation, u by seeded
   sampling, m by EM, the prior from deterministic rules);
2. normalises every record as the online path does and proposes pairs the way
   the online path does (``mpi.matching.blocking`` keys: a record's query keys against
   every record's stored keys, a key holding more than ``MPI_MAX_BLOCK_SIZE``
   records skipped), then scores each pair with the in-process scorer that
   serves requests (``Model.scorer``). ``--batch`` adds a row for the batch
   path instead (``mpi.matching.splink_adapter.predict``: Splink's SQL over the training
   blocking rules, unbounded), which gives the same weights but other pairs;
3. trains and runs plain Splink the way Splink's examples do (``plain_splink``);
4. prints, per data set and engine, the best-threshold pairwise precision,
   recall and F1, blocking recall (the share of ALL true pairs ever scored:
   a pair never proposed is a miss at every threshold) and run times. For
   Febrl 4 only pairs across the two files count, for both engines.

Mappings onto the canonical record (``shared/domain.md``); what the product
cannot read it drops, as it would from a real sender:

* Febrl (both): given_name -> first_name, surname -> last_name, street_number
  + address_1 -> address_line1, address_2 -> address_line2, suburb -> city,
  state -> state, postcode -> postal_code, date_of_birth YYYYMMDD ->
  birth_date YYYY-MM-DD (an impossible date is left out, as the API would
  refuse it), soc_sec_id -> medicaid_id (a 7-digit person identifier, compared
  exact / one character off; ssn_last4 holds exactly four digits). No sex,
  phone or email. source_system is the file (dataset3, dataset4a, dataset4b),
  source_record_id the rec_id.
* historical_50k: first_name -> first_name, surname -> last_name, dob ->
  birth_date (malformed dates left out), gender male/female -> sex M/F,
  postcode_fake -> postal_code, birth_place -> city. full_name (titles and
  name variants, no clean middle name) and occupation have no canonical field.
* people_dev: already canonical; the truth column is never passed on.

Run ``.venv/bin/python bench/linkage.py [--data DIR] [--only NAME] [--batch]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import logging
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import metrics  # noqa: E402
import plain_splink  # noqa: E402

from mpi import settings
from mpi.errors import ValidationError  # noqa: E402
from mpi.matching import (
    blocking,
    splink_adapter,  # noqa: E402
)
from mpi.matching.comparisons import MODEL_COLUMNS  # noqa: E402
from mpi.matching.model import Model, ModelRegistry, compile_model  # noqa: E402
from mpi.matching.training import train_from_csv  # noqa: E402
from mpi.records.fields import RECORD_FIELDS  # noqa: E402
from mpi.records.normalise import normalise_record  # noqa: E402
from mpi.records.validation import validate_record  # noqa: E402

SEED = 42


# -- mappings onto the canonical record ----------------------------------------------------------


def _iso_date(year: str, month: str, day: str) -> str | None:
    """YYYY-MM-DD of a real calendar date not in the future, else None (the API refuses the rest)."""
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return date.isoformat() if date <= dt.date.today() else None


def febrl_record(row: Mapping[str, Any], source_system: str) -> dict[str, Any]:
    """A Febrl row as a canonical record (see the module docstring)."""
    dob = row.get("date_of_birth") or ""
    street = " ".join(p for p in (row.get("street_number"), row.get("address_1")) if p) or None
    return {
        "source_system": source_system,
        "source_record_id": row["rec_id"],
        "first_name": row.get("given_name"),
        "last_name": row.get("surname"),
        "birth_date": _iso_date(dob[:4], dob[4:6], dob[6:8]) if len(dob) == 8 and dob.isdigit() else None,
        "medicaid_id": row.get("soc_sec_id"),
        "address_line1": street,
        "address_line2": row.get("address_2"),
        "city": row.get("suburb"),
        "state": row.get("state"),
        "postal_code": row.get("postcode"),
    }


_SEX = {"male": "M", "female": "F"}


def historical_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A historical_50k row as a canonical record (see the module docstring)."""
    dob = row.get("dob") or ""
    parts = dob.split("-")
    birth = _iso_date(*parts) if len(parts) == 3 and len(parts[0]) == 4 and all(p.isdigit() for p in parts) else None
    return {
        "source_system": "historical",
        "source_record_id": row["unique_id"],
        "first_name": row.get("first_name"),
        "last_name": row.get("surname"),
        "birth_date": birth,
        "sex": _SEX.get(row.get("gender") or ""),
        "postal_code": row.get("postcode_fake"),
        "city": row.get("birth_place"),
    }


def people_dev_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """people_dev rows are canonical already; only the canonical fields are passed on."""
    return {f: row.get(f) for f in RECORD_FIELDS}


def canonical(dataset: datasets.Dataset) -> dict[str, dict[str, Any]]:
    """unique_id -> canonical record, by the data set's mapping."""
    if dataset.name == "historical_50k":
        mapping: Callable = historical_record
    elif dataset.name == "people_dev":
        mapping = people_dev_record
    else:
        mapping = lambda r: febrl_record(r, r.get("source") or "dataset3")  # noqa: E731
    return {r["unique_id"]: mapping(r) for r in dataset.rows}


# -- our engine ---------------------------------------------------------------------------------------


@dataclass
class OurRun:
    """Our trained model and its scored pairs (id_l, id_r, match_weight)."""

    model: Model
    document: dict
    pairs: list[tuple[str, str, float]]
    train_seconds: float
    score_seconds: float
    invalid: int


def train(records: Mapping[str, Mapping[str, Any]], folder: Path, seed: int = SEED) -> dict:
    """Train our model on the records without labels, through ``mpi train``'s own function."""
    path = folder / "records.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=RECORD_FIELDS)
        writer.writeheader()
        for record in records.values():
            writer.writerow({k: v for k, v in record.items() if v is not None})
    return train_from_csv(path, ModelRegistry(folder / "models"), version="bench", seed=seed)


def normalised(records: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, dict], int]:
    """unique_id -> normalised record, as the online path reads it; and the count refused by validation."""
    out, invalid = {}, 0
    for uid, record in records.items():
        try:
            out[uid] = normalise_record(validate_record(record, strict=False))
        except ValidationError:
            invalid += 1
    return out, invalid


def online_pairs(norms: Mapping[str, Mapping[str, Any]], max_block_size: int,
                 sources: Mapping[str, str] | None = None) -> set[tuple[str, str]]:
    """Pairs the online path would score: a record's query keys against every record's stored keys.

    A key holding more than its bound (``blocking.block_bound``) is skipped, as ``mpi.identity.candidates.find_candidates``
    does. For a link task only pairs across sources are kept.
    """
    postings: dict[str, list[str]] = defaultdict(list)
    for uid, norm in norms.items():
        for key in dict.fromkeys(blocking.record_keys(norm)):
            postings[key].append(uid)
    pairs = set()
    for uid, norm in norms.items():
        for key in blocking.query_keys(norm):
            posted = postings.get(key)
            if not posted or len(posted) > blocking.block_bound(key, max_block_size):
                continue
            for other in posted:
                if other != uid and (sources is None or sources[uid] != sources[other]):
                    pairs.add((uid, other) if uid < other else (other, uid))
    return pairs


def batch_pairs(norms: Mapping[str, Mapping[str, Any]], document: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """Every pair of Splink's batch prediction with our model (``mpi.matching.splink_adapter.predict``)."""
    rows = [{"unique_id": uid, **{c: n.get(c) for c in MODEL_COLUMNS}} for uid, n in norms.items()]
    predicted = splink_adapter.predict(rows, document["tf_tables"], document["tf_floor"], document["splink_model"],
                                       splink_adapter.duckdb_api())
    return [(p["unique_id_l"], p["unique_id_r"], p["match_weight"]) for p in predicted]


def run_ours(dataset: datasets.Dataset, path: str = "online", seed: int = SEED,
             max_block_size: int | None = None) -> OurRun:
    """Train our model on the data set without labels, then score its pairs by the chosen path."""
    records = canonical(dataset)
    max_block_size = max_block_size or int(settings.get("MPI_MAX_BLOCK_SIZE"))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        document = train(records, Path(tmp), seed)
    model = compile_model(document)
    t1 = time.perf_counter()
    norms, invalid = normalised(records)
    if path == "batch":
        pairs = batch_pairs(norms, document)
    else:
        sources = dataset.sources()
        scorer = model.scorer
        pairs = [(a, b, scorer.score(norms[a], norms[b]).match_weight)
                 for a, b in sorted(online_pairs(norms, max_block_size, sources))]
    t2 = time.perf_counter()
    return OurRun(model, document, pairs, t1 - t0, t2 - t1, invalid)


# -- the run -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA, help="the shared/data folder")
    parser.add_argument("--only", choices=list(datasets.LOADERS), action="append", help="run only these data sets")
    parser.add_argument("--batch", action="store_true", help="also score our model by the batch path (Splink SQL)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    names = args.only or ["febrl3", "febrl4", "historical_50k", "people_dev"]
    table, times, reviews = [], [], {}
    for name in names:
        dataset = datasets.LOADERS[name](args.data)
        truth, sources = dataset.truth(), dataset.sources()
        plain = plain_splink.run(dataset)
        plain_report = metrics.pair_report(plain.pairs, truth, sources)
        runs = {"ours online": run_ours(dataset)}
        if args.batch:
            runs["ours batch"] = run_ours(dataset, "batch")
        for engine, ours in runs.items():
            report = metrics.pair_report(ours.pairs, truth, sources)
            table.append((name, engine, report, ours.train_seconds + ours.score_seconds))
            times.append((name, engine, ours.train_seconds, ours.score_seconds, ours.invalid))
            if name == "people_dev":
                reviews[engine] = (ours, report)
        table.append((name, "plain Splink", plain_report, plain.train_seconds + plain.predict_seconds))
        times.append((name, "plain Splink", plain.train_seconds, plain.predict_seconds, 0))
        if name == "people_dev":
            reviews["plain Splink"] = (plain, plain_report)
    print("Best-threshold pairwise accuracy (recall and blocking recall against all true pairs)\n")
    plain_splink.print_pair_table(table)
    print(f"\n{'data set':16s} {'engine':13s} {'train s':>8s} {'score s':>8s} {'invalid':>8s}")
    for name, engine, train_s, score_s, invalid in times:
        print(f"{name:16s} {engine:13s} {train_s:8.1f} {score_s:8.1f} {invalid:8d}")
    if reviews:
        print_people_dev_pairs(args.data, reviews)


def print_people_dev_pairs(data: Path, reviews: Mapping[str, tuple[Any, metrics.PairReport]]) -> None:
    """people_dev: the price of 99.8% pairwise precision, and hard cases scored above each best threshold."""
    dataset = datasets.people_dev(data)
    print()
    columns = {}
    for engine, (run, report) in reviews.items():
        plain_splink.print_review(f"{engine} on people_dev",
                                  metrics.review_report(run.pairs, report, len(dataset.rows)))
        columns[f"{engine} >= best"] = metrics.scored_at_or_above(run.pairs, report.best.weight)
    print()
    cases = metrics.read_hard_cases(data / "people_dev" / "hard_cases.csv")
    plain_splink.print_hard_cases(metrics.hard_case_table(cases, columns))


if __name__ == "__main__":
    main()
