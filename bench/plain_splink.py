"""Plain Splink, trained the way Splink's own examples do it: the yardstick for our engine.

For each labelled data set this module holds one "recipe" in the style of
Splink 5's example notebooks (``docs/demos/examples/duckdb``: ``febrl3``,
``febrl4`` and ``deduplicate_50k_synthetic``; people_dev in the style of its
person examples): comparisons from ``splink.comparison_library`` (name
Jaro-Winkler levels with term-frequency adjustments, date-of-birth levels,
exact or near matches on identifiers, contact and postcode), several blocking
rules for prediction, lambda from deterministic rules, u by seeded random
sampling and m by expectation maximisation over a couple of blocking rules.
Where an example leaves u unseeded a seed is added, so the yardstick is
repeatable. Nothing here is tuned on the labels: the truth is only read by
the metrics afterwards.

The recipes follow the examples closely on purpose: the question the
benchmarks answer is how our engine compares with what a competent Splink
user would get out of the box, not with the best model Splink can be made
to express. Only bench code imports Splink outside ``mpi/matching/splink_adapter.py`` (and ``bench/splink_realtime.py``):
this is a yardstick, not the product.

Run ``.venv/bin/python bench/plain_splink.py [--data DIR]`` for the people_dev
report (best-F1 threshold, the weight needed for 99.8% pairwise precision and
what it costs, clusters against the exact-key baseline, hard cases by kind) and
plain Splink's best F1 on the other data sets.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker, SettingsCreator

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datasets  # noqa: E402
import metrics  # noqa: E402
from plain_splink_recipes import RECIPES, Recipe, fold, people_dev_recipe  # noqa: E402

# Each Linker turns Splink's progress messages on (to stderr) unless the "splink" logger has a
# handler already; a quiet one keeps the benchmark's tables readable.
logging.getLogger("splink").addHandler(logging.NullHandler())
logging.getLogger("splink").propagate = False

SEED = 42


@dataclass
class PlainRun:
    """A trained plain-Splink model and its scored blocked pairs (id_l, id_r, match_weight)."""

    linker: Linker
    predictions: Any
    pairs: list[tuple[str, str, float]]
    train_seconds: float
    predict_seconds: float


def _table(rows: list[Mapping[str, Any]], recipe: Recipe) -> pa.Table:
    columns = {"unique_id": [r["unique_id"] for r in rows]}
    for name, get in recipe.columns.items():
        columns[name] = [get(r) for r in rows]
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})


def run(dataset: datasets.Dataset, recipe: Recipe | None = None, seed: int = SEED) -> PlainRun:
    """Train the data set's recipe without labels and score every blocked pair."""
    recipe = recipe or RECIPES[dataset.name]()
    t0 = time.perf_counter()
    db_api = DuckDBAPI(connection=duckdb.connect())
    if dataset.task == "link":
        by_source: dict[str, list] = {}
        for row in dataset.rows:
            by_source.setdefault(row["source"], []).append(row)
        inputs = [db_api.register(_table(rows, recipe), dataset_display_name=source)
                  for source, rows in sorted(by_source.items())]
        link_type = "link_only"
    else:
        inputs = db_api.register(_table(dataset.rows, recipe))
        link_type = "dedupe_only"
    settings = SettingsCreator(link_type=link_type, comparisons=recipe.comparisons,
                               blocking_rules_to_generate_predictions=recipe.blocking_rules,
                               retain_intermediate_calculation_columns=True)
    linker = Linker(inputs, settings)
    linker.training.estimate_probability_two_random_records_match(recipe.deterministic_rules, recall=recipe.recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=recipe.u_max_pairs, seed=seed)
    for rule in recipe.em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=recipe.em_without_tf)
    t1 = time.perf_counter()
    predictions = linker.inference.predict()
    pairs = predictions.as_duckdbpyrelation().select("unique_id_l, unique_id_r, match_weight").fetchall()
    t2 = time.perf_counter()
    return PlainRun(linker, predictions, pairs, t1 - t0, t2 - t1)


def clusters_at(plain: PlainRun, threshold_match_weight: float) -> dict[str, object]:
    """Splink's connected-components clusters of the pairs at or above a match weight."""
    df = plain.linker.clustering.cluster_pairwise_predictions_at_threshold(
        plain.predictions, threshold_match_weight=threshold_match_weight)
    return dict(df.as_duckdbpyrelation().select("unique_id, cluster_id").fetchall())


def exact_name_dob_key(row: Mapping[str, Any]) -> tuple | None:
    """The people_dev baseline: (last, first, birth date) after case, accent and punctuation folding."""
    key = (fold(row.get("last_name")), fold(row.get("first_name")), row.get("birth_date"))
    return key if all(key) else None


# -- reports -------------------------------------------------------------------------------------


def print_review(name: str, review: metrics.ReviewReport) -> None:
    print(f"{name}: auto-linking at {review.precision_target:.1%} pairwise precision needs "
          f"{review.upper:.1f} bits and then links {review.at_upper.recall:.1%} of true pairs "
          f"(precision there {review.at_upper.precision:.4f}); records with a candidate in the review band "
          f"[0, {review.upper:.1f}): {review.band_share:.1%}; in [{review.calibrate_lower:.1f}, {review.upper:.1f}) "
          f"(calibrate's lower, <= 2% of true pairs below): {review.calibrate_band_share:.1%}")


