"""Scoring and clustering a whole population at once, through the one Splink adapter.

A batch run hands Splink an Arrow table of normalised records (``unique_id``, an
integer, and the model columns) and gets back every blocked pair worth keeping
and the clusters at the policy's upper threshold. The pair weights are the
online path's, to the bit (``tests/test_batch_engine.py``):

- the comparisons and m/u are the active model's own Splink JSON;
- the prior is the model's scaled to the population's size
  (:func:`mpi.matching.weights.prior_for_index`), as the index's is;
- term frequencies pool the model's with the population's own counts, every
  record counted (:mod:`mpi.matching.frequencies`), scaled per column as the
  in-process scorer scales them; a store's records are its index, so a pair
  scores here as re-matching one of them against the other scores it;
- the derived columns come from the model's tables, as :func:`mpi.matching.comparisons.derive` makes them.

The engine is whatever Splink ``DatabaseAPI`` the caller passes: DuckDB in
memory by default, Spark for data one machine cannot hold (``mpi.batch.spark``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mpi.matching import splink_adapter
from mpi.matching.comparisons import DERIVED_COLUMNS, ESTABLISHED_NAME_SHARE, MODEL_COLUMNS, TF_COLUMNS, tf_table
from mpi.matching.model import Model, compile_model
from mpi.matching.policy import Policy
from mpi.matching.weights import prior_for_index, tf_scales

#: Pairs this many bits below the lower threshold are still kept: the report's histogram shows what lies
#: just under it. Anything lower says nothing a steward or the report needs.
REPORT_MARGIN = 5.0

#: Called with a phase name and, where known, a count (records read, pairs scored, clusters found).
Progress = Callable[[str, int | None], None]


def quiet(phase: str, count: int | None) -> None:
    """The progress of a caller that shows none."""
    return None


@dataclass
class Scored:
    """What Splink made of a population.

    Attributes:
        pairs: ``unique_id_l``, ``unique_id_r`` (``l < r``), ``match_weight``, ``match_probability``: every
            blocked pair scoring at least ``floor``.
        clusters: ``unique_id``, ``cluster_id``: every record, clustered at ``threshold`` (a record alone is
            its own cluster; a cluster's id is one of its records' ``unique_id``).
        threshold: the match weight clustered at (the policy's upper threshold).
        floor: the lowest weight kept in ``pairs``.
        seconds: wall time of each phase.
    """

    pairs: pa.Table
    clusters: pa.Table
    threshold: float
    floor: float
    seconds: dict[str, float] = field(default_factory=dict)


def prepare(rows: pa.Table, model: BatchModel) -> pa.Table:
    """The table Splink reads: ``unique_id`` (int64), the model columns as strings, the derived columns.

    ``rows`` holds ``unique_id`` and the model columns (others are carried along: the store's run adds
    ``person_id``). A model column it lacks is empty.
    """
    n = rows.num_rows
    out = {"unique_id": rows.column("unique_id").cast(pa.int64())}
    for column in MODEL_COLUMNS:
        out[column] = (rows.column(column).cast(pa.string()) if column in rows.column_names
                       else pa.nulls(n, pa.string()))
    established = [v for v, share in model.model.scorer.tf_tables.get("first_name", {}).items()
                   if share >= ESTABLISHED_NAME_SHARE]
    first = out["first_name"]
    out["first_name_established"] = pc.if_else(pc.is_in(first, value_set=pa.array(established, pa.string())),
                                               pa.scalar("Y"), pa.scalar(None, pa.string()))
    out["first_name_alone"] = first
    assert set(DERIVED_COLUMNS) <= set(out)
    for column in rows.column_names:
        out.setdefault(column, rows.column(column))
    return pa.table(out)


def frequency_lookups(table: pa.Table, model: BatchModel) -> dict[str, pa.Table]:
    """Per tf column, the frequency of every value the table shows: the model's and the table's pooled.

    A value's frequency is its count in the table plus the model's training records' count of it (its
    share times the records trained on; the floor for a value too rare for the tables), over both, and
    scaled as the in-process scorer scales that column. A model that does not say how many records it
    was trained on uses its own tables alone, as the online path does.
    """
    scorer = model.model.scorer
    scales = tf_scales(model.splink_model, scorer.tf_tables)
    trained, n = scorer.trained_records, table.num_rows
    lookups = {}
    for column in TF_COLUMNS:
        counts = pc.value_counts(table.column(column).drop_null())
        values = counts.field("values")
        model_table = tf_table(scorer.tf_tables, column)
        known = pa.array(list(model_table), pa.string())
        shares = pa.array(list(model_table.values()), pa.float64())
        share = pc.fill_null(pc.take(shares, pc.index_in(values, value_set=known)), scorer.tf_floor)
        if trained:
            seen = counts.field("counts").cast(pa.float64())
            freqs = pc.divide(pc.add(seen, pc.multiply(share, float(trained))), float(trained + n))
        else:
            freqs = share
        lookups[column] = pa.table({column: values.cast(pa.string()),
                                    f"tf_{column}": pc.multiply(freqs, scales.get(column, 1.0))})
    return lookups


@dataclass(frozen=True)
class BatchModel:
    """A model as a batch run needs it: compiled (tables, policy, prior) and Splink's own JSON."""

    model: Model
    splink_model: dict[str, Any]

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> BatchModel:
        """From a model file's document (``ModelRegistry.document``)."""
        return cls(compile_model(document), document["splink_model"])

    @property
    def version(self) -> str:
        return self.model.version

    @property
    def policy(self) -> Policy:
        return self.model.policy

    def for_population(self, records: int) -> dict[str, Any]:
        """Splink's JSON with the prior scaled to a population of ``records`` (as the index scales it)."""
        scorer = self.model.scorer
        return {**self.splink_model, "probability_two_random_records_match": prior_for_index(
            scorer.lam, scorer.trained_records, records)}


