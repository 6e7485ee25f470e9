"""The one module that imports Splink: training, batch prediction, and Splink's real-time scoring.

The comparisons come from :mod:`mpi.matching.comparisons` (their SQL side);
this module turns them into Splink settings, trains a Fellegi-Sunter model
without labels (u by seeded random sampling, m by expectation maximisation
over several blocking rules, the prior from deterministic rules; which rules
run, :mod:`mpi.matching.training_rules` chooses) and returns Splink's own
model JSON. It never runs during a request: the real-time path evaluates the
same model in process (:mod:`mpi.matching.scoring`).

It uses Splink's public API only, pinned to its major version, and runs on the
Splink ``DatabaseAPI`` its caller passes in (:func:`duckdb_api` makes an
in-memory DuckDB one; a batch run over more data than one machine holds passes
Spark's). Every table it registers gets a name of its own, so one database can
serve several calls.
"""

from __future__ import annotations

import copy
import itertools
import logging
import random
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mpi.matching.comparisons import DERIVED_COLUMNS, MODEL_COLUMNS, TF_COLUMNS, derive, tf_table
from mpi.matching.estimation import estimate_u_without_matches, settle_untrained_levels
from mpi.matching.splink_settings import settings_dict
from mpi.matching.training_rules import deterministic_rules, em_sessions
from mpi.matching.weights import prior_for_index, tf_scales

if TYPE_CHECKING:
    from splink import DuckDBAPI, Linker

logger = logging.getLogger(__name__)

#: Read from the installed package's metadata: importing splink costs every command and worker a few tenths of a
#: second, and only training and batch runs need it (each imports it where it is used).
SPLINK_VERSION = version("splink")


def duckdb_api() -> DuckDBAPI:
    """A Splink database on a fresh in-memory DuckDB connection (Splink opens it): the default engine."""
    from splink import DuckDBAPI

    return DuckDBAPI()


def spark_jar() -> str:
    """The jar of Splink's Spark functions for the installed Spark major (a session ships it to executors)."""
    from splink.backends.spark import similarity_jar_location  # imports pyspark: the spark extra
    return similarity_jar_location()


def spark_api(session: Any, lineage: str = "parquet") -> Any:
    """A Splink database on a SparkSession (built with :func:`spark_jar` among its ``spark.jars``).

    ``lineage`` is how Splink cuts a long plan between steps: ``parquet`` (into the session's checkpoint
    directory, which every executor must reach) or ``persist`` (executors' memory, spilling to their disks).
    """
    from splink import SparkAPI
    return SparkAPI(spark_session=session, break_lineage_method=lineage)


def _in_dialect(settings: dict[str, Any], db_api: Any) -> dict[str, Any]:
    """Settings whose SQL (DuckDB's, as models are written) the database runs: Spark's said in Spark SQL."""
    if db_api.sql_dialect.sql_dialect_str != "spark":
        return settings
    from mpi.matching.spark_sql import spark_settings  # (sqlglot: only for Spark)

    return spark_settings(settings)

def _table(rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]]) -> pa.Table:
    columns = {"unique_id": [str(r["unique_id"]) for r in rows]}
    for col in MODEL_COLUMNS:
        columns[col] = [r.get(col) for r in rows]
    derived = [derive(r, tables) for r in rows]
    for col in DERIVED_COLUMNS:
        columns[col] = [d[col] for d in derived]
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})


_names = itertools.count(1)


def register_rows(db_api: Any, rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]]) -> str:
    """Register normalised model rows (with their derived columns) under a new name; returns the table's name."""
    name = f"mpi_model_rows_{next(_names)}"
    db_api.register(_table(rows, tables), table_name=name)
    return name


def _linker(db_api: Any, rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]],
            settings: dict[str, Any]) -> tuple[Linker, str]:
    from splink import Linker

    name = register_rows(db_api, rows, tables)
    return Linker(db_api.register(name), settings), name


