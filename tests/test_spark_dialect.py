"""The model's DuckDB SQL is said in Spark SQL for Splink's Spark backend, and the DuckDB path is left alone.

These run no Spark: they check the translation itself. That Spark then answers
as DuckDB does, pair by pair, is ``tests/test_spark_engine.py`` (slow).
"""

from __future__ import annotations

import json
import subprocess
import sys

import sqlglot

from mpi.matching import splink_adapter
from mpi.matching.spark_sql import spark_settings, to_spark
from mpi.services import DEFAULT_MODEL_VERSION
from mpi.settings import PROJECT_ROOT

#: DuckDB functions Spark lacks, or has under the same name with another answer (Splink's jar's jaro_winkler).
DUCKDB_ONLY = ("jaro_winkler_similarity", "list_has_any", "list_has_all", "list_contains", "string_split", "&&")


def _model() -> dict:
    return json.loads((PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json").read_text())["splink_model"]


def test_every_level_and_rule_of_the_shipped_model_is_spark_sql_without_duckdb_functions():
    model = _model()
    spark = spark_settings(model)
    assert spark["sql_dialect"] == "spark"
    conditions = [lv["sql_condition"] for c in spark["comparisons"] for lv in c["comparison_levels"]]
    rules = [r["blocking_rule"] for r in spark["blocking_rules_to_generate_predictions"]]
    assert len(conditions) > 30 and len(rules) == len(model["blocking_rules_to_generate_predictions"])
    for sql in conditions + rules:
        if sql == "ELSE":
            continue
        assert '"' not in sql, sql  # a double-quoted name is a string literal in Spark SQL
        assert not any(name in sql.lower() for name in DUCKDB_ONLY), sql
        sqlglot.parse_one(sql, read="spark")  # and it parses as Spark SQL
    assert all(r["sql_dialect"] == "spark" for r in spark["blocking_rules_to_generate_predictions"])
    assert sum("aggregate(" in c.lower() for c in conditions) >= 3  # Jaro-Winkler, written out in Spark's functions


def test_the_translation_keeps_the_models_settings_and_leaves_the_input_as_it_was():
    model = _model()
    before = json.dumps(model, sort_keys=True)
    spark = spark_settings(model)
    assert json.dumps(model, sort_keys=True) == before
    assert spark["probability_two_random_records_match"] == model["probability_two_random_records_match"]
    for ours, theirs in zip(spark["comparisons"], model["comparisons"], strict=True):
        for a, b in zip(ours["comparison_levels"], theirs["comparison_levels"], strict=True):
            assert {k: v for k, v in a.items() if k != "sql_condition"} == \
                   {k: v for k, v in b.items() if k != "sql_condition"}
    # Said twice is said once: a rule already in Spark SQL is kept as written.
    assert spark_settings(spark) == spark


def test_functions_become_their_spark_equivalents_with_duckdbs_null_answers():
    assert to_spark('"last_name_l" = "last_name_r"') == "`last_name_l` = `last_name_r`"
    assert to_spark("ELSE") == "ELSE"
    overlap = to_spark("list_has_any(string_split(\"last_name_l\", ' '), string_split(\"last_name_r\", ' '))")
    assert overlap.lower().startswith("arrays_overlap(split(")
    has_all = to_spark("list_has_all(string_split(\"a_l\", ' '), string_split(\"a_r\", ' '))").lower()
    assert "array_except" in has_all and "is null" in has_all
    dl = to_spark('damerau_levenshtein("ssn_last4_l", "ssn_last4_r") <= 1').lower()
    assert "damerau_levenshtein(`ssn_last4_l`, `ssn_last4_r`)" in dl and "is null" in dl  # the jar says 100
    rule = to_spark('l."last_name_phonetic" = r."last_name_phonetic" AND substr(l."first_name", 1, 1) = '
                    'substr(r."first_name", 1, 1)')
    assert rule == ("l.`last_name_phonetic` = r.`last_name_phonetic` AND SUBSTRING(l.`first_name`, 1, 1) = "
                    "SUBSTRING(r.`first_name`, 1, 1)")


def test_extra_blocking_rules_given_as_duckdb_are_translated_too():
    spark = spark_settings({**_model(), "blocking_rules_to_generate_predictions": [
        'l."person_id" = r."person_id"', {"blocking_rule": 'l."phone" = r."phone"', "sql_dialect": "duckdb"},
        {"blocking_rule": "l.`email` = r.`email`", "sql_dialect": "spark"}]})
    assert spark["blocking_rules_to_generate_predictions"] == [
        {"blocking_rule": "l.`person_id` = r.`person_id`", "sql_dialect": "spark"},
        {"blocking_rule": "l.`phone` = r.`phone`", "sql_dialect": "spark"},
        {"blocking_rule": "l.`email` = r.`email`", "sql_dialect": "spark"}]


def test_the_duckdb_engine_runs_the_models_own_sql():
    db_api = splink_adapter.duckdb_api()
    settings = _model()
    assert splink_adapter._in_dialect(settings, db_api) is settings


def test_asking_for_spark_without_pyspark_names_the_extra():
    # A separate interpreter in which pyspark cannot be imported, as where the extra is not installed.
    code = ("import sys; sys.modules['pyspark'] = None\n"
            "from mpi.batch.spark import SparkUnavailable, spark_db_api\n"
            "try:\n    spark_db_api()\nexcept SparkUnavailable as e:\n    print(e.code, e.status, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT,
                         env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ("spark_unavailable 503 the spark engine needs pyspark: "
                                  "pip install 'closedloop-mpi[spark]'")
