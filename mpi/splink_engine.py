"""The one module that imports Splink: training and batch prediction.

The comparisons come from :mod:`mpi.comparisons` (their SQL side); this module
turns them into Splink settings, trains a Fellegi-Sunter model without labels
(u by seeded random sampling, m by expectation maximisation over several
blocking rules, the prior from deterministic rules) and returns Splink's own
model JSON. It never runs during a request: the real-time path evaluates the
same model in process (:mod:`mpi.scoring`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa
import splink
from splink import DuckDBAPI, Linker

from mpi.comparisons import COMPARISONS, DERIVED_COLUMNS, MODEL_COLUMNS, TF_COLUMNS, Comparison, derive

logger = logging.getLogger(__name__)

SPLINK_VERSION = splink.__version__

#: Rules that propose pairs for EM and batch prediction. Each leaves some
#: comparisons free to be estimated while it fixes those it blocks on.
TRAINING_BLOCKING_RULES = (
    'l."birth_date" = r."birth_date"',
    'l."last_name_phonetic" = r."last_name_phonetic" AND substr(l."first_name", 1, 1) = substr(r."first_name", 1, 1)',
    'l."phone" = r."phone"',
    'l."medicaid_id" = r."medicaid_id"',
    'l."postal_code" = r."postal_code" AND l."first_name_canonical" = r."first_name_canonical"',
)

#: Rules EM trains on, one session each (a comparison is estimated in every
#: session whose rule does not use its columns).
EM_BLOCKING_RULES = (
    'l."birth_date" = r."birth_date"',
    'l."last_name_phonetic" = r."last_name_phonetic" AND l."postal_code" = r."postal_code"',
    'l."first_name_canonical" = r."first_name_canonical" AND l."last_name" = r."last_name"',
)

#: Near-certain rules used only to estimate the prior (lambda).
DETERMINISTIC_RULES = (
    'l."first_name" = r."first_name" AND l."last_name" = r."last_name" AND l."birth_date" = r."birth_date"',
    'l."medicaid_id" = r."medicaid_id" AND l."birth_date" = r."birth_date"',
    'l."ssn_last4" = r."ssn_last4" AND l."birth_date" = r."birth_date" AND l."last_name" = r."last_name"',
)


def _comparison_dict(comparison: Comparison) -> dict[str, Any]:
    levels = []
    for level in comparison.levels:
        spec: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.label}
        if level.is_null:
            spec["is_null_level"] = True
        if level.tf_column:
            spec["tf_adjustment_column"] = level.tf_column
            spec["tf_adjustment_weight"] = 1.0
            spec["disable_tf_exact_match_detection"] = True
        if level.fixed_m is not None:
            spec["m_probability"] = level.fixed_m
            spec["fix_m_probability"] = True
        levels.append(spec)
    return {
        "output_column_name": comparison.name,
        "comparison_description": comparison.description,
        "comparison_levels": levels,
    }


def settings_dict(comparisons: Sequence[Comparison] = COMPARISONS) -> dict[str, Any]:
    """Splink settings for a dedupe model over the normalised model columns."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "comparisons": [_comparison_dict(c) for c in comparisons],
        "blocking_rules_to_generate_predictions": list(TRAINING_BLOCKING_RULES),
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": False,
    }


def _table(rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]]) -> pa.Table:
    columns = {"unique_id": [str(r["unique_id"]) for r in rows]}
    for col in MODEL_COLUMNS:
        columns[col] = [r.get(col) for r in rows]
    derived = [derive(r, tables) for r in rows]
    for col in DERIVED_COLUMNS:
        columns[col] = [d[col] for d in derived]
    return pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})


def _linker(rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]],
            settings: dict[str, Any]) -> tuple[Linker, DuckDBAPI]:
    db_api = DuckDBAPI(connection=duckdb.connect())
    sdf = db_api.register(_table(rows, tables))
    return Linker(sdf, settings), db_api