def train(
    rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]], db_api: Any, seed: int = 42,
    max_pairs: float = 2e6, matching_pairs: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Estimate the model on normalised records; return Splink's model JSON.

    Without labels m comes from expectation maximisation; with ``matching_pairs``
    (pairs of ``unique_id`` known to be one person) m is counted from them.
    Levels with a fixed m keep it either way.

    Args:
        rows: normalised records, each with ``unique_id`` and the model columns.
        tables: the model's value frequencies (for the derived columns).
        db_api: the Splink database to train on (:func:`duckdb_api`, or Spark's).
        matching_pairs: labelled true pairs, if any.
        seed: seed for u sampling, so a retrain on the same data is repeatable.
        max_pairs: random pairs sampled to estimate u.
    """
    linker, table = _linker(db_api, rows, tables, settings_dict())
    linker.training.estimate_probability_two_random_records_match(deterministic_rules(db_api, table), recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    if matching_pairs:
        labels = pa.table({"unique_id_l": pa.array([p[0] for p in matching_pairs], pa.string()),
                           "unique_id_r": pa.array([p[1] for p in matching_pairs], pa.string())})
        linker.training.estimate_m_from_pairwise_labels(db_api.register(labels))
    else:
        # Without term frequencies: Splink would adjust by the training rows' raw
        # frequencies, not the model's scaled ones (mpi.matching.weights.tf_scales).
        for rule, max_pairs_em in em_sessions(db_api, table):
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=max_pairs_em, estimate_without_term_frequencies=True)
    model_json = linker.misc.save_model_to_json()
    model_json = _decontaminate_u(model_json, rows, tables, db_api, seed, max_pairs)
    return settle_untrained_levels(model_json)


def _decontaminate_u(model_json: dict[str, Any], rows: Sequence[dict[str, Any]],
                     tables: Mapping[str, Mapping[str, float]], db_api: Any, seed: int,
                     max_pairs: float) -> dict[str, Any]:
    """Re-estimate u on random pairs with the true matches among them weighed out.

    Random sampling takes every sampled pair for a non-match. For the levels that
    matter most that is far from true: two random records of a population with
    2.5 records a person share a first name and a birth date about as often
    because they are one person (lambda times m, ~1.3e-4 on people_dev) as by
    chance (~1e-7), so the sampled u is the matches' own rate and the level is
    worth 12 bits instead of 21. Here Splink compares a seeded random sample of
    pairs (its comparison vectors, counted by pattern), and expectation
    maximisation with m and the prior held re-estimates u, each pair weighed by
    its probability of being a non-match, which is what u means. A level that no
    non-matching sampled pair reaches gets the floor of half a pair. Levels
    training did not estimate (no m) are left for ``estimation.settle_untrained_levels``.
    """
    n_sample = min(len(rows), int(0.5 * ((8 * max_pairs + 1) ** 0.5 + 1)))
    sample = random.Random(seed).sample(list(rows), n_sample)
    settings = copy.deepcopy(model_json)
    settings["blocking_rules_to_generate_predictions"] = ["1=1"]
    settings["retain_matching_columns"] = True
    sample_linker, _ = _linker(db_api, sample, tables, settings)
    pairs = sample_linker.inference.predict()
    gammas = [f"gamma_{c['output_column_name']}" for c in model_json["comparisons"]]
    try:
        patterns = sample_linker.misc.query_sql(
            f"SELECT {', '.join(gammas)}, count(*) AS n FROM {pairs.physical_name} GROUP BY ALL"
        ).as_record_list()
    finally:
        pairs.drop_table_from_database_and_remove_from_cache()
    u_new = estimate_u_without_matches(model_json, [([p[g] for g in gammas], p["n"]) for p in patterns])
    floor = 0.5 / (n_sample * (n_sample - 1) / 2)
    for comparison, levels_u in zip(model_json["comparisons"], u_new, strict=True):
        for level, u in zip(comparison["comparison_levels"], levels_u, strict=True):
            if u is not None:
                level["u_probability"] = max(u, floor)
    return model_json


def _register_frequencies(linker: Linker, db_api: Any, rows: Sequence[dict[str, Any]],
                          tables: Mapping[str, Mapping[str, float]], floor: float,
                          scales: Mapping[str, float]) -> None:
    """Make Splink use the model's value frequencies, not those of the rows it is given.

    The model's tables keep values seen at least twice; any other value has the
    model's floor frequency (``tf_floor``), and every frequency is scaled by its
    column's factor (:func:`mpi.matching.weights.tf_scales`), as in the in-process scorer.
    """
    for col in TF_COLUMNS:
        table = dict(tf_table(tables, col))
        for row in rows:
            value = row.get(col) if col in row else derive(row, tables).get(col)
            if value is not None and value not in table:
                table[value] = floor
        scale = scales.get(col, 1.0)
        lookup = pa.table({col: pa.array(list(table), pa.string()),
                           f"tf_{col}": pa.array([f * scale for f in table.values()], pa.float64())})
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), col)


def predict(
    rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]], tf_floor: float,
    model_json: dict[str, Any], db_api: Any, threshold_match_weight: float | None = None,
    trained_records: int | None = None,
) -> list[dict[str, Any]]:
    """Batch-score all blocked pairs of ``rows`` with a trained model (a list of dicts).

    Args:
        rows: normalised records, each with ``unique_id`` and the model columns.
        tables, tf_floor: the model's value frequencies and the floor for rarer values.
        model_json: Splink's model JSON from the model file.
        db_api: the Splink database to predict on (:func:`duckdb_api`, or Spark's).
        threshold_match_weight: drop pairs scoring below this.
        trained_records: records the model was trained on; given, the prior is
            scaled to the size of ``rows`` as on the online path
            (:func:`mpi.matching.weights.prior_for_index`), else the model's is used.
    """
    if trained_records:
        model_json = {**model_json, "probability_two_random_records_match": prior_for_index(
            model_json["probability_two_random_records_match"], trained_records, len(rows))}
    linker, _ = _linker(db_api, rows, tables, model_json)
    _register_frequencies(linker, db_api, rows, tables, tf_floor, tf_scales(model_json, tables))
    df = linker.inference.predict(threshold_match_weight=threshold_match_weight)
    return df.as_record_list()


def batch_linker(db_api: Any, table: pa.Table, model_json: dict[str, Any],
                 lookups: Mapping[str, pa.Table], extra_rules: Sequence[str] = ()) -> Linker:
    """A Linker over a prepared Arrow table (``unique_id``, model and derived columns) for a batch run.

    ``lookups`` are the term-frequency tables (per tf column: value, ``tf_<column>``) Splink reads instead
    of counting the rows itself; ``extra_rules`` are blocking rules added to the model's own (a batch over
    the store adds one that pairs every two records of a person, to see the persons it would split).
    """
    settings = copy.deepcopy(model_json)
    settings["blocking_rules_to_generate_predictions"] = [
        *settings["blocking_rules_to_generate_predictions"],
        *({"blocking_rule": rule, "sql_dialect": settings.get("sql_dialect", "duckdb")} for rule in extra_rules)]
    settings["retain_intermediate_calculation_columns"] = False
    settings["retain_matching_columns"] = False
    from splink import Linker

    rows = db_api.register(table, table_name=f"mpi_batch_rows_{next(_names)}")
    linker = Linker(rows, _in_dialect(settings, db_api))
    for column, lookup in lookups.items():
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), column)
    return linker


def batch_predict(linker: Linker, threshold_match_weight: float) -> Any:
    """Splink's predictions of every blocked pair scoring at least ``threshold_match_weight`` (a SplinkDataFrame)."""
    return linker.inference.predict(threshold_match_weight=threshold_match_weight)


def batch_cluster(linker: Linker, predictions: Any, threshold_match_weight: float) -> Any:
    """Splink's connected components of the pairs at or above ``threshold_match_weight`` (every record gets one)."""
    return linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_weight=threshold_match_weight)