def score(rows: pa.Table, model: BatchModel, db_api: Any | None = None, progress: Progress | None = None,
          extra_rules: Sequence[str] = (), floor: float | None = None) -> Scored:
    """Score every blocked pair of ``rows`` with ``model`` and cluster them at the policy's upper threshold.

    Args:
        rows: ``unique_id`` (integers) and the model columns (:func:`prepare`); other columns are kept.
        model: the model (its Splink JSON, tables and policy): :meth:`BatchModel.of`.
        db_api: the Splink database to run on; an in-memory DuckDB one by default.
        progress: told each phase as it starts, and the pairs scored and clusters found.
        extra_rules: blocking rules added to the model's (they change which pairs are scored, never a weight).
        floor: the lowest weight kept (default: the lower threshold less :data:`REPORT_MARGIN`).
    """
    db_api = db_api or splink_adapter.duckdb_api()
    progress = progress or quiet
    policy = model.policy
    floor = policy.lower_match_weight - REPORT_MARGIN if floor is None else floor
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    progress("preparing", rows.num_rows)
    table = prepare(rows, model)
    linker = splink_adapter.batch_linker(db_api, table, model.for_population(table.num_rows),
                                         frequency_lookups(table, model), extra_rules)
    seconds["prepare"] = time.perf_counter() - started
    progress("scoring", None)
    t = time.perf_counter()
    predictions = splink_adapter.batch_predict(linker, floor)
    pairs = splink_adapter.as_arrow(predictions, ("unique_id_l", "unique_id_r", "match_weight", "match_probability"))
    seconds["predict"] = time.perf_counter() - t
    progress("scored", pairs.num_rows)
    progress("clustering", None)
    t = time.perf_counter()
    clustered = splink_adapter.batch_cluster(linker, predictions, policy.upper_match_weight)
    clusters = splink_adapter.as_arrow(clustered, ("unique_id", "cluster_id"))
    splink_adapter.drop(clustered)
    splink_adapter.drop(predictions)
    seconds["cluster"] = time.perf_counter() - t
    clusters = pa.table({"unique_id": clusters.column("unique_id").cast(pa.int64()),
                         "cluster_id": clusters.column("cluster_id").cast(pa.int64())})
    progress("clustered", pc.count_distinct(clusters.column("cluster_id")).as_py())
    return Scored(_ordered(pairs), clusters, policy.upper_match_weight, floor, seconds)


def _ordered(pairs: pa.Table) -> pa.Table:
    """Pairs with integer ids, the smaller on the left (Splink's order of a pair is its own)."""
    left = pairs.column("unique_id_l").cast(pa.int64())
    right = pairs.column("unique_id_r").cast(pa.int64())
    swap = pc.greater(left, right)
    return pa.table({"unique_id_l": pc.if_else(swap, right, left), "unique_id_r": pc.if_else(swap, left, right),
                     "match_weight": pairs.column("match_weight").cast(pa.float64()),
                     "match_probability": pairs.column("match_probability").cast(pa.float64())})


def weights_by_pair(pairs: pa.Table) -> Mapping[tuple[int, int], float]:
    """Pair (l, r) -> match weight, for tests and small runs."""
    return dict(zip(zip(pairs.column("unique_id_l").to_pylist(), pairs.column("unique_id_r").to_pylist(),
                        strict=True), pairs.column("match_weight").to_pylist(), strict=True))