def train(
    rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]], seed: int = 42, max_pairs: float = 2e6,
    matching_pairs: Sequence[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Estimate the model on normalised records; return Splink's model JSON.

    Without labels m comes from expectation maximisation; with ``matching_pairs``
    (pairs of ``unique_id`` known to be one person) m is counted from them.
    Levels with a fixed m keep it either way.

    Args:
        rows: normalised records, each with ``unique_id`` and the model columns.
        tables: the model's value frequencies (for the derived columns).
        matching_pairs: labelled true pairs, if any.
        seed: seed for u sampling, so a retrain on the same data is repeatable.
        max_pairs: random pairs sampled to estimate u.
    """
    linker, db_api = _linker(rows, tables, settings_dict())
    linker.training.estimate_probability_two_random_records_match(list(DETERMINISTIC_RULES), recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    if matching_pairs:
        labels = pa.table({"unique_id_l": pa.array([p[0] for p in matching_pairs], pa.string()),
                           "unique_id_r": pa.array([p[1] for p in matching_pairs], pa.string())})
        linker.training.estimate_m_from_pairwise_labels(db_api.register(labels))
    else:
        for rule in EM_BLOCKING_RULES:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
    return _settle_untrained_levels(linker.misc.save_model_to_json())


def _settle_untrained_levels(model_json: dict[str, Any]) -> dict[str, Any]:
    """Give a level that training could not estimate (no sampled pair reached it) no weight: m = u.

    Left empty, Splink's prediction would still apply a default to it while the
    in-process scorer applied none; written down, both engines read the same
    numbers from the model file.
    """
    for comparison in model_json["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            if m and u:
                continue
            known = m or u
            if known is None:
                continue  # neither: the scorer gives it no weight, and Splink no different
            level["m_probability"] = level["u_probability"] = known
            logger.warning("level '%s' of %s was not estimated by training; it carries no weight",
                           level.get("label_for_charts"), comparison["output_column_name"])
    return model_json


def _register_frequencies(linker: Linker, db_api: DuckDBAPI, rows: Sequence[dict[str, Any]],
                          tables: Mapping[str, Mapping[str, float]], floor: float) -> None:
    """Make Splink use the model's value frequencies, not those of the rows it is given.

    The model's tables keep values seen at least twice; any other value has the
    model's floor frequency (``tf_floor``), as in the in-process scorer.
    """
    for col in TF_COLUMNS:
        table = dict(tables.get(col, {}))
        for row in rows:
            value = row.get(col)
            if value is not None and value not in table:
                table[value] = floor
        lookup = pa.table({col: pa.array(list(table), pa.string()),
                           f"tf_{col}": pa.array(list(table.values()), pa.float64())})
        linker.table_management.register_term_frequency_lookup(db_api.register(lookup), col)


def predict(
    rows: Sequence[dict[str, Any]], tables: Mapping[str, Mapping[str, float]], tf_floor: float,
    model_json: dict[str, Any], threshold_match_weight: float | None = None,
) -> list[dict[str, Any]]:
    """Batch-score all blocked pairs of ``rows`` with a trained model (a list of dicts).

    Args:
        rows: normalised records, each with ``unique_id`` and the model columns.
        tables, tf_floor: the model's value frequencies and the floor for rarer values.
        model_json: Splink's model JSON from the model file.
        threshold_match_weight: drop pairs scoring below this.
    """
    linker, db_api = _linker(rows, tables, model_json)
    _register_frequencies(linker, db_api, rows, tables, tf_floor)
    df = linker.inference.predict(threshold_match_weight=threshold_match_weight)
    return df.as_record_list()


class RealtimeScorer:
    """Splink's own real-time scoring of one record against given candidate records.

    The yardstick for the in-process scorer (``bench/latency.py``): Splink 5's
    fastest real-time calls with everything that can be cached, cached. The
    model settings are parsed once, ``compare_records`` reuses its generated
    SQL (``sql_cache_key``) and ``score_pairs`` reuses one ``Linker``; each call
    still registers the records and runs the scoring SQL in DuckDB, which is
    what Splink pays per request. Term frequencies travel in the records
    (``tf_<column>``), from the model's tables with its floor for rarer values,
    as in the in-process scorer.

    Args:
        model_json: Splink's model JSON from the model file.
        tables, tf_floor: the model's value frequencies and the floor for rarer values.
    """

    def __init__(self, model_json: dict[str, Any], tables: Mapping[str, Mapping[str, float]], tf_floor: float):
        from splink.internals.realtime import compare_records
        from splink.internals.settings_creator import SettingsCreator

        self._compare_records = compare_records
        self.tables, self.tf_floor = tables, tf_floor
        self._settings = SettingsCreator.from_path_or_dict(dict(model_json))
        self._db_api = DuckDBAPI(connection=duckdb.connect())
        self._cache_key = f"closedloop-mpi-realtime-{id(self)}"
        self._linker: Linker | None = None

    def _rows(self, records: Sequence[Mapping[str, Any]], first_id: int) -> list[dict[str, Any]]:
        out = []
        for i, record in enumerate(records, start=first_id):
            row: dict[str, Any] = {"unique_id": str(i)}
            for col in MODEL_COLUMNS:
                row[col] = record.get(col)
            row.update(derive(record, self.tables))
            for col in TF_COLUMNS:
                value = record.get(col)
                row[f"tf_{col}"] = None if value is None else self.tables.get(col, {}).get(value, self.tf_floor)
            out.append(row)
        return out

    def compare_records(self, record: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]) -> list[float]:
        """Match weights of ``record`` against each candidate (in order), by cached ``compare_records``."""
        if not candidates:
            return []
        df = self._compare_records(self._rows([record], 0), self._rows(candidates, 1), self._settings,
                                   self._db_api, sql_cache_key=self._cache_key)
        return self._weights(df, len(candidates))

    def score_pairs(self, record: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]) -> list[float]:
        """Match weights of ``record`` against each candidate (in order), by ``linker.inference.score_pairs``."""
        if not candidates:
            return []
        left, right = self._rows([record], 0), self._rows(candidates, 1)
        if self._linker is None:
            self._linker = Linker(self._db_api.register(pa.Table.from_pylist(left + right)), self._settings)
        df = self._linker.inference.score_pairs(left, right)
        return self._weights(df, len(candidates))

    @staticmethod
    def _weights(df, n: int) -> list[float]:
        try:
            rows = df.as_record_list()
        finally:
            # A result made from cached SQL is not marked as Splink's own, though it is.
            df.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
        by_id = {int(r["unique_id_r"]): r["match_weight"] for r in rows}
        return [by_id[i] for i in range(1, n + 1)]