def as_arrow(frame: Any, columns: Sequence[str]) -> pa.Table:
    """Some columns of a Splink result as an Arrow table (DuckDB and Spark 4 both hand Arrow over)."""
    if frame.db_api.sql_dialect.sql_dialect_str == "spark":
        return frame.as_spark_dataframe().select(*columns).toArrow()
    select = ", ".join(f'"{c}"' for c in columns)
    result = frame.as_duckdbpyrelation().select(select).arrow()
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def drop(frame: Any) -> None:
    """Drop a Splink result's table from its database."""
    frame.drop_table_from_database_and_remove_from_cache()


class RealtimeScorer:
    """Splink's own real-time scoring of one record against given candidate records (``score_pairs``).

    The yardstick for the in-process scorer (the parity tests, ``bench/latency.py``):
    Splink 5's public real-time call with everything that can be cached, cached.
    The model settings are parsed once and one ``Linker`` is reused; each call
    still registers the records and runs the scoring SQL, which is what Splink
    pays per request. Term frequencies travel in the records (``tf_<column>``),
    from the model's tables with its floor for rarer values, as in the
    in-process scorer, or from the frequencies a call is given
    (``Scorer.frequencies``: pooled with an index's), scaled as the model's are.

    Args:
        model_json: Splink's model JSON from the model file.
        tables, tf_floor: the model's value frequencies and the floor for rarer values.
        db_api: the Splink database to score on (:func:`duckdb_api`).
    """

    def __init__(self, model_json: dict[str, Any], tables: Mapping[str, Mapping[str, float]], tf_floor: float,
                 db_api: Any):
        from splink import SettingsCreator

        self.tables, self.tf_floor = tables, tf_floor
        self.tf_scales = tf_scales(model_json, tables)
        self.settings = SettingsCreator.from_path_or_dict(dict(model_json))
        self.db_api = db_api
        self._linker: Linker | None = None

    def rows(self, records: Sequence[Mapping[str, Any]], first_id: int,
             frequencies: Mapping[str, Mapping[str, float]] | None = None) -> list[dict[str, Any]]:
        """Records as Splink reads them: ``unique_id`` from ``first_id``, model and derived columns, frequencies."""
        frequencies = frequencies or self.tables
        out = []
        for i, record in enumerate(records, start=first_id):
            row: dict[str, Any] = {"unique_id": str(i)}
            for col in MODEL_COLUMNS:
                row[col] = record.get(col)
            row.update(derive(record, self.tables))
            for col in TF_COLUMNS:
                value = row.get(col)
                row[f"tf_{col}"] = (None if value is None
                                    else tf_table(frequencies, col).get(value, self.tf_floor)
                                    * self.tf_scales[col])
            out.append(row)
        return out

    def score_pairs(self, record: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]],
                    frequencies: Mapping[str, Mapping[str, float]] | None = None) -> list[float]:
        """Match weights of ``record`` against each candidate (in order), by ``linker.inference.score_pairs``."""
        if not candidates:
            return []
        left, right = self.rows([record], 0, frequencies), self.rows(candidates, 1, frequencies)
        if self._linker is None:
            from splink import Linker

            self._linker = Linker(self.db_api.register(pa.Table.from_pylist(left + right)), self.settings)
        return weights(self._linker.inference.score_pairs(left, right), len(candidates))


def weights(df: Any, n: int) -> list[float]:
    """The match weights of a real-time result for candidates ``1..n``, in order; the result's table is dropped."""
    try:
        rows = df.as_record_list()
    finally:
        # A result made from cached SQL is not marked as Splink's own, though it is.
        df.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    by_id = {int(r["unique_id_r"]): r["match_weight"] for r in rows}
    return [by_id[i] for i in range(1, n + 1)]