def print_hard_cases(table: list[dict]) -> None:
    """Hard cases by kind: one column per test of ``metrics.hard_case_table``."""
    columns = [c for c in table[0] if c not in ("kind", "should_match", "pairs")]
    print(f"{'hard case kind':26s} {'should':>6s} {'pairs':>5s}" + "".join(f" {c:>{max(len(c), 7)}s}" for c in columns))
    for k in table:
        print(f"{k['kind']:26s} {k['should_match']:>6s} {k['pairs']:5d}"
              + "".join(f" {k[c]:>{max(len(c), 7)}.1%}" for c in columns))


#: Splink's febrl4 example clusters at match probability 0.99 (6.6 bits).
EXAMPLE_CLUSTER_WEIGHT = math.log2(0.99 / 0.01)


def people_dev_report(folder: Path, plain: PlainRun | None = None) -> dict[str, Any]:
    """The people_dev anchor: best F1, the price of 99.8% precision, clusters, hard cases.

    Clusters are Splink's connected components at the best-F1 threshold and at
    the febrl4 example's match probability 0.99, beside the exact-key baseline.
    ``folder`` holds people_dev's ``records.csv`` and ``hard_cases.csv`` (or
    another canonical set laid out the same way).
    """
    dataset = datasets.canonical_set(folder)
    plain = plain or run(dataset, people_dev_recipe())
    truth = dataset.truth()
    report = metrics.pair_report(plain.pairs, truth)
    clusters = {"best": clusters_at(plain, report.best.weight), "p99": clusters_at(plain, EXAMPLE_CLUSTER_WEIGHT)}
    exact = metrics.exact_key_clusters(dataset.rows, exact_name_dob_key)
    hard = None
    if (folder / "hard_cases.csv").exists():  # a generated population has no hard-case list
        hard = metrics.hard_case_table(metrics.read_hard_cases(folder / "hard_cases.csv"), {
            "plain >= best": metrics.scored_at_or_above(plain.pairs, report.best.weight),
            "plain clustered @best": metrics.same_cluster(clusters["best"]),
            "plain clustered @p0.99": metrics.same_cluster(clusters["p99"]),
            "exact key": metrics.same_cluster(exact),
        })
    return {"dataset": dataset, "plain": plain, "report": report,
            "review": metrics.review_report(plain.pairs, report, len(dataset.rows)),
            "clusters": {k: metrics.cluster_pairwise(c, truth) for k, c in clusters.items()}, "clusters_of": clusters,
            "exact": metrics.cluster_pairwise(exact, truth), "hard": hard}


def print_clusters(pd: dict[str, Any], first: list[tuple[str, metrics.AtThreshold]] = ()) -> None:
    """Pairwise precision, recall and F1 of clusterings: ``first`` rows, then plain Splink's and the exact key."""
    best = pd["report"].best.weight
    print(f"{'clusters (pairwise)':46s} {'precision':>9s} {'recall':>7s} {'F1':>7s}")
    for label, r in (*first,
                     (f"plain Splink clusters at best F1 ({best:.1f} bits)", pd["clusters"]["best"]),
                     (f"plain Splink clusters at p 0.99 ({EXAMPLE_CLUSTER_WEIGHT:.1f} bits)", pd["clusters"]["p99"]),
                     ("exact (last, first, birth date), folded", pd["exact"])):
        print(f"{label:46s} {r.precision:9.4f} {r.recall:7.4f} {r.f1:7.4f}")


def print_people_dev(pd: dict[str, Any]) -> None:
    """The people_dev anchor: the price of 99.8% precision, clusters, hard cases."""
    print_review("plain Splink on people_dev", pd["review"])
    print()
    print_clusters(pd)
    if pd["hard"] is not None:
        print()
        print_hard_cases(pd["hard"])


def print_pair_table(rows: list[tuple[str, str, metrics.PairReport, float]]) -> None:
    """One line per (data set, engine): best-threshold pairwise figures, blocking recall, run time."""
    print(f"{'data set':16s} {'engine':13s} {'threshold':>9s} {'precision':>9s} {'recall':>7s} {'F1':>7s} "
          f"{'blocking':>8s} {'pairs':>9s} {'seconds':>8s}")
    for name, engine, r, seconds in rows:
        print(f"{name:16s} {engine:13s} {r.best.weight:9.2f} {r.best.precision:9.4f} {r.best.recall:7.4f} "
              f"{r.best.f1:7.4f} {r.blocking_recall:8.4f} {r.scored_pairs:9d} {seconds:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=datasets.DEFAULT_DATA, help="the shared/data folder")
    parser.add_argument("--only", choices=list(RECIPES), action="append", help="run only these data sets")
    args = parser.parse_args()
    names = args.only or list(RECIPES)
    table = []
    for name in names:
        if name == "people_dev":
            pd = people_dev_report(args.data / "people_dev")
            plain, report = pd["plain"], pd["report"]
        else:
            dataset = datasets.LOADERS[name](args.data)
            plain = run(dataset)
            report = metrics.pair_report(plain.pairs, dataset.truth(), dataset.sources())
        table.append((name, "plain Splink", report, plain.train_seconds + plain.predict_seconds))
    print_pair_table(table)
    if "people_dev" in names:
        print()
        print_people_dev(pd)


if __name__ == "__main__":
    main()
